/**
 * The daemon with dual-stack virtual IPs: a `virtual-ip` event carrying an
 * IPv4 and an IPv6 address puts both on the TUN; the IKE SA's deletion
 * takes away each one no other IKE SA holds (reauthentication may already
 * have the same address on its new SA).
 */
import assert from "node:assert/strict";
import { conn, FakeRuntime } from "./_fakes.ts";
import { peerSays, runDaemon } from "./_run_daemon.ts";

Deno.test("daemon: dual-stack virtual IPs go on the TUN together and leave one by one", async () => {
  const rt = new FakeRuntime();
  await runDaemon(rt, [conn("vip-office")], async ({ c }) => {
    await c.call("up", { name: "vip-office" }); // IKE SA 1: 10.3.0.1 (IPv4 only)
    peerSays(rt, [{
      kind: "event",
      event: {
        type: "virtual-ip",
        ikeSaId: 5,
        address: "10.3.0.5",
        addresses: ["10.3.0.5", "2001:db8:ff::5"],
        dns: ["10.1.0.53", "2001:db8::53"],
      },
    }, {
      // A reauthenticated SA that got the same IPv6 address back.
      kind: "event",
      event: { type: "virtual-ip", ikeSaId: 6, address: "2001:db8:ff::5", dns: [] },
    }]);
    await c.call("status");
    assert.deepEqual(rt.dataplane.vips, ["10.3.0.1", "10.3.0.5", "2001:db8:ff::5"]);

    peerSays(rt, [{
      kind: "event",
      event: { type: "ike-down", ikeSaId: 5, connectionName: "vip-office", reason: "reauth" },
    }]);
    await c.call("status");
    assert.deepEqual(rt.dataplane.vips, ["10.3.0.1", "2001:db8:ff::5"]);
    assert.ok(rt.dataplane.calls.includes("removeVirtualIp 10.3.0.5"));
    assert.ok(!rt.dataplane.calls.includes("removeVirtualIp 2001:db8:ff::5"));

    peerSays(rt, [{
      kind: "event",
      event: { type: "ike-down", ikeSaId: 6, connectionName: "vip-office", reason: "deleted" },
    }]);
    await c.call("status");
    assert.deepEqual(rt.dataplane.vips, ["10.3.0.1"]);
  });
});
