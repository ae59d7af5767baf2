/**
 * Identification payloads IDi and IDr (RFC 7296 section 3.5).
 *
 * ```
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Next Payload  |C|  RESERVED   |         Payload Length        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   ID Type     |                 RESERVED                      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                   Identification Data                         ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * The first 4 body bytes (ID Type + RESERVED) are what AUTH's "RestOfInitIDPayload"
 * starts with (RFC 7296 section 2.15); use {@linkcode idPayloadBody} to get them.
 *
 * @module
 */
import type { Reader } from "../../wire/reader.ts";
import { Writer } from "../../wire/writer.ts";
import { toHex } from "../../wire/bytes.ts";
import { IdType, idTypeName, type PayloadType } from "../constants.ts";
import type { PayloadBase } from "./_base.ts";
import { formatIp, parseIp } from "./_ip.ts";

/** A decoded IDi or IDr payload. */
export interface IdPayload extends PayloadBase {
  /** Payload type (the union discriminant). */
  type: typeof PayloadType.IDi | typeof PayloadType.IDr;
  /** ID Type (see {@linkcode IdType}). */
  idType: number;
  /** Identification Data exactly as on the wire. */
  data: Uint8Array;
}

/** An identity without the payload framing: what config and the PAD work with. */
export interface Identity {
  /** ID Type (see {@linkcode IdType}). */
  idType: number;
  /** Identification Data. */
  data: Uint8Array;
}

/** Decodes an IDi/IDr payload body. IPv4/IPv6 IDs must be 4/16 bytes. */
export function decodeId(r: Reader, type: IdPayload["type"]): IdPayload {
  const idType = r.u8();
  r.skip(3);
  const n = r.remaining;
  if (idType === IdType.ID_IPV4_ADDR && n !== 4) r.fail(`ID_IPV4_ADDR must be 4 bytes, got ${n}`);
  if (idType === IdType.ID_IPV6_ADDR && n !== 16) {
    r.fail(`ID_IPV6_ADDR must be 16 bytes, got ${n}`);
  }
  if (idType !== IdType.ID_NULL && n === 0) r.fail(`${idTypeName(idType)} with empty data`);
  return { type, idType, data: r.rest().slice() };
}

/** Encodes an IDi/IDr payload body. */
export function encodeId(w: Writer, p: IdPayload): void {
  w.u8(p.idType).u8(0).u16(0).bytes(p.data);
}

/** The payload body (ID Type, RESERVED, data) used as RestOfInit/RespIDPayload in AUTH. */
export function idPayloadBody(id: Identity): Uint8Array {
  const w = new Writer(4 + id.data.length);
  w.u8(id.idType).u8(0).u16(0).bytes(id.data);
  return w.finish();
}

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: false });

/** An ID_FQDN identity, e.g. `idFqdn("moon.strongswan.org")`. */
export function idFqdn(name: string): Identity {
  return { idType: IdType.ID_FQDN, data: enc.encode(name) };
}
/** An ID_RFC822_ADDR identity, e.g. `idRfc822("carol@strongswan.org")`. */
export function idRfc822(addr: string): Identity {
  return { idType: IdType.ID_RFC822_ADDR, data: enc.encode(addr) };
}
/** An ID_IPV4_ADDR or ID_IPV6_ADDR identity from text or 4/16 raw bytes. */
export function idIp(addr: string | Uint8Array): Identity {
  const b = typeof addr === "string" ? parseIp(addr) : addr.slice();
  if (b.length !== 4 && b.length !== 16) throw new RangeError("IP ID must be 4 or 16 bytes");
  return { idType: b.length === 4 ? IdType.ID_IPV4_ADDR : IdType.ID_IPV6_ADDR, data: b };
}
/** An ID_DER_ASN1_DN identity from the DER encoding of a Name. */
export function idDn(der: Uint8Array): Identity {
  return { idType: IdType.ID_DER_ASN1_DN, data: der.slice() };
}
/** An ID_KEY_ID identity (opaque bytes). */
export function idKeyId(keyId: Uint8Array): Identity {
  return { idType: IdType.ID_KEY_ID, data: keyId.slice() };
}
/** The ID_NULL identity (RFC 7619). */
export function idNull(): Identity {
  return { idType: IdType.ID_NULL, data: new Uint8Array(0) };
}

/** Short names of common X.520 attribute OIDs for DN printing. */
const DN_OIDS: ReadonlyMap<string, string> = new Map([
  ["2.5.4.3", "CN"],
  ["2.5.4.4", "SN"],
  ["2.5.4.5", "serialNumber"],
  ["2.5.4.6", "C"],
  ["2.5.4.7", "L"],
  ["2.5.4.8", "ST"],
  ["2.5.4.9", "street"],
  ["2.5.4.10", "O"],
  ["2.5.4.11", "OU"],
  ["2.5.4.12", "T"],
  ["2.5.4.42", "G"],
  ["0.9.2342.19200300.100.1.25", "DC"],
  ["0.9.2342.19200300.100.1.1", "UID"],
  ["1.2.840.113549.1.9.1", "E"],
]);

/** Minimal DER TLV reader for DN printing; returns undefined on anything odd. */
function derTlvs(b: Uint8Array): { tag: number; value: Uint8Array }[] | undefined {
  const out: { tag: number; value: Uint8Array }[] = [];
  let i = 0;
  while (i < b.length) {
    if (i + 2 > b.length) return undefined;
    const tag = b[i++];
    let len = b[i++];
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n === 0 || n > 3 || i + n > b.length) return undefined;
      len = 0;
      for (let k = 0; k < n; k++) len = (len << 8) | b[i++];
    }
    if (i + len > b.length) return undefined;
    out.push({ tag, value: b.subarray(i, i + len) });
    i += len;
  }
  return out;
}

function oidText(b: Uint8Array): string {
  if (b.length === 0) return "";
  const parts = [Math.floor(b[0] / 40), b[0] % 40];
  let v = 0;
  for (let i = 1; i < b.length; i++) {
    v = v * 128 + (b[i] & 0x7f);
    if (!(b[i] & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  return parts.join(".");
}

/** Formats a DER Name as "C=CH, O=strongSwan, CN=moon", or undefined if it is not one. */
export function formatDn(der: Uint8Array): string | undefined {
  const top = derTlvs(der);
  if (!top || top.length !== 1 || top[0].tag !== 0x30) return undefined;
  const sets = derTlvs(top[0].value);
  if (!sets) return undefined;
  const rdns: string[] = [];
  for (const set of sets) {
    if (set.tag !== 0x31) return undefined;
    const atvs = derTlvs(set.value);
    if (!atvs) return undefined;
    for (const atv of atvs) {
      const kv = atv.tag === 0x30 ? derTlvs(atv.value) : undefined;
      if (!kv || kv.length !== 2 || kv[0].tag !== 0x06) return undefined;
      const oid = oidText(kv[0].value);
      rdns.push(`${DN_OIDS.get(oid) ?? oid}=${dec.decode(kv[1].value)}`);
    }
  }
  return rdns.join(", ");
}

/**
 * Prints an identity the way strongSwan logs it: FQDN/RFC822 as text, IP
 * addresses as text, DNs as "C=.., O=.., CN=..", KEY_ID as "@#hex", others as
 * "TYPE:hex".
 */
export function formatId(id: Identity): string {
  switch (id.idType) {
    case IdType.ID_FQDN:
    case IdType.ID_RFC822_ADDR:
      return dec.decode(id.data);
    case IdType.ID_IPV4_ADDR:
    case IdType.ID_IPV6_ADDR:
      return formatIp(id.data);
    case IdType.ID_DER_ASN1_DN:
      return formatDn(id.data) ?? `ID_DER_ASN1_DN:${toHex(id.data)}`;
    case IdType.ID_KEY_ID:
      return `@#${toHex(id.data)}`;
    case IdType.ID_NULL:
      return "%any";
    default:
      return `${idTypeName(id.idType)}:${toHex(id.data)}`;
  }
}
