/**
 * Traffic selectors as IKEv2 carries them (RFC 7296 section 3.13.1) and the
 * responder's narrowing of a proposal to its policy (section 2.9).
 *
 * {@link TrafficSelector} mirrors the wire TS fields (lib/ikev2/payloads/ts.ts
 * defines the codec; this type has the same field meaning): TS type 7 is
 * `ipVersion: 4`, TS type 8 is `ipVersion: 6`; `ipProtocol` 0 is any;
 * `startPort: 65535, endPort: 0` is OPAQUE ports; ICMP type/code and MH type
 * are carried in the port fields.
 *
 * Orientation: TSi describes the initiator's side, TSr the responder's. For
 * a responder, its policy's remote side is TSi and its local side TSr.
 *
 * @module
 */

import { compareBytes } from "../wire/bytes.ts";
import { ipFromBytes, ipToBytes, IPV4_MAX, IPV6_MAX } from "./address.ts";
import {
  type AddressSelector,
  ANY_PORT,
  formatAddressSelector,
  formatPortSelector,
  type PacketTuple,
  type PortSelector,
  protocolName,
  type ProtocolSelector,
  type Selector,
  selectorVersions,
} from "./selector.ts";

/** One traffic selector, structurally the IKEv2 TS substructure. */
export interface TrafficSelector {
  /** 4 for TS_IPV4_ADDR_RANGE (7), 6 for TS_IPV6_ADDR_RANGE (8). */
  readonly ipVersion: 4 | 6;
  /** IP protocol, 0 = any. */
  readonly ipProtocol: number;
  readonly startPort: number;
  readonly endPort: number;
  /** 4 or 16 bytes, network order. */
  readonly startAddress: Uint8Array;
  readonly endAddress: Uint8Array;
}

/** Result of narrowing: the accepted lists, or the notify to send. */
export type NarrowResult =
  | {
    readonly tsi: TrafficSelector[];
    readonly tsr: TrafficSelector[];
    /** True when the policy would also allow other parts of the proposal (ADDITIONAL_TS_POSSIBLE). */
    readonly additionalTsPossible: boolean;
  }
  | "TS_UNACCEPTABLE";

function isOpaque(t: TrafficSelector): boolean {
  return t.startPort === 65535 && t.endPort === 0;
}

function isTypedProtocol(p: number): boolean {
  return p === 1 || p === 58 || p === 135;
}

function untypedPorts(t: TrafficSelector): boolean {
  return t.ipProtocol === 0 && !(t.startPort === 0 && t.endPort === 65535);
}

/** The all-traffic TS for one IP version. */
export function anyTs(v: 4 | 6): TrafficSelector {
  const n = v === 4 ? 4 : 16;
  return {
    ipVersion: v,
    ipProtocol: 0,
    startPort: 0,
    endPort: 65535,
    startAddress: new Uint8Array(n),
    endAddress: new Uint8Array(n).fill(255),
  };
}

/** Validates a TS (address lengths and order, port order); returns a reason or null. */
export function tsProblem(t: TrafficSelector): string | null {
  const n = t.ipVersion === 4 ? 4 : 16;
  if (t.startAddress.length !== n || t.endAddress.length !== n) {
    return `IPv${t.ipVersion} TS needs ${n}-byte addresses`;
  }
  if (compareBytes(t.startAddress, t.endAddress) > 0) return "start address after end address";
  if (!isOpaque(t) && t.startPort > t.endPort) return "start port after end port";
  if (t.ipProtocol < 0 || t.ipProtocol > 255) return "protocol out of range";
  return null;
}

/** Intersection of two traffic selectors, or null. */
export function intersectTs(a: TrafficSelector, b: TrafficSelector): TrafficSelector | null {
  if (a.ipVersion !== b.ipVersion) return null;
  let proto: number;
  if (a.ipProtocol === 0) proto = b.ipProtocol;
  else if (b.ipProtocol === 0 || a.ipProtocol === b.ipProtocol) proto = a.ipProtocol;
  else return null;
  // ICMP/MH carry message types in the port fields with their own OPAQUE
  // rules; a port range written for "any protocol" does not translate to
  // them, so such a pair has no (safe) intersection.
  if (isTypedProtocol(proto) && (untypedPorts(a) || untypedPorts(b))) return null;
  let sp: number;
  let ep: number;
  if (isOpaque(a) || isOpaque(b)) {
    const other = isOpaque(a) ? b : a;
    // OPAQUE is included only in OPAQUE and in the full range (ANY).
    if (!isOpaque(other) && !(other.startPort === 0 && other.endPort === 65535)) return null;
    sp = 65535;
    ep = 0;
  } else {
    sp = Math.max(a.startPort, b.startPort);
    ep = Math.min(a.endPort, b.endPort);
    if (sp > ep) return null;
  }
  const s = compareBytes(a.startAddress, b.startAddress) >= 0 ? a.startAddress : b.startAddress;
  const e = compareBytes(a.endAddress, b.endAddress) <= 0 ? a.endAddress : b.endAddress;
  if (compareBytes(s, e) > 0) return null;
  return {
    ipVersion: a.ipVersion,
    ipProtocol: proto,
    startPort: sp,
    endPort: ep,
    startAddress: s,
    endAddress: e,
  };
}

/** Whether `outer` contains `inner`. */
export function tsContains(outer: TrafficSelector, inner: TrafficSelector): boolean {
  const i = intersectTs(outer, inner);
  return i !== null && tsEquals(i, inner);
}

/** Field-wise equality. */
export function tsEquals(a: TrafficSelector, b: TrafficSelector): boolean {
  return a.ipVersion === b.ipVersion && a.ipProtocol === b.ipProtocol &&
    a.startPort === b.startPort && a.endPort === b.endPort &&
    compareBytes(a.startAddress, b.startAddress) === 0 &&
    compareBytes(a.endAddress, b.endAddress) === 0;
}

/** Drops selectors contained in another one of the list (keeps first occurrences). */
export function simplifyTsList(list: readonly TrafficSelector[]): TrafficSelector[] {
  const out: TrafficSelector[] = [];
  for (let i = 0; i < list.length; i++) {
    const t = list[i];
    let covered = false;
    for (let j = 0; j < list.length && !covered; j++) {
      if (j === i) continue;
      if (tsContains(list[j], t) && (!tsEquals(list[j], t) || j < i)) covered = true;
    }
    if (!covered) out.push(t);
  }
  return out;
}

/** Intersections of every element of `a` with every element of `b`, simplified. */
export function intersectTsLists(
  a: readonly TrafficSelector[],
  b: readonly TrafficSelector[],
): TrafficSelector[] {
  const out: TrafficSelector[] = [];
  for (const x of a) {
    for (const y of b) {
      const i = intersectTs(x, y);
      if (i) out.push(i);
    }
  }
  return simplifyTsList(out);
}

/**
 * Narrows a proposal (TSi, TSr) to what the responder's policy allows
 * (RFC 7296 section 2.9): each list is intersected with the policy's list
 * for that side. If either result is empty the answer is TS_UNACCEPTABLE.
 * When the first selectors of TSi and TSr describe the triggering packet
 * and the policy accepts that packet, the result includes it (the
 * intersection always does). Malformed selectors are ignored.
 *
 * @example
 * ```ts
 * narrowTrafficSelectors(tsi, tsr, { tsi: policyRemote, tsr: policyLocal });
 * ```
 */
export function narrowTrafficSelectors(
  proposedTsi: readonly TrafficSelector[],
  proposedTsr: readonly TrafficSelector[],
  policy: { readonly tsi: readonly TrafficSelector[]; readonly tsr: readonly TrafficSelector[] },
): NarrowResult {
  const pi = proposedTsi.filter((t) => tsProblem(t) === null);
  const pr = proposedTsr.filter((t) => tsProblem(t) === null);
  const tsi = intersectTsLists(pi, policy.tsi);
  const tsr = intersectTsLists(pr, policy.tsr);
  if (tsi.length === 0 || tsr.length === 0) return "TS_UNACCEPTABLE";
  // If the first pair (triggering packet) was acceptable it is covered by the
  // intersection; if the proposal was narrowed, more might be possible with
  // other policies.
  const narrowed = !sameCover(tsi, pi) || !sameCover(tsr, pr);
  return { tsi, tsr, additionalTsPossible: narrowed };
}

function sameCover(result: readonly TrafficSelector[], proposed: readonly TrafficSelector[]) {
  return proposed.every((p) => result.some((r) => tsContains(r, p)));
}

// ---------------------------------------------------------------------------
// Conversions between selectors and traffic selectors

function addressTs(
  a: AddressSelector,
  v: 4 | 6,
): { startAddress: Uint8Array; endAddress: Uint8Array } {
  if (a.kind !== "range") {
    return v === 4
      ? {
        startAddress: ipToBytes({ version: 4, value: 0 }),
        endAddress: ipToBytes({ version: 4, value: IPV4_MAX }),
      }
      : {
        startAddress: ipToBytes({ version: 6, value: 0n }),
        endAddress: ipToBytes({ version: 6, value: IPV6_MAX }),
      };
  }
  return a.version === 4
    ? {
      startAddress: ipToBytes({ version: 4, value: a.start }),
      endAddress: ipToBytes({ version: 4, value: a.end }),
    }
    : {
      startAddress: ipToBytes({ version: 6, value: a.start }),
      endAddress: ipToBytes({ version: 6, value: a.end }),
    };
}

function portTs(p: PortSelector): { startPort: number; endPort: number } {
  if (p.kind === "any") return { startPort: 0, endPort: 65535 };
  if (p.kind === "opaque") return { startPort: 65535, endPort: 0 };
  return { startPort: p.start, endPort: p.end };
}

/**
 * One side of a selector as traffic selectors (one per IP version the
 * selector allows). `side` "local" gives our side: TSi when we initiate,
 * TSr when we respond.
 */
export function selectorToTs(s: Selector, side: "local" | "remote"): TrafficSelector[] {
  const addr = side === "local" ? s.localAddress : s.remoteAddress;
  const port = side === "local" ? s.localPort : s.remotePort;
  const proto = typeof s.protocol === "number" ? s.protocol : 0;
  return selectorVersions(s).map((v) => ({
    ipVersion: v,
    ipProtocol: proto,
    ...portTs(port),
    ...addressTs(addr, v),
  }));
}

function tsAddress(t: TrafficSelector): AddressSelector {
  const s = ipFromBytes(t.startAddress);
  const e = ipFromBytes(t.endAddress);
  const full = t.ipVersion === 4
    ? s.value === 0 && e.value === IPV4_MAX
    : s.value === 0n && e.value === IPV6_MAX;
  if (full) {
    // Keep the version: an all-IPv4 TS must not match IPv6.
    return t.ipVersion === 4
      ? { kind: "range", version: 4, start: 0, end: IPV4_MAX, prefixLength: 0 }
      : { kind: "range", version: 6, start: 0n, end: IPV6_MAX, prefixLength: 0 };
  }
  return s.version === 4
    ? { kind: "range", version: 4, start: s.value, end: e.value as number }
    : { kind: "range", version: 6, start: s.value, end: e.value as bigint };
}

function tsPort(t: TrafficSelector): PortSelector {
  if (isOpaque(t)) return { kind: "opaque" };
  if (t.startPort === 0 && t.endPort === 65535) return ANY_PORT;
  return { kind: "range", start: t.startPort, end: t.endPort };
}

/**
 * The selector for a (local, remote) pair of traffic selectors, or null when
 * they cannot describe the same packets (IP version or protocol mismatch).
 */
export function tsPairToSelector(local: TrafficSelector, remote: TrafficSelector): Selector | null {
  if (local.ipVersion !== remote.ipVersion) return null;
  let protocol: ProtocolSelector;
  if (local.ipProtocol === 0) protocol = remote.ipProtocol === 0 ? "any" : remote.ipProtocol;
  else if (remote.ipProtocol === 0 || remote.ipProtocol === local.ipProtocol) {
    protocol = local.ipProtocol;
  } else return null;
  return {
    localAddress: tsAddress(local),
    remoteAddress: tsAddress(remote),
    protocol,
    localPort: tsPort(local),
    remotePort: tsPort(remote),
  };
}

/**
 * The selectors of an SA from its negotiated lists (cross product). `local`
 * is our side (TSi if we initiated, TSr if we responded).
 */
export function tsListsToSelectors(
  local: readonly TrafficSelector[],
  remote: readonly TrafficSelector[],
): Selector[] {
  const out: Selector[] = [];
  for (const l of local) {
    for (const r of remote) {
      const s = tsPairToSelector(l, r);
      if (s) out.push(s);
    }
  }
  return out;
}

/** The most specific TS pair for a packet: (local side, remote side). */
export function packetToTs(p: PacketTuple): { local: TrafficSelector; remote: TrafficSelector } {
  const proto = p.protocol < 0 ? 0 : p.protocol;
  const port = (x: number) =>
    x < 0 ? { startPort: 0, endPort: 65535 } : { startPort: x, endPort: x };
  const addr = (x: number | bigint) => {
    const b = p.version === 4
      ? ipToBytes({ version: 4, value: x as number })
      : ipToBytes({ version: 6, value: x as bigint });
    return { startAddress: b, endAddress: b };
  };
  return {
    local: {
      ipVersion: p.version,
      ipProtocol: proto,
      ...port(p.localPort),
      ...addr(p.localAddress),
    },
    remote: {
      ipVersion: p.version,
      ipProtocol: proto,
      ...port(p.remotePort),
      ...addr(p.remoteAddress),
    },
  };
}

/**
 * Prints a traffic selector like swanctl: `10.1.0.0/16`, `10.0.0.1-10.0.0.9`,
 * with `[proto/port]` when the protocol or ports are restricted.
 *
 * @example
 * ```ts
 * formatTs(anyTs(4)); // "0.0.0.0/0"
 * ```
 */
export function formatTs(t: TrafficSelector): string {
  const sel = tsPairToSelector(t, t);
  const addr = sel ? formatAddressSelector(sel.localAddress) : "?";
  const port = tsPort(t);
  const proto = t.ipProtocol === 0 ? "" : protocolName(t.ipProtocol).toLowerCase();
  const portText = port.kind === "any"
    ? ""
    : formatPortSelector(port, t.ipProtocol === 0 ? "any" : t.ipProtocol);
  if (proto === "" && portText === "") return addr;
  return `${addr}[${proto}${portText === "" ? "" : `/${portText}`}]`;
}
