import assert from "node:assert/strict";
import { LineWriter, startForeground } from "../../lib/daemon/foreground.ts";
import { config, conn, FakeRuntime } from "./_fakes.ts";
import { ControlClient } from "../../lib/daemon/control_client.ts";

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

Deno.test("startForeground: a daemon that cannot start says why in its log file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const rt = new FakeRuntime();
    await assert.rejects(startForeground({
      runtime: rt,
      configPath: `${dir}/missing.yaml`,
      socketPath: `${dir}/ctl.sock`,
      logFile: `${dir}/ipsec.log`,
    }));
    const log = await Deno.readTextFile(`${dir}/ipsec.log`);
    assert.match(log, /\[dmn\] error the daemon did not start: .*missing\.yaml/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("startForeground: SIGHUP reloads the configuration, as ipsec reload", async () => {
  const dir = await Deno.makeTempDir();
  const rt = new FakeRuntime();
  const path = `${dir}/ipsec.yaml`;
  rt.files.set(path, config(path, [conn("site")]));
  const daemon = await startForeground({
    runtime: rt,
    configPath: path,
    socketPath: `${dir}/ctl.sock`,
    logFile: `${dir}/ipsec.log`,
  });
  try {
    rt.files.set(path, config(path, [conn("site"), conn("lab")]));
    Deno.kill(Deno.pid, "SIGHUP");
    const c = await ControlClient.connect(`${dir}/ctl.sock`);
    try {
      let names: string[] = [];
      for (let i = 0; i < 100 && names.length < 2; i++) {
        await new Promise((r) => setTimeout(r, 20));
        names = (await c.call("list-conns") as { name: string }[]).map((x) => x.name);
      }
      assert.deepEqual(names, ["site", "lab"]);
    } finally {
      c.close();
    }
    const log = await Deno.readTextFile(`${dir}/ipsec.log`);
    assert.match(log, /reloaded .*ipsec\.yaml: added 1, changed 0, removed 0/);
  } finally {
    await daemon.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
