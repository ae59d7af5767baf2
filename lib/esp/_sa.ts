/**
 * Private to lib/esp: what ESP and AH Security Associations share. Drop and
 * send-error codes, result types, the outbound sequence counter with its
 * soft/hard limits, the inbound replay check (before the ICV) and commit
 * (after it), and the result-object wrappers around the hot-path calls.
 * `esp.ts` re-exports the public names.
 *
 * @module
 */

import type { OuterHeaderPolicy } from "./_outer.ts";
import { REPLAY_DUPLICATE, REPLAY_TOO_OLD, ReplayWindow } from "./replay_window.ts";

/** Every reason an inbound packet is dropped (each has a counter). */
export const ESP_DROP_REASONS = [
  "truncated",
  "malformed",
  "unknown-spi",
  "replay-duplicate",
  "replay-too-old",
  "replay-zero",
  "icv-failed",
  "bad-padding",
  "bad-next-header",
  "dummy",
  "expired",
  "internal-error",
] as const;
/** Why an inbound packet was dropped. `dummy` is a TFC dummy packet (RFC 4303 2.6). */
export type EspDropReason = typeof ESP_DROP_REASONS[number];

/** Every reason an outbound packet could not be built. */
export const ESP_SEND_ERRORS = [
  "malformed",
  "fragment",
  "sequence-exhausted",
  "too-big",
  "wrong-family",
  "expired",
  "buffer-too-small",
] as const;
/** Why an outbound packet could not be built. */
export type EspSendError = typeof ESP_SEND_ERRORS[number];

/**
 * The drop reason of a negative `decapsulateInPlace` result.
 *
 * @example
 * ```ts
 * const n = sa.decapsulateInPlace(buf);
 * if (n < 0) log.trace(`dropped: ${espDropReason(n)}`); // e.g. "replay-duplicate"
 * ```
 */
export function espDropReason(code: number): EspDropReason {
  return ESP_DROP_REASONS[-code - 1] ?? "internal-error";
}
/**
 * The error of a negative `encapsulateInto` result.
 *
 * @example
 * ```ts
 * const n = sa.encapsulateInto(packet, out);
 * if (n < 0 && espSendError(n) === "sequence-exhausted") engine.rekeyNow(sa.spi);
 * ```
 */
export function espSendError(code: number): EspSendError {
  return ESP_SEND_ERRORS[-code - 1] ?? "malformed";
}

/** The negative code `decapsulateInPlace` returns for `reason`. */
export function espDropCode(reason: EspDropReason): number {
  return -(ESP_DROP_REASONS.indexOf(reason) + 1);
}
/** The negative code `encapsulateInto` returns for `error`. */
export function espSendCode(error: EspSendError): number {
  return -(ESP_SEND_ERRORS.indexOf(error) + 1);
}
/** Result of inbound processing: a packet or a counted drop. */
export type EspInboundResult =
  | {
    ok: true;
    /** Tunnel mode: the inner IP packet. Transport mode: the rebuilt IP packet. */
    packet: Uint8Array;
    /** Next Header from the ESP trailer (4, 41, 6, 17, ...). */
    nextHeader: number;
    /** Full (ESN-inferred) sequence number. */
    seq: number;
  }
  | { ok: false; drop: EspDropReason };

/** Result of outbound processing. */
export type EspOutboundResult =
  | {
    ok: true;
    packet: Uint8Array;
    /** Sequence number used. */
    seq: number;
    /** True once the soft sequence threshold is passed: rekey this SA. */
    rekey: boolean;
  }
  | { ok: false; error: EspSendError };

/** Outer addresses of a tunnel-mode SA (both 4 or both 16 bytes). */
export interface TunnelEndpoints {
  src: Uint8Array;
  dst: Uint8Array;
}
/** RFC 3948 UDP encapsulation ports. */
export interface UdpEncapPorts {
  srcPort: number;
  dstPort: number;
}

/** Packet and byte counters plus drops by reason. */
export interface EspStats {
  inPackets: number;
  inBytes: number;
  outPackets: number;
  outBytes: number;
  drops: Record<EspDropReason, number>;
}

/** A zeroed drop counter table. */
export function newDropCounters(): Record<EspDropReason, number> {
  const d = {} as Record<EspDropReason, number>;
  for (const r of ESP_DROP_REASONS) d[r] = 0;
  return d;
}

/** Checks tunnel endpoints: same family, 4 or 16 bytes. */
export function validateTunnel(t: TunnelEndpoints | undefined): TunnelEndpoints {
  if (!t || t.src.length !== t.dst.length || (t.src.length !== 4 && t.src.length !== 16)) {
    throw new RangeError("tunnel mode needs outer src/dst of the same family (4 or 16 bytes)");
  }
  return { src: t.src.slice(), dst: t.dst.slice() };
}

/** Settings ESP and AH SAs share. */
export interface SaCommonConfig {
  /** 32-bit SPI. */
  spi: number;
  mode: "tunnel" | "transport";
  /** Extended Sequence Numbers (64-bit, high half never on the wire). */
  esn?: boolean;
  /** Inbound anti-replay window size (default 1024, 32..65536). */
  replayWindowSize?: number;
  /** Inbound anti-replay check (default true). With ESN the window still infers high bits. */
  antiReplay?: boolean;
  /** Tunnel mode: outer source and destination (both 4 or both 16 bytes). */
  tunnel?: TunnelEndpoints;
  /** Outbound: signal rekey once this many packets were sent (default hard - 2^20). */
  seqSoftLimit?: number;
  /** Outbound: refuse to send beyond this sequence number (default 2^32-1, ESN 2^53-1). */
  seqHardLimit?: number;
  /** Tunnel outer DSCP: copy from inner (default) or a fixed 6-bit value. */
  dscp?: "copy" | number;
  /** Tunnel outer IPv4 DF bit: copy from inner IPv4 (default; set for inner IPv6), set, clear. */
  df?: "copy" | "set" | "clear";
  /** Outer TTL / hop limit (default 64). */
  ttl?: number;
  /** Path MTU: packets bigger than this with DF set are refused with "too-big". */
  pathMtu?: number;
}

const D_DUPLICATE = espDropCode("replay-duplicate");
const D_TOO_OLD = espDropCode("replay-too-old");
const D_ZERO = espDropCode("replay-zero");
const D_INTERNAL = espDropCode("internal-error");

/**
 * The state and plumbing every IPsec SA has; ESP and AH supply the
 * packet formats (`encapsulateInto`, `decapsulate`).
 */
export abstract class IpsecSa {
  readonly spi: number;
  readonly mode: "tunnel" | "transport";
  readonly esn: boolean;
  /** Inbound replay window. */
  readonly replay: ReplayWindow;
  readonly antiReplay: boolean;
  readonly stats: EspStats;
  readonly seqSoftLimit: number;
  readonly seqHardLimit: number;
  /** Start of the packet the last successful {@linkcode decapsulateInPlace} produced. */
  lastOffset = 0;
  /** Next Header of the last successfully decapsulated packet. */
  lastNextHeader = 0;
  /** Full (ESN-inferred) sequence number of the last successfully decapsulated packet. */
  lastSeq = 0;
  /** Tunnel-mode outer header settings. */
  protected readonly outer: OuterHeaderPolicy;
  /** Path MTU (0 = unknown). */
  protected readonly pathMtu: number;
  /** Tunnel-mode outer addresses. */
  protected endpoints?: TunnelEndpoints;
  #seq = 0;
  #ipId = 0;

  constructor(cfg: SaCommonConfig, protocol: "ESP" | "AH") {
    if (!Number.isInteger(cfg.spi) || cfg.spi < 256 || cfg.spi > 0xffffffff) {
      // SPIs 1..255 are reserved by IANA, 0 is never valid (RFC 4303/4302 section 2.1/2.4).
      throw new RangeError(`${protocol} SPI must be 256..2^32-1, got ${cfg.spi}`);
    }
    this.spi = cfg.spi;
    this.mode = cfg.mode;
    this.esn = cfg.esn ?? false;
    if (cfg.mode === "tunnel") this.endpoints = validateTunnel(cfg.tunnel);
    this.replay = new ReplayWindow({ size: cfg.replayWindowSize, esn: this.esn });
    this.antiReplay = cfg.antiReplay ?? true;
    this.stats = { inPackets: 0, inBytes: 0, outPackets: 0, outBytes: 0, drops: newDropCounters() };
    this.seqHardLimit = cfg.seqHardLimit ?? (this.esn ? Number.MAX_SAFE_INTEGER : 0xffffffff);
    if (!this.esn && this.seqHardLimit > 0xffffffff) {
      throw new RangeError("without ESN the sequence number cannot exceed 2^32-1");
    }
    this.seqSoftLimit = cfg.seqSoftLimit ?? Math.max(1, this.seqHardLimit - 0x100000);
    this.outer = { dscp: cfg.dscp ?? "copy", df: cfg.df ?? "copy", ttl: cfg.ttl ?? 64 };
    this.pathMtu = cfg.pathMtu ?? 0;
  }

  /** Tunnel mode: the current outer addresses. */
  get tunnel(): TunnelEndpoints | undefined {
    return this.endpoints;
  }
  /** Last sequence number sent (0 before the first packet). */
  get sequence(): number {
    return this.#seq;
  }
  /**
   * Restores the outbound counter (last sequence number sent), e.g. from
   * saved state or in tests. It can only move forward: a sequence number
   * (and for AEAD the IV) must never be reused under one key.
   */
  restoreSequence(lastSent: number): void {
    if (!Number.isInteger(lastSent) || lastSent < this.#seq || lastSent > this.seqHardLimit) {
      throw new RangeError(`cannot move the sequence counter from ${this.#seq} to ${lastSent}`);
    }
    this.#seq = lastSent;
  }
  /** True once the hard sequence limit is reached: the SA must not send again. */
  get sequenceExhausted(): boolean {
    return this.#seq >= this.seqHardLimit;
  }
  /** True once the soft sequence limit is reached: ask IKE to rekey this SA. */
  get rekeyNeeded(): boolean {
    return this.#seq >= this.seqSoftLimit;
  }

  /** Takes the next outbound sequence number (callers check `sequenceExhausted` first). */
  protected nextSequence(): number {
    return ++this.#seq;
  }
  /**
   * The next IPv4 Identification for an outer header; never 0, because the
   * kernel replaces an ID of 0 on raw packets without DF by a random one,
   * which AH (which covers the ID in transport mode) would then reject.
   */
  protected nextIpId(): number {
    this.#ipId = (this.#ipId % 0xffff) + 1;
    return this.#ipId;
  }

  /**
   * Before the ICV: the full sequence number for the wire's low 32 bits, or
   * a negative drop code (duplicate, too old, zero). Changes nothing.
   */
  protected checkSequence(seqLow: number): number {
    let seq: number;
    if (this.antiReplay) seq = this.replay.check(seqLow);
    else if (this.esn) seq = Math.max(this.replay.infer(seqLow), seqLow >>> 0);
    else seq = seqLow >>> 0 || 1;
    if (seq >= 0) return seq;
    return seq === REPLAY_DUPLICATE ? D_DUPLICATE : seq === REPLAY_TOO_OLD ? D_TOO_OLD : D_ZERO;
  }
  /** After the ICV verified: moves the window (RFC 4303/4302 section 3.4.3). */
  protected acceptSequence(seq: number): boolean {
    if (this.antiReplay) return this.replay.update(seq);
    if (seq > this.replay.top) this.replay.update(seq);
    return true;
  }

  /** An upper bound of the {@linkcode encapsulateInto} output for a packet of `packetLength`. */
  abstract requiredOutLength(packetLength: number): number;
  /**
   * Hot path: protects the IP packet `packet` into `out[offset..)` and
   * returns the bytes written or a negative code (see `espSendError`).
   * `out` must not overlap `packet`.
   */
  abstract encapsulateInto(packet: Uint8Array, out: Uint8Array, offset?: number): number;
  /** Processes the whole packet `p` in place: result length (from `lastOffset`) or a drop code. */
  protected abstract decapsulate(p: Uint8Array): number;

  /** Builds the result object for `n` bytes written to `out` (or a negative code). */
  protected outboundResult(out: Uint8Array, n: number): EspOutboundResult {
    if (n < 0) return { ok: false, error: espSendError(n) };
    return { ok: true, packet: out.subarray(0, n), seq: this.#seq, rekey: this.rekeyNeeded };
  }

  /** Protects an IP packet into a new buffer (see {@linkcode encapsulateInto}). */
  encapsulatePacket(packet: Uint8Array): EspOutboundResult {
    const out = new Uint8Array(this.requiredOutLength(packet.length));
    return this.outboundResult(out, this.encapsulateInto(packet, out, 0));
  }

  /**
   * Processes a whole received IP packet in place and returns a view into
   * it: the inner packet (tunnel) or the rebuilt packet (transport). Never
   * throws.
   */
  decapsulatePacket(packet: Uint8Array): EspInboundResult {
    const n = this.decapsulateInPlace(packet);
    if (n < 0) return { ok: false, drop: espDropReason(n) };
    return {
      ok: true,
      packet: packet.subarray(this.lastOffset, this.lastOffset + n),
      nextHeader: this.lastNextHeader,
      seq: this.lastSeq,
    };
  }

  /**
   * Hot path: processes the received IP packet in `buf[start..end)` in
   * place. Returns the length of the result, which starts at
   * {@linkcode lastOffset}, or a negative code (see `espDropReason`) that is
   * already counted in `stats.drops`. Never throws.
   */
  decapsulateInPlace(buf: Uint8Array, start = 0, end: number = buf.length): number {
    let r: number;
    try {
      r = this.decapsulate(start === 0 && end === buf.length ? buf : buf.subarray(start, end));
    } catch {
      r = D_INTERNAL;
    }
    if (r < 0) {
      this.stats.drops[espDropReason(r)]++;
      return r;
    }
    this.lastOffset += start;
    return r;
  }
}
