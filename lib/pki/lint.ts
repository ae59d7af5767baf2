/**
 * Lint for certificates about to be issued: the mistakes that make IKEv2
 * clients reject a gateway (Windows, macOS, iOS and strongSwan match the
 * peer's IKE identity against subjectAltNames, and Windows/Apple want the
 * serverAuth and iKEIntermediate EKUs on gateway certificates).
 *
 * @module
 */
import { x509 } from "./_x509.ts";
import { EKU_OIDS } from "./cert_flags.ts";
import type { X509Certificate } from "./certificate.ts";

/** Inputs a lint can use besides the certificate itself. */
export interface LintContext {
  /** The issuing CA certificate (omit for self-signed). */
  issuer?: X509Certificate;
  /**
   * The IKE identity the certificate is meant for (defaults to the subject
   * CN). A DN identity (containing `=`) needs no SAN and is not checked.
   */
  intendedId?: string;
}

/**
 * Returns warnings (one line each, empty when fine) for `cert`.
 * A certificate "looks like a gateway" when it has serverAuth or a DNS/IP SAN.
 *
 * @example
 * ```ts
 * for (const w of lintCertificate(cert, { issuer: ca })) console.error(`warning: ${w}`);
 * ```
 */
export function lintCertificate(cert: X509Certificate, ctx: LintContext = {}): string[] {
  const warnings: string[] = [];
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  const usages = (eku?.usages ?? []).map(String);
  const sanExt = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const sans = sanExt ? sanExt.names.items.map((n) => ({ type: n.type, value: n.value })) : [];
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  const isCa = bc?.ca ?? false;
  const gateway = !isCa &&
    (usages.includes(EKU_OIDS.serverAuth) || sans.some((s) => s.type === "dns" || s.type === "ip"));
  const cn = cert.subjectName.getField("CN")[0];
  const id = ctx.intendedId ?? cn;

  if (gateway) {
    if (id && !id.includes("=") && !sans.some((s) => s.value.toLowerCase() === id.toLowerCase())) {
      warnings.push(
        `no subjectAltName matches '${id}': IKEv2 clients (Windows, macOS, iOS, strongSwan) ` +
          `match the gateway's identity against SANs; add --san ${id}`,
      );
    }
    if (!usages.includes(EKU_OIDS.serverAuth)) {
      warnings.push(
        "gateway certificate lacks the serverAuth EKU that Windows, macOS and iOS clients " +
          "require; add --flag serverAuth",
      );
    }
    if (!usages.includes(EKU_OIDS.ikeIntermediate)) {
      warnings.push(
        "gateway certificate lacks the ikeIntermediate EKU (1.3.6.1.5.5.8.2.2) that Windows " +
          "clients look for; add --flag ikeIntermediate",
      );
    }
  }
  if (ctx.issuer) {
    const ibc = ctx.issuer.getExtension(x509.BasicConstraintsExtension);
    if (!ibc?.ca) {
      warnings.push(
        `issuing certificate "${ctx.issuer.subject}" lacks basicConstraints CA:TRUE; peers ` +
          "will not accept it as a CA (recreate it with --ca)",
      );
    }
    if (cert.notAfter > ctx.issuer.notAfter) {
      warnings.push(
        `certificate outlives its CA (CA expires ${ctx.issuer.notAfter.toISOString()})`,
      );
    }
  }
  return warnings;
}
