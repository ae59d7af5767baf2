/**
 * Authentication payload (RFC 7296 section 3.8), with the RFC 7427 Digital
 * Signature (method 14) data layout.
 *
 * ```
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Next Payload  |C|  RESERVED   |         Payload Length        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Auth Method   |                RESERVED                       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                      Authentication Data                      ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Authentication Data for method 14 (RFC 7427 section 3):
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | ASN.1 Length  | AlgorithmIdentifier ASN.1 object              |
 * +-+-+-+-+-+-+-+-+                                               +
 * ~         AlgorithmIdentifier ASN.1 object continuing           ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                         Signature Value                       ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * @module
 */
import type { Reader } from "../../wire/reader.ts";
import type { Writer } from "../../wire/writer.ts";
import { ParseError } from "../../wire/parse_error.ts";
import { concat } from "../../wire/bytes.ts";
import { AuthMethod, PayloadType } from "../constants.ts";
import type { PayloadBase } from "./_base.ts";

/** A decoded AUTH payload. */
export interface AuthPayload extends PayloadBase {
  /** Payload type (the union discriminant). */
  type: typeof PayloadType.AUTH;
  /** Auth Method (see {@linkcode AuthMethod}). */
  method: number;
  /** Authentication Data (signature, PSK MAC or RFC 7427 structure). */
  data: Uint8Array;
}

/** Decodes the AUTH payload body; empty authentication data is a syntax error. */
export function decodeAuth(r: Reader): AuthPayload {
  const method = r.u8();
  r.skip(3);
  if (r.remaining === 0) r.fail("AUTH payload has no authentication data");
  const data = r.rest().slice();
  return { type: PayloadType.AUTH, method, data };
}

/** Encodes the AUTH payload body. */
export function encodeAuth(w: Writer, p: AuthPayload): void {
  w.u8(p.method).u8(0).u16(0).bytes(p.data);
}

/** The parts of RFC 7427 Digital Signature authentication data. */
export interface DigitalSignatureData {
  /** DER AlgorithmIdentifier (SEQUENCE), e.g. sha256WithRSAEncryption. */
  algorithmIdentifier: Uint8Array;
  /** The signature value. */
  signature: Uint8Array;
}

/**
 * Splits method-14 authentication data into AlgorithmIdentifier and
 * signature. Throws ParseError if the length byte is 0 or overruns the data.
 */
export function decodeDigitalSignature(data: Uint8Array): DigitalSignatureData {
  if (data.length < 1) throw new ParseError("AUTH/DigitalSignature", 0, "empty data");
  const n = data[0];
  if (n === 0 || 1 + n > data.length) {
    throw new ParseError("AUTH/DigitalSignature", 0, `ASN.1 length ${n} out of range`);
  }
  if (data[1] !== 0x30) {
    throw new ParseError("AUTH/DigitalSignature", 1, "AlgorithmIdentifier is not a SEQUENCE");
  }
  return { algorithmIdentifier: data.slice(1, 1 + n), signature: data.slice(1 + n) };
}

/** Builds method-14 authentication data. Throws RangeError if the AlgorithmIdentifier > 255 bytes. */
export function encodeDigitalSignature(d: DigitalSignatureData): Uint8Array {
  if (d.algorithmIdentifier.length === 0 || d.algorithmIdentifier.length > 255) {
    throw new RangeError("AlgorithmIdentifier must be 1..255 bytes");
  }
  return concat(Uint8Array.of(d.algorithmIdentifier.length), d.algorithmIdentifier, d.signature);
}

/** True for methods whose data is a signature (not a PSK MAC). */
export function isSignatureAuthMethod(method: number): boolean {
  return method !== AuthMethod.SHARED_KEY_MIC && method !== AuthMethod.NULL_AUTHENTICATION &&
    method !== AuthMethod.GENERIC_SECURE_PASSWORD;
}
