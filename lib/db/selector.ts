/**
 * SPD selectors (RFC 4301 section 4.4.1.1): local and remote address
 * (single, prefix, range, ANY, OPAQUE), next-layer protocol, local and remote
 * port ranges (ICMP type/code and Mobility Header type ride in the port
 * fields, as in IKEv2 traffic selectors), an optional Name (an IKE identity,
 * for named entries) and per-field PFP ("populate from packet") flags.
 *
 * Selectors are direction-neutral: "local" is this host's side. For an
 * outbound packet local = source; for an inbound packet local = destination.
 *
 * Conventions for the 16-bit port fields (RFC 4301 section 4.4.1.1):
 * - ICMP / ICMPv6: type in the high 8 bits, code in the low 8 bits. The
 *   message's own type is matched against the sender's side: the local field
 *   for outbound packets, the remote field for inbound ones.
 * - Mobility Header (135): MH type in the high 8 bits, low bits 0..255.
 * - A packet whose field is unavailable (fragment, absent) carries OPAQUE (-1).
 *   ANY matches OPAQUE, a specific range does not, an OPAQUE selector matches
 *   only OPAQUE.
 * - For a selector whose protocol is ICMP, ICMPv6 or MH, the local field lists
 *   the types this host sends and the remote field the types the peer sends
 *   (as in the MIPv6 policies `local_mh_type = BU & remote_mh_type = BAck`).
 *   A packet carries its type on one side only (the other is OPAQUE), so it
 *   matches when (local in L and remote OPAQUE) or (local OPAQUE and remote
 *   in R).
 *
 * @module
 */

import {
  formatIpv4,
  formatIpv6,
  type IpAddress,
  IPV4_MAX,
  IPV6_MAX,
  parseIp,
  parseIpv4,
  parseIpv6,
} from "./address.ts";
import type { IdentityPattern } from "./identity.ts";

/** IANA protocol numbers used by selectors. */
export const IpProto = {
  ICMP: 1,
  TCP: 6,
  UDP: 17,
  DCCP: 33,
  ESP: 50,
  AH: 51,
  ICMPV6: 58,
  SCTP: 132,
  MH: 135,
  UDPLITE: 136,
} as const;

const PROTO_NAMES: Record<string, number> = {
  icmp: 1,
  tcp: 6,
  udp: 17,
  dccp: 33,
  esp: 50,
  ah: 51,
  icmpv6: 58,
  "ipv6-icmp": 58,
  icmp6: 58,
  sctp: 132,
  mh: 135,
  "ipv6-mh": 135,
  udplite: 136,
  gre: 47,
};

/** Mobility Header message types (RFC 6275 section 6.1). */
export const MhType = {
  BRR: 0,
  HoTI: 1,
  CoTI: 2,
  HoT: 3,
  CoT: 4,
  BU: 5,
  BA: 6,
  BE: 7,
} as const;

/** Value of a packet field that is not available (fragment, encrypted, absent). */
export const OPAQUE = -1;

/** Address selector: ANY, OPAQUE (treated as ANY: addresses are always present) or a range. */
export type AddressSelector =
  | { readonly kind: "any" }
  | { readonly kind: "opaque" }
  | {
    readonly kind: "range";
    readonly version: 4;
    readonly start: number;
    readonly end: number;
    /** Set when the range is exactly a prefix (for printing). */
    readonly prefixLength?: number;
  }
  | {
    readonly kind: "range";
    readonly version: 6;
    readonly start: bigint;
    readonly end: bigint;
    readonly prefixLength?: number;
  };

/** A 16-bit port (or ICMP type/code, MH type) selector. */
export type PortSelector =
  | { readonly kind: "any" }
  | { readonly kind: "opaque" }
  | { readonly kind: "range"; readonly start: number; readonly end: number };

/** Next-layer protocol selector: ANY, OPAQUE or one protocol number. */
export type ProtocolSelector = number | "any" | "opaque";

/** Which selector fields take their value from the triggering packet (PFP). */
export interface PfpFlags {
  readonly localAddress?: boolean;
  readonly remoteAddress?: boolean;
  readonly protocol?: boolean;
  readonly localPort?: boolean;
  readonly remotePort?: boolean;
}

/** A complete SPD selector set. */
export interface Selector {
  readonly localAddress: AddressSelector;
  readonly remoteAddress: AddressSelector;
  readonly protocol: ProtocolSelector;
  readonly localPort: PortSelector;
  readonly remotePort: PortSelector;
  /** Name selector: the entry is a named entry, matched by IKE identity, not by packets. */
  readonly name?: IdentityPattern;
  readonly pfp?: PfpFlags;
}

/**
 * The selector fields of one packet, seen from this host. IPv4 addresses are
 * numbers, IPv6 addresses bigints. Ports (or ICMP type/code, MH type) and the
 * protocol are -1 ({@link OPAQUE}) when not available.
 */
export type PacketTuple =
  | {
    readonly version: 4;
    readonly localAddress: number;
    readonly remoteAddress: number;
    readonly protocol: number;
    readonly localPort: number;
    readonly remotePort: number;
  }
  | {
    readonly version: 6;
    readonly localAddress: bigint;
    readonly remoteAddress: bigint;
    readonly protocol: number;
    readonly localPort: number;
    readonly remotePort: number;
  };

/** ANY address. */
export const ANY_ADDRESS: AddressSelector = { kind: "any" };
/** ANY port. */
export const ANY_PORT: PortSelector = { kind: "any" };

/** A selector with every field ANY. */
export const ANY_SELECTOR: Selector = {
  localAddress: ANY_ADDRESS,
  remoteAddress: ANY_ADDRESS,
  protocol: "any",
  localPort: ANY_PORT,
  remotePort: ANY_PORT,
};

/** True for protocols whose "ports" carry a message type (ICMP, ICMPv6, MH). */
export function isTypeProtocol(p: number): boolean {
  return p === IpProto.ICMP || p === IpProto.ICMPV6 || p === IpProto.MH;
}

/** True for protocols with real port numbers. */
export function hasPorts(p: number): boolean {
  return p === IpProto.TCP || p === IpProto.UDP || p === IpProto.SCTP ||
    p === IpProto.UDPLITE || p === IpProto.DCCP;
}

/** Error thrown by the selector parsers. */
export class SelectorError extends Error {
  override readonly name = "SelectorError";
}

function prefixRange(a: IpAddress, len: number): AddressSelector {
  if (a.version === 4) {
    if (len < 0 || len > 32) {
      throw new SelectorError(`IPv4 prefix length must be 0..32, got ${len}`);
    }
    const size = 2 ** (32 - len);
    const start = Math.floor(a.value / size) * size;
    return { kind: "range", version: 4, start, end: start + size - 1, prefixLength: len };
  }
  if (len < 0 || len > 128) {
    throw new SelectorError(`IPv6 prefix length must be 0..128, got ${len}`);
  }
  const host = (1n << BigInt(128 - len)) - 1n;
  const start = a.value & ~host & IPV6_MAX;
  return { kind: "range", version: 6, start, end: start | host, prefixLength: len };
}

/**
 * Address selector for one address, a prefix or a range.
 *
 * @example
 * ```ts
 * addressRange(parseIp("10.0.0.1")!, parseIp("10.0.0.9")!);
 * ```
 */
export function addressRange(start: IpAddress, end: IpAddress): AddressSelector {
  if (start.version !== end.version) throw new SelectorError("range mixes IPv4 and IPv6");
  if (start.value > end.value) throw new SelectorError("range start is after its end");
  if (start.version === 4) {
    return { kind: "range", version: 4, start: start.value, end: end.value as number };
  }
  return { kind: "range", version: 6, start: start.value, end: end.value as bigint };
}

/**
 * Parses `any`, `*`, `opaque`, an address, `addr/len` or `addr1-addr2`
 * (IPv4 or IPv6). Throws {@link SelectorError} with what was expected.
 *
 * @example
 * ```ts
 * parseAddressSelector("1.2.3.0/24"); // range 1.2.3.0 - 1.2.3.255
 * ```
 */
export function parseAddressSelector(text: string): AddressSelector {
  const t = text.trim();
  const l = t.toLowerCase();
  if (l === "any" || l === "*" || l === "%any") return ANY_ADDRESS;
  if (l === "opaque") return { kind: "opaque" };
  const slash = t.indexOf("/");
  if (slash >= 0) {
    const a = parseIp(t.slice(0, slash));
    const lenText = t.slice(slash + 1);
    if (!a || !/^[0-9]{1,3}$/.test(lenText)) {
      throw new SelectorError(`expected an address prefix like 10.0.0.0/24, got '${text}'`);
    }
    return prefixRange(a, Number(lenText));
  }
  const dash = t.indexOf("-");
  if (dash >= 0) {
    const a = parseIp(t.slice(0, dash));
    const b = parseIp(t.slice(dash + 1));
    if (!a || !b) {
      throw new SelectorError(`expected an address range like 10.0.0.1-10.0.0.9, got '${text}'`);
    }
    return addressRange(a, b);
  }
  const a = parseIp(t);
  if (!a) {
    throw new SelectorError(
      `expected an IP address, prefix (a/len), range (a-b), 'any' or 'opaque', got '${text}'`,
    );
  }
  return a.version === 4
    ? { kind: "range", version: 4, start: a.value, end: a.value, prefixLength: 32 }
    : { kind: "range", version: 6, start: a.value, end: a.value, prefixLength: 128 };
}

/**
 * Parses a port selector: `any`, `*`, `opaque`, `80`, `1024-65535`,
 * `>=1024` / `≥1024`, `<=1023`.
 */
export function parsePortSelector(text: string | number): PortSelector {
  if (typeof text === "number") return portRange(text, text);
  const t = text.trim().toLowerCase();
  if (t === "any" || t === "*") return ANY_PORT;
  if (t === "opaque") return { kind: "opaque" };
  let m = /^(?:>=|≥)\s*([0-9]+)$/.exec(t);
  if (m) return portRange(Number(m[1]), 65535);
  m = /^(?:<=|≤)\s*([0-9]+)$/.exec(t);
  if (m) return portRange(0, Number(m[1]));
  m = /^([0-9]+)\s*-\s*([0-9]+)$/.exec(t);
  if (m) return portRange(Number(m[1]), Number(m[2]));
  if (/^[0-9]+$/.test(t)) return portRange(Number(t), Number(t));
  throw new SelectorError(
    `expected a port, a range like 1024-65535, '>=N', 'any' or 'opaque', got '${text}'`,
  );
}

/** A port range selector; `0-65535` is normalized to ANY. */
export function portRange(start: number, end: number): PortSelector {
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > 65535) {
    throw new SelectorError(`ports must be integers 0..65535, got ${start}-${end}`);
  }
  if (start > end) throw new SelectorError(`port range start ${start} is after its end ${end}`);
  if (start === 0 && end === 65535) return ANY_PORT;
  return { kind: "range", start, end };
}

/** Port selector for an ICMP/ICMPv6 type and optional code (range). */
export function icmpSelector(type: number, codeStart = 0, codeEnd = 255): PortSelector {
  if (type < 0 || type > 255 || codeStart < 0 || codeEnd > 255 || codeStart > codeEnd) {
    throw new SelectorError(`ICMP type and code must be 0..255, got ${type}/${codeStart}`);
  }
  return { kind: "range", start: (type << 8) | codeStart, end: (type << 8) | codeEnd };
}

/** Port selector for a Mobility Header type (name from {@link MhType} or number). */
export function mhSelector(type: number | string): PortSelector {
  let t: number | undefined;
  if (typeof type === "number") t = type;
  else {
    const k = Object.keys(MhType).find((n) => n.toLowerCase() === type.toLowerCase());
    t = k ? MhType[k as keyof typeof MhType] : /^[0-9]+$/.test(type) ? Number(type) : undefined;
  }
  if (t === undefined || t < 0 || t > 255) {
    throw new SelectorError(
      `expected a Mobility Header type (${
        Object.keys(MhType).join(", ")
      } or 0..255), got '${type}'`,
    );
  }
  return { kind: "range", start: t << 8, end: (t << 8) | 255 };
}

/** Parses `any`, `opaque`, a protocol name (tcp, udp, icmp, ipv6-icmp, mh, ...) or a number. */
export function parseProtocol(text: string | number): ProtocolSelector {
  if (typeof text === "number") {
    if (!Number.isInteger(text) || text < 0 || text > 255) {
      throw new SelectorError(`protocol number must be 0..255, got ${text}`);
    }
    return text === 0 ? "any" : text;
  }
  const t = text.trim().toLowerCase();
  if (t === "any" || t === "*") return "any";
  if (t === "opaque") return "opaque";
  if (t in PROTO_NAMES) return PROTO_NAMES[t];
  if (/^[0-9]+$/.test(t)) return parseProtocol(Number(t));
  throw new SelectorError(
    `expected a protocol (${
      Object.keys(PROTO_NAMES).join(", ")
    }, a number, or 'any'), got '${text}'`,
  );
}

/** Name of a protocol number (tcp, udp, ...), or the number. */
export function protocolName(p: ProtocolSelector): string {
  if (p === "any") return "ANY";
  if (p === "opaque") return "OPAQUE";
  const n = Object.keys(PROTO_NAMES).find((k) => PROTO_NAMES[k] === p);
  return n ? n.toUpperCase() : String(p);
}

// ---------------------------------------------------------------------------
// Canonical integer bounds: used by matching, intersection, decorrelation and
// the compiled index so all of them agree.

/** Numeric [lo, hi] of a protocol selector over -1..255 (-1 = OPAQUE). */
export function protocolBounds(p: ProtocolSelector): [number, number] {
  if (p === "any") return [-1, 255];
  if (p === "opaque") return [-1, -1];
  return [p, p];
}

/** Numeric [lo, hi] of a port selector over -1..65535 (-1 = OPAQUE). */
export function portBounds(s: PortSelector): [number, number] {
  if (s.kind === "any") return [-1, 65535];
  if (s.kind === "opaque") return [-1, -1];
  return [s.start, s.end];
}

/** True when the selector's protocol carries message types in the port fields. */
export function selectorIsTyped(s: Selector): boolean {
  return typeof s.protocol === "number" && isTypeProtocol(s.protocol);
}

/** Whether an address selector can match version `v` packets. */
export function addressAllows(a: AddressSelector, v: 4 | 6): boolean {
  return a.kind !== "range" || a.version === v;
}

/** IP versions a selector can match (both when both addresses are ANY). */
export function selectorVersions(s: Selector): (4 | 6)[] {
  const out: (4 | 6)[] = [];
  for (const v of [4, 6] as const) {
    if (addressAllows(s.localAddress, v) && addressAllows(s.remoteAddress, v)) out.push(v);
  }
  return out;
}

/** Numeric [lo, hi] of an address selector in version `v` (bigint for both versions). */
export function addressBounds(a: AddressSelector, v: 4 | 6): [bigint, bigint] {
  if (a.kind !== "range") return [0n, v === 4 ? BigInt(IPV4_MAX) : IPV6_MAX];
  return [BigInt(a.start), BigInt(a.end)];
}

function addrIn(a: AddressSelector, v: 4 | 6, x: number | bigint): boolean {
  if (a.kind !== "range") return true;
  return a.version === v && x >= a.start && x <= a.end;
}

/**
 * Whether a packet matches a selector (the Name selector is ignored: named
 * entries are matched by identity, see {@link Selector.name}).
 *
 * @example
 * ```ts
 * selectorMatches(sel, packetTuple({ src: "10.0.0.1", dst: "10.0.1.1", protocol: 6,
 *   srcPort: 1234, dstPort: 80, direction: "outbound" }));
 * ```
 */
export function selectorMatches(s: Selector, p: PacketTuple): boolean {
  if (!addrIn(s.localAddress, p.version, p.localAddress)) return false;
  if (!addrIn(s.remoteAddress, p.version, p.remoteAddress)) return false;
  const [plo, phi] = protocolBounds(s.protocol);
  if (p.protocol < plo || p.protocol > phi) return false;
  const [llo, lhi] = portBounds(s.localPort);
  const [rlo, rhi] = portBounds(s.remotePort);
  const lOk = p.localPort >= llo && p.localPort <= lhi;
  const rOk = p.remotePort >= rlo && p.remotePort <= rhi;
  if (selectorIsTyped(s)) {
    return (lOk && p.remotePort === OPAQUE) || (p.localPort === OPAQUE && rOk);
  }
  return lOk && rOk;
}

/** Fields for {@link packetTuple}. */
export interface PacketFields {
  readonly src: string | IpAddress;
  readonly dst: string | IpAddress;
  /** Next-layer protocol, -1 if unknown. */
  readonly protocol: number;
  readonly srcPort?: number;
  readonly dstPort?: number;
  readonly icmpType?: number;
  readonly icmpCode?: number;
  readonly mhType?: number;
  /** Non-initial fragment: ports unavailable. */
  readonly fragment?: boolean;
  readonly direction: "outbound" | "inbound";
}

function toAddr(a: string | IpAddress): IpAddress {
  if (typeof a !== "string") return a;
  const p = parseIp(a);
  if (!p) throw new SelectorError(`not an IP address: '${a}'`);
  return p;
}

/**
 * Builds the local/remote view of a packet from its header fields.
 *
 * @example
 * ```ts
 * packetTuple({ src: "1.2.3.101", dst: "1.2.4.10", protocol: 6, srcPort: 40000,
 *   dstPort: 443, direction: "outbound" });
 * ```
 */
export function packetTuple(f: PacketFields): PacketTuple {
  const src = toAddr(f.src);
  const dst = toAddr(f.dst);
  if (src.version !== dst.version) throw new SelectorError("packet mixes IPv4 and IPv6");
  const out = f.direction === "outbound";
  let sp = OPAQUE;
  let dp = OPAQUE;
  if (!f.fragment) {
    if (f.protocol === IpProto.ICMP || f.protocol === IpProto.ICMPV6) {
      sp = f.icmpType === undefined ? OPAQUE : ((f.icmpType << 8) | (f.icmpCode ?? 0));
    } else if (f.protocol === IpProto.MH) {
      sp = f.mhType === undefined ? OPAQUE : f.mhType << 8;
    } else {
      sp = f.srcPort ?? OPAQUE;
      dp = f.dstPort ?? OPAQUE;
    }
  }
  const lp = out ? sp : dp;
  const rp = out ? dp : sp;
  if (src.version === 4) {
    return {
      version: 4,
      localAddress: out ? src.value : (dst.value as number),
      remoteAddress: out ? (dst.value as number) : src.value,
      protocol: f.protocol,
      localPort: lp,
      remotePort: rp,
    };
  }
  return {
    version: 6,
    localAddress: out ? src.value : (dst.value as bigint),
    remoteAddress: out ? (dst.value as bigint) : src.value,
    protocol: f.protocol,
    localPort: lp,
    remotePort: rp,
  };
}

// ---------------------------------------------------------------------------
// Intersection

/** Intersection of two address selectors, or null when empty. */
export function intersectAddress(a: AddressSelector, b: AddressSelector): AddressSelector | null {
  if (a.kind !== "range") return b.kind === "range" ? b : a.kind === "opaque" ? a : b;
  if (b.kind !== "range") return a;
  if (a.version !== b.version) return null;
  const start = a.start > b.start ? a.start : b.start;
  const end = a.end < b.end ? a.end : b.end;
  if (start > end) return null;
  return a.version === 4
    ? { kind: "range", version: 4, start: start as number, end: end as number }
    : { kind: "range", version: 6, start: start as bigint, end: end as bigint };
}

/** Intersection of two port selectors, or null when empty. */
export function intersectPort(a: PortSelector, b: PortSelector): PortSelector | null {
  if (a.kind === "any") return b;
  if (b.kind === "any") return a;
  if (a.kind === "opaque" || b.kind === "opaque") {
    return a.kind === "opaque" && b.kind === "opaque" ? a : null;
  }
  const start = Math.max(a.start, b.start);
  const end = Math.min(a.end, b.end);
  return start > end ? null : { kind: "range", start, end };
}

/** Intersection of two protocol selectors, or null when empty. */
export function intersectProtocol(
  a: ProtocolSelector,
  b: ProtocolSelector,
): ProtocolSelector | null {
  if (a === "any") return b;
  if (b === "any") return a;
  return a === b ? a : null;
}

/**
 * Intersection of two selectors (the set of packets both match), or null.
 * The Name and PFP flags of `a` are kept.
 */
export function intersectSelectors(a: Selector, b: Selector): Selector | null {
  const localAddress = intersectAddress(a.localAddress, b.localAddress);
  const remoteAddress = intersectAddress(a.remoteAddress, b.remoteAddress);
  const protocol = intersectProtocol(a.protocol, b.protocol);
  const localPort = intersectPort(a.localPort, b.localPort);
  const remotePort = intersectPort(a.remotePort, b.remotePort);
  if (!localAddress || !remoteAddress || protocol === null || !localPort || !remotePort) {
    return null;
  }
  const s: Selector = { localAddress, remoteAddress, protocol, localPort, remotePort };
  if (selectorVersions(s).length === 0) return null;
  return { ...s, ...(a.name ? { name: a.name } : {}), ...(a.pfp ? { pfp: a.pfp } : {}) };
}

/** Whether every packet matching `inner` also matches `outer` (names ignored). */
export function selectorContains(outer: Selector, inner: Selector): boolean {
  const i = intersectSelectors(inner, outer);
  if (!i) return false;
  return sameAddress(i.localAddress, inner.localAddress) &&
    sameAddress(i.remoteAddress, inner.remoteAddress) && i.protocol === inner.protocol &&
    samePort(i.localPort, inner.localPort) && samePort(i.remotePort, inner.remotePort);
}

function sameAddress(a: AddressSelector, b: AddressSelector): boolean {
  if (a.kind !== "range" || b.kind !== "range") return a.kind === b.kind;
  return a.version === b.version && a.start === b.start && a.end === b.end;
}

function samePort(a: PortSelector, b: PortSelector): boolean {
  if (a.kind !== "range" || b.kind !== "range") return a.kind === b.kind;
  return a.start === b.start && a.end === b.end;
}

/** Swaps local and remote (the peer's view of the same selector). */
export function mirrorSelector(s: Selector): Selector {
  return {
    ...s,
    localAddress: s.remoteAddress,
    remoteAddress: s.localAddress,
    localPort: s.remotePort,
    remotePort: s.localPort,
    ...(s.pfp
      ? {
        pfp: {
          localAddress: s.pfp.remoteAddress,
          remoteAddress: s.pfp.localAddress,
          protocol: s.pfp.protocol,
          localPort: s.pfp.remotePort,
          remotePort: s.pfp.localPort,
        },
      }
      : {}),
  };
}

// ---------------------------------------------------------------------------
// Printing

/** Prints an address selector (`ANY`, `10.0.0.0/24`, `10.0.0.1`, `a-b`). */
export function formatAddressSelector(a: AddressSelector): string {
  if (a.kind === "any") return "ANY";
  if (a.kind === "opaque") return "OPAQUE";
  const f = (x: number | bigint) =>
    a.version === 4 ? formatIpv4(x as number) : formatIpv6(x as bigint);
  const full = a.version === 4 ? 32 : 128;
  if (a.start === a.end) return f(a.start);
  // Detect prefixes even when built as ranges.
  const size = a.version === 4
    ? BigInt(a.end as number) - BigInt(a.start as number) + 1n
    : (a.end as bigint) - (a.start as bigint) + 1n;
  // An inverted range (start > end, as a peer may send one) is printed as it is.
  if (size > 0n && (size & (size - 1n)) === 0n && BigInt(a.start) % size === 0n) {
    const len = full - (size.toString(2).length - 1);
    return `${f(a.start)}/${len}`;
  }
  return `${f(a.start)}-${f(a.end)}`;
}

/** Prints a port selector for protocol `p` (ICMP as `type/code`, MH by type name). */
export function formatPortSelector(s: PortSelector, p: ProtocolSelector = "any"): string {
  if (s.kind === "any") return "ANY";
  if (s.kind === "opaque") return "OPAQUE";
  if (
    p === IpProto.MH && (s.start & 255) === 0 && (s.end & 255) === 255 &&
    s.start >> 8 === s.end >> 8
  ) {
    const t = s.start >> 8;
    return Object.keys(MhType).find((k) => MhType[k as keyof typeof MhType] === t) ?? `mh ${t}`;
  }
  if (p === IpProto.ICMP || p === IpProto.ICMPV6) {
    const t = s.start >> 8;
    if (t === s.end >> 8) {
      const c0 = s.start & 255;
      const c1 = s.end & 255;
      if (c0 === 0 && c1 === 255) return `type ${t}`;
      return c0 === c1 ? `type ${t} code ${c0}` : `type ${t} code ${c0}-${c1}`;
    }
  }
  if (s.start === s.end) return String(s.start);
  if (s.end === 65535) return `≥${s.start}`;
  return `${s.start}-${s.end}`;
}

/** Parses addresses for tests and config; re-exported for convenience. */
export { parseIpv4, parseIpv6 };
