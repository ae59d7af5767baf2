/**
 * IPv6 header (RFC 8200) and extension header walking, as ESP/AH need it:
 * where the IPsec header goes in transport mode (RFC 4303 section 3.1.1,
 * RFC 4302 section 3.1.1) and which next-header byte to patch.
 *
 * ```
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |Version| Traffic Class |           Flow Label                  |
 * |         Payload Length        |  Next Header  |   Hop Limit   |
 * |                Source Address (16)  Destination Address (16)  |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * @module
 */

/** Fixed IPv6 header length. */
export const IPV6_HEADER = 40;

/** Extension header numbers. */
export const IPV6_HOP_BY_HOP = 0;
export const IPV6_ROUTING = 43;
export const IPV6_FRAGMENT = 44;
export const IPV6_DEST_OPTS = 60;
export const IPV6_NO_NEXT = 59;
export const IPPROTO_ESP = 50;
export const IPPROTO_AH = 51;

/** True for a well-formed IPv6 packet whose payload length fits the buffer. */
export function ipv6Valid(p: Uint8Array): boolean {
  return p.length >= IPV6_HEADER && p[0] >> 4 === 6 &&
    IPV6_HEADER + ((p[4] << 8) | p[5]) <= p.length;
}

/** Payload Length field. */
export function ipv6PayloadLength(p: Uint8Array): number {
  return (p[4] << 8) | p[5];
}
/** Sets Payload Length in place. */
export function ipv6SetPayloadLength(p: Uint8Array, n: number): void {
  p[4] = n >> 8;
  p[5] = n & 0xff;
}
/** Source address view (16 bytes). */
export function ipv6Src(p: Uint8Array): Uint8Array {
  return p.subarray(8, 24);
}
/** Destination address view (16 bytes). */
export function ipv6Dst(p: Uint8Array): Uint8Array {
  return p.subarray(24, 40);
}

/** Where an IPsec header goes in an IPv6 packet (see {@linkcode ipv6InsertionPoint}). */
export interface Ipv6InsertionPoint {
  /** Byte offset where ESP/AH is inserted (end of the "per-hop" headers). */
  offset: number;
  /** Offset of the next-header byte that must become 50/51. */
  nextHeaderOffset: number;
  /** Protocol number that was at that byte (goes into the ESP trailer / AH header). */
  nextHeader: number;
  /** True when a Fragment header says this is a fragment (offset > 0 or more fragments). */
  fragment: boolean;
}

/** Length of the extension header at `off` of type `nh`, or -1 if truncated. */
export function ipv6ExtLength(p: Uint8Array, off: number, nh: number): number {
  if (off + 8 > p.length) return -1;
  const len = nh === IPV6_FRAGMENT ? 8 : (p[off + 1] + 1) * 8;
  return off + len <= p.length ? len : -1;
}

/** True for the extension headers ESP/AH must follow (or may, for destination options). */
export function isIpv6ExtHeader(nh: number): boolean {
  return nh === IPV6_HOP_BY_HOP || nh === IPV6_ROUTING || nh === IPV6_FRAGMENT ||
    nh === IPV6_DEST_OPTS;
}

/**
 * Walks the extension headers of the IPv6 packet `p` and returns where an
 * ESP or AH header goes in transport mode: after hop-by-hop, routing and
 * fragment headers, and after a destination options header only when a
 * routing header follows it (RFC 4303 section 3.1.1). Returns null on a
 * truncated chain.
 */
export function ipv6InsertionPoint(p: Uint8Array): Ipv6InsertionPoint | null {
  if (!ipv6Valid(p)) return null;
  const end = IPV6_HEADER + ipv6PayloadLength(p);
  const view = p.subarray(0, end);
  let nhOff = 6;
  let nh = p[6];
  let off = IPV6_HEADER;
  let fragment = false;
  let best: Ipv6InsertionPoint = { offset: off, nextHeaderOffset: nhOff, nextHeader: nh, fragment };
  while (isIpv6ExtHeader(nh)) {
    const len = ipv6ExtLength(view, off, nh);
    if (len < 0) return null;
    // Fragment header: 13-bit offset and the M flag; an "atomic" fragment (0, M=0) is whole.
    if (nh === IPV6_FRAGMENT && (((view[off + 2] << 8) | view[off + 3]) & 0xfff9) !== 0) {
      fragment = true;
    }
    const isPerHop = nh !== IPV6_DEST_OPTS;
    nhOff = off;
    off += len;
    nh = view[nhOff];
    if (isPerHop) best = { offset: off, nextHeaderOffset: nhOff, nextHeader: nh, fragment };
  }
  best.fragment = fragment;
  return best;
}

/** Fields for {@linkcode writeIpv6Header}. */
export interface Ipv6HeaderFields {
  trafficClass: number;
  flowLabel: number;
  payloadLength: number;
  nextHeader: number;
  hopLimit: number;
  src: Uint8Array;
  dst: Uint8Array;
}

/** Writes the fixed 40-byte IPv6 header at `out[off..off+40)`. */
export function writeIpv6Header(out: Uint8Array, off: number, f: Ipv6HeaderFields): void {
  out[off] = 0x60 | (f.trafficClass >> 4);
  out[off + 1] = ((f.trafficClass & 0x0f) << 4) | ((f.flowLabel >> 16) & 0x0f);
  out[off + 2] = (f.flowLabel >> 8) & 0xff;
  out[off + 3] = f.flowLabel & 0xff;
  out[off + 4] = f.payloadLength >> 8;
  out[off + 5] = f.payloadLength & 0xff;
  out[off + 6] = f.nextHeader;
  out[off + 7] = f.hopLimit;
  out.set(f.src, off + 8);
  out.set(f.dst, off + 24);
}

/** Traffic Class of an IPv6 header. */
export function ipv6TrafficClass(p: Uint8Array): number {
  return ((p[0] & 0x0f) << 4) | (p[1] >> 4);
}
