/**
 * Key export for Wireshark, in the format of strongSwan's save-keys plugin:
 * lines of the `ikev2_decryption_table` and `esp_sa` UAT files Wireshark
 * reads from its profile directory. Off by default (EngineConfig.exportKeys);
 * the host appends the lines to files it creates with mode 0600.
 *
 * ```
 *   ikev2_decryption_table:
 *     SPIi,SPIr,SK_ei,SK_er,"<encr>",SK_ai,SK_ar,"<integ>"       (hex, no 0x)
 *   esp_sa (one line per direction):
 *     "IPv4","<src>","<dst>","0x<SPI>","<encr>","0x<key>","<integ>","0x<key>"
 * ```
 *
 * Algorithms Wireshark cannot decrypt give no line (as in strongSwan).
 *
 * @example
 * ```ts
 * const line = ikev2DecryptionLine(sa); // after IKE_SA_INIT
 * if (line) effects.push({ kind: "exportKeys", table: "ikev2_decryption_table", line });
 * ```
 *
 * @module
 */
import { EncrId, IntegId } from "../../crypto/transforms.ts";
import { toHex } from "../../wire/bytes.ts";
import type { ChildSa } from "../child_sa.ts";
import type { IkeSa } from "../ike_sa.ts";

const GCM_ICV: Readonly<Record<number, number>> = {
  [EncrId.AES_GCM_8]: 8,
  [EncrId.AES_GCM_12]: 12,
  [EncrId.AES_GCM_16]: 16,
};

/** Wireshark's IKEv2 table has AES-CCM; its ESP one (packet-ipsec.c) has no CCM, so no esp_sa line. */
const CCM_ICV: Readonly<Record<number, number>> = {
  [EncrId.AES_CCM_8]: 8,
  [EncrId.AES_CCM_12]: 12,
  [EncrId.AES_CCM_16]: 16,
};

function ikeEncrName(id: number, bits: number | undefined): string | undefined {
  if (id === EncrId.DES3) return "3DES [RFC2451]";
  if (id === EncrId.AES_CBC) return `AES-CBC-${bits} [RFC3602]`;
  if (id === EncrId.AES_CTR) return `AES-CTR-${bits} [RFC5930]`;
  const icv = GCM_ICV[id];
  if (icv) return `AES-GCM-${bits} with ${icv} octet ICV [RFC5282]`;
  const ccm = CCM_ICV[id];
  if (ccm) return `AES-CCM-${bits} with ${ccm} octet ICV [RFC5282]`;
  return undefined;
}

const IKE_INTEG: Readonly<Record<number, string>> = {
  [IntegId.HMAC_SHA1_96]: "HMAC_SHA1_96 [RFC2404]",
  [IntegId.HMAC_SHA2_256_128]: "HMAC_SHA2_256_128 [RFC4868]",
  [IntegId.HMAC_SHA2_384_192]: "HMAC_SHA2_384_192 [RFC4868]",
  [IntegId.HMAC_SHA2_512_256]: "HMAC_SHA2_512_256 [RFC4868]",
};

const ESP_INTEG: Readonly<Record<number, string>> = {
  [IntegId.HMAC_SHA1_96]: "HMAC-SHA-1-96 [RFC2404]",
  [IntegId.HMAC_SHA2_256_128]: "HMAC-SHA-256-128 [RFC4868]",
  [IntegId.HMAC_SHA2_384_192]: "HMAC-SHA-384-192 [RFC4868]",
  [IntegId.HMAC_SHA2_512_256]: "HMAC-SHA-512-256 [RFC4868]",
};

function spi64(v: bigint): string {
  return v.toString(16).padStart(16, "0");
}

/** The `ikev2_decryption_table` line of an IKE SA with keys, or undefined. */
export function ikev2DecryptionLine(sa: IkeSa): string | undefined {
  const s = sa.suite, k = sa.keys;
  if (!s || !k) return undefined;
  const encr = ikeEncrName(s.encrId, s.encrKeyBits);
  const integ = GCM_ICV[s.encrId] || CCM_ICV[s.encrId]
    ? "NONE [RFC4306]"
    : IKE_INTEG[s.integId ?? 0];
  if (!encr || !integ) return undefined;
  return `${spi64(sa.spiI)},${spi64(sa.spiR)},${toHex(k.skEi)},${toHex(k.skEr)},"${encr}",` +
    `${toHex(k.skAi)},${toHex(k.skAr)},"${integ}"`;
}

/**
 * The two `esp_sa` lines (outbound, inbound) of an ESP child SA, or none.
 * ENCR_NULL_AUTH_AES_GMAC (RFC 4543) gets none: Wireshark's ESP table
 * (packet-ipsec.c) has no GMAC entry, and "NULL" would dissect its 8-byte IV
 * as payload (strongSwan's save-keys exports nothing for it either).
 */
export function espSaLines(sa: IkeSa, c: ChildSa): string[] {
  const s = c.suite;
  if (!s || s.protocol !== "esp" || s.encrId === undefined) return [];
  const icv = GCM_ICV[s.encrId];
  const encr = s.encrId === EncrId.AES_CBC
    ? "AES-CBC [RFC3602]"
    : s.encrId === EncrId.DES3
    ? "TripleDES-CBC [RFC2451]"
    : s.encrId === EncrId.AES_CTR
    ? "AES-CTR [RFC3686]"
    : icv
    ? "AES-GCM [RFC4106]"
    : undefined;
  const integ = icv
    ? `ANY ${icv * 8} bit authentication [no checking]`
    : c.config.sha256Icv96 && s.integId === IntegId.HMAC_SHA2_256_128
    ? "HMAC-SHA-256-96 [draft-ietf-ipsec-ciph-sha-256-00]"
    : ESP_INTEG[s.integId ?? 0];
  if (!encr || !integ) return [];
  const family = sa.local.address.includes(":") ? "IPv6" : "IPv4";
  const line = (src: string, dst: string, spi: number, ek?: Uint8Array, ik?: Uint8Array) =>
    `"${family}","${src}","${dst}","0x${spi.toString(16).padStart(8, "0")}","${encr}",` +
    `"0x${toHex(ek ?? new Uint8Array(0))}","${integ}","0x${toHex(ik ?? new Uint8Array(0))}"`;
  return [
    line(sa.local.address, sa.remote.address, c.spiOut, c.encrOut, c.integOut),
    line(sa.remote.address, sa.local.address, c.spiIn, c.encrIn, c.integIn),
  ];
}
