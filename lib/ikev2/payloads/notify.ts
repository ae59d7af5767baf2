/**
 * Notify payload (RFC 7296 section 3.10) and typed helpers for the Notification
 * Data of the types the engine uses (RFC 7296, RFC 4555 MOBIKE, RFC 7383,
 * RFC 7427, RFC 5685).
 *
 * ```
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Next Payload  |C|  RESERVED   |         Payload Length        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Protocol ID  |   SPI Size    |      Notify Message Type      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                Security Parameter Index (SPI)                 ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                       Notification Data                       ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * The data helpers (`decodeXData`) throw {@linkcode ParseError} with `what`
 * naming the notify; the payload decoder itself does not interpret the data,
 * so an odd status notify never makes the whole message unparseable.
 *
 * @module
 */
import type { Reader } from "../../wire/reader.ts";
import { Writer } from "../../wire/writer.ts";
import { ParseError } from "../../wire/parse_error.ts";
import { notifyName, NotifyType, PayloadType, ProtocolId } from "../constants.ts";
import type { PayloadBase } from "./_base.ts";

/** A decoded Notify payload. */
export interface NotifyPayload extends PayloadBase {
  /** Payload type (the union discriminant). */
  type: typeof PayloadType.NOTIFY;
  /** 0 (none) or 1 IKE for IKE SA notifies, 2 AH / 3 ESP for Child SA ones. */
  protocolId: number;
  /** SPI of the SA the notify is about (usually empty, 4 bytes for REKEY_SA). */
  spi: Uint8Array;
  /** Notify Message Type (see {@linkcode NotifyType}). */
  notifyType: number;
  /** Notification Data (may be empty). */
  data: Uint8Array;
}

/** Decodes the Notify payload body. */
export function decodeNotify(r: Reader): NotifyPayload {
  const protocolId = r.u8();
  const spiSize = r.u8();
  const notifyType = r.u16();
  const spi = r.bytes(spiSize).slice();
  return { type: PayloadType.NOTIFY, protocolId, spi, notifyType, data: r.rest().slice() };
}

/** Encodes the Notify payload body. */
export function encodeNotify(w: Writer, p: NotifyPayload): void {
  if (p.spi.length > 255) throw new RangeError("notify SPI too long");
  w.u8(p.protocolId).u8(p.spi.length).u16(p.notifyType).bytes(p.spi).bytes(p.data);
}

/**
 * Builds a Notify payload. Without `protocolId`/`spi` it is an IKE SA notify
 * (Protocol ID 0, no SPI).
 */
export function makeNotify(
  notifyType: number,
  data: Uint8Array = new Uint8Array(0),
  protocolId: number = ProtocolId.NONE,
  spi: Uint8Array = new Uint8Array(0),
): NotifyPayload {
  return { type: PayloadType.NOTIFY, protocolId, spi: spi.slice(), notifyType, data: data.slice() };
}

function fail(notifyType: number, reason: string): never {
  throw new ParseError(`Notify ${notifyName(notifyType)}`, 0, reason);
}

function u16list(values: number[]): Uint8Array {
  const w = new Writer(values.length * 2);
  for (const v of values) w.u16(v);
  return w.finish();
}

// ---- NAT_DETECTION_SOURCE_IP / NAT_DETECTION_DESTINATION_IP (RFC 7296 section 2.23) ----

/** Length of NAT detection data (SHA-1 output). */
export const NAT_DETECTION_DATA_LENGTH = 20;

/**
 * The bytes that are hashed with SHA-1 for NAT detection:
 * SPIi | SPIr | IP address (4 or 16 bytes) | port (2 bytes). In IKE_SA_INIT
 * requests SPIr is 0.
 */
export function natDetectionInput(
  spiI: bigint,
  spiR: bigint,
  address: Uint8Array,
  port: number,
): Uint8Array {
  const w = new Writer(18 + address.length);
  w.u64(spiI).u64(spiR).bytes(address).u16(port);
  return w.finish();
}

/** Validates NAT_DETECTION_* data (20 bytes) and returns it. */
export function decodeNatDetectionData(p: NotifyPayload): Uint8Array {
  if (p.data.length !== NAT_DETECTION_DATA_LENGTH) {
    fail(p.notifyType, `NAT detection data must be 20 bytes, got ${p.data.length}`);
  }
  return p.data;
}

// ---- COOKIE (RFC 7296 section 2.6) ----

/** Validates COOKIE data (1..64 bytes) and returns it. */
export function decodeCookieData(p: NotifyPayload): Uint8Array {
  if (p.data.length < 1 || p.data.length > 64) {
    fail(p.notifyType, `COOKIE must be 1..64 bytes, got ${p.data.length}`);
  }
  return p.data;
}

/** Validates COOKIE2 data (8..64 bytes, RFC 4555 section 3.8) and returns it. */
export function decodeCookie2Data(p: NotifyPayload): Uint8Array {
  if (p.data.length < 8 || p.data.length > 64) {
    fail(p.notifyType, `COOKIE2 must be 8..64 bytes, got ${p.data.length}`);
  }
  return p.data;
}

// ---- SIGNATURE_HASH_ALGORITHMS (RFC 7427 section 4) ----

/** A SIGNATURE_HASH_ALGORITHMS notify listing the given hash algorithm ids. */
export function makeSignatureHashAlgorithms(hashes: number[]): NotifyPayload {
  return makeNotify(NotifyType.SIGNATURE_HASH_ALGORITHMS, u16list(hashes));
}

/** The 16-bit hash algorithm ids of a SIGNATURE_HASH_ALGORITHMS notify. */
export function decodeSignatureHashAlgorithms(p: NotifyPayload): number[] {
  if (p.data.length % 2 !== 0) fail(p.notifyType, `odd data length ${p.data.length}`);
  const out: number[] = [];
  for (let i = 0; i < p.data.length; i += 2) out.push((p.data[i] << 8) | p.data[i + 1]);
  return out;
}

// ---- ADDITIONAL_IP4_ADDRESS / ADDITIONAL_IP6_ADDRESS (RFC 4555 section 3.6) ----

/** An ADDITIONAL_IP4_ADDRESS or ADDITIONAL_IP6_ADDRESS notify for 4 or 16 address bytes. */
export function makeAdditionalAddress(address: Uint8Array): NotifyPayload {
  if (address.length === 4) return makeNotify(NotifyType.ADDITIONAL_IP4_ADDRESS, address);
  if (address.length === 16) return makeNotify(NotifyType.ADDITIONAL_IP6_ADDRESS, address);
  throw new RangeError("address must be 4 or 16 bytes");
}

/** The address of an ADDITIONAL_IP4_ADDRESS (4 bytes) or ADDITIONAL_IP6_ADDRESS (16 bytes). */
export function decodeAdditionalAddress(p: NotifyPayload): Uint8Array {
  const want = p.notifyType === NotifyType.ADDITIONAL_IP4_ADDRESS ? 4 : 16;
  if (
    p.notifyType !== NotifyType.ADDITIONAL_IP4_ADDRESS &&
    p.notifyType !== NotifyType.ADDITIONAL_IP6_ADDRESS
  ) {
    fail(p.notifyType, "not an ADDITIONAL_IP*_ADDRESS notify");
  }
  if (p.data.length !== want) fail(p.notifyType, `address must be ${want} bytes`);
  return p.data;
}

// ---- NO_NATS_ALLOWED (RFC 4555 section 3.9) ----

/** The addresses and ports a NO_NATS_ALLOWED notify carries (as sent, before any NAT). */
export interface NoNatsAllowedData {
  /** 4 or 16 bytes. */
  source: Uint8Array;
  /** Same length as `source`. */
  destination: Uint8Array;
  /** UDP source port. */
  sourcePort: number;
  /** UDP destination port. */
  destinationPort: number;
}

/** A NO_NATS_ALLOWED notify: source address, destination address, source port, destination port. */
export function makeNoNatsAllowed(d: NoNatsAllowedData): NotifyPayload {
  const n = d.source.length;
  if ((n !== 4 && n !== 16) || d.destination.length !== n) {
    throw new RangeError("NO_NATS_ALLOWED needs two IPv4 or two IPv6 addresses");
  }
  const w = new Writer(2 * n + 4);
  w.bytes(d.source).bytes(d.destination).u16(d.sourcePort).u16(d.destinationPort);
  return makeNotify(NotifyType.NO_NATS_ALLOWED, w.finish());
}

/** Parses NO_NATS_ALLOWED data: 12 bytes (IPv4) or 36 bytes (IPv6). */
export function decodeNoNatsAllowed(p: NotifyPayload): NoNatsAllowedData {
  const len = p.data.length;
  if (len !== 12 && len !== 36) fail(p.notifyType, `data must be 12 or 36 bytes, got ${len}`);
  const n = len === 12 ? 4 : 16;
  const v = new DataView(p.data.buffer, p.data.byteOffset, len);
  return {
    source: p.data.slice(0, n),
    destination: p.data.slice(n, 2 * n),
    sourcePort: v.getUint16(2 * n),
    destinationPort: v.getUint16(2 * n + 2),
  };
}

// ---- REKEY_SA (RFC 7296 section 1.3.3) ----

/** A REKEY_SA notify naming the Child SA being rekeyed (protocol 2/3, 4-byte SPI). */
export function makeRekeySa(protocolId: number, spi: Uint8Array): NotifyPayload {
  return makeNotify(NotifyType.REKEY_SA, new Uint8Array(0), protocolId, spi);
}

/** Protocol and SPI of a REKEY_SA notify; ParseError unless AH/ESP with a 4-byte SPI. */
export function decodeRekeySa(p: NotifyPayload): { protocolId: number; spi: Uint8Array } {
  if (p.protocolId !== ProtocolId.AH && p.protocolId !== ProtocolId.ESP) {
    fail(p.notifyType, `REKEY_SA protocol must be AH or ESP, got ${p.protocolId}`);
  }
  if (p.spi.length !== 4) fail(p.notifyType, `REKEY_SA SPI must be 4 bytes`);
  return { protocolId: p.protocolId, spi: p.spi };
}

// ---- INVALID_KE_PAYLOAD (RFC 7296 section 3.10.1) ----

/** An INVALID_KE_PAYLOAD notify carrying the accepted group number. */
export function makeInvalidKe(group: number): NotifyPayload {
  return makeNotify(NotifyType.INVALID_KE_PAYLOAD, u16list([group]));
}

/** The group number carried by INVALID_KE_PAYLOAD (2 bytes). */
export function decodeInvalidKe(p: NotifyPayload): number {
  if (p.data.length !== 2) fail(p.notifyType, `data must be 2 bytes, got ${p.data.length}`);
  return (p.data[0] << 8) | p.data[1];
}

// ---- UNSUPPORTED_CRITICAL_PAYLOAD (RFC 7296 section 3.10.1) ----

/** An UNSUPPORTED_CRITICAL_PAYLOAD notify carrying the one-byte payload type. */
export function makeUnsupportedCritical(payloadType: number): NotifyPayload {
  return makeNotify(NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD, Uint8Array.of(payloadType));
}

// ---- SET_WINDOW_SIZE (RFC 7296 section 2.3) and AUTH_LIFETIME (RFC 4478) ----

/** A notify whose data is one 32-bit number (SET_WINDOW_SIZE, AUTH_LIFETIME). */
export function makeU32Notify(notifyType: number, value: number): NotifyPayload {
  return makeNotify(notifyType, new Writer(4).u32(value).finish());
}

/** The 32-bit number in SET_WINDOW_SIZE or AUTH_LIFETIME data. */
export function decodeU32Data(p: NotifyPayload): number {
  if (p.data.length !== 4) fail(p.notifyType, `data must be 4 bytes, got ${p.data.length}`);
  return new DataView(p.data.buffer, p.data.byteOffset, 4).getUint32(0);
}

// ---- REDIRECT / REDIRECTED_FROM (RFC 5685 section 8) ----

/** Gateway Identity Types of RFC 5685. */
export const GatewayIdType = { IPV4: 1, IPV6: 2, FQDN: 3 } as const;

/** Data of a REDIRECT or REDIRECTED_FROM notify. */
export interface RedirectData {
  /** 1 IPv4, 2 IPv6, 3 FQDN. */
  gwIdType: number;
  /** GW Identity (address bytes or FQDN). */
  gwId: Uint8Array;
  /** Nonce data of the IKE_SA_INIT request (REDIRECT in IKE_SA_INIT only), else empty. */
  nonce: Uint8Array;
}

/** Parses REDIRECT / REDIRECTED_FROM data: GW Ident Type, GW Ident Len, GW Identity, Nonce. */
export function decodeRedirectData(p: NotifyPayload): RedirectData {
  if (p.data.length < 2) fail(p.notifyType, "redirect data shorter than 2 bytes");
  const gwIdType = p.data[0];
  const len = p.data[1];
  if (2 + len > p.data.length) fail(p.notifyType, `GW identity length ${len} overruns data`);
  if (gwIdType === GatewayIdType.IPV4 && len !== 4) fail(p.notifyType, "IPv4 GW id not 4 bytes");
  if (gwIdType === GatewayIdType.IPV6 && len !== 16) fail(p.notifyType, "IPv6 GW id not 16 bytes");
  return {
    gwIdType,
    gwId: p.data.slice(2, 2 + len),
    nonce: p.data.slice(2 + len),
  };
}

/** Builds REDIRECT (or REDIRECTED_FROM with `notifyType`) data. */
export function makeRedirect(
  d: RedirectData,
  notifyType: number = NotifyType.REDIRECT,
): NotifyPayload {
  if (d.gwId.length > 255) throw new RangeError("GW identity too long");
  const w = new Writer(2 + d.gwId.length + d.nonce.length);
  w.u8(d.gwIdType).u8(d.gwId.length).bytes(d.gwId).bytes(d.nonce);
  return makeNotify(notifyType, w.finish());
}

/** Finds the first notify of a type in a payload list. */
export function findNotify(
  payloads: readonly { type: number | string }[],
  notifyType: number,
): NotifyPayload | undefined {
  for (const p of payloads) {
    if (p.type === PayloadType.NOTIFY && (p as NotifyPayload).notifyType === notifyType) {
      return p as NotifyPayload;
    }
  }
  return undefined;
}
