import assert from "node:assert/strict";
import { parseConfig } from "../../lib/config/parse.ts";
import { toPeerConfig } from "../../lib/config/to_peer_config.ts";
import { pskConnection } from "../helpers/config_yaml.ts";

// Found against strongSwan: `reauth_time` was parsed but never reached the engine.
Deno.test("toPeerConfig(): reauth_time becomes reauthSeconds (default: never)", () => {
  const c = toPeerConfig(parseConfig(pskConnection("    reauth_time: 90m")).connections[0]);
  assert.equal(c.reauthSeconds, 5400);
  const d = toPeerConfig(parseConfig(pskConnection("")).connections[0]);
  assert.equal(d.reauthSeconds, undefined);
});
