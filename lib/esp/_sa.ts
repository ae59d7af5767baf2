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
  "decompression-failed",
] as const;
/**
 * Why an inbound packet was dropped. `dummy` is a TFC dummy packet (RFC 4303
 * 2.6); `decompression-failed` an IPComp datagram (RFC 3173) that did not
 * decompress to a packet of its SA (wrong CPI, corrupt DEFLATE data).
 */
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
    /** Full (ESN-inferred) sequence number; exact below 2^53 (see `lastSeqHi` for more). */
    seq: number;
  }
  | { ok: false; drop: EspDropReason };

/** Result of outbound processing. */
export type EspOutboundResult =
  | {
    ok: true;
    packet: Uint8Array;
    /** Sequence number used; exact below 2^53 (see `sequenceBig` for more). */
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
  // Own copies, in one buffer (a buffer each costs ~0.5 KB per SA).
  const both = new Uint8Array(2 * t.src.length);
  both.set(t.src, 0);
  both.set(t.dst, t.src.length);
  return { src: both.subarray(0, t.src.length), dst: both.subarray(t.src.length) };
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
  seqSoftLimit?: number | bigint;
  /**
   * Outbound: refuse to send beyond this sequence number (default and
   * maximum 2^32-1, with ESN 2^64-1: the counter never wraps).
   */
  seqHardLimit?: number | bigint;
  /** Tunnel outer DSCP: copy from inner (default) or a fixed 6-bit value. */
  dscp?: "copy" | number;
  /**
   * Tunnel mode ECN: copy the inner field outward (default, RFC 6040 normal
   * mode) or send Not-ECT (false; the receiver then carries no mark inward).
   */
  ecn?: boolean;
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
const TWO32 = 0x1_0000_0000;
const U64_MAX = (1n << 64n) - 1n;

/** A sequence limit as exact uint32 halves. */
function splitLimit(v: number | bigint, max: bigint, what: string): [number, number] {
  if (typeof v === "number" && !Number.isSafeInteger(v)) {
    throw new RangeError(`${what} must be an integer (a bigint above 2^53), got ${v}`);
  }
  const b = BigInt(v);
  if (b < 1n || b > max) throw new RangeError(`${what} must be 1..${max}, got ${b}`);
  return [Number(b >> 32n), Number(b & 0xffffffffn)];
}

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
  /** Soft sequence limit (exact). */
  readonly seqSoftLimit: bigint;
  /** Hard sequence limit (exact). */
  readonly seqHardLimit: bigint;
  /** Start of the packet the last successful {@linkcode decapsulateInPlace} produced. */
  lastOffset = 0;
  /** Next Header of the last successfully decapsulated packet. */
  lastNextHeader = 0;
  /**
   * Tunnel mode: a Next Header besides IPv4/IPv6 whose payload inbound
   * processing returns as it is (its length, at {@linkcode lastOffset}) for
   * the caller to unwrap; IPComp's 108 when the SA compresses. -1: none.
   */
  passNextHeader = -1;
  /**
   * Full (ESN-inferred) sequence number of the last successfully
   * decapsulated packet; exact below 2^53 ({@linkcode lastSeqHi} and
   * {@linkcode lastSeqLo} are exact).
   */
  lastSeq = 0;
  /** High 32 bits of the last decapsulated sequence number. */
  lastSeqHi = 0;
  /** Low 32 bits of the last decapsulated sequence number. */
  lastSeqLo = 0;
  /** Tunnel-mode outer header settings. */
  protected readonly outer: OuterHeaderPolicy;
  /** Path MTU (0 = unknown). */
  protected readonly pathMtu: number;
  /** Tunnel-mode outer addresses. */
  protected endpoints?: TunnelEndpoints;
  /** Last sequence number sent, as uint32 halves (no BigInt per packet). */
  protected seqHi = 0;
  protected seqLo = 0;
  readonly #hardHi: number;
  readonly #hardLo: number;
  readonly #softHi: number;
  readonly #softLo: number;
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
    const max = this.esn ? U64_MAX : 0xffffffffn;
    if (!this.esn && cfg.seqHardLimit !== undefined && BigInt(cfg.seqHardLimit) > max) {
      throw new RangeError("without ESN the sequence number cannot exceed 2^32-1");
    }
    [this.#hardHi, this.#hardLo] = splitLimit(cfg.seqHardLimit ?? max, max, "seqHardLimit");
    this.seqHardLimit = (BigInt(this.#hardHi) << 32n) | BigInt(this.#hardLo);
    const soft = cfg.seqSoftLimit ??
      (this.seqHardLimit > 0x100000n ? this.seqHardLimit - 0x100000n : 1n);
    [this.#softHi, this.#softLo] = splitLimit(soft, max, "seqSoftLimit");
    this.seqSoftLimit = (BigInt(this.#softHi) << 32n) | BigInt(this.#softLo);
    this.outer = {
      dscp: cfg.dscp ?? "copy",
      ecn: cfg.ecn ?? true,
      df: cfg.df ?? "copy",
      ttl: cfg.ttl ?? 64,
    };
    this.pathMtu = cfg.pathMtu ?? 0;
  }

  /** Tunnel mode: the current outer addresses. */
  get tunnel(): TunnelEndpoints | undefined {
    return this.endpoints;
  }
  /** Last sequence number sent (0 before the first packet); exact below 2^53. */
  get sequence(): number {
    return this.seqHi * TWO32 + this.seqLo;
  }
  /** Last sequence number sent, exact (for the control plane; not per packet). */
  get sequenceBig(): bigint {
    return (BigInt(this.seqHi) << 32n) | BigInt(this.seqLo);
  }
  /**
   * Restores the outbound counter (last sequence number sent), e.g. from
   * saved state or in tests. It can only move forward: a sequence number
   * (and for AEAD the IV) must never be reused under one key. A number must
   * be a safe integer; use a bigint above 2^53.
   */
  restoreSequence(lastSent: number | bigint): void {
    const ok = typeof lastSent === "bigint" || Number.isSafeInteger(lastSent);
    const v = ok ? BigInt(lastSent) : -1n;
    if (v < this.sequenceBig || v > this.seqHardLimit) {
      throw new RangeError(
        `cannot move the sequence counter from ${this.sequenceBig} to ${lastSent}`,
      );
    }
    this.seqHi = Number(v >> 32n);
    this.seqLo = Number(v & 0xffffffffn);
  }
  /** True once the hard sequence limit is reached: the SA must not send again. */
  get sequenceExhausted(): boolean {
    return this.seqHi > this.#hardHi || (this.seqHi === this.#hardHi && this.seqLo >= this.#hardLo);
  }
  /** True once the soft sequence limit is reached: ask IKE to rekey this SA. */
  get rekeyNeeded(): boolean {
    return this.seqHi > this.#softHi || (this.seqHi === this.#softHi && this.seqLo >= this.#softLo);
  }

  /**
   * Takes the next outbound sequence number into `seqHi`/`seqLo` (callers
   * check `sequenceExhausted` first, so it never passes 2^64-1).
   */
  protected nextSequence(): void {
    if (this.seqLo === 0xffffffff) {
      this.seqLo = 0;
      this.seqHi++;
    } else {
      this.seqLo++;
    }
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
   * Before the ICV: the high 32 bits of the full sequence number for the
   * wire's low 32 bits (>= 0; 0 without ESN), or a negative drop code
   * (duplicate, too old, zero). Changes nothing.
   */
  protected checkSequence(seqLow: number): number {
    let hi: number;
    if (this.antiReplay) hi = this.replay.checkHigh(seqLow);
    else if (this.esn) hi = Math.min(0xffffffff, Math.max(0, this.replay.inferHigh(seqLow)));
    else hi = 0;
    if (hi >= 0) return hi;
    return hi === REPLAY_DUPLICATE ? D_DUPLICATE : hi === REPLAY_TOO_OLD ? D_TOO_OLD : D_ZERO;
  }
  /**
   * After the ICV verified: moves the window (RFC 4303/4302 section 3.4.3)
   * and records `hi:lo` as the last sequence number received.
   */
  protected acceptSequence(hi: number, lo: number): boolean {
    lo >>>= 0;
    if (this.antiReplay) {
      if (!this.replay.accept(hi, lo)) return false;
    } else if (hi > this.replay.topHi || (hi === this.replay.topHi && lo > this.replay.topLo)) {
      this.replay.accept(hi, lo);
    }
    this.lastSeqHi = hi;
    this.lastSeqLo = lo;
    this.lastSeq = hi * TWO32 + lo;
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
  /**
   * Processes the packet received into `buf[start..end)` in place: result
   * length (from `lastOffset`, an index into `buf`) or a drop code.
   */
  protected abstract decapsulate(buf: Uint8Array, start: number, end: number): number;

  /** Builds the result object for `n` bytes written to `out` (or a negative code). */
  protected outboundResult(out: Uint8Array, n: number): EspOutboundResult {
    if (n < 0) return { ok: false, error: espSendError(n) };
    return { ok: true, packet: out.subarray(0, n), seq: this.sequence, rekey: this.rekeyNeeded };
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
      // Offsets stay those of `buf`: no view per packet of a larger receive buffer.
      r = this.decapsulate(buf, start, end);
    } catch {
      r = D_INTERNAL;
    }
    if (r < 0) this.stats.drops[espDropReason(r)]++;
    return r;
  }
}
