/**
 * swanctl's shunt children end to end: a and b protect 10.1.0.0/16 <->
 * 10.2.0.0/16, but a `pass` child on both sides leaves 10.2.5.0/24 in clear
 * and a `drop` child on a discards 10.2.6.0/24. Pings to 10.2.0.1 go
 * through the ESP SA (its packet counters rise); pings to 10.2.5.1 are
 * answered while the SA's counters stand still (they went in clear, past
 * the tunnel route by the data plane's BYPASS path on a and b's inbound
 * SPD check); pings to 10.2.6.1 get nothing, and the log says the DISCARD
 * entry took them. Needs root; namespaces are prefixed `tsh-`.
 *
 * ```
 *  tsh-a: va 192.0.2.1/24, lo 10.1.0.1 ── vb 192.0.2.2/24, lo 10.2.0.1 10.2.5.1 10.2.6.1 :tsh-b
 * ```
 */
import assert from "node:assert/strict";
import { ok, withHostPair } from "../helpers/netns_daemons.ts";

const PSK = "netns shunt key 0123456789abcdef";

function yaml(side: "a" | "b"): string {
  const [me, peer, mine, theirs] = side === "a"
    ? ["192.0.2.1", "192.0.2.2", "10.1.0.0/16", "10.2.0.0/16"]
    : ["192.0.2.2", "192.0.2.1", "10.2.0.0/16", "10.1.0.0/16"];
  const lan = side === "a"
    ? "{ local_ts: [10.1.0.0/16], remote_ts: [10.2.5.0/24], mode: pass }"
    : "{ local_ts: [10.2.5.0/24], remote_ts: [10.1.0.0/16], mode: pass }";
  return `connections:
  site:
    local_addrs: [${me}]
    remote_addrs: [${peer}]
    local: { auth: psk, id: ${side}.example.com }
    remote: { auth: psk, id: ${side === "a" ? "b" : "a"}.example.com }
    children:
      net: { local_ts: [${mine}], remote_ts: [${theirs}] }
      lan: ${lan}
${
    side === "a"
      ? "      printer: { local_ts: [10.1.0.0/16], remote_ts: [10.2.6.0/24], mode: drop }\n"
      : ""
  }secrets:
  ike: { id: [a.example.com, b.example.com], secret: "${PSK}" }
`;
}

interface IkeJson {
  children: { outbound: { packets: string | null } | null }[];
}

Deno.test({
  name: "shunt children (netns): pass leaves a subnet in clear, drop discards one",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withHostPair("tsh-", {
      aLo: ["10.1.0.1/32"],
      bLo: ["10.2.0.1/32", "10.2.5.1/32", "10.2.6.1/32"],
    }, async ({ lab, a, b, start }) => {
      // Plain routes for what goes in clear (the tunnel routes sit in table 220).
      ok(await lab.runIn(a, ["ip", "route", "add", "10.2.0.0/16", "via", "192.0.2.2"]), "a: route");
      ok(await lab.runIn(b, ["ip", "route", "add", "10.1.0.0/16", "via", "192.0.2.1"]), "b: route");
      const A = await start(a, "a", yaml("a"));
      const B = await start(b, "b", yaml("b"));
      const why = () => `\n--- a ---\n${A.log()}\n--- b ---\n${B.log()}`;
      ok(await A.ipsec(["up", "site", "--timeout", "15"]), `ipsec up${why()}`);
      const sent = async () => {
        const [ike] = JSON.parse(
          ok(await A.ipsec(["list-sas", "--json"]), "list-sas"),
        ) as IkeJson[];
        return Number(ike.children[0].outbound?.packets ?? 0);
      };
      const ping = (dst: string) =>
        lab.runIn(a, ["ping", "-c", "3", "-i", "0.2", "-W", "1", "-I", "10.1.0.1", dst]);

      const p1 = await ping("10.2.0.1");
      assert.equal(p1.code, 0, `pings through the tunnel:\n${p1.stdout}${why()}`);
      const afterTunnel = await sent();
      assert.ok(afterTunnel >= 3, `the ESP SA carried the tunnel pings (${afterTunnel})`);

      const p2 = await ping("10.2.5.1");
      assert.equal(p2.code, 0, `pings in clear (pass):\n${p2.stdout}${why()}`);
      assert.equal(await sent(), afterTunnel, "the pass pings did not use the ESP SA");

      const p3 = await ping("10.2.6.1");
      assert.notEqual(p3.code, 0, `pings to the drop subnet were answered:\n${p3.stdout}`);
      assert.equal(await sent(), afterTunnel, "nor did the dropped ones");
      assert.match(A.log(), /discarded outbound 10\.1\.0\.1 -> 10\.2\.6\.1/, why());
    }),
});
