/**
 * Private: the node:crypto backend (OpenSSL/BoringSSL inside Deno). Deno's
 * node:crypto lacks AES-192-GCM/CBC, so {@link nodeProvider.supportsAesKey}
 * says no for 24-byte keys and the factories fall back to noble.
 *
 * @module
 */
import { type CipherGCMTypes, createCipheriv, createDecipheriv, createHmac } from "node:crypto";
import type { Aead, BlockCipher, Mac } from "./types.ts";
import { HASH_LENGTH, type HashName, type Provider } from "./_provider.ts";

/**
 * AES-GCM (any ICV length) or ChaCha20-Poly1305 through createCipheriv.
 * ChaCha20-Poly1305 needs the plaintext length announced with the AAD.
 */
function nodeAead(alg: string, key: Uint8Array, tagLength: number): Aead {
  const k = key.slice();
  const chacha = alg === "chacha20-poly1305";
  const aadOpts = (n: number) => (chacha ? { plaintextLength: n } : undefined);
  const opts = { authTagLength: tagLength };
  return {
    backend: "node",
    nonceLength: 12,
    tagLength,
    seal(nonce, plaintext, aad) {
      const c = createCipheriv(alg as CipherGCMTypes, k, nonce, opts);
      c.setAAD(aad, aadOpts(plaintext.length));
      const out = new Uint8Array(plaintext.length + tagLength);
      out.set(c.update(plaintext), 0);
      c.final();
      out.set(c.getAuthTag(), plaintext.length);
      return out;
    },
    open(nonce, sealed, aad) {
      if (sealed.length < tagLength) return null;
      const ctLen = sealed.length - tagLength;
      const d = createDecipheriv(alg as CipherGCMTypes, k, nonce, opts);
      d.setAAD(aad, aadOpts(ctLen));
      d.setAuthTag(sealed.subarray(ctLen));
      const pt = d.update(sealed.subarray(0, ctLen));
      try {
        d.final();
      } catch {
        return null;
      }
      return new Uint8Array(pt.buffer, pt.byteOffset, pt.byteLength);
    },
  };
}

function cbcCipher(key: Uint8Array): BlockCipher {
  const k = key.slice();
  const alg = `aes-${k.length * 8}-cbc`;
  const run = (enc: boolean, iv: Uint8Array, data: Uint8Array): Uint8Array => {
    const c = enc ? createCipheriv(alg, k, iv) : createDecipheriv(alg, k, iv);
    c.setAutoPadding(false);
    const out = c.update(data);
    c.final();
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  };
  return {
    backend: "node",
    blockSize: 16,
    ivLength: 16,
    encrypt: (iv, data) => run(true, iv, data),
    decrypt: (iv, data) => run(false, iv, data),
  };
}

function hmacMac(hash: HashName, key: Uint8Array): Mac {
  const k = key.slice();
  return {
    backend: "node",
    outputLength: HASH_LENGTH[hash],
    compute(...parts) {
      const h = createHmac(hash, k);
      for (const p of parts) h.update(p);
      const d = h.digest();
      return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    },
  };
}

/** The node:crypto backend. */
export const nodeProvider: Provider = {
  backend: "node",
  supportsAesKey: (n) => n === 16 || n === 32,
  aesGcm: (key, tagLength) => nodeAead(`aes-${key.length * 8}-gcm`, key, tagLength),
  chacha20Poly1305: (key) => nodeAead("chacha20-poly1305", key, 16),
  aesCbc: cbcCipher,
  hmac: hmacMac,
};
