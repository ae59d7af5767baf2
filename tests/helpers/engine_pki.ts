/**
 * A small PKI for engine tests: a CA (ECDSA P-256) and certificates for
 * alice (alice@example.org) and bob (bob.example.org) of one key type, and
 * the two peers' engine configurations authenticating with them (the PSK
 * setup of two_peers.ts otherwise). Certificates are valid from ISSUED for a
 * year: run the engines at NOW.
 *
 * @module
 */
import {
  issueCertificate,
  selfSignCertificate,
  type X509Certificate,
} from "../../lib/pki/certificate.ts";
import {
  exportPrivateKeyDer,
  generateKeyPair,
  type KeyPair,
  type KeyType,
} from "../../lib/pki/keys.ts";
import type { EngineConfig, PeerConfig } from "../../lib/ikev2/peer_config.ts";
import { pskConfigs } from "./two_peers.ts";

export const NOW = Date.parse("2026-06-01T00:00:00Z");
export const ISSUED = new Date("2026-01-01T00:00:00Z");

export interface Pki {
  ca: Uint8Array;
  /** The CA's certificate and key (to sign CRLs). */
  caCert: X509Certificate;
  caKey: KeyPair;
  alice: { cert: Uint8Array; key: Uint8Array; serial: string };
  bob: { cert: Uint8Array; key: Uint8Array; serial: string };
}

/**
 * Options of {@link makePki}: alice's SAN, CRL distribution points and OCSP
 * responders in both leaves, and the issue date (default ISSUED).
 */
export interface PkiOptions {
  readonly aliceSan?: string;
  readonly crlUris?: readonly string[];
  readonly ocspUris?: readonly string[];
  readonly issued?: Date;
}

export async function makePki(type: KeyType, bits?: number, opts: PkiOptions = {}) {
  const caKey = await generateKeyPair("ecdsa", 256);
  const ca = await selfSignCertificate(caKey, {
    subject: "C=CH, O=Test, CN=Test CA",
    ca: true,
    now: opts.issued ?? ISSUED,
    lifetimeDays: 3650,
  });
  const leaf = async (cn: string, san: string) => {
    const k = await generateKeyPair(type, bits);
    const c = await issueCertificate({
      subject: `C=CH, O=Test, CN=${cn}`,
      sans: [san],
      issuerCert: ca,
      issuerKey: caKey,
      subjectSpki: k.spki,
      now: opts.issued ?? ISSUED,
      lifetimeDays: 365,
      ...(opts.crlUris ? { crlUris: opts.crlUris } : {}),
      ...(opts.ocspUris ? { ocspUris: opts.ocspUris } : {}),
    });
    return {
      cert: new Uint8Array(c.rawData),
      key: await exportPrivateKeyDer(k),
      serial: c.serialNumber,
    };
  };
  return {
    ca: new Uint8Array(ca.rawData),
    caCert: ca,
    caKey,
    alice: await leaf("alice", opts.aliceSan ?? "alice@example.org"),
    bob: await leaf("bob", "bob.example.org"),
  } satisfies Pki;
}

export function certConfigs(
  pki: Pki,
  extra: { alice?: Partial<PeerConfig>; bob?: Partial<PeerConfig> } = {},
): { alice: EngineConfig; bob: EngineConfig } {
  const base = pskConfigs();
  const a = base.alice.connections[0], b = base.bob.connections[0];
  return {
    alice: {
      connections: [{
        ...a,
        local: {
          auth: "pubkey",
          id: a.local.id,
          certs: [pki.alice.cert],
          privateKey: pki.alice.key,
        },
        remote: { auth: "pubkey", id: a.remote.id, cacerts: [pki.ca] },
        ...extra.alice,
      }],
    },
    bob: {
      connections: [{
        ...b,
        local: { auth: "pubkey", id: b.local.id, certs: [pki.bob.cert], privateKey: pki.bob.key },
        remote: { auth: "pubkey", id: b.remote.id, cacerts: [pki.ca] },
        ...extra.bob,
      }],
    },
  };
}
