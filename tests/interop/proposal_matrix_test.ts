/**
 * IKE/ESP proposal interop with strongSwan: every cipher suite the issue
 * names (aes128gcm16, aes256gcm16, chacha20poly1305, aes256-sha256) and
 * AES-CTR with HMAC (aes128ctr-sha256, aes192ctr-sha512, aes256ctr-sha384;
 * RFC 5930 for IKE, RFC 3686 for ESP, charon's openssl plugin and
 * kernel-libipsec) with every key exchange (modp2048, ecp256, ecp384,
 * x25519), in both directions.
 * Each case establishes an IKE SA and a child SA, checks that our engine and
 * charon agree on IKE SPIs, ESP SPIs and the algorithms charon reports, then
 * deletes the IKE SA (the deleter alternates, so each side deletes as both
 * initiator and responder).
 *
 * ```
 *  initiator = engine:  engine ──IKE_SA_INIT, IKE_AUTH──► charon
 *  initiator = charon:  charon ──IKE_SA_INIT, IKE_AUTH──► engine
 *  then the deleter:    ──INFORMATIONAL [ D ]──► the other side
 * ```
 *
 * AES-CCM (RFC 4309 / RFC 5282, charon's openssl plugin) has its own smaller
 * set: each ICV length and key size once, IKE and ESP, both directions; so
 * have the Brainpool groups (RFC 6954: ecp256bp, ecp384bp, ecp512bp), 3DES
 * with MODP 1024/1536 and Camellia CBC/CTR.
 *
 * The expected strongSwan spellings are written out here from strongSwan's
 * transform names, independently of our own tables.
 *
 * @module
 */
import { type InteropCase, InteropLab } from "../helpers/interop_lab.ts";

const CIPHERS = [
  { ike: "aes128gcm16-prfsha256", esp: "aes128gcm16", swan: "AES_GCM_16-128", prf: "SHA2_256" },
  { ike: "aes256gcm16-prfsha384", esp: "aes256gcm16", swan: "AES_GCM_16-256", prf: "SHA2_384" },
  {
    ike: "chacha20poly1305-prfsha256",
    esp: "chacha20poly1305",
    swan: "CHACHA20_POLY1305",
    prf: "SHA2_256",
  },
  {
    ike: "aes256-sha256",
    esp: "aes256-sha256",
    swan: "AES_CBC-256/HMAC_SHA2_256_128",
    prf: "SHA2_256",
  },
  {
    ike: "aes128ctr-sha256",
    esp: "aes128ctr-sha256",
    swan: "AES_CTR-128/HMAC_SHA2_256_128",
    prf: "SHA2_256",
  },
  {
    ike: "aes192ctr-sha512",
    esp: "aes192ctr-sha512",
    swan: "AES_CTR-192/HMAC_SHA2_512_256",
    prf: "SHA2_512",
  },
  {
    ike: "aes256ctr-sha384",
    esp: "aes256ctr-sha384",
    swan: "AES_CTR-256/HMAC_SHA2_384_192",
    prf: "SHA2_384",
  },
] as const;

const GROUPS = [
  { kw: "modp2048", swan: "MODP_2048" },
  { kw: "ecp256", swan: "ECP_256" },
  { kw: "ecp384", swan: "ECP_384" },
  { kw: "x25519", swan: "CURVE_25519" },
] as const;

function cases(): InteropCase[] {
  const out: InteropCase[] = [];
  let n = 0;
  for (const c of CIPHERS) {
    for (const g of GROUPS) {
      for (const initiator of ["engine", "charon"] as const) {
        n++;
        out.push({
          name: `p${n}`,
          ike: `${c.ike}-${g.kw}`,
          esp: c.esp,
          initiator,
          // Alternate so each side deletes both as the original initiator and as responder.
          deleter: (n >> 1) % 2 === 0 ? initiator : (initiator === "engine" ? "charon" : "engine"),
          expectIke: `${c.swan}/PRF_HMAC_${c.prf}/${g.swan}`,
          expectEsp: `ESP:${c.swan}`,
        });
      }
    }
  }
  return out;
}

Deno.test({
  name: "strongSwan interop: proposal matrix (7 ciphers x 4 groups x both directions)",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lab = await InteropLab.create();
    try {
      for (const c of cases()) {
        await t.step(
          `${c.ike} / ${c.esp}: ${c.initiator} initiates, ${c.deleter} deletes`,
          () => lab.runCase(c),
        );
      }
    } finally {
      await lab.close();
    }
  },
});

/**
 * AES-CCM for IKE and ESP, the Brainpool groups (RFC 6954), the larger
 * MODP groups (RFC 3526), ECP 521 and Curve448 for IKE:
 * [IKE proposal, ESP proposal, charon's IKE line, charon's ESP line].
 */
const EXPLICIT_CASES = [
  [
    "aes128ccm16-prfsha256-x25519",
    "aes128ccm16",
    "AES_CCM_16-128/PRF_HMAC_SHA2_256/CURVE_25519",
    "ESP:AES_CCM_16-128",
  ],
  [
    "aes256ccm8-prfsha384-ecp256",
    "aes256ccm12",
    "AES_CCM_8-256/PRF_HMAC_SHA2_384/ECP_256",
    "ESP:AES_CCM_12-256",
  ],
  [
    "aes192ccm12-prfsha512-modp2048",
    "aes192ccm8",
    "AES_CCM_12-192/PRF_HMAC_SHA2_512/MODP_2048",
    "ESP:AES_CCM_8-192",
  ],
  [
    "aes256gcm16-prfsha256-ecp256bp",
    "aes256gcm16",
    "AES_GCM_16-256/PRF_HMAC_SHA2_256/ECP_256_BP",
    "ESP:AES_GCM_16-256",
  ],
  [
    "aes128-sha256-ecp384bp",
    "aes128-sha256",
    "AES_CBC-128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/ECP_384_BP",
    "ESP:AES_CBC-128/HMAC_SHA2_256_128",
  ],
  [
    "chacha20poly1305-prfsha512-ecp512bp",
    "chacha20poly1305",
    "CHACHA20_POLY1305/PRF_HMAC_SHA2_512/ECP_512_BP",
    "ESP:CHACHA20_POLY1305",
  ],
  // The larger RFC 3526 groups, ECP 521 and Curve448.
  [
    "aes128gcm16-prfsha256-modp4096",
    "aes128gcm16",
    "AES_GCM_16-128/PRF_HMAC_SHA2_256/MODP_4096",
    "ESP:AES_GCM_16-128",
  ],
  [
    "aes256gcm16-prfsha384-modp6144",
    "aes256gcm16",
    "AES_GCM_16-256/PRF_HMAC_SHA2_384/MODP_6144",
    "ESP:AES_GCM_16-256",
  ],
  [
    "aes256-sha512-modp8192",
    "aes256-sha512",
    "AES_CBC-256/HMAC_SHA2_512_256/PRF_HMAC_SHA2_512/MODP_8192",
    "ESP:AES_CBC-256/HMAC_SHA2_512_256",
  ],
  [
    "aes256gcm16-prfsha512-ecp521",
    "aes256gcm16",
    "AES_GCM_16-256/PRF_HMAC_SHA2_512/ECP_521",
    "ESP:AES_GCM_16-256",
  ],
  [
    "chacha20poly1305-prfsha256-x448",
    "chacha20poly1305",
    "CHACHA20_POLY1305/PRF_HMAC_SHA2_256/CURVE_448",
    "ESP:CHACHA20_POLY1305",
  ],
  // Legacy suites old Windows clients offer (RFC 2451 3DES, MODP 1024/1536 named explicitly).
  [
    "3des-sha1-modp1024",
    "3des-sha1",
    "3DES_CBC/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1024",
    "ESP:3DES_CBC/HMAC_SHA1_96",
  ],
  [
    "aes256-sha256-modp1536",
    "3des-sha256",
    "AES_CBC-256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_1536",
    "ESP:3DES_CBC/HMAC_SHA2_256_128",
  ],
  // Camellia (RFC 5529): CBC and CTR, IKE and ESP.
  [
    "camellia256-sha256-ecp256",
    "camellia128-sha256",
    "CAMELLIA_CBC-256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/ECP_256",
    "ESP:CAMELLIA_CBC-128/HMAC_SHA2_256_128",
  ],
  [
    "camellia192ctr-sha384-x25519",
    "camellia256ctr-sha1",
    "CAMELLIA_CTR-192/HMAC_SHA2_384_192/PRF_HMAC_SHA2_384/CURVE_25519",
    "ESP:CAMELLIA_CTR-256/HMAC_SHA1_96",
  ],
] as const;

Deno.test({
  name:
    "strongSwan interop: AES-CCM 8/12/16 for IKE and ESP, Brainpool ECP, MODP 4096/6144/8192, ECP 521, Curve448, 3DES, MODP 1024/1536, Camellia, both directions",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lab = await InteropLab.create();
    try {
      let n = 0;
      for (const [ike, esp, expectIke, expectEsp] of EXPLICIT_CASES) {
        for (const initiator of ["engine", "charon"] as const) {
          n++;
          const c: InteropCase = {
            name: `x${n}`,
            ike,
            esp,
            initiator,
            deleter: n % 2 === 0 ? "engine" : "charon",
            expectIke,
            expectEsp,
          };
          await t.step(
            `${ike} / ${esp}: ${initiator} initiates, ${c.deleter} deletes`,
            () => lab.runCase(c),
          );
        }
      }
    } finally {
      await lab.close();
    }
  },
});
