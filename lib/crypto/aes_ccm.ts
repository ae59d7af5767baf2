/**
 * AES-CCM (NIST SP 800-38C, RFC 3610) as pure functions over two AES
 * building blocks a backend already has: a CBC-MAC (AES-CBC with a zero IV,
 * last block) and AES-CTR (128-bit big-endian counter). Generic in the nonce
 * length (7..13 bytes, so L = 15 - nonce length is 8..2) and the tag length
 * (4, 6, .., 16 bytes). IPsec uses an 11-byte nonce (3-byte salt || 8-byte
 * IV, L = 4) and 8/12/16-byte ICVs (RFC 4309 for ESP, RFC 5282 for IKEv2).
 *
 * ```
 * B0     = flags || N || Q           flags = 64*Adata + 8*((t-2)/2) + (q-1)
 * B1..   = [a]_2 or ff fe [a]_4 or ff ff [a]_8 || A, zero-padded to 16
 *          || P, zero-padded to 16
 * T      = MSB_t(CBC-MAC(B0 || B1 ..))
 * Ctr_i  = (q-1) || N || [i]_q       S_i = E(K, Ctr_i)
 * C      = P xor MSB_|P|(S_1 || S_2 ..) || T xor MSB_t(S_0)
 * ```
 *
 * The counter of a message never leaves its q-byte field (a message has at
 * most 2^(8q) - 1 bytes, fewer than 2^(8q) blocks), so a full 128-bit CTR
 * increment gives the same stream as CCM's q-byte one.
 *
 * @module
 */
import { constantTimeEqual } from "../wire/bytes.ts";
import { CryptoError } from "./types.ts";
import type { Aead, Backend } from "./types.ts";

/** The two AES operations CCM is built from, keyed once by the backend. */
export interface CcmBlockOps {
  /** Which implementation backs them. */
  readonly backend: Backend;
  /** The last 16-byte block of AES-CBC over `data` (a multiple of 16 bytes) with a zero IV. */
  cbcMac(data: Uint8Array): Uint8Array;
  /** `data` XOR the AES-CTR keystream from counter block `counter` (16 bytes). */
  ctr(counter: Uint8Array, data: Uint8Array): Uint8Array;
}

function checkParams(nonceLength: number, tagLength: number): void {
  if (!Number.isInteger(nonceLength) || nonceLength < 7 || nonceLength > 13) {
    throw new CryptoError(`AES-CCM nonce must be 7..13 bytes, got ${nonceLength}`);
  }
  if (!Number.isInteger(tagLength) || tagLength < 4 || tagLength > 16 || tagLength % 2) {
    throw new CryptoError(`AES-CCM tag must be 4, 6, .., 16 bytes, got ${tagLength}`);
  }
}

/** The encoded AAD length prefix of SP 800-38C A.2.2 (0 bytes when there is no AAD). */
function aadPrefixLength(a: number): number {
  if (a === 0) return 0;
  return a < 0xff00 ? 2 : a <= 0xffffffff ? 6 : 10;
}

/** CBC-MAC of B0 || encoded AAD || payload, the untruncated 16-byte value. */
function ccmMac(
  ops: CcmBlockOps,
  nonce: Uint8Array,
  tagLength: number,
  aad: Uint8Array,
  payload: Uint8Array,
): Uint8Array {
  const q = 15 - nonce.length;
  const a = aad.length;
  const pre = aadPrefixLength(a);
  const aadBlocks = Math.ceil((pre + a) / 16) * 16;
  const buf = new Uint8Array(16 + aadBlocks + Math.ceil(payload.length / 16) * 16);
  buf[0] = (a > 0 ? 0x40 : 0) | (((tagLength - 2) / 2) << 3) | (q - 1);
  buf.set(nonce, 1);
  let len = payload.length;
  for (let i = 15; i > nonce.length; i--) {
    buf[i] = len & 0xff;
    len = Math.floor(len / 256);
  }
  let o = 16;
  if (pre === 2) {
    buf[o++] = a >>> 8;
    buf[o++] = a & 0xff;
  } else if (pre === 6) {
    buf[o++] = 0xff;
    buf[o++] = 0xfe;
    new DataView(buf.buffer).setUint32(o, a);
    o += 4;
  } else if (pre === 10) {
    buf[o++] = 0xff;
    buf[o++] = 0xff;
    new DataView(buf.buffer).setBigUint64(o, BigInt(a));
    o += 8;
  }
  buf.set(aad, o);
  buf.set(payload, 16 + aadBlocks);
  return ops.cbcMac(buf);
}

function counterBlock(nonce: Uint8Array): Uint8Array {
  const ctr = new Uint8Array(16);
  ctr[0] = 15 - nonce.length - 1;
  ctr.set(nonce, 1);
  return ctr;
}

function checkLength(nonce: Uint8Array, n: number): void {
  const q = 15 - nonce.length;
  if (q < 8 && n >= 2 ** (8 * q)) {
    throw new CryptoError(`AES-CCM with a ${nonce.length}-byte nonce takes < 2^${8 * q} bytes`);
  }
}

/**
 * CCM generation-encryption (SP 800-38C section 6.1): ciphertext || tag.
 *
 * @example
 * ```ts
 * const sealed = ccmSeal(ops, nonce11, plaintext, aad, 16);
 * ```
 */
export function ccmSeal(
  ops: CcmBlockOps,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
  tagLength: number,
): Uint8Array {
  checkParams(nonce.length, tagLength);
  checkLength(nonce, plaintext.length);
  const t = ccmMac(ops, nonce, tagLength, aad, plaintext);
  // CTR from Ctr_0 over T || P: S_0 encrypts the tag, S_1.. the payload.
  const buf = new Uint8Array(16 + plaintext.length);
  buf.set(t, 0);
  buf.set(plaintext, 16);
  const x = ops.ctr(counterBlock(nonce), buf);
  const out = new Uint8Array(plaintext.length + tagLength);
  out.set(x.subarray(16), 0);
  out.set(x.subarray(0, tagLength), plaintext.length);
  return out;
}

/**
 * CCM decryption-verification (SP 800-38C section 6.2): the plaintext, or
 * `null` when the tag does not verify (no unauthenticated byte is returned).
 *
 * @example
 * ```ts
 * ccmOpen(ops, nonce11, sealed, aad, 16); // plaintext or null
 * ```
 */
export function ccmOpen(
  ops: CcmBlockOps,
  nonce: Uint8Array,
  sealed: Uint8Array,
  aad: Uint8Array,
  tagLength: number,
): Uint8Array | null {
  checkParams(nonce.length, tagLength);
  const ctLen = sealed.length - tagLength;
  if (ctLen < 0) return null;
  checkLength(nonce, ctLen);
  const buf = new Uint8Array(16 + ctLen);
  buf.set(sealed.subarray(ctLen), 0);
  buf.set(sealed.subarray(0, ctLen), 16);
  const x = ops.ctr(counterBlock(nonce), buf);
  const pt = x.slice(16);
  const t = ccmMac(ops, nonce, tagLength, aad, pt);
  if (constantTimeEqual(t.subarray(0, tagLength), x.subarray(0, tagLength))) return pt;
  pt.fill(0);
  return null;
}

/**
 * An {@link Aead} for AES-CCM over a backend's CBC-MAC and CTR operations.
 * IPsec callers use `nonceLength` 11 (RFC 4309, RFC 5282).
 *
 * @example
 * ```ts
 * const aead = createCcmAead(ops, 11, 16);
 * aead.open(nonce11, aead.seal(nonce11, pt, aad), aad); // pt
 * ```
 */
export function createCcmAead(ops: CcmBlockOps, nonceLength: number, tagLength: number): Aead {
  checkParams(nonceLength, tagLength);
  return {
    backend: ops.backend,
    nonceLength,
    tagLength,
    seal: (nonce, plaintext, aad) => ccmSeal(ops, nonce, plaintext, aad, tagLength),
    open: (nonce, sealed, aad) => ccmOpen(ops, nonce, sealed, aad, tagLength),
  };
}
