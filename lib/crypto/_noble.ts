/**
 * Private: the pure-JavaScript backend on @noble/ciphers and @noble/hashes.
 * Portable and slow; also the cross-check for the other backends. The ECDH
 * half ({@link nobleEcdh}) uses @noble/curves.
 *
 * @module
 */
import { cbc, ctr, gcm } from "@noble/ciphers/aes.js";
import { p256, p384, p521 } from "@noble/curves/nist.js";
import { brainpoolP256r1, brainpoolP384r1, brainpoolP512r1 } from "@noble/curves/misc.js";
import { x25519 } from "@noble/curves/ed25519.js";
import { x448 } from "@noble/curves/ed448.js";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha1 } from "@noble/hashes/legacy.js";
import { sha256, sha384, sha512 } from "@noble/hashes/sha2.js";
import { constantTimeEqual } from "../wire/bytes.ts";
import type { Aead, BlockCipher, Mac } from "./types.ts";
import type { CcmBlockOps } from "./aes_ccm.ts";
import { tripleDesCbcDecrypt, tripleDesCbcEncrypt, TripleDesKey } from "./triple_des.ts";
import {
  ECDH_INFO,
  type EcdhGroup,
  type EcdhKey,
  HASH_LENGTH,
  type HashName,
  type Provider,
} from "./_provider.ts";

const HASHES = { sha1, sha256, sha384, sha512 } as const;

function gcmAead(key: Uint8Array, tagLength: number): Aead {
  const k = key.slice();
  return {
    backend: "noble",
    nonceLength: 12,
    tagLength,
    seal(nonce, plaintext, aad) {
      const full = gcm(k, nonce, aad).encrypt(plaintext);
      return tagLength === 16 ? full : full.slice(0, plaintext.length + tagLength);
    },
    open(nonce, sealed, aad) {
      if (sealed.length < tagLength) return null;
      if (tagLength === 16) {
        try {
          return gcm(k, nonce, aad).decrypt(sealed);
        } catch {
          return null;
        }
      }
      // Truncated tag (RFC 4106 ICV 8/12): decrypt with the GCM counter
      // stream (J0 + 1 = nonce || 00000002), recompute the full tag, and
      // compare its first tagLength bytes in constant time.
      const ctLen = sealed.length - tagLength;
      const counter = new Uint8Array(16);
      counter.set(nonce, 0);
      counter[15] = 2;
      const pt = ctr(k, counter).decrypt(sealed.subarray(0, ctLen));
      const full = gcm(k, nonce, aad).encrypt(pt);
      return constantTimeEqual(full.subarray(ctLen, ctLen + tagLength), sealed.subarray(ctLen))
        ? pt
        : null;
    },
  };
}

function chachaAead(key: Uint8Array): Aead {
  const k = key.slice();
  return {
    backend: "noble",
    nonceLength: 12,
    tagLength: 16,
    seal(nonce, plaintext, aad) {
      return chacha20poly1305(k, nonce, aad).encrypt(plaintext);
    },
    open(nonce, sealed, aad) {
      if (sealed.length < 16) return null;
      try {
        return chacha20poly1305(k, nonce, aad).decrypt(sealed);
      } catch {
        return null;
      }
    },
  };
}

const ZERO_IV = new Uint8Array(16);

/** CBC-MAC and CTR for AES-CCM (aes_ccm.ts); noble's CTR increments all 128 bits. */
function ccmOps(key: Uint8Array): CcmBlockOps {
  const k = key.slice();
  return {
    backend: "noble",
    cbcMac(data) {
      const out = cbc(k, ZERO_IV, { disablePadding: true }).encrypt(data);
      return out.subarray(out.length - 16);
    },
    ctr: (counter, data) => ctr(k, counter).encrypt(data),
  };
}

function cbcCipher(key: Uint8Array): BlockCipher {
  const k = key.slice();
  return {
    backend: "noble",
    blockSize: 16,
    ivLength: 16,
    encrypt(iv, data) {
      return cbc(k, iv, { disablePadding: true }).encrypt(data);
    },
    decrypt(iv, data) {
      return cbc(k, iv, { disablePadding: true }).decrypt(data);
    },
  };
}

function tripleDesCipher(key: Uint8Array): BlockCipher {
  const k = new TripleDesKey(key);
  return {
    backend: "noble",
    blockSize: 8,
    ivLength: 8,
    encrypt: (iv, data) => tripleDesCbcEncrypt(k, iv, data),
    decrypt: (iv, data) => tripleDesCbcDecrypt(k, iv, data),
  };
}

function ctrCipher(key: Uint8Array): BlockCipher {
  const k = key.slice();
  const run = (iv: Uint8Array, data: Uint8Array) => ctr(k, iv).encrypt(data);
  return { backend: "noble", blockSize: 1, ivLength: 16, encrypt: run, decrypt: run };
}

function hmacMac(hash: HashName, key: Uint8Array): Mac {
  const base = hmac.create(HASHES[hash], key);
  return {
    backend: "noble",
    outputLength: HASH_LENGTH[hash],
    compute(...parts) {
      const h = base.clone();
      for (const p of parts) h.update(p);
      return h.digest();
    },
  };
}

/** The noble backend. */
export const nobleProvider: Provider = {
  backend: "noble",
  supportsAesKey: (n) => n === 16 || n === 24 || n === 32,
  aesGcm: gcmAead,
  aesCcmOps: ccmOps,
  chacha20Poly1305: chachaAead,
  aesCbc: cbcCipher,
  aesCtr: ctrCipher,
  tripleDesCbc: tripleDesCipher,
  hmac: hmacMac,
};

/** The NIST curves of the ECP groups (RFC 5903). */
export const NIST_CURVES = { 19: p256, 20: p384, 21: p521 } as const;

/**
 * The Brainpool curves of groups 28-30 (RFC 6954, curves of RFC 5639); only
 * this backend has them (Deno's node:crypto knows no Brainpool curve).
 */
export const BRAINPOOL_CURVES = {
  28: brainpoolP256r1,
  29: brainpoolP384r1,
  30: brainpoolP512r1,
} as const;

/** An ECDH key on a short-Weierstrass curve of @noble/curves: public value x || y, g^ir = x. */
export function nobleEcpKey(
  curve: typeof p256 | typeof brainpoolP256r1,
  priv: Uint8Array,
  fieldLength: number,
): EcdhKey {
  const k = priv.slice();
  return {
    publicKey: () => curve.getPublicKey(k, false).subarray(1),
    derive: (peer) => curve.getSharedSecret(k, sec1(peer), false).subarray(1, 1 + fieldLength),
  };
}

function sec1(peer: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + peer.length);
  out[0] = 0x04;
  out.set(peer, 1);
  return out;
}

/** Binds `priv` (an ECP scalar of the full field length, or a raw X25519/X448 key). */
export function nobleEcdh(group: EcdhGroup, priv: Uint8Array): EcdhKey {
  const k = priv.slice();
  if (group === 31 || group === 32) {
    const c = group === 31 ? x25519 : x448;
    return { publicKey: () => c.getPublicKey(k), derive: (peer) => c.getSharedSecret(k, peer) };
  }
  return nobleEcpKey(NIST_CURVES[group], k, ECDH_INFO[group].secretLength);
}
