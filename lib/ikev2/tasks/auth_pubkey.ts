/**
 * Signature AUTH for IKE_AUTH: signing our AUTH octets with our private key
 * (RFC 7427 Digital Signature when the peer announced hash algorithms, RFC
 * 4754 ECDSA methods otherwise) and checking the peer's signature with the
 * key of a certificate that chains to a configured CA (or is pinned) and
 * names the identity the peer claimed. Thin glue over lib/crypto/signature.ts
 * and lib/pki/validate.ts; failures are log reasons, never wire detail.
 *
 * @example
 * ```ts
 * const a = signAuth(pkcs8, octets, sa.peerSignatureHashes);
 * const why = verifySignatureAuth({ method, data, octets, certs, trustAnchors, pinned: [],
 *   idType, idData, now });
 * if (why) log(`AUTH failed: ${why}`);
 * ```
 *
 * @module
 */
import {
  chooseSignatureScheme,
  createSignatureAuth,
  loadSigningKey,
  loadVerifyingKey,
  type SigningKey,
  type VerifyingKey,
  verifySignatureAuth as verifyAuthData,
} from "../../crypto/signature.ts";
import { equalBytes } from "../../wire/bytes.ts";
import { BytesCache } from "../../wire/bytes_cache.ts";
import {
  certMatchesId,
  type RevocationPolicy,
  validatePeerCertificate,
} from "../../pki/validate.ts";
import type { Crl } from "../../pki/crl.ts";
import type { OcspStatus } from "../../pki/ocsp.ts";
import { X509Certificate } from "@peculiar/x509";

/**
 * AUTH method and data for our signature over `octets`. `peerHashes` is
 * what the peer sent in SIGNATURE_HASH_ALGORITHMS (empty: none sent).
 */
export function signAuth(
  pkcs8: Uint8Array,
  octets: Uint8Array,
  peerHashes: readonly number[],
): { method: number; data: Uint8Array } {
  let key = signingKeys.get(pkcs8);
  if (key === undefined) {
    key = loadSigningKey(pkcs8);
    signingKeys.set(pkcs8, key);
  }
  const choice = chooseSignatureScheme(key, peerHashes.length ? peerHashes : undefined);
  return createSignatureAuth(key, choice, octets);
}

/**
 * Our private keys parsed once per configured key (the config keeps the same
 * bytes object until a reload replaces it): parsing one took ~10% of an ECDSA
 * handshake.
 */
const signingKeys = new WeakMap<Uint8Array, SigningKey>();

/** Peers' public keys by SubjectPublicKeyInfo bytes (bounded). */
const verifyingKeys = new BytesCache<VerifyingKey>(256);

/** Inputs of {@link verifySignatureAuth}. */
export interface SignatureCheck {
  readonly method: number;
  readonly data: Uint8Array;
  /** The peer's AUTH octets. */
  readonly octets: Uint8Array;
  /** DER certificates from the peer's CERT payloads, end entity first. */
  readonly certs: readonly Uint8Array[];
  readonly trustAnchors: readonly Uint8Array[];
  /** Peer certificates accepted as they are (no CA). */
  readonly pinned: readonly Uint8Array[];
  /**
   * The peer's raw public keys (SubjectPublicKeyInfo DER): an AUTH signature
   * one of them verifies is accepted without any certificate.
   */
  readonly pinnedKeys?: readonly Uint8Array[];
  /** CRLs of the peer's CAs, and how strictly revocation is checked. */
  readonly crls?: readonly Crl[];
  /** Verified OCSP answers fetched for the peer's certificates. */
  readonly ocsp?: readonly OcspStatus[];
  readonly revocation?: RevocationPolicy;
  readonly idType: number;
  readonly idData: Uint8Array;
  readonly now: number;
}

/** Returns undefined when the signature is good, else the reason (for the log only). */
export function verifySignatureAuth(c: SignatureCheck): string | undefined {
  if (c.pinnedKeys?.length) {
    let last = "";
    for (const k of c.pinnedKeys) {
      try {
        const key = verifyingKeys.get(k, () => loadVerifyingKey(k));
        const r = verifyAuthData(key, c.method, c.data, c.octets);
        if (r.ok) return undefined;
        last = r.reason;
      } catch (e) {
        last = (e as Error).message;
      }
    }
    // Nothing else to try: no CA or pinned certificate configured.
    if (c.trustAnchors.length === 0 && c.pinned.length === 0) {
      return `no configured public key verifies the signature (${last})`;
    }
  }
  let spki: Uint8Array | undefined;
  const pinned = c.pinned.find((p) => c.certs.length === 0 || equalBytes(p, c.certs[0]));
  if (pinned) {
    if (!certMatchesId(pinned, c.idType, c.idData)) return "pinned certificate does not match ID";
    spki = new Uint8Array(new X509Certificate(new Uint8Array(pinned)).publicKey.rawData);
  } else {
    const r = validatePeerCertificate({
      certs: c.certs,
      trustAnchors: c.trustAnchors,
      ...(c.crls ? { crls: c.crls } : {}),
      ...(c.ocsp?.length ? { ocsp: c.ocsp } : {}),
      ...(c.revocation ? { revocation: c.revocation } : {}),
      idType: c.idType,
      idData: c.idData,
      now: c.now,
    });
    if (!r.ok) return r.error.message;
    spki = new Uint8Array(r.cert.publicKey.rawData);
  }
  const bytes = spki;
  try {
    const key = verifyingKeys.get(bytes, () => loadVerifyingKey(bytes));
    const r = verifyAuthData(key, c.method, c.data, c.octets);
    return r.ok ? undefined : r.reason;
  } catch (e) {
    return (e as Error).message;
  }
}
