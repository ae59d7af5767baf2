/**
 * Stateless COOKIE handling for the responder (RFC 7296 section 2.6).
 * Above a configurable number of half-open IKE SAs the responder answers an
 * IKE_SA_INIT request without a valid cookie with only N(COOKIE) and keeps
 * no state. The cookie is
 *
 * ```
 *   Cookie = <VersionIDofSecret> | Hash(Ni | IPi | SPIi | <secret>)
 * ```
 *
 * with a secret that rotates; cookies made with the previous secret are
 * still accepted so a rotation does not fail initiators already retrying.
 *
 * @example
 * ```ts
 * const jar = new CookieJar(randomBytes, 120_000);
 * const c = jar.make(ni, "192.0.2.1", spiI, now);
 * jar.verify(c, ni, "192.0.2.1", spiI, now); // true
 * ```
 *
 * @module
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { ipToBytes, parseIp } from "../../db/address.ts";
import { concat, constantTimeEqual } from "../../wire/bytes.ts";

/** Rotating cookie secrets. */
export class CookieJar {
  #random: (n: number) => Uint8Array;
  #lifetimeMs: number;
  #version = 0;
  #secret: Uint8Array;
  #previous: { version: number; secret: Uint8Array } | undefined;
  #rotatedAt: number;

  constructor(random: (n: number) => Uint8Array, lifetimeMs = 120_000, now = 0) {
    this.#random = random;
    this.#lifetimeMs = lifetimeMs;
    this.#secret = random(32);
    this.#rotatedAt = now;
  }

  #rotate(now: number): void {
    if (now - this.#rotatedAt < this.#lifetimeMs) return;
    this.#previous = { version: this.#version, secret: this.#secret };
    this.#version = (this.#version + 1) >>> 0;
    this.#secret = this.#random(32);
    this.#rotatedAt = now;
  }

  /** Current secret version (changes on rotation). */
  get version(): number {
    return this.#version;
  }

  #compute(version: number, secret: Uint8Array, ni: Uint8Array, ip: string, spiI: bigint) {
    const v = new Uint8Array(4);
    new DataView(v.buffer).setUint32(0, version);
    const a = parseIp(ip);
    const ipBytes = a ? ipToBytes(a) : new TextEncoder().encode(ip);
    const spi = new Uint8Array(8);
    new DataView(spi.buffer).setBigUint64(0, spiI);
    return concat(v, sha256(concat(ni, ipBytes, spi, secret)));
  }

  /** The cookie for an initiator (Ni, its IP address, SPIi). */
  make(ni: Uint8Array, initiatorIp: string, spiI: bigint, now: number): Uint8Array {
    this.#rotate(now);
    return this.#compute(this.#version, this.#secret, ni, initiatorIp, spiI);
  }

  /** Whether `cookie` was made by us (current or previous secret) for these values. */
  verify(cookie: Uint8Array, ni: Uint8Array, initiatorIp: string, spiI: bigint, now: number) {
    this.#rotate(now);
    if (cookie.length !== 36) return false;
    const version = new DataView(cookie.buffer, cookie.byteOffset, 4).getUint32(0);
    let secret: Uint8Array | undefined;
    if (version === this.#version) secret = this.#secret;
    else if (this.#previous && version === this.#previous.version) secret = this.#previous.secret;
    if (!secret) return false;
    return constantTimeEqual(cookie, this.#compute(version, secret, ni, initiatorIp, spiI));
  }
}
