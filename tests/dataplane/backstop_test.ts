/**
 * The data plane's fail-closed backstop (lib/dataplane/dataplane.ts): a
 * blackhole route (metric 65520) behind each route into the TUN in table 220.
 * When the process dies, the TUN and its routes go but the blackhole and the
 * fwmark rule stay, so the protected network is dropped, not routed in clear;
 * the next start removes blackholes of ours that no configured route has.
 * `ip` (iproute2) is the independent reader. Needs root.
 */
import assert from "node:assert/strict";
import { withTunnel } from "./_wire.ts";

Deno.test("dataplane: blackholes stay when the process dies; a restart drops stale ones, not others", async () => {
  await withTunnel({
    beforeStart: async (lab, a) => {
      // Left by a data plane that was killed while the config routed 10.99.0.0/16,
      // and someone else's blackhole with another metric.
      for (const cmd of [["10.99.0.0/16", "65520"], ["10.98.0.0/16", "100"]]) {
        const r = await lab.runIn(a, [
          ...["ip", "route", "add", "blackhole", cmd[0], "table", "220", "metric", cmd[1]],
        ]);
        assert.equal(r.code, 0, r.stderr);
      }
    },
  }, async (t) => {
    const routes = async () =>
      (JSON.parse(
        (await t.lab.runIn(t.a, ["ip", "-j", "route", "show", "table", "220"])).stdout || "[]",
      ) as { type?: string; dst: string; dev?: string; metric?: number }[])
        .map((r) => `${r.type ?? "unicast"} ${r.dst} ${r.dev ?? "-"} ${r.metric ?? 0}`).sort();
    assert.deepEqual(await routes(), [
      "blackhole 10.2.0.0/24 - 65520",
      "blackhole 10.98.0.0/16 - 100",
      "unicast 10.2.0.0/24 tdpa0 0",
    ]);

    await t.kill("a");
    assert.deepEqual(await routes(), [
      "blackhole 10.2.0.0/24 - 65520",
      "blackhole 10.98.0.0/16 - 100",
    ]);
    // Traffic for the protected network now meets the blackhole: the kernel
    // answers a route lookup that ends in one with EINVAL (no route at all
    // would be ENETUNREACH, "Network is unreachable").
    const get = await t.lab.runIn(t.a, ["ip", "route", "get", t.innerB]);
    assert.notEqual(get.code, 0);
    assert.match(get.stderr, /Invalid argument/);
    const ping = await t.lab.runIn(t.a, ["ping", "-c", "1", "-W", "1", t.innerB]);
    assert.notEqual(ping.code, 0);
  });
});
