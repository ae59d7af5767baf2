/**
 * IPv6 and dual-stack virtual IPs end to end in two in-memory engines:
 * YAML (`pools:` with an IPv6 range, `vips: [::]` / `[0.0.0.0, ::]`) ->
 * toEngineConfig -> IkeEngine x2 -> fake network. The gateway leases one
 * address per requested family, narrows the client's TSi to them, and its
 * PAD (built from the pools) allows exactly those; leases go back to the
 * pool when the IKE SA is deleted.
 */
import assert from "node:assert/strict";
import { parseConfig } from "../../lib/config/parse.ts";
import { toEngineConfig } from "../../lib/config/to_peer_config.ts";
import { parseIdentity } from "../../lib/db/identity.ts";
import { formatTs, type TrafficSelector } from "../../lib/db/narrow.ts";
import { peerTsAllowed } from "../../lib/db/pad.ts";
import type { EngineConfig } from "../../lib/ikev2/peer_config.ts";
import { clientYaml, gatewayYaml } from "../helpers/road_warrior_yaml.ts";
import { TwoPeers } from "../helpers/two_peers.ts";

function engineConfig(yaml: string): EngineConfig {
  return toEngineConfig(parseConfig(yaml));
}

function connect(alice: EngineConfig, bob: EngineConfig): TwoPeers {
  const p = new TwoPeers({ alice, bob });
  p.initiate("alice", alice.connections[0].name);
  p.run(30_000);
  return p;
}

const texts = (ts: readonly TrafficSelector[]) => ts.map(formatTs).sort();

Deno.test("PAD from config: an IPv6 pool is part of the peer's allowed TS", () => {
  const gw = engineConfig(gatewayYaml("[v4, v6]"));
  const entry = gw.pad!.match(parseIdentity("alice@company.com"));
  assert.deepEqual(texts(entry!.allowedTs), ["10.3.0.0/24", "2001:db8:ff::/112"]);
});

/*
 * client (vips: ::)                         gateway (pools v4, v6)
 *   IKE_AUTH { IDi, AUTH, CP(REQUEST ADDR6 DNS6), SA, TSi=::/0,
 *              TSr=10.1.0.0/16 2001:db8:1::/48 } -->
 *   <-- { IDr, AUTH, CP(REPLY 2001:db8:ff::1/64, DNS6 2001:db8::53), SA,
 *         TSi=2001:db8:ff::1/128, TSr=2001:db8:1::/48 }
 */
Deno.test("IPv6 virtual IP: the client gets an address of the IPv6 pool and SAs for it", () => {
  const p = connect(engineConfig(clientYaml("'::'")), engineConfig(gatewayYaml("[v4, v6]")));
  const ev = p.alice.eventsOf("virtual-ip");
  assert.equal(ev.length, 1, p.alice.logs.join("\n"));
  assert.equal(ev[0].address, "2001:db8:ff::1");
  assert.deepEqual(ev[0].addresses, ["2001:db8:ff::1"]);
  assert.deepEqual(ev[0].dns, ["2001:db8::53"]);
  assert.deepEqual(p.bob.engine.leases("v6"), ["2001:db8:ff::1"]);
  assert.deepEqual(p.bob.engine.leases("v4"), [], "no IPv4 address was asked for");
  assert.equal(p.alice.engine.list()[0].vip, "2001:db8:ff::1");
  assert.equal(p.bob.engine.list()[0].peerVip, "2001:db8:ff::1");
  assert.equal(p.bob.sad.size, 2, p.bob.logs.join("\n"));
  const entry = p.bob.engine.config.pad!.match(parseIdentity("alice@company.com"))!;
  for (const sa of p.bob.sad.values()) {
    assert.deepEqual(texts(sa.remoteTs), ["2001:db8:ff::1"]);
    // TSr is narrowed as a list of its own (RFC 7296 section 2.9): both subnets stay.
    assert.deepEqual(texts(sa.localTs), ["10.1.0.0/16", "2001:db8:1::/48"]);
    assert.ok(peerTsAllowed(entry, sa.remoteTs));
  }
  for (const sa of p.alice.sad.values()) {
    assert.deepEqual(texts(sa.localTs), ["2001:db8:ff::1"]);
  }
});

/*
 * client (vips: 0.0.0.0, ::)                gateway (pools v4, v6)
 *   IKE_AUTH { CP(REQUEST ADDR ADDR6 DNS DNS6), SA, TSi=0.0.0.0/0 ::/0, TSr=... } -->
 *   <-- { CP(REPLY 10.3.0.1, 2001:db8:ff::1/64, DNS, DNS6), SA,
 *         TSi=10.3.0.1/32 2001:db8:ff::1/128, TSr=10.1.0.0/16 2001:db8:1::/48 }
 *   INFORMATIONAL { D(IKE) } -->  both leases go back to the pools
 */
Deno.test("dual-stack virtual IPs: one address per family, both released on delete", () => {
  const p = connect(
    engineConfig(clientYaml("[0.0.0.0, '::']")),
    engineConfig(gatewayYaml("[v4, v6]")),
  );
  const ev = p.alice.eventsOf("virtual-ip");
  assert.equal(ev.length, 1, p.alice.logs.join("\n"));
  assert.equal(ev[0].address, "10.3.0.1");
  assert.deepEqual(ev[0].addresses, ["10.3.0.1", "2001:db8:ff::1"]);
  assert.deepEqual(ev[0].dns, ["10.1.0.53", "2001:db8::53"]);
  assert.deepEqual(p.alice.engine.list()[0].vips, ["10.3.0.1", "2001:db8:ff::1"]);
  assert.deepEqual(p.bob.engine.list()[0].peerVips, ["10.3.0.1", "2001:db8:ff::1"]);
  assert.equal(p.bob.sad.size, 2, p.bob.logs.join("\n"));
  for (const sa of p.bob.sad.values()) {
    assert.deepEqual(texts(sa.remoteTs), ["10.3.0.1", "2001:db8:ff::1"]);
    assert.deepEqual(texts(sa.localTs), ["10.1.0.0/16", "2001:db8:1::/48"]);
  }
  for (const sa of p.alice.sad.values()) {
    assert.deepEqual(texts(sa.localTs), ["10.3.0.1", "2001:db8:ff::1"]);
  }

  p.apply(p.alice, p.alice.engine.terminate(p.alice.engine.list()[0].id, p.clock.now));
  p.run(p.clock.now + 5000);
  assert.equal(p.bob.engine.list().length, 0, p.bob.logs.join("\n"));
  assert.deepEqual(p.bob.engine.leases("v4"), []);
  assert.deepEqual(p.bob.engine.leases("v6"), []);

  // Coming back, alice gets the same addresses (leases remember their owner).
  p.initiate("alice", "office");
  p.run(p.clock.now + 5000);
  assert.deepEqual(p.alice.eventsOf("virtual-ip").at(-1)?.addresses, [
    "10.3.0.1",
    "2001:db8:ff::1",
  ]);
});

/*
 * client (vips: ::)                         gateway (pool v4 only)
 *   IKE_AUTH { CP(REQUEST ADDR6 DNS6), SA, TSi=::/0, TSr } -->
 *   <-- { IDr, AUTH, N(INTERNAL_ADDRESS_FAILURE) }   (no child SA)
 */
Deno.test("IPv6 virtual IP from a gateway without an IPv6 pool: INTERNAL_ADDRESS_FAILURE", () => {
  const p = connect(engineConfig(clientYaml("'::'")), engineConfig(gatewayYaml("v4")));
  assert.equal(p.alice.eventsOf("virtual-ip").length, 0);
  assert.equal(p.bob.sad.size, 0);
  assert.deepEqual(p.bob.engine.leases("v4"), []);
  const failed = p.alice.eventsOf("child-failed");
  assert.equal(failed.length, 1, p.alice.logs.join("\n"));
  assert.match(failed[0].reason, /INTERNAL_ADDRESS_FAILURE|\(36\)/, "notify 36");
});

/*
 * Dual-stack request to a gateway with only an IPv6 pool: the client gets
 * its IPv6 address (strongSwan does the same: a request of a family without
 * a pool is just not answered) and an SA whose TSi is that address alone.
 */
Deno.test("dual-stack request, IPv6 pool only: the IPv6 address alone is assigned", () => {
  const p = connect(engineConfig(clientYaml("[0.0.0.0, '::']")), engineConfig(gatewayYaml("v6")));
  const ev = p.alice.eventsOf("virtual-ip");
  assert.equal(ev.length, 1, p.alice.logs.join("\n"));
  assert.deepEqual(ev[0].addresses, ["2001:db8:ff::1"]);
  for (const sa of p.bob.sad.values()) {
    assert.deepEqual(texts(sa.remoteTs), ["2001:db8:ff::1"]);
  }
  assert.equal(p.bob.sad.size, 2, p.bob.logs.join("\n"));
});
