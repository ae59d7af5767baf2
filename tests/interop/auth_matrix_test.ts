/**
 * Authentication interop with strongSwan: PSK, and certificates with ECDSA
 * P-256, RSA-2048 and Ed25519 keys, issued once by our `ipsec pki` and once by
 * strongSwan's `pki`, each case in both directions. Both sides send their
 * certificate and verify the peer's chain to the shared CA; charon's log must
 * show the signature scheme it verified on our AUTH payload (RFC 7427 digital
 * signatures, announced by both sides in SIGNATURE_HASH_ALGORITHMS), and
 * both sides must agree on SPIs and algorithms (see tests/helpers/interop_lab.ts).
 *
 * ```
 *  initiator ──IKE_SA_INIT [N(HASH_ALG)]────────────────────────► responder
 *  initiator ──IKE_AUTH {IDi CERT CERTREQ IDr AUTH SA TSi TSr}──► responder
 *  initiator ◄──────────────────{IDr CERT AUTH SA TSi TSr}─────── responder
 * ```
 *
 * @module
 */
import { type CertKeyType, issueCerts, type Issuer } from "../helpers/interop_certs.ts";
import { ENGINE_ID, InteropLab } from "../helpers/interop_lab.ts";

/** The scheme charon names when it verifies our AUTH (strongSwan's signature_scheme names). */
const SCHEME: Record<CertKeyType, RegExp> = {
  ecdsa: /ECDSA_WITH_SHA256_DER/,
  rsa: /RSA_EMSA_(PKCS1_SHA2_(256|384|512)|PSS_SHA2_(256|384|512)_SALT_\d+)/,
  ed25519: /ED25519/,
};

function authLine(scheme: RegExp | string): RegExp {
  const s = typeof scheme === "string" ? scheme : scheme.source;
  return new RegExp(`authentication of '${ENGINE_ID.replaceAll(".", "\\.")}' with ${s} successful`);
}

Deno.test({
  name:
    "strongSwan interop: authentication matrix (PSK; ECDSA/RSA/Ed25519 by ipsec pki and strongSwan pki)",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lab = await InteropLab.create();
    try {
      let n = 0;
      for (const initiator of ["engine", "charon"] as const) {
        n++;
        await t.step(`PSK: ${initiator} initiates`, () =>
          lab.runCase({
            name: `a${n}`,
            ike: "aes256gcm16-prfsha256-x25519",
            esp: "aes256gcm16",
            initiator,
            deleter: initiator === "engine" ? "charon" : "engine",
            expectCharonLog: authLine("pre-shared key"),
          }));
      }
      for (const issuer of ["ipsec", "strongswan"] as Issuer[]) {
        for (const type of ["ecdsa", "rsa", "ed25519"] as CertKeyType[]) {
          const certs = await issueCerts(`${lab.dir}/${issuer}-${type}`, issuer, type);
          for (const initiator of ["engine", "charon"] as const) {
            n++;
            await t.step(
              `${type} certificates from ${issuer} pki: ${initiator} initiates`,
              () =>
                lab.runCase({
                  name: `a${n}`,
                  ike: "aes256gcm16-prfsha256-ecp256",
                  esp: "aes128gcm16",
                  initiator,
                  deleter: n % 2 === 0 ? "engine" : "charon",
                  certs,
                  expectCharonLog: authLine(SCHEME[type]),
                }),
            );
          }
        }
      }
    } finally {
      await lab.close();
    }
  },
});
