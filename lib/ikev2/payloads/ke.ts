/**
 * Key Exchange payload (RFC 7296 section 3.4).
 *
 * ```
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Next Payload  |C|  RESERVED   |         Payload Length        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   Diffie-Hellman Group Num    |           RESERVED            |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                       Key Exchange Data                       ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * @module
 */
import type { Reader } from "../../wire/reader.ts";
import type { Writer } from "../../wire/writer.ts";
import { PayloadType } from "../constants.ts";
import type { PayloadBase } from "./_base.ts";

/** A decoded KE payload. */
export interface KePayload extends PayloadBase {
  /** Payload type (the union discriminant). */
  type: typeof PayloadType.KE;
  /** Key exchange method (Transform Type 4 id), e.g. 31 = Curve25519. */
  group: number;
  /** The public value; its length is checked by lib/crypto, not here. */
  data: Uint8Array;
}

/** Decodes the KE payload body. Empty key exchange data is a syntax error. */
export function decodeKe(r: Reader): KePayload {
  const group = r.u16();
  r.skip(2);
  if (r.remaining === 0) r.fail("KE payload has no key exchange data");
  return { type: PayloadType.KE, group, data: r.rest().slice() };
}

/** Encodes the KE payload body. */
export function encodeKe(w: Writer, p: KePayload): void {
  w.u16(p.group).u16(0).bytes(p.data);
}
