/**
 * Peers named by DNS (`remote_addrs: gw.example.test`) are resolved again
 * before we initiate, as charon does: the engine adapter keeps the latest
 * address of each name (`refreshNames`, which `ipsec up` awaits), and the
 * next IKE_SA_INIT goes there; a name that stops resolving keeps its last
 * address; a reload starts from the file's fresh resolution.
 */
import assert from "node:assert/strict";
import { IkeEngineAdapter, type RuntimePayload } from "../../lib/daemon/adapters.ts";
import { parseConfig } from "../../lib/config/parse.ts";
import { toEngineConfig } from "../../lib/config/to_peer_config.ts";
import type { Effect } from "../../lib/ikev2/effects.ts";

const YAML = `connections:
  gw:
    local_addrs: [192.0.2.1]
    remote_addrs: gw.example.test
    local: { auth: psk, id: a.example.org }
    remote: { auth: psk, id: gw.example.org }
    children:
      net: { local_ts: [10.1.0.0/16], remote_ts: [10.2.0.0/16] }
secrets:
  s: { id: [a.example.org, gw.example.org], secret: "0123456789abcdef" }
`;

function payload(address: string): RuntimePayload {
  const config = parseConfig(YAML, { hosts: new Map([["gw.example.test", [address]]]) });
  assert.deepEqual(config.connections[0].remoteNames, ["gw.example.test"]);
  return {
    engine: toEngineConfig(config),
    spd: [],
    dataplane: {} as RuntimePayload["dataplane"],
  };
}

/** Where the first IKE_SA_INIT of an `initiate` goes. */
function firstSendTo(effects: Effect[]): string | undefined {
  const s = effects.find((e) => e.kind === "send");
  return s?.kind === "send" ? s.to.address : undefined;
}

Deno.test("refreshNames(): the next IKE SA goes where the peer's DNS name points now", async () => {
  let answer: string[] | Error = ["192.0.2.7"];
  const logs: string[] = [];
  const a = new IkeEngineAdapter(
    payload("192.0.2.2"),
    (_l, m) => logs.push(m),
    () => undefined,
    (name) => {
      assert.equal(name, "gw.example.test");
      return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
    },
  );
  assert.equal(a.engine.config.connections[0].remoteName, "gw.example.test");
  // As loaded.
  assert.equal(firstSendTo(a.initiate("gw", 0)), "192.0.2.2");
  // The name moved.
  await a.refreshNames();
  assert.equal(firstSendTo(a.initiate("gw", 1)), "192.0.2.7");
  assert.ok(
    logs.some((l) => /gw\.example\.test now resolves to 192\.0\.2\.7 \(was 192\.0\.2\.2\)/.test(l)),
  );
  // It stops resolving: the last address stays, with a warning.
  answer = Object.assign(new Error("getaddrinfo ENOTFOUND"), { code: "ENOTFOUND" });
  await a.refreshNames();
  assert.equal(firstSendTo(a.initiate("gw", 2)), "192.0.2.7");
  assert.ok(logs.some((l) => /cannot resolve gw\.example\.test again: no such host/.test(l)));
  // A reload brings the file's own (fresh) resolution back.
  a.reconfigure(payload("192.0.2.9"), 3);
  assert.equal(firstSendTo(a.initiate("gw", 3)), "192.0.2.9");
});
