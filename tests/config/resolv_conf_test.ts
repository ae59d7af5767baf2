import assert from "node:assert/strict";
import { ConfigError } from "../../lib/config/config.ts";
import { parseConfig } from "../../lib/config/parse.ts";
import { daemonConfig } from "../../lib/daemon/runtime.ts";
import { homeClient } from "../helpers/config_yaml.ts";

const BASE = homeClient("[192.0.2.1]", "gw.example.org");

Deno.test("config: resolv_conf defaults to /etc/resolv.conf (strongSwan's resolve plugin)", () => {
  const c = parseConfig(BASE, { file: "t.yaml" });
  assert.equal(c.resolvConf, "/etc/resolv.conf");
  assert.equal(daemonConfig(c, "t.yaml").resolvConf, "/etc/resolv.conf");
});

Deno.test("config: resolv_conf takes an absolute path, or no to leave the resolver alone", () => {
  for (
    const [v, want] of [["/run/ipsec/resolv.conf", "/run/ipsec/resolv.conf"], ["no", null], [
      "false",
      null,
    ], ["none", null]] as const
  ) {
    const c = parseConfig(`${BASE}resolv_conf: ${v}\n`, { file: "t.yaml" });
    assert.equal(c.resolvConf, want, v);
  }
});

Deno.test("config: a relative resolv_conf is an error naming file, line and key", () => {
  assert.throws(
    () => parseConfig(`${BASE}resolv_conf: resolv.conf\n`, { file: "t.yaml" }),
    (e: unknown) =>
      e instanceof ConfigError &&
      /t\.yaml:11:\d+: resolv_conf: 'resolv\.conf' is not valid: expected an absolute path/.test(
        e.message,
      ),
  );
});
