/**
 * The data plane's packet logic without I/O (runs inside the data-path
 * Worker; tests drive it directly with a fake {@linkcode CoreIo}).
 *
 * Outbound (a packet read from the TUN):
 *  1. extract the SPD key (addresses, protocol, ports); malformed -> drop;
 *  2. SPD lookup (lib/db/spd.ts, flow-cached); no SPD or no match -> DISCARD;
 *  3. BYPASS: send the packet as it is (raw socket, fwmark set);
 *     DISCARD: count;
 *     PROTECT: the newest outbound SA whose selectors match the packet;
 *  4. no SA yet: keep up to `acquireQueue` packets per (policy, peer) and
 *     emit one "acquire" event; they leave when a matching SA is installed
 *     or are dropped after `acquireTimeoutMs`. Nothing PROTECT is ever sent
 *     in clear (fail closed);
 *  5. clamp the MSS of TCP SYNs to the TUN MTU, encapsulate straight into
 *     the socket batch slot, count, check limits.
 *
 * Inbound (a packet received on a raw ESP/AH or UDP/4500 socket, as a full
 * IP packet): SAD by SPI -> replay check, ICV, decrypt (EspSa/AhSa) ->
 * the inner packet must match the SA's selectors -> MSS clamp -> TUN.
 *
 * @module
 */

import { formatIp } from "../db/address.ts";
import { packetKey } from "../db/packet_key.ts";
import type { PacketTuple, Selector } from "../db/selector.ts";
import { selectorMatches } from "../db/selector.ts";
import { exactRemote, Spd, type SpdEntry } from "../db/spd.ts";
import { ESP_DROP_REASONS, type EspDropReason, espDropReason, espSendError } from "../esp/esp.ts";
import { IpcompSa } from "../esp/ipcomp_sa.ts";
import { applyDecapsulationEcn, ecnOf } from "../ip/ecn.ts";
import { clampTcpMss, mssForMtu } from "./mss.ts";
import { TcpSegmenter } from "./offload.ts";
import type { PacketProcessor, SaSpec } from "./sa_spec.ts";

/** Every reason the data plane drops a packet (one counter each). */
export const DROP_REASONS = [
  /** Outbound packet from the TUN is not a valid IP packet. */
  "malformed-inner",
  /** No SPD (not configured yet) or no entry matched: RFC 4301 default DISCARD. */
  "no-policy",
  /** A DISCARD entry matched. */
  "policy-discard",
  /** PROTECT without SA and the acquire queue was full. */
  "acquire-queue-full",
  /** PROTECT without SA and no SA arrived in time. */
  "acquire-timeout",
  /** The SA refused to build the packet (sequence exhausted, too big, ...). */
  "encapsulation-failed",
  /** No room in the socket batch / socket buffer. */
  "send-failed",
  /** Inbound SPI not in the SAD. */
  "unknown-spi",
  /** The SA dropped it (replay, ICV, padding, ...; per-SA counters tell which). */
  "decapsulation-failed",
  /** The decrypted packet does not match the SA's selectors (RFC 4301 5.2 step 4). */
  "sa-selector-mismatch",
  /** Congestion marked (CE) outside, inner packet not ECN-capable (RFC 6040 section 4.2). */
  "ecn-ce-not-ect",
  /** The kernel refused the packet on the TUN. */
  "tun-write-failed",
  /** Received datagram is neither ESP/AH nor IKE/keepalive. */
  "not-ipsec",
  /** A TUN offload frame (virtio_net_hdr) that cannot be segmented or checksummed. */
  "offload-malformed",
] as const;
/** A drop reason. */
export type DropReason = typeof DROP_REASONS[number];

/**
 * An SA's instance of a named PROTECT entry (RFC 4301 section 4.4.1.3): the
 * entry at `index` matches packets within `selectors` (the SA's) from now on.
 */
export interface PolicyInstance {
  /** The caller's name for it (the daemon: the outbound SA's protocol and SPI). */
  readonly key: string;
  /** Index of the named PROTECT entry in the SPD. */
  readonly index: number;
  readonly selectors: readonly Selector[];
}

/** Something the control side (IKE daemon) must hear about. */
export type DataplaneEvent =
  | {
    type: "acquire";
    /** Index of the PROTECT entry in the SPD given to setPolicies. */
    policyIndex: number;
    label?: string;
    /** The packet matched an SA's instance of that (named) entry, not the entry itself. */
    instance?: boolean;
    /** The triggering packet (RFC 4301 PFP data), addresses as text. */
    src: string;
    dst: string;
    protocol: number;
    srcPort: number;
    dstPort: number;
  }
  | {
    type: "expire";
    /** Soft: rekey now. Hard: the SA was removed from the data plane. */
    hard: boolean;
    direction: "in" | "out";
    protocol: "esp" | "ah";
    spi: number;
    reqid?: number;
    reason: "bytes" | "packets" | "sequence";
  }
  | {
    /** An IKE message that arrived on the UDP encapsulation port (marker stripped). */
    type: "ike";
    data: Uint8Array;
    remote: Uint8Array;
    remotePort: number;
    localPort: number;
    /** The address it was sent to, when the socket reports it (IP_PKTINFO). */
    local?: Uint8Array;
  }
  | {
    /**
     * An audited discard (RFC 4301 sections 5.1 and 5.2): the first packet
     * of a reason in each second; `suppressed` counts those not reported
     * since the last event of that reason.
     */
    type: "discard";
    direction: "outbound" | "inbound";
    reason: AuditedDrop;
    src: string;
    dst: string;
    protocol: number;
    srcPort: number;
    dstPort: number;
    suppressed: number;
  }
  | {
    /**
     * Authenticated ESP of a UDP-encapsulated inbound SA came from another
     * address or port than the SA's peer: a NAT in front of the peer mapped
     * it anew (RFC 7296 section 2.23, RFC 4555 section 3.8). At most one per
     * SA in {@linkcode MAPPING_INTERVAL_MS}.
     */
    type: "mapping";
    spi: number;
    reqid?: number;
    remote: Uint8Array;
    remotePort: number;
  }
  | { type: "error"; message: string };

/** At most one "mapping" event per SA in this many milliseconds. */
export const MAPPING_INTERVAL_MS = 1000;

/** Drop reasons reported as {@linkcode DataplaneEvent} "discard" (rate-limited). */
export type AuditedDrop = "no-policy" | "policy-discard" | "sa-selector-mismatch";

/** At most one "discard" event per reason in this many milliseconds. */
export const AUDIT_INTERVAL_MS = 1000;

/** Counters of one SA. */
export interface SaStats {
  direction: "in" | "out";
  protocol: "esp" | "ah";
  spi: number;
  mode: "tunnel" | "transport";
  reqid?: number;
  label?: string;
  /** Packets and payload bytes processed successfully. */
  packets: number;
  bytes: number;
  /** Last sequence number sent (outbound) or highest received (inbound). */
  sequence: number;
  /** Drops by reason (only non-zero reasons). */
  drops: Partial<Record<EspDropReason | "sa-selector-mismatch" | "encapsulation-failed", number>>;
  /** IPComp SAs: packets that went (or came) compressed, and those that went as they were. */
  ipcomp?: { cpi: number; compressed: number; uncompressed: number };
}

/** A snapshot of all counters. */
export interface DataplaneStats {
  /** Packets processed, by path. */
  packets: {
    outbound: number;
    inbound: number;
    bypass: number;
    queued: number;
    ike: number;
    keepalive: number;
    /** TUN offload frames that were GSO super-packets (each counted in outbound per segment). */
    superPackets: number;
    /** GSO super-packets written to the TUN (GRO; counted by the Worker). */
    coalesced: number;
    /** ESP-in-UDP datagrams sent in segmented sends (UDP_SEGMENT; counted by the Worker). */
    udpSegmented: number;
    /** Received UDP buffers that held several datagrams (UDP_GRO; counted by the Worker). */
    udpCoalesced: number;
  };
  drops: Record<DropReason, number>;
  sas: SaStats[];
}

/** What the core needs from the outside world. */
export interface CoreIo {
  /**
   * Space to build the next outgoing IP packet (IPv4 when `v4`); it is sent
   * whole (the IP header included, as built). Null when the queue is full.
   */
  reserveOut(v4: boolean): Uint8Array | null;
  /**
   * Queues `length` bytes of the last reserved space, for the destination
   * address in the IP header just built there.
   */
  commitOut(v4: boolean, length: number): void;
  /**
   * Hands a decrypted packet to the TUN; false when the kernel refused it.
   * An edge that batches writes returns true and counts later refusals itself.
   */
  toTun(packet: Uint8Array): boolean;
  /** Reports an event to the control side. */
  emit(e: DataplaneEvent): void;
}

/** Tunables of {@linkcode DataplaneCore}. */
export interface CoreOptions {
  /** Packets kept per (policy, peer) while IKE negotiates (default 32). */
  acquireQueue?: number;
  /** All queued packets together (default 1024). */
  acquireQueueTotal?: number;
  /** How long queued packets wait for an SA (default 5000 ms). */
  acquireTimeoutMs?: number;
  /** Milliseconds clock (injected for tests). */
  now?: () => number;
  /**
   * The TUN MTU: TCP SYNs through an SA (both ways) get their MSS clamped
   * to fit it. Absent: no clamping.
   */
  clampMssToMtu?: number;
  /**
   * Largest packet {@linkcode DataplaneCore.outboundFrame} cuts a TUN
   * super-packet into (default: `clampMssToMtu`, else 65535).
   */
  tunMtu?: number;
}

interface SaRecord {
  /** Install order of outbound SAs: the newest matching one carries a flow. */
  seq: number;
  spec: SaSpec;
  proc: PacketProcessor;
  selectors: readonly Selector[];
  packets: number;
  bytes: number;
  selectorMismatch: number;
  encapFailed: number;
  softSent: boolean;
  /** When the last "mapping" event of this (inbound) SA went out. */
  mappingAt: number;
}

interface PendingAcquire {
  index: number;
  tuple: PacketTuple;
  packets: Uint8Array[];
  since: number;
}

/** The sans-I/O data plane: SPD, SAs, acquire queue, counters. */
export class DataplaneCore {
  readonly #io: CoreIo;
  readonly #now: () => number;
  readonly #queuePerKey: number;
  readonly #queueTotal: number;
  readonly #acquireTimeout: number;
  readonly #mss4: number;
  readonly #mss6: number;
  readonly #segmenter: TcpSegmenter;
  readonly #outboundOne = (p: Uint8Array) => this.outbound(p);
  #spd: Spd | null = null;
  /** Outbound SAs, newest first (a rekeyed SA takes over at once). */
  #out: SaRecord[] = [];
  /**
   * The outbound SAs again, by the one remote address their selectors allow
   * (a gateway's client SAs), or in `#outLoose`: a flow's SA is found
   * without looking at every client's.
   */
  readonly #outByRemote = new Map<number | bigint, SaRecord[]>();
  #outLoose: SaRecord[] = [];
  #outSeq = 0;
  readonly #inEsp = new Map<number, SaRecord>();
  readonly #inAh = new Map<number, SaRecord>();
  /**
   * The inbound ESP SA found last, by SPI: a bulk flow asks for the same one
   * packet after packet, and the Map lookup (SPIs above 2^31 are heap
   * numbers, hashed each time) cost ~3% of a receiving Worker's time.
   */
  #lastEspSpi = -1;
  #lastEsp: SaRecord | undefined = undefined;
  readonly #pending = new Map<string, PendingAcquire>();
  #queued = 0;
  /** Source of the UDP datagram being processed ({@linkcode udpSource}); port -1: none. */
  readonly #srcAddr = new Uint8Array(16);
  #srcLen = 0;
  #srcPort = -1;
  /** ECN field of the outer header of the UDP datagram(s) in process (see outerEcn). */
  #outerEcn = 0;
  readonly #flows = new FlowCache();
  /** Instance ids in the SPD by the caller's key (see addPolicyInstance). */
  #instanceIds = new Map<string, { id: number; selectors: readonly Selector[] }>();
  /** Inbound: inner flows already found inside their SA's selectors. */
  readonly #inFlows = new FlowCache();
  readonly drops: Record<DropReason, number>;
  readonly #audits: Record<AuditedDrop, { last: number; suppressed: number }> = {
    "no-policy": { last: -Infinity, suppressed: 0 },
    "policy-discard": { last: -Infinity, suppressed: 0 },
    "sa-selector-mismatch": { last: -Infinity, suppressed: 0 },
  };
  readonly packets = {
    outbound: 0,
    inbound: 0,
    bypass: 0,
    queued: 0,
    ike: 0,
    keepalive: 0,
    superPackets: 0,
    coalesced: 0,
    udpSegmented: 0,
    udpCoalesced: 0,
  };

  constructor(io: CoreIo, o: CoreOptions = {}) {
    this.#io = io;
    this.#now = o.now ?? Date.now;
    this.#queuePerKey = o.acquireQueue ?? 32;
    this.#queueTotal = o.acquireQueueTotal ?? 1024;
    this.#acquireTimeout = o.acquireTimeoutMs ?? 5000;
    const mtu = o.clampMssToMtu ?? 0;
    this.#mss4 = mtu > 0 ? mssForMtu(mtu, false) : 0;
    this.#mss6 = mtu > 0 ? mssForMtu(mtu, true) : 0;
    this.#segmenter = new TcpSegmenter(o.tunMtu ?? (mtu > 0 ? mtu : 65535));
    this.drops = {} as Record<DropReason, number>;
    for (const r of DROP_REASONS) this.drops[r] = 0;
  }

  /** Replaces the SPD (a new one has empty caches). Null discards everything. */
  setPolicies(
    entries: readonly SpdEntry[] | null,
    instances: readonly PolicyInstance[] = [],
  ): void {
    const spd = entries === null ? null : new Spd(entries);
    const ids = new Map<string, { id: number; selectors: readonly Selector[] }>();
    if (spd) {
      for (const i of instances) {
        ids.set(i.key, { id: spd.addInstance(i.index, i.selectors), selectors: i.selectors });
      }
    }
    this.#spd = spd;
    this.#instanceIds = ids;
    this.#flows.clear();
    this.#policiesChanged();
  }

  /**
   * Adds (or replaces) an SA's instance of a named PROTECT entry of the
   * current SPD (lib/db/spd.ts addInstance): one change, however many
   * instances there are.
   */
  addPolicyInstance(i: PolicyInstance): void {
    const spd = this.#spd;
    if (spd === null) throw new Error("no SPD: an instance needs its entry");
    const id = spd.addInstance(i.index, i.selectors);
    const old = this.#instanceIds.get(i.key);
    if (old !== undefined) {
      spd.removeInstance(old.id);
      this.#flows.forgetRemote(old.selectors);
    }
    this.#instanceIds.set(i.key, { id, selectors: i.selectors });
    // Only flows to this SA's addresses are decided differently now.
    this.#flows.forgetRemote(i.selectors);
  }

  /** Removes instance `key`; returns whether it existed. */
  removePolicyInstance(key: string): boolean {
    const inst = this.#instanceIds.get(key);
    if (inst === undefined || this.#spd === null) return false;
    this.#instanceIds.delete(key);
    this.#spd.removeInstance(inst.id);
    this.#flows.forgetRemote(inst.selectors);
    this.#policiesChanged();
    return true;
  }

  #policiesChanged(): void {
    // Queued packets are re-decided when an SA arrives; drop those whose policy is gone.
    for (const [k, p] of this.#pending) {
      const d = this.#spd?.lookupOutbound(p.tuple);
      if (!d || d.action !== "protect" || d.index !== p.index) this.#dropPending(k, p);
    }
  }

  /** Installs an SA with its keyed processor. Outbound SAs release matching queued packets. */
  installSa(spec: SaSpec, proc: PacketProcessor): void {
    const rec: SaRecord = {
      seq: 0,
      spec,
      proc,
      selectors: spec.selectors ?? [],
      packets: 0,
      bytes: 0,
      selectorMismatch: 0,
      encapFailed: 0,
      softSent: false,
      mappingAt: -Infinity,
    };
    if (spec.direction === "in") {
      const map = spec.protocol === "esp" ? this.#inEsp : this.#inAh;
      const old = map.get(spec.spi);
      if (old) this.#inFlows.forgetValue(old);
      map.set(spec.spi, rec);
      this.#forgetLastEsp();
      return;
    }
    rec.seq = ++this.#outSeq;
    const replaced = this.#out.filter((r) => sameSa(r.spec, spec));
    if (replaced.length > 0) this.#out = this.#out.filter((r) => !sameSa(r.spec, spec));
    for (const r of replaced) {
      this.#unindexOut(r);
      this.#flows.forgetValue(r);
    }
    this.#out.unshift(rec);
    this.#indexOut(rec);
    // Only flows the new SA could carry change (it is the newest that matches them).
    this.#flows.forgetRemote(rec.selectors);
    for (const [k, p] of this.#pending) {
      if (!matches(rec.selectors, p.tuple)) continue;
      this.#pending.delete(k);
      this.#queued -= p.packets.length;
      for (const pkt of p.packets) this.#protect(rec, pkt);
    }
  }

  /** Removes an SA; returns whether it was installed. */
  removeSa(direction: "in" | "out", protocol: "esp" | "ah", spi: number): boolean {
    if (direction === "in") {
      const map = protocol === "esp" ? this.#inEsp : this.#inAh;
      const old = map.get(spi);
      if (old) this.#inFlows.forgetValue(old);
      this.#forgetLastEsp();
      return map.delete(spi);
    }
    const gone = this.#out.filter((r) => r.spec.protocol === protocol && r.spec.spi === spi);
    if (gone.length === 0) return false;
    this.#out = this.#out.filter((r) => !gone.includes(r));
    for (const r of gone) {
      this.#unindexOut(r);
      this.#flows.forgetValue(r);
    }
    return true;
  }

  #indexOut(r: SaRecord): void {
    const key = r.selectors.length > 0 ? exactRemote(r.selectors) : undefined;
    if (key === undefined) this.#outLoose.push(r);
    else {
      const list = this.#outByRemote.get(key);
      if (list) list.push(r);
      else this.#outByRemote.set(key, [r]);
    }
  }

  #unindexOut(r: SaRecord): void {
    const key = r.selectors.length > 0 ? exactRemote(r.selectors) : undefined;
    if (key === undefined) {
      this.#outLoose = this.#outLoose.filter((x) => x !== r);
      return;
    }
    const rest = (this.#outByRemote.get(key) ?? []).filter((x) => x !== r);
    if (rest.length > 0) this.#outByRemote.set(key, rest);
    else this.#outByRemote.delete(key);
  }

  /** The newest outbound SA whose selectors match `t` (what a scan of `#out` finds first). */
  #findOut(t: PacketTuple): SaRecord | undefined {
    let best: SaRecord | undefined;
    const exact = this.#outByRemote.get(t.remoteAddress);
    if (exact) {
      for (const r of exact) if ((!best || r.seq > best.seq) && matches(r.selectors, t)) best = r;
    }
    for (const r of this.#outLoose) {
      if ((!best || r.seq > best.seq) && matches(r.selectors, t)) best = r;
    }
    return best;
  }

  /** Changes the outer addresses / NAT-T ports of an SA in place (MOBIKE). */
  updateSa(
    direction: "in" | "out",
    protocol: "esp" | "ah",
    spi: number,
    local: Uint8Array,
    remote: Uint8Array,
    encap: { localPort: number; remotePort: number } | undefined,
  ): boolean {
    const rec = this.#find(direction, protocol, spi);
    if (!rec) return false;
    const out = direction === "out";
    rec.spec = { ...rec.spec, local, remote, encap };
    rec.proc.updateEndpoints(
      { src: out ? local : remote, dst: out ? remote : local },
      encap
        ? {
          srcPort: out ? encap.localPort : encap.remotePort,
          dstPort: out ? encap.remotePort : encap.localPort,
        }
        : undefined,
    );
    return true;
  }

  #find(direction: "in" | "out", protocol: "esp" | "ah", spi: number): SaRecord | undefined {
    if (direction === "in") return (protocol === "esp" ? this.#inEsp : this.#inAh).get(spi);
    return this.#out.find((r) => r.spec.protocol === protocol && r.spec.spi === spi);
  }

  /** The inbound SA for a received SPI (to check the UDP encapsulation of its packets). */
  inboundSpec(protocol: "esp" | "ah", spi: number): SaSpec | undefined {
    return (protocol === "esp" ? this.#inEsp : this.#inAh).get(spi)?.spec;
  }

  // ---------------------------------------------------------------- outbound

  /**
   * Processes one frame read from a TUN with offloads on (virtio_net_hdr +
   * packet, lib/dataplane/offload.ts): a TCP super-packet is cut into
   * segments of at most the TUN MTU, a packet with a partial checksum gets
   * it completed; each resulting packet then goes through
   * {@linkcode outbound}. The frame's bytes are reused in place.
   */
  outboundFrame(frame: Uint8Array): void {
    if (frame.length > 1 && frame[1] !== 0) this.packets.superPackets++;
    if (this.#segmenter.process(frame, this.#outboundOne) < 0) this.drops["offload-malformed"]++;
  }

  /** Processes one packet read from the TUN. */
  outbound(packet: Uint8Array): void {
    // Fast path: a flow decided before (same addresses, protocol, ports).
    const slot = this.#flows.find(packet);
    if (slot >= 0) {
      const v = this.#flows.value(slot);
      if (v === BYPASS) this.#bypass(packet);
      else if (v === NO_POLICY) this.#discard("outbound", "no-policy", packet);
      else if (v === DISCARD) this.#discard("outbound", "policy-discard", packet);
      else this.#protect(v, packet);
      return;
    }
    const k = packetKey(packet, "outbound");
    if (!k.ok) {
      this.drops["malformed-inner"]++;
      return;
    }
    const spd = this.#spd;
    if (spd === null) {
      this.drops["no-policy"]++;
      return;
    }
    const d = spd.lookupOutbound(k.tuple);
    if (d.action === "discard") {
      const none = d.index < 0;
      this.#discard("outbound", none ? "no-policy" : "policy-discard", packet, k.tuple);
      this.#flows.remember(packet, none ? NO_POLICY : DISCARD);
      return;
    }
    if (d.action === "bypass") {
      this.#flows.remember(packet, BYPASS);
      this.#bypass(packet);
      return;
    }
    const r = this.#findOut(k.tuple);
    if (r) {
      this.#flows.remember(packet, r);
      this.#protect(r, packet);
      return;
    }
    this.#acquire(d.index, d.entry?.label, k.tuple, packet, d.instance !== undefined);
  }

  /** Counts a discard and reports the first one per reason and second (audit). */
  #discard(
    direction: "outbound" | "inbound",
    reason: AuditedDrop,
    packet: Uint8Array,
    tuple?: PacketTuple,
  ): void {
    this.drops[reason]++;
    const a = this.#audits[reason];
    const now = this.#now();
    if (now - a.last < AUDIT_INTERVAL_MS) {
      a.suppressed++;
      return;
    }
    let t = tuple;
    if (t === undefined) {
      const k = packetKey(packet, direction);
      if (!k.ok) return void a.suppressed++;
      t = k.tuple;
    }
    const ip = (v: number | bigint) =>
      formatIp(
        t!.version === 4 ? { version: 4, value: v as number } : { version: 6, value: v as bigint },
      );
    // Outbound: local is the source; inbound: the remote is.
    const [src, dst, sp, dp] = direction === "outbound"
      ? [t.localAddress, t.remoteAddress, t.localPort, t.remotePort]
      : [t.remoteAddress, t.localAddress, t.remotePort, t.localPort];
    this.#io.emit({
      type: "discard",
      direction,
      reason,
      src: ip(src),
      dst: ip(dst),
      protocol: t.protocol,
      srcPort: sp,
      dstPort: dp,
      suppressed: a.suppressed,
    });
    a.last = now;
    a.suppressed = 0;
  }

  #bypass(packet: Uint8Array): void {
    const v4 = packet[0] >> 4 === 4;
    const len = v4 ? (packet[2] << 8) | packet[3] : 40 + ((packet[4] << 8) | packet[5]);
    const buf = this.#io.reserveOut(v4);
    if (buf === null || len > buf.length || len > packet.length) {
      this.drops["send-failed"]++;
      return;
    }
    buf.set(packet.subarray(0, len));
    this.#io.commitOut(v4, len);
    this.packets.bypass++;
  }

  #clamp(p: Uint8Array): void {
    if (this.#mss4 > 0) clampTcpMss(p, p[0] >> 4 === 4 ? this.#mss4 : this.#mss6);
  }

  #protect(r: SaRecord, packet: Uint8Array): void {
    this.#clamp(packet);
    const v4 = r.spec.local.length === 4;
    const buf = this.#io.reserveOut(v4);
    if (buf === null) {
      this.drops["send-failed"]++;
      return;
    }
    const n = r.proc.encapsulateInto(packet, buf, 0);
    if (n < 0) {
      this.drops["encapsulation-failed"]++;
      r.encapFailed++;
      const err = espSendError(n);
      if (err === "sequence-exhausted") this.#expire(r, true, "sequence");
      return;
    }
    // The destination is read from the built header (transport mode: the packet's own).
    this.#io.commitOut(v4, n);
    this.packets.outbound++;
    r.packets++;
    r.bytes += packet.length;
    this.#checkLimits(r);
  }

  #acquire(
    index: number,
    label: string | undefined,
    t: PacketTuple,
    packet: Uint8Array,
    instance: boolean,
  ): void {
    const key = `${index}|${t.remoteAddress}`;
    let p = this.#pending.get(key);
    if (p === undefined) {
      p = { index, tuple: t, packets: [], since: this.#now() };
      this.#pending.set(key, p);
      const local = formatIp(
        t.version === 4
          ? { version: 4, value: t.localAddress }
          : { version: 6, value: t.localAddress },
      );
      const remote = formatIp(
        t.version === 4
          ? { version: 4, value: t.remoteAddress }
          : { version: 6, value: t.remoteAddress },
      );
      this.#io.emit({
        type: "acquire",
        policyIndex: index,
        label,
        ...(instance ? { instance } : {}),
        src: local,
        dst: remote,
        protocol: t.protocol,
        srcPort: t.localPort,
        dstPort: t.remotePort,
      });
    }
    if (p.packets.length >= this.#queuePerKey || this.#queued >= this.#queueTotal) {
      this.drops["acquire-queue-full"]++;
      return;
    }
    p.packets.push(packet.slice());
    this.#queued++;
    this.packets.queued++;
  }

  #dropPending(key: string, p: PendingAcquire): void {
    this.#pending.delete(key);
    this.#queued -= p.packets.length;
    this.drops["acquire-timeout"] += p.packets.length;
  }

  /** Housekeeping: drops queued packets whose SA did not come in time. Call every ~100 ms. */
  tick(): void {
    const now = this.#now();
    for (const [k, p] of this.#pending) {
      if (now - p.since >= this.#acquireTimeout) this.#dropPending(k, p);
    }
  }

  /** Number of packets waiting for an SA. */
  get queued(): number {
    return this.#queued;
  }

  // ----------------------------------------------------------------- inbound

  /**
   * Processes one received IPsec packet: `buf[start..end)` is the whole IP
   * packet (outer header, UDP header if encapsulated, ESP/AH ...) with
   * protocol `protocol` and SPI `spi` (already read by the caller).
   */
  inbound(buf: Uint8Array, start: number, end: number, protocol: "esp" | "ah", spi: number): void {
    const r = protocol === "esp" ? this.#espIn(spi) : this.#inAh.get(spi);
    if (r === undefined) {
      this.drops["unknown-spi"]++;
      return;
    }
    const ecn = end - start >= 2 ? ecnOf(buf, start) : 0; // before decryption rewrites anything
    this.#deliver(r, buf, r.proc.decapsulateInPlace(buf, start, end), ecn);
  }

  /**
   * The outer header's ECN field (RFC 3168) of the datagram(s) the next
   * {@linkcode inboundEspPayload} calls process, until the next call (the
   * receiver reads it from IP_TOS / IPV6_TCLASS ancillary data; 0 when
   * unknown: then nothing is changed).
   */
  outerEcn(ecn: number): void {
    this.#outerEcn = ecn & 3;
  }

  /**
   * Processes the payload of a UDP/4500 datagram carrying ESP (RFC 3948):
   * `buf[start..end)` is SPI .. ICV with no IP or UDP header in front, and
   * `spi` its SPI. A tunnel-mode SA needs nothing of the outer headers, so it
   * takes the bytes as they are (no headers rebuilt, no headroom needed).
   * Returns false, having done nothing, when the SA is in transport mode
   * (its inner checksums depend on the outer addresses, RFC 3948 section
   * 3.1.2): the caller then rebuilds the headers and calls {@linkcode inbound}.
   */
  inboundEspPayload(buf: Uint8Array, start: number, end: number, spi: number): boolean {
    const r = this.#espIn(spi);
    if (r === undefined) {
      this.drops["unknown-spi"]++;
      return true;
    }
    const proc = r.proc;
    if (proc.mode !== "tunnel" || proc.decapsulateEspInPlace === undefined) return false;
    this.#deliver(r, buf, proc.decapsulateEspInPlace(buf, start, end), this.#outerEcn);
    return true;
  }

  /**
   * The source of the UDP datagram(s) the next inbound calls process
   * (`address[0..length)`, `port`), until the next call; `port` -1 for
   * packets that did not come in UDP. An authenticated ESP packet of an
   * encapsulated SA from elsewhere than the SA's peer raises a "mapping"
   * event.
   */
  udpSource(address: Uint8Array, length: number, port: number): void {
    for (let i = 0; i < length; i++) this.#srcAddr[i] = address[i];
    this.#srcLen = length;
    this.#srcPort = port;
  }

  /** After an authenticated packet of inbound SA `r`: did it come from another NAT mapping? */
  #checkSource(r: SaRecord): void {
    const encap = r.spec.encap;
    if (encap === undefined || this.#srcPort < 0) return;
    const remote = r.spec.remote;
    let same = this.#srcPort === encap.remotePort && remote.length === this.#srcLen;
    for (let i = 0; same && i < remote.length; i++) same = remote[i] === this.#srcAddr[i];
    if (same) return;
    const now = this.#now();
    if (now - r.mappingAt < MAPPING_INTERVAL_MS) return;
    r.mappingAt = now;
    this.#io.emit({
      type: "mapping",
      spi: r.spec.spi,
      ...(r.spec.reqid !== undefined ? { reqid: r.spec.reqid } : {}),
      remote: this.#srcAddr.slice(0, this.#srcLen),
      remotePort: this.#srcPort,
    });
  }

  /** The inbound ESP SA of `spi`, through the last-found cache. */
  #espIn(spi: number): SaRecord | undefined {
    if (spi === this.#lastEspSpi) return this.#lastEsp;
    const r = this.#inEsp.get(spi);
    if (r !== undefined) {
      this.#lastEspSpi = spi;
      this.#lastEsp = r;
    }
    return r;
  }

  #forgetLastEsp(): void {
    this.#lastEspSpi = -1;
    this.#lastEsp = undefined;
  }

  /**
   * After decapsulation (`n`: length at `r.proc.lastOffset`, or a drop code;
   * `outerEcn`: the outer header's ECN field): checks, counts, writes.
   */
  #deliver(r: SaRecord, buf: Uint8Array, n: number, outerEcn: number): void {
    if (n < 0) {
      this.drops["decapsulation-failed"]++;
      if (espDropReason(n) === "expired") this.#expire(r, true, "sequence");
      return;
    }
    const off = r.proc.lastOffset;
    const b = r.proc.lastBuffer ?? buf;
    // Tunnel mode: congestion marks on the outer header reach the inner packet (RFC 6040).
    if (
      outerEcn > 0 && r.proc.mode === "tunnel" && r.spec.ecn !== false &&
      !applyDecapsulationEcn(outerEcn, b, off, n)
    ) {
      this.drops["ecn-ce-not-ect"]++;
      return;
    }
    const inner = b.subarray(off, off + n);
    if (r.selectors.length > 0) {
      const hit = this.#inFlows.find(inner);
      if (hit < 0 || this.#inFlows.value(hit) !== r) {
        const k = packetKey(inner, "inbound");
        if (!k.ok || !matches(r.selectors, k.tuple)) {
          this.#discard("inbound", "sa-selector-mismatch", inner, k.ok ? k.tuple : undefined);
          r.selectorMismatch++;
          return;
        }
        this.#inFlows.remember(inner, r);
      }
    }
    this.#clamp(inner);
    r.packets++;
    r.bytes += n;
    this.packets.inbound++;
    if (this.#srcPort >= 0) this.#checkSource(r);
    if (!this.#io.toTun(inner)) this.drops["tun-write-failed"]++;
    this.#checkLimits(r);
  }

  // ---------------------------------------------------------------- lifetime

  #checkLimits(r: SaRecord): void {
    const l = r.spec.limits;
    if (l !== undefined) {
      if (l.hardBytes !== undefined && r.bytes >= l.hardBytes) {
        return this.#expire(r, true, "bytes");
      }
      if (l.hardPackets !== undefined && r.packets >= l.hardPackets) {
        return this.#expire(r, true, "packets");
      }
      if (!r.softSent) {
        if (l.softBytes !== undefined && r.bytes >= l.softBytes) {
          return this.#expire(r, false, "bytes");
        }
        if (l.softPackets !== undefined && r.packets >= l.softPackets) {
          return this.#expire(r, false, "packets");
        }
      }
    }
    if (!r.softSent && r.spec.direction === "out" && r.proc.rekeyNeeded) {
      this.#expire(r, false, "sequence");
    }
  }

  #expire(r: SaRecord, hard: boolean, reason: "bytes" | "packets" | "sequence"): void {
    if (!hard) r.softSent = true;
    else if (!this.removeSa(r.spec.direction, r.spec.protocol, r.spec.spi)) return;
    this.#flows.clear();
    this.#io.emit({
      type: "expire",
      hard,
      direction: r.spec.direction,
      protocol: r.spec.protocol,
      spi: r.spec.spi,
      reqid: r.spec.reqid,
      reason,
    });
  }

  // ------------------------------------------------------------------- stats

  /** A snapshot of all counters. */
  stats(): DataplaneStats {
    const sas: SaStats[] = [];
    const all = [...this.#inEsp.values(), ...this.#inAh.values(), ...this.#out];
    for (const r of all) {
      const drops: SaStats["drops"] = {};
      for (const reason of ESP_DROP_REASONS) {
        const v = r.proc.stats.drops[reason];
        if (v) drops[reason] = v;
      }
      if (r.selectorMismatch) drops["sa-selector-mismatch"] = r.selectorMismatch;
      if (r.encapFailed) drops["encapsulation-failed"] = r.encapFailed;
      sas.push({
        direction: r.spec.direction,
        protocol: r.spec.protocol,
        spi: r.spec.spi,
        mode: r.spec.mode,
        reqid: r.spec.reqid,
        label: r.spec.label,
        packets: r.packets,
        bytes: r.bytes,
        sequence: r.spec.direction === "out" ? r.proc.sequence : replayTop(r.proc),
        drops,
        ...(r.proc instanceof IpcompSa
          ? { ipcomp: { cpi: r.proc.cpi, ...r.proc.ipcompStats } }
          : {}),
      });
    }
    return { packets: { ...this.packets }, drops: { ...this.drops }, sas };
  }
}

const BYPASS = 1;
const NO_POLICY = 2;
const DISCARD = 3;
type FlowValue = SaRecord | typeof BYPASS | typeof NO_POLICY | typeof DISCARD;

const FLOW_SLOTS = 4096;
const FLOW_KEY = 40;

/**
 * Outbound flow cache: direct-mapped on a hash of the packet's selector
 * fields (version, addresses, protocol, first 4 bytes of the transport
 * header: ports or ICMP type/code), so a flow skips key extraction, SPD
 * lookup and SA search. Only plain packets are cached: IPv4 without
 * fragmentation offset, IPv6 without extension headers. Cleared when the
 * policies change; an SA or SPD instance that comes or goes forgets only
 * the flows it could decide (by their remote address), so a gateway's other
 * clients keep theirs.
 */
class FlowCache {
  readonly #keys = new Uint8Array(FLOW_SLOTS * FLOW_KEY);
  readonly #used = new Uint8Array(FLOW_SLOTS);
  readonly #values: (FlowValue | null)[] = new Array(FLOW_SLOTS).fill(null);
  readonly #key = new Uint8Array(FLOW_KEY);
  #len = 0;

  /** Builds the key of `p` into the scratch key; false when `p` is not cacheable. */
  #build(p: Uint8Array): boolean {
    const k = this.#key;
    const v = p.length > 0 ? p[0] >> 4 : 0;
    if (v === 4) {
      const ihl = (p[0] & 15) * 4;
      if (ihl < 20 || p.length < ihl + 4 || (((p[6] & 0x1f) << 8) | p[7]) !== 0) return false;
      // Byte loops, not set(subarray): no allocation per packet.
      k[0] = 4;
      for (let i = 0; i < 8; i++) k[1 + i] = p[12 + i];
      k[9] = p[9];
      for (let i = 0; i < 4; i++) k[10 + i] = p[ihl + i];
      this.#len = 14;
      return true;
    }
    if (v === 6) {
      const nh = p[6];
      if (p.length < 44 || nh === 0 || nh === 43 || nh === 44 || nh === 60 || nh === 135) {
        return false;
      }
      k[0] = 6;
      for (let i = 0; i < 32; i++) k[1 + i] = p[8 + i];
      k[33] = nh;
      for (let i = 0; i < 4; i++) k[34 + i] = p[40 + i];
      this.#len = 38;
      return true;
    }
    return false;
  }

  #hash(): number {
    let h = 0x811c9dc5;
    const k = this.#key;
    for (let i = 0; i < this.#len; i++) h = Math.imul(h ^ k[i], 0x01000193);
    return (h >>> 0) & (FLOW_SLOTS - 1);
  }

  /** Slot of a cached decision for `p`, or -1. */
  find(p: Uint8Array): number {
    if (!this.#build(p)) return -1;
    const s = this.#hash();
    if (this.#used[s] !== this.#len) return -1;
    const k = this.#key;
    const o = s * FLOW_KEY;
    for (let i = 0; i < this.#len; i++) if (this.#keys[o + i] !== k[i]) return -1;
    return s;
  }

  value(slot: number): FlowValue {
    return this.#values[slot]!;
  }

  /** Caches the decision for `p`'s flow (replacing whatever shared its slot). */
  remember(p: Uint8Array, v: FlowValue): void {
    if (!this.#build(p)) return;
    const s = this.#hash();
    const o = s * FLOW_KEY;
    for (let i = 0; i < this.#len; i++) this.#keys[o + i] = this.#key[i];
    this.#used[s] = this.#len;
    this.#values[s] = v;
  }

  clear(): void {
    this.#used.fill(0);
    this.#values.fill(null);
  }

  /** Forgets the flows decided for `v` (an SA that goes or is replaced). */
  forgetValue(v: FlowValue): void {
    const values = this.#values;
    for (let s = 0; s < FLOW_SLOTS; s++) {
      if (values[s] === v) {
        values[s] = null;
        this.#used[s] = 0;
      }
    }
  }

  /**
   * Forgets the flows whose remote address (outbound: the destination;
   * inbound: the source) any of `selectors` allows; no selectors: all.
   */
  forgetRemote(selectors: readonly Selector[]): void {
    if (selectors.length === 0 || selectors.some((x) => x.remoteAddress.kind !== "range")) {
      return this.clear();
    }
    const keys = this.#keys;
    for (let s = 0; s < FLOW_SLOTS; s++) {
      const len = this.#used[s];
      if (len === 0) continue;
      const o = s * FLOW_KEY;
      const v = keys[o];
      let a: number | bigint;
      // Keys: version, source, destination, ...; the destination is the remote (outbound).
      if (v === 4) {
        a = ((keys[o + 5] << 24) | (keys[o + 6] << 16) | (keys[o + 7] << 8) | keys[o + 8]) >>> 0;
      } else {
        let b = 0n;
        for (let i = 0; i < 16; i++) b = (b << 8n) | BigInt(keys[o + 17 + i]);
        a = b;
      }
      for (const x of selectors) {
        const r = x.remoteAddress;
        if (r.kind !== "range" || r.version !== v) continue;
        if (a >= r.start && a <= r.end) {
          this.#used[s] = 0;
          this.#values[s] = null;
          break;
        }
      }
    }
  }
}

function replayTop(p: PacketProcessor): number {
  const r = (p as unknown as { replay?: { top: number } }).replay;
  return r?.top ?? 0;
}

function matches(selectors: readonly Selector[], t: PacketTuple): boolean {
  if (selectors.length === 0) return true;
  for (let i = 0; i < selectors.length; i++) if (selectorMatches(selectors[i], t)) return true;
  return false;
}

function sameSa(a: SaSpec, b: SaSpec): boolean {
  return a.protocol === b.protocol && a.spi === b.spi;
}
