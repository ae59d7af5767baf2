/**
 * `ipsec reload` with live SAs (issue 7: "apply a changed config without
 * dropping unaffected SAs"), two of our daemons in network namespaces:
 *
 * ```
 *  A (10.1.0.1, 10.1.1.1) ══ site: 10.1.0.0/24 <-> 10.2.0.0/24 ══ B (10.2.0.1, 10.2.1.1)
 *  both: reload with "site" unchanged + a new "lab": 10.1.1.0/24 <-> 10.2.1.0/24
 *  site keeps its SPIs and carries pings; `ipsec up lab` works; lab's
 *  subnet is routed into the TUN (protected, never clear); a reload back
 *  removes lab (its SAs deleted, its route gone) and site still stays.
 * ```
 *
 * Namespaces are prefixed `trl-` and always deleted.
 */
import assert from "node:assert/strict";
import { DAEMON_PERMISSIONS } from "../../lib/daemon/permissions.ts";
import { NetnsLab } from "../helpers/netns.ts";
import { siteConfig, twoSites, withLogs } from "./_tunnel.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const IPSEC = [Deno.execPath(), "run", ...DAEMON_PERMISSIONS, `${ROOT}cli/main.ts`];

/** Connection "lab" for side A or B: its own identities and subnets. */
function labConfig(side: "a" | "b"): string {
  const [me, peer, mine, theirs] = side === "a"
    ? ["192.0.2.1", "192.0.2.2", "10.1.1.0/24", "10.2.1.0/24"]
    : ["192.0.2.2", "192.0.2.1", "10.2.1.0/24", "10.1.1.0/24"];
  return `  lab:
    local_addrs: [${me}]
    remote_addrs: [${peer}]
    local:
      auth: psk
      id: lab-${side}.example.org
    remote:
      auth: psk
      id: lab-${side === "a" ? "b" : "a"}.example.org
    children:
      more:
        local_ts: [${mine}]
        remote_ts: [${theirs}]
        esp_proposals: [aes128gcm16]
`;
}

function withLab(side: "a" | "b"): string {
  return siteConfig(side).replace("secrets:\n", `${labConfig(side)}secrets:\n`) +
    `  lab-psk:
    id: [lab-a.example.org, lab-b.example.org]
    secret: "lab secret 0123456789abcdef"
`;
}

Deno.test("reload: a new connection comes up beside a live SA, which keeps its SPIs and traffic", async () => {
  const lab = await NetnsLab.create("trl-");
  const dir = await Deno.makeTempDir({ prefix: "trl-" });
  const logs: string[] = [];
  try {
    const { a, b } = await twoSites(lab);
    for (const [ns, addr] of [[a, "10.1.1.1/32"], [b, "10.2.1.1/32"]]) {
      assert.equal((await lab.runIn(ns, ["ip", "addr", "add", addr, "dev", "lo"])).code, 0);
    }
    const sock = (s: string) => `${dir}/${s}.sock`;
    const cli = async (ns: string, s: string, ...args: string[]) => {
      const r = await lab.runIn(ns, [...IPSEC, ...args, "--socket", sock(s)]);
      assert.equal(r.code, 0, `ipsec ${args.join(" ")} (${s}): ${r.stdout}${r.stderr}`);
      return r.stdout;
    };
    for (const [ns, s] of [[a, "a"], [b, "b"]] as const) {
      await Deno.writeTextFile(`${dir}/${s}.yaml`, siteConfig(s));
      logs.push(`${dir}/${s}.log`);
      await cli(ns, s, "start", "--config", `${dir}/${s}.yaml`, "--log-file", `${dir}/${s}.log`);
    }
    const ping = (from: string, to: string) =>
      lab.runIn(a, ["ping", "-c", "2", "-W", "2", "-I", from, to]).then((r) => r.code === 0);
    await cli(a, "a", "up", "site");
    assert.ok(await ping("10.1.0.1", "10.2.0.1"), "ping through site");
    const spis = async () => {
      const sas = JSON.parse(await cli(a, "a", "sad", "--json")) as {
        spi: string;
        connection: string;
      }[];
      return sas.filter((s) => s.connection === "site").map((s) => s.spi).sort();
    };
    const before = await spis();
    assert.equal(before.length, 2);

    // Both sides learn "lab"; "site" is unchanged.
    for (const [ns, s] of [[a, "a"], [b, "b"]] as const) {
      await Deno.writeTextFile(`${dir}/${s}.yaml`, withLab(s));
      const r = JSON.parse(await cli(ns, s, "reload", "--json")) as {
        added: string[];
        changed: string[];
      };
      assert.deepEqual([r.added, r.changed], [["lab"], []]);
    }
    assert.deepEqual(await spis(), before, "reload touched the unchanged SA");
    assert.ok(await ping("10.1.0.1", "10.2.0.1"), "ping through site after the reload");
    const table = await lab.runIn(a, ["ip", "route", "show", "table", "220"]);
    assert.match(
      table.stdout,
      /10\.2\.1\.0\/24 dev ipsec0/,
      "lab's subnet is not routed into the TUN",
    );

    await cli(a, "a", "up", "lab");
    assert.ok(await ping("10.1.1.1", "10.2.1.1"), "ping through lab");
    const conns = (JSON.parse(await cli(a, "a", "list-sas", "--json")) as { connection: string }[])
      .map((s) => s.connection).sort();
    assert.deepEqual(conns, ["lab", "site"]);

    // And back: lab goes (SAs deleted, route removed), site stays.
    for (const [ns, s] of [[a, "a"], [b, "b"]] as const) {
      await Deno.writeTextFile(`${dir}/${s}.yaml`, siteConfig(s));
      const r = JSON.parse(await cli(ns, s, "reload", "--json")) as { removed: string[] };
      assert.deepEqual(r.removed, ["lab"]);
    }
    assert.deepEqual(await spis(), before);
    const after = await lab.runIn(a, ["ip", "route", "show", "table", "220"]);
    assert.doesNotMatch(after.stdout, /10\.2\.1\.0\/24/);
    assert.ok(await ping("10.1.0.1", "10.2.0.1"), "ping through site at the end");
    for (const [ns, s] of [[a, "a"], [b, "b"]] as const) await cli(ns, s, "stop");
  } catch (e) {
    throw withLogs(e, logs);
  } finally {
    await lab.cleanup();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
