/**
 * Which CRLs a peer's certificates ask to be checked against: the
 * crlDistributionPoints URIs (RFC 5280 section 4.2.1.13) of each
 * certificate on the path to a trust anchor, the anchor's own excepted.
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
/** The DER of the OID above (06 03 55 1d 1f): a cheap test before any parsing. */
const CDP_OID_DER = [0x06, 0x03, 0x55, 0x1d, 0x1f];

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

/**
 * The distribution point URIs to consult before `certs` (the peer's CERT
 * payloads, end entity first) are validated against `trustAnchors` at
 * `now`: empty when no certificate names one, or when the chain does not
 * validate (then validation fails anyway, with its own reason).
 */
export function chainDistributionPoints(
  certs: readonly Uint8Array[],
  trustAnchors: readonly Uint8Array[],
  now: number,
): string[] {
  if (certs.length === 0 || trustAnchors.length === 0) return [];
  if (!certs.some(namesDistributionPoint)) return [];
  const r = validateChain(certs[0], certs.slice(1), trustAnchors, now);
  if (!r.ok) return [];
  const uris = r.path.slice(0, -1).flatMap(distributionPointUris);
  return [...new Set(uris)];
}

function namesDistributionPoint(der: Uint8Array): boolean {
  outer: for (let i = 0; i + CDP_OID_DER.length <= der.length; i++) {
    for (let j = 0; j < CDP_OID_DER.length; j++) {
      if (der[i + j] !== CDP_OID_DER[j]) continue outer;
    }
    return true;
  }
  return false;
}
