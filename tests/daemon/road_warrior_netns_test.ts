/**
 * Road warrior at the system level, quickly: our gateway daemon hands out
 * virtual IPs from its pool to two client daemons at once; each client puts
 * its VIP on the TUN (routes into the TUN use it as source), pings a host
 * address on the gateway's local_ts, and the gateway pings each client's VIP
 * back through that client's own SA. `ipsec down` on one client removes its
 * VIP while the other keeps working. One client names the gateway by DNS
 * name (its /etc/hosts resolves it when the file loads). The pool's DNS server (10.1.0.53, a tiny
 * responder behind the gateway) goes into each client's resolv.conf, names
 * resolve through the tunnel, and `ipsec down` / `ipsec stop` restore the
 * file. (The full certificate road-warrior e2e
 * with a bulk TCP transfer lives in tests/netns.)
 *
 * ```
 *  th1-c1: va1 192.0.2.11 ─┐
 *                           ├─ br0 192.0.2.1 (th1-gw), lo 10.1.0.1, pool 10.3.0.0/24
 *  th1-c2: va2 192.0.2.12 ─┘
 * ```
 */
import assert from "node:assert/strict";
import { NetnsLab, RESOLV_CONF_SEED, run, type RunResult } from "../helpers/netns.ts";
import { IPSEC, startDaemonIn } from "../helpers/netns_daemons.ts";

const DNS_RESPONDER = new URL("../helpers/dns_responder.ts", import.meta.url).pathname;

const SECRET = `secrets:
  users:
    id: [vpn.company.com, alice@company.com, bob@company.com]
    secret: "th1 road warrior key 0123456789"
`;

const GATEWAY = `connections:
  rw:
    local_addrs: [192.0.2.1]
    pools: [rw_pool]
    proposals: [aes256gcm16-prfsha384-x25519]
    local:
      auth: psk
      id: vpn.company.com
    remote:
      auth: psk
      id: "*@company.com"
    children:
      intranet:
        local_ts: [10.1.0.0/16]
        remote_ts: [dynamic]
        esp_proposals: [aes256gcm16]
pools:
  rw_pool:
    addrs: 10.3.0.0/24
    dns: [10.1.0.53]
${SECRET}`;

function client(address: string, id: string, gateway = "192.0.2.1"): string {
  return `connections:
  office:
    local_addrs: [${address}]
    remote_addrs: [${gateway}]
    vips: [0.0.0.0]
    proposals: [aes256gcm16-prfsha384-x25519]
    local:
      auth: psk
      id: ${id}
    remote:
      auth: psk
      id: vpn.company.com
    children:
      intranet:
        local_ts: [dynamic]
        remote_ts: [10.1.0.0/16]
        esp_proposals: [aes256gcm16]
${SECRET}`;
}

/** Addresses on the TUN of `ns` ("10.3.0.1/32"). */
async function tunAddresses(lab: NetnsLab, ns: string): Promise<string[]> {
  const r = await lab.runIn(ns, ["ip", "-j", "-4", "addr", "show", "dev", "ipsec0"]);
  const links = JSON.parse(r.stdout || "[]") as {
    addr_info?: { local: string; prefixlen: number }[];
  }[];
  return links.flatMap((l) => (l.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`));
}

/** Polls `cond` every 100 ms for up to 10 s. */
async function waitFor(cond: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("condition not reached in 10 s");
}

function ok(r: RunResult, what: string): string {
  assert.equal(r.code, 0, `${what}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

Deno.test({
  name: "road warrior (netns): two clients get VIPs from the gateway's pool and ping both ways",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const lab = await NetnsLab.create("th1-");
    const dir = await Deno.makeTempDir({ prefix: "th1-" });
    const logs = new Map<string, () => string>();
    const sockets: string[] = [];
    try {
      const gw = await lab.addNs("gw");
      const c1 = await lab.addNs("c1");
      const c2 = await lab.addNs("c2");
      await lab.runIn(gw, ["ip", "link", "add", "br0", "type", "bridge"]);
      await lab.veth(c1, "va1", "192.0.2.11/24", gw, "vb1", undefined);
      await lab.veth(c2, "va2", "192.0.2.12/24", gw, "vb2", undefined);
      for (
        const cmd of [
          ["ip", "link", "set", "vb1", "master", "br0"],
          ["ip", "link", "set", "vb2", "master", "br0"],
          ["ip", "addr", "add", "192.0.2.1/24", "dev", "br0"],
          ["ip", "link", "set", "br0", "up"],
          ["ip", "addr", "add", "10.1.0.1/32", "dev", "lo"],
          ["ip", "addr", "add", "10.1.0.53/32", "dev", "lo"],
        ]
      ) ok(await lab.runIn(gw, cmd), cmd.join(" "));
      const dnsServer = lab.spawnDenoIn(gw, DNS_RESPONDER, ["10.1.0.53", "10.1.0.80"], [
        "--allow-net",
      ]);
      let dnsLog = "";
      void dnsServer.stdout.pipeThrough(new TextDecoderStream()).pipeTo(
        new WritableStream({ write: (c) => void (dnsLog += c) }),
      ).catch(() => {});
      void dnsServer.stderr.cancel().catch(() => {});

      const start = async (ns: string, name: string, yaml: string) => {
        const d = await startDaemonIn(lab, ns, dir, name, yaml);
        logs.set(name, d.log);
        sockets.push(d.socket);
        return d.socket;
      };
      const sGw = await start(gw, "gw", GATEWAY);
      // c1 names its gateway: the system resolver (c1's /etc/hosts) answers at load time.
      await lab.writeEtc(c1, "hosts", "127.0.0.1 localhost\n192.0.2.1 vpn.company.com\n");
      const s1 = await start(
        c1,
        "c1",
        client("192.0.2.11", "alice@company.com", "vpn.company.com"),
      );
      const s2 = await start(c2, "c2", client("192.0.2.12", "bob@company.com"));
      const ipsec = (args: string[], socket: string) =>
        run([...IPSEC, ...args, "--socket", socket]);

      for (const [s, name] of [[s1, "c1"], [s2, "c2"]]) {
        ok(
          await ipsec(["up", "office", "--timeout", "15"], s),
          `${name}: ipsec up\n${logs.get(name)!()}`,
        );
      }
      const vip1 = (await tunAddresses(lab, c1)).map((a) => a.split("/")[0]);
      const vip2 = (await tunAddresses(lab, c2)).map((a) => a.split("/")[0]);
      assert.equal(vip1.length, 1, `c1 TUN addresses: ${vip1}\n${logs.get("c1")!()}`);
      assert.equal(vip2.length, 1, `c2 TUN addresses: ${vip2}`);
      assert.match(vip1[0], /^10\.3\.0\.\d+$/);
      assert.match(vip2[0], /^10\.3\.0\.\d+$/);
      assert.notEqual(vip1[0], vip2[0]);

      // Locally generated traffic to the gateway's local_ts leaves with the VIP.
      const route = ok(await lab.runIn(c1, ["ip", "route", "get", "10.1.0.1"]), "route get");
      assert.match(route, new RegExp(`dev ipsec0 .*src ${vip1[0].replaceAll(".", "\\.")}`));
      const status = JSON.parse(ok(await ipsec(["status", "--json"], s1), "status")) as {
        ikeSas: { virtualIp?: string; dns?: string[] }[];
      };
      assert.equal(status.ikeSas[0].virtualIp, vip1[0]);
      assert.deepEqual(status.ikeSas[0].dns, ["10.1.0.53"]);

      // The assigned DNS server comes first in each client's resolv.conf (the
      // namespace's own file, mounted by `ip netns exec`), the rest stays.
      const ours = "nameserver 10.1.0.53 # by deno-ipsec\n";
      for (const ns of [c1, c2]) {
        assert.equal(await Deno.readTextFile(lab.resolvConf(ns)), ours + RESOLV_CONF_SEED);
      }
      // The system resolver uses it: the query goes through the SA to the server.
      const name = ok(
        await lab.runIn(c1, ["getent", "ahostsv4", "intranet.company.com"]),
        `c1: getent (DNS server log: ${dnsLog})\n${logs.get("c1")!()}`,
      );
      assert.match(name, /^10\.1\.0\.80\s/);
      assert.match(dnsLog, /query intranet\.company\.com/);

      for (const [ns, vip] of [[c1, vip1[0]], [c2, vip2[0]]]) {
        // No -I: the route's preferred source (the VIP) must be what matches the SA.
        ok(
          await lab.runIn(ns, ["ping", "-c", "3", "-i", "0.2", "-w", "10", "10.1.0.1"]),
          `${ns} -> 10.1.0.1\n${logs.get("gw")!()}`,
        );
        ok(
          await lab.runIn(gw, ["ping", "-c", "3", "-i", "0.2", "-w", "10", "-I", "10.1.0.1", vip]),
          `gw -> ${vip}\n${logs.get("gw")!()}`,
        );
      }
      // `ipsec spd` on the gateway shows the PROTECT instance of each client.
      const spdLabels = async () =>
        (JSON.parse(ok(await ipsec(["spd", "--json"], sGw), "gw spd")) as { label: string }[])
          .map((r) => r.label);
      for (const vip of [vip1[0], vip2[0]]) {
        assert.ok((await spdLabels()).includes(`rw/intranet ${vip}`), (await spdLabels()).join());
      }
      // Decorrelated (RFC 4301 section 4.4.1.3), each client's PROTECT piece is in SPD-S.
      const dec = JSON.parse(
        ok(await ipsec(["spd", "--decorrelated", "--json"], sGw), "gw spd --decorrelated"),
      ) as { part: string; local: string; remote: string; label: string }[];
      for (const vip of [vip1[0], vip2[0]]) {
        assert.ok(
          dec.some((r) => r.part === "SPD-S" && r.local === "10.1.0.0/16" && r.remote === vip),
          JSON.stringify(dec),
        );
      }
      const sad = JSON.parse(ok(await ipsec(["sad", "--json"], sGw), "gw sad")) as unknown[];
      assert.equal(sad.length, 4, "the gateway has one child SA (two directions) per client");
      const gwStatus = JSON.parse(ok(await ipsec(["status", "--json"], sGw), "gw status")) as {
        ikeSas: { ike?: { peerVirtualIp?: string } }[];
      };
      assert.deepEqual(
        gwStatus.ikeSas.map((s) => s.ike?.peerVirtualIp).sort(),
        [vip1[0], vip2[0]].sort(),
      );

      // One client leaves: its VIP goes, the route stays (without it), the other keeps working.
      ok(await ipsec(["down", "office"], s1), "c1: ipsec down");
      assert.deepEqual(await tunAddresses(lab, c1), []);
      assert.equal(await Deno.readTextFile(lab.resolvConf(c1)), RESOLV_CONF_SEED);
      await waitFor(async () => !(await spdLabels()).includes(`rw/intranet ${vip1[0]}`));
      assert.ok((await spdLabels()).includes(`rw/intranet ${vip2[0]}`));
      assert.equal(await Deno.readTextFile(lab.resolvConf(c2)), ours + RESOLV_CONF_SEED);
      const after = ok(await lab.runIn(c1, ["ip", "route", "show", "table", "220"]), "routes");
      assert.match(after, /10\.1\.0\.0\/16 dev ipsec0/);
      // Behind it, the fail-closed blackhole that held the traffic while the
      // kernel flushed the TUN's routes with its last IPv4 address.
      assert.match(after, /blackhole 10\.1\.0\.0\/16 .*metric 65520/);
      assert.doesNotMatch(after, /src 10\.3\.0\./);
      ok(
        await lab.runIn(gw, [
          "ping",
          "-c",
          "2",
          "-i",
          "0.2",
          "-w",
          "10",
          "-I",
          "10.1.0.1",
          vip2[0],
        ]),
        `gw -> ${vip2[0]} after c1 left`,
      );
      // Stopping a client with its SA up takes its DNS server out too.
      ok(await ipsec(["stop"], s2), "c2: ipsec stop");
      assert.equal(await Deno.readTextFile(lab.resolvConf(c2)), RESOLV_CONF_SEED);
    } finally {
      for (const s of sockets) await run([...IPSEC, "stop", "--socket", s]).catch(() => {});
      await lab.cleanup();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
