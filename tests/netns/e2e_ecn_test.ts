/**
 * ECN through the tunnel (RFC 6040, RFC 4301 section 5.1.2): a router on
 * the path that marks congestion (CE) on the outer header must have that mark
 * reach the inner packet at decapsulation, or ECN-capable flows in the tunnel
 * never slow down. Here b's netfilter plays that router: it sets CE on every
 * ESP packet arriving from a (mangle PREROUTING, TOS target), once for raw
 * ESP and once for ESP in UDP 4500 (where the daemon reads the outer TOS as
 * ancillary data). Pings from a with ECT(0) must reach b's TUN as CE
 * (counted by an `ecn` match on ipsec0); pings that are not ECN-capable
 * (Not-ECT) behind a CE outer header are dropped, and b's data plane counts
 * them as `ecn-ce-not-ect`. Each over IPv4 and IPv6 outer addresses (IPv6:
 * the Traffic Class comes as IPV6_TCLASS ancillary data on raw and UDP
 * sockets alike). Needs root; namespaces are prefixed `tec-`.
 *
 * ```
 *  tec-a: va 192.0.2.1/24, lo 10.1.0.1 ── vb 192.0.2.2/24, lo 10.2.0.1 :tec-b
 *         (b marks CE on arriving ESP, as a congested router would)
 * ```
 */
import assert from "node:assert/strict";
import { ok, withHostPair } from "../helpers/netns_daemons.ts";

const PSK = "netns ecn key 0123456789abcdef";

function yaml(side: "a" | "b", encap: boolean, v6: boolean): string {
  const [ma, mb] = v6 ? ["2001:db8:ec::1", "2001:db8:ec::2"] : ["192.0.2.1", "192.0.2.2"];
  const [me, peer, mine, theirs] = side === "a"
    ? [ma, mb, "10.1.0.0/16", "10.2.0.0/16"]
    : [mb, ma, "10.2.0.0/16", "10.1.0.0/16"];
  return `connections:
  site:
    local_addrs: [${me}]
    remote_addrs: [${peer}]
    encap: ${encap ? "yes" : "no"}
    local: { auth: psk, id: ${side}.example.com }
    remote: { auth: psk, id: ${side === "a" ? "b" : "a"}.example.com }
    children:
      net: { local_ts: [${mine}], remote_ts: [${theirs}] }
secrets:
  ike: { id: [a.example.com, b.example.com], secret: "${PSK}" }
`;
}

for (const [encap, v6] of [[false, false], [true, false], [false, true], [true, true]]) {
  Deno.test({
    name: `ECN (netns): a CE mark on the outer header reaches the inner packet (${
      encap ? "ESP in UDP" : "raw ESP"
    } over IPv${v6 ? 6 : 4}); Not-ECT behind CE is dropped`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: () =>
      withHostPair("tec-", { aLo: ["10.1.0.1/32"], bLo: ["10.2.0.1/32"] }, async (p) => {
        const { lab, a, b, start } = p;
        if (v6) {
          for (
            const [ns, dev, addr] of [[a, "va", "2001:db8:ec::1/64"], [
              b,
              "vb",
              "2001:db8:ec::2/64",
            ]]
          ) {
            ok(await lab.runIn(ns, ["ip", "-6", "addr", "add", addr, "dev", dev, "nodad"]), addr);
          }
        }
        const A = await start(a, "a", yaml("a", encap, v6));
        const B = await start(b, "b", yaml("b", encap, v6));
        const why = () => `\n--- a ---\n${A.log()}\n--- b ---\n${B.log()}`;
        ok(await A.ipsec(["up", "site", "--timeout", "15"]), `ipsec up${why()}`);
        const ipt = (args: string[]) => lab.runIn(b, ["iptables", "-w", "-t", "mangle", ...args]);
        // The outer headers are IPv6 here: ip6tables marks them, iptables counts the inner IPv4.
        const outerIpt = (args: string[]) =>
          lab.runIn(b, [v6 ? "ip6tables" : "iptables", "-w", "-t", "mangle", ...args]);
        // The congested router: CE on every arriving ESP packet (and IKE on 4500, which ignores it).
        const esp = encap ? ["-p", "udp", "--dport", "4500"] : ["-p", "esp"];
        ok(
          await outerIpt(["-A", "PREROUTING", "-i", "vb", ...esp, "-j", "TOS", "--set-tos", "3/3"]),
          "TOS",
        );
        // Counters of what reaches b's TUN: ICMP echo requests with CE and with Not-ECT.
        for (const ect of ["3", "0"]) {
          ok(
            await ipt([
              "-A",
              "PREROUTING",
              "-i",
              "ipsec0",
              "-p",
              "icmp",
              "--icmp-type",
              "echo-request",
              "-m",
              "ecn",
              "--ecn-ip-ect",
              ect,
            ]),
            `counter ${ect}`,
          );
        }
        const counts = async () => {
          const out = ok(await ipt(["-L", "PREROUTING", "-v", "-n", "-x"]), "iptables -L");
          const n = (ect: string) =>
            Number(
              out.split("\n").find((l) =>
                l.includes(`ECN match ip ECT=${ect}`) ||
                l.includes(`ECN match  ECT=${ect}`) || l.includes(`ECT=${ect}`)
              )?.trim().split(/\s+/)[0],
            );
          return { ce: n("3"), notEct: n("0"), table: out };
        };
        const ping = (tos: string) =>
          lab.runIn(a, [
            "ping",
            "-c",
            "4",
            "-i",
            "0.2",
            "-W",
            "1",
            "-Q",
            tos,
            "-I",
            "10.1.0.1",
            "10.2.0.1",
          ]);
        // ECT(0) inside: delivered, marked CE.
        const p1 = await ping("0x02");
        assert.equal(p1.code, 0, `ECT(0) pings through the tunnel:\n${p1.stdout}${why()}`);
        const c1 = await counts();
        const outer = ok(await outerIpt(["-L", "PREROUTING", "-v", "-n", "-x"]), "-L outer");
        assert.ok(c1.ce >= 4, `inner packets arrive with CE:\n${c1.table}\nouter:\n${outer}`);
        assert.equal(c1.notEct, 0, c1.table);
        // Not-ECT inside, CE outside: dropped (RFC 6040 section 4.2), none reach the TUN.
        const p2 = await ping("0x00");
        assert.notEqual(p2.code, 0, `Not-ECT pings behind CE must not arrive:\n${p2.stdout}`);
        const c2 = await counts();
        assert.equal(c2.notEct, 0, c2.table);
        const status = ok(await B.ipsec(["status", "--json"]), "status");
        assert.match(status, /"ecn-ce-not-ect":\s*[4-9]/, status);
        // Without the congested router everything passes unchanged again.
        ok(
          await outerIpt(["-D", "PREROUTING", "-i", "vb", ...esp, "-j", "TOS", "--set-tos", "3/3"]),
          "-D",
        );
        const p3 = await ping("0x00");
        assert.equal(p3.code, 0, `Not-ECT pings without marks:\n${p3.stdout}${why()}`);
        const c3 = await counts();
        assert.ok(c3.notEct >= 4, c3.table);
      }),
  });
}
