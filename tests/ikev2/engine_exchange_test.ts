import assert from "node:assert/strict";
import { DEFAULT_RETRANSMIT, ExchangeWindow } from "../../lib/ikev2/exchange.ts";

const req = new Uint8Array([1, 2, 3]);

Deno.test("ExchangeWindow retransmits with exponential back-off, then gives up", () => {
  const x = new ExchangeWindow({ timeoutMs: 1000, base: 2, tries: 3 });
  const d0 = x.startRequest(0, 34, [req], 0);
  assert.equal(d0, 1000);
  const r1 = x.onRetransmitTimer(1000);
  assert.ok(r1 && r1 !== "give-up");
  assert.equal(r1.deadline, 1000 + 2000);
  assert.deepEqual(r1.packets, [req]);
  const r2 = x.onRetransmitTimer(3000);
  assert.ok(r2 && r2 !== "give-up");
  assert.equal(r2.deadline, 3000 + 4000);
  const r3 = x.onRetransmitTimer(7000);
  assert.ok(r3 && r3 !== "give-up");
  assert.equal(r3.deadline, 7000 + 8000);
  assert.equal(x.onRetransmitTimer(15000), "give-up");
  assert.equal(x.counters.retransmitsSent, 3);
});

Deno.test("ExchangeWindow default policy matches strongSwan (4 s, 1.8, 5 tries)", () => {
  const x = new ExchangeWindow();
  assert.deepEqual(DEFAULT_RETRANSMIT, { timeoutMs: 4000, base: 1.8, tries: 5 });
  // strongSwan's documented schedule: 4, 7.2, 13, 23, 42, 76 s (total ~165 s).
  const waits = [0, 1, 2, 3, 4, 5].map((n) => x.timeoutFor(n));
  assert.deepEqual(waits, [4000, 7200, 12960, 23328, 41990, 75583]);
  assert.equal(waits.reduce((a, b) => a + b), 165061);
});

Deno.test("ExchangeWindow caps a single timeout at maxTimeoutMs", () => {
  const x = new ExchangeWindow({ timeoutMs: 1000, base: 10, tries: 5, maxTimeoutMs: 5000 });
  assert.equal(x.timeoutFor(0), 1000);
  assert.equal(x.timeoutFor(3), 5000);
});

Deno.test("ExchangeWindow matches responses strictly and advances the id once", () => {
  const x = new ExchangeWindow();
  x.startRequest(0, 34, [req], 0);
  assert.equal(x.matchResponse(1), false);
  assert.equal(x.matchResponse(0), true);
  x.completeRequest();
  assert.equal(x.nextMid, 1);
  assert.equal(x.matchResponse(0), false, "duplicate response after completion is dropped");
  assert.equal(x.counters.unexpectedResponses, 2);
  assert.throws(() => x.startRequest(0, 35, [req], 0));
  x.startRequest(1, 35, [req], 0);
  assert.throws(() => x.startRequest(2, 37, [req], 0), /outstanding/);
});

Deno.test("ExchangeWindow abortRequest keeps the message id (IKE_SA_INIT retry)", () => {
  const x = new ExchangeWindow();
  x.startRequest(0, 34, [req], 0);
  x.abortRequest();
  assert.equal(x.nextMid, 0);
  assert.equal(x.busy, false);
  assert.equal(x.onRetransmitTimer(10), undefined);
});

Deno.test("ExchangeWindow answers retransmitted requests from the cache", () => {
  const x = new ExchangeWindow();
  assert.equal(x.classifyRequest(0), "new");
  x.storeResponse(0, [req]);
  assert.equal(x.expectedMid, 1);
  assert.equal(x.classifyRequest(0), "retransmit");
  assert.deepEqual(x.lastResponse?.packets, [req]);
  assert.equal(x.classifyRequest(5), "invalid");
  assert.equal(x.classifyRequest(1), "new");
  assert.equal(x.counters.duplicateRequests, 1);
  assert.equal(x.counters.invalidRequestMids, 1);
});
