/**
 * Just enough DER walking to get the exact signed bytes out of a certificate
 * (tbsCertificate, issuer and subject Names, SubjectPublicKeyInfo, signature)
 * for chain validation. Uses the bounded wire Reader, so it throws
 * `ParseError` on truncated or trailing input.
 *
 * @module
 */
import { Reader } from "../wire/reader.ts";

/** One DER TLV: tag byte, the full encoding, and the contents. */
export interface Tlv {
  tag: number;
  raw: Uint8Array;
  contents: Uint8Array;
}

/** Reads one TLV (single-byte tags, definite lengths only, as DER requires). */
export function readTlv(r: Reader): Tlv {
  const start = r.pos;
  const tag = r.u8();
  if ((tag & 0x1f) === 0x1f) r.fail("multi-byte ASN.1 tags are not supported");
  let len = r.u8();
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) r.fail("unsupported ASN.1 length encoding");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + r.u8();
  }
  const headerLen = r.pos - start;
  const contents = r.bytes(len);
  const raw = new Uint8Array(contents.buffer, contents.byteOffset - headerLen, headerLen + len);
  return { tag, raw, contents };
}

/** Reads all TLVs inside a constructed value's contents. */
export function children(contents: Uint8Array, what: string): Tlv[] {
  const r = new Reader(contents, what);
  const out: Tlv[] = [];
  while (r.remaining > 0) out.push(readTlv(r));
  return out;
}

/** The parts of a certificate a signature check and identity match need. */
export interface CertParts {
  /** DER tbsCertificate, the signed bytes. */
  tbs: Uint8Array;
  /** DER issuer Name. */
  issuer: Uint8Array;
  /** DER subject Name. */
  subject: Uint8Array;
  /** DER SubjectPublicKeyInfo. */
  spki: Uint8Array;
  /** The signatureValue BIT STRING contents without the unused-bits byte. */
  signature: Uint8Array;
}

/**
 * The signed SEQUENCE { tbs, signatureAlgorithm, signatureValue } shared by
 * certificates and CRLs: the tbs TLV, its fields, and the signature bits.
 * Throws ParseError naming `what`.
 */
function splitSigned(
  der: Uint8Array,
  what: string,
  tbsName: string,
): { r: Reader; tbs: Tlv; fields: Tlv[]; signature: Uint8Array } {
  const r = new Reader(der, what);
  const outer = readTlv(r);
  r.end();
  if (outer.tag !== 0x30) r.fail("not a SEQUENCE");
  const [tbs, , sig] = children(outer.contents, what);
  if (!tbs || !sig || tbs.tag !== 0x30 || sig.tag !== 0x03) r.fail(`malformed ${what}`);
  if (sig.contents[0] !== 0) r.fail("signature BIT STRING has unused bits");
  return {
    r,
    tbs,
    fields: children(tbs.contents, tbsName),
    signature: sig.contents.subarray(1),
  };
}

/** Splits a DER certificate (RFC 5280 section 4.1); throws ParseError. */
export function splitCertificate(der: Uint8Array): CertParts {
  const { r, tbs, fields, signature } = splitSigned(der, "Certificate", "tbsCertificate");
  const i = fields[0]?.tag === 0xa0 ? 1 : 0; // optional [0] version
  const [, , issuer, , subject, spki] = fields.slice(i);
  if (!spki || issuer.tag !== 0x30 || subject.tag !== 0x30 || spki.tag !== 0x30) {
    r.fail("malformed tbsCertificate");
  }
  return { tbs: tbs.raw, issuer: issuer.raw, subject: subject.raw, spki: spki.raw, signature };
}

/** The subjectPublicKey BIT STRING contents (without unused-bits byte) of a SPKI. */
export function subjectPublicKeyBits(spki: Uint8Array): Uint8Array {
  const r = new Reader(spki, "SubjectPublicKeyInfo");
  const seq = readTlv(r);
  const [, bits] = children(seq.contents, "SubjectPublicKeyInfo");
  if (!bits || bits.tag !== 0x03) r.fail("no subjectPublicKey");
  return bits.contents.subarray(1);
}

/** The parts of a CRL (RFC 5280 section 5.1) a signature check needs. */
export interface CrlParts {
  /** DER tbsCertList, the signed bytes. */
  tbs: Uint8Array;
  /** DER issuer Name. */
  issuer: Uint8Array;
  /** The signatureValue BIT STRING contents without the unused-bits byte. */
  signature: Uint8Array;
}

/** Splits a DER CertificateList (RFC 5280 section 5.1); throws ParseError. */
export function splitCrl(der: Uint8Array): CrlParts {
  const { r, tbs, fields, signature } = splitSigned(der, "CertificateList", "tbsCertList");
  const i = fields[0]?.tag === 0x02 ? 1 : 0; // optional version INTEGER (v2)
  const issuer = fields[i + 1];
  if (!issuer || issuer.tag !== 0x30) r.fail("malformed tbsCertList");
  return { tbs: tbs.raw, issuer: issuer.raw, signature };
}
