/**
 * `ipsec list-certs`: the certificates and CRLs the daemon loaded, and the
 * CRLs it fetched from distribution points (like swanctl --list-certs).
 * Loaded lazily: it pulls in the X.509 stack.
 */
import { Buffer } from "node:buffer";
import type { Json } from "../../lib/daemon/control_protocol.ts";
import { readCommand } from "./_read_command.ts";
import { x509 } from "../../lib/pki/_x509.ts";
import { describeCertificate, formatCertificateInfo } from "../../lib/pki/describe.ts";
import { formatCrl, parseCrls } from "../../lib/pki/crl.ts";

interface CertsJson {
  certificates: {
    role: "end-entity" | "ca";
    hasKey: boolean;
    connections: string[];
    der: string;
  }[];
  crls: { connections: string[]; der: string }[];
  fetched: { uri: string; state: string; at: string; reason?: string; crls: string[] }[];
  ocsp?: {
    uri: string;
    state: string;
    at: string;
    reason?: string;
    serial: string;
    status?: string;
    signer?: string;
    thisUpdate?: string;
    nextUpdate?: string;
  }[];
}

const indent = (text: string) => text.split("\n").map((l) => `  ${l}`).join("\n");
const bytes = (b64: string) => new Uint8Array(Buffer.from(b64, "base64"));

function certificate(der: string, now: Date): string {
  try {
    return formatCertificateInfo(describeCertificate(new x509.X509Certificate(bytes(der))), now);
  } catch (e) {
    return `(unreadable certificate: ${(e as Error).message})`;
  }
}

function crl(der: string, now: Date): string {
  try {
    return parseCrls(bytes(der)).map((c) => formatCrl(c, now)).join("\n");
  } catch (e) {
    return `(unreadable CRL: ${(e as Error).message})`;
  }
}

/** Sections as swanctl prints them: end-entity certificates, CA certificates, CRLs. */
export function renderCertificates(data: Json, now = new Date()): string {
  const d = data as unknown as CertsJson;
  const out: string[] = [];
  for (
    const [role, title] of [["end-entity", "X.509 End Entity Certificates"], [
      "ca",
      "X.509 CA Certificates",
    ]] as const
  ) {
    const certs = d.certificates.filter((c) => c.role === role);
    if (certs.length === 0) continue;
    out.push(`List of ${title}`, "");
    for (const c of certs) {
      out.push(indent(certificate(c.der, now)));
      if (c.hasKey) out.push("  has private key");
      out.push(`  used by:   ${c.connections.join(", ")}`, "");
    }
  }
  if (d.crls.length > 0 || d.fetched.length > 0) {
    out.push("List of X.509 CRLs", "");
    for (const c of d.crls) {
      out.push(indent(crl(c.der, now)), `  used by:   ${c.connections.join(", ")}`, "");
    }
    for (const f of d.fetched) {
      for (const c of f.crls) out.push(indent(crl(c, now)));
      const what = f.state === "ok"
        ? `fetched from ${f.uri} at ${f.at}`
        : f.state === "fetching"
        ? `being fetched from ${f.uri} since ${f.at}`
        : `fetch from ${f.uri} failed at ${f.at}: ${f.reason}${
          f.crls.length ? " (the CRL above is the last fetched)" : ""
        }`;
      out.push(`  ${what}`, "");
    }
  }
  if (d.ocsp?.length) {
    out.push("List of OCSP responses", "");
    for (const o of d.ocsp) {
      const head = `  ${o.uri} serial ${o.serial}: `;
      if (o.state === "ok") {
        out.push(
          `${head}${o.status} (${o.signer} signed, this update ${o.thisUpdate}${
            o.nextUpdate ? `, next update ${o.nextUpdate}` : ""
          }; asked at ${o.at})`,
        );
      } else if (o.state === "fetching") out.push(`${head}asking since ${o.at}`);
      else {
        out.push(
          `${head}no answer at ${o.at}: ${o.reason}${
            o.status ? ` (last answer: ${o.status})` : ""
          }`,
        );
      }
    }
    out.push("");
  }
  return out.length ? out.join("\n").trimEnd() : "no certificates or CRLs loaded";
}

/** The `list-certs` subcommand. */
export const command = readCommand({
  name: "list-certs",
  summary: "list loaded certificates and CRLs, and CRLs fetched (like swanctl --list-certs)",
  request: "list-certs",
  render: (d) => renderCertificates(d),
});
