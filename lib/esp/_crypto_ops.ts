/**
 * Private helpers: use a backend's in-place entry points (`sealInPlace`,
 * `openInPlace`, `encryptTo`, `decryptTo`, `computeTo`, as `ffi/libcrypto.ts`
 * provides) when present, else the plain contract of `lib/crypto/types.ts`
 * plus one copy. Detected once per SA, never per packet.
 *
 * @module
 */

import type {
  Aead,
  AeadInPlace,
  BlockCipher,
  BlockCipherInPlace as CipherInPlace,
  BlockCipherRange,
  Gmac,
  GmacRange,
  Mac,
  MacInPlace,
  MacRange,
} from "../crypto/types.ts";

/** Seals `buf[start..end)` in place; the tag lands at `buf[end..end+tagLength)`. */
export type SealInPlace = (
  nonce: Uint8Array,
  aad: Uint8Array,
  buf: Uint8Array,
  start: number,
  end: number,
) => void;
/** Opens `buf[start..end)` (ciphertext || tag) in place; false on a bad tag. */
export type OpenInPlace = (
  nonce: Uint8Array,
  aad: Uint8Array,
  buf: Uint8Array,
  start: number,
  end: number,
) => boolean;

/** In-place AEAD operations for `aead`. */
export function aeadOps(aead: Aead): { seal: SealInPlace; open: OpenInPlace } {
  const ip = aead as Partial<AeadInPlace>;
  if (typeof ip.sealInPlace === "function" && typeof ip.openInPlace === "function") {
    const a = aead as AeadInPlace;
    return {
      seal: (n, aad, buf, s, e) => a.sealInPlace(n, aad, buf, s, e),
      open: (n, aad, buf, s, e) => a.openInPlace(n, aad, buf, s, e),
    };
  }
  return {
    seal: (n, aad, buf, s, e) => buf.set(aead.seal(n, buf.subarray(s, e), aad), s),
    open: (n, aad, buf, s, e) => {
      const pt = aead.open(n, buf.subarray(s, e), aad);
      if (pt === null) return false;
      buf.set(pt, s);
      return true;
    },
  };
}

/** In-place CBC over `buf[start..end)`. */
export function cipherOps(c: BlockCipher): {
  encrypt: (iv: Uint8Array, buf: Uint8Array, start: number, end: number) => void;
  decrypt: (iv: Uint8Array, buf: Uint8Array, start: number, end: number) => void;
} {
  const ip = c as Partial<CipherInPlace>;
  if (typeof ip.encryptTo === "function" && typeof ip.decryptTo === "function") {
    const x = c as CipherInPlace;
    return {
      encrypt: (iv, b, s, e) => {
        const v = b.subarray(s, e);
        x.encryptTo(iv, v, v);
      },
      decrypt: (iv, b, s, e) => {
        const v = b.subarray(s, e);
        x.decryptTo(iv, v, v);
      },
    };
  }
  return {
    encrypt: (iv, b, s, e) => b.set(c.encrypt(iv, b.subarray(s, e)), s),
    decrypt: (iv, b, s, e) => b.set(c.decrypt(iv, b.subarray(s, e)), s),
  };
}

/** CBC over `buf[start..end)` in place, the IV at `ivBuf[ivOff..)` (usually the packet itself). */
export type CipherRangeOp = (
  ivBuf: Uint8Array,
  ivOff: number,
  buf: Uint8Array,
  start: number,
  end: number,
) => void;

/** Offset-based CBC for `c`: its own range calls when present (no views), else views + {@linkcode cipherOps}. */
export function cipherRangeOps(c: BlockCipher): { encrypt: CipherRangeOp; decrypt: CipherRangeOp } {
  const r = c as Partial<BlockCipherRange>;
  if (typeof r.encryptRange === "function" && typeof r.decryptRange === "function") {
    const x = c as BlockCipherRange;
    return {
      encrypt: (iv, io, b, s, e) => x.encryptRange(iv, io, b, s, e),
      decrypt: (iv, io, b, s, e) => x.decryptRange(iv, io, b, s, e),
    };
  }
  const ops = cipherOps(c);
  const n = c.ivLength;
  return {
    encrypt: (iv, io, b, s, e) => ops.encrypt(iv.subarray(io, io + n), b, s, e),
    decrypt: (iv, io, b, s, e) => ops.decrypt(iv.subarray(io, io + n), b, s, e),
  };
}

/** The MAC of `buf[start..end)` then `tail` into `out`. */
export type MacRangeOp = (
  out: Uint8Array,
  buf: Uint8Array,
  start: number,
  end: number,
  tail: Uint8Array,
) => void;

/** Offset-based MAC for `m`: its own range call when present, else views + {@linkcode macOps}. */
export function macRangeOps(m: Mac): MacRangeOp {
  const r = m as Partial<MacRange>;
  if (typeof r.computeRange === "function") {
    const x = m as MacRange;
    return (out, b, s, e, tail) => x.computeRange(out, b, s, e, tail);
  }
  const to = macOps(m);
  const parts: Uint8Array[] = [];
  return (out, b, s, e, tail) => {
    parts.length = 0;
    parts.push(b.subarray(s, e));
    if (tail.length > 0) parts.push(tail);
    to(out, parts);
  };
}

/** MAC into a preallocated `out` (full output length). */
export function macOps(m: Mac): (out: Uint8Array, parts: readonly Uint8Array[]) => void {
  const ip = m as Partial<MacInPlace>;
  if (typeof ip.computeTo === "function") {
    const x = m as MacInPlace;
    return (out, parts) => x.computeTo(out, parts);
  }
  return (out, parts) => out.set(m.compute(...parts));
}

/** The GMAC tag of `head` || `buf[start..end)` under `nonce`, into `out[outOff..outOff+16)`. */
export type GmacRangeOp = (
  out: Uint8Array,
  outOff: number,
  nonce: Uint8Array,
  head: Uint8Array,
  buf: Uint8Array,
  start: number,
  end: number,
) => void;

/** Offset-based GMAC for `g`: its own range call when present, else one view and `compute`. */
export function gmacRangeOps(g: Gmac): GmacRangeOp {
  const r = g as Partial<GmacRange>;
  if (typeof r.computeRange === "function") {
    const x = g as GmacRange;
    return (out, oo, n, head, b, s, e) => x.computeRange(out, oo, n, head, b, s, e);
  }
  return (out, oo, n, head, b, s, e) => out.set(g.compute(n, head, b.subarray(s, e)), oo);
}

/** Constant-time comparison of `a[0..n)` with `b[off..off+n)`. */
export function icvEqual(a: Uint8Array, b: Uint8Array, off: number, n: number): boolean {
  let d = 0;
  for (let i = 0; i < n; i++) d |= a[i] ^ b[off + i];
  return d === 0;
}

/** Writes a big-endian u32 at `b[o..o+4)`. */
export function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

/** Reads a big-endian u32 at `b[o..o+4)`. */
export function readU32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}
