/**
 * Runs one FFI action inside a network namespace for tests/ffi/*_test.ts
 * (started through `ip netns exec` with only `--allow-ffi`). Prints "ready"
 * when set up and one JSON line per result.
 *
 * Actions:
 *  - `tun NAME ADDR/LEN PEER`: opens TUN NAME (MTU 1400, up), adds ADDR by
 *    netlink, answers ICMP echo requests to PEER by writing echo replies.
 *  - `tun-mq NAME`: opens two queues of one multi-queue TUN, writes a packet on each.
 *  - `netlink add|del DEV`: adds/deletes 10.78.0.1/24, 2001:db8:78::1/64,
 *    route 10.79.0.0/16 via 10.78.0.2 table 220, rule "not fwmark 0x100 lookup 220".
 *  - `backstop add|del DEV`: 10.78.0.1/24 on DEV, 10.80.0.0/16 and 2001:db8:80::/48
 *    into DEV in table 220, each with a blackhole route behind it (metric 65520);
 *    `del` removes the blackholes and the IPv6 route.
 *  - `routes TABLE`: prints Netlink.listRoutes of TABLE for IPv4 and IPv6
 *    ({ dst, prefixLength, kind, metric, ifindex } each).
 *  - `udp-recv 4|6 PORT COUNT` / `udp-send 4|6 DST PORT COUNT`: mmsg batches.
 *  - `raw-recv 4|6 PROTO COUNT` / `raw-send 4|6 DST PROTO COUNT`.
 *
 * @module
 */

import { formatIp, ipFromBytes, parseIp } from "../../lib/db/address.ts";
import { ipToBytes } from "../../lib/db/address.ts";
import { internetChecksum } from "../../lib/ip/checksum.ts";
import { ifNameToIndex } from "../../ffi/libc.ts";
import { Netlink } from "../../ffi/netlink.ts";
import { PollSet } from "../../ffi/poll.ts";
import { MmsgBatch, openRawSocket, openUdpSocket } from "../../ffi/socket.ts";
import { openTun } from "../../ffi/tun.ts";

function ip(s: string): Uint8Array {
  const a = parseIp(s);
  if (!a) throw new Error(`bad address ${s}`);
  return ipToBytes(a);
}

function out(v: unknown): void {
  console.log(JSON.stringify(v));
}

const [action, ...args] = Deno.args;

if (action === "tun") {
  const [name, cidr, peer] = args;
  const [addr, len] = cidr.split("/");
  const tun = openTun({ name, mtu: 1400, up: true });
  const nl = Netlink.open();
  nl.addAddress(ifNameToIndex(tun.name), ip(addr), Number(len));
  nl.close();
  const peerB = ip(peer);
  const buf = new Uint8Array(65536);
  const ps = new PollSet([tun.fd]);
  console.log("ready");
  let replies = 0;
  for (;;) {
    ps.wait(200);
    for (;;) {
      const n = tun.read(buf);
      if (n < 0) break;
      const p = buf.subarray(0, n);
      // IPv4 ICMP echo request to peer -> echo reply.
      if (p[0] >> 4 !== 4 || p[9] !== 1) continue;
      const ihl = (p[0] & 15) * 4;
      if (!p.subarray(16, 20).every((b, i) => b === peerB[i]) || p[ihl] !== 8) continue;
      const src = p.slice(12, 16);
      p.copyWithin(12, 16, 20);
      p.set(src, 16);
      p[ihl] = 0;
      p[ihl + 2] = 0;
      p[ihl + 3] = 0;
      const c = internetChecksum(p.subarray(ihl));
      p[ihl + 2] = c >> 8;
      p[ihl + 3] = c & 0xff;
      // The IPv4 header checksum is unchanged by swapping the two addresses.
      if (tun.write(p)) out({ reply: ++replies, length: n });
    }
  }
} else if (action === "tun-mq") {
  const q1 = openTun({ name: args[0], multiQueue: true, up: true });
  const q2 = openTun({ name: args[0], multiQueue: true });
  out({ names: [q1.name, q2.name], multiQueue: q1.multiQueue && q2.multiQueue });
  q2.close();
  q1.close();
} else if (action === "netlink") {
  const [verb, dev] = args;
  const nl = Netlink.open();
  const idx = nl.linkIndex(dev);
  const route = {
    dst: ip("10.79.0.0"),
    prefixLength: 16,
    gateway: ip("10.78.0.2"),
    ifindex: idx,
    table: 220,
  };
  // Link-scope routes, like the data plane's routes into the TUN.
  const link4 = { dst: ip("10.80.0.0"), prefixLength: 16, ifindex: idx, table: 220 };
  const link6 = { dst: ip("2001:db8:80::"), prefixLength: 48, ifindex: idx, table: 220 };
  const rule = { family: 4 as const, table: 220, priority: 220, fwmark: 0x100, invert: true };
  if (verb === "add") {
    nl.setLink(idx, { up: true, mtu: 1300, txQueueLength: 777 });
    nl.addAddress(idx, ip("10.78.0.1"), 24);
    nl.addAddress(idx, ip("2001:db8:78::1"), 64, true);
    nl.addRoute(route);
    nl.addRoute(link4);
    nl.addRoute(link6);
    nl.addRule(rule);
  } else {
    nl.deleteRule(rule);
    nl.deleteRoute(route);
    nl.deleteRoute(link4);
    nl.deleteRoute(link6);
    nl.deleteAddress(idx, ip("2001:db8:78::1"), 64);
    nl.deleteAddress(idx, ip("10.78.0.1"), 24);
  }
  nl.close();
  out({ done: verb });
} else if (action === "routes") {
  const nl = Netlink.open();
  const text = (a: Uint8Array) => formatIp(ipFromBytes(a));
  out({
    routes: [4, 6].flatMap((f) =>
      nl.listRoutes(f as 4 | 6, Number(args[0])).map((r) => ({
        dst: `${text(r.dst)}/${r.prefixLength}`,
        kind: r.kind,
        metric: r.metric ?? 0,
        ifindex: r.ifindex ?? 0,
      }))
    ),
  });
  nl.close();
} else if (action === "backstop") {
  const [verb, dev] = args;
  const nl = Netlink.open();
  const idx = nl.linkIndex(dev);
  const link4 = { dst: ip("10.80.0.0"), prefixLength: 16, ifindex: idx, table: 220 };
  const link6 = { dst: ip("2001:db8:80::"), prefixLength: 48, ifindex: idx, table: 220 };
  const hole = (r: typeof link4) => ({
    dst: r.dst,
    prefixLength: r.prefixLength,
    table: 220,
    metric: 65520,
    kind: "blackhole" as const,
    replace: true,
  });
  if (verb === "add") {
    nl.setLink(idx, { up: true });
    nl.addAddress(idx, ip("10.78.0.1"), 24);
    for (const r of [link4, link6]) {
      nl.addRoute(hole(r));
      nl.addRoute({ ...r, replace: true });
    }
  } else {
    nl.deleteRoute(hole(link4));
    nl.deleteRoute(hole(link6));
    nl.deleteRoute(link6);
  }
  nl.close();
  out({ done: verb });
} else if (action === "udp-recv" || action === "raw-recv") {
  const fam = Number(args[0]) as 4 | 6;
  const count = Number(args[2]);
  const s = action === "udp-recv"
    ? openUdpSocket({ family: fam, port: Number(args[1]) })
    : openRawSocket({ family: fam, protocol: Number(args[1]) });
  const batch = new MmsgBatch(16, 2048);
  const ps = new PollSet([s.fd]);
  console.log("ready");
  let got = 0;
  while (got < count) {
    ps.wait(5000);
    const n = batch.recv(s.fd);
    for (let i = 0; i < n; i++) {
      got++;
      out({
        data: [...batch.data(i)],
        from: [...batch.peerAddress(i)],
        port: batch.peerPort(i),
      });
    }
  }
  s.close();
} else if (action === "udp-send" || action === "raw-send") {
  const fam = Number(args[0]) as 4 | 6;
  const dst = ip(args[1]);
  const portOrProto = Number(args[2]);
  const count = Number(args[3]);
  const s = action === "udp-send"
    ? openUdpSocket({ family: fam, port: 0, mark: 0x42 })
    : openRawSocket({ family: fam, protocol: portOrProto, mark: 0x42 });
  const batch = new MmsgBatch(count, 256);
  for (let i = 0; i < count; i++) {
    // Payload: 8 bytes "SPI + seq" shaped, then the index.
    batch.push(Uint8Array.of(0, 0, 1, 0, 0, 0, 0, i + 1, 0xab, i), dst, portOrProto);
  }
  const sent = batch.flush(s.fd);
  out({ sent, mark: s.mark, port: s.port });
  s.close();
} else {
  console.error(`unknown action ${action}`);
  Deno.exit(2);
}
