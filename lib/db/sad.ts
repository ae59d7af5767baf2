/**
 * The Security Association Database (RFC 4301 section 4.4.2).
 *
 * Inbound entries are found by SPI in O(1) (a `Map` keyed by a number built
 * from protocol and SPI; RFC 4301 section 4.1: for unicast the SPI alone, or
 * SPI and protocol, selects the SA). Outbound entries are keyed by
 * (destination, protocol, SPI), since the peer picks their SPIs and two peers
 * may pick the same one. The data plane usually reaches an outbound SA
 * through the SPD cache and holds the entry itself.
 *
 * Each entry carries the fields of RFC 4301 section 4.4.2.1 that are not the
 * packet processor's: mode, endpoints, algorithm names, lifetimes (soft and
 * hard by seconds, bytes and packets), DSCP/DF handling, path MTU and the
 * traffic selectors. The sequence counter, overflow flag and replay window
 * live in the processor (`EspSa` / `AhSa` of lib/esp) and are exposed here.
 *
 * Lifetimes take injected time (`now`, milliseconds). Charging traffic
 * ({@linkcode SadEntry.charge}) and ticking ({@linkcode Sad.expire}) return
 * events instead of calling back: "soft" once (rekey), "hard" once (delete).
 *
 * @example
 * ```ts
 * const sad = new Sad();
 * const e = sad.add({ spi: 0x1000, protocol: "esp", direction: "in", mode: "tunnel",
 *   src: peer, dst: me, processor: espSa, hard: { seconds: 3600 }, now: Date.now() });
 * const found = sad.lookupInbound(0x1000, "esp");
 * ```
 *
 * @module
 */

import { formatIp, ipFromBytes } from "./address.ts";
import type { Selector } from "./selector.ts";

/** IPsec protocol of an SA. */
export type IpsecProtocol = "esp" | "ah";

/** A lifetime limit; absent fields are unlimited. */
export interface Lifetime {
  seconds?: number;
  bytes?: number;
  packets?: number;
}

/** What a lifetime check reports: nothing new, soft expiry (rekey), hard expiry (delete). */
export type LifetimeEvent = "none" | "soft" | "hard";

/**
 * The part of an ESP/AH packet processor the SAD exposes (EspSa and AhSa
 * from lib/esp implement it structurally).
 */
export interface SaProcessor {
  readonly spi: number;
  /** Last sequence number sent. */
  readonly sequence: number;
  /** Sequence counter overflow: the SA must not send again. */
  readonly sequenceExhausted: boolean;
  /** The soft sequence threshold was passed: rekey (treated as a soft expiry). */
  readonly rekeyNeeded?: boolean;
  /** Inbound anti-replay window (top = highest authenticated sequence number). */
  readonly replay: { readonly size: number; readonly top: number };
  /** Moves the SA to new outer addresses / UDP encapsulation in place (MOBIKE). */
  updateEndpoints?(
    tunnel: { src: Uint8Array; dst: Uint8Array } | undefined,
    udpEncap: { srcPort: number; dstPort: number } | undefined,
  ): void;
}

/** How the outer header's DSCP and DF are set in tunnel mode (RFC 4301 section 8.1, 5.1.2.1). */
export interface HeaderHandling {
  dscp: "copy" | number;
  df: "copy" | "set" | "clear";
}

/** Everything needed to add an entry. */
export interface SadEntryInit<P extends SaProcessor = SaProcessor> {
  spi: number;
  protocol: IpsecProtocol;
  direction: "in" | "out";
  mode: "tunnel" | "transport";
  /** SA endpoints (outer addresses in tunnel mode), 4 or 16 bytes. */
  src: Uint8Array;
  dst: Uint8Array;
  /** The keyed packet processor. */
  processor: P;
  /** Algorithm names for display (e.g. "aes128gcm16", "hmac-sha256-128"). */
  encryption?: string;
  integrity?: string;
  esn?: boolean;
  udpEncap?: { srcPort: number; dstPort: number };
  soft?: Lifetime;
  hard?: Lifetime;
  headers?: HeaderHandling;
  pathMtu?: number;
  /** The SA's traffic selectors (local side first). */
  trafficSelectors?: { local: Selector[]; remote: Selector[] };
  /** IKE SA / policy binding for rekey and delete. */
  reqid?: number;
  /** Time of installation, milliseconds. */
  now: number;
}

const NO_LIMIT: Lifetime = Object.freeze({});
const DEFAULT_HEADERS: HeaderHandling = Object.freeze({ dscp: "copy", df: "copy" });
const NO_SELECTOR_LIST = Object.freeze([]) as readonly Selector[] as Selector[];
const NO_SELECTORS: { local: Selector[]; remote: Selector[] } = Object.freeze({
  local: NO_SELECTOR_LIST,
  remote: NO_SELECTOR_LIST,
});

/** One SA in the database. */
export class SadEntry<P extends SaProcessor = SaProcessor> {
  readonly spi: number;
  readonly protocol: IpsecProtocol;
  readonly direction: "in" | "out";
  readonly mode: "tunnel" | "transport";
  /** SA endpoints; changed only through {@linkcode Sad.updateEndpoints}. */
  src: Uint8Array;
  dst: Uint8Array;
  readonly processor: P;
  readonly encryption?: string;
  readonly integrity?: string;
  readonly esn: boolean;
  udpEncap?: { srcPort: number; dstPort: number };
  readonly soft: Lifetime;
  readonly hard: Lifetime;
  readonly headers: HeaderHandling;
  pathMtu: number;
  readonly trafficSelectors: { local: Selector[]; remote: Selector[] };
  readonly reqid: number;
  readonly createdAt: number;
  /** Bytes processed (payload bytes, as RFC 4301 counts them). */
  bytes = 0;
  /** Packets processed. */
  packets = 0;
  /** Time of the last packet (for idle detection), milliseconds. */
  lastUsed: number;
  #softFired = false;
  #hardFired = false;

  constructor(init: SadEntryInit<P>) {
    this.spi = init.spi;
    this.protocol = init.protocol;
    this.direction = init.direction;
    this.mode = init.mode;
    this.src = init.src;
    this.dst = init.dst;
    this.processor = init.processor;
    this.encryption = init.encryption;
    this.integrity = init.integrity;
    this.esn = init.esn ?? false;
    this.udpEncap = init.udpEncap;
    // Shared frozen defaults keep a million entries small.
    this.soft = init.soft ?? NO_LIMIT;
    this.hard = init.hard ?? NO_LIMIT;
    this.headers = init.headers ?? DEFAULT_HEADERS;
    this.pathMtu = init.pathMtu ?? 0;
    this.trafficSelectors = init.trafficSelectors ?? NO_SELECTORS;
    this.reqid = init.reqid ?? 0;
    this.createdAt = init.now;
    this.lastUsed = init.now;
  }

  /** Last sequence number sent (from the processor). */
  get sequence(): number {
    return this.processor.sequence;
  }
  /** Sequence counter overflow flag (RFC 4301 section 4.4.2.1). */
  get sequenceOverflow(): boolean {
    return this.processor.sequenceExhausted;
  }
  /** True once the soft lifetime fired. */
  get softExpired(): boolean {
    return this.#softFired;
  }
  /** True once the hard lifetime fired: the SA must not be used. */
  get hardExpired(): boolean {
    return this.#hardFired;
  }

  /**
   * Accounts one packet of `bytes` at `now` and returns the lifetime event
   * this crossing caused ("soft" and "hard" are reported once each).
   */
  charge(bytes: number, now: number): LifetimeEvent {
    this.bytes += bytes;
    this.packets++;
    this.lastUsed = now;
    return this.#evaluate(now);
  }

  /** Checks the time limits (and counters) at `now`; same reporting as {@linkcode charge}. */
  check(now: number): LifetimeEvent {
    return this.#evaluate(now);
  }

  #evaluate(now: number): LifetimeEvent {
    if (this.#hardFired) return "none";
    if (exceeded(this.hard, this, now) || this.processor.sequenceExhausted) {
      this.#hardFired = true;
      this.#softFired = true;
      return "hard";
    }
    if (!this.#softFired && (exceeded(this.soft, this, now) || this.processor.rekeyNeeded)) {
      this.#softFired = true;
      return "soft";
    }
    return "none";
  }

  /** Milliseconds until the next time-based event, or Infinity. */
  nextDeadline(): number {
    if (this.#hardFired) return Infinity;
    const t = !this.#softFired && this.soft.seconds !== undefined
      ? this.createdAt + this.soft.seconds * 1000
      : Infinity;
    const h = this.hard.seconds !== undefined
      ? this.createdAt + this.hard.seconds * 1000
      : Infinity;
    return Math.min(t, h);
  }
}

function exceeded(l: Lifetime, e: SadEntry<SaProcessor>, now: number): boolean {
  return (l.seconds !== undefined && now - e.createdAt >= l.seconds * 1000) ||
    (l.bytes !== undefined && e.bytes >= l.bytes) ||
    (l.packets !== undefined && e.packets >= l.packets);
}

/** Thrown when adding an SA whose key is already present. */
export class SadError extends Error {
  override readonly name = "SadError";
}

const PROTO_KEY: Record<IpsecProtocol, number> = { esp: 0, ah: 0x1_0000_0000 };

function inboundKey(spi: number, protocol: IpsecProtocol): number {
  return PROTO_KEY[protocol] + spi;
}

function outboundKey(dst: Uint8Array, protocol: IpsecProtocol, spi: number): string {
  let s = protocol === "esp" ? "e" : "a";
  s += spi.toString(16);
  s += "@";
  for (let i = 0; i < dst.length; i++) s += dst[i].toString(16).padStart(2, "0");
  return s;
}

/** A lifetime event for one entry, as returned by {@linkcode Sad.expire}. */
export interface SadEvent<P extends SaProcessor = SaProcessor> {
  event: "soft" | "hard";
  entry: SadEntry<P>;
}

/** The SAD: inbound SAs by (protocol, SPI), outbound SAs by (destination, protocol, SPI). */
export class Sad<P extends SaProcessor = SaProcessor> {
  readonly #inbound = new Map<number, SadEntry<P>>();
  readonly #outbound = new Map<string, SadEntry<P>>();

  /** Number of entries (both directions). */
  get size(): number {
    return this.#inbound.size + this.#outbound.size;
  }

  /** Adds an SA; throws {@linkcode SadError} when its key is taken or the SPI is invalid. */
  add(init: SadEntryInit<P>): SadEntry<P> {
    if (!Number.isInteger(init.spi) || init.spi < 256 || init.spi > 0xffffffff) {
      throw new SadError(`SPI must be 256..2^32-1, got ${init.spi}`);
    }
    const e = new SadEntry(init);
    if (e.direction === "in") {
      const k = inboundKey(e.spi, e.protocol);
      if (this.#inbound.has(k)) {
        throw new SadError(`inbound ${e.protocol} SPI 0x${e.spi.toString(16)} already present`);
      }
      this.#inbound.set(k, e);
    } else {
      const k = outboundKey(e.dst, e.protocol, e.spi);
      if (this.#outbound.has(k)) {
        throw new SadError(`outbound ${e.protocol} SPI 0x${e.spi.toString(16)} already present`);
      }
      this.#outbound.set(k, e);
    }
    return e;
  }

  /** True when an inbound SA with this SPI exists (for choosing fresh SPIs). */
  hasInboundSpi(spi: number, protocol: IpsecProtocol = "esp"): boolean {
    return this.#inbound.has(inboundKey(spi, protocol));
  }

  /** The inbound SA for a received SPI, in O(1), or undefined (count "unknown-spi"). */
  lookupInbound(spi: number, protocol: IpsecProtocol = "esp"): SadEntry<P> | undefined {
    return this.#inbound.get(inboundKey(spi, protocol));
  }

  /** The outbound SA by destination, protocol and SPI. */
  lookupOutbound(dst: Uint8Array, protocol: IpsecProtocol, spi: number): SadEntry<P> | undefined {
    return this.#outbound.get(outboundKey(dst, protocol, spi));
  }

  /** Removes an entry; returns whether it was present. */
  remove(entry: SadEntry<P>): boolean {
    if (entry.direction === "in") {
      const k = inboundKey(entry.spi, entry.protocol);
      if (this.#inbound.get(k) !== entry) return false;
      return this.#inbound.delete(k);
    }
    const k = outboundKey(entry.dst, entry.protocol, entry.spi);
    if (this.#outbound.get(k) !== entry) return false;
    return this.#outbound.delete(k);
  }

  /**
   * MOBIKE (RFC 4555 section 3.5): moves an SA to new endpoints and NAT
   * state in place. Keys, counters, lifetimes and the replay window stay;
   * the outbound index (keyed by destination) follows; the packet processor
   * is told when it supports it. Returns false when `entry` is not here.
   */
  updateEndpoints(
    entry: SadEntry<P>,
    src: Uint8Array,
    dst: Uint8Array,
    udpEncap?: { srcPort: number; dstPort: number },
  ): boolean {
    if (src.length !== dst.length || (src.length !== 4 && src.length !== 16)) {
      throw new SadError("SA endpoints must be two IPv4 or two IPv6 addresses");
    }
    if (entry.protocol === "ah" && udpEncap) {
      throw new SadError("AH cannot be UDP-encapsulated (RFC 3948 covers ESP only)");
    }
    if (!this.remove(entry)) return false;
    entry.processor.updateEndpoints?.(
      entry.mode === "tunnel" ? { src, dst } : undefined,
      udpEncap,
    );
    entry.src = src.slice();
    entry.dst = dst.slice();
    entry.udpEncap = udpEncap;
    if (entry.direction === "in") this.#inbound.set(inboundKey(entry.spi, entry.protocol), entry);
    else this.#outbound.set(outboundKey(entry.dst, entry.protocol, entry.spi), entry);
    return true;
  }

  /** One display row per SA for `ipsec sad` (inbound first), at time `now`. */
  rows(now: number): SadRow[] {
    const out: SadRow[] = [];
    for (const e of this.entries()) out.push(sadRow(e, now));
    return out;
  }

  /** All entries (inbound first). */
  *entries(): IterableIterator<SadEntry<P>> {
    yield* this.#inbound.values();
    yield* this.#outbound.values();
  }

  /** Entries installed for one policy/IKE binding. */
  byReqid(reqid: number): SadEntry<P>[] {
    const out: SadEntry<P>[] = [];
    for (const e of this.entries()) if (e.reqid === reqid) out.push(e);
    return out;
  }

  /**
   * Checks every entry at `now`: returns the soft events (rekey these) and
   * the hard events (these entries were removed). O(n); call from a timer.
   */
  expire(now: number): SadEvent<P>[] {
    const events: SadEvent<P>[] = [];
    // Deleting the current entry while iterating a Map is well-defined in JavaScript.
    for (const e of this.entries()) {
      const ev = e.check(now);
      if (ev === "soft") events.push({ event: "soft", entry: e });
      else if (ev === "hard" || e.hardExpired) {
        if (ev === "hard") events.push({ event: "hard", entry: e });
        this.remove(e);
      }
    }
    return events;
  }
}

/** A flat, printable view of one SA (for the CLI table and the control socket). */
export interface SadRow {
  /** SPI as 8 hex digits. */
  spi: string;
  direction: "in" | "out";
  protocol: IpsecProtocol;
  mode: "tunnel" | "transport";
  src: string;
  dst: string;
  /** "udp 4500->4500" or "". */
  encap: string;
  encryption: string;
  integrity: string;
  esn: boolean;
  /** Outbound: last sequence number sent. Inbound: highest authenticated one. */
  sequence: number;
  replayWindow: number;
  bytes: number;
  packets: number;
  ageSeconds: number;
  /** Seconds until the soft / hard time limit, or null when there is none. */
  softInSeconds: number | null;
  hardInSeconds: number | null;
  /** "active", "rekeying" (soft fired), "expired" (hard fired) or "overflow". */
  state: "active" | "rekeying" | "expired" | "overflow";
  reqid: number;
}

function sadRow(e: SadEntry<SaProcessor>, now: number): SadRow {
  const left = (l: Lifetime) =>
    l.seconds === undefined
      ? null
      : Math.max(0, Math.ceil((e.createdAt + l.seconds * 1000 - now) / 1000));
  return {
    spi: e.spi.toString(16).padStart(8, "0"),
    direction: e.direction,
    protocol: e.protocol,
    mode: e.mode,
    src: formatIp(ipFromBytes(e.src)),
    dst: formatIp(ipFromBytes(e.dst)),
    encap: e.udpEncap ? `udp ${e.udpEncap.srcPort}->${e.udpEncap.dstPort}` : "",
    encryption: e.encryption ?? (e.protocol === "ah" ? "" : "?"),
    integrity: e.integrity ?? "",
    esn: e.esn,
    sequence: e.direction === "out" ? e.sequence : e.processor.replay.top,
    replayWindow: e.processor.replay.size,
    bytes: e.bytes,
    packets: e.packets,
    ageSeconds: Math.floor((now - e.createdAt) / 1000),
    softInSeconds: e.softExpired ? null : left(e.soft),
    hardInSeconds: left(e.hard),
    state: e.hardExpired
      ? "expired"
      : e.sequenceOverflow
      ? "overflow"
      : e.softExpired
      ? "rekeying"
      : "active",
    reqid: e.reqid,
  };
}
