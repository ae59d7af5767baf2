import assert from "node:assert/strict";
import { ControlServer } from "../../lib/daemon/control_server.ts";
import { ControlClient, DaemonNotRunning } from "../../lib/daemon/control_client.ts";
import { ControlError, parseControlRequest } from "../../lib/daemon/control_protocol.ts";

async function withServer(
  fn: (path: string) => Promise<void>,
  server?: (path: string) => ControlServer,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/ctl.sock`;
  const s = server?.(path) ?? new ControlServer(path, {
    commands: {
      ping: () => "pong",
      up: (req) => {
        if (req.args.name !== "site-a") {
          throw new ControlError("NOT_FOUND", `no connection named '${String(req.args.name)}'`);
        }
        return { established: true };
      },
    },
    streams: {
      log: async (_req, emit) => {
        for (let i = 0; i < 3; i++) emit(`line ${i}`);
        await Promise.resolve();
      },
    },
  });
  await s.start();
  try {
    await fn(path);
  } finally {
    await s.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("control socket is created with mode 0600 and answers commands", async () => {
  await withServer(async (path) => {
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    const c = await ControlClient.connect(path);
    try {
      assert.equal(await c.call("ping"), "pong");
      assert.deepEqual(await c.call("up", { name: "site-a" }), { established: true });
      await assert.rejects(
        () => c.call("up", { name: "nope" }),
        (e: unknown) => e instanceof ControlError && e.code === "NOT_FOUND",
      );
      await assert.rejects(
        () => c.call("status"),
        (e: unknown) => e instanceof ControlError && e.code === "BAD_REQUEST",
      );
    } finally {
      c.close();
    }
  });
});

Deno.test("control client streams events", async () => {
  await withServer(async (path) => {
    const c = await ControlClient.connect(path);
    const got: unknown[] = [];
    try {
      for await (const ev of c.stream("log")) {
        got.push(ev);
        if (got.length === 3) break;
      }
    } finally {
      c.close();
    }
    assert.deepEqual(got, ["line 0", "line 1", "line 2"]);
  });
});

Deno.test("connecting without a daemon says how to start one", async () => {
  await assert.rejects(
    () => ControlClient.connect("/nonexistent/ipsec.sock"),
    (e: unknown) => e instanceof DaemonNotRunning && /ipsec start/.test(e.message),
  );
});

Deno.test("parseControlRequest rejects bad requests with typed errors", () => {
  const bad: [string, string][] = [
    ["not json", "BAD_REQUEST"],
    ["[]", "BAD_REQUEST"],
    ['{"v":2,"id":1,"cmd":"status"}', "VERSION"],
    ['{"v":1,"id":"x","cmd":"status"}', "BAD_REQUEST"],
    ['{"v":1,"id":1,"cmd":"rm -rf"}', "BAD_REQUEST"],
    ['{"v":1,"id":1,"cmd":"up","args":[1]}', "BAD_REQUEST"],
  ];
  for (const [line, code] of bad) {
    assert.throws(
      () => parseControlRequest(line),
      (e: unknown) => e instanceof ControlError && e.code === code,
      line,
    );
  }
  assert.deepEqual(parseControlRequest('{"v":1,"id":3,"cmd":"down","args":{"name":"a"}}'), {
    v: 1,
    id: 3,
    cmd: "down",
    args: { name: "a" },
  });
});
