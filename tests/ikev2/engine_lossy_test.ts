import assert from "node:assert/strict";
import { decodeMessage } from "../../lib/ikev2/message.ts";
import { ExchangeType } from "../../lib/ikev2/constants.ts";
import { equalBytes } from "../../lib/wire/bytes.ts";
import { pskConfigs, TwoPeers } from "../helpers/two_peers.ts";

/*
 *   alice                                   bob
 *   IKE_SA_INIT request 0 -->
 *             <-- IKE_SA_INIT response 0
 *   IKE_AUTH request 1 -->
 *             <-- IKE_AUTH response 1        (lost)
 *   IKE_AUTH request 1 (retransmit) -->
 *             <-- IKE_AUTH response 1        (bob resends the cached bytes, no reprocessing)
 */
Deno.test("engine: a retransmitted request is answered from the cached response", () => {
  let dropped = false;
  const t = new TwoPeers({
    ...pskConfigs(),
    network: {
      filter: (d) => {
        const h = decodeMessage(d.bytes).header;
        if (!dropped && h.exchangeType === ExchangeType.IKE_AUTH && h.response) {
          dropped = true;
          return false;
        }
        return true;
      },
    },
  });
  t.initiate("alice", "site");
  t.run(10_000);
  assert.equal(t.bob.engine.counters.retransmittedRequests, 1);
  const responses = t.net.sent.filter((s) => {
    const h = decodeMessage(s.bytes).header;
    return h.exchangeType === ExchangeType.IKE_AUTH && h.response;
  });
  assert.equal(responses.length, 2);
  assert.ok(equalBytes(responses[0].bytes, responses[1].bytes));
  // Bob processed IKE_AUTH once: one ike-up, one child.
  assert.equal(t.bob.eventsOf("ike-up").length, 1);
  assert.equal(t.bob.eventsOf("child-up").length, 1);
  assert.equal(t.alice.eventsOf("ike-up").length, 1);
});

/*
 *   alice                                   bob
 *   IKE_SA_INIT request 0 -->
 *   IKE_SA_INIT request 0 (duplicate) -->   resent from cache, no second SA
 *             <-- IKE_SA_INIT response 0  x2
 *   IKE_AUTH request 1 -->                  the late duplicate response 0 is dropped by alice
 *             <-- IKE_AUTH response 1
 */
Deno.test("engine: duplicated datagrams create no extra SAs and responses match strictly", () => {
  const t = new TwoPeers({ ...pskConfigs(), network: { duplicateRate: 1 } });
  t.initiate("alice", "site");
  t.run(10_000);
  assert.equal(t.bob.engine.list().length, 1);
  assert.equal(t.alice.engine.list().length, 1);
  assert.ok(t.alice.engine.counters.unexpectedResponses >= 1);
  assert.ok(t.bob.engine.counters.retransmittedRequests >= 1);
  assert.equal(t.bob.eventsOf("ike-failed").length, 0);
  assert.equal(t.alice.sad.size, 2);
});

/*
 *   30% loss, 30% duplication, 0..3 s jitter (reordering), many seeds:
 *   IKE_SA_INIT / IKE_AUTH with retransmits until both sides are up; then a
 *   child delete and an IKE delete over the same network. Every run must end
 *   with mirrored SAs, and after the deletes with nothing left.
 */
for (let seed = 1; seed <= 40; seed++) {
  Deno.test(`engine: survives 30% loss, duplication and reordering (seed ${seed})`, () => {
    const t = new TwoPeers({
      ...pskConfigs({ alice: { retransmit: { timeoutMs: 2000, base: 1.5, tries: 12 } } }),
      network: { seed, lossRate: 0.3, duplicateRate: 0.3, delayMs: 5, jitterMs: 3000 },
      seed,
    });
    t.initiate("alice", "site");
    t.run(200_000);
    assert.equal(t.alice.eventsOf("ike-up").length, 1, t.alice.logs.join("\n"));
    assert.equal(t.bob.eventsOf("ike-up").length, 1, t.bob.logs.join("\n"));
    assert.equal(t.alice.sad.size, 2);
    assert.equal(t.bob.sad.size, 2);
    const ao = t.alice.outbound()[0];
    assert.ok(
      t.bob.inbound().some((s) => s.spi === ao.spi && equalBytes(s.encr!.key, ao.encr!.key)),
    );
    assert.equal(t.bob.engine.list().length, 1, "no stray half-open SA on bob");
    const [ike] = t.alice.engine.list();
    t.apply(t.alice, t.alice.engine.closeChild(ike.children[0].id, t.clock.now));
    t.run(t.clock.now + 200_000);
    assert.equal(t.alice.sad.size, 0);
    assert.equal(t.bob.sad.size, 0);
    t.apply(t.alice, t.alice.engine.terminate(ike.id, t.clock.now));
    t.run(t.clock.now + 1_000_000); // may take all 12 tries if D responses are lost
    assert.equal(t.alice.engine.list().length, 0);
    assert.equal(t.bob.engine.list().length, 0);
  });
}
