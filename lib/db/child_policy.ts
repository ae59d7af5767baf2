/**
 * From SPD entries to child SA traffic selectors, for both IKE roles:
 *
 * - initiator ({@link initiatorTs}): the TSi/TSr lists for a PROTECT entry,
 *   populated from the triggering packet where the entry's PFP flags say so
 *   (RFC 4301 section 4.4.1.1), with the packet's own selectors first
 *   (RFC 7296 section 2.9);
 * - responder ({@link selectChildPolicy}): picks the SPD entry for a
 *   proposal, by the peer's identity (named entries) or by its traffic
 *   selectors, as its PAD entry says; narrows the proposal to the entry
 *   (RFC 7296 section 2.9) and to the PAD's child SA constraints; and never
 *   returns traffic an earlier SPD entry decides (it falls back to the
 *   decorrelated pieces of the entry, RFC 4301 section 4.4.1.3).
 *
 * @module
 */

import { type Box, boxContains, intersectBox, selectorToBoxes, subtractBox } from "./box.ts";
import { decorrelateEntry } from "./decorrelate.ts";
import type { Identity } from "./identity.ts";
import {
  intersectTsLists,
  narrowTrafficSelectors,
  packetToTs,
  selectorToTs,
  type TrafficSelector,
  tsContains,
  tsListsToSelectors,
} from "./narrow.ts";
import { constrainPeerTs, type PadEntry } from "./pad.ts";
import {
  type AddressSelector,
  intersectSelectors,
  isTypeProtocol,
  OPAQUE,
  type PacketTuple,
  type PortSelector,
  type Selector,
} from "./selector.ts";
import { firstMatch, type Spd, type SpdEntry } from "./spd.ts";
import { ipFromBytes, ipToBytes } from "./address.ts";

/** TS lists of a child SA proposal (initiator view: TSi = ours). */
export interface ChildTs {
  readonly tsi: TrafficSelector[];
  readonly tsr: TrafficSelector[];
}

function exactAddress(v: 4 | 6, x: number | bigint): AddressSelector {
  return v === 4
    ? { kind: "range", version: 4, start: x as number, end: x as number, prefixLength: 32 }
    : { kind: "range", version: 6, start: x as bigint, end: x as bigint, prefixLength: 128 };
}

function exactPort(x: number): PortSelector {
  return x === OPAQUE ? { kind: "opaque" } : { kind: "range", start: x, end: x };
}

/**
 * A selector with the PFP-flagged fields replaced by the packet's values
 * (RFC 4301 section 4.4.1.1: one SA per distinct value of those fields).
 */
export function populateFromPacket(s: Selector, p: PacketTuple): Selector {
  const f = s.pfp;
  if (!f) return s;
  return {
    ...s,
    localAddress: f.localAddress ? exactAddress(p.version, p.localAddress) : s.localAddress,
    remoteAddress: f.remoteAddress ? exactAddress(p.version, p.remoteAddress) : s.remoteAddress,
    protocol: f.protocol ? (p.protocol < 0 ? "opaque" : p.protocol) : s.protocol,
    localPort: f.localPort ? exactPort(p.localPort) : s.localPort,
    remotePort: f.remotePort ? exactPort(p.remotePort) : s.remotePort,
  };
}

/**
 * The TSi/TSr we propose as initiator for a PROTECT entry. With a
 * triggering packet, the selector set matching it is used, PFP fields come
 * from the packet, and the packet's own exact selectors lead each list.
 * Without one, the lists are the union of the entry's local and remote
 * sides.
 *
 * @example
 * ```ts
 * const { tsi, tsr } = initiatorTs(spd.entries[d.index], packet);
 * ```
 */
export function initiatorTs(entry: SpdEntry, packet?: PacketTuple): ChildTs {
  if (packet) {
    const hit = (s: Selector) => selectorToBoxes(s).some((b) => boxContains(b, packet));
    const sel = entry.selectors.find(hit) ?? entry.selectors[0];
    const pop = populateFromPacket(sel, packet);
    const trig = packetToTs(packet);
    const tsi = [trig.local, ...selectorToTs(pop, "local").filter((t) => !tsEq(t, trig.local))];
    const tsr = [trig.remote, ...selectorToTs(pop, "remote").filter((t) => !tsEq(t, trig.remote))];
    return { tsi, tsr };
  }
  return {
    tsi: uniq(entry.selectors.flatMap((s) => selectorToTs(s, "local"))),
    tsr: uniq(entry.selectors.flatMap((s) => selectorToTs(s, "remote"))),
  };
}

function tsEq(a: TrafficSelector, b: TrafficSelector): boolean {
  return tsContains(a, b) && tsContains(b, a);
}

function uniq(l: TrafficSelector[]): TrafficSelector[] {
  return l.filter((t, i) => l.findIndex((u) => tsEq(u, t)) === i);
}

/** What the responder accepts for a child SA. */
export interface ChildChoice {
  /** The SPD entry (its processing info drives the SA). */
  readonly entry: SpdEntry;
  readonly index: number;
  /** Narrowed TSi (the peer's side). */
  readonly tsi: TrafficSelector[];
  /** Narrowed TSr (our side). */
  readonly tsr: TrafficSelector[];
  /** The proposal was narrowed: send ADDITIONAL_TS_POSSIBLE. */
  readonly additionalTsPossible: boolean;
}

/** A child SA request as the responder sees it. */
export interface ChildRequest {
  /** Proposed TSi: the initiator's (peer's) side. */
  readonly tsi: readonly TrafficSelector[];
  /** Proposed TSr: our side. */
  readonly tsr: readonly TrafficSelector[];
  /** The peer's authenticated identity (for named lookups). */
  readonly peer?: Identity;
  /** The PAD entry that authenticated the peer; without one no constraint applies. */
  readonly pad?: PadEntry;
}

function singleAddr(t: TrafficSelector): boolean {
  for (let i = 0; i < t.startAddress.length; i++) {
    if (t.startAddress[i] !== t.endAddress[i]) return false;
  }
  return true;
}

function tsPort(t: TrafficSelector): number | null {
  if (t.startPort === t.endPort) return t.startPort;
  if (t.startPort === 0 && t.endPort === 65535) return OPAQUE;
  if (t.startPort === 65535 && t.endPort === 0) return OPAQUE;
  return null;
}

/** The triggering packet described by the first TSi/TSr pair (responder view), if any. */
export function triggerFromTs(
  tsi: TrafficSelector | undefined,
  tsr: TrafficSelector | undefined,
): PacketTuple | null {
  if (!tsi || !tsr || tsi.ipVersion !== tsr.ipVersion) return null;
  if (!singleAddr(tsi) || !singleAddr(tsr)) return null;
  if (tsi.ipProtocol !== tsr.ipProtocol && tsi.ipProtocol !== 0 && tsr.ipProtocol !== 0) {
    return null;
  }
  const lp = tsPort(tsr);
  const rp = tsPort(tsi);
  if (lp === null || rp === null) return null;
  const proto = tsi.ipProtocol || tsr.ipProtocol || OPAQUE;
  const l = ipFromBytes(tsr.startAddress);
  const r = ipFromBytes(tsi.startAddress);
  return l.version === 4
    ? {
      version: 4,
      localAddress: l.value,
      remoteAddress: r.value as number,
      protocol: proto,
      localPort: lp,
      remotePort: rp,
    }
    : {
      version: 6,
      localAddress: l.value,
      remoteAddress: r.value as bigint,
      protocol: proto,
      localPort: lp,
      remotePort: rp,
    };
}

/**
 * One TS pair (local, remote) inside a box, or null. When a box field is
 * not expressible in a TS (a protocol range, OPAQUE plus ports) the pair
 * covers a subset of the box, never more.
 */
export function boxToTsPair(
  box: Box,
  hint?: PacketTuple,
): { local: TrafficSelector; remote: TrafficSelector } | null {
  const [plo, phi] = [box.lo[2], box.hi[2]];
  const fullPorts = (d: number) => box.lo[d] === -1n && box.hi[d] === 65535n;
  let proto: number;
  if (plo <= 0n && phi === 255n) proto = 0;
  else {
    // Prefer the hint's protocol, then the first untyped one in the range.
    const inRange = (p: number) => BigInt(p) >= plo && BigInt(p) <= phi && p > 0;
    const candidates = [
      ...(hint && inRange(hint.protocol) ? [hint.protocol] : []),
      ...Array.from({ length: 255 }, (_, i) => i + 1).filter(inRange),
    ];
    const untyped = candidates.find((p) => !isTypeProtocol(p));
    const typed = candidates.find((p) => isTypeProtocol(p));
    if (hint && candidates[0] === hint.protocol && hint.protocol > 0) proto = hint.protocol;
    else if (untyped !== undefined) proto = untyped;
    else if (typed !== undefined) proto = typed;
    else return null;
  }
  if (proto === 0 && !(fullPorts(3) && fullPorts(4))) {
    // Port ranges under "any protocol" would change meaning for ICMP/MH.
    return null;
  }
  if (isTypeProtocol(proto) && !(fullPorts(3) && fullPorts(4))) {
    // A typed TS pair means (L x OPAQUE) + (OPAQUE x R): only boxes of
    // that exact shape (with OPAQUE inside the other side) are expressible.
    const opaque = (d: number) => box.lo[d] === -1n && box.hi[d] === -1n;
    const ok = (opaque(4) && box.lo[3] === -1n) || (opaque(3) && box.lo[4] === -1n);
    if (!ok) return null;
  }
  const port = (d: number) => {
    const lo = box.lo[d];
    const hi = box.hi[d];
    if (lo === -1n && hi === -1n) return { startPort: 65535, endPort: 0 };
    return { startPort: lo < 0n ? 0 : Number(lo), endPort: Number(hi) };
  };
  const addr = (d: number) => {
    const mk = (x: bigint) =>
      box.version === 4
        ? ipToBytes({ version: 4, value: Number(x) })
        : ipToBytes({ version: 6, value: x });
    return { startAddress: mk(box.lo[d]), endAddress: mk(box.hi[d]) };
  };
  return {
    local: { ipVersion: box.version, ipProtocol: proto, ...port(3), ...addr(0) },
    remote: { ipVersion: box.version, ipProtocol: proto, ...port(4), ...addr(1) },
  };
}

/**
 * Whether every packet the selectors match lies in the union of `allowed`
 * (box arithmetic: exact for ICMP/MH selectors too).
 */
function covers(allowed: readonly Box[], sels: readonly Selector[]): boolean {
  for (const s of sels) {
    let rest = selectorToBoxes(s);
    for (const a of allowed) {
      rest = rest.flatMap((p) => (intersectBox(p, a) ? subtractBox(p, a) : [p]));
      if (rest.length === 0) break;
    }
    if (rest.length > 0) return false;
  }
  return true;
}

function shadowedBy(spd: Spd, index: number, sels: readonly Selector[]): boolean {
  for (let j = 0; j < index; j++) {
    const e = spd.entries[j];
    if (e.name !== undefined || (e.direction ?? "both") === "inbound") continue;
    for (const a of e.selectors) {
      for (const s of sels) if (intersectSelectors(s, a)) return true;
    }
  }
  return false;
}

function narrowOne(
  spd: Spd,
  index: number,
  sel: Selector,
  tsi: readonly TrafficSelector[],
  tsr: readonly TrafficSelector[],
  trigger: PacketTuple | null,
): { tsi: TrafficSelector[]; tsr: TrafficSelector[] } | null {
  const entry = spd.entries[index];
  const r = narrowTrafficSelectors(tsi, tsr, {
    tsi: selectorToTs(sel, "remote"),
    tsr: selectorToTs(sel, "local"),
  });
  if (r === "TS_UNACCEPTABLE") return null;
  const result = tsListsToSelectors(r.tsr, r.tsi);
  const inside = covers(selectorToBoxes(sel), result);
  if (inside && (entry.name !== undefined || !shadowedBy(spd, index, result))) {
    return { tsi: r.tsi, tsr: r.tsr };
  }
  // Part of the result belongs to earlier entries: offer one decorrelated
  // piece of this entry (the trigger's, else the first that fits).
  const flat: Selector[] = [];
  for (let j = 0; j < index; j++) {
    const e = spd.entries[j];
    if (e.name === undefined && (e.direction ?? "both") !== "inbound") flat.push(...e.selectors);
  }
  flat.push(sel);
  const pieces = decorrelateEntry(flat, flat.length - 1, () => false);
  const proposal = tsListsToSelectors(r.tsr, r.tsi).flatMap(selectorToBoxes);
  const ordered = trigger ? [...pieces.filter((b) => boxContains(b, trigger)), ...pieces] : pieces;
  for (const piece of ordered) {
    for (const pb of proposal) {
      const x = intersectBox(piece, pb);
      if (!x) continue;
      const pair = boxToTsPair(x, trigger ?? undefined);
      if (!pair || !covers([x], tsListsToSelectors([pair.local], [pair.remote]))) continue;
      return { tsi: [pair.remote], tsr: [pair.local] };
    }
  }
  return null;
}

/**
 * Responder: chooses the SPD entry for a child SA request and narrows the
 * proposal (RFC 7296 section 2.9, RFC 4301 section 4.4.3.4). Returns
 * "TS_UNACCEPTABLE" when no PROTECT entry allows any part of it.
 *
 * Guarantees: the returned TSi lies inside the PAD entry's constraints; the
 * returned TSi x TSr lies inside the chosen entry's selectors and (for
 * TS-based lookups) inside no earlier SPD entry.
 *
 * @example
 * ```ts
 * const r = selectChildPolicy(spd, { tsi, tsr, peer: peerId, pad: pad.match(peerId) });
 * if (r === "TS_UNACCEPTABLE") notify("TS_UNACCEPTABLE");
 * ```
 */
export function selectChildPolicy(
  spd: Spd,
  req: ChildRequest,
): ChildChoice | "TS_UNACCEPTABLE" {
  const tsi = req.pad ? constrainPeerTs(req.pad, req.tsi) : [...req.tsi];
  if (tsi.length === 0) return "TS_UNACCEPTABLE";
  const byName = req.pad?.spdLookup === "name";
  const trigger = triggerFromTs(req.tsi[0], req.tsr[0]);
  const candidates: number[] = [];
  if (byName) {
    if (!req.peer) return "TS_UNACCEPTABLE";
    for (const { entry, index } of spd.namedEntries(req.peer)) {
      if (entry.action === "protect") candidates.push(index);
    }
  } else {
    if (trigger) {
      const i = firstMatch(spd.entries, trigger, "outbound");
      if (i >= 0 && spd.entries[i].action === "protect") candidates.push(i);
    }
    spd.entries.forEach((e, i) => {
      if (
        e.action === "protect" && e.name === undefined && (e.direction ?? "both") !== "inbound" &&
        !candidates.includes(i)
      ) candidates.push(i);
    });
  }
  for (const index of candidates) {
    const entry = spd.entries[index];
    const sels = trigger
      ? [
        ...entry.selectors.filter((s) => selectorToBoxes(s).some((b) => boxContains(b, trigger))),
        ...entry.selectors,
      ]
      : entry.selectors;
    for (const sel of sels) {
      const r = narrowOne(spd, index, sel, tsi, req.tsr, trigger);
      if (!r) continue;
      const pad = req.pad;
      const ti = pad ? intersectTsLists(r.tsi, pad.allowedTs) : r.tsi;
      if (ti.length === 0) continue;
      const covered = (res: TrafficSelector[], prop: readonly TrafficSelector[]) =>
        prop.every((p) => res.some((x) => tsContains(x, p)));
      return {
        entry,
        index,
        tsi: ti,
        tsr: r.tsr,
        additionalTsPossible: !covered(ti, req.tsi) || !covered(r.tsr, req.tsr),
      };
    }
  }
  return "TS_UNACCEPTABLE";
}
