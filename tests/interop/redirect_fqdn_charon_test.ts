/**
 * IKEv2 redirect (RFC 5685) with a gateway named by DNS, our daemon as the
 * gateway and strongSwan's charon as the client: our connection `rw`
 * (10.96.0.2) has `redirect_to: gw2.redirect.test`, so its IKE_SA_INIT
 * response carries N(REDIRECT) of gateway identity type FQDN (section 8)
 * with charon's nonce. charon must read it, resolve the name (its namespace's
 * /etc/hosts says 10.96.0.3) and bring the tunnel up with our connection
 * `rw2` there, REDIRECTED_FROM naming 10.96.0.2; pings then cross it.
 *
 * ```
 *  trf-c: charon 10.96.0.1, lo 10.1.0.1 ── 10.96.0.2 (rw) + 10.96.0.3 (rw2), lo 10.2.0.1 :trf-d
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { NetnsLab, run } from "../helpers/netns.ts";
import { IPSEC, ok, startDaemonIn } from "../helpers/netns_daemons.ts";
import { Charon, swanctlConf } from "../helpers/strongswan.ts";

const PSK = "redirect fqdn interop psk 0123456789abcdef";

const GATEWAY = `connections:
${
  [["rw", "10.96.0.2", "    redirect_to: gw2.redirect.test\n"], ["rw2", "10.96.0.3", ""]].map((
    [name, addr, extra],
  ) =>
    `  ${name}:
    local_addrs: [${addr}]
${extra}    local: { auth: psk, id: gw.example.org }
    remote: { auth: psk, id: rw.example.org }
    children:
      net: { local_ts: [10.2.0.0/24], remote_ts: [10.1.0.0/24] }
`
  ).join("")
}secrets:
  ike: { id: [rw.example.org, gw.example.org], secret: "${PSK}" }
`;

Deno.test({
  name: "IKEv2 redirect to a DNS name (RFC 5685 FQDN): charon follows ours to the other gateway",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const lab = await NetnsLab.create("trf-");
    const dir = await Deno.makeTempDir({ prefix: "trf-" });
    let charon: Charon | undefined;
    let socket: string | undefined;
    try {
      const c = await lab.addNs("c");
      const d = await lab.addNs("d");
      await lab.veth(c, "vc", "10.96.0.1/24", d, "vd", "10.96.0.2/24");
      ok(await lab.runIn(d, ["ip", "addr", "add", "10.96.0.3/24", "dev", "vd"]), "d: .3");
      ok(await lab.runIn(c, ["ip", "addr", "add", "10.1.0.1/32", "dev", "lo"]), "c: lo");
      ok(await lab.runIn(d, ["ip", "addr", "add", "10.2.0.1/32", "dev", "lo"]), "d: lo");
      await lab.writeEtc(c, "hosts", "127.0.0.1 localhost\n10.96.0.3 gw2.redirect.test\n");
      const daemon = await startDaemonIn(lab, d, dir, "d", GATEWAY);
      socket = daemon.socket;
      charon = await Charon.start({ ns: c, dir: `${dir}/charon`, swanctlConf: "" });
      await charon.reload(swanctlConf({
        name: "gw",
        childName: "net",
        localAddr: "10.96.0.1",
        remoteAddr: "10.96.0.2",
        localId: "rw.example.org",
        remoteId: "gw.example.org",
        auth: "psk",
        psk: PSK,
        ikeProposal: "aes256gcm16-prfsha256-x25519",
        espProposal: "aes256gcm16",
        localTs: "10.1.0.0/24",
        remoteTs: "10.2.0.0/24",
        extra: ["dpd_delay = 0"],
      }));
      const why = async () =>
        `\n--- daemon ---\n${daemon.log()}\n--- charon ---\n${await charon!.log()}`;
      await charon.initiate("gw", "net").catch(async (e) => {
        throw new Error(`${(e as Error).message}${await why()}`);
      });
      const [sa] = await charon.waitSas(
        (s) => s.length === 1 && s[0].state === "ESTABLISHED",
        "one IKE SA",
      );
      assert.equal(sa.remoteAddr, "10.96.0.3", await why());
      assert.match(daemon.log(), /IKE_SA_INIT response 0 \[ N\(REDIR\) \]/, await why());
      assert.match(await charon.log(), /\[IKE\] redirected to gw2\.redirect\.test/, await why());
      const sas = JSON.parse(ok(await daemon.ipsec(["list-sas", "--json"]), "list-sas")) as {
        connection: string;
      }[];
      assert.deepEqual(sas.map((s) => s.connection), ["rw2"], await why());
      const ping = await lab.runIn(c, ["ping", "-c", "3", "-W", "2", "-I", "10.1.0.1", "10.2.0.1"]);
      assert.equal(
        ping.code,
        0,
        `pings through the redirected tunnel:\n${ping.stdout}${await why()}`,
      );
    } finally {
      if (socket) await run([...IPSEC, "stop", "--socket", socket]).catch(() => {});
      await charon?.stop();
      await lab.cleanup();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
