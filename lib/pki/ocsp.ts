/**
 * OCSP (RFC 6960) as an IKE peer's certificate check needs it: the request
 * for one certificate (SHA-1 CertID, as charon and OpenSSL send, with a
 * nonce), and the response, checked before anything of it is believed: it
 * must be a successful basic response signed by the certificate's issuer
 * or by a responder certificate that issuer gave id-kp-OCSPSigning, carry
 * our nonce when it carries one, and answer for our CertID at a time that
 * is not in the future and not past its nextUpdate.
 *
 * Pure apart from hashing and signature checks (synchronous, like chain
 * validation). Errors are {@linkcode OcspError}s whose message says what a
 * user would check on the responder.
 *
 * @module
 */
import * as nodeCrypto from "node:crypto";
import { Reader } from "../wire/reader.ts";
import { equalBytes, fromHex, toHex } from "../wire/bytes.ts";
import { children, readTlv, splitCertificate, subjectPublicKeyBits, type Tlv } from "./_der.ts";
import { type SigAlg, verifyWithSpki } from "./_verify.ts";
import { integerContents, normalizeSerial, reasonName } from "./crl.ts";
import { x509 } from "./_x509.ts";

/** An OCSP answer could not be used; `message` says why. */
export class OcspError extends Error {
  override readonly name = "OcspError";
}

/** RFC 6960 CertID: which certificate a request or answer is about. */
export interface OcspCertId {
  /** SHA-1 of the issuer's DER subject Name. */
  readonly issuerNameHash: Uint8Array;
  /** SHA-1 of the issuer's subjectPublicKey BIT STRING contents. */
  readonly issuerKeyHash: Uint8Array;
  /** The certificate's serial number as {@linkcode normalizeSerial} writes it. */
  readonly serial: string;
}

/** A verified answer for one certificate. */
export interface OcspStatus {
  readonly certId: OcspCertId;
  readonly status: "good" | "revoked" | "unknown";
  readonly revocationTime?: Date;
  /** CRLReason code, when the responder gave one. */
  readonly reason?: number;
  readonly thisUpdate: Date;
  readonly nextUpdate?: Date;
  readonly producedAt: Date;
  /** Who signed it: "the issuer" or the delegated responder's subject. */
  readonly signer: string;
}

const OID = {
  sha1: "1.3.14.3.2.26",
  sha256: "2.16.840.1.101.3.4.2.1",
  basic: "1.3.6.1.5.5.7.48.1.1",
  nonce: "1.3.6.1.5.5.7.48.1.2",
  ocspSigning: "1.3.6.1.5.5.7.3.9",
  extKeyUsage: "2.5.29.37",
} as const;

/** Signature algorithms of OCSP responses, by OID, as _verify.ts names them. */
const SIG_ALGS: Record<string, SigAlg> = {
  "1.2.840.10045.4.3.2": { name: "ECDSA", hash: "SHA-256" },
  "1.2.840.10045.4.3.3": { name: "ECDSA", hash: "SHA-384" },
  "1.2.840.10045.4.3.4": { name: "ECDSA", hash: "SHA-512" },
  "1.2.840.113549.1.1.11": { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
  "1.2.840.113549.1.1.12": { name: "RSASSA-PKCS1-v1_5", hash: "SHA-384" },
  "1.2.840.113549.1.1.13": { name: "RSASSA-PKCS1-v1_5", hash: "SHA-512" },
  "1.3.101.112": { name: "Ed25519" },
};

const RESPONSE_STATUS = [
  "successful",
  "malformedRequest",
  "internalError",
  "tryLater",
  "(unused)",
  "sigRequired",
  "unauthorized",
];

// ---------------------------------------------------------------------------
// DER in and out

function tlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const len = parts.reduce((n, p) => n + p.length, 0);
  const head = len < 0x80
    ? [tag, len]
    : len < 0x100
    ? [tag, 0x81, len]
    : len < 0x10000
    ? [tag, 0x82, len >> 8, len & 0xff]
    : [tag, 0x83, len >> 16, (len >> 8) & 0xff, len & 0xff];
  const out = new Uint8Array(head.length + len);
  out.set(head);
  let o = head.length;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function oidDer(oid: string): Uint8Array {
  const [a, b, ...rest] = oid.split(".").map(Number);
  const bytes = [a * 40 + b];
  for (const n of rest) {
    const groups = [n & 0x7f];
    for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) {
      groups.unshift(0x80 | (v & 0x7f));
    }
    bytes.push(...groups);
  }
  return tlv(0x06, Uint8Array.from(bytes));
}

function oidText(contents: Uint8Array): string {
  const out = [Math.floor(contents[0] / 40), contents[0] % 40];
  let v = 0;
  for (const b of contents.subarray(1)) {
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      out.push(v);
      v = 0;
    }
  }
  return out.join(".");
}

function generalizedTime(t: Tlv, what: string): Date {
  if (t.tag !== 0x18) throw new OcspError(`${what} is not a GeneralizedTime`);
  const s = new TextDecoder().decode(t.contents);
  const m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(?:\.(\d+))?Z$/.exec(s);
  if (!m) throw new OcspError(`${what} '${s}' is not a UTC GeneralizedTime`);
  const ms = m[7] ? Math.round(Number(`0.${m[7]}`) * 1000) : 0;
  return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], ms));
}

function sha(alg: "sha1" | "sha256", data: Uint8Array): Uint8Array {
  return new Uint8Array(nodeCrypto.createHash(alg).update(data).digest());
}

function expect(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t || t.tag !== tag) throw new OcspError(`malformed OCSP response: ${what}`);
  return t;
}

// ---------------------------------------------------------------------------
// Requests

/**
 * The CertID of `certDer` issued by `issuerDer` (both DER certificates):
 * SHA-1 hashes of the issuer's name and key, and the serial number.
 */
export function ocspCertId(certDer: Uint8Array, issuerDer: Uint8Array): OcspCertId {
  const issuer = splitCertificate(issuerDer);
  const serial = certificateSerial(certDer);
  return {
    issuerNameHash: sha("sha1", issuer.subject),
    issuerKeyHash: sha("sha1", subjectPublicKeyBits(issuer.spki)),
    serial,
  };
}

/** The serial number of a DER certificate, normalized. */
function certificateSerial(der: Uint8Array): string {
  const tbs = splitCertificate(der).tbs;
  const fields = children(readTlv(new Reader(tbs, "tbsCertificate")).contents, "tbsCertificate");
  const i = fields[0]?.tag === 0xa0 ? 1 : 0; // [0] EXPLICIT version
  return normalizeSerial(toHex(expect(fields[i], 0x02, "serialNumber").contents));
}

function certIdDer(id: OcspCertId): Uint8Array {
  return tlv(
    0x30,
    tlv(0x30, oidDer(OID.sha1), Uint8Array.of(0x05, 0x00)),
    tlv(0x04, id.issuerNameHash),
    tlv(0x04, id.issuerKeyHash),
    tlv(0x02, fromHex(integerContents(id.serial))),
  );
}

/**
 * A DER OCSPRequest for one certificate, with `nonce` (RFC 8954: 1 to 32
 * bytes) in a requestExtensions nonce when given.
 */
export function ocspRequest(id: OcspCertId, nonce?: Uint8Array): Uint8Array {
  const request = tlv(0x30, certIdDer(id));
  const parts = [tlv(0x30, request)];
  if (nonce) {
    const ext = tlv(0x30, oidDer(OID.nonce), tlv(0x04, tlv(0x04, nonce)));
    parts.push(tlv(0xa2, tlv(0x30, ext)));
  }
  return tlv(0x30, tlv(0x30, ...parts));
}

// ---------------------------------------------------------------------------
// Responses

/** What {@linkcode checkOcspResponse} needs to know about the question. */
export interface OcspQuestion {
  readonly certId: OcspCertId;
  /** The issuer's DER certificate (signer, or issuer of the signer). */
  readonly issuer: Uint8Array;
  /** The nonce we sent, if any. */
  readonly nonce?: Uint8Array;
  readonly now: number;
}

/** Clock skew allowed between us and the responder (ms). */
const SKEW_MS = 5 * 60_000;

/**
 * Parses and checks an OCSPResponse for `q`: returns the verified status,
 * or throws {@linkcode OcspError} saying why the answer cannot be used.
 */
export function checkOcspResponse(der: Uint8Array, q: OcspQuestion): OcspStatus {
  let top: Tlv[];
  try {
    top = children(
      expect(readTlv(new Reader(der, "OCSPResponse")), 0x30, "not a SEQUENCE").contents,
      "OCSPResponse",
    );
  } catch (e) {
    if (e instanceof OcspError) throw e;
    throw new OcspError(`not an OCSP response (${(e as Error).message})`);
  }
  try {
    return checkParsed(top, q);
  } catch (e) {
    if (e instanceof OcspError) throw e;
    throw new OcspError(`malformed OCSP response (${(e as Error).message})`);
  }
}

function checkParsed(top: Tlv[], q: OcspQuestion): OcspStatus {
  const status = expect(top[0], 0x0a, "responseStatus").contents[0];
  if (status !== 0) {
    throw new OcspError(`the responder answered ${RESPONSE_STATUS[status] ?? `status ${status}`}`);
  }
  const rb = children(expect(top[1], 0xa0, "responseBytes").contents, "responseBytes");
  const rbSeq = children(expect(rb[0], 0x30, "ResponseBytes").contents, "ResponseBytes");
  const type = oidText(expect(rbSeq[0], 0x06, "responseType").contents);
  if (type !== OID.basic) throw new OcspError(`unsupported OCSP response type ${type}`);
  const basic = children(
    expect(
      readTlv(new Reader(expect(rbSeq[1], 0x04, "response").contents, "BasicOCSPResponse")),
      0x30,
      "BasicOCSPResponse",
    ).contents,
    "BasicOCSPResponse",
  );
  const tbs = expect(basic[0], 0x30, "tbsResponseData");
  const algSeq = children(
    expect(basic[1], 0x30, "signatureAlgorithm").contents,
    "AlgorithmIdentifier",
  );
  const algOid = oidText(expect(algSeq[0], 0x06, "signature algorithm").contents);
  const alg = SIG_ALGS[algOid];
  if (!alg) throw new OcspError(`the response is signed with an unsupported algorithm ${algOid}`);
  const sigBits = expect(basic[2], 0x03, "signature").contents.subarray(1);
  const certs = basic[3]?.tag === 0xa0
    ? children(expect(children(basic[3].contents, "certs")[0], 0x30, "certs").contents, "certs")
      .map((c) => c.raw)
    : [];

  // ResponseData
  const rd = children(tbs.contents, "ResponseData");
  let i = rd[0]?.tag === 0xa0 ? 1 : 0;
  const responderId = rd[i++];
  const producedAt = generalizedTime(rd[i++], "producedAt");
  const responses = children(expect(rd[i++], 0x30, "responses").contents, "responses");
  const extensions = rd[i]?.tag === 0xa1 ? rd[i] : undefined;

  // Who signed it: the issuer itself, or a responder the issuer authorized.
  const issuer = splitCertificate(q.issuer);
  const signer = findSigner(responderId, issuer, certs, q.now);
  if (verifyWithSpki(signer.spki, alg, tbs.raw, sigBits) !== "ok") {
    throw new OcspError(`the response's signature does not verify with the key of ${signer.name}`);
  }

  if (q.nonce && extensions) {
    const exts = children(
      expect(children(extensions.contents, "responseExtensions")[0], 0x30, "Extensions").contents,
      "Extensions",
    );
    for (const e of exts) {
      const f = children(e.contents, "Extension");
      if (oidText(f[0].contents) !== OID.nonce) continue;
      const value = f[f.length - 1].contents;
      // The nonce is an OCTET STRING inside the extnValue (RFC 8954); some responders omit the wrapper.
      let got = value;
      try {
        const inner = readTlv(new Reader(value, "nonce"));
        if (inner.tag === 0x04 && inner.raw.length === value.length) got = inner.contents;
      } catch { /* raw nonce */ }
      if (!equalBytes(got, q.nonce)) {
        throw new OcspError("the response's nonce is not the one we sent (a replayed answer?)");
      }
    }
  }

  for (const r of responses) {
    const f = children(expect(r, 0x30, "SingleResponse").contents, "SingleResponse");
    if (!sameCertId(f[0], q.certId, issuer)) continue;
    const st = f[1];
    let result: Pick<OcspStatus, "status" | "revocationTime" | "reason">;
    if (st.tag === 0x80) result = { status: "good" };
    else if (st.tag === 0xa1) {
      const ri = children(st.contents, "RevokedInfo");
      const reason = ri[1]?.tag === 0xa0
        ? children(ri[1].contents, "revocationReason")[0]?.contents[0]
        : undefined;
      result = {
        status: "revoked",
        revocationTime: generalizedTime(ri[0], "revocationTime"),
        ...(reason !== undefined ? { reason } : {}),
      };
    } else if (st.tag === 0x82) result = { status: "unknown" };
    else throw new OcspError("malformed OCSP response: certStatus");
    const thisUpdate = generalizedTime(f[2], "thisUpdate");
    const nextUpdate = f[3]?.tag === 0xa0
      ? generalizedTime(children(f[3].contents, "nextUpdate")[0], "nextUpdate")
      : undefined;
    if (thisUpdate.getTime() > q.now + SKEW_MS) {
      throw new OcspError(
        `the response is dated in the future (thisUpdate ${thisUpdate.toISOString()})`,
      );
    }
    if (nextUpdate && nextUpdate.getTime() < q.now - SKEW_MS) {
      throw new OcspError(`the response is out of date (nextUpdate ${nextUpdate.toISOString()})`);
    }
    return {
      certId: q.certId,
      ...result,
      thisUpdate,
      ...(nextUpdate ? { nextUpdate } : {}),
      producedAt,
      signer: signer.name,
    };
  }
  throw new OcspError(`the response says nothing about serial ${q.certId.serial}`);
}

/** A SingleResponse's CertID is ours (SHA-1 or SHA-256 hashes). */
function sameCertId(t: Tlv, id: OcspCertId, issuer: ReturnType<typeof splitCertificate>): boolean {
  const f = children(expect(t, 0x30, "CertID").contents, "CertID");
  const hashOid = oidText(children(f[0].contents, "hashAlgorithm")[0].contents);
  const serial = normalizeSerial(toHex(expect(f[3], 0x02, "serialNumber").contents));
  if (serial !== id.serial) return false;
  const h = hashOid === OID.sha1 ? "sha1" : hashOid === OID.sha256 ? "sha256" : undefined;
  if (!h) return false;
  const nameHash = h === "sha1" ? id.issuerNameHash : sha(h, issuer.subject);
  const keyHash = h === "sha1" ? id.issuerKeyHash : sha(h, subjectPublicKeyBits(issuer.spki));
  return equalBytes(f[1].contents, nameHash) && equalBytes(f[2].contents, keyHash);
}

/**
 * The response's signer (RFC 6960 section 4.2.2.2): the issuer when the
 * ResponderID names it, else a certificate of `certs` the ResponderID names
 * that the issuer signed, that carries id-kp-OCSPSigning and is valid now.
 */
function findSigner(
  responderId: Tlv,
  issuer: ReturnType<typeof splitCertificate>,
  certs: readonly Uint8Array[],
  now: number,
): { spki: Uint8Array; name: string } {
  const names = (c: ReturnType<typeof splitCertificate>) =>
    responderId.tag === 0xa1
      ? equalBytes(children(responderId.contents, "byName")[0].raw, c.subject)
      : responderId.tag === 0xa2
      ? equalBytes(
        readTlv(new Reader(responderId.contents, "byKey")).contents,
        sha("sha1", subjectPublicKeyBits(c.spki)),
      )
      : false;
  if (names(issuer)) return { spki: issuer.spki, name: "the issuer" };
  for (const der of certs) {
    let c;
    try {
      c = splitCertificate(der);
    } catch {
      continue;
    }
    if (!names(c)) continue;
    const what = "the OCSP responder certificate";
    if (!equalBytes(c.issuer, issuer.subject)) {
      throw new OcspError(`${what} was not issued by the certificate's issuer`);
    }
    const alg = certSigAlg(der);
    if (!alg || verifyWithSpki(issuer.spki, alg, c.tbs, c.signature) !== "ok") {
      throw new OcspError(`${what} is not signed by the certificate's issuer`);
    }
    const info = responderInfo(der);
    if (!info.ocspSigning) throw new OcspError(`${what} lacks the OCSPSigning extended key usage`);
    if (now < info.notBefore || now > info.notAfter) {
      throw new OcspError(`${what} is not valid now`);
    }
    return { spki: c.spki, name: `the responder "${info.subject}"` };
  }
  throw new OcspError("the response is signed by neither the issuer nor a responder it authorized");
}

// The few certificate fields findSigner needs beyond _der.ts, via @peculiar/x509.

function certSigAlg(der: Uint8Array): SigAlg | undefined {
  try {
    return new x509.X509Certificate(new Uint8Array(der)).signatureAlgorithm as SigAlg;
  } catch {
    return undefined;
  }
}

function responderInfo(der: Uint8Array) {
  const c = new x509.X509Certificate(new Uint8Array(der));
  const eku = c.getExtension(x509.ExtendedKeyUsageExtension);
  return {
    subject: c.subject,
    notBefore: c.notBefore.getTime(),
    notAfter: c.notAfter.getTime(),
    ocspSigning: eku?.usages.map(String).includes(OID.ocspSigning) ?? false,
  };
}

/** One line for logs: `good`, `revoked on DATE (reason)`, `unknown`. */
export function describeOcspStatus(s: OcspStatus): string {
  if (s.status !== "revoked") return s.status;
  return `revoked on ${s.revocationTime!.toISOString()}${
    s.reason !== undefined ? ` (${reasonName(s.reason)})` : ""
  }`;
}
