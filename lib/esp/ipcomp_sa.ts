/**
 * An ESP or AH SA with IP Payload Compression (RFC 3173, negotiated by
 * IKEv2's IPCOMP_SUPPORTED, RFC 7296 section 2.22): outbound, what ESP (or
 * AH) protects is first DEFLATE-compressed behind an IPComp header (Next
 * Header 108); inbound, an IPComp payload is decompressed after ESP verified
 * and decrypted it (or AH verified it). The layout is Linux's (an IPComp SA
 * inside an ESP or AH SA):
 *
 * ```
 * tunnel:     [outer IP] [ESP nh=108] [IPComp nh=4|41 CPI] DEFLATE(inner IP packet)
 * transport:  [IP proto=50] [ESP nh=108] [IPComp nh=6|17|... CPI] DEFLATE(upper layer)
 * ```
 *
 * Small or incompressible packets go as plain ESP (RFC 3173 section 2.2),
 * and a receiver takes both. Decompressed packets land in a new buffer,
 * which {@linkcode IpcompSa.lastBuffer} names (the received buffer
 * otherwise).
 *
 * @example
 * ```ts
 * const tx = new IpcompSa(espOut, { cpi: peerCpi, udpEncap: false });
 * const n = tx.encapsulateInto(packet, out);
 * const rx = new IpcompSa(espIn, { cpi: ourCpi, udpEncap: false });
 * const m = rx.decapsulateInPlace(received);
 * if (m >= 0) deliver(rx.lastBuffer.subarray(rx.lastOffset, rx.lastOffset + m));
 * ```
 *
 * @module
 */
import { fixTransportChecksum } from "../ip/checksum.ts";
import { ipcompCompress, ipcompDecompress, IPPROTO_IPCOMP } from "../ip/ipcomp.ts";
import {
  ipv4HeaderLength,
  ipv4IsFragment,
  ipv4SetChecksum,
  ipv4SetTotalLength,
} from "../ip/ipv4.ts";
import {
  IPV6_HEADER,
  ipv6ExtLength,
  ipv6InsertionPoint,
  ipv6PayloadLength,
  ipv6SetPayloadLength,
  isIpv6ExtHeader,
} from "../ip/ipv6.ts";
import type { PacketProcessor } from "../dataplane/sa_spec.ts";
import { type InnerInfo, innerInfoAt } from "./_outer.ts";
import { espDropCode, type EspStats } from "./_sa.ts";
import type { AhSa } from "./ah.ts";
import type { EspSa } from "./esp.ts";

const D_DECOMPRESS = espDropCode("decompression-failed");
/** Free bytes in front of a decompressed packet (a TUN's virtio-net header goes there). */
const HEADROOM = 16;
/**
 * Decompressed packets kept referenced after they were returned: the TUN
 * writer may queue a packet's address and write it later in the batch, so
 * its buffer must not be collected before (far more than one batch).
 */
const KEEP = 1024;

/** What IPComp on an SA needs besides the ESP SA. */
export interface IpcompOptions {
  /**
   * Outbound: the CPI the peer chose (written into each IPComp header).
   * Inbound: ours (each received IPComp header must carry it).
   */
  cpi: number;
  /** ESP in UDP (transport mode then fixes TCP/UDP checksums, RFC 3948 section 3.1.2). */
  udpEncap: boolean;
}

/** Counters of an IPComp SA. */
export interface IpcompStats {
  /** Packets sent or received compressed. */
  compressed: number;
  /** Packets sent or received as they are (short, or not compressible). */
  uncompressed: number;
}

/** An ESP or AH SA whose payloads are IPComp-compressed (a {@linkcode PacketProcessor}). */
export class IpcompSa implements PacketProcessor {
  readonly inner: EspSa | AhSa;
  readonly cpi: number;
  readonly ipcompStats: IpcompStats = { compressed: 0, uncompressed: 0 };
  /** The buffer the last successful {@linkcode decapsulateInPlace} result is in. */
  lastBuffer: Uint8Array = new Uint8Array(0);
  lastOffset = 0;
  readonly #udpEncap: boolean;
  readonly #info: InnerInfo = { length: 0, tos: 0, df: false, proto: 0 };
  readonly #keep: Uint8Array[] = [];
  #keepAt = 0;

  constructor(inner: EspSa | AhSa, o: IpcompOptions) {
    if (!Number.isInteger(o.cpi) || o.cpi < 1 || o.cpi > 0xffff) {
      throw new RangeError(`IPComp CPI must be 1..65535, got ${o.cpi}`);
    }
    this.inner = inner;
    this.cpi = o.cpi;
    this.#udpEncap = o.udpEncap;
    // Tunnel mode: ESP/AH hands IPComp payloads over instead of dropping them.
    inner.passNextHeader = IPPROTO_IPCOMP;
  }

  get spi(): number {
    return this.inner.spi;
  }
  get mode(): "tunnel" | "transport" {
    return this.inner.mode;
  }
  get stats(): EspStats {
    return this.inner.stats;
  }
  get sequence(): number {
    return this.inner.sequence;
  }
  get sequenceExhausted(): boolean {
    return this.inner.sequenceExhausted;
  }
  get rekeyNeeded(): boolean {
    return this.inner.rekeyNeeded;
  }
  /** The ESP SA's replay window (the data plane reports its top). */
  get replay(): EspSa["replay"] {
    return this.inner.replay;
  }

  requiredOutLength(packetLength: number): number {
    // A compressed payload is always smaller than the packet it replaces.
    return this.inner.requiredOutLength(packetLength);
  }

  updateEndpoints(
    tunnel: { src: Uint8Array; dst: Uint8Array } | undefined,
    udpEncap: { srcPort: number; dstPort: number } | undefined,
  ): void {
    this.inner.updateEndpoints(tunnel, udpEncap);
  }

  // ------------------------------------------------------------------ outbound

  /** Compresses what `packet` carries when that pays, then ESP: see `EspSa.encapsulateInto`. */
  encapsulateInto(packet: Uint8Array, out: Uint8Array, offset = 0): number {
    if (this.inner.mode === "tunnel") {
      const info = this.#info;
      if (innerInfoAt(packet, 0, packet.length, info)) {
        const inner = packet.subarray(0, info.length);
        const c = ipcompCompress(inner, info.proto, this.cpi);
        if (c !== null) {
          const n = this.inner.encapsulateTunnelPayload(
            c,
            IPPROTO_IPCOMP,
            info.tos,
            info.df,
            out,
            offset,
          );
          if (n >= 0) this.ipcompStats.compressed++;
          return n;
        }
      }
    } else {
      const c = this.#compressTransport(packet);
      if (c !== null) {
        const n = this.inner.encapsulateInto(c, out, offset);
        if (n >= 0) this.ipcompStats.compressed++;
        return n;
      }
    }
    const n = this.inner.encapsulateInto(packet, out, offset);
    if (n >= 0) this.ipcompStats.uncompressed++;
    return n;
  }

  /**
   * Transport mode: `packet` with its upper-layer payload compressed behind
   * an IPComp header (the header chain up to where ESP goes kept, its
   * protocol 108), or null to send it as it is.
   */
  #compressTransport(packet: Uint8Array): Uint8Array | null {
    const v = packet.length > 0 ? packet[0] >> 4 : 0;
    let hdrLen: number;
    let nhOff: number;
    let end: number;
    if (v === 4) {
      hdrLen = ipv4HeaderLength(packet);
      if (hdrLen < 0 || ipv4IsFragment(packet)) return null; // ESP refuses it
      end = (packet[2] << 8) | packet[3];
      nhOff = 9;
    } else if (v === 6) {
      const ip = ipv6InsertionPoint(packet);
      if (ip === null || ip.fragment) return null;
      hdrLen = ip.offset;
      nhOff = ip.nextHeaderOffset;
      end = IPV6_HEADER + ipv6PayloadLength(packet);
    } else {
      return null;
    }
    if (end > packet.length || end < hdrLen) return null;
    const c = ipcompCompress(packet.subarray(hdrLen, end), packet[nhOff], this.cpi);
    if (c === null) return null;
    const p = new Uint8Array(hdrLen + c.length);
    p.set(packet.subarray(0, hdrLen));
    p.set(c, hdrLen);
    p[nhOff] = IPPROTO_IPCOMP;
    if (v === 4) {
      ipv4SetTotalLength(p, p.length);
      ipv4SetChecksum(p, hdrLen);
    } else {
      ipv6SetPayloadLength(p, p.length - IPV6_HEADER);
    }
    return p;
  }

  // ------------------------------------------------------------------- inbound

  /** ESP or AH, then IPComp where the payload is compressed: see `EspSa.decapsulateInPlace`. */
  decapsulateInPlace(buf: Uint8Array, start = 0, end: number = buf.length): number {
    return this.#after(buf, this.inner.decapsulateInPlace(buf, start, end));
  }

  /**
   * The same for ESP bytes without an IP header (tunnel mode, a UDP/4500
   * payload); an AH SA has none of those (AH is never in UDP): a drop.
   */
  decapsulateEspInPlace(buf: Uint8Array, start = 0, end: number = buf.length): number {
    const sa = this.inner;
    if (!("decapsulateEspInPlace" in sa)) return espDropCode("malformed");
    return this.#after(buf, sa.decapsulateEspInPlace(buf, start, end));
  }

  #after(buf: Uint8Array, n: number): number {
    if (n < 0) return n;
    const sa = this.inner;
    const off = sa.lastOffset;
    this.lastBuffer = buf;
    this.lastOffset = off;
    const r = sa.mode === "tunnel"
      ? this.#tunnelInner(buf, off, n)
      : this.#transportInner(buf.subarray(off, off + n));
    if (r === D_DECOMPRESS) sa.stats.drops["decompression-failed"]++;
    return r;
  }

  /** Tunnel mode: ESP returned either an inner packet or an IPComp datagram holding one. */
  #tunnelInner(buf: Uint8Array, off: number, n: number): number {
    if (this.inner.lastNextHeader !== IPPROTO_IPCOMP) {
      this.ipcompStats.uncompressed++;
      return n;
    }
    const d = ipcompDecompress(buf.subarray(off, off + n), this.cpi);
    if (!d.ok || (d.nextHeader !== 4 && d.nextHeader !== 41)) return D_DECOMPRESS;
    const info = this.#info;
    const p = d.payload;
    if (!innerInfoAt(p, 0, p.length, info) || info.proto !== d.nextHeader) return D_DECOMPRESS;
    const b = this.#output(info.length);
    b.set(p.subarray(0, info.length), HEADROOM);
    this.ipcompStats.compressed++;
    return info.length;
  }

  /**
   * A new buffer for a decompressed packet of `length` bytes at HEADROOM,
   * made the result buffer and kept referenced for the next KEEP packets.
   */
  #output(length: number): Uint8Array {
    const b = new Uint8Array(HEADROOM + length);
    this.#keep[this.#keepAt] = b;
    this.#keepAt = (this.#keepAt + 1) % KEEP;
    this.lastBuffer = b;
    this.lastOffset = HEADROOM;
    return b;
  }

  /** Transport mode: ESP returned the IP packet; protocol 108 means its payload is compressed. */
  #transportInner(pkt: Uint8Array): number {
    const v4 = pkt[0] >> 4 === 4;
    let hdrLen: number;
    let nhOff: number;
    if (v4) {
      hdrLen = ipv4HeaderLength(pkt);
      nhOff = 9;
      if (hdrLen < 0) return D_DECOMPRESS;
    } else {
      const at = ipv6UpperLayer(pkt);
      if (at === null) return D_DECOMPRESS;
      [hdrLen, nhOff] = at;
    }
    if (pkt[nhOff] !== IPPROTO_IPCOMP) {
      this.ipcompStats.uncompressed++;
      return pkt.length;
    }
    const d = ipcompDecompress(pkt.subarray(hdrLen), this.cpi);
    if (!d.ok) return D_DECOMPRESS;
    const length = hdrLen + d.payload.length;
    if (length > 0xffff + (v4 ? 0 : IPV6_HEADER)) return D_DECOMPRESS;
    const p = this.#output(length).subarray(HEADROOM);
    p.set(pkt.subarray(0, hdrLen));
    p.set(d.payload, hdrLen);
    p[nhOff] = d.nextHeader;
    const src = v4 ? p.subarray(12, 16) : p.subarray(8, 24);
    const dst = v4 ? p.subarray(16, 20) : p.subarray(24, 40);
    if (v4) {
      ipv4SetTotalLength(p, p.length);
      ipv4SetChecksum(p, hdrLen);
    } else {
      ipv6SetPayloadLength(p, p.length - IPV6_HEADER);
    }
    // RFC 3948 section 3.1.2: behind a NAT the inner checksums cover other addresses.
    if (this.#udpEncap && !fixTransportChecksum(p.subarray(hdrLen), d.nextHeader, src, dst)) {
      return D_DECOMPRESS;
    }
    this.ipcompStats.compressed++;
    return p.length;
  }
}

/**
 * Where the first header after the extension headers of the IPv6 packet `p`
 * starts, and the offset of the Next Header byte naming it; null when the
 * chain is truncated.
 */
function ipv6UpperLayer(p: Uint8Array): [number, number] | null {
  if (p.length < IPV6_HEADER) return null;
  let nhOff = 6;
  let nh = p[6];
  let off = IPV6_HEADER;
  while (isIpv6ExtHeader(nh)) {
    const len = ipv6ExtLength(p, off, nh);
    if (len < 0) return null;
    nhOff = off;
    off += len;
    nh = p[nhOff];
  }
  return [off, nhOff];
}
