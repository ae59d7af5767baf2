/**
 * What the EAP road-warrior netns tests share: the client configuration
 * (alice with her password, bob with a wrong one) and the gateway's files
 * from `ipsec pki quickstart` (gw.example.org at 192.0.2.2).
 *
 * @module
 */
import { run } from "./netns.ts";
import { IPSEC, ok } from "./netns_daemons.ts";

/** Client (namespace a): `office` logs in as alice, `wrong` as bob with a wrong password. */
export const EAP_CLIENT = `connections:
  office:
    remote_addrs: 192.0.2.2
    vips: [0.0.0.0]
    local: { auth: eap-mschapv2, id: alice@example.org, eap_id: alice }
    remote: { auth: pubkey, id: gw.example.org, cacerts: [ca.pem] }
    children:
      intranet: { local_ts: dynamic, remote_ts: 10.1.0.0/16 }
  wrong:
    remote_addrs: 192.0.2.2
    vips: [0.0.0.0]
    local: { auth: eap-mschapv2, id: bob@example.org, eap_id: bob }
    remote: { auth: pubkey, id: gw.example.org, cacerts: [ca.pem] }
    children:
      intranet2: { local_ts: dynamic, remote_ts: 10.1.0.0/16 }
secrets:
  eap-alice: { id: alice, secret: "alice's password" }
  eap-bob: { id: bob, secret: "not bob's password" }
`;

/**
 * `ipsec pki quickstart` for gw.example.org into `dir`/pki; the gateway's
 * certificate and key go to `dir`/b, the CA certificate to `dir`/a; with
 * `clientCert` alice@example.org's certificate and key to `dir`/a too, with
 * `gatewayCa` the CA certificate to `dir`/b too.
 */
export async function eapGatewayFiles(
  dir: string,
  o: { clientCert?: boolean; gatewayCa?: boolean } = {},
): Promise<void> {
  const pki = `${dir}/pki`;
  ok(
    await run([
      ...IPSEC,
      "pki",
      "quickstart",
      "--gateway",
      "gw.example.org",
      "--gateway-address",
      "192.0.2.2",
      "--client",
      "alice@example.org",
      "--out",
      pki,
    ]),
    "ipsec pki quickstart",
  );
  const client = o.clientCert ? ["alice@example.org.pem", "alice@example.org.key"] : [];
  const copies: [string, string[]][] = [
    ["b", ["gateway.pem", "gateway.key", ...(o.gatewayCa ? ["ca.pem"] : [])]],
    ["a", ["ca.pem", ...client]],
  ];
  for (const [who, files] of copies) {
    await Deno.mkdir(`${dir}/${who}`, { recursive: true });
    for (const f of files) await Deno.copyFile(`${pki}/${f}`, `${dir}/${who}/${f}`);
  }
}
