import assert from "node:assert/strict";
import { ConfigError } from "../../lib/config/config.ts";
import { loadConfig, parseConfig } from "../../lib/config/parse.ts";
import { daemonConfig } from "../../lib/daemon/runtime.ts";

const conf = (updown: string) =>
  `connections:
  site-a:
    local_addrs: 192.0.2.1
    remote_addrs: 198.51.100.1
    local: { auth: psk, id: gw-a.example.com }
    remote: { auth: psk, id: gw-b.example.com }
    children:
      net:
        local_ts: 10.1.0.0/16
        remote_ts: 10.2.0.0/16
${updown}
secrets:
  ike-a:
    secret: 0x00112233
`;

function issues(text: string): string[] {
  try {
    parseConfig(text, { file: "t.yaml" });
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.message.split("\n");
  }
  assert.fail("expected a ConfigError");
}

Deno.test("parseConfig(): children.<child>.updown is a path, absent by default", () => {
  const none = parseConfig(conf(""), { file: "t.yaml" });
  assert.equal(none.connections[0].children[0].updown, undefined);
  const abs = parseConfig(conf("        updown: /etc/ipsec/updown.sh"), { file: "t.yaml" });
  assert.equal(abs.connections[0].children[0].updown, "/etc/ipsec/updown.sh");
  // As written without a resolver; resolvePath sees it otherwise.
  const rel = parseConfig(conf("        updown: scripts/up.sh"), {
    file: "t.yaml",
    resolvePath: (p) => `/base/${p}`,
  });
  assert.equal(rel.connections[0].children[0].updown, "/base/scripts/up.sh");
});

Deno.test("parseConfig(): a non-string updown is an error with file:line:col", () => {
  for (
    const [value, col] of [["42", 17], ["true", 17], ["[a.sh, b.sh]", 17], [
      "{ x: 1 }",
      17,
    ]] as const
  ) {
    const [first, ...rest] = issues(conf(`        updown: ${value}`));
    assert.match(
      first,
      new RegExp(`^t\\.yaml:11:${col}: connections\\.site-a\\.children\\.net\\.updown: expected`),
      value,
    );
    assert.equal(rest.length, 0, value);
  }
  const [empty] = issues(conf(`        updown: "  "`));
  assert.match(
    empty,
    /^t\.yaml:11:17: connections\.site-a\.children\.net\.updown: expected the path/,
  );
});

Deno.test("loadConfig(): a relative updown is resolved from the config file's directory", async () => {
  const dir = await Deno.makeTempDir({ prefix: "updown_cfg_" });
  try {
    await Deno.mkdir(`${dir}/etc`);
    await Deno.writeTextFile(`${dir}/etc/ipsec.yaml`, conf("        updown: hooks/updown.sh"));
    const c = await loadConfig(`${dir}/etc/ipsec.yaml`);
    assert.equal(c.connections[0].children[0].updown, `${dir}/etc/hooks/updown.sh`);
    // The daemon sees it per child, and learns the TUN's name.
    const d = daemonConfig(c, `${dir}/etc/ipsec.yaml`);
    assert.equal(d.connections[0].children[0].updown, `${dir}/etc/hooks/updown.sh`);
    assert.equal(d.interfaceName, "ipsec0");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
