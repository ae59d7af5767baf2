/**
 * Triple DES (TDEA, NIST SP 800-67) in CBC mode with a 24-byte key, as ESP's
 * and IKEv2's ENCR_3DES (RFC 2451: K1 || K2 || K3, 8-byte blocks and IVs).
 * The portable backend's implementation; libcrypto and node:crypto have their
 * own. 3DES is legacy (RFC 8221: SHOULD NOT): it exists for peers that offer
 * nothing better, such as older Windows clients.
 *
 * Pure functions over {@link DesKey}; no I/O.
 *
 * @module
 */
import { DesKey } from "./des.ts";
import { CryptoError } from "./types.ts";
import { cbcDecrypt, cbcEncrypt } from "./cbc_mode.ts";

/**
 * A 3DES key (EDE: encrypt K1, decrypt K2, encrypt K3) expanded once.
 *
 * @example
 * ```ts
 * import { TripleDesKey, tripleDesCbcEncrypt } from "./triple_des.ts";
 * const k = new TripleDesKey(new Uint8Array(24).fill(1));
 * tripleDesCbcEncrypt(k, new Uint8Array(8), new Uint8Array(16)).length; // 16
 * ```
 */
export class TripleDesKey {
  readonly #k1: DesKey;
  readonly #k2: DesKey;
  readonly #k3: DesKey;

  /** @throws {CryptoError} when the key is not 24 bytes. */
  constructor(key24: Uint8Array) {
    if (key24.length !== 24) {
      throw new CryptoError(`3DES needs a 24-byte key, got ${key24.length}`);
    }
    this.#k1 = new DesKey(key24.subarray(0, 8));
    this.#k2 = new DesKey(key24.subarray(8, 16));
    this.#k3 = new DesKey(key24.subarray(16, 24));
  }

  /** C = E_K3(D_K2(E_K1(P))) of the 8 bytes at `src[so..]` into `dst[do_..]` (may alias). */
  encryptBlock(src: Uint8Array, so: number, dst: Uint8Array, do_: number): void {
    this.#k1.encryptBlock(src, so, dst, do_);
    this.#k2.decryptBlock(dst, do_, dst, do_);
    this.#k3.encryptBlock(dst, do_, dst, do_);
  }

  /** P = D_K1(E_K2(D_K3(C))) of the 8 bytes at `src[so..]` into `dst[do_..]` (may alias). */
  decryptBlock(src: Uint8Array, so: number, dst: Uint8Array, do_: number): void {
    this.#k3.decryptBlock(src, so, dst, do_);
    this.#k2.encryptBlock(dst, do_, dst, do_);
    this.#k1.decryptBlock(dst, do_, dst, do_);
  }
}

/**
 * 3DES-CBC encryption without padding: `data` a multiple of 8 bytes, `iv` 8 bytes.
 *
 * @example
 * ```ts
 * import { TripleDesKey, tripleDesCbcEncrypt } from "./triple_des.ts";
 * tripleDesCbcEncrypt(new TripleDesKey(new Uint8Array(24)), new Uint8Array(8), new Uint8Array(8));
 * ```
 */
export function tripleDesCbcEncrypt(
  key: TripleDesKey,
  iv: Uint8Array,
  data: Uint8Array,
): Uint8Array {
  return cbcEncrypt("3DES-CBC", key, 8, iv, data);
}

/**
 * 3DES-CBC decryption without padding: `data` a multiple of 8 bytes, `iv` 8 bytes.
 *
 * @example
 * ```ts
 * import { TripleDesKey, tripleDesCbcDecrypt } from "./triple_des.ts";
 * tripleDesCbcDecrypt(new TripleDesKey(new Uint8Array(24)), new Uint8Array(8), new Uint8Array(8));
 * ```
 */
export function tripleDesCbcDecrypt(
  key: TripleDesKey,
  iv: Uint8Array,
  data: Uint8Array,
): Uint8Array {
  return cbcDecrypt("3DES-CBC", key, 8, iv, data);
}
