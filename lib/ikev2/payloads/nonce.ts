/**
 * Nonce payload (RFC 7296 section 3.9): 16..256 bytes of random data.
 *
 * ```
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Next Payload  |C|  RESERVED   |         Payload Length        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                            Nonce Data                         ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * @module
 */
import type { Reader } from "../../wire/reader.ts";
import type { Writer } from "../../wire/writer.ts";
import { PayloadType } from "../constants.ts";
import type { PayloadBase } from "./_base.ts";

/** Minimum nonce length in bytes (RFC 7296 section 3.9). */
export const MIN_NONCE_LENGTH = 16;
/** Maximum nonce length in bytes (RFC 7296 section 3.9). */
export const MAX_NONCE_LENGTH = 256;

/** A decoded Nonce payload. */
export interface NoncePayload extends PayloadBase {
  /** Payload type (the union discriminant). */
  type: typeof PayloadType.NONCE;
  /** Nonce Data (16..256 bytes). */
  data: Uint8Array;
}

/** Decodes the Nonce payload body; the length must be 16..256. */
export function decodeNonce(r: Reader): NoncePayload {
  const n = r.remaining;
  if (n < MIN_NONCE_LENGTH || n > MAX_NONCE_LENGTH) {
    r.fail(`nonce must be ${MIN_NONCE_LENGTH}..${MAX_NONCE_LENGTH} bytes, got ${n}`);
  }
  return { type: PayloadType.NONCE, data: r.rest().slice() };
}

/** Encodes the Nonce payload body. Throws RangeError outside 16..256 bytes. */
export function encodeNonce(w: Writer, p: NoncePayload): void {
  if (p.data.length < MIN_NONCE_LENGTH || p.data.length > MAX_NONCE_LENGTH) {
    throw new RangeError(`nonce must be 16..256 bytes, got ${p.data.length}`);
  }
  w.bytes(p.data);
}
