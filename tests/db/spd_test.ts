import assert from "node:assert/strict";
import { boxContains } from "../../lib/db/box.ts";
import { parseIdentity, parseIdentityPattern } from "../../lib/db/identity.ts";
import {
  ANY_SELECTOR,
  IpProto,
  OPAQUE,
  packetTuple,
  parseAddressSelector,
  portRange,
  type Selector,
  selectorMatches,
} from "../../lib/db/selector.ts";
import {
  type AuditEvent,
  firstMatch,
  type ProcessingInfo,
  Spd,
  type SpdEntry,
  SpdError,
  withInstances,
} from "../../lib/db/spd.ts";
import { parseProposals } from "../../lib/crypto/proposal.ts";
import { randomEntries, randomPacket, randomSelector, Rng } from "./_random_policy.ts";

const ESP_TRANSPORT: ProcessingInfo = {
  protocol: "esp",
  mode: "transport",
  proposals: parseProposals("aes128gcm16", "esp"),
};

function sel(p: Partial<Record<keyof Selector, unknown>> & Record<string, unknown>): Selector {
  return {
    localAddress: parseAddressSelector(String(p.local ?? "any")),
    remoteAddress: parseAddressSelector(String(p.remote ?? "any")),
    protocol: (p.protocol as Selector["protocol"]) ?? "any",
    localPort: (p.localPort as Selector["localPort"]) ?? { kind: "any" },
    remotePort: (p.remotePort as Selector["remotePort"]) ?? { kind: "any" },
  };
}

// The host SPD of the issue's fixture (after RFC 4301's host example): host
// 1.2.3.101 on intranet 1.2.3.0/24, DMZ 1.2.4.0/24, everything else Internet.
//   1 BYPASS  IKE (UDP 500 both ways)
//   2 BYPASS  ICMP
//   3 PROTECT intranet, ESP transport
//   4 DISCARD DMZ
//   5 BYPASS  Internet
function hostSpd(onAudit?: (e: AuditEvent) => void): Spd {
  const host = "1.2.3.101";
  return new Spd([
    {
      label: "ike",
      selectors: [sel({
        local: host,
        protocol: IpProto.UDP,
        localPort: portRange(500, 500),
        remotePort: portRange(500, 500),
      })],
      action: "bypass",
    },
    { label: "icmp", selectors: [sel({ local: host, protocol: IpProto.ICMP })], action: "bypass" },
    {
      label: "intranet",
      selectors: [sel({ local: host, remote: "1.2.3.0/24" })],
      action: "protect",
      processing: ESP_TRANSPORT,
    },
    { label: "dmz", selectors: [sel({ local: host, remote: "1.2.4.0/24" })], action: "discard" },
    { label: "internet", selectors: [sel({ local: host })], action: "bypass" },
  ], { onAudit });
}

Deno.test("Spd: the host SPD example decides like its table", () => {
  const events: AuditEvent[] = [];
  const spd = hostSpd((e) => events.push(e));
  const out = (dst: string, protocol: number, dstPort?: number, srcPort = 40000) =>
    spd.lookupOutbound(
      packetTuple({ src: "1.2.3.101", dst, protocol, srcPort, dstPort, direction: "outbound" }),
    ).entry?.label ?? "default";
  assert.deepStrictEqual(out("1.2.3.1", IpProto.UDP, 500, 500), "ike");
  assert.deepStrictEqual(out("1.2.4.10", IpProto.UDP, 500, 500), "ike");
  assert.deepStrictEqual(out("1.2.3.1", IpProto.UDP, 53), "intranet");
  assert.deepStrictEqual(out("1.2.4.10", IpProto.TCP, 80), "dmz");
  assert.deepStrictEqual(out("8.8.8.8", IpProto.TCP, 443), "internet");
  assert.deepStrictEqual(
    spd.lookupOutbound(packetTuple({
      src: "1.2.3.101",
      dst: "1.2.4.7",
      protocol: IpProto.ICMP,
      icmpType: 8,
      direction: "outbound",
    })).entry?.label,
    "icmp",
  );
  // A packet from another source matches nothing: default DISCARD, audited.
  const d = spd.lookupOutbound(
    packetTuple({ src: "9.9.9.9", dst: "8.8.8.8", protocol: 6, direction: "outbound" }),
  );
  assert.deepStrictEqual(d.action, "discard");
  assert.deepStrictEqual(d.index, -1);
  assert.deepStrictEqual(spd.discards["no-policy"], 1);
  assert.deepStrictEqual(spd.discards["policy-discard"], 1);
  assert.deepStrictEqual(events.map((e) => e.reason), ["policy-discard", "no-policy"]);
});

Deno.test("Spd: inbound plaintext matching PROTECT is discarded as 'unprotected'", () => {
  const spd = hostSpd();
  const inb = packetTuple({
    src: "1.2.3.9",
    dst: "1.2.3.101",
    protocol: IpProto.TCP,
    srcPort: 5555,
    dstPort: 22,
    direction: "inbound",
  });
  const d = spd.lookupInbound(inb);
  assert.deepStrictEqual(d.action, "discard");
  assert.deepStrictEqual(d.entry?.label, "intranet");
  assert.deepStrictEqual(spd.discards.unprotected, 1);
  const web = packetTuple({
    src: "8.8.8.8",
    dst: "1.2.3.101",
    protocol: IpProto.TCP,
    srcPort: 443,
    dstPort: 40000,
    direction: "inbound",
  });
  assert.deepStrictEqual(spd.lookupInbound(web).action, "bypass");
});

Deno.test("Spd: decrypted inbound packets are checked against the SA's selectors", () => {
  const spd = hostSpd();
  const saSelectors = [sel({ local: "1.2.3.101", remote: "1.2.3.9" })];
  const ok = packetTuple({ src: "1.2.3.9", dst: "1.2.3.101", protocol: 6, direction: "inbound" });
  const spoof = packetTuple({
    src: "1.2.3.10",
    dst: "1.2.3.101",
    protocol: 6,
    direction: "inbound",
  });
  assert.ok(spd.checkInboundProtected(ok, saSelectors));
  assert.ok(!spd.checkInboundProtected(spoof, saSelectors));
  assert.deepStrictEqual(spd.discards["sa-selector-mismatch"], 1);
});

Deno.test("Spd: the flow cache answers repeated packets and counts hits", () => {
  const spd = hostSpd();
  const p = packetTuple({ src: "1.2.3.101", dst: "8.8.8.8", protocol: 6, direction: "outbound" });
  spd.lookupOutbound(p);
  spd.lookupOutbound(p);
  spd.lookupOutbound(p);
  assert.deepStrictEqual(spd.cacheStats.outbound.hits, 2);
  assert.deepStrictEqual(spd.cacheStats.outbound.misses, 1);
});

Deno.test("Spd: direction-specific entries apply to one direction only", () => {
  const spd = new Spd([
    { selectors: [ANY_SELECTOR], action: "bypass", direction: "outbound" },
  ]);
  const p = packetTuple({ src: "10.0.0.1", dst: "10.0.0.2", protocol: 17, direction: "outbound" });
  assert.deepStrictEqual(spd.lookupOutbound(p).action, "bypass");
  assert.deepStrictEqual(spd.lookupInbound(p).action, "discard");
});

Deno.test("Spd: named entries never match packets and are found by identity", () => {
  const spd = new Spd([
    {
      label: "company",
      name: parseIdentityPattern("*@company.com"),
      selectors: [{ ...ANY_SELECTOR, pfp: { remoteAddress: true } }],
      action: "protect",
      processing: { ...ESP_TRANSPORT, mode: "tunnel" },
    },
  ]);
  const p = packetTuple({ src: "10.0.0.1", dst: "10.0.0.2", protocol: 17, direction: "outbound" });
  assert.deepStrictEqual(spd.lookupOutbound(p).index, -1);
  assert.deepStrictEqual(spd.namedEntries(parseIdentity("alice@company.com")).length, 1);
  assert.deepStrictEqual(spd.namedEntries(parseIdentity("mallory@evil.com")).length, 0);
});

Deno.test("Spd: rejects PROTECT without processing info and BYPASS with it", () => {
  assert.throws(() => new Spd([{ selectors: [ANY_SELECTOR], action: "protect" }]), SpdError);
  assert.throws(
    () => new Spd([{ selectors: [ANY_SELECTOR], action: "bypass", processing: ESP_TRANSPORT }]),
    SpdError,
  );
  assert.throws(() => new Spd([{ selectors: [], action: "bypass" }]), /no selectors/);
  assert.throws(
    () =>
      new Spd([{
        selectors: [{ ...ANY_SELECTOR, name: parseIdentityPattern("*.example.com") }],
        action: "bypass",
      }]),
    /put the Name selector on the entry/,
  );
});

Deno.test("Spd property: compiled lookup equals a linear first-match scan", () => {
  const r = new Rng(0x5eed);
  for (let round = 0; round < 30; round++) {
    const n = 1 + r.int(round < 10 ? 12 : 150);
    const entries = randomEntries(r, n, round % 2 ? 512 : 65536);
    const spd = new Spd(entries, { cacheSize: round % 3 === 0 ? 0 : 64 });
    for (let k = 0; k < 400; k++) {
      const p = randomPacket(r, round % 2 ? 512 : 65536);
      const want = firstMatch(entries, p, "outbound");
      assert.deepStrictEqual(spd.lookupOutbound(p).index, want, `round ${round} packet ${k}`);
      const wantIn = firstMatch(entries, p, "inbound");
      const gotIn = spd.lookupInbound(p);
      assert.deepStrictEqual(gotIn.index, wantIn, `round ${round} inbound packet ${k}`);
      assert.deepStrictEqual(
        gotIn.action,
        wantIn >= 0 && entries[wantIn].action === "bypass" ? "bypass" : "discard",
      );
    }
  }
});

Deno.test("Spd property: decorrelated SPD-S/O/I are disjoint and agree with first match", () => {
  const r = new Rng(77);
  for (let round = 0; round < 12; round++) {
    const entries: SpdEntry[] = randomEntries(r, 2 + r.int(14), 256);
    const spd = new Spd(entries);
    const { spdS, spdO, spdI } = spd.decorrelated();
    for (const piece of spdS) assert.deepStrictEqual(piece.entry.action, "protect");
    for (const piece of [...spdO, ...spdI]) assert.ok(piece.entry.action !== "protect");
    const outPieces = [...spdS, ...spdO];
    for (let k = 0; k < 300; k++) {
      const p = randomPacket(r, 256);
      const hits = outPieces.filter((x) => boxContains(x.box, p));
      assert.ok(hits.length <= 1, "outbound pieces overlap");
      assert.deepStrictEqual(hits[0]?.index ?? -1, firstMatch(entries, p, "outbound"));
      const inHits = spdI.filter((x) => boxContains(x.box, p));
      assert.ok(inHits.length <= 1, "SPD-I pieces overlap");
      const fm = firstMatch(entries, p, "inbound");
      assert.deepStrictEqual(
        inHits[0]?.index ?? -1,
        fm >= 0 && entries[fm].action !== "protect" ? fm : -1,
      );
    }
  }
});

Deno.test("Spd: ICMP/MH types are matched on the sender's side (MIPv6 BU/BA)", () => {
  // Mobile node policy of the seeds' MIPv6 table: local_mh_type = BU, remote_mh_type = BAck.
  const mn: Selector = {
    localAddress: parseAddressSelector("2001:db8:1::100"),
    remoteAddress: parseAddressSelector("2001:db8:1::1"),
    protocol: IpProto.MH,
    localPort: { kind: "range", start: 5 << 8, end: (5 << 8) | 255 },
    remotePort: { kind: "range", start: 6 << 8, end: (6 << 8) | 255 },
  };
  const spd = new Spd([{ selectors: [mn], action: "protect", processing: ESP_TRANSPORT }]);
  const bu = packetTuple({
    src: "2001:db8:1::100",
    dst: "2001:db8:1::1",
    protocol: IpProto.MH,
    mhType: 5,
    direction: "outbound",
  });
  const ba = packetTuple({
    src: "2001:db8:1::1",
    dst: "2001:db8:1::100",
    protocol: IpProto.MH,
    mhType: 6,
    direction: "inbound",
  });
  const baOut = packetTuple({
    src: "2001:db8:1::100",
    dst: "2001:db8:1::1",
    protocol: IpProto.MH,
    mhType: 6,
    direction: "outbound",
  });
  assert.deepStrictEqual(spd.lookupOutbound(bu).action, "protect");
  assert.deepStrictEqual(spd.lookupInbound(ba).entry, spd.entries[0]);
  assert.deepStrictEqual(spd.lookupOutbound(baOut).index, -1);
  assert.deepStrictEqual(bu.remotePort, OPAQUE);
});

Deno.test("Spd property: a large policy (deep decision tree) still equals first match", () => {
  const r = new Rng(99);
  const entries = randomEntries(r, 3000, 2048);
  const spd = new Spd(entries, { cacheSize: 0 });
  for (let k = 0; k < 3000; k++) {
    const p = randomPacket(r, 2048);
    assert.deepStrictEqual(spd.lookupOutbound(p).index, firstMatch(entries, p, "outbound"));
  }
});

Deno.test("Spd.addInstance(): an SA from a named entry gets an SPD-S cache entry (seeds' SG)", () => {
  // 0 BYPASS udp/500, 1 named PROTECT (*@company.com, remote ANY with PFP), nothing else.
  const spd = new Spd([
    {
      label: "ike",
      selectors: [sel({ protocol: IpProto.UDP, localPort: portRange(500, 500) })],
      action: "bypass",
    },
    {
      label: "rw",
      name: parseIdentityPattern("*@company.com"),
      selectors: [{
        ...sel({ local: "10.1.0.0/16" }),
        pfp: { remoteAddress: true },
      }],
      action: "protect",
      processing: { ...ESP_TRANSPORT, mode: "tunnel" },
    },
  ]);
  const toAlice = packetTuple({
    src: "10.1.0.5",
    dst: "10.3.0.7",
    protocol: IpProto.TCP,
    srcPort: 22,
    dstPort: 50000,
    direction: "outbound",
  });
  assert.deepStrictEqual(spd.lookupOutbound(toAlice).action, "discard");
  // Alice's child SA: 10.1.0.0/16 <-> her virtual IP 10.3.0.7.
  const id = spd.addInstance(1, [sel({ local: "10.1.0.0/16", remote: "10.3.0.7" })]);
  const d = spd.lookupOutbound(toAlice);
  assert.deepStrictEqual([d.action, d.index, d.instance], ["protect", 1, id]);
  // Another client's address still has no SA; earlier entries keep their precedence.
  assert.deepStrictEqual(
    spd.lookupOutbound(packetTuple({
      src: "10.1.0.5",
      dst: "10.3.0.8",
      protocol: 6,
      direction: "outbound",
    })).action,
    "discard",
  );
  const ike = packetTuple({
    src: "10.1.0.5",
    dst: "10.3.0.7",
    protocol: IpProto.UDP,
    srcPort: 500,
    dstPort: 500,
    direction: "outbound",
  });
  assert.deepStrictEqual(spd.lookupOutbound(ike).entry?.label, "ike");
  // Plaintext from Alice's address is refused: it must come through the SA.
  const fromAlice = packetTuple({
    src: "10.3.0.7",
    dst: "10.1.0.5",
    protocol: 6,
    direction: "inbound",
  });
  assert.deepStrictEqual(spd.lookupInbound(fromAlice).action, "discard");
  assert.deepStrictEqual(spd.discards.unprotected, 1);
  assert.ok(spd.removeInstance(id));
  assert.ok(!spd.removeInstance(id));
  assert.deepStrictEqual(spd.lookupOutbound(toAlice).index, -1);
  assert.throws(() => spd.addInstance(0, [ANY_SELECTOR]), SpdError);
});

/** Random entries (some PROTECT ones named) and an Spd with random instances of PROTECT entries. */
function randomNamedSpd(r: Rng, cacheSize: number) {
  const entries = randomEntries(r, 2 + r.int(20), 256).map((e, i): SpdEntry =>
    e.action === "protect" && r.int(2) === 0
      ? { ...e, name: parseIdentityPattern(`*.n${i}.example`) }
      : e
  );
  const spd = new Spd(entries, { cacheSize });
  const instances: { index: number; selectors: Selector[] }[] = [];
  entries.forEach((e, index) => {
    if (e.action !== "protect") return;
    for (let k = r.int(3); k > 0; k--) {
      const selectors = [randomSelector(r, 256)];
      instances.push({ index, selectors });
      spd.addInstance(index, selectors);
    }
  });
  return { entries, spd, instances };
}

Deno.test("Spd property: instances take their entry's place in the order", () => {
  const r = new Rng(2024);
  for (let round = 0; round < 20; round++) {
    const { entries, spd, instances } = randomNamedSpd(r, 16);
    // Oracle: ordered scan; a named entry matches only through its instances,
    // any entry also through its instances.
    const oracle = (p: ReturnType<typeof randomPacket>, dir: "outbound" | "inbound") => {
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i];
        const d = e.direction ?? "both";
        if (d !== "both" && d !== dir) continue;
        if (!e.name && e.selectors.some((s) => selectorMatches(s, p))) return i;
        if (
          instances.some((x) => x.index === i && x.selectors.some((s) => selectorMatches(s, p)))
        ) return i;
      }
      return -1;
    };
    for (let k = 0; k < 300; k++) {
      const p = randomPacket(r, 256);
      assert.deepStrictEqual(spd.lookupOutbound(p).index, oracle(p, "outbound"), `round ${round}`);
      assert.deepStrictEqual(spd.lookupInbound(p).index, oracle(p, "inbound"), `round ${round}`);
    }
  }
});

Deno.test("withInstances(): materialized instances decide like Spd.addInstance", () => {
  const r = new Rng(4301);
  for (let round = 0; round < 20; round++) {
    const { entries, spd: live, instances } = randomNamedSpd(r, 0);
    const flat = new Spd(withInstances(entries, instances), { cacheSize: 0 });
    assert.ok(flat.entries.every((e) => e.name === undefined || entries.includes(e)));
    for (let k = 0; k < 300; k++) {
      const p = randomPacket(r, 256);
      for (const dir of ["outbound", "inbound"] as const) {
        const a = dir === "outbound" ? live.lookupOutbound(p) : live.lookupInbound(p);
        const b = dir === "outbound" ? flat.lookupOutbound(p) : flat.lookupInbound(p);
        assert.deepStrictEqual(b.action, a.action, `round ${round} ${dir}`);
        assert.deepStrictEqual(b.entry?.processing, a.entry?.processing, `round ${round} ${dir}`);
      }
    }
  }
  assert.throws(() =>
    withInstances([{ selectors: [ANY_SELECTOR], action: "bypass" }], [
      { index: 0, selectors: [ANY_SELECTOR] },
    ]), SpdError);
});
