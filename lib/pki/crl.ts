/**
 * Certificate revocation lists (RFC 5280 section 5): parse them (PEM
 * `X509 CRL` blocks or one DER CRL), say whether a serial number is listed,
 * and issue one (`ipsec pki signcrl`). Whether a CRL may be trusted (its
 * issuer's signature, cRLSign, freshness) is decided where the chain is
 * known: lib/pki/validate.ts.
 *
 * A CRL is marked unusable (never trusted, as RFC 5280 section 5.2 and 5.3
 * require for unrecognised critical extensions) when it is a delta CRL,
 * carries an issuing distribution point (a partitioned CRL) or lists
 * certificates of another issuer (an indirect CRL).
 *
 * @module
 */
import { x509 } from "./_x509.ts";
import { type CrlParts, splitCrl } from "./_der.ts";
import type { SigAlg } from "./_verify.ts";
import { PkiError } from "./pki_error.ts";
import { readBlocks } from "./pem.ts";
import { type KeyPair, signingAlgorithm } from "./keys.ts";
import { issuerSpki } from "./certificate.ts";

/** CRLReason codes by name (RFC 5280 section 5.3.1; 7 is unused). */
export const CRL_REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const;
/** A CRLReason name. */
export type CrlReasonName = keyof typeof CRL_REASONS;

/** The name of a CRLReason code, e.g. `keyCompromise`. */
export function reasonName(code: number): string {
  for (const [k, v] of Object.entries(CRL_REASONS)) if (v === code) return k;
  return `reason ${code}`;
}

/** One listed certificate. */
export interface Revocation {
  /** The certificate's serial number, as {@linkcode normalizeSerial} writes it. */
  serial: string;
  date: Date;
  /** CRLReason code, when the entry has one. */
  reason?: number;
}

/** A parsed CRL. */
export interface Crl {
  der: Uint8Array;
  /** The signed bytes, issuer Name and signature. */
  parts: CrlParts;
  /** Issuer DN, for messages. */
  issuer: string;
  signatureAlgorithm: SigAlg;
  thisUpdate: Date;
  nextUpdate?: Date;
  /** cRLNumber (hex), when present. */
  crlNumber?: string;
  /** Why the CRL may not be used to decide revocation, when it may not. */
  unusable?: string;
  /** Listed certificates by normalized serial number. */
  revoked: ReadonlyMap<string, Revocation>;
}

/** A serial number as lowercase hex without leading zeros or separators ("0" for zero). */
export function normalizeSerial(hex: string): string {
  const h = hex.toLowerCase().replace(/[^0-9a-f]/g, "").replace(/^0+/, "");
  return h === "" ? "0" : h;
}

const OID = {
  crlNumber: "2.5.29.20",
  authorityKeyIdentifier: "2.5.29.35",
  deltaCrlIndicator: "2.5.29.27",
  issuingDistributionPoint: "2.5.29.28",
  freshestCrl: "2.5.29.46",
  reasonCode: "2.5.29.21",
  invalidityDate: "2.5.29.24",
  certificateIssuer: "2.5.29.29",
} as const;
const CRL_EXTENSIONS: ReadonlySet<string> = new Set([
  OID.crlNumber,
  OID.authorityKeyIdentifier,
  OID.freshestCrl,
]);
const ENTRY_EXTENSIONS: ReadonlySet<string> = new Set([OID.reasonCode, OID.invalidityDate]);

function hex(b: ArrayBuffer | Uint8Array): string {
  return Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, "0")).join("");
}

/** The value of a DER INTEGER extension (cRLNumber) as hex, or undefined. */
function integerHex(value: ArrayBuffer): string | undefined {
  const v = new Uint8Array(value);
  if (v.length < 3 || v[0] !== 0x02 || v[1] !== v.length - 2) return undefined;
  return normalizeSerial(hex(v.subarray(2)));
}

function toCrl(der: Uint8Array, what: string): Crl {
  let parts: CrlParts;
  let c: x509.X509Crl;
  try {
    parts = splitCrl(der);
    c = new x509.X509Crl(new Uint8Array(der));
  } catch (e) {
    throw new PkiError(`${what}: not a valid X.509 CRL (${(e as Error).message})`);
  }
  let unusable: string | undefined;
  let crlNumber: string | undefined;
  for (const e of c.extensions) {
    if (e.type === OID.crlNumber) crlNumber = integerHex(e.value);
    if (e.type === OID.deltaCrlIndicator) unusable = "it is a delta CRL";
    else if (e.type === OID.issuingDistributionPoint) {
      unusable = "it covers only part of its issuer's certificates (issuing distribution point)";
    } else if (e.critical && !CRL_EXTENSIONS.has(e.type)) {
      unusable = `it has an unsupported critical extension ${e.type}`;
    }
  }
  const revoked = new Map<string, Revocation>();
  for (const entry of c.entries) {
    for (const e of entry.extensions) {
      if (e.type === OID.certificateIssuer) {
        unusable = "it lists certificates of other issuers (indirect CRL)";
      } else if (e.critical && !ENTRY_EXTENSIONS.has(e.type)) {
        unusable = `an entry has an unsupported critical extension ${e.type}`;
      }
    }
    const serial = normalizeSerial(entry.serialNumber);
    revoked.set(serial, {
      serial,
      date: entry.revocationDate,
      ...(entry.reason !== undefined ? { reason: entry.reason } : {}),
    });
  }
  return {
    der,
    parts,
    issuer: c.issuer,
    signatureAlgorithm: c.signatureAlgorithm as SigAlg,
    thisUpdate: c.thisUpdate,
    ...(c.nextUpdate ? { nextUpdate: c.nextUpdate } : {}),
    ...(crlNumber !== undefined ? { crlNumber } : {}),
    ...(unusable ? { unusable } : {}),
    revoked,
  };
}

/**
 * Parses every CRL in `input`: PEM with `X509 CRL` blocks, or one DER CRL.
 * Throws {@linkcode PkiError} naming `what` when there is none or one is
 * malformed.
 *
 * @example
 * ```ts
 * const [crl] = parseCrls(Deno.readFileSync("ca.crl"), "ca.crl");
 * crl.revoked.has(normalizeSerial(cert.serialNumber)); // listed?
 * ```
 */
export function parseCrls(input: Uint8Array | string, what = "input"): Crl[] {
  const bytes = typeof input === "string" ? new TextEncoder().encode(input) : input;
  const blocks = readBlocks(bytes, what);
  const crls = blocks.filter((b) => b.label === null || b.label === "X509 CRL");
  if (crls.length === 0) {
    throw new PkiError(`${what}: not a CRL (found ${blocks.map((b) => b.label).join(", ")})`);
  }
  return crls.map((b) => toCrl(new Uint8Array(b.der), what));
}

/** The contents octets of a positive DER INTEGER holding `hex`, as hex. */
/** A serial number as the hex of its DER INTEGER contents (even length, a 00 before a high bit). */
export function integerContents(serial: string): string {
  const n = normalizeSerial(serial);
  const even = n.length % 2 ? "0" + n : n;
  return parseInt(even.slice(0, 2), 16) >= 0x80 ? "00" + even : even;
}

function hexBytes(h: string): number[] {
  return h.match(/../g)!.map((x) => parseInt(x, 16));
}

/** Parameters for {@linkcode createCrl}. */
export interface CrlParams {
  issuerCert: x509.X509Certificate;
  issuerKey: KeyPair;
  /** Listed certificates (serial as hex; reason optional). */
  revoked: readonly { serial: string; date: Date; reason?: number }[];
  now: Date;
  /** Days until nextUpdate (default 15, as strongSwan's `pki --signcrl`). */
  lifetimeDays?: number;
  /** cRLNumber as hex (default 1). */
  crlNumber?: string;
}

/**
 * Issues a CRL signed by `issuerKey`: version 2, thisUpdate `now`,
 * nextUpdate after `lifetimeDays`, authorityKeyIdentifier, cRLNumber, and an
 * entry (with a reasonCode when given) per revoked certificate. Throws
 * {@linkcode PkiError} when the key does not belong to `issuerCert`.
 */
export async function createCrl(p: CrlParams): Promise<Uint8Array> {
  const caSpki = issuerSpki(p.issuerCert, p.issuerKey);
  const days = p.lifetimeDays ?? 15;
  if (!Number.isFinite(days) || days <= 0) {
    throw new PkiError(`invalid lifetime ${days} (days, > 0)`);
  }
  const intHex = integerContents(p.crlNumber ?? "1");
  const intDer = Uint8Array.from([0x02, intHex.length / 2, ...hexBytes(intHex)]);
  const ski = p.issuerCert.getExtension(x509.SubjectKeyIdentifierExtension);
  const keyId = ski
    ? ski.keyId
    : (await x509.SubjectKeyIdentifierExtension.create(new Uint8Array(caSpki))).keyId;
  const thisUpdate = new Date(Math.floor(p.now.getTime() / 1000) * 1000);
  const crl = await x509.X509CrlGenerator.create({
    issuer: p.issuerCert.subjectName,
    thisUpdate,
    nextUpdate: new Date(thisUpdate.getTime() + days * 86_400_000),
    signingKey: p.issuerKey.privateKey,
    signingAlgorithm: signingAlgorithm(p.issuerKey.type, p.issuerKey.bits),
    extensions: [
      new x509.AuthorityKeyIdentifierExtension(keyId),
      new x509.Extension(OID.crlNumber, false, intDer),
    ],
    entries: p.revoked.map((r) => ({
      serialNumber: integerContents(r.serial),
      revocationDate: new Date(Math.floor(r.date.getTime() / 1000) * 1000),
      ...(r.reason !== undefined ? { reason: r.reason } : {}),
    })),
  });
  return new Uint8Array(crl.rawData);
}

/** A CRL for `ipsec pki print`, in the spirit of strongSwan's `pki --print`. */
export function formatCrl(c: Crl, now: Date): string {
  const next = c.nextUpdate
    ? `${c.nextUpdate.toISOString()}${now > c.nextUpdate ? " (out of date)" : ""}`
    : "(none)";
  const lines = [
    `issuer:    "${c.issuer}"`,
    `crlNumber: ${c.crlNumber ? formatSerial(c.crlNumber) : "(none)"}`,
    `thisUpdate: ${c.thisUpdate.toISOString()}`,
    `nextUpdate: ${next}`,
    `revoked:   ${c.revoked.size} certificate${c.revoked.size === 1 ? "" : "s"}`,
  ];
  for (const r of c.revoked.values()) {
    lines.push(
      `  ${formatSerial(r.serial)}  ${r.date.toISOString()}${
        r.reason !== undefined ? `  ${reasonName(r.reason)}` : ""
      }`,
    );
  }
  if (c.unusable) lines.push(`warning:   not used for revocation checks: ${c.unusable}`);
  return lines.join("\n");
}

/** A serial number (hex) as `01:a3:...`, as strongSwan and openssl print them. */
export function formatSerial(hexSerial: string): string {
  const even = hexSerial.length % 2 ? "0" + hexSerial : hexSerial;
  return even.match(/../g)!.join(":");
}
