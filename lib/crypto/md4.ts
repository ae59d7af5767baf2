/**
 * MD4 message digest (RFC 1320). Needed only by MS-CHAPv2 (RFC 2759), whose
 * NT password hash is MD4 of the UTF-16LE password; MD4 is broken and must not
 * be used for anything new. Pure function, no I/O.
 *
 * @module
 */

/** Length of an MD4 digest in bytes. */
export const MD4_DIGEST_LENGTH = 16;

function rotl(x: number, n: number): number {
  return (x << n) | (x >>> (32 - n));
}

/**
 * MD4 digest of `data` (RFC 1320).
 *
 * @example
 * ```ts
 * import { md4 } from "./md4.ts";
 * import { toHex } from "../wire/bytes.ts";
 * toHex(md4(new TextEncoder().encode("abc"))); // "a448017aaf21d8525fc10ae87aa6729d"
 * ```
 */
export function md4(data: Uint8Array): Uint8Array {
  // Padding (RFC 1320 3.1, 3.2): 0x80, zeros to 56 mod 64, 64-bit LE bit length.
  const padded = new Uint8Array(((data.length + 8) >>> 6) * 64 + 64);
  padded.set(data);
  padded[data.length] = 0x80;
  const view = new DataView(padded.buffer);
  const bits = data.length * 8;
  view.setUint32(padded.length - 8, bits >>> 0, true);
  view.setUint32(padded.length - 4, Math.floor(bits / 0x100000000), true);

  let a = 0x67452301, b = 0xefcdab89, c = 0x98badcfe, d = 0x10325476;
  const x = new Uint32Array(16);
  for (let off = 0; off < padded.length; off += 64) {
    for (let i = 0; i < 16; i++) x[i] = view.getUint32(off + 4 * i, true);
    const aa = a, bb = b, cc = c, dd = d;
    // Round 1: F(x,y,z) = xy v not(x)z.
    for (const i of [0, 4, 8, 12]) {
      a = rotl((a + ((b & c) | (~b & d)) + x[i]) | 0, 3);
      d = rotl((d + ((a & b) | (~a & c)) + x[i + 1]) | 0, 7);
      c = rotl((c + ((d & a) | (~d & b)) + x[i + 2]) | 0, 11);
      b = rotl((b + ((c & d) | (~c & a)) + x[i + 3]) | 0, 19);
    }
    // Round 2: G(x,y,z) = xy v xz v yz, constant 0x5a827999.
    for (const i of [0, 1, 2, 3]) {
      a = rotl((a + ((b & c) | (b & d) | (c & d)) + x[i] + 0x5a827999) | 0, 3);
      d = rotl((d + ((a & b) | (a & c) | (b & c)) + x[i + 4] + 0x5a827999) | 0, 5);
      c = rotl((c + ((d & a) | (d & b) | (a & b)) + x[i + 8] + 0x5a827999) | 0, 9);
      b = rotl((b + ((c & d) | (c & a) | (d & a)) + x[i + 12] + 0x5a827999) | 0, 13);
    }
    // Round 3: H(x,y,z) = x xor y xor z, constant 0x6ed9eba1.
    for (const i of [0, 2, 1, 3]) {
      a = rotl((a + (b ^ c ^ d) + x[i] + 0x6ed9eba1) | 0, 3);
      d = rotl((d + (a ^ b ^ c) + x[i + 8] + 0x6ed9eba1) | 0, 9);
      c = rotl((c + (d ^ a ^ b) + x[i + 4] + 0x6ed9eba1) | 0, 11);
      b = rotl((b + (c ^ d ^ a) + x[i + 12] + 0x6ed9eba1) | 0, 15);
    }
    a = (a + aa) | 0;
    b = (b + bb) | 0;
    c = (c + cc) | 0;
    d = (d + dd) | 0;
  }
  const out = new Uint8Array(MD4_DIGEST_LENGTH);
  const ov = new DataView(out.buffer);
  ov.setUint32(0, a >>> 0, true);
  ov.setUint32(4, b >>> 0, true);
  ov.setUint32(8, c >>> 0, true);
  ov.setUint32(12, d >>> 0, true);
  return out;
}
