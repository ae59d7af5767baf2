/**
 * Simultaneous IKE SA rekeying (RFC 7296 section 2.8.2): both ends answer
 * each other's rekey, then the new SA created with the lowest of the four
 * nonces is deleted by its initiator and the winner's initiator deletes the
 * old SA. No TEMPORARY_FAILURE and retry, no lost child SA traffic.
 */
import assert from "node:assert/strict";
import { type Peer, pskConfigs, TwoPeers } from "../helpers/two_peers.ts";

function generated(p: Peer): string[] {
  return p.logs.filter((l) => l.includes("generating")).map((l) => l.replace(/^.*generating /, ""));
}

/**
 * Brings the SAs up, then both ends rekey the IKE SA at the same instant
 * with ESP flowing for 5 s; runs `settleMs` more without traffic.
 */
function rekeyBothAtOnce(t: TwoPeers, settleMs: number) {
  t.initiate("alice", "site");
  t.run(5000);
  const sad = { alice: [...t.alice.sad.keys()], bob: [...t.bob.sad.keys()] };
  const [oldA] = t.alice.engine.list();
  const [oldB] = t.bob.engine.list();
  t.startTraffic(5);
  t.apply(t.alice, t.alice.engine.rekeyIke(oldA.id, t.clock.now));
  t.apply(t.bob, t.bob.engine.rekeyIke(oldB.id, t.clock.now));
  t.run(t.clock.now + 5000);
  t.stopTraffic();
  t.run(t.clock.now + settleMs);
  return { oldA, sad };
}

/*
 *   alice                                                bob
 *   CREATE_CHILD_SA request 2 [ SA No KE ] -->   <-- CREATE_CHILD_SA request 0 [ SA No KE ]
 *   CREATE_CHILD_SA response 0 [ SA No KE ] -->  <-- CREATE_CHILD_SA response 2 [ SA No KE ]
 *   (each end now has two new IKE SAs: A, created by alice's request, and B, by bob's;
 *    the one with the lowest of the four nonces is redundant, say B)
 *                                                <-- INFORMATIONAL request 0 [ D ]   (on B, by bob)
 *   INFORMATIONAL request 3 [ D ] -->                                (on the old SA, by alice)
 *   the child SA moved to A on both ends, untouched; ESP never stopped
 */
Deno.test("engine: simultaneous IKE SA rekey keeps the SA with the higher nonces", () => {
  const winners = new Set<string>();
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    const t = new TwoPeers({ ...pskConfigs(), seed });
    const { oldA, sad } = rekeyBothAtOnce(t, 100);
    const all = [...generated(t.alice), ...generated(t.bob)];
    assert.ok(!all.some((l) => l.includes("TEMP_FAIL")), `seed ${seed}: no TEMPORARY_FAILURE`);
    assert.equal(all.filter((l) => l.endsWith("[ SA No KE ]")).length, 4, `seed ${seed}`);
    const loser = t.alice.logs.some((l) => l.includes("ours is redundant")) ? "alice" : "bob";
    const winner = loser === "alice" ? "bob" : "alice";
    assert.ok(t.peer(loser).logs.some((l) => l.includes("ours is redundant")), `seed ${seed}`);
    assert.ok(
      t.peer(winner).logs.some((l) => l.includes("the peer's is redundant")),
      `seed ${seed}`,
    );
    winners.add(winner);
    // The loser deletes its redundant SA (message id 0 on it), the winner the old one.
    assert.ok(generated(t.peer(loser)).includes("INFORMATIONAL request 0 [ D ]"), `seed ${seed}`);
    assert.ok(
      generated(t.peer(winner)).includes(
        `INFORMATIONAL request ${winner === "alice" ? 3 : 1} [ D ]`,
      ),
      `seed ${seed}`,
    );
    const [a] = t.alice.engine.list();
    const [b] = t.bob.engine.list();
    assert.equal(t.alice.engine.list().length, 1, `seed ${seed}: alice keeps one IKE SA`);
    assert.equal(t.bob.engine.list().length, 1, `seed ${seed}: bob keeps one IKE SA`);
    assert.equal(a.spiI, b.spiI);
    assert.equal(a.spiR, b.spiR);
    assert.notEqual(a.id, oldA.id);
    assert.equal(a.children.length, 1);
    assert.equal(b.children.length, 1);
    assert.deepEqual([...t.alice.sad.keys()], sad.alice, "child SAs untouched");
    assert.deepEqual([...t.bob.sad.keys()], sad.bob, "child SAs untouched");
    assert.equal(t.alice.eventsOf("ike-rekeyed").length, 1);
    assert.equal(t.bob.eventsOf("ike-rekeyed").length, 1);
    assert.equal(t.alice.eventsOf("ike-down").length + t.bob.eventsOf("ike-down").length, 0);
    assert.deepEqual(t.traffic.lost, []);
    assert.equal(t.traffic.noSa, 0);
    // The surviving SA works: a child rekey on it.
    t.apply(t.alice, t.alice.engine.rekeyChild(a.children[0].id, t.clock.now));
    t.run(t.clock.now + 5000);
    assert.equal(
      t.alice.engine.list()[0].children.filter((c) => c.state === "installed").length,
      1,
    );
    assert.equal(t.alice.eventsOf("child-up").length, 2, `seed ${seed}: child rekeyed`);
  }
  assert.deepEqual([...winners].sort(), ["alice", "bob"], "both outcomes were exercised");
});

/*
 *   as above, but the first CREATE_CHILD_SA response on the wire is lost:
 *   - if it answered the loser's request, the winner's Delete of the old SA reaches
 *     the loser first: it adopts the winner's SA (the peer finished its rekey);
 *     the winner forgets the loser's redundant SA after a while on its own
 *   - if it answered the winner's request, the loser deletes its redundant SA
 *     before the winner has decided; the winner retransmits and then decides
 *   either way: one IKE SA on each end, the same one, no event for the redundant SA
 */
Deno.test("engine: simultaneous IKE SA rekey with a lost response settles on one SA", () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    let dropped = false;
    const t = new TwoPeers({
      ...pskConfigs({
        alice: { retransmit: { timeoutMs: 1000, base: 1.5, tries: 5 } },
        bob: { retransmit: { timeoutMs: 1000, base: 1.5, tries: 5 } },
      }),
      seed,
      network: {
        filter: (d) => {
          // CREATE_CHILD_SA (36) with the Response flag (0x20)
          if (!dropped && d.bytes[18] === 36 && (d.bytes[19] & 0x20) !== 0) {
            dropped = true;
            return false;
          }
          return true;
        },
      },
    });
    rekeyBothAtOnce(t, 70_000);
    assert.ok(dropped);
    const [a] = t.alice.engine.list();
    const [b] = t.bob.engine.list();
    assert.equal(t.alice.engine.list().length, 1, `seed ${seed}: alice keeps one IKE SA`);
    assert.equal(t.bob.engine.list().length, 1, `seed ${seed}: bob keeps one IKE SA`);
    assert.equal(a.spiI, b.spiI, `seed ${seed}`);
    assert.equal(a.spiR, b.spiR, `seed ${seed}`);
    assert.equal(a.children.length + b.children.length, 2, `seed ${seed}`);
    assert.equal(t.alice.eventsOf("ike-down").length + t.bob.eventsOf("ike-down").length, 0);
    assert.deepEqual(t.traffic.lost, [], `seed ${seed}`);
    assert.equal(t.traffic.noSa, 0);
  }
});
