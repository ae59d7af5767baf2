import assert from "node:assert/strict";
import { describeRule, NetlinkError, type RuleSpec } from "../../ffi/netlink.ts";
import { buildSpdEntries } from "../../lib/config/build.ts";
import { loadConfig, parseConfig } from "../../lib/config/parse.ts";
import { ipToBytes, parseIp } from "../../lib/db/address.ts";
import {
  InboundGuard,
  InboundGuardError,
  type InboundGuardPlan,
  planInboundGuard,
  rangeToPrefixes,
  type RuleSink,
} from "../../lib/dataplane/inbound_guard.ts";
import {
  hasPorts,
  isTypeProtocol,
  OPAQUE,
  type PacketTuple,
  type PortSelector,
  type Selector,
} from "../../lib/db/selector.ts";
import { Spd, type SpdEntry } from "../../lib/db/spd.ts";
import { parseIdentityPattern } from "../../lib/db/identity.ts";
import { randomEntries, randomPacket, Rng } from "../db/_random_policy.ts";
import { siteConfig } from "../netns/_tunnel.ts";

const EXAMPLES = new URL("../../examples/", import.meta.url).pathname;
const OPTS = { tunName: "ipsec0", priority: 100, protoBlock: 102, end: 103 } as const;
const FIXED_V4 = [
  "100: from all iif ipsec0 goto 103",
  "100: from all iif lo goto 103",
  "100: from all ipproto 50 goto 103",
  "100: from all ipproto 51 goto 103",
  "100: from all ipproto 17 dport 500 goto 103",
  "100: from all ipproto 17 dport 4500 goto 103",
];

// The seeds' host SPD (examples/host_spd.yaml, host 1.2.3.101):
//  1 BYPASS IKE (UDP 500/500)   2 BYPASS ICMP   3 PROTECT intranet 1.2.3.0/24 (transport)
//  4 DISCARD DMZ 1.2.4.0/24     5 BYPASS Internet
// Inbound clear packets: IKE and ICMP pass, intranet and DMZ are dropped, the
// rest passes (entry 5 needs no rule: nothing after it drops). IPv4 only.
Deno.test("planInboundGuard(): the seeds' host SPD", async () => {
  const entries = buildSpdEntries(await loadConfig(`${EXAMPLES}host_spd.yaml`));
  const plan = planInboundGuard(entries, OPTS);
  assert.deepEqual(plan.rules.map(describeRule), [
    ...FIXED_V4,
    "100: from all to 1.2.3.101/32 ipproto 17 sport 500 dport 500 goto 103",
    "100: from all to 1.2.3.101/32 ipproto 1 goto 103",
    // IPv4 drops of any protocol go through D (ARP's lookups, protocol 0, pass).
    "100: from 1.2.3.0/24 to 1.2.3.101/32 goto 102",
    "100: from 1.2.4.0/24 to 1.2.3.101/32 goto 102",
    "100: from all goto 103",
  ]);
  assert.equal(plan.protoBlock.length, 255);
  assert.equal(describeRule(plan.protoBlock[0]), "102: from all ipproto 1 blackhole");
  assert.equal(describeRule(plan.protoBlock[254]), "102: from all ipproto 255 blackhole");
  assert.deepEqual(plan.warnings, []);
});

// The same SPD with RFC 4301's default DISCARD (an explicit `policies:` list):
// entry 5 now needs its rule, and what matches nothing (another local
// address, IPv6) is dropped after the fixed exemptions.
Deno.test("planInboundGuard(): default DISCARD after the last entry", async () => {
  const entries = buildSpdEntries(await loadConfig(`${EXAMPLES}host_spd.yaml`));
  const plan = planInboundGuard(entries, { ...OPTS, defaultDiscard: true });
  const v4 = plan.rules.filter((r) => r.family === 4).map(describeRule);
  assert.deepEqual(v4.slice(FIXED_V4.length), [
    "100: from all to 1.2.3.101/32 ipproto 17 sport 500 dport 500 goto 103",
    "100: from all to 1.2.3.101/32 ipproto 1 goto 103",
    "100: from 1.2.3.0/24 to 1.2.3.101/32 goto 102",
    "100: from 1.2.4.0/24 to 1.2.3.101/32 goto 102",
    "100: from all to 1.2.3.101/32 goto 103", // 5 BYPASS Internet
    "100: from all goto 102", // the default: everything else (nothing falls into D)
  ]);
  const v6 = plan.rules.filter((r) => r.family === 6).map(describeRule);
  assert.equal(v6.at(-1), "100: from all blackhole");
  assert.ok(v6.includes("100: from all ipproto 58 goto 103"), "ICMPv6 (neighbour discovery)");
  // Without the flag nothing changes (the test above).
  assert.equal(planInboundGuard(entries, OPTS).rules.some((r) => r.family === 6), false);
});

// tests/netns/_tunnel.ts's site-to-site config of side A: protect
// 10.1.0.0/24 <-> 10.2.0.0/24, IKE bypass for 192.0.2.1 (ports 500, 4500).
Deno.test("planInboundGuard(): site-to-site tunnel config drops clear traffic from the remote subnet", () => {
  const entries = buildSpdEntries(parseConfig(siteConfig("a", "tunnel")));
  const plan = planInboundGuard(entries, OPTS);
  assert.deepEqual(plan.rules.map(describeRule), [
    ...FIXED_V4,
    "100: from all to 192.0.2.1/32 ipproto 17 dport 500 goto 103",
    "100: from all to 192.0.2.1/32 ipproto 17 dport 4500 goto 103",
    "100: from 10.2.0.0/24 to 10.1.0.0/24 goto 102",
    "100: from all goto 103",
  ]);
});

function sel(p: Partial<Selector>): Selector {
  return {
    localAddress: { kind: "any" },
    remoteAddress: { kind: "any" },
    protocol: "any",
    localPort: { kind: "any" },
    remotePort: { kind: "any" },
    ...p,
  };
}
const PROTECT = { protocol: "esp", mode: "transport", proposals: [] } as const;
const v4 = (a: string, b: string) => ({
  kind: "range" as const,
  version: 4 as const,
  start: parseIp(a)!.value as number,
  end: parseIp(b)!.value as number,
});

Deno.test("planInboundGuard(): ranges split into prefixes, both families for ANY, ICMPv6 passes", () => {
  const plan = planInboundGuard([
    { selectors: [sel({ remoteAddress: v4("10.0.0.1", "10.0.0.6") })], action: "discard" },
    {
      selectors: [sel({ protocol: 6, localPort: { kind: "range", start: 22, end: 22 } })],
      action: "protect",
      processing: PROTECT,
    },
  ], { ...OPTS, ikePorts: [500, 4500, 4501] });
  assert.deepEqual(plan.rules.map(describeRule), [
    ...FIXED_V4,
    "100: from all ipproto 17 dport 4501 goto 103",
    "100: from 10.0.0.1/32 goto 102",
    "100: from 10.0.0.2/31 goto 102",
    "100: from 10.0.0.4/31 goto 102",
    "100: from 10.0.0.6/32 goto 102",
    "100: from all ipproto 6 dport 22 blackhole",
    "100: from all goto 103",
    ...FIXED_V4,
    "100: from all ipproto 17 dport 4501 goto 103",
    "100: from all ipproto 58 goto 103",
    "100: from all ipproto 6 dport 22 blackhole",
  ]);
  assert.deepEqual([...new Set(plan.rules.map((r) => r.family))], [4, 6]);
});

Deno.test("planInboundGuard(): what rules cannot express is widened, clamped or skipped, with a warning", () => {
  const entries: SpdEntry[] = [
    // ICMP echo request only: rules match no ICMP types -> all ICMP.
    {
      label: "ping",
      selectors: [sel({ protocol: 1, remotePort: { kind: "range", start: 0x800, end: 0x8ff } })],
      action: "discard",
    },
    // Ports up to 65535: 65535 cannot be matched.
    {
      label: "high",
      selectors: [sel({ protocol: 17, localPort: { kind: "range", start: 1024, end: 65535 } })],
      action: "discard",
    },
    {
      label: "frag",
      selectors: [sel({ protocol: 6, localPort: { kind: "opaque" } })],
      action: "discard",
    },
    {
      label: "named",
      selectors: [sel({})],
      name: { kind: "fqdn", value: "x" } as never,
      action: "protect",
      processing: PROTECT,
    },
    { label: "out", selectors: [sel({})], action: "discard", direction: "outbound" },
  ];
  const plan = planInboundGuard(entries.filter((e) => e.name === undefined), OPTS);
  const v4Rules = plan.rules.filter((r) => r.family === 4).map(describeRule);
  assert.deepEqual(v4Rules.slice(FIXED_V4.length), [
    "100: from all ipproto 1 blackhole",
    "100: from all ipproto 17 dport 1024-65534 blackhole",
  ]);
  assert.deepEqual(plan.warnings, [
    "SPD entry 0 (ping): rules cannot match ICMP/MH types: applied to all of protocol 1",
    "SPD entry 1 (high): rules cannot match ports 0 and 65535: left out of 1024-65535",
    "SPD entry 2 (frag): OPAQUE ports cannot be matched by a rule; skipped",
  ]);
  const anyPorts = planInboundGuard([{
    selectors: [sel({ localPort: { kind: "range", start: 22, end: 22 } })],
    action: "discard",
  }], OPTS);
  assert.match(
    anyPorts.warnings.join(),
    /protocol ANY, rules match port ranges for port protocols only/,
  );
  assert.equal(describeRule(anyPorts.rules[FIXED_V4.length]), "100: from all dport 22 goto 102");
  // Named and outbound-only entries match no inbound clear packet: no rules.
  assert.deepEqual(planInboundGuard([entries[4]], OPTS).rules, []);
  const named: SpdEntry = { ...entries[3], name: { kind: "any" } as never };
  assert.deepEqual(planInboundGuard([named], OPTS).rules, []);
  // Only BYPASS: nothing to drop, no rules at all.
  assert.deepEqual(planInboundGuard([{ selectors: [sel({})], action: "bypass" }], OPTS).rules, []);
});

Deno.test("planInboundGuard(): too many prefixes is a typed error that says what to change", () => {
  const ugly = v4("0.0.0.1", "255.255.255.254"); // 62 prefixes
  const s = sel({ remoteAddress: ugly, localAddress: ugly }); // 3844 rules
  const entries: SpdEntry[] = [{
    label: "ugly",
    selectors: [s, { ...s, protocol: 6 }],
    action: "discard",
  }];
  assert.throws(() => planInboundGuard(entries, OPTS), (e) => {
    assert(e instanceof InboundGuardError);
    assert.match(e.message, /more than 4096 IPv4 guard rules .*\(ugly\).*use prefixes/);
    return true;
  });
});

Deno.test("rangeToPrefixes(): minimal aligned cover (IPv4 and IPv6)", () => {
  const show = (lo: bigint, hi: bigint, bits: number) =>
    rangeToPrefixes(lo, hi, bits).map((p) => `${p.start}/${p.prefixLength}`);
  assert.deepEqual(show(0n, 0xffffffffn, 32), ["0/0"]);
  assert.deepEqual(show(1n, 6n, 32), ["1/32", "2/31", "4/31", "6/32"]);
  assert.deepEqual(show(0xffffffffn, 0xffffffffn, 32), ["4294967295/32"]);
  const max6 = (1n << 128n) - 1n;
  assert.deepEqual(show(0n, max6, 128), ["0/0"]);
  assert.deepEqual(show(1n << 127n, max6 - 1n, 128).length, 127);
});

// The rules, evaluated as the kernel does (first match, goto = pass, blackhole
// = drop, no match = pass), must decide every clear packet like the SPD's own
// inbound lookup (lib/db/classifier.ts, a different code path), for random
// policies restricted to what rules can express exactly.
Deno.test("planInboundGuard(): rules decide like Spd.lookupInbound on random SPDs and packets", () => {
  const r = new Rng(4301);
  const expressible = (p: PortSelector): PortSelector => {
    if (p.kind !== "range") return { kind: "any" };
    const start = Math.max(p.start, 1);
    const end = Math.min(p.end, 65534);
    return start > end ? { kind: "any" } : { kind: "range", start, end };
  };
  let compared = 0;
  for (let round = 0; round < 60; round++) {
    const entries = randomEntries(r, 12, 1024).map((e): SpdEntry => ({
      ...e,
      selectors: e.selectors.map((s) => {
        const typed = typeof s.protocol === "number" && isTypeProtocol(s.protocol);
        return {
          ...s,
          protocol: s.protocol === "opaque" ? "any" : s.protocol,
          localPort: typed ? { kind: "any" } : expressible(s.localPort),
          remotePort: typed ? { kind: "any" } : expressible(s.remotePort),
        };
      }),
    }));
    const spd = new Spd(entries, { cacheSize: 0 });
    const plan = planInboundGuard(entries, OPTS);
    const warnings = plan.warnings;
    // Port ranges with protocol ANY also match ICMP/MH types in the SPD (the
    // type rides in the port field); rules cannot, and the plan says so.
    const typedQuirk = warnings.some((w) => /protocol ANY/.test(w));
    assert.deepEqual(warnings.filter((w) => !/protocol ANY/.test(w)), []);
    for (let k = 0; k < 300; k++) {
      const t = randomPacket(r, 1024);
      const ports = hasPorts(t.protocol);
      if (ports && [t.localPort, t.remotePort].some((p) => p <= 0 || p >= 65535)) continue;
      if (!ports && !isTypeProtocol(t.protocol) && t.localPort !== OPAQUE) continue;
      if (typedQuirk && isTypeProtocol(t.protocol)) continue;
      if (t.protocol === 0) continue; // IPv4 protocol 0 is what ARP's lookups carry: passes
      const exempt = t.protocol === 50 || t.protocol === 51 ||
        (t.protocol === 17 && (t.localPort === 500 || t.localPort === 4500)) ||
        (t.version === 6 && t.protocol === 58);
      const d = spd.lookupInbound(t);
      const spdDrops = !exempt && d.index >= 0 && d.action === "discard";
      assert.equal(kernelDrops(plan, t, "eth0"), spdDrops, `${JSON.stringify(t, big)} ${d.index}`);
      // Decrypted (TUN) and locally generated packets are never touched.
      assert.equal(kernelDrops(plan, t, "ipsec0"), false);
      assert.equal(kernelDrops(plan, t, "lo"), false);
      compared++;
    }
  }
  assert(compared > 4000, `${compared}`);
});

const big = (_k: string, v: unknown) => typeof v === "bigint" ? v.toString() : v;

function inPrefix(p: RuleSpec["from"], x: number | bigint, v: 4 | 6): boolean {
  if (!p) return true;
  const bytes = ipToBytes(
    v === 4 ? { version: 4, value: Number(x) } : { version: 6, value: BigInt(x) },
  );
  for (let bit = 0; bit < p.prefixLength; bit++) {
    const m = 0x80 >> (bit & 7);
    if ((bytes[bit >> 3] & m) !== (p.address[bit >> 3] & m)) return false;
  }
  return true;
}

/**
 * The FIB rule walk for a received packet (inbound: src = remote, dst =
 * local): first match; "goto" continues at the first rule of that priority.
 */
function kernelDrops(plan: InboundGuardPlan, t: PacketTuple, iif: string): boolean {
  return walkRules([...plan.rules, ...plan.protoBlock], t, iif);
}

/**
 * First match over `all` (in the kernel's order); "goto" continues at the
 * first rule of that priority, a lookup (the local table) delivers.
 */
function walkRules(all: readonly RuleSpec[], t: PacketTuple, iif: string): boolean {
  // Like the kernel's flow dissector: real ports only for port protocols, else 0.
  const ports = hasPorts(t.protocol);
  const sport = ports ? t.remotePort : 0;
  const dport = ports ? t.localPort : 0;
  for (let i = 0; i < all.length; i++) {
    const r = all[i];
    if (r.family !== t.version) continue;
    if (r.iif !== undefined && r.iif !== iif) continue;
    if (!inPrefix(r.from, t.remoteAddress, t.version)) continue;
    if (!inPrefix(r.to, t.localAddress, t.version)) continue;
    if (r.ipProto !== undefined && r.ipProto !== t.protocol) continue;
    if (r.sport && (sport < r.sport[0] || sport > r.sport[1])) continue;
    if (r.dport && (dport < r.dport[0] || dport > r.dport[1])) continue;
    if (r.table !== undefined) return false; // lookup local: delivered
    if (r.action === "blackhole") return true;
    assert.equal(r.action, "goto");
    const next = all.findIndex((x) => x.family === t.version && x.priority === r.goto);
    if (next < 0) return false; // E: lookup local
    i = next - 1;
  }
  return false;
}

// Transport mode, host to host: a drop of every protocol from the peer. ARP
// asks the FIB about (peer, me) with protocol 0 and must still get an answer.
Deno.test("planInboundGuard(): transport mode drops the peer's clear packets but not ARP's lookups", () => {
  const entries = buildSpdEntries(parseConfig(siteConfig("a", "transport")));
  const plan = planInboundGuard(entries, OPTS);
  const peer = (protocol: number): PacketTuple => ({
    version: 4,
    localAddress: parseIp("192.0.2.1")!.value as number,
    remoteAddress: parseIp("192.0.2.2")!.value as number,
    protocol,
    localPort: protocol === 6 ? 22 : OPAQUE,
    remotePort: protocol === 6 ? 40000 : OPAQUE,
  });
  assert.equal(kernelDrops(plan, peer(6), "va"), true);
  assert.equal(kernelDrops(plan, peer(47), "va"), true);
  assert.equal(kernelDrops(plan, peer(255), "va"), true);
  assert.equal(kernelDrops(plan, peer(0), "va"), false); // ARP
  assert.equal(kernelDrops(plan, peer(50), "va"), false); // ESP
});

/** Records calls; answers like the kernel for the local-rule moves. */
class FakeSink implements RuleSink {
  calls: string[] = [];
  rules: RuleSpec[] = [];
  failOn?: (r: RuleSpec) => boolean;
  constructor(readonly leftover = false) {
    for (const f of [4, 6] as const) this.rules.push({ family: f, priority: 0, table: 255 });
    if (leftover) {
      this.rules = this.rules.filter((r) => r.family !== 4);
      this.rules.push({ family: 4, priority: 104, table: 255 });
    }
  }
  /** Moments when a packet falling through the slots could reach the drop block. */
  exposed: string[] = [];
  #check(after: string): void {
    for (const f of [4, 6] as const) {
      const at = (p: number) => this.rules.some((r) => r.family === f && r.priority === p);
      if (at(103) && !at(102)) this.exposed.push(after);
    }
  }
  addRule(r: RuleSpec, exclusive = true): void {
    if (this.failOn?.(r)) throw new NetlinkError("add rule", 22);
    const same = (x: RuleSpec) => describeRule(x) === describeRule(r) && x.family === r.family;
    if (exclusive && this.rules.some(same)) throw new NetlinkError("add rule", 17);
    this.calls.push(`add${exclusive ? "" : "*"} v${r.family} ${describeRule(r)}`);
    this.rules.push(r);
    this.#check(this.calls.at(-1)!);
  }
  deleteRule(r: RuleSpec): void {
    const i = this.rules.findIndex((x) =>
      describeRule(x) === describeRule(r) && x.family === r.family
    );
    if (i < 0) throw new NetlinkError("delete rule", 2);
    this.calls.push(`del v${r.family} ${describeRule(r)}`);
    this.rules.splice(i, 1);
    this.#check(this.calls.at(-1)!);
  }
  deleteRulesAt(family: 4 | 6, priority: number): number {
    const before = this.rules.length;
    this.rules = this.rules.filter((x) => x.family !== family || x.priority !== priority);
    const n = before - this.rules.length;
    if (n) this.calls.push(`flush v${family} ${priority} (${n})`);
    this.#check(`flush v${family} ${priority}`);
    return n;
  }
  show(family: 4 | 6): string[] {
    return this.rules.filter((r) => r.family === family).sort((a, b) => a.priority - b.priority)
      .map(describeRule);
  }
}

const SITE = buildSpdEntries(parseConfig(siteConfig("a", "tunnel")));
const DROP = "100: from 10.2.0.0/24 to 10.1.0.0/24 goto 103";

Deno.test("InboundGuard: moves the local lookup behind the rules, replaces make-before-break, restores on remove", () => {
  const sink = new FakeSink();
  const guard = new InboundGuard({ tunName: "ipsec0" }, sink);
  guard.apply(SITE);
  // The local lookup is added at 104 before the one at 0 goes: never without it.
  assert.deepEqual(sink.calls.slice(0, 3), [
    "add v4 104: from all lookup 255",
    "del v4 0: from all lookup 255",
    "add v4 102: from all goto 104", // the barrier in front of the block
  ]);
  // Then the drop block D, then the rules that jump to it.
  assert(
    sink.calls.slice(3, 258).every((c) => /^add\* v4 103: from all ipproto \d+ blackhole$/.test(c)),
  );
  assert(sink.calls.slice(258).every((c) => c.startsWith("add* v4 100:")), sink.calls.join("\n"));
  const v4 = sink.show(4);
  assert.deepEqual(v4.slice(8, 10), [DROP, "100: from all goto 104"]);
  assert.equal(v4.at(-1), "104: from all lookup 255");
  assert.deepEqual(sink.show(6), ["0: from all lookup 255"]); // no IPv6 policy: untouched
  assert.equal(guard.installed.length, 10);

  // A new SPD goes to priority 101 first, then 100 is flushed; D stays.
  sink.calls = [];
  guard.apply(SITE);
  assert.equal(sink.calls.at(-1), "flush v4 100 (10)");
  assert(sink.calls.slice(0, -1).every((c) => c.startsWith("add* v4 101:")));
  assert.equal(sink.show(4).filter((r) => r.startsWith("103:")).length, 255);

  // A failing add leaves the previous set in place.
  sink.failOn = (r) => r.goto === 103;
  assert.throws(() => guard.apply(SITE), NetlinkError);
  assert.equal(sink.show(4).filter((r) => r.startsWith("101:")).length, 10);
  assert.equal(sink.show(4).filter((r) => r.startsWith("100:")).length, 0);
  sink.failOn = undefined;

  // An SPD without drops: the rules and the move are undone.
  guard.apply([{ selectors: [sel({})], action: "bypass" }]);
  assert.deepEqual(sink.show(4), ["0: from all lookup 255"]);

  guard.apply(SITE);
  guard.remove();
  assert.deepEqual(sink.show(4), ["0: from all lookup 255"]);
  assert.deepEqual(sink.show(6), ["0: from all lookup 255"]);
  assert.deepEqual(guard.installed, []);
  guard.remove(); // idempotent
  // Never, between two calls, could a packet fall through into the block.
  assert.deepEqual(sink.exposed, []);
});

Deno.test("InboundGuard: leftovers of a crashed run are flushed and the local rule is put back at 0", () => {
  const sink = new FakeSink(true);
  sink.rules.push({ family: 4, priority: 100, action: "blackhole" });
  sink.rules.push({ family: 4, priority: 101, action: "blackhole" });
  sink.rules.push({ family: 4, priority: 102, action: "goto", goto: 104 });
  sink.rules.push({ family: 4, priority: 103, ipProto: 6, action: "blackhole" });
  const guard = new InboundGuard({ tunName: "ipsec0" }, sink);
  guard.apply(SITE);
  assert.deepEqual(sink.calls.slice(0, 4), [
    "flush v4 100 (1)",
    "flush v4 101 (1)",
    "flush v4 103 (1)", // the block before its barrier
    "flush v4 102 (1)",
  ]);
  guard.remove();
  assert.deepEqual(sink.show(4), ["0: from all lookup 255"]);
});

/** The kernel's walk over everything in `sink` (priority order, then insertion order). */
function sinkDrops(sink: FakeSink, t: PacketTuple, iif: string): boolean {
  // sort() is stable: insertion order within a priority.
  return walkRules([...sink.rules].sort((a, b) => a.priority - b.priority), t, iif);
}

const clientTuple = (remote: string, protocol = 17, localPort = 53): PacketTuple => ({
  version: 4,
  localAddress: parseIp("10.1.0.5")!.value as number,
  remoteAddress: parseIp(remote)!.value as number,
  protocol,
  localPort: hasPorts(protocol) ? localPort : OPAQUE,
  remotePort: hasPorts(protocol) ? 40000 : OPAQUE,
});

/*
 * A road-warrior gateway: each client SA's instance of the named entry is
 * one rule added or deleted in the instance band (98/99), not a rewrite of
 * the whole set, and the rules decide like the SPD with its instances.
 */
Deno.test("InboundGuard: SA instances of a named entry are one rule each in the band, decided like the SPD", () => {
  const named: SpdEntry = {
    label: "rw",
    name: parseIdentityPattern("*@example.com"),
    selectors: [
      sel({
        localAddress: v4("10.1.0.0", "10.1.255.255"),
        remoteAddress: v4("10.3.0.0", "10.3.255.255"),
      }),
    ],
    action: "protect",
    processing: { ...PROTECT, mode: "tunnel" },
  };
  const entries: SpdEntry[] = [
    // Earlier BYPASS that overlaps no client: instances may go to the band.
    { selectors: [sel({ remoteAddress: v4("10.9.0.0", "10.9.255.255") })], action: "bypass" },
    named,
  ];
  const client = (n: number) => ({
    key: `esp:${n}`,
    index: 1,
    selectors: [
      sel({
        localAddress: v4("10.1.0.0", "10.1.255.255"),
        remoteAddress: v4(`10.3.0.${n}`, `10.3.0.${n}`),
      }),
    ],
  });
  const sink = new FakeSink();
  const guard = new InboundGuard({ tunName: "ipsec0" }, sink);
  guard.apply(entries, [client(1)]);
  assert.deepEqual(guard.instanceCount, { band: 1, slot: 0 });
  assert.ok(
    sink.show(4).includes("98: from 10.3.0.1/32 to 10.1.0.0/16 goto 103"),
    sink.show(4).join("\n"),
  );
  assert.equal(sinkDrops(sink, clientTuple("10.3.0.1"), "va"), true);
  assert.equal(
    sinkDrops(sink, clientTuple("10.3.0.1"), "ipsec0"),
    false,
    "decrypted traffic passes",
  );
  assert.equal(sinkDrops(sink, clientTuple("10.3.0.1", 50), "va"), false, "ESP passes");
  assert.equal(sinkDrops(sink, clientTuple("10.3.0.1", 17, 500), "va"), false, "IKE passes");
  assert.equal(sinkDrops(sink, clientTuple("10.3.0.2"), "va"), false);

  // One client more, one client less: one rule each.
  sink.calls = [];
  guard.addInstance(client(2));
  assert.deepEqual(sink.calls, ["add* v4 98: from 10.3.0.2/32 to 10.1.0.0/16 goto 103"]);
  sink.calls = [];
  assert.equal(guard.removeInstance("esp:1"), true);
  assert.equal(guard.removeInstance("esp:1"), false);
  assert.deepEqual(sink.calls, ["del v4 98: from 10.3.0.1/32 to 10.1.0.0/16 goto 103"]);
  assert.equal(sinkDrops(sink, clientTuple("10.3.0.1"), "va"), false);
  assert.equal(sinkDrops(sink, clientTuple("10.3.0.2"), "va"), true);

  // Against the SPD with the same instances, over many packets.
  const spd = new Spd(entries);
  spd.addInstance(1, client(2).selectors);
  for (const remote of ["10.3.0.1", "10.3.0.2", "10.9.0.1", "10.4.0.1"]) {
    for (const [proto, port] of [[17, 53], [6, 22], [1, 0], [47, 0]]) {
      const t = clientTuple(remote, proto, port);
      const d = spd.lookupInbound(t);
      assert.equal(
        sinkDrops(sink, t, "va"),
        d.action !== "bypass" && d.index >= 0,
        `${remote} ${proto}`,
      );
    }
  }

  // A reload moves the band make-before-break (98 -> 99) with the instances given.
  guard.apply(entries, [client(2), client(3)]);
  assert.ok(!sink.show(4).some((r) => r.startsWith("98:")));
  assert.equal(sink.show(4).filter((r) => r.startsWith("99: from 10.3.0.")).length, 2);

  // An earlier BYPASS overlapping the clients (DNS from the pool): instances
  // then sit at their entry's place in the slot, exact, and DNS passes.
  const dns: SpdEntry = {
    selectors: [
      sel({
        remoteAddress: v4("10.3.0.0", "10.3.0.255"),
        protocol: 17,
        localPort: { kind: "range", start: 53, end: 53 },
      }),
    ],
    action: "bypass",
  };
  guard.apply([dns, named], [client(2)]);
  assert.deepEqual(guard.instanceCount, { band: 0, slot: 1 });
  assert.equal(sinkDrops(sink, clientTuple("10.3.0.2", 17, 53), "va"), false);
  assert.equal(sinkDrops(sink, clientTuple("10.3.0.2", 6, 22), "va"), true);
  guard.addInstance(client(4)); // the whole set again, still exact
  assert.equal(sinkDrops(sink, clientTuple("10.3.0.4", 6, 22), "va"), true);
  assert.equal(sinkDrops(sink, clientTuple("10.3.0.4", 17, 53), "va"), false);

  // Refused: an instance of an entry that is not PROTECT; nothing changes.
  const before = sink.show(4);
  assert.throws(() => guard.addInstance({ ...client(5), index: 0 }), InboundGuardError);
  assert.deepEqual(sink.show(4), before);

  guard.remove();
  assert.deepEqual(sink.show(4), ["0: from all lookup 255"]);
  assert.deepEqual(sink.exposed, []);
});
