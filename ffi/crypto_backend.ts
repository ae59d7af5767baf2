/**
 * Picks the crypto backend for the ESP/AH data path: the system
 * `libcrypto.so.3` through FFI when it loads, else the software factories of
 * `lib/crypto/primitives.ts` (node:crypto, noble). The choice is logged once.
 *
 * @example
 * ```ts
 * const be = selectCryptoBackend("auto", (m) => console.error(m));
 * const aead = be.createAead("aes-gcm", key, 16);
 * ```
 *
 * @module
 */

import type { Aead, Backend, BlockCipher, Gmac, Mac } from "../lib/crypto/types.ts";
import {
  type AeadAlgorithm,
  type BlockCipherAlgorithm,
  createAead,
  createBlockCipher,
  createGmac,
  createMac,
  type MacAlgorithm,
} from "../lib/crypto/primitives.ts";
import { createAesXcbcMac } from "../lib/crypto/aes_xcbc.ts";
import { createAesCmac } from "../lib/crypto/aes_cmac.ts";
import { type Libcrypto, loadLibcrypto } from "./libcrypto.ts";

/** What the caller asks for; "auto" prefers libcrypto. */
export type CryptoBackendPreference = "auto" | Backend;

/** Keyed-primitive factories of one backend. */
export interface CryptoBackend {
  /** The backend actually used for AEADs and ciphers. */
  readonly name: Backend;
  createAead(alg: AeadAlgorithm, key: Uint8Array, tagLength: number): Aead;
  createBlockCipher(alg: BlockCipherAlgorithm, key: Uint8Array): BlockCipher;
  /** HMACs, AES-XCBC and AES-CMAC (the latter two over this backend's AES-CBC). */
  createMac(alg: MacAlgorithm, key: Uint8Array): Mac;
  /** AES-GMAC (RFC 4543) with a 16/24/32-byte key (salt excluded). */
  createGmac(key: Uint8Array): Gmac;
}

function libcryptoBackend(lc: Libcrypto): CryptoBackend {
  const cbc = (k: Uint8Array) => lc.createBlockCipher("aes-cbc", k);
  return {
    name: "libcrypto",
    createAead: (alg, key, tagLength) => lc.createAead(alg, key, tagLength),
    createBlockCipher: (alg, key) => lc.createBlockCipher(alg, key),
    createMac: (alg, key) => {
      if (alg === "aes-xcbc") return createAesXcbcMac(key, cbc);
      if (alg === "aes-cmac") return createAesCmac(key, cbc);
      return lc.createMac(alg, key);
    },
    createGmac: (key) => lc.createGmac(key),
  };
}

function softwareBackend(name: "node" | "noble" | undefined): CryptoBackend {
  return {
    name: name ?? "node",
    createAead: (alg, key, tagLength) => createAead(alg, key, tagLength, name),
    createBlockCipher: (alg, key) => createBlockCipher(alg, key, name),
    createMac: (alg, key) => createMac(alg, key, name),
    createGmac: (key) => createGmac(key, name),
  };
}

/**
 * Returns the backend for `pref`. "auto" and "libcrypto" try the system
 * library (`libraryPath`, default `libcrypto.so.3`) first; when it is
 * missing the software backends are used and `log` is told so (once per call).
 */
export function selectCryptoBackend(
  pref: CryptoBackendPreference = "auto",
  log: (message: string) => void = () => {},
  libraryPath = "libcrypto.so.3",
): CryptoBackend {
  if (pref === "auto" || pref === "libcrypto") {
    const lc = loadLibcrypto(libraryPath);
    if (lc) {
      log(`crypto backend: libcrypto (OpenSSL 0x${lc.version.toString(16)}) via FFI`);
      return libcryptoBackend(lc);
    }
    log(`crypto backend: ${libraryPath} not found, falling back to node:crypto/noble (slower)`);
    return softwareBackend(undefined);
  }
  log(`crypto backend: ${pref}`);
  return softwareBackend(pref);
}
