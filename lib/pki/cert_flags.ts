/**
 * The `--flag` values of `ipsec pki issue/self` (named as in strongSwan's
 * `pki`), mapped to extendedKeyUsage OIDs or keyUsage bits.
 *
 * @module
 */
import { PkiError } from "./pki_error.ts";

/** extendedKeyUsage OIDs we know by name. */
export const EKU_OIDS = {
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
  codeSigning: "1.3.6.1.5.5.7.3.3",
  emailProtection: "1.3.6.1.5.5.7.3.4",
  timeStamping: "1.3.6.1.5.5.7.3.8",
  ocspSigning: "1.3.6.1.5.5.7.3.9",
  /** id-kp-ipsecIKE (RFC 4945 section 5.1.3.12). */
  ipsecIKE: "1.3.6.1.5.5.7.3.17",
  /** iKEIntermediate, required by Windows for IKEv2 machine certificates. */
  ikeIntermediate: "1.3.6.1.5.5.8.2.2",
  msSmartcardLogon: "1.3.6.1.4.1.311.20.2.2",
  anyExtendedKeyUsage: "2.5.29.37.0",
} as const;

/** A `--flag` value. */
export type CertFlag =
  | "serverAuth"
  | "clientAuth"
  | "ikeIntermediate"
  | "ipsecIKE"
  | "ocspSigning"
  | "msSmartcardLogon"
  | "crlSign";

/** All accepted flags. */
export const CERT_FLAGS: readonly CertFlag[] = [
  "serverAuth",
  "clientAuth",
  "ikeIntermediate",
  "ipsecIKE",
  "ocspSigning",
  "msSmartcardLogon",
  "crlSign",
];

/** Checks a `--flag` value (case-insensitive) and returns its canonical name. */
export function parseFlag(s: string): CertFlag {
  const f = CERT_FLAGS.find((x) => x.toLowerCase() === s.toLowerCase());
  if (!f) throw new PkiError(`unknown flag '${s}' (use one of: ${CERT_FLAGS.join(", ")})`);
  return f;
}

/** The name of a known EKU OID, or the OID itself. */
export function ekuName(oid: string): string {
  for (const [name, o] of Object.entries(EKU_OIDS)) if (o === oid) return name;
  return oid;
}
