/**
 * The inbound SPD check of plaintext packets (RFC 4301 section 5.2 step 3),
 * done by the kernel's policy routing because clear packets never reach the
 * userspace data plane: the data plane sees IPsec packets (raw ESP/AH and
 * UDP 4500 sockets) and what is routed into the TUN, everything else the
 * kernel delivers or forwards itself. Without this guard a clear packet that
 * policy says must arrive protected (from the protected remote subnet to the
 * protected local subnet, or in transport mode a clear packet from the peer
 * host) would be accepted. No XFRM and no iptables: only FIB rules, added
 * through rtnetlink ({@linkcode Netlink.addRule}).
 *
 * ## Construction
 *
 * Linux looks up the FIB rules for every received packet, whether it is
 * delivered locally or forwarded, with `iif` = the arrival interface; an
 * output route lookup (a locally generated packet) has `iif lo`. FIB rules
 * are an ordered first match, like the SPD itself, so the ordered SPD maps
 * to rules one to one (no decorrelation needed). Per IP family, in order,
 * all at one priority `P` (rules of equal priority keep their order):
 *
 * ```
 *  P: iif <tun> goto E           decrypted traffic: the data plane checked it (5.2 step 4)
 *  P: iif lo goto E              locally generated (output lookups) and loopback traffic
 *  P: ipproto 50 goto E          ESP, AH (raw sockets receive after routing),
 *  P: ipproto 51 goto E          IKE and ESP-in-UDP must never be blocked
 *  P: ipproto 17 dport 500 goto E
 *  P: ipproto 17 dport 4500 goto E
 *  P: ipproto 58 goto E          IPv6 only: ICMPv6 (neighbour discovery, see below)
 *  P: from <remote> to <local> [ipproto N] [sport R] [dport L] goto E | blackhole | goto D
 *     ... one per SPD entry x selector set x address prefix, in SPD order:
 *     BYPASS -> goto E; DISCARD and PROTECT -> blackhole, or for IPv4
 *     without a protocol -> goto D
 *  P: goto E                     (only with D) nothing else may fall into D
 *  B: goto E                     (only with D) the barrier: a packet falling
 *                                through while a slot is replaced or removed
 *                                never reaches D
 *  D: ipproto 1 blackhole ... ipproto 255 blackhole      IPv4 only
 *  E: lookup local               the kernel's own "0: lookup local", moved here
 * ```
 *
 * Why `D`: ARP asks the FIB whether a requested address is local with the
 * same (sender, target) pair as an IP packet from that neighbour, but with
 * protocol 0. A plain "from peer to me blackhole" (transport mode,
 * host-to-host) would make the kernel stop answering ARP for the peer, and
 * nothing would work. A rule cannot match protocol 0 (0 means "any"), so
 * drops of any protocol jump to a block that drops protocols 1 to 255 and
 * lets protocol 0 (ARP's lookups) continue to `E`.
 *
 * Inbound, "remote" is the source and "local" the destination; remote ports
 * are `sport`, local ports `dport`. Address ranges that are not prefixes are
 * split into prefixes. Because the TUN and `lo` are exempted first, the
 * rules never touch decrypted or locally generated traffic, whatever the
 * physical interfaces are (no per-interface rule set to keep up to date).
 *
 * The kernel's "0: from all lookup local" rule must come after the guard
 * (otherwise local delivery is decided before our rules run): the guard adds
 * `E: lookup local` first, then deletes the priority-0 rule, so there is
 * never a moment without a local lookup; {@linkcode InboundGuard.remove}
 * puts it back at 0 first, then deletes `E`. If a crash left `E` behind, the
 * next start recognises it and restores priority 0 on removal. This is the
 * same move VRF setups make (`ip rule add pref 1000 lookup local`).
 *
 * Updates are make-before-break: the new rule set goes to the other of two
 * priorities (`P` or `P + 1`), then the old one is deleted.
 *
 * ## SA instances of named entries: the instance band
 *
 * A road-warrior gateway's named entry gets one instance per client SA
 * (lib/db/spd.ts addInstance): clear packets from that client's address
 * must be dropped like those of any PROTECT entry. Putting them into the
 * slot would rewrite every rule on every client that comes or goes (and
 * the kernel keeps rules in a list: thousands of clients made each change
 * cost hundreds of milliseconds). So an instance's rules go to a band of
 * their own at `P - 2` or `P - 1`, before the slots, after the same fixed
 * exemptions, one rule added or deleted per instance. That is exact when
 * no earlier inbound BYPASS entry overlaps the instance (the instance's
 * rules only drop; earlier DISCARD and PROTECT entries would drop the same
 * packets); otherwise that instance is placed in the slot at its entry's
 * position, as before, and the whole set is rewritten. {@linkcode
 * InboundGuard.apply} replaces entries and instances together (the new
 * band, then the new slot, then the old band goes). Stale rules at
 * `P`, `P + 1`, `B` and `D` are deleted when a guard starts. After a crash the
 * rules stay (fail closed) until the next start; by hand:
 * `ip rule add pref 0 lookup local`, then `ip rule del pref N` for N in
 * `P-2..P+4` until it fails (and the same with `ip -6`).
 *
 * ## What it does not do (honestly)
 *
 * - The default DISCARD for clear packets that match no entry applies only
 *   with `defaultDiscard` (the daemon sets it when the config has an
 *   explicit `policies:` list, which then ends with BYPASS entries for what
 *   may pass, as in the seeds' host SPD). Otherwise the guard drops only
 *   what an entry says to (DISCARD, or PROTECT arriving in clear), like
 *   strongSwan: configurations built from `connections` have no catch-all
 *   entry, and dropping everything else would cut the host off (SSH, DNS).
 * - FIB rules cannot match ICMP type/code or the Mobility Header type: a
 *   selector limited to some types is widened to the whole protocol (with a
 *   warning in the plan). All ICMPv6 passes (IPv6 needs neighbour discovery,
 *   which would otherwise match a PROTECT entry covering the peer), so a
 *   clear ICMPv6 packet is not checked. An OPAQUE port or protocol selector
 *   (fragments) cannot be expressed and is skipped (warning).
 * - Clear ICMP errors (RFC 4301 section 6) get no special treatment: when a
 *   PROTECT entry covers the routers on the path (remote ANY), "fragmentation
 *   needed" for our ESP packets is dropped too; put an ICMP BYPASS entry
 *   first, as the seeds' host SPD does.
 * - Named entries match no packets until IKE instantiates them, so they are
 *   not guarded themselves; their SA instances are (see above).
 * - Rules have no counters and nothing is logged per packet. An IPv4 drop
 *   is counted by the kernel as `InAddrErrors` in `/proc/net/snmp`
 *   (`nstat -az IpInAddrErrors`; tests/netns/clear_inbound_test.ts checks
 *   it) on a host that does not forward, and only in `in_no_route` of
 *   `/proc/net/stat/rt_cache` on a router; IPv6 blackhole drops are not
 *   counted at all (`dropwatch`/`perf` see them). `ip rule show` and
 *   `ip -6 rule show` list the guard; the data plane's `inboundGuard`
 *   gives the plan and its warnings.
 * - An established TCP socket's cached input route (early demux) is checked
 *   against the arrival interface only; a rule change flushes those caches.
 *
 * @example
 * ```ts
 * const guard = new InboundGuard({ tunName: "ipsec0" });
 * const plan = guard.apply(spdEntries); // installs (or replaces) the rules
 * for (const w of plan.warnings) log("warn", w);
 * guard.remove(); // on stop
 * ```
 *
 * @module
 */

import { describeRule, Netlink, NetlinkError, type RuleSpec } from "../../ffi/netlink.ts";
import { ipToBytes } from "../db/address.ts";
import {
  type AddressSelector,
  hasPorts,
  intersectSelectors,
  isTypeProtocol,
  type PortSelector,
  type Selector,
  selectorVersions,
} from "../db/selector.ts";
import { type SpdEntry, withInstances } from "../db/spd.ts";

/** Where the guard's rules go and what they always let through. */
export interface InboundGuardOptions {
  /** The data plane's TUN: decrypted packets arrive from it. */
  readonly tunName: string;
  /** UDP destination ports that always pass (IKE, ESP-in-UDP; default 500 and 4500). */
  readonly ikePorts?: readonly number[];
  /**
   * Priority `P` of the rules; the guard uses `P - 2` and `P - 1` (the
   * instance band, see the module documentation), `P` and `P + 1` (two slots
   * for make-before-break), `P + 2` (a barrier, `goto E`, so that only a
   * `goto D` reaches the block), `P + 3` (the IPv4 any-protocol drop block
   * `D`) and `P + 4` (the moved local lookup `E`). Default 100: it must stay
   * below every other rule, e.g. the data plane's "not fwmark -> table 220"
   * rule at 220.
   */
  readonly priority?: number;
  /** See {@linkcode PlanOptions.defaultDiscard}. */
  readonly defaultDiscard?: boolean;
}

/** Options of {@linkcode planInboundGuard}. */
export interface PlanOptions {
  /** The data plane's TUN (decrypted traffic passes). */
  readonly tunName: string;
  /** UDP destination ports that always pass (default 500 and 4500). */
  readonly ikePorts?: readonly number[];
  /** Priority of every rule of the plan. */
  readonly priority: number;
  /** Priority of the IPv4 any-protocol drop block (`D`). */
  readonly protoBlock: number;
  /** Priority of the `goto` target (the moved local lookup, `E`). */
  readonly end: number;
  /**
   * Drop what no entry matches (RFC 4301's default DISCARD), after the
   * fixed exemptions (TUN, lo, ESP, AH, IKE, ICMPv6). Default false: pass it.
   */
  readonly defaultDiscard?: boolean;
}

/** The rules for an SPD, in order, and what could not be expressed exactly. */
export interface InboundGuardPlan {
  /** IPv4 rules, then IPv6 rules; empty for a family without any drop rule. */
  readonly rules: readonly RuleSpec[];
  /** The IPv4 block at `D` (`ipproto 1..255 blackhole`) when a rule goes there, else empty. */
  readonly protoBlock: readonly RuleSpec[];
  /** What the rules cannot express exactly (widened, clamped or skipped), one line each. */
  readonly warnings: readonly string[];
}

/** An SPD the guard cannot turn into rules (too many prefixes). */
export class InboundGuardError extends Error {
  override readonly name = "InboundGuardError";
}

/** Upper bound on the rules of one plan (the kernel walks them linearly per route lookup). */
export const MAX_GUARD_RULES = 4096;

const ESP = 50;
const AH = 51;
const UDP = 17;
const ICMPV6 = 58;
const RT_TABLE_LOCAL = 255;
const EEXIST = 17;
const ENOENT = 2;

/**
 * The largest aligned prefixes covering [lo, hi] exactly (bits = 32 or 128).
 *
 * @example
 * ```ts
 * rangeToPrefixes(1n, 6n, 32); // 1/32, 2/31, 4/31, 6/32
 * ```
 */
export function rangeToPrefixes(
  lo: bigint,
  hi: bigint,
  bits: number,
): { start: bigint; prefixLength: number }[] {
  const out: { start: bigint; prefixLength: number }[] = [];
  let cur = lo;
  while (cur <= hi) {
    let size = 0; // log2 of the block size
    while (size < bits) {
      const next = 1n << BigInt(size + 1);
      if (cur % next !== 0n || cur + next - 1n > hi) break;
      size++;
    }
    out.push({ start: cur, prefixLength: bits - size });
    cur += 1n << BigInt(size);
  }
  return out;
}

function prefixesOf(a: AddressSelector, v: 4 | 6): (RuleSpec["from"])[] {
  if (a.kind !== "range") return [undefined];
  const bits = v === 4 ? 32 : 128;
  return rangeToPrefixes(BigInt(a.start), BigInt(a.end), bits).map((p) =>
    p.prefixLength === 0 ? undefined : {
      address: ipToBytes(
        v === 4 ? { version: 4, value: Number(p.start) } : { version: 6, value: p.start },
      ),
      prefixLength: p.prefixLength,
    }
  );
}

/**
 * A port selector as a FIB port range. The kernel refuses ranges touching 0
 * or 65535, so those two ports are left out (warned); a range of only them
 * gives null (the selector cannot be expressed).
 */
function fibPorts(
  p: PortSelector,
  what: string,
  warnings: Set<string>,
): [number, number] | undefined | null {
  if (p.kind !== "range") return undefined;
  const start = Math.max(p.start, 1);
  const end = Math.min(p.end, 65534);
  if (start !== p.start || end !== p.end) {
    warnings.add(`${what}: rules cannot match ports 0 and 65535: left out of ${p.start}-${p.end}`);
  }
  return start <= end ? [start, end] : null;
}

function entryName(e: SpdEntry, i: number): string {
  return `SPD entry ${i}${e.label ? ` (${e.label})` : ""}`;
}

/** The part of a rule that decides what it matches (for dropping duplicates). */
function matchKey(r: RuleSpec): string {
  return describeRule({ ...r, action: "nop", goto: undefined, table: undefined });
}

/**
 * The rules of one unnamed entry for `family`, appended to `out` (the
 * fixed exemptions not included).
 */
function entryRules(
  e: SpdEntry,
  i: number,
  family: 4 | 6,
  o: Pick<PlanOptions, "priority" | "protoBlock" | "end">,
  warnings: Set<string>,
  out: RuleSpec[],
): void {
  if ((e.direction ?? "both") === "outbound") return;
  const fromSpd = out;
  const what = entryName(e, i);
  for (const s of e.selectors) {
    if (!selectorVersions(s).includes(family)) continue;
    let ipProto: number | undefined;
    if (s.protocol === "opaque") {
      warnings.add(`${what}: an OPAQUE protocol cannot be matched by a rule; skipped`);
      continue;
    }
    if (s.protocol !== "any") ipProto = s.protocol;
    let sport: [number, number] | undefined | null;
    let dport: [number, number] | undefined | null;
    if (s.localPort.kind === "opaque" || s.remotePort.kind === "opaque") {
      warnings.add(`${what}: OPAQUE ports cannot be matched by a rule; skipped`);
      continue;
    }
    if (ipProto !== undefined && isTypeProtocol(ipProto)) {
      if (s.localPort.kind !== "any" || s.remotePort.kind !== "any") {
        warnings.add(
          `${what}: rules cannot match ICMP/MH types: applied to all of protocol ${ipProto}`,
        );
      }
    } else if (ipProto === undefined || hasPorts(ipProto)) {
      sport = fibPorts(s.remotePort, what, warnings);
      dport = fibPorts(s.localPort, what, warnings);
      if (sport === null || dport === null) continue;
      if (ipProto === undefined && (sport || dport)) {
        warnings.add(
          `${what}: with protocol ANY, rules match port ranges for port protocols only ` +
            `(not ICMP/MH message types)`,
        );
      }
    } else if (s.localPort.kind !== "any" || s.remotePort.kind !== "any") {
      // Protocol without ports but a port range: only OPAQUE-port packets could match.
      continue;
    }
    // IPv4 drops of any protocol go through D, which lets ARP's lookups pass.
    const toBlock = family === 4 && ipProto === undefined && e.action !== "bypass";
    const action = e.action === "bypass" || toBlock ? "goto" : "blackhole";
    const target = toBlock ? o.protoBlock : o.end;
    for (const from of prefixesOf(s.remoteAddress, family)) {
      for (const to of prefixesOf(s.localAddress, family)) {
        const r: RuleSpec = {
          family,
          priority: o.priority,
          ...(from ? { from } : {}),
          ...(to ? { to } : {}),
          ...(ipProto !== undefined ? { ipProto } : {}),
          ...(sport ? { sport } : {}),
          ...(dport ? { dport } : {}),
          action,
          ...(action === "goto" ? { goto: target } : {}),
        };
        fromSpd.push(r);
        if (fromSpd.length > MAX_GUARD_RULES) {
          throw new InboundGuardError(
            `the SPD needs more than ${MAX_GUARD_RULES} IPv${family} guard rules ` +
              `(${what} splits into many prefixes): use prefixes instead of address ranges`,
          );
        }
      }
    }
  }
}

/** A rule that lets what `r` matches pass: `goto` the local lookup `E`. */
function passRule(
  family: 4 | 6,
  o: Pick<PlanOptions, "priority" | "end">,
  r: Omit<RuleSpec, "family" | "priority">,
): RuleSpec {
  return { family, priority: o.priority, ...r, action: "goto", goto: o.end };
}

/** The exemptions that come first in every rule set (TUN, lo, ESP, AH, IKE, ICMPv6). */
function fixedRules(
  family: 4 | 6,
  o: Pick<PlanOptions, "priority" | "end" | "tunName" | "ikePorts">,
): RuleSpec[] {
  const pass = (r: Omit<RuleSpec, "family" | "priority">) => passRule(family, o, r);
  const ikePorts = [...new Set(o.ikePorts ?? [500, 4500])].sort((a, b) => a - b);
  return [
    pass({ iif: o.tunName }),
    pass({ iif: "lo" }),
    pass({ ipProto: ESP }),
    pass({ ipProto: AH }),
    ...ikePorts.map((p) => pass({ ipProto: UDP, dport: [p, p] })),
    ...(family === 6 ? [pass({ ipProto: ICMPV6 })] : []),
  ];
}

/**
 * Turns ordered SPD entries into the guard's ordered FIB rules (see the
 * module documentation). Pure.
 *
 * @example
 * ```ts
 * const { rules } = planInboundGuard(entries, {
 *   tunName: "ipsec0", priority: 100, protoBlock: 102, end: 103,
 * });
 * rules.map(describeRule); // ["100: from all iif ipsec0 goto 103", ...]
 * ```
 */
export function planInboundGuard(
  entries: readonly SpdEntry[],
  o: PlanOptions,
): InboundGuardPlan {
  const warnings = new Set<string>();
  const rules: RuleSpec[] = [];
  const protoBlock: RuleSpec[] = [];
  for (const family of [4, 6] as const) {
    const pass = (r: Omit<RuleSpec, "family" | "priority">) => passRule(family, o, r);
    const fixed = fixedRules(family, o);
    const fromSpd: RuleSpec[] = [];
    entries.forEach((e, i) => {
      if (e.name !== undefined) return;
      entryRules(e, i, family, o, warnings, fromSpd);
    });
    if (o.defaultDiscard) {
      // IPv4 through D, so that ARP's protocol-0 lookups still pass.
      fromSpd.push(
        family === 4
          ? { family, priority: o.priority, action: "goto", goto: o.protoBlock }
          : { family, priority: o.priority, action: "blackhole" },
      );
    }
    // Passing rules after the last drop change nothing; no drop at all: no rules.
    const drops = (r: RuleSpec) => r.action === "blackhole" || r.goto === o.protoBlock;
    let last = fromSpd.length - 1;
    while (last >= 0 && !drops(fromSpd[last])) last--;
    if (last < 0) continue;
    const used = fromSpd.slice(0, last + 1);
    const viaBlock = used.some((r) => r.goto === o.protoBlock);
    if (viaBlock) {
      // Whatever no rule decided must not fall into D.
      used.push(pass({}));
      for (let p = 1; p <= 255; p++) {
        protoBlock.push({ family, priority: o.protoBlock, ipProto: p, action: "blackhole" });
      }
    }
    const seen = new Set<string>();
    for (const r of [...fixed, ...used]) {
      const k = matchKey(r);
      if (seen.has(k)) continue; // an identical earlier match already decides
      seen.add(k);
      rules.push(r);
    }
  }
  return { rules, protoBlock, warnings: [...warnings] };
}

/** The rtnetlink calls the guard makes ({@linkcode Netlink} implements them). */
export interface RuleSink {
  /** See {@linkcode Netlink.addRule}. */
  addRule(r: RuleSpec, exclusive?: boolean): void;
  /** See {@linkcode Netlink.deleteRule}. */
  deleteRule(r: RuleSpec): void;
  /** See {@linkcode Netlink.deleteRulesAt}. */
  deleteRulesAt(family: 4 | 6, priority: number): number;
}

/** An SA's instance of a named PROTECT entry (lib/db/spd.ts addInstance), for the guard. */
export interface GuardInstanceSpec {
  /** The caller's name for it (the data plane uses the SA's protocol and SPI). */
  readonly key: string;
  /** Index of the named PROTECT entry in the entries applied. */
  readonly index: number;
  /** The SA's selectors (a part of what the entry covers). */
  readonly selectors: readonly Selector[];
}

interface GuardInstance {
  readonly index: number;
  readonly selectors: readonly Selector[];
  /** Its rules in the instance band, or null: materialized in the slot. */
  readonly band: RuleSpec[] | null;
}

/** Entry `index` must be a PROTECT entry; else an {@link InboundGuardError}. */
function protectIndex(entries: readonly SpdEntry[], index: number): void {
  if (entries[index]?.action !== "protect") {
    throw new InboundGuardError(`SPD entry ${index} is not a PROTECT entry: no instance of it`);
  }
}

/**
 * Whether an instance of entry `index` may sit in the instance band, before
 * every entry, and still decide its packets as at the entry's position: its
 * rules only drop (PROTECT arriving in clear), so only an earlier entry that
 * passes some of its packets (an inbound BYPASS overlapping it) would decide
 * differently. Earlier DISCARD and PROTECT entries drop them as well.
 */
function fitsBand(entries: readonly SpdEntry[], index: number, sels: readonly Selector[]): boolean {
  for (let j = 0; j < index; j++) {
    const e = entries[j];
    if (e.name !== undefined || e.action !== "bypass") continue;
    if ((e.direction ?? "both") === "outbound") continue;
    for (const a of e.selectors) {
      for (const b of sels) if (intersectSelectors(a, b) !== null) return false;
    }
  }
  return true;
}

/**
 * Installs, replaces and removes the guard's rules (see the module
 * documentation). Synchronous; each call leaves the kernel consistent.
 *
 * @example
 * ```ts
 * const guard = new InboundGuard({ tunName: "ipsec0", ikePorts: [500, 4500] });
 * guard.apply(entries);    // on every SPD change
 * guard.installed.length;  // rules in place now
 * guard.remove();          // on stop
 * ```
 */
export class InboundGuard {
  readonly #o: InboundGuardOptions;
  readonly #base: number;
  #sink: RuleSink | null;
  #ownsSink = false;
  /** Priority of the installed rule set, or null before the first apply. */
  #slot: number | null = null;
  #installed: RuleSpec[] = [];
  /** Families whose local lookup sits at `E`; true = put it back at 0 on removal. */
  readonly #moved = new Map<4 | 6, boolean>();
  /** Families whose any-protocol drop block is installed at `D`. */
  readonly #blocks = new Set<4 | 6>();
  #plan: InboundGuardPlan = { rules: [], protoBlock: [], warnings: [] };
  /** The entries last applied (instances refer to them by index). */
  #entries: readonly SpdEntry[] = [];
  /** SA instances of named entries, by the caller's key. */
  readonly #instances = new Map<string, GuardInstance>();
  /** Priority of the instance band in use (`P - 2` or `P - 1`), null before the first apply. */
  #band: number | null = null;
  /** Families whose band has its fixed exemptions. */
  readonly #bandFamilies = new Set<4 | 6>();

  /** `sink` defaults to a Netlink socket opened on first use. */
  constructor(o: InboundGuardOptions, sink?: RuleSink) {
    this.#o = o;
    this.#base = o.priority ?? 100;
    if (!Number.isInteger(this.#base) || this.#base < 3) {
      throw new InboundGuardError(`guard priority ${this.#base}: must be an integer of 3 or more`);
    }
    this.#sink = sink ?? null;
  }

  /** The rules installed now, in order. */
  get installed(): readonly RuleSpec[] {
    return this.#installed;
  }

  /** The last plan applied (its warnings say what could not be expressed exactly). */
  get plan(): InboundGuardPlan {
    return this.#plan;
  }

  #nl(): RuleSink {
    if (!this.#sink) {
      this.#sink = Netlink.open();
      this.#ownsSink = true;
    }
    return this.#sink;
  }

  /**
   * Installs the rules for `entries`, replacing the previous set
   * (make-before-break). Returns the plan. Throws {@linkcode NetlinkError}
   * or {@linkcode InboundGuardError}; the previous set then stays in place.
   */
  apply(
    entries: readonly SpdEntry[],
    instances: readonly GuardInstanceSpec[] = [],
  ): InboundGuardPlan {
    const nl = this.#nl();
    if (this.#slot === null) {
      for (const f of [4, 6] as const) {
        for (const p of [this.#base - 2, this.#base - 1, this.#base, this.#base + 1]) {
          nl.deleteRulesAt(f, p);
        }
        for (const p of [this.#base + 3, this.#base + 2]) nl.deleteRulesAt(f, p);
      }
    }
    for (const i of instances) protectIndex(entries, i.index);
    // Instances go to the band when that decides their packets as their
    // entry's position would, the others into the slot with the entries.
    const band = this.#band === this.#base - 2 ? this.#base - 1 : this.#base - 2;
    const next = new Map<string, GuardInstance>();
    const inSlot: GuardInstanceSpec[] = [];
    const bandWarnings = new Set<string>();
    for (const i of instances) {
      const rules = fitsBand(entries, i.index, i.selectors)
        ? this.#bandRules(entries, i, band, bandWarnings)
        : null;
      if (rules === null) inSlot.push(i);
      next.set(i.key, { index: i.index, selectors: i.selectors, band: rules });
    }
    const bandRules = [...next.values()].flatMap((i) => i.band ?? []);
    const bandFamilies = new Set(bandRules.map((r) => r.family));
    const bandBlocks = new Set(
      bandRules.filter((r) => r.goto === this.#base + 3).map((r) => r.family),
    );
    // Make before break: the new band, then the slot, then the old band goes.
    try {
      for (const f of bandFamilies) this.#moveLocal(f);
      for (const f of bandBlocks) this.#ensureBlock(f);
      for (const f of bandFamilies) {
        for (const r of fixedRules(f, this.#planOptions(band))) nl.addRule(r, false);
      }
      for (const r of bandRules) nl.addRule(r, false);
    } catch (e) {
      for (const f of [4, 6] as const) nl.deleteRulesAt(f, band);
      throw e;
    }
    let plan: InboundGuardPlan;
    try {
      plan = this.#applySlot(withInstances(entries, inSlot), bandFamilies, bandBlocks);
    } catch (e) {
      for (const f of [4, 6] as const) nl.deleteRulesAt(f, band);
      throw e;
    }
    if (this.#band !== null) { for (const f of [4, 6] as const) nl.deleteRulesAt(f, this.#band); }
    this.#band = band;
    this.#bandFamilies.clear();
    for (const f of bandFamilies) this.#bandFamilies.add(f);
    this.#entries = entries;
    this.#instances.clear();
    for (const [k, v] of next) this.#instances.set(k, v);
    this.#plan = {
      ...plan,
      warnings: [...new Set([...plan.warnings, ...bandWarnings])],
    };
    return this.#plan;
  }

  /**
   * Adds (or replaces) the instance `i.key` of PROTECT entry `i.index` of
   * the entries last applied: its rules go to the instance band, or, when an
   * earlier BYPASS entry overlaps it, the whole set is applied again with the
   * instance in its entry's place. Throws like {@linkcode apply}; the
   * previous rules then stay.
   */
  addInstance(i: GuardInstanceSpec): void {
    protectIndex(this.#entries, i.index);
    if (this.#slot === null || this.#band === null) {
      throw new InboundGuardError("the guard has no rules yet: apply an SPD first");
    }
    const old = this.#instances.get(i.key);
    if (!fitsBand(this.#entries, i.index, i.selectors) || (old && old.band === null)) {
      this.apply(this.#entries, [...this.#specs().filter((s) => s.key !== i.key), i]);
      return;
    }
    const warnings = new Set<string>();
    const rules = this.#bandRules(this.#entries, i, this.#band, warnings);
    const nl = this.#nl();
    const added: RuleSpec[] = [];
    try {
      for (const r of rules) {
        if (!this.#bandFamilies.has(r.family)) {
          this.#moveLocal(r.family);
          for (const f of fixedRules(r.family, this.#planOptions(this.#band))) {
            nl.addRule(f, false);
          }
          this.#bandFamilies.add(r.family);
        }
        if (r.goto === this.#base + 3) this.#ensureBlock(r.family);
        nl.addRule(r, false);
        added.push(r);
      }
    } catch (e) {
      for (const r of added) this.#quietDelete(r);
      throw e;
    }
    // The new rules are in: the replaced instance's rules go.
    if (old?.band) { for (const r of old.band) this.#quietDelete(r); }
    this.#instances.set(i.key, { index: i.index, selectors: i.selectors, band: rules });
  }

  /** Removes instance `key` (its SA is gone). Returns false when unknown. */
  removeInstance(key: string): boolean {
    const i = this.#instances.get(key);
    if (!i) return false;
    if (i.band === null) {
      this.apply(this.#entries, this.#specs().filter((s) => s.key !== key));
      return true;
    }
    for (const r of i.band) this.#quietDelete(r);
    this.#instances.delete(key);
    return true;
  }

  /** The instances held, in the band or in the slot. */
  get instanceCount(): { band: number; slot: number } {
    let band = 0;
    for (const i of this.#instances.values()) if (i.band !== null) band++;
    return { band, slot: this.#instances.size - band };
  }

  #specs(): GuardInstanceSpec[] {
    return [...this.#instances].map(([key, i]) => ({
      key,
      index: i.index,
      selectors: i.selectors,
    }));
  }

  #planOptions(priority: number): PlanOptions {
    return {
      tunName: this.#o.tunName,
      ikePorts: this.#o.ikePorts,
      priority,
      protoBlock: this.#base + 3,
      end: this.#base + 4,
    };
  }

  /** The band rules of instance `i` (its entry with the SA's selectors). */
  #bandRules(
    entries: readonly SpdEntry[],
    i: GuardInstanceSpec,
    band: number,
    warnings: Set<string>,
  ): RuleSpec[] {
    const { name: _name, ...entry } = entries[i.index];
    const out: RuleSpec[] = [];
    for (const f of [4, 6] as const) {
      entryRules(
        { ...entry, selectors: i.selectors },
        i.index,
        f,
        this.#planOptions(band),
        warnings,
        out,
      );
    }
    return out;
  }

  /**
   * The IPv4 any-protocol block `D` and its barrier, if not there yet. The
   * barrier first: only a `goto D` may reach the block, never a packet
   * falling through the slots while a set is being replaced or removed.
   */
  #ensureBlock(f: 4 | 6): void {
    if (this.#blocks.has(f)) return;
    const nl = this.#nl();
    const [barrier, block, end] = [this.#base + 2, this.#base + 3, this.#base + 4];
    nl.addRule({ family: f, priority: barrier, action: "goto", goto: end });
    try {
      for (let p = 1; p <= 255; p++) {
        nl.addRule({ family: f, priority: block, ipProto: p, action: "blackhole" }, false);
      }
    } catch (e) {
      nl.deleteRulesAt(f, block);
      nl.deleteRulesAt(f, barrier);
      throw e;
    }
    this.#blocks.add(f);
  }

  /** The slot part of {@linkcode apply}: `entries` with the non-band instances materialized. */
  #applySlot(
    entries: readonly SpdEntry[],
    bandFamilies: ReadonlySet<4 | 6>,
    bandBlocks: ReadonlySet<4 | 6>,
  ): InboundGuardPlan {
    const nl = this.#nl();
    const [barrier, block, end] = [this.#base + 2, this.#base + 3, this.#base + 4];
    const old = this.#slot;
    const slot = old === this.#base ? this.#base + 1 : this.#base;
    const plan = planInboundGuard(entries, {
      tunName: this.#o.tunName,
      ikePorts: this.#o.ikePorts,
      priority: slot,
      protoBlock: block,
      end,
      defaultDiscard: this.#o.defaultDiscard ?? false,
    });
    const families = new Set(plan.rules.map((r) => r.family));
    for (const f of families) this.#moveLocal(f);
    const newBlocks = [...new Set(plan.protoBlock.map((r) => r.family))]
      .filter((f) => !this.#blocks.has(f));
    try {
      for (const f of newBlocks) this.#ensureBlock(f);
      // Not exclusive: the kernel would call "from all blackhole" a duplicate of an
      // earlier "from X blackhole" of the same priority (it compares given fields only).
      for (const r of plan.rules) nl.addRule(r, false);
    } catch (e) {
      for (const f of families) nl.deleteRulesAt(f, slot);
      for (const f of newBlocks) {
        nl.deleteRulesAt(f, block);
        nl.deleteRulesAt(f, barrier);
        this.#blocks.delete(f);
      }
      throw e;
    }
    if (old !== null) { for (const f of [4, 6] as const) nl.deleteRulesAt(f, old); }
    for (const f of [...this.#blocks]) {
      if (plan.protoBlock.some((r) => r.family === f) || bandBlocks.has(f)) continue;
      nl.deleteRulesAt(f, block);
      nl.deleteRulesAt(f, barrier);
      this.#blocks.delete(f);
    }
    for (const f of [...this.#moved.keys()]) {
      if (!families.has(f) && !bandFamilies.has(f)) this.#restoreLocal(f);
    }
    this.#slot = slot;
    this.#installed = [...plan.rules];
    this.#plan = plan;
    return plan;
  }

  /** Removes every guard rule and puts the local lookup back at priority 0. Idempotent. */
  remove(): void {
    if (!this.#sink) return;
    const nl = this.#sink;
    try {
      for (const f of [4, 6] as const) {
        // The block before its barrier (see apply).
        const all = [this.#base - 2, this.#base - 1, this.#base, this.#base + 1];
        for (const p of [...all, this.#base + 3, this.#base + 2]) {
          nl.deleteRulesAt(f, p);
        }
      }
      this.#blocks.clear();
      for (const f of [...this.#moved.keys()]) this.#restoreLocal(f);
    } finally {
      this.#installed = [];
      this.#slot = null;
      this.#band = null;
      this.#bandFamilies.clear();
      this.#instances.clear();
      this.#entries = [];
      if (this.#ownsSink) (this.#sink as Netlink).close();
      if (this.#ownsSink) this.#sink = null;
      this.#ownsSink = false;
    }
  }

  #moveLocal(f: 4 | 6): void {
    if (this.#moved.has(f)) return;
    const nl = this.#nl();
    const end = { family: f, priority: this.#base + 4, table: RT_TABLE_LOCAL };
    let leftover = false;
    try {
      nl.addRule(end);
    } catch (e) {
      if (!(e instanceof NetlinkError && e.errno === EEXIST)) throw e;
      leftover = true; // a crashed run moved it: it was at 0 before that
    }
    let restore = leftover;
    try {
      nl.deleteRule({ family: f, priority: 0, table: RT_TABLE_LOCAL });
      restore = true;
    } catch (e) {
      if (!(e instanceof NetlinkError && e.errno === ENOENT)) throw e;
    }
    this.#moved.set(f, restore);
  }

  #restoreLocal(f: 4 | 6): void {
    const nl = this.#nl();
    if (this.#moved.get(f)) {
      try {
        nl.addRule({ family: f, priority: 0, table: RT_TABLE_LOCAL });
      } catch (e) {
        if (!(e instanceof NetlinkError && e.errno === EEXIST)) throw e;
      }
    }
    this.#quietDelete({ family: f, priority: this.#base + 4, table: RT_TABLE_LOCAL });
    this.#moved.delete(f);
  }

  #quietDelete(r: RuleSpec): void {
    try {
      this.#nl().deleteRule(r);
    } catch (e) {
      if (!(e instanceof NetlinkError && e.errno === ENOENT)) throw e;
    }
  }
}
