/**
 * IKEv2 redirect (RFC 5685) with two other implementations: Libreswan's
 * pluto under `global-redirect` sends our daemon on to strongSwan's charon
 * in its IKE_SA_INIT response, where the tunnel comes up and carries pings;
 * then charon moves the established IKE SA back to pluto, naming it by DNS
 * (`swanctl --redirect --gateway pluto.redirect.test`: an INFORMATIONAL with
 * N(REDIRECT) of gateway identity type FQDN, RFC 5685 section 8): our daemon
 * answers, resolves the name (its namespace's /etc/hosts), authenticates
 * with pluto (REDIRECTED_FROM naming charon) and deletes its IKE SA with
 * charon. Our daemon has no local_addrs, so each IKE SA leaves
 * from the address that routes to its gateway. pluto cannot install child
 * SAs (no kernel ESP), so the second leg is checked at the IKE level.
 *
 * ```
 *  tre-c: charon 10.96.0.1, lo 10.1.0.1 ── 10.96.0.2 ┐
 *                                                    tre-d: our daemon, lo 10.2.0.1
 *  tre-l: pluto 10.97.0.1 ──────────────── 10.97.0.2 ┘
 *
 *  d ── IKE_SA_INIT [ N(REDIR_SUP) ] ──► pluto
 *  d ◄── [ N(REDIRECT(10.96.0.1, Ni)) ]
 *  d ── IKE_SA_INIT [ N(REDIR_FROM(10.97.0.1)) ] ──► charon ... tunnel, pings
 *  d ◄── INFORMATIONAL [ N(REDIRECT(pluto.redirect.test)) ] ── charon
 *  d ── IKE_SA_INIT [ N(REDIR_FROM(10.96.0.1)) ] ──► pluto;  d ── D(IKE) ──► charon
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { haveLibreswan, Pluto } from "../helpers/libreswan.ts";
import { NetnsLab, run } from "../helpers/netns.ts";
import { IPSEC, ok, startDaemonIn, waitFor } from "../helpers/netns_daemons.ts";
import { Charon, swanctlConf } from "../helpers/strongswan.ts";

const PSK = "redirect interop psk 0123456789abcdef";

const PLUTO_CONF = (redirect: boolean) =>
  `config setup
    plutodebug=none
${redirect ? "    global-redirect=yes\n    global-redirect-to=10.96.0.1\n" : ""}conn gw
    left=10.97.0.1
    leftid=@gw.example.org
    leftsubnet=10.1.0.0/24
    right=%any
    rightid=@rw.example.org
    rightsubnet=10.2.0.0/24
    leftupdown=/bin/true
    authby=secret
    ikev2=insist
    auto=add
`;

const DAEMON = `connections:
  gw:
    remote_addrs: [10.97.0.1]
    local: { auth: psk, id: rw.example.org }
    remote: { auth: psk, id: gw.example.org }
    children:
      net:
        local_ts: [10.2.0.0/24]
        remote_ts: [10.1.0.0/24]
secrets:
  ike:
    id: [rw.example.org, gw.example.org]
    secret: "${PSK}"
`;

Deno.test({
  name: "IKEv2 redirect (RFC 5685): pluto sends us to charon, charon sends us back",
  ignore: !haveLibreswan(),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const lab = await NetnsLab.create("tre-");
    const dir = await Deno.makeTempDir({ prefix: "tre-" });
    let pluto: Pluto | undefined;
    let charon: Charon | undefined;
    let socket: string | undefined;
    try {
      const c = await lab.addNs("c");
      const l = await lab.addNs("l");
      const d = await lab.addNs("d");
      await lab.veth(c, "vc", "10.96.0.1/24", d, "vdc", "10.96.0.2/24");
      await lab.veth(l, "vl", "10.97.0.1/24", d, "vdl", "10.97.0.2/24");
      ok(await lab.runIn(c, ["ip", "addr", "add", "10.1.0.1/32", "dev", "lo"]), "c: lo");
      ok(await lab.runIn(d, ["ip", "addr", "add", "10.2.0.1/32", "dev", "lo"]), "d: lo");
      charon = await Charon.start({ ns: c, dir: `${dir}/charon`, swanctlConf: "" });
      await charon.reload(swanctlConf({
        name: "rw",
        localAddr: "10.96.0.1",
        remoteAddr: "%any",
        localId: "gw.example.org",
        remoteId: "rw.example.org",
        auth: "psk",
        psk: PSK,
        ikeProposal: "aes256gcm16-prfsha256-x25519",
        espProposal: "aes256gcm16",
        localTs: "10.1.0.0/24",
        remoteTs: "10.2.0.0/24",
        extra: ["dpd_delay = 0"],
      }));
      pluto = await Pluto.start(
        lab,
        l,
        `${dir}/pluto`,
        PLUTO_CONF(true),
        `@gw.example.org @rw.example.org : PSK "${PSK}"\n`,
      );
      await lab.writeEtc(d, "hosts", "127.0.0.1 localhost\n10.97.0.1 pluto.redirect.test\n");
      const daemon = await startDaemonIn(lab, d, dir, "d", DAEMON);
      socket = daemon.socket;
      const why = async () =>
        `\n--- daemon ---\n${daemon.log()}\n--- pluto ---\n${await pluto!
          .log()}\n--- charon ---\n${await charon!.log()}`;

      // 1. pluto redirects our IKE_SA_INIT to charon; the tunnel comes up there.
      ok(await daemon.ipsec(["up", "gw", "--timeout", "15"]), `ipsec up${await why()}`);
      assert.match(daemon.log(), /redirected by 10\.97\.0\.1 to 10\.96\.0\.1/, await why());
      assert.match(daemon.log(), /IKE_SA_INIT request 0 \[[^\]]*N\(REDIR_SUP\)/);
      assert.match(daemon.log(), /IKE_SA_INIT request 0 \[[^\]]*N\(REDIR_FROM\)/);
      assert.match(await pluto.log(), /redirect/i, await why());
      const [sa] = await charon.waitSas(
        (s) => s.length === 1 && s[0].state === "ESTABLISHED",
        "one IKE SA",
      );
      assert.equal(sa.remoteAddr ?? "10.96.0.2", "10.96.0.2");
      const ping = await lab.runIn(d, ["ping", "-c", "3", "-W", "2", "-I", "10.2.0.1", "10.1.0.1"]);
      assert.equal(ping.code, 0, `pings through charon's tunnel:\n${ping.stdout}${await why()}`);

      // 2. charon sends the established IKE SA back to pluto (no longer redirecting).
      await pluto.stop();
      pluto = await Pluto.start(
        lab,
        l,
        `${dir}/pluto2`,
        PLUTO_CONF(false),
        `@gw.example.org @rw.example.org : PSK "${PSK}"\n`,
      );
      const r = await charon.swanctl([
        "--redirect",
        "--ike",
        "rw",
        "--gateway",
        "pluto.redirect.test",
      ]);
      assert.equal(r.code, 0, `swanctl --redirect: ${r.stdout}${r.stderr}`);
      await pluto.waitLog(/responder established IKE SA; authenticated peer using authby=secret/)
        .catch(async (e) => {
          throw new Error(`${(e as Error).message}${await why()}`);
        });
      assert.match(
        daemon.log(),
        /redirected by 10\.96\.0\.1 to pluto\.redirect\.test, establishing a new IKE_SA/,
      );
      assert.match(daemon.log(), /pluto\.redirect\.test is 10\.97\.0\.1, following the redirect/);
      // The IKE SA with charon goes once the new one is up.
      await charon.waitSas((s) => s.length === 0, "charon's IKE SA deleted by us");
      await waitFor(
        () =>
          Promise.resolve(
            /IKE_SA deleted: reauthenticated|IKE_SA deleted: redirected/.test(daemon.log()),
          ),
        () => daemon.log(),
      );
    } finally {
      if (socket) await run([...IPSEC, "stop", "--socket", socket]).catch(() => {});
      await pluto?.stop();
      await charon?.stop();
      await lab.cleanup();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
