/**
 * subjectAltName entries from command-line strings, with the type detected the
 * way strongSwan's `pki --san` does: an IPv4/IPv6 address becomes an IP SAN,
 * anything with an `@` an rfc822Name (email), anything else a dNSName.
 * Explicit prefixes `dns:`, `ip:`, `email:` override the detection.
 *
 * @module
 */
import { isIP } from "node:net";
import { PkiError } from "./pki_error.ts";

/** A subjectAltName entry. */
export interface San {
  type: "dns" | "ip" | "email";
  value: string;
}

/**
 * Classifies one SAN string.
 *
 * @example
 * ```ts
 * parseSan("vpn.example.com"); // { type: "dns", value: "vpn.example.com" }
 * parseSan("10.0.0.1");        // { type: "ip", value: "10.0.0.1" }
 * parseSan("alice@example.com"); // { type: "email", ... }
 * ```
 */
export function parseSan(s: string): San {
  const m = /^(dns|ip|email):(.*)$/i.exec(s);
  if (m) {
    const type = m[1].toLowerCase() as San["type"];
    const value = m[2];
    if (type === "ip" && !isIP(value)) throw new PkiError(`invalid IP address SAN '${value}'`);
    if (!value) throw new PkiError(`empty ${type} SAN`);
    return { type, value };
  }
  if (s === "") throw new PkiError("empty SAN");
  if (isIP(s)) return { type: "ip", value: s };
  if (s.includes("@")) {
    if (!/^[^@\s]+@[^@\s]+$/.test(s)) throw new PkiError(`invalid email SAN '${s}'`);
    return { type: "email", value: s };
  }
  if (
    !/^(\*\.)?[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/
      .test(s)
  ) {
    throw new PkiError(`invalid DNS name SAN '${s}' (use ip:, email: or dns: to force a type)`);
  }
  return { type: "dns", value: s };
}
