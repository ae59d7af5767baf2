/**
 * swanctl's shunt children (`mode: pass` / `mode: drop`): each becomes a
 * BYPASS or DISCARD SPD entry ahead of every PROTECT entry (charon installs
 * them with a higher priority than IPsec policies), is never negotiated,
 * claims nothing in the PAD, and only `drop` children are routed into the
 * TUN (where the SPD discards their traffic).
 */
import assert from "node:assert/strict";
import { buildPadEntries, buildSpdEntries } from "../../lib/config/build.ts";
import { ConfigError } from "../../lib/config/config.ts";
import { parseConfig } from "../../lib/config/parse.ts";
import { toEngineConfig } from "../../lib/config/to_peer_config.ts";
import { formatTs } from "../../lib/db/narrow.ts";
import { tunRoutes } from "../../lib/daemon/runtime.ts";

const YAML = `connections:
  home:
    local_addrs: 192.0.2.1
    remote_addrs: 192.0.2.2
    local: { auth: psk, id: a.example.org }
    remote: { auth: psk, id: b.example.org }
    children:
      all:
        local_ts: 10.1.0.0/16
        remote_ts: 0.0.0.0/0
      lan:
        local_ts: 10.1.0.0/16
        remote_ts: 192.168.0.0/16
        mode: pass
      printer:
        local_ts: 10.1.0.0/16
        remote_ts: 172.16.9.0/24
        mode: drop
secrets:
  s: { id: [a.example.org, b.example.org], secret: "0123456789abcdef" }
`;

Deno.test("shunt children: pass/drop are BYPASS/DISCARD SPD entries before the PROTECT ones", () => {
  const config = parseConfig(YAML);
  const spd = buildSpdEntries(config);
  assert.deepEqual(spd.map((e) => [e.label, e.action]), [
    ["ike", "bypass"],
    ["home/lan", "bypass"],
    ["home/printer", "discard"],
    ["home/all", "protect"],
  ]);
  assert.equal(spd[1].processing, undefined);
  const engine = toEngineConfig(config);
  assert.deepEqual(engine.connections[0].children.map((c) => c.name), ["all"]);
  const [pad] = buildPadEntries(config);
  assert.deepEqual(pad.allowedTs.map(formatTs), ["0.0.0.0/0"]);
  assert.deepEqual(tunRoutes(config).sort(), ["0.0.0.0/0", "172.16.9.0/24"]);
});

Deno.test("shunt children: a start_action on a shunt needs no remote_addrs; other modes are refused", () => {
  const gateway = YAML.replace("    remote_addrs: 192.0.2.2\n", "").replace(
    "        mode: pass\n",
    "        mode: pass\n        start_action: trap\n",
  );
  assert.doesNotThrow(() => parseConfig(gateway));
  assert.throws(
    () => parseConfig(YAML.replace("mode: drop", "mode: reject")),
    (e: unknown) =>
      e instanceof ConfigError &&
      /mode: 'reject' is not valid: expected one of tunnel, transport, pass, drop/.test(e.message),
  );
});
