/**
 * Certificate chain validation and identity matching for IKEv2 AUTH
 * (RFC 7296 sections 2.15 and 3.5, RFC 5280 section 6 subset, RFC 4945).
 *
 * Everything here is synchronous and pure apart from reading `now`, which is
 * injected: signatures are checked with node:crypto (and @noble/curves for
 * P-521), so the sans-I/O IKE engine can call it inline.
 *
 * What is checked, for every certificate on the path leaf -> trust anchor:
 * validity period at `now`; signature by the next certificate's key; issuer
 * name (and authorityKeyIdentifier, when both sides carry key ids); issuers
 * are CAs (basicConstraints cA, or a v1 self-signed anchor); pathLenConstraint;
 * keyUsage keyCertSign on issuers and digitalSignature on the leaf when a
 * keyUsage extension is present; no unknown critical extensions.
 * Revocation, when CRLs are given (`crls`, see {@linkcode checkRevocation}):
 * every certificate on the path but the trust anchor is looked up in the
 * CRLs its issuer signed, after a verified OCSP answer about it (`ocsp`)
 * when there is one. Not checked: name constraints (a critical
 * nameConstraints extension makes validation fail), policies.
 *
 * @module
 */
import * as nodeCrypto from "node:crypto";
import { Buffer } from "node:buffer";
import { x509 } from "./_x509.ts";
import {
  type CertParts,
  children,
  readTlv,
  splitCertificate,
  subjectPublicKeyBits,
} from "./_der.ts";
import { type VerifyOutcome, verifyWithSpki } from "./_verify.ts";
import { Reader } from "../wire/reader.ts";
import { equalBytes } from "../wire/bytes.ts";
import { BytesCache } from "../wire/bytes_cache.ts";
import { type Crl, CRL_REASONS, formatSerial, normalizeSerial, reasonName } from "./crl.ts";
import { describeOcspStatus, type OcspStatus } from "./ocsp.ts";

/** A certificate as DER bytes or as parsed by @peculiar/x509. */
export type CertificateInput = Uint8Array | x509.X509Certificate;

/** Why a chain did not validate. */
export type ChainErrorCode =
  | "malformed"
  | "expired"
  | "not_yet_valid"
  | "bad_signature"
  | "unknown_issuer"
  | "not_ca"
  | "path_length"
  | "key_usage"
  | "unsupported_critical_extension"
  | "unsupported_algorithm"
  | "no_certificate"
  | "id_mismatch"
  | "revoked"
  | "revocation_unknown";

/**
 * How strictly revocation is checked, as strongSwan's `revocation`:
 * `relaxed` (default) fails only a certificate a CRL lists; `ifuri` also
 * fails one that names a CRL distribution point when no current CRL of its
 * issuer is at hand; `strict` fails every certificate without a current CRL
 * of its issuer.
 */
export type RevocationPolicy = "strict" | "ifuri" | "relaxed";

/**
 * A chain validation failure. `message` is a one-line, user-facing reason
 * naming the certificate, e.g. `certificate "CN=vpn" expired on 2025-01-01T00:00:00.000Z`.
 */
export class ChainError extends Error {
  override readonly name = "ChainError";
  /** Machine-readable reason. */
  readonly code: ChainErrorCode;
  /** Subject DN (string form) of the certificate the problem is with. */
  readonly subject: string;

  constructor(code: ChainErrorCode, subject: string, reason: string) {
    super(reason);
    this.code = code;
    this.subject = subject;
  }
}

/** The outcome of {@linkcode validateChain}. */
export type ChainResult =
  | { ok: true; /** leaf first, trust anchor last */ path: x509.X509Certificate[] }
  | { ok: false; error: ChainError };

/** Longest path we build (leaf + intermediates + anchor). */
const MAX_PATH = 8;

const EXT = {
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  subjectAltName: "2.5.29.17",
  issuerAltName: "2.5.29.18",
  subjectKeyId: "2.5.29.14",
  authorityKeyId: "2.5.29.35",
  crlDistributionPoints: "2.5.29.31",
  certificatePolicies: "2.5.29.32",
  authorityInfoAccess: "1.3.6.1.5.5.7.1.1",
} as const;
const KNOWN_CRITICAL: ReadonlySet<string> = new Set([
  EXT.basicConstraints,
  EXT.keyUsage,
  EXT.extKeyUsage,
  EXT.subjectAltName,
  EXT.certificatePolicies,
]);

interface Node {
  cert: x509.X509Certificate;
  der: Uint8Array;
  parts: CertParts;
  /** Memos: subject / authority key identifiers (undefined = not looked up yet). */
  ski?: string | null;
  aki?: string | null;
  /** Memo: the node:crypto public key. */
  publicKey?: nodeCrypto.KeyObject;
  /** Signature checks of this certificate against an issuer's node (pure in their bytes). */
  verdicts: Map<Node, VerifyOutcome>;
}

/**
 * Parsed certificates by their DER bytes, most recently used last: a peer
 * sends the same chain at every handshake, and parsing it (and checking its
 * signatures) was most of an ECDSA IKE_AUTH's cost. Everything kept is a
 * function of the bytes alone; validity times, roles and identities are
 * checked at every use.
 */
const nodes = new BytesCache<Node>(256);

function toNode(c: CertificateInput): Node {
  return nodes.get(c instanceof Uint8Array ? c : new Uint8Array(c.rawData), () => {
    const cert = c instanceof Uint8Array ? new x509.X509Certificate(new Uint8Array(c)) : c;
    const der = new Uint8Array(cert.rawData);
    // @peculiar/x509 parses names and extensions on first use: parse them now,
    // so a certificate a peer mangled fails here ("malformed"), not midway.
    void cert.subject;
    void cert.issuer;
    for (const e of cert.extensions) void e.type;
    return { cert, der, parts: splitCertificate(der), verdicts: new Map() };
  });
}

function tryNode(c: CertificateInput): Node | null {
  try {
    return toNode(c);
  } catch {
    return null;
  }
}

function q(n: Node): string {
  return `"${n.cert.subject}"`;
}

function nowDate(now: Date | number): Date {
  return typeof now === "number" ? new Date(now) : now;
}

function checkCommon(n: Node, now: Date, role: string): ChainError | null {
  if (now < n.cert.notBefore) {
    return new ChainError(
      "not_yet_valid",
      n.cert.subject,
      `${role} ${q(n)} is not valid before ${n.cert.notBefore.toISOString()}`,
    );
  }
  if (now > n.cert.notAfter) {
    return new ChainError(
      "expired",
      n.cert.subject,
      `${role} ${q(n)} expired on ${n.cert.notAfter.toISOString()}`,
    );
  }
  for (const e of n.cert.extensions) {
    if (e.critical && !KNOWN_CRITICAL.has(e.type)) {
      return new ChainError(
        "unsupported_critical_extension",
        n.cert.subject,
        `${role} ${q(n)} has an unsupported critical extension ${e.type}`,
      );
    }
  }
  return null;
}

function keyUsage(n: Node): number | null {
  const ku = n.cert.getExtension(x509.KeyUsagesExtension);
  return ku ? ku.usages : null;
}

function basicConstraints(n: Node): x509.BasicConstraintsExtension | null {
  return n.cert.getExtension(x509.BasicConstraintsExtension);
}

function isSelfIssued(n: Node): boolean {
  return equalBytes(n.parts.issuer, n.parts.subject);
}

function keyIdOf(n: Node, oid: string): string | null {
  if (oid === EXT.subjectKeyId) {
    if (n.ski === undefined) {
      n.ski = n.cert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId?.toLowerCase() ??
        null;
    }
    return n.ski;
  }
  if (n.aki === undefined) {
    n.aki = n.cert.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId?.toLowerCase() ??
      null;
  }
  return n.aki;
}

/** Loose DN comparison: same RDN sequence, values compared case-insensitively. */
function sameName(a: Uint8Array, b: Uint8Array): boolean {
  if (equalBytes(a, b)) return true;
  try {
    const na = new x509.Name(new Uint8Array(a)).toJSON();
    const nb = new x509.Name(new Uint8Array(b)).toJSON();
    const norm = (j: x509.JsonName) => JSON.stringify(j).toLowerCase().replace(/\s+/g, " ");
    return norm(na) === norm(nb);
  } catch {
    return false;
  }
}

function checkIssuerRole(
  issuer: Node,
  path: Node[],
  isAnchor: boolean,
  now: Date,
): ChainError | null {
  const common = checkCommon(issuer, now, isAnchor ? "CA certificate" : "intermediate certificate");
  if (common) return common;
  const bc = basicConstraints(issuer);
  const v1Anchor = isAnchor && bc === null && issuer.cert.extensions.length === 0;
  if (!v1Anchor && !bc?.ca) {
    return new ChainError(
      "not_ca",
      issuer.cert.subject,
      `issuer ${q(issuer)} is not a CA (basicConstraints CA:TRUE missing)`,
    );
  }
  const ku = keyUsage(issuer);
  if (ku !== null && !(ku & x509.KeyUsageFlags.keyCertSign)) {
    return new ChainError(
      "key_usage",
      issuer.cert.subject,
      `issuer ${q(issuer)} keyUsage lacks keyCertSign`,
    );
  }
  if (bc?.pathLength !== undefined) {
    // Non-self-issued intermediates between this issuer and the leaf.
    const below = path.slice(1).filter((n) => !isSelfIssued(n)).length;
    if (below > bc.pathLength) {
      return new ChainError(
        "path_length",
        issuer.cert.subject,
        `issuer ${
          q(issuer)
        } allows ${bc.pathLength} intermediate CA(s) below it, path has ${below}`,
      );
    }
  }
  return null;
}

/** Options for {@linkcode validateChain}. */
export interface ValidateOptions {
  /**
   * What the leaf is for. `"peer"` (default): an IKE peer's certificate,
   * which must allow digitalSignature when it has a keyUsage extension.
   * `"ca"`: a CA certificate (as `ipsec pki verify` checks one), which must
   * carry basicConstraints CA:TRUE and allow keyCertSign.
   */
  purpose?: "peer" | "ca";
  /** CRLs to look the path's certificates up in (see {@linkcode checkRevocation}). */
  crls?: readonly Crl[];
  /** Verified OCSP answers (see {@linkcode checkRevocation}): a current one decides. */
  ocsp?: readonly OcspStatus[];
  /** Default `relaxed`. */
  revocation?: RevocationPolicy;
}

function checkLeafRole(n: Node, purpose: "peer" | "ca"): ChainError | null {
  const ku = keyUsage(n);
  if (purpose === "ca") {
    if (!basicConstraints(n)?.ca) {
      return new ChainError("not_ca", n.cert.subject, `${q(n)} is not a CA certificate`);
    }
    if (ku !== null && !(ku & x509.KeyUsageFlags.keyCertSign)) {
      return new ChainError("key_usage", n.cert.subject, `${q(n)} keyUsage lacks keyCertSign`);
    }
    return null;
  }
  if (ku !== null && !(ku & x509.KeyUsageFlags.digitalSignature)) {
    return new ChainError(
      "key_usage",
      n.cert.subject,
      `certificate ${q(n)} keyUsage lacks digitalSignature`,
    );
  }
  return null;
}

/**
 * Validates `leaf` up to one of `trustAnchors`, using `intermediates` (e.g.
 * the other CERT payloads of IKE_AUTH) as needed. Returns the path on success
 * or a {@linkcode ChainError} with a user-facing reason. Never throws.
 *
 * A leaf that is itself one of the trust anchors (byte-identical, e.g. a
 * pinned self-signed peer certificate) is accepted after its validity
 * period, critical extensions and keyUsage (digitalSignature, when present)
 * are checked.
 *
 * @example
 * ```ts
 * const r = validateChain(peerCertDer, otherCertDers, [caCert], new Date());
 * if (!r.ok) log(`AUTH failed: ${r.error.message}`); // e.g. code "expired"
 * ```
 */
export function validateChain(
  leaf: CertificateInput,
  intermediates: readonly CertificateInput[],
  trustAnchors: readonly CertificateInput[],
  now: Date | number,
  options: ValidateOptions = {},
): ChainResult {
  const at = nowDate(now);
  const leafNode = tryNode(leaf);
  if (!leafNode) {
    return {
      ok: false,
      error: new ChainError("malformed", "", "certificate is not valid DER X.509"),
    };
  }
  const anchors = trustAnchors.map(tryNode).filter((n): n is Node => n !== null);
  const inter = intermediates.map(tryNode).filter((n): n is Node => n !== null);
  const fail = (error: ChainError): ChainResult => ({ ok: false, error });

  const leafErr = checkCommon(leafNode, at, "certificate");
  if (leafErr) return fail(leafErr);
  const leafRoleErr = checkLeafRole(leafNode, options.purpose ?? "peer");
  if (leafRoleErr) return fail(leafRoleErr);
  if (anchors.some((a) => equalBytes(a.der, leafNode.der))) {
    return { ok: true, path: [leafNode.cert] };
  }

  const path: Node[] = [leafNode];
  let cur = leafNode;
  while (path.length < MAX_PATH) {
    const aki = keyIdOf(cur, EXT.authorityKeyId);
    const candidates = [
      ...anchors.map((n) => ({ n, anchor: true })),
      ...inter.map((n) => ({ n, anchor: false })),
    ].filter(({ n }) => {
      if (path.some((p) => equalBytes(p.der, n.der))) return false;
      if (!sameName(n.parts.subject, cur.parts.issuer)) return false;
      const ski = keyIdOf(n, EXT.subjectKeyId);
      return !(aki && ski && aki !== ski);
    });
    if (candidates.length === 0) {
      return fail(
        new ChainError(
          "unknown_issuer",
          cur.cert.subject,
          `no trusted issuer "${cur.cert.issuer}" found for ${q(cur)}`,
        ),
      );
    }
    let found: { n: Node; anchor: boolean } | null = null;
    let unsupported = false;
    for (const c of candidates) {
      let outcome = cur.verdicts.get(c.n);
      if (outcome === undefined) {
        outcome = verifyWithSpki(
          c.n.parts.spki,
          cur.cert.signatureAlgorithm,
          cur.parts.tbs,
          cur.parts.signature,
        );
        cur.verdicts.set(c.n, outcome);
      }
      if (outcome === "ok") {
        found = c;
        break;
      }
      if (outcome === "unsupported") unsupported = true;
    }
    if (!found) {
      if (unsupported) {
        return fail(
          new ChainError(
            "unsupported_algorithm",
            cur.cert.subject,
            `signature algorithm ${cur.cert.signatureAlgorithm.name} of ${q(cur)} is not supported`,
          ),
        );
      }
      return fail(
        new ChainError(
          "bad_signature",
          cur.cert.subject,
          `signature of ${q(cur)} does not verify with the key of issuer "${cur.cert.issuer}"`,
        ),
      );
    }
    const err = checkIssuerRole(found.n, path, found.anchor, at);
    if (err) return fail(err);
    path.push(found.n);
    if (found.anchor) {
      const revoked = checkRevocation(
        path,
        options.crls ?? [],
        options.revocation,
        at,
        options.ocsp ?? [],
      );
      if (revoked) return fail(revoked);
      return { ok: true, path: path.map((n) => n.cert) };
    }
    cur = found.n;
  }
  return fail(
    new ChainError(
      "path_length",
      leafNode.cert.subject,
      `no path to a trust anchor within ${MAX_PATH} certificates for ${q(leafNode)}`,
    ),
  );
}

/** Signature checks of a CRL against issuers' nodes (pure in their bytes). */
const crlVerdicts = new WeakMap<Crl, Map<Node, VerifyOutcome>>();

/** Why `crl` cannot speak for certificates of `issuer` at `now`, or null when it can. */
function crlProblem(crl: Crl, issuer: Node, now: Date): string | null {
  const of = `the CRL of "${crl.issuer}"`;
  if (crl.unusable) return `${of} cannot be used: ${crl.unusable}`;
  const ku = keyUsage(issuer);
  if (ku !== null && !(ku & x509.KeyUsageFlags.cRLSign)) {
    return `${of} is ignored: the issuer's keyUsage lacks cRLSign`;
  }
  let verdicts = crlVerdicts.get(crl);
  if (!verdicts) crlVerdicts.set(crl, verdicts = new Map());
  let v = verdicts.get(issuer);
  if (v === undefined) {
    v = verifyWithSpki(
      issuer.parts.spki,
      crl.signatureAlgorithm,
      crl.parts.tbs,
      crl.parts.signature,
    );
    verdicts.set(issuer, v);
  }
  if (v !== "ok") {
    return v === "unsupported"
      ? `${of} is signed with an unsupported algorithm ${crl.signatureAlgorithm.name}`
      : `${of} does not verify with the key of ${q(issuer)}`;
  }
  if (now < crl.thisUpdate) return `${of} is not valid before ${crl.thisUpdate.toISOString()}`;
  return null;
}

/**
 * Looks every certificate of `path` (leaf first, trust anchor last) but the
 * anchor up in the CRLs signed by its issuer: a CRL counts when its issuer
 * name is the issuer's subject, its signature verifies with the issuer's
 * key, the issuer may sign CRLs (cRLSign, when it has a keyUsage) and it is
 * not dated in the future. A certificate listed in such a CRL is revoked
 * (also when the CRL is past its nextUpdate; removeFromCRL entries do not
 * count). One not listed passes when a CRL that counts is current
 * (nextUpdate not passed) or when `policy` does not ask for one. Returns
 * the first failure, or null.
 */
function checkRevocation(
  path: readonly Node[],
  crls: readonly Crl[],
  policy: RevocationPolicy = "relaxed",
  now: Date,
  ocsp: readonly OcspStatus[] = [],
): ChainError | null {
  if (crls.length === 0 && ocsp.length === 0 && policy === "relaxed") return null;
  for (let i = 0; i + 1 < path.length; i++) {
    const cert = path[i];
    const issuer = path[i + 1];
    const serial = normalizeSerial(cert.cert.serialNumber);
    // An OCSP answer about it (from its issuer or a responder its issuer named) decides first.
    const answer = ocsp.length ? ocspAnswer(ocsp, serial, issuer) : undefined;
    if (answer?.status === "revoked") {
      return new ChainError(
        "revoked",
        cert.cert.subject,
        `certificate ${q(cert)} (serial ${formatSerial(serial)}) was ${
          describeOcspStatus(answer)
        } according to the OCSP responder (${answer.signer} signed)`,
      );
    }
    if (answer?.status === "good" && (!answer.nextUpdate || now <= answer.nextUpdate)) continue;
    let current = false;
    const notes: string[] = [];
    for (const crl of crls) {
      if (!sameName(crl.parts.issuer, issuer.parts.subject)) continue;
      const problem = crlProblem(crl, issuer, now);
      if (problem) {
        notes.push(problem);
        continue;
      }
      const r = crl.revoked.get(serial);
      if (r && r.reason !== CRL_REASONS.removeFromCRL) {
        return new ChainError(
          "revoked",
          cert.cert.subject,
          `certificate ${q(cert)} (serial ${
            formatSerial(serial)
          }) was revoked on ${r.date.toISOString()}${
            r.reason !== undefined ? ` (${reasonName(r.reason)})` : ""
          } according to the CRL of "${crl.issuer}"`,
        );
      }
      if (!crl.nextUpdate || now <= crl.nextUpdate) {
        current = true;
      } else {
        notes.push(
          `the CRL of "${crl.issuer}" is out of date since ${crl.nextUpdate.toISOString()}`,
        );
      }
    }
    if (current || policy === "relaxed") continue;
    const cdp = cert.cert.extensions.some((e) =>
      e.type === EXT.crlDistributionPoints || e.type === EXT.authorityInfoAccess
    );
    if (policy === "ifuri" && !cdp) continue;
    return new ChainError(
      "revocation_unknown",
      cert.cert.subject,
      `revocation status of ${q(cert)} is unknown: no current CRL of ${q(issuer)}${
        notes.length > 0 ? ` (${notes.join("; ")})` : ""
      }, and revocation is ${policy}${
        cdp ? " (the certificate names a CRL distribution point or OCSP responder)" : ""
      }`,
    );
  }
  return null;
}

/** The OCSP answer about `serial` issued by `issuer` (by its name and key hashes), if any. */
function ocspAnswer(
  answers: readonly OcspStatus[],
  serial: string,
  issuer: Node,
): OcspStatus | undefined {
  let hashes: { name: Uint8Array; key: Uint8Array } | undefined;
  for (const a of answers) {
    if (a.certId.serial !== serial) continue;
    hashes ??= {
      name: new Uint8Array(nodeCrypto.createHash("sha1").update(issuer.parts.subject).digest()),
      key: new Uint8Array(
        nodeCrypto.createHash("sha1").update(subjectPublicKeyBits(issuer.parts.spki)).digest(),
      ),
    };
    if (
      equalBytes(a.certId.issuerNameHash, hashes.name) &&
      equalBytes(a.certId.issuerKeyHash, hashes.key)
    ) {
      return a;
    }
  }
  return undefined;
}

/** IKEv2 Identification payload ID types (RFC 7296 section 3.5). */
export const IKE_ID = {
  IPV4_ADDR: 1,
  FQDN: 2,
  RFC822_ADDR: 3,
  IPV6_ADDR: 5,
  DER_ASN1_DN: 9,
  DER_ASN1_GN: 10,
  KEY_ID: 11,
} as const;

interface SubjectAltNames {
  dns: string[];
  email: string[];
  ip: Uint8Array[];
  dn: Uint8Array[];
}

/** The dNSName, rfc822Name, iPAddress and directoryName SANs of a certificate. */
function sansOf(cert: x509.X509Certificate): SubjectAltNames {
  const out: SubjectAltNames = { dns: [], email: [], ip: [], dn: [] };
  const ext = cert.extensions.find((e) => e.type === EXT.subjectAltName);
  if (!ext) return out;
  const r = new Reader(new Uint8Array(ext.value), "subjectAltName");
  const seq = readTlv(r);
  const dec = new TextDecoder();
  for (const gn of children(seq.contents, "GeneralNames")) {
    switch (gn.tag) {
      case 0x81:
        out.email.push(dec.decode(gn.contents));
        break;
      case 0x82:
        out.dns.push(dec.decode(gn.contents));
        break;
      case 0x87:
        out.ip.push(gn.contents);
        break;
      case 0xa4:
        out.dn.push(gn.contents);
        break;
    }
  }
  return out;
}

function dnsMatches(pattern: string, name: string): boolean {
  const p = pattern.toLowerCase().replace(/\.$/, "");
  const n = name.toLowerCase().replace(/\.$/, "");
  if (p === n) return true;
  if (p.startsWith("*.")) {
    const dot = n.indexOf(".");
    return dot > 0 && n.slice(dot + 1) === p.slice(2) && p.slice(2).includes(".");
  }
  return false;
}

/**
 * True when the IKE identity (`idType`, `idData` as carried in the IDi/IDr
 * payload) is bound to `cert`:
 * - 1 IPV4_ADDR / 5 IPV6_ADDR: an iPAddress SAN with the same bytes;
 * - 2 FQDN: a dNSName SAN (case-insensitive; `*.example.com` matches one label);
 * - 3 RFC822_ADDR: an rfc822Name SAN (case-insensitive);
 * - 9 DER_ASN1_DN: the subject DN (byte-equal, or equal RDN by RDN ignoring
 *   case) or a directoryName SAN;
 * - 11 KEY_ID: the subjectKeyIdentifier, or SHA-1 of the subjectPublicKey
 *   (RFC 5280 method 1), or SHA-1 of the whole SubjectPublicKeyInfo.
 * Other types, and malformed certificates, never match.
 *
 * @example
 * ```ts
 * certMatchesId(cert, IKE_ID.FQDN, new TextEncoder().encode("vpn.example.com"));
 * ```
 */
export function certMatchesId(cert: CertificateInput, idType: number, idData: Uint8Array): boolean {
  const n = tryNode(cert);
  if (!n) return false;
  let sans: SubjectAltNames;
  try {
    sans = sansOf(n.cert);
  } catch {
    return false;
  }
  const text = () => new TextDecoder().decode(idData);
  switch (idType) {
    case IKE_ID.IPV4_ADDR:
      return idData.length === 4 && sans.ip.some((ip) => equalBytes(ip, idData));
    case IKE_ID.IPV6_ADDR:
      return idData.length === 16 && sans.ip.some((ip) => equalBytes(ip, idData));
    case IKE_ID.FQDN:
      return idData.length > 0 && sans.dns.some((d) => dnsMatches(d, text()));
    case IKE_ID.RFC822_ADDR: {
      const id = text().toLowerCase();
      return idData.length > 0 && sans.email.some((e) => e.toLowerCase() === id);
    }
    case IKE_ID.DER_ASN1_DN:
      return sameName(n.parts.subject, idData) || sans.dn.some((d) => sameName(d, idData));
    case IKE_ID.KEY_ID: {
      const ski = n.cert.getExtension(x509.SubjectKeyIdentifierExtension);
      if (ski && equalBytes(hexBytes(ski.keyId), idData)) return true;
      const sha1 = (b: Uint8Array) =>
        new Uint8Array(nodeCrypto.createHash("sha1").update(b).digest());
      return equalBytes(sha1(subjectPublicKeyBits(n.parts.spki)), idData) ||
        equalBytes(sha1(n.parts.spki), idData);
    }
    default:
      return false;
  }
}

function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * The certificate's public key as a node:crypto `KeyObject` (type "public";
 * `asymmetricKeyType` is "rsa", "ec" or "ed25519"), ready for synchronous
 * `crypto.verify()` of an IKE AUTH signature. Throws `TypeError` for a
 * malformed certificate or unsupported key.
 *
 * Note: Deno's node:crypto mis-verifies ECDSA P-521 with hashes other than
 * SHA-512; IKEv2 uses SHA-512 with P-521 (auth method 11, RFC 7427 ecdsa-with-sha512).
 *
 * @example
 * ```ts
 * const key = publicKeyOf(peerCert);
 * const ok = crypto.verify("sha256", signedOctets, { key, dsaEncoding: "ieee-p1363" }, sig);
 * ```
 */
export function publicKeyOf(cert: CertificateInput): nodeCrypto.KeyObject {
  const n = toNode(cert);
  n.publicKey ??= nodeCrypto.createPublicKey({
    key: Buffer.from(n.parts.spki),
    format: "der",
    type: "spki",
  });
  return n.publicKey;
}

/**
 * DER SubjectPublicKeyInfo of a certificate (e.g. a pinned peer certificate),
 * for `loadVerifyingKey()`. Throws `ParseError`/`TypeError` for a malformed
 * certificate.
 *
 * @example
 * ```ts
 * const spki = subjectPublicKeyInfo(pinnedDer);
 * ```
 */
export function subjectPublicKeyInfo(cert: CertificateInput): Uint8Array {
  return new Uint8Array(toNode(cert).parts.spki);
}

/**
 * DER bytes of the subject Name, as sent in an ID payload of type DER_ASN1_DN.
 *
 * @example
 * ```ts
 * const idData = subjectDer(ourCert); // with ID type IKE_ID.DER_ASN1_DN (9)
 * ```
 */
export function subjectDer(cert: CertificateInput): Uint8Array {
  return new Uint8Array(toNode(cert).parts.subject);
}

/**
 * True when `cert` is self-issued and its signature verifies with its own
 * key (what `ipsec pki verify` checks for a self-signed certificate given
 * without `--cacert`). Never throws.
 *
 * @example
 * ```ts
 * checkSelfSignature(caCert); // true for a well-formed self-signed CA
 * ```
 */
export function checkSelfSignature(cert: CertificateInput): boolean {
  const n = tryNode(cert);
  if (!n || !isSelfIssued(n)) return false;
  return verifyWithSpki(n.parts.spki, n.cert.signatureAlgorithm, n.parts.tbs, n.parts.signature) ===
    "ok";
}

/** What the IKEv2 engine knows when it checks a peer's CERT payloads. */
export interface PeerCertificateInput {
  /** DER certificates from the CERT payloads (encoding 4, X.509 signature), end entity first. */
  certs: readonly CertificateInput[];
  /** The CA certificates configured for this peer (`remote.cacerts`). */
  trustAnchors: readonly CertificateInput[];
  /** The peer's IDi/IDr payload: ID type (RFC 7296 section 3.5) and identification data. */
  idType: number;
  idData: Uint8Array;
  /** Validation time. */
  now: Date | number;
  /** CRLs of the peer's CAs (`remote.crls`). */
  crls?: readonly Crl[];
  /** Verified OCSP answers fetched for the peer's certificates. */
  ocsp?: readonly OcspStatus[];
  /** `remote.revocation` (default relaxed). */
  revocation?: RevocationPolicy;
}

/** The outcome of {@linkcode validatePeerCertificate}. */
export type PeerCertificateResult =
  | {
    ok: true;
    /** The end-entity certificate. */
    cert: x509.X509Certificate;
    /** leaf first, trust anchor last */
    path: x509.X509Certificate[];
    /** The end entity's public key, for verifying the AUTH payload. */
    publicKey: nodeCrypto.KeyObject;
    /** The same key as DER SubjectPublicKeyInfo. */
    spki: Uint8Array;
  }
  | { ok: false; error: ChainError };

/**
 * Everything IKE_AUTH needs from the peer's certificates in one synchronous
 * call: the first certificate must chain to one of `trustAnchors` (using the
 * others as intermediates, see {@linkcode validateChain}) and must carry the
 * identity the peer claimed in its ID payload (see {@linkcode certMatchesId}).
 * On success it returns the public key to check the AUTH signature with.
 * Never throws; `error.code` says why it failed (`no_certificate`,
 * `id_mismatch`, or a chain failure) and `error.message` is a log line.
 *
 * @example
 * ```ts
 * const r = validatePeerCertificate({
 *   certs: certPayloads.map((p) => p.data),
 *   trustAnchors: cfg.remote.cacerts,
 *   idType: IKE_ID.FQDN,
 *   idData: new TextEncoder().encode("vpn.example.com"),
 *   now: clock.now(),
 * });
 * if (!r.ok) return fail("AUTHENTICATION_FAILED", r.error.message);
 * const authOk = crypto.verify("sha256", signedOctets, r.publicKey, authData);
 * ```
 */
export function validatePeerCertificate(p: PeerCertificateInput): PeerCertificateResult {
  try {
    return validatePeer(p);
  } catch (e) {
    // A part of a certificate the peer sent that only parses on use (a key, a name).
    return {
      ok: false,
      error: new ChainError("malformed", "", `peer certificate unusable: ${(e as Error).message}`),
    };
  }
}

function validatePeer(p: PeerCertificateInput): PeerCertificateResult {
  const [leaf, ...rest] = p.certs;
  if (leaf === undefined) {
    return {
      ok: false,
      error: new ChainError("no_certificate", "", "peer sent no certificate"),
    };
  }
  const chain = validateChain(leaf, rest, p.trustAnchors, p.now, {
    ...(p.crls ? { crls: p.crls } : {}),
    ...(p.ocsp ? { ocsp: p.ocsp } : {}),
    ...(p.revocation ? { revocation: p.revocation } : {}),
  });
  if (!chain.ok) return chain;
  const cert = chain.path[0];
  if (!certMatchesId(cert, p.idType, p.idData)) {
    return {
      ok: false,
      error: new ChainError(
        "id_mismatch",
        cert.subject,
        `certificate "${cert.subject}" does not contain the peer's identity ${
          describeId(p.idType, p.idData)
        } (as subjectAltName${p.idType === IKE_ID.DER_ASN1_DN ? " or subject" : ""})`,
      ),
    };
  }
  return {
    ok: true,
    cert,
    path: chain.path,
    publicKey: publicKeyOf(cert),
    spki: subjectPublicKeyInfo(cert),
  };
}

const ID_NAMES: Record<number, string> = {
  [IKE_ID.IPV4_ADDR]: "IPv4",
  [IKE_ID.FQDN]: "FQDN",
  [IKE_ID.RFC822_ADDR]: "RFC822",
  [IKE_ID.IPV6_ADDR]: "IPv6",
  [IKE_ID.DER_ASN1_DN]: "DN",
  [IKE_ID.DER_ASN1_GN]: "GN",
  [IKE_ID.KEY_ID]: "KEY_ID",
};

/** A printable form of an IKE identity, e.g. `FQDN "vpn.example.com"`. */
export function describeId(idType: number, idData: Uint8Array): string {
  const name = ID_NAMES[idType] ?? `type ${idType}`;
  try {
    switch (idType) {
      case IKE_ID.IPV4_ADDR:
        if (idData.length === 4) return `${name} ${idData.join(".")}`;
        break;
      case IKE_ID.IPV6_ADDR:
        if (idData.length === 16) {
          const groups: string[] = [];
          for (let i = 0; i < 16; i += 2) {
            groups.push(((idData[i] << 8) | idData[i + 1]).toString(16));
          }
          return `${name} ${groups.join(":")}`;
        }
        break;
      case IKE_ID.FQDN:
      case IKE_ID.RFC822_ADDR:
        return `${name} "${new TextDecoder("utf-8", { fatal: true }).decode(idData)}"`;
      case IKE_ID.DER_ASN1_DN:
        return `${name} "${new x509.Name(new Uint8Array(idData)).toString()}"`;
    }
  } catch {
    // fall through to hex
  }
  return `${name} 0x${Array.from(idData, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}
