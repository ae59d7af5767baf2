/**
 * prf+ of RFC 7296 section 2.13.
 *
 * @module
 */
import { CryptoError, type Prf } from "./types.ts";

/**
 * prf+ (K, S) = T1 | T2 | T3 | ... truncated to `length` bytes, where
 * T1 = prf (K, S | 0x01) and Tn = prf (K, Tn-1 | S | n). At most 255 blocks
 * can be produced (RFC 7296 section 2.13); asking for more throws
 * {@link CryptoError}.
 *
 * @example
 * ```ts
 * const keymat = prfPlus(createPrf(5), skeyseed, concat(ni, nr, spiI, spiR), 208);
 * ```
 */
export function prfPlus(prf: Prf, key: Uint8Array, seed: Uint8Array, length: number): Uint8Array {
  const h = prf.outputLength;
  if (!Number.isInteger(length) || length < 0 || length > 255 * h) {
    throw new CryptoError(`prf+ can produce at most ${255 * h} bytes, asked for ${length}`);
  }
  const out = new Uint8Array(length);
  let prev = new Uint8Array(0);
  let off = 0;
  for (let n = 1; off < length; n++) {
    const input = new Uint8Array(prev.length + seed.length + 1);
    input.set(prev, 0);
    input.set(seed, prev.length);
    input[input.length - 1] = n;
    prev = new Uint8Array(prf.compute(key, input));
    const take = Math.min(h, length - off);
    out.set(prev.subarray(0, take), off);
    off += take;
  }
  return out;
}
