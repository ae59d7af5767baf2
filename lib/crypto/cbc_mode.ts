/**
 * CBC mode (NIST SP 800-38A section 6.2) over any block cipher that encrypts
 * and decrypts single blocks in place, without padding (ESP and IKE pad
 * themselves). The portable 3DES (triple_des.ts) and Camellia (camellia.ts)
 * use it; AES-CBC comes from the backends.
 *
 * Pure functions; no I/O.
 *
 * @module
 */
import { CryptoError } from "./types.ts";

/** A keyed block cipher working on `blockSize`-byte blocks at offsets (dst may equal src). */
export interface BlockFunctions {
  encryptBlock(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number): void;
  decryptBlock(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number): void;
}

/** Throws {@link CryptoError} unless `iv` is one block and `data` whole blocks. */
function check(name: string, bs: number, iv: Uint8Array, data: Uint8Array): void {
  if (iv.length !== bs) throw new CryptoError(`${name} IV must be ${bs} bytes, got ${iv.length}`);
  if (data.length % bs !== 0) {
    throw new CryptoError(`${name} data must be a multiple of ${bs} bytes, got ${data.length}`);
  }
}

/**
 * CBC encryption of `data` (whole blocks) under `iv` (one block); `name`
 * (e.g. "3DES-CBC") labels the errors. Returns a new array.
 *
 * @example
 * ```ts
 * import { cbcEncrypt } from "./cbc_mode.ts";
 * import { TripleDesKey } from "./triple_des.ts";
 * cbcEncrypt("3DES-CBC", new TripleDesKey(new Uint8Array(24)), 8, new Uint8Array(8), new Uint8Array(16));
 * ```
 */
export function cbcEncrypt(
  name: string,
  cipher: BlockFunctions,
  bs: number,
  iv: Uint8Array,
  data: Uint8Array,
): Uint8Array {
  check(name, bs, iv, data);
  const out = new Uint8Array(data.length);
  let prev = iv, prevOff = 0;
  for (let o = 0; o < data.length; o += bs) {
    for (let i = 0; i < bs; i++) out[o + i] = data[o + i] ^ prev[prevOff + i];
    cipher.encryptBlock(out, o, out, o);
    prev = out;
    prevOff = o;
  }
  return out;
}

/**
 * CBC decryption, the inverse of {@link cbcEncrypt} with the same checks.
 * Returns a new array.
 *
 * @example
 * ```ts
 * import { cbcDecrypt } from "./cbc_mode.ts";
 * import { TripleDesKey } from "./triple_des.ts";
 * cbcDecrypt("3DES-CBC", new TripleDesKey(new Uint8Array(24)), 8, new Uint8Array(8), new Uint8Array(16));
 * ```
 */
export function cbcDecrypt(
  name: string,
  cipher: BlockFunctions,
  bs: number,
  iv: Uint8Array,
  data: Uint8Array,
): Uint8Array {
  check(name, bs, iv, data);
  const out = new Uint8Array(data.length);
  let prev = iv, prevOff = 0;
  for (let o = 0; o < data.length; o += bs) {
    cipher.decryptBlock(data, o, out, o);
    for (let i = 0; i < bs; i++) out[o + i] ^= prev[prevOff + i];
    prev = data;
    prevOff = o;
  }
  return out;
}
