import assert from "node:assert/strict";
import { ConfigError } from "../../lib/config/config.ts";
import { loadConfig, parseConfig } from "../../lib/config/parse.ts";
import { hostNamesIn, isHostName, resolveHosts } from "../../lib/config/resolve_hosts.ts";
import { homeClient } from "../helpers/config_yaml.ts";

const yaml = (remote: string) => homeClient(remote, "vpn.example.org");

Deno.test("isHostName: RFC 1123 names, not addresses, ranges or junk", () => {
  for (const s of ["vpn.example.org", "localhost", "a-b.c1.example", "vpn.example.org."]) {
    assert.ok(isHostName(s), s);
  }
  for (
    const s of ["192.0.2.1", "2001:db8::1", "10.0.0.0/8", "-bad.example", "a..b", "1.2.3", "x_y"]
  ) {
    assert.ok(!isHostName(s), s);
  }
});

Deno.test("hostNamesIn: names in remote_addrs lists and comma strings, once each", () => {
  const text = `connections:
  a: { remote_addrs: [vpn.example.org, 192.0.2.1] }
  b: { remote_addrs: "gw.example.net, vpn.example.org" }
  c: { local_addrs: [ignored.example.org] }
`;
  assert.deepEqual(hostNamesIn(text), ["vpn.example.org", "gw.example.net"]);
  assert.deepEqual(hostNamesIn("connections: [unclosed"), []);
});

Deno.test("resolveHosts: addresses, a clear reason, or a timeout per name", async () => {
  const r = await resolveHosts(["up.example", "gone.example", "slow.example"], (name) => {
    if (name === "up.example") return Promise.resolve(["192.0.2.7", "2001:db8::7"]);
    if (name === "gone.example") {
      return Promise.reject(
        Object.assign(new Error("getaddrinfo ENOTFOUND"), { code: "ENOTFOUND" }),
      );
    }
    return new Promise(() => {});
  }, 50);
  assert.deepEqual(r.get("up.example"), ["192.0.2.7", "2001:db8::7"]);
  assert.equal((r.get("gone.example") as Error).message, "no such host");
  assert.equal((r.get("slow.example") as Error).message, "no answer in 0.05 s");
});

Deno.test("config: a DNS name in remote_addrs becomes its addresses; unresolved ones are errors at their line", () => {
  const hosts = new Map<string, string[] | Error>([
    ["vpn.example.org", ["192.0.2.1"]],
    ["nx.example.org", new Error("no such host")],
  ]);
  const c = parseConfig(yaml("vpn.example.org"), { file: "t.yaml", hosts });
  assert.deepEqual(c.connections[0].remoteAddrs, ["192.0.2.1"]);
  assert.throws(
    () => parseConfig(yaml("nx.example.org"), { file: "t.yaml", hosts }),
    (e: unknown) =>
      e instanceof ConfigError &&
      /t\.yaml:3:\d+: connections\.home\.remote_addrs: cannot resolve 'nx\.example\.org': no such host/
        .test(e.message),
  );
  assert.throws(
    () => parseConfig(yaml("vpn.example.org"), { file: "t.yaml" }),
    (e: unknown) => e instanceof ConfigError && /is a DNS name: load the file/.test(e.message),
  );
});

Deno.test("loadConfig: resolves remote_addrs names with the system resolver (/etc/hosts)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/c.yaml`, yaml("localhost"));
    const c = await loadConfig(`${dir}/c.yaml`);
    assert.equal(c.connections[0].remoteAddrs[0], "127.0.0.1");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
