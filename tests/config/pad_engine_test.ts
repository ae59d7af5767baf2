/**
 * The PAD built from the configuration (lib/config/build.ts -> Pad ->
 * EngineConfig.pad via toEngineConfig) at work in two in-memory engines:
 * YAML -> toEngineConfig -> IkeEngine x2 -> fake network.
 *
 * A peer can never get an SA for traffic outside its PAD constraints, and
 * never authenticates with an identity no PAD entry names; site-to-site and
 * host-to-host configurations still authenticate with the PAD in place.
 */
import assert from "node:assert/strict";
import { parseConfig } from "../../lib/config/parse.ts";
import { toEngineConfig } from "../../lib/config/to_peer_config.ts";
import { parseIdentity } from "../../lib/db/identity.ts";
import { formatTs, type TrafficSelector } from "../../lib/db/narrow.ts";
import { peerTsAllowed } from "../../lib/db/pad.ts";
import type { EngineConfig } from "../../lib/ikev2/peer_config.ts";
import { TwoPeers } from "../helpers/two_peers.ts";

const GATEWAY = `
connections:
  rw:
    local_addrs: 192.0.2.1
    pools: rw_pool
    proposals: aes256gcm16-prfsha384-x25519
    local:
      auth: psk
      id: vpn.company.com
    remote:
      auth: psk
      id: "*@company.com"
    children:
      intranet:
        local_ts: 10.1.0.0/16
        remote_ts: dynamic
        esp_proposals: aes256gcm16
pools:
  rw_pool:
    addrs: 10.3.0.0/24
    dns: [10.1.0.53]
secrets:
  users:
    secret: "road warrior key 0123456789"
`;

function client(o: { id?: string; vips?: boolean; localTs?: string } = {}): string {
  return `
connections:
  office:
    local_addrs: 192.0.2.100
    remote_addrs: 192.0.2.1
${o.vips === false ? "" : "    vips: 0.0.0.0\n"}    proposals: aes256gcm16-prfsha384-x25519
    local:
      auth: psk
      id: ${o.id ?? "alice@company.com"}
    remote:
      auth: psk
      id: vpn.company.com
    children:
      intranet:
        local_ts: ${o.localTs ?? "dynamic"}
        remote_ts: 10.1.0.0/16
        esp_proposals: aes256gcm16
secrets:
  users:
    secret: "road warrior key 0123456789"
`;
}

function engineConfig(yaml: string): EngineConfig {
  return toEngineConfig(parseConfig(yaml));
}

function withoutPad(c: EngineConfig): EngineConfig {
  const { pad: _pad, ...rest } = c;
  return rest;
}

/** Runs alice (first connection) against bob until quiet. */
function connect(alice: EngineConfig, bob: EngineConfig): TwoPeers {
  const p = new TwoPeers({ alice, bob });
  p.initiate("alice", alice.connections[0].name);
  p.run(30_000);
  return p;
}

const texts = (ts: readonly TrafficSelector[]) => ts.map(formatTs);

/*
 * client (alice@company.com)               gateway (pool 10.3.0.0/24)
 *   IKE_SA_INIT  ------------------------------>
 *   IKE_AUTH { IDi, AUTH, CP(REQUEST), SA, TSi=0.0.0.0/0, TSr=10.1.0.0/16 } -->
 *   <-- { IDr, AUTH, CP(REPLY 10.3.0.x), SA, TSi=10.3.0.x/32, TSr=10.1.0.0/16 }
 */
Deno.test("PAD from config: a road warrior gets its pool address, and SAs only for it", () => {
  const gw = engineConfig(GATEWAY);
  assert.ok(gw.pad, "toEngineConfig must hand the PAD to the engine");
  const entry = gw.pad.match(parseIdentity("alice@company.com"));
  assert.equal(entry?.label, "rw");
  assert.deepEqual(texts(entry!.allowedTs), ["10.3.0.0/24"]);

  const p = connect(engineConfig(client()), gw);
  const vip = p.alice.eventsOf("virtual-ip")[0];
  assert.ok(vip, `no virtual IP: ${p.alice.logs.join("\n")}`);
  assert.match(vip.address, /^10\.3\.0\.\d+$/);
  assert.deepEqual(vip.dns, ["10.1.0.53"]);
  assert.equal(p.bob.sad.size, 2);
  for (const sa of p.bob.sad.values()) {
    assert.deepEqual(texts(sa.remoteTs), [vip.address]);
    assert.ok(peerTsAllowed(entry!, sa.remoteTs));
  }
  for (const sa of p.alice.sad.values()) {
    assert.deepEqual(texts(sa.localTs), [vip.address]);
  }
});

/*
 * client without `vips` (no CP)            gateway
 *   IKE_AUTH { SA, TSi=192.0.2.100/32 (its IKE address), TSr=10.1.0.0/16 } -->
 *   <-- { IDr, AUTH, N(TS_UNACCEPTABLE) }     (PAD: this peer may claim 10.3.0.0/24 only)
 */
Deno.test("PAD from config: a client claiming traffic outside its pool gets no SA", () => {
  const gw = engineConfig(GATEWAY);
  // Without the PAD, "remote_ts: dynamic" would accept the client's IKE address.
  const open = connect(engineConfig(client({ vips: false })), withoutPad(gw));
  assert.equal(open.bob.sad.size, 2, "control: without the PAD the gateway installs the SA");
  assert.deepEqual(texts([...open.bob.sad.values()][0].remoteTs), ["192.0.2.100"]);

  for (const localTs of ["dynamic", "192.0.2.100", "10.9.0.0/24"]) {
    const p = connect(engineConfig(client({ vips: false, localTs })), gw);
    assert.equal(p.bob.sad.size, 0, `local_ts ${localTs}: gateway installed an SA`);
    assert.equal(p.alice.sad.size, 0, `local_ts ${localTs}: client installed an SA`);
    const failed = p.alice.eventsOf("child-failed");
    assert.equal(failed.length, 1, `local_ts ${localTs}: ${p.alice.logs.join("\n")}`);
    assert.match(failed[0].reason, /TS_UNACCEPTABLE|\(38\)/, "TS_UNACCEPTABLE is notify 38");
  }
});

/*
 * A client asking for the whole pool (local_ts 10.3.0.0/24 plus CP) is
 * narrowed to the address it was leased: it cannot claim other clients'.
 */
Deno.test("PAD from config: a client claiming the whole pool is narrowed to its lease", () => {
  const p = connect(engineConfig(client({ localTs: "10.3.0.0/24" })), engineConfig(GATEWAY));
  const vip = p.alice.eventsOf("virtual-ip")[0];
  assert.ok(vip, p.alice.logs.join("\n"));
  assert.equal(p.bob.sad.size, 2);
  for (const sa of p.bob.sad.values()) {
    assert.deepEqual(texts(sa.remoteTs), [vip.address]);
  }
});

/*
 * mallory@evil.com knows a PSK without ids; the gateway's connection takes
 * any identity matching "*@company.com" — but the engine's connection only
 * compares exact ids, so without a PAD she would get in.
 */
Deno.test("PAD from config: an identity no PAD entry names is refused", () => {
  const gw = engineConfig(GATEWAY);
  const mallory = engineConfig(client({ id: "mallory@evil.com" }));
  const open = connect(mallory, withoutPad(gw));
  assert.equal(open.alice.eventsOf("ike-up").length, 1, "control: without the PAD she gets in");

  const p = connect(mallory, gw);
  assert.equal(p.alice.eventsOf("ike-up").length, 0);
  assert.equal(p.bob.eventsOf("ike-up").length, 0);
  assert.equal(p.bob.sad.size, 0);
  assert.ok(
    p.bob.logs.some((l) => /no PAD entry for mallory@evil\.com/.test(l)),
    p.bob.logs.join("\n"),
  );
});

const SITE = (me: string, peer: string, mine: string, theirs: string, ids: boolean) => `
connections:
  site:
    local_addrs: ${me}
    remote_addrs: ${peer}
    local:
      auth: psk
${ids ? `      id: ${me === "192.0.2.1" ? "a" : "b"}.example.org\n` : ""}    remote:
      auth: psk
${ids ? `      id: ${me === "192.0.2.1" ? "b" : "a"}.example.org\n` : ""}    children:
      net:
        local_ts: ${mine}
        remote_ts: ${theirs}
${mine === "dynamic" ? "        mode: transport\n" : ""}secrets:
  s:
    secret: "site key 0123456789abcdef"
`;

Deno.test("PAD from config: site-to-site and host-to-host still authenticate", () => {
  for (
    const [what, ids, mine, theirs, peerMine, peerTheirs] of [
      ["site-to-site with ids", true, "10.1.0.0/16", "10.2.0.0/16", "10.2.0.0/16", "10.1.0.0/16"],
      [
        "site-to-site, addresses as ids",
        false,
        "10.1.0.0/16",
        "10.2.0.0/16",
        "10.2.0.0/16",
        "10.1.0.0/16",
      ],
      ["host-to-host transport", false, "dynamic", "dynamic", "dynamic", "dynamic"],
    ] as const
  ) {
    const a = engineConfig(SITE("192.0.2.1", "192.0.2.2", mine, theirs, ids));
    const b = engineConfig(SITE("192.0.2.2", "192.0.2.1", peerMine, peerTheirs, ids));
    assert.ok(a.pad && b.pad);
    const p = connect(a, b);
    assert.equal(p.alice.eventsOf("child-up").length, 1, `${what}: ${p.alice.logs.join("\n")}`);
    assert.equal(p.bob.eventsOf("child-up").length, 1, `${what}: ${p.bob.logs.join("\n")}`);
  }
});

/*
 * Like swanctl, a connection without `remote.id` takes any identity that
 * proves its key (%any): the peer's IDi here is a name, not its address.
 * Two such connections, each with its own key, each use their own PAD entry.
 *
 *   b (IDi=b.example.org, key kb) --IKE_AUTH--> gateway: "site-b" (192.0.2.2, kb) -> ok
 *   c (IDi=c.example.org, key kc) --IKE_AUTH--> gateway: "site-c" (192.0.2.3, kc) -> ok
 */
Deno.test("PAD from config: no remote.id accepts any identity with the connection's own key", () => {
  const conn = (name: string, peer: string, ts: string, id: string) => `
  ${name}:
    local_addrs: 192.0.2.1
    remote_addrs: ${peer}
    local:
      auth: psk
      id: ${id}
    remote:
      auth: psk
    children:
      net:
        local_ts: 10.1.0.0/16
        remote_ts: ${ts}`;
  const gateway = engineConfig(`
connections:${conn("site-b", "192.0.2.2", "10.2.0.0/16", "gw.example.org")}${
    conn("site-c", "192.0.2.3", "10.3.0.0/16", "gw.example.org")
  }
secrets:
  kb:
    id: [192.0.2.2, b.example.org]
    secret: "key of site b 0123456789"
  kc:
    id: [192.0.2.3, c.example.org]
    secret: "key of site c 0123456789"
`);
  const peer = (me: string, id: string, ts: string, key: string) =>
    engineConfig(`
connections:
  gw:
    local_addrs: ${me}
    remote_addrs: 192.0.2.1
    local:
      auth: psk
      id: ${id}
    remote:
      auth: psk
      id: gw.example.org
    children:
      net:
        local_ts: ${ts}
        remote_ts: 10.1.0.0/16
secrets:
  k:
    secret: "${key}"
`);
  const b = connect(
    peer("192.0.2.2", "b.example.org", "10.2.0.0/16", "key of site b 0123456789"),
    gateway,
  );
  assert.equal(b.alice.eventsOf("child-up").length, 1, b.bob.logs.join("\n"));
  const c = connect(
    peer("192.0.2.3", "c.example.org", "10.3.0.0/16", "key of site c 0123456789"),
    gateway,
  );
  assert.equal(c.alice.eventsOf("child-up").length, 1, c.bob.logs.join("\n"));
  // The wrong key for the address it comes from is still refused.
  const wrong = connect(
    peer("192.0.2.3", "c.example.org", "10.3.0.0/16", "key of site b 0123456789"),
    gateway,
  );
  assert.equal(wrong.alice.eventsOf("ike-up").length, 0, wrong.bob.logs.join("\n"));
});
