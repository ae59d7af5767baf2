/**
 * Delete payload (RFC 7296 section 3.11). For the IKE SA itself, Protocol
 * ID is 1 and SPI Size 0; for ESP/AH SAs SPI Size is 4 and the SPIs are the
 * inbound SPIs of the sender.
 *
 * ```
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Next Payload  |C|  RESERVED   |         Payload Length        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Protocol ID   |   SPI Size    |          Num of SPIs          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~               Security Parameter Index(es) (SPI)              ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * @module
 */
import type { Reader } from "../../wire/reader.ts";
import type { Writer } from "../../wire/writer.ts";
import { PayloadType, ProtocolId } from "../constants.ts";
import type { PayloadBase } from "./_base.ts";

/** A decoded Delete payload. */
export interface DeletePayload extends PayloadBase {
  /** Payload type (the union discriminant). */
  type: typeof PayloadType.DELETE;
  /** 1 IKE, 2 AH, 3 ESP. */
  protocolId: number;
  /** SPI Size: 0 for IKE, 4 for AH/ESP. */
  spiSize: number;
  /** The SPIs, each `spiSize` bytes. Empty for IKE. */
  spis: Uint8Array[];
}

/**
 * Decodes the Delete payload body. Checks Num of SPIs * SPI Size against the
 * length, SPI Size 0 for IKE and 4 for AH/ESP.
 */
export function decodeDelete(r: Reader): DeletePayload {
  const protocolId = r.u8();
  const spiSize = r.u8();
  const num = r.u16();
  if (protocolId === ProtocolId.IKE && (spiSize !== 0 || num !== 0)) {
    r.fail(`Delete for IKE needs SPI size 0 and no SPIs, got ${spiSize}/${num}`);
  }
  if ((protocolId === ProtocolId.AH || protocolId === ProtocolId.ESP) && spiSize !== 4) {
    r.fail(`Delete for AH/ESP needs SPI size 4, got ${spiSize}`);
  }
  if (spiSize === 0 && num !== 0) r.fail(`SPI size 0 with ${num} SPIs`);
  if (num * spiSize !== r.remaining) {
    r.fail(`${num} SPI(s) of ${spiSize} bytes != ${r.remaining} remaining bytes`);
  }
  const spis: Uint8Array[] = [];
  for (let i = 0; i < num; i++) spis.push(r.bytes(spiSize).slice());
  return { type: PayloadType.DELETE, protocolId, spiSize, spis };
}

/** Encodes the Delete payload body. Throws RangeError on an SPI of the wrong size. */
export function encodeDelete(w: Writer, p: DeletePayload): void {
  w.u8(p.protocolId).u8(p.spiSize).u16(p.spis.length);
  for (const s of p.spis) {
    if (s.length !== p.spiSize) throw new RangeError(`SPI of ${s.length} bytes, size ${p.spiSize}`);
    w.bytes(s);
  }
}
