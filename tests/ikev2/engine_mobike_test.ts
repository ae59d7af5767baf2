/**
 * MOBIKE (RFC 4555) between two in-memory engines: the initiator's address
 * changes, it moves the IKE SA with UPDATE_SA_ADDRESSES, and the child SAs
 * follow in place (same SPIs, no renegotiation) while simulated ESP, routed
 * by the SAs' outer addresses, keeps flowing.
 */
import assert from "node:assert/strict";
import type { Effect } from "../../lib/ikev2/effects.ts";
import { NATT_PORT } from "../../lib/ikev2/tasks/natd.ts";
import { pskConfigs, type PskSetup, TwoPeers } from "../helpers/two_peers.ts";
import type { FakeNetworkOptions } from "../helpers/fake_network.ts";

const NEW_ADDRESS = "198.51.100.10";
const NAT = { address: "203.0.113.7", port: 30000 };

function generated(p: { logs: string[] }): string[] {
  return p.logs.filter((l) => l.includes("generating")).map((l) => l.replace(/^.*generating /, ""));
}

function sends(p: { effects: Effect[] }): Extract<Effect, { kind: "send" }>[] {
  return p.effects.filter((e): e is Extract<Effect, { kind: "send" }> => e.kind === "send");
}

/** Alice and Bob with IKE and child SAs up, ESP flowing by outer address. */
function established(setup: PskSetup = {}, network?: FakeNetworkOptions): TwoPeers {
  const t = new TwoPeers({ ...pskConfigs(setup), espByAddress: true, network });
  t.initiate("alice", "site");
  t.run(5000);
  assert.equal(t.alice.sad.size, 2);
  assert.equal(t.bob.sad.size, 2);
  t.startTraffic(100);
  t.run(t.clock.now + 2000);
  assert.deepEqual(t.traffic.lost, []);
  assert.ok(t.traffic.delivered > 30);
  return t;
}

/** ESP delivered without loss for `ms` from now. */
function assertEspFlows(t: TwoPeers, ms: number): void {
  const lost = t.traffic.lost.length;
  const delivered = t.traffic.delivered;
  t.run(t.clock.now + ms);
  assert.deepEqual(t.traffic.lost.slice(lost), [], "no ESP lost after the update");
  assert.ok(t.traffic.delivered - delivered >= (ms / 100) * 2 - 4, "ESP flows both ways");
}

/** The SPIs of a peer's SAD (must not change: no renegotiation). */
function spis(p: { sad: Map<string, unknown> }): string[] {
  return [...p.sad.keys()].sort();
}

/*
 *   alice (192.0.2.1)                                     bob (192.0.2.2, also 198.51.100.2)
 *   IKE_SA_INIT ...
 *   IKE_AUTH request 1 [ IDi IDr AUTH N(INIT_CONTACT) N(MULT_AUTH) SA TSi TSr N(MOBIKE_SUP) N(NO_ADD_ADDR) ] -->
 *            <-- IKE_AUTH response 1 [ IDr AUTH SA TSi TSr N(MOBIKE_SUP) N(ADD_4_ADDR) ]
 *   (ESP flows; alice's address becomes 198.51.100.10: ESP to/from 192.0.2.1 is lost)
 *   (198.51.100.10:4500 -> 192.0.2.2:4500)
 *   INFORMATIONAL request 2 [ N(UPD_SA_ADDR) N(NATD_S_IP) N(NATD_D_IP) N(COOKIE2) ] -->
 *                  bob: IKE SA and child SAs -> 198.51.100.10 (updateSa, same SPIs)
 *            <-- INFORMATIONAL response 2 [ N(NATD_S_IP) N(NATD_D_IP) N(COOKIE2) ]
 *   alice: COOKIE2 matches, child SAs -> 198.51.100.10; ESP flows again
 */
Deno.test("engine: MOBIKE address change on the initiator keeps the SAs and ESP flowing", () => {
  const t = established({ bobEngine: { localAddresses: ["192.0.2.2", "198.51.100.2"] } });
  assert.ok(
    generated(t.alice).includes(
      "IKE_AUTH request 1 [ IDi IDr AUTH N(INIT_CONTACT) N(MULT_AUTH) SA TSi TSr N(MOBIKE_SUP) N(NO_ADD_ADDR) ]",
    ),
  );
  assert.ok(
    generated(t.bob).includes(
      "IKE_AUTH response 1 [ IDr AUTH SA TSi TSr N(MOBIKE_SUP) N(ADD_4_ADDR) ]",
    ),
  );
  const id = t.alice.engine.list()[0].id;
  const aliceSa = t.alice.engine.ikeSa(id)!;
  assert.equal(aliceSa.mobike, true);
  assert.deepEqual(aliceSa.peerAddresses, ["198.51.100.2"]);
  assert.equal(t.bob.engine.ikeSa(t.bob.engine.list()[0].id)!.mobike, true);
  const aliceSpis = spis(t.alice);
  const bobSpis = spis(t.bob);

  t.relocateAlice(NEW_ADDRESS);
  t.run(t.clock.now + 1000);
  assert.ok(t.traffic.lost.length > 0, "the old path is dead");

  t.apply(t.alice, t.alice.engine.updateAddresses(id, NEW_ADDRESS, t.clock.now));
  const request = sends(t.alice).at(-1)!;
  assert.deepEqual(request.from, { address: NEW_ADDRESS, port: NATT_PORT });
  assert.deepEqual(request.to, { address: "192.0.2.2", port: NATT_PORT });
  t.run(t.clock.now + 1000);
  assert.equal(
    generated(t.alice).at(-1),
    "INFORMATIONAL request 2 [ N(UPD_SA_ADDR) N(NATD_S_IP) N(NATD_D_IP) N(COOKIE2) ]",
  );
  assert.equal(
    generated(t.bob).at(-1),
    "INFORMATIONAL response 2 [ N(NATD_S_IP) N(NATD_D_IP) N(COOKIE2) ]",
  );
  const bobInfo = t.bob.engine.list()[0];
  assert.deepEqual(bobInfo.remote, { address: NEW_ADDRESS, port: NATT_PORT });
  assert.equal(bobInfo.natRemote, false);
  assert.deepEqual(t.alice.engine.list()[0].local, { address: NEW_ADDRESS, port: NATT_PORT });
  // Updated in place: same SPIs, new outer addresses, no encapsulation, no new child.
  assert.deepEqual(spis(t.alice), aliceSpis);
  assert.deepEqual(spis(t.bob), bobSpis);
  assert.deepEqual(t.bob.outbound().map((s) => [s.src, s.dst, s.encap]), [
    ["192.0.2.2", NEW_ADDRESS, undefined],
  ]);
  assert.deepEqual(t.bob.inbound().map((s) => [s.src, s.dst]), [[NEW_ADDRESS, "192.0.2.2"]]);
  assert.deepEqual(t.alice.outbound().map((s) => [s.src, s.dst]), [[NEW_ADDRESS, "192.0.2.2"]]);
  assert.equal(t.alice.eventsOf("ike-updated").length, 1);
  assert.equal(t.bob.eventsOf("ike-updated").length, 1);
  assert.equal(t.alice.eventsOf("child-up").length + t.bob.eventsOf("child-up").length, 2);
  assertEspFlows(t, 5000);
  // The IKE SA keeps working on the new path (liveness check after 30 s of silence).
  t.stopTraffic();
  t.run(t.clock.now + 40_000);
  assert.equal(t.alice.engine.list().length, 1);
  assert.equal(t.alice.eventsOf("ike-down").length + t.bob.eventsOf("ike-down").length, 0);
});

/*
 *   alice moves behind a NAT: private 10.9.0.5, public 203.0.113.7
 *   (10.9.0.5:4500 -NAT-> 203.0.113.7:30000 -> 192.0.2.2:4500)
 *   INFORMATIONAL request 2 [ N(UPD_SA_ADDR) N(NATD_S_IP) N(NATD_D_IP) N(COOKIE2) ] -->
 *                  bob: NATD_S_IP != hash(203.0.113.7:30000): the peer is behind a NAT;
 *                  SAs -> 203.0.113.7, ESP in UDP 4500 -> 30000
 *            <-- INFORMATIONAL response 2 [ N(NATD_S_IP) N(NATD_D_IP) N(COOKIE2) ]
 *   alice: NATD_D_IP != hash(10.9.0.5:4500): we are behind a NAT; ESP in UDP, keepalives
 *   later the NAT rebinds (public port 40000): bob follows (the peer is behind a NAT)
 */
Deno.test("engine: MOBIKE update detects a NAT that appeared and switches to UDP encapsulation", () => {
  const t = established();
  const id = t.alice.engine.list()[0].id;
  t.relocateAlice("10.9.0.5", NAT);
  t.apply(t.alice, t.alice.engine.updateAddresses(id, "10.9.0.5", t.clock.now));
  t.run(t.clock.now + 1000);
  const bobInfo = t.bob.engine.list()[0];
  assert.deepEqual(bobInfo.remote, NAT);
  assert.equal(bobInfo.natRemote, true);
  assert.equal(t.alice.engine.list()[0].natLocal, true);
  assert.deepEqual(t.bob.outbound().map((s) => [s.dst, s.encap]), [
    [NAT.address, { srcPort: NATT_PORT, dstPort: NAT.port }],
  ]);
  assert.deepEqual(t.alice.outbound().map((s) => [s.src, s.encap]), [
    ["10.9.0.5", { srcPort: NATT_PORT, dstPort: NATT_PORT }],
  ]);
  assertEspFlows(t, 3000);
  // Behind the NAT alice now sends keepalives (RFC 3948).
  t.run(t.clock.now + 25_000);
  assert.ok(sends(t.alice).some((s) => s.raw && s.bytes.length === 1 && s.bytes[0] === 0xff));
  // The NAT forgets the mapping: alice's next liveness check (NAT detection in it,
  // RFC 4555 section 3.8) shows her the new one, and she moves the SAs there.
  t.natRebind(40000);
  t.run(t.clock.now + 45_000);
  assert.deepEqual(t.bob.engine.list()[0].remote, { address: NAT.address, port: 40000 });
  assert.deepEqual(t.bob.outbound().map((s) => s.encap), [{ srcPort: NATT_PORT, dstPort: 40000 }]);
  assertEspFlows(t, 3000);
});

/*
 *   (198.51.100.10:4500 -> 192.0.2.2:4500)
 *   INFORMATIONAL request 2 [ N(UPD_SA_ADDR) ... N(COOKIE2) ] --x   (lost)
 *   INFORMATIONAL request 2 (retransmit) -->       bob moves the SAs
 *            x-- INFORMATIONAL response 2 [ ... N(COOKIE2) ]        (lost)
 *   INFORMATIONAL request 2 (retransmit) -->
 *            <-- INFORMATIONAL response 2 (cached, sent to the new address)
 *   alice moves the SAs; ESP flows
 */
Deno.test("engine: lost UPDATE_SA_ADDRESSES and its lost response are retransmitted", () => {
  let dropRequest = true;
  let dropResponse = true;
  const t = established({}, {
    filter: (d) => {
      if (dropRequest && d.from.address === NEW_ADDRESS) {
        dropRequest = false;
        return false;
      }
      if (dropResponse && d.to.address === NEW_ADDRESS) {
        dropResponse = false;
        return false;
      }
      return true;
    },
  });
  const id = t.alice.engine.list()[0].id;
  t.relocateAlice(NEW_ADDRESS);
  t.apply(t.alice, t.alice.engine.updateAddresses(id, NEW_ADDRESS, t.clock.now));
  t.run(t.clock.now + 20_000);
  assert.equal(dropRequest || dropResponse, false, "both datagrams were dropped");
  assert.ok(t.alice.engine.counters.retransmits >= 2);
  assert.equal(t.bob.engine.counters.retransmittedRequests, 1);
  assert.equal(
    generated(t.bob).filter((l) => l.startsWith("INFORMATIONAL response 2")).length,
    1,
    "bob processed the update once and answered the retransmit from its cache",
  );
  assert.deepEqual(t.bob.engine.list()[0].remote, { address: NEW_ADDRESS, port: NATT_PORT });
  assert.equal(t.alice.eventsOf("ike-updated").length, 1);
  assert.deepEqual(t.alice.outbound().map((s) => s.src), [NEW_ADDRESS]);
  assertEspFlows(t, 3000);
});

/*
 *   alice has no_nats_allowed:
 *   (198.51.100.10:4500 -> 192.0.2.2:4500)
 *   INFORMATIONAL request 2 [ N(UPD_SA_ADDR) N(NATD_S_IP) N(NATD_D_IP) N(COOKIE2) N(NO_NATS) ] -->
 *            <-- INFORMATIONAL response 2 [ N(NATD_S_IP) N(NATD_D_IP) N(COOKIE2) ]   (no NAT: ok)
 *   alice moves behind a NAT (10.9.0.5 -> 203.0.113.7):
 *   INFORMATIONAL request 3 [ ... N(NO_NATS)(10.9.0.5:4500 -> 192.0.2.2:4500) ] -->
 *            <-- INFORMATIONAL response 3 [ N(UNEXPECT_NAT) N(COOKIE2) ]   (to 203.0.113.7)
 *   bob keeps the SAs on 198.51.100.10; alice reports the failed update
 */
Deno.test("engine: MOBIKE NO_NATS_ALLOWED refuses an update through a NAT", () => {
  const t = established({ alice: { noNatsAllowed: true } });
  const id = t.alice.engine.list()[0].id;
  t.relocateAlice(NEW_ADDRESS);
  t.apply(t.alice, t.alice.engine.updateAddresses(id, NEW_ADDRESS, t.clock.now));
  t.run(t.clock.now + 1000);
  assert.equal(
    generated(t.alice).at(-1),
    "INFORMATIONAL request 2 [ N(UPD_SA_ADDR) N(NATD_S_IP) N(NATD_D_IP) N(COOKIE2) N(NO_NATS) ]",
  );
  assert.deepEqual(t.bob.engine.list()[0].remote, { address: NEW_ADDRESS, port: NATT_PORT });

  t.relocateAlice("10.9.0.5", NAT);
  t.apply(t.alice, t.alice.engine.updateAddresses(id, "10.9.0.5", t.clock.now));
  t.run(t.clock.now + 1000);
  assert.equal(generated(t.bob).at(-1), "INFORMATIONAL response 3 [ N(UNEXPECT_NAT) N(COOKIE2) ]");
  assert.ok(t.bob.logs.some((l) => l.includes("address update refused")));
  assert.ok(t.alice.logs.some((l) => l.includes("UNEXPECTED_NAT_DETECTED")));
  assert.deepEqual(t.bob.engine.list()[0].remote, { address: NEW_ADDRESS, port: NATT_PORT });
  assert.equal(t.bob.engine.list()[0].natRemote, false);
  assert.deepEqual(t.bob.outbound().map((s) => s.dst), [NEW_ADDRESS]);
  assert.equal(t.alice.eventsOf("ike-updated").length, 1, "only the first update succeeded");
  assert.equal(t.bob.eventsOf("ike-updated").length, 1);
});

/*
 *   bob has mobike: false
 *   IKE_AUTH request 1 [ ... N(MOBIKE_SUP) N(NO_ADD_ADDR) ] -->
 *            <-- IKE_AUTH response 1 [ IDr AUTH SA TSi TSr ]      (no MOBIKE_SUP)
 *   updateAddresses(): nothing is sent, a warning is logged
 */
Deno.test("engine: without MOBIKE on the peer, updateAddresses() sends nothing", () => {
  const t = established({ bob: { mobike: false } });
  assert.equal(generated(t.bob)[1], "IKE_AUTH response 1 [ IDr AUTH SA TSi TSr ]");
  const id = t.alice.engine.list()[0].id;
  assert.equal(t.alice.engine.ikeSa(id)!.mobike, false);
  const fx = t.alice.engine.updateAddresses(id, NEW_ADDRESS, t.clock.now);
  assert.equal(fx.filter((e) => e.kind === "send").length, 0);
  assert.ok(fx.some((e) => e.kind === "log" && e.line.includes("does not support MOBIKE")));
  // Unmoved; on port 4500 since IKE_AUTH: alice offers MOBIKE and bob supports NAT
  // traversal, which is all she knows then (RFC 4555 section 3.1).
  assert.deepEqual(t.alice.engine.list()[0].local, { address: "192.0.2.1", port: NATT_PORT });
});

/*
 *   bob's addresses change (setLocalAddresses):
 *            <-- INFORMATIONAL request 0 [ N(ADD_4_ADDR) N(ADD_4_ADDR) ]
 *   INFORMATIONAL response 0 [ ] -->
 *   alice knows bob's other addresses (for a later path switch)
 */
Deno.test("engine: MOBIKE peers announce changed address lists (ADDITIONAL_IP4_ADDRESS)", () => {
  const t = established();
  assert.deepEqual(t.alice.engine.ikeSa(t.alice.engine.list()[0].id)!.peerAddresses, []);
  t.apply(
    t.bob,
    t.bob.engine.setLocalAddresses(["192.0.2.2", "198.51.100.2", "198.51.100.3"], t.clock.now),
  );
  t.run(t.clock.now + 1000);
  assert.equal(generated(t.bob).at(-1), "INFORMATIONAL request 0 [ N(ADD_4_ADDR) N(ADD_4_ADDR) ]");
  assert.equal(generated(t.alice).at(-1), "INFORMATIONAL response 0 [ ]");
  assert.deepEqual(t.alice.engine.ikeSa(t.alice.engine.list()[0].id)!.peerAddresses, [
    "198.51.100.2",
    "198.51.100.3",
  ]);
  t.apply(t.bob, t.bob.engine.setLocalAddresses(["192.0.2.2"], t.clock.now));
  t.run(t.clock.now + 1000);
  assert.equal(generated(t.bob).at(-1), "INFORMATIONAL request 1 [ N(NO_ADD_ADDR) ]");
  assert.deepEqual(t.alice.engine.ikeSa(t.alice.engine.list()[0].id)!.peerAddresses, []);
});

/*
 *   (198.51.100.66:4500 -> 192.0.2.2:4500, an authentic request from another address)
 *   INFORMATIONAL request 2 [ N(INVAL_SPI) ] -->      no UPDATE_SA_ADDRESSES:
 *            <-- INFORMATIONAL response 2 [ ]         (sent to the SA's address, 192.0.2.1:500)
 *   bob keeps the SAs where they are (RFC 4555 3.5: NAT-T floating is off with MOBIKE);
 *   without MOBIKE, the same datagram on port 4500 moves them (RFC 7296 2.23)
 */
Deno.test("engine: with MOBIKE only UPDATE_SA_ADDRESSES moves the SA, not any message", () => {
  // `encap: yes` on bob only forces UDP encapsulation: he is still not behind a NAT.
  for (const [mobike, encap] of [[true, false], [false, false], [true, true]] as const) {
    const t = established({ bob: { mobike, encap } });
    assert.equal(t.bob.engine.list()[0].natLocal, encap);
    const fx = t.alice.engine.invalidSpi("192.0.2.2", "esp", 0x1234, t.clock.now);
    const req = fx.find((e): e is Extract<Effect, { kind: "send" }> => e.kind === "send")!;
    const elsewhere = { address: "198.51.100.66", port: NATT_PORT };
    t.apply(
      t.bob,
      t.bob.engine.handle(req.bytes, elsewhere, { address: "192.0.2.2", port: 4500 }, t.clock.now),
    );
    // (Alice offers MOBIKE, so IKE runs on port 4500 from IKE_AUTH on: RFC 4555 section 3.1.)
    const expected = mobike ? { address: "192.0.2.1", port: NATT_PORT } : elsewhere;
    assert.deepEqual(t.bob.engine.list()[0].remote, expected, `mobike ${mobike}`);
    assert.deepEqual(t.bob.outbound().map((s) => s.dst), [expected.address]);
    // Either way the answer goes back where the request came from (RFC 7296 section 2.11).
    assert.deepEqual(sends(t.bob).at(-1)!.to, elsewhere, `mobike ${mobike}`);
  }
});

/*
 *   bob (192.0.2.2) announced 198.51.100.2 in IKE_AUTH [ ... N(MOBIKE_SUP) N(ADD_4_ADDR) ]
 *   192.0.2.2 goes away:
 *   INFORMATIONAL request n [ ] (liveness) --x  192.0.2.2, retransmitted until given up
 *   (192.0.2.1:4500 -> 198.51.100.2:4500)
 *   INFORMATIONAL request n [ ] -->              retried on bob's other address
 *            <-- INFORMATIONAL response n [ ]
 *   INFORMATIONAL request n+1 [ N(UPD_SA_ADDR) N(NATD_S_IP) N(NATD_D_IP) N(COOKIE2) ] -->
 *            <-- INFORMATIONAL response n+1 [ N(NATD_S_IP) N(NATD_D_IP) N(COOKIE2) ]
 *   both move the child SAs to 192.0.2.1 <-> 198.51.100.2; ESP flows again
 */
Deno.test("engine: MOBIKE initiator switches to the peer's additional address when the path dies", () => {
  const t = established({
    bobEngine: { localAddresses: ["192.0.2.2", "198.51.100.2"] },
    alice: { retransmit: { timeoutMs: 1000, base: 1.5, tries: 3 }, dpdDelaySeconds: 5 },
  });
  t.addAddress("bob", "198.51.100.2");
  t.dropAddress("192.0.2.2");
  t.run(t.clock.now + 30_000);
  assert.ok(t.alice.logs.some((l) => l.includes("no answer from 192.0.2.2, trying 198.51.100.2")));
  assert.ok(
    generated(t.alice).some((l) =>
      /^INFORMATIONAL request \d+ \[ N\(UPD_SA_ADDR\) N\(NATD_S_IP\) N\(NATD_D_IP\) N\(COOKIE2\) \]$/
        .test(l)
    ),
  );
  assert.deepEqual(t.alice.engine.list()[0].remote, { address: "198.51.100.2", port: NATT_PORT });
  assert.deepEqual(t.bob.engine.list()[0].local, { address: "198.51.100.2", port: NATT_PORT });
  assert.deepEqual(t.alice.outbound().map((s) => s.dst), ["198.51.100.2"]);
  assert.deepEqual(t.bob.outbound().map((s) => s.src), ["198.51.100.2"]);
  assert.equal(t.alice.eventsOf("ike-down").length + t.bob.eventsOf("ike-down").length, 0);
  assertEspFlows(t, 3000);
});

/*
 *   alice rekeys the IKE SA (CREATE_CHILD_SA [ SA No KE ], D on the old SA);
 *   the new IKE SA inherits MOBIKE and bob's address list:
 *   (198.51.100.10:4500 -> 192.0.2.2:4500)
 *   INFORMATIONAL request 0 [ N(UPD_SA_ADDR) N(NATD_S_IP) N(NATD_D_IP) N(COOKIE2) ] -->
 *            <-- INFORMATIONAL response 0 [ N(NATD_S_IP) N(NATD_D_IP) N(COOKIE2) ]
 */
Deno.test("engine: MOBIKE works on the IKE SA that replaced a rekeyed one", async (ctx) => {
  // Whoever rekeyed, alice started the IKE SA and stays the one who moves it (as charon's
  // COND_ORIGINAL_INITIATOR survives a rekey), though the new SA's I flag is the rekeyer's.
  for (const rekeyer of ["alice", "bob"] as const) {
    await ctx.step(`${rekeyer} rekeys`, () => {
      const t = established({ bobEngine: { localAddresses: ["192.0.2.2", "198.51.100.2"] } });
      const p = t[rekeyer];
      t.apply(p, p.engine.rekeyIke(p.engine.list()[0].id, t.clock.now));
      t.run(t.clock.now + 2000);
      const [info] = t.alice.engine.list();
      assert.equal(t.alice.eventsOf("ike-rekeyed").length, 1);
      assert.equal(info.initiator, rekeyer === "alice");
      assert.deepEqual(t.alice.engine.ikeSa(info.id)!.peerAddresses, ["198.51.100.2"]);
      t.relocateAlice(NEW_ADDRESS);
      t.apply(t.alice, t.alice.engine.updateAddresses(info.id, NEW_ADDRESS, t.clock.now));
      t.run(t.clock.now + 1000);
      assert.match(
        generated(t.alice).at(-1)!,
        /^INFORMATIONAL request \d+ \[ N\(UPD_SA_ADDR\) N\(NATD_S_IP\) N\(NATD_D_IP\) N\(COOKIE2\) \]$/,
      );
      assert.deepEqual(t.bob.engine.list()[0].remote, { address: NEW_ADDRESS, port: NATT_PORT });
      assert.deepEqual(t.bob.outbound().map((s) => s.dst), [NEW_ADDRESS]);
      assertEspFlows(t, 3000);
    });
  }
});

/*
 *   alice behind a NAT (10.9.0.5 -> 203.0.113.7:30000), MOBIKE, bob not behind one
 *   (silence: liveness checks carry NAT detection, RFC 4555 section 3.8)
 *   INFORMATIONAL request n [ N(NATD_S_IP) N(NATD_D_IP) ] -->
 *            <-- INFORMATIONAL response n [ N(NATD_S_IP) N(NATD_D_IP) ]   (where bob sees her)
 *   (the same mapping as the last exchange told her: nothing to do)
 *   the NAT maps her anew (203.0.113.7:40000); bob must not follow IKE packets by himself
 *   INFORMATIONAL request m [ N(NATD_S_IP) N(NATD_D_IP) ] -->             (from port 40000)
 *            <-- INFORMATIONAL response m [ N(NATD_S_IP) N(NATD_D_IP) ]   (to port 40000)
 *   INFORMATIONAL request m+1 [ N(UPD_SA_ADDR) N(NATD_S_IP) N(NATD_D_IP) N(COOKIE2) ] -->
 *                                              bob moves the SAs to port 40000
 */
Deno.test("engine: MOBIKE initiator behind a NAT finds a new mapping by NAT detection in liveness checks", () => {
  // Only alice checks liveness (a gateway's checks would keep her from needing one).
  const t = established({ alice: { dpdDelaySeconds: 10 }, bob: { dpdDelaySeconds: 0 } });
  const id = t.alice.engine.list()[0].id;
  t.relocateAlice("10.9.0.5", NAT);
  t.apply(t.alice, t.alice.engine.updateAddresses(id, "10.9.0.5", t.clock.now));
  t.run(t.clock.now + 1000);
  assert.deepEqual(t.bob.engine.list()[0].remote, NAT);
  t.stopTraffic();
  const updates = () => generated(t.alice).filter((l) => l.includes("N(UPD_SA_ADDR)")).length;
  const before = updates();
  t.run(t.clock.now + 40_000);
  const probe = /^INFORMATIONAL request \d+ \[ N\(NATD_S_IP\) N\(NATD_D_IP\) \]$/;
  assert.ok(generated(t.alice).some((l) => probe.test(l)), generated(t.alice).join("\n"));
  assert.ok(
    generated(t.bob).some((l) =>
      /^INFORMATIONAL response \d+ \[ N\(NATD_S_IP\) N\(NATD_D_IP\) \]$/.test(l)
    ),
    generated(t.bob).join("\n"),
  );
  assert.equal(updates(), before, "an unchanged mapping moves nothing");

  const bobLogs = t.bob.logs.length;
  t.natRebind(40000);
  t.run(t.clock.now + 40_000);
  assert.equal(updates(), before + 1, generated(t.alice).join("\n"));
  assert.ok(t.alice.logs.some((l) => l.includes("NAT mapping changed")));
  assert.ok(
    !t.bob.logs.slice(bobLogs).some((l) => l.includes("floated")),
    "bob followed an IKE packet",
  );
  assert.deepEqual(t.bob.engine.list()[0].remote, { address: NAT.address, port: 40000 });
  assert.deepEqual(t.bob.outbound().map((s) => s.encap), [{ srcPort: NATT_PORT, dstPort: 40000 }]);
  assert.equal(t.alice.engine.list().length, 1);
  assert.equal(t.bob.engine.list().length, 1);
});

/*
 *   bob (responder) now uses 198.51.100.2 and tells alice from there:
 *   (198.51.100.2:4500 -> 192.0.2.1:4500)
 *            <-- INFORMATIONAL request 0 [ N(ADD_4_ADDR) ]
 *   alice (original initiator) takes the source as bob's address in use (RFC 4555
 *   section 3.6, as charon does): the IKE SA and the child SAs go there.
 *   Bob, the responder, never follows alice's address lists that way.
 */
Deno.test("engine: MOBIKE initiator follows the responder's address list from its new address", () => {
  const t = established({ bobEngine: { localAddresses: ["192.0.2.2", "198.51.100.2"] } });
  const fx = t.bob.engine.setLocalAddresses(["198.51.100.2", "192.0.2.2"], t.clock.now);
  const req = fx.find((e): e is Extract<Effect, { kind: "send" }> => e.kind === "send")!;
  assert.ok(req, "bob announces its addresses");
  const moved = { address: "198.51.100.2", port: NATT_PORT };
  const to = { address: "192.0.2.1", port: NATT_PORT };
  t.apply(t.alice, t.alice.engine.handle(req.bytes, moved, to, t.clock.now));
  assert.deepEqual(t.alice.engine.list()[0].remote, moved);
  assert.deepEqual(t.alice.outbound().map((s) => s.dst), ["198.51.100.2"]);
  assert.equal(t.alice.eventsOf("ike-updated").length, 1);
  assert.deepEqual(sends(t.alice).at(-1)!.to, moved, "answered where it came from");

  const fx2 = t.alice.engine.setLocalAddresses(["192.0.2.1", "192.0.2.77"], t.clock.now);
  const req2 = fx2.find((e): e is Extract<Effect, { kind: "send" }> => e.kind === "send")!;
  const elsewhere = { address: "192.0.2.77", port: NATT_PORT };
  t.apply(t.bob, t.bob.engine.handle(req2.bytes, elsewhere, req2.to, t.clock.now));
  assert.deepEqual(t.bob.engine.list()[0].remote, { address: "192.0.2.1", port: NATT_PORT });
});
