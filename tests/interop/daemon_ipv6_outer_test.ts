/**
 * Full system over IPv6 outer addresses: our daemon (TUN data plane, ESP in
 * UDP over IPv6) against strongSwan's charon (kernel-libipsec), a site-to-site
 * child SA carrying IPv4 and IPv6 inner traffic. Each side initiates; pings
 * and TCP go both ways for both inner families, and charon must have
 * decrypted them (its byte counters move).
 *
 * ```
 *  ns "c": charon fd98::1, lo 10.1.0.1 fd01::1  <== veth ==>  ns "d": daemon fd98::2, lo 10.2.0.1 fd02::1
 * ```
 *
 * @module
 */
import { OurDaemon } from "../helpers/interop_daemon.ts";
import { withSystemLab } from "../helpers/interop_system.ts";
import { Charon } from "../helpers/strongswan.ts";
import { pingBothWays, trafficBothWays } from "../helpers/interop_traffic.ts";
import { check, gapConf, PSK } from "./_gap_lab.ts";

const C6 = "fd98::1";
const D6 = "fd98::2";

const YAML = `connections:
  gw:
    local_addrs: [${D6}]
    remote_addrs: [${C6}]
    proposals: [aes256gcm16-prfsha256-x25519]
    encap: yes
    local:
      auth: psk
      id: sun.example.org
    remote:
      auth: psk
      id: moon.example.org
    children:
      net:
        local_ts: [10.2.0.0/24, "fd02::/64"]
        remote_ts: [10.1.0.0/24, "fd01::/64"]
        esp_proposals: [aes256gcm16]
secrets:
  gw-psk:
    id: [sun.example.org, moon.example.org]
    secret: "${PSK}"
`;

const CONF = gapConf([{
  name: "gw",
  localAddrs: C6,
  remoteAddrs: D6,
  local: { id: "moon.example.org" },
  remote: { id: "sun.example.org" },
  children: [{ name: "net", localTs: "10.1.0.0/24,fd01::/64", remoteTs: "10.2.0.0/24,fd02::/64" }],
}], [["moon.example.org", "sun.example.org"]]);

Deno.test({
  name: "strongSwan interop, our daemon: site-to-site over IPv6 outer, v4 and v6 inside",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    await withSystemLab({
      prefix: "tc6d-",
      charonAddr: `${C6}/64`,
      ourAddr: `${D6}/64`,
      charonLo: ["10.1.0.1/32", "fd01::1/128"],
      ourLo: ["10.2.0.1/32", "fd02::1/128"],
    }, async ({ lab, dir, c, d }, sides) => {
      const charon = sides.charon = await Charon.start({
        ns: c,
        dir: `${dir}/charon`,
        swanctlConf: "",
      });
      await charon.reload(CONF);
      const daemon = sides.daemon = await OurDaemon.start(lab, d, `${dir}/ours`, YAML);
      const hosts = [
        [{ ns: d, ip: "10.2.0.1" }, { ns: c, ip: "10.1.0.1" }],
        [{ ns: d, ip: "fd02::1" }, { ns: c, ip: "fd01::1" }],
      ] as const;
      for (const who of ["daemon", "charon"] as const) {
        const ok = await t.step(`${who} initiates`, async () => {
          if (who === "daemon") {
            const r = await daemon.cli(["up", "gw", "--timeout", "15"]);
            check(r.code === 0, "ipsec up gw", r);
          } else await charon.initiate("gw", "net");
          const s = (await charon.waitSas(
            (x) =>
              x.length === 1 && x[0].state === "ESTABLISHED" &&
              x[0].children.some((ch) => ch.state === "INSTALLED"),
            "an IKE SA with its child",
          ))[0];
          check(s.localAddr === C6 && s.remoteAddr === D6, "not over IPv6", s);
          await daemon.waitSas((x) => x.length === 1 && x[0].children.length === 1, "our SA");
          // (TCP over IPv4 inside; IPv6 inside gets pings, small and large.)
          await trafficBothWays(lab, hosts[0][0], hosts[0][1], 1 << 16);
          for (const [ours, theirs] of hosts) {
            await pingBothWays(lab, ours, theirs);
            for (const [from, to] of [[ours, theirs], [theirs, ours]]) {
              const r = await lab.runIn(from.ns, [
                "ping",
                "-c",
                "2",
                "-s",
                "1200",
                "-w",
                "10",
                "-I",
                from.ip,
                to.ip,
              ]);
              check(r.code === 0, `1200-byte ping ${from.ip} -> ${to.ip}`, r);
            }
          }
          const after = (await charon.sas())[0].children[0];
          check(after.bytesIn > 0 && after.bytesOut > 0, "charon saw no ESP", after);
          const r = await charon.terminate("gw");
          check(r.code === 0, "swanctl --terminate", r);
          await daemon.waitSas((x) => x.length === 0, "no SAs after the Delete");
        });
        if (!ok) throw new Error(`${who} initiates: failed`);
      }
    });
  },
});
