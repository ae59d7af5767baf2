/**
 * RFC 4301 section 5.2 ("fail closed") end to end: two of our daemons in
 * network namespaces, a site-to-site tunnel, host-to-host transport mode,
 * and an IPv6 site-to-site tunnel. A clear packet that policy says must arrive
 * protected is injected by scapy at layer 2 from B's side of the veth (so
 * B's own data plane cannot protect it): it must not reach a listening UDP
 * socket in A, while
 *  - the same flow sent by B's stack (through the SA) arrives,
 *  - a clear packet outside every policy arrives (the listener, the
 *    injection and the ordering work),
 *  - a clear ICMP echo arrives (an inbound ICMP BYPASS entry, counted by
 *    A's kernel in /proc/net/snmp Icmp InEchos; IPv4 cases), and the drop is
 *    counted as Ip InAddrErrors (IPv4 only: IPv6 blackholes count nothing),
 *  - IKE works (`ipsec up` after the guard is installed at start).
 * After `ipsec stop` A's rules are the kernel defaults again, and the very
 * same clear packet is delivered: the guard, nothing else, dropped it.
 *
 * ```
 *  ns A: lo 10.1.0.1/32                         ns B: lo 10.2.0.1/32
 *        va 192.0.2.1/24  <====== veth ======>  vb 192.0.2.2/24 (+ 192.0.2.12)
 *        daemon, UDP listener :9999              daemon, scapy sendp on vb
 * ```
 *
 * Needs root and /usr/bin/python3 with scapy. Namespaces are prefixed
 * `th2-` and always deleted.
 *
 * @module
 */
import assert from "node:assert/strict";
import { DAEMON_PERMISSIONS } from "../../lib/daemon/permissions.ts";
import { NetnsLab, run } from "../helpers/netns.ts";
import {
  ipRules as rules,
  mustRun as must,
  PYTHON,
  startUdpListener,
  UDP_SEND_PY as SEND_UDP,
} from "../ffi/_netlink_rules_agent.ts";
import { siteConfig, waitUntil, withLogs } from "./_tunnel.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const IPSEC = [Deno.execPath(), "run", ...DAEMON_PERMISSIONS, `${ROOT}cli/main.ts`];

// Inbound-only ICMP BYPASS: clear echo requests may come in, while the
// tunnel still protects outbound ICMP (a "both" entry would send pings in clear).
const ICMP_BYPASS = `policies:
  - label: icmp-in
    protocol: icmp
    direction: inbound
    action: bypass
`;

// argv: dst MAC, interface, then "udp|icmp,src,dst,payload" per packet, sent in order.
const INJECT = `
import sys
from scapy.all import Ether, IP, IPv6, UDP, ICMP, Raw, sendp, conf
conf.verb = 0
mac, iface = sys.argv[1], sys.argv[2]
pkts = []
for spec in sys.argv[3:]:
    kind, src, dst, payload = spec.split(",")
    l3 = IPv6(src=src, dst=dst) if ":" in src else IP(src=src, dst=dst)
    l4 = UDP(sport=40000, dport=9999) if kind == "udp" else ICMP(type=8, id=0x4242, seq=1)
    pkts.append(Ether(dst=mac) / l3 / l4 / Raw(payload.encode()))
sendp(pkts, iface=iface)
`;

const DEFAULT_RULES = [
  "0: from all lookup local",
  "32766: from all lookup main",
  "32767: from all lookup default",
];

/** One counter of the namespace's /proc/net/snmp ("Icmp" "InEchos", "Ip" "InAddrErrors"). */
async function snmp(lab: NetnsLab, ns: string, group: string, name: string): Promise<number> {
  const text = must(await lab.runIn(ns, ["cat", "/proc/net/snmp"]), "cat /proc/net/snmp");
  const [names, values] = text.split("\n").filter((l) => l.startsWith(`${group}:`));
  const i = names.split(" ").indexOf(name);
  assert(i > 0, `no ${group} ${name} in /proc/net/snmp`);
  return Number(values.split(" ")[i]);
}

/** tests/netns/_tunnel.ts's IPv4 site config with IPv6 addresses instead. */
function toIpv6(config: string): string {
  return config.replaceAll("192.0.2.1", "2001:db8:12::1").replaceAll("192.0.2.2", "2001:db8:12::2")
    .replaceAll("10.1.0.0/24", "2001:db8:1::/64").replaceAll("10.2.0.0/24", "2001:db8:2::/64");
}

async function scenario(
  mode: "tunnel" | "transport" | "tunnel6",
  unmatched: "bypass" | "discard" = "bypass",
): Promise<void> {
  // The protected pair, and a source outside every policy.
  const flow = mode === "tunnel"
    ? { src: "10.2.0.1", dst: "10.1.0.1", drop: "from 10.2.0.0/24 to 10.1.0.0/24 goto 103" }
    : mode === "transport"
    ? { src: "192.0.2.2", dst: "192.0.2.1", drop: "from 192.0.2.2 to 192.0.2.1 goto 103" }
    : { src: "2001:db8:2::1", dst: "2001:db8:1::1", drop: "to 2001:db8:1::/64 blackhole" };
  const outside = mode === "tunnel"
    ? "10.3.0.1"
    : mode === "transport"
    ? "192.0.2.12"
    : "2001:db8:3::1";
  const family = mode === "tunnel6" ? 6 : 4;
  const other = family === 4 ? 6 : 4;
  const lab = await NetnsLab.create("th2-");
  const dir = await Deno.makeTempDir({ prefix: "th2-" });
  const logs: string[] = [];
  try {
    const a = await lab.addNs("a");
    const b = await lab.addNs("b");
    await lab.veth(a, "va", "192.0.2.1/24", b, "vb", "192.0.2.2/24");
    await run(["ip", "-n", a, "addr", "add", "10.1.0.1/32", "dev", "lo"]);
    await run(["ip", "-n", b, "addr", "add", "10.2.0.1/32", "dev", "lo"]);
    await run(["ip", "-n", b, "addr", "add", "192.0.2.12/24", "dev", "vb"]);
    if (family === 6) {
      for (
        const [ns, addr, dev] of [
          [a, "2001:db8:12::1/64", "va"],
          [b, "2001:db8:12::2/64", "vb"],
          [a, "2001:db8:1::1/128", "lo"],
          [b, "2001:db8:2::1/128", "lo"],
        ]
      ) must(await run(["ip", "-n", ns, "addr", "add", addr, "dev", dev, "nodad"]), "ip addr");
    }
    // No reverse-path filter: only our rules may drop the spoofed packets.
    for (const k of ["all", "default", "va"]) {
      must(await lab.runIn(a, ["sysctl", "-qw", `net.ipv4.conf.${k}.rp_filter=0`]), "sysctl");
    }
    const defaults = { 4: await rules(lab, a, 4), 6: await rules(lab, a, 6) };
    assert.deepEqual(defaults[4], DEFAULT_RULES);
    const mac = JSON.parse(
      must(await lab.runIn(a, ["ip", "-j", "link", "show", "va"]), "ip link"),
    )[0]
      .address as string;

    const sock = (side: string) => `${dir}/${side}.sock`;
    for (const side of ["a", "b"] as const) {
      const cfg = `${dir}/${side}.yaml`;
      const config = mode === "tunnel6"
        ? toIpv6(siteConfig(side, "tunnel"))
        : siteConfig(side, mode) + ICMP_BYPASS;
      // A alone: RFC 4301's default DISCARD for what no entry names.
      const head = side === "a" && unmatched === "discard" ? "unmatched_inbound: discard\n" : "";
      await Deno.writeTextFile(cfg, head + config);
      const log = `${dir}/${side}.log`;
      logs.push(log);
      const ns = side === "a" ? a : b;
      must(
        await lab.runIn(ns, [
          ...IPSEC,
          "start",
          "--config",
          cfg,
          "--socket",
          sock(side),
          "--log-file",
          log,
        ]),
        `ipsec start in ${ns}`,
      );
    }
    const cli = (ns: string, side: string, args: string[]) =>
      lab.runIn(ns, [...IPSEC, ...args, "--socket", sock(side)]);

    // The guard is in place as soon as the daemon has its policies: before IKE.
    const guarded = await rules(lab, a, family);
    assert(guarded.some((r) => r.endsWith(flow.drop)), guarded.join("\n"));
    if (family === 4) {
      assert(guarded.includes("103: from all ipproto tcp blackhole"), guarded.join("\n"));
    }
    assert(guarded.includes("104: from all lookup local"), guarded.join("\n"));
    assert(!guarded.includes("0: from all lookup local"), guarded.join("\n"));
    // No policy of the other family: its rules are untouched (unless unmatched
    // packets are discarded: then that family's clear traffic is dropped too).
    if (unmatched === "bypass") assert.deepEqual(await rules(lab, a, other), defaults[other]);

    // IKE through the guard (UDP 500 from the peer is exempt).
    must(await cli(a, "a", ["up", "site", "--timeout", "15"]), "ipsec up site");

    const { heard } = await startUdpListener(lab, a);
    const inject = (...specs: string[]) =>
      lab.runIn(b, [PYTHON, "-c", INJECT, mac, "vb", ...specs]).then((r) => must(r, "scapy sendp"));

    const echos = await snmp(lab, a, "Icmp", "InEchos");
    const addrErrors = await snmp(lab, a, "Ip", "InAddrErrors");
    await inject(
      `udp,${flow.src},${flow.dst},clear-protected`,
      ...(family === 4 ? [`icmp,${flow.src},${flow.dst},clear-icmp`] : []),
    );
    await inject(`udp,${outside},${flow.dst},clear-outside`);
    if (unmatched === "bypass") {
      await waitUntil(
        "the clear packet outside every policy",
        () => Promise.resolve(heard().includes("clear-outside")),
      );
    }
    // The same flow from B's stack goes through the SA and arrives.
    must(
      await lab.runIn(b, [PYTHON, "-c", SEND_UDP, flow.src, flow.dst, "through-the-sa"]),
      "send through the SA",
    );
    await waitUntil(
      "the packet through the SA",
      () => Promise.resolve(heard().includes("through-the-sa")),
    );
    assert(
      !heard().includes("clear-protected"),
      `a clear packet that policy protects arrived:\n${heard()}`,
    );
    assert(heard().includes(`${flow.src} through-the-sa`), heard());
    if (unmatched === "discard") {
      assert(!heard().includes("clear-outside"), `an unmatched clear packet arrived:\n${heard()}`);
    }
    if (family === 4) {
      await waitUntil(
        "the bypassed echo request",
        async () => await snmp(lab, a, "Icmp", "InEchos") > echos,
      );
      // The kernel counted the drop (a host that does not forward: InAddrErrors).
      assert(await snmp(lab, a, "Ip", "InAddrErrors") > addrErrors, "the drop was not counted");
    }
    const ping = await lab.runIn(a, ["ping", "-c", "2", "-W", "2", "-I", flow.dst, flow.src]);
    must(ping, "ping through the SA");

    // ipsec stop: the guard goes, the kernel's rules are as before.
    must(await cli(a, "a", ["stop"]), "ipsec stop");
    await waitUntil(
      "A's rules to be the defaults again",
      async () => JSON.stringify(await rules(lab, a, family)) === JSON.stringify(defaults[family]),
      100,
    );
    assert.deepEqual(await rules(lab, a, other), defaults[other]);
    // Without the guard the very same clear packet is delivered.
    await inject(`udp,${flow.src},${flow.dst},clear-after-stop`);
    await waitUntil(
      "the clear packet after stop",
      () => Promise.resolve(heard().includes("clear-after-stop")),
    );
  } catch (e) {
    throw withLogs(e, logs);
  } finally {
    await lab.cleanup();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

Deno.test("clear inbound: site-to-site tunnel drops clear packets from the protected subnet; SA, IKE, bypass work; stop removes the rules", async () => {
  await scenario("tunnel");
});

Deno.test("clear inbound: transport mode drops clear packets from the peer host; SA, IKE, bypass work; stop removes the rules", async () => {
  await scenario("transport");
});

Deno.test("clear inbound: unmatched_inbound: discard drops clear packets no policy names; SA, IKE, bypass work", async () => {
  await scenario("tunnel", "discard");
});

Deno.test("clear inbound: IPv6 site-to-site tunnel drops clear packets from the protected subnet; SA and IKE work; stop removes the rules", async () => {
  await scenario("tunnel6");
});
