/**
 * Factories for the keyed primitives of lib/crypto/types.ts over the
 * software backends: "node" (node:crypto, native OpenSSL inside Deno) and
 * "noble" (pure JavaScript). When no backend is given the faster one that
 * supports the algorithm is used: node (measured ~3-10x faster than noble for
 * 1400-byte packets, see tests/bench/crypto_bench.ts), except AES-192-GCM/CBC
 * where Deno's node:crypto has no aes-192-gcm/cbc and noble is the only choice
 * (it does have aes-192-ctr).
 * The system-libcrypto FFI backend lives in ffi/libcrypto.ts and implements
 * the same interfaces.
 *
 * Integrity truncation (HMAC-SHA2-256-128, AES-XCBC-96, ...) is the caller's:
 * a {@link Mac} returns the full output, {@link createIntegMac} tells the ICV
 * length.
 *
 * @module
 */
import { CryptoError } from "./types.ts";
import type { Aead, BlockCipher, Gmac, Mac, Prf } from "./types.ts";
import type { AesMode, HashName, Provider } from "./_provider.ts";
import { camelliaCbcDecrypt, camelliaCbcEncrypt, camelliaCtrXor, CamelliaKey } from "./camellia.ts";
import { nobleProvider } from "./_noble.ts";
import { nodeProvider } from "./_node.ts";
import { aesXcbcPrfKey, createAesXcbcMac } from "./aes_xcbc.ts";
import { aesCmacPrfKey, createAesCmac } from "./aes_cmac.ts";
import { createCcmAead } from "./aes_ccm.ts";
import { EncrId, integInfo, type MacAlgorithm, prfInfo } from "./transforms.ts";

export type { MacAlgorithm } from "./transforms.ts";

/** The in-process software backends these factories can build on. */
export type SoftwareBackend = "noble" | "node";
/** AEAD algorithms of {@link createAead}. */
export type AeadAlgorithm = "aes-gcm" | "aes-ccm" | "chacha20-poly1305";
/**
 * Block cipher modes of {@link createBlockCipher}: AES-CBC (RFC 3602),
 * Camellia-CBC (RFC 5529) and 3DES-CBC (RFC 2451), and AES-CTR (RFC 3686)
 * and Camellia-CTR (RFC 5528), the latter two as streams (block size 1) whose
 * 16-byte "IV" is the initial counter block.
 */
export type BlockCipherAlgorithm =
  | "aes-cbc"
  | "aes-ctr"
  | "3des-cbc"
  | "camellia-cbc"
  | "camellia-ctr";

const PROVIDERS: Readonly<Record<SoftwareBackend, Provider>> = {
  noble: nobleProvider,
  node: nodeProvider,
};

function aesKeyCheck(what: string, key: Uint8Array): void {
  if (key.length !== 16 && key.length !== 24 && key.length !== 32) {
    throw new CryptoError(`${what} needs a 16, 24 or 32-byte key, got ${key.length}`);
  }
}

function pickAes(
  what: string,
  key: Uint8Array,
  backend?: SoftwareBackend,
  mode?: AesMode,
): Provider {
  aesKeyCheck(what, key);
  if (backend) {
    const p = PROVIDERS[backend];
    if (!p.supportsAesKey(key.length, mode)) {
      throw new CryptoError(
        `${what}: backend '${backend}' has no AES-${key.length * 8} here; use 'noble'`,
      );
    }
    return p;
  }
  return nodeProvider.supportsAesKey(key.length, mode) ? nodeProvider : nobleProvider;
}

/**
 * Whether `backend` implements `alg` with a key of `keyBytes` in this runtime
 * (Deno's node:crypto lacks AES-192). Used by cross-checks and benchmarks.
 */
export function backendSupports(
  backend: SoftwareBackend,
  alg: AeadAlgorithm | BlockCipherAlgorithm | MacAlgorithm,
  keyBytes: number,
): boolean {
  if (alg.startsWith("hmac-") || alg === "chacha20-poly1305" || alg === "3des-cbc") return true;
  // Camellia: our own implementation (camellia.ts) under both names.
  if (alg === "camellia-cbc" || alg === "camellia-ctr") {
    return keyBytes === 16 || keyBytes === 24 || keyBytes === 32;
  }
  // aes-ccm: node builds it on aes-*-cbc, which Deno lacks for AES-192 like GCM.
  return PROVIDERS[backend].supportsAesKey(keyBytes, alg === "aes-ctr" ? "ctr" : undefined);
}

function guardAead(a: Aead): Aead {
  const check = (nonce: Uint8Array) => {
    if (nonce.length !== a.nonceLength) {
      throw new CryptoError(`AEAD nonce must be ${a.nonceLength} bytes, got ${nonce.length}`);
    }
  };
  return {
    backend: a.backend,
    nonceLength: a.nonceLength,
    tagLength: a.tagLength,
    seal(nonce, plaintext, aad) {
      check(nonce);
      return a.seal(nonce, plaintext, aad);
    },
    open(nonce, sealed, aad) {
      check(nonce);
      return a.open(nonce, sealed, aad);
    },
  };
}

/**
 * An AEAD keyed once. `key` excludes the salt (callers build the nonce =
 * salt || 8-byte IV: 12 bytes with a 4-byte salt for AES-GCM and
 * ChaCha20-Poly1305, 11 bytes with a 3-byte salt for AES-CCM). AES-GCM and
 * AES-CCM take 16/24/32-byte keys and tag lengths 8, 12 or 16 (RFC 4106,
 * RFC 4309); ChaCha20-Poly1305 takes a 32-byte key and only tag length 16
 * (RFC 7634).
 *
 * @example
 * ```ts
 * const aead = createAead("aes-gcm", key, 16);
 * const sealed = aead.seal(nonce12, plaintext, aad);
 * aead.open(nonce12, sealed, aad); // plaintext, or null if tampered
 * ```
 */
export function createAead(
  alg: AeadAlgorithm,
  key: Uint8Array,
  tagLength: number,
  backend?: SoftwareBackend,
): Aead {
  if (alg === "aes-gcm") {
    if (tagLength !== 8 && tagLength !== 12 && tagLength !== 16) {
      throw new CryptoError(`AES-GCM tag length must be 8, 12 or 16, got ${tagLength}`);
    }
    return guardAead(pickAes("AES-GCM", key, backend).aesGcm(key, tagLength));
  }
  if (alg === "aes-ccm") {
    if (tagLength !== 8 && tagLength !== 12 && tagLength !== 16) {
      throw new CryptoError(`AES-CCM tag length must be 8, 12 or 16, got ${tagLength}`);
    }
    return createAesCcm(key, tagLength, 11, backend);
  }
  if (alg === "chacha20-poly1305") {
    if (key.length !== 32) {
      throw new CryptoError(`ChaCha20-Poly1305 needs a 32-byte key, got ${key.length}`);
    }
    if (tagLength !== 16) {
      throw new CryptoError(`ChaCha20-Poly1305 tag length must be 16, got ${tagLength}`);
    }
    return guardAead(PROVIDERS[backend ?? "node"].chacha20Poly1305(key));
  }
  throw new CryptoError(`unknown AEAD '${alg as string}'`);
}

/**
 * AES-CCM (NIST SP 800-38C) keyed once with any nonce length 7..13 and tag
 * length 4, 6, .., 16; IPsec uses {@link createAead}("aes-ccm"), which is
 * this with an 11-byte nonce (RFC 4309, RFC 5282).
 *
 * @example
 * ```ts
 * const ccm = createAesCcm(key16, 8, 13); // RFC 3610 packet vector parameters
 * ccm.seal(nonce13, plaintext, aad); // ciphertext || 8-byte tag
 * ```
 */
export function createAesCcm(
  key: Uint8Array,
  tagLength: number,
  nonceLength: number,
  backend?: SoftwareBackend,
): Aead {
  const ops = pickAes("AES-CCM", key, backend).aesCcmOps(key);
  return guardAead(createCcmAead(ops, nonceLength, tagLength));
}

const NO_PLAINTEXT = new Uint8Array(0);

/**
 * AES-GMAC (RFC 4543) keyed once with a 16/24/32-byte key (the 4-byte salt
 * excluded): the 16-byte tag of AES-GCM over an empty plaintext with the
 * message as AAD, built on this backend's AES-GCM (NIST SP 800-38D: GMAC is
 * GCM with no plaintext).
 *
 * @example
 * ```ts
 * const gmac = createGmac(key16);
 * const tag = gmac.compute(nonce12, spiSeqIv, payload); // 16 bytes over spiSeqIv || payload
 * ```
 */
export function createGmac(key: Uint8Array, backend?: SoftwareBackend): Gmac {
  const gcm = createAead("aes-gcm", key, 16, backend);
  return {
    backend: gcm.backend,
    nonceLength: 12,
    tagLength: 16,
    compute(nonce, ...aad) {
      let n = 0;
      for (const a of aad) n += a.length;
      let all: Uint8Array;
      if (aad.length === 1) {
        all = aad[0];
      } else {
        all = new Uint8Array(n);
        let o = 0;
        for (const a of aad) {
          all.set(a, o);
          o += a.length;
        }
      }
      return gcm.seal(nonce, NO_PLAINTEXT, all);
    },
  };
}

/**
 * The {@link createAead} algorithm of an AEAD encryption transform (IANA
 * Transform Type 1 id), or `undefined` for one that is not an AEAD.
 *
 * @example
 * ```ts
 * aeadAlgorithm(EncrId.AES_CCM_16); // "aes-ccm"
 * ```
 */
export function aeadAlgorithm(encrId: number): AeadAlgorithm | undefined {
  switch (encrId) {
    case EncrId.AES_GCM_8:
    case EncrId.AES_GCM_12:
    case EncrId.AES_GCM_16:
      return "aes-gcm";
    case EncrId.AES_CCM_8:
    case EncrId.AES_CCM_12:
    case EncrId.AES_CCM_16:
      return "aes-ccm";
    case EncrId.CHACHA20_POLY1305:
      return "chacha20-poly1305";
  }
  return undefined;
}

/**
 * The {@link createBlockCipher} algorithm of a CBC or CTR encryption
 * transform (IANA Transform Type 1 id), or `undefined` for any other.
 *
 * @example
 * ```ts
 * blockCipherAlgorithm(EncrId.DES3); // "3des-cbc"
 * ```
 */
export function blockCipherAlgorithm(encrId: number): BlockCipherAlgorithm | undefined {
  switch (encrId) {
    case EncrId.AES_CBC:
      return "aes-cbc";
    case EncrId.AES_CTR:
      return "aes-ctr";
    case EncrId.DES3:
      return "3des-cbc";
    case EncrId.CAMELLIA_CBC:
      return "camellia-cbc";
    case EncrId.CAMELLIA_CTR:
      return "camellia-ctr";
  }
  return undefined;
}

/**
 * A raw CBC cipher (no padding) or CTR keystream, keyed once: AES and
 * Camellia with a 16/24/32-byte key, 3DES-CBC with a 24-byte key (K1 || K2 ||
 * K3). Camellia always runs on our own TypeScript implementation (neither
 * node:crypto nor noble has it; libcrypto's is in ffi/libcrypto.ts).
 *
 * AES- and Camellia-CBC take a 16-byte IV and whole 16-byte blocks, 3DES-CBC
 * an 8-byte IV and whole 8-byte blocks. The CTR modes take the
 * 16-byte initial counter block as `iv` and any data length; encrypt and
 * decrypt are the same operation. The counter block is incremented as a
 * 32-bit big-endian counter in its last four bytes (RFC 3686 section 4:
 * nonce(4) || IV(8) || 00000001); a call that would wrap that counter is
 * refused, so callers that start at 1 never notice the difference from a
 * 128-bit increment.
 *
 * @example
 * ```ts
 * const c = createBlockCipher("aes-cbc", key);
 * const ct = c.encrypt(iv16, paddedPlaintext);
 * const ctr = createBlockCipher("aes-ctr", key);
 * const ct2 = ctr.encrypt(counterBlock16, anyLengthPlaintext);
 * ```
 */
export function createBlockCipher(
  alg: BlockCipherAlgorithm,
  key: Uint8Array,
  backend?: SoftwareBackend,
): BlockCipher {
  switch (alg) {
    case "aes-ctr":
      return guardCtr(pickAes("AES-CTR", key, backend, "ctr").aesCtr(key), "AES-CTR");
    case "aes-cbc":
      return guardCbc(pickAes("AES-CBC", key, backend).aesCbc(key), "AES-CBC", 16);
    case "3des-cbc":
      if (key.length !== 24) throw new CryptoError(`3DES needs a 24-byte key, got ${key.length}`);
      return guardCbc(PROVIDERS[backend ?? "node"].tripleDesCbc(key), "3DES-CBC", 8);
    case "camellia-cbc":
      return guardCbc(camelliaCbc(key), "Camellia-CBC", 16);
    case "camellia-ctr":
      return guardCtr(camelliaCtr(key), "Camellia-CTR");
  }
  throw new CryptoError(`unknown block cipher '${alg as string}'`);
}

/**
 * The portable Camellia (camellia.ts) for either software backend: neither
 * node:crypto nor noble has one. It reports "noble" (pure JavaScript).
 */
function camelliaCbc(key: Uint8Array): BlockCipher {
  const k = new CamelliaKey(key);
  return {
    backend: "noble",
    blockSize: 16,
    ivLength: 16,
    encrypt: (iv, data) => camelliaCbcEncrypt(k, iv, data),
    decrypt: (iv, data) => camelliaCbcDecrypt(k, iv, data),
  };
}

function camelliaCtr(key: Uint8Array): BlockCipher {
  const k = new CamelliaKey(key);
  const run = (iv: Uint8Array, data: Uint8Array) => camelliaCtrXor(k, iv, data);
  return { backend: "noble", blockSize: 1, ivLength: 16, encrypt: run, decrypt: run };
}

/** A CBC cipher checked per call: `bs`-byte IV, whole `bs`-byte blocks. */
function guardCbc(c: BlockCipher, name: string, bs: number): BlockCipher {
  return guarded(c, bs, bs, (iv, data) => {
    if (iv.length !== bs) throw new CryptoError(`${name} IV must be ${bs} bytes, got ${iv.length}`);
    if (data.length % bs !== 0) {
      throw new CryptoError(`${name} data must be a multiple of ${bs} bytes, got ${data.length}`);
    }
  });
}

/** `c` with `check(iv, data)` run before every call. */
function guarded(
  c: BlockCipher,
  blockSize: number,
  ivLength: number,
  check: (iv: Uint8Array, data: Uint8Array) => void,
): BlockCipher {
  return {
    backend: c.backend,
    blockSize,
    ivLength,
    encrypt(iv, data) {
      check(iv, data);
      return c.encrypt(iv, data);
    },
    decrypt(iv, data) {
      check(iv, data);
      return c.decrypt(iv, data);
    },
  };
}

/**
 * Throws {@link CryptoError} unless `counterBlock[offset..offset+16)` exists
 * and `length` bytes of keystream fit under its 32-bit block counter without
 * wrapping (RFC 3686 section 4). Backends with their own AES-CTR (the
 * libcrypto FFI one) call it before each operation.
 *
 * @example
 * ```ts
 * checkCtrRange(counterBlock16, 0, packet.length); // fine from counter 1 up to 64 GiB
 * ```
 */
export function checkCtrRange(counterBlock: Uint8Array, offset: number, length: number): void {
  if (offset < 0 || offset + 16 > counterBlock.length) {
    throw new CryptoError("AES-CTR counter block must be 16 bytes");
  }
  const c = ((counterBlock[offset + 12] << 24) | (counterBlock[offset + 13] << 16) |
    (counterBlock[offset + 14] << 8) | counterBlock[offset + 15]) >>> 0;
  if (c + Math.ceil(length / 16) - 1 > 0xffffffff) {
    throw new CryptoError(`AES-CTR: ${length} bytes would wrap the 32-bit block counter`);
  }
}

function guardCtr(c: BlockCipher, name: string): BlockCipher {
  return guarded(c, 1, 16, (iv, data) => {
    if (iv.length !== 16) {
      throw new CryptoError(`${name} counter block must be 16 bytes, got ${iv.length}`);
    }
    checkCtrRange(iv, 0, data.length);
  });
}

function aesCbcFactory(backend?: SoftwareBackend) {
  return (k: Uint8Array): BlockCipher => pickAes("AES", k, backend).aesCbc(k);
}

/**
 * A MAC keyed once, untruncated output. HMACs take any key length; AES-XCBC
 * needs a 16-byte key (RFC 3566), AES-CMAC a 16/24/32-byte key (RFC 4493).
 *
 * @example
 * ```ts
 * const mac = createMac("hmac-sha256", key32);
 * mac.compute(header, payload).subarray(0, 16); // HMAC-SHA2-256-128 ICV
 * ```
 */
export function createMac(
  alg: MacAlgorithm,
  key: Uint8Array,
  backend?: SoftwareBackend,
): Mac {
  switch (alg) {
    case "hmac-sha1":
    case "hmac-sha256":
    case "hmac-sha384":
    case "hmac-sha512":
      return PROVIDERS[backend ?? "node"].hmac(alg.slice(5) as HashName, key);
    case "aes-xcbc":
      return createAesXcbcMac(key, aesCbcFactory(backend));
    case "aes-cmac":
      return createAesCmac(key, aesCbcFactory(backend));
  }
  throw new CryptoError(`unknown MAC '${alg as string}'`);
}

/** An integrity transform keyed once: the full MAC plus the ICV length to truncate to. */
export interface IntegMac {
  /** Untruncated MAC. */
  readonly mac: Mac;
  /** Bytes of the MAC output sent as ICV (e.g. 16 for HMAC-SHA2-256-128). */
  readonly icvLength: number;
  /** Key length in bytes this transform takes from the keying material. */
  readonly keyLength: number;
}

/**
 * Keys an IKEv2/ESP integrity transform by IANA id (Transform Type 3).
 *
 * @example
 * ```ts
 * const { mac, icvLength } = createIntegMac(12, skAi); // HMAC-SHA2-256-128
 * const icv = mac.compute(msg).subarray(0, icvLength);
 * ```
 */
export function createIntegMac(
  integId: number,
  key: Uint8Array,
  backend?: SoftwareBackend,
): IntegMac {
  const info = integInfo(integId);
  if (!info) throw new CryptoError(`unsupported integrity transform ${integId}`);
  if (key.length !== info.keyLength) {
    throw new CryptoError(`${info.name} needs a ${info.keyLength}-byte key, got ${key.length}`);
  }
  return {
    mac: createMac(info.mac, key, backend),
    icvLength: info.icvLength,
    keyLength: info.keyLength,
  };
}

/**
 * The IKEv2 PRF for an IANA PRF transform id (Transform Type 2). HMAC PRFs
 * take any key length; AES128-XCBC applies the RFC 4434 key rule (pad short
 * keys with zeros, compress long ones) and AES128-CMAC the RFC 4615 rule.
 * Nonce truncation for SKEYSEED (RFC 7296 section 2.14) is keys.ts's job.
 *
 * @example
 * ```ts
 * const prf = createPrf(5); // PRF_HMAC_SHA2_256
 * prf.compute(key, data); // 32 bytes
 * ```
 */
export function createPrf(transformId: number, backend?: SoftwareBackend): Prf {
  const info = prfInfo(transformId);
  if (!info) throw new CryptoError(`unsupported PRF transform ${transformId}`);
  const outputLength = info.outputLength;
  const keyLength = info.keyLength;
  if (info.mac === "aes-xcbc" || info.mac === "aes-cmac") {
    const f = aesCbcFactory(backend);
    const xcbc = info.mac === "aes-xcbc";
    return {
      outputLength,
      keyLength,
      compute(key, data) {
        const k = xcbc ? aesXcbcPrfKey(key, f) : aesCmacPrfKey(key, f);
        return (xcbc ? createAesXcbcMac(k, f) : createAesCmac(k, f)).compute(data);
      },
    };
  }
  const mac = info.mac;
  return {
    outputLength,
    keyLength,
    compute: (key, data) => createMac(mac, key, backend).compute(data),
  };
}
