/**
 * Encrypted and Authenticated payload SK (RFC 7296 section 3.14) and the
 * Encrypted Fragment payload SKF (RFC 7383 section 2.5). The codec here only
 * frames the opaque bytes; lib/ikev2/message.ts encrypts, verifies and
 * decrypts them. The generic header's Next Payload of SK/SKF is the type of
 * the first inner payload (for SKF: only in fragment 1, else 0).
 *
 * ```
 * SK:
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Next Payload  |C|  RESERVED   |         Payload Length        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                     Initialization Vector                     |
 * |         (length is block size for encryption algorithm)       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                    Encrypted IKE Payloads                     ~
 * +               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |               |             Padding (0-255 octets)            |
 * +-+-+-+-+-+-+-+-+                               +-+-+-+-+-+-+-+-+
 * |                                               |  Pad Length   |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                    Integrity Checksum Data                    ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * SKF:
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Next Payload  |C|  RESERVED   |         Payload Length        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |        Fragment Number        |        Total Fragments        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                     Initialization Vector                     |
 * ~                      Encrypted content                        ~
 * ~                    Integrity Checksum Data                    ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * @module
 */
import type { Reader } from "../../wire/reader.ts";
import type { Writer } from "../../wire/writer.ts";
import { PayloadType } from "../constants.ts";
import type { PayloadBase } from "./_base.ts";

/** A framed SK payload: IV, ciphertext and ICV, still protected. */
export interface SkPayload extends PayloadBase {
  /** Payload type (the union discriminant). */
  type: typeof PayloadType.SK;
  /** Type of the first inner payload (the SK generic header's Next Payload). */
  innerNextPayload: number;
  /** IV || ciphertext || ICV exactly as on the wire. */
  data: Uint8Array;
}

/** A framed SKF payload (one fragment), still protected. */
export interface SkfPayload extends PayloadBase {
  /** Payload type (the union discriminant). */
  type: typeof PayloadType.SKF;
  /** First inner payload type in fragment 1, 0 in the others. */
  innerNextPayload: number;
  /** 1-based fragment number. */
  fragmentNumber: number;
  /** Total number of fragments of the message. */
  totalFragments: number;
  /** IV || ciphertext || ICV exactly as on the wire. */
  data: Uint8Array;
}

/** Decodes an SK payload body (opaque). */
export function decodeSk(r: Reader, innerNextPayload: number): SkPayload {
  return { type: PayloadType.SK, innerNextPayload, data: r.rest().slice() };
}

/** Encodes an SK payload body. */
export function encodeSk(w: Writer, p: SkPayload): void {
  w.bytes(p.data);
}

/**
 * Decodes an SKF payload body. Fragment Number must be 1..Total Fragments and
 * Total Fragments >= 1; a non-first fragment must carry Next Payload 0
 * (RFC 7383 section 2.5).
 */
export function decodeSkf(r: Reader, innerNextPayload: number): SkfPayload {
  const fragmentNumber = r.u16();
  const totalFragments = r.u16();
  if (totalFragments === 0) r.fail("Total Fragments is 0");
  if (fragmentNumber === 0 || fragmentNumber > totalFragments) {
    r.fail(`Fragment Number ${fragmentNumber} not in 1..${totalFragments}`);
  }
  if (fragmentNumber !== 1 && innerNextPayload !== 0) {
    r.fail(`fragment ${fragmentNumber} has Next Payload ${innerNextPayload}, must be 0`);
  }
  return {
    type: PayloadType.SKF,
    innerNextPayload,
    fragmentNumber,
    totalFragments,
    data: r.rest().slice(),
  };
}

/** Encodes an SKF payload body. */
export function encodeSkf(w: Writer, p: SkfPayload): void {
  w.u16(p.fragmentNumber).u16(p.totalFragments).bytes(p.data);
}
