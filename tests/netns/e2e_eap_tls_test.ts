/**
 * EAP-TLS road warrior end to end in network namespaces: the gateway (b)
 * proves itself with its certificate from `ipsec pki quickstart` in IKE AUTH
 * and is the TLS server inside EAP; the client (a) logs in with its own
 * certificate inside EAP-TLS (`local: { auth: eap-tls, certs, key }`), the
 * gateway asks its EAP identity (`eap_id: %any`) and leases it a virtual IP.
 * `ipsec up` brings the tunnel up, pings go through, `list-sas` names the
 * EAP identity. Needs root; namespaces are prefixed `tetl-` and always
 * deleted.
 *
 * ```
 *  tetl-a: va 192.0.2.1/24 ── vb 192.0.2.2/24, lo 10.1.0.1 :tetl-b
 * ```
 */
import assert from "node:assert/strict";
import { ok, withHostPair } from "../helpers/netns_daemons.ts";
import { eapGatewayFiles } from "../helpers/netns_eap.ts";

const GATEWAY = `connections:
  rw:
    local_addrs: [192.0.2.2]
    pools: [rw_pool]
    local: { auth: pubkey, id: gw.example.org, certs: [gateway.pem], key: gateway.key }
    remote: { auth: eap-tls, eap_id: "%any", cacerts: [ca.pem] }
    children:
      intranet: { local_ts: 10.1.0.0/16, remote_ts: dynamic }
pools:
  rw_pool: { addrs: 10.3.0.0/24 }
`;

const CLIENT = `connections:
  office:
    remote_addrs: 192.0.2.2
    vips: [0.0.0.0]
    local:
      auth: eap-tls
      id: alice@example.org
      certs: [alice@example.org.pem]
      key: alice@example.org.key
    remote: { auth: pubkey, id: gw.example.org, cacerts: [ca.pem] }
    children:
      intranet: { local_ts: dynamic, remote_ts: 10.1.0.0/16 }
`;

Deno.test({
  name: "EAP-TLS (netns): certificate gateway, client certificate inside EAP, virtual IP, pings",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withHostPair("tetl-", { bLo: ["10.1.0.1/32"] }, async ({ lab, dir, a, b, start }) => {
      await eapGatewayFiles(dir, { clientCert: true, gatewayCa: true });
      const B = await start(b, "b", GATEWAY);
      const A = await start(a, "a", CLIENT);
      const why = () => `\n--- a ---\n${A.log()}\n--- b ---\n${B.log()}`;

      ok(await A.ipsec(["up", "office", "--timeout", "15"]), `ipsec up office${why()}`);
      assert.match(A.log(), /EAP-TLS authentication successful, MSK established/, why());
      assert.match(B.log(), /EAP-TLS authentication of 'alice@example\.org' successful/, why());
      const gw = ok(await B.ipsec(["list-sas"]), "list-sas");
      assert.match(gw, /EAP: 'alice@example\.org'/, why());
      const vip = /installing virtual IP (10\.3\.0\.\d+)/.exec(A.log())?.[1];
      assert.ok(vip, `no virtual IP${why()}`);
      const ping = await lab.runIn(a, ["ping", "-c", "3", "-W", "2", "-I", vip, "10.1.0.1"]);
      assert.equal(ping.code, 0, `pings through the tunnel:\n${ping.stdout}${why()}`);
    }),
});
