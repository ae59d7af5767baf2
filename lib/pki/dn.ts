/**
 * Distinguished names from strongSwan-style strings (`"C=CH, O=Example,
 * CN=Example CA"`, left to right in ASN.1 order, as strongSwan and openssl
 * `-subj` write them) or openssl slash form (`"/C=CH/O=Example/CN=x"`).
 *
 * @module
 */
import { x509 } from "./_x509.ts";
import { PkiError } from "./pki_error.ts";

/** Attribute names accepted in addition to @peculiar/x509's (CN, O, OU, C, L, ST, DC, E, ...). */
export const EXTRA_DN_NAMES: Record<string, string> = {
  emailAddress: "1.2.840.113549.1.9.1",
  Email: "1.2.840.113549.1.9.1",
  serialNumber: "2.5.4.5",
  UID: "0.9.2342.19200300.100.1.1",
  STREET: "2.5.4.9",
  postalCode: "2.5.4.17",
};

/**
 * Parses a DN string; throws {@linkcode PkiError} on syntax errors or unknown
 * attribute names.
 *
 * @example
 * ```ts
 * parseDn("C=CH, O=Example, CN=vpn.example.com").toString();
 * ```
 */
export function parseDn(s: string): x509.Name {
  let text = s.trim();
  if (text.startsWith("/")) {
    text = text.slice(1).split(/(?<!\\)\//).join(", ");
  }
  if (!text) throw new PkiError("empty distinguished name");
  for (const part of text.split(/(?<!\\)[,+]/)) {
    const m = /^\s*([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+)\s*=/.exec(part);
    if (!m) {
      throw new PkiError(
        `invalid distinguished name '${s}': expected NAME=value in '${part.trim()}'`,
      );
    }
    const key = m[1];
    const known = ["CN", "L", "ST", "O", "OU", "C", "DC", "E", "G", "I", "SN", "T"];
    if (!/^[0-9.]+$/.test(key) && !known.includes(key.toUpperCase()) && !(key in EXTRA_DN_NAMES)) {
      throw new PkiError(`invalid distinguished name '${s}': unknown attribute '${key}'`);
    }
  }
  // @peculiar/x509 wants upper-case short names.
  const normalised = text.replace(
    /(^|(?<!\\)[,+])\s*([A-Za-z]{1,2})\s*=/g,
    (_m, sep: string, k: string) => `${sep}${sep ? " " : ""}${k.toUpperCase()}=`,
  );
  try {
    return new x509.Name(normalised, EXTRA_DN_NAMES);
  } catch (e) {
    throw new PkiError(`invalid distinguished name '${s}': ${(e as Error).message}`);
  }
}
