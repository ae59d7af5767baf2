import assert from "node:assert/strict";
import { BytesCache } from "../../lib/wire/bytes_cache.ts";

Deno.test("BytesCache: keyed by content, bounded, least recently used leaves first", () => {
  const c = new BytesCache<string>(2);
  let made = 0;
  const make = (v: string) => () => (made++, v);
  assert.equal(c.get(Uint8Array.of(1, 2), make("a")), "a");
  // Another array with the same bytes: a hit.
  assert.equal(c.get(Uint8Array.of(1, 2), make("x")), "a");
  assert.equal(made, 1);
  // Prefixes and other bytes are other keys (no separator ambiguity in the key).
  assert.equal(c.get(Uint8Array.of(1), make("b")), "b");
  assert.equal(c.size, 2);
  // [1, 2] was used before [1]: it leaves when a third key comes.
  assert.equal(c.get(new Uint8Array(20000).fill(7), make("big")), "big");
  assert.equal(c.size, 2);
  assert.equal(c.get(Uint8Array.of(1), make("y")), "b");
  assert.equal(c.get(Uint8Array.of(1, 2), make("again")), "again");
  assert.equal(made, 4);
  // A throwing make keeps nothing.
  assert.throws(() =>
    c.get(Uint8Array.of(9), () => {
      throw new Error("bad");
    }), /bad/);
  assert.equal(c.get(Uint8Array.of(9), make("ok")), "ok");
  assert.throws(() => new BytesCache(0), RangeError);
});
