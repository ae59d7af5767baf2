/**
 * Post-quantum preshared keys (RFC 8784) with strongSwan's charon
 * (`ppk_id`, `ppk_required`, a `ppk` secret): both ways with PSK and ECDSA
 * certificates the PPK keys both AUTHs and the child SAs (charon lists
 * "/PPK" among the IKE SA's algorithms, and the child SA, keyed from SK_d',
 * must agree); a charon that does not hold our PPK id takes our
 * NO_PPK_AUTH (no "/PPK").
 *
 * ```
 *  initiator ──IKE_SA_INIT [ ... N(USE_PPK) ]──────────────────────► responder
 *  initiator ──IKE_AUTH { IDi AUTH(SK_pi') N(PPK_ID) [N(NO_PPK_AUTH)] SA TSi TSr }──►
 *  initiator ◄──────────{ IDr AUTH(SK_pr') N(PPK_ID) SA TSi TSr }
 * ```
 *
 * @module
 */
import { issueCerts } from "../helpers/interop_certs.ts";
import { InteropLab } from "../helpers/interop_lab.ts";

const PPK = "e1c0f3a9b6d24758a1c2d3e4f5061728394a5b6c7d8e9fa0b1c2d3e4f5061728";

Deno.test({
  name: "strongSwan interop: post-quantum preshared keys (RFC 8784) both ways",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lab = await InteropLab.create();
    const ppk = { id: "ppk-1", secretHex: PPK };
    try {
      for (const initiator of ["engine", "charon"] as const) {
        await t.step(`PSK + PPK, ${initiator} initiates`, () =>
          lab.runCase({
            name: `p-${initiator}`,
            ike: "aes256gcm16-prfsha256-x25519",
            esp: "aes256gcm16",
            initiator,
            deleter: initiator,
            engine: { ppk },
            charon: { ppk },
            expectIke: "AES_GCM_16-256/PRF_HMAC_SHA2_256/CURVE_25519/PPK",
          }));
      }
      const certs = await issueCerts(`${lab.dir}/ecdsa`, "ipsec", "ecdsa");
      for (const initiator of ["engine", "charon"] as const) {
        await t.step(
          `ECDSA certificates + required PPK, ${initiator} initiates`,
          () =>
            lab.runCase({
              name: `c-${initiator}`,
              ike: "aes256gcm16-prfsha384-ecp256",
              esp: "chacha20poly1305",
              initiator,
              deleter: initiator === "engine" ? "charon" : "engine",
              certs,
              engine: { ppk: { ...ppk, required: true } },
              charon: { ppk: { ...ppk, required: true } },
              expectIke: "AES_GCM_16-256/PRF_HMAC_SHA2_384/ECP_256/PPK",
            }),
        );
      }
      await t.step(
        "charon holds no PPK under our id: our NO_PPK_AUTH carries us",
        () =>
          lab.runCase({
            name: "p-fallback",
            ike: "aes256gcm16-prfsha256-x25519",
            esp: "aes256gcm16",
            initiator: "engine",
            deleter: "engine",
            engine: { ppk },
            charon: { ppk: { id: "another-ppk", secretHex: PPK, secretOnly: true } },
            expectCharonLog: /NO_PPK_AUTH/,
          }),
      );
    } finally {
      await lab.close();
    }
  },
});
