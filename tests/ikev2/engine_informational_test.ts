import assert from "node:assert/strict";
import { ChildSa } from "../../lib/ikev2/child_sa.ts";
import { pskConfigs, TwoPeers } from "../helpers/two_peers.ts";

function generated(p: { logs: string[] }): string[] {
  return p.logs.filter((l) => l.includes("generating")).map((l) => l.replace(/^.*generating /, ""));
}

function established(): TwoPeers {
  const t = new TwoPeers(pskConfigs());
  t.initiate("alice", "site");
  t.run(5000);
  assert.equal(t.alice.sad.size, 2);
  assert.equal(t.bob.sad.size, 2);
  return t;
}

/*
 *   alice                                      bob
 *   (IKE and child SA up)
 *   INFORMATIONAL request 2 [ D ] -->              (D = IKE)
 *                 <-- INFORMATIONAL response 2 [ ]
 *   both: child SAs removed (both directions), ike-down
 */
Deno.test("engine: initiator deletes the IKE SA; both sides clean up", () => {
  const t = established();
  t.apply(t.alice, t.alice.engine.terminate(t.alice.engine.list()[0].id, t.clock.now));
  t.run(t.clock.now + 5000);
  assert.equal(generated(t.alice).at(-1), "INFORMATIONAL request 2 [ D ]");
  assert.equal(generated(t.bob).at(-1), "INFORMATIONAL response 2 [ ]");
  assert.equal(t.alice.sad.size + t.bob.sad.size, 0);
  assert.equal(t.alice.eventsOf("ike-down").length, 1);
  assert.equal(t.bob.eventsOf("ike-down")[0].reason, "deleted by peer");
  assert.equal(t.alice.eventsOf("child-down").length, 1);
  assert.equal(t.bob.eventsOf("child-down").length, 1);
  assert.equal(t.alice.engine.list().length + t.bob.engine.list().length, 0);
  assert.equal(t.clock.pending().length, 0, "no timers left behind");
});

/*
 *   alice                                      bob
 *                 <-- INFORMATIONAL request 0 [ D ]   (bob's first request: mid 0)
 *   INFORMATIONAL response 0 [ ] -->
 */
Deno.test("engine: responder deletes the IKE SA (its own message ids start at 0)", () => {
  const t = established();
  t.apply(t.bob, t.bob.engine.terminate(t.bob.engine.list()[0].id, t.clock.now));
  t.run(t.clock.now + 5000);
  assert.equal(generated(t.bob).at(-1), "INFORMATIONAL request 0 [ D ]");
  assert.equal(generated(t.alice).at(-1), "INFORMATIONAL response 0 [ ]");
  assert.equal(t.alice.sad.size + t.bob.sad.size, 0);
  assert.equal(t.alice.engine.list().length + t.bob.engine.list().length, 0);
});

/*
 *   alice                                      bob
 *                 <-- INFORMATIONAL request 0 [ D(ESP, bob's inbound SPI) ]
 *   INFORMATIONAL response 0 [ D(ESP, alice's inbound SPI) ] -->
 *   both: child removed, IKE SA stays
 */
Deno.test("engine: child SA delete removes both directions on both sides", () => {
  const t = established();
  const [ike] = t.bob.engine.list();
  t.apply(t.bob, t.bob.engine.closeChild(ike.children[0].id, t.clock.now));
  t.run(t.clock.now + 5000);
  assert.equal(generated(t.bob).at(-1), "INFORMATIONAL request 0 [ D ]");
  assert.equal(generated(t.alice).at(-1), "INFORMATIONAL response 0 [ D ]");
  assert.equal(t.alice.sad.size + t.bob.sad.size, 0);
  assert.equal(t.alice.engine.list()[0].state, "established");
  assert.equal(t.bob.engine.list()[0].children.length, 0);
  assert.equal(t.alice.eventsOf("child-down")[0].reason, "deleted by peer");
});

/*
 *   quiet for dpd_delay (30 s):
 *   bob: INFORMATIONAL request 0 [ ] -->  <-- INFORMATIONAL response 0 [ ]
 *   alice: INFORMATIONAL request 2 [ ] --> <-- INFORMATIONAL response 2 [ ]
 */
Deno.test("engine: liveness checks after dpd_delay of silence", () => {
  const t = established();
  t.run(t.clock.now + 31_000);
  assert.ok(generated(t.bob).includes("INFORMATIONAL request 0 [ ]"));
  assert.ok(generated(t.alice).includes("INFORMATIONAL response 0 [ ]"));
  assert.equal(t.alice.engine.list()[0].state, "established");
  // DPD off: no liveness checks.
  const q = new TwoPeers(
    pskConfigs({ alice: { dpdDelaySeconds: 0 }, bob: { dpdDelaySeconds: 0 } }),
  );
  q.initiate("alice", "site");
  q.run(300_000);
  assert.equal(generated(q.alice).filter((l) => l.startsWith("INFORMATIONAL")).length, 0);
});

for (const action of ["clear", "trap"] as const) {
  /*
   *   the network dies after establishment:
   *   alice: INFORMATIONAL request 2 [ ] --> (lost) ... 5 retransmits, give up
   *   dpd_action clear/trap: IKE and child SAs removed, ike-down
   */
  Deno.test(`engine: dead peer detected, dpd_action ${action}`, () => {
    const t = new TwoPeers(pskConfigs({
      alice: { dpdDelaySeconds: 10, dpdAction: action },
      bob: { dpdDelaySeconds: 0 },
    }));
    t.initiate("alice", "site");
    t.run(5000);
    t.net.set({ lossRate: 1 });
    t.run(t.clock.now + 400_000);
    assert.equal(t.alice.sad.size, 0);
    assert.equal(t.alice.engine.list().length, 0);
    assert.match(t.alice.eventsOf("ike-down")[0].reason, new RegExp(`dpd_action ${action}`));
    assert.equal(t.alice.eventsOf("ike-up").length, 1, "no restart");
  });
}

/*
 *   dpd_action restart: after giving up, alice initiates a new IKE SA; once the
 *   network heals it comes up again with a fresh child SA.
 *   IKE_SA_INIT request 0 --> ... IKE_AUTH ... (new SPIs)
 */
Deno.test("engine: dead peer detected, dpd_action restart re-establishes", () => {
  const t = new TwoPeers(pskConfigs({
    alice: { dpdDelaySeconds: 10, dpdAction: "restart" },
    bob: { dpdDelaySeconds: 0 },
  }));
  t.initiate("alice", "site");
  t.run(5000);
  t.net.set({ lossRate: 1 });
  t.run(t.clock.now + 185_000); // the liveness check gives up after ~165 s
  assert.equal(t.alice.eventsOf("ike-down").length, 1);
  t.net.set({ lossRate: 0 });
  t.run(t.clock.now + 200_000);
  assert.equal(t.alice.eventsOf("ike-up").length, 2);
  assert.equal(t.alice.sad.size, 2);
  // Bob got INITIAL_CONTACT in the new IKE_AUTH and dropped the stale SA.
  assert.equal(t.bob.engine.list().length, 1);
  assert.equal(t.bob.sad.size, 2);
});

/*
 *   alice restarts (loses state) and connects again:
 *   IKE_AUTH request 1 [ IDi IDr AUTH N(INIT_CONTACT) SA TSi TSr ] -->
 *   bob deletes the old IKE SA with the same identities and its child SAs.
 */
Deno.test("engine: INITIAL_CONTACT replaces the peer's old IKE SA", () => {
  const t = established();
  const oldSpi = t.bob.inbound()[0].spi;
  t.restart("alice");
  t.initiate("alice", "site");
  t.run(t.clock.now + 5000);
  assert.equal(t.bob.engine.list().length, 1);
  assert.equal(t.bob.sad.size, 2);
  assert.ok(!t.bob.sad.has(`in/${oldSpi}`));
  assert.equal(t.bob.eventsOf("ike-down")[0].reason, "replaced (INITIAL_CONTACT)");
  // Without INITIAL_CONTACT both SAs stay.
  const q = new TwoPeers(pskConfigs({ alice: { initialContact: false } }));
  q.initiate("alice", "site");
  q.run(5000);
  q.restart("alice");
  q.initiate("alice", "site");
  q.run(q.clock.now + 5000);
  assert.equal(q.bob.engine.list().length, 2);
});

/*
 *   alice deletes a child SPI bob does not know:
 *   INFORMATIONAL request 2 [ D(ESP, 0x12345678) ] -->
 *                 <-- INFORMATIONAL response 2 [ ]     (RFC 7296 3.11: nothing to delete)
 *   the real child SA stays on bob.
 */
/*
 *   alice, with an IKE SA to bob up, connects again (e.g. an acquire raced a rekey):
 *   IKE_AUTH request 1 [ IDi IDr AUTH SA TSi TSr ] -->   (no INITIAL_CONTACT: RFC 7296 2.4)
 *   bob keeps both IKE SAs.
 */
Deno.test("engine: no INITIAL_CONTACT while another IKE SA with the peer is up", () => {
  const t = established();
  t.initiate("alice", "site");
  t.run(t.clock.now + 5000);
  assert.equal(t.bob.engine.list().length, 2);
  assert.equal(t.bob.eventsOf("ike-down").length, 0);
  assert.equal(t.alice.engine.list().length, 2);
});

Deno.test("engine: Delete for an unknown child SPI is answered empty and changes nothing", () => {
  const t = established();
  const [ike] = t.alice.engine.list();
  const sa = t.alice.engine.ikeSa(ike.id)!;
  const ghost = new ChildSa({
    id: 999,
    ikeSaId: sa.id,
    config: sa.config.children[0],
    connectionName: "site",
    spiIn: 0x12345678,
  });
  ghost.transition("installed");
  sa.children.set(999, ghost);
  t.apply(t.alice, t.alice.engine.closeChild(999, t.clock.now));
  t.run(t.clock.now + 5000);
  assert.equal(generated(t.bob).at(-1), "INFORMATIONAL response 2 [ ]");
  assert.equal(t.bob.sad.size, 2);
  assert.ok(t.bob.logs.some((l) => l.includes("unknown SPI 12345678")));
});
