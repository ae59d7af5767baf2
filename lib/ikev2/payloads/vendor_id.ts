/**
 * Vendor ID payload (RFC 7296 section 3.12).
 *
 * ```
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Next Payload  |C|  RESERVED   |         Payload Length        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                        Vendor ID (VID)                        ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * @module
 */
import type { Reader } from "../../wire/reader.ts";
import type { Writer } from "../../wire/writer.ts";
import { PayloadType } from "../constants.ts";
import type { PayloadBase } from "./_base.ts";

/** A decoded Vendor ID payload. */
export interface VendorIdPayload extends PayloadBase {
  /** Payload type (the union discriminant). */
  type: typeof PayloadType.VENDOR_ID;
  /** The Vendor ID bytes (opaque). */
  data: Uint8Array;
}

/** Decodes the Vendor ID payload body (opaque, may be empty). */
export function decodeVendorId(r: Reader): VendorIdPayload {
  return { type: PayloadType.VENDOR_ID, data: r.rest().slice() };
}

/** Encodes the Vendor ID payload body. */
export function encodeVendorId(w: Writer, p: VendorIdPayload): void {
  w.bytes(p.data);
}
