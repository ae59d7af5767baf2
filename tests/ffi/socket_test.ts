import assert from "node:assert/strict";
import { NetnsLab } from "../helpers/netns.ts";
import { startAgent, twoHosts } from "./_lab.ts";
import { MmsgBatch, type NetSocket, openUdpSocket, routeMtu } from "../../ffi/socket.ts";

const expected = (count: number) =>
  Array.from({ length: count }, (_, i) => [0, 0, 1, 0, 0, 0, 0, i + 1, 0xab, i]);

for (const fam of [4, 6] as const) {
  const [src, dst] = fam === 4 ? ["192.0.2.1", "192.0.2.2"] : ["2001:db8:5::1", "2001:db8:5::2"];
  const srcBytes = fam === 4
    ? [192, 0, 2, 1]
    : [0x20, 1, 0xd, 0xb8, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

  // sendmmsg of 5 datagrams from one namespace, recvmmsg in the other: same
  // payloads in order, the right source address and port, SO_MARK applied.
  Deno.test(`socket: UDP/IPv${fam} sendmmsg -> recvmmsg between namespaces`, async () => {
    const lab = await NetnsLab.create("tffi-");
    try {
      const [a, b] = await twoHosts(lab, "so", "2001:db8:5::");
      const rx = await startAgent(lab, b, ["udp-recv", `${fam}`, "4500", "5"]);
      const tx = await (await startAgent(lab, a, ["udp-send", `${fam}`, dst, "4500", "5"], false))
        .next();
      assert.equal(tx.sent, 5);
      assert.equal(tx.mark, 0x42);
      const got = [];
      for (let i = 0; i < 5; i++) got.push(await rx.next());
      assert.deepEqual(got.map((g) => g.data), expected(5));
      for (const g of got) {
        assert.deepEqual(g.from, srcBytes, `from ${src}`);
        assert.equal(g.port, tx.port);
      }
    } finally {
      await lab.cleanup();
    }
  });

  // A raw protocol-50 socket: IPv4 receives include the IPv4 header (20 bytes,
  // protocol 50), IPv6 receives start at the payload (kernel behaviour).
  Deno.test(`socket: raw ESP (protocol 50) over IPv${fam} between namespaces`, async () => {
    const lab = await NetnsLab.create("tffi-");
    try {
      const [a, b] = await twoHosts(lab, "so", "2001:db8:5::");
      const rx = await startAgent(lab, b, ["raw-recv", `${fam}`, "50", "3"]);
      const tx = await (await startAgent(lab, a, ["raw-send", `${fam}`, dst, "50", "3"], false))
        .next();
      assert.equal(tx.sent, 3);
      for (let i = 0; i < 3; i++) {
        const g = await rx.next();
        const data = g.data as number[];
        assert.deepEqual(g.from, srcBytes);
        if (fam === 4) {
          assert.equal(data[0] >> 4, 4);
          assert.equal(data[9], 50);
          assert.deepEqual(data.slice(20), expected(3)[i]);
        } else {
          assert.deepEqual(data, expected(3)[i]);
        }
      }
    } finally {
      await lab.cleanup();
    }
  });
}

// The route MTU toward a peer (IP_MTU / IPV6_MTU of a connected socket);
// nothing is sent.
Deno.test("socket: routeMtu() reads the MTU of the route toward an address", async () => {
  // Loopback: lo's MTU (IPv4 reports at most 65535).
  const lo = Number((await Deno.readTextFile("/sys/class/net/lo/mtu")).trim());
  assert.equal(routeMtu(Uint8Array.of(127, 0, 0, 1)), Math.min(lo, 65535));
  // A namespace with a 1280-byte link: its MTU for both families; no route: undefined.
  const lab = await NetnsLab.create("tffi-");
  try {
    const ns = await lab.addNs("mtu");
    const peer = await lab.addNs("peer");
    await lab.veth(ns, "m0", "192.0.2.1/24", peer, "m1", undefined);
    for (const cmd of ["link set m0 mtu 1280", "addr add 2001:db8:7::1/64 dev m0 nodad"]) {
      const r = await lab.runIn(ns, ["ip", ...cmd.split(" ")]);
      assert.equal(r.code, 0, r.stderr);
    }
    const mod = new URL("../../ffi/socket.ts", import.meta.url).href;
    const r = await lab.runIn(ns, [
      Deno.execPath(),
      "eval",
      `import { routeMtu } from "${mod}";` +
      `const v6 = new Uint8Array(16); v6.set([0x20, 1, 0xd, 0xb8, 0, 7], 0); v6[15] = 9;` +
      `console.log(routeMtu(Uint8Array.of(192, 0, 2, 9)), routeMtu(v6),` +
      ` String(routeMtu(Uint8Array.of(198, 51, 100, 1))));`,
    ]);
    assert.equal(r.stdout.trim(), "1280 1280 undefined", r.stderr);
  } finally {
    await lab.cleanup();
  }
});

// A socket bound to the wildcard on a host with several addresses (here
// 127.0.0.0/8 on lo): with packet info on, each received datagram says which
// address it was sent to, and a reply can leave from a chosen one.
Deno.test("socket: packet info gives the local address of each datagram; sendToFrom picks the source", async () => {
  const ip4 = (s: string) => new Uint8Array(s.split(".").map(Number));
  const server = openUdpSocket({ family: 4, port: 0 });
  const client = openUdpSocket({ family: 4, port: 0, address: ip4("127.0.0.1") });
  const server6 = openUdpSocket({ family: 6, port: 0 });
  const loop6 = new Uint8Array(16);
  loop6[15] = 1;
  const client6 = openUdpSocket({ family: 6, port: 0, address: loop6 });
  try {
    const batch = new MmsgBatch(8, 4096, 0, { control: 64 });
    const receive = async (s: NetSocket, want: number) => {
      for (let tries = 0; tries < 100; tries++) {
        const n = batch.recv(s.fd);
        if (n >= want) return n;
        if (n > 0) throw new Error(`got ${n} of ${want} datagrams at once`);
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error("nothing arrived");
    };
    // Off (the default): no local address.
    client.sendTo(new Uint8Array([1]), ip4("127.0.0.2"), server.port);
    await receive(server, 1);
    assert.equal(batch.localAddress(0), null);

    server.setPacketInfo(true);
    client.sendTo(new Uint8Array([2]), ip4("127.0.0.2"), server.port);
    client.sendTo(new Uint8Array([3]), ip4("127.0.0.3"), server.port);
    await receive(server, 2);
    assert.deepEqual([...batch.localAddress(0)!], [127, 0, 0, 2]);
    assert.deepEqual([...batch.localAddress(1)!], [127, 0, 0, 3]);
    assert.deepEqual([...batch.data(1)], [3]);

    // The answer leaves from the address asked, not the route's (127.0.0.1).
    const big = new Uint8Array(3000).map((_, i) => i & 0xff);
    assert.equal(server.sendToFrom(big, ip4("127.0.0.1"), client.port, ip4("127.0.0.3")), 3000);
    client.setPacketInfo(true);
    await receive(client, 1);
    assert.deepEqual([...batch.peerAddress(0)], [127, 0, 0, 3]);
    assert.equal(batch.peerPort(0), server.port);
    assert.deepEqual(batch.data(0), big);
    assert.deepEqual([...batch.localAddress(0)!], [127, 0, 0, 1]);

    // Not one of our addresses: refused (the data plane then sends from the route's source).
    assert.throws(
      () => server.sendToFrom(big, ip4("127.0.0.1"), client.port, ip4("192.0.2.77")),
      /sendmsg/,
    );

    // IPv6 (::1): the same through IPV6_RECVPKTINFO / IPV6_PKTINFO.
    server6.setPacketInfo(true);
    client6.sendTo(new Uint8Array([6]), loop6, server6.port);
    await receive(server6, 1);
    assert.deepEqual([...batch.localAddress(0)!], [...loop6]);
    assert.equal(server6.sendToFrom(new Uint8Array([7]), loop6, client6.port, loop6), 1);
    await receive(client6, 1);
    assert.deepEqual([...batch.data(0)], [7]);

    server.setPacketInfo(false);
    client.sendTo(new Uint8Array([4]), ip4("127.0.0.2"), server.port);
    await receive(server, 1);
    assert.equal(batch.localAddress(0), null, "off again");
  } finally {
    for (const s of [server, client, server6, client6]) s.close();
  }
});
