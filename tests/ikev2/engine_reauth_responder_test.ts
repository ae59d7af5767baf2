import assert from "node:assert/strict";
import { pskConfigs, TwoPeers } from "../helpers/two_peers.ts";

/*
 *   alice initiates; bob (the responder) has reauthSeconds 100 and alice's address:
 *   after 100 s bob starts a new IKE SA as its initiator (no INITIAL_CONTACT):
 *                <-- IKE_SA_INIT request 0 / IKE_AUTH request 1 [ IDi IDr AUTH N(MULT_AUTH) SA TSi TSr ]
 *                <-- INFORMATIONAL request 0 [ D ]   (the old IKE SA, with its child)
 *   as strongSwan's reauth_time does on a responder (found against charon: ours only
 *   reauthenticated SAs it had initiated).
 */
Deno.test("engine: a responder with reauthSeconds reauthenticates, becoming the initiator", () => {
  const cfg = pskConfigs({ bob: { reauthSeconds: 100, remoteAddress: "192.0.2.1" } });
  const t = new TwoPeers(cfg);
  t.initiate("alice", "site");
  t.run(5000);
  const [old] = t.bob.engine.list();
  assert.equal(old.initiator, false);
  t.run(t.clock.now + 110_000);
  const sas = t.bob.engine.list();
  assert.equal(sas.length, 1);
  assert.notEqual(sas[0].spiI, old.spiI);
  assert.equal(sas[0].initiator, true);
  assert.equal(t.bob.eventsOf("ike-down")[0].reason, "reauthenticated");
  assert.equal(t.alice.engine.list().length, 1);
  assert.equal(t.alice.engine.list()[0].spiI, sas[0].spiI);
  assert.equal(t.alice.sad.size, 2);
  assert.equal(t.bob.sad.size, 2);
});

Deno.test("engine: a responder for %any does not reauthenticate (no address to go to)", () => {
  const t = new TwoPeers(pskConfigs({ bob: { reauthSeconds: 100 } }));
  t.initiate("alice", "site");
  t.run(5000);
  const [old] = t.bob.engine.list();
  t.run(t.clock.now + 110_000);
  assert.equal(t.bob.engine.list()[0].spiI, old.spiI);
  assert.ok(!t.bob.logs.some((l) => /reauthenticat/.test(l)), t.bob.logs.join("\n"));
});
