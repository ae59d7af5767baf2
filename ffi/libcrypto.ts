/**
 * The system OpenSSL 3 `libcrypto.so.3` through `Deno.dlopen`: AES-GCM,
 * ChaCha20-Poly1305, AES-CBC and HMAC implementing the contracts of
 * `lib/crypto/types.ts`.
 *
 * Every symbol is synchronous (no `nonblocking`), so one ESP packet costs a
 * handful of FFI calls and no promise. Each primitive owns its EVP contexts:
 * the key schedule is set once at construction and only the IV is set per
 * call; scratch buffers (output length, tag) are preallocated. Contexts are
 * freed by {@linkcode LibcryptoHandle.free} or, failing that, by a
 * `FinalizationRegistry` when the object is collected.
 *
 * @example
 * ```ts
 * const lc = loadLibcrypto();
 * if (lc) {
 *   const gcm = lc.createAead("aes-gcm", new Uint8Array(16), 16);
 *   const sealed = gcm.seal(new Uint8Array(12), new Uint8Array(64), new Uint8Array(8));
 * }
 * ```
 *
 * @module
 */

import type { AeadInPlace, BlockCipher, Mac } from "../lib/crypto/types.ts";
import { CryptoError } from "../lib/crypto/types.ts";

const SYMBOLS = {
  OpenSSL_version_num: { parameters: [], result: "u64" },
  EVP_CIPHER_CTX_new: { parameters: [], result: "pointer" },
  EVP_CIPHER_CTX_free: { parameters: ["pointer"], result: "void" },
  EVP_CipherInit_ex: {
    parameters: ["pointer", "pointer", "pointer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  // Per-packet variants: a NULL must go to a "pointer" parameter, because a
  // null for a "buffer" parameter takes V8's slow FFI path (no fast call).
  EVP_CipherInit_iv: {
    name: "EVP_CipherInit_ex",
    parameters: ["pointer", "pointer", "pointer", "pointer", "buffer", "i32"],
    result: "i32",
  },
  EVP_EncryptUpdate_aad: {
    name: "EVP_EncryptUpdate",
    parameters: ["pointer", "pointer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  EVP_DecryptUpdate_aad: {
    name: "EVP_DecryptUpdate",
    parameters: ["pointer", "pointer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  HMAC_restart: {
    name: "HMAC_Init_ex",
    parameters: ["pointer", "pointer", "i32", "pointer", "pointer"],
    result: "i32",
  },
  EVP_CIPHER_CTX_ctrl: { parameters: ["pointer", "i32", "i32", "buffer"], result: "i32" },
  EVP_CIPHER_CTX_set_padding: { parameters: ["pointer", "i32"], result: "i32" },
  EVP_EncryptUpdate: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  EVP_EncryptFinal_ex: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  EVP_DecryptUpdate: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  EVP_DecryptFinal_ex: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  EVP_aes_128_gcm: { parameters: [], result: "pointer" },
  EVP_aes_192_gcm: { parameters: [], result: "pointer" },
  EVP_aes_256_gcm: { parameters: [], result: "pointer" },
  EVP_aes_128_cbc: { parameters: [], result: "pointer" },
  EVP_aes_192_cbc: { parameters: [], result: "pointer" },
  EVP_aes_256_cbc: { parameters: [], result: "pointer" },
  EVP_chacha20_poly1305: { parameters: [], result: "pointer" },
  EVP_sha1: { parameters: [], result: "pointer" },
  EVP_sha256: { parameters: [], result: "pointer" },
  EVP_sha384: { parameters: [], result: "pointer" },
  EVP_sha512: { parameters: [], result: "pointer" },
  HMAC_CTX_new: { parameters: [], result: "pointer" },
  HMAC_CTX_free: { parameters: ["pointer"], result: "void" },
  HMAC_Init_ex: {
    parameters: ["pointer", "buffer", "i32", "pointer", "pointer"],
    result: "i32",
  },
  HMAC_Update: { parameters: ["pointer", "buffer", "u32"], result: "i32" },
  HMAC_Final: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
} as const;

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** EVP_CTRL_AEAD_SET_IVLEN / GCM_SET_IVLEN. */
const CTRL_SET_IVLEN = 0x9;
/** EVP_CTRL_AEAD_GET_TAG. */
const CTRL_GET_TAG = 0x10;
/** EVP_CTRL_AEAD_SET_TAG. */
const CTRL_SET_TAG = 0x11;

/** AEAD algorithms this backend provides. */
export type LibcryptoAeadAlg = "aes-gcm" | "chacha20-poly1305";
/** Hash functions for HMAC. */
export type LibcryptoHash = "sha1" | "sha256" | "sha384" | "sha512";

/** Something holding native contexts that can be released early. */
export interface LibcryptoHandle {
  /** Frees the native contexts now; the object must not be used afterwards. */
  free(): void;
}

/** An AEAD with the allocation-free entry points the ESP hot path uses. */
export interface LibcryptoAeadInPlace extends AeadInPlace, LibcryptoHandle {
  /** Seals into `out` (ciphertext then tag); `out` may alias `plaintext`. */
  sealTo(nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, out: Uint8Array): void;
  /** Opens into `out`; false on a bad tag. */
  openTo(nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array, out: Uint8Array): boolean;
}

export interface Libcrypto {
  /** OpenSSL version number as reported by `OpenSSL_version_num()`. */
  readonly version: bigint;
  /** AES-GCM (16/24/32-byte key) or ChaCha20-Poly1305 (32-byte key), 12-byte nonce. */
  createAead(alg: LibcryptoAeadAlg, key: Uint8Array, tagLength: number): LibcryptoAeadInPlace;
  /** AES-CBC without padding (16/24/32-byte key). */
  createBlockCipher(alg: "aes-cbc", key: Uint8Array): BlockCipher & LibcryptoHandle;
  /** HMAC with the given hash; output untruncated. */
  createMac(alg: `hmac-${LibcryptoHash}`, key: Uint8Array): Mac & LibcryptoHandle;
}

const cipherRegistry = new FinalizationRegistry<{ lib: Lib; ctxs: Deno.PointerValue[] }>(
  (h) => {
    for (const c of h.ctxs) if (c) h.lib.EVP_CIPHER_CTX_free(c);
  },
);
const hmacRegistry = new FinalizationRegistry<{ lib: Lib; ctx: Deno.PointerValue }>((h) => {
  if (h.ctx) h.lib.HMAC_CTX_free(h.ctx);
});

let cached: Libcrypto | null | undefined;

/**
 * Opens `libcrypto.so.3` (or `path`) once and returns the factories, or
 * `null` when the library is missing or too old (needs OpenSSL >= 3.0).
 */
export function loadLibcrypto(path = "libcrypto.so.3"): Libcrypto | null {
  if (path === "libcrypto.so.3" && cached !== undefined) return cached;
  let lib: Lib;
  try {
    lib = Deno.dlopen(path, SYMBOLS).symbols;
  } catch {
    if (path === "libcrypto.so.3") cached = null;
    return null;
  }
  const version = lib.OpenSSL_version_num();
  const result = version >= 0x30000000n ? makeLibcrypto(lib, version) : null;
  if (path === "libcrypto.so.3") cached = result;
  return result;
}

function makeLibcrypto(lib: Lib, version: bigint): Libcrypto {
  return {
    version,
    createAead: (alg, key, tagLength) => new LibcryptoAead(lib, alg, key, tagLength),
    createBlockCipher: (alg, key) => {
      if (alg !== "aes-cbc") throw new CryptoError(`libcrypto: unsupported cipher ${alg}`);
      return new LibcryptoCbc(lib, key);
    },
    createMac: (alg, key) => new LibcryptoHmac(lib, alg, key),
  };
}

function newCipherCtx(lib: Lib): Deno.PointerObject {
  const c = lib.EVP_CIPHER_CTX_new();
  if (c === null) throw new CryptoError("libcrypto: EVP_CIPHER_CTX_new failed");
  return c;
}

class LibcryptoAead implements LibcryptoAeadInPlace {
  readonly backend = "libcrypto" as const;
  readonly nonceLength = 12;
  readonly tagLength: number;
  readonly #lib: Lib;
  readonly #enc: Deno.PointerObject;
  readonly #dec: Deno.PointerObject;
  readonly #outl = new Int32Array(1);
  readonly #tag: Uint8Array;
  /** Scratch for Final (stream AEADs write nothing there): no per-packet subarray. */
  readonly #final = new Uint8Array(32);
  readonly #handle: { lib: Lib; ctxs: Deno.PointerValue[] };
  #freed = false;

  constructor(lib: Lib, alg: LibcryptoAeadAlg, key: Uint8Array, tagLength: number) {
    let cipher: Deno.PointerValue;
    if (alg === "aes-gcm") {
      if (key.length === 16) cipher = lib.EVP_aes_128_gcm();
      else if (key.length === 24) cipher = lib.EVP_aes_192_gcm();
      else if (key.length === 32) cipher = lib.EVP_aes_256_gcm();
      else throw new CryptoError(`AES-GCM key must be 16/24/32 bytes, got ${key.length}`);
      if (tagLength !== 8 && tagLength !== 12 && tagLength !== 16) {
        throw new CryptoError(`AES-GCM tag must be 8/12/16 bytes, got ${tagLength}`);
      }
    } else if (alg === "chacha20-poly1305") {
      if (key.length !== 32) {
        throw new CryptoError(`ChaCha20-Poly1305 key must be 32 bytes, got ${key.length}`);
      }
      if (tagLength !== 16) throw new CryptoError("ChaCha20-Poly1305 tag is 16 bytes");
      cipher = lib.EVP_chacha20_poly1305();
    } else {
      throw new CryptoError(`libcrypto: unsupported AEAD ${alg as string}`);
    }
    this.#lib = lib;
    this.tagLength = tagLength;
    this.#tag = new Uint8Array(tagLength);
    this.#enc = newCipherCtx(lib);
    this.#dec = newCipherCtx(lib);
    this.#handle = { lib, ctxs: [this.#enc, this.#dec] };
    cipherRegistry.register(this, this.#handle, this);
    for (const [ctx, enc] of [[this.#enc, 1], [this.#dec, 0]] as const) {
      if (
        lib.EVP_CipherInit_ex(ctx, cipher, null, null, null, enc) !== 1 ||
        lib.EVP_CIPHER_CTX_ctrl(ctx, CTRL_SET_IVLEN, 12, null) !== 1 ||
        lib.EVP_CipherInit_ex(ctx, null, null, key, null, enc) !== 1
      ) {
        this.free();
        throw new CryptoError("libcrypto: AEAD init failed");
      }
    }
  }

  seal(nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
    const out = new Uint8Array(plaintext.length + this.tagLength);
    this.sealTo(nonce, plaintext, aad, out);
    return out;
  }

  /**
   * Seals into `out` (ciphertext at `out[0..pt.length)`, tag right after);
   * `out` may alias `plaintext` exactly (in-place). Hot-path variant of seal.
   */
  sealTo(nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, out: Uint8Array): void {
    if (out.length < plaintext.length + this.tagLength) {
      throw new CryptoError("AEAD output buffer too small");
    }
    this.#seal(nonce, aad, plaintext, out, plaintext.length);
    out.set(this.#tag, plaintext.length);
  }

  /**
   * Seals `buf[start..end)` in place and writes the tag to
   * `buf[end..end+tagLength)`: one view per call, no other allocation.
   */
  sealInPlace(
    nonce: Uint8Array,
    aad: Uint8Array,
    buf: Uint8Array,
    start: number,
    end: number,
  ): void {
    if (end + this.tagLength > buf.length || start > end) {
      throw new CryptoError("AEAD output buffer too small");
    }
    const region = start === 0 ? buf : buf.subarray(start);
    this.#seal(nonce, aad, region, region, end - start);
    buf.set(this.#tag, end);
  }

  /** Encrypts `len` bytes of `input` into `out`; the tag lands in #tag. */
  #seal(nonce: Uint8Array, aad: Uint8Array, input: Uint8Array, out: Uint8Array, len: number): void {
    const lib = this.#lib;
    const ctx = this.#enc;
    const outl = this.#outl;
    this.#check(nonce);
    let ok = lib.EVP_CipherInit_iv(ctx, null, null, null, nonce, 1);
    if (aad.length > 0) ok &= lib.EVP_EncryptUpdate_aad(ctx, null, outl, aad, aad.length);
    let n = 0;
    if (len > 0) {
      ok &= lib.EVP_EncryptUpdate(ctx, out, outl, input, len);
      n = outl[0];
    }
    // GCM and ChaCha20-Poly1305 are stream modes: Final writes no bytes (n === length).
    ok &= lib.EVP_EncryptFinal_ex(ctx, this.#final, outl);
    if (n !== len || outl[0] !== 0) ok = 0;
    ok &= lib.EVP_CIPHER_CTX_ctrl(ctx, CTRL_GET_TAG, this.tagLength, this.#tag);
    if (ok !== 1) throw new CryptoError("libcrypto: AEAD seal failed");
  }

  open(nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | null {
    if (sealed.length < this.tagLength) return null;
    const out = new Uint8Array(sealed.length - this.tagLength);
    return this.openTo(nonce, sealed, aad, out) ? out : null;
  }

  /**
   * Opens into `out` (length >= sealed.length - tagLength; may alias `sealed`
   * exactly). Returns false when the tag does not verify; `out` then holds
   * unauthenticated bytes the caller must discard.
   */
  openTo(nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array, out: Uint8Array): boolean {
    const ctLen = sealed.length - this.tagLength;
    if (ctLen < 0 || out.length < ctLen) return false;
    // Copy the tag first: with in-place decryption `out` may overwrite it.
    this.#tag.set(sealed.subarray(ctLen));
    return this.#open(nonce, aad, sealed, out, ctLen);
  }

  /**
   * Opens `buf[start..end)` (ciphertext || tag) in place; the plaintext
   * replaces the ciphertext. False when the tag does not verify.
   */
  openInPlace(
    nonce: Uint8Array,
    aad: Uint8Array,
    buf: Uint8Array,
    start: number,
    end: number,
  ): boolean {
    const ctLen = end - start - this.tagLength;
    if (ctLen < 0 || end > buf.length) return false;
    const tag = this.#tag;
    for (let i = 0; i < tag.length; i++) tag[i] = buf[start + ctLen + i];
    const region = start === 0 ? buf : buf.subarray(start);
    return this.#open(nonce, aad, region, region, ctLen);
  }

  /** Decrypts `ctLen` bytes of `input` into `out` and checks the tag already in #tag. */
  #open(nonce: Uint8Array, aad: Uint8Array, input: Uint8Array, out: Uint8Array, ctLen: number) {
    this.#check(nonce);
    const lib = this.#lib;
    const ctx = this.#dec;
    const outl = this.#outl;
    let ok = lib.EVP_CipherInit_iv(ctx, null, null, null, nonce, 0);
    if (aad.length > 0) ok &= lib.EVP_DecryptUpdate_aad(ctx, null, outl, aad, aad.length);
    let n = 0;
    if (ctLen > 0) {
      ok &= lib.EVP_DecryptUpdate(ctx, out, outl, input, ctLen);
      n = outl[0];
    }
    ok &= lib.EVP_CIPHER_CTX_ctrl(ctx, CTRL_SET_TAG, this.tagLength, this.#tag);
    if (ok !== 1) return false;
    return lib.EVP_DecryptFinal_ex(ctx, this.#final, outl) === 1 && n === ctLen && outl[0] === 0;
  }

  #check(nonce: Uint8Array): void {
    if (this.#freed) throw new CryptoError("libcrypto: AEAD used after free()");
    if (nonce.length !== 12) throw new CryptoError(`nonce must be 12 bytes, got ${nonce.length}`);
  }

  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    cipherRegistry.unregister(this);
    for (const c of this.#handle.ctxs) if (c) this.#lib.EVP_CIPHER_CTX_free(c);
    this.#handle.ctxs = [];
  }
}

class LibcryptoCbc implements BlockCipher, LibcryptoHandle {
  readonly backend = "libcrypto" as const;
  readonly blockSize = 16;
  readonly ivLength = 16;
  readonly #lib: Lib;
  readonly #enc: Deno.PointerObject;
  readonly #dec: Deno.PointerObject;
  readonly #outl = new Int32Array(1);
  readonly #handle: { lib: Lib; ctxs: Deno.PointerValue[] };
  #freed = false;

  constructor(lib: Lib, key: Uint8Array) {
    let cipher: Deno.PointerValue;
    if (key.length === 16) cipher = lib.EVP_aes_128_cbc();
    else if (key.length === 24) cipher = lib.EVP_aes_192_cbc();
    else if (key.length === 32) cipher = lib.EVP_aes_256_cbc();
    else throw new CryptoError(`AES-CBC key must be 16/24/32 bytes, got ${key.length}`);
    this.#lib = lib;
    this.#enc = newCipherCtx(lib);
    this.#dec = newCipherCtx(lib);
    this.#handle = { lib, ctxs: [this.#enc, this.#dec] };
    cipherRegistry.register(this, this.#handle, this);
    for (const [ctx, enc] of [[this.#enc, 1], [this.#dec, 0]] as const) {
      if (
        lib.EVP_CipherInit_ex(ctx, cipher, null, key, null, enc) !== 1 ||
        lib.EVP_CIPHER_CTX_set_padding(ctx, 0) !== 1
      ) {
        this.free();
        throw new CryptoError("libcrypto: AES-CBC init failed");
      }
    }
  }

  encrypt(iv: Uint8Array, data: Uint8Array): Uint8Array {
    const out = new Uint8Array(data.length);
    this.#run(this.#enc, 1, iv, data, out);
    return out;
  }
  decrypt(iv: Uint8Array, data: Uint8Array): Uint8Array {
    const out = new Uint8Array(data.length);
    this.#run(this.#dec, 0, iv, data, out);
    return out;
  }
  /** Encrypts into `out` (may alias `data` exactly). */
  encryptTo(iv: Uint8Array, data: Uint8Array, out: Uint8Array): void {
    this.#run(this.#enc, 1, iv, data, out);
  }
  /** Decrypts into `out` (may alias `data` exactly). */
  decryptTo(iv: Uint8Array, data: Uint8Array, out: Uint8Array): void {
    this.#run(this.#dec, 0, iv, data, out);
  }

  #run(ctx: Deno.PointerObject, enc: number, iv: Uint8Array, data: Uint8Array, out: Uint8Array) {
    if (this.#freed) throw new CryptoError("libcrypto: AES-CBC used after free()");
    if (iv.length !== 16) throw new CryptoError(`AES-CBC IV must be 16 bytes, got ${iv.length}`);
    if (data.length % 16 !== 0) {
      throw new CryptoError(`AES-CBC data must be a multiple of 16 bytes, got ${data.length}`);
    }
    if (out.length < data.length) throw new CryptoError("AES-CBC output buffer too small");
    const lib = this.#lib;
    let ok = lib.EVP_CipherInit_iv(ctx, null, null, null, iv, enc);
    if (data.length > 0) {
      ok &= enc
        ? lib.EVP_EncryptUpdate(ctx, out, this.#outl, data, data.length)
        : lib.EVP_DecryptUpdate(ctx, out, this.#outl, data, data.length);
    }
    if (ok !== 1) throw new CryptoError("libcrypto: AES-CBC failed");
  }

  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    cipherRegistry.unregister(this);
    for (const c of this.#handle.ctxs) if (c) this.#lib.EVP_CIPHER_CTX_free(c);
    this.#handle.ctxs = [];
  }
}

const HASH_LEN: Record<LibcryptoHash, number> = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 };

class LibcryptoHmac implements Mac, LibcryptoHandle {
  readonly backend = "libcrypto" as const;
  readonly outputLength: number;
  readonly #lib: Lib;
  readonly #ctx: Deno.PointerObject;
  readonly #outl = new Uint32Array(1);
  readonly #handle: { lib: Lib; ctx: Deno.PointerValue };
  #freed = false;

  constructor(lib: Lib, alg: `hmac-${LibcryptoHash}`, key: Uint8Array) {
    const hash = alg.slice(5) as LibcryptoHash;
    let md: Deno.PointerValue;
    if (hash === "sha1") md = lib.EVP_sha1();
    else if (hash === "sha256") md = lib.EVP_sha256();
    else if (hash === "sha384") md = lib.EVP_sha384();
    else if (hash === "sha512") md = lib.EVP_sha512();
    else throw new CryptoError(`libcrypto: unsupported MAC ${alg}`);
    this.#lib = lib;
    this.outputLength = HASH_LEN[hash];
    const ctx = lib.HMAC_CTX_new();
    if (ctx === null) throw new CryptoError("libcrypto: HMAC_CTX_new failed");
    this.#ctx = ctx;
    this.#handle = { lib, ctx };
    hmacRegistry.register(this, this.#handle, this);
    // A zero-length key must still be a non-NULL pointer, or OpenSSL keeps the old key.
    const k = key.length > 0 ? key : new Uint8Array(1);
    if (lib.HMAC_Init_ex(ctx, k, key.length, md, null) !== 1) {
      this.free();
      throw new CryptoError("libcrypto: HMAC init failed");
    }
  }

  compute(...parts: Uint8Array[]): Uint8Array {
    const out = new Uint8Array(this.outputLength);
    this.computeTo(out, parts);
    return out;
  }

  /** MAC over the concatenation of `parts`, written to `out[0..outputLength)`. */
  computeTo(out: Uint8Array, parts: readonly Uint8Array[]): void {
    if (this.#freed) throw new CryptoError("libcrypto: HMAC used after free()");
    if (out.length < this.outputLength) throw new CryptoError("HMAC output buffer too small");
    const lib = this.#lib;
    const ctx = this.#ctx;
    // NULL key and NULL md: restart with the key already set.
    let ok = lib.HMAC_restart(ctx, null, 0, null, null);
    for (const p of parts) if (p.length > 0) ok &= lib.HMAC_Update(ctx, p, p.length);
    ok &= lib.HMAC_Final(ctx, out, this.#outl);
    if (ok !== 1) throw new CryptoError("libcrypto: HMAC failed");
  }

  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    hmacRegistry.unregister(this);
    if (this.#handle.ctx) this.#lib.HMAC_CTX_free(this.#handle.ctx);
    this.#handle.ctx = null;
  }
}
