import assert from "node:assert/strict";
import { InactivityTracker } from "../../lib/daemon/inactivity.ts";

Deno.test("InactivityTracker: idle after the limit without packets, once; traffic restarts the clock", () => {
  const t = new InactivityTracker();
  const s = (packets: bigint, id = 1, limitMs = 3000) => [{ childSaId: id, limitMs, packets }];
  assert.deepEqual(t.check(s(10n), 0), []); // first sight starts the clock
  assert.deepEqual(t.check(s(10n), 2999), []);
  assert.deepEqual(t.check(s(11n), 3000), []); // a packet: clock restarts at 3000
  assert.deepEqual(t.check(s(11n), 5999), []);
  assert.deepEqual(t.check(s(11n), 6000), [1]);
  assert.deepEqual(t.check(s(11n), 9000), [], "reported once");
  assert.deepEqual(t.check(s(12n), 9500), [], "traffic again: a fresh clock");
  assert.deepEqual(t.check(s(12n), 12_500), [1]);
});

Deno.test("InactivityTracker: child SAs are independent; gone ones are forgotten", () => {
  const t = new InactivityTracker();
  t.check([{ childSaId: 1, limitMs: 1000, packets: 0n }, {
    childSaId: 2,
    limitMs: 5000,
    packets: 0n,
  }], 0);
  assert.deepEqual(
    t.check([{ childSaId: 1, limitMs: 1000, packets: 0n }, {
      childSaId: 2,
      limitMs: 5000,
      packets: 0n,
    }], 1000),
    [1],
  );
  // Child 2 disappears (deleted, rekeyed away) and comes back: its clock starts over.
  assert.deepEqual(t.check([], 2000), []);
  assert.deepEqual(t.check([{ childSaId: 2, limitMs: 5000, packets: 0n }], 5000), []);
  assert.deepEqual(t.check([{ childSaId: 2, limitMs: 5000, packets: 0n }], 9999), []);
  assert.deepEqual(t.check([{ childSaId: 2, limitMs: 5000, packets: 0n }], 10_000), [2]);
});
