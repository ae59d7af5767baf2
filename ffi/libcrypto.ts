/**
 * The system OpenSSL 3 `libcrypto.so.3` through `Deno.dlopen`: AES-GCM,
 * AES-CCM, AES-GMAC, ChaCha20-Poly1305, AES-CBC, AES-CTR and HMAC implementing the contracts of
 * `lib/crypto/types.ts`.
 *
 * Every symbol is synchronous (no `nonblocking`), so one ESP packet costs a
 * handful of FFI calls and no promise. Each primitive owns its EVP contexts:
 * the key schedule is set once at construction and only the IV is set per
 * call. Scratch fields (output length, tag, IV, AAD, OSSL_PARAM arrays) live
 * in preallocated memory passed by address; per packet only the packet
 * itself crosses as a typed array, and the in-place calls reuse one view per
 * (buffer, offset), so the ESP path allocates nothing. The AEAD per-packet
 * call sequence is described at `LibcryptoAead`. Contexts are freed by
 * {@linkcode LibcryptoHandle.free} or, failing that, by a
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

import type {
  AeadInPlace,
  BlockCipherInPlace,
  BlockCipherRange,
  GmacRange,
  MacRange,
} from "../lib/crypto/types.ts";
import { checkCtrRange } from "../lib/crypto/primitives.ts";
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
  EVP_CipherInit_p: {
    name: "EVP_CipherInit_ex",
    parameters: ["pointer", "pointer", "pointer", "pointer", "pointer", "i32"],
    result: "i32",
  },
  // AEAD per-packet variants: fixed scratch fields go by address, packets as typed arrays.
  EVP_EncryptUpdate_aadp: {
    name: "EVP_EncryptUpdate",
    parameters: ["pointer", "pointer", "pointer", "pointer", "i32"],
    result: "i32",
  },
  EVP_DecryptUpdate_aadp: {
    name: "EVP_DecryptUpdate",
    parameters: ["pointer", "pointer", "pointer", "pointer", "i32"],
    result: "i32",
  },
  EVP_EncryptUpdate_p: {
    name: "EVP_EncryptUpdate",
    parameters: ["pointer", "buffer", "pointer", "buffer", "i32"],
    result: "i32",
  },
  EVP_DecryptUpdate_p: {
    name: "EVP_DecryptUpdate",
    parameters: ["pointer", "buffer", "pointer", "buffer", "i32"],
    result: "i32",
  },
  EVP_EncryptFinal_p: {
    name: "EVP_EncryptFinal_ex",
    parameters: ["pointer", "pointer", "pointer"],
    result: "i32",
  },
  EVP_DecryptFinal_p: {
    name: "EVP_DecryptFinal_ex",
    parameters: ["pointer", "pointer", "pointer"],
    result: "i32",
  },
  EVP_CIPHER_CTX_ctrl_p: {
    name: "EVP_CIPHER_CTX_ctrl",
    parameters: ["pointer", "i32", "i32", "pointer"],
    result: "i32",
  },
  EVP_CIPHER_CTX_set_params: { parameters: ["pointer", "pointer"], result: "i32" },
  EVP_CIPHER_CTX_get_params: { parameters: ["pointer", "pointer"], result: "i32" },
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
  EVP_DecryptUpdate: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  EVP_aes_128_gcm: { parameters: [], result: "pointer" },
  EVP_aes_192_gcm: { parameters: [], result: "pointer" },
  EVP_aes_256_gcm: { parameters: [], result: "pointer" },
  EVP_aes_128_ccm: { parameters: [], result: "pointer" },
  EVP_aes_192_ccm: { parameters: [], result: "pointer" },
  EVP_aes_256_ccm: { parameters: [], result: "pointer" },
  EVP_aes_128_cbc: { parameters: [], result: "pointer" },
  EVP_aes_192_cbc: { parameters: [], result: "pointer" },
  EVP_aes_256_cbc: { parameters: [], result: "pointer" },
  EVP_aes_128_ctr: { parameters: [], result: "pointer" },
  EVP_aes_192_ctr: { parameters: [], result: "pointer" },
  EVP_aes_256_ctr: { parameters: [], result: "pointer" },
  EVP_chacha20_poly1305: { parameters: [], result: "pointer" },
  // Legacy and less common ciphers: optional, so a libcrypto built without them still loads.
  EVP_des_ede3_cbc: { parameters: [], result: "pointer", optional: true },
  EVP_camellia_128_cbc: { parameters: [], result: "pointer", optional: true },
  EVP_camellia_192_cbc: { parameters: [], result: "pointer", optional: true },
  EVP_camellia_256_cbc: { parameters: [], result: "pointer", optional: true },
  EVP_camellia_128_ctr: { parameters: [], result: "pointer", optional: true },
  EVP_camellia_192_ctr: { parameters: [], result: "pointer", optional: true },
  EVP_camellia_256_ctr: { parameters: [], result: "pointer", optional: true },
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

/** Block cipher modes this backend provides. */
export type LibcryptoBlockAlg =
  | "aes-cbc"
  | "aes-ctr"
  | "3des-cbc"
  | "camellia-cbc"
  | "camellia-ctr";

/** AEAD algorithms this backend provides. */
export type LibcryptoAeadAlg = "aes-gcm" | "aes-ccm" | "chacha20-poly1305";
/** Hash functions for HMAC. */
export type LibcryptoHash = "sha1" | "sha256" | "sha384" | "sha512";

/** Something holding native contexts that can be released early. */
export interface LibcryptoHandle {
  /** Frees the native contexts now; the object must not be used afterwards. */
  free(): void;
}

/**
 * Which EVP calls an AEAD makes per packet: "init" is the documented
 * EVP_CipherInit_ex(iv), AAD, Update, Final, tag ctrl; "params" sets the IV
 * and tag through prebuilt OSSL_PARAM arrays (see `LibcryptoAead` in
 * ffi/libcrypto.ts), one call fewer for AES-GCM and no per-packet
 * EVP_CipherInit_ex.
 */
export type LibcryptoAeadSequence = "params" | "init";

/** An AEAD with the allocation-free entry points the ESP hot path uses. */
export interface LibcryptoAeadInPlace extends AeadInPlace, LibcryptoHandle {
  /** The per-packet call sequence in use. */
  readonly sequence: LibcryptoAeadSequence;
  /** Seals into `out` (ciphertext then tag); `out` may alias `plaintext`. */
  sealTo(nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, out: Uint8Array): void;
  /** Opens into `out`; false on a bad tag. */
  openTo(nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array, out: Uint8Array): boolean;
}

export interface Libcrypto {
  /** OpenSSL version number as reported by `OpenSSL_version_num()`. */
  readonly version: bigint;
  /**
   * AES-GCM (16/24/32-byte key) or ChaCha20-Poly1305 (32-byte key), 12-byte
   * nonce. `sequence` defaults to "params" when this libcrypto gave
   * byte-identical results with it in a self-test (once per algorithm and
   * process), else "init"; asking for "params" where it failed throws.
   * AES-CCM (16/24/32-byte key, 11-byte nonce as RFC 4309/5282 use it) has
   * only the "init" sequence.
   */
  createAead(
    alg: LibcryptoAeadAlg,
    key: Uint8Array,
    tagLength: number,
    sequence?: LibcryptoAeadSequence,
  ): LibcryptoAeadInPlace;
  /**
   * AES-CBC or Camellia-CBC without padding, or AES-CTR / Camellia-CTR (RFC
   * 3686, 5528: the 16-byte "IV" is the initial counter block, block size 1),
   * with a 16/24/32-byte key; or 3DES-CBC (24-byte key, 8-byte blocks).
   */
  createBlockCipher(
    alg: LibcryptoBlockAlg,
    key: Uint8Array,
  ): BlockCipherRange & BlockCipherInPlace & LibcryptoHandle;
  /** HMAC with the given hash; output untruncated. */
  createMac(alg: `hmac-${LibcryptoHash}`, key: Uint8Array): MacRange & LibcryptoHandle;
  /**
   * AES-GMAC (RFC 4543: AES-GCM with an empty plaintext, 12-byte nonce,
   * 16-byte tag) with a 16/24/32-byte key.
   */
  createGmac(key: Uint8Array): GmacRange & LibcryptoHandle;
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
  const result = version >= 0x30000000n ? makeLibcrypto(lib, version, path) : null;
  if (path === "libcrypto.so.3") cached = result;
  return result;
}

function makeLibcrypto(lib: Lib, version: bigint, path: string): Libcrypto {
  return {
    version,
    createAead: (alg, key, tagLength, sequence) => {
      if (alg === "aes-ccm") {
        if (sequence === "params") {
          throw new CryptoError('libcrypto: AES-CCM has no "params" sequence');
        }
        return new LibcryptoCcm(lib, key, tagLength);
      }
      const params = probeFastPath(lib, alg);
      if (sequence === "params" && !params) {
        throw new CryptoError(`libcrypto: the "params" sequence failed its self-test for ${alg}`);
      }
      return new LibcryptoAead(lib, alg, key, tagLength, sequence !== "init" && params);
    },
    createBlockCipher: (alg, key) => {
      if (alg === "aes-ctr" || alg === "camellia-ctr") {
        return new LibcryptoCtr(lib, key, alg === "aes-ctr" ? "AES-CTR" : "Camellia-CTR");
      }
      const spec = alg === "aes-cbc" || alg === "3des-cbc" || alg === "camellia-cbc"
        ? cbcSpec(lib, alg)
        : undefined;
      if (!spec) throw new CryptoError(`libcrypto: unsupported cipher ${alg as string}`);
      return new LibcryptoCbc(lib, key, spec);
    },
    createMac: (alg, key) => new LibcryptoHmac(lib, alg, key, path),
    createGmac: (key) => new LibcryptoGmac(lib, key),
  };
}

function newCipherCtx(lib: Lib): Deno.PointerObject {
  const c = lib.EVP_CIPHER_CTX_new();
  if (c === null) throw new CryptoError("libcrypto: EVP_CIPHER_CTX_new failed");
  return c;
}

/**
 * The EVP cipher contexts one object owns: made by {@linkcode add}, freed by
 * {@linkcode free} or, should the owner be dropped without it, by the
 * finalizer.
 */
class CipherContexts {
  readonly #lib: Lib;
  readonly #handle: { lib: Lib; ctxs: Deno.PointerValue[] };
  #freed = false;

  constructor(lib: Lib, owner: object) {
    this.#lib = lib;
    this.#handle = { lib, ctxs: [] };
    cipherRegistry.register(owner, this.#handle, this);
  }

  /** Whether {@linkcode free} ran. */
  get freed(): boolean {
    return this.#freed;
  }

  /** How many contexts were made. */
  get count(): number {
    return this.#handle.ctxs.length;
  }

  /** A new context, owned from now on (also freed if keying it fails). */
  add(): Deno.PointerObject {
    const c = newCipherCtx(this.#lib);
    this.#handle.ctxs.push(c);
    return c;
  }

  /** Frees every context; false when that was done before. */
  free(): boolean {
    if (this.#freed) return false;
    this.#freed = true;
    cipherRegistry.unregister(this);
    for (const c of this.#handle.ctxs) if (c) this.#lib.EVP_CIPHER_CTX_free(c);
    this.#handle.ctxs = [];
    return true;
  }
}

/** The address of a typed array's first byte (ArrayBuffer memory never moves). */
function addressOf(a: Uint8Array | Int32Array): Deno.PointerObject {
  const p = Deno.UnsafePointer.of(a);
  if (p === null) throw new CryptoError("libcrypto: no scratch address");
  return p;
}

/** EVP_CTRL_AEAD_SET_IV_FIXED (= EVP_CTRL_GCM_SET_IV_FIXED). */
const CTRL_SET_IV_FIXED = 0x12;
/** OSSL_PARAM_OCTET_STRING and OSSL_PARAM_UNMODIFIED (openssl/core.h, params.h). */
const OSSL_PARAM_OCTET_STRING = 5;
const OSSL_PARAM_UNMODIFIED = 0xffff_ffff_ffff_ffffn;

// Native scratch of one AEAD direction (byte offsets). OpenSSL is given these
// addresses once; per packet only the packet itself travels as a typed array,
// because every "buffer" argument costs V8 a conversion on each call.
const S_OUTL = 0; // int: bytes written by the last Update/Final
const S_FINAL = 8; // 32 bytes for Final (stream AEADs write nothing there)
const S_TAG = 40; // 16 bytes
const S_IV = 56; // the 12-byte nonce; the GCM invocation field is S_IV + 4
const S_AAD = 72; // AAD up to AAD_MAX bytes (longer AAD goes as a typed array)
const AAD_MAX = 32;
const S_IVGEN = 104; // 8 bytes: the GCM invocation field OpenSSL armed for the next seal
const S_NAMES = 112; // NUL-terminated OSSL_PARAM names
const S_PARAMS = 152; // OSSL_PARAM arrays
const PARAM_SIZE = 40; // sizeof(OSSL_PARAM) on LP64: key, data_type, data, data_size, return_size
const SCRATCH_SIZE = 512;
const PARAM_NAMES = ["tag", "tlsivfixed", "tlsivinv", "tlsivgen"] as const;
type ParamName = typeof PARAM_NAMES[number];

/**
 * A fixed block of memory for one EVP context: scratch fields and prebuilt
 * `OSSL_PARAM` arrays pointing into it, so that a parameter get/set costs
 * one FFI call with two pointers. ArrayBuffer memory never moves, and the
 * owner keeps `bytes` alive as long as the context.
 */
class NativeScratch {
  readonly bytes = new Uint8Array(SCRATCH_SIZE);
  readonly outl = new Int32Array(this.bytes.buffer, S_OUTL, 1);
  readonly #base: bigint;
  readonly #names = new Map<ParamName, number>();
  #nextParams = S_PARAMS;

  constructor() {
    const p = Deno.UnsafePointer.of(this.bytes);
    if (p === null) throw new CryptoError("libcrypto: no address for the AEAD scratch");
    this.#base = BigInt(Deno.UnsafePointer.value(p));
    let o = S_NAMES;
    for (const name of PARAM_NAMES) {
      this.#names.set(name, o);
      for (let i = 0; i < name.length; i++) this.bytes[o++] = name.charCodeAt(i);
      this.bytes[o++] = 0;
    }
  }

  /** The address of `bytes[offset]`. */
  ptr(offset: number): Deno.PointerObject {
    const p = Deno.UnsafePointer.create(this.#base + BigInt(offset));
    if (p === null) throw new CryptoError("libcrypto: null scratch address");
    return p;
  }

  /** Writes an OSSL_PARAM array of octet strings `[name, offset, size]` and returns its address. */
  params(entries: readonly (readonly [ParamName, number, number])[]): Deno.PointerObject {
    const at = this.#nextParams;
    const end = at + (entries.length + 1) * PARAM_SIZE; // + the all-zero terminator
    if (end > SCRATCH_SIZE) throw new CryptoError("libcrypto: AEAD scratch too small");
    const dv = new DataView(this.bytes.buffer);
    let o = at;
    for (const [name, offset, size] of entries) {
      dv.setBigUint64(o, this.#base + BigInt(this.#names.get(name)!), true);
      dv.setUint32(o + 8, OSSL_PARAM_OCTET_STRING, true);
      dv.setBigUint64(o + 16, this.#base + BigInt(offset), true);
      dv.setBigUint64(o + 24, BigInt(size), true);
      dv.setBigUint64(o + 32, OSSL_PARAM_UNMODIFIED, true);
      o += PARAM_SIZE;
    }
    this.#nextParams = end;
    return this.ptr(at);
  }
}

const EMPTY: Uint8Array = new Uint8Array(0);

/**
 * `buf.subarray(start)`, made once and reused while the same buffer and
 * offset come back (per packet they do), so the in-place and range calls
 * create no typed-array view; at offset 0 it is `buf` itself.
 */
class ViewCache {
  #buf: Uint8Array | null = null;
  #start = -1;
  #view: Uint8Array = EMPTY;

  at(buf: Uint8Array, start: number): Uint8Array {
    if (start === 0) return buf;
    if (buf !== this.#buf || start !== this.#start) {
      this.#buf = buf;
      this.#start = start;
      this.#view = buf.subarray(start);
    }
    return this.#view;
  }

  /** Lets go of the last buffer. */
  clear(): void {
    this.#buf = null;
    this.#view = EMPTY;
  }
}

/**
 * The native scratch every AEAD of one kind (algorithm and tag length) in
 * this thread shares, for both directions, with the addresses of its fields
 * and the `OSSL_PARAM` arrays built in it. Each seal or open writes what it
 * hands to OpenSSL and copies out what it keeps before it returns, and no
 * two run at once in one thread, so nothing in it outlives a call. (A block
 * per direction and SA, with its pointer objects, cost some 2 KB per SA.)
 */
class SharedScratch {
  readonly s = new NativeScratch();
  readonly outl = this.s.ptr(S_OUTL);
  readonly final = this.s.ptr(S_FINAL);
  readonly aad = this.s.ptr(S_AAD);
  readonly iv = this.s.ptr(S_IV);
  readonly tag = this.s.ptr(S_TAG);
  readonly #params = new Map<string, Deno.PointerObject>();

  /** The `OSSL_PARAM` array `name` of this scratch, built on first use. */
  params(
    name: string,
    entries: readonly (readonly [ParamName, number, number])[],
  ): Deno.PointerObject {
    let p = this.#params.get(name);
    if (p === undefined) {
      p = this.s.params(entries);
      this.#params.set(name, p);
    }
    return p;
  }
}

const sharedScratches = new Map<string, SharedScratch>();

/** This thread's {@linkcode SharedScratch} for AEAD kind `kind` (e.g. "gcm/16"). */
function sharedScratch(kind: string): SharedScratch {
  let sc = sharedScratches.get(kind);
  if (!sc) {
    sc = new SharedScratch();
    sharedScratches.set(kind, sc);
  }
  return sc;
}

/**
 * What the AEADs over two EVP contexts (encrypt, decrypt) share: the
 * contexts, each made and keyed on its first use (an ESP SA only ever uses
 * one, and a keyed context costs some 1.7 KB), the thread's native scratch
 * of their kind and the addresses in it, the public seal/open entry points
 * around each algorithm's own {@linkcode sealRegion} and
 * {@linkcode openRegion}, and freeing.
 */
abstract class EvpAeadPair implements LibcryptoAeadInPlace {
  readonly backend = "libcrypto" as const;
  abstract readonly nonceLength: number;
  abstract readonly sequence: LibcryptoAeadSequence;
  readonly tagLength: number;
  protected readonly lib: Lib;
  /** The thread's scratch of this kind; both directions use it. */
  protected readonly sc: SharedScratch;
  protected readonly es: NativeScratch;
  protected readonly eOutl: Deno.PointerObject;
  protected readonly eFinal: Deno.PointerObject;
  protected readonly eAad: Deno.PointerObject;
  protected readonly eIv: Deno.PointerObject;
  protected readonly eTag: Deno.PointerObject;
  protected readonly ds: NativeScratch;
  protected readonly dOutl: Deno.PointerObject;
  protected readonly dFinal: Deno.PointerObject;
  protected readonly dAad: Deno.PointerObject;
  protected readonly dIv: Deno.PointerObject;
  protected readonly dTag: Deno.PointerObject;
  readonly #cipher: Deno.PointerValue;
  readonly #o: { ivLength: number; tagFirst: boolean; name: string };
  /** A copy of the key until both contexts are keyed (then zeroed). */
  readonly #key: Uint8Array;
  #enc: Deno.PointerObject | null = null;
  #dec: Deno.PointerObject | null = null;
  readonly #sealViews = new ViewCache();
  readonly #openViews = new ViewCache();
  readonly #ctxs: CipherContexts;

  /**
   * Remembers how to key a context with `cipher`: IV length `ivLength`, and
   * for CCM (`tagFirst`) the tag length, which must come before the key.
   * `kind` names the shared scratch (algorithm and tag length).
   */
  protected constructor(
    lib: Lib,
    cipher: Deno.PointerValue,
    key: Uint8Array,
    o: { tagLength: number; ivLength: number; tagFirst: boolean; name: string; kind: string },
  ) {
    this.lib = lib;
    this.tagLength = o.tagLength;
    this.#cipher = cipher;
    this.#o = o;
    this.#key = key.slice();
    const sc = sharedScratch(o.kind);
    this.sc = sc;
    this.es = this.ds = sc.s;
    this.eOutl = this.dOutl = sc.outl;
    this.eFinal = this.dFinal = sc.final;
    this.eAad = this.dAad = sc.aad;
    this.eIv = this.dIv = sc.iv;
    this.eTag = this.dTag = sc.tag;
    this.#ctxs = new CipherContexts(lib, this);
  }

  /** The encrypt context, made and keyed by the first call. */
  protected get enc(): Deno.PointerObject {
    return this.#enc ?? (this.#enc = this.#context(1));
  }

  /** The decrypt context, made and keyed by the first call. */
  protected get dec(): Deno.PointerObject {
    return this.#dec ?? (this.#dec = this.#context(0));
  }

  #context(enc: 0 | 1): Deno.PointerObject {
    if (this.#ctxs.freed) throw new CryptoError("libcrypto: AEAD used after free()");
    const lib = this.lib;
    const ctx = this.#ctxs.add();
    const o = this.#o;
    if (
      lib.EVP_CipherInit_ex(ctx, this.#cipher, null, null, null, enc) !== 1 ||
      lib.EVP_CIPHER_CTX_ctrl(ctx, CTRL_SET_IVLEN, o.ivLength, null) !== 1 ||
      (o.tagFirst && lib.EVP_CIPHER_CTX_ctrl(ctx, CTRL_SET_TAG, this.tagLength, null) !== 1) ||
      lib.EVP_CipherInit_ex(ctx, null, null, this.#key, null, enc) !== 1
    ) {
      throw new CryptoError(`libcrypto: ${o.name} init failed`);
    }
    if (this.#ctxs.count === 2) this.#key.fill(0);
    return ctx;
  }

  /** Encrypts `len` bytes of `input` into `out`, the tag into the encrypt scratch; throws on failure. */
  protected abstract sealRegion(
    nonce: Uint8Array,
    aad: Uint8Array,
    input: Uint8Array,
    out: Uint8Array,
    len: number,
  ): void;

  /** Decrypts `ctLen` bytes of `input` into `out`; false unless the tag in the decrypt scratch verifies. */
  protected abstract openRegion(
    nonce: Uint8Array,
    aad: Uint8Array,
    input: Uint8Array,
    out: Uint8Array,
    ctLen: number,
  ): boolean;

  /** Throws when freed or when `nonce` has the wrong length. */
  protected check(nonce: Uint8Array): void {
    if (this.#ctxs.freed) throw new CryptoError("libcrypto: AEAD used after free()");
    if (nonce.length !== this.nonceLength) {
      throw new CryptoError(`nonce must be ${this.nonceLength} bytes, got ${nonce.length}`);
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
    this.sealRegion(nonce, aad, plaintext, out, plaintext.length);
    this.#tagTo(out, plaintext.length);
  }

  /**
   * Seals `buf[start..end)` in place and writes the tag to
   * `buf[end..end+tagLength)`. No allocation when `buf` and `start` repeat.
   */
  sealInPlace(
    nonce: Uint8Array,
    aad: Uint8Array,
    buf: Uint8Array,
    start: number,
    end: number,
  ): void {
    if (end + this.tagLength > buf.length || start > end || start < 0) {
      throw new CryptoError("AEAD output buffer too small");
    }
    const region = this.#sealViews.at(buf, start);
    this.sealRegion(nonce, aad, region, region, end - start);
    this.#tagTo(buf, end);
  }

  #tagTo(out: Uint8Array, at: number): void {
    const b = this.es.bytes;
    for (let i = 0; i < this.tagLength; i++) out[at + i] = b[S_TAG + i];
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
    const b = this.ds.bytes;
    for (let i = 0; i < this.tagLength; i++) b[S_TAG + i] = sealed[ctLen + i];
    return this.openRegion(nonce, aad, sealed, out, ctLen);
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
    if (ctLen < 0 || end > buf.length || start < 0) return false;
    const b = this.ds.bytes;
    for (let i = 0; i < this.tagLength; i++) b[S_TAG + i] = buf[start + ctLen + i];
    const region = this.#openViews.at(buf, start);
    return this.openRegion(nonce, aad, region, region, ctLen);
  }

  free(): void {
    if (!this.#ctxs.free()) return;
    this.#enc = this.#dec = null;
    this.#key.fill(0);
    this.#sealViews.clear();
    this.#openViews.clear();
  }
}

/** The EVP cipher of AES-GCM (16/24/32-byte key) or ChaCha20-Poly1305 (32-byte key), checked. */
function aeadCipher(
  lib: Lib,
  alg: LibcryptoAeadAlg,
  key: Uint8Array,
  tagLength: number,
): Deno.PointerValue {
  if (alg === "aes-gcm") {
    if (tagLength !== 8 && tagLength !== 12 && tagLength !== 16) {
      throw new CryptoError(`AES-GCM tag must be 8/12/16 bytes, got ${tagLength}`);
    }
    return aesCipher("AES-GCM", key, lib.EVP_aes_128_gcm, lib.EVP_aes_192_gcm, lib.EVP_aes_256_gcm);
  }
  if (alg === "chacha20-poly1305") {
    if (key.length !== 32) {
      throw new CryptoError(`ChaCha20-Poly1305 key must be 32 bytes, got ${key.length}`);
    }
    if (tagLength !== 16) throw new CryptoError("ChaCha20-Poly1305 tag is 16 bytes");
    return lib.EVP_chacha20_poly1305();
  }
  throw new CryptoError(`libcrypto: unsupported AEAD ${alg as string}`);
}

/** The EVP cipher for an AES key of 16, 24 or 32 bytes. */
/** The cipher a {@linkcode LibcryptoCbc} runs: its name, block size and EVP_CIPHER by key. */
interface CbcSpec {
  readonly name: string;
  readonly blockSize: number;
  cipher(key: Uint8Array): Deno.PointerValue;
}

/** The EVP_CIPHER of an optional symbol, or a CryptoError naming what this libcrypto lacks. */
function optionalCipher(
  name: string,
  f: (() => Deno.PointerValue) | null | undefined,
): Deno.PointerValue {
  const c = f ? f() : null;
  if (c === null) throw new CryptoError(`libcrypto: this OpenSSL has no ${name}`);
  return c;
}

function cbcSpec(lib: Lib, alg: "aes-cbc" | "3des-cbc" | "camellia-cbc"): CbcSpec {
  if (alg === "3des-cbc") {
    return {
      name: "3DES-CBC",
      blockSize: 8,
      cipher(key) {
        if (key.length !== 24) {
          throw new CryptoError(`3DES-CBC key must be 24 bytes, got ${key.length}`);
        }
        return optionalCipher("DES-EDE3-CBC", lib.EVP_des_ede3_cbc);
      },
    };
  }
  if (alg === "camellia-cbc") {
    return {
      name: "Camellia-CBC",
      blockSize: 16,
      cipher: (key) =>
        optionalCipher(
          `Camellia-${key.length * 8}-CBC`,
          aesCipher(
            "Camellia-CBC",
            key,
            () => lib.EVP_camellia_128_cbc,
            () => lib.EVP_camellia_192_cbc,
            () => lib.EVP_camellia_256_cbc,
          ),
        ),
    };
  }
  return {
    name: "AES-CBC",
    blockSize: 16,
    cipher: (key) =>
      aesCipher("AES-CBC", key, lib.EVP_aes_128_cbc, lib.EVP_aes_192_cbc, lib.EVP_aes_256_cbc),
  };
}

function aesCipher<T = Deno.PointerValue>(
  what: string,
  key: Uint8Array,
  aes128: () => T,
  aes192: () => T,
  aes256: () => T,
): T {
  if (key.length === 16) return aes128();
  if (key.length === 24) return aes192();
  if (key.length === 32) return aes256();
  throw new CryptoError(`${what} key must be 16/24/32 bytes, got ${key.length}`);
}

/**
 * An AEAD over two EVP contexts (encrypt, decrypt), keyed once.
 *
 * Per packet, the "params" sequence (chosen when {@linkcode probeFastPath}
 * found it byte-identical to the "init" one):
 *
 * - AES-GCM seal: AAD, Update, Final, then one get_params that returns the
 *   tag and arms the next IV (TLS1_GET_IV_GEN: the IV OpenSSL's invocation
 *   counter holds, which for consecutive nonces such as ESP's sequence
 *   numbers is the next one asked for; a nonce that differs re-arms first,
 *   and OpenSSL reports the armed IV, so a seal never runs under any IV but
 *   the requested one). 4 calls instead of 5, no EVP_CipherInit_ex.
 * - AES-GCM open: one set_params with the expected tag and the invocation
 *   field (TLS1_SET_IV_INV, after the 4-byte salt was fixed once), AAD,
 *   Update, Final: 4 calls instead of 5.
 * - ChaCha20-Poly1305: the nonce by set_params (TLS1_IV_FIXED, the whole
 *   12 bytes; Final left the Poly1305 state to be re-derived) instead of
 *   EVP_CipherInit_ex, whose provider path is slow; open sets tag and nonce
 *   in that one call. A sequence that broke off re-initialises next time.
 *
 * The "init" sequence is EVP_CipherInit_ex(iv), AAD, Update, Final and the
 * tag ctrl, as OpenSSL documents it.
 */
class LibcryptoAead extends EvpAeadPair {
  readonly nonceLength = 12;
  readonly sequence: LibcryptoAeadSequence;
  readonly #fast: boolean;
  readonly #gcm: boolean;
  /** GCM seal: [tag, next IV]; ChaCha seal: [tag]. */
  readonly #eGet: Deno.PointerObject;
  /** GCM: [IV] to arm; ChaCha seal: [nonce]. */
  readonly #eArm: Deno.PointerObject;
  /** GCM open: [tag, invocation field]; ChaCha open: [tag, nonce]. */
  readonly #dSet: Deno.PointerObject;
  /** GCM seal: the nonce OpenSSL has armed (valid while #armed). */
  readonly #armedIv = new Uint8Array(12);
  #armed = false;
  /** GCM open: the salt fixed in the decrypt context (valid while #salted). */
  readonly #salt = new Uint8Array(4);
  #salted = false;
  /** ChaCha20-Poly1305: a sequence broke off, so the next one starts with EVP_CipherInit_ex. */
  #encDirty = true;
  #decDirty = true;

  constructor(
    lib: Lib,
    alg: LibcryptoAeadAlg,
    key: Uint8Array,
    tagLength: number,
    fastPath: boolean,
  ) {
    super(lib, aeadCipher(lib, alg, key, tagLength), key, {
      tagLength,
      ivLength: 12,
      tagFirst: false,
      name: "AEAD",
      kind: `${alg}/${tagLength}`,
    });
    this.#gcm = alg === "aes-gcm";
    this.#fast = fastPath;
    this.sequence = fastPath ? "params" : "init";
    const sc = this.sc;
    if (this.#gcm) {
      this.#eGet = sc.params("eGet", [["tag", S_TAG, tagLength], ["tlsivgen", S_IVGEN, 8]]);
      this.#eArm = sc.params("eArm", [["tlsivgen", S_IVGEN, 8]]);
      this.#dSet = sc.params("dSet", [["tag", S_TAG, tagLength], ["tlsivinv", S_IV + 4, 8]]);
    } else {
      this.#eGet = sc.params("eGet", [["tag", S_TAG, tagLength]]);
      this.#eArm = sc.params("eArm", [["tlsivfixed", S_IV, 12]]);
      this.#dSet = sc.params("dSet", [["tag", S_TAG, tagLength], ["tlsivfixed", S_IV, 12]]);
    }
  }

  /** Encrypts `len` bytes of `input` into `out`; the tag lands in the encrypt scratch. */
  protected sealRegion(
    nonce: Uint8Array,
    aad: Uint8Array,
    input: Uint8Array,
    out: Uint8Array,
    len: number,
  ): void {
    this.check(nonce);
    const ok = !this.#fast
      ? this.#sealInit(nonce, aad, input, out, len)
      : this.#gcm
      ? this.#sealGcm(nonce, aad, input, out, len)
      : this.#sealChacha(nonce, aad, input, out, len);
    if (!ok) throw new CryptoError("libcrypto: AEAD seal failed");
  }

  /** AAD, Update and Final on the encrypt context: 1 when all succeeded. */
  #encryptBody(aad: Uint8Array, input: Uint8Array, out: Uint8Array, len: number): number {
    const lib = this.lib;
    const ctx = this.enc;
    const outl = this.es.outl;
    let ok = 1;
    const alen = aad.length;
    if (alen > AAD_MAX) {
      ok &= lib.EVP_EncryptUpdate_aad(ctx, null, outl, aad, alen);
    } else if (alen > 0) {
      const b = this.es.bytes;
      for (let i = 0; i < alen; i++) b[S_AAD + i] = aad[i];
      ok &= lib.EVP_EncryptUpdate_aadp(ctx, null, this.eOutl, this.eAad, alen);
    }
    let n = 0;
    if (len > 0) {
      ok &= lib.EVP_EncryptUpdate_p(ctx, out, this.eOutl, input, len);
      n = outl[0];
    }
    // GCM and ChaCha20-Poly1305 are stream modes: Final writes no bytes (n === length).
    ok &= lib.EVP_EncryptFinal_p(ctx, this.eFinal, this.eOutl);
    return n === len && outl[0] === 0 ? ok : 0;
  }

  #sealInit(nonce: Uint8Array, aad: Uint8Array, input: Uint8Array, out: Uint8Array, len: number) {
    const lib = this.lib;
    const ctx = this.enc;
    let ok = lib.EVP_CipherInit_iv(ctx, null, null, null, nonce, 1);
    ok &= this.#encryptBody(aad, input, out, len);
    ok &= lib.EVP_CIPHER_CTX_ctrl_p(ctx, CTRL_GET_TAG, this.tagLength, this.eTag);
    return ok === 1;
  }

  #sealGcm(nonce: Uint8Array, aad: Uint8Array, input: Uint8Array, out: Uint8Array, len: number) {
    const a = this.#armedIv;
    let same = this.#armed;
    for (let i = 11; same && i >= 0; i--) same = nonce[i] === a[i];
    if (!same) this.#armGcm(nonce);
    this.#armed = false; // until this sequence completes
    let ok = this.#encryptBody(aad, input, out, len);
    // The tag of this packet, and the IV of the next (this one + 1) armed.
    ok &= this.lib.EVP_CIPHER_CTX_get_params(this.enc, this.#eGet);
    if (ok !== 1) return false;
    const b = this.es.bytes;
    for (let i = 0; i < 8; i++) a[4 + i] = b[S_IVGEN + i];
    this.#armed = true;
    return true;
  }

  /** Sets the whole GCM IV and arms it; OpenSSL must report back exactly `nonce`. */
  #armGcm(nonce: Uint8Array): void {
    const b = this.es.bytes;
    for (let i = 0; i < 12; i++) b[S_IV + i] = nonce[i];
    // SET_IV_FIXED with length -1 restores the whole IV; IV_GEN then sets it up.
    let ok = this.lib.EVP_CIPHER_CTX_ctrl_p(this.enc, CTRL_SET_IV_FIXED, -1, this.eIv);
    ok &= this.lib.EVP_CIPHER_CTX_get_params(this.enc, this.#eArm);
    for (let i = 0; i < 8; i++) if (b[S_IVGEN + i] !== nonce[4 + i]) ok = 0;
    if (ok !== 1) throw new CryptoError("libcrypto: AES-GCM IV set-up failed");
    for (let i = 0; i < 12; i++) this.#armedIv[i] = nonce[i];
  }

  #sealChacha(nonce: Uint8Array, aad: Uint8Array, input: Uint8Array, out: Uint8Array, len: number) {
    const lib = this.lib;
    const ctx = this.enc;
    const b = this.es.bytes;
    for (let i = 0; i < 12; i++) b[S_IV + i] = nonce[i];
    let ok = this.#encDirty
      ? lib.EVP_CipherInit_p(ctx, null, null, null, this.eIv, 1)
      : lib.EVP_CIPHER_CTX_set_params(ctx, this.#eArm);
    this.#encDirty = true;
    ok &= this.#encryptBody(aad, input, out, len);
    ok &= lib.EVP_CIPHER_CTX_get_params(ctx, this.#eGet);
    if (ok !== 1) return false;
    this.#encDirty = false;
    return true;
  }

  /** Decrypts `ctLen` bytes of `input` into `out` and checks the tag already in the scratch. */
  protected openRegion(
    nonce: Uint8Array,
    aad: Uint8Array,
    input: Uint8Array,
    out: Uint8Array,
    ctLen: number,
  ): boolean {
    this.check(nonce);
    const lib = this.lib;
    const ctx = this.dec;
    const b = this.ds.bytes;
    let ok: number;
    if (!this.#fast) {
      ok = lib.EVP_CipherInit_iv(ctx, null, null, null, nonce, 0);
    } else if (this.#gcm) {
      let salted = this.#salted;
      for (let i = 0; salted && i < 4; i++) salted = nonce[i] === this.#salt[i];
      if (!salted) this.#saltGcm(nonce);
      for (let i = 4; i < 12; i++) b[S_IV + i] = nonce[i];
      ok = lib.EVP_CIPHER_CTX_set_params(ctx, this.#dSet);
    } else {
      for (let i = 0; i < 12; i++) b[S_IV + i] = nonce[i];
      if (this.#decDirty) {
        ok = lib.EVP_CipherInit_p(ctx, null, null, null, this.dIv, 0);
        ok &= lib.EVP_CIPHER_CTX_ctrl_p(ctx, CTRL_SET_TAG, this.tagLength, this.dTag);
      } else {
        ok = lib.EVP_CIPHER_CTX_set_params(ctx, this.#dSet);
      }
      this.#decDirty = true;
    }
    const outl = this.ds.outl;
    const alen = aad.length;
    if (alen > AAD_MAX) {
      ok &= lib.EVP_DecryptUpdate_aad(ctx, null, outl, aad, alen);
    } else if (alen > 0) {
      for (let i = 0; i < alen; i++) b[S_AAD + i] = aad[i];
      ok &= lib.EVP_DecryptUpdate_aadp(ctx, null, this.dOutl, this.dAad, alen);
    }
    let n = 0;
    if (ctLen > 0) {
      ok &= lib.EVP_DecryptUpdate_p(ctx, out, this.dOutl, input, ctLen);
      n = outl[0];
    }
    if (!this.#fast) {
      ok &= lib.EVP_CIPHER_CTX_ctrl_p(ctx, CTRL_SET_TAG, this.tagLength, this.dTag);
    }
    if (ok !== 1) return false;
    const verified = lib.EVP_DecryptFinal_p(ctx, this.dFinal, this.dOutl) === 1;
    // Final ends the sequence whether or not the tag matched.
    this.#decDirty = false;
    return verified && n === ctLen && outl[0] === 0;
  }

  /** Fixes the 4-byte GCM salt in the decrypt context (once per salt). */
  #saltGcm(nonce: Uint8Array): void {
    const b = this.ds.bytes;
    for (let i = 0; i < 4; i++) b[S_IV + i] = nonce[i];
    if (this.lib.EVP_CIPHER_CTX_ctrl_p(this.dec, CTRL_SET_IV_FIXED, 4, this.dIv) !== 1) {
      throw new CryptoError("libcrypto: AES-GCM salt set-up failed");
    }
    for (let i = 0; i < 4; i++) this.#salt[i] = nonce[i];
    this.#salted = true;
  }
}

/**
 * AES-CCM (RFC 4309 / RFC 5282: 11-byte nonce, L = 4) over two EVP contexts
 * (encrypt, decrypt), keyed once with the nonce and tag lengths fixed by
 * ctrl before the key. CCM needs the whole message in one Update, after its
 * length, so each packet is:
 *
 * - seal: EVP_CipherInit_ex(iv), Update(NULL, NULL, plaintext length),
 *   Update(AAD), Update(plaintext), GET_TAG ctrl (5 calls);
 * - open: EVP_CipherInit_ex(iv), SET_TAG ctrl, Update(NULL, NULL, ciphertext
 *   length), Update(AAD), Update(ciphertext), which verifies the tag and
 *   fails on a mismatch (5 calls; no Final).
 *
 * Nonce, AAD (up to 32 bytes), tag and output length live in native scratch
 * passed by address, so the in-place calls allocate nothing. On a bad tag
 * OpenSSL wipes the output, so an in-place open that fails leaves zeros
 * where the ciphertext was (the caller drops the packet either way).
 */
class LibcryptoCcm extends EvpAeadPair {
  readonly nonceLength = 11;
  readonly sequence: LibcryptoAeadSequence = "init";

  constructor(lib: Lib, key: Uint8Array, tagLength: number) {
    if (tagLength !== 8 && tagLength !== 12 && tagLength !== 16) {
      throw new CryptoError(`AES-CCM tag must be 8/12/16 bytes, got ${tagLength}`);
    }
    const cipher = aesCipher(
      "AES-CCM",
      key,
      lib.EVP_aes_128_ccm,
      lib.EVP_aes_192_ccm,
      lib.EVP_aes_256_ccm,
    );
    super(lib, cipher, key, {
      tagLength,
      ivLength: 11,
      tagFirst: true,
      name: "AES-CCM",
      kind: `aes-ccm/${tagLength}`,
    });
  }

  /** Nonce to the scratch, then the AAD Update (with the length Update before it). */
  #begin(
    ctx: Deno.PointerObject,
    s: NativeScratch,
    ivPtr: Deno.PointerObject,
    outlPtr: Deno.PointerObject,
    aadPtr: Deno.PointerObject,
    enc: 0 | 1,
    nonce: Uint8Array,
    aad: Uint8Array,
    len: number,
  ): number {
    this.check(nonce);
    const lib = this.lib;
    const b = s.bytes;
    for (let i = 0; i < 11; i++) b[S_IV + i] = nonce[i];
    let ok = lib.EVP_CipherInit_p(ctx, null, null, null, ivPtr, enc);
    if (enc === 0) ok &= lib.EVP_CIPHER_CTX_ctrl_p(ctx, CTRL_SET_TAG, this.tagLength, this.dTag);
    const update = enc ? lib.EVP_EncryptUpdate_aadp : lib.EVP_DecryptUpdate_aadp;
    // CCM: the message length first (NULL in and out), then the AAD.
    ok &= update(ctx, null, outlPtr, null, len);
    const alen = aad.length;
    if (alen > AAD_MAX) {
      const f = enc ? lib.EVP_EncryptUpdate_aad : lib.EVP_DecryptUpdate_aad;
      ok &= f(ctx, null, s.outl, aad, alen);
    } else if (alen > 0) {
      for (let i = 0; i < alen; i++) b[S_AAD + i] = aad[i];
      ok &= update(ctx, null, outlPtr, aadPtr, alen);
    }
    return ok;
  }

  protected sealRegion(
    nonce: Uint8Array,
    aad: Uint8Array,
    input: Uint8Array,
    out: Uint8Array,
    len: number,
  ): void {
    const lib = this.lib;
    const ctx = this.enc;
    let ok = this.#begin(ctx, this.es, this.eIv, this.eOutl, this.eAad, 1, nonce, aad, len);
    // An empty message still needs the Update with non-NULL buffers that computes the tag.
    ok &= len > 0
      ? lib.EVP_EncryptUpdate_p(ctx, out, this.eOutl, input, len)
      : lib.EVP_EncryptUpdate_aadp(ctx, this.eFinal, this.eOutl, this.eAad, 0);
    const n = this.es.outl[0];
    ok &= lib.EVP_CIPHER_CTX_ctrl_p(ctx, CTRL_GET_TAG, this.tagLength, this.eTag);
    if (ok !== 1 || n !== len) throw new CryptoError("libcrypto: AES-CCM seal failed");
  }

  protected openRegion(
    nonce: Uint8Array,
    aad: Uint8Array,
    input: Uint8Array,
    out: Uint8Array,
    ctLen: number,
  ): boolean {
    const lib = this.lib;
    const ctx = this.dec;
    let ok = this.#begin(ctx, this.ds, this.dIv, this.dOutl, this.dAad, 0, nonce, aad, ctLen);
    if (ok !== 1) return false;
    // This Update decrypts and verifies the tag (OpenSSL wipes `out` on a mismatch).
    ok = ctLen > 0
      ? lib.EVP_DecryptUpdate_p(ctx, out, this.dOutl, input, ctLen)
      : lib.EVP_DecryptUpdate_aadp(ctx, this.dFinal, this.dOutl, this.dAad, 0);
    return ok === 1 && this.ds.outl[0] === ctLen;
  }
}

/**
 * AES-GMAC (RFC 4543) over one AES-GCM encrypt context keyed once. Per tag:
 * EVP_CipherInit_ex(iv), an AAD Update for the head (from the scratch), an
 * AAD Update for the range (the packet as a typed array, one cached view per
 * (buffer, offset)), Final (no plaintext) and the GET_TAG ctrl: 5 calls, no
 * allocation. Verification is the caller's constant-time compare of the tag.
 */
class LibcryptoGmac implements GmacRange, LibcryptoHandle {
  readonly backend = "libcrypto" as const;
  readonly nonceLength = 12;
  readonly tagLength = 16;
  readonly #lib: Lib;
  readonly #ctx: Deno.PointerObject;
  readonly #s = new NativeScratch();
  readonly #outl: Deno.PointerObject;
  readonly #aad: Deno.PointerObject;
  readonly #iv: Deno.PointerObject;
  readonly #tag: Deno.PointerObject;
  readonly #final: Deno.PointerObject;
  readonly #views = new ViewCache();
  readonly #ctxs: CipherContexts;

  constructor(lib: Lib, key: Uint8Array) {
    const cipher = aesCipher(
      "AES-GMAC",
      key,
      lib.EVP_aes_128_gcm,
      lib.EVP_aes_192_gcm,
      lib.EVP_aes_256_gcm,
    );
    this.#lib = lib;
    const s = this.#s;
    this.#outl = s.ptr(S_OUTL);
    this.#aad = s.ptr(S_AAD);
    this.#iv = s.ptr(S_IV);
    this.#tag = s.ptr(S_TAG);
    this.#final = s.ptr(S_FINAL);
    this.#ctxs = new CipherContexts(lib, this);
    this.#ctx = this.#ctxs.add();
    if (
      lib.EVP_CipherInit_ex(this.#ctx, cipher, null, null, null, 1) !== 1 ||
      lib.EVP_CIPHER_CTX_ctrl(this.#ctx, CTRL_SET_IVLEN, 12, null) !== 1 ||
      lib.EVP_CipherInit_ex(this.#ctx, null, null, key, null, 1) !== 1
    ) {
      this.free();
      throw new CryptoError("libcrypto: AES-GMAC init failed");
    }
  }

  compute(nonce: Uint8Array, ...aad: Uint8Array[]): Uint8Array {
    let ok = this.#begin(nonce);
    for (const a of aad) ok &= this.#update(a, a.length);
    const out = new Uint8Array(16);
    this.#finish(ok, out, 0);
    return out;
  }

  computeRange(
    out: Uint8Array,
    outOffset: number,
    nonce: Uint8Array,
    head: Uint8Array,
    buf: Uint8Array,
    start: number,
    end: number,
  ): void {
    if (start < 0 || start > end || end > buf.length || outOffset + 16 > out.length) {
      throw new CryptoError("AES-GMAC range out of bounds");
    }
    let ok = this.#begin(nonce);
    ok &= this.#update(head, head.length);
    if (end > start) {
      const region = this.#views.at(buf, start);
      ok &= this.#lib.EVP_EncryptUpdate_aad(this.#ctx, null, this.#s.outl, region, end - start);
    }
    this.#finish(ok, out, outOffset);
  }

  #begin(nonce: Uint8Array): number {
    if (this.#ctxs.freed) throw new CryptoError("libcrypto: AES-GMAC used after free()");
    if (nonce.length !== 12) throw new CryptoError(`nonce must be 12 bytes, got ${nonce.length}`);
    const b = this.#s.bytes;
    for (let i = 0; i < 12; i++) b[S_IV + i] = nonce[i];
    return this.#lib.EVP_CipherInit_p(this.#ctx, null, null, null, this.#iv, 1);
  }

  /** One AAD Update: short AAD through the scratch, longer as a typed array. */
  #update(a: Uint8Array, len: number): number {
    if (len === 0) return 1;
    const lib = this.#lib;
    if (len > AAD_MAX) return lib.EVP_EncryptUpdate_aad(this.#ctx, null, this.#s.outl, a, len);
    const b = this.#s.bytes;
    for (let i = 0; i < len; i++) b[S_AAD + i] = a[i];
    return lib.EVP_EncryptUpdate_aadp(this.#ctx, null, this.#outl, this.#aad, len);
  }

  #finish(ok: number, out: Uint8Array, at: number): void {
    const lib = this.#lib;
    ok &= lib.EVP_EncryptFinal_p(this.#ctx, this.#final, this.#outl);
    ok &= lib.EVP_CIPHER_CTX_ctrl_p(this.#ctx, CTRL_GET_TAG, 16, this.#tag);
    if (ok !== 1 || this.#s.outl[0] !== 0) throw new CryptoError("libcrypto: AES-GMAC failed");
    const b = this.#s.bytes;
    for (let i = 0; i < 16; i++) out[at + i] = b[S_TAG + i];
  }

  free(): void {
    if (!this.#ctxs.free()) return;
    this.#views.clear();
  }
}

const fastPathVerdict = new Map<LibcryptoAeadAlg, boolean>();

/**
 * Whether the "params" per-packet sequence of {@linkcode LibcryptoAead}
 * gives the same bytes as the documented one with this libcrypto: a few
 * packets with consecutive and jumping nonces, AAD of 0/8/12/40 bytes, a
 * forged tag followed by a good one. Run once per algorithm and process.
 */
function probeFastPath(lib: Lib, alg: LibcryptoAeadAlg): boolean {
  let v = fastPathVerdict.get(alg);
  if (v !== undefined) return v;
  v = false;
  // OSSL_PARAM is laid out for LP64 little-endian here.
  if (Deno.build.arch === "x86_64" || Deno.build.arch === "aarch64") {
    let fast: LibcryptoAead | undefined;
    let plain: LibcryptoAead | undefined;
    try {
      const key = new Uint8Array(alg === "aes-gcm" ? 16 : 32).map((_, i) => i * 7 + 1);
      fast = new LibcryptoAead(lib, alg, key, 16, true);
      plain = new LibcryptoAead(lib, alg, key, 16, false);
      v = probePackets(fast, plain);
    } catch {
      v = false;
    } finally {
      fast?.free();
      plain?.free();
    }
  }
  fastPathVerdict.set(alg, v);
  return v;
}

function probePackets(fast: LibcryptoAead, plain: LibcryptoAead): boolean {
  const same = (a: Uint8Array | null, b: Uint8Array | null) =>
    a !== null && b !== null && a.length === b.length && a.every((x, i) => x === b[i]);
  const nonce = Uint8Array.of(0xa1, 0xb2, 0xc3, 0xd4, 0, 0, 0, 0, 0, 0, 0, 1);
  const lengths = [0, 1, 64, 1400, 17, 300, 5];
  const aadLengths = [8, 12, 0, 40, 8, 12, 8];
  for (let p = 0; p < lengths.length; p++) {
    if (p === 4) nonce[6] ^= 0x5a; // a jump: GCM re-arms
    const pt = new Uint8Array(lengths[p]).map((_, i) => (p * 31 + i) & 0xff);
    const aad = new Uint8Array(aadLengths[p]).fill(p + 1);
    const sealed = fast.seal(nonce, pt, aad);
    if (!same(sealed, plain.seal(nonce, pt, aad))) return false;
    const forged = sealed.slice();
    forged[forged.length - 1] ^= 1;
    if (fast.open(nonce, forged, aad) !== null) return false;
    if (!same(fast.open(nonce, sealed, aad), pt)) return false;
    for (let i = 11; i >= 4; i--) {
      nonce[i] = (nonce[i] + 1) & 0xff;
      if (nonce[i] !== 0) break;
    }
  }
  return true;
}

class LibcryptoCbc implements BlockCipherRange, LibcryptoHandle {
  readonly backend = "libcrypto" as const;
  readonly blockSize: number;
  readonly ivLength: number;
  /** "AES-CBC", "3DES-CBC" or "Camellia-CBC", for errors. */
  readonly #name: string;
  readonly #lib: Lib;
  readonly #enc: Deno.PointerObject;
  readonly #dec: Deno.PointerObject;
  readonly #outl = new Int32Array(1);
  /** Native copy of the IV and its address (the range calls pass it by address). */
  readonly #iv: Uint8Array;
  readonly #ivPtr: Deno.PointerObject;
  readonly #outlPtr: Deno.PointerObject;
  // One cached view per direction for the range calls (same buffer and offset each packet).
  readonly #encViews = new ViewCache();
  readonly #decViews = new ViewCache();
  readonly #ctxs: CipherContexts;
  /**
   * The range calls keep each context running instead of setting the IV per
   * packet (EVP_CipherInit_ex costs more than encrypting 80 bytes): a CBC
   * context carries the last ciphertext block into its next Update, and
   * these hold that block. Encrypting, the first plaintext block is XORed
   * with IV ^ chain first, so E(P1 ^ IV) comes out as with a fresh IV;
   * decrypting, the first output block is XORed with chain ^ IV after.
   * False: the context's chaining value is unknown (new, or after a
   * whole-buffer call or a failure), so the next range call sets the IV.
   */
  readonly #encChain: Uint8Array;
  readonly #decChain: Uint8Array;
  readonly #lastBlock: Uint8Array;
  #encChained = false;
  #decChained = false;

  constructor(lib: Lib, key: Uint8Array, spec: CbcSpec) {
    const cipher = spec.cipher(key);
    this.#name = spec.name;
    this.blockSize = this.ivLength = spec.blockSize;
    this.#iv = new Uint8Array(spec.blockSize);
    this.#encChain = new Uint8Array(spec.blockSize);
    this.#decChain = new Uint8Array(spec.blockSize);
    this.#lastBlock = new Uint8Array(spec.blockSize);
    this.#lib = lib;
    this.#ivPtr = addressOf(this.#iv);
    this.#outlPtr = addressOf(this.#outl);
    this.#ctxs = new CipherContexts(lib, this);
    this.#enc = this.#ctxs.add();
    this.#dec = this.#ctxs.add();
    for (const [ctx, enc] of [[this.#enc, 1], [this.#dec, 0]] as const) {
      if (
        lib.EVP_CipherInit_ex(ctx, cipher, null, key, null, enc) !== 1 ||
        lib.EVP_CIPHER_CTX_set_padding(ctx, 0) !== 1
      ) {
        this.free();
        throw new CryptoError(`libcrypto: ${spec.name} init failed`);
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

  encryptRange(iv: Uint8Array, ivOffset: number, buf: Uint8Array, start: number, end: number) {
    this.#range(1, iv, ivOffset, buf, start, end);
  }
  decryptRange(iv: Uint8Array, ivOffset: number, buf: Uint8Array, start: number, end: number) {
    this.#range(0, iv, ivOffset, buf, start, end);
  }

  #range(
    enc: number,
    iv: Uint8Array,
    ivOffset: number,
    buf: Uint8Array,
    start: number,
    end: number,
  ): void {
    const name = this.#name, bs = this.blockSize;
    if (this.#ctxs.freed) throw new CryptoError(`libcrypto: ${name} used after free()`);
    const len = end - start;
    if (ivOffset < 0 || ivOffset + bs > iv.length) {
      throw new CryptoError(`${name} IV must be ${bs} bytes`);
    }
    if (start < 0 || len < 0 || end > buf.length || len % bs !== 0) {
      throw new CryptoError(`${name} data must be a multiple of ${bs} bytes inside the buffer`);
    }
    const view = (enc ? this.#encViews : this.#decViews).at(buf, start);
    if (len === 0) return;
    const lib = this.#lib;
    let ok = 1;
    if (enc) {
      const ctx = this.#enc;
      const chain = this.#encChain;
      if (this.#encChained) {
        for (let i = 0; i < bs; i++) buf[start + i] ^= iv[ivOffset + i] ^ chain[i];
      } else {
        this.#setIv(iv, ivOffset);
        ok = lib.EVP_CipherInit_p(ctx, null, null, null, this.#ivPtr, 1);
      }
      this.#encChained = false;
      ok &= lib.EVP_EncryptUpdate_p(ctx, view, this.#outlPtr, view, len);
      if (ok !== 1) throw new CryptoError(`libcrypto: ${name} failed`);
      for (let i = 0; i < bs; i++) chain[i] = buf[end - bs + i];
      this.#encChained = true;
    } else {
      const ctx = this.#dec;
      const chain = this.#decChain;
      const last = this.#lastBlock;
      for (let i = 0; i < bs; i++) last[i] = buf[end - bs + i];
      const chained = this.#decChained;
      if (!chained) {
        this.#setIv(iv, ivOffset);
        ok = lib.EVP_CipherInit_p(ctx, null, null, null, this.#ivPtr, 0);
      }
      this.#decChained = false;
      ok &= lib.EVP_DecryptUpdate_p(ctx, view, this.#outlPtr, view, len);
      if (ok !== 1) throw new CryptoError(`libcrypto: ${name} failed`);
      if (chained) {
        for (let i = 0; i < bs; i++) buf[start + i] ^= chain[i] ^ iv[ivOffset + i];
      }
      chain.set(last);
      this.#decChained = true;
    }
  }

  #setIv(iv: Uint8Array, ivOffset: number): void {
    const n = this.#iv;
    for (let i = 0; i < n.length; i++) n[i] = iv[ivOffset + i];
  }

  #run(ctx: Deno.PointerObject, enc: number, iv: Uint8Array, data: Uint8Array, out: Uint8Array) {
    const name = this.#name, bs = this.blockSize;
    if (this.#ctxs.freed) throw new CryptoError(`libcrypto: ${name} used after free()`);
    if (iv.length !== bs) throw new CryptoError(`${name} IV must be ${bs} bytes, got ${iv.length}`);
    if (data.length % bs !== 0) {
      throw new CryptoError(`${name} data must be a multiple of ${bs} bytes, got ${data.length}`);
    }
    if (out.length < data.length) throw new CryptoError(`${name} output buffer too small`);
    const lib = this.#lib;
    if (enc) this.#encChained = false;
    else this.#decChained = false;
    let ok = lib.EVP_CipherInit_iv(ctx, null, null, null, iv, enc);
    if (data.length > 0) {
      ok &= enc
        ? lib.EVP_EncryptUpdate(ctx, out, this.#outl, data, data.length)
        : lib.EVP_DecryptUpdate(ctx, out, this.#outl, data, data.length);
    }
    if (ok !== 1) throw new CryptoError(`libcrypto: ${name} failed`);
  }

  free(): void {
    if (!this.#ctxs.free()) return;
    this.#encViews.clear();
    this.#decViews.clear();
  }
}

/**
 * AES-CTR (RFC 3686) on one encrypting EVP context (CTR decryption is the
 * same keystream XOR). Per call: EVP_CipherInit_ex with only the counter
 * block (which also drops any keystream left from the previous call), then
 * one EVP_EncryptUpdate in place. The counter block goes by address from a
 * native copy; the range calls reuse one view per (buffer, offset).
 */
class LibcryptoCtr implements BlockCipherRange, BlockCipherInPlace, LibcryptoHandle {
  readonly backend = "libcrypto" as const;
  readonly blockSize = 1;
  readonly ivLength = 16;
  readonly #lib: Lib;
  readonly #ctx: Deno.PointerObject;
  readonly #outl = new Int32Array(1);
  readonly #iv = new Uint8Array(16);
  readonly #ivPtr: Deno.PointerObject;
  readonly #outlPtr: Deno.PointerObject;
  readonly #views = new ViewCache();
  readonly #ctxs: CipherContexts;
  readonly #name: string;

  constructor(lib: Lib, key: Uint8Array, name: "AES-CTR" | "Camellia-CTR") {
    const cipher = name === "AES-CTR"
      ? aesCipher(name, key, lib.EVP_aes_128_ctr, lib.EVP_aes_192_ctr, lib.EVP_aes_256_ctr)
      : optionalCipher(
        `Camellia-${key.length * 8}-CTR`,
        aesCipher(
          name,
          key,
          () => lib.EVP_camellia_128_ctr,
          () => lib.EVP_camellia_192_ctr,
          () => lib.EVP_camellia_256_ctr,
        ),
      );
    this.#name = name;
    this.#lib = lib;
    this.#ivPtr = addressOf(this.#iv);
    this.#outlPtr = addressOf(this.#outl);
    this.#ctxs = new CipherContexts(lib, this);
    this.#ctx = this.#ctxs.add();
    if (lib.EVP_CipherInit_ex(this.#ctx, cipher, null, key, null, 1) !== 1) {
      this.free();
      throw new CryptoError(`libcrypto: ${name} init failed`);
    }
  }

  encrypt(iv: Uint8Array, data: Uint8Array): Uint8Array {
    if (iv.length !== 16) throw new CryptoError(`${this.#name} counter block must be 16 bytes`);
    const out = data.slice();
    this.#xorRange(iv, 0, out, 0, out.length);
    return out;
  }
  decrypt(iv: Uint8Array, data: Uint8Array): Uint8Array {
    return this.encrypt(iv, data);
  }
  /** Encrypts into `out` (may alias `data` exactly). */
  encryptTo(iv: Uint8Array, data: Uint8Array, out: Uint8Array): void {
    if (iv.length !== 16) throw new CryptoError(`${this.#name} counter block must be 16 bytes`);
    if (out.length < data.length) throw new CryptoError(`${this.#name} output buffer too small`);
    if (out !== data) out.set(data);
    this.#xorRange(iv, 0, out, 0, data.length);
  }
  /** Decrypts into `out` (may alias `data` exactly). */
  decryptTo(iv: Uint8Array, data: Uint8Array, out: Uint8Array): void {
    this.encryptTo(iv, data, out);
  }
  encryptRange(iv: Uint8Array, ivOffset: number, buf: Uint8Array, start: number, end: number) {
    this.#xorRange(iv, ivOffset, buf, start, end);
  }
  decryptRange(iv: Uint8Array, ivOffset: number, buf: Uint8Array, start: number, end: number) {
    this.#xorRange(iv, ivOffset, buf, start, end);
  }

  /** XORs `buf[start..end)` in place with the keystream of the counter block at `iv[ivOffset..)`. */
  #xorRange(iv: Uint8Array, ivOffset: number, buf: Uint8Array, start: number, end: number): void {
    if (this.#ctxs.freed) throw new CryptoError(`libcrypto: ${this.#name} used after free()`);
    const len = end - start;
    if (start < 0 || len < 0 || end > buf.length) {
      throw new CryptoError(`${this.#name} range outside the buffer`);
    }
    checkCtrRange(iv, ivOffset, len);
    if (len === 0) return;
    const view = this.#views.at(buf, start);
    const n = this.#iv;
    for (let i = 0; i < 16; i++) n[i] = iv[ivOffset + i];
    const lib = this.#lib;
    const ctx = this.#ctx;
    let ok = lib.EVP_CipherInit_p(ctx, null, null, null, this.#ivPtr, 1);
    ok &= lib.EVP_EncryptUpdate_p(ctx, view, this.#outlPtr, view, len);
    if (ok !== 1) throw new CryptoError(`libcrypto: ${this.#name} failed`);
  }

  free(): void {
    if (!this.#ctxs.free()) return;
    this.#views.clear();
  }
}

const HASH_LEN: Record<LibcryptoHash, number> = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 };
const HASH_BLOCK: Record<LibcryptoHash, number> = {
  sha1: 64,
  sha256: 64,
  sha384: 128,
  sha512: 128,
};

// The low-level hash functions (SHA256_Init, ...; deprecated in OpenSSL 3
// but exported), optional: a libcrypto built without deprecated APIs lacks
// them and HMAC stays on HMAC_CTX. Lengths go as u32 like HMAC_Update's
// above (a packet is far below 4 GB). Each hash is opened as its own symbol
// set and called from its own sites in `shaInit`..`shaFinalP`: one site
// reaching several FFI functions loses V8's fast calls (about 1 us per MAC
// instead of 0.25).
function shaSymbols(prefix: string) {
  return {
    init: { name: `${prefix}_Init`, parameters: ["pointer"], result: "i32", optional: true },
    update: {
      name: `${prefix}_Update`,
      parameters: ["pointer", "buffer", "u32"],
      result: "i32",
      optional: true,
    },
    updateP: {
      name: `${prefix}_Update`,
      parameters: ["pointer", "pointer", "u32"],
      result: "i32",
      optional: true,
    },
    final: {
      name: `${prefix}_Final`,
      parameters: ["buffer", "pointer"],
      result: "i32",
      optional: true,
    },
    finalP: {
      name: `${prefix}_Final`,
      parameters: ["pointer", "pointer"],
      result: "i32",
      optional: true,
    },
  } as const;
}

type ShaFns = Deno.DynamicLibrary<ReturnType<typeof shaSymbols>>["symbols"];
type Sha = Record<LibcryptoHash, ShaFns | null>;
type Ptr = Deno.PointerObject;

const SHA_PREFIX: Record<LibcryptoHash, string> = {
  sha1: "SHA1",
  sha256: "SHA256",
  sha384: "SHA384",
  sha512: "SHA512",
};
const shaLibs = new Map<string, Sha>();

/**
 * The low-level hash functions in the library at `path` (each hash's set,
 * null where the library lacks one), when `hash` has all of them; else null.
 * (Whether they agree with HMAC_CTX is checked per instance in
 * {@linkcode LibcryptoHmac}.)
 */
function shaFunctions(path: string, hash: LibcryptoHash): Sha | null {
  let sets = shaLibs.get(path);
  if (sets === undefined) {
    const open = (h: LibcryptoHash): ShaFns | null => {
      try {
        const f = Deno.dlopen(path, shaSymbols(SHA_PREFIX[h])).symbols;
        return f.init && f.update && f.updateP && f.final && f.finalP ? f : null;
      } catch {
        return null;
      }
    };
    sets = {
      sha1: open("sha1"),
      sha256: open("sha256"),
      sha384: open("sha384"),
      sha512: open("sha512"),
    };
    shaLibs.set(path, sets);
  }
  return sets[hash] !== null ? sets : null;
}

/** Hash numbers for the `sha*` switches. */
const SHA_ID: Record<LibcryptoHash, number> = { sha1: 1, sha256: 256, sha384: 384, sha512: 512 };

function shaInit(f: Sha, h: number, c: Ptr): number {
  if (h === 1) return f.sha1!.init!(c);
  if (h === 256) return f.sha256!.init!(c);
  if (h === 384) return f.sha384!.init!(c);
  return f.sha512!.init!(c);
}
function shaUpdate(f: Sha, h: number, c: Ptr, d: Uint8Array, n: number): number {
  if (h === 1) return f.sha1!.update!(c, d, n);
  if (h === 256) return f.sha256!.update!(c, d, n);
  if (h === 384) return f.sha384!.update!(c, d, n);
  return f.sha512!.update!(c, d, n);
}
function shaUpdateP(f: Sha, h: number, c: Ptr, d: Ptr, n: number): number {
  if (h === 1) return f.sha1!.updateP!(c, d, n);
  if (h === 256) return f.sha256!.updateP!(c, d, n);
  if (h === 384) return f.sha384!.updateP!(c, d, n);
  return f.sha512!.updateP!(c, d, n);
}
function shaFinal(f: Sha, h: number, md: Uint8Array, c: Ptr): number {
  if (h === 1) return f.sha1!.final!(md, c);
  if (h === 256) return f.sha256!.final!(md, c);
  if (h === 384) return f.sha384!.final!(md, c);
  return f.sha512!.final!(md, c);
}
function shaFinalP(f: Sha, h: number, md: Ptr, c: Ptr): number {
  if (h === 1) return f.sha1!.finalP!(md, c);
  if (h === 256) return f.sha256!.finalP!(md, c);
  if (h === 384) return f.sha384!.finalP!(md, c);
  return f.sha512!.finalP!(md, c);
}

// Layout of LibcryptoHmac's native state block: the working hash state, the
// states after the inner and outer key blocks, the inner digest.
const H_WORK = 0;
const H_INNER = 256; // >= sizeof(SHA512_CTX) = 216
const H_OUTER = 512;
const H_MD = 768;
const H_SIZE = 832;

/**
 * HMAC (RFC 2104) over one HMAC_CTX, or, where the low-level hash functions
 * are there and agree with it (checked per instance), over precomputed
 * inner and outer hash states: per MAC two 256-byte copies inside one
 * native block, Update, Final, Update, Final. OpenSSL 3's own HMAC restart
 * copies its digest contexts through the provider (an allocation and a free
 * each), which makes it about 1.5x slower on a small packet.
 */
class LibcryptoHmac implements MacRange, LibcryptoHandle {
  readonly backend = "libcrypto" as const;
  readonly outputLength: number;
  readonly #lib: Lib;
  readonly #ctx: Deno.PointerObject;
  readonly #outl = new Uint32Array(1);
  // One cached view for computeRange (same buffer and offset each packet).
  readonly #rangeViews = new ViewCache();
  readonly #handle: { lib: Lib; ctx: Deno.PointerValue };
  #freed = false;
  /** The low-level path, or null (then HMAC_CTX). */
  #sha: Sha | null = null;
  /** SHA_ID of the hash. */
  readonly #h: number;
  readonly #state = new Uint8Array(H_SIZE);
  #work: Deno.PointerObject | null = null;
  #md: Deno.PointerObject | null = null;

  constructor(lib: Lib, alg: `hmac-${LibcryptoHash}`, key: Uint8Array, path: string) {
    const hash = alg.slice(5) as LibcryptoHash;
    let md: Deno.PointerValue;
    if (hash === "sha1") md = lib.EVP_sha1();
    else if (hash === "sha256") md = lib.EVP_sha256();
    else if (hash === "sha384") md = lib.EVP_sha384();
    else if (hash === "sha512") md = lib.EVP_sha512();
    else throw new CryptoError(`libcrypto: unsupported MAC ${alg}`);
    this.#lib = lib;
    this.outputLength = HASH_LEN[hash];
    this.#h = SHA_ID[hash];
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
    const sha = shaFunctions(path, hash);
    if (sha !== null && this.#precompute(sha, hash, key)) this.#sha = sha;
  }

  /** Sets up the low-level path and checks it against HMAC_CTX; false: not usable. */
  #precompute(sha: Sha, hash: LibcryptoHash, key: Uint8Array): boolean {
    const st = this.#state;
    const base = Deno.UnsafePointer.of(st);
    if (base === null) return false;
    const work = base;
    const mdp = Deno.UnsafePointer.offset(base, H_MD);
    if (mdp === null) return false;
    const block = HASH_BLOCK[hash];
    const hlen = HASH_LEN[hash];
    const h = this.#h;
    let k = key;
    if (k.length > block) {
      // RFC 2104 section 2: a key longer than the block is hashed first.
      if (shaInit(sha, h, work) !== 1 || shaUpdate(sha, h, work, k, k.length) !== 1) return false;
      if (shaFinalP(sha, h, mdp, work) !== 1) return false;
      k = st.slice(H_MD, H_MD + hlen);
    }
    const pad = new Uint8Array(block);
    for (const [at, x] of [[H_INNER, 0x36], [H_OUTER, 0x5c]] as const) {
      for (let i = 0; i < block; i++) pad[i] = (i < k.length ? k[i] : 0) ^ x;
      if (shaInit(sha, h, work) !== 1 || shaUpdate(sha, h, work, pad, block) !== 1) return false;
      st.copyWithin(at, H_WORK, H_WORK + 256);
    }
    this.#work = work;
    this.#md = mdp;
    // Self-test against the HMAC API on a message of two and a half blocks.
    const msg = new Uint8Array(block * 2 + block / 2);
    for (let i = 0; i < msg.length; i++) msg[i] = (i * 131 + 7) & 0xff;
    const want = new Uint8Array(this.outputLength);
    const got = new Uint8Array(this.outputLength);
    this.#legacy(want, msg, msg.length, EMPTY);
    if (!this.#lowLevel(sha, got, msg, msg.length, EMPTY)) return false;
    for (let i = 0; i < got.length; i++) if (got[i] !== want[i]) return false;
    return true;
  }

  /** Whether the low-level hash path is in use (else HMAC_CTX). */
  get lowLevel(): boolean {
    return this.#sha !== null;
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
    const sha = this.#sha;
    if (sha !== null) {
      const work = this.#work!;
      this.#state.copyWithin(H_WORK, H_INNER, H_INNER + 256);
      let ok = 1;
      for (const p of parts) if (p.length > 0) ok &= shaUpdate(sha, this.#h, work, p, p.length);
      if (ok === 1 && this.#outer(sha, out)) return;
      throw new CryptoError("libcrypto: HMAC failed");
    }
    const lib = this.#lib;
    const ctx = this.#ctx;
    // NULL key and NULL md: restart with the key already set.
    let ok = lib.HMAC_restart(ctx, null, 0, null, null);
    for (const p of parts) if (p.length > 0) ok &= lib.HMAC_Update(ctx, p, p.length);
    ok &= lib.HMAC_Final(ctx, out, this.#outl);
    if (ok !== 1) throw new CryptoError("libcrypto: HMAC failed");
  }

  /** The MAC of `buf[start..end)` followed by `tail`, into `out[0..outputLength)`. */
  computeRange(out: Uint8Array, buf: Uint8Array, start: number, end: number, tail: Uint8Array) {
    if (this.#freed) throw new CryptoError("libcrypto: HMAC used after free()");
    if (out.length < this.outputLength) throw new CryptoError("HMAC output buffer too small");
    if (start < 0 || end < start || end > buf.length) throw new CryptoError("HMAC range outside");
    const view = this.#rangeViews.at(buf, start);
    const ok = this.#sha !== null
      ? this.#lowLevel(this.#sha, out, view, end - start, tail)
      : this.#legacy(out, view, end - start, tail);
    if (!ok) throw new CryptoError("libcrypto: HMAC failed");
  }

  /** HMAC of `view[0..len)` + `tail` through the precomputed states. */
  #lowLevel(sha: Sha, out: Uint8Array, view: Uint8Array, len: number, tail: Uint8Array) {
    const work = this.#work!;
    const h = this.#h;
    this.#state.copyWithin(H_WORK, H_INNER, H_INNER + 256);
    let ok = 1;
    if (len > 0) ok &= shaUpdate(sha, h, work, view, len);
    if (tail.length > 0) ok &= shaUpdate(sha, h, work, tail, tail.length);
    return ok === 1 && this.#outer(sha, out);
  }

  /** Finishes the inner hash in the working state and writes the outer one to `out`. */
  #outer(sha: Sha, out: Uint8Array): boolean {
    const work = this.#work!;
    const md = this.#md!;
    const h = this.#h;
    let ok = shaFinalP(sha, h, md, work);
    this.#state.copyWithin(H_WORK, H_OUTER, H_OUTER + 256);
    ok &= shaUpdateP(sha, h, work, md, this.outputLength);
    ok &= shaFinal(sha, h, out, work); // callers checked out.length >= outputLength
    return ok === 1;
  }

  /** HMAC of `view[0..len)` + `tail` through HMAC_CTX. */
  #legacy(out: Uint8Array, view: Uint8Array, len: number, tail: Uint8Array): boolean {
    const lib = this.#lib;
    const ctx = this.#ctx;
    let ok = lib.HMAC_restart(ctx, null, 0, null, null);
    if (len > 0) ok &= lib.HMAC_Update(ctx, view, len);
    if (tail.length > 0) ok &= lib.HMAC_Update(ctx, tail, tail.length);
    ok &= lib.HMAC_Final(ctx, out, this.#outl);
    return ok === 1;
  }

  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    this.#rangeViews.clear();
    this.#sha = null;
    hmacRegistry.unregister(this);
    if (this.#handle.ctx) this.#lib.HMAC_CTX_free(this.#handle.ctx);
    this.#handle.ctx = null;
  }
}
