/**
 * IKEv2 redirect (RFC 5685) end to end with two of our daemons: gateway b
 * has two addresses and a connection on each (`rw` on 192.0.2.2 with
 * `redirect_to: 192.0.2.3` after a reload, `rw2` on 192.0.2.3); client a
 * connects to 192.0.2.2. First `ipsec redirect rw --gateway 192.0.2.3`
 * moves a's established IKE SA (INFORMATIONAL REDIRECT); `ipsec redirect rw2
 * --gateway gw-a.redirect.test` moves it back by DNS name (gateway identity
 * type FQDN, resolved by a through its namespace's /etc/hosts); then, with
 * `redirect_to: gw-b.redirect.test`, a fresh `ipsec up` is redirected in
 * IKE_SA_INIT to the address that name has. Each time the tunnel ends where
 * it was sent and pings pass. Needs root; namespaces are prefixed `trd-` and
 * always deleted.
 *
 * ```
 *  trd-a: va 192.0.2.1/24, lo 10.1.0.1 ── vb 192.0.2.2/24 + 192.0.2.3/24, lo 10.2.0.1 :trd-b
 * ```
 */
import assert from "node:assert/strict";
import { ok, waitFor, withHostPair } from "../helpers/netns_daemons.ts";

const PSK = "netns redirect key 0123456789abcdef";

const CLIENT = `connections:
  gw:
    local_addrs: [192.0.2.1]
    remote_addrs: [192.0.2.2]
    local: { auth: psk, id: a.example.com }
    remote: { auth: psk, id: gw.example.com }
    children:
      net: { local_ts: [10.1.0.0/16], remote_ts: [10.2.0.0/16] }
secrets:
  ike: { id: [a.example.com, gw.example.com], secret: "${PSK}" }
`;

const gateway = (redirectTo: string) =>
  `connections:
  rw:
    local_addrs: [192.0.2.2]
${redirectTo}    local: { auth: psk, id: gw.example.com }
    remote: { auth: psk, id: a.example.com }
    children:
      net: { local_ts: [10.2.0.0/16], remote_ts: [10.1.0.0/16] }
  rw2:
    local_addrs: [192.0.2.3]
    local: { auth: psk, id: gw.example.com }
    remote: { auth: psk, id: a.example.com }
    children:
      net2: { local_ts: [10.2.0.0/16], remote_ts: [10.1.0.0/16] }
secrets:
  ike: { id: [a.example.com, gw.example.com], secret: "${PSK}" }
`;

interface IkeJson {
  connection: string;
  ike?: { remote: string };
}

Deno.test({
  name: "redirect (netns): ipsec redirect moves a client, redirect_to sends new ones elsewhere",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withHostPair("trd-", {
      bAddrs: ["192.0.2.3/24"],
      aLo: ["10.1.0.1/32"],
      bLo: ["10.2.0.1/32"],
    }, async ({ lab, dir, a, b, start }) => {
      await lab.writeEtc(
        a,
        "hosts",
        "127.0.0.1 localhost\n192.0.2.2 gw-a.redirect.test\n192.0.2.3 gw-b.redirect.test\n",
      );
      const B = await start(b, "b", gateway(""));
      const A = await start(a, "a", CLIENT);
      const why = () => `\n--- a ---\n${A.log()}\n--- b ---\n${B.log()}`;
      const sas = async (d: typeof A) =>
        JSON.parse(ok(await d.ipsec(["list-sas", "--json"]), "list-sas")) as IkeJson[];
      const ping = async () => {
        const r = await lab.runIn(a, ["ping", "-c", "2", "-W", "2", "-I", "10.1.0.1", "10.2.0.1"]);
        assert.equal(r.code, 0, `pings:\n${r.stdout}${why()}`);
      };

      ok(await A.ipsec(["up", "gw", "--timeout", "15"]), `ipsec up${why()}`);
      assert.deepEqual((await sas(B)).map((s) => s.connection), ["rw"]);
      await ping();

      // 1. The gateway moves the established client to its other address.
      const moved = await B.ipsec(["redirect", "rw", "--gateway", "192.0.2.3"]);
      assert.equal(moved.code, 0, `ipsec redirect:\n${moved.stdout}${moved.stderr}${why()}`);
      assert.match(moved.stdout, /redirected 1 IKE SA\(s\) of 'rw' to 192\.0\.2\.3/);
      await waitFor(async () => {
        const s = await sas(B);
        return s.length === 1 && s[0].connection === "rw2";
      }, why);
      assert.match((await sas(A))[0].ike?.remote ?? "", /^192\.0\.2\.3\[/, why());
      await ping();
      // 1b. Back to 192.0.2.2, named by DNS: a resolves the name it is sent to.
      const named = await B.ipsec(["redirect", "rw2", "--gateway", "gw-a.redirect.test"]);
      assert.equal(named.code, 0, `ipsec redirect (name):\n${named.stdout}${named.stderr}${why()}`);
      await waitFor(async () => {
        const s = await sas(B);
        return s.length === 1 && s[0].connection === "rw";
      }, why);
      assert.match(A.log(), /gw-a\.redirect\.test is 192\.0\.2\.2, following the redirect/);
      assert.match((await sas(A))[0].ike?.remote ?? "", /^192\.0\.2\.2\[/, why());
      await ping();
      // Wrong uses are refused with a reason.
      const bad = await B.ipsec(["redirect", "rw", "--gateway", "not a name!"]);
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr + bad.stdout, /neither an IP address nor a DNS name/);
      const none = await A.ipsec(["redirect", "gw", "--gateway", "192.0.2.9"]);
      assert.equal(none.code, 3, "the client has no client IKE SA to redirect");

      // 2. redirect_to: a new client is sent on in IKE_SA_INIT.
      ok(await A.ipsec(["down", "gw"]), `ipsec down${why()}`);
      await Deno.writeTextFile(`${dir}/b/b.yaml`, gateway("    redirect_to: gw-b.redirect.test\n"));
      ok(await B.ipsec(["reload"]), "reload");
      ok(await A.ipsec(["up", "gw", "--timeout", "15"]), `ipsec up (redirected)${why()}`);
      assert.match(A.log(), /redirected by 192\.0\.2\.2 to gw-b\.redirect\.test \(RFC 5685\)/);
      assert.match(A.log(), /gw-b\.redirect\.test is 192\.0\.2\.3/);
      assert.deepEqual((await sas(B)).map((s) => s.connection), ["rw2"]);
      await ping();
    }),
});
