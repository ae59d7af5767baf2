/**
 * Selectors as boxes: one IP version plus five closed integer ranges
 * (local address, remote address, protocol, local port, remote port). Boxes
 * are what decorrelation (RFC 4301 section 4.4.1.3) and the compiled
 * classifier work on. All bounds are bigint so both IP versions share code;
 * this is the cold (compile-time) representation.
 *
 * Protocol is -1..255 and ports -1..65535, where -1 stands for OPAQUE, with
 * the same conventions as `selectorMatches` (a typed-protocol selector, ICMP
 * or MH, becomes two boxes: type on the local side, or on the remote side).
 *
 * @module
 */

import { IPV4_MAX, IPV6_MAX } from "./address.ts";
import {
  addressBounds,
  type PacketTuple,
  portBounds,
  protocolBounds,
  type Selector,
  selectorIsTyped,
  selectorVersions,
} from "./selector.ts";

/** Dimension indexes of a box. */
export const DIM_LOCAL_ADDR = 0;
/** Remote address dimension. */
export const DIM_REMOTE_ADDR = 1;
/** Protocol dimension. */
export const DIM_PROTOCOL = 2;
/** Local port dimension. */
export const DIM_LOCAL_PORT = 3;
/** Remote port dimension. */
export const DIM_REMOTE_PORT = 4;
/** Number of dimensions. */
export const DIMS = 5;

/** A box in one IP version's selector space. */
export interface Box {
  readonly version: 4 | 6;
  /** Inclusive lower bounds per dimension. */
  readonly lo: readonly bigint[];
  /** Inclusive upper bounds per dimension. */
  readonly hi: readonly bigint[];
}

/** Full range of each dimension for IP version `v`. */
export function universe(v: 4 | 6): Box {
  const amax = v === 4 ? BigInt(IPV4_MAX) : IPV6_MAX;
  return { version: v, lo: [0n, 0n, -1n, -1n, -1n], hi: [amax, amax, 255n, 65535n, 65535n] };
}

/** The boxes (one per IP version it can match) covered by a selector. */
export function selectorToBoxes(s: Selector): Box[] {
  const out: Box[] = [];
  for (const v of selectorVersions(s)) {
    const la = addressBounds(s.localAddress, v);
    const ra = addressBounds(s.remoteAddress, v);
    const p = protocolBounds(s.protocol);
    const lp = portBounds(s.localPort);
    const rp = portBounds(s.remotePort);
    const push = (l: [number, number], r: [number, number]) =>
      out.push({
        version: v,
        lo: [la[0], ra[0], BigInt(p[0]), BigInt(l[0]), BigInt(r[0])],
        hi: [la[1], ra[1], BigInt(p[1]), BigInt(l[1]), BigInt(r[1])],
      });
    if (selectorIsTyped(s)) {
      // Typed protocols: the message type is on one side, the other is OPAQUE.
      push(lp, [-1, -1]);
      if (lp[0] > -1) push([-1, -1], rp);
      else if (rp[1] > -1) push([-1, -1], [Math.max(rp[0], 0), rp[1]]);
    } else push(lp, rp);
  }
  return out;
}

/** The packet as a point (bigint per dimension). */
export function packetPoint(p: PacketTuple): bigint[] {
  return [
    BigInt(p.localAddress),
    BigInt(p.remoteAddress),
    BigInt(p.protocol),
    BigInt(p.localPort),
    BigInt(p.remotePort),
  ];
}

/** Whether the box contains the packet. */
export function boxContains(b: Box, p: PacketTuple): boolean {
  if (b.version !== p.version) return false;
  const x = packetPoint(p);
  for (let d = 0; d < DIMS; d++) if (x[d] < b.lo[d] || x[d] > b.hi[d]) return false;
  return true;
}

/** Intersection of two boxes, or null. */
export function intersectBox(a: Box, b: Box): Box | null {
  if (a.version !== b.version) return null;
  const lo: bigint[] = [];
  const hi: bigint[] = [];
  for (let d = 0; d < DIMS; d++) {
    lo.push(a.lo[d] > b.lo[d] ? a.lo[d] : b.lo[d]);
    hi.push(a.hi[d] < b.hi[d] ? a.hi[d] : b.hi[d]);
    if (lo[d] > hi[d]) return null;
  }
  return { version: a.version, lo, hi };
}

/** Whether `outer` contains all of `inner`. */
export function boxContainsBox(outer: Box, inner: Box): boolean {
  if (outer.version !== inner.version) return false;
  for (let d = 0; d < DIMS; d++) {
    if (inner.lo[d] < outer.lo[d] || inner.hi[d] > outer.hi[d]) return false;
  }
  return true;
}

/**
 * `a` minus `b` as at most 2*DIMS disjoint boxes (slicing one dimension at a
 * time, the classic construction for decorrelation).
 */
export function subtractBox(a: Box, b: Box): Box[] {
  const x = intersectBox(a, b);
  if (!x) return [a];
  const out: Box[] = [];
  const lo = [...a.lo];
  const hi = [...a.hi];
  for (let d = 0; d < DIMS; d++) {
    if (lo[d] < x.lo[d]) {
      const h = [...hi];
      h[d] = x.lo[d] - 1n;
      out.push({ version: a.version, lo: [...lo], hi: h });
      lo[d] = x.lo[d];
    }
    if (hi[d] > x.hi[d]) {
      const l = [...lo];
      l[d] = x.hi[d] + 1n;
      out.push({ version: a.version, lo: l, hi: [...hi] });
      hi[d] = x.hi[d];
    }
  }
  return out;
}

/** Whether two boxes are equal. */
export function boxEquals(a: Box, b: Box): boolean {
  if (a.version !== b.version) return false;
  for (let d = 0; d < DIMS; d++) if (a.lo[d] !== b.lo[d] || a.hi[d] !== b.hi[d]) return false;
  return true;
}
