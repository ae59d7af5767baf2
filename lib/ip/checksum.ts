/**
 * The Internet checksum (RFC 1071) and the TCP/UDP pseudo-header sums for
 * IPv4 (RFC 768/793) and IPv6 (RFC 8200 section 8.1). Pure functions.
 *
 * @module
 */

/**
 * One's-complement sum of `data` as 16-bit big-endian words, folded to 16
 * bits, starting from `initial` (an unfolded or folded partial sum).
 * Not complemented: use {@linkcode internetChecksum} for the final value.
 */
export function onesComplementSum(data: Uint8Array, initial = 0): number {
  let sum = initial;
  const n = data.length;
  let i = 0;
  for (; i + 1 < n; i += 2) sum += (data[i] << 8) | data[i + 1];
  if (i < n) sum += data[i] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/**
 * The Internet checksum of `data` (RFC 1071), i.e. the one's complement of
 * the one's-complement sum, seeded with `initial`.
 *
 * @example
 * ```ts
 * const csum = internetChecksum(ipv4Header); // with the checksum field zeroed
 * ```
 */
export function internetChecksum(data: Uint8Array, initial = 0): number {
  return ~onesComplementSum(data, initial) & 0xffff;
}

/**
 * Partial sum of the TCP/UDP pseudo header: source and destination
 * addresses (4 or 16 bytes each), protocol and upper-layer length.
 */
export function pseudoHeaderSum(
  src: Uint8Array,
  dst: Uint8Array,
  protocol: number,
  length: number,
): number {
  let sum = onesComplementSum(src);
  sum = onesComplementSum(dst, sum);
  sum += protocol + (length & 0xffff) + Math.floor(length / 0x10000);
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/**
 * Recomputes the TCP (6) or UDP (17) checksum of `segment` in place for the
 * given addresses. For UDP over IPv4 a zero checksum ("none") stays zero;
 * a computed 0 is sent as 0xFFFF (RFC 768). Other protocols are untouched.
 * Returns false when the segment is too short to hold its header.
 */
export function fixTransportChecksum(
  segment: Uint8Array,
  protocol: number,
  src: Uint8Array,
  dst: Uint8Array,
): boolean {
  let off: number;
  if (protocol === 6) off = 16;
  else if (protocol === 17) off = 6;
  else return true;
  if (segment.length < off + 2) return false;
  if (protocol === 17 && src.length === 4 && segment[6] === 0 && segment[7] === 0) return true;
  segment[off] = 0;
  segment[off + 1] = 0;
  let c = internetChecksum(segment, pseudoHeaderSum(src, dst, protocol, segment.length));
  if (protocol === 17 && c === 0) c = 0xffff;
  segment[off] = c >> 8;
  segment[off + 1] = c & 0xff;
  return true;
}
