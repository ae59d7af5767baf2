/**
 * swanctl's `childless` (RFC 6023) between two engines: "force" and
 * "prefer" bring the IKE SA up without a child in IKE_AUTH and the children
 * with CREATE_CHILD_SA; "prefer" falls back to a child in IKE_AUTH when the
 * responder does not announce CHILDLESS_IKEV2_SUPPORTED ("never"), and
 * "force" then fails; a "never" responder refuses a childless IKE_AUTH.
 *
 * ```
 *   alice (force)                                 bob
 *   IKE_SA_INIT  -->   <--  [ ... N(CHDLESS_SUP) N(MULT_AUTH) ]
 *   IKE_AUTH [ IDi IDr AUTH ... ]  -->   <--  [ IDr AUTH ... ]   (no SA, TSi, TSr)
 *   CREATE_CHILD_SA [ SA No KE TSi TSr ]  -->   <--  [ SA No KE TSi TSr ]
 * ```
 */
import assert from "node:assert/strict";
import type { PeerConfig } from "../../lib/ikev2/peer_config.ts";
import { pskConfigs, TwoPeers } from "../helpers/two_peers.ts";

function run(alice: PeerConfig["childless"], bob?: PeerConfig["childless"]): TwoPeers {
  const t = new TwoPeers(pskConfigs({
    alice: { childless: alice },
    ...(bob ? { bob: { childless: bob } } : {}),
  }));
  t.initiate("alice", "site");
  t.run(5000);
  return t;
}

const sent = (t: TwoPeers, what: RegExp) =>
  t.alice.logs.filter((l) => / generating /.test(l) && what.test(l)).map((l) =>
    l.replace(/^.* generating /, "")
  );

Deno.test("engine childless force/prefer: IKE_AUTH without a child, the child by CREATE_CHILD_SA", () => {
  for (const mode of ["force", "prefer"] as const) {
    const t = run(mode);
    assert.equal(t.alice.eventsOf("ike-up").length, 1, mode);
    assert.equal(t.alice.eventsOf("child-up").length, 1, mode);
    assert.equal(t.alice.sad.size, 2, mode);
    assert.doesNotMatch(sent(t, /IKE_AUTH request/)[0], / SA /, mode);
    assert.equal(sent(t, /CREATE_CHILD_SA request/).length, 1, mode);
  }
});

Deno.test("engine childless: prefer falls back to a child in IKE_AUTH, force fails, never refuses", () => {
  const p = run("prefer", "never");
  assert.equal(p.alice.eventsOf("child-up").length, 1);
  assert.match(sent(p, /IKE_AUTH request/)[0], / SA TSi TSr/);
  assert.equal(sent(p, /CREATE_CHILD_SA/).length, 0);
  const f = run("force", "never");
  assert.equal(f.alice.eventsOf("ike-up").length, 0);
  assert.match(f.alice.eventsOf("ike-failed")[0].reason, /peer does not support childless/);
  // An initiator that goes childless anyway (it ignores the missing announcement).
  const n = run("allow", "never");
  assert.equal(n.alice.eventsOf("child-up").length, 1, "allow initiates with a child");
  const bobNever = pskConfigs({ alice: { children: [] }, bob: { childless: "never" } });
  const r = new TwoPeers(bobNever);
  r.initiate("alice", "site");
  r.run(5000);
  assert.equal(r.bob.eventsOf("ike-up").length, 0);
  assert.ok(r.bob.logs.some((l) => /without a child \(childless: never\)/.test(l)));
  assert.match(r.alice.eventsOf("ike-failed")[0]?.reason ?? "", /INVALID_SYNTAX/);
});
