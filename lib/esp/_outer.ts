/**
 * Private helpers shared by ESP and AH: the tunnel-mode outer header (RFC
 * 4301 section 5.1.2: DSCP copied or set, ECN copied, DF copied/set/clear)
 * and locating the IPsec header in a received packet.
 *
 * @module
 */

import { ipv4HeaderLength, ipv4IsFragment, writeIpv4Header } from "../ip/ipv4.ts";
import {
  IPV6_HEADER,
  ipv6ExtLength,
  ipv6PayloadLength,
  ipv6TrafficClass,
  ipv6Valid,
  isIpv6ExtHeader,
  writeIpv6Header,
} from "../ip/ipv6.ts";
import { readU32 } from "./_crypto_ops.ts";

/** How the outer header is filled in tunnel mode. */
export interface OuterHeaderPolicy {
  dscp: "copy" | number;
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
  const v = packet.length > 0 ? packet[0] >> 4 : 0;
  if (v === 4) {
    if (ipv4HeaderLength(packet) < 0) return null;
    return {
      length: (packet[2] << 8) | packet[3],
      tos: packet[1],
      df: (packet[6] & 0x40) !== 0,
      proto: 4,
    };
  }
  if (v === 6 && ipv6Valid(packet)) {
    return {
      length: IPV6_HEADER + ipv6PayloadLength(packet),
      tos: ipv6TrafficClass(packet),
      df: true,
      proto: 41,
    };
  }
  return null;
}

/** The outer DF bit for `policy` given the inner DF. */
export function outerDf(policy: OuterHeaderPolicy, innerDf: boolean): boolean {
  return policy.df === "copy" ? innerDf : policy.df === "set";
}

/**
 * Writes the outer IPv4 (20 bytes) or IPv6 (40 bytes) header at `out[o..)`
 * for a packet of `total` bytes carrying `proto`. Returns the header length.
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
  // RFC 4301 section 5.1.2.1 / RFC 6040: ECN copied, DSCP copied or mapped.
  const tos = d === "copy" ? innerTos : ((d & 0x3f) << 2) | (innerTos & 3);
  if (src.length === 4) {
    writeIpv4Header(out, o, {
      tos,
      totalLength: total,
      id,
      df,
      ttl: policy.ttl,
      protocol: proto,
      src,
      dst,
    });
    return 20;
  }
  writeIpv6Header(out, o, {
    trafficClass: tos,
    flowLabel: 0,
    payloadLength: total - IPV6_HEADER,
    nextHeader: proto,
    hopLimit: policy.ttl,
    src,
    dst,
  });
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
  const r: IpsecLocation = {
    error: null,
    v4: true,
    udp: false,
    espOffset: 0,
    end: 0,
    headerLength: 0,
    nextHeaderOffset: 9,
    spi: 0,
  };
  let off: number;
  let nh: number;
  if (p.length > 0 && p[0] >> 4 === 4) {
    const ihl = ipv4HeaderLength(p);
    if (ihl < 0 || ipv4IsFragment(p)) return fail(r, "malformed");
    off = ihl;
    nh = p[9];
    r.end = (p[2] << 8) | p[3];
  } else if (p.length > 0 && p[0] >> 4 === 6 && ipv6Valid(p)) {
    r.v4 = false;
    r.end = IPV6_HEADER + ipv6PayloadLength(p);
    let nhOff = 6;
    nh = p[6];
    off = IPV6_HEADER;
    while (isIpv6ExtHeader(nh)) {
      const len = ipv6ExtLength(p.subarray(0, r.end), off, nh);
      if (len < 0) return fail(r, "truncated");
      nhOff = off;
      nh = p[off];
      off += len;
    }
    r.nextHeaderOffset = nhOff;
  } else {
    return fail(r, "malformed");
  }
  r.headerLength = off;
  if (nh === 17 && proto === 50) {
    if (off + 8 + 4 > r.end) return fail(r, "truncated");
    r.udp = true;
    off += 8;
    if (readU32(p, off) === 0) return fail(r, "malformed"); // non-ESP marker: IKE, not ESP
  } else if (nh !== proto) {
    return fail(r, "malformed");
  }
  const spiAt = proto === 50 ? off : off + 4;
  if (spiAt + 8 > r.end) return fail(r, "truncated");
  r.espOffset = off;
  r.spi = readU32(p, spiAt);
  return r;
}

function fail(r: IpsecLocation, e: "malformed" | "truncated"): IpsecLocation {
  r.error = e;
  return r;
}
