/**
 * What routers may legitimately do to a packet in flight (RFC 4302
 * Appendix A): change TTL/hop limit, DSCP/ECN, flags, flow label, mutable
 * options, and process routing headers. AH must verify after all of it.
 */
import { ipv4SetChecksum } from "../../lib/ip/ipv4.ts";

/** IPv4: new TTL, DSCP EF + ECN CE, DF set, record-route data filled, checksum fixed. */
export function routersV4(p: Uint8Array): Uint8Array {
  p[8] = 33;
  p[1] = 0xbb;
  p[6] |= 0x40;
  const ihl = (p[0] & 0x0f) * 4;
  let i = 20;
  while (i < ihl && p[i] !== 0) {
    if (p[i] === 1) {
      i++;
      continue;
    }
    if (p[i] === 7) {
      // Record Route: a router writes its address and moves the pointer.
      p.set([192, 0, 2, 99], i + 3);
      p[i + 2] += 4;
    }
    i += p[i + 1];
  }
  ipv4SetChecksum(p, ihl);
  return p;
}

/**
 * IPv6: new hop limit, traffic class and flow label, the data of options
 * with the "may change" bit (type 0x3e here) rewritten, and type 0 routing
 * headers walked to the final destination (RFC 8200 section 4.4).
 */
export function routersV6(p: Uint8Array): Uint8Array {
  p[7] = 17;
  p[0] = 0x6f;
  p[1] = 0xf5;
  p[3] = 0x42;
  let nh = p[6];
  let off = 40;
  while (nh === 0 || nh === 43 || nh === 60) {
    const len = (p[off + 1] + 1) * 8;
    if (nh === 0 || nh === 60) {
      for (let i = off + 2; i < off + len;) {
        if (p[i] === 0) {
          i++;
          continue;
        }
        if (p[i] & 0x20) p.fill(0xa5, i + 2, i + 2 + p[i + 1]);
        i += 2 + p[i + 1];
      }
    } else if (p[off + 2] === 0) {
      const n = (len - 8) / 16;
      while (p[off + 3] > 0) {
        const a = off + 8 + (n - p[off + 3]) * 16;
        const next = p.slice(a, a + 16);
        p.copyWithin(a, 24, 40);
        p.set(next, 24);
        p[off + 3]--;
      }
    }
    nh = p[off];
    off += len;
  }
  return p;
}
