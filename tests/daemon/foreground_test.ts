import assert from "node:assert/strict";
import { LineWriter } from "../../lib/daemon/foreground.ts";

const dec = new TextDecoder();
const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("LineWriter: the lines of one turn leave in one write, in order", async () => {
  const writes: string[] = [];
  const w = new LineWriter({ writeSync: (b) => (writes.push(dec.decode(b)), b.length) });
  w.write("one");
  w.write("two");
  assert.deepEqual(writes, []);
  await tick();
  assert.deepEqual(writes, ["one\ntwo\n"]);
  w.write("three");
  w.flush();
  assert.deepEqual(writes, ["one\ntwo\n", "three\n"]);
});

Deno.test("LineWriter: short writes are continued", () => {
  let got = "";
  const w = new LineWriter({
    writeSync: (b) => (got += dec.decode(b.subarray(0, 3)), Math.min(3, b.length)),
  });
  w.write("abcdefgh");
  w.flush();
  assert.equal(got, "abcdefgh\n");
});

Deno.test("LineWriter: after BrokenPipe it stops writing; other errors are retried later", async () => {
  let calls = 0;
  let error: Error = new Deno.errors.PermissionDenied("no");
  const w = new LineWriter({
    writeSync: () => {
      calls++;
      throw error;
    },
  });
  w.write("a");
  w.flush(); // a non-pipe error: dropped, the writer stays open
  assert.equal(calls, 1);
  assert.equal(w.closed, false);
  error = new Deno.errors.BrokenPipe("reader gone");
  w.write("b");
  w.flush();
  assert.equal(calls, 2);
  assert.equal(w.closed, true);
  w.write("c");
  w.flush();
  await tick();
  assert.equal(calls, 2, "no write after the pipe broke");
});
