import assert from "node:assert/strict";
import { NetnsLab } from "../helpers/netns.ts";
import { startAgent, twoHosts } from "./_lab.ts";
import { routeMtu } from "../../ffi/socket.ts";

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
