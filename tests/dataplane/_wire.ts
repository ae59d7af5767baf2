/**
 * Wire checks for the tunnel tests: tshark (an independent dissector)
 * captures the outer traffic on namespace a's veth while pings cross the
 * tunnel both ways.
 *
 * @module
 */

import assert from "node:assert/strict";
import { tsharkDuring } from "../helpers/tshark.ts";
import { startTunnel, type Tunnel, type TunnelOptions } from "./_tunnel.ts";

/** One captured packet as tshark dissected it (outer header fields). */
export interface Captured {
  proto: number;
  src: string;
  dst: string;
  espSpi: string;
  ahSpi: string;
  udpDst: string;
  icmpType: string;
}

/**
 * Runs `during` while tshark (an independent dissector) captures IPv4 on
 * the veth of namespace a; returns what it saw.
 */
export async function capture(
  t: Tunnel,
  during: () => Promise<void>,
  tsharkOptions: readonly string[] = [],
): Promise<Captured[]> {
  const out = await tsharkDuring(
    t.a,
    [
      ...tsharkOptions,
      "-i",
      t.vethA,
      "-n",
      "-l",
      "-f",
      // IPv6: everything but multicast (MLD reports, which come behind a hop-by-hop header,
      // and solicited-node neighbour discovery) and unicast neighbour discovery (ICMPv6
      // types 133-137, no extension headers). Tunnel traffic is unicast between the hosts.
      t.outerA.includes(":")
        ? "ip6 and not ip6 multicast and not (icmp6 and ip6[40] >= 133 and ip6[40] <= 137)"
        : "ip",
      "-T",
      "fields",
      "-E",
      "separator=,",
      "-E",
      "aggregator=;",
      "-e",
      t.outerA.includes(":") ? "ipv6.nxt" : "ip.proto",
      "-e",
      t.outerA.includes(":") ? "ipv6.src" : "ip.src",
      "-e",
      t.outerA.includes(":") ? "ipv6.dst" : "ip.dst",
      "-e",
      "esp.spi",
      "-e",
      "ah.spi",
      "-e",
      "udp.dstport",
      "-e",
      "icmp.type",
      "-e",
      "icmpv6.type",
    ],
    during,
    300,
  );
  return out.trim().split("\n").filter(Boolean).map((l) => {
    // Fields seen twice (outer and inner IP header) are "outer;inner": keep the outer one.
    const [proto, src, dst, espSpi, ahSpi, udpDst, icmp4, icmp6] = l.split(",").map((f) =>
      f.split(";")[0]
    );
    return { proto: Number(proto), src, dst, espSpi, ahSpi, udpDst, icmpType: icmp4 || icmp6 };
  });
}

/** Pings innerB from a and innerA from b (3 each); asserts both succeed. */
export async function pingBothWays(t: Tunnel): Promise<void> {
  const ab = await t.lab.runIn(t.a, ["ping", "-c", "3", "-i", "0.2", "-W", "2", t.innerB]);
  if (ab.code !== 0) {
    console.error(JSON.stringify(await t.stats("a")), JSON.stringify(await t.stats("b")));
  }
  assert.equal(ab.code, 0, `ping a -> b through the tunnel failed:\n${ab.stdout}${ab.stderr}`);
  const ba = await t.lab.runIn(t.b, ["ping", "-c", "3", "-i", "0.2", "-W", "2", t.innerA]);
  assert.equal(ba.code, 0, `ping b -> a through the tunnel failed:\n${ba.stdout}${ba.stderr}`);
}

/** Runs `fn` with a fresh tunnel, always closed afterwards. */
export async function withTunnel(
  o: TunnelOptions,
  fn: (t: Tunnel) => Promise<void>,
): Promise<void> {
  const t = await startTunnel(o);
  try {
    await fn(t);
  } finally {
    await t.close();
  }
}

/**
 * Pings both ways while capturing; asserts tshark saw at least half of the
 * 12 packets (the capture may start late) and returns them.
 */
export async function pingAndCapture(t: Tunnel): Promise<Captured[]> {
  const seen = await capture(t, () => pingBothWays(t));
  assert.ok(seen.length >= 6, `expected >= 6 of 12 packets on the wire, saw ${seen.length}`);
  return seen;
}

/** One event reported by a peer. */
export interface PeerEvent {
  type: string;
  [k: string]: unknown;
}
