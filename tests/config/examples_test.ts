/**
 * Every file in examples/ loads, compiles to an SPD and a PAD, maps onto the
 * engine's configuration, and makes the decisions the seeds' tables show
 * (Security Gateway, VPN client, host SPD).
 */
import assert from "node:assert/strict";
import { buildDatabases } from "../../lib/config/build.ts";
import { loadConfig, parseConfig } from "../../lib/config/parse.ts";
import { toEngineConfig } from "../../lib/config/to_peer_config.ts";
import { initiatorTs, selectChildPolicy } from "../../lib/db/child_policy.ts";
import { parseIdentity } from "../../lib/db/identity.ts";
import { anyTs, formatTs, selectorToTs } from "../../lib/db/narrow.ts";
import { IpProto, packetTuple, parseAddressSelector } from "../../lib/db/selector.ts";
import { padRows, spdRows } from "../../lib/db/tables.ts";

const dir = new URL("../../examples/", import.meta.url).pathname;
const load = (name: string) => loadConfig(`${dir}${name}`);

function out(
  src: string,
  dst: string,
  protocol: number = IpProto.TCP,
  dstPort = 443,
  srcPort = 40000,
) {
  return packetTuple({ src, dst, protocol, srcPort, dstPort, direction: "outbound" });
}

function ts(addr: string) {
  return selectorToTs({
    localAddress: parseAddressSelector(addr),
    remoteAddress: parseAddressSelector(addr),
    protocol: "any",
    localPort: { kind: "any" },
    remotePort: { kind: "any" },
  }, "local")[0];
}

Deno.test("examples/: every YAML file loads, builds and maps to the engine", async () => {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.name.endsWith(".yaml")) names.push(e.name);
  assert.ok(names.length >= 5, names.join(","));
  for (const n of names.sort()) {
    const c = await load(n);
    const { spd, pad } = buildDatabases(c);
    assert.ok(spd.entries.length > 0, n);
    assert.ok(spdRows(spd.entries).length >= spd.entries.length, n);
    assert.equal(padRows(pad.entries).length, c.connections.length, n);
    assert.equal(toEngineConfig(c).connections.length, c.connections.length, n);
  }
});

Deno.test("site_to_site.yaml: protects site traffic, bypasses IKE, discards the rest", async () => {
  const c = await load("site_to_site.yaml");
  const { spd, pad } = buildDatabases(c);
  const net = spd.lookupOutbound(out("10.1.0.5", "10.2.7.7"));
  assert.equal(net.action, "protect");
  assert.equal(net.entry?.processing?.mode, "tunnel");
  assert.deepStrictEqual(net.entry?.processing?.tunnel, {
    local: "192.0.2.1",
    remote: "198.51.100.1",
  });
  assert.equal(spd.lookupOutbound(out("192.0.2.1", "198.51.100.1", 17, 500, 500)).action, "bypass");
  assert.equal(spd.lookupOutbound(out("10.1.0.5", "8.8.8.8")).action, "discard");
  assert.equal(spd.discards["no-policy"], 1);
  // We initiate for the whole subnets.
  const mine = initiatorTs(net.entry!);
  assert.deepStrictEqual(mine.tsi.map(formatTs), ["10.1.0.0/16"]);
  assert.deepStrictEqual(mine.tsr.map(formatTs), ["10.2.0.0/16"]);
  // The peer, authenticated by the PAD, gets what it asks for within policy.
  const peer = parseIdentity("gw-b.example.com");
  const entry = pad.match(peer);
  assert.equal(entry?.label, "site-a");
  assert.equal(entry?.spdLookup, "ts");
  const r = selectChildPolicy(spd, { tsi: [anyTs(4)], tsr: [ts("10.1.0.0/16")], peer, pad: entry });
  assert.ok(r !== "TS_UNACCEPTABLE");
  assert.deepStrictEqual(r.tsi.map(formatTs), ["10.2.0.0/16"]);
  assert.equal(
    selectChildPolicy(spd, {
      tsi: [ts("10.9.0.0/16")],
      tsr: [ts("10.1.0.0/16")],
      peer,
      pad: entry,
    }),
    "TS_UNACCEPTABLE",
  );
  assert.equal(pad.match(parseIdentity("gw-x.example.com")), undefined);
});

Deno.test("road_warrior_gateway.yaml: the seeds' Security Gateway table", async () => {
  const c = await load("road_warrior_gateway.yaml");
  const { spd, pad } = buildDatabases(c);
  // | Name: company.com | IP_dst: ANY (PFP) | PROTECT tunnel ESP |: a named entry.
  const named = spd.entries.find((e) => e.name !== undefined);
  assert.ok(named);
  assert.equal(named.selectors[0].pfp?.remoteAddress, true);
  // Named entries never match packets before an SA exists: DISCARD.
  assert.equal(spd.lookupOutbound(out("10.1.0.5", "10.3.0.7")).action, "discard");
  // IKE is bypassed.
  assert.equal(
    spd.lookupInbound(packetTuple({
      src: "203.0.113.9",
      dst: "192.0.2.1",
      protocol: 17,
      srcPort: 4500,
      dstPort: 4500,
      direction: "inbound",
    })).action,
    "bypass",
  );
  // alice@company.com asks for everything and gets her pool <-> the intranet.
  const alice = parseIdentity("alice@company.com");
  const pe = pad.match(alice);
  assert.equal(pe?.spdLookup, "name");
  const r = selectChildPolicy(spd, { tsi: [anyTs(4)], tsr: [anyTs(4)], peer: alice, pad: pe });
  assert.ok(r !== "TS_UNACCEPTABLE");
  assert.deepStrictEqual(r.tsi.map(formatTs), ["10.3.0.0/24"]);
  assert.deepStrictEqual(r.tsr.map(formatTs), ["10.1.0.0/16"]);
  // She can never claim addresses outside the pool.
  assert.equal(
    selectChildPolicy(spd, { tsi: [ts("10.1.0.0/16")], tsr: [anyTs(4)], peer: alice, pad: pe }),
    "TS_UNACCEPTABLE",
  );
  assert.equal(pad.match(parseIdentity("mallory@evil.example")), undefined);
  assert.deepStrictEqual(c.pools[0].dns, ["10.1.0.53"]);
});

Deno.test("road_warrior_client.yaml: the seeds' VPN client table", async () => {
  const c = await load("road_warrior_client.yaml");
  const { spd } = buildDatabases(c);
  // | IP_src: ANY (PFP) -> inner IP | IP_dst: 10.1.0.0/16 | PROTECT tunnel to the SG |
  const d = spd.lookupOutbound(out("10.3.0.7", "10.1.2.3"));
  assert.equal(d.action, "protect");
  assert.equal(d.entry?.selectors[0].pfp?.localAddress, true);
  assert.deepStrictEqual(d.entry?.processing?.tunnel, { local: "dynamic", remote: "192.0.2.1" });
  const { tsi, tsr } = initiatorTs(d.entry!, out("10.3.0.7", "10.1.2.3"));
  // TSi: the packet, then our populated (virtual) address; TSr: the packet, then the intranet.
  assert.deepStrictEqual(tsi.map(formatTs).slice(1), ["10.3.0.7"]);
  assert.deepStrictEqual(tsr.map(formatTs).slice(1), ["10.1.0.0/16"]);
  assert.deepStrictEqual(c.connections[0].vips, ["0.0.0.0"]);
  assert.equal(toEngineConfig(c).connections[0].children[0].localTs[0], "dynamic");
});

Deno.test("host_to_host_transport.yaml: both hosts' traffic in transport mode", async () => {
  const c = await load("host_to_host_transport.yaml");
  const { spd, pad } = buildDatabases(c);
  const d = spd.lookupOutbound(out("192.0.2.10", "192.0.2.20", 17, 53));
  assert.equal(d.action, "protect");
  assert.equal(d.entry?.processing?.mode, "transport");
  assert.equal(d.entry?.processing?.tunnel, undefined);
  assert.equal(spd.lookupOutbound(out("192.0.2.10", "192.0.2.30")).action, "discard");
  // Without ids, the peer is identified by its address.
  assert.equal(pad.match(parseIdentity("192.0.2.20"))?.label, "hosts");
});

Deno.test("host_spd.yaml: the seeds' host SPD decides like its table", async () => {
  const { spd } = buildDatabases(await load("host_spd.yaml"));
  const label = (p: ReturnType<typeof out>) => spd.lookupOutbound(p).entry?.label ?? "default";
  assert.equal(label(out("1.2.3.101", "1.2.4.10", 17, 500, 500)), "ike");
  assert.equal(
    label(packetTuple({
      src: "1.2.3.101",
      dst: "1.2.4.10",
      protocol: 1,
      icmpType: 8,
      direction: "outbound",
    })),
    "icmp",
  );
  assert.equal(label(out("1.2.3.101", "1.2.3.7")), "intranet");
  assert.equal(label(out("1.2.3.101", "1.2.4.10")), "dmz");
  assert.equal(label(out("1.2.3.101", "93.184.216.34")), "internet");
  assert.equal(label(out("1.2.3.102", "93.184.216.34")), "default");
  const { spdS, spdO, spdI } = spd.decorrelated();
  assert.ok(spdS.every((p) => p.entry.label === "intranet"));
  assert.ok(spdO.length > 0 && spdI.length > 0);
});

Deno.test("MIPv6 (seeds): mobile node and home agent SPD-S entries mirror each other", () => {
  // mobile node: source = home_address_1, destination = home_agent_1, proto = MH,
  // local_mh_type = BU, remote_mh_type = BAck -> ESP transport.
  const mn = parseConfig(`policies:
  - label: bu
    local: 2001:db8:1::100
    remote: 2001:db8:1::1
    protocol: mh
    local_type: BU
    remote_type: BA
    action: protect
    esp_proposals: aes128gcm16
  - label: hoti
    local: 2001:db8:1::100
    protocol: mh
    local_type: HoTI
    remote_type: HoT
    action: protect
    mode: tunnel
    tunnel_local: 2001:db8:2::55
    tunnel_remote: 2001:db8:1::1
    esp_proposals: aes128gcm16
`);
  const ha = parseConfig(`policies:
  - label: back
    local: 2001:db8:1::1
    remote: 2001:db8:1::100
    protocol: mh
    local_type: BA
    remote_type: BU
    action: protect
    esp_proposals: aes128gcm16
`);
  const mnSpd = buildDatabases(mn).spd;
  const haSpd = buildDatabases(ha).spd;
  const mh = (src: string, dst: string, mhType: number, direction: "outbound" | "inbound") =>
    packetTuple({ src, dst, protocol: IpProto.MH, mhType, direction });
  // BU leaves the MN protected, and the HA expects it protected.
  assert.equal(
    mnSpd.lookupOutbound(mh("2001:db8:1::100", "2001:db8:1::1", 5, "outbound")).entry?.label,
    "bu",
  );
  assert.equal(
    haSpd.lookupInbound(mh("2001:db8:1::100", "2001:db8:1::1", 5, "inbound")).entry?.label,
    "back",
  );
  assert.equal(haSpd.discards.unprotected, 1, "a plaintext BU is refused");
  // BAck from the HA matches both sides' entries.
  assert.equal(
    haSpd.lookupOutbound(mh("2001:db8:1::1", "2001:db8:1::100", 6, "outbound")).entry?.label,
    "back",
  );
  assert.equal(
    mnSpd.lookupInbound(mh("2001:db8:1::1", "2001:db8:1::100", 6, "inbound")).entry?.label,
    "bu",
  );
  // A BU sent by the HA matches neither side's BU/BAck entry.
  assert.equal(
    haSpd.lookupOutbound(mh("2001:db8:1::1", "2001:db8:1::100", 5, "outbound")).index,
    -1,
  );
  // HoTI to any correspondent goes through the tunnel to the home agent.
  const hoti = mnSpd.lookupOutbound(mh("2001:db8:1::100", "2001:db8:9::9", 1, "outbound"));
  assert.equal(hoti.entry?.label, "hoti");
  assert.deepStrictEqual(hoti.entry?.processing?.tunnel, {
    local: "2001:db8:2::55",
    remote: "2001:db8:1::1",
  });
});
