import assert from "node:assert/strict";
import { type EncapChannel, NattIkeTransport } from "../../lib/daemon/natt_transport.ts";
import { isWildcardAddress, routeSource } from "../../lib/daemon/route_source.ts";
import { withLocalAddresses } from "../../lib/daemon/adapters.ts";
import type { Endpoint } from "../../lib/ikev2/effects.ts";
import { pskConfigs } from "../helpers/two_peers.ts";
import { FakeTransport } from "./_fakes.ts";

class FakeEncap implements EncapChannel {
  readonly port = 4500;
  sent: { bytes: number[]; to: Endpoint; raw: boolean; from?: string }[] = [];
  addresses: string[][] = [];
  #cb: ((bytes: Uint8Array, from: Endpoint, local?: string) => void) | null = null;
  onIke(cb: ((bytes: Uint8Array, from: Endpoint, local?: string) => void) | null): void {
    this.#cb = cb;
  }
  sendIke(bytes: Uint8Array, to: Endpoint, raw: boolean, from?: Endpoint): Promise<void> {
    this.sent.push({ bytes: [...bytes], to, raw, ...(from ? { from: from.address } : {}) });
    return Promise.resolve();
  }
  setLocalAddresses(addresses: readonly string[]): Promise<void> {
    this.addresses.push([...addresses]);
    return Promise.resolve();
  }
  /** A data plane "ike" event (`local`: what IP_PKTINFO said). */
  deliver(bytes: Uint8Array, from: Endpoint, local?: string): void {
    this.#cb?.(bytes, from, local);
  }
  get listening(): boolean {
    return this.#cb !== null;
  }
}

function setup(listenAddrs: string[], localFor: (r: string) => string | undefined) {
  const ike = new FakeTransport();
  const encap = new FakeEncap();
  const t = new NattIkeTransport({ ike, encap, listenAddrs, localFor });
  const got: { bytes: number[]; from: Endpoint; to: Endpoint }[] = [];
  return {
    ike,
    encap,
    t,
    got,
    start: () => t.start((b, from, to) => got.push({ bytes: [...b], from, to })),
  };
}

Deno.test("NattIkeTransport: sends from 4500 go through the data plane, raw keepalives stay raw", async () => {
  const s = setup(["192.0.2.1"], () => undefined);
  await s.start();
  const peer500 = { address: "198.51.100.7", port: 500 };
  const peer4500 = { address: "198.51.100.7", port: 31000 };
  await s.t.send(new Uint8Array([1]), { address: "192.0.2.1", port: 500 }, peer500);
  await s.t.send(new Uint8Array([2]), { address: "192.0.2.1", port: 4500 }, peer4500);
  await s.t.send(new Uint8Array([0xff]), { address: "192.0.2.1", port: 4500 }, peer4500, true);
  assert.deepEqual(s.ike.sent.map((x) => [...x.bytes]), [[1]]);
  // From our address: the data plane's wildcard socket sends from it.
  assert.deepEqual(s.encap.sent, [
    { bytes: [2], to: peer4500, raw: false, from: "192.0.2.1" },
    { bytes: [0xff], to: peer4500, raw: true, from: "192.0.2.1" },
  ]);
  s.t.close();
  assert.equal(s.ike.closed, true);
  assert.equal(s.encap.listening, false);
});

Deno.test("NattIkeTransport: IKE from the data plane arrives for our address on 4500", async () => {
  const s = setup([], (r) => r === "198.51.100.7" ? "192.0.2.9" : undefined);
  await s.start();
  s.encap.deliver(new Uint8Array([7]), { address: "198.51.100.7", port: 31000 });
  s.encap.deliver(new Uint8Array([8]), { address: "203.0.113.1", port: 4500 });
  assert.deepEqual(s.got, [
    {
      bytes: [7],
      from: { address: "198.51.100.7", port: 31000 },
      to: { address: "192.0.2.9", port: 4500 },
    },
    // No route: the engine gets the wildcard (it will not match a concrete connection).
    {
      bytes: [8],
      from: { address: "203.0.113.1", port: 4500 },
      to: { address: "0.0.0.0", port: 4500 },
    },
  ]);
});

// Several addresses: the socket reports where a datagram went (IP_PKTINFO);
// that beats the route's source, which may be another of ours.
Deno.test("NattIkeTransport: IKE on 4500 sent to one of several addresses is for that address", async () => {
  const s = setup([], () => "192.0.2.9");
  await s.start();
  s.encap.deliver(new Uint8Array([7]), { address: "198.51.100.7", port: 31000 }, "192.0.2.10");
  assert.deepEqual(s.got[0].to, { address: "192.0.2.10", port: 4500 });
  await s.t.setLocalAddresses(["192.0.2.9", "192.0.2.10"]);
  assert.deepEqual(s.encap.addresses, [["192.0.2.9", "192.0.2.10"]]);
});

Deno.test("NattIkeTransport: a wildcard socket's datagrams get a concrete local address", async () => {
  // One listen address per family wins; otherwise the route source toward the sender.
  const one = setup(["192.0.2.1", "2001:db8::1"], () => "192.0.2.99");
  await one.start();
  one.ike.deliver(new Uint8Array([1]), { address: "198.51.100.7", port: 500 }, {
    address: "0.0.0.0",
    port: 500,
  });
  one.encap.deliver(new Uint8Array([2]), { address: "2001:db8::7", port: 4500 });
  assert.deepEqual(one.got.map((g) => g.to.address), ["192.0.2.1", "2001:db8::1"]);

  const any = setup([], () => "192.0.2.99");
  await any.start();
  any.ike.deliver(new Uint8Array([1]), { address: "198.51.100.7", port: 500 }, {
    address: "0.0.0.0",
    port: 500,
  });
  // A concrete destination is kept as it is.
  any.ike.deliver(new Uint8Array([1]), { address: "198.51.100.7", port: 500 }, {
    address: "192.0.2.5",
    port: 500,
  });
  assert.deepEqual(any.got.map((g) => `${g.to.address}:${g.to.port}`), [
    "192.0.2.99:500",
    "192.0.2.5:500",
  ]);
});

Deno.test("isWildcardAddress() and routeSource() over the kernel's routes", () => {
  for (const a of ["0.0.0.0", "::", "%any", "%any6", ""]) {
    assert.equal(isWildcardAddress(a), true, a);
  }
  for (const a of ["192.0.2.1", "::1", "10.0.0.0"]) assert.equal(isWildcardAddress(a), false, a);
  // Loopback routes to itself in every namespace (the kernel is the oracle).
  assert.equal(routeSource("127.0.0.1"), "127.0.0.1");
  assert.equal(routeSource("127.0.0.2", 0x5000), "127.0.0.1");
  assert.equal(routeSource("not an address"), undefined);
});

Deno.test("withLocalAddresses(): connections without a local address get the route source", () => {
  const { alice } = pskConfigs();
  const base = alice.connections[0];
  const cfg = {
    ...alice,
    connections: [
      { ...base, name: "rw", localAddress: "%any", remoteAddress: "198.51.100.7" },
      { ...base, name: "fixed", localAddress: "192.0.2.1", remoteAddress: "198.51.100.7" },
      { ...base, name: "responder", localAddress: "%any", remoteAddress: "%any" },
      { ...base, name: "noroute", localAddress: "0.0.0.0", remoteAddress: "203.0.113.1" },
    ],
  };
  const out = withLocalAddresses(cfg, (r) => r === "198.51.100.7" ? "192.0.2.9" : undefined);
  // A resolved one still answers requests to any of our addresses (anyLocal).
  assert.deepEqual(
    out.connections.map((c) => `${c.name} ${c.localAddress}${c.anyLocal ? " any" : ""}`),
    ["rw 192.0.2.9 any", "fixed 192.0.2.1", "responder %any", "noroute 0.0.0.0"],
  );
  assert.equal(out.secrets, cfg.secrets);
});
