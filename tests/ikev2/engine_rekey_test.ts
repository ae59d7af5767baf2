import assert from "node:assert/strict";
import { parseProposals } from "../../lib/crypto/proposal.ts";
import { equalBytes } from "../../lib/wire/bytes.ts";
import { type Peer, pskConfigs, TwoPeers } from "../helpers/two_peers.ts";

function generated(p: Peer): string[] {
  return p.logs.filter((l) => l.includes("generating")).map((l) => l.replace(/^.*generating /, ""));
}

/** Every outbound SA of one peer is an inbound SA of the other with the same keys. */
function assertMirrored(a: Peer, b: Peer): void {
  for (const [x, y] of [[a, b], [b, a]]) {
    for (const out of x.outbound()) {
      const inb = y.inbound().find((s) => s.spi === out.spi);
      assert.ok(inb, `${y.name} lacks inbound SA ${out.spi.toString(16)}`);
      assert.ok(equalBytes(out.encr!.key, inb.encr!.key), "keys differ");
    }
  }
}

function up(cfg = pskConfigs()): TwoPeers {
  const t = new TwoPeers(cfg);
  t.initiate("alice", "site");
  t.run(5000);
  assert.equal(t.alice.sad.size, 2);
  return t;
}

function childId(p: Peer): number {
  return p.engine.list()[0].children.find((c) => c.state === "installed")!.id;
}

/*
 *   alice                                             bob
 *   CREATE_CHILD_SA request 2 [ N(REKEY_SA) SA No TSi TSr ] -->
 *                bob installs the new inbound SA only
 *          <-- CREATE_CHILD_SA response 2 [ SA No TSi TSr ]
 *                alice installs the new SA (both directions)
 *   INFORMATIONAL request 3 [ D ] -->        (old child)
 *                bob removes the old SA, installs the new outbound SA
 *          <-- INFORMATIONAL response 3 [ D ]
 *   old inbound SAs linger 2 s for late packets, then go.
 */
Deno.test("engine: child rekey is make-before-break and loses no packets", () => {
  const t = up();
  const oldIn = t.alice.inbound()[0].spi;
  t.startTraffic(5);
  t.run(t.clock.now + 1000);
  t.apply(t.alice, t.alice.engine.rekeyChild(childId(t.alice), t.clock.now));
  t.run(t.clock.now + 1000);
  assert.deepEqual(generated(t.alice).slice(2), [
    "CREATE_CHILD_SA request 2 [ N(REKEY_SA) SA No TSi TSr ]",
    "INFORMATIONAL request 3 [ D ]",
  ]);
  assert.deepEqual(generated(t.bob).slice(2), [
    "CREATE_CHILD_SA response 2 [ SA No TSi TSr ]",
    "INFORMATIONAL response 3 [ D ]",
  ]);
  assert.ok(t.alice.sad.has(`in/${oldIn}`), "old inbound SA lingers");
  t.run(t.clock.now + 3000);
  t.stopTraffic();
  t.run(t.clock.now + 1000);
  assert.ok(!t.alice.sad.has(`in/${oldIn}`));
  assert.equal(t.alice.sad.size, 2);
  assert.equal(t.bob.sad.size, 2);
  assertMirrored(t.alice, t.bob);
  assert.deepEqual(t.traffic.lost, []);
  assert.ok(t.traffic.delivered > 500);
  // New keys differ from the old ones (fresh nonces).
  assert.notEqual(t.alice.inbound()[0].spi, oldIn);
  assert.equal(t.alice.eventsOf("child-up").length, 2);
  assert.equal(t.alice.eventsOf("child-down")[0].reason, "rekeyed");
  // The replacement names the child SA it replaces, on both sides (updown runs nothing for it).
  for (const side of [t.alice, t.bob]) {
    const [first, second] = side.eventsOf("child-up");
    assert.equal(first.rekeyOf, undefined);
    assert.equal(second.rekeyOf, first.childSaId);
    assert.equal(side.eventsOf("child-down")[0].childSaId, first.childSaId);
  }
});

/*
 *   the responder rekeys (its first request: mid 0)
 *          <-- CREATE_CHILD_SA request 0 [ N(REKEY_SA) SA No TSi TSr ]
 *   CREATE_CHILD_SA response 0 [ SA No TSi TSr ] -->
 *          <-- INFORMATIONAL request 1 [ D ]
 *   INFORMATIONAL response 1 [ D ] -->
 */
Deno.test("engine: responder-initiated child rekey", () => {
  const t = up();
  t.startTraffic(5);
  t.apply(t.bob, t.bob.engine.rekeyChild(childId(t.bob), t.clock.now));
  t.run(t.clock.now + 4000);
  t.stopTraffic();
  t.run(t.clock.now + 100);
  assert.deepEqual(generated(t.bob).slice(2), [
    "CREATE_CHILD_SA request 0 [ N(REKEY_SA) SA No TSi TSr ]",
    "INFORMATIONAL request 1 [ D ]",
  ]);
  assert.equal(t.alice.sad.size, 2);
  assertMirrored(t.alice, t.bob);
  assert.deepEqual(t.traffic.lost, []);
});

/*
 *   PFS: CREATE_CHILD_SA request 2 [ N(REKEY_SA) SA No KE TSi TSr ] -->
 *          <-- CREATE_CHILD_SA response 2 [ SA No KE TSi TSr ]
 */
Deno.test("engine: child rekey with PFS (KE in CREATE_CHILD_SA)", () => {
  const t = up(pskConfigs({ espProposals: "aes256gcm16-x25519" }));
  t.apply(t.alice, t.alice.engine.rekeyChild(childId(t.alice), t.clock.now));
  t.run(t.clock.now + 5000);
  assert.equal(generated(t.alice)[2], "CREATE_CHILD_SA request 2 [ N(REKEY_SA) SA No KE TSi TSr ]");
  assert.equal(generated(t.bob)[2], "CREATE_CHILD_SA response 2 [ SA No KE TSi TSr ]");
  assert.equal(t.alice.sad.size, 2);
  assertMirrored(t.alice, t.bob);
});

/*
 *   PFS group mismatch: alice prefers x25519, bob only ecp256
 *   CREATE_CHILD_SA request 2 [ N(REKEY_SA) SA No KE(x25519) TSi TSr ] -->
 *          <-- CREATE_CHILD_SA response 2 [ N(INVAL_KE) ]
 *   CREATE_CHILD_SA request 3 [ N(REKEY_SA) SA No KE(ecp256) TSi TSr ] -->
 *          <-- CREATE_CHILD_SA response 3 [ SA No KE TSi TSr ]
 */
Deno.test("engine: INVALID_KE_PAYLOAD in CREATE_CHILD_SA retries with the peer's group", () => {
  const t = up(pskConfigs({
    espProposals: "aes256gcm16-x25519-ecp256",
    bobEspProposals: "aes256gcm16-ecp256",
  }));
  t.apply(t.alice, t.alice.engine.rekeyChild(childId(t.alice), t.clock.now));
  t.run(t.clock.now + 5000);
  assert.equal(generated(t.bob)[2], "CREATE_CHILD_SA response 2 [ N(INVAL_KE) ]");
  assert.equal(generated(t.bob)[3], "CREATE_CHILD_SA response 3 [ SA No KE TSi TSr ]");
  assert.equal(t.alice.sad.size, 2);
  assertMirrored(t.alice, t.bob);
});

/*
 *   two children: the first in IKE_AUTH, the second in CREATE_CHILD_SA
 *   CREATE_CHILD_SA request 2 [ SA No TSi TSr ] -->
 *          <-- CREATE_CHILD_SA response 2 [ SA No TSi TSr ]
 */
Deno.test("engine: further children are created with CREATE_CHILD_SA", () => {
  const cfg = pskConfigs();
  const a = cfg.alice.connections[0], b = cfg.bob.connections[0];
  const second = (local: string, remote: string) => ({
    name: "web",
    mode: "tunnel" as const,
    protocol: "esp" as const,
    proposals: parseProposals("aes128gcm16", "esp"),
    localTs: [local],
    remoteTs: [remote],
  });
  cfg.alice = {
    ...cfg.alice,
    connections: [{ ...a, children: [...a.children, second("10.11.0.0/16", "10.12.0.0/16")] }],
  };
  cfg.bob = {
    ...cfg.bob,
    connections: [{ ...b, children: [...b.children, second("10.12.0.0/16", "10.11.0.0/16")] }],
  };
  const t = new TwoPeers(cfg);
  t.initiate("alice", "site");
  t.run(5000);
  assert.equal(generated(t.alice)[2], "CREATE_CHILD_SA request 2 [ SA No TSi TSr ]");
  assert.equal(t.alice.sad.size, 4);
  assert.equal(t.bob.sad.size, 4);
  assertMirrored(t.alice, t.bob);
  assert.deepEqual(t.alice.eventsOf("child-up").map((e) => e.childName), ["net", "web"]);
});

/*
 *   both ends rekey the same child at once (RFC 7296 2.8.1):
 *   CREATE_CHILD_SA request 2 [ N(REKEY_SA) ... ] -->   <-- CREATE_CHILD_SA request 0 [ N(REKEY_SA) ... ]
 *   each answers the other; the new SA made with the lowest nonce is deleted by its
 *   initiator, the old SA by both; traffic keeps flowing.
 */
for (let seed = 1; seed <= 6; seed++) {
  Deno.test(`engine: simultaneous child rekey collision (seed ${seed})`, () => {
    const cfg = pskConfigs();
    const t = new TwoPeers({ ...cfg, seed });
    t.initiate("alice", "site");
    t.run(5000);
    t.startTraffic(5);
    t.apply(t.alice, t.alice.engine.rekeyChild(childId(t.alice), t.clock.now));
    t.apply(t.bob, t.bob.engine.rekeyChild(childId(t.bob), t.clock.now));
    t.run(t.clock.now + 6000);
    t.stopTraffic();
    t.run(t.clock.now + 100);
    assert.equal(t.alice.sad.size, 2, [...t.alice.logs, ...t.bob.logs].join("\n"));
    assert.equal(t.bob.sad.size, 2);
    assertMirrored(t.alice, t.bob);
    assert.deepEqual(t.traffic.lost, []);
    assert.equal(t.alice.engine.list()[0].children.length, 1);
    assert.equal(t.bob.engine.list()[0].children.length, 1);
  });
}

/*
 *   rekey vs delete: alice rekeys while bob deletes the same child
 *   CREATE_CHILD_SA request 2 [ N(REKEY_SA) ... ] -->  <-- INFORMATIONAL request 0 [ D ]
 *          <-- CREATE_CHILD_SA response 2 [ N(CHILD_SA_NOT_FOUND) ]
 *   both end without child SAs and with the IKE SA up.
 */
Deno.test("engine: rekey colliding with a delete of the same child", () => {
  const t = up();
  t.apply(t.alice, t.alice.engine.rekeyChild(childId(t.alice), t.clock.now));
  t.apply(t.bob, t.bob.engine.closeChild(childId(t.bob), t.clock.now));
  t.run(t.clock.now + 10_000);
  assert.equal(t.alice.sad.size, 0, [...t.alice.logs, ...t.bob.logs].join("\n"));
  assert.equal(t.bob.sad.size, 0);
  assert.equal(t.alice.engine.list()[0].state, "established");
  assert.equal(t.bob.engine.list()[0].state, "established");
});

/*
 *   rekey_time 60 s (minus up to 10% jitter), life_time 90 s on both ends; 30 min
 *   with a packet every 200 ms each way: rekeys keep happening, nothing is lost,
 *   and the SAD never grows.
 */
Deno.test("engine: time-based child rekeying over 30 minutes loses no packets", () => {
  const lifetimes = { rekeySeconds: 60, lifeSeconds: 90 };
  const t = up(pskConfigs({ aliceChild: { lifetimes }, bobChild: { lifetimes } }));
  t.startTraffic(200);
  t.run(t.clock.now + 30 * 60_000);
  t.stopTraffic();
  t.run(t.clock.now + 5000);
  const rekeys = t.alice.eventsOf("child-up").length + t.bob.eventsOf("child-up").length;
  assert.ok(rekeys >= 30, `only ${rekeys} child-up events`);
  assert.deepEqual(t.traffic.lost, []);
  assert.equal(t.alice.sad.size, 2);
  assert.equal(t.bob.sad.size, 2);
  assertMirrored(t.alice, t.bob);
  assert.equal(t.alice.eventsOf("child-down").filter((e) => e.reason === "expired").length, 0);
});

/*
 *   hard lifetime without rekeying: the child is deleted at life_time
 *   INFORMATIONAL request 2 [ D ] -->  <-- INFORMATIONAL response 2 [ D ]
 */
Deno.test("engine: hard lifetime deletes the child", () => {
  const t = up(pskConfigs({ aliceChild: { lifetimes: { lifeSeconds: 30 } } }));
  t.run(t.clock.now + 31_000);
  assert.equal(t.alice.sad.size + t.bob.sad.size, 0);
  assert.equal(t.alice.eventsOf("child-down")[0].reason, "expired");
  // A soft byte/packet limit from the SAD triggers a rekey the same way as the timer.
  const q = up();
  q.apply(q.alice, q.alice.engine.childExpired(childId(q.alice), "soft", q.clock.now));
  q.run(q.clock.now + 5000);
  assert.equal(generated(q.alice)[2], "CREATE_CHILD_SA request 2 [ N(REKEY_SA) SA No TSi TSr ]");
});

/*
 *   10% loss on the IKE path, 1 hour, rekey every 60 s on both ends (jittered, so
 *   they sometimes collide: RFC 7296 2.8.1), life 120 s, traffic every 500 ms:
 *   no application packet is lost, there is always an outbound SA, and a
 *   duplicate child never lives longer than 30 s. Retransmits give up within
 *   ~56 s (1 s, x1.3, 10 tries), inside the lifetime margin.
 */
for (const seed of [1, 2, 3, 4]) {
  Deno.test(`engine: 1 hour of child rekeying at 10% IKE loss (seed ${seed})`, () => {
    const lifetimes = { rekeySeconds: 60, lifeSeconds: 120 };
    const retransmit = { timeoutMs: 1000, base: 1.3, tries: 10 };
    const t = new TwoPeers({
      ...pskConfigs({
        aliceChild: { lifetimes },
        bobChild: { lifetimes },
        alice: { retransmit },
        bob: { retransmit },
      }),
      network: { seed, lossRate: 0.1, jitterMs: 200 },
      seed,
    });
    t.initiate("alice", "site");
    t.run(60_000);
    t.startTraffic(500);
    let dup = 0, maxDup = 0;
    for (let s = 0; s < 3600; s++) {
      t.run(t.clock.now + 1000);
      const n = Math.max(
        t.alice.engine.list()[0].children.length,
        t.bob.engine.list()[0].children.length,
      );
      dup = n > 1 ? dup + 1 : 0;
      maxDup = Math.max(maxDup, dup);
    }
    t.stopTraffic();
    assert.deepEqual(t.traffic.lost, []);
    assert.equal(t.traffic.noSa, 0);
    assert.ok(maxDup <= 30, `two children for ${maxDup} s`);
    assert.equal(t.alice.engine.list().length, 1);
    assert.equal(t.bob.engine.list().length, 1);
    assert.ok(t.alice.eventsOf("child-up").length + t.bob.eventsOf("child-up").length >= 60);
    assertMirrored(t.alice, t.bob);
  });
}

/*
 *   alice rekeys the IKE SA (old SA: mid 2):
 *   CREATE_CHILD_SA request 2 [ SA No KE ] -->
 *          <-- CREATE_CHILD_SA response 2 [ SA No KE ]
 *   (new IKE SA with new SPIs; the child SA moves over, untouched)
 *   INFORMATIONAL request 3 [ D ] -->            (old IKE SA)
 *          <-- INFORMATIONAL response 3 [ ]
 *   then the new SA works: a child rekey on it uses message id 0.
 */
Deno.test("engine: IKE SA rekey moves the child SAs to the new IKE SA", () => {
  const t = up();
  const [old] = t.alice.engine.list();
  const sad = [...t.alice.sad.keys()];
  t.startTraffic(5);
  t.apply(t.alice, t.alice.engine.rekeyIke(old.id, t.clock.now));
  t.run(t.clock.now + 3000);
  assert.deepEqual(generated(t.alice).slice(2), [
    "CREATE_CHILD_SA request 2 [ SA No KE ]",
    "INFORMATIONAL request 3 [ D ]",
  ]);
  const [a] = t.alice.engine.list();
  const [b] = t.bob.engine.list();
  assert.equal(t.alice.engine.list().length, 1);
  assert.equal(t.bob.engine.list().length, 1);
  assert.notEqual(a.id, old.id);
  assert.equal(a.spiI, b.spiI);
  assert.equal(a.spiR, b.spiR);
  assert.notEqual(a.spiI, old.spiI);
  assert.equal(a.children.length, 1);
  assert.deepEqual([...t.alice.sad.keys()], sad, "child SAs untouched");
  assert.equal(t.alice.eventsOf("ike-rekeyed")[0].oldIkeSaId, old.id);
  assert.equal(t.alice.eventsOf("ike-down").length + t.bob.eventsOf("ike-down").length, 0);
  // The new IKE SA carries the next exchanges (fresh message ids).
  t.apply(t.alice, t.alice.engine.rekeyChild(a.children[0].id, t.clock.now));
  t.run(t.clock.now + 4000);
  t.stopTraffic();
  t.run(t.clock.now + 100);
  assert.equal(
    generated(t.alice).at(-2),
    "CREATE_CHILD_SA request 0 [ N(REKEY_SA) SA No TSi TSr ]",
  );
  assert.deepEqual(t.traffic.lost, []);
  assertMirrored(t.alice, t.bob);
  // The new IKE SA was initiated by alice: she keeps the initiator role.
  assert.equal(t.alice.engine.ikeSa(a.id)!.initiator, true);
});

/*
 *   the responder rekeys the IKE SA: it becomes the initiator of the new SA
 *          <-- CREATE_CHILD_SA request 0 [ SA No KE ]
 *   CREATE_CHILD_SA response 0 [ SA No KE ] -->
 *          <-- INFORMATIONAL request 1 [ D ]
 *   INFORMATIONAL response 1 [ ] -->
 *   alice then deletes the IKE SA over the new one (as its responder).
 */
Deno.test("engine: IKE SA rekey by the responder swaps the initiator role", () => {
  const t = up();
  const [old] = t.bob.engine.list();
  t.apply(t.bob, t.bob.engine.rekeyIke(old.id, t.clock.now));
  t.run(t.clock.now + 3000);
  const [b] = t.bob.engine.list();
  const [a] = t.alice.engine.list();
  assert.equal(t.bob.engine.ikeSa(b.id)!.initiator, true);
  assert.equal(t.alice.engine.ikeSa(a.id)!.initiator, false);
  t.apply(t.alice, t.alice.engine.terminate(a.id, t.clock.now));
  t.run(t.clock.now + 3000);
  assert.equal(t.alice.engine.list().length + t.bob.engine.list().length, 0);
  assert.equal(t.alice.sad.size + t.bob.sad.size, 0);
});

/*
 *   Issue 6's acceptance run: rekey_time 60 s for the IKE SA and for the
 *   child on both ends (jittered, so both sides often rekey at once: RFC 7296
 *   2.8.1/2.8.2 collisions), 10% loss, 1 hour: IKE SA and child rekeys
 *   interleave; no application packet is lost and one IKE SA remains.
 */
for (const seed of [3, 5, 6, 7]) {
  Deno.test(`engine: 1 hour of IKE and child rekeying every 60 s on both ends at 10% loss (seed ${seed})`, () => {
    const lifetimes = { rekeySeconds: 60, lifeSeconds: 120 };
    const retransmit = { timeoutMs: 1000, base: 1.3, tries: 10 };
    const t = new TwoPeers({
      ...pskConfigs({
        aliceChild: { lifetimes },
        bobChild: { lifetimes },
        alice: { retransmit, rekeySeconds: 60 },
        bob: { retransmit, rekeySeconds: 60 },
      }),
      network: { seed, lossRate: 0.1, jitterMs: 200 },
      seed,
    });
    t.initiate("alice", "site");
    t.run(5000);
    t.startTraffic(500);
    t.run(t.clock.now + 60 * 60_000);
    t.stopTraffic();
    t.run(t.clock.now + 3000);
    assert.deepEqual(t.traffic.lost, []);
    assert.equal(t.traffic.noSa, 0);
    assert.ok(t.alice.eventsOf("ike-rekeyed").length + t.bob.eventsOf("ike-rekeyed").length >= 40);
    assert.ok(t.alice.eventsOf("child-up").length + t.bob.eventsOf("child-up").length >= 40);
    // One established IKE SA each; an old one may still be "deleting" when
    // the response to its Delete was lost (the peer forgot it: no answer to
    // the retransmits, which give up within ~56 s).
    const live = (p: typeof t.alice) =>
      p.engine.list().filter((s) => s.state !== "deleting").map((s) => `${s.id} ${s.state}`);
    assert.equal(live(t.alice).length, 1, t.alice.logs.slice(-30).join("\n"));
    assert.equal(live(t.bob).length, 1, t.bob.logs.slice(-30).join("\n"));
    assertMirrored(t.alice, t.bob);
  });
}

/*
 *   reauthentication, make-before-break:
 *   IKE_SA_INIT request 0 / IKE_AUTH request 1 [ IDi IDr AUTH N(MULT_AUTH) SA TSi TSr ] -->  (new SA,
 *     no INITIAL_CONTACT, so bob keeps the old one meanwhile)
 *   INFORMATIONAL request 2 [ D ] -->   (old IKE SA, with its child SAs)
 *   traffic moves to the new child SA without loss.
 */
Deno.test("engine: reauthentication brings up the new IKE SA before deleting the old", () => {
  const t = up();
  const [old] = t.alice.engine.list();
  t.startTraffic(5);
  t.apply(t.alice, t.alice.engine.reauthenticate(old.id, t.clock.now));
  t.run(t.clock.now + 4000);
  t.stopTraffic();
  t.run(t.clock.now + 100);
  assert.ok(
    generated(t.alice).includes(
      "IKE_AUTH request 1 [ IDi IDr AUTH N(MULT_AUTH) SA TSi TSr N(MOBIKE_SUP) N(NO_ADD_ADDR) ]",
    ),
  );
  assert.equal(t.alice.engine.list().length, 1);
  assert.equal(t.bob.engine.list().length, 1);
  assert.notEqual(t.alice.engine.list()[0].spiI, old.spiI);
  assert.equal(t.alice.eventsOf("ike-down")[0].reason, "reauthenticated");
  assert.equal(t.alice.sad.size, 2);
  assertMirrored(t.alice, t.bob);
  assert.deepEqual(t.traffic.lost, []);
  // Periodic: reauth_time 100 s over 10 minutes.
  const q = up(pskConfigs({ alice: { reauthSeconds: 100 } }));
  q.startTraffic(50);
  q.run(q.clock.now + 600_000);
  q.stopTraffic();
  q.run(q.clock.now + 3000);
  assert.ok(q.alice.eventsOf("ike-up").length >= 6);
  assert.equal(q.alice.engine.list().length, 1);
  assert.equal(q.bob.engine.list().length, 1);
  assert.deepEqual(q.traffic.lost, []);
});

/*
 *   alice (vips 0.0.0.0) gets 10.3.0.1 from bob's pool; reauthentication, make-before-break:
 *   IKE_AUTH request 1 [ ... CPRQ(ADDR=10.3.0.1) ... ] -->   (the address she holds)
 *        <-- IKE_AUTH response 1 [ ... CPRP(ADDR=10.3.0.1) ... ]
 *   the old IKE SA goes; the address stays leased to the new one
 */
Deno.test("engine: a road warrior keeps its virtual IP when it reauthenticates", () => {
  const cfg = pskConfigs({
    alice: { reauthSeconds: 100, vips: ["0.0.0.0"] },
    aliceChild: { localTs: ["dynamic"] },
    bob: { pools: ["rw"] },
    bobChild: { remoteTs: ["dynamic"] },
  });
  const t = new TwoPeers({
    ...cfg,
    bob: { ...cfg.bob, pools: [{ name: "rw", range: "10.3.0.0/24" }] },
  });
  t.initiate("alice", "site");
  t.run(5000);
  const first = t.alice.engine.list()[0];
  assert.equal(first.vip, "10.3.0.1");
  t.run(t.clock.now + 110_000);
  const [now] = t.alice.engine.list();
  assert.notEqual(now.spiI, first.spiI, "reauthenticated");
  assert.equal(now.vip, "10.3.0.1");
  // The old IKE SA is gone on both sides.
  assert.equal(t.bob.engine.list().length, 1);
});
