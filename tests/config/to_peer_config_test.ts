import assert from "node:assert/strict";
import { parseConfig } from "../../lib/config/parse.ts";
import { toEngineConfig, toPeerConfig } from "../../lib/config/to_peer_config.ts";

function conn(extra: string): string {
  return `connections:
  gw:
    local_addrs: 192.0.2.1
    remote_addrs: 198.51.100.1
${extra}
    local:
      auth: psk
      id: a.example.org
    remote:
      auth: psk
      id: b.example.org
    children:
      net:
        local_ts: 10.1.0.0/16
        remote_ts: 10.2.0.0/16
secrets:
  s:
    id: [a.example.org, b.example.org]
    secret: "0123456789abcdef"
`;
}

Deno.test("toPeerConfig(): encap: yes forces UDP encapsulation (PeerConfig.encap)", () => {
  const p = toPeerConfig(parseConfig(conn("    encap: yes")).connections[0]);
  assert.equal(p.encap, true);
});

Deno.test("toPeerConfig(): without encap the engine decides from NAT detection", () => {
  const p = toPeerConfig(parseConfig(conn("    encap: no")).connections[0]);
  assert.equal(p.encap, undefined);
  assert.equal(toPeerConfig(parseConfig(conn("")).connections[0]).encap, undefined);
});

Deno.test("toPeerConfig(): the IKE SA's rekey_time becomes rekeySeconds (default 4h)", () => {
  const set = toPeerConfig(parseConfig(conn("    rekey_time: 90m")).connections[0]);
  assert.equal(set.rekeySeconds, 5400);
  const dflt = toPeerConfig(parseConfig(conn("")).connections[0]);
  assert.equal(dflt.rekeySeconds, 4 * 3600);
  const off = toPeerConfig(parseConfig(conn("    rekey_time: 0")).connections[0]);
  assert.equal(off.rekeySeconds, undefined);
});

Deno.test("toEngineConfig(): connections and PSKs", () => {
  const e = toEngineConfig(parseConfig(conn("    encap: yes")));
  assert.equal(e.connections.length, 1);
  assert.equal(e.connections[0].encap, true);
  assert.equal(e.secrets?.length, 1);
  assert.deepEqual(e.secrets?.[0].secret, new TextEncoder().encode("0123456789abcdef"));
});

Deno.test("toPeerConfig(): mobike defaults to on and `mobike: no` turns it off", () => {
  assert.equal(toPeerConfig(parseConfig(conn("")).connections[0]).mobike, true);
  assert.equal(toPeerConfig(parseConfig(conn("    mobike: no")).connections[0]).mobike, false);
});

Deno.test("toEngineConfig(): pools and vips reach the engine's configuration payload", () => {
  const yaml = conn("    pools: [rw]\n    vips: [0.0.0.0]") +
    "pools:\n  rw:\n    addrs: 10.3.0.0/24\n    dns: [10.3.0.1]\n";
  const e = toEngineConfig(parseConfig(yaml));
  assert.deepEqual(e.pools, [{ name: "rw", range: "10.3.0.0/24", dns: ["10.3.0.1"] }]);
  assert.deepEqual(e.connections[0].pools, ["rw"]);
  assert.deepEqual(e.connections[0].vips, ["0.0.0.0"]);
});
