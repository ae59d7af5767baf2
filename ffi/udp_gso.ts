/**
 * UDP segmentation offload (UDP_SEGMENT, Linux 4.18+) for ESP in UDP.
 *
 * The data plane builds every outbound packet whole (IP header, UDP header,
 * ESP) in an {@linkcode MmsgBatch} meant for a header-included raw socket.
 * When several queued packets in a row are UDP datagrams of one flow from
 * our encapsulation port with the same length (the last may be shorter),
 * this sends them instead as ONE `sendmsg` on the UDP socket, with a
 * UDP_SEGMENT control message giving that length: the kernel routes,
 * filters and queues one buffer of up to 64 KB and cuts it into datagrams
 * as late as it can (in the NIC, or never on a veth whose receiver asked for
 * UDP_GRO). On the wire nothing changes: the same datagrams, byte for byte
 * from the UDP payload on. The iovecs point at the payloads in the batch's
 * own slots: no copy.
 *
 * The outer header's fields the kernel then fills in are pinned by what
 * qualifies: IPv4 without options, DF set (the socket's default path MTU
 * discovery sets DF), not a fragment, TTL/hop limit 64 (the default); the
 * source address goes in IP_PKTINFO/IPV6_PKTINFO and a non-zero TOS/traffic
 * class in IP_TOS/IPV6_TCLASS. Anything else, and runs of one packet, go
 * through the raw socket as before.
 *
 * If the kernel refuses a segmented send (no UDP_SEGMENT, no checksum
 * offload on the route's device, a segment over the path MTU), the run is
 * sent through the raw socket instead, and offload is switched off for good
 * when the error says it cannot work here (EIO: no checksum offload on the
 * device; ENOPROTOOPT / EOPNOTSUPP: no UDP_SEGMENT). Any other errno only
 * sends that run the other way: errno is read by a second FFI call, and the
 * runtime may have changed it in between (an ENOENT was seen under load),
 * so an unexpected value must not switch offload off for good.
 *
 * Layout of `struct msghdr` inside `struct mmsghdr`: see {@linkcode MmsgBatch}.
 */

import { EAGAIN, EINTR, errno, libc } from "./libc.ts";
import {
  encodeSockaddr,
  IOV,
  IPPROTO_IPV6,
  MMSG,
  type MmsgBatch,
  NAME,
  SOL_UDP,
  UDP_SEGMENT,
} from "./socket.ts";

/** Control bytes per message: UDP_SEGMENT, PKTINFO and TOS/TCLASS cmsgs (24 + 40 + 24). */
const CTL = 96;
const IPPROTO_IP = 0;
const IP_TOS = 1;
const IP_PKTINFO = 8;
const IPV6_PKTINFO = 50;
const IPV6_TCLASS = 67;
const IP_MTU_DISCOVER = 10;
const IP_PMTUDISC_WANT = 1;
const IP_PMTUDISC_DO = 2;
/** errnos of a refused segmented send that mean offload cannot work on this route. */
const EIO = 5;
const ENOPROTOOPT = 92;
const EOPNOTSUPP = 95;

/** Segments per send (the kernel's UDP_MAX_SEGMENTS is 64 before Linux 6.9, 128 after). */
export const GSO_MAX_SEGMENTS = 64;
/** Payload bytes per send (IPv4 total length is 16 bits; IPv6 payload length too). */
export const GSO_MAX_BYTES = 65000;
/** The hop limit the kernel gives a UDP socket's packets by default. */
const DEFAULT_TTL = 64;

/** Counters of {@linkcode UdpGsoSender}. */
export interface UdpGsoStats {
  /** Segmented sends made. */
  sends: number;
  /** Datagrams they carried. */
  segments: number;
  /** Runs sent through the raw socket after the kernel refused them. */
  fallbacks: number;
  /** errno of the refusal that switched offload off (0: still on). */
  disabledBy: number;
}

/**
 * Sends an {@linkcode MmsgBatch} of whole IP packets, segmenting runs of
 * ESP-in-UDP datagrams through `udpFd` (a UDP socket bound to `port`, of
 * the batch's address family) and everything else through `rawFd`.
 */
export class UdpGsoSender {
  readonly family: 4 | 6;
  /** Our UDP source port: only datagrams from it qualify. */
  readonly port: number;
  readonly #udpFd: number;
  readonly #mem: Uint8Array<ArrayBuffer>;
  readonly #dv: DataView;
  readonly #hdrs: Uint8Array<ArrayBuffer>;
  readonly #base: number;
  readonly #hdrOff: number;
  readonly #iovOff: number;
  readonly #nameOff: number;
  readonly #ctlOff: number;
  /** Per queued message: its run's length if it starts a run, 0 inside one, -1 for raw. */
  readonly #run: Int32Array;
  /** First message of each built header. */
  readonly #firstOf: Int32Array;
  readonly stats: UdpGsoStats = { sends: 0, segments: 0, fallbacks: 0, disabledBy: 0 };

  constructor(udpFd: number, family: 4 | 6, port: number, maxMessages: number) {
    this.#udpFd = udpFd;
    this.family = family;
    this.port = port;
    // One iovec per message; names, control and headers per run (at most maxMessages / 2).
    this.#nameOff = 0;
    this.#ctlOff = maxMessages * NAME;
    this.#iovOff = this.#ctlOff + maxMessages * CTL;
    this.#hdrOff = this.#iovOff + maxMessages * IOV;
    this.#mem = new Uint8Array(new ArrayBuffer(this.#hdrOff + maxMessages * MMSG));
    this.#dv = new DataView(this.#mem.buffer);
    this.#hdrs = this.#mem.subarray(this.#hdrOff);
    this.#base = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(this.#mem)));
    this.#run = new Int32Array(maxMessages);
    this.#firstOf = new Int32Array(maxMessages);
  }

  /** False once the kernel said segmented sends cannot work here. */
  get enabled(): boolean {
    return this.stats.disabledBy === 0;
  }

  /**
   * Sends and clears `batch`'s queue; returns how many packets were sent
   * (as {@linkcode MmsgBatch.flush}: the rest were dropped).
   */
  flush(batch: MmsgBatch, rawFd: number): number {
    const total = batch.pending;
    if (total === 0) return 0;
    if (!this.enabled || total < 2) return batch.flush(rawFd);
    const runs = this.#plan(batch, total);
    if (runs === 0) return batch.flush(rawFd);
    let sent = 0;
    let i = 0;
    while (i < total) {
      if (!this.enabled) {
        // The kernel said segmented sends cannot work here: the rest goes raw.
        sent += batch.sendRange(rawFd, i, total);
        break;
      }
      if (this.#run[i] < 0) {
        // A stretch of raw packets.
        let j = i + 1;
        while (j < total && this.#run[j] < 0) j++;
        sent += batch.sendRange(rawFd, i, j);
        i = j;
        continue;
      }
      // A stretch of segmented runs: one header each, one sendmmsg.
      let j = i;
      let msgs = 0;
      while (j < total && this.#run[j] > 0) {
        this.#build(batch, msgs, j, this.#run[j]);
        j += this.#run[j];
        msgs++;
      }
      sent += this.#send(batch, rawFd, i, msgs);
      i = j;
    }
    batch.clear();
    return sent;
  }

  /** Marks runs in this.#run; returns how many runs of 2+ there are. */
  #plan(batch: MmsgBatch, total: number): number {
    const m = batch.memory;
    const run = this.#run;
    let runs = 0;
    let i = 0;
    while (i < total) {
      const hl = this.#headerLength(m, batch.dataOffset(i), batch.pendingLength(i));
      if (hl === 0) {
        run[i++] = -1;
        continue;
      }
      const seg = batch.pendingLength(i) - hl;
      let bytes = seg;
      let j = i + 1;
      while (j < total && j - i < GSO_MAX_SEGMENTS) {
        const len = batch.pendingLength(j);
        const d = len - hl;
        if (d > seg || bytes + d > GSO_MAX_BYTES) break;
        if (this.#headerLength(m, batch.dataOffset(j), len) !== hl) break;
        if (!sameFlow(m, batch.dataOffset(i), batch.dataOffset(j), hl)) break;
        bytes += d;
        j++;
        if (d < seg) break; // a shorter datagram ends the run
      }
      if (j - i >= 2) {
        run[i] = j - i;
        for (let k = i + 1; k < j; k++) run[k] = 0;
        runs++;
      } else {
        run[i] = -1;
      }
      i = j;
    }
    return runs;
  }

  /**
   * IP + UDP header length of the packet at `o` if it qualifies (see the
   * module comment), else 0.
   */
  #headerLength(m: Uint8Array, o: number, len: number): number {
    if (this.family === 4) {
      if (len <= 28 || m[o] !== 0x45 || m[o + 9] !== 17 || m[o + 8] !== DEFAULT_TTL) return 0;
      // DF set, MF clear, offset 0.
      if (m[o + 6] !== 0x40 || m[o + 7] !== 0) return 0;
      if (((m[o + 20] << 8) | m[o + 21]) !== this.port) return 0;
      return 28;
    }
    if (len <= 48 || m[o] >> 4 !== 6 || m[o + 6] !== 17 || m[o + 7] !== DEFAULT_TTL) return 0;
    if (((m[o + 40] << 8) | m[o + 41]) !== this.port) return 0;
    return 48;
  }

  /** Fills header `k` for the run of `count` messages starting at `first`. */
  #build(batch: MmsgBatch, k: number, first: number, count: number): void {
    const dv = this.#dv;
    const mem = this.#mem;
    const src = batch.memory;
    const o = batch.dataOffset(first);
    const v4 = this.family === 4;
    const hl = v4 ? 28 : 48;
    // Destination (address and port from the first packet).
    const name = this.#nameOff + k * NAME;
    const dport = (src[o + hl - 6] << 8) | src[o + hl - 5];
    const nl = encodeSockaddr(
      mem,
      name,
      v4 ? src.subarray(o + 16, o + 20) : src.subarray(o + 24, o + 40),
      dport,
    );
    // iovecs: the UDP payloads in the batch's slots. Run k's iovecs start at its first message.
    const iov = this.#iovOff + first * IOV;
    for (let n = 0; n < count; n++) {
      const a = batch.dataAddress(first + n) + hl;
      const e = iov + n * IOV;
      dv.setUint32(e, a % 0x100000000, true);
      dv.setUint32(e + 4, Math.floor(a / 0x100000000), true);
      dv.setUint32(e + 8, batch.pendingLength(first + n) - hl, true);
      dv.setUint32(e + 12, 0, true);
    }
    // Control: UDP_SEGMENT, PKTINFO (source), TOS/TCLASS when not 0.
    const c0 = this.#ctlOff + k * CTL;
    let c = c0;
    const seg = batch.pendingLength(first) - hl;
    c = cmsg(dv, c, SOL_UDP, UDP_SEGMENT, 2);
    dv.setUint16(c - 8, seg, true);
    if (v4) {
      const p = c + 16;
      c = cmsg(dv, c, IPPROTO_IP, IP_PKTINFO, 12);
      dv.setInt32(p, 0, true); // ipi_ifindex
      for (let b = 0; b < 4; b++) mem[p + 4 + b] = src[o + 12 + b]; // ipi_spec_dst
      dv.setUint32(p + 8, 0, true); // ipi_addr (ignored on send)
      const tos = src[o + 1];
      if (tos !== 0) {
        const t = c + 16;
        c = cmsg(dv, c, IPPROTO_IP, IP_TOS, 4);
        dv.setInt32(t, tos, true);
      }
    } else {
      const p = c + 16;
      c = cmsg(dv, c, IPPROTO_IPV6, IPV6_PKTINFO, 20);
      for (let b = 0; b < 16; b++) mem[p + b] = src[o + 8 + b]; // ipi6_addr
      dv.setInt32(p + 16, 0, true); // ipi6_ifindex
      const tclass = ((src[o] & 0x0f) << 4) | (src[o + 1] >> 4);
      if (tclass !== 0) {
        const t = c + 16;
        c = cmsg(dv, c, IPPROTO_IPV6, IPV6_TCLASS, 4);
        dv.setInt32(t, tclass, true);
      }
    }
    const h = this.#hdrOff + k * MMSG;
    const base = this.#base;
    setPointer(dv, h, base + name);
    dv.setUint32(h + 8, nl, true);
    setPointer(dv, h + 16, base + iov);
    dv.setUint32(h + 24, count, true);
    dv.setUint32(h + 28, 0, true);
    setPointer(dv, h + 32, base + c0);
    dv.setUint32(h + 40, c - c0, true);
    dv.setUint32(h + 44, 0, true);
    dv.setUint32(h + 48, 0, true);
    this.#firstOf[k] = first;
  }

  /** Sends built headers 0..msgs (runs from message `from` on); returns packets sent. */
  #send(batch: MmsgBatch, rawFd: number, from: number, msgs: number): number {
    this.#setDontFragment(true);
    let done = 0;
    let sent = 0;
    while (done < msgs) {
      const n = libc().sendmmsg(this.#udpFd, this.#hdrs.subarray(done * MMSG), msgs - done, 0);
      if (n > 0) {
        for (let k = done; k < done + n; k++) {
          const count = this.#run[this.#firstOf[k]];
          sent += count;
          this.stats.sends++;
          this.stats.segments += count;
        }
        done += n;
        continue;
      }
      // errno means something only after a failure (-1); 0 messages sent is not one.
      if (n === 0) break;
      const e = errno();
      if (e === EINTR) continue;
      if (e === EAGAIN) break; // socket buffer full: the rest is dropped
      // The kernel refused run `done` (EINVAL: a segment over the path MTU; EIO: no
      // checksum offload on the route's device; ENOPROTOOPT: no UDP_SEGMENT).
      this.stats.fallbacks++;
      if (e === EIO || e === ENOPROTOOPT || e === EOPNOTSUPP) this.stats.disabledBy = e;
      const first = this.#firstOf[done];
      if (!this.enabled) {
        sent += batch.sendRange(rawFd, first, from + this.#span(from, msgs));
        break;
      }
      sent += batch.sendRange(rawFd, first, first + this.#run[first]);
      done++;
    }
    return sent;
  }

  /**
   * IPv4: segmented sends need IP_PMTUDISC_DO for DF on every segment (with
   * the default, IP_PMTUDISC_WANT, a buffer over the MTU goes out without
   * DF), while IKE messages on the same socket need the default, so the
   * kernel may fragment a big one. Switched only when it changes.
   */
  #setDontFragment(on: boolean): void {
    if (this.family !== 4 || this.#dontFragment === on) return;
    this.#opt[0] = on ? IP_PMTUDISC_DO : IP_PMTUDISC_WANT;
    if (libc().setsockopt(this.#udpFd, IPPROTO_IP, IP_MTU_DISCOVER, this.#optBytes, 4) === 0) {
      this.#dontFragment = on;
    }
  }

  /** Call before sending anything else on the UDP socket (IKE): restores IP_PMTUDISC_WANT. */
  beforeOtherSend(): void {
    this.#setDontFragment(false);
  }

  #dontFragment = false;
  readonly #opt = new Int32Array(1);
  readonly #optBytes = new Uint8Array(this.#opt.buffer);

  /** Messages covered by the first `msgs` runs from `from`. */
  #span(from: number, msgs: number): number {
    let j = from;
    for (let k = 0; k < msgs; k++) j += this.#run[j];
    return j - from;
  }
}

/** Writes a cmsghdr of `dataLength` bytes at `c`; returns the offset after it (aligned to 8). */
function cmsg(dv: DataView, c: number, level: number, type: number, dataLength: number): number {
  const len = 16 + dataLength;
  dv.setUint32(c, len, true); // cmsg_len (size_t)
  dv.setUint32(c + 4, 0, true);
  dv.setInt32(c + 8, level, true);
  dv.setInt32(c + 12, type, true);
  const next = c + ((len + 7) & ~7);
  for (let z = c + len; z < next; z++) dv.setUint8(z, 0);
  return next;
}

function setPointer(dv: DataView, at: number, address: number): void {
  dv.setUint32(at, address % 0x100000000, true);
  dv.setUint32(at + 4, Math.floor(address / 0x100000000), true);
}

/** Same addresses, ports, TOS/traffic class (the header fields the kernel does not fill in). */
function sameFlow(m: Uint8Array, a: number, b: number, hl: number): boolean {
  if (hl === 28) {
    if (m[a + 1] !== m[b + 1]) return false;
    for (let k = 12; k < 24; k++) if (m[a + k] !== m[b + k]) return false;
    return true;
  }
  if (m[a] !== m[b] || (m[a + 1] & 0xf0) !== (m[b + 1] & 0xf0)) return false;
  for (let k = 8; k < 44; k++) if (m[a + k] !== m[b + k]) return false;
  return true;
}
