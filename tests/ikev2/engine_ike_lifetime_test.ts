/**
 * IKE SA lifetimes as strongSwan's `rekey_time`, `reauth_time`, `over_time`
 * and `rand_time` define them: rekeying and reauthentication happen up to
 * rand_time early; an IKE SA that neither rekeyed nor reauthenticated by
 * over_time after that is deleted (charon's hard IKE lifetime); and the
 * reauthentication time survives an IKE SA rekey (charon: "rescheduling
 * reauthentication in ...s after rekeying").
 *
 * ```
 *   t=0   IKE SA up (rekey_time 100 s, over_time 30 s, rand_time 0)
 *   t=100 CREATE_CHILD_SA (rekey) --> <-- N(NO_PROPOSAL_CHOSEN)   (retried every 5-10 s)
 *   t=130 INFORMATIONAL [ D ] -->  "IKE_SA lifetime expired"
 * ```
 */
import assert from "node:assert/strict";
import { parseProposals } from "../../lib/crypto/proposal.ts";
import type { EngineConfig } from "../../lib/ikev2/peer_config.ts";
import { pskConfigs, TwoPeers } from "../helpers/two_peers.ts";

function up(cfg: { alice: EngineConfig; bob: EngineConfig }): TwoPeers {
  const t = new TwoPeers(cfg);
  t.initiate("alice", "site");
  t.run(3000);
  assert.equal(t.alice.eventsOf("ike-up").length, 1);
  return t;
}

/** When alice armed timer `what` ("rekey", "reauth", "expire") of IKE SA `id`, in order. */
function armed(t: TwoPeers, id: number, what: string): number[] {
  return t.alice.effects.flatMap((e) =>
    e.kind === "setTimer" && e.id === `ike/${id}/${what}` ? [e.at] : []
  );
}

Deno.test("engine IKE lifetime: an IKE SA that cannot rekey is deleted over_time after", () => {
  const t = up(pskConfigs({ alice: { rekeySeconds: 100, overSeconds: 30, randSeconds: 0 } }));
  const [sa] = t.alice.engine.list();
  const est = t.alice.engine.ikeSa(sa.id)!.establishedAt;
  assert.deepEqual(armed(t, sa.id, "rekey"), [est + 100_000]);
  assert.deepEqual(armed(t, sa.id, "expire"), [est + 130_000]);
  // What `ipsec list-sas` shows ("rekeying in …, expires in …").
  assert.equal(sa.rekeyAt, est + 100_000);
  assert.equal(sa.expiresAt, est + 130_000);
  assert.equal(sa.reauthAt, undefined);
  // Bob now wants other IKE algorithms: every rekey attempt gets NO_PROPOSAL_CHOSEN.
  const bobSa = t.bob.engine.ikeSa(t.bob.engine.list()[0].id)!;
  bobSa.config = { ...bobSa.config, proposals: parseProposals("aes128-sha256-modp2048", "ike") };
  t.run(est + 129_000);
  assert.equal(t.alice.engine.list().length, 1, "still up before its hard lifetime");
  assert.ok(t.alice.logs.some((l) => /IKE_SA rekeying failed/.test(l)));
  t.run(est + 140_000);
  assert.equal(t.alice.engine.list().length, 0);
  assert.equal(t.bob.engine.list().length, 0, "bob got the Delete");
  assert.equal(t.alice.eventsOf("ike-down")[0].reason, "IKE_SA lifetime expired");
  assert.ok(t.alice.logs.some((l) => /IKE_SA lifetime expired, deleting it/.test(l)));
  assert.equal(t.alice.sad.size + t.bob.sad.size, 0);
});

Deno.test("engine IKE lifetime: a rekeyed IKE SA gets a new hard lifetime; over_time 0 = none", () => {
  const t = up(pskConfigs({ alice: { rekeySeconds: 100, overSeconds: 30, randSeconds: 0 } }));
  t.run(t.clock.now + 400_000);
  // Rekeyed four times, never expired.
  assert.equal(t.alice.eventsOf("ike-rekeyed").length, 4);
  assert.equal(t.alice.eventsOf("ike-down").length, 0);
  assert.equal(t.alice.engine.list().length, 1);
  const none = up(pskConfigs({ alice: { rekeySeconds: 100, overSeconds: 0 } }));
  assert.deepEqual(armed(none, none.alice.engine.list()[0].id, "expire"), []);
});

Deno.test("engine IKE lifetime: rand_time spreads the rekey over [rekey - rand, rekey]", () => {
  const ats: number[] = [];
  for (let seed = 1; seed <= 20; seed++) {
    const t = new TwoPeers({
      ...pskConfigs({ alice: { rekeySeconds: 1000, randSeconds: 300 } }),
      seed,
    });
    t.initiate("alice", "site");
    t.run(3000);
    const [sa] = t.alice.engine.list();
    const est = t.alice.engine.ikeSa(sa.id)!.establishedAt;
    const [at] = armed(t, sa.id, "rekey");
    ats.push(at - est);
    // over_time defaults to 10% of rekey_time, counted from when the rekey was due.
    assert.deepEqual(armed(t, sa.id, "expire"), [at + 100_000]);
  }
  assert.ok(ats.every((d) => d > 700_000 && d <= 1_000_000), ats.join(" "));
  assert.ok(new Set(ats).size > 10, "the jitter varies");
  assert.ok(Math.min(...ats) < 800_000 && Math.max(...ats) > 900_000, ats.join(" "));
});

Deno.test("engine IKE lifetime: the reauthentication time survives an IKE SA rekey", () => {
  const t = up(
    pskConfigs({ alice: { rekeySeconds: 60, reauthSeconds: 150, randSeconds: 0 } }),
  );
  const first = t.alice.engine.list()[0];
  const est = t.alice.engine.ikeSa(first.id)!.establishedAt;
  t.run(est + 140_000);
  assert.equal(t.alice.eventsOf("ike-rekeyed").length, 2, "rekeyed at 60 s and 120 s");
  assert.equal(t.alice.eventsOf("ike-up").length, 1, "no reauthentication yet");
  t.run(est + 160_000);
  assert.equal(t.alice.eventsOf("ike-up").length, 2, "reauthenticated at 150 s");
  assert.equal(t.alice.engine.list().length, 1);
  assert.equal(t.bob.engine.list().length, 1);
});
