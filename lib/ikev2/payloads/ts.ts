/**
 * Traffic Selector payloads TSi and TSr (RFC 7296 section 3.13).
 *
 * ```
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Next Payload  |C|  RESERVED   |         Payload Length        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Number of TSs |                 RESERVED                      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                       <Traffic Selectors>                     ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Traffic Selector (section 3.13.1):
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   TS Type     |IP Protocol ID*|       Selector Length         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |           Start Port*         |           End Port*           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                         Starting Address*                     ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                         Ending Address*                       ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * TS_IPV4_ADDR_RANGE (7) selectors are 16 bytes, TS_IPV6_ADDR_RANGE (8) 40.
 * Other TS types (RFC 4595 FC, RFC 9478 security labels) are kept opaque so
 * the engine can decide; the codec checks only their length.
 *
 * {@linkcode TrafficSelector} is lib/db/narrow.ts's type, so decoded selectors
 * go straight into narrowing.
 *
 * @example
 * ```ts
 * const ts: TsPayload = {
 *   type: PayloadType.TSi,
 *   selectors: [tsRange("10.0.0.0", "10.0.255.255")],
 * };
 * ```
 *
 * @module
 */
import type { Reader } from "../../wire/reader.ts";
import type { Writer } from "../../wire/writer.ts";
import { type PayloadType, TsType, tsTypeName } from "../constants.ts";
import type { PayloadBase } from "./_base.ts";
import { formatIp, parseIp } from "./_ip.ts";
import type { TrafficSelector } from "../../db/narrow.ts";

/**
 * One IPv4 or IPv6 range traffic selector: lib/db/narrow.ts's type, so decoded
 * selectors go straight into narrowing (TS type 7 is `ipVersion: 4`, 8 is 6;
 * protocol 0 is any; ports 65535..0 are OPAQUE).
 */
export type { TrafficSelector };

/** A selector of a type this codec does not interpret (kept for the engine). */
export interface OpaqueTrafficSelector {
  /** TS Type, e.g. 10 = TS_SECLABEL. */
  readonly tsType: number;
  /** Everything after the 4-byte TS header (Type, byte 1, Selector Length). */
  readonly data: Uint8Array;
  /** Byte 1 of the TS header (IP Protocol ID for range types). */
  readonly byte1: number;
}

/** A decoded TSi or TSr payload. */
export interface TsPayload extends PayloadBase {
  /** Payload type (the union discriminant). */
  type: typeof PayloadType.TSi | typeof PayloadType.TSr;
  /** IPv4/IPv6 range selectors in wire order. */
  selectors: TrafficSelector[];
  /** Selectors of other TS types, encoded after `selectors`. */
  opaque?: OpaqueTrafficSelector[];
}

const V4_LEN = 16;
const V6_LEN = 40;

/**
 * Decodes a TSi/TSr payload body. Number of TSs must be 1..255 and match the
 * selectors found; each Selector Length must fit and be 16 (IPv4) / 40 (IPv6).
 */
export function decodeTs(r: Reader, type: TsPayload["type"]): TsPayload {
  const count = r.u8();
  r.skip(3);
  if (count === 0) r.fail("Number of TSs is 0");
  const selectors: TrafficSelector[] = [];
  const opaque: OpaqueTrafficSelector[] = [];
  for (let i = 0; i < count; i++) {
    if (r.remaining === 0) r.fail(`Number of TSs is ${count}, found ${i}`);
    const tsType = r.u8();
    const byte1 = r.u8();
    const len = r.u16();
    if (len < 4) r.fail(`Selector Length ${len} < 4`);
    const s = r.sub(len - 4, `${r.what}/${tsTypeName(tsType)}`);
    if (tsType === TsType.TS_IPV4_ADDR_RANGE || tsType === TsType.TS_IPV6_ADDR_RANGE) {
      const v4 = tsType === TsType.TS_IPV4_ADDR_RANGE;
      const want = v4 ? V4_LEN : V6_LEN;
      if (len !== want) s.fail(`${tsTypeName(tsType)} Selector Length must be ${want}, got ${len}`);
      const startPort = s.u16();
      const endPort = s.u16();
      const n = v4 ? 4 : 16;
      selectors.push({
        ipVersion: v4 ? 4 : 6,
        ipProtocol: byte1,
        startPort,
        endPort,
        startAddress: s.bytes(n).slice(),
        endAddress: s.bytes(n).slice(),
      });
    } else {
      opaque.push({ tsType, byte1, data: s.rest().slice() });
    }
  }
  r.end();
  return opaque.length > 0 ? { type, selectors, opaque } : { type, selectors };
}

/** Encodes a TSi/TSr payload body. Throws RangeError on malformed selectors. */
export function encodeTs(w: Writer, p: TsPayload): void {
  const opaque = p.opaque ?? [];
  const count = p.selectors.length + opaque.length;
  if (count < 1 || count > 255) throw new RangeError(`a TS payload needs 1..255 selectors`);
  w.u8(count).u8(0).u16(0);
  for (const t of p.selectors) {
    const n = t.ipVersion === 4 ? 4 : 16;
    if (t.startAddress.length !== n || t.endAddress.length !== n) {
      throw new RangeError(`IPv${t.ipVersion} selector needs ${n}-byte addresses`);
    }
    w.u8(t.ipVersion === 4 ? TsType.TS_IPV4_ADDR_RANGE : TsType.TS_IPV6_ADDR_RANGE);
    w.u8(t.ipProtocol).u16(t.ipVersion === 4 ? V4_LEN : V6_LEN);
    w.u16(t.startPort).u16(t.endPort).bytes(t.startAddress).bytes(t.endAddress);
  }
  for (const o of opaque) {
    if (o.data.length > 0xffff - 4) throw new RangeError("opaque selector too long");
    w.u8(o.tsType).u8(o.byte1).u16(o.data.length + 4).bytes(o.data);
  }
}

/**
 * A range selector from address text (IPv4 or IPv6, both the same version),
 * protocol (0 any) and ports (default all).
 */
export function tsRange(
  start: string,
  end: string,
  ipProtocol = 0,
  startPort = 0,
  endPort = 65535,
): TrafficSelector {
  const a = parseIp(start);
  const b = parseIp(end);
  if (a.length !== b.length) throw new RangeError(`${start} and ${end} differ in IP version`);
  return {
    ipVersion: a.length === 4 ? 4 : 6,
    ipProtocol,
    startPort,
    endPort,
    startAddress: a,
    endAddress: b,
  };
}

/**
 * Prints a selector as the raw ranges on the wire: `10.0.0.0-10.0.255.255[6/80-90]`
 * (protocol number, `OPAQUE` ports), for wire-level checks. Admins see selectors
 * the way swanctl prints them: `formatTs` in lib/db/narrow.ts.
 */
export function formatTsRange(t: TrafficSelector): string {
  const range = `${formatIp(t.startAddress)}-${formatIp(t.endAddress)}`;
  const ports = t.startPort === 0 && t.endPort === 65535
    ? ""
    : t.startPort === t.endPort
    ? `/${t.startPort}`
    : t.startPort === 65535 && t.endPort === 0
    ? "/OPAQUE"
    : `/${t.startPort}-${t.endPort}`;
  if (t.ipProtocol === 0 && ports === "") return range;
  return `${range}[${t.ipProtocol}${ports}]`;
}
