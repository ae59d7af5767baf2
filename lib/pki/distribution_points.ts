/**
 * Where a peer's certificates say their revocation status is found: the
 * crlDistributionPoints URIs (RFC 5280 section 4.2.1.13) and the OCSP
 * responders of authorityInfoAccess (section 4.2.2.1) of each certificate
 * on the path to a trust anchor, the anchor's own excepted.
 *
 * Only certificates that chain to one of our trust anchors are looked at:
 * anybody can start an IKE SA, and a certificate no CA of ours signed must
 * not make us fetch what it names (charon also fetches while it builds a
 * trusted chain).
 *
 * @module
 */
import { x509 } from "./_x509.ts";
import { validateChain } from "./validate.ts";

const CDP_OID = "2.5.29.31";
const AIA_OID = "1.3.6.1.5.5.7.1.1";
/** The DER of the OIDs above: a cheap test before any parsing. */
const CDP_OID_DER = [0x06, 0x03, 0x55, 0x1d, 0x1f];
const AIA_OID_DER = [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x01];

/** The URIs of a certificate's crlDistributionPoints (fullName URIs only). */
export function distributionPointUris(cert: x509.X509Certificate): string[] {
  const out: string[] = [];
  for (const e of cert.extensions) {
    if (e.type !== CDP_OID) continue;
    try {
      const cdp = new x509.CRLDistributionPointsExtension(e.rawData);
      for (const dp of cdp.distributionPoints) {
        for (const name of dp.distributionPoint?.fullName ?? []) {
          if (name.uniformResourceIdentifier) out.push(name.uniformResourceIdentifier);
        }
      }
    } catch {
      // An unparsable extension names nothing to fetch; validation reports the certificate.
    }
  }
  return out;
}

/** The OCSP responder URIs of a certificate's authorityInfoAccess. */
export function ocspResponderUris(cert: x509.X509Certificate): string[] {
  const out: string[] = [];
  for (const e of cert.extensions) {
    if (e.type !== AIA_OID) continue;
    try {
      const aia = new x509.AuthorityInfoAccessExtension(e.rawData);
      for (const n of aia.ocsp) if (n.type === "url") out.push(n.value);
    } catch {
      // Unparsable: nothing to ask.
    }
  }
  return out;
}

/** An OCSP question to ask: responder, the certificate and its issuer (DER). */
export interface OcspSource {
  readonly uri: string;
  readonly cert: Uint8Array;
  readonly issuer: Uint8Array;
}

/** Where the revocation status of a validated chain's certificates is found. */
export interface RevocationSources {
  readonly crlUris: string[];
  readonly ocsp: OcspSource[];
}

/**
 * The CRL distribution points and OCSP responders to consult before
 * `certs` (the peer's CERT payloads, end entity first) are validated
 * against `trustAnchors` at `now`: empty when no certificate names one, or
 * when the chain does not validate (then validation fails anyway, with its
 * own reason).
 */
export function chainRevocationSources(
  certs: readonly Uint8Array[],
  trustAnchors: readonly Uint8Array[],
  now: number,
): RevocationSources {
  const none = { crlUris: [], ocsp: [] };
  if (certs.length === 0 || trustAnchors.length === 0) return none;
  if (!certs.some((c) => contains(c, CDP_OID_DER) || contains(c, AIA_OID_DER))) return none;
  const r = validateChain(certs[0], certs.slice(1), trustAnchors, now);
  if (!r.ok) return none;
  const crlUris = new Set<string>();
  const ocsp: OcspSource[] = [];
  for (let i = 0; i + 1 < r.path.length; i++) {
    for (const u of distributionPointUris(r.path[i])) crlUris.add(u);
    for (const uri of ocspResponderUris(r.path[i])) {
      ocsp.push({
        uri,
        cert: new Uint8Array(r.path[i].rawData),
        issuer: new Uint8Array(r.path[i + 1].rawData),
      });
    }
  }
  return { crlUris: [...crlUris], ocsp };
}

/** The CRL distribution point URIs of {@linkcode chainRevocationSources}. */
export function chainDistributionPoints(
  certs: readonly Uint8Array[],
  trustAnchors: readonly Uint8Array[],
  now: number,
): string[] {
  return chainRevocationSources(certs, trustAnchors, now).crlUris;
}

function contains(der: Uint8Array, pattern: readonly number[]): boolean {
  outer: for (let i = 0; i + pattern.length <= der.length; i++) {
    for (let j = 0; j < pattern.length; j++) {
      if (der[i + j] !== pattern[j]) continue outer;
    }
    return true;
  }
  return false;
}
