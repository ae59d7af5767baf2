/**
 * Single-block DES encryption (FIPS 46-3) and the MS-CHAP 56-bit key
 * expansion (RFC 2759 section 8.6, DesEncrypt). Needed only by MS-CHAPv2's
 * ChallengeResponse; DES is broken and must not be used for anything new.
 *
 * A plain bit-table implementation: clarity over speed (MS-CHAPv2 runs three
 * DES blocks per authentication). Pure functions, no I/O.
 *
 * @module
 */

// FIPS 46-3 tables, 1-based bit numbers with bit 1 = most significant bit.
// deno-fmt-ignore
const IP = [
  58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4,
  62, 54, 46, 38, 30, 22, 14, 6, 64, 56, 48, 40, 32, 24, 16, 8,
  57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35, 27, 19, 11, 3,
  61, 53, 45, 37, 29, 21, 13, 5, 63, 55, 47, 39, 31, 23, 15, 7,
];
// deno-fmt-ignore
const FP = [
  40, 8, 48, 16, 56, 24, 64, 32, 39, 7, 47, 15, 55, 23, 63, 31,
  38, 6, 46, 14, 54, 22, 62, 30, 37, 5, 45, 13, 53, 21, 61, 29,
  36, 4, 44, 12, 52, 20, 60, 28, 35, 3, 43, 11, 51, 19, 59, 27,
  34, 2, 42, 10, 50, 18, 58, 26, 33, 1, 41, 9, 49, 17, 57, 25,
];
// deno-fmt-ignore
const P = [
  16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10,
  2, 8, 24, 14, 32, 27, 3, 9, 19, 13, 30, 6, 22, 11, 4, 25,
];
// deno-fmt-ignore
const PC1 = [
  57, 49, 41, 33, 25, 17, 9, 1, 58, 50, 42, 34, 26, 18,
  10, 2, 59, 51, 43, 35, 27, 19, 11, 3, 60, 52, 44, 36,
  63, 55, 47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22,
  14, 6, 61, 53, 45, 37, 29, 21, 13, 5, 28, 20, 12, 4,
];
// deno-fmt-ignore
const PC2 = [
  14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10, 23, 19, 12, 4, 26, 8, 16, 7, 27, 20, 13, 2,
  41, 52, 31, 37, 47, 55, 30, 40, 51, 45, 33, 48, 44, 49, 39, 56, 34, 53, 46, 42, 50, 36, 29, 32,
];
const SHIFTS = [1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1];
// deno-fmt-ignore
const S = [
  [
    14, 4, 13, 1, 2, 15, 11, 8, 3, 10, 6, 12, 5, 9, 0, 7,
    0, 15, 7, 4, 14, 2, 13, 1, 10, 6, 12, 11, 9, 5, 3, 8,
    4, 1, 14, 8, 13, 6, 2, 11, 15, 12, 9, 7, 3, 10, 5, 0,
    15, 12, 8, 2, 4, 9, 1, 7, 5, 11, 3, 14, 10, 0, 6, 13,
  ],
  [
    15, 1, 8, 14, 6, 11, 3, 4, 9, 7, 2, 13, 12, 0, 5, 10,
    3, 13, 4, 7, 15, 2, 8, 14, 12, 0, 1, 10, 6, 9, 11, 5,
    0, 14, 7, 11, 10, 4, 13, 1, 5, 8, 12, 6, 9, 3, 2, 15,
    13, 8, 10, 1, 3, 15, 4, 2, 11, 6, 7, 12, 0, 5, 14, 9,
  ],
  [
    10, 0, 9, 14, 6, 3, 15, 5, 1, 13, 12, 7, 11, 4, 2, 8,
    13, 7, 0, 9, 3, 4, 6, 10, 2, 8, 5, 14, 12, 11, 15, 1,
    13, 6, 4, 9, 8, 15, 3, 0, 11, 1, 2, 12, 5, 10, 14, 7,
    1, 10, 13, 0, 6, 9, 8, 7, 4, 15, 14, 3, 11, 5, 2, 12,
  ],
  [
    7, 13, 14, 3, 0, 6, 9, 10, 1, 2, 8, 5, 11, 12, 4, 15,
    13, 8, 11, 5, 6, 15, 0, 3, 4, 7, 2, 12, 1, 10, 14, 9,
    10, 6, 9, 0, 12, 11, 7, 13, 15, 1, 3, 14, 5, 2, 8, 4,
    3, 15, 0, 6, 10, 1, 13, 8, 9, 4, 5, 11, 12, 7, 2, 14,
  ],
  [
    2, 12, 4, 1, 7, 10, 11, 6, 8, 5, 3, 15, 13, 0, 14, 9,
    14, 11, 2, 12, 4, 7, 13, 1, 5, 0, 15, 10, 3, 9, 8, 6,
    4, 2, 1, 11, 10, 13, 7, 8, 15, 9, 12, 5, 6, 3, 0, 14,
    11, 8, 12, 7, 1, 14, 2, 13, 6, 15, 0, 9, 10, 4, 5, 3,
  ],
  [
    12, 1, 10, 15, 9, 2, 6, 8, 0, 13, 3, 4, 14, 7, 5, 11,
    10, 15, 4, 2, 7, 12, 9, 5, 6, 1, 13, 14, 0, 11, 3, 8,
    9, 14, 15, 5, 2, 8, 12, 3, 7, 0, 4, 10, 1, 13, 11, 6,
    4, 3, 2, 12, 9, 5, 15, 10, 11, 14, 1, 7, 6, 0, 8, 13,
  ],
  [
    4, 11, 2, 14, 15, 0, 8, 13, 3, 12, 9, 7, 5, 10, 6, 1,
    13, 0, 11, 7, 4, 9, 1, 10, 14, 3, 5, 12, 2, 15, 8, 6,
    1, 4, 11, 13, 12, 3, 7, 14, 10, 15, 6, 8, 0, 5, 9, 2,
    6, 11, 13, 8, 1, 4, 10, 7, 9, 5, 0, 15, 14, 2, 3, 12,
  ],
  [
    13, 2, 8, 4, 6, 15, 11, 1, 10, 9, 3, 14, 5, 0, 12, 7,
    1, 15, 13, 8, 10, 3, 7, 4, 12, 5, 6, 11, 0, 14, 9, 2,
    7, 11, 4, 1, 9, 12, 14, 2, 0, 6, 10, 13, 15, 3, 5, 8,
    2, 1, 14, 7, 4, 10, 8, 13, 15, 12, 9, 0, 3, 5, 6, 11,
  ],
];

/** Bytes -> array of bits (0/1), most significant bit of byte 0 first. */
function toBits(bytes: Uint8Array): number[] {
  const bits: number[] = [];
  for (const b of bytes) for (let i = 7; i >= 0; i--) bits.push((b >> i) & 1);
  return bits;
}

function permute(bits: readonly number[], table: readonly number[]): number[] {
  return table.map((n) => bits[n - 1]);
}

function rotateLeft(half: number[], n: number): number[] {
  return half.slice(n).concat(half.slice(0, n));
}

/** The 16 48-bit round keys of FIPS 46-3 as bit arrays (PC-1 ignores the parity bits). */
function roundKeyBits(key8: Uint8Array): number[][] {
  const cd = permute(toBits(key8), PC1);
  let c = cd.slice(0, 28), d = cd.slice(28);
  const keys: number[][] = [];
  for (const s of SHIFTS) {
    c = rotateLeft(c, s);
    d = rotateLeft(d, s);
    keys.push(permute(c.concat(d), PC2));
  }
  return keys;
}

// Tables derived once from the FIPS tables above, so a block costs word operations only.
// A 64-bit block is two 32-bit words (hi = bits 1..32, lo = bits 33..64).

/**
 * A 64-bit permutation as byte tables: for each input byte position and value,
 * the output bits it sets (hi word at [2 * (pos * 256 + v)], lo word after it).
 */
function byteTables(table: readonly number[]): Uint32Array {
  const t = new Uint32Array(8 * 256 * 2);
  for (let out = 0; out < 64; out++) {
    const inBit = table[out] - 1; // 0-based, 0 = MSB of byte 0
    const pos = inBit >> 3, mask = 0x80 >> (inBit & 7);
    for (let v = 0; v < 256; v++) {
      if ((v & mask) === 0) continue;
      const i = 2 * (pos * 256 + v) + (out < 32 ? 0 : 1);
      t[i] = (t[i] | (1 << (31 - (out & 31)))) >>> 0;
    }
  }
  return t;
}

const IP_T = byteTables(IP);
const FP_T = byteTables(FP);

/** SP[box * 64 + six]: P(S-box `box`'s output for the 6-bit input `six`) as a 32-bit word. */
const SP = (() => {
  const sp = new Uint32Array(8 * 64);
  for (let box = 0; box < 8; box++) {
    for (let six = 0; six < 64; six++) {
      const row = ((six >> 4) & 2) | (six & 1);
      const col = (six >> 1) & 15;
      const pre = S[box][row * 16 + col] << (28 - 4 * box); // S output at bits 4*box+1..4*box+4
      let out = 0;
      for (let j = 0; j < 32; j++) {
        if ((pre >>> (32 - P[j])) & 1) out |= 1 << (31 - j);
      }
      sp[box * 64 + six] = out >>> 0;
    }
  }
  return sp;
})();

/** The permutation `t` (from {@link byteTables}) of the 8 bytes at `b[o..o+8)` into `w[0..2)`. */
function permuteBytes(t: Uint32Array, b: Uint8Array, o: number, w: Uint32Array): void {
  let hi = 0, lo = 0;
  for (let pos = 0; pos < 8; pos++) {
    const i = 2 * (pos * 256 + b[o + pos]);
    hi |= t[i];
    lo |= t[i + 1];
  }
  w[0] = hi;
  w[1] = lo;
}

/**
 * One DES key (FIPS 46-3) with its round keys expanded once, encrypting and
 * decrypting single 8-byte blocks. The low bit of each key byte is parity and
 * is ignored. DES alone is broken; it is here for MS-CHAPv2 and as the
 * building block of 3DES (triple_des.ts).
 *
 * @example
 * ```ts
 * import { DesKey } from "./des.ts";
 * import { fromHex, toHex } from "../wire/bytes.ts";
 * const k = new DesKey(fromHex("133457799BBCDFF1"));
 * const out = new Uint8Array(8);
 * k.encryptBlock(fromHex("0123456789ABCDEF"), 0, out, 0);
 * toHex(out); // "85e813540f0ab405"
 * ```
 */
export class DesKey {
  /** 16 rounds x 8 six-bit subkey pieces, in encryption order. */
  readonly #k = new Uint8Array(128);
  readonly #w = new Uint32Array(2);
  readonly #pre = new Uint8Array(8);

  /** @throws {RangeError} when the key is not 8 bytes. */
  constructor(key8: Uint8Array) {
    if (key8.length !== 8) throw new RangeError(`DES key must be 8 bytes, got ${key8.length}`);
    const bits = roundKeyBits(key8);
    for (let r = 0; r < 16; r++) {
      for (let box = 0; box < 8; box++) {
        let v = 0;
        for (let j = 0; j < 6; j++) v = (v << 1) | bits[r][6 * box + j];
        this.#k[r * 8 + box] = v;
      }
    }
  }

  /** Encrypts the 8 bytes at `src[so..so+8)` into `dst[do_..do_+8)` (may be the same bytes). */
  encryptBlock(src: Uint8Array, so: number, dst: Uint8Array, do_: number): void {
    this.#crypt(src, so, dst, do_, false);
  }

  /** Decrypts the 8 bytes at `src[so..so+8)` into `dst[do_..do_+8)` (may be the same bytes). */
  decryptBlock(src: Uint8Array, so: number, dst: Uint8Array, do_: number): void {
    this.#crypt(src, so, dst, do_, true);
  }

  #crypt(src: Uint8Array, so: number, dst: Uint8Array, do_: number, decrypt: boolean): void {
    const w = this.#w, k = this.#k;
    permuteBytes(IP_T, src, so, w);
    let l = w[0], r = w[1];
    for (let round = 0; round < 16; round++) {
      const kb = 8 * (decrypt ? 15 - round : round);
      // FIPS 46-3's E table gives box i R's bits 4i .. 4i+5 (1-based, cyclic, bit 0 = bit 32):
      // the top 6 bits of R rotated left by 4i - 1.
      let f = 0;
      for (let box = 0; box < 8; box++) {
        const s = (4 * box + 31) & 31;
        const x = s === 0 ? r : ((r << s) | (r >>> (32 - s)));
        f |= SP[box * 64 + (((x >>> 26) & 63) ^ k[kb + box])];
      }
      const next = (l ^ f) >>> 0;
      l = r;
      r = next;
    }
    // The last round's halves are not swapped: the output is FP(R16 L16).
    const pre = this.#pre;
    pre[0] = r >>> 24;
    pre[1] = r >>> 16;
    pre[2] = r >>> 8;
    pre[3] = r;
    pre[4] = l >>> 24;
    pre[5] = l >>> 16;
    pre[6] = l >>> 8;
    pre[7] = l;
    permuteBytes(FP_T, pre, 0, w);
    const hi = w[0], lo = w[1];
    dst[do_] = hi >>> 24;
    dst[do_ + 1] = hi >>> 16;
    dst[do_ + 2] = hi >>> 8;
    dst[do_ + 3] = hi;
    dst[do_ + 4] = lo >>> 24;
    dst[do_ + 5] = lo >>> 16;
    dst[do_ + 6] = lo >>> 8;
    dst[do_ + 7] = lo;
  }
}

/**
 * Encrypts one 8-byte block with single DES (FIPS 46-3) under an 8-byte key
 * (the low bit of each key byte is parity and is ignored).
 *
 * @throws {RangeError} when the key or block is not 8 bytes.
 * @example
 * ```ts
 * import { desEncryptBlock } from "./des.ts";
 * import { fromHex, toHex } from "../wire/bytes.ts";
 * toHex(desEncryptBlock(fromHex("133457799BBCDFF1"), fromHex("0123456789ABCDEF")));
 * // "85e813540f0ab405"
 * ```
 */
export function desEncryptBlock(key8: Uint8Array, block8: Uint8Array): Uint8Array {
  if (block8.length !== 8) throw new RangeError(`DES block must be 8 bytes, got ${block8.length}`);
  const out = new Uint8Array(8);
  new DesKey(key8).encryptBlock(block8, 0, out, 0);
  return out;
}

/**
 * Spreads a 7-byte (56-bit) MS-CHAP key over 8 DES key bytes, 7 key bits per
 * byte in the high bits (RFC 2759 section 8.6, DesEncrypt's "MakeKey"). The low
 * (parity) bit of each byte is set for odd parity, as strongSwan's
 * ExpandDESKey does; DES ignores it either way.
 *
 * @throws {RangeError} when the key is not 7 bytes.
 * @example
 * ```ts
 * import { desKeyFrom56 } from "./des.ts";
 * desKeyFrom56(new Uint8Array(7).fill(0xff)); // all bytes 0xfe | parity = 0xfe
 * ```
 */
export function desKeyFrom56(key7: Uint8Array): Uint8Array {
  if (key7.length !== 7) {
    throw new RangeError(`MS-CHAP DES key must be 7 bytes, got ${key7.length}`);
  }
  const bits = toBits(key7);
  const out = new Uint8Array(8);
  for (let i = 0; i < 8; i++) {
    let v = 0;
    for (let j = 0; j < 7; j++) v |= bits[7 * i + j] << (7 - j);
    let ones = 0;
    for (let j = 1; j < 8; j++) ones += (v >> j) & 1;
    out[i] = v | (ones % 2 === 0 ? 1 : 0);
  }
  return out;
}

/**
 * RFC 2759 section 8.6 DesEncrypt: encrypts the 8-byte `clear` block with the
 * 7-byte key expanded by {@link desKeyFrom56}.
 *
 * @example
 * ```ts
 * import { desEncrypt56 } from "./des.ts";
 * desEncrypt56(new Uint8Array(7), new Uint8Array(8)).length; // 8
 * ```
 */
export function desEncrypt56(key7: Uint8Array, clear: Uint8Array): Uint8Array {
  return desEncryptBlock(desKeyFrom56(key7), clear);
}
