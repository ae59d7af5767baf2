/**
 * The contracts every crypto backend implements (noble, node:crypto/WebCrypto,
 * and system libcrypto through FFI in `ffi/libcrypto.ts`). Keys are bound once
 * at construction ("one context per key"); per-call work is synchronous and
 * allocation-light so the ESP hot path can use them.
 *
 * All of these are pure from the caller's view: same inputs, same outputs.
 *
 * @module
 */

/** Which implementation backs a primitive (for logs and benchmarks). */
export type Backend = "libcrypto" | "node" | "noble";

/**
 * An AEAD keyed once (AES-GCM per RFC 4106/5282, ChaCha20-Poly1305 per RFC 7634).
 * `key` given to the factory excludes the salt; callers build the full nonce
 * (salt || explicit IV) themselves.
 */
export interface Aead {
  /** Which implementation backs it. */
  readonly backend: Backend;
  /** Length of the full nonce in bytes (12 for GCM and ChaCha20-Poly1305). */
  readonly nonceLength: number;
  /** Length of the authentication tag in bytes (8, 12 or 16). */
  readonly tagLength: number;
  /** Returns ciphertext || tag. */
  seal(nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array;
  /**
   * Returns the plaintext, or `null` when the tag does not verify.
   * `sealed` is ciphertext || tag. Never throws on a bad tag.
   */
  open(nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | null;
}

/**
 * AES-GMAC keyed once (RFC 4543, NIST SP 800-38D): AES-GCM over an empty
 * plaintext, so the tag authenticates the AAD only and nothing is
 * encrypted. ESP uses a 12-byte nonce (4-byte salt || 8-byte IV) and the
 * whole 16-byte tag (RFC 4543 section 3).
 */
export interface Gmac {
  /** Which implementation backs it. */
  readonly backend: Backend;
  /** Length of the nonce in bytes (12). */
  readonly nonceLength: number;
  /** Length of the tag in bytes (16). */
  readonly tagLength: number;
  /** The tag over the concatenation of `aad` under `nonce`. */
  compute(nonce: Uint8Array, ...aad: Uint8Array[]): Uint8Array;
}

/**
 * A raw block cipher mode without padding, keyed once: AES-CBC (block size
 * 16, 16-byte IV) or AES-CTR (block size 1; the "IV" is the 16-byte initial
 * counter block, and encrypt and decrypt are the same keystream XOR).
 */
export interface BlockCipher {
  /** Which implementation backs it. */
  readonly backend: Backend;
  /** Cipher block size in bytes. */
  readonly blockSize: number;
  /** IV length in bytes. */
  readonly ivLength: number;
  /** `data.length` must be a multiple of `blockSize`. */
  encrypt(iv: Uint8Array, data: Uint8Array): Uint8Array;
  /** `data.length` must be a multiple of `blockSize`. */
  decrypt(iv: Uint8Array, data: Uint8Array): Uint8Array;
}

/** A MAC keyed once (HMAC-*, AES-XCBC-MAC, AES-CMAC); output is untruncated. */
export interface Mac {
  /** Which implementation backs it. */
  readonly backend: Backend;
  /** Full output length in bytes (e.g. 32 for HMAC-SHA-256). */
  readonly outputLength: number;
  /** MAC over the concatenation of `parts` (avoids copying on the hot path). */
  compute(...parts: Uint8Array[]): Uint8Array;
}

/**
 * An IKEv2 pseudo-random function (RFC 7296 section 2.13). Unlike {@link Mac}
 * it takes the key per call, because prf(Ni | Nr, g^ir) and prf+ key it freshly.
 */
export interface Prf {
  /** Output length in bytes. */
  readonly outputLength: number;
  /** Preferred key length in bytes (e.g. 16 for AES-XCBC/CMAC PRFs). */
  readonly keyLength: number;
  /** prf(key, data). */
  compute(key: Uint8Array, data: Uint8Array): Uint8Array;
}

/** One side of an ephemeral key exchange (MODP, ECP, Curve25519/448). */
export interface KeyExchange {
  /** IANA Transform Type 4 id (14, 15, 16, 19, 20, 21, 31, 32). */
  readonly group: number;
  /** Our public value, encoded as in the IKEv2 KE payload. */
  readonly publicKey: Uint8Array;
  /**
   * The shared secret g^ir as IKEv2 uses it (RFC 7296, 5903, 8031).
   * Throws {@link CryptoError} on an invalid peer value.
   */
  computeSharedSecret(peerPublic: Uint8Array): Uint8Array;
}

/**
 * Optional allocation-free entry points of an {@link Aead} (the libcrypto FFI
 * backend has them; the ESP hot path uses them when present).
 */
export interface AeadInPlace extends Aead {
  /** Seals `buf[start..end)` in place, tag to `buf[end..end+tagLength)`. */
  sealInPlace(
    nonce: Uint8Array,
    aad: Uint8Array,
    buf: Uint8Array,
    start: number,
    end: number,
  ): void;
  /** Opens `buf[start..end)` (ciphertext || tag) in place; false on a bad tag. */
  openInPlace(
    nonce: Uint8Array,
    aad: Uint8Array,
    buf: Uint8Array,
    start: number,
    end: number,
  ): boolean;
}

/** Optional allocation-free entry points of a {@link BlockCipher}; `out` may alias `data`. */
export interface BlockCipherInPlace extends BlockCipher {
  encryptTo(iv: Uint8Array, data: Uint8Array, out: Uint8Array): void;
  decryptTo(iv: Uint8Array, data: Uint8Array, out: Uint8Array): void;
}

/** Optional allocation-free entry point of a {@link Mac}: the MAC of `parts` into `out`. */
export interface MacInPlace extends Mac {
  computeTo(out: Uint8Array, parts: readonly Uint8Array[]): void;
}

/**
 * Optional offset-based entry points of a {@link BlockCipher} (the libcrypto
 * backend has them): no typed-array view is made per call.
 */
export interface BlockCipherRange extends BlockCipher {
  /** Encrypts `buf[start..end)` in place under the IV at `iv[ivOffset..ivOffset+ivLength)`. */
  encryptRange(iv: Uint8Array, ivOffset: number, buf: Uint8Array, start: number, end: number): void;
  /** Decrypts `buf[start..end)` in place under the IV at `iv[ivOffset..ivOffset+ivLength)`. */
  decryptRange(iv: Uint8Array, ivOffset: number, buf: Uint8Array, start: number, end: number): void;
}

/** Optional offset-based entry point of a {@link Mac} (the libcrypto backend has it). */
export interface MacRange extends Mac {
  /** The MAC of `buf[start..end)` followed by `tail` (may be empty), into `out[0..outputLength)`. */
  computeRange(
    out: Uint8Array,
    buf: Uint8Array,
    start: number,
    end: number,
    tail: Uint8Array,
  ): void;
}

/**
 * Optional offset-based entry point of a {@link Gmac} (the libcrypto backend
 * has it): no concatenation and no typed-array view per call.
 */
export interface GmacRange extends Gmac {
  /**
   * The tag over `head` || `buf[start..end)` under `nonce`, into
   * `out[outOffset..outOffset+tagLength)` (which may follow `end` in `buf`).
   */
  computeRange(
    out: Uint8Array,
    outOffset: number,
    nonce: Uint8Array,
    head: Uint8Array,
    buf: Uint8Array,
    start: number,
    end: number,
  ): void;
}

/** A source of random bytes: `rng(n)` returns n random bytes (injected in tests). */
export type Rng = (length: number) => Uint8Array;

/** A crypto failure a user can act on (bad key length, invalid peer value). */
export class CryptoError extends Error {
  /** Always "CryptoError". */
  override readonly name = "CryptoError";
}
