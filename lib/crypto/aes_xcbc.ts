/**
 * AES-XCBC-MAC (RFC 3566) and the AES-XCBC-PRF-128 key rule (RFC 4434),
 * built on any AES-CBC {@link BlockCipher} (CBC with a zero IV over one block
 * is AES-ECB; over the whole message it is the CBC-MAC chain).
 *
 * @module
 */
import { CryptoError } from "./types.ts";
import type { Backend, BlockCipher, Mac } from "./types.ts";

/** Makes an AES-CBC cipher for a 16-byte key (the backend's). */
export type AesCbcFactory = (key: Uint8Array) => BlockCipher;

const ZERO_IV = new Uint8Array(16);

function constBlock(b: number): Uint8Array {
  return new Uint8Array(16).fill(b);
}

/**
 * AES-XCBC-MAC with a 16-byte key (RFC 3566 section 4): K1 = E(K, 0x01..),
 * K2 = E(K, 0x02..), K3 = E(K, 0x03..); CBC-MAC under K1 with the last block
 * XORed with K2 (complete) or padded with 0x80 0x00.. and XORed with K3.
 * Output is the full 16 bytes (AES-XCBC-96 truncates to 12).
 *
 * @example
 * ```ts
 * const mac = createAesXcbcMac(key16, (k) => createBlockCipher("aes-cbc", k));
 * mac.compute(data); // 16 bytes
 * ```
 */
export function createAesXcbcMac(key: Uint8Array, aesCbc: AesCbcFactory): Mac {
  if (key.length !== 16) {
    throw new CryptoError(`AES-XCBC-MAC needs a 16-byte key, got ${key.length}`);
  }
  const kc = aesCbc(key);
  const k1 = kc.encrypt(ZERO_IV, constBlock(1));
  const k2 = kc.encrypt(ZERO_IV, constBlock(2));
  const k3 = kc.encrypt(ZERO_IV, constBlock(3));
  const c1 = aesCbc(k1);
  return cbcMac(c1, k2, k3, c1.backend);
}

/**
 * The shared tail of XCBC and CMAC: pad the message, XOR the last block with
 * `complete` (message non-empty and a multiple of 16) or `padded` (otherwise),
 * and return the last block of the CBC encryption under a zero IV.
 */
export function cbcMac(
  cipher: BlockCipher,
  complete: Uint8Array,
  padded: Uint8Array,
  backend: Backend,
): Mac {
  return {
    backend,
    outputLength: 16,
    compute(...parts: Uint8Array[]): Uint8Array {
      let n = 0;
      for (const p of parts) n += p.length;
      const full = n > 0 && n % 16 === 0;
      const len = full ? n : (Math.floor(n / 16) + 1) * 16;
      const buf = new Uint8Array(len);
      let o = 0;
      for (const p of parts) {
        buf.set(p, o);
        o += p.length;
      }
      if (!full) buf[n] = 0x80;
      const k = full ? complete : padded;
      for (let i = 0; i < 16; i++) buf[len - 16 + i] ^= k[i];
      return cipher.encrypt(ZERO_IV, buf).slice(len - 16);
    },
  };
}

/**
 * The AES-XCBC-PRF-128 key rule (RFC 4434 section 2): a 16-byte key is used
 * as is, a shorter one is padded with zero bytes on the right, and a longer
 * one is replaced by AES-XCBC-MAC(0^128, key).
 */
export function aesXcbcPrfKey(key: Uint8Array, aesCbc: AesCbcFactory): Uint8Array {
  if (key.length === 16) return key;
  if (key.length < 16) {
    const k = new Uint8Array(16);
    k.set(key);
    return k;
  }
  return createAesXcbcMac(new Uint8Array(16), aesCbc).compute(key);
}
