/**
 * Human-readable summaries of certificates (for `ipsec pki print`): subject,
 * issuer, serial, validity, SANs, key type and size, keyUsage, EKUs, CA flag,
 * path length and SHA-1/SHA-256 fingerprints.
 *
 * @module
 */
import * as nodeCrypto from "node:crypto";
import { x509 } from "./_x509.ts";
import { ekuName } from "./cert_flags.ts";
import { publicKeyInfo } from "./keys.ts";
import type { CertificateRequest, X509Certificate } from "./certificate.ts";

/** A structured summary of a certificate. */
export interface CertificateInfo {
  subject: string;
  issuer: string;
  /** Serial number, colon-separated hex. */
  serial: string;
  notBefore: Date;
  notAfter: Date;
  /** SANs as `type:value` (`dns:`, `ip:`, `email:`, `dn:`, `url:`...). */
  sans: string[];
  keyType: string;
  keyBits: number;
  /** keyUsage bit names; `null` when there is no keyUsage extension. */
  keyUsage: string[] | null;
  /** EKU names (OIDs when unknown); `null` when there is no EKU extension. */
  extendedKeyUsage: string[] | null;
  ca: boolean;
  pathLength?: number;
  selfSigned: boolean;
  /** Colon-separated hex. */
  sha1: string;
  sha256: string;
  signatureAlgorithm: string;
  subjectKeyId?: string;
  authorityKeyId?: string;
}

function colonHex(b: Uint8Array | string): string {
  const hex = typeof b === "string"
    ? b
    : Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return (hex.match(/../g) ?? []).join(":");
}

const KU_NAMES: [number, string][] = [
  [x509.KeyUsageFlags.digitalSignature, "digitalSignature"],
  [x509.KeyUsageFlags.nonRepudiation, "nonRepudiation"],
  [x509.KeyUsageFlags.keyEncipherment, "keyEncipherment"],
  [x509.KeyUsageFlags.dataEncipherment, "dataEncipherment"],
  [x509.KeyUsageFlags.keyAgreement, "keyAgreement"],
  [x509.KeyUsageFlags.keyCertSign, "keyCertSign"],
  [x509.KeyUsageFlags.cRLSign, "cRLSign"],
  [x509.KeyUsageFlags.encipherOnly, "encipherOnly"],
  [x509.KeyUsageFlags.decipherOnly, "decipherOnly"],
];

/** The SANs of a certificate or request as `type:value` strings. */
function sanStrings(ext: x509.Extension | null): string[] {
  if (!ext) return [];
  return new x509.SubjectAlternativeNameExtension(ext.rawData).names.items.map((n) =>
    `${n.type}:${n.value}`
  );
}

/**
 * Summarises a PKCS#10 request: subject, requested SANs and the SPKI (DER).
 *
 * @example
 * ```ts
 * const { subject, sans } = describeRequest(csr);
 * ```
 */
export function describeRequest(
  csr: CertificateRequest,
): { subject: string; sans: string[]; spki: Uint8Array } {
  return {
    subject: csr.subject,
    sans: sanStrings(csr.getExtension("2.5.29.17")),
    spki: new Uint8Array(csr.publicKey.rawData),
  };
}

/**
 * Summarises `cert`; pure apart from hashing.
 *
 * @example
 * ```ts
 * console.log(formatCertificateInfo(describeCertificate(cert), new Date()));
 * ```
 */
export function describeCertificate(cert: X509Certificate): CertificateInfo {
  const der = new Uint8Array(cert.rawData);
  const ku = cert.getExtension(x509.KeyUsagesExtension);
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
  const aki = cert.getExtension(x509.AuthorityKeyIdentifierExtension);
  let keyType = cert.publicKey.algorithm.name;
  let keyBits = 0;
  try {
    const k = publicKeyInfo(new Uint8Array(cert.publicKey.rawData));
    keyType = k.type.toUpperCase();
    keyBits = k.bits;
  } catch {
    // unsupported key: show the algorithm name only
  }
  const sig = cert.signatureAlgorithm;
  const hash = "hash" in sig && sig.hash ? `-${(sig.hash as { name: string }).name}` : "";
  return {
    subject: cert.subject,
    issuer: cert.issuer,
    serial: colonHex(cert.serialNumber),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    sans: sanStrings(cert.getExtension("2.5.29.17")),
    keyType,
    keyBits,
    keyUsage: ku ? KU_NAMES.filter(([bit]) => ku.usages & bit).map(([, n]) => n) : null,
    extendedKeyUsage: eku ? eku.usages.map((u) => ekuName(String(u))) : null,
    ca: bc?.ca ?? false,
    pathLength: bc?.pathLength,
    selfSigned: cert.subject === cert.issuer,
    sha1: colonHex(new Uint8Array(nodeCrypto.createHash("sha1").update(der).digest())),
    sha256: colonHex(new Uint8Array(nodeCrypto.createHash("sha256").update(der).digest())),
    signatureAlgorithm: `${sig.name}${hash}`,
    subjectKeyId: ski ? colonHex(ski.keyId) : undefined,
    authorityKeyId: aki?.keyId ? colonHex(aki.keyId) : undefined,
  };
}

function days(ms: number): number {
  return Math.floor(ms / 86_400_000);
}

/**
 * Formats a summary like strongSwan's `pki --print`, with the validity state
 * relative to `now`.
 *
 * @example
 * ```ts
 * formatCertificateInfo(describeCertificate(cert), new Date()).split("\n")[0]; // subject: "..."
 * ```
 */
export function formatCertificateInfo(i: CertificateInfo, now: Date): string {
  const state = now < i.notBefore
    ? `not valid yet (valid in ${days(i.notBefore.getTime() - now.getTime())} days)`
    : now > i.notAfter
    ? `EXPIRED ${days(now.getTime() - i.notAfter.getTime())} days ago`
    : `ok (expires in ${days(i.notAfter.getTime() - now.getTime())} days)`;
  const lines = [
    `subject:   "${i.subject}"`,
    `issuer:    "${i.issuer}"`,
    `serial:    ${i.serial}`,
    `validity:  not before ${i.notBefore.toISOString()}`,
    `           not after  ${i.notAfter.toISOString()}, ${state}`,
    `altNames:  ${i.sans.length ? i.sans.join(", ") : "(none)"}`,
    `flags:     ${
      [i.ca ? "CA" : "", i.selfSigned ? "self-signed" : ""].filter(Boolean).join(" ") || "(none)"
    }`,
  ];
  if (i.pathLength !== undefined) lines.push(`pathlen:   ${i.pathLength}`);
  lines.push(
    `keyUsage:  ${i.keyUsage ? i.keyUsage.join(", ") : "(no extension)"}`,
    `extKeyUsage: ${i.extendedKeyUsage ? i.extendedKeyUsage.join(", ") : "(no extension)"}`,
    `pubkey:    ${i.keyType} ${i.keyBits} bits`,
    `signature: ${i.signatureAlgorithm}`,
  );
  if (i.subjectKeyId) lines.push(`subjkeyId: ${i.subjectKeyId}`);
  if (i.authorityKeyId) lines.push(`authkeyId: ${i.authorityKeyId}`);
  lines.push(`SHA-1:     ${i.sha1}`, `SHA-256:   ${i.sha256}`);
  return lines.join("\n");
}
