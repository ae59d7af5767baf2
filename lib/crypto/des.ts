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
const E = [
  32, 1, 2, 3, 4, 5, 4, 5, 6, 7, 8, 9, 8, 9, 10, 11, 12, 13, 12, 13, 14, 15, 16, 17,
  16, 17, 18, 19, 20, 21, 20, 21, 22, 23, 24, 25, 24, 25, 26, 27, 28, 29, 28, 29, 30, 31, 32, 1,
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

function fromBits(bits: readonly number[]): Uint8Array {
  const out = new Uint8Array(bits.length / 8);
  for (let i = 0; i < bits.length; i++) out[i >> 3] |= bits[i] << (7 - (i & 7));
  return out;
}

function permute(bits: readonly number[], table: readonly number[]): number[] {
  return table.map((n) => bits[n - 1]);
}

function rotateLeft(half: number[], n: number): number[] {
  return half.slice(n).concat(half.slice(0, n));
}

/** The 16 48-bit round keys of FIPS 46-3 (the parity bits are ignored by PC-1). */
function roundKeys(key8: Uint8Array): number[][] {
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

/** The cipher function f(R, K) of FIPS 46-3. */
function feistel(r: readonly number[], k: readonly number[]): number[] {
  const x = permute(r, E).map((bit, i) => bit ^ k[i]);
  const out: number[] = [];
  for (let box = 0; box < 8; box++) {
    const six = x.slice(6 * box, 6 * box + 6);
    const row = (six[0] << 1) | six[5];
    const col = (six[1] << 3) | (six[2] << 2) | (six[3] << 1) | six[4];
    const v = S[box][row * 16 + col];
    out.push((v >> 3) & 1, (v >> 2) & 1, (v >> 1) & 1, v & 1);
  }
  return permute(out, P);
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
  if (key8.length !== 8) throw new RangeError(`DES key must be 8 bytes, got ${key8.length}`);
  if (block8.length !== 8) throw new RangeError(`DES block must be 8 bytes, got ${block8.length}`);
  const keys = roundKeys(key8);
  const lr = permute(toBits(block8), IP);
  let l = lr.slice(0, 32), r = lr.slice(32);
  for (const k of keys) {
    const f = feistel(r, k);
    const next = l.map((bit, i) => bit ^ f[i]);
    l = r;
    r = next;
  }
  // The last round's halves are not swapped: output is R16 L16.
  return fromBits(permute(r.concat(l), FP));
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
