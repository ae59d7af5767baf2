import assert from "node:assert/strict";
import {
  REPLAY_DUPLICATE,
  REPLAY_TOO_OLD,
  REPLAY_ZERO,
  ReplayWindow,
} from "../../lib/esp/replay_window.ts";

const TWO32 = 2 ** 32;

/** The slow, obviously-correct window: a set of everything seen and the top. */
class OracleWindow {
  seen = new Set<number>();
  top = 0;
  constructor(readonly size: number) {}
  accepts(seq: number): boolean {
    if (seq <= 0) return false;
    if (seq > this.top) return true;
    return seq > this.top - this.size && !this.seen.has(seq);
  }
  record(seq: number): void {
    this.seen.add(seq);
    if (seq > this.top) this.top = seq;
  }
}

/** xorshift32: reproducible randomness for the random walks. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / TWO32;
  };
}

function runAgainstOracle(size: number, esn: boolean, start: number, seed: number): number {
  const rand = rng(seed);
  const w = new ReplayWindow({ size, esn });
  const o = new OracleWindow(size);
  let cursor = start;
  let accepted = 0;
  if (start > 0) {
    // The SA has already received up to `start` (ESN inference needs a known top).
    assert.ok(w.update(start));
    o.record(start);
  }
  for (let i = 0; i < 20000; i++) {
    // Mostly in-order with reordering, duplicates, old packets and jumps.
    const r = rand();
    let seq: number;
    if (r < 0.5) seq = ++cursor;
    else if (r < 0.7) seq = cursor - Math.floor(rand() * size * 1.5);
    else if (r < 0.8) seq = cursor - Math.floor(rand() * 8);
    else if (r < 0.85) seq = cursor + Math.floor(rand() * size * 3);
    else if (r < 0.9) seq = cursor - Math.floor(rand() * 2 ** 31);
    else seq = cursor + 1 + Math.floor(rand() * 40);
    if (seq > cursor) cursor = seq;
    if (!esn && seq >= TWO32) continue;
    const got = w.check(seq % TWO32);
    // The ICV covers the high bits: a wrong ESN guess means the ICV fails.
    const icvOk = got === seq && rand() > 0.05;
    const want = o.accepts(seq);
    if (got >= 0 && got === seq) {
      assert.equal(want, true, `seq ${seq}: window accepts, oracle rejects`);
    } else if (want) {
      assert.fail(`seq ${seq}: oracle accepts, window says ${got} (top ${w.top})`);
    }
    if (icvOk && want) {
      assert.ok(w.update(got));
      o.record(seq);
      accepted++;
    }
    assert.equal(w.top, o.top);
  }
  return accepted;
}

Deno.test("ReplayWindow agrees with a set-based oracle on random sequences", () => {
  for (const size of [32, 64, 100, 1024, 65536]) {
    assert.ok(runAgainstOracle(size, false, 0, size) > 1000);
  }
});

Deno.test("ReplayWindow with ESN agrees with the oracle across 2^32 boundaries", () => {
  for (const size of [32, 1024, 4096]) {
    for (const start of [0, TWO32 - 5000, 3 * TWO32 - 100]) {
      assert.ok(runAgainstOracle(size, true, start, size + start) > 1000);
    }
  }
});

Deno.test("ReplayWindow reports duplicates, too-old and zero", () => {
  const w = new ReplayWindow({ size: 64 });
  assert.equal(w.check(0), REPLAY_ZERO);
  assert.equal(w.check(100), 100);
  assert.ok(w.update(100));
  assert.equal(w.check(100), REPLAY_DUPLICATE);
  assert.equal(w.update(100), false);
  assert.equal(w.check(37), 37); // 100 - 64 + 1: leftmost slot
  assert.equal(w.check(36), REPLAY_TOO_OLD);
  assert.equal(w.check(99), 99);
  assert.ok(w.update(99));
  assert.equal(w.check(99), REPLAY_DUPLICATE);
  assert.equal(w.check(0xffffffff), 0xffffffff);
});

Deno.test("ReplayWindow ESN infers the high half (RFC 4303 Appendix A2.2)", () => {
  const w = new ReplayWindow({ size: 64, esn: true });
  // Case A: window within one subspace.
  assert.ok(w.update(TWO32 - 10));
  assert.equal(w.check(5), TWO32 + 5); // wrapped: next subspace
  assert.equal(w.check(TWO32 - 20), TWO32 - 20);
  assert.ok(w.update(TWO32 + 5));
  // Case B: window spans two subspaces.
  assert.equal(w.check(0xfffffff0), TWO32 - 16);
  assert.equal(w.check(0xfffffff6), REPLAY_DUPLICATE);
  assert.equal(w.check(7), TWO32 + 7);
  assert.equal(w.check(0), TWO32);
});

Deno.test("ReplayWindow rejects bad sizes", () => {
  assert.throws(() => new ReplayWindow({ size: 16 }), RangeError);
  assert.throws(() => new ReplayWindow({ size: 65537 }), RangeError);
});

Deno.test("ReplayWindow is exact across 2^32 and past 2^53 (uint32 halves, no rounding)", () => {
  const w = new ReplayWindow({ size: 64, esn: true });
  // Crossing 2^32: top 2^32 - 1, the wire's 0 is 2^32 (high half 1).
  assert.ok(w.accept(0, 0xffffffff));
  assert.equal(w.checkHigh(0), 1);
  assert.ok(w.accept(1, 0));
  assert.equal(w.topBig, 1n << 32n);
  assert.equal(w.checkHigh(0xffffffff), REPLAY_DUPLICATE);
  assert.equal(w.checkHigh(0xfffffffe), 0); // 2^32 - 2: inside the window, not seen
  // Past 2^53 a double cannot tell 2^53 from 2^53 + 1: the halves can.
  const w2 = new ReplayWindow({ size: 64, esn: true });
  assert.ok(w2.update((1n << 53n) + 1n));
  assert.deepEqual([w2.topHi, w2.topLo], [2 ** 21, 1]);
  assert.equal(w2.checkHigh(1), REPLAY_DUPLICATE);
  assert.equal(w2.checkHigh(0), 2 ** 21); // 2^53: new, although 2^53 === 2^53 + 1 as numbers
  assert.ok(w2.accept(2 ** 21, 0));
  assert.equal(w2.checkHigh(0), REPLAY_DUPLICATE);
  assert.equal(w2.checkHigh(2), 2 ** 21);
  // The last subspace: 2^64 - 1 is accepted; a wire number that would need a 2^32 high half is not.
  const w3 = new ReplayWindow({ size: 64, esn: true });
  assert.ok(w3.update((1n << 64n) - 2n));
  assert.equal(w3.checkHigh(0xffffffff), 0xffffffff);
  assert.ok(w3.accept(0xffffffff, 0xffffffff));
  assert.equal(w3.topBig, (1n << 64n) - 1n);
  assert.equal(w3.checkHigh(5), REPLAY_TOO_OLD);
  assert.equal(w3.update(1n << 64n), false);
});

Deno.test("ReplayWindow keeps working deep in a high subspace (random, against the oracle)", () => {
  // The oracle works on bigints: exact everywhere.
  const w = new ReplayWindow({ size: 128, esn: true });
  const seen = new Set<bigint>();
  let top = (BigInt(2 ** 21 + 3) << 32n) - 40n; // just below a subspace boundary past 2^53
  assert.ok(w.update(top));
  seen.add(top);
  let s = 7;
  const rnd = () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < 3000; i++) {
    // Inside the window or ahead of it: ESN inference (RFC 4303 A2.2) assumes
    // so, and maps anything older into the next subspace (where its ICV fails).
    const seq = top + BigInt(Math.floor(rnd() * 177) - 127);
    const lo = Number(seq & 0xffffffffn);
    const expectNew = seq > top || (seq > top - 128n && !seen.has(seq));
    const hi = w.checkHigh(lo);
    assert.equal(hi >= 0, expectNew, `seq ${seq} top ${top}`);
    if (hi >= 0) {
      assert.equal((BigInt(hi) << 32n) | BigInt(lo), seq);
      assert.ok(w.accept(hi, lo));
      seen.add(seq);
      if (seq > top) top = seq;
    }
    assert.equal(w.topBig, top);
  }
});
