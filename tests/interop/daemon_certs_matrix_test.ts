/**
 * Full-system interop (tests/helpers/interop_system.ts) over a certificate
 * matrix: our daemon against strongSwan's charon, authenticated with
 * certificates (loaded from our YAML: certs, key, cacerts) issued by our
 * `ipsec pki` (RSA-2048, Ed25519) or by strongSwan's `pki` (ECDSA P-256,
 * RSA-2048, Ed25519); tests/interop/daemon_certs_test.ts has ECDSA from
 * `ipsec pki`. One bench per case; each case runs in both directions
 * (`ipsec up` and `swanctl --initiate`) with agreement, pings counted by
 * charon, and pings and 64 KiB TCP transfers (SHA-256 checked) both ways.
 *
 * While the SAs are up, charon's log must show how each side signed its AUTH
 * payload (strongSwan's pubkey authenticator logs "authentication of 'ID'
 * [(myself)] with SCHEME successful"): RSA with a SHA-2 scheme, which only
 * RFC 7427 digital signatures (auth method 14) can carry — RFC 7296's RSA
 * method 1 is PKCS#1 v1.5 with SHA-1 — and Ed25519 as RFC 8420 prescribes.
 *
 * @module
 */
import { CHARON_ID, ENGINE_ID } from "../helpers/interop_lab.ts";
import { type CertKeyType, issueCerts, type Issuer } from "../helpers/interop_certs.ts";
import {
  type Bench,
  charonInitiates,
  type Creds,
  weInitiate,
  withBench,
} from "../helpers/interop_system.ts";

/** strongSwan's signature scheme names (signature_scheme_names) each key type may use. */
const SCHEMES: Record<CertKeyType, RegExp> = {
  // RFC 7427 with SHA-2: PKCS#1 v1.5 or PSS.
  rsa: /^RSA_EMSA_(PKCS1|PSS)_SHA2_(256|384|512)(_SALT_\d+)?$/,
  // RFC 8420: Ed25519 through RFC 7427 (the hash is part of the algorithm).
  ed25519: /^ED25519$/,
  // RFC 7427 (ECDSA_WITH_SHA*_DER) or RFC 4754 (auth method 9: ECDSA_256).
  ecdsa: /^ECDSA_(WITH_SHA(256|384|512)_DER|256)$/,
};

/**
 * charon's log shows `count` authentications of each side so far (one per
 * IKE SA set up), each with a signature scheme `type` allows.
 */
function signedWith(type: CertKeyType, count: number): (b: Bench) => Promise<void> {
  return async (b) => {
    const log = await b.charon.log();
    for (const [id, myself] of [[ENGINE_ID, ""], [CHARON_ID, " \\(myself\\)"]]) {
      const re = new RegExp(
        `authentication of '${id.replaceAll(".", "\\.")}'${myself} with (\\S+) successful`,
        "g",
      );
      const schemes = [...log.matchAll(re)].map((m) => m[1]);
      if (schemes.length !== count || !schemes.every((s) => SCHEMES[type].test(s))) {
        throw new Error(
          `charon's log shows ${id} authenticated with [${schemes.join(", ")}], ` +
            `expected ${count} times ${SCHEMES[type]}`,
        );
      }
    }
  };
}

// strongSwan's `pki --gen` writes RSA keys as PKCS#1 (`RSA PRIVATE KEY`) and
// ECDSA keys as SEC1 (`EC PRIVATE KEY`): our daemon loads them as they are.
const CASES: [Issuer, CertKeyType, string][] = [
  ["ipsec", "rsa", "RSA-2048 (RFC 7427)"],
  ["ipsec", "ed25519", "Ed25519"],
  ["strongswan", "ecdsa", "ECDSA P-256"],
  ["strongswan", "rsa", "RSA-2048 (RFC 7427)"],
  ["strongswan", "ed25519", "Ed25519"],
];

for (const [issuer, type, what] of CASES) {
  const by = issuer === "ipsec" ? "ipsec pki" : "strongSwan's pki";
  Deno.test({
    name: `strongSwan interop, our daemon: ${what} certificates from ${by}, both directions`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const dir = await Deno.makeTempDir({ prefix: "ti-certs-matrix-" });
      try {
        const f = await issueCerts(dir, issuer, type);
        const creds: Creds = {
          ca: f.ca,
          ourCert: f.engineCert,
          ourKey: f.engineKey,
          charonCert: f.charonCert,
          charonKey: f.charonKey,
        };
        await withBench(creds, async (b) => {
          await weInitiate(b, signedWith(type, 1));
          await charonInitiates(b, true, signedWith(type, 2));
        });
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}
