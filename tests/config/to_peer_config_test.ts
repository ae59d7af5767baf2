import assert from "node:assert/strict";
import { parseConfig } from "../../lib/config/parse.ts";
import { toEngineConfig, toPeerConfig } from "../../lib/config/to_peer_config.ts";
import { pskConnection } from "../helpers/config_yaml.ts";

const conn = pskConnection;

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

Deno.test("toPeerConfig(): retransmit_timeout/retransmit_tries reach the engine only when written", () => {
  assert.equal(toPeerConfig(parseConfig(conn("")).connections[0]).retransmit, undefined);
  const both = toPeerConfig(
    parseConfig(conn("    retransmit_timeout: 2s\n    retransmit_tries: 2")).connections[0],
  );
  assert.deepEqual(both.retransmit, { timeoutMs: 2000, base: 1.8, tries: 2 });
  const one = toPeerConfig(parseConfig(conn("    retransmit_tries: 0")).connections[0]);
  assert.deepEqual(one.retransmit, { timeoutMs: 4000, base: 1.8, tries: 0 });
  assert.throws(() => parseConfig(conn("    retransmit_tries: 101")), /0\.\.100/);
});

Deno.test("toPeerConfig(): dpd_action in a child applies when the connection sets none", () => {
  const child = conn("").replace(
    "        remote_ts: 10.2.0.0/16",
    "        remote_ts: 10.2.0.0/16\n        dpd_action: restart",
  );
  assert.equal(toPeerConfig(parseConfig(child).connections[0]).dpdAction, "restart");
  const both = child.replace("    local:\n", "    dpd_action: trap\n    local:\n");
  assert.equal(toPeerConfig(parseConfig(both).connections[0]).dpdAction, "trap");
  assert.equal(toPeerConfig(parseConfig(conn("")).connections[0]).dpdAction, "clear");
});
