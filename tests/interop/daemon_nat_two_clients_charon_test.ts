/**
 * Two road warriors behind one NAT: two charons (kernel-libipsec), each in
 * its own namespace behind the same masquerading router, so both reach our
 * gateway from the NAT's one address on different ports. Each gets its own
 * virtual IP from our pool; traffic flows both ways for each; then the NAT
 * forgets its mappings and both clients' next packets (new ports) must
 * reach our side and bring the answers back to each client, not the other.
 *
 * ```
 *  ns c1: charon moon  172.16.1.2 ─┐
 *                                  ├─ ns r: NAT ── 198.51.100.1 ══ 198.51.100.2 our gateway, pool 10.4.0.0/24
 *  ns c2: charon carol 172.16.2.2 ─┘                                     lo 10.2.0.1
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { OurDaemon } from "../helpers/interop_daemon.ts";
import { CHARON_ID, ENGINE_ID } from "../helpers/interop_lab.ts";
import { type Host, ping, trafficBothWays } from "../helpers/interop_traffic.ts";
import { NetnsLab, run } from "../helpers/netns.ts";
import { Charon, swanctlConf, type SwanIkeSa } from "../helpers/strongswan.ts";

const PSK = "two clients psk 7f3a9c";
const CAROL_ID = "carol.example.org";
const GATEWAY = "198.51.100.2";

const ourYaml = `connections:
  rw:
    local_addrs: [${GATEWAY}]
    proposals: [aes256gcm16-prfsha384-ecp256]
    pools: [rw]
    local:
      auth: psk
      id: ${ENGINE_ID}
    remote:
      auth: psk
    children:
      net:
        local_ts: [10.2.0.0/24]
        remote_ts: [dynamic]
        esp_proposals: [aes256gcm16]
        start_action: none
secrets:
  rw-psk:
    id: [${ENGINE_ID}, ${CHARON_ID}, ${CAROL_ID}]
    secret: "${PSK}"
pools:
  rw:
    addrs: 10.4.0.0/24
`;

function clientConf(id: string, local: string): string {
  return swanctlConf({
    name: "rw",
    childName: "net",
    localAddr: local,
    remoteAddr: GATEWAY,
    localId: id,
    remoteId: ENGINE_ID,
    auth: "psk",
    psk: PSK,
    ikeProposal: "aes256gcm16-prfsha384-ecp256",
    espProposal: "aes256gcm16",
    localTs: "dynamic",
    remoteTs: "10.2.0.0/24",
    extra: ["dpd_delay = 0", "vips = 0.0.0.0"],
  }).replace("encap = yes", "encap = no");
}

Deno.test({
  name: "interop NAT: two charon road warriors behind one NAT, each with its virtual IP",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const lab = await NetnsLab.create("tnat2-");
    const dir = await Deno.makeTempDir({ prefix: lab.prefix });
    const charons: Charon[] = [];
    let daemon: OurDaemon | undefined;
    try {
      const r = await lab.addNs("r");
      const o = await lab.addNs("o");
      await lab.veth(r, "ro", "198.51.100.1/24", o, "vo", `${GATEWAY}/24`);
      await run(["ip", "-n", o, "addr", "add", "10.2.0.1/32", "dev", "lo"]);
      await lab.masquerade(r, "ro", "20000-29999");
      daemon = await OurDaemon.start(lab, o, `${dir}/ours`, ourYaml);
      const clients: { ns: string; id: string; charon: Charon }[] = [];
      for (const [k, id] of [[1, CHARON_ID], [2, CAROL_ID]] as const) {
        const ns = await lab.addNs(`c${k}`);
        const addr = `172.16.${k}.2`;
        await lab.veth(ns, "vi", `${addr}/24`, r, `ri${k}`, `172.16.${k}.1/24`);
        await run(["ip", "-n", ns, "route", "add", "default", "via", `172.16.${k}.1`]);
        const charon = await Charon.start({ ns, dir: `${dir}/c${k}`, swanctlConf: "" });
        charons.push(charon);
        await charon.reload(clientConf(id, addr), []);
        await charon.initiate("rw", "net");
        clients.push({ ns, id, charon });
      }
      const up = (s: SwanIkeSa[]) =>
        s.length === 1 && s[0].state === "ESTABLISHED" &&
        s[0].children.some((c) => c.state === "INSTALLED");
      const vips: Host[] = [];
      for (const c of clients) {
        const [sa] = await c.charon.waitSas(up, `${c.id}'s SAs`);
        assert.equal(sa.localVips.length, 1, JSON.stringify(sa));
        assert.ok(sa.localVips[0].startsWith("10.4.0."), JSON.stringify(sa));
        assert.ok(sa.remotePort === 4500 && sa.localPort === 4500, JSON.stringify(sa));
        vips.push({ ns: c.ns, ip: sa.localVips[0] });
      }
      assert.notEqual(vips[0].ip, vips[1].ip, "each client its own address");
      await daemon.waitSas((s) => s.length === 2, "both IKE SAs on our side");
      const gw: Host = { ns: o, ip: "10.2.0.1" };
      for (const v of vips) await trafficBothWays(lab, v, gw, 1 << 14);

      // The NAT forgets: each client's next packets come from a new port.
      const flush = await lab.runIn(r, ["conntrack", "-F"]);
      assert.equal(flush.code, 0, `conntrack -F: ${flush.stderr}`);
      for (const v of vips) {
        const p = await ping(lab, v, gw, 3, 0.5);
        assert.equal(p.code, 0, `${v.ip} -> gateway after the flush:\n${p.stdout}`);
      }
      for (const v of vips) {
        const p = await ping(lab, gw, v, 3, 0.5);
        assert.equal(p.code, 0, `gateway -> ${v.ip} after the flush:\n${p.stdout}`);
      }
      for (const v of vips) await trafficBothWays(lab, v, gw, 1 << 14);
    } catch (e) {
      const logs = await Promise.all(charons.map((c) => c.log()));
      throw new Error(
        `${(e as Error).message}\n${
          logs.map((l, i) => `--- charon ${i + 1} ---\n${l}`).join("\n")
        }\n--- our daemon ---\n${daemon?.log() ?? ""}`,
      );
    } finally {
      await daemon?.stop().catch(() => {});
      for (const c of charons) await c.stop().catch(() => {});
      await lab.cleanup();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
