/**
 * ECN at tunnel decapsulation (RFC 6040 section 4.2, which updates RFC 4301
 * section 5.1.2.1): congestion marks a router set on the outer header reach
 * the inner packet, so ECN-capable flows through a tunnel still slow down.
 * At encapsulation the inner ECN field is copied outward (RFC 6040 normal
 * mode), so outer and inner usually agree and nothing changes here.
 *
 * Pure functions over an IP packet in a buffer; no I/O.
 *
 * @module
 */

/** ECN codepoints (RFC 3168 section 5). */
export const Ecn = { NOT_ECT: 0, ECT1: 1, ECT0: 2, CE: 3 } as const;

/** The ECN field of the IPv4 or IPv6 header at `p[o..]` (version from its first nibble). */
export function ecnOf(p: Uint8Array, o: number): number {
  return (p[o] >> 4) === 4 ? p[o + 1] & 3 : (p[o + 1] >> 4) & 3;
}

/**
 * The inner ECN field RFC 6040's decapsulation table gives for an `outer`
 * and an `inner` codepoint, or -1 where the packet must be dropped (CE
 * outside, Not-ECT inside: the sender cannot take a mark, and forwarding it
 * would hide the congestion).
 *
 * @example
 * ```ts
 * decapsulatedEcn(Ecn.CE, Ecn.ECT0); // Ecn.CE
 * decapsulatedEcn(Ecn.CE, Ecn.NOT_ECT); // -1 (drop)
 * decapsulatedEcn(Ecn.ECT1, Ecn.ECT0); // Ecn.ECT1
 * ```
 */
export function decapsulatedEcn(outer: number, inner: number): number {
  if (outer === Ecn.CE) return inner === Ecn.NOT_ECT ? -1 : Ecn.CE;
  if (outer === Ecn.ECT1 && inner === Ecn.ECT0) return Ecn.ECT1;
  return inner;
}

/**
 * Applies {@link decapsulatedEcn} to the inner packet at `p[o..o+length)`
 * (IPv4 or IPv6) given the outer header's ECN field: rewrites the inner ECN
 * field where the table changes it (an IPv4 header checksum is updated, RFC
 * 1624). Returns false when the packet must be dropped; the bytes are then
 * unchanged. A packet too short for its IP header is left as it is (the
 * checks after decapsulation drop it).
 *
 * @example
 * ```ts
 * if (!applyDecapsulationEcn(outerEcn, inner, 0, inner.length)) dropIt();
 * ```
 */
export function applyDecapsulationEcn(
  outer: number,
  p: Uint8Array,
  o: number,
  length: number,
): boolean {
  // Not-ECT and ECT(0) outside never change anything (the common case).
  if (outer === Ecn.NOT_ECT || outer === Ecn.ECT0) return true;
  if (length < ((p[o] >> 4) === 4 ? 20 : 40) || o + length > p.length) return true;
  const inner = ecnOf(p, o);
  const want = decapsulatedEcn(outer, inner);
  if (want < 0) return false;
  if (want === inner) return true;
  if ((p[o] >> 4) === 4) {
    const before = (p[o] << 8) | p[o + 1];
    p[o + 1] = (p[o + 1] & 0xfc) | want;
    const after = (p[o] << 8) | p[o + 1];
    // RFC 1624 equation 3: HC' = ~(~HC + ~m + m').
    let sum = (~((p[o + 10] << 8) | p[o + 11]) & 0xffff) + (~before & 0xffff) + after;
    sum = (sum & 0xffff) + (sum >>> 16);
    sum = (sum & 0xffff) + (sum >>> 16);
    const c = ~sum & 0xffff;
    p[o + 10] = c >> 8;
    p[o + 11] = c & 0xff;
  } else {
    // IPv6: the Traffic Class straddles bytes 0 and 1; ECN is bits 4-5 of byte 1.
    p[o + 1] = (p[o + 1] & 0xcf) | (want << 4);
  }
  return true;
}
