/**
 * EAP-TLS (RFC 5216) with strongSwan's charon (eap-tls plugin, its own TLS
 * stack): our engine as the EAP-TLS client of charon's gateway and as the
 * gateway (TLS server) of charon's client, with ECDSA and RSA certificates
 * from `ipsec pki` and from strongSwan's `pki`. The AUTH payloads after EAP
 * are keyed by the MSK each side derives from its own TLS session, so the
 * exchange only completes when both MSKs agree; charon must log it. A client
 * certificate that does not name the EAP identity is refused by our gateway.
 *
 * ```
 *  client ──IKE_AUTH {IDi [CERTREQ] IDr SA TSi TSr}──────────────► gateway
 *  client ◄──{IDr CERT AUTH EAP(Request/TLS Start)}
 *  client ──{EAP(TLS ClientHello)} ... TLS 1.2 in fragments ... ◄── {EAP(Success)}
 *  client ──{AUTH(MSK)}──────────────────────────────────────────► gateway
 *  client ◄──{AUTH(MSK) SA TSi TSr}
 * ```
 *
 * @module
 */
import { issueCerts } from "../helpers/interop_certs.ts";
import { InteropLab } from "../helpers/interop_lab.ts";

const MSK = /EAP method EAP_TLS succeeded, MSK established/;

Deno.test({
  name: "strongSwan interop: EAP-TLS, each side as client and as gateway",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lab = await InteropLab.create();
    try {
      const sets = [];
      for (const [issuer, type] of [["ipsec", "ecdsa"], ["strongswan", "rsa"]] as const) {
        const certs = await issueCerts(`${lab.dir}/${issuer}-${type}`, issuer, type);
        sets.push(certs);
        await t.step(
          `${type} (${issuer} pki): engine EAP-TLS client, charon gateway`,
          () =>
            lab.runCase({
              name: `t${type[0]}1`,
              ike: "aes256gcm16-prfsha384-x25519",
              esp: "aes256gcm16",
              initiator: "engine",
              deleter: "charon",
              certs,
              engine: { eap: { role: "peer", methods: ["tls"], users: [] } },
              charon: {
                eap: { side: "remote", method: "eap-tls", eapId: "%any", users: [] },
              },
              expectCharonLog: MSK,
            }),
        );
        await t.step(
          `${type} (${issuer} pki): charon EAP-TLS client, engine gateway`,
          () =>
            lab.runCase({
              name: `t${type[0]}2`,
              ike: "aes128gcm16-prfsha256-ecp256",
              esp: "aes128gcm16",
              initiator: "charon",
              deleter: "engine",
              certs,
              engine: { eap: { role: "server", methods: ["tls"], users: [] } },
              charon: { eap: { side: "local", method: "eap-tls", users: [] } },
              expectCharonLog: MSK,
            }),
        );
      }
      const certs = sets[0];
      await t.step(
        "our gateway refuses charon's certificate for another EAP identity",
        async () => {
          const c = {
            name: "t3",
            ike: "aes256gcm16-prfsha256-x25519",
            esp: "aes256gcm16",
            initiator: "charon" as const,
            deleter: "engine" as const,
            certs,
            // Our gateway expects EAP identity mallory@example.org; charon's certificate names moon.
            engine: {
              eap: {
                role: "server" as const,
                methods: ["tls" as const],
                eapId: "mallory@example.org",
                users: [],
              },
            },
            charon: { eap: { side: "local" as const, method: "eap-tls", users: [] } },
          };
          await lab.refuseCharon(
            c,
            /the client's certificate: it does not name 'mallory@example\.org'/,
            /EAP method EAP_TLS failed|received EAP_FAILURE/,
          );
        },
      );
    } finally {
      await lab.close();
    }
  },
});
