/**
 * The inbound guard against a real kernel, IPv4 and IPv6, without daemons:
 * the guard (through tests/ffi/_netlink_rules_agent.ts, only --allow-ffi) is
 * applied in namespace A for a host-to-host PROTECT policy; B sends clear
 * UDP from its own stack. The peer's clear datagrams must not reach a
 * listening socket in A, datagrams from another address of B must; ARP and
 * IPv6 neighbour discovery for the protected pair keep working; after
 * `remove()` A's rules are the kernel defaults and the peer's datagrams
 * arrive. Needs root and /usr/bin/python3. Namespaces are prefixed `th2-`.
 *
 * ```
 *  ns A: va 192.0.2.1/24 2001:db8::1/64  <== veth ==>  ns B: vb 192.0.2.2 (+ .3)
 *        guard, UDP listener :9999                           2001:db8::2 (+ ::3)
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { NetnsLab, run } from "../helpers/netns.ts";
import {
  ipRules,
  mustRun as must,
  PYTHON,
  startRulesAgent,
  startUdpListener,
  UDP_SEND_PY as SEND,
} from "../ffi/_netlink_rules_agent.ts";
import { waitUntil } from "../netns/_tunnel.ts";

// Host-to-host transport policy for both families, plus ICMPv6 left to the guard's exemption.
const POLICIES = [
  { label: "ike", local: "192.0.2.1", protocol: "udp", localPort: "500", action: "bypass" },
  { label: "h2h", local: "192.0.2.1", remote: "192.0.2.2", action: "protect" },
  { label: "h2h6", local: "2001:db8::1", remote: "2001:db8::2", action: "protect" },
  // Any addresses: would also match A's own packets to port 9998 if `iif lo` did not pass them.
  { label: "no9998", protocol: "udp", localPort: "9998", action: "discard" },
];

Deno.test("inbound guard (netns): the peer's clear UDP is dropped in IPv4 and IPv6, ARP/ND and other sources work, remove() restores", async () => {
  const lab = await NetnsLab.create("th2-");
  try {
    const a = await lab.addNs("ga");
    const b = await lab.addNs("gb");
    await lab.veth(a, "va", "192.0.2.1/24", b, "vb", "192.0.2.2/24");
    for (
      const [ns, cmd] of [
        [a, ["addr", "add", "2001:db8::1/64", "dev", "va", "nodad"]],
        [b, ["addr", "add", "2001:db8::2/64", "dev", "vb", "nodad"]],
        [b, ["addr", "add", "2001:db8::3/64", "dev", "vb", "nodad"]],
        [b, ["addr", "add", "192.0.2.3/24", "dev", "vb"]],
      ] as const
    ) {
      must(await run(["ip", "-n", ns, ...cmd]), `ip ${cmd.join(" ")}`);
    }
    const rules = (f: 4 | 6) => ipRules(lab, a, f);
    const defaults = { 4: await rules(4), 6: await rules(6) };

    const agent = await startRulesAgent(lab, a);
    const applied = await agent.must({ op: "guard", tunName: "ipsec0", entries: POLICIES });
    assert((applied.rules ?? []).includes("100: from 192.0.2.2/32 to 192.0.2.1/32 goto 103"));
    assert((applied.rules ?? []).some((r) => /^100: from 2001:db8.*blackhole$/.test(r)));
    const v6 = await rules(6);
    assert(v6.includes("104: from all lookup local") && !v6.includes("0: from all lookup local"));

    const { heard } = await startUdpListener(lab, a);
    const send = async (src: string, dst: string, text: string) =>
      must(await lab.runIn(b, [PYTHON, "-c", SEND, src, dst, text]), `send from ${src}`);

    // Neighbour resolution for the protected pair must work: clean caches first.
    must(await lab.runIn(b, ["ip", "neigh", "flush", "all"]), "ip neigh flush");
    await send("192.0.2.2", "192.0.2.1", "peer-v4");
    await send("2001:db8::2", "2001:db8::1", "peer-v6");
    await send("192.0.2.3", "192.0.2.1", "other-v4");
    await send("2001:db8::3", "2001:db8::1", "other-v6");
    await waitUntil(
      "datagrams from the other addresses",
      () => Promise.resolve(heard().includes("other-v4") && heard().includes("other-v6")),
    );
    // A answered ARP and NS about itself to the peer (the lookups with the peer's source).
    await waitUntil("B to resolve A for the peer address", async () => {
      const n = must(await lab.runIn(b, ["ip", "neigh", "show", "dev", "vb"]), "ip neigh");
      return /^192\.0\.2\.1 lladdr/m.test(n) && /^2001:db8::1 lladdr/m.test(n);
    }, 50);
    // One more datagram on the same path, after the peer's: then check.
    await send("192.0.2.3", "192.0.2.1", "later-v4");
    await waitUntil("the later datagram", () => Promise.resolve(heard().includes("later-v4")));
    assert(!heard().includes("peer-v4"), heard());
    assert(!heard().includes("peer-v6"), heard());
    // Locally generated packets are not checked (`iif lo`): A can send to B's port 9998.
    for (const [src, dst] of [["192.0.2.1", "192.0.2.2"], ["2001:db8::1", "2001:db8::2"]]) {
      must(await lab.runIn(a, [PYTHON, "-c", SEND, src, dst, "from-a", "9998"]), `send from A`);
    }
    // ICMPv6 is exempt: the peer's ping6 is answered.
    must(await lab.runIn(b, ["ping", "-6", "-c", "1", "-W", "2", "2001:db8::1"]), "ping6");

    // A new SPD (reload) replaces the set make-before-break: now at 101, nothing left at 100.
    const again = await agent.must({
      op: "guard",
      tunName: "ipsec0",
      entries: POLICIES.slice(0, 2),
    });
    assert((again.rules ?? []).every((r) => r.startsWith("101: ")), again.rules?.join("\n"));
    const v4 = await rules(4);
    assert(!v4.some((r) => r.startsWith("100: ")) && v4.some((r) => r.startsWith("101: ")));
    assert.equal(v4.filter((r) => /^103: from all ipproto \S+ blackhole$/.test(r)).length, 255);
    assert.deepEqual(await rules(6), defaults[6]); // no IPv6 entry left: IPv6 is restored
    await send("192.0.2.2", "192.0.2.1", "peer-v4-reloaded");
    await send("192.0.2.3", "192.0.2.1", "later-v4-reloaded");
    await waitUntil(
      "the later datagram",
      () => Promise.resolve(heard().includes("later-v4-reloaded")),
    );
    assert(!heard().includes("peer-v4-reloaded"), heard());

    await agent.must({ op: "unguard" });
    assert.deepEqual(await rules(4), defaults[4]);
    assert.deepEqual(await rules(6), defaults[6]);
    await send("192.0.2.2", "192.0.2.1", "peer-v4-after");
    await send("2001:db8::2", "2001:db8::1", "peer-v6-after");
    await waitUntil(
      "the peer's datagrams without the guard",
      () => Promise.resolve(heard().includes("peer-v4-after") && heard().includes("peer-v6-after")),
    );
  } finally {
    await lab.cleanup();
  }
});

Deno.test("inbound guard (netns): after a crash (SIGKILL) the next guard cleans up and restores `0: lookup local`", async () => {
  const lab = await NetnsLab.create("th2-");
  try {
    const a = await lab.addNs("gc");
    const rules = () => ipRules(lab, a, 4);
    const defaults = await rules();
    const first = await startRulesAgent(lab, a);
    await first.must({ op: "guard", tunName: "ipsec0", entries: POLICIES });
    const installed = (await rules()).filter((r) => /^10[01]: /.test(r)).length;
    assert(installed > 5);
    // ip netns exec runs deno as a child: kill the whole namespace's processes.
    for (const pid of must(await run(["ip", "netns", "pids", a]), "pids").split(/\s+/)) {
      if (pid) await run(["kill", "-9", pid]);
    }
    await first.child.status;
    const left = await rules();
    assert(
      left.includes("104: from all lookup local") && !left.includes("0: from all lookup local"),
    );

    const second = await startRulesAgent(lab, a);
    await second.must({ op: "guard", tunName: "ipsec0", entries: POLICIES });
    const now = await rules();
    // The stale set is gone: exactly one set, no duplicates.
    assert.equal(now.filter((r) => /^10[01]: /.test(r)).length, installed, now.join("\n"));
    assert.equal(now.filter((r) => r.startsWith("103: ")).length, 255);
    await second.must({ op: "unguard" });
    assert.deepEqual(await rules(), defaults);
  } finally {
    await lab.cleanup();
  }
});
