/**
 * EAP-RADIUS end to end in network namespaces: the gateway (b) relays its
 * road warriors' EAP to FreeRADIUS (tests/helpers/freeradius.ts, running in
 * b on its loopback) and never sees their passwords. Alice logs in by
 * EAP-MSCHAPv2, gets a virtual IP and pings the intranet (so the MSK from
 * FreeRADIUS' MS-MPPE keys keyed the gateway's AUTH as alice's own MSK
 * keyed hers) and gets the address FreeRADIUS assigns (Framed-IP-Address,
 * `pools: [radius, …]`); bob's wrong password is refused by FreeRADIUS and the
 * gateway says so; a gateway whose RADIUS server does not answer fails the
 * client after its retries; EAP-TLS relayed the same way makes FreeRADIUS the
 * TLS server (its MSK keys the gateway's AUTH). Needs root; namespaces
 * prefixed `terad-`.
 *
 * ```
 *  terad-a: va 192.0.2.1/24 ── vb 192.0.2.2/24, lo 10.1.0.1, FreeRADIUS 127.0.0.1:1812 :terad-b
 * ```
 */
import assert from "node:assert/strict";
import { ok, waitFor, withHostPair } from "../helpers/netns_daemons.ts";
import { startFreeRadius } from "../helpers/freeradius.ts";
import { EAP_CLIENT, eapGatewayFiles } from "../helpers/netns_eap.ts";

const RADIUS_SECRET = "netns radius secret";
const DAE_SECRET = "netns dae secret";

const gateway = (port: number) =>
  `connections:
  rw:
    local_addrs: [192.0.2.2]
    pools: [radius, rw_pool]
    local: { auth: pubkey, id: gw.example.org, certs: [gateway.pem], key: gateway.key }
    remote: { auth: eap-radius, eap_id: "%any" }
    children:
      intranet: { local_ts: 10.1.0.0/16, remote_ts: dynamic }
pools:
  rw_pool: { addrs: 10.3.0.0/24 }
radius:
  servers:
    freeradius: { address: 127.0.0.1, port: ${port}, acct_port: ${
    port + 1
  }, secret: "${RADIUS_SECRET}" }
  nas_identifier: netns-gateway
  accounting: yes
  interim_interval: 1s
  dae: { listen: 127.0.0.1, port: 3799, secret: "${DAE_SECRET}" }
`;

/**
 * FreeRADIUS in namespace `ns` on 127.0.0.1:1812 running `method` (a TLS
 * method) with the gateway's certificate from `pki` (the client checks it
 * names gw.example.org, the gateway's IKE identity).
 */
function tlsRadius(
  ns: string,
  pki: string,
  method: "tls" | "ttls" | "peap",
  users: Record<string, string>,
) {
  return startFreeRadius({
    address: "127.0.0.1",
    port: 1812,
    secret: RADIUS_SECRET,
    clients: "127.0.0.1/32",
    users,
    defaultEapType: method,
    tls: { cert: `${pki}/gateway.pem`, key: `${pki}/gateway.key`, ca: `${pki}/ca.pem` },
    netns: ns,
  });
}

Deno.test({
  name: "EAP-RADIUS (netns): the gateway relays EAP-MSCHAPv2 to FreeRADIUS; MSK, virtual IP, pings",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withHostPair("terad-", { bLo: ["10.1.0.1/32"] }, async ({ lab, dir, a, b, start }) => {
      await eapGatewayFiles(dir);
      const fr = await startFreeRadius({
        address: "127.0.0.1",
        port: 1812,
        secret: RADIUS_SECRET,
        clients: "127.0.0.1/32",
        users: {
          alice: { password: "alice's password", reply: ["Framed-IP-Address = 10.3.0.77"] },
          bob: "bob's password",
        },
        netns: b,
      });
      try {
        const B = await start(b, "b", gateway(1812));
        const A = await start(a, "a", EAP_CLIENT);
        const why = () =>
          `\n--- a ---\n${A.log()}\n--- b ---\n${B.log()}\n--- FreeRADIUS ---\n${fr.log()}`;

        ok(await A.ipsec(["up", "office", "--timeout", "15"]), `ipsec up office${why()}`);
        assert.match(A.log(), /EAP-MSCHAPv2 authentication successful, MSK established/, why());
        assert.match(B.log(), /EAP-RADIUS authentication of 'alice' successful, MSK established/);
        assert.match(fr.log(), /Sent Access-Accept/);
        assert.match(fr.log(), /NAS-Identifier = "netns-gateway"/);
        const gw = ok(await B.ipsec(["list-sas"]), "list-sas");
        assert.match(gw, /EAP: 'alice'/, why());
        // The address FreeRADIUS assigned (pools: [radius, …], as charon's pools = radius).
        const vip = /installing virtual IP (10\.3\.0\.\d+)/.exec(A.log())?.[1];
        assert.equal(vip, "10.3.0.77", `the RADIUS virtual IP${why()}`);
        assert.match(B.log(), /assigning virtual IP 10\.3\.0\.77 from RADIUS to 'alice'/);
        const ping = await lab.runIn(a, ["ping", "-c", "3", "-W", "2", "-I", vip, "10.1.0.1"]);
        assert.equal(ping.code, 0, `pings through the tunnel:\n${ping.stdout}${why()}`);

        // Accounting: Start when alice's IKE SA was up, Stop with her packets when she leaves.
        await waitFor(
          () =>
            Promise.resolve(
              /RADIUS accounting Start of \S+ for 'alice' acknowledged/.test(B.log()),
            ),
          why,
        );
        assert.match(fr.log(), /Acct-Status-Type = Start/, why());
        assert.match(fr.log(), /Framed-IP-Address = 10\.3\.0\.77/, why());
        // Interim-Updates (each second here) count the live child SA: alice's 3 pings.
        await waitFor(
          () =>
            Promise.resolve(
              /Acct-Status-Type = Interim-Update[\s\S]*?Acct-Input-Packets = ([3-9]|\d\d)/.test(
                fr.log(),
              ),
            ),
          () => `no Interim-Update with alice's pings${why()}`,
        );
        ok(await A.ipsec(["down", "office"]), "ipsec down office");
        await waitFor(
          () =>
            Promise.resolve(/RADIUS accounting Stop of \S+ for 'alice' acknowledged/.test(B.log())),
          why,
        );
        const stop = fr.log().slice(fr.log().lastIndexOf("Acct-Status-Type = Stop"));
        assert.match(stop, /Acct-Terminate-Cause = User-Request/, stop);
        const packets = Number(/Acct-Input-Packets = (\d+)/.exec(stop)?.[1]);
        assert.ok(packets >= 3, `alice's 3 pings counted (Acct-Input-Packets ${packets})\n${stop}`);

        // RFC 5176: a Disconnect-Request for alice (radclient, as a RADIUS server sends it)
        // deletes her IKE SA; one for nobody gets a NAK; one with another secret is dropped.
        ok(await A.ipsec(["up", "office", "--timeout", "15"]), `ipsec up office again${why()}`);
        const disconnect = async (user: string, secret = DAE_SECRET) => {
          await Deno.writeTextFile(`${dir}/dae.txt`, `User-Name = "${user}"\n`);
          return await lab.runIn(b, [
            "radclient",
            "-x",
            "-r",
            "1",
            "-t",
            "2",
            "-f",
            `${dir}/dae.txt`,
            "127.0.0.1:3799",
            "disconnect",
            secret,
          ]);
        };
        const forged = await disconnect("alice", "not the dae secret");
        assert.doesNotMatch(forged.stdout, /Received Disconnect-ACK/, forged.stdout);
        assert.match(B.log(), /dropping a RADIUS DAE request from 127\.0\.0\.1/, why());
        const nobody = await disconnect("mallory");
        assert.match(
          nobody.stdout,
          /Received Disconnect-NAK[\s\S]*Error-Cause = Session-Context-Not-Found/,
          nobody.stdout,
        );
        const kicked = await disconnect("alice");
        assert.match(
          kicked.stdout,
          /Received Disconnect-ACK/,
          `${kicked.stdout}${kicked.stderr}${why()}`,
        );
        await waitFor(
          async () =>
            (JSON.parse(ok(await B.ipsec(["list-sas", "--json"]), "list-sas")) as unknown[])
              .length === 0,
          why,
        );
        await waitFor(
          () =>
            Promise.resolve(
              /RADIUS accounting Stop of \S+ for 'alice' acknowledged/.test(
                B.log().slice(B.log().indexOf("Disconnect-Request from")),
              ),
            ),
          why,
        );
        assert.match(
          fr.log().slice(fr.log().lastIndexOf("Acct-Status-Type = Stop")),
          /Acct-Terminate-Cause = Admin-Reset/,
        );

        // FreeRADIUS refuses bob's password: EAP-Failure relayed, no SA.
        const bad = await A.ipsec(["up", "wrong", "--timeout", "15"]);
        assert.notEqual(bad.code, 0, `ipsec up wrong succeeded${why()}`);
        assert.match(B.log(), /RADIUS server freeradius rejected 'bob'/, why());
        const left = JSON.parse(ok(await B.ipsec(["list-sas", "--json"]), "list-sas")) as unknown[];
        assert.equal(left.length, 0, `no SA on the gateway${why()}`);
      } finally {
        await fr.stop();
      }
    }),
});

Deno.test({
  name: "EAP-RADIUS (netns): a RADIUS server that never answers fails the client, with the reason",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withHostPair("teradx-", { bLo: ["10.1.0.1/32"] }, async ({ dir, a, b, start }) => {
      await eapGatewayFiles(dir);
      // Nothing listens on 1813 in b.
      const B = await start(b, "b", gateway(1813));
      const A = await start(a, "a", EAP_CLIENT);
      const why = () => `\n--- a ---\n${A.log()}\n--- b ---\n${B.log()}`;
      const r = await A.ipsec(["up", "office", "--timeout", "20"]);
      assert.notEqual(r.code, 0, `ipsec up succeeded${why()}`);
      assert.match(B.log(), /no answer from RADIUS server freeradius/, why());
    }),
});

Deno.test({
  name: "EAP-RADIUS (netns): EAP-TLS relayed to FreeRADIUS; its MSK keys the gateway's AUTH",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withHostPair("teradt-", { bLo: ["10.1.0.1/32"] }, async ({ lab, dir, a, b, start }) => {
      await eapGatewayFiles(dir, { clientCert: true });
      const pki = `${dir}/pki`;
      const fr = await tlsRadius(b, pki, "tls", {});
      try {
        const B = await start(b, "b", gateway(1812));
        const A = await start(
          a,
          "a",
          `connections:
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
`,
        );
        const why = () =>
          `\n--- a ---\n${A.log()}\n--- b ---\n${B.log()}\n--- FreeRADIUS ---\n${fr.log()}`;
        ok(await A.ipsec(["up", "office", "--timeout", "15"]), `ipsec up office${why()}`);
        assert.match(A.log(), /EAP-TLS authentication successful, MSK established/, why());
        assert.match(
          B.log(),
          /EAP-RADIUS authentication of 'alice@example\.org' successful, MSK established/,
        );
        assert.match(fr.log(), /Sent Access-Accept/);
        const vip = /installing virtual IP (10\.3\.0\.\d+)/.exec(A.log())?.[1];
        assert.ok(vip, `no virtual IP${why()}`);
        const ping = await lab.runIn(a, ["ping", "-c", "2", "-W", "2", "-I", vip, "10.1.0.1"]);
        assert.equal(ping.code, 0, `pings through the tunnel:\n${ping.stdout}${why()}`);
      } finally {
        await fr.stop();
      }
    }),
});

for (const method of ["ttls", "peap"] as const) {
  Deno.test({
    name:
      `EAP-RADIUS (netns): EAP-${method.toUpperCase()} relayed to FreeRADIUS, EAP-MSCHAPv2 inside its tunnel`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: () =>
      withHostPair(
        method === "ttls" ? "teradu-" : "teradp-",
        { bLo: ["10.1.0.1/32"] },
        async ({ lab, dir, a, b, start }) => {
          await eapGatewayFiles(dir);
          const pki = `${dir}/pki`;
          const fr = await tlsRadius(b, pki, method, {
            alice: "alice's password",
            bob: "bob's password",
          });
          try {
            const B = await start(b, "b", gateway(1812));
            const A = await start(
              a,
              "a",
              `connections:
  office:
    remote_addrs: 192.0.2.2
    vips: [0.0.0.0]
    local: { auth: eap-${method}, id: alice@example.org, eap_id: alice }
    remote: { auth: pubkey, id: gw.example.org, cacerts: [ca.pem] }
    children:
      intranet: { local_ts: dynamic, remote_ts: 10.1.0.0/16 }
  wrong:
    remote_addrs: 192.0.2.2
    vips: [0.0.0.0]
    local: { auth: eap-${method}, id: bob@example.org, eap_id: bob }
    remote: { auth: pubkey, id: gw.example.org, cacerts: [ca.pem] }
    children:
      intranet2: { local_ts: dynamic, remote_ts: 10.1.0.0/16 }
secrets:
  eap-alice: { id: alice, secret: "alice's password" }
  eap-bob: { id: bob, secret: "not bob's password" }
`,
            );
            const why = () =>
              `\n--- a ---\n${A.log()}\n--- b ---\n${B.log()}\n--- FreeRADIUS ---\n${fr.log()}`;
            ok(await A.ipsec(["up", "office", "--timeout", "15"]), `ipsec up office${why()}`);
            assert.match(
              A.log(),
              new RegExp(`EAP-${method.toUpperCase()} authentication successful, MSK established`),
              why(),
            );
            assert.match(
              B.log(),
              /EAP-RADIUS authentication of 'alice' successful, MSK established/,
            );
            const vip = /installing virtual IP (10\.3\.0\.\d+)/.exec(A.log())?.[1];
            assert.ok(vip, `no virtual IP${why()}`);
            const ping = await lab.runIn(a, ["ping", "-c", "2", "-W", "2", "-I", vip, "10.1.0.1"]);
            assert.equal(ping.code, 0, `pings through the tunnel:\n${ping.stdout}${why()}`);
            // A wrong password inside the tunnel: FreeRADIUS refuses, no SA for bob.
            const bad = await A.ipsec(["up", "wrong", "--timeout", "15"]);
            assert.notEqual(bad.code, 0, `ipsec up wrong succeeded${why()}`);
            assert.match(B.log(), /RADIUS server freeradius rejected 'bob'/, why());
          } finally {
            await fr.stop();
          }
        },
      ),
  });
}
