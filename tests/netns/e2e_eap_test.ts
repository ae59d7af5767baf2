/**
 * EAP-MSCHAPv2 road warrior end to end in network namespaces, with the
 * configuration README.md shows: the gateway (b) proves itself with a
 * certificate from `ipsec pki quickstart`, asks the user name by
 * EAP-Identity (`eap_id: %any`) and leases a virtual IP per EAP identity;
 * the client (a) logs in as alice with a password and no certificate of its
 * own. `ipsec up` brings the tunnel up, the gateway's `list-sas` names the
 * EAP identity, pings go from the virtual IP to the intranet; a second
 * connection of the client with a wrong password fails with a clear error
 * and leaves no SA. Needs root; namespaces are prefixed `teap-` and always
 * deleted.
 *
 * ```
 *  teap-a: va 192.0.2.1/24 ── vb 192.0.2.2/24, lo 10.1.0.1 :teap-b
 * ```
 */
import assert from "node:assert/strict";
import { run } from "../helpers/netns.ts";
import { IPSEC, ok, withHostPair } from "../helpers/netns_daemons.ts";
import { EAP_CLIENT, eapGatewayFiles } from "../helpers/netns_eap.ts";

const GATEWAY = `connections:
  rw:
    local_addrs: [192.0.2.2]
    pools: [rw_pool]
    local: { auth: pubkey, id: gw.example.org, certs: [gateway.pem], key: gateway.key }
    remote: { auth: eap-mschapv2, eap_id: "%any" }
    children:
      intranet: { local_ts: 10.1.0.0/16, remote_ts: dynamic }
pools:
  rw_pool: { addrs: 10.3.0.0/24 }
secrets:
  eap-alice: { id: alice, secret: "alice's password" }
  eap-bob: { id: bob, secret: "bob's password" }
`;

Deno.test({
  name: "EAP-MSCHAPv2 (netns): certificate gateway, password client, virtual IP, pings",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withHostPair("teap-", { bLo: ["10.1.0.1/32"] }, async ({ lab, dir, a, b, start }) => {
      await eapGatewayFiles(dir);
      const B = await start(b, "b", GATEWAY);
      const A = await start(a, "a", EAP_CLIENT);
      const why = () => `\n--- a ---\n${A.log()}\n--- b ---\n${B.log()}`;

      ok(await A.ipsec(["up", "office", "--timeout", "15"]), `ipsec up office${why()}`);
      const gw = ok(await B.ipsec(["list-sas"]), "list-sas");
      assert.match(gw, /remote 'alice@example\.org' @ 192\.0\.2\.1\[\d+\] EAP: 'alice'/, why());
      assert.match(A.log(), /EAP-MSCHAPv2 authentication successful, MSK established/);
      assert.match(B.log(), /EAP-MSCHAPv2 authentication of 'alice' successful/);
      const vip = /installing virtual IP (10\.3\.0\.\d+)/.exec(A.log())?.[1];
      assert.ok(vip, `no virtual IP${why()}`);
      const ping = await lab.runIn(a, ["ping", "-c", "3", "-W", "2", "-I", vip, "10.1.0.1"]);
      assert.equal(ping.code, 0, `pings through the tunnel:\n${ping.stdout}${why()}`);

      // The gateway's pool: one address online, leased to alice's EAP identity.
      const pools = ok(await B.ipsec(["list-pools", "--leases"]), "list-pools");
      assert.match(
        pools,
        /^rw_pool +10\.3\.0\.1 +1 \/ 0 \/ 254\n {2}10\.3\.0\.1 +online +'alice'/,
        pools,
      );
      // A wrong password: the gateway refuses, `ipsec up` says why, no SA stays.
      const bad = await A.ipsec(["up", "wrong", "--timeout", "15"]);
      assert.notEqual(bad.code, 0, `ipsec up wrong succeeded${why()}`);
      assert.match(`${bad.stdout}${bad.stderr}`, /EAP/, why());
      assert.match(B.log(), /EAP-MSCHAPv2 authentication of 'bob@example\.org' failed/, why());
      const left = JSON.parse(ok(await B.ipsec(["list-sas", "--json"]), "list-sas")) as unknown[];
      assert.equal(left.length, 1, `only alice's SA on the gateway${why()}`);
    }),
});

Deno.test({
  name: "EAP-MSCHAPv2 (netns): the files of ipsec pki quickstart --eap, narrowed to one network",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withHostPair("teaq-", { bLo: ["10.2.0.1/32"] }, async ({ lab, dir, a, b, start }) => {
      ok(
        await run([
          ...IPSEC,
          "pki",
          "quickstart",
          "--eap",
          "--gateway",
          "gw.example.org",
          "--gateway-address",
          "192.0.2.2",
          "--client",
          "carol",
          "--out",
          `${dir}/qs`,
        ]),
        "ipsec pki quickstart --eap",
      );
      await Deno.mkdir(`${dir}/a`, { recursive: true });
      await Deno.mkdir(`${dir}/b`, { recursive: true });
      for (const f of ["gateway.pem", "gateway.key"]) {
        await Deno.copyFile(`${dir}/qs/${f}`, `${dir}/b/${f}`);
      }
      await Deno.copyFile(`${dir}/qs/ca.pem`, `${dir}/a/ca.pem`);
      const gateway = await Deno.readTextFile(`${dir}/qs/gateway.yaml`);
      // The client tunnels everything in the quickstart file; here only the gateway's network.
      const client = (await Deno.readTextFile(`${dir}/qs/carol.yaml`))
        .replace("remote_ts: [0.0.0.0/0]", "remote_ts: [10.2.0.0/24]");
      const B = await start(
        b,
        "b",
        gateway.replace("local_ts: [0.0.0.0/0]", "local_ts: [10.2.0.0/24]"),
      );
      const A = await start(
        a,
        "a",
        client.replace("start_action: start", "start_action: none"),
      );
      const why = () => `\n--- a ---\n${A.log()}\n--- b ---\n${B.log()}`;
      ok(await A.ipsec(["up", "home", "--timeout", "15"]), `ipsec up home${why()}`);
      assert.match(ok(await B.ipsec(["list-sas"]), "list-sas"), /EAP: 'carol'/, why());
      const vip = /installing virtual IP (10\.10\.10\.\d+)/.exec(A.log())?.[1];
      assert.ok(vip, `no virtual IP${why()}`);
      const ping = await lab.runIn(a, ["ping", "-c", "3", "-W", "2", "-I", vip, "10.2.0.1"]);
      assert.equal(ping.code, 0, `pings through the tunnel:\n${ping.stdout}${why()}`);
    }),
});
