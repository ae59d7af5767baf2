/**
 * IPv4 header (RFC 791) access on raw packets: validation, field offsets,
 * header checksum. Functions work on views so the ESP hot path copies nothing.
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |Version|  IHL  |Type of Service|          Total Length         |
 * |         Identification        |Flags|      Fragment Offset    |
 * |  Time to Live |    Protocol   |         Header Checksum       |
 * |                       Source Address                          |
 * |                    Destination Address                        |
 * |                    Options                    |    Padding    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * @module
 */

import { internetChecksum } from "./checksum.ts";

/** Minimum IPv4 header length. */
export const IPV4_MIN_HEADER = 20;
/** Offset of the protocol byte. */
export const IPV4_PROTOCOL_OFFSET = 9;

/**
 * Header length of the IPv4 packet in `p`, or -1 when it is not a
 * well-formed IPv4 packet (version, IHL, total length within the buffer).
 */
export function ipv4HeaderLength(p: Uint8Array): number {
  if (p.length < IPV4_MIN_HEADER || p[0] >> 4 !== 4) return -1;
  const ihl = (p[0] & 0x0f) * 4;
  if (ihl < IPV4_MIN_HEADER) return -1;
  const total = (p[2] << 8) | p[3];
  if (total < ihl || total > p.length) return -1;
  return ihl;
}

/** Total Length field. */
export function ipv4TotalLength(p: Uint8Array): number {
  return (p[2] << 8) | p[3];
}

/** True when the packet is a fragment (MF set or offset non-zero). */
export function ipv4IsFragment(p: Uint8Array): boolean {
  return (p[6] & 0x3f) !== 0 || p[7] !== 0 || (p[6] & 0x20) !== 0;
}

/** Source address view (4 bytes). */
export function ipv4Src(p: Uint8Array): Uint8Array {
  return p.subarray(12, 16);
}
/** Destination address view (4 bytes). */
export function ipv4Dst(p: Uint8Array): Uint8Array {
  return p.subarray(16, 20);
}

/** Recomputes the header checksum in place over the first `ihl` bytes. */
export function ipv4SetChecksum(p: Uint8Array, ihl = (p[0] & 0x0f) * 4): void {
  p[10] = 0;
  p[11] = 0;
  const c = internetChecksum(p.subarray(0, ihl));
  p[10] = c >> 8;
  p[11] = c & 0xff;
}

/** True when the header checksum over `ihl` bytes verifies. */
export function ipv4ChecksumOk(p: Uint8Array, ihl = (p[0] & 0x0f) * 4): boolean {
  return internetChecksum(p.subarray(0, ihl)) === 0;
}

/** Sets Total Length in place. */
export function ipv4SetTotalLength(p: Uint8Array, n: number): void {
  p[2] = n >> 8;
  p[3] = n & 0xff;
}

/** Fields for {@linkcode writeIpv4Header}. */
export interface Ipv4HeaderFields {
  tos: number;
  totalLength: number;
  id: number;
  /** Don't Fragment. */
  df: boolean;
  ttl: number;
  protocol: number;
  src: Uint8Array;
  dst: Uint8Array;
}

/** Writes a 20-byte option-less IPv4 header at `out[off..off+20)` with its checksum. */
export function writeIpv4Header(out: Uint8Array, off: number, f: Ipv4HeaderFields): void {
  out[off] = 0x45;
  out[off + 1] = f.tos;
  out[off + 2] = f.totalLength >> 8;
  out[off + 3] = f.totalLength & 0xff;
  out[off + 4] = (f.id >> 8) & 0xff;
  out[off + 5] = f.id & 0xff;
  out[off + 6] = f.df ? 0x40 : 0;
  out[off + 7] = 0;
  out[off + 8] = f.ttl;
  out[off + 9] = f.protocol;
  out[off + 10] = 0;
  out[off + 11] = 0;
  out.set(f.src, off + 12);
  out.set(f.dst, off + 16);
  ipv4SetChecksum(out.subarray(off, off + 20), 20);
}
