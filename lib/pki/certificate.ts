/**
 * Certificates and requests: parse (PEM or DER), self-sign a CA, issue an
 * end-entity or intermediate certificate from a public key or PKCS#10
 * request, and create PKCS#10 requests. Issued certificates carry what IKEv2
 * peers expect: subjectKeyIdentifier, authorityKeyIdentifier, keyUsage
 * (digitalSignature for end entities, keyCertSign+cRLSign for CAs),
 * basicConstraints for CAs, extendedKeyUsage from `flags`, subjectAltName.
 *
 * @module
 */
import { x509 } from "./_x509.ts";
import { PkiError } from "./pki_error.ts";
import { readBlocks } from "./pem.ts";
import { type KeyPair, publicKeyInfo, signingAlgorithm } from "./keys.ts";
import { parseDn } from "./dn.ts";
import { parseSan } from "./san.ts";
import { type CertFlag, EKU_OIDS } from "./cert_flags.ts";
import { equalBytes } from "../wire/bytes.ts";

/** An X.509 certificate as parsed by @peculiar/x509. */
export type X509Certificate = x509.X509Certificate;
/** A PKCS#10 request as parsed by @peculiar/x509. */
export type CertificateRequest = x509.Pkcs10CertificateRequest;

/** Default certificate lifetime in days (strongSwan's `pki` default, 3 years). */
export const DEFAULT_LIFETIME_DAYS = 1095;

/**
 * Parses every certificate in `input` (PEM with any number of CERTIFICATE
 * blocks, or one DER certificate). Throws {@linkcode PkiError}.
 */
export function parseCertificates(input: Uint8Array | string, what = "input"): X509Certificate[] {
  const bytes = typeof input === "string" ? new TextEncoder().encode(input) : input;
  const blocks = readBlocks(bytes, what);
  const certs = blocks.filter((b) =>
    b.label === null || b.label === "CERTIFICATE" || b.label === "X509 CERTIFICATE"
  );
  if (certs.length === 0) {
    throw new PkiError(
      `${what}: not a certificate (found ${blocks.map((b) => b.label).join(", ")})`,
    );
  }
  return certs.map((b) => {
    try {
      return new x509.X509Certificate(new Uint8Array(b.der));
    } catch {
      throw new PkiError(`${what}: not a valid X.509 certificate`);
    }
  });
}

/**
 * Parses one certificate (the first in a PEM bundle).
 *
 * @example
 * ```ts
 * const ca = parseCertificate(Deno.readFileSync("ca.pem"), "ca.pem");
 * ```
 */
export function parseCertificate(input: Uint8Array | string, what = "input"): X509Certificate {
  return parseCertificates(input, what)[0];
}

/**
 * True when `cert` has basicConstraints with cA set.
 *
 * @example
 * ```ts
 * isCaCertificate(parseCertificate(Deno.readFileSync("ca.pem"))); // true
 * ```
 */
export function isCaCertificate(cert: X509Certificate): boolean {
  return cert.getExtension(x509.BasicConstraintsExtension)?.ca === true;
}

/** Parses a PKCS#10 request (PEM or DER); throws {@linkcode PkiError}. */
export function parseCertificateRequest(
  input: Uint8Array | string,
  what = "input",
): CertificateRequest {
  const bytes = typeof input === "string" ? new TextEncoder().encode(input) : input;
  const b = readBlocks(bytes, what)[0];
  if (
    b.label !== null && b.label !== "CERTIFICATE REQUEST" && b.label !== "NEW CERTIFICATE REQUEST"
  ) {
    throw new PkiError(`${what}: not a certificate request (found ${b.label})`);
  }
  try {
    return new x509.Pkcs10CertificateRequest(new Uint8Array(b.der));
  } catch {
    throw new PkiError(`${what}: not a valid PKCS#10 certificate request`);
  }
}

/** What goes into a new certificate. */
export interface CertificateProfile {
  /** Subject DN, e.g. `"C=CH, O=Example, CN=vpn.example.com"`. */
  subject: string;
  /** subjectAltNames; type auto-detected (see {@linkcode parseSan}). */
  sans?: readonly string[];
  /** EKU / keyUsage flags. */
  flags?: readonly CertFlag[];
  /** Issue a CA certificate (basicConstraints CA:TRUE, keyCertSign, cRLSign). */
  ca?: boolean;
  /** basicConstraints pathLenConstraint for CA certificates. */
  pathLen?: number;
  /** Lifetime in days from `now` (default {@linkcode DEFAULT_LIFETIME_DAYS}). */
  lifetimeDays?: number;
  /** notBefore; notAfter is now + lifetime. */
  now: Date;
  /** Serial number bytes (default: 16 random bytes, positive). */
  serial?: Uint8Array;
  /** CRL distribution point URIs (crlDistributionPoints, RFC 5280 section 4.2.1.13). */
  crlUris?: readonly string[];
  /** OCSP responder URIs (authorityInfoAccess, RFC 5280 section 4.2.2.1). */
  ocspUris?: readonly string[];
}

function randomSerial(): Uint8Array {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[0] = (b[0] & 0x7f) || 1;
  return b;
}

function toHexString(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

async function buildExtensions(
  p: CertificateProfile,
  subjectSpki: Uint8Array,
  authorityKeyId: string | null,
  extraSans: x509.JsonGeneralName[] = [],
): Promise<x509.Extension[]> {
  const ext: x509.Extension[] = [];
  if (p.ca) ext.push(new x509.BasicConstraintsExtension(true, p.pathLen, true));
  const F = x509.KeyUsageFlags;
  let ku = p.ca ? F.keyCertSign | F.cRLSign : F.digitalSignature;
  if (p.flags?.includes("crlSign")) ku |= F.cRLSign;
  ext.push(new x509.KeyUsagesExtension(ku, true));
  const ekus = (p.flags ?? []).filter((f) => f !== "crlSign").map((f) => EKU_OIDS[f]);
  if (ekus.length) ext.push(new x509.ExtendedKeyUsageExtension(ekus, false));
  const sans: x509.JsonGeneralName[] = [...extraSans];
  for (const s of p.sans ?? []) {
    const san = parseSan(s);
    if (!sans.some((x) => x.type === san.type && x.value === san.value)) sans.push(san);
  }
  if (sans.length) ext.push(new x509.SubjectAlternativeNameExtension(sans, false));
  ext.push(await x509.SubjectKeyIdentifierExtension.create(new Uint8Array(subjectSpki), false));
  if (authorityKeyId) ext.push(new x509.AuthorityKeyIdentifierExtension(authorityKeyId, false));
  if (p.crlUris?.length) {
    for (const u of p.crlUris) {
      if (!URL.canParse(u)) throw new PkiError(`CRL distribution point '${u}' is not a URI`);
    }
    ext.push(new x509.CRLDistributionPointsExtension([...p.crlUris], false));
  }
  if (p.ocspUris?.length) {
    for (const u of p.ocspUris) {
      if (!URL.canParse(u)) throw new PkiError(`OCSP responder '${u}' is not a URI`);
    }
    ext.push(
      new x509.AuthorityInfoAccessExtension({
        ocsp: p.ocspUris.map((u) => new x509.GeneralName("url", u)),
      }, false),
    );
  }
  return ext;
}

function validity(p: CertificateProfile): { notBefore: Date; notAfter: Date } {
  const days = p.lifetimeDays ?? DEFAULT_LIFETIME_DAYS;
  if (!Number.isFinite(days) || days <= 0) {
    throw new PkiError(`invalid lifetime ${days} (days, > 0)`);
  }
  const notBefore = new Date(Math.floor(p.now.getTime() / 1000) * 1000);
  return { notBefore, notAfter: new Date(notBefore.getTime() + days * 86_400_000) };
}

async function keyIdOf(spki: Uint8Array): Promise<string> {
  return (await x509.SubjectKeyIdentifierExtension.create(new Uint8Array(spki))).keyId;
}

/**
 * Creates a self-signed certificate (usually a CA with `ca: true`).
 *
 * @example
 * ```ts
 * const key = await generateKeyPair("ecdsa", 384);
 * const ca = await selfSignCertificate(key, {
 *   subject: "C=CH, O=Example, CN=Example CA", ca: true, lifetimeDays: 3650, now: new Date(),
 * });
 * ```
 */
export async function selfSignCertificate(
  key: KeyPair,
  p: CertificateProfile,
): Promise<X509Certificate> {
  const name = parseDn(p.subject);
  const keyId = await keyIdOf(key.spki);
  return await x509.X509CertificateGenerator.create({
    subject: name,
    issuer: name,
    serialNumber: toHexString(p.serial ?? randomSerial()),
    ...validity(p),
    publicKey: new Uint8Array(key.spki),
    signingKey: key.privateKey,
    signingAlgorithm: signingAlgorithm(key.type, key.bits),
    extensions: await buildExtensions(p, key.spki, keyId),
  });
}

/**
 * The CA certificate's SubjectPublicKeyInfo, after checking that `key` is
 * its private half (what signs certificates and CRLs); throws {@linkcode PkiError}.
 */
export function issuerSpki(cert: X509Certificate, key: KeyPair): Uint8Array {
  const spki = new Uint8Array(cert.publicKey.rawData);
  if (!equalBytes(spki, key.spki)) {
    throw new PkiError(`CA private key does not match the CA certificate '${cert.subject}'`);
  }
  return spki;
}

/** Parameters for {@linkcode issueCertificate}. */
export interface IssueParams extends Omit<CertificateProfile, "subject"> {
  /** Subject DN; defaults to the request's subject when `request` is given. */
  subject?: string;
  issuerCert: X509Certificate;
  issuerKey: KeyPair;
  /** The subject's public key (DER SPKI); or give `request`. */
  subjectSpki?: Uint8Array;
  /** A PKCS#10 request: its key, subject and requested SANs are used. */
  request?: CertificateRequest;
}

/**
 * Issues a certificate signed by `issuerKey`. Throws {@linkcode PkiError}
 * when the key does not belong to `issuerCert`, the CA certificate is not
 * valid at `now`, or a request's signature does not verify.
 *
 * @example
 * ```ts
 * const cert = await issueCertificate({
 *   issuerCert: ca, issuerKey: caKey, subjectSpki: peer.spki,
 *   subject: "C=CH, O=Example, CN=vpn.example.com", sans: ["vpn.example.com"],
 *   flags: ["serverAuth", "ikeIntermediate"], now: new Date(),
 * });
 * ```
 */
export async function issueCertificate(p: IssueParams): Promise<X509Certificate> {
  const caSpki = issuerSpki(p.issuerCert, p.issuerKey);
  if (p.now > p.issuerCert.notAfter) {
    throw new PkiError(
      `CA certificate '${p.issuerCert.subject}' expired on ${p.issuerCert.notAfter.toISOString()}`,
    );
  }
  if (p.now < p.issuerCert.notBefore) {
    throw new PkiError(
      `CA certificate '${p.issuerCert.subject}' is not valid before ${p.issuerCert.notBefore.toISOString()}`,
    );
  }
  let spki = p.subjectSpki;
  let subject: x509.Name | null = p.subject !== undefined ? parseDn(p.subject) : null;
  const extraSans: x509.JsonGeneralName[] = [];
  if (p.request) {
    if (!(await p.request.verify())) {
      throw new PkiError("certificate request signature does not verify");
    }
    spki = new Uint8Array(p.request.publicKey.rawData);
    subject ??= p.request.subjectName;
    const san = p.request.getExtension("2.5.29.17");
    if (san) {
      for (const n of new x509.SubjectAlternativeNameExtension(san.rawData).names.items) {
        if (n.type === "dns" || n.type === "ip" || n.type === "email") extraSans.push(n.toJSON());
      }
    }
  }
  if (!spki) throw new PkiError("no subject public key given");
  publicKeyInfo(spki, "subject public key");
  if (!subject) throw new PkiError("no subject distinguished name given (use --dn)");
  const profile: CertificateProfile = { ...p, subject: subject.toString() };
  const ski = p.issuerCert.getExtension(x509.SubjectKeyIdentifierExtension);
  const authorityKeyId = ski ? ski.keyId : await keyIdOf(caSpki);
  return await x509.X509CertificateGenerator.create({
    subject,
    issuer: p.issuerCert.subjectName,
    serialNumber: toHexString(p.serial ?? randomSerial()),
    ...validity(profile),
    publicKey: new Uint8Array(spki),
    signingKey: p.issuerKey.privateKey,
    signingAlgorithm: signingAlgorithm(p.issuerKey.type, p.issuerKey.bits),
    extensions: await buildExtensions(profile, spki, authorityKeyId, extraSans),
  });
}

/**
 * Creates a PKCS#10 request signed with `key`, carrying `sans` as an
 * extensionRequest.
 */
export async function createCertificateRequest(
  key: KeyPair,
  p: { subject: string; sans?: readonly string[] },
): Promise<CertificateRequest> {
  const extensions: x509.Extension[] = [];
  if (p.sans?.length) {
    extensions.push(new x509.SubjectAlternativeNameExtension(p.sans.map(parseSan), false));
  }
  return await x509.Pkcs10CertificateRequestGenerator.create({
    name: parseDn(p.subject),
    keys: { privateKey: key.privateKey, publicKey: key.publicKey },
    signingAlgorithm: signingAlgorithm(key.type, key.bits),
    extensions,
  });
}
