/**
 * EAP-TTLS (RFC 5281) with strongSwan's charon (eap-ttls plugin, its own TLS
 * stack and AVP code): our engine as the TTLS client of charon's gateway
 * (charon tunnels EAP-MD5, its default phase 2 method) and as the gateway of
 * charon's client (we tunnel EAP-MSCHAPv2); the AUTHs after EAP are keyed by
 * the MSK each side derives ("ttls keying material"), so the exchange only
 * completes when they agree. A wrong password fails inside the tunnel.
 *
 * ```
 *  client ──IKE_AUTH {IDi IDr SA TSi TSr}─────────────────────────► gateway
 *  client ◄──{IDr CERT AUTH EAP(Request/TTLS Start)}
 *  client ── TLS 1.2 handshake in EAP-TTLS fragments ──► (server certificate checked)
 *  client ── {EAP-Message AVP: Response/Identity} ... inner method ... ◄── {EAP(Success)}
 *  client ──{AUTH(MSK)}───────────────────────────────────────────► gateway
 * ```
 *
 * @module
 */
import { issueCerts } from "../helpers/interop_certs.ts";
import { InteropLab } from "../helpers/interop_lab.ts";

const PASSWORD = "Tunnel3d pass";
const MSK = /EAP method EAP_TTLS succeeded, MSK established/;

Deno.test({
  name: "strongSwan interop: EAP-TTLS, each side as client and as gateway",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lab = await InteropLab.create();
    try {
      const certs = await issueCerts(`${lab.dir}/ecdsa`, "ipsec", "ecdsa");
      await t.step("engine EAP-TTLS client, charon gateway (tunneled EAP-MD5)", () =>
        lab.runCase({
          name: "tt1",
          ike: "aes256gcm16-prfsha384-x25519",
          esp: "aes256gcm16",
          initiator: "engine",
          deleter: "charon",
          certs,
          engine: {
            eap: {
              role: "peer",
              methods: ["ttls"],
              eapId: "erin",
              users: [{ id: "erin", secret: PASSWORD }],
            },
          },
          charon: {
            eap: {
              side: "remote",
              method: "eap-ttls",
              eapId: "%any",
              users: [{ id: "erin", secret: PASSWORD }],
            },
          },
          expectCharonLog: MSK,
        }));
      await t.step(
        "charon EAP-TTLS client, engine gateway (tunneled EAP-MSCHAPv2)",
        () =>
          lab.runCase({
            name: "tt2",
            ike: "aes128gcm16-prfsha256-ecp256",
            esp: "aes128gcm16",
            initiator: "charon",
            deleter: "engine",
            certs,
            engine: {
              eap: {
                role: "server",
                methods: ["ttls"],
                eapId: "%any",
                users: [{ id: "fred", secret: PASSWORD }],
              },
            },
            charon: {
              eap: {
                side: "local",
                method: "eap-ttls",
                eapId: "fred",
                users: [{ id: "fred", secret: PASSWORD }],
              },
            },
            expectCharonLog: MSK,
          }),
      );
      await t.step("a wrong password: our gateway refuses inside the tunnel", async () => {
        const c = {
          name: "tt3",
          ike: "aes256gcm16-prfsha256-x25519",
          esp: "aes256gcm16",
          initiator: "charon" as const,
          deleter: "engine" as const,
          certs,
          engine: {
            eap: {
              role: "server" as const,
              methods: ["ttls" as const],
              eapId: "%any",
              users: [{ id: "gus", secret: PASSWORD }],
            },
          },
          charon: {
            eap: {
              side: "local" as const,
              method: "eap-ttls",
              eapId: "gus",
              users: [{ id: "gus", secret: "wrong" }],
            },
          },
        };
        await lab.refuseCharon(
          c,
          /EAP-TTLS tunneled method: MSCHAPv2: wrong NT-Response for "gus"/,
          /received EAP_FAILURE|EAP method EAP_TTLS failed/,
        );
      });
    } finally {
      await lab.close();
    }
  },
});
