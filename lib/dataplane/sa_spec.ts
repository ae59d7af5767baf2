/**
 * A Security Association as the data plane receives it: plain data
 * (structured-clone safe, so it crosses `postMessage` into the Worker) with
 * the keys, and {@linkcode buildProcessor}, which keys an `EspSa` or `AhSa`
 * from it with the chosen crypto backend (libcrypto through FFI by default).
 *
 * @example
 * ```ts
 * const spec: SaSpec = {
 *   direction: "out", protocol: "esp", spi: 0x1000, mode: "tunnel",
 *   local: ip("192.0.2.1"), remote: ip("192.0.2.2"),
 *   encryption: { alg: "aes-gcm", key: key16, salt: salt4, icvLength: 16 },
 *   selectors: [sel],
 * };
 * const sa = buildProcessor(spec, selectCryptoBackend("auto"));
 * ```
 *
 * @module
 */

import type { CryptoBackend } from "../../ffi/crypto_backend.ts";
import type { MacAlgorithm } from "../crypto/transforms.ts";
import type { Selector } from "../db/selector.ts";
import { AhSa } from "../esp/ah.ts";
import { EspSa, type EspStats, type EspTransform } from "../esp/esp.ts";
import { IpcompSa } from "../esp/ipcomp_sa.ts";

/** The packet processor of an installed SA (EspSa and AhSa implement it). */
export interface PacketProcessor {
  readonly spi: number;
  readonly mode: "tunnel" | "transport";
  readonly stats: EspStats;
  readonly sequence: number;
  readonly sequenceExhausted: boolean;
  readonly rekeyNeeded: boolean;
  /** Start of the result of the last successful {@linkcode decapsulateInPlace}. */
  readonly lastOffset: number;
  /**
   * The buffer that result is in when it is not the one passed in (IPComp
   * decompresses into a new one); absent: always the buffer passed in.
   */
  readonly lastBuffer?: Uint8Array;
  requiredOutLength(packetLength: number): number;
  encapsulateInto(packet: Uint8Array, out: Uint8Array, offset?: number): number;
  decapsulateInPlace(buf: Uint8Array, start?: number, end?: number): number;
  /** ESP only: the same for ESP bytes without an IP header (a UDP/4500 payload). */
  decapsulateEspInPlace?(buf: Uint8Array, start?: number, end?: number): number;
  updateEndpoints(
    tunnel: { src: Uint8Array; dst: Uint8Array } | undefined,
    udpEncap: { srcPort: number; dstPort: number } | undefined,
  ): void;
}

/**
 * Encryption of an ESP SA. `salt` is for AEADs: 4 bytes for AES-GCM and
 * ChaCha20-Poly1305 (RFC 4106/7634 KEYMAT), 3 for AES-CCM (RFC 4309);
 * `nonce` (4 bytes) for AES-CTR (RFC 3686 section 5.1). "aes-gmac" is
 * ENCR_NULL_AUTH_AES_GMAC (RFC 4543): integrity only, a 4-byte salt and a
 * 16-byte ICV, no integrity algorithm of its own.
 */
export type EncryptionSpec =
  | {
    alg: "aes-gcm" | "aes-ccm" | "chacha20-poly1305";
    key: Uint8Array;
    salt: Uint8Array;
    icvLength: number;
  }
  | { alg: "aes-gmac"; key: Uint8Array; salt: Uint8Array }
  | { alg: "aes-cbc" | "3des-cbc" | "camellia-cbc"; key: Uint8Array }
  | { alg: "aes-ctr" | "camellia-ctr"; key: Uint8Array; nonce: Uint8Array }
  | { alg: "null" };

/** Integrity of an SA (required for AH and for non-AEAD ESP). */
export interface IntegritySpec {
  alg: MacAlgorithm;
  key: Uint8Array;
  /** Truncated ICV length on the wire (12 for *-96, 16/24/32 for SHA2). */
  icvLength: number;
}

/** Lifetimes the data plane enforces by counting (time limits stay with the daemon). */
export interface SaByteLimits {
  softBytes?: number;
  hardBytes?: number;
  softPackets?: number;
  hardPackets?: number;
}

/** One SA to install in the data plane. */
export interface SaSpec {
  direction: "in" | "out";
  protocol: "esp" | "ah";
  /** 32-bit SPI (256..2^32-1). */
  spi: number;
  mode: "tunnel" | "transport";
  /** Our outer address (4 or 16 bytes). */
  local: Uint8Array;
  /** The peer's outer address (same family). */
  remote: Uint8Array;
  /** ESP in UDP (RFC 3948): ports on our side and the peer's (ESP only). */
  encap?: { localPort: number; remotePort: number };
  /** ESP only. */
  encryption?: EncryptionSpec;
  integrity?: IntegritySpec;
  esn?: boolean;
  /** Anti-replay window (default 1024; 0 disables the check). */
  replayWindow?: number;
  /**
   * The SA's traffic selectors from this host's view (local = our side).
   * Outbound: packets matching one of them may use the SA. Inbound: the
   * decrypted packet must match one (RFC 4301 section 5.2 step 4). Empty or
   * absent: any packet.
   */
  selectors?: Selector[];
  limits?: SaByteLimits;
  /** Tunnel outer header handling. */
  df?: "copy" | "set" | "clear";
  dscp?: "copy" | number;
  /**
   * Tunnel mode ECN (strongSwan's `copy_ecn`): copy the inner field outward
   * and carry outer CE marks inward (default, RFC 6040), or neither (false).
   */
  ecn?: boolean;
  ttl?: number;
  /** TFC padding target (tunnel mode). */
  tfcPadTo?: number;
  /**
   * The MTU of the route toward the peer when the SA was installed (bytes).
   * Outbound AEAD ESP SAs then pad the encrypted part to a whole keystream
   * block (64 bytes for ChaCha20-Poly1305, 16 for AES-GCM) whenever the packet
   * stays within it (see `alignPadding` in lib/esp/esp.ts). Absent: minimal
   * padding.
   */
  pathMtu?: number;
  /**
   * IP Payload Compression (RFC 3173, DEFLATE) under ESP or AH: outbound the
   * CPI the peer chose, inbound ours. Absent: no IPComp.
   */
  ipcomp?: { cpi: number };
  /** Opaque id tying the SA to IKE state (e.g. the CHILD_SA's unique id). */
  reqid?: number;
  /** Free text for tables. */
  label?: string;
}

/** An SA spec the data plane cannot use; the message says which field to fix. */
export class SaSpecError extends Error {
  override readonly name = "SaSpecError";
}

function describe(s: SaSpec): string {
  return `${s.direction === "in" ? "inbound" : "outbound"} ${s.protocol.toUpperCase()} SA 0x${
    (s.spi >>> 0).toString(16)
  }`;
}

/** Checks a spec's shape; throws {@linkcode SaSpecError} naming the problem. */
export function validateSaSpec(s: SaSpec): void {
  const what = describe(s);
  if (!Number.isInteger(s.spi) || s.spi < 256 || s.spi > 0xffffffff) {
    throw new SaSpecError(`${what}: SPI must be 256..2^32-1`);
  }
  if (s.local.length !== s.remote.length || (s.local.length !== 4 && s.local.length !== 16)) {
    throw new SaSpecError(`${what}: local and remote must both be IPv4 or both IPv6 addresses`);
  }
  const mtu = s.pathMtu;
  if (mtu !== undefined && (!Number.isInteger(mtu) || mtu < 68 || mtu > 65536)) {
    throw new SaSpecError(`${what}: path MTU must be 68..65536 bytes, got ${mtu}`);
  }
  const cpi = s.ipcomp?.cpi;
  if (cpi !== undefined && (!Number.isInteger(cpi) || cpi < 1 || cpi > 0xffff)) {
    throw new SaSpecError(`${what}: IPComp CPI must be 1..65535`);
  }
  if (s.protocol === "ah") {
    if (s.encap) throw new SaSpecError(`${what}: AH cannot be UDP-encapsulated (RFC 3948)`);
    if (s.encryption) throw new SaSpecError(`${what}: AH has no encryption`);
    if (!s.integrity) throw new SaSpecError(`${what}: AH needs an integrity algorithm`);
  } else {
    const e = s.encryption;
    if (!e) throw new SaSpecError(`${what}: ESP needs an encryption algorithm (or "null")`);
    // AES-GMAC is a combined mode like the AEADs: its ICV is its own (RFC 4543).
    const aead = e.alg === "aes-gcm" || e.alg === "aes-ccm" || e.alg === "chacha20-poly1305" ||
      e.alg === "aes-gmac";
    if (!aead && !s.integrity) {
      throw new SaSpecError(`${what}: ${e.alg} needs an integrity algorithm`);
    }
    if (aead && s.integrity) {
      throw new SaSpecError(`${what}: ${e.alg} is an AEAD; drop the integrity algorithm`);
    }
  }
  for (const p of [s.encap?.localPort, s.encap?.remotePort]) {
    if (p !== undefined && (!Number.isInteger(p) || p < 1 || p > 65535)) {
      throw new SaSpecError(`${what}: UDP encapsulation ports must be 1..65535`);
    }
  }
}

/**
 * Keys the processor for `s` with `backend`. Outbound tunnel SAs get
 * local -> remote outer addresses, inbound ones remote -> local.
 */
export function buildProcessor(s: SaSpec, backend: CryptoBackend): PacketProcessor {
  validateSaSpec(s);
  const out = s.direction === "out";
  const tunnel = s.mode === "tunnel"
    ? { src: out ? s.local : s.remote, dst: out ? s.remote : s.local }
    : undefined;
  const udpEncap = s.encap
    ? {
      srcPort: out ? s.encap.localPort : s.encap.remotePort,
      dstPort: out ? s.encap.remotePort : s.encap.localPort,
    }
    : undefined;
  const common = {
    spi: s.spi,
    mode: s.mode,
    esn: s.esn ?? false,
    antiReplay: (s.replayWindow ?? 1024) > 0,
    replayWindowSize: Math.max(32, s.replayWindow || 1024),
    tunnel,
    df: s.df,
    dscp: s.dscp,
    ecn: s.ecn,
    ttl: s.ttl,
  };
  try {
    if (s.protocol === "ah") {
      const i = s.integrity!;
      const ah = new AhSa({
        ...common,
        integ: backend.createMac(i.alg, i.key),
        icvLength: i.icvLength,
      });
      return s.ipcomp ? new IpcompSa(ah, { cpi: s.ipcomp.cpi, udpEncap: false }) : ah;
    }
    const e = s.encryption!;
    let transform: EspTransform;
    if (e.alg === "aes-gcm" || e.alg === "aes-ccm" || e.alg === "chacha20-poly1305") {
      const saltLength = e.alg === "aes-ccm" ? 3 : 4;
      if (e.salt.length !== saltLength) {
        throw new SaSpecError(`${describe(s)}: ${e.alg} salt must be ${saltLength} bytes`);
      }
      transform = {
        kind: "aead",
        aead: backend.createAead(e.alg, e.key, e.icvLength),
        salt: e.salt,
      };
    } else if (e.alg === "aes-gmac") {
      if (e.salt.length !== 4) {
        throw new SaSpecError(`${describe(s)}: aes-gmac salt must be 4 bytes`);
      }
      transform = { kind: "gmac", gmac: backend.createGmac(e.key), salt: e.salt };
    } else {
      const i = s.integrity!;
      const integ = backend.createMac(i.alg, i.key);
      if (e.alg === "aes-cbc" || e.alg === "3des-cbc" || e.alg === "camellia-cbc") {
        transform = {
          kind: "cbc",
          cipher: backend.createBlockCipher(e.alg, e.key),
          integ,
          icvLength: i.icvLength,
        };
      } else if (e.alg === "aes-ctr" || e.alg === "camellia-ctr") {
        if (e.nonce.length !== 4) {
          const name = e.alg === "aes-ctr" ? "AES-CTR" : "Camellia-CTR";
          throw new SaSpecError(`${describe(s)}: ${name} nonce must be 4 bytes`);
        }
        transform = {
          kind: "ctr",
          cipher: backend.createBlockCipher(e.alg, e.key),
          nonce: e.nonce,
          integ,
          icvLength: i.icvLength,
        };
      } else {
        transform = { kind: "null", integ, icvLength: i.icvLength };
      }
    }
    const esp = new EspSa({
      ...common,
      transform,
      udpEncap,
      allowNullEncryption: e.alg === "null",
      tfcPadTo: s.tfcPadTo,
      ...(out && s.pathMtu !== undefined && transform.kind === "aead"
        ? { alignPadding: { to: e.alg === "chacha20-poly1305" ? 64 : 16, limit: s.pathMtu } }
        : {}),
    });
    return s.ipcomp ? new IpcompSa(esp, { cpi: s.ipcomp.cpi, udpEncap: !!s.encap }) : esp;
  } catch (err) {
    if (err instanceof SaSpecError) throw err;
    throw new SaSpecError(`${describe(s)}: ${(err as Error).message}`);
  }
}
