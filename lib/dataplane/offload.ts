/**
 * TUN offloads (Linux `IFF_VNET_HDR` + `TUNSETOFFLOAD`): with TSO and
 * checksum offload enabled on the TUN, the kernel hands the data plane TCP
 * "super-packets" of up to 64 KB, each behind a `struct virtio_net_hdr`, so
 * its TCP stack does per-packet work once per 64 KB instead of once per
 * segment. The data plane then cuts them into segments itself, before ESP.
 *
 * ```
 *  struct virtio_net_hdr (10 bytes, little-endian, include/uapi/linux/virtio_net.h)
 *   0  flags        u8   1 = NEEDS_CSUM: checksum [csum_start, end) into csum_start+csum_offset
 *   1  gso_type     u8   0 NONE, 1 TCPV4, 4 TCPV6 (| 0x80 ECN)
 *   2  hdr_len      u16  (a hint only: we take the lengths from the headers)
 *   4  gso_size     u16  payload bytes per segment (the MSS)
 *   6  csum_start   u16  from the start of the IP packet
 *   8  csum_offset  u16  from csum_start
 * ```
 *
 * {@linkcode TcpSegmenter} does what a NIC does for TSO (as Linux's
 * `tcp_gso_segment`): every segment gets the headers of the super-packet
 * with its own IPv4 total length, ID (+1 per segment) and header checksum
 * or IPv6 payload length, its own sequence number, FIN and PSH only on the
 * last segment, CWR only on the first, and a full TCP checksum. A packet
 * without GSO but with NEEDS_CSUM gets its checksum completed.
 *
 * Writes to the TUN carry a header too. {@linkcode TcpCoalescer} does GRO:
 * in-order segments of one TCP flow from one receive batch go back as one
 * super-packet (NEEDS_CSUM, so the kernel's receive path runs once per
 * super-packet); anything else gets an all-zero header ("a plain packet,
 * checksum not verified yet", {@linkcode prependVnetHeader}).
 *
 * Pure functions over byte arrays, no I/O; the Worker (lib/dataplane/_worker.ts)
 * and {@linkcode ./core.ts} call them.
 *
 * @module
 */
import { SIMD_SUM16_MAX, simdSum16, simdSum16Available } from "../ip/sum16_simd.ts";

/** Size of `struct virtio_net_hdr` (the TUN default; no `num_buffers`). */
export const VNET_HDR_LEN = 10;
/** flags: the checksum at csum_start + csum_offset must be completed. */
export const VNET_F_NEEDS_CSUM = 1;
/** flags: the checksum has been verified (receive side only). */
export const VNET_F_DATA_VALID = 2;
/** gso_type values. */
export const GSO_NONE = 0;
export const GSO_TCPV4 = 1;
export const GSO_UDP = 3;
export const GSO_TCPV6 = 4;
export const GSO_UDP_L4 = 5;
export const GSO_ECN = 0x80;

/** A decoded `struct virtio_net_hdr`. */
export interface VnetHeader {
  flags: number;
  gsoType: number;
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
}

/** Decodes the header at `b[off..off+10)` (little-endian, as on x86-64 and arm64). */
export function readVnetHeader(b: Uint8Array, off = 0): VnetHeader {
  return {
    flags: b[off],
    gsoType: b[off + 1],
    hdrLen: le16(b, off + 2),
    gsoSize: le16(b, off + 4),
    csumStart: le16(b, off + 6),
    csumOffset: le16(b, off + 8),
  };
}

/**
 * Encodes `h` at `b[off..off+10)`.
 *
 * @example
 * ```ts
 * const frame = new Uint8Array(VNET_HDR_LEN + packet.length);
 * writeVnetHeader(frame, 0, { flags: 0, gsoType: GSO_NONE, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 });
 * frame.set(packet, VNET_HDR_LEN);
 * ```
 */
export function writeVnetHeader(b: Uint8Array, off: number, h: VnetHeader): void {
  b[off] = h.flags;
  b[off + 1] = h.gsoType;
  setLe16(b, off + 2, h.hdrLen);
  setLe16(b, off + 4, h.gsoSize);
  setLe16(b, off + 6, h.csumStart);
  setLe16(b, off + 8, h.csumOffset);
}

/**
 * A view of `p` with an all-zero virtio_net_hdr written into the 10 bytes
 * in front of it (which the caller must own, e.g. the consumed ESP header
 * of a decrypted packet), or null when `p` starts less than 10 bytes into
 * its buffer.
 */
export function prependVnetHeader(p: Uint8Array): Uint8Array | null {
  const at = p.byteOffset - VNET_HDR_LEN;
  if (at < 0) return null;
  const f = new Uint8Array(p.buffer, at, p.length + VNET_HDR_LEN);
  for (let i = 0; i < VNET_HDR_LEN; i++) f[i] = 0;
  return f;
}

/** Why {@linkcode TcpSegmenter.process} refused a frame. */
export const OFFLOAD_ERRORS = {
  /** Shorter than the header, bad lengths, bad checksum position, not TCP. */
  malformed: -1,
  /** A GSO type we never enable (UDP) or IPv6 extension headers. */
  unsupported: -2,
} as const;

const TCP = 6;
const FIN = 0x01;
const PSH = 0x08;
const CWR = 0x80;
/** Longest header copied into every segment: IPv4 (60) or IPv6 with options (100), plus TCP (60). */
const MAX_HEADERS = 160;

/**
 * Cuts TUN frames (virtio_net_hdr + packet) into packets of at most
 * `maxPacket` bytes (the TUN MTU): GSO super-packets become TCP segments
 * (in place, in the frame's own buffer: each segment's headers are written
 * over the end of the previous segment's payload, so nothing is copied but
 * the headers), and NEEDS_CSUM packets get their checksum completed.
 *
 * `emit` must be done with a segment before it returns (the next segment's
 * headers overwrite its tail); the data plane encrypts it into a send slot
 * at once, and copies it when it must keep it.
 *
 * @example
 * ```ts
 * const seg = new TcpSegmenter(1400);
 * const n = seg.process(frameFromTun, (p) => core.outbound(p)); // < 0: OFFLOAD_ERRORS
 * ```
 */
export class TcpSegmenter {
  /** Largest packet emitted; a gso_size that would exceed it is lowered. */
  readonly maxPacket: number;
  readonly #tmpl = new Uint8Array(MAX_HEADERS);

  constructor(maxPacket: number) {
    if (!Number.isInteger(maxPacket) || maxPacket < 68 || maxPacket > 65535) {
      throw new RangeError(`maxPacket must be 68..65535, got ${maxPacket}`);
    }
    this.maxPacket = maxPacket;
  }

  /**
   * Processes one frame read from the TUN; calls `emit` once per resulting
   * packet, in order. Returns how many were emitted, or a negative
   * {@linkcode OFFLOAD_ERRORS} value (nothing emitted).
   */
  process(frame: Uint8Array, emit: (packet: Uint8Array) => void): number {
    if (frame.length < VNET_HDR_LEN + 20) return OFFLOAD_ERRORS.malformed;
    const flags = frame[0];
    const gso = frame[1] & ~GSO_ECN;
    const p = frame.subarray(VNET_HDR_LEN);
    if (gso === GSO_NONE) {
      if ((flags & VNET_F_NEEDS_CSUM) !== 0) {
        const start = le16(frame, 6);
        const field = start + le16(frame, 8);
        if (field + 2 > p.length) return OFFLOAD_ERRORS.malformed;
        // The field holds the pseudo-header sum; summing over it completes it.
        const c = ~fold(sum16(p, start, p.length, 0)) & 0xffff;
        // 0 would mean "no checksum" for UDP over IPv4; 0xffff is the same
        // value in one's complement (Linux's skb_checksum_help does the same).
        const v = c === 0 ? 0xffff : c;
        p[field] = v >> 8;
        p[field + 1] = v & 0xff;
      }
      emit(p);
      return 1;
    }
    if (gso !== GSO_TCPV4 && gso !== GSO_TCPV6) return OFFLOAD_ERRORS.unsupported;
    return this.#segment(p, gso === GSO_TCPV4, le16(frame, 4), emit);
  }

  #segment(
    p: Uint8Array,
    v4: boolean,
    gsoSize: number,
    emit: (packet: Uint8Array) => void,
  ): number {
    const len = p.length;
    let l4: number;
    let end: number;
    if (v4) {
      if (p[0] >> 4 !== 4) return OFFLOAD_ERRORS.malformed;
      l4 = (p[0] & 15) * 4;
      end = be16(p, 2);
      if (l4 < 20 || p[9] !== TCP || (be16(p, 6) & 0x3fff) !== 0) return OFFLOAD_ERRORS.malformed;
    } else {
      if (p[0] >> 4 !== 6 || len < 60) return OFFLOAD_ERRORS.malformed;
      end = 40 + be16(p, 4);
      // Hop-by-hop and destination options are copied into every segment
      // like the rest of the header; a routing header would change the
      // pseudo-header's destination, a fragment header cannot be segmented.
      let nh = p[6];
      l4 = 40;
      while ((nh === 0 || nh === 60) && l4 + 8 <= len) {
        nh = p[l4];
        l4 += (p[l4 + 1] + 1) * 8;
      }
      if (nh !== TCP || l4 > MAX_HEADERS - 60) return OFFLOAD_ERRORS.unsupported;
    }
    if (end > len || l4 + 20 > end) return OFFLOAD_ERRORS.malformed;
    const thl = (p[l4 + 12] >> 4) * 4;
    const hdr = l4 + thl;
    if (thl < 20 || hdr > end) return OFFLOAD_ERRORS.malformed;
    const mss = Math.min(gsoSize, this.maxPacket - hdr);
    if (mss <= 0) return OFFLOAD_ERRORS.malformed;

    const tmpl = this.#tmpl;
    for (let i = 0; i < hdr; i++) tmpl[i] = p[i];
    const addrAt = v4 ? 12 : 8;
    const addrEnd = v4 ? 20 : 40;
    // Pseudo header without the length (added per segment).
    const pseudo = sum16(p, addrAt, addrEnd, TCP);
    const seq0 = be32(p, l4 + 4);
    const id0 = v4 ? be16(p, 4) : 0;
    const tcpFlags = p[l4 + 13];
    const payload = end - hdr;
    const count = payload === 0 ? 1 : Math.ceil(payload / mss);
    for (let i = 0; i < count; i++) {
      const dataAt = hdr + i * mss;
      const segLen = Math.min(mss, end - dataAt);
      const s = dataAt - hdr;
      if (i > 0) { for (let k = 0; k < hdr; k++) p[s + k] = tmpl[k]; }
      const total = hdr + segLen;
      if (v4) {
        setBe16(p, s + 2, total);
        setBe16(p, s + 4, (id0 + i) & 0xffff);
        p[s + 10] = 0;
        p[s + 11] = 0;
        setBe16(p, s + 10, ~fold(sum16(p, s, s + l4, 0)) & 0xffff);
      } else {
        setBe16(p, s + 4, total - 40);
      }
      const t = s + l4;
      setBe32(p, t + 4, (seq0 + i * mss) >>> 0);
      let f = tcpFlags;
      if (i < count - 1) f &= ~(FIN | PSH);
      if (i > 0) f &= ~CWR;
      p[t + 13] = f;
      p[t + 16] = 0;
      p[t + 17] = 0;
      const tcpLen = total - l4;
      const c = ~fold(sum16(p, t, s + total, pseudo + tcpLen)) & 0xffff;
      setBe16(p, t + 16, c);
      emit(p.subarray(s, s + total));
    }
    return count;
  }
}

const ACK = 0x10;
/** Largest coalesced IP packet. */
const MAX_SUPER = 65535;

/**
 * GRO for TUN writes: consecutive in-order TCP segments of one flow become
 * one GSO super-packet (virtio_net_hdr with NEEDS_CSUM, gso_type TCPV4 or
 * TCPV6, gso_size = the first segment's payload), so the kernel runs its
 * receive path once per super-packet instead of once per segment. Anything
 * else is written as it is, behind an all-zero header.
 *
 * A segment joins the pending super-packet when it is IPv4 without options
 * or IPv6 without extension headers, TCP with payload and flags ACK or
 * ACK+PSH, its headers equal the first segment's but for lengths, IPv4 ID,
 * checksums and sequence number, its sequence number follows, and its
 * payload is no longer than the first's; a shorter segment or PSH ends the
 * super-packet (as Linux's tcp_gro_receive). Like Linux's GRO, it checks
 * each segment's TCP checksum first (a bad one is written alone, for the
 * kernel to drop): the TCP checksum field of a super-packet holds only the
 * pseudo-header sum (CHECKSUM_PARTIAL), which the kernel trusts, and a
 * super-packet it forwards gets fresh checksums when it is cut again.
 *
 * Frames handed to `emit` live in an arena (super-packets) or in the
 * caller's packet buffer (others, see {@linkcode prependVnetHeader}) and
 * must stay unchanged until written: `release` is called before the arena
 * is reused when it fills up, and the caller calls {@linkcode flush} at the
 * end of each batch, writes everything, then {@linkcode reset}.
 *
 * @example
 * ```ts
 * const gro = new TcpCoalescer(1 << 19, (f) => ring.queueWrite(f), () => ring.flushWrites());
 * for (const p of decrypted) gro.push(p);
 * gro.flush();
 * ring.flushWrites();
 * gro.reset();
 * ```
 */
export class TcpCoalescer {
  readonly #arena: Uint8Array;
  readonly #emit: (frame: Uint8Array) => void;
  readonly #release: () => void;
  /** Arena bytes in use (emitted frames not yet released, and the pending one). */
  #used = 0;
  /** Arena offset of the pending frame's virtio_net_hdr, -1 when none. */
  #start = -1;
  /** Pending: IP packet length so far, header length, TCP offset, family. */
  #len = 0;
  #hdr = 0;
  #l4 = 0;
  #v4 = false;
  /** Pending: payload of the first segment (gso_size), segments, next sequence. */
  #gso = 0;
  #count = 0;
  #nextSeq = 0;
  #closed = false;
  #psh = false;
  /** Super-packets written and the segments in them (for counters). */
  superPackets = 0;
  coalesced = 0;

  /**
   * `arena`: its size, or the buffer itself (the data plane passes memory
   * that the SIMD checksum reads in place, lib/ip/sum16_simd.ts).
   */
  constructor(
    arena: number | Uint8Array,
    emit: (frame: Uint8Array) => void,
    release: () => void,
  ) {
    const bytes = typeof arena === "number" ? arena : arena.length;
    if (bytes < VNET_HDR_LEN + MAX_SUPER) {
      throw new RangeError(`the arena must hold one frame of 64 KB, got ${bytes}`);
    }
    this.#arena = typeof arena === "number" ? new Uint8Array(arena) : arena;
    this.#emit = emit;
    this.#release = release;
  }

  /** Takes one packet for the TUN (it may be copied, or written behind a header in its buffer). */
  push(p: Uint8Array): void {
    const len = p.length;
    const v = len > 0 ? p[0] >> 4 : 0;
    let l4: number;
    if (v === 4) {
      if (p[0] !== 0x45 || len < 40 || p[9] !== TCP || (be16(p, 6) & 0x3fff) !== 0) {
        return this.#plain(p);
      }
      if (be16(p, 2) !== len) return this.#plain(p);
      l4 = 20;
    } else if (v === 6) {
      if (len < 60 || p[6] !== TCP || 40 + be16(p, 4) !== len) return this.#plain(p);
      l4 = 40;
    } else {
      return this.#plain(p);
    }
    const hdr = l4 + (p[l4 + 12] >> 4) * 4;
    const flags = p[l4 + 13];
    const payload = len - hdr;
    if (hdr < l4 + 20 || payload <= 0 || (flags & ~PSH) !== ACK) return this.#plain(p);
    // Only segments with a valid checksum join: the kernel does not check a
    // super-packet's, and one it forwards gets new ones when it is cut again.
    // The payload is checked where it is copied to (the arena may be memory
    // the SIMD sum reads in place), and only counted once it verified.
    const tcpLen = len - l4;
    const pseudo = v === 4 ? sum16Bytes(p, 12, 20, TCP + tcpLen) : sum16(p, 8, 40, TCP + tcpLen);
    const seq = be32(p, l4 + 4);
    const a = this.#arena;
    if (this.#start >= 0 && this.#fits(p, v === 4, hdr, seq, payload)) {
      const at = this.#start + VNET_HDR_LEN + this.#len;
      a.set(p.subarray(hdr), at);
      // The TCP header's length is a multiple of 4: the payload's 16-bit words line up.
      if (fold(sum16(a, at, at + payload, sum16Bytes(p, l4, hdr, pseudo))) !== 0xffff) {
        return this.#plain(p);
      }
      this.#len += payload;
      this.#count++;
      this.#nextSeq = (seq + payload) >>> 0;
      if ((flags & PSH) !== 0) this.#psh = true;
      if (payload < this.#gso || this.#psh) this.#closed = true;
      return;
    }
    this.flush();
    if (this.#used + VNET_HDR_LEN + len > a.length) {
      this.#release();
      this.#used = 0;
    }
    const o = this.#used + VNET_HDR_LEN;
    a.set(p, o);
    if (fold(sum16(a, o + l4, o + len, pseudo)) !== 0xffff) return this.#plain(p);
    this.#start = this.#used;
    this.#len = len;
    this.#hdr = hdr;
    this.#l4 = l4;
    this.#v4 = v === 4;
    this.#gso = payload;
    this.#count = 1;
    this.#nextSeq = (seq + payload) >>> 0;
    this.#psh = (flags & PSH) !== 0;
    this.#closed = this.#psh;
  }

  /** Whether `p` continues the pending super-packet. */
  #fits(p: Uint8Array, v4: boolean, hdr: number, seq: number, payload: number): boolean {
    if (this.#closed || v4 !== this.#v4 || hdr !== this.#hdr || seq !== this.#nextSeq) return false;
    if (payload > this.#gso || this.#len + payload > MAX_SUPER) return false;
    if (this.#start + VNET_HDR_LEN + this.#len + payload > this.#arena.length) return false;
    const a = this.#arena;
    const o = this.#start + VNET_HDR_LEN;
    const l4 = this.#l4;
    if (v4) {
      // Version..TOS, flags/fragment, TTL, protocol, addresses (not length, ID, checksum).
      if (a[o] !== p[0] || a[o + 1] !== p[1] || a[o + 6] !== p[6] || a[o + 7] !== p[7]) {
        return false;
      }
      for (let i = 8; i < 10; i++) if (a[o + i] !== p[i]) return false;
      for (let i = 12; i < 20; i++) if (a[o + i] !== p[i]) return false;
    } else {
      // Version, traffic class, flow label, next header, hop limit, addresses.
      for (let i = 0; i < 4; i++) if (a[o + i] !== p[i]) return false;
      for (let i = 6; i < 40; i++) if (a[o + i] !== p[i]) return false;
    }
    // TCP: ports, ACK number, offset, window, urgent pointer, options (not
    // the sequence number or checksum); flags may add PSH only.
    for (let i = 0; i < 4; i++) if (a[o + l4 + i] !== p[l4 + i]) return false;
    for (let i = 8; i < 13; i++) if (a[o + l4 + i] !== p[l4 + i]) return false;
    if ((a[o + l4 + 13] | PSH) !== (p[l4 + 13] | PSH)) return false;
    if (a[o + l4 + 14] !== p[l4 + 14] || a[o + l4 + 15] !== p[l4 + 15]) return false;
    for (let i = l4 + 18; i < hdr; i++) if (a[o + i] !== p[i]) return false;
    return true;
  }

  #plain(p: Uint8Array): void {
    this.flush();
    const f = prependVnetHeader(p);
    if (f !== null) return this.#emit(f);
    const c = new Uint8Array(VNET_HDR_LEN + p.length);
    c.set(p, VNET_HDR_LEN);
    this.#emit(c);
  }

  /** Writes the pending super-packet (or single segment), if any. */
  flush(): void {
    const s = this.#start;
    if (s < 0) return;
    this.#start = -1;
    const a = this.#arena;
    const o = s + VNET_HDR_LEN;
    const len = this.#len;
    this.#used = o + len;
    for (let i = 0; i < VNET_HDR_LEN; i++) a[s + i] = 0;
    if (this.#count > 1) {
      const l4 = this.#l4;
      if (this.#v4) {
        setBe16(a, o + 2, len);
        a[o + 10] = 0;
        a[o + 11] = 0;
        setBe16(a, o + 10, ~fold(sum16Bytes(a, o, o + 20, 0)) & 0xffff);
      } else {
        setBe16(a, o + 4, len - 40);
      }
      if (this.#psh) a[o + l4 + 13] |= PSH;
      // CHECKSUM_PARTIAL: the folded pseudo-header sum over the whole TCP length.
      const pseudo = this.#v4
        ? sum16Bytes(a, o + 12, o + 20, TCP + len - l4)
        : sum16Bytes(a, o + 8, o + 40, TCP + len - l4);
      setBe16(a, o + l4 + 16, fold(pseudo));
      a[s] = VNET_F_NEEDS_CSUM;
      a[s + 1] = this.#v4 ? GSO_TCPV4 : GSO_TCPV6;
      setLe16(a, s + 2, this.#hdr);
      setLe16(a, s + 4, this.#gso);
      setLe16(a, s + 6, l4);
      setLe16(a, s + 8, 16);
      this.superPackets++;
      this.coalesced += this.#count;
    }
    this.#emit(a.subarray(s, o + len));
  }

  /** Makes the whole arena reusable: call once every frame emitted so far has been written. */
  reset(): void {
    if (this.#start < 0) this.#used = 0;
  }
}

/** WebAssembly SIMD sums ranges of at least SIMD_FROM bytes (below, the copy costs more). */
const SIMD = simdSum16Available();
const SIMD_FROM = 128;
/** The host stores a Uint32Array element little-endian (x86-64, arm64). */
const HOST_LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
let wordsOf: ArrayBufferLike | null = null;
let words: Uint32Array<ArrayBufferLike> = new Uint32Array(0);

/**
 * One's-complement sum (unfolded) of `b[start..end)` as big-endian 16-bit
 * words from `start`, an odd last byte padded with zero, plus `initial`.
 * Ranges of SIMD_FROM bytes or more go to WebAssembly SIMD
 * (lib/ip/sum16_simd.ts) where the runtime has it; the rest as follows.
 *
 * The middle is summed as aligned native 32-bit words (RFC 1071 section
 * 2: the sum does not depend on byte order up to a final swap, and a word
 * pair `hi * 65536 + lo` is congruent to `hi + lo` mod 0xFFFF): a byte at
 * an odd address lands in the high half of a 16-bit lane, one at an even
 * address in the low half; when `start` is at an even address that is the
 * swap of what we want, so the folded sum is swapped back.
 */
export function sum16(b: Uint8Array, start: number, end: number, initial: number): number {
  if (SIMD && end - start >= SIMD_FROM && end - start <= SIMD_SUM16_MAX) {
    return initial + simdSum16(b, start, end);
  }
  if (!HOST_LE || end - start < 32) return sum16Bytes(b, start, end, initial);
  const buf = b.buffer;
  if (buf !== wordsOf) {
    wordsOf = buf;
    words = new Uint32Array(buf, 0, buf.byteLength >>> 2);
  }
  const base = b.byteOffset;
  let a = base + start;
  const e = base + end;
  const u8 = b;
  // Head bytes up to a 4-byte boundary, tail bytes after the last one.
  let lo = 0; // bytes at even addresses (low half of a lane)
  let hi = 0; // bytes at odd addresses
  while ((a & 3) !== 0) {
    if (a & 1) hi += u8[a - base];
    else lo += u8[a - base];
    a++;
  }
  const wEnd = e >>> 2;
  let w0 = 0;
  let w1 = 0;
  for (let i = a >>> 2; i < wEnd; i++) {
    const w = words[i];
    w0 += w & 0xffff;
    w1 += w >>> 16;
  }
  for (let j = wEnd << 2; j < e; j++) {
    if (j & 1) hi += u8[j - base];
    else lo += u8[j - base];
  }
  // Lanes little-endian: the low byte of each 16-bit lane is the even address.
  let s = fold(w0 + w1 + lo + hi * 256);
  if (((base + start) & 1) === 0) s = ((s & 0xff) << 8) | (s >> 8);
  return initial + s;
}

/** {@linkcode sum16} one byte pair at a time (short ranges, big-endian hosts). */
export function sum16Bytes(b: Uint8Array, start: number, end: number, initial: number): number {
  let s = initial;
  let i = start;
  const last = end - 1;
  for (; i < last; i += 2) s += (b[i] << 8) | b[i + 1];
  if (i < end) s += b[i] << 8;
  return s;
}

/** Folds an unfolded one's-complement sum to 16 bits. */
export function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

function le16(b: Uint8Array, o: number): number {
  return b[o] | (b[o + 1] << 8);
}
function setLe16(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >> 8) & 0xff;
}
function be16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}
function setBe16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >> 8) & 0xff;
  b[o + 1] = v & 0xff;
}
function be32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}
function setBe32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}
