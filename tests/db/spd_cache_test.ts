import assert from "node:assert/strict";
import type { PacketTuple } from "../../lib/db/selector.ts";
import { SpdCache, tupleKey } from "../../lib/db/spd_cache.ts";

const flow = (n: number): PacketTuple => ({
  version: 4,
  localAddress: 0x0a000001,
  remoteAddress: 0x0a000002,
  protocol: 6,
  localPort: 1000 + n,
  remotePort: 443,
});

Deno.test("SpdCache: least recently used flow is evicted first", () => {
  const c = new SpdCache<number>(2);
  c.set(flow(1), 1);
  c.set(flow(2), 2);
  assert.equal(c.get(flow(1)), 1); // 1 is now the most recent
  c.set(flow(3), 3); // evicts 2
  assert.equal(c.get(flow(2)), undefined);
  assert.equal(c.get(flow(1)), 1);
  assert.equal(c.get(flow(3)), 3);
  assert.deepStrictEqual(c.stats, { hits: 3, misses: 1, evictions: 1 });
  c.clear();
  assert.equal(c.size, 0);
});

Deno.test("SpdCache: capacity 0 disables caching; keys distinguish every field", () => {
  const c = new SpdCache<number>(0);
  c.set(flow(1), 1);
  assert.equal(c.get(flow(1)), undefined);
  assert.throws(() => new SpdCache(-1), RangeError);
  const v6: PacketTuple = {
    ...flow(1),
    version: 6,
    localAddress: 0x0a000001n,
    remoteAddress: 0x0a000002n,
  };
  assert.notEqual(tupleKey(flow(1)), tupleKey(v6));
  assert.notEqual(tupleKey(flow(1)), tupleKey({ ...flow(1), protocol: 17 }));
});
