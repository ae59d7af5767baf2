/**
 * Private helpers: use a backend's in-place entry points (`sealTo`,
 * `openTo`, `encryptTo`, `decryptTo`, `computeTo`, as `ffi/libcrypto.ts`
 * provides) when present, else the plain contract of `lib/crypto/types.ts`
 * plus one copy. Detected once per SA, never per packet.
 *
 * @module
 */

import type { Aead, BlockCipher, Mac } from "../crypto/types.ts";

interface AeadInPlace extends Aead {
  sealTo(nonce: Uint8Array, pt: Uint8Array, aad: Uint8Array, out: Uint8Array): void;
  openTo(nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array, out: Uint8Array): boolean;
}
interface CipherInPlace extends BlockCipher {
  encryptTo(iv: Uint8Array, data: Uint8Array, out: Uint8Array): void;
  decryptTo(iv: Uint8Array, data: Uint8Array, out: Uint8Array): void;
}
interface MacInPlace extends Mac {
  computeTo(out: Uint8Array, parts: readonly Uint8Array[]): void;
}

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
  if (typeof ip.sealTo === "function" && typeof ip.openTo === "function") {
    const a = aead as AeadInPlace;
    return {
      seal: (n, aad, buf, s, e) => a.sealTo(n, buf.subarray(s, e), aad, buf.subarray(s)),
      open: (n, aad, buf, s, e) => a.openTo(n, buf.subarray(s, e), aad, buf.subarray(s)),
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
      encrypt: (iv, b, s, e) => x.encryptTo(iv, b.subarray(s, e), b.subarray(s, e)),
      decrypt: (iv, b, s, e) => x.decryptTo(iv, b.subarray(s, e), b.subarray(s, e)),
    };
  }
  return {
    encrypt: (iv, b, s, e) => b.set(c.encrypt(iv, b.subarray(s, e)), s),
    decrypt: (iv, b, s, e) => b.set(c.decrypt(iv, b.subarray(s, e)), s),
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

/** Constant-time comparison of `a[0..n)` with `b[off..off+n)`. */
export function icvEqual(a: Uint8Array, b: Uint8Array, off: number, n: number): boolean {
  let d = 0;
  for (let i = 0; i < n; i++) d |= a[i] ^ b[off + i];
  return d === 0;
}
