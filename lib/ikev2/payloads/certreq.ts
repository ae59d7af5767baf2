/**
 * Certificate Request payload (RFC 7296 section 3.7). For encoding 4
 * (X.509 Certificate - Signature) the data is a concatenation of 20-byte
 * SHA-1 hashes of trusted CAs' SubjectPublicKeyInfo.
 *
 * ```
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Next Payload  |C|  RESERVED   |         Payload Length        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Cert Encoding |                                               |
 * +-+-+-+-+-+-+-+-+                                               |
 * ~                    Certification Authority                    ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * @module
 */
import type { Reader } from "../../wire/reader.ts";
import type { Writer } from "../../wire/writer.ts";
import { concat } from "../../wire/bytes.ts";
import { CertEncoding, PayloadType } from "../constants.ts";
import { ParseError } from "../../wire/parse_error.ts";
import type { PayloadBase } from "./_base.ts";

/** Length of one CA key hash (SHA-1). */
export const CA_HASH_LENGTH = 20;

/** A decoded CERTREQ payload. */
export interface CertreqPayload extends PayloadBase {
  /** Payload type (the union discriminant). */
  type: typeof PayloadType.CERTREQ;
  /** Cert Encoding (4 = X.509 Certificate - Signature). */
  encoding: number;
  /** Certification Authority field (may be empty: "any CA"). */
  data: Uint8Array;
}

/** Decodes the CERTREQ payload body. */
export function decodeCertreq(r: Reader): CertreqPayload {
  const encoding = r.u8();
  return { type: PayloadType.CERTREQ, encoding, data: r.rest().slice() };
}

/** Encodes the CERTREQ payload body. */
export function encodeCertreq(w: Writer, p: CertreqPayload): void {
  w.u8(p.encoding).bytes(p.data);
}

/** A CERTREQ for X.509 signature certs listing the given 20-byte CA key hashes. */
export function makeCertreq(caKeyHashes: Uint8Array[]): CertreqPayload {
  for (const h of caKeyHashes) {
    if (h.length !== CA_HASH_LENGTH) throw new RangeError("CA key hash must be 20 bytes");
  }
  return {
    type: PayloadType.CERTREQ,
    encoding: CertEncoding.X509_CERT_SIGNATURE,
    data: concat(...caKeyHashes),
  };
}

/** Splits a CERTREQ's data into 20-byte CA key hashes; ParseError if not a multiple of 20. */
export function certreqAuthorities(p: CertreqPayload): Uint8Array[] {
  if (p.data.length % CA_HASH_LENGTH !== 0) {
    throw new ParseError("CERTREQ", 0, `CA data length ${p.data.length} not a multiple of 20`);
  }
  const out: Uint8Array[] = [];
  for (let i = 0; i < p.data.length; i += CA_HASH_LENGTH) {
    out.push(p.data.slice(i, i + CA_HASH_LENGTH));
  }
  return out;
}
