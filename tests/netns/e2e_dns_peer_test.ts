/**
 * A peer named by DNS (`remote_addrs: gw.dns.test`) is resolved again when
 * we initiate, as charon does: client a's /etc/hosts (its namespace's
 * /etc/netns/NAME/hosts) first points the name at 192.0.2.2, where gateway
 * b's connection `rw` answers; after the entry moves to 192.0.2.3 (b's
 * connection `rw2`), `ipsec down` and `ipsec up` reach the new address
 * without an `ipsec reload`. Needs root; namespaces are prefixed `tdn-`.
 *
 * ```
 *  tdn-a: va 192.0.2.1/24, lo 10.1.0.1 ── vb 192.0.2.2/24 + 192.0.2.3/24, lo 10.2.0.1 :tdn-b
 * ```
 */
import assert from "node:assert/strict";
import { ok, withHostPair } from "../helpers/netns_daemons.ts";

const PSK = "netns dns peer key 0123456789abcdef";

const CLIENT = `connections:
  gw:
    local_addrs: [192.0.2.1]
    remote_addrs: gw.dns.test
    local: { auth: psk, id: a.example.com }
    remote: { auth: psk, id: gw.example.com }
    children:
      net: { local_ts: [10.1.0.0/16], remote_ts: [10.2.0.0/16] }
secrets:
  ike: { id: [a.example.com, gw.example.com], secret: "${PSK}" }
`;

const GATEWAY = `connections:
${
  ["rw:192.0.2.2:net", "rw2:192.0.2.3:net2"].map((s) => {
    const [name, addr, child] = s.split(":");
    return `  ${name}:
    local_addrs: [${addr}]
    local: { auth: psk, id: gw.example.com }
    remote: { auth: psk, id: a.example.com }
    children:
      ${child}: { local_ts: [10.2.0.0/16], remote_ts: [10.1.0.0/16] }
`;
  }).join("")
}secrets:
  ike: { id: [a.example.com, gw.example.com], secret: "${PSK}" }
`;

Deno.test({
  name: "DNS-named peer (netns): ipsec up resolves the name again, no reload needed",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withHostPair("tdn-", {
      bAddrs: ["192.0.2.3/24"],
      aLo: ["10.1.0.1/32"],
      bLo: ["10.2.0.1/32"],
    }, async ({ lab, a, b, start }) => {
      const hosts = (address: string) =>
        lab.writeEtc(a, "hosts", `127.0.0.1 localhost\n${address} gw.dns.test\n`);
      await hosts("192.0.2.2");
      const B = await start(b, "b", GATEWAY);
      const A = await start(a, "a", CLIENT);
      const why = () => `\n--- a ---\n${A.log()}\n--- b ---\n${B.log()}`;
      const gatewayConn = async () =>
        (JSON.parse(ok(await B.ipsec(["list-sas", "--json"]), "list-sas")) as {
          connection: string;
        }[]).map((s) => s.connection);
      const ping = async () => {
        const r = await lab.runIn(a, ["ping", "-c", "2", "-W", "2", "-I", "10.1.0.1", "10.2.0.1"]);
        assert.equal(r.code, 0, `pings:\n${r.stdout}${why()}`);
      };

      ok(await A.ipsec(["up", "gw", "--timeout", "15"]), `ipsec up${why()}`);
      assert.deepEqual(await gatewayConn(), ["rw"]);
      await ping();

      ok(await A.ipsec(["down", "gw"]), "ipsec down");
      await hosts("192.0.2.3"); // the name moves (in place: the namespace's bind mount stays)
      ok(await A.ipsec(["up", "gw", "--timeout", "15"]), `ipsec up again${why()}`);
      assert.match(A.log(), /gw\.dns\.test now resolves to 192\.0\.2\.3 \(was 192\.0\.2\.2\)/);
      assert.deepEqual(await gatewayConn(), ["rw2"]);
      await ping();
    }),
});
