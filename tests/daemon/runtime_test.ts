import assert from "node:assert/strict";
import { parseConfig } from "../../lib/config/parse.ts";
import { parseIdentity } from "../../lib/db/identity.ts";
import { parseAddressSelector } from "../../lib/db/selector.ts";
import { daemonConfig, rangeCidrs, tunRoutes } from "../../lib/daemon/runtime.ts";

const examples = new URL("../../examples/", import.meta.url);
const example = async (name: string) =>
  parseConfig(await Deno.readTextFile(new URL(name, examples)), { file: name });

Deno.test("rangeCidrs(): the fewest prefixes covering a range exactly", () => {
  const cases: [string, string[]][] = [
    ["10.3.0.0/24", ["10.3.0.0/24"]],
    ["10.3.0.7", ["10.3.0.7/32"]],
    ["10.0.0.1-10.0.0.6", ["10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32"]],
    ["10.0.0.0-10.0.1.255", ["10.0.0.0/23"]],
    ["0.0.0.0/0", ["0.0.0.0/0"]],
    ["2001:db8::/64", ["2001:db8::/64"]],
    ["2001:db8::1-2001:db8::2", ["2001:db8::1/128", "2001:db8::2/128"]],
    ["any", []],
  ];
  for (const [text, want] of cases) {
    assert.deepEqual(rangeCidrs(parseAddressSelector(text)), want, text);
  }
});

Deno.test("tunRoutes(): a road-warrior gateway routes its pool into the TUN, the client the intranet", async () => {
  assert.deepEqual(tunRoutes(await example("road_warrior_gateway.yaml")), ["10.3.0.0/24"]);
  assert.deepEqual(tunRoutes(await example("road_warrior_client.yaml")), ["10.1.0.0/16"]);
  assert.deepEqual(tunRoutes(await example("site_to_site.yaml")).length > 0, true);
});

Deno.test("daemonConfig(): the engine gets the PAD built from the config", async () => {
  const d = daemonConfig(await example("road_warrior_gateway.yaml"), "gw.yaml");
  const pad = d.payload.engine.pad;
  assert.ok(pad);
  assert.equal(pad.match(parseIdentity("alice@company.com"))?.label, "rw");
  assert.equal(pad.match(parseIdentity("mallory@evil.com")), undefined);
  assert.deepEqual(d.payload.dataplane.routes, ["10.3.0.0/24"]);
});

Deno.test("daemonConfig(): unmatched_inbound: discard drops unmatched clear packets (seeds' host SPD); default bypass", async () => {
  const host = daemonConfig(await example("host_spd.yaml"), "host.yaml");
  assert.equal(host.payload.dataplane.inboundDefault, "discard");
  const site = daemonConfig(await example("site_to_site.yaml"), "site.yaml");
  assert.equal(site.payload.dataplane.inboundDefault, "bypass");
});
