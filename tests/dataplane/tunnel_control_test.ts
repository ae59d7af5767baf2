import assert from "node:assert/strict";
import { capture, type PeerEvent, withTunnel } from "./_wire.ts";

// After the outbound SA at a is removed, a's traffic for the tunnel is held
// (acquire event, queued) and never sent in clear; IKE messages sent with
// sendIke() over UDP 4500 arrive at b as "ike" events, marker stripped;
// `stop` removes the policy rule and the TUN.
Deno.test("dataplane: fail closed without SA, IKE over 4500, clean stop", async () => {
  await withTunnel({ encapPort: 4500 }, async (t) => {
    assert.deepEqual(await t.command("a", "remove-out"), { removed: true });
    const seen = await capture(t, async () => {
      const r = await t.lab.runIn(t.a, ["ping", "-c", "2", "-i", "0.2", "-W", "1", t.innerB]);
      assert.notEqual(r.code, 0, "ping must fail without an outbound SA");
      assert.deepEqual(await t.command("a", "ike 0102030405"), { sent: true });
    });
    for (const p of seen) {
      assert.equal(p.icmpType, "", `clear ICMP on the wire: ${JSON.stringify(p)}`);
    }
    assert.ok(
      seen.some((p) => p.proto === 17 && p.udpDst === "4500" && p.espSpi === ""),
      "the IKE datagram is on the wire",
    );
    const a = await t.stats("a");
    const acquires = (a.events as PeerEvent[]).filter((e) => e.type === "acquire");
    assert.equal(acquires.length, 1);
    assert.equal(acquires[0].dst, t.innerB);
    assert.equal(acquires[0].protocol, 1);
    assert.equal((a.stats.packets as { queued: number }).queued, 2);
    const b = await t.stats("b");
    const ike = (b.events as PeerEvent[]).filter((e) => e.type === "ike");
    assert.equal(ike.length, 1);
    assert.deepEqual(Object.values(ike[0].data as Record<string, number>), [1, 2, 3, 4, 5]);
    assert.equal(ike[0].remotePort, 4500);

    const rulesBefore = await t.lab.runIn(t.a, ["ip", "-j", "rule", "show"]);
    assert.ok(JSON.parse(rulesBefore.stdout).some((r: { table: string }) => r.table === "220"));
    // The TUN is gone as soon as stop() resolves, while the process still runs.
    assert.deepEqual(await t.command("a", "stop"), { stopped: true, tunGone: true });
    const rules = JSON.parse((await t.lab.runIn(t.a, ["ip", "-j", "rule", "show"])).stdout);
    assert.ok(!rules.some((r: { table: string }) => r.table === "220"), JSON.stringify(rules));
    const links = JSON.parse((await t.lab.runIn(t.a, ["ip", "-j", "link", "show"])).stdout);
    assert.ok(!links.some((l: { ifname: string }) => l.ifname === "tdpa0"), "TUN removed");
  });
});
