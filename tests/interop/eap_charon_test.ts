/**
 * EAP authentication (RFC 7296 section 2.16) with strongSwan's charon
 * (eap-identity, eap-md5, eap-mschapv2 plugins): our engine as the EAP peer
 * of charon's gateway, and as the gateway of charon's EAP client; the gateway
 * proves itself by PSK or by ECDSA certificate. charon must log the method's
 * success (and an MSK for MSCHAPv2): the AUTH payloads after EAP are keyed
 * by it, so a wrong MSK layout fails the final exchange on either side. A
 * wrong password is refused by charon's gateway, and the engine reports it.
 *
 * ```
 *  client ──IKE_AUTH {IDi [CERTREQ] IDr SA TSi TSr}──────────► gateway
 *  client ◄─────────{IDr [CERT] AUTH EAP(Request/Identity|MSCHAPv2)}
 *  client ──{EAP(Response)} ... ◄── {EAP(Success)}
 *  client ──{AUTH(MSK)}──────────────────────────────────────► gateway
 *  client ◄─────────{AUTH(MSK) SA TSi TSr}
 * ```
 *
 * @module
 */
import { issueCerts } from "../helpers/interop_certs.ts";
import { CHARON_ID, ENGINE_ID, InteropLab } from "../helpers/interop_lab.ts";
import { swanctlConf } from "../helpers/strongswan.ts";

const PASSWORD = "Ek6-ruMi passw0rd";
const MSK = /EAP method EAP_MSCHAPV2 succeeded, MSK established/;

Deno.test({
  name: "strongSwan interop: EAP-MSCHAPv2 and EAP-MD5, each side as EAP client and as gateway",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lab = await InteropLab.create();
    try {
      await t.step(
        "engine EAP-MSCHAPv2 client (EAP id = IDi), charon PSK gateway",
        () =>
          lab.runCase({
            name: "e1",
            ike: "aes256gcm16-prfsha256-x25519",
            esp: "aes256gcm16",
            initiator: "engine",
            deleter: "charon",
            engine: { eap: { role: "peer", users: [{ id: ENGINE_ID, secret: PASSWORD }] } },
            charon: {
              eap: {
                side: "remote",
                method: "eap-mschapv2",
                users: [{ id: ENGINE_ID, secret: PASSWORD }],
              },
            },
            expectCharonLog: MSK,
          }),
      );
      await t.step(
        "charon EAP-MSCHAPv2 client (eap_id carol), engine PSK gateway asking EAP-Identity",
        () =>
          lab.runCase({
            name: "e2",
            ike: "aes128gcm16-prfsha256-ecp256",
            esp: "aes128gcm16",
            initiator: "charon",
            deleter: "engine",
            engine: {
              eap: {
                role: "server",
                eapId: "%any",
                users: [{ id: "alice", secret: "nope" }, { id: "carol", secret: PASSWORD }],
              },
            },
            charon: {
              eap: {
                side: "local",
                method: "eap-mschapv2",
                eapId: "carol",
                users: [{ id: "carol", secret: PASSWORD }],
              },
            },
            expectCharonLog: MSK,
          }),
      );
      const certs = await issueCerts(`${lab.dir}/ecdsa`, "ipsec", "ecdsa");
      await t.step(
        "engine EAP-MSCHAPv2 client, charon certificate gateway with eap_id %any",
        () =>
          lab.runCase({
            name: "e3",
            ike: "aes256gcm16-prfsha384-x25519",
            esp: "chacha20poly1305",
            initiator: "engine",
            deleter: "engine",
            certs,
            engine: {
              sendCert: "ifasked",
              eap: { role: "peer", eapId: "dave", users: [{ id: "dave", secret: PASSWORD }] },
            },
            charon: {
              eap: {
                side: "remote",
                method: "eap-mschapv2",
                eapId: "%any",
                users: [{ id: "dave", secret: PASSWORD }],
              },
            },
            expectCharonLog: MSK,
          }),
      );
      await t.step("charon EAP-MSCHAPv2 client, engine certificate gateway", () =>
        lab.runCase({
          name: "e4",
          ike: "aes256gcm16-prfsha256-ecp256",
          esp: "aes256gcm16",
          initiator: "charon",
          deleter: "charon",
          certs,
          // No eap_id on either side: the EAP identity is charon's IKE identity (IDi).
          engine: { eap: { role: "server", users: [{ id: CHARON_ID, secret: PASSWORD }] } },
          charon: {
            eap: {
              side: "local",
              method: "eap-mschapv2",
              users: [{ id: CHARON_ID, secret: PASSWORD }],
            },
          },
          expectCharonLog: MSK,
        }));
      await t.step("EAP-MD5 (no MSK: AUTH keyed by SK_p) both ways", async () => {
        await lab.runCase({
          name: "e5",
          ike: "aes256gcm16-prfsha256-x25519",
          esp: "aes256gcm16",
          initiator: "engine",
          deleter: "charon",
          engine: {
            eap: { role: "peer", eapId: "frank", users: [{ id: "frank", secret: PASSWORD }] },
          },
          charon: {
            eap: {
              side: "remote",
              method: "eap-md5",
              eapId: "%any",
              users: [{ id: "frank", secret: PASSWORD }],
            },
          },
          expectCharonLog: /EAP method EAP_MD5 succeeded, no MSK established/,
        });
        await lab.runCase({
          name: "e6",
          ike: "aes256gcm16-prfsha256-x25519",
          esp: "aes256gcm16",
          initiator: "charon",
          deleter: "engine",
          engine: {
            eap: {
              role: "server",
              methods: ["md5"],
              eapId: "%any",
              users: [{ id: "gina", secret: PASSWORD }],
            },
          },
          charon: {
            eap: {
              side: "local",
              method: "eap-md5",
              eapId: "gina",
              users: [{ id: "gina", secret: PASSWORD }],
            },
          },
          expectCharonLog: /EAP method EAP_MD5 succeeded, no MSK established/,
        });
      });
      await t.step(
        "a wrong password: charon's gateway refuses, the engine reports it",
        async () => {
          const c = {
            name: "e7",
            ike: "aes256gcm16-prfsha256-x25519",
            esp: "aes256gcm16",
            initiator: "engine" as const,
            deleter: "engine" as const,
            engine: {
              eap: {
                role: "peer" as const,
                eapId: "hank",
                users: [{ id: "hank", secret: "wrong" }],
              },
            },
            charon: {
              eap: {
                side: "remote" as const,
                method: "eap-mschapv2",
                eapId: "%any",
                users: [{ id: "hank", secret: PASSWORD }],
              },
            },
          };
          await lab.withLogs(c, async () => {
            await lab.charon.reload(
              (await import("../helpers/strongswan.ts")).swanctlConf(InteropLab.charonConn(c)),
            );
            await lab.engine.configure(InteropLab.engineSpec(c));
            const mark = lab.engine.mark();
            const logMark = await lab.charon.logMark();
            await lab.engine.initiate();
            const ev = await lab.engine.waitFor(
              (o) => o.type === "event" && /^(child-up|ike-failed)$/.test(`${o.event}`),
              mark,
            );
            if (ev.event !== "ike-failed" || !/EAP authentication failed/.test(`${ev.reason}`)) {
              throw new Error(`expected ike-failed by EAP, got ${JSON.stringify(ev)}`);
            }
            await lab.charon.waitLog(/EAP method EAP_MSCHAPV2 failed for peer/, logMark);
            await lab.charon.waitSas((s) => s.length === 0, "no SAs after the refusal");
          });
        },
      );
      await t.step("a wrong password: our gateway refuses charon's client", async () => {
        const c = {
          name: "e8",
          ike: "aes256gcm16-prfsha256-x25519",
          esp: "aes256gcm16",
          initiator: "charon" as const,
          deleter: "engine" as const,
          engine: {
            eap: {
              role: "server" as const,
              eapId: "%any",
              users: [{ id: "ivan", secret: PASSWORD }],
            },
          },
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
          const logMark = await lab.charon.logMark();
          const r = await lab.charon.swanctl(
            ["--initiate", "--ike", "e8", "--child", "e8-net", "--timeout", "10"],
          );
          if (r.code === 0) throw new Error("charon's initiate succeeded with a wrong password");
          // charon fails the method at our MSCHAPv2 Failure request (E=691) and tells us
          // with N(AUTHENTICATION_FAILED) instead of answering it.
          const ev = await lab.engine.waitFor(
            (o) => o.type === "event" && /^(child-up|ike-failed|ike-down)$/.test(`${o.event}`),
            mark,
          );
          if (ev.event === "child-up") throw new Error("a child SA came up with a wrong password");
          await lab.charon.waitLog(
            /EAP-MS-CHAPv2 failed with error ERROR_AUTHENTICATION_FAILURE/,
            logMark,
          );
          await lab.charon.waitSas((s) => s.length === 0, "no SAs after the refusal");
          const ours = (await lab.engine.list()).filter((sa) => sa.state === "established");
          if (ours.length !== 0) throw new Error(`engine has SAs: ${JSON.stringify(ours)}`);
        });
      });
    } finally {
      await lab.close();
    }
  },
});
