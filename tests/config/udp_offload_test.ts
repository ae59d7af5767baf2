import assert from "node:assert/strict";
import { ConfigError } from "../../lib/config/config.ts";
import { parseConfig } from "../../lib/config/parse.ts";
import { daemonConfig } from "../../lib/daemon/runtime.ts";
import { homeClient } from "../helpers/config_yaml.ts";

const BASE = homeClient("[192.0.2.1]", "gw.example.org");

Deno.test("config: udp_offload defaults to no (captures show datagrams one by one)", () => {
  const c = parseConfig(BASE, { file: "t.yaml" });
  assert.equal(c.udpOffload, false);
  assert.equal(daemonConfig(c, "t.yaml").payload.dataplane.udpOffload, false);
});

Deno.test("config: udp_offload: yes reaches the data plane options", () => {
  const c = parseConfig(`${BASE}udp_offload: yes\n`, { file: "t.yaml" });
  assert.equal(c.udpOffload, true);
  assert.equal(daemonConfig(c, "t.yaml").payload.dataplane.udpOffload, true);
});

Deno.test("config: a udp_offload that is not yes/no is an error naming the key", () => {
  assert.throws(
    () => parseConfig(`${BASE}udp_offload: sometimes\n`, { file: "t.yaml" }),
    (e: unknown) => e instanceof ConfigError && /t\.yaml:11:\d+: udp_offload:/.test(e.message),
  );
});
