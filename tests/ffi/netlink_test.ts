import assert from "node:assert/strict";
import { NetnsLab } from "../helpers/netns.ts";
import { startAgent } from "./_lab.ts";

interface AddrInfo {
  family: string;
  local: string;
  prefixlen: number;
}

// Our netlink code adds addresses, a route in table 220 and an fwmark rule;
// `ip -j` (iproute2, an independent netlink client) must see exactly those,
// and they must be gone after the delete requests.
Deno.test("netlink: addresses, table-220 route and fwmark rule appear in `ip -j` and go", async () => {
  const lab = await NetnsLab.create("tffi-");
  try {
    const a = await lab.addNs("nla");
    const b = await lab.addNs("nlb");
    await lab.veth(a, "vnl0", undefined, b, "vnl1", undefined);
    const ipj = async (...args: string[]) =>
      JSON.parse((await lab.runIn(a, ["ip", "-j", ...args])).stdout || "[]");

    await (await startAgent(lab, a, ["netlink", "add", "vnl0"], false)).next();
    const link = await ipj("addr", "show", "vnl0");
    assert.equal(link[0].mtu, 1300);
    assert.equal(link[0].txqlen, 777);
    const addrs = link[0].addr_info
      .filter((x: AddrInfo) => !x.local.startsWith("fe80"))
      .map((x: AddrInfo) => `${x.local}/${x.prefixlen}`)
      .sort();
    assert.deepEqual(addrs, ["10.78.0.1/24", "2001:db8:78::1/64"]);
    const routes = await ipj("route", "show", "table", "220");
    assert.deepEqual(
      routes.map((r: Record<string, string>) => [r.dst, r.gateway, r.dev, r.scope]),
      [["10.79.0.0/16", "10.78.0.2", "vnl0", undefined], [
        "10.80.0.0/16",
        undefined,
        "vnl0",
        "link",
      ]],
    );
    const routes6 = await ipj("-6", "route", "show", "table", "220");
    assert.deepEqual(routes6.map((r: Record<string, string>) => [r.dst, r.dev]), [[
      "2001:db8:80::/48",
      "vnl0",
    ]]);
    const rules = (await ipj("rule", "show")).filter((r: { priority: number }) =>
      r.priority === 220
    );
    assert.equal(rules.length, 1, JSON.stringify(rules));
    assert.equal(rules[0].not, null);
    assert.equal(rules[0].fwmark, "0x100");
    assert.equal(rules[0].table, "220");

    await (await startAgent(lab, a, ["netlink", "del", "vnl0"], false)).next();
    const after = await ipj("addr", "show", "vnl0");
    assert.deepEqual(
      after[0].addr_info.filter((x: AddrInfo) => !x.local.startsWith("fe80")),
      [],
    );
    // Link-scope IPv4 routes too (a delete with scope 0 would not match them).
    assert.deepEqual(await ipj("route", "show", "table", "220"), []);
    assert.deepEqual(await ipj("-6", "route", "show", "table", "220"), []);
    const rulesAfter = (await ipj("rule", "show")).filter((r: { priority: number }) =>
      r.priority === 220
    );
    assert.deepEqual(rulesAfter, []);
  } finally {
    await lab.cleanup();
  }
});

// The data plane's fail-closed backstop: a blackhole route (metric 65520)
// behind each route into the TUN. Deleting the device's last IPv4 address
// makes the kernel flush every IPv4 route through the device (as when a
// road warrior's virtual IP goes); the blackhole, having no device, stays
// and catches the traffic. `ip -j` (iproute2) is the independent reader.
Deno.test("netlink: blackhole routes behind device routes survive the device's route flush", async () => {
  const lab = await NetnsLab.create("tffi-");
  try {
    const a = await lab.addNs("bha");
    const b = await lab.addNs("bhb");
    await lab.veth(a, "vbh0", undefined, b, "vbh1", undefined);
    const ipj = async (...args: string[]) =>
      JSON.parse((await lab.runIn(a, ["ip", "-j", ...args])).stdout || "[]");
    const show = async (v: "-4" | "-6") =>
      (await ipj(v, "route", "show", "table", "220")).map((r: Record<string, unknown>) =>
        [r.type ?? "unicast", r.dst, r.dev ?? "-", r.metric ?? 0].join(" ")
      ).sort();

    await (await startAgent(lab, a, ["backstop", "add", "vbh0"], false)).next();
    assert.deepEqual(await show("-4"), [
      "blackhole 10.80.0.0/16 - 65520",
      "unicast 10.80.0.0/16 vbh0 0",
    ]);
    assert.deepEqual(await show("-6"), [
      "blackhole 2001:db8:80::/48 lo 65520",
      "unicast 2001:db8:80::/48 vbh0 1024",
    ]);
    // Our route dump (RTM_GETROUTE) reads the same table.
    const idx = JSON.parse((await lab.runIn(a, ["ip", "-j", "link", "show", "vbh0"])).stdout)[0]
      .ifindex;
    const dumped = (await (await startAgent(lab, a, ["routes", "220"], false)).next())
      .routes as { dst: string; kind: string; metric: number; ifindex: number }[];
    assert.deepEqual(
      dumped.map((r) => `${r.kind} ${r.dst} ${r.metric} ${r.ifindex === idx ? "vbh0" : "-"}`)
        .sort(),
      [
        "blackhole 10.80.0.0/16 65520 -",
        "blackhole 2001:db8:80::/48 65520 -",
        "unicast 10.80.0.0/16 0 vbh0",
        "unicast 2001:db8:80::/48 1024 vbh0",
      ],
    );
    const del = await lab.runIn(a, ["ip", "addr", "del", "10.78.0.1/24", "dev", "vbh0"]);
    assert.equal(del.code, 0, del.stderr);
    assert.deepEqual(await show("-4"), ["blackhole 10.80.0.0/16 - 65520"]);

    await (await startAgent(lab, a, ["backstop", "del", "vbh0"], false)).next();
    assert.deepEqual(await show("-4"), []);
    assert.deepEqual(await show("-6"), []);
  } finally {
    await lab.cleanup();
  }
});
