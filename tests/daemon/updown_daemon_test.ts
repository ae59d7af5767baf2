/**
 * The daemon runs a child's `updown` script from the engine's child SA
 * events (fake ports, tests/daemon/_fakes.ts): `up` after the SAs are in,
 * nothing for a rekey, `down` at `ipsec down`, at a Delete and at stop; a
 * missing script is an error at load and at run, and changes no SA.
 */
import assert from "node:assert/strict";
import type { ScriptExec, UpdownEnv } from "../../lib/daemon/updown.ts";
import type { ConnectionInfo } from "../../lib/daemon/ports.ts";
import { conn, FakeRuntime } from "./_fakes.ts";
import { peerSays, runDaemon } from "./_run_daemon.ts";

class ScriptRuntime extends FakeRuntime {
  runs: { path: string; env: UpdownEnv; installed: number }[] = [];
  missing = new Set<string>();
  runScript: ScriptExec = (path, env) => {
    this.runs.push({ path, env, installed: this.dataplane.installed.size });
    if (this.missing.has(path)) return Promise.reject(new Deno.errors.NotFound(path));
    return Promise.resolve({ code: 0, output: `ran ${env.PLUTO_VERB}\n` });
  };
  checkScript = (path: string) =>
    this.missing.has(path) ? `updown script '${path}' does not exist` : null;
}

function withScript(c: ConnectionInfo, updown: string): ConnectionInfo {
  return { ...c, children: c.children.map((ch) => ({ ...ch, updown })) };
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), "condition never held");
}

Deno.test("daemon: updown runs up after the SAs are installed and down at ipsec down", async () => {
  const rt = new ScriptRuntime();
  await runDaemon(
    rt,
    [withScript(conn("vip-site"), "/etc/ipsec/updown.sh"), conn("plain")],
    async ({ c, d }) => {
      await c.call("up", { name: "vip-site" });
      await c.call("up", { name: "plain" });
      await until(() => rt.runs.length === 1);
      const [run] = rt.runs;
      assert.equal(run.path, "/etc/ipsec/updown.sh");
      assert.equal(run.installed, 2, "both SA directions were in when the script ran");
      assert.equal(run.env.PLUTO_VERB, "up-client");
      assert.equal(run.env.PLUTO_CONNECTION, "net");
      assert.equal(run.env.PLUTO_REQID, "10");
      assert.equal(run.env.PLUTO_UNIQUEID, "1");
      assert.equal(run.env.PLUTO_ME, "192.0.2.1");
      assert.equal(run.env.PLUTO_PEER, "192.0.2.2");
      assert.equal(run.env.PLUTO_MY_ID, "a@example.org");
      assert.equal(run.env.PLUTO_PEER_ID, "b@example.org");
      assert.equal(run.env.PLUTO_MY_CLIENT, "10.1.0.0/16");
      assert.equal(run.env.PLUTO_PEER_CLIENT, "10.2.0.0/16");
      assert.equal(run.env.PLUTO_MY_SOURCEIP, "10.3.0.1");
      assert.equal(run.env.PLUTO_DNS4_1, "10.1.0.53");
      assert.equal(run.env.PLUTO_INTERFACE, "unknown", "the fake config names no TUN");
      await until(() => d.log.recent().some((e) => e.message === "updown: ran up-client"));

      await c.call("down", { name: "vip-site" });
      await until(() => rt.runs.length === 2);
      assert.equal(rt.runs[1].env.PLUTO_VERB, "down-client");
      assert.equal(rt.runs[1].env.PLUTO_REQID, "10");
    },
  );
  assert.equal(rt.runs.length, 2, "the connection without a script ran nothing, stop nothing more");
});

Deno.test("daemon: a rekeyed child SA runs nothing; the Delete of its replacement runs down", async () => {
  const rt = new ScriptRuntime();
  await runDaemon(rt, [withScript(conn("site"), "/u.sh")], async ({ c, d }) => {
    await c.call("up", { name: "site" });
    await until(() => rt.runs.length === 1);
    // CREATE_CHILD_SA rekey: child 11 replaces 10, which then goes.
    const sa = (childSaId: number, direction: "in" | "out", spi: number) => ({
      kind: "installSa" as const,
      sa: {
        ...rt.dataplane.installed.get(
          `${direction}:${direction === "in" ? 0xc0000001 : 0x0a000001}`,
        )!,
        childSaId,
        spi,
      },
    });
    peerSays(rt, [
      sa(11, "in", 0xc0000011),
      sa(11, "out", 0x0a000011),
      {
        kind: "event",
        event: {
          type: "child-up",
          ikeSaId: 1,
          childSaId: 11,
          childName: "net",
          spiIn: 0xc0000011,
          spiOut: 0x0a000011,
          rekeyOf: 10,
        },
      },
      {
        kind: "event",
        event: {
          type: "child-down",
          ikeSaId: 1,
          childSaId: 10,
          childName: "net",
          reason: "rekeyed",
        },
      },
    ]);
    await d.settled();
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(rt.dataplane.installed.size, 4);
    assert.equal(rt.runs.length, 1, "no down/up for a rekey");
    peerSays(rt, [{
      kind: "event",
      event: {
        type: "child-down",
        ikeSaId: 1,
        childSaId: 11,
        childName: "net",
        reason: "deleted by peer",
      },
    }]);
    await until(() => rt.runs.length === 2);
    assert.equal(rt.runs[1].env.PLUTO_VERB, "down-client");
    assert.equal(rt.runs[1].env.PLUTO_REQID, "10", "the reqid stays across rekeys, as charon's");
  });
});

Deno.test("daemon: stop runs down for what is up; a missing script is an error and changes no SA", async () => {
  const rt = new ScriptRuntime();
  rt.missing.add("/missing.sh");
  await runDaemon(
    rt,
    [withScript(conn("site"), "/u.sh"), withScript(conn("broken"), "/missing.sh")],
    async ({ c, d }) => {
      assert.ok(
        d.log.recent().some((e) =>
          e.level === "error" && e.subsystem === "cfg" &&
          e.message === "broken/net: updown script '/missing.sh' does not exist"
        ),
      );
      await c.call("up", { name: "site" });
      await c.call("up", { name: "broken" });
      await until(() => rt.runs.length === 2);
      await until(() =>
        d.log.recent().some((e) => e.level === "error" && e.message.includes("could not run"))
      );
      assert.equal(rt.dataplane.installed.size, 4, "the broken script's child SA stays up");
    },
  );
  const verbs = rt.runs.map((r) => `${r.path} ${r.env.PLUTO_VERB}`).sort();
  assert.deepStrictEqual(verbs, [
    "/missing.sh down-client",
    "/missing.sh up-client",
    "/u.sh down-client",
    "/u.sh up-client",
  ]);
});
