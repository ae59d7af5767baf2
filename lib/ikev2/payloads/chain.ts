/**
 * Every IKEv2 payload codec, the {@linkcode Payload} union, and the generic
 * payload chain (RFC 7296 section 3.2): decode with the critical-bit rule,
 * encode with back-patched lengths.
 *
 * @example
 * ```ts
 * const w = new Writer();
 * const first = encodePayloadChain(w, payloads, PayloadType.NONE);
 * const back = decodePayloadChain(new Reader(w.finish(), "payloads"), first);
 * back.payloads; // the same payloads again
 * ```
 *
 * @module
 */
import type { Reader } from "../../wire/reader.ts";
import { ParseError } from "../../wire/parse_error.ts";
import type { Writer } from "../../wire/writer.ts";
import { payloadName, PayloadType } from "../constants.ts";
import { decodeGenericHeader } from "../header.ts";
import { type AuthPayload, decodeAuth, encodeAuth } from "./auth.ts";
import { type CertPayload, decodeCert, encodeCert } from "./cert.ts";
import { type CertreqPayload, decodeCertreq, encodeCertreq } from "./certreq.ts";
import { type CpPayload, decodeCp, encodeCp } from "./cp.ts";
import { decodeDelete, type DeletePayload, encodeDelete } from "./delete.ts";
import { decodeEap, type EapPayload, encodeEap } from "./eap.ts";
import { decodeId, encodeId, type IdPayload } from "./id.ts";
import { decodeKe, encodeKe, type KePayload } from "./ke.ts";
import { decodeNonce, encodeNonce, type NoncePayload } from "./nonce.ts";
import { decodeNotify, encodeNotify, type NotifyPayload } from "./notify.ts";
import { decodeSa, encodeSa, type SaPayload } from "./sa.ts";
import { decodeSk, decodeSkf, encodeSk, encodeSkf, type SkfPayload, type SkPayload } from "./sk.ts";
import { decodeTs, encodeTs, type TsPayload } from "./ts.ts";
import { decodeVendorId, encodeVendorId, type VendorIdPayload } from "./vendor_id.ts";

export type { AuthPayload } from "./auth.ts";
export type { CertPayload } from "./cert.ts";
export type { CertreqPayload } from "./certreq.ts";
export type { CfgAttribute, CpPayload } from "./cp.ts";
export type { DeletePayload } from "./delete.ts";
export type { EapPayload } from "./eap.ts";
export type { Identity, IdPayload } from "./id.ts";
export type { KePayload } from "./ke.ts";
export type { NoncePayload } from "./nonce.ts";
export type { NotifyPayload } from "./notify.ts";
export type { Proposal, SaPayload, Transform, TransformAttribute } from "./sa.ts";
export type { SkfPayload, SkPayload } from "./sk.ts";
export type { OpaqueTrafficSelector, TrafficSelector, TsPayload } from "./ts.ts";
export type { VendorIdPayload } from "./vendor_id.ts";

/** Any cleartext (inner or unprotected) payload the codec understands. */
export type Payload =
  | SaPayload
  | KePayload
  | IdPayload
  | CertPayload
  | CertreqPayload
  | AuthPayload
  | NoncePayload
  | NotifyPayload
  | DeletePayload
  | VendorIdPayload
  | TsPayload
  | CpPayload
  | EapPayload;

/** A payload chain as decoded: cleartext payloads, plus a trailing SK or SKF. */
export interface DecodedChain {
  /** Cleartext payloads in wire order. */
  payloads: Payload[];
  /** The SK or SKF payload that ended the chain, if any (it must be last). */
  encrypted?: SkPayload | SkfPayload;
  /** Absolute offset of the SK/SKF generic header in the outermost buffer. */
  encryptedOffset?: number;
  /** Types of unknown non-critical payloads that were skipped. */
  skipped: number[];
}

/** Limit on payloads in one chain, so a hostile message cannot make us build huge lists. */
export const MAX_PAYLOADS_PER_CHAIN = 256;

function decodeBody(type: number, body: Reader): Payload | undefined {
  switch (type) {
    case PayloadType.SA:
      return decodeSa(body);
    case PayloadType.KE:
      return decodeKe(body);
    case PayloadType.IDi:
    case PayloadType.IDr:
      return decodeId(body, type);
    case PayloadType.CERT:
      return decodeCert(body);
    case PayloadType.CERTREQ:
      return decodeCertreq(body);
    case PayloadType.AUTH:
      return decodeAuth(body);
    case PayloadType.NONCE:
      return decodeNonce(body);
    case PayloadType.NOTIFY:
      return decodeNotify(body);
    case PayloadType.DELETE:
      return decodeDelete(body);
    case PayloadType.VENDOR_ID:
      return decodeVendorId(body);
    case PayloadType.TSi:
    case PayloadType.TSr:
      return decodeTs(body, type);
    case PayloadType.CP:
      return decodeCp(body);
    case PayloadType.EAP:
      return decodeEap(body);
  }
  return undefined;
}

/**
 * Decodes a payload chain starting with payload type `first` and consuming
 * all of `r`. SK/SKF must be the last payload and is returned framed (not
 * decrypted); `allowEncrypted: false` (inside SK) rejects them. An unknown
 * payload with the critical bit set throws a ParseError with notify
 * UNSUPPORTED_CRITICAL_PAYLOAD and `notifyData` = its type (RFC 7296
 * section 2.5); unknown non-critical payloads are skipped.
 */
export function decodePayloadChain(
  r: Reader,
  first: number,
  allowEncrypted = true,
): DecodedChain {
  const payloads: Payload[] = [];
  const skipped: number[] = [];
  let type = first;
  while (type !== PayloadType.NONE) {
    if (payloads.length + skipped.length >= MAX_PAYLOADS_PER_CHAIN) {
      r.fail(`more than ${MAX_PAYLOADS_PER_CHAIN} payloads`);
    }
    const start = r.offset;
    r.what = `${payloadName(type)} payload`;
    if (r.remaining === 0) r.fail(`payload chain announces ${payloadName(type)}, no bytes left`);
    const g = decodeGenericHeader(r);
    const body = r.sub(g.length - 4, r.what);
    if (type === PayloadType.SK || type === PayloadType.SKF) {
      if (!allowEncrypted) body.fail(`${payloadName(type)} inside an encrypted payload`);
      if (r.remaining !== 0) {
        body.fail(`${payloadName(type)} must be the last payload, ${r.remaining} byte(s) follow`);
      }
      const encrypted = type === PayloadType.SK
        ? decodeSk(body, g.nextPayload)
        : decodeSkf(body, g.nextPayload);
      if (g.critical) encrypted.critical = true;
      return { payloads, encrypted, encryptedOffset: start, skipped };
    }
    const p = decodeBody(type, body);
    if (p === undefined) {
      if (g.critical) {
        throw new ParseError(
          r.what,
          start,
          `unsupported payload type ${type} with the critical bit set`,
          { notify: "UNSUPPORTED_CRITICAL_PAYLOAD", notifyData: type },
        );
      }
      skipped.push(type);
    } else {
      body.end();
      if (g.critical) p.critical = true;
      payloads.push(p);
    }
    type = g.nextPayload;
  }
  r.what = "payload chain";
  r.end();
  return { payloads, skipped };
}

function encodeBody(w: Writer, p: Payload): void {
  switch (p.type) {
    case PayloadType.SA:
      return encodeSa(w, p);
    case PayloadType.KE:
      return encodeKe(w, p);
    case PayloadType.IDi:
    case PayloadType.IDr:
      return encodeId(w, p);
    case PayloadType.CERT:
      return encodeCert(w, p);
    case PayloadType.CERTREQ:
      return encodeCertreq(w, p);
    case PayloadType.AUTH:
      return encodeAuth(w, p);
    case PayloadType.NONCE:
      return encodeNonce(w, p);
    case PayloadType.NOTIFY:
      return encodeNotify(w, p);
    case PayloadType.DELETE:
      return encodeDelete(w, p);
    case PayloadType.VENDOR_ID:
      return encodeVendorId(w, p);
    case PayloadType.TSi:
    case PayloadType.TSr:
      return encodeTs(w, p);
    case PayloadType.CP:
      return encodeCp(w, p);
    case PayloadType.EAP:
      return encodeEap(w, p);
  }
}

/**
 * Writes one payload with its generic header. Throws RangeError when the
 * payload does not fit the 16-bit length.
 */
export function encodePayload(w: Writer, p: Payload, nextPayload: number): void {
  const start = w.length;
  w.u8(nextPayload).u8(p.critical ? 0x80 : 0);
  const lenPos = w.reserve16();
  encodeBody(w, p);
  const len = w.length - start;
  if (len > 0xffff) throw new RangeError(`${payloadName(p.type)} payload of ${len} bytes`);
  w.patch16(lenPos, len);
}

/**
 * Writes `payloads` as a chain whose last Next Payload is `last` (e.g. SK
 * when unprotected payloads precede it, else NONE). Returns the type of the
 * first payload (or `last` for an empty list), for the enclosing header.
 */
export function encodePayloadChain(w: Writer, payloads: readonly Payload[], last: number): number {
  payloads.forEach((p, i) => {
    encodePayload(w, p, i + 1 < payloads.length ? payloads[i + 1].type : last);
  });
  return payloads.length > 0 ? payloads[0].type : last;
}

/** Writes an SK or SKF payload (framed bytes) with its generic header. */
export function encodeEncryptedPayload(w: Writer, p: SkPayload | SkfPayload): void {
  const start = w.length;
  w.u8(p.innerNextPayload).u8(p.critical ? 0x80 : 0);
  const lenPos = w.reserve16();
  if (p.type === PayloadType.SK) encodeSk(w, p);
  else encodeSkf(w, p);
  const len = w.length - start;
  if (len > 0xffff) throw new RangeError(`encrypted payload of ${len} bytes`);
  w.patch16(lenPos, len);
}
