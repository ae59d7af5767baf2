/**
 * ICMP traffic selectors from the YAML down to the engine's wire values
 * (RFC 7296 section 3.13.1: the "port" of ICMP is type << 8 | code). Found
 * against strongSwan: "[icmp/3/4]" lost its code in lib/config, the engine's
 * own parser read "[icmp/8]" as type 0 code 8, and a lone code-0 selector
 * came through the config text as a bare number that reads as a type.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parseConfig, parseTsSpec } from "../../lib/config/parse.ts";
import { toPeerConfig } from "../../lib/config/to_peer_config.ts";
import { parseTsSpec as engineTs } from "../../lib/ikev2/tasks/_ts.ts";
import { pskConnection } from "../helpers/config_yaml.ts";

Deno.test("parseTsSpec(): '[icmp/3/4]' is type 3 code 4, '[icmp/8]' type 8 any code", () => {
  assert.deepStrictEqual(parseTsSpec("10.0.0.0/8[icmp/3/4]").port, {
    kind: "range",
    start: 0x0304,
    end: 0x0304,
  });
  assert.deepStrictEqual(parseTsSpec("10.0.0.0/8[ipv6-icmp/128]").port, {
    kind: "range",
    start: 0x8000,
    end: 0x80ff,
  });
});

Deno.test("engine TS strings: ICMP types like lib/config, raw ranges unchanged", () => {
  const ports = (s: string) => {
    const [t] = engineTs(s, "192.0.2.1");
    return [t.startPort, t.endPort];
  };
  assert.deepStrictEqual(ports("10.0.0.0/8[icmp/8]"), [0x0800, 0x08ff]);
  assert.deepStrictEqual(ports("10.0.0.0/8[icmp/3/4]"), [0x0304, 0x0304]);
  assert.deepStrictEqual(ports("10.0.0.0/8[icmp/2048-2048]"), [0x0800, 0x0800]);
  assert.deepStrictEqual(ports("10.0.0.0/8[tcp/80]"), [80, 80]);
});

Deno.test("toPeerConfig(): ICMP selectors reach the engine with the same wire values", () => {
  for (
    const [ts, want] of [
      ["10.1.0.0/16[icmp/8]", [0x0800, 0x08ff]],
      ["10.1.0.0/16[icmp/0/0]", [0, 0]],
      ["10.1.0.0/16[icmp/3/4]", [0x0304, 0x0304]],
    ] as const
  ) {
    const yaml = pskConnection("").replace("local_ts: 10.1.0.0/16", `local_ts: "${ts}"`);
    const peer = toPeerConfig(parseConfig(yaml).connections[0]);
    const [t] = engineTs(peer.children[0].localTs[0], "192.0.2.1");
    assert.deepStrictEqual([t.startPort, t.endPort], want, `${ts} -> ${peer.children[0].localTs}`);
  }
});
