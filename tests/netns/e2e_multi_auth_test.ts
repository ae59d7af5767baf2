/**
 * RFC 4739 multiple authentication end to end in network namespaces, with
 * swanctl's section names: the client (a) proves its machine certificate
 * (`local-1`) and then its user's password by EAP-MSCHAPv2 (`local-2`); the
 * gateway (b) requires both (`remote-1`, `remote-2` with `eap_id: %any`)
 * and leases the virtual IP to the EAP identity. `ipsec up` brings the
 * tunnel up, `list-conns` and `pad` show both rounds, `list-sas` both
 * authentications, pings go through; a client that stops after its
 * certificate is refused with a log line naming the missing round. Needs
 * root; namespaces are prefixed `tmau-` and always deleted.
 *
 * ```
 *  tmau-a: va 192.0.2.1/24 ── vb 192.0.2.2/24, lo 10.1.0.1 :tmau-b
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
    remote-1: { auth: pubkey, cacerts: [ca.pem] }
    remote-2: { auth: eap-mschapv2, eap_id: "%any" }
    children:
      intranet: { local_ts: 10.1.0.0/16, remote_ts: dynamic }
pools:
  rw_pool: { addrs: 10.3.0.0/24 }
secrets:
  eap-alice: { id: alice, secret: "alice's password" }
`;

const CLIENT = `connections:
  office:
    remote_addrs: 192.0.2.2
    vips: [0.0.0.0]
    local-1:
      auth: pubkey
      id: alice@example.org
      certs: [alice@example.org.pem]
      key: alice@example.org.key
    local-2: { auth: eap-mschapv2, id: alice-user@example.org, eap_id: alice }
    remote: { auth: pubkey, id: gw.example.org, cacerts: [ca.pem] }
    children:
      intranet: { local_ts: dynamic, remote_ts: 10.1.0.0/16 }
  machine-only:
    remote_addrs: 192.0.2.2
    vips: [0.0.0.0]
    local:
      auth: pubkey
      id: alice@example.org
      certs: [alice@example.org.pem]
      key: alice@example.org.key
    remote: { auth: pubkey, id: gw.example.org, cacerts: [ca.pem] }
    children:
      intranet2: { local_ts: dynamic, remote_ts: 10.1.0.0/16 }
secrets:
  eap-alice: { id: alice, secret: "alice's password" }
`;

Deno.test({
  name: "RFC 4739 (netns): machine certificate, then EAP-MSCHAPv2 user password, pings",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withHostPair("tmau-", { bLo: ["10.1.0.1/32"] }, async ({ lab, dir, a, b, start }) => {
      await eapGatewayFiles(dir, { clientCert: true, gatewayCa: true });
      const B = await start(b, "b", GATEWAY);
      const A = await start(a, "a", CLIENT);
      const why = () => `\n--- a ---\n${A.log()}\n--- b ---\n${B.log()}`;

      const conns = ok(await A.ipsec(["list-conns"]), "list-conns");
      assert.match(
        conns,
        /local: +pubkey alice@example\.org\n {2}local-2: eap-mschapv2 \(alice\) alice-user@example\.org/,
      );
      const pad = ok(await B.ipsec(["pad"]), "pad");
      assert.match(pad, /pubkey \(1 CA\), then eap-mschapv2 \(eap_id %any\) as %any/, pad);

      ok(await A.ipsec(["up", "office", "--timeout", "15"]), `ipsec up office${why()}`);
      const gw = ok(await B.ipsec(["list-sas"]), "list-sas");
      assert.match(gw, /remote 'alice@example\.org' @ 192\.0\.2\.1\[\d+\] EAP: 'alice'/, why());
      assert.match(
        B.log(),
        /authentication round 1 of 'alice@example\.org' successful, round 2 follows \(eap\)/,
      );
      assert.match(B.log(), /EAP-MSCHAPv2 authentication of 'alice' successful/);
      const vip = /installing virtual IP (10\.3\.0\.\d+)/.exec(A.log())?.[1];
      assert.ok(vip, `no virtual IP${why()}`);
      const ping = await lab.runIn(a, ["ping", "-c", "3", "-W", "2", "-I", vip, "10.1.0.1"]);
      assert.equal(ping.code, 0, `pings through the tunnel:\n${ping.stdout}${why()}`);

      // Only the certificate: the gateway wants a second round and refuses.
      const bad = await A.ipsec(["up", "machine-only", "--timeout", "15"]);
      assert.notEqual(bad.code, 0, `ipsec up machine-only succeeded${why()}`);
      assert.match(
        B.log(),
        /requires 2 authentication rounds \(remote-2: eap\), the peer ended after 1/,
        why(),
      );
      const left = JSON.parse(ok(await B.ipsec(["list-sas", "--json"]), "list-sas")) as unknown[];
      assert.equal(left.length, 1, `only the two-round SA on the gateway${why()}`);
    }),
});
