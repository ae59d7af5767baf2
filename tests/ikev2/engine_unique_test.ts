/**
 * strongSwan's IKE SA uniqueness policy (`unique`) on the responder, bob:
 * alice (alice@example.org) brings up a second IKE SA of the same
 * connection, either beside her first one (no INITIAL_CONTACT, she still
 * has an SA with bob) or after a restart (INITIAL_CONTACT).
 *
 * ```
 *   alice                                        bob (unique: ...)
 *   IKE SA #1 up
 *   IKE_SA_INIT, IKE_AUTH [ IDi AUTH ... ]  -->   no:      both stay
 *                                                 replace: INFORMATIONAL [ D ] for #1
 *                                 <-- N(AUTHENTICATION_FAILED)   keep: #2 refused
 * ```
 */
import assert from "node:assert/strict";
import type { UniquePolicy } from "../../lib/ikev2/peer_config.ts";
import { pskConfigs, TwoPeers } from "../helpers/two_peers.ts";

function twice(unique?: UniquePolicy): TwoPeers {
  const t = new TwoPeers(pskConfigs({ bob: unique ? { unique } : {} }));
  t.initiate("alice", "site");
  t.run(5000);
  assert.equal(t.bob.engine.list().length, 1);
  t.initiate("alice", "site");
  t.run(t.clock.now + 20_000);
  return t;
}

Deno.test("engine unique: no (default) keeps both IKE SAs when the second has no INITIAL_CONTACT", () => {
  const t = twice();
  assert.equal(t.bob.engine.list().length, 2);
  assert.equal(t.alice.engine.list().length, 2);
  assert.equal(t.bob.eventsOf("ike-down").length, 0);
});

Deno.test("engine unique: replace deletes the older IKE SA with an INFORMATIONAL Delete", () => {
  const t = twice("replace");
  assert.equal(t.bob.engine.list().length, 1);
  assert.equal(t.alice.engine.list().length, 1, "alice learnt of the delete");
  assert.equal(t.bob.eventsOf("ike-down")[0].reason, "replaced (unique: replace)");
  assert.equal(t.alice.eventsOf("ike-down")[0].reason, "deleted by peer");
  // The newer one survives on both sides, with its child SA.
  const [a] = t.alice.engine.list();
  const [b] = t.bob.engine.list();
  assert.equal(a.spiI, b.spiI);
  assert.equal(t.alice.eventsOf("ike-up").length, 2);
  assert.equal(t.bob.sad.size, 2);
  assert.ok(t.bob.logs.some((l) => /deleting duplicate IKE_SA due to uniqueness policy/.test(l)));
});

Deno.test("engine unique: keep refuses the second IKE SA with AUTHENTICATION_FAILED", () => {
  const t = twice("keep");
  assert.equal(t.bob.engine.list().length, 1);
  assert.equal(t.alice.engine.list().length, 1);
  assert.equal(
    t.bob.eventsOf("ike-failed")[0].reason,
    "refused by uniqueness policy (unique: keep)",
  );
  assert.match(t.alice.eventsOf("ike-failed")[0].reason, /AUTHENTICATION_FAILED/);
  assert.equal(t.alice.eventsOf("ike-up").length, 1);
  // The first SA and its child SAs are untouched.
  assert.equal(t.alice.engine.list()[0].spiI, t.bob.engine.list()[0].spiI);
  assert.equal(t.bob.sad.size, 2);
  assert.equal(t.bob.eventsOf("ike-down").length, 0);
});

Deno.test("engine unique: INITIAL_CONTACT replaces under keep and no, but not under never", () => {
  for (const unique of ["no", "keep", "never"] as const) {
    const t = new TwoPeers(pskConfigs({ bob: { unique } }));
    t.initiate("alice", "site");
    t.run(5000);
    t.restart("alice"); // loses its state: the next IKE_AUTH carries INITIAL_CONTACT
    t.initiate("alice", "site");
    t.run(t.clock.now + 5000);
    assert.equal(t.alice.eventsOf("ike-up").length, 1, unique);
    assert.equal(t.bob.engine.list().length, unique === "never" ? 2 : 1, unique);
    assert.equal(t.bob.eventsOf("ike-down").length, unique === "never" ? 0 : 1, unique);
  }
});
