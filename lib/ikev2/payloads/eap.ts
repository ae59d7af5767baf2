/**
 * Extensible Authentication payload (RFC 7296 section 3.16). The EAP message
 * stays opaque here; only its own 4-byte header (Code, Identifier, Length) is
 * checked against the payload length.
 *
 * ```
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Next Payload  |C|  RESERVED   |         Payload Length        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                       EAP Message                             ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * EAP Message (RFC 3748 section 4):
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     Code      |  Identifier   |           Length              |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     Type      |  Type_Data...
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * @module
 */
import type { Reader } from "../../wire/reader.ts";
import type { Writer } from "../../wire/writer.ts";
import { PayloadType } from "../constants.ts";
import type { PayloadBase } from "./_base.ts";

/** A decoded EAP payload; `data` is the whole EAP message. */
export interface EapPayload extends PayloadBase {
  /** Payload type (the union discriminant). */
  type: typeof PayloadType.EAP;
  /** The whole EAP message (Code, Identifier, Length, Type, Type-Data). */
  data: Uint8Array;
}

/** Decodes the EAP payload body; the EAP Length field must equal the body length. */
export function decodeEap(r: Reader): EapPayload {
  const n = r.remaining;
  if (n < 4) r.fail(`EAP message shorter than its 4-byte header (${n})`);
  const body = r.rest();
  const eapLen = (body[2] << 8) | body[3];
  if (eapLen !== n) r.fail(`EAP Length ${eapLen} != payload data length ${n}`);
  return { type: PayloadType.EAP, data: body.slice() };
}

/** Encodes the EAP payload body. */
export function encodeEap(w: Writer, p: EapPayload): void {
  w.bytes(p.data);
}
