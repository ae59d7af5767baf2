/**
 * Childless IKE SAs (RFC 6023, swanctl's `childless`) with strongSwan's
 * charon: with `childless: force` on the initiator (ours, then charon's),
 * IKE_AUTH carries no SA/TSi/TSr and the child SA follows in a
 * CREATE_CHILD_SA exchange; both sides must agree on it.
 *
 * ```
 *  initiator ──IKE_AUTH {IDi IDr AUTH}──────────────────────► responder
 *  initiator ──CREATE_CHILD_SA {SA No KE TSi TSr}───────────► responder
 * ```
 *
 * @module
 */
import { InteropLab } from "../helpers/interop_lab.ts";

Deno.test({
  name: "strongSwan interop: childless IKE SAs (RFC 6023), each side forcing it",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lab = await InteropLab.create();
    try {
      await t.step("engine childless: force", () =>
        lab.runCase({
          name: "cl-engine",
          ike: "aes256gcm16-prfsha256-x25519",
          esp: "aes256gcm16-x25519",
          initiator: "engine",
          deleter: "charon",
          engine: { childless: "force" },
          expectCharonLog: /parsed CREATE_CHILD_SA request 2 \[ SA No KE TSi TSr \]/,
        }));
      await t.step("charon childless = force", () =>
        lab.runCase({
          name: "cl-charon",
          ike: "aes256gcm16-prfsha256-x25519",
          esp: "aes256gcm16-x25519",
          initiator: "charon",
          deleter: "engine",
          charonExtra: ["dpd_delay = 0", "childless = force"],
          expectCharonLog: /generating CREATE_CHILD_SA request 2 \[ SA No KE TSi TSr \]/,
        }));
    } finally {
      await lab.close();
    }
  },
});
