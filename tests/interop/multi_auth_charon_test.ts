/**
 * Multiple authentication rounds (RFC 4739) with strongSwan's charon: a
 * client proves itself first as a machine (PSK or ECDSA certificate), then
 * as a user by EAP-MSCHAPv2 (or EAP-TLS) with its own IKE identity (swanctl's `local-1` /
 * `local-2` and `remote-1` / `remote-2`). Both directions: our engine as
 * the client of charon's gateway and as the gateway of charon's client. The
 * second round's AUTHs are keyed by the MSK over the round's own IDi, so a
 * wrong layout fails the exchange. charon must log both rounds.
 *
 * ```
 *  client ──IKE_AUTH {IDi AUTH N(MULT_AUTH) N(AUTH_FOLLOWS) SA TSi TSr}──► gateway
 *  client ◄──{IDr AUTH}
 *  client ──{IDi'} ... EAP ... {AUTH(MSK)}──────────────────────────────► gateway
 *  client ◄──{AUTH(MSK) SA TSi TSr}
 * ```
 *
 * @module
 */
import { issueCerts } from "../helpers/interop_certs.ts";
import { InteropLab } from "../helpers/interop_lab.ts";

const PASSWORD = "Multi-r0und pass";
const MSK = /EAP method EAP_MSCHAPV2 succeeded, MSK established/;

Deno.test({
  name: "strongSwan interop: RFC 4739 machine then user (EAP-MSCHAPv2) authentication, both ways",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lab = await InteropLab.create();
    try {
      await t.step(
        "engine client: PSK, then EAP as 'alice'; charon gateway asks EAP-Identity",
        () =>
          lab.runCase({
            name: "m1",
            ike: "aes256gcm16-prfsha256-x25519",
            esp: "aes256gcm16",
            initiator: "engine",
            deleter: "charon",
            engine: {
              eap: {
                role: "peer",
                eapId: "alice",
                users: [{ id: "alice", secret: PASSWORD }],
                round2: { id: "alice-user@example.org" },
              },
            },
            charon: {
              eap: {
                side: "remote",
                method: "eap-mschapv2",
                eapId: "%any",
                users: [{ id: "alice", secret: PASSWORD }],
                round2: { id: "%any" },
              },
            },
            expectCharonLog: MSK,
          }),
      );
      const certs = await issueCerts(`${lab.dir}/ecdsa`, "ipsec", "ecdsa");
      await t.step(
        "charon client: certificate, then EAP as 'bob'; engine certificate gateway",
        () =>
          lab.runCase({
            name: "m2",
            ike: "aes256gcm16-prfsha384-ecp256",
            esp: "aes128gcm16",
            initiator: "charon",
            deleter: "engine",
            certs,
            engine: {
              eap: {
                role: "server",
                eapId: "%any",
                users: [{ id: "bob", secret: PASSWORD }],
                round2: { id: "bob-user@example.org" },
              },
            },
            charon: {
              eap: {
                side: "local",
                method: "eap-mschapv2",
                eapId: "bob",
                users: [{ id: "bob", secret: PASSWORD }],
                round2: { id: "bob-user@example.org" },
              },
            },
            expectCharonLog: MSK,
          }),
      );
      await t.step(
        "engine client: certificate, then EAP; charon certificate gateway",
        () =>
          lab.runCase({
            name: "m3",
            ike: "aes128gcm16-prfsha256-x25519",
            esp: "chacha20poly1305",
            initiator: "engine",
            deleter: "engine",
            certs,
            engine: {
              eap: {
                role: "peer",
                eapId: "carol",
                users: [{ id: "carol", secret: PASSWORD }],
                round2: { id: "carol@example.org" },
              },
            },
            charon: {
              eap: {
                side: "remote",
                method: "eap-mschapv2",
                eapId: "%any",
                users: [{ id: "carol", secret: PASSWORD }],
                round2: { id: "carol@example.org" },
              },
            },
            expectCharonLog: MSK,
          }),
      );
      await t.step(
        "engine client: certificate, then EAP-TLS; charon gateway (remote-2 eap-tls)",
        () =>
          lab.runCase({
            name: "m5",
            ike: "aes256gcm16-prfsha256-x25519",
            esp: "aes256gcm16",
            initiator: "engine",
            deleter: "charon",
            certs,
            engine: {
              eap: {
                role: "peer",
                methods: ["tls"],
                users: [],
                round2: { id: "sun.example.org" },
              },
            },
            charon: {
              eap: {
                side: "remote",
                method: "eap-tls",
                eapId: "%any",
                users: [],
                round2: { id: "%any" },
              },
            },
            expectCharonLog: /EAP method EAP_TLS succeeded, MSK established/,
          }),
      );
      await t.step(
        "charon client: certificate, then EAP-TLS; engine gateway (remote-2 eap-tls)",
        () =>
          lab.runCase({
            name: "m6",
            ike: "aes128gcm16-prfsha256-ecp256",
            esp: "aes128gcm16",
            initiator: "charon",
            deleter: "engine",
            certs,
            engine: {
              eap: {
                role: "server",
                methods: ["tls"],
                eapId: "%any",
                users: [],
                round2: { id: "%any" },
              },
            },
            charon: {
              eap: {
                side: "local",
                method: "eap-tls",
                users: [],
                round2: { id: "moon.example.org" },
              },
            },
            expectCharonLog: /EAP method EAP_TLS succeeded, MSK established/,
          }),
      );
      await t.step("our gateway refuses charon's client that skips the second round", async () => {
        const c = {
          name: "m4",
          ike: "aes256gcm16-prfsha256-x25519",
          esp: "aes256gcm16",
          initiator: "charon" as const,
          deleter: "engine" as const,
          engine: {
            eap: {
              role: "server" as const,
              eapId: "%any",
              users: [{ id: "dave", secret: PASSWORD }],
              round2: { id: "%any" },
            },
          },
        };
        await lab.refuseCharon(
          c,
          /requires 2 authentication rounds \(remote-2: eap\), the peer ended after 1/,
          /received AUTHENTICATION_FAILED notify error/,
        );
      });
    } finally {
      await lab.close();
    }
  },
});
