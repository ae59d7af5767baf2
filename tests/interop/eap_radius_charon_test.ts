/**
 * EAP-RADIUS with strongSwan's charon as the road warrior: our engine is
 * the gateway (ECDSA certificate) and relays charon's EAP-MSCHAPv2 to
 * FreeRADIUS (tests/helpers/freeradius.ts, in the engine's namespace). The
 * final AUTHs are keyed by the MSK: charon's own, and ours from FreeRADIUS'
 * MS-MPPE keys; the child SA comes up only when they agree. A wrong
 * password is refused by FreeRADIUS through us.
 *
 * ```
 *  charon ──IKE_AUTH──► engine ──Access-Request{EAP-Message}──► FreeRADIUS
 *  charon ◄──EAP──────── engine ◄──Access-Challenge/Accept{MS-MPPE keys}──
 * ```
 *
 * @module
 */
import { issueCerts } from "../helpers/interop_certs.ts";
import { CHARON_ID, InteropLab } from "../helpers/interop_lab.ts";
import { swanctlConf } from "../helpers/strongswan.ts";
import { startFreeRadius } from "../helpers/freeradius.ts";

const PASSWORD = "Rad-1us passw0rd";
const SECRET = "interop radius secret";

Deno.test({
  name: "strongSwan interop: charon's EAP-MSCHAPv2 client through our gateway to FreeRADIUS",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lab = await InteropLab.create();
    const fr = await startFreeRadius({
      address: "127.0.0.1",
      port: 1812,
      secret: SECRET,
      clients: "127.0.0.1/32",
      users: { [CHARON_ID]: PASSWORD, ivan: PASSWORD },
      netns: lab.engineNs,
    });
    try {
      const certs = await issueCerts(`${lab.dir}/ecdsa`, "ipsec", "ecdsa");
      const radius = { address: "127.0.0.1", port: 1812, secret: SECRET };
      await t.step("charon client, EAP identity = its IKE identity", () =>
        lab.runCase({
          name: "r1",
          ike: "aes256gcm16-prfsha256-ecp256",
          esp: "aes256gcm16",
          initiator: "charon",
          deleter: "charon",
          certs,
          engine: { eap: { role: "server", users: [], radius } },
          charon: {
            eap: {
              side: "local",
              method: "eap-mschapv2",
              users: [{ id: CHARON_ID, secret: PASSWORD }],
            },
          },
          expectCharonLog: /EAP method EAP_MSCHAPV2 succeeded, MSK established/,
        }).then(() => {
          if (!/Sent Access-Accept .*\n(.*\n)*.*MS-MPPE-Recv-Key/.test(fr.log())) {
            throw new Error("FreeRADIUS sent no Access-Accept with MS-MPPE keys");
          }
        }));
      await t.step("a wrong password: FreeRADIUS refuses charon through us", async () => {
        const c = {
          name: "r2",
          ike: "aes256gcm16-prfsha256-x25519",
          esp: "aes256gcm16",
          initiator: "charon" as const,
          deleter: "engine" as const,
          certs,
          engine: { eap: { role: "server" as const, eapId: "%any", users: [], radius } },
          charon: {
            eap: {
              side: "local" as const,
              method: "eap-mschapv2",
              eapId: "ivan",
              users: [{ id: "ivan", secret: "wrong" }],
            },
          },
        };
        await lab.withLogs(c, async () => {
          await lab.charon.reload(swanctlConf(InteropLab.charonConn(c)));
          await lab.engine.configure(InteropLab.engineSpec(c));
          const mark = lab.engine.mark();
          const r = await lab.charon.swanctl(
            ["--initiate", "--ike", "r2", "--child", "r2-net", "--timeout", "10"],
          );
          if (r.code === 0) throw new Error("charon's initiate succeeded with a wrong password");
          const ev = await lab.engine.waitFor(
            (o) => o.type === "event" && /^(child-up|ike-failed|ike-down)$/.test(`${o.event}`),
            mark,
          );
          if (ev.event === "child-up") throw new Error("a child SA came up with a wrong password");
          await lab.charon.waitSas((s) => s.length === 0, "no SAs after the refusal");
        });
      });
    } catch (e) {
      throw new Error(`${(e as Error).message}\n--- FreeRADIUS ---\n${fr.log().slice(-6000)}`);
    } finally {
      await fr.stop();
      await lab.close();
    }
  },
});
