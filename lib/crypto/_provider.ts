/**
 * Private to lib/crypto: what a software backend (noble, node:crypto) offers,
 * so AES-XCBC/CMAC and the factories can be written once over it.
 *
 * @module
 */
import type { Aead, Backend, BlockCipher, Mac } from "./types.ts";

/** Hash functions the HMACs are built on. */
export type HashName = "sha1" | "sha256" | "sha384" | "sha512";

/** The per-backend building blocks. Inputs are validated by primitives.ts. */
export interface Provider {
  /** Which implementation this is. */
  readonly backend: Backend;
  /** Whether this backend implements AES with a key of `keyBytes` here. */
  supportsAesKey(keyBytes: number): boolean;
  /** AES-GCM keyed once. */
  aesGcm(key: Uint8Array, tagLength: number): Aead;
  /** ChaCha20-Poly1305 keyed once. */
  chacha20Poly1305(key: Uint8Array): Aead;
  /** Raw AES-CBC keyed once. */
  aesCbc(key: Uint8Array): BlockCipher;
  /** HMAC keyed once. */
  hmac(hash: HashName, key: Uint8Array): Mac;
}

/** Output lengths of the hashes in bytes. */
export const HASH_LENGTH: Readonly<Record<HashName, number>> = {
  sha1: 20,
  sha256: 32,
  sha384: 48,
  sha512: 64,
};

/** Concatenates MAC parts without copying when there is only one. */
export function joinParts(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
