import assert from "node:assert/strict";
import { TimerQueue } from "../../lib/daemon/timer_queue.ts";

/** Waits until `done()` (each test's delays are a few ms). */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((r) => setTimeout(r, 5));
}

// A clock the test moves: deadlines are set against it, and the real timer
// only decides when the queue looks at it again.
function fakeClock() {
  const c = { t: 1000, now: () => c.t };
  return c;
}

Deno.test("TimerQueue fires due timers in deadline order, equal deadlines in set order", async () => {
  const clock = fakeClock();
  const fired: string[] = [];
  const q = new TimerQueue((id) => fired.push(id), clock.now);
  q.set("c", 30);
  q.set("a", 10);
  q.set("b1", 20);
  q.set("b2", 20);
  q.set("now", -5); // a deadline in the past fires as soon as possible
  assert.equal(q.size, 5);
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(fired, ["now"]); // the clock has not moved
  clock.t += 25;
  q.set("kick", 0); // the queue looks again when a timer is due
  await until(() => fired.includes("kick"));
  assert.deepEqual(fired, ["now", "a", "b1", "b2", "kick"]);
  clock.t += 10;
  q.set("kick2", 0);
  await until(() => q.size === 0);
  assert.deepEqual(fired, ["now", "a", "b1", "b2", "kick", "c", "kick2"]);
  q.close();
});

Deno.test("TimerQueue: a deleted timer never fires; setting again moves the deadline", async () => {
  const fired: string[] = [];
  const q = new TimerQueue((id) => fired.push(id));
  q.set("gone", 1);
  q.set("moved", 1);
  q.set("moved", 3);
  q.set("stay", 2);
  assert.equal(q.delete("gone"), true);
  assert.equal(q.delete("gone"), false);
  assert.deepEqual([...q.ids()].sort(), ["moved", "stay"]);
  await until(() => q.size === 0);
  assert.deepEqual(fired, ["stay", "moved"]);
  q.close();
});

Deno.test("TimerQueue: many timers set and deleted leave nothing behind; close() cancels all", async () => {
  const fired: string[] = [];
  const q = new TimerQueue((id) => fired.push(id));
  for (let i = 0; i < 1000; i++) q.set(`sa-${i}-rekey`, 3_600_000 + i);
  for (let i = 0; i < 1000; i++) if (i !== 500) q.delete(`sa-${i}-rekey`);
  assert.deepEqual([...q.ids()], ["sa-500-rekey"]);
  q.set("soon", 1);
  await until(() => fired.length > 0);
  assert.deepEqual(fired, ["soon"]);
  q.close();
  assert.equal(q.size, 0);
});
