/**
 * The Security Policy Database (RFC 4301 section 4.4.1).
 *
 * An SPD is an ordered list of entries; each has one or more selector sets
 * (lib/db/selector.ts), an action (BYPASS, DISCARD, PROTECT) and, for
 * PROTECT, the processing info an SA needs. A packet takes the action of the
 * first entry with a matching selector set; when nothing matches the answer
 * is DISCARD. Every discard is counted by reason and reported to an
 * optional audit callback (RFC 4301 section 5.1 step 3, 5.2 step 3).
 *
 * Entries with a Name selector (an IKE identity pattern) are "named": they
 * never match packets, IKE finds them by the peer's identity (PAD
 * `spdLookup: "name"`) and the SAs it creates carry concrete selectors.
 *
 * Lookups:
 * - outbound (section 5.1): flow cache, then the compiled classifier;
 * - inbound plaintext (section 5.2 step 3): the same, against the entries
 *   that apply inbound; a plaintext packet whose first match is PROTECT is
 *   discarded (it should have arrived protected);
 * - inbound protected (section 5.2 step 4): after decryption the inner
 *   packet must match the SA's own selectors ({@link Spd.checkInboundProtected}).
 *
 * The compiled classifier (lib/db/classifier.ts) answers exactly like a
 * linear first-match scan; {@link Spd.decorrelated} gives the RFC 4301
 * section 4.4.1.3 view as SPD-S, SPD-O and SPD-I, where order no longer
 * matters (computed on demand: quadratic in the number of entries).
 *
 * The policy list is immutable: a configuration change builds a new Spd
 * (and with it empty caches). What changes at run time are instances
 * ({@link Spd.addInstance}): the concrete selectors of SAs created from
 * named or PFP entries, matched at their entry's position in the order.
 *
 * @module
 */

import type { Proposal } from "../crypto/proposal.ts";
import { type Box, selectorToBoxes } from "./box.ts";
import { Classifier, type ClassifierRule } from "./classifier.ts";
import { decorrelateEntry } from "./decorrelate.ts";
import { type Identity, identityMatches, type IdentityPattern } from "./identity.ts";
import { type PacketTuple, type Selector, selectorMatches } from "./selector.ts";
import { SpdCache, type SpdCacheStats } from "./spd_cache.ts";

/** What an SPD entry does with matching traffic. */
export type SpdAction = "bypass" | "discard" | "protect";

/** Which traffic an entry applies to; "both" (the default) is RFC 4301's bidirectional entry. */
export type SpdDirection = "both" | "outbound" | "inbound";

/** SA lifetimes of a PROTECT entry (absent = unlimited). */
export interface SpdLifetimes {
  readonly softSeconds?: number;
  readonly hardSeconds?: number;
  readonly softBytes?: bigint;
  readonly hardBytes?: bigint;
  readonly softPackets?: bigint;
  readonly hardPackets?: bigint;
}

/** Processing info of a PROTECT entry (RFC 4301 section 4.4.1.2). */
export interface ProcessingInfo {
  readonly protocol: "esp" | "ah";
  readonly mode: "tunnel" | "transport";
  /**
   * Tunnel mode outer addresses; "dynamic" (or absent) means the IKE SA's
   * addresses at the time the SA is created.
   */
  readonly tunnel?: { readonly local: string; readonly remote: string };
  /** Proposals in preference order. */
  readonly proposals: readonly Proposal[];
  /** Extended sequence numbers. */
  readonly esn?: boolean;
  /** Anti-replay window in packets (0 disables it). */
  readonly replayWindow?: number;
  readonly lifetimes?: SpdLifetimes;
  /** Tunnel mode DF bit: copy from the inner header, or set/clear. */
  readonly df?: "copy" | "set" | "clear";
  /** Tunnel mode DSCP: copy from the inner header or map to 0. */
  readonly dscp?: "copy" | "clear";
  /** Stateful fragment checking (tunnel mode). */
  readonly statefulFragmentCheck?: boolean;
  /** Configuration names this entry came from (for logs and tables). */
  readonly connection?: string;
  readonly child?: string;
}

/** One SPD entry. */
export interface SpdEntry {
  /** A label for tables and logs. */
  readonly label?: string;
  /** Selector sets; the entry matches when any set matches. */
  readonly selectors: readonly Selector[];
  /** Name selector: a named entry, matched by IKE identity only. */
  readonly name?: IdentityPattern;
  readonly action: SpdAction;
  /** Required for PROTECT. */
  readonly processing?: ProcessingInfo;
  readonly direction?: SpdDirection;
}

/** Why a packet was discarded. */
export type DiscardReason =
  /** No entry matched (RFC 4301 default). */
  | "no-policy"
  /** A DISCARD entry matched. */
  | "policy-discard"
  /** An inbound plaintext packet matched a PROTECT entry. */
  | "unprotected"
  /** A decrypted inbound packet does not match its SA's selectors. */
  | "sa-selector-mismatch";

/** All discard reasons. */
export const DISCARD_REASONS: readonly DiscardReason[] = [
  "no-policy",
  "policy-discard",
  "unprotected",
  "sa-selector-mismatch",
];

/** One audited discard. */
export interface AuditEvent {
  readonly direction: "outbound" | "inbound";
  readonly reason: DiscardReason;
  /** Index of the entry that decided, or -1. */
  readonly entryIndex: number;
  readonly packet: PacketTuple;
}

/** Result of a lookup. Decisions are shared objects: do not mutate. */
export interface SpdDecision {
  readonly action: SpdAction;
  /** The deciding entry, or null for the default DISCARD. */
  readonly entry: SpdEntry | null;
  /** Its index, or -1. */
  readonly index: number;
  /** The instance (see {@link Spd.addInstance}) that matched, if any. */
  readonly instance?: number;
}

/** One decorrelated piece: a box of packets, and the entry deciding it. */
export interface DecorrelatedPiece {
  readonly box: Box;
  readonly index: number;
  readonly entry: SpdEntry;
}

/** The decorrelated SPD (RFC 4301 section 4.4.1.3). */
export interface DecorrelatedSpd {
  /** PROTECT pieces for outbound traffic. */
  readonly spdS: readonly DecorrelatedPiece[];
  /** BYPASS/DISCARD pieces for outbound traffic. */
  readonly spdO: readonly DecorrelatedPiece[];
  /** BYPASS/DISCARD pieces for inbound plaintext traffic. */
  readonly spdI: readonly DecorrelatedPiece[];
}

/** Options for {@link Spd}. */
export interface SpdOptions {
  /** Flow cache size per direction (default 4096, 0 disables). */
  readonly cacheSize?: number;
  /** Called for every discard (after counting). Keep it cheap: it runs per packet. */
  readonly onAudit?: (e: AuditEvent) => void;
}

/** Invalid SPD entry. */
export class SpdError extends Error {
  override readonly name = "SpdError";
}

/** The default decision when no entry matches. */
export const DEFAULT_DISCARD: SpdDecision = Object.freeze({
  action: "discard",
  entry: null,
  index: -1,
});

interface SpdInstance {
  readonly id: number;
  readonly index: number;
  readonly selectors: readonly Selector[];
  readonly decision: SpdDecision;
}

/** The single remote address all selectors share, if any (the instance index key). */
/**
 * The one remote address all of `selectors` are limited to (an SA toward a
 * road warrior's virtual IP), or undefined: the key of per-address indexes.
 */
export function exactRemote(selectors: readonly Selector[]): number | bigint | undefined {
  let key: number | bigint | undefined;
  for (const s of selectors) {
    const a = s.remoteAddress;
    if (a.kind !== "range" || a.start !== a.end) return undefined;
    if (key !== undefined && key !== a.start) return undefined;
    key = a.start;
  }
  return key;
}

function appliesTo(e: SpdEntry, dir: "outbound" | "inbound"): boolean {
  const d = e.direction ?? "both";
  return d === "both" || d === dir;
}

/** The first entry (linear scan) matching a packet in a direction: the reference semantics. */
export function firstMatch(
  entries: readonly SpdEntry[],
  t: PacketTuple,
  dir: "outbound" | "inbound",
): number {
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    if (e.name !== undefined || !appliesTo(e, dir)) continue;
    for (const s of e.selectors) if (selectorMatches(s, t)) return i;
  }
  return -1;
}

/**
 * A compiled, immutable SPD with flow caches and discard audit.
 *
 * @example
 * ```ts
 * const spd = new Spd([
 *   { selectors: [ikeSelector], action: "bypass" },
 *   { selectors: [intranet], action: "protect", processing: esp },
 * ]);
 * spd.lookupOutbound(packetTuple({ src: "10.1.0.5", dst: "10.2.0.7", protocol: 6,
 *   srcPort: 40000, dstPort: 22, direction: "outbound" })).action; // "protect"
 * ```
 */
export class Spd {
  /** The ordered entries. */
  readonly entries: readonly SpdEntry[];
  /** Discard counters by reason. */
  readonly discards: Record<DiscardReason, number> = {
    "no-policy": 0,
    "policy-discard": 0,
    unprotected: 0,
    "sa-selector-mismatch": 0,
  };
  readonly #decisions: SpdDecision[];
  readonly #out: Classifier;
  readonly #in: Classifier;
  readonly #outCache: SpdCache<SpdDecision>;
  readonly #inCache: SpdCache<SpdDecision>;
  readonly #onAudit?: (e: AuditEvent) => void;
  #decorrelated?: DecorrelatedSpd;
  /** Instances keyed by their exact remote address (the PFP case), or in `#looseInstances`. */
  readonly #instancesByRemote = new Map<number | bigint, SpdInstance[]>();
  #looseInstances: SpdInstance[] = [];
  readonly #instances = new Map<number, SpdInstance>();
  #nextInstance = 1;

  constructor(entries: readonly SpdEntry[], opts: SpdOptions = {}) {
    entries.forEach((e, i) => {
      const what = `SPD entry ${i}${e.label ? ` (${e.label})` : ""}`;
      if (e.selectors.length === 0) throw new SpdError(`${what} has no selectors`);
      if (e.selectors.some((s) => s.name !== undefined)) {
        throw new SpdError(
          `${what}: put the Name selector on the entry ('name'), not in a selector`,
        );
      }
      if (e.action === "protect" && !e.processing) {
        throw new SpdError(`${what} is PROTECT but has no processing info`);
      }
      if (e.action !== "protect" && e.processing) {
        throw new SpdError(`${what} is ${e.action.toUpperCase()}: processing info is for PROTECT`);
      }
    });
    this.entries = entries;
    this.#decisions = entries.map((entry, index) =>
      Object.freeze({ action: entry.action, entry, index })
    );
    const rules = (dir: "outbound" | "inbound") => {
      const out: ClassifierRule[] = [];
      entries.forEach((e, id) => {
        if (e.name !== undefined || !appliesTo(e, dir)) return;
        for (const s of e.selectors) for (const box of selectorToBoxes(s)) out.push({ box, id });
      });
      return out;
    };
    this.#out = new Classifier(rules("outbound"));
    // Entries are bidirectional unless told otherwise: then one index serves both.
    this.#in = entries.every((e) => (e.direction ?? "both") === "both")
      ? this.#out
      : new Classifier(rules("inbound"));
    this.#outCache = new SpdCache(opts.cacheSize ?? 4096);
    this.#inCache = new SpdCache(opts.cacheSize ?? 4096);
    this.#onAudit = opts.onAudit;
  }

  /** Cache counters (outbound = SPD-S/SPD-O cache, inbound = SPD-I cache). */
  get cacheStats(): { outbound: SpdCacheStats; inbound: SpdCacheStats } {
    return { outbound: this.#outCache.stats, inbound: this.#inCache.stats };
  }

  #classify(t: PacketTuple, dir: "outbound" | "inbound"): SpdDecision {
    const cache = dir === "outbound" ? this.#outCache : this.#inCache;
    let d = cache.get(t);
    if (d === undefined) {
      const i = (dir === "outbound" ? this.#out : this.#in).lookup(t);
      d = i < 0 ? DEFAULT_DISCARD : this.#decisions[i];
      if (this.#instances.size > 0) d = this.#instanceMatch(t, dir, d);
      cache.set(t, d);
    }
    return d;
  }

  #instanceMatch(t: PacketTuple, dir: "outbound" | "inbound", d: SpdDecision): SpdDecision {
    let best = d;
    const check = (list: readonly SpdInstance[] | undefined) => {
      if (!list) return;
      for (const inst of list) {
        if (best.index >= 0 && inst.index >= best.index) continue;
        if (!appliesTo(this.entries[inst.index], dir)) continue;
        if (inst.selectors.some((s) => selectorMatches(s, t))) best = inst.decision;
      }
    };
    check(this.#instancesByRemote.get(t.remoteAddress));
    check(this.#looseInstances);
    return best;
  }

  /**
   * Instantiates a PROTECT entry with concrete selectors, as an SA created
   * from it carries them (RFC 4301 section 4.4.1.3: SPD-S cache entries of
   * named or PFP entries). Packets matching the instance get the entry's
   * decision, at the entry's position in the order, tagged with the
   * returned instance id; the flow caches are flushed. Typical use: the
   * responder's child SA from a named entry (remote = the client's address).
   */
  addInstance(index: number, selectors: readonly Selector[]): number {
    const entry = protectEntry(this.entries, index);
    const id = this.#nextInstance++;
    const inst: SpdInstance = {
      id,
      index,
      selectors,
      decision: Object.freeze({ action: "protect", entry, index, instance: id }),
    };
    this.#instances.set(id, inst);
    const key = exactRemote(selectors);
    if (key === undefined) this.#looseInstances.push(inst);
    else {
      const list = this.#instancesByRemote.get(key) ?? [];
      list.push(inst);
      this.#instancesByRemote.set(key, list);
    }
    this.#outCache.clear();
    this.#inCache.clear();
    return id;
  }

  /** Removes an instance (its SA is gone). Returns false when unknown. */
  removeInstance(id: number): boolean {
    const inst = this.#instances.get(id);
    if (!inst) return false;
    this.#instances.delete(id);
    const key = exactRemote(inst.selectors);
    if (key === undefined) this.#looseInstances = this.#looseInstances.filter((x) => x !== inst);
    else {
      const rest = (this.#instancesByRemote.get(key) ?? []).filter((x) => x !== inst);
      if (rest.length) this.#instancesByRemote.set(key, rest);
      else this.#instancesByRemote.delete(key);
    }
    this.#outCache.clear();
    this.#inCache.clear();
    return true;
  }

  #audit(dir: "outbound" | "inbound", reason: DiscardReason, index: number, t: PacketTuple) {
    this.discards[reason]++;
    this.#onAudit?.({ direction: dir, reason, entryIndex: index, packet: t });
  }

  /**
   * Outbound lookup (RFC 4301 section 5.1): the decision for a packet we are
   * about to send. DISCARD results are counted and audited.
   */
  lookupOutbound(t: PacketTuple): SpdDecision {
    const d = this.#classify(t, "outbound");
    if (d.action === "discard") {
      this.#audit("outbound", d.index < 0 ? "no-policy" : "policy-discard", d.index, t);
    }
    return d;
  }

  /**
   * Inbound lookup for a plaintext packet (RFC 4301 section 5.2 step 3):
   * BYPASS passes it; DISCARD, no match, or a PROTECT match (it should have
   * been protected) drop it, counted and audited. The returned decision's
   * action is "bypass" or "discard" (with the deciding entry).
   */
  lookupInbound(t: PacketTuple): SpdDecision {
    const d = this.#classify(t, "inbound");
    if (d.action === "bypass") return d;
    const reason: DiscardReason = d.index < 0
      ? "no-policy"
      : d.action === "protect"
      ? "unprotected"
      : "policy-discard";
    this.#audit("inbound", reason, d.index, t);
    return d.action === "protect" ? { action: "discard", entry: d.entry, index: d.index } : d;
  }

  /**
   * Inbound check after decryption (RFC 4301 section 5.2 step 4): the inner
   * packet must match one of the SA's selectors. A mismatch is counted,
   * audited, and returns false (drop).
   */
  checkInboundProtected(t: PacketTuple, saSelectors: readonly Selector[]): boolean {
    for (const s of saSelectors) if (selectorMatches(s, t)) return true;
    this.#audit("inbound", "sa-selector-mismatch", -1, t);
    return false;
  }

  /** Named entries whose Name matches an authenticated identity, in SPD order. */
  namedEntries(id: Identity): { entry: SpdEntry; index: number }[] {
    const out: { entry: SpdEntry; index: number }[] = [];
    this.entries.forEach((entry, index) => {
      if (entry.name !== undefined && identityMatches(entry.name, id)) out.push({ entry, index });
    });
    return out;
  }

  /**
   * The decorrelated SPD-S, SPD-O and SPD-I (RFC 4301 section 4.4.1.3):
   * every entry minus all earlier ones, so pieces are disjoint and a packet
   * in a piece gets the same decision as the ordered first-match. Named
   * entries are left out. Computed once, on demand (quadratic cost).
   */
  decorrelated(): DecorrelatedSpd {
    if (this.#decorrelated) return this.#decorrelated;
    const forDir = (dir: "outbound" | "inbound") => {
      const flat: { s: Selector; index: number }[] = [];
      this.entries.forEach((e, index) => {
        if (e.name !== undefined || !appliesTo(e, dir)) return;
        for (const s of e.selectors) flat.push({ s, index });
      });
      const sels = flat.map((f) => f.s);
      const pieces: DecorrelatedPiece[] = [];
      for (let k = 0; k < flat.length; k++) {
        const { index } = flat[k];
        // Earlier selector sets of the same entry need not be subtracted, but
        // subtracting them keeps pieces disjoint and changes no decision.
        for (const box of decorrelateEntry(sels, k, () => false)) {
          pieces.push({ box, index, entry: this.entries[index] });
        }
      }
      return pieces;
    };
    const out = forDir("outbound");
    this.#decorrelated = {
      spdS: out.filter((p) => p.entry.action === "protect"),
      spdO: out.filter((p) => p.entry.action !== "protect"),
      spdI: forDir("inbound").filter((p) => p.entry.action !== "protect"),
    };
    return this.#decorrelated;
  }
}

/** An SA's concrete selectors for a named or PFP entry (see {@link withInstances}). */
export interface SpdEntryInstance {
  /** Index of the PROTECT entry it instantiates. */
  readonly index: number;
  readonly selectors: readonly Selector[];
  /** Label of the materialized entry (default: the entry's label). */
  readonly label?: string;
  /** The SA's outer addresses, for a tunnel-mode entry's "dynamic" ones (tables). */
  readonly tunnel?: { readonly local: string; readonly remote: string };
}

/** Entry `index`, which must be PROTECT to be instantiated; else an {@link SpdError}. */
function protectEntry(entries: readonly SpdEntry[], index: number): SpdEntry {
  const entry = entries[index];
  if (!entry || entry.action !== "protect") {
    throw new SpdError(`SPD entry ${index} is not a PROTECT entry: it cannot be instantiated`);
  }
  return entry;
}

/**
 * The entry list with instances materialized as ordinary (unnamed) PROTECT
 * entries, each placed just before the entry it instantiates: a new
 * {@link Spd} of the result decides every packet like {@link Spd.addInstance}
 * on the original list (the instance matches at its entry's position, and
 * named entries never match packets themselves). For a data plane that
 * takes whole policy lists (a Worker): a gateway's named road-warrior entry
 * becomes one concrete entry per connected client.
 *
 * @example
 * ```ts
 * const spd = new Spd(withInstances(entries, [{ index: 2, selectors: [toClient] }]));
 * ```
 */
export function withInstances(
  entries: readonly SpdEntry[],
  instances: readonly SpdEntryInstance[],
): SpdEntry[] {
  const byIndex = new Map<number, SpdEntryInstance[]>();
  for (const inst of instances) {
    protectEntry(entries, inst.index);
    if (inst.selectors.length === 0) {
      throw new SpdError(`instance of entry ${inst.index} has no selectors`);
    }
    byIndex.set(inst.index, [...(byIndex.get(inst.index) ?? []), inst]);
  }
  const out: SpdEntry[] = [];
  entries.forEach((entry, i) => {
    for (const inst of byIndex.get(i) ?? []) {
      const { name: _name, ...rest } = entry;
      const p = rest.processing;
      out.push({
        ...rest,
        selectors: inst.selectors,
        label: inst.label ?? entry.label,
        ...(p?.mode === "tunnel" && inst.tunnel
          ? { processing: { ...p, tunnel: inst.tunnel } }
          : {}),
      });
    }
    out.push(entry);
  });
  return out;
}
