/**
 * Configuration payload (RFC 7296 section 3.15) with the value rules of
 * every attribute type in the IANA registry we know the size of.
 *
 * ```
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Next Payload  |C| RESERVED    |         Payload Length        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   CFG Type    |                    RESERVED                   |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                   Configuration Attributes                    ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Configuration Attribute (section 3.15.1):
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |R|         Attribute Type      |            Length             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                             Value                             ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * A CFG_REQUEST usually carries empty attributes ("give me one").
 *
 * @example
 * ```ts
 * const req: CpPayload = {
 *   type: PayloadType.CP,
 *   cfgType: CfgType.CFG_REQUEST,
 *   attributes: [{ type: CfgAttributeType.INTERNAL_IP4_ADDRESS, value: new Uint8Array(0) }],
 * };
 * ```
 *
 * @module
 */
import type { Reader } from "../../wire/reader.ts";
import type { Writer } from "../../wire/writer.ts";
import { cfgAttributeName, CfgAttributeType as A, PayloadType } from "../constants.ts";
import type { PayloadBase } from "./_base.ts";

/** One configuration attribute. */
export interface CfgAttribute {
  /** Attribute type (15 bits, see {@linkcode CfgAttributeType}). */
  type: number;
  /** Value bytes (empty in requests). */
  value: Uint8Array;
}

/** A decoded CP payload. */
export interface CpPayload extends PayloadBase {
  /** Payload type (the union discriminant). */
  type: typeof PayloadType.CP;
  /** CFG Type (see {@linkcode CfgType}). */
  cfgType: number;
  /** Configuration attributes in wire order. */
  attributes: CfgAttribute[];
}

/**
 * Allowed value lengths per attribute type (RFC 7296 section 3.15.1,
 * RFC 5739, RFC 7651, RFC 8598, RFC 9464). `"any"`: any length; a list:
 * exactly one of those lengths. Types missing here are not checked.
 */
const VALUE_LENGTHS: ReadonlyMap<number, readonly number[] | "any" | "even"> = new Map<
  number,
  readonly number[] | "any" | "even"
>([
  [A.INTERNAL_IP4_ADDRESS, [0, 4]],
  [A.INTERNAL_IP4_NETMASK, [0, 4]],
  [A.INTERNAL_IP4_DNS, [0, 4]],
  [A.INTERNAL_IP4_NBNS, [0, 4]],
  [A.INTERNAL_IP4_DHCP, [0, 4]],
  [A.APPLICATION_VERSION, "any"],
  [A.INTERNAL_IP6_ADDRESS, [0, 17]],
  [A.INTERNAL_IP6_DNS, [0, 16]],
  [A.INTERNAL_IP6_DHCP, [0, 16]],
  [A.INTERNAL_IP4_SUBNET, [0, 8]],
  [A.SUPPORTED_ATTRIBUTES, "even"],
  [A.INTERNAL_IP6_SUBNET, [0, 17]],
  [A.MIP6_HOME_PREFIX, [0, 21]],
  [A.INTERNAL_IP6_LINK, "any"],
  [A.INTERNAL_IP6_PREFIX, [0, 17]],
  [A.HOME_AGENT_ADDRESS, [0, 16, 20]],
  [A.P_CSCF_IP4_ADDRESS, [0, 4]],
  [A.P_CSCF_IP6_ADDRESS, [0, 16]],
  [A.INTERNAL_DNS_DOMAIN, "any"],
  [A.INTERNAL_DNSSEC_TA, "any"],
]);

/** Decodes a CP payload body; attribute lengths are checked against each type's rule. */
export function decodeCp(r: Reader): CpPayload {
  const cfgType = r.u8();
  r.skip(3);
  const attributes: CfgAttribute[] = [];
  while (r.remaining > 0) {
    const type = r.u16() & 0x7fff; // R bit is reserved: ignored on receipt
    const len = r.u16();
    if (len > r.remaining) r.fail(`${cfgAttributeName(type)} length ${len} overruns payload`);
    const rule = VALUE_LENGTHS.get(type);
    if (
      rule !== undefined && rule !== "any" &&
      (rule === "even" ? len % 2 !== 0 : !rule.includes(len))
    ) {
      r.fail(`${cfgAttributeName(type)} value of ${len} bytes (allowed: ${rule})`);
    }
    attributes.push({ type, value: r.bytes(len).slice() });
  }
  return { type: PayloadType.CP, cfgType, attributes };
}

/** Encodes a CP payload body. */
export function encodeCp(w: Writer, p: CpPayload): void {
  w.u8(p.cfgType).u8(0).u16(0);
  for (const a of p.attributes) {
    if (a.type < 0 || a.type > 0x7fff) throw new RangeError(`bad CP attribute type ${a.type}`);
    if (a.value.length > 0xffff) throw new RangeError("CP attribute value too long");
    w.u16(a.type).u16(a.value.length).bytes(a.value);
  }
}

/** An IPv4 subnet value (address + netmask, 8 bytes) for INTERNAL_IP4_SUBNET. */
export function ip4SubnetValue(address: Uint8Array, prefixLength: number): Uint8Array {
  if (address.length !== 4 || prefixLength < 0 || prefixLength > 32) {
    throw new RangeError("IPv4 subnet needs 4 address bytes and a prefix 0..32");
  }
  const out = new Uint8Array(8);
  out.set(address);
  const mask = prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
  new DataView(out.buffer).setUint32(4, mask);
  return out;
}

/** An IPv6 address+prefix value (17 bytes) for INTERNAL_IP6_ADDRESS / _SUBNET. */
export function ip6PrefixValue(address: Uint8Array, prefixLength: number): Uint8Array {
  if (address.length !== 16 || prefixLength < 0 || prefixLength > 128) {
    throw new RangeError("IPv6 prefix needs 16 address bytes and a prefix 0..128");
  }
  const out = new Uint8Array(17);
  out.set(address);
  out[16] = prefixLength;
  return out;
}

/** The values of all attributes of one type, in order. */
export function cpValues(p: CpPayload, type: number): Uint8Array[] {
  return p.attributes.filter((a) => a.type === type).map((a) => a.value);
}
