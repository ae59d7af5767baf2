/**
 * Private: the node:crypto backend (OpenSSL/BoringSSL inside Deno). Deno's
 * node:crypto lacks AES-192-GCM/CBC (it has AES-192-CTR), so
 * {@link nodeProvider.supportsAesKey} says no for 24-byte keys in those modes
 * and the factories fall back to noble.
 *
 * Also the ECDH half of key_exchange.ts ({@link nodeEcdh}): raw keys are wrapped in PKCS#8 / SubjectPublicKeyInfo
 * DER (RFC 5915, RFC 5480, RFC 8410) to become KeyObjects, and
 * `diffieHellman` derives the secret. Peer values are validated by the caller.
 *
 * @module
 */
import {
  type CipherGCMTypes,
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
} from "node:crypto";
import type { Aead, BlockCipher, Mac } from "./types.ts";
import type { CcmBlockOps } from "./aes_ccm.ts";
import {
  ECDH_INFO,
  type EcdhGroup,
  type EcdhKey,
  HASH_LENGTH,
  type HashName,
  type Provider,
} from "./_provider.ts";
import { derOid, derSmallInt, derTlv, Tag } from "./_asn1.ts";

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

/** A raw CBC cipher (no padding) of node:crypto's `alg` on `blockSize`-byte blocks. */
function cbcOf(alg: string, key: Uint8Array, blockSize: number): BlockCipher {
  const k = key.slice();
  const run = (enc: boolean, iv: Uint8Array, data: Uint8Array): Uint8Array => {
    const c = enc ? createCipheriv(alg, k, iv) : createDecipheriv(alg, k, iv);
    c.setAutoPadding(false);
    const out = c.update(data);
    c.final();
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  };
  return {
    backend: "node",
    blockSize,
    ivLength: blockSize,
    encrypt: (iv, data) => run(true, iv, data),
    decrypt: (iv, data) => run(false, iv, data),
  };
}

const cbcCipher = (key: Uint8Array) => cbcOf(`aes-${key.length * 8}-cbc`, key, 16);
const tripleDesCipher = (key: Uint8Array) => cbcOf("des-ede3-cbc", key, 8);

function ctrCipher(key: Uint8Array): BlockCipher {
  const k = key.slice();
  const alg = `aes-${k.length * 8}-ctr`;
  const run = (iv: Uint8Array, data: Uint8Array): Uint8Array => {
    const out = createCipheriv(alg, k, iv).update(data);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  };
  return { backend: "node", blockSize: 1, ivLength: 16, encrypt: run, decrypt: run };
}

const ZERO_IV = new Uint8Array(16);

/** CBC-MAC and CTR for AES-CCM (aes_ccm.ts): Deno's node:crypto has no aes-*-ccm cipher. */
function ccmOps(key: Uint8Array): CcmBlockOps {
  const k = key.slice();
  const bits = k.length * 8;
  return {
    backend: "node",
    cbcMac(data) {
      const c = createCipheriv(`aes-${bits}-cbc`, k, ZERO_IV);
      c.setAutoPadding(false);
      const out = c.update(data);
      return new Uint8Array(out.buffer, out.byteOffset + out.byteLength - 16, 16);
    },
    ctr(counter, data) {
      const out = createCipheriv(`aes-${bits}-ctr`, k, counter).update(data);
      return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    },
  };
}

/** Input block sizes of the hashes (RFC 2104 "B"). */
const HASH_BLOCK: Readonly<Record<HashName, number>> = {
  sha1: 64,
  sha256: 64,
  sha384: 128,
  sha512: 128,
};

/**
 * HMAC (RFC 2104) as two createHash calls over K ^ ipad and K ^ opad, padded
 * once per key. In Deno this is about twice as fast as createHmac, which
 * builds a stream object on every call; it holds no native state between
 * calls, so one-shot PRF use (prf+ keys a fresh MAC per block) stays cheap.
 */
function hmacMac(hash: HashName, key: Uint8Array): Mac {
  const block = HASH_BLOCK[hash];
  const ipad = new Uint8Array(block);
  ipad.set(key.length > block ? createHash(hash).update(key).digest() : key);
  const opad = ipad.slice();
  for (let i = 0; i < block; i++) {
    ipad[i] ^= 0x36;
    opad[i] ^= 0x5c;
  }
  return {
    backend: "node",
    outputLength: HASH_LENGTH[hash],
    compute(...parts) {
      const h = createHash(hash).update(ipad);
      for (const p of parts) h.update(p);
      const d = createHash(hash).update(opad).update(h.digest()).digest();
      return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    },
  };
}

/** The node:crypto backend. */
export const nodeProvider: Provider = {
  backend: "node",
  // Deno's node:crypto has aes-192-ctr but no aes-192-gcm/cbc.
  supportsAesKey: (n, mode) => n === 16 || n === 32 || (n === 24 && mode === "ctr"),
  aesGcm: (key, tagLength) => nodeAead(`aes-${key.length * 8}-gcm`, key, tagLength),
  aesCcmOps: ccmOps,
  chacha20Poly1305: (key) => nodeAead("chacha20-poly1305", key, 16),
  aesCbc: cbcCipher,
  aesCtr: ctrCipher,
  tripleDesCbc: tripleDesCipher,
  hmac: hmacMac,
};

const OCTET_STRING = 0x04;
const BIT_STRING = 0x03;
/** id-ecPublicKey (RFC 5480) and the named-curve / RFC 8410 OIDs, as content hex. */
const EC_PUBLIC_KEY = "2a8648ce3d0201";
const CURVE_OID: Readonly<Record<EcdhGroup, string>> = {
  19: "2a8648ce3d030107", // prime256v1
  20: "2b81040022", // secp384r1
  21: "2b81040023", // secp521r1
  31: "2b656e", // id-X25519
  32: "2b656f", // id-X448
};

/** DER prefixes, built once per group: everything up to the raw key bytes. */
interface DerPrefixes {
  readonly pkcs8: Uint8Array;
  readonly spki: Uint8Array;
}

function buildPrefixes(group: EcdhGroup): DerPrefixes {
  const info = ECDH_INFO[group];
  const alg = info.ecp
    ? derTlv(Tag.SEQUENCE, derOid(EC_PUBLIC_KEY), derOid(CURVE_OID[group]))
    : derTlv(Tag.SEQUENCE, derOid(CURVE_OID[group]));
  const dummy = new Uint8Array(info.privateLength);
  // RFC 5915 ECPrivateKey without the optional public key, or RFC 8410 CurvePrivateKey.
  const inner = info.ecp
    ? derTlv(Tag.SEQUENCE, derSmallInt(1), derTlv(OCTET_STRING, dummy))
    : derTlv(OCTET_STRING, dummy);
  const pkcs8 = derTlv(Tag.SEQUENCE, derSmallInt(0), alg, derTlv(OCTET_STRING, inner));
  const point = new Uint8Array((info.ecp ? 2 : 1) + info.publicLength);
  if (info.ecp) point[1] = 0x04; // uncompressed SEC1 point after the unused-bits byte
  const spki = derTlv(Tag.SEQUENCE, alg, derTlv(BIT_STRING, point));
  return {
    pkcs8: pkcs8.slice(0, pkcs8.length - info.privateLength),
    spki: spki.slice(0, spki.length - info.publicLength),
  };
}

const PREFIXES = new Map<EcdhGroup, DerPrefixes>();

function withPrefix(prefix: Uint8Array, raw: Uint8Array): Uint8Array {
  const out = new Uint8Array(prefix.length + raw.length);
  out.set(prefix, 0);
  out.set(raw, prefix.length);
  return out;
}

/** Binds `priv` (an ECP scalar of the full field length, or a raw X25519/X448 key). */
export function nodeEcdh(group: EcdhGroup, priv: Uint8Array): EcdhKey {
  const info = ECDH_INFO[group];
  let der = PREFIXES.get(group);
  if (!der) PREFIXES.set(group, der = buildPrefixes(group));
  const { spki } = der;
  const privateKey = createPrivateKey({
    key: withPrefix(der.pkcs8, priv) as never,
    format: "der",
    type: "pkcs8",
  });
  return {
    publicKey() {
      const out = createPublicKey(privateKey).export({ format: "der", type: "spki" });
      // The SPKI ends with the key bytes.
      return new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
        .slice(out.byteLength - info.publicLength);
    },
    derive(peer) {
      const key = withPrefix(spki, peer);
      const publicKey = createPublicKey({ key: key as never, format: "der", type: "spki" });
      const s = diffieHellman({ privateKey, publicKey });
      const out = new Uint8Array(info.secretLength);
      out.set(new Uint8Array(s.buffer, s.byteOffset, s.byteLength), out.length - s.byteLength);
      return out;
    },
  };
}
