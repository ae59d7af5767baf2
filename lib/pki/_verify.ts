/**
 * Synchronous signature verification for certificate signatures with
 * node:crypto, so chain validation needs no promise (the IKE engine is
 * sans-I/O and synchronous). ECDSA goes through the system libcrypto where
 * it loads (ffi/libcrypto_ecdsa.ts, about 4x faster than node:crypto: a
 * gateway checks every new client's certificate once); otherwise ECDSA on
 * P-521 goes through @noble/curves, because Deno's node:crypto mis-verifies
 * P-521 with hashes other than SHA-512 (found while writing this module;
 * openssl and WebCrypto agree).
 *
 * @module
 */
import * as nodeCrypto from "node:crypto";
import { Buffer } from "node:buffer";
import { p521 } from "@noble/curves/nist.js";
import { subjectPublicKeyBits } from "./_der.ts";
import { type LibcryptoEcKey, loadLibcryptoEcdsa } from "../../ffi/libcrypto_ecdsa.ts";
import { BytesCache } from "../wire/bytes_cache.ts";

/** Issuers' keys as libcrypto holds them, by SPKI (a few CAs sign many certificates). */
const ecKeys = new BytesCache<LibcryptoEcKey | null>(64);

/** A signature algorithm as @peculiar/x509 reports it (WebCrypto naming). */
export interface SigAlg {
  name: string;
  hash?: { name: string } | string;
  saltLength?: number;
}

const HASHES: Record<string, string> = {
  "SHA-256": "sha256",
  "SHA-384": "sha384",
  "SHA-512": "sha512",
};

function hashName(alg: SigAlg): string | null {
  const h = typeof alg.hash === "string" ? alg.hash : alg.hash?.name;
  return h ? HASHES[h.toUpperCase()] ?? null : null;
}

/** Result of a verification attempt: ok, bad signature, or unsupported algorithm. */
export type VerifyOutcome = "ok" | "bad" | "unsupported";

/**
 * Verifies `signature` over `data` with the key in `spki` (DER). Never
 * throws. `opts.libcrypto: false` keeps ECDSA off the system libcrypto (the
 * software path, for tests).
 */
export function verifyWithSpki(
  spki: Uint8Array,
  alg: SigAlg,
  data: Uint8Array,
  signature: Uint8Array,
  opts: { libcrypto?: boolean } = {},
): VerifyOutcome {
  if (alg.name === "ECDSA" && opts.libcrypto !== false) {
    const lc = loadLibcryptoEcdsa();
    const hash = hashName(alg);
    if (lc && hash) {
      const k = ecKeys.get(spki, () => lc.publicKey(spki));
      if (k === null) return "bad";
      return lc.verify(k, hash as "sha256" | "sha384" | "sha512", data, signature) ? "ok" : "bad";
    }
  }
  let key: nodeCrypto.KeyObject;
  try {
    key = nodeCrypto.createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
  } catch {
    return "bad";
  }
  const hash = hashName(alg);
  try {
    switch (alg.name) {
      case "RSASSA-PKCS1-v1_5":
        if (!hash) return "unsupported";
        if (key.asymmetricKeyType !== "rsa") return "bad";
        return nodeCrypto.verify(hash, data, key, signature) ? "ok" : "bad";
      case "RSA-PSS":
        if (!hash) return "unsupported";
        if (key.asymmetricKeyType !== "rsa" && key.asymmetricKeyType !== "rsa-pss") return "bad";
        return nodeCrypto.verify(hash, data, {
            key,
            padding: nodeCrypto.constants.RSA_PKCS1_PSS_PADDING,
            saltLength: alg.saltLength ?? 20,
          }, signature)
          ? "ok"
          : "bad";
      case "ECDSA": {
        if (!hash) return "unsupported";
        if (key.asymmetricKeyType !== "ec") return "bad";
        if (key.asymmetricKeyDetails?.namedCurve === "secp521r1") {
          const digest = nodeCrypto.createHash(hash).update(data).digest();
          return p521.verify(signature, digest, subjectPublicKeyBits(spki), {
              prehash: false,
              format: "der",
              lowS: false,
            })
            ? "ok"
            : "bad";
        }
        return nodeCrypto.verify(hash, data, key, signature) ? "ok" : "bad";
      }
      case "Ed25519":
        if (key.asymmetricKeyType !== "ed25519") return "bad";
        return nodeCrypto.verify(null, data, key, signature) ? "ok" : "bad";
      default:
        return "unsupported";
    }
  } catch {
    return "bad";
  }
}
