/**
 * AES-CMAC (RFC 4493) and the AES-CMAC-PRF-128 key rule (RFC 4615), built on
 * any AES-CBC {@link BlockCipher}.
 *
 * @module
 */
import { CryptoError } from "./types.ts";
import type { Mac } from "./types.ts";
import { type AesCbcFactory, cbcMac } from "./aes_xcbc.ts";

/** Doubling in GF(2^128) as in RFC 4493 section 2.3 (shift left, XOR 0x87). */
function dbl(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(16);
  for (let i = 0; i < 15; i++) out[i] = ((b[i] << 1) | (b[i + 1] >>> 7)) & 0xff;
  out[15] = (b[15] << 1) & 0xff;
  // constant-time conditional XOR with Rb = 0x87
  out[15] ^= 0x87 & -(b[0] >>> 7);
  return out;
}

/**
 * AES-CMAC with a 16, 24 or 32-byte key (RFC 4493): L = E(K, 0^128),
 * K1 = dbl(L), K2 = dbl(K1); the last block is XORed with K1 (complete) or
 * padded with 0x80 0x00.. and XORed with K2. Output is the full 16 bytes
 * (AES-CMAC-96 per RFC 4494 truncates to 12).
 *
 * @example
 * ```ts
 * const mac = createAesCmac(key16, (k) => createBlockCipher("aes-cbc", k));
 * mac.compute(data); // 16 bytes
 * ```
 */
export function createAesCmac(key: Uint8Array, aesCbc: AesCbcFactory): Mac {
  if (key.length !== 16 && key.length !== 24 && key.length !== 32) {
    throw new CryptoError(`AES-CMAC needs a 16, 24 or 32-byte key, got ${key.length}`);
  }
  const c = aesCbc(key);
  const l = c.encrypt(new Uint8Array(16), new Uint8Array(16));
  const k1 = dbl(l);
  const k2 = dbl(k1);
  return cbcMac(c, k1, k2, c.backend);
}

/**
 * The AES-CMAC-PRF-128 key rule (RFC 4615 section 3): a 16-byte key is used
 * as is, any other length is replaced by AES-CMAC(0^128, key).
 */
export function aesCmacPrfKey(key: Uint8Array, aesCbc: AesCbcFactory): Uint8Array {
  if (key.length === 16) return key;
  return createAesCmac(new Uint8Array(16), aesCbc).compute(key);
}
