/**
 * Certificate payload (RFC 7296 section 3.6).
 *
 * ```
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Next Payload  |C|  RESERVED   |         Payload Length        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Cert Encoding |                                               |
 * +-+-+-+-+-+-+-+-+                                               |
 * ~                       Certificate Data                        ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * @module
 */
import type { Reader } from "../../wire/reader.ts";
import type { Writer } from "../../wire/writer.ts";
import { PayloadType } from "../constants.ts";
import type { PayloadBase } from "./_base.ts";

/** A decoded CERT payload. */
export interface CertPayload extends PayloadBase {
  /** Payload type (the union discriminant). */
  type: typeof PayloadType.CERT;
  /** Cert Encoding (see {@linkcode CertEncoding}), 4 = X.509 DER. */
  encoding: number;
  /** Certificate Data (DER for encoding 4). */
  data: Uint8Array;
}

/** Decodes the CERT payload body; empty certificate data is a syntax error. */
export function decodeCert(r: Reader): CertPayload {
  const encoding = r.u8();
  if (r.remaining === 0) r.fail("CERT payload has no certificate data");
  return { type: PayloadType.CERT, encoding, data: r.rest().slice() };
}

/** Encodes the CERT payload body. */
export function encodeCert(w: Writer, p: CertPayload): void {
  w.u8(p.encoding).bytes(p.data);
}
