/**
 * The fixed IKE header (RFC 7296 section 3.1) and the generic payload header
 * (section 3.2).
 *
 * ```
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                       IKE SA Initiator's SPI                  |
 * |                                                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                       IKE SA Responder's SPI                  |
 * |                                                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Next Payload | MjVer | MnVer | Exchange Type |     Flags     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                          Message ID                           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                            Length                             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Flags: |X|X|R|V|I|X|X|X|
 *
 * Generic payload header:
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Next Payload  |C|  RESERVED   |         Payload Length        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * @example
 * ```ts
 * const h = decodeHeader(new Reader(bytes, "IKE header"), bytes.length);
 * if (h.response) console.log(`response to message ${h.messageId}`);
 * ```
 *
 * @module
 */
import type { Reader } from "../wire/reader.ts";
import type { Writer } from "../wire/writer.ts";
import {
  HeaderFlag,
  IKE_HEADER_LENGTH,
  IKE_MAJOR_VERSION,
  IKE_MINOR_VERSION,
} from "./constants.ts";

/** A decoded IKE header. SPIs are `bigint`s (8 bytes each on the wire). */
export interface IkeHeader {
  /** IKE SA Initiator's SPI. */
  spiI: bigint;
  /** IKE SA Responder's SPI (0 in the first IKE_SA_INIT request). */
  spiR: bigint;
  /** Type of the first payload (for protected messages: SK or SKF). */
  nextPayload: number;
  /** Major version (2); decoders reject anything else. */
  majorVersion: number;
  /** Minor version (0 when sending; any value accepted). */
  minorVersion: number;
  /** Exchange type (see {@linkcode ExchangeType}). */
  exchangeType: number;
  /** I flag: sent by the original initiator of the IKE SA. */
  initiator: boolean;
  /** R flag: this message is a response. */
  response: boolean;
  /** V flag: the sender could speak a higher major version. */
  version: boolean;
  /** Message ID (32-bit unsigned). */
  messageId: number;
  /** Length of the whole message including this header. */
  length: number;
}

/** Header fields a caller chooses; {@linkcode encodeHeader} fills in the rest. */
export type IkeHeaderInit =
  & Pick<IkeHeader, "spiI" | "spiR" | "exchangeType" | "initiator" | "response" | "messageId">
  & Partial<Pick<IkeHeader, "version">>;

/**
 * Decodes and validates the 28-byte IKE header. `available` is the number of
 * bytes of the datagram starting at the header: the Length field must equal
 * it exactly. A wrong major version throws a ParseError whose notify is
 * INVALID_MAJOR_VERSION (RFC 7296 section 2.5).
 */
export function decodeHeader(r: Reader, available: number): IkeHeader {
  r.what = "IKE header";
  if (available < IKE_HEADER_LENGTH) {
    r.fail(`message of ${available} bytes is shorter than the 28-byte IKE header`);
  }
  const spiI = r.u64();
  const spiR = r.u64();
  const nextPayload = r.u8();
  const ver = r.u8();
  const majorVersion = ver >> 4;
  const minorVersion = ver & 0x0f;
  if (majorVersion !== IKE_MAJOR_VERSION) {
    r.fail(`unsupported major version ${majorVersion}`, { notify: "INVALID_MAJOR_VERSION" });
  }
  const exchangeType = r.u8();
  const flags = r.u8();
  const messageId = r.u32();
  const length = r.u32();
  if (length !== available) {
    r.fail(`Length field ${length} != ${available} bytes received`);
  }
  return {
    spiI,
    spiR,
    nextPayload,
    majorVersion,
    minorVersion,
    exchangeType,
    initiator: (flags & HeaderFlag.INITIATOR) !== 0,
    response: (flags & HeaderFlag.RESPONSE) !== 0,
    version: (flags & HeaderFlag.VERSION) !== 0,
    messageId,
    length,
  };
}

/** The Flags octet for a header. */
export function headerFlags(h: Pick<IkeHeader, "initiator" | "response" | "version">): number {
  return (h.initiator ? HeaderFlag.INITIATOR : 0) | (h.response ? HeaderFlag.RESPONSE : 0) |
    (h.version ? HeaderFlag.VERSION : 0);
}

/**
 * Writes an IKE header with version 2.0. Returns the position of the Length
 * field so the caller can patch it once the message is complete.
 */
export function encodeHeader(w: Writer, h: IkeHeaderInit, nextPayload: number): number {
  if (h.messageId < 0 || h.messageId > 0xffffffff || !Number.isInteger(h.messageId)) {
    throw new RangeError(`message ID ${h.messageId} is not a 32-bit unsigned integer`);
  }
  for (const spi of [h.spiI, h.spiR]) {
    if (spi < 0n || spi > 0xffffffffffffffffn) throw new RangeError(`IKE SPI ${spi} is not 64-bit`);
  }
  w.u64(h.spiI).u64(h.spiR);
  w.u8(nextPayload).u8((IKE_MAJOR_VERSION << 4) | IKE_MINOR_VERSION);
  w.u8(h.exchangeType).u8(headerFlags({ ...h, version: h.version ?? false }));
  w.u32(h.messageId);
  return w.reserve32();
}

/** A decoded generic payload header. */
export interface GenericHeader {
  /** Type of the payload that follows. */
  nextPayload: number;
  /** The C(ritical) bit. */
  critical: boolean;
  /** Payload Length including these 4 bytes. */
  length: number;
}

/** Decodes a generic payload header; the length must be >= 4 and fit in `r`. */
export function decodeGenericHeader(r: Reader): GenericHeader {
  const nextPayload = r.u8();
  const c = r.u8();
  const length = r.u16();
  if (length < 4) r.fail(`payload length ${length} < 4`);
  if (length - 4 > r.remaining) {
    r.fail(`payload length ${length} overruns the ${r.remaining + 4} bytes left`);
  }
  return { nextPayload, critical: (c & 0x80) !== 0, length };
}
