import assert from "node:assert/strict";
import { parseProposals } from "../../lib/crypto/proposal.ts";
import { formatIp, ipFromBytes } from "../../lib/db/address.ts";
import {
  boxToTsPair,
  initiatorTs,
  selectChildPolicy,
  triggerFromTs,
} from "../../lib/db/child_policy.ts";
import { parseIdentity, parseIdentityPattern } from "../../lib/db/identity.ts";
import {
  anyTs,
  formatTs,
  narrowTrafficSelectors,
  packetToTs,
  selectorToTs,
  type TrafficSelector,
  tsContains,
  tsListsToSelectors,
} from "../../lib/db/narrow.ts";
import type { PadEntry } from "../../lib/db/pad.ts";
import { type Box, intersectBox, selectorToBoxes, subtractBox } from "../../lib/db/box.ts";
import {
  ANY_SELECTOR,
  intersectSelectors,
  IpProto,
  packetTuple,
  parseAddressSelector,
  portRange,
  type Selector,
  selectorContains,
} from "../../lib/db/selector.ts";
import { type ProcessingInfo, Spd, type SpdEntry } from "../../lib/db/spd.ts";
import { randomEntries, randomSelector, Rng } from "./_random_policy.ts";

const TUNNEL: ProcessingInfo = {
  protocol: "esp",
  mode: "tunnel",
  proposals: parseProposals("aes256gcm16", "esp"),
};

function net(local: string, remote: string, extra: Partial<Selector> = {}): Selector {
  return {
    ...ANY_SELECTOR,
    localAddress: parseAddressSelector(local),
    remoteAddress: parseAddressSelector(remote),
    ...extra,
  };
}

/** A TS for one side from text: "10.0.0.0/24", optional protocol and port range. */
function ts(addr: string, protocol = 0, ports: [number, number] = [0, 65535]): TrafficSelector {
  const t = selectorToTs(net(addr, addr), "local")[0];
  return { ...t, ipProtocol: protocol, startPort: ports[0], endPort: ports[1] };
}

/** Whether the union of `boxes` covers `b`. */
function coveredBy(b: Box, boxes: readonly Box[]): boolean {
  let rest = [b];
  for (const e of boxes) rest = rest.flatMap((p) => subtractBox(p, e));
  return rest.length === 0;
}

function addrText(t: TrafficSelector): string {
  const s = formatIp(ipFromBytes(t.startAddress));
  const e = formatIp(ipFromBytes(t.endAddress));
  return s === e ? s : `${s}-${e}`;
}

Deno.test("initiatorTs: PFP on the remote address gives one SA per peer (seeds' SG table)", () => {
  // Name: company.com | IP_dst: ANY, PFP=1 | PROTECT tunnel ESP
  const entry: SpdEntry = {
    selectors: [{ ...ANY_SELECTOR, pfp: { remoteAddress: true } }],
    action: "protect",
    processing: TUNNEL,
  };
  const p = packetTuple({
    src: "10.0.0.1",
    dst: "10.8.0.5",
    protocol: IpProto.TCP,
    srcPort: 443,
    dstPort: 50000,
    direction: "outbound",
  });
  const { tsi, tsr } = initiatorTs(entry, p);
  // The triggering packet leads each list (RFC 7296 section 2.9).
  assert.deepStrictEqual(tsi[0], packetToTs(p).local);
  assert.deepStrictEqual(tsr[0], packetToTs(p).remote);
  // Then the policy: our side stays ANY, the remote side is populated from the packet.
  assert.equal(addrText(tsi[1]), "0.0.0.0-255.255.255.255");
  assert.equal(addrText(tsr[1]), "10.8.0.5");
  assert.deepStrictEqual([tsr[1].ipProtocol, tsr[1].startPort, tsr[1].endPort], [0, 0, 65535]);
});

Deno.test("initiatorTs: without a packet, the lists are the entry's two sides", () => {
  const entry: SpdEntry = {
    selectors: [net("10.1.0.0/16", "10.2.0.0/16"), net("10.1.0.0/16", "10.3.0.0/16")],
    action: "protect",
    processing: TUNNEL,
  };
  const { tsi, tsr } = initiatorTs(entry);
  assert.deepStrictEqual(tsi.map(addrText), ["10.1.0.0-10.1.255.255"]);
  assert.deepStrictEqual(tsr.map(addrText), ["10.2.0.0-10.2.255.255", "10.3.0.0-10.3.255.255"]);
});

Deno.test("narrowTrafficSelectors: RFC 7296 section 2.9 cases", () => {
  const policy = { tsi: [ts("10.2.0.0/16")], tsr: [ts("10.1.0.0/16")] };
  // Proposal inside the policy: accepted unchanged.
  const inside = narrowTrafficSelectors([ts("10.2.3.0/24")], [ts("10.1.0.0/16")], policy);
  assert.ok(inside !== "TS_UNACCEPTABLE");
  assert.deepStrictEqual(inside.tsi.map(addrText), ["10.2.3.0-10.2.3.255"]);
  assert.equal(inside.additionalTsPossible, false);
  // Wider proposal: narrowed, ADDITIONAL_TS_POSSIBLE.
  const wide = narrowTrafficSelectors([anyTs(4)], [anyTs(4)], policy);
  assert.ok(wide !== "TS_UNACCEPTABLE");
  assert.deepStrictEqual(wide.tsi.map(addrText), ["10.2.0.0-10.2.255.255"]);
  assert.deepStrictEqual(wide.tsr.map(addrText), ["10.1.0.0-10.1.255.255"]);
  assert.equal(wide.additionalTsPossible, true);
  // Disjoint: TS_UNACCEPTABLE.
  assert.equal(
    narrowTrafficSelectors([ts("192.168.0.0/16")], [ts("10.1.0.0/16")], policy),
    "TS_UNACCEPTABLE",
  );
  // Protocol and ports narrow too; OPAQUE ports only meet ANY or OPAQUE.
  const tcp = narrowTrafficSelectors(
    [ts("10.2.0.0/16", 6, [1000, 2000])],
    [ts("10.1.0.0/16", 0)],
    { tsi: [ts("10.2.0.0/16", 0, [1500, 3000])], tsr: [ts("10.1.0.0/16")] },
  );
  assert.ok(tcp !== "TS_UNACCEPTABLE");
  assert.deepStrictEqual([tcp.tsi[0].ipProtocol, tcp.tsi[0].startPort, tcp.tsi[0].endPort], [
    6,
    1500,
    2000,
  ]);
  assert.equal(
    narrowTrafficSelectors([ts("10.2.0.0/16", 6, [65535, 0])], [ts("10.1.0.0/16")], {
      tsi: [ts("10.2.0.0/16", 6, [80, 80])],
      tsr: [ts("10.1.0.0/16")],
    }),
    "TS_UNACCEPTABLE",
  );
  // IPv4 never narrows into IPv6.
  assert.equal(narrowTrafficSelectors([anyTs(6)], [anyTs(6)], policy), "TS_UNACCEPTABLE");
});

Deno.test("selectChildPolicy: the triggering packet picks the entry", () => {
  const spd = new Spd([
    {
      label: "to-b",
      selectors: [net("10.1.0.0/16", "10.2.0.0/16")],
      action: "protect",
      processing: TUNNEL,
    },
    {
      label: "to-c",
      selectors: [net("10.1.0.0/16", "10.3.0.0/16")],
      action: "protect",
      processing: TUNNEL,
    },
  ]);
  // Peer (initiator) at 10.3.0.0/16 sends TSi = [10.3.0.9 (trigger), 10.0.0.0/8], TSr = [10.1.0.7, 10.1.0.0/16].
  const r = selectChildPolicy(spd, {
    tsi: [ts("10.3.0.9", 6, [40000, 40000]), ts("10.0.0.0/8")],
    tsr: [ts("10.1.0.7", 6, [22, 22]), ts("10.1.0.0/16")],
  });
  assert.ok(r !== "TS_UNACCEPTABLE");
  assert.equal(r.entry.label, "to-c");
  assert.deepStrictEqual(r.tsi.map(addrText), ["10.3.0.0-10.3.255.255"]);
  assert.equal(r.additionalTsPossible, true);
  assert.deepStrictEqual(
    triggerFromTs(ts("10.3.0.9", 6, [40000, 40000]), ts("10.1.0.7", 6, [22, 22])),
    {
      version: 4,
      localAddress: 0x0a010007,
      remoteAddress: 0x0a030009,
      protocol: 6,
      localPort: 22,
      remotePort: 40000,
    },
  );
});

Deno.test("selectChildPolicy: never returns traffic an earlier entry bypasses", () => {
  // 0 BYPASS tcp from 10.2.0.0/16 to our port 22; 1 PROTECT 10.1/16 <-> 10.2/16.
  const bypass: Selector = net("10.1.0.0/16", "10.2.0.0/16", {
    protocol: IpProto.TCP,
    localPort: portRange(22, 22),
  });
  const spd = new Spd([
    { label: "ssh", selectors: [bypass], action: "bypass" },
    {
      label: "net",
      selectors: [net("10.1.0.0/16", "10.2.0.0/16")],
      action: "protect",
      processing: TUNNEL,
    },
  ]);
  const r = selectChildPolicy(spd, { tsi: [anyTs(4)], tsr: [anyTs(4)] });
  assert.ok(r !== "TS_UNACCEPTABLE");
  assert.equal(r.entry.label, "net");
  for (const s of tsListsToSelectors(r.tsr, r.tsi)) {
    assert.equal(intersectSelectors(s, bypass), null, "result overlaps the BYPASS entry");
    assert.ok(selectorContains(spd.entries[1].selectors[0], s));
  }
  assert.equal(r.additionalTsPossible, true);
});

Deno.test("selectChildPolicy: named lookup and PAD constraints (road warrior)", () => {
  const spd = new Spd([
    {
      label: "rw",
      name: parseIdentityPattern("*@company.com"),
      selectors: [{
        ...net("10.1.0.0/16", "0.0.0.0/0"),
        pfp: { remoteAddress: true },
      }],
      action: "protect",
      processing: TUNNEL,
    },
  ]);
  const pad: PadEntry = {
    label: "rw",
    id: parseIdentityPattern("*@company.com"),
    auth: { method: "psk", secret: new TextEncoder().encode("secret") },
    allowedTs: [ts("10.3.0.0/24")],
    spdLookup: "name",
  };
  const alice = parseIdentity("alice@company.com");
  // The client asks for everything: it gets only its pool.
  const r = selectChildPolicy(spd, { tsi: [anyTs(4)], tsr: [anyTs(4)], peer: alice, pad });
  assert.ok(r !== "TS_UNACCEPTABLE");
  assert.deepStrictEqual(r.tsi.map(addrText), ["10.3.0.0-10.3.0.255"]);
  assert.deepStrictEqual(r.tsr.map(addrText), ["10.1.0.0-10.1.255.255"]);
  // Claiming another network: refused.
  assert.equal(
    selectChildPolicy(spd, { tsi: [ts("10.9.0.0/16")], tsr: [anyTs(4)], peer: alice, pad }),
    "TS_UNACCEPTABLE",
  );
  // Another identity has no named entry.
  assert.equal(
    selectChildPolicy(spd, {
      tsi: [anyTs(4)],
      tsr: [anyTs(4)],
      peer: parseIdentity("bob@other.org"),
      pad,
    }),
    "TS_UNACCEPTABLE",
  );
});

Deno.test("boxToTsPair: a protocol range becomes one protocol, never more", () => {
  const [box] = selectorToBoxes(net("10.0.0.0/8", "10.0.0.0/8"));
  const sub = { ...box, lo: [box.lo[0], box.lo[1], 7n, -1n, -1n], hi: [...box.hi] };
  const pair = boxToTsPair(sub);
  assert.ok(pair);
  assert.equal(pair.local.ipProtocol, 7);
});

Deno.test("property: a peer never gets an SA outside its PAD constraints or its entry", () => {
  const r = new Rng(4301);
  let accepted = 0;
  for (let round = 0; round < 500; round++) {
    const entries = randomEntries(r, 1 + r.int(8), 256);
    const spd = new Spd(entries);
    const allowed = r.int(3) === 0 ? [anyTs(4)] : selectorToTs(randomSelector(r, 256), "remote");
    const pad: PadEntry = {
      label: "p",
      id: parseIdentityPattern("%any"),
      auth: { method: "psk", secret: new Uint8Array([1]) },
      allowedTs: allowed,
      spdLookup: "ts",
    };
    const prop = randomSelector(r, 256);
    const tsi = [...selectorToTs(prop, "remote"), ...(r.int(2) ? [anyTs(4)] : [])];
    const tsr = selectorToTs(prop, "local");
    const res = selectChildPolicy(spd, { tsi, tsr, pad, peer: parseIdentity("peer.example") });
    if (res === "TS_UNACCEPTABLE") continue;
    accepted++;
    for (const t of res.tsi) {
      assert.ok(allowed.some((a) => tsContains(a, t)), `round ${round}: TSi outside the PAD`);
    }
    assert.equal(res.entry.action, "protect");
    for (const s of tsListsToSelectors(res.tsr, res.tsi)) {
      // Semantic (box) containment: ICMP/MH selectors are not field-wise products.
      const entryBoxes = res.entry.selectors.flatMap(selectorToBoxes);
      for (const b of selectorToBoxes(s)) {
        assert.ok(
          coveredBy(b, entryBoxes),
          `round ${round}: outside the chosen entry`,
        );
      }
      for (let j = 0; j < res.index; j++) {
        const e = entries[j];
        if ((e.direction ?? "both") === "inbound") continue;
        for (const eb of e.selectors.flatMap(selectorToBoxes)) {
          for (const b of selectorToBoxes(s)) {
            assert.equal(intersectBox(b, eb), null, `round ${round}: overlaps entry ${j}`);
          }
        }
      }
    }
  }
  assert.ok(accepted > 40, `only ${accepted} proposals accepted: the test would prove little`);
});

Deno.test("narrowing: IPv6, several selectors per list, and OPAQUE ports", () => {
  const spd = new Spd([
    {
      label: "v6",
      selectors: [
        net("2001:db8:1::/48", "2001:db8:2::/48"),
        net("2001:db8:1::/48", "2001:db8:3::/48", { protocol: IpProto.UDP }),
      ],
      action: "protect",
      processing: TUNNEL,
    },
  ]);
  // The peer proposes both of its networks and IPv4 too; only what each set allows stays.
  const r = selectChildPolicy(spd, {
    tsi: [ts("2001:db8:2::/64"), ts("2001:db8:3::/64"), anyTs(4)],
    tsr: [ts("2001:db8:1::/48")],
  });
  assert.ok(r !== "TS_UNACCEPTABLE");
  assert.deepStrictEqual(r.tsi.map(formatTs), ["2001:db8:2::/64"]);
  assert.equal(r.additionalTsPossible, true);
  // UDP with OPAQUE ports (fragments) fits the UDP set only.
  const u = selectChildPolicy(spd, {
    tsi: [ts("2001:db8:3::/64", IpProto.UDP, [65535, 0])],
    tsr: [ts("2001:db8:1::1", IpProto.UDP, [65535, 0])],
  });
  assert.ok(u !== "TS_UNACCEPTABLE");
  assert.equal(u.entry.label, "v6");
  assert.deepStrictEqual([u.tsi[0].ipProtocol, u.tsi[0].startPort, u.tsi[0].endPort], [
    17,
    65535,
    0,
  ]);
  assert.equal(
    selectChildPolicy(spd, { tsi: [ts("2001:db8:3::/64", IpProto.TCP)], tsr: [anyTs(6)] }),
    "TS_UNACCEPTABLE",
  );
});

Deno.test("a peer's inverted selector (start after end) is printed as it came and narrows to nothing", () => {
  const inverted: TrafficSelector = {
    ipVersion: 4,
    ipProtocol: 6,
    startPort: 90,
    endPort: 80,
    startAddress: Uint8Array.of(10, 1, 0, 9),
    endAddress: Uint8Array.of(10, 1, 0, 8),
  };
  assert.equal(formatTs(inverted), "10.1.0.9-10.1.0.8[tcp/90-80]");
  const v6: TrafficSelector = {
    ...anyTs(6),
    startAddress: Uint8Array.of(0x20, 1, 0x0d, 0xb8, ...new Array(11).fill(0), 1),
    endAddress: Uint8Array.of(0x20, 1, 0x0d, 0xb8, ...new Array(12).fill(0)),
  };
  assert.equal(formatTs(v6), "2001:db8::1-2001:db8::");
  assert.equal(
    narrowTrafficSelectors([inverted], [anyTs(4)], { tsi: [anyTs(4)], tsr: [anyTs(4)] }),
    "TS_UNACCEPTABLE",
  );
});
