/**
 * TCP MSS clamping for tunnelled SYNs: a SYN (or SYN-ACK) whose MSS option
 * would make segments too big for the tunnel gets a smaller MSS, with the
 * TCP checksum updated incrementally (RFC 1624, eqn. 3), so hosts behind a
 * gateway never depend on ICMP "fragmentation needed" getting through.
 *
 * ```
 *  TCP option: kind=2 | len=4 | MSS (16 bits)
 * ```
 *
 * @module
 */

const TCP = 6;
const SYN = 0x02;

/**
 * The largest MSS for a tunnel interface MTU: MTU minus the inner IP header
 * (20 or 40) and the TCP header (20).
 */
export function mssForMtu(tunMtu: number, ipv6: boolean): number {
  return tunMtu - (ipv6 ? 60 : 40);
}

/**
 * Lowers the MSS option of a TCP SYN in `p` (an IPv4 or IPv6 packet, no
 * IPv6 extension headers) to at most `maxMss`, in place. Returns true when
 * the packet was changed. Non-TCP, non-SYN, fragments and malformed options
 * are left alone.
 *
 * @example
 * ```ts
 * clampTcpMss(packetFromTun, mssForMtu(1400, false)); // MSS 1460 -> 1360
 * ```
 */
export function clampTcpMss(p: Uint8Array, maxMss: number): boolean {
  let off: number;
  const v = p.length > 0 ? p[0] >> 4 : 0;
  if (v === 4) {
    if (p.length < 20 || p[9] !== TCP) return false;
    if ((((p[6] & 0x3f) << 8) | p[7]) !== 0) return false; // a fragment (offset != 0 or MF)
    off = (p[0] & 15) * 4;
  } else if (v === 6) {
    if (p.length < 40 || p[6] !== TCP) return false;
    off = 40;
  } else {
    return false;
  }
  if (off + 20 > p.length || (p[off + 13] & SYN) === 0) return false;
  const dataOff = (p[off + 12] >> 4) * 4;
  const end = off + dataOff;
  if (dataOff < 20 || end > p.length) return false;
  let i = off + 20;
  while (i < end) {
    const kind = p[i];
    if (kind === 0) return false; // end of options
    if (kind === 1) {
      i++;
      continue;
    }
    if (i + 1 >= end) return false;
    const len = p[i + 1];
    if (len < 2 || i + len > end) return false;
    if (kind === 2 && len === 4) {
      const old = (p[i + 2] << 8) | p[i + 3];
      if (old <= maxMss) return false;
      // The MSS may sit at an odd offset; update the checksum for each aligned
      // 16-bit word it touches (RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')).
      const w0 = off + ((i + 2 - off) & ~1);
      const w1 = off + ((i + 3 - off) & ~1);
      const before0 = word(p, w0);
      const before1 = word(p, w1);
      p[i + 2] = maxMss >> 8;
      p[i + 3] = maxMss & 0xff;
      const ck = off + 16;
      let sum = ~word(p, ck) & 0xffff;
      sum += (~before0 & 0xffff) + word(p, w0);
      if (w1 !== w0) sum += (~before1 & 0xffff) + word(p, w1);
      while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
      const c = ~sum & 0xffff;
      p[ck] = c >> 8;
      p[ck + 1] = c & 0xff;
      return true;
    }
    i += len;
  }
  return false;
}

function word(p: Uint8Array, o: number): number {
  return (p[o] << 8) | p[o + 1];
}
