/**
 * Private to lib/crypto: what a software backend (noble, node:crypto) offers,
 * so AES-XCBC/CMAC and the factories can be written once over it.
 *
 * @module
 */
import type { Aead, Backend, BlockCipher, Mac } from "./types.ts";
import type { CcmBlockOps } from "./aes_ccm.ts";

/** The AES modes a provider offers. */
export type AesMode = "gcm" | "cbc" | "ctr";

/** Hash functions the HMACs are built on. */
export type HashName = "sha1" | "sha256" | "sha384" | "sha512";

/** The per-backend building blocks. Inputs are validated by primitives.ts. */
export interface Provider {
  /** Which implementation this is. */
  readonly backend: Backend;
  /** Whether this backend implements AES (in `mode`, default any) with a key of `keyBytes` here. */
  supportsAesKey(keyBytes: number, mode?: AesMode): boolean;
  /** AES-GCM keyed once. */
  aesGcm(key: Uint8Array, tagLength: number): Aead;
  /** The AES-CBC-MAC and AES-CTR operations AES-CCM is built from (aes_ccm.ts), keyed once. */
  aesCcmOps(key: Uint8Array): CcmBlockOps;
  /** ChaCha20-Poly1305 keyed once. */
  chacha20Poly1305(key: Uint8Array): Aead;
  /** Raw AES-CBC keyed once. */
  aesCbc(key: Uint8Array): BlockCipher;
  /** AES-CTR keyed once: the "IV" is the 16-byte initial counter block, block size 1. */
  aesCtr(key: Uint8Array): BlockCipher;
  /** Raw 3DES-CBC (24-byte key, 8-byte blocks and IV) keyed once. */
  tripleDesCbc(key: Uint8Array): BlockCipher;
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

/** The elliptic-curve key exchange methods (IANA Transform Type 4 ids) both backends implement. */
export type EcdhGroup = 19 | 20 | 21 | 31 | 32;

/** Sizes of the ECDH groups in their IKEv2 encodings (RFC 5903, RFC 8031). */
export interface EcdhInfo {
  /** NIST prime curve (public value x || y) rather than Curve25519/448 (u). */
  readonly ecp: boolean;
  /** Private key bytes (scalar length, or the raw X25519/X448 key). */
  readonly privateLength: number;
  /** KE payload data bytes. */
  readonly publicLength: number;
  /** g^ir bytes. */
  readonly secretLength: number;
}

/** Per-group sizes; see {@link EcdhInfo}. */
export const ECDH_INFO: Readonly<Record<EcdhGroup, EcdhInfo>> = {
  19: { ecp: true, privateLength: 32, publicLength: 64, secretLength: 32 },
  20: { ecp: true, privateLength: 48, publicLength: 96, secretLength: 48 },
  21: { ecp: true, privateLength: 66, publicLength: 132, secretLength: 66 },
  31: { ecp: false, privateLength: 32, publicLength: 32, secretLength: 32 },
  32: { ecp: false, privateLength: 56, publicLength: 56, secretLength: 56 },
};

/** One ECDH private key bound once by a backend (node: a KeyObject). */
export interface EcdhKey {
  /** Our public value in IKEv2 encoding (x || y without 0x04, or the raw u-coordinate). */
  publicKey(): Uint8Array;
  /**
   * g^ir for an IKEv2-encoded, already validated peer value (the x
   * coordinate for ECP, RFC 5903 section 7). Throws when the backend refuses
   * it (e.g. an all-zero X25519 result).
   */
  derive(peer: Uint8Array): Uint8Array;
}
