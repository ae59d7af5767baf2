/**
 * Private helpers shared by ESP and AH: the tunnel-mode outer header (RFC
 * 4301 section 5.1.2: DSCP copied or set, ECN copied, DF copied/set/clear)
 * and locating the IPsec header in a received packet.
 *
 * @module
 */

import { IPV6_HEADER, ipv6ExtLength, isIpv6ExtHeader } from "../ip/ipv6.ts";
import { readU32 } from "./_crypto_ops.ts";

/** How the outer header is filled in tunnel mode. */
export interface OuterHeaderPolicy {
  dscp: "copy" | number;
  /** Copy the inner ECN field (RFC 6040 normal mode); false: Not-ECT. */
  ecn: boolean;
  df: "copy" | "set" | "clear";
  ttl: number;
}

/** What an inner IP packet tells the outer header. */
export interface InnerInfo {
  /** Length of the inner packet (from its own header). */
  length: number;
  /** IPv4 TOS / IPv6 Traffic Class. */
  tos: number;
  /** IPv4 DF bit (true for IPv6, which never fragments en route). */
  df: boolean;
  /** Protocol number of the inner packet as payload: 4 (IPv4) or 41 (IPv6). */
  proto: number;
}

/** Reads the inner packet's length, TOS and DF, or returns null when malformed. */
export function innerInfo(packet: Uint8Array): InnerInfo | null {
  const info: InnerInfo = { length: 0, tos: 0, df: false, proto: 0 };
  return innerInfoAt(packet, 0, packet.length, info) ? info : null;
}

/**
 * {@linkcode innerInfo} for the packet at `p[off..end)`, written into the
 * caller's `info` (no allocation, for the per-packet path). False when
 * malformed (then `info` is unspecified).
 */
export function innerInfoAt(p: Uint8Array, off: number, end: number, info: InnerInfo): boolean {
  const avail = end - off;
  const v = avail > 0 ? p[off] >> 4 : 0;
  if (v === 4) {
    if (avail < 20) return false;
    const ihl = (p[off] & 0x0f) * 4;
    const total = (p[off + 2] << 8) | p[off + 3];
    if (ihl < 20 || total < ihl || total > avail) return false;
    info.length = total;
    info.tos = p[off + 1];
    info.df = (p[off + 6] & 0x40) !== 0;
    info.proto = 4;
    return true;
  }
  if (v === 6 && avail >= IPV6_HEADER) {
    const total = IPV6_HEADER + ((p[off + 4] << 8) | p[off + 5]);
    if (total > avail) return false;
    info.length = total;
    info.tos = ((p[off] & 0x0f) << 4) | (p[off + 1] >> 4);
    info.df = true;
    info.proto = 41;
    return true;
  }
  return false;
}

/** The outer DF bit for `policy` given the inner DF. */
export function outerDf(policy: OuterHeaderPolicy, innerDf: boolean): boolean {
  return policy.df === "copy" ? innerDf : policy.df === "set";
}

/**
 * Writes the outer IPv4 (20 bytes, no options, fragment offset 0) or IPv6
 * (40 bytes, flow label 0) header at `out[o..)` for a packet of `total`
 * bytes carrying `proto`. Returns the header length. Allocation-free: it
 * runs once per outbound packet.
 */
export function writeOuterHeader(
  out: Uint8Array,
  o: number,
  src: Uint8Array,
  dst: Uint8Array,
  proto: number,
  total: number,
  innerTos: number,
  df: boolean,
  id: number,
  policy: OuterHeaderPolicy,
): number {
  const d = policy.dscp;
  // RFC 4301 section 5.1.2.1 / RFC 6040: ECN copied (unless off), DSCP copied or mapped.
  let tos = d === "copy" ? innerTos : ((d & 0x3f) << 2) | (innerTos & 3);
  if (!policy.ecn) tos &= 0xfc;
  if (src.length === 4) {
    const ttl = policy.ttl;
    const flags = df ? 0x40 : 0;
    out[o] = 0x45;
    out[o + 1] = tos;
    out[o + 2] = (total >> 8) & 0xff;
    out[o + 3] = total & 0xff;
    out[o + 4] = (id >> 8) & 0xff;
    out[o + 5] = id & 0xff;
    out[o + 6] = flags;
    out[o + 7] = 0;
    out[o + 8] = ttl;
    out[o + 9] = proto;
    const s0 = src[0], s1 = src[1], s2 = src[2], s3 = src[3];
    const d0 = dst[0], d1 = dst[1], d2 = dst[2], d3 = dst[3];
    out[o + 12] = s0;
    out[o + 13] = s1;
    out[o + 14] = s2;
    out[o + 15] = s3;
    out[o + 16] = d0;
    out[o + 17] = d1;
    out[o + 18] = d2;
    out[o + 19] = d3;
    // RFC 1071 checksum of the ten 16-bit words just written (checksum field zero).
    let sum = (0x4500 | (tos & 0xff)) + (total & 0xffff) + (id & 0xffff) + (flags << 8) +
      (((ttl & 0xff) << 8) | (proto & 0xff)) + ((s0 << 8) | s1) + ((s2 << 8) | s3) +
      ((d0 << 8) | d1) + ((d2 << 8) | d3);
    sum = (sum & 0xffff) + (sum >>> 16);
    sum = (sum & 0xffff) + (sum >>> 16);
    const c = ~sum & 0xffff;
    out[o + 10] = c >> 8;
    out[o + 11] = c & 0xff;
    return 20;
  }
  const payload = total - IPV6_HEADER;
  out[o] = 0x60 | (tos >> 4);
  out[o + 1] = (tos & 0x0f) << 4;
  out[o + 2] = 0;
  out[o + 3] = 0;
  out[o + 4] = (payload >> 8) & 0xff;
  out[o + 5] = payload & 0xff;
  out[o + 6] = proto;
  out[o + 7] = policy.ttl;
  for (let i = 0; i < 16; i++) {
    out[o + 8 + i] = src[i];
    out[o + 24 + i] = dst[i];
  }
  return IPV6_HEADER;
}

/** Where the IPsec header starts inside a received IP packet. */
export interface IpsecLocation {
  /** Null when found; else why the packet is unusable. */
  error: "malformed" | "truncated" | null;
  v4: boolean;
  /** True when the header came inside UDP (RFC 3948, ESP only). */
  udp: boolean;
  /** Offset of the ESP SPI / AH Next Header byte. */
  espOffset: number;
  /** End of the IP packet (total length). */
  end: number;
  /** Length of the IP header (+ extension headers before ESP/AH/UDP). */
  headerLength: number;
  /** Offset of the next-header/protocol byte that pointed at ESP/AH/UDP. */
  nextHeaderOffset: number;
  /** The SPI (0 when not found). */
  spi: number;
}

/**
 * Finds the header of IP protocol `proto` (50 ESP, 51 AH) in an IPv4/IPv6
 * packet, after the IPv6 extension headers, and for ESP also inside UDP with
 * a non-zero first word (RFC 3948). Never throws.
 */
export function locateIpsec(p: Uint8Array, proto: 50 | 51): IpsecLocation {
  return locateIpsecInto(p, proto, newIpsecLocation());
}

/** A fresh {@linkcode IpsecLocation} for {@linkcode locateIpsecInto} to fill. */
export function newIpsecLocation(): IpsecLocation {
  return {
    error: null,
    v4: true,
    udp: false,
    espOffset: 0,
    end: 0,
    headerLength: 0,
    nextHeaderOffset: 9,
    spi: 0,
  };
}

/**
 * {@linkcode locateIpsec} for a packet received into `p[base..limit)` (a
 * buffer that may hold more), into the caller's `r` (every field is
 * overwritten), so the per-packet path allocates nothing. Returns `r`.
 * `espOffset` and `end` are indexes into `p`; `headerLength` and
 * `nextHeaderOffset` count from `base` (from the packet's first byte).
 */
export function locateIpsecInto(
  p: Uint8Array,
  proto: 50 | 51,
  r: IpsecLocation,
  base = 0,
  limit: number = p.length,
): IpsecLocation {
  r.error = null;
  r.v4 = true;
  r.udp = false;
  r.espOffset = 0;
  r.end = 0;
  r.headerLength = 0;
  r.nextHeaderOffset = 9;
  r.spi = 0;
  if (limit > p.length) limit = p.length;
  const avail = limit - base;
  if (base < 0 || avail <= 0) return fail(r, "malformed");
  let off: number; // from base
  let nh: number;
  let total: number;
  const v = p[base] >> 4;
  if (v === 4) {
    // As ipv4HeaderLength() and ipv4IsFragment(), against `avail`.
    const ihl = (p[base] & 0x0f) * 4;
    total = (p[base + 2] << 8) | p[base + 3];
    if (avail < 20 || ihl < 20 || total < ihl || total > avail) return fail(r, "malformed");
    if ((p[base + 6] & 0x3f) !== 0 || p[base + 7] !== 0) return fail(r, "malformed");
    off = ihl;
    nh = p[base + 9];
  } else if (
    v === 6 && avail >= IPV6_HEADER &&
    IPV6_HEADER + ((p[base + 4] << 8) | p[base + 5]) <= avail
  ) {
    r.v4 = false;
    total = IPV6_HEADER + ((p[base + 4] << 8) | p[base + 5]);
    let nhOff = 6;
    nh = p[base + 6];
    off = IPV6_HEADER;
    if (isIpv6ExtHeader(nh)) {
      const pkt = p.subarray(base, base + total); // rare: extension headers before ESP
      while (isIpv6ExtHeader(nh)) {
        const len = ipv6ExtLength(pkt, off, nh);
        if (len < 0) return fail(r, "truncated");
        nhOff = off;
        nh = pkt[off];
        off += len;
      }
    }
    r.nextHeaderOffset = nhOff;
  } else {
    return fail(r, "malformed");
  }
  r.end = base + total;
  r.headerLength = off;
  if (nh === 17 && proto === 50) {
    if (off + 8 + 4 > total) return fail(r, "truncated");
    r.udp = true;
    off += 8;
    if (readU32(p, base + off) === 0) return fail(r, "malformed"); // non-ESP marker: IKE
  } else if (nh !== proto) {
    return fail(r, "malformed");
  }
  const spiAt = proto === 50 ? off : off + 4;
  if (spiAt + 8 > total) return fail(r, "truncated");
  r.espOffset = base + off;
  r.spi = readU32(p, base + spiAt);
  return r;
}

function fail(r: IpsecLocation, e: "malformed" | "truncated"): IpsecLocation {
  r.error = e;
  return r;
}
