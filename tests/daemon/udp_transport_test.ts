import assert from "node:assert/strict";
import dgram from "node:dgram";
import {
  addNonEspMarker,
  classifyNattDatagram,
  UdpIkeTransport,
} from "../../lib/daemon/udp_transport.ts";
import type { Endpoint } from "../../lib/ikev2/effects.ts";

// RFC 3948 section 2.2 (non-ESP marker: four zero octets before IKE) and
// section 2.3 (NAT-keepalive: a single octet 0xFF); anything else on UDP 4500
// is ESP, whose SPI is never zero (RFC 4303 section 2.1).
Deno.test("classifyNattDatagram() follows RFC 3948", () => {
  assert.deepEqual(classifyNattDatagram(new Uint8Array([0xff])), { kind: "keepalive" });
  assert.deepEqual(classifyNattDatagram(new Uint8Array([0, 0, 0])), { kind: "runt" });
  const ike = classifyNattDatagram(new Uint8Array([0, 0, 0, 0, 9, 8]));
  assert.equal(ike.kind, "ike");
  assert.deepEqual(ike.kind === "ike" && [...ike.bytes], [9, 8]);
  const esp = classifyNattDatagram(new Uint8Array([0, 0, 1, 0, 0, 0, 0, 1]));
  assert.equal(esp.kind, "esp");
  assert.deepEqual([...addNonEspMarker(new Uint8Array([7]))], [0, 0, 0, 0, 7]);
});

Deno.test("UdpIkeTransport: IKE on both ports, marker added and removed on NAT-T, ESP split off", async () => {
  const got: { bytes: number[]; from: Endpoint; to: Endpoint }[] = [];
  const esp: number[][] = [];
  let wake = () => {};
  const a = new UdpIkeTransport({ addresses: ["127.0.0.1"], ikePort: 0, nattPort: 0 });
  const b = new UdpIkeTransport({
    addresses: ["127.0.0.1"],
    ikePort: 0,
    nattPort: 0,
    onEsp: (bytes) => {
      esp.push([...bytes]);
      wake();
    },
  });
  try {
    await a.start(() => {});
    await b.start((bytes, from, to) => {
      got.push({ bytes: [...bytes], from, to });
      wake();
    });
    const [aIke, aNatt] = a.endpoints;
    const [bIke, bNatt] = b.endpoints;
    const arrived = (n: () => boolean) =>
      new Promise<void>((r) => {
        wake = () => n() && r();
      });

    let p = arrived(() => got.length === 1);
    await a.send(new Uint8Array([1, 2, 3]), aIke, bIke);
    await p;
    assert.deepEqual(got[0], { bytes: [1, 2, 3], from: aIke, to: bIke });

    // From the NAT-T socket the receiver sees the IKE message without the marker.
    p = arrived(() => got.length === 2);
    await a.send(new Uint8Array([4, 5]), aNatt, bNatt);
    await p;
    assert.deepEqual(got[1], { bytes: [4, 5], from: aNatt, to: bNatt });

    // ESP-in-UDP (non-zero SPI) is handed to onEsp, not to IKE.
    const raw = new Uint8Array([0, 0, 0x10, 0, 0, 0, 0, 1, 0xaa]);
    p = arrived(() => esp.length === 1);
    await new Promise<void>((resolve, reject) => {
      // send the raw datagram from a plain socket: the transport would add a marker
      import("node:dgram").then(({ default: dgram }) => {
        const s = dgram.createSocket("udp4");
        s.send(raw, bNatt.port, "127.0.0.1", (err) => {
          s.close();
          err ? reject(err) : resolve();
        });
      });
    });
    await p;
    assert.deepEqual(esp[0], [...raw]);
    assert.equal(got.length, 2);
    await assert.rejects(
      () => a.send(new Uint8Array(1), { address: "127.0.0.2", port: 1 }, bIke),
      /no IKE socket bound to 127.0.0.2 port 1/,
    );
  } finally {
    a.close();
    b.close();
  }
});

// A wildcard listener on a host with several addresses: a request to one of
// them arrives on that address's own socket (so `to` is exact) and the answer
// leaves from it; addresses that go away lose their sockets.
Deno.test("UdpIkeTransport: on the wildcard, each local address gets its own socket and answers from it", async () => {
  const got: { n: number; from: Endpoint; to: Endpoint }[] = [];
  let wake = () => {};
  const t = new UdpIkeTransport({ addresses: [], ikePort: 0, bindNatt: false });
  const peer = dgram.createSocket("udp4");
  const answers: { from: string; bytes: number[] }[] = [];
  try {
    await t.start((bytes, from, to) => {
      got.push({ n: bytes[0], from, to });
      wake();
    });
    await new Promise<void>((r) => peer.bind(0, "127.0.0.1", r));
    peer.on("message", (m, rinfo) => {
      answers.push({ from: rinfo.address, bytes: [...m] });
      wake();
    });
    const port = t.endpoints[0].port;
    const until = (n: () => boolean) =>
      new Promise<void>((r) => {
        wake = () => n() && r();
        wake();
      });
    // Sent again until it arrives (a socket being closed drops what it had
    // queued); each request has its own number.
    let asked = 0;
    const ask = async (to: string) => {
      const n = ++asked;
      const send = () => peer.send(new Uint8Array([n]), port, to);
      send();
      const again = setInterval(send, 100);
      await until(() => got.some((g) => g.n === n));
      clearInterval(again);
      return got.find((g) => g.n === n)!;
    };
    assert.equal((await ask("127.0.0.2")).to.address, "0.0.0.0", "only the wildcard so far");
    await t.setLocalAddresses(["127.0.0.2", "127.0.0.3"]);
    assert.deepEqual(
      t.endpoints.map((e) => e.address).sort(),
      ["0.0.0.0", "127.0.0.2", "127.0.0.3", "::"],
    );
    assert.equal((await ask("127.0.0.2")).to.address, "127.0.0.2");
    const third = await ask("127.0.0.3");
    assert.equal(third.to.address, "127.0.0.3");
    assert.equal((await ask("127.0.0.4")).to.address, "0.0.0.0");
    // The answer to a request to 127.0.0.3 leaves from 127.0.0.3.
    const from = third.from;
    await t.send(new Uint8Array([9]), { address: "127.0.0.3", port }, from);
    await until(() => answers.length === 1);
    assert.deepEqual(answers[0], { from: "127.0.0.3", bytes: [9] });
    // 127.0.0.3 goes away: its socket closes, the wildcard serves it again.
    await t.setLocalAddresses(["127.0.0.2"]);
    assert.ok(!t.endpoints.some((e) => e.address === "127.0.0.3"));
    assert.equal((await ask("127.0.0.3")).to.address, "0.0.0.0");
    // A listener on given addresses binds nothing more.
    const fixed = new UdpIkeTransport({ addresses: ["127.0.0.1"], ikePort: 0, bindNatt: false });
    await fixed.start(() => {});
    await fixed.setLocalAddresses(["127.0.0.2"]);
    assert.equal(fixed.endpoints.length, 1);
    fixed.close();
  } finally {
    t.close();
    peer.close();
  }
});

// Listening on the wildcard uses SO_REUSEADDR (for the per-address sockets),
// which another daemon that also sets it (charon does) would share silently:
// a port someone holds is still an error.
Deno.test("UdpIkeTransport: on the wildcard, a port another socket holds is refused", async () => {
  const other = dgram.createSocket({ type: "udp4", reuseAddr: true });
  await new Promise<void>((r) => other.bind(0, "0.0.0.0", r));
  const port = other.address().port;
  const t = new UdpIkeTransport({ addresses: [], ikePort: port, bindNatt: false });
  try {
    await assert.rejects(() => t.start(() => {}), /cannot bind UDP 0\.0\.0\.0 port \d+ for IKE/);
  } finally {
    t.close();
    other.close();
  }
});
