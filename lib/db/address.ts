/**
 * IP addresses as values for policy matching: IPv4 as an unsigned 32-bit
 * `number`, IPv6 as a 128-bit `bigint`. Parsing and printing (RFC 5952 for
 * IPv6) and conversion to and from network-order bytes.
 *
 * @module
 */

/** An IPv4 (number, 0..2^32-1) or IPv6 (bigint, 0..2^128-1) address value. */
export type IpAddress =
  | { readonly version: 4; readonly value: number }
  | { readonly version: 6; readonly value: bigint };

/** Largest IPv4 address value. */
export const IPV4_MAX = 0xffffffff;
/** Largest IPv6 address value. */
export const IPV6_MAX = (1n << 128n) - 1n;

/**
 * Parses a dotted-quad IPv4 address into a number, or returns `undefined`.
 *
 * @example
 * ```ts
 * parseIpv4("10.0.0.1"); // 167772161
 * ```
 */
export function parseIpv4(s: string): number | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  let v = 0;
  for (const p of parts) {
    if (!/^[0-9]{1,3}$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    v = v * 256 + n;
  }
  return v;
}

/**
 * Parses an IPv6 address (with `::` compression and an optional embedded
 * IPv4 tail) into a bigint, or returns `undefined`.
 *
 * @example
 * ```ts
 * parseIpv6("2001:db8::1"); // 0x20010db8000000000000000000000001n
 * ```
 */
export function parseIpv6(s: string): bigint | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return undefined;
  let head = s;
  let v4tail: number | undefined;
  const lastColon = s.lastIndexOf(":");
  if (s.includes(".")) {
    v4tail = parseIpv4(s.slice(lastColon + 1));
    if (v4tail === undefined) return undefined;
    head = s.slice(0, lastColon + 1) + "0:0";
  }
  const dbl = head.indexOf("::");
  if (dbl !== head.lastIndexOf("::")) return undefined;
  let groups: string[];
  if (dbl >= 0) {
    const left = head.slice(0, dbl) === "" ? [] : head.slice(0, dbl).split(":");
    const right = head.slice(dbl + 2) === "" ? [] : head.slice(dbl + 2).split(":");
    const fill = 8 - left.length - right.length;
    if (fill < 1) return undefined;
    groups = [...left, ...Array(fill).fill("0"), ...right];
  } else {
    groups = head.split(":");
  }
  if (groups.length !== 8) return undefined;
  let v = 0n;
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    v = (v << 16n) | BigInt(parseInt(g, 16));
  }
  if (v4tail !== undefined) v = (v & ~0xffffffffn) | BigInt(v4tail);
  return v;
}

/**
 * Parses an IPv4 or IPv6 address, or returns `undefined`.
 *
 * @example
 * ```ts
 * parseIp("192.0.2.1"); // { version: 4, value: 3221225985 }
 * ```
 */
export function parseIp(s: string): IpAddress | undefined {
  const t = s.trim();
  if (t.includes(":")) {
    const v = parseIpv6(t);
    return v === undefined ? undefined : { version: 6, value: v };
  }
  const v = parseIpv4(t);
  return v === undefined ? undefined : { version: 4, value: v };
}

/** Prints an IPv4 address value in dotted-quad form. */
export function formatIpv4(v: number): string {
  return `${(v >>> 24) & 255}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** Prints an IPv6 address value in RFC 5952 canonical form. */
export function formatIpv6(v: bigint): string {
  const g: number[] = [];
  for (let i = 7; i >= 0; i--) g.push(Number((v >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(":");
  if (bestStart < 0) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}

/** Prints an address value. */
export function formatIp(a: IpAddress): string {
  return a.version === 4 ? formatIpv4(a.value) : formatIpv6(a.value);
}

/** Network-order bytes (4 or 16) of an address. */
export function ipToBytes(a: IpAddress): Uint8Array {
  if (a.version === 4) {
    const v = a.value;
    return new Uint8Array([(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255]);
  }
  const out = new Uint8Array(16);
  let v = a.value;
  for (let i = 15; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/**
 * Address value from 4 or 16 network-order bytes. Throws RangeError for any
 * other length.
 */
export function ipFromBytes(b: Uint8Array): IpAddress {
  if (b.length === 4) {
    return { version: 4, value: ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0 };
  }
  if (b.length === 16) {
    let v = 0n;
    for (const x of b) v = (v << 8n) | BigInt(x);
    return { version: 6, value: v };
  }
  throw new RangeError(`an IP address has 4 or 16 bytes, got ${b.length}`);
}
