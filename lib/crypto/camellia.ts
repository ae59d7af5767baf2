/**
 * The Camellia block cipher (RFC 3713) in pure TypeScript, with CBC without
 * padding (RFC 4312 for ESP) and the counter mode of RFC 5528, whose counter
 * block is laid out as in RFC 3686 (nonce || IV || 32-bit block counter).
 *
 * This is the portable fallback; the fast path is the system libcrypto
 * through FFI. Written from the RFC 3713 specification:
 *
 * - 64-bit quantities are pairs of 32-bit words (high, low), so the cipher
 *   runs on plain `number` arithmetic, with no `bigint`.
 * - The F-function (section 2.4.1: S-function then P-function) is four
 *   256-entry word tables derived from SBOX1 at module load (see
 *   {@link feistel}).
 * - Subkeys are derived once per key (section 2.2) and stored twice, in the
 *   order encryption consumes them and in the order decryption does
 *   (section 2.3.3), so one routine does both directions.
 *
 * Table lookups indexed by secret bytes are not constant-time: like any
 * table-driven cipher this one leaks through the CPU cache to an attacker
 * sharing the machine. Prefer the libcrypto backend where it exists.
 *
 * @example
 * ```ts
 * import { CamelliaKey, camelliaCbcEncrypt } from "./camellia.ts";
 * const key = new CamelliaKey(new Uint8Array(16));
 * const ct = camelliaCbcEncrypt(key, new Uint8Array(16), new Uint8Array(32));
 * ```
 *
 * @module
 */

import { CryptoError } from "./types.ts";
import { cbcDecrypt, cbcEncrypt } from "./cbc_mode.ts";

/** Camellia's block size in bytes (RFC 3713 section 1.1). */
const BLOCK = 16;

/**
 * RFC 3713 section 2.4.4: SBOX1, in the RFC's decimal layout (row = high
 * nibble of the input, column = low nibble). SBOX1[0x3d] is 86, as the RFC
 * notes. SBOX2..4 are derived from it below.
 */
// deno-fmt-ignore
const SBOX1 = Uint8Array.of(
  112, 130,  44, 236, 179,  39, 192, 229, 228, 133,  87,  53, 234,  12, 174,  65,
   35, 239, 107, 147,  69,  25, 165,  33, 237,  14,  79,  78,  29, 101, 146, 189,
  134, 184, 175, 143, 124, 235,  31, 206,  62,  48, 220,  95,  94, 197,  11,  26,
  166, 225,  57, 202, 213,  71,  93,  61, 217,   1,  90, 214,  81,  86, 108,  77,
  139,  13, 154, 102, 251, 204, 176,  45, 116,  18,  43,  32, 240, 177, 132, 153,
  223,  76, 203, 194,  52, 126, 118,   5, 109, 183, 169,  49, 209,  23,   4, 215,
   20,  88,  58,  97, 222,  27,  17,  28,  50,  15, 156,  22,  83,  24, 242,  34,
  254,  68, 207, 178, 195, 181, 122, 145,  36,   8, 232, 168,  96, 252, 105,  80,
  170, 208, 160, 125, 161, 137,  98, 151,  84,  91,  30, 149, 224, 255, 100, 210,
   16, 196,   0,  72, 163, 247, 117, 219, 138,   3, 230, 218,   9,  63, 221, 148,
  135,  92, 131,   2, 205,  74, 144,  51, 115, 103, 246, 243, 157, 127, 191, 226,
   82, 155, 216,  38, 200,  55, 198,  59, 129, 150, 111,  75,  19, 190,  99,  46,
  233, 121, 167, 140, 159, 110, 188, 142,  41, 245, 249, 182,  47, 253, 180,  89,
  120, 152,   6, 106, 231,  70, 113, 186, 212,  37, 171,  66, 136, 162, 141, 250,
  114,   7, 185,  85, 248, 238, 172,  10,  54,  73,  42, 104,  60,  56, 241, 164,
   64,  40, 211, 123, 187, 201,  67, 193,  21, 227, 173, 244, 119, 199, 128, 158,
);

/** RFC 3713 section 2.2: Sigma1..Sigma6, each as its high then its low 32-bit word. */
// deno-fmt-ignore
const SIGMA = Uint32Array.of(
  0xa09e667f, 0x3bcc908b, // Sigma1
  0xb67ae858, 0x4caa73b2, // Sigma2
  0xc6ef372f, 0xe94f82be, // Sigma3
  0x54ff53a5, 0xf1d36f1c, // Sigma4
  0x10e527fa, 0xde682d1d, // Sigma5
  0xb05688c2, 0xb3e6c1fd, // Sigma6
);

/** `x <<< n` on a byte. */
const rotl8 = (x: number, n: number): number => ((x << n) | (x >>> (8 - n))) & 0xff;

/*
 * The F-function on 32-bit words (RFC 3713 section 2.4.1).
 *
 * F splits its 64-bit input into bytes t1..t8, passes them through
 * SBOX1, 2, 3, 4, 2, 3, 4, 1 and mixes them (P-function) into y1..y8. Reading
 * the P-function's equations column by column, each S-box output lands in
 * these output bytes (1 = present), high word y1..y4 | low word y5..y8:
 *
 *   t1: 1110 | 1001    t5: 0111 | 0111
 *   t2: 0111 | 1100    t6: 1011 | 1011
 *   t3: 1011 | 0110    t7: 1101 | 1101
 *   t4: 1101 | 0011    t8: 1110 | 1110
 *
 * With one table per S-box that spreads its output over the pattern it has in
 * the high word (SP1110 = SBOX1 in bytes 1, 2, 3; SP0222 = SBOX2 in bytes
 * 2, 3, 4; SP3033 = SBOX3 in bytes 1, 3, 4; SP4404 = SBOX4 in bytes 1, 2, 4):
 *
 *   A = SP1110[t1] ^ SP0222[t2] ^ SP3033[t3] ^ SP4404[t4]   (t1..t4, high word)
 *   B = SP0222[t5] ^ SP3033[t6] ^ SP4404[t7] ^ SP1110[t8]   (t5..t8, both words)
 *
 * Let X be the word s1(t1) s2(t2) s3(t3) s4(t4) and bcast(X) the word with
 * the XOR of X's four bytes in every byte. Then A = bcast(X) ^ (X <<< 8), and
 * the low-word patterns of t1..t4 add up to X ^ (X <<< 8), which is
 * A ^ (A >>> 8) (both rotations by 8 bits). So
 *
 *   high = A ^ B,   low = A ^ (A >>> 8) ^ B.
 */
const SP1110 = new Uint32Array(256);
const SP0222 = new Uint32Array(256);
const SP3033 = new Uint32Array(256);
const SP4404 = new Uint32Array(256);
for (let x = 0; x < 256; x++) {
  const s1 = SBOX1[x];
  const s2 = rotl8(s1, 1); // SBOX2[x] = SBOX1[x] <<< 1
  const s3 = rotl8(s1, 7); // SBOX3[x] = SBOX1[x] <<< 7
  const s4 = SBOX1[rotl8(x, 1)]; // SBOX4[x] = SBOX1[x <<< 1]
  SP1110[x] = s1 * 0x01010100;
  SP0222[x] = s2 * 0x00010101;
  SP3033[x] = s3 * 0x01000101;
  SP4404[x] = s4 * 0x01010001;
}

/**
 * F(x, k) of RFC 3713 section 2.4.1 on 64-bit values given as (high, low)
 * words; writes F's high and low words to `out[0]` and `out[1]`. Used by the
 * key schedule; the block routine has the same code inlined.
 */
function feistel(xh: number, xl: number, kh: number, kl: number, out: Uint32Array): void {
  xh ^= kh;
  xl ^= kl;
  const a = SP1110[xh >>> 24] ^ SP0222[(xh >>> 16) & 0xff] ^ SP3033[(xh >>> 8) & 0xff] ^
    SP4404[xh & 0xff];
  const b = SP0222[xl >>> 24] ^ SP3033[(xl >>> 16) & 0xff] ^ SP4404[(xl >>> 8) & 0xff] ^
    SP1110[xl & 0xff];
  out[0] = a ^ b;
  out[1] = a ^ ((a >>> 8) | (a << 24)) ^ b;
}

/** Which 128-bit key-schedule variable a subkey is cut from (RFC 3713 section 2.2). */
type Var = "KL" | "KR" | "KA" | "KB";
/** One 64-bit subkey: `(var <<< rot) >> 64` when `half` is 0, `& MASK64` when 1. */
type Cut = readonly [Var, number, 0 | 1];

/**
 * RFC 3713 section 2.2, the subkeys for a 128-bit key in the order the RFC
 * lists them, which is also the order encryption uses them: kw1, kw2,
 * k1..k6, ke1, ke2, k7..k12, ke3, ke4, k13..k18, kw3, kw4.
 */
// deno-fmt-ignore
const CUTS_128: readonly Cut[] = [
  ["KL", 0, 0], ["KL", 0, 1], //      kw1, kw2
  ["KA", 0, 0], ["KA", 0, 1], //      k1, k2
  ["KL", 15, 0], ["KL", 15, 1], //    k3, k4
  ["KA", 15, 0], ["KA", 15, 1], //    k5, k6
  ["KA", 30, 0], ["KA", 30, 1], //    ke1, ke2
  ["KL", 45, 0], ["KL", 45, 1], //    k7, k8
  ["KA", 45, 0], ["KL", 60, 1], //    k9, k10 (the RFC's mix of KA and KL)
  ["KA", 60, 0], ["KA", 60, 1], //    k11, k12
  ["KL", 77, 0], ["KL", 77, 1], //    ke3, ke4
  ["KL", 94, 0], ["KL", 94, 1], //    k13, k14
  ["KA", 94, 0], ["KA", 94, 1], //    k15, k16
  ["KL", 111, 0], ["KL", 111, 1], //  k17, k18
  ["KA", 111, 0], ["KA", 111, 1], //  kw3, kw4
];

/**
 * RFC 3713 section 2.2, the subkeys for 192- and 256-bit keys in encryption
 * order: kw1, kw2, k1..k6, ke1, ke2, k7..k12, ke3, ke4, k13..k18, ke5, ke6,
 * k19..k24, kw3, kw4.
 */
// deno-fmt-ignore
const CUTS_256: readonly Cut[] = [
  ["KL", 0, 0], ["KL", 0, 1], //      kw1, kw2
  ["KB", 0, 0], ["KB", 0, 1], //      k1, k2
  ["KR", 15, 0], ["KR", 15, 1], //    k3, k4
  ["KA", 15, 0], ["KA", 15, 1], //    k5, k6
  ["KR", 30, 0], ["KR", 30, 1], //    ke1, ke2
  ["KB", 30, 0], ["KB", 30, 1], //    k7, k8
  ["KL", 45, 0], ["KL", 45, 1], //    k9, k10
  ["KA", 45, 0], ["KA", 45, 1], //    k11, k12
  ["KL", 60, 0], ["KL", 60, 1], //    ke3, ke4
  ["KR", 60, 0], ["KR", 60, 1], //    k13, k14
  ["KB", 60, 0], ["KB", 60, 1], //    k15, k16
  ["KL", 77, 0], ["KL", 77, 1], //    k17, k18
  ["KA", 77, 0], ["KA", 77, 1], //    ke5, ke6
  ["KR", 94, 0], ["KR", 94, 1], //    k19, k20
  ["KA", 94, 0], ["KA", 94, 1], //    k21, k22
  ["KL", 111, 0], ["KL", 111, 1], //  k23, k24
  ["KB", 111, 0], ["KB", 111, 1], //  kw3, kw4
];

/** Big-endian 32-bit word at `b[o..o+4)`. */
function readWord(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/** Writes `w` big-endian to `b[o..o+4)`. */
function writeWord(b: Uint8Array, o: number, w: number): void {
  b[o] = w >>> 24;
  b[o + 1] = w >>> 16;
  b[o + 2] = w >>> 8;
  b[o + 3] = w;
}

/**
 * Writes half `half` (0 = high 64 bits, 1 = low) of `x <<< n` to `out[o]`,
 * `out[o + 1]`, where `x` is a 128-bit value as four big-endian words.
 */
function cut128(x: Uint32Array, n: number, half: 0 | 1, out: Uint32Array, o: number): void {
  const q = n >>> 5; // whole words rotated
  const r = n & 31; // remaining bits
  for (let j = 0; j < 2; j++) {
    const i = 2 * half + j;
    const hi = x[(i + q) & 3];
    const lo = x[(i + q + 1) & 3];
    out[o + j] = r === 0 ? hi : (hi << r) | (lo >>> (32 - r));
  }
}

/**
 * The key schedule (RFC 3713 section 2.2): derives KA (and KB for 192/256-bit
 * keys) and returns the subkeys as words in encryption order.
 */
function expandKey(key: Uint8Array): Uint32Array {
  const kl = new Uint32Array(4);
  const kr = new Uint32Array(4);
  for (let i = 0; i < 4; i++) kl[i] = readWord(key, 4 * i);
  if (key.length === 24) {
    // KR = the key's last 64 bits || their complement.
    kr[0] = readWord(key, 16);
    kr[1] = readWord(key, 20);
    kr[2] = ~kr[0];
    kr[3] = ~kr[1];
  } else if (key.length === 32) {
    for (let i = 0; i < 4; i++) kr[i] = readWord(key, 16 + 4 * i);
  }

  const f = new Uint32Array(2);
  // D1 || D2 = KL ^ KR, then four Feistel rounds (with KL folded in after two).
  let d1h = kl[0] ^ kr[0], d1l = kl[1] ^ kr[1];
  let d2h = kl[2] ^ kr[2], d2l = kl[3] ^ kr[3];
  feistel(d1h, d1l, SIGMA[0], SIGMA[1], f);
  d2h ^= f[0], d2l ^= f[1];
  feistel(d2h, d2l, SIGMA[2], SIGMA[3], f);
  d1h ^= f[0], d1l ^= f[1];
  d1h ^= kl[0], d1l ^= kl[1];
  d2h ^= kl[2], d2l ^= kl[3];
  feistel(d1h, d1l, SIGMA[4], SIGMA[5], f);
  d2h ^= f[0], d2l ^= f[1];
  feistel(d2h, d2l, SIGMA[6], SIGMA[7], f);
  d1h ^= f[0], d1l ^= f[1];
  const ka = Uint32Array.of(d1h, d1l, d2h, d2l);
  // KB: two more rounds over KA ^ KR (used only by 192/256-bit keys).
  d1h = ka[0] ^ kr[0], d1l = ka[1] ^ kr[1];
  d2h = ka[2] ^ kr[2], d2l = ka[3] ^ kr[3];
  feistel(d1h, d1l, SIGMA[8], SIGMA[9], f);
  d2h ^= f[0], d2l ^= f[1];
  feistel(d2h, d2l, SIGMA[10], SIGMA[11], f);
  d1h ^= f[0], d1l ^= f[1];
  const kb = Uint32Array.of(d1h, d1l, d2h, d2l);

  const vars: Record<Var, Uint32Array> = { KL: kl, KR: kr, KA: ka, KB: kb };
  const cuts = key.length === 16 ? CUTS_128 : CUTS_256;
  const out = new Uint32Array(2 * cuts.length);
  cuts.forEach(([v, n, half], i) => cut128(vars[v], n, half, out, 2 * i));
  return out;
}

/**
 * The decryption schedule from the encryption one (RFC 3713 section 2.3.3):
 * the same sequence of 64-bit subkeys backwards (k1 <-> k18 or k24, ke1 <->
 * ke4 or ke6, ...), except that kw1, kw2 and kw3, kw4 keep their order.
 */
function reverseSchedule(enc: Uint32Array): Uint32Array {
  const n = enc.length / 2;
  const dec = new Uint32Array(enc.length);
  for (let i = 0; i < n; i++) {
    dec[2 * i] = enc[2 * (n - 1 - i)];
    dec[2 * i + 1] = enc[2 * (n - 1 - i) + 1];
  }
  // Reversing turned (kw3, kw4) into (kw4, kw3) and (kw1, kw2) into (kw2, kw1).
  for (const i of [0, n - 2]) {
    const h = dec[2 * i], l = dec[2 * i + 1];
    dec[2 * i] = dec[2 * i + 2];
    dec[2 * i + 1] = dec[2 * i + 3];
    dec[2 * i + 2] = h;
    dec[2 * i + 3] = l;
  }
  return dec;
}

/**
 * One block through the data randomizing part (RFC 3713 section 2.3.2) with
 * the subkeys `ks` in the order used: prewhitening, groups of six Feistel
 * rounds separated by FL/FL^-1, postwhitening, and the final swap of halves.
 * Reads all 16 bytes before writing, so `dst` may be `src`.
 */
function cryptBlock(
  ks: Uint32Array,
  src: Uint8Array,
  srcOff: number,
  dst: Uint8Array,
  dstOff: number,
): void {
  // D1 = (a, b), D2 = (c, d).
  let a = readWord(src, srcOff) ^ ks[0];
  let b = readWord(src, srcOff + 4) ^ ks[1];
  let c = readWord(src, srcOff + 8) ^ ks[2];
  let d = readWord(src, srcOff + 12) ^ ks[3];
  const last = ks.length - 4;
  let p = 4;
  for (;;) {
    for (let r = 0; r < 3; r++, p += 4) {
      // D2 ^= F(D1, k), then D1 ^= F(D2, k'), as in feistel().
      let xh = a ^ ks[p], xl = b ^ ks[p + 1];
      let u = SP1110[xh >>> 24] ^ SP0222[(xh >>> 16) & 0xff] ^ SP3033[(xh >>> 8) & 0xff] ^
        SP4404[xh & 0xff];
      let v = SP0222[xl >>> 24] ^ SP3033[(xl >>> 16) & 0xff] ^ SP4404[(xl >>> 8) & 0xff] ^
        SP1110[xl & 0xff];
      c ^= u ^ v;
      d ^= u ^ ((u >>> 8) | (u << 24)) ^ v;
      xh = c ^ ks[p + 2], xl = d ^ ks[p + 3];
      u = SP1110[xh >>> 24] ^ SP0222[(xh >>> 16) & 0xff] ^ SP3033[(xh >>> 8) & 0xff] ^
        SP4404[xh & 0xff];
      v = SP0222[xl >>> 24] ^ SP3033[(xl >>> 16) & 0xff] ^ SP4404[(xl >>> 8) & 0xff] ^
        SP1110[xl & 0xff];
      a ^= u ^ v;
      b ^= u ^ ((u >>> 8) | (u << 24)) ^ v;
    }
    if (p === last) break;
    // D1 = FL(D1, ke), D2 = FLINV(D2, ke') (section 2.4.2).
    let t = a & ks[p];
    b ^= (t << 1) | (t >>> 31);
    a ^= b | ks[p + 1];
    c ^= d | ks[p + 3];
    t = c & ks[p + 2];
    d ^= (t << 1) | (t >>> 31);
    p += 4;
  }
  // Postwhitening; the output is D2 || D1.
  writeWord(dst, dstOff, c ^ ks[p]);
  writeWord(dst, dstOff + 4, d ^ ks[p + 1]);
  writeWord(dst, dstOff + 8, a ^ ks[p + 2]);
  writeWord(dst, dstOff + 12, b ^ ks[p + 3]);
}

/** Throws unless `b[off..off+16)` is a whole block inside `b`. */
function checkBlock(what: string, b: Uint8Array, off: number): void {
  if (!Number.isInteger(off) || off < 0 || off + BLOCK > b.length) {
    throw new CryptoError(
      `Camellia: ${what} offset ${off} does not leave a 16-byte block in ${b.length} bytes`,
    );
  }
}

/**
 * A Camellia key (RFC 3713): 128, 192 or 256 bits, with its encryption and
 * decryption subkeys computed once at construction. Raw 16-byte blocks only;
 * use {@link camelliaCbcEncrypt} and friends for modes.
 *
 * @example
 * ```ts
 * import { fromHex, toHex } from "../wire/bytes.ts";
 * const key = new CamelliaKey(fromHex("0123456789abcdeffedcba9876543210"));
 * const block = fromHex("0123456789abcdeffedcba9876543210");
 * key.encryptBlock(block, 0, block, 0); // in place
 * toHex(block); // "67673138549669730857065648eabe43" (RFC 3713 Appendix A)
 * ```
 */
export class CamelliaKey {
  /** Key length in bytes: 16, 24 or 32. */
  readonly keyLength: number;
  readonly #enc: Uint32Array;
  readonly #dec: Uint32Array;

  /** Throws {@link CryptoError} unless `key` is 16, 24 or 32 bytes long. */
  constructor(key: Uint8Array) {
    if (key.length !== 16 && key.length !== 24 && key.length !== 32) {
      throw new CryptoError(
        `Camellia: key must be 16, 24 or 32 bytes (128, 192 or 256 bits), got ${key.length}`,
      );
    }
    this.keyLength = key.length;
    this.#enc = expandKey(key);
    this.#dec = reverseSchedule(this.#enc);
  }

  /**
   * Encrypts the block `src[srcOff..srcOff+16)` into `dst[dstOff..dstOff+16)`;
   * the two may be the same bytes. Throws {@link CryptoError} when either
   * range is not inside its array.
   */
  encryptBlock(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number): void {
    checkBlock("source", src, srcOff);
    checkBlock("destination", dst, dstOff);
    cryptBlock(this.#enc, src, srcOff, dst, dstOff);
  }

  /** The inverse of {@link CamelliaKey.encryptBlock}, with the same arguments and checks. */
  decryptBlock(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number): void {
    checkBlock("source", src, srcOff);
    checkBlock("destination", dst, dstOff);
    cryptBlock(this.#dec, src, srcOff, dst, dstOff);
  }
}

/**
 * Camellia-CBC encryption without padding (as ESP uses it, RFC 4312): returns
 * a new array the length of `data`. Throws {@link CryptoError} unless `iv` is
 * 16 bytes and `data.length` is a multiple of 16.
 *
 * @example
 * ```ts
 * const key = new CamelliaKey(crypto.getRandomValues(new Uint8Array(32)));
 * const iv = crypto.getRandomValues(new Uint8Array(16));
 * const ct = camelliaCbcEncrypt(key, iv, new Uint8Array(48));
 * camelliaCbcDecrypt(key, iv, ct); // 48 zero bytes
 * ```
 */
export function camelliaCbcEncrypt(
  key: CamelliaKey,
  iv: Uint8Array,
  data: Uint8Array,
): Uint8Array {
  return cbcEncrypt("Camellia-CBC", key, BLOCK, iv, data);
}

/**
 * Camellia-CBC decryption without padding: the inverse of
 * {@link camelliaCbcEncrypt}, with the same checks. Returns a new array.
 *
 * @example
 * ```ts
 * const key = new CamelliaKey(new Uint8Array(24));
 * const iv = new Uint8Array(16);
 * const ct = camelliaCbcEncrypt(key, iv, new TextEncoder().encode("sixteen byte msg"));
 * new TextDecoder().decode(camelliaCbcDecrypt(key, iv, ct)); // "sixteen byte msg"
 * ```
 */
export function camelliaCbcDecrypt(
  key: CamelliaKey,
  iv: Uint8Array,
  data: Uint8Array,
): Uint8Array {
  return cbcDecrypt("Camellia-CBC", key, BLOCK, iv, data);
}

/**
 * Camellia in counter mode (RFC 5528, with RFC 3686's counter block): XORs
 * `data` (any length) with the keystream E(K, cb), E(K, cb + 1), ... where
 * only the last 32 bits of the 16-byte `counterBlock` count, big-endian. For
 * ESP the caller builds `counterBlock` as nonce (4) || IV (8) || 00000001.
 * Encryption and decryption are the same call; returns a new array and leaves
 * `counterBlock` untouched.
 *
 * Throws {@link CryptoError} when `counterBlock` is not 16 bytes, or when
 * `data` needs more blocks than the 32-bit counter has left (it would wrap).
 *
 * @example
 * ```ts
 * import { fromHex, toHex } from "../wire/bytes.ts";
 * const key = new CamelliaKey(fromHex("ae6852f8121067cc4bf7a5765577f39e"));
 * const cb = fromHex("00000030" + "0000000000000000" + "00000001");
 * const ct = camelliaCtrXor(key, cb, new TextEncoder().encode("Single block msg"));
 * toHex(ct); // "d09dc29a8214619a20877c76db1f0b3f" (RFC 5528 section 4.1, #1)
 * ```
 */
export function camelliaCtrXor(
  key: CamelliaKey,
  counterBlock: Uint8Array,
  data: Uint8Array,
): Uint8Array {
  if (counterBlock.length !== BLOCK) {
    throw new CryptoError(
      `Camellia-CTR: counter block must be 16 bytes, got ${counterBlock.length}`,
    );
  }
  const blocks = Math.ceil(data.length / BLOCK);
  const first = readWord(counterBlock, 12);
  if (blocks > 0 && first + blocks - 1 > 0xffffffff) {
    throw new CryptoError(
      `Camellia-CTR: ${blocks} blocks from counter ${first} would wrap the 32-bit block counter`,
    );
  }
  const cb = counterBlock.slice();
  const stream = new Uint8Array(BLOCK);
  const out = new Uint8Array(data.length);
  for (let o = 0, n = first; o < data.length; o += BLOCK, n++) {
    writeWord(cb, 12, n);
    key.encryptBlock(cb, 0, stream, 0);
    const end = Math.min(BLOCK, data.length - o);
    for (let i = 0; i < end; i++) out[o + i] = data[o + i] ^ stream[i];
  }
  return out;
}
