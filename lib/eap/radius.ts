/**
 * The RADIUS client side of EAP pass-through (RFC 2865, RFC 3579), as
 * charon's eap-radius plugin speaks it: Access-Requests carrying the
 * client's EAP-Message, a State echoed back, a Message-Authenticator; the
 * answers (Access-Challenge, -Accept, -Reject) verified by their Response
 * Authenticator and Message-Authenticator before anything in them is used;
 * the MSK from MS-MPPE-Recv-Key | MS-MPPE-Send-Key (RFC 2548 section 2.4,
 * RFC 3748 appendix), decrypted with the shared secret (zero-padded to 64
 * bytes for EAP-MSCHAPv2's 16-byte keys).
 *
 * Pure functions over bytes; errors are {@linkcode RadiusError}s.
 *
 * ```
 *  Code(1) Identifier(1) Length(2) Authenticator(16) Attributes: Type(1) Length(1) Value
 * ```
 *
 * @module
 */
import * as nodeCrypto from "node:crypto";
import { concat, constantTimeEqual } from "../wire/bytes.ts";
import { formatIpv6 } from "../db/address.ts";

/** RADIUS packet codes we send or accept. */
export const RadiusCode = {
  AccessRequest: 1,
  AccessAccept: 2,
  AccessReject: 3,
  AccountingRequest: 4,
  AccountingResponse: 5,
  AccessChallenge: 11,
  // RFC 5176 (Dynamic Authorization)
  DisconnectRequest: 40,
  DisconnectAck: 41,
  DisconnectNak: 42,
  CoaRequest: 43,
  CoaAck: 44,
  CoaNak: 45,
} as const;

/** Attribute types we use. */
export const RadiusAttr = {
  UserName: 1,
  NasIpAddress: 4,
  NasPort: 5,
  ServiceType: 6,
  FramedMtu: 12,
  ReplyMessage: 18,
  State: 24,
  Class: 25,
  VendorSpecific: 26,
  CalledStationId: 30,
  CallingStationId: 31,
  NasIdentifier: 32,
  FramedIpAddress: 8,
  FramedIpv6Address: 168,
  NasPortType: 61,
  EapMessage: 79,
  MessageAuthenticator: 80,
  NasIpv6Address: 95,
  // RFC 2866 (accounting)
  AcctStatusType: 40,
  AcctInputOctets: 42,
  AcctOutputOctets: 43,
  AcctSessionId: 44,
  AcctSessionTime: 46,
  AcctInputPackets: 47,
  AcctOutputPackets: 48,
  AcctTerminateCause: 49,
  AcctInputGigawords: 52,
  AcctOutputGigawords: 53,
  ErrorCause: 101,
} as const;

const MICROSOFT = 311;
const MS_MPPE_SEND_KEY = 16;
const MS_MPPE_RECV_KEY = 17;

/** A RADIUS answer could not be used; `message` says why. */
export class RadiusError extends Error {
  override readonly name = "RadiusError";
}

/** One attribute. */
export interface RadiusAttribute {
  readonly type: number;
  readonly value: Uint8Array;
}

/** A verified answer to one of our Access-Requests. */
export interface RadiusAnswer {
  readonly code: number;
  readonly identifier: number;
  /** EAP-Message attributes joined: the EAP packet for the client. */
  readonly eap?: Uint8Array;
  /** State to send back with the next Access-Request. */
  readonly state?: Uint8Array;
  /** MS-MPPE-Recv-Key | MS-MPPE-Send-Key (Access-Accept of a key-deriving method). */
  readonly msk?: Uint8Array;
  /** Reply-Message text, when the server sent one. */
  readonly replyMessage?: string;
  /** Framed-IP-Address / Framed-IPv6-Address: the client's virtual IPs (Access-Accept). */
  readonly framedAddresses?: readonly string[];
  readonly attributes: readonly RadiusAttribute[];
}

const md5 = (...parts: Uint8Array[]) => {
  const h = nodeCrypto.createHash("md5");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

const hmacMd5 = (key: Uint8Array, data: Uint8Array) =>
  new Uint8Array(nodeCrypto.createHmac("md5", key).update(data).digest());

function attributeBytes(attrs: readonly RadiusAttribute[]): Uint8Array[] {
  return attrs.map((a) => {
    if (a.value.length > 253) throw new RadiusError(`attribute ${a.type} longer than 253 bytes`);
    const b = new Uint8Array(2 + a.value.length);
    b[0] = a.type;
    b[1] = b.length;
    b.set(a.value, 2);
    return b;
  });
}

/** A packet: Code, Identifier, Length, `authenticator` (zeros when absent), attributes. */
function packet(
  code: number,
  identifier: number,
  authenticator: Uint8Array | undefined,
  attributes: readonly RadiusAttribute[],
  what: string,
): Uint8Array {
  const attrs = join(attributeBytes(attributes));
  const length = 20 + attrs.length;
  if (length > 4096) throw new RadiusError(`${what} of ${length} bytes (4096 at most)`);
  const p = new Uint8Array(length);
  p[0] = code;
  p[1] = identifier & 0xff;
  p[2] = length >> 8;
  p[3] = length & 0xff;
  if (authenticator) p.set(authenticator, 4);
  p.set(attrs, 20);
  return p;
}

const join = (parts: readonly Uint8Array[]): Uint8Array => concat(...parts);

/** `eap` split into EAP-Message attributes of at most 253 bytes (RFC 3579 section 3.1). */
export function eapMessageAttributes(eap: Uint8Array): RadiusAttribute[] {
  const out: RadiusAttribute[] = [];
  for (let o = 0; o < eap.length; o += 253) {
    out.push({ type: RadiusAttr.EapMessage, value: eap.subarray(o, o + 253) });
  }
  return out;
}

/** What goes into an Access-Request. */
export interface AccessRequest {
  readonly identifier: number;
  /** 16 random bytes (the Request Authenticator). */
  readonly authenticator: Uint8Array;
  readonly secret: Uint8Array;
  /** Every attribute but Message-Authenticator, which is added last. */
  readonly attributes: readonly RadiusAttribute[];
}

/**
 * An Access-Request with a Message-Authenticator (HMAC-MD5 over the packet
 * with the attribute zeroed, RFC 3579 section 3.2), as RFC 3579 requires
 * whenever an EAP-Message is carried.
 */
export function encodeAccessRequest(r: AccessRequest): Uint8Array {
  if (r.authenticator.length !== 16) throw new RadiusError("the Request Authenticator is 16 bytes");
  const ma = { type: RadiusAttr.MessageAuthenticator, value: new Uint8Array(16) };
  const p = packet(
    RadiusCode.AccessRequest,
    r.identifier,
    r.authenticator,
    [...r.attributes, ma],
    "Access-Request",
  );
  p.set(hmacMd5(r.secret, p), p.length - 16);
  return p;
}

/** The attributes of a packet (after the 20-byte header), lengths checked. */
export function decodeAttributes(bytes: Uint8Array): RadiusAttribute[] {
  const out: RadiusAttribute[] = [];
  for (let o = 0; o < bytes.length;) {
    if (o + 2 > bytes.length) throw new RadiusError("truncated attribute");
    const len = bytes[o + 1];
    if (len < 2 || o + len > bytes.length) {
      throw new RadiusError(`attribute ${bytes[o]} has a bad length ${len}`);
    }
    out.push({ type: bytes[o], value: bytes.subarray(o + 2, o + len) });
    o += len;
  }
  return out;
}

/**
 * Verifies and decodes the answer `bytes` to the Access-Request `request`
 * (as sent): the identifier, the Response Authenticator
 * MD5(Code|ID|Length|RequestAuth|Attributes|Secret), and the
 * Message-Authenticator (required when an EAP-Message is present).
 */
export function decodeAnswer(
  bytes: Uint8Array,
  request: Uint8Array,
  secret: Uint8Array,
): RadiusAnswer {
  if (bytes.length < 20) throw new RadiusError(`a ${bytes.length}-byte packet is no RADIUS packet`);
  const length = (bytes[2] << 8) | bytes[3];
  if (length < 20 || length > bytes.length || length > 4096) {
    throw new RadiusError(`bad RADIUS length ${length}`);
  }
  const p = bytes.subarray(0, length);
  const code = p[0];
  if (
    code !== RadiusCode.AccessAccept && code !== RadiusCode.AccessReject &&
    code !== RadiusCode.AccessChallenge
  ) throw new RadiusError(`unexpected RADIUS code ${code}`);
  if (p[1] !== request[1]) throw new RadiusError("the answer is to another request (identifier)");
  const requestAuth = request.subarray(4, 20);
  const want = md5(p.subarray(0, 4), requestAuth, p.subarray(20), secret);
  if (!constantTimeEqual(want, p.subarray(4, 20))) {
    throw new RadiusError("the Response Authenticator does not verify (wrong shared secret?)");
  }
  const attributes = decodeAttributes(p.subarray(20));
  // Message-Authenticator: HMAC-MD5 over the packet with the Request Authenticator in place.
  let maAt = -1;
  for (let o = 20; o < length;) {
    if (p[o] === RadiusAttr.MessageAuthenticator) maAt = o;
    o += p[o + 1];
  }
  const eapParts = attributes.filter((a) => a.type === RadiusAttr.EapMessage);
  if (maAt < 0) {
    if (eapParts.length) throw new RadiusError("an EAP-Message without Message-Authenticator");
  } else {
    if (p[maAt + 1] !== 18) throw new RadiusError("a Message-Authenticator is 16 bytes");
    const copy = p.slice();
    copy.set(requestAuth, 4);
    copy.fill(0, maAt + 2, maAt + 18);
    if (!constantTimeEqual(hmacMd5(secret, copy), p.subarray(maAt + 2, maAt + 18))) {
      throw new RadiusError("the Message-Authenticator does not verify");
    }
  }
  const state = attributes.find((a) => a.type === RadiusAttr.State)?.value;
  const reply = attributes.filter((a) => a.type === RadiusAttr.ReplyMessage);
  const msk = code === RadiusCode.AccessAccept
    ? mppeMsk(attributes, requestAuth, secret)
    : undefined;
  const framed = code === RadiusCode.AccessAccept ? framedAddresses(attributes) : [];
  return {
    code,
    identifier: p[1],
    ...(eapParts.length ? { eap: join(eapParts.map((a) => a.value)) } : {}),
    ...(state ? { state } : {}),
    ...(msk ? { msk } : {}),
    ...(reply.length
      ? { replyMessage: new TextDecoder().decode(join(reply.map((a) => a.value))) }
      : {}),
    ...(framed.length ? { framedAddresses: framed } : {}),
    attributes,
  };
}

/**
 * Framed-IP-Address (RFC 2865 5.8; 255.255.255.254 "NAS picks" and
 * 255.255.255.255 "user picks" are no address) and Framed-IPv6-Address
 * (RFC 6911).
 */
function framedAddresses(attrs: readonly RadiusAttribute[]): string[] {
  const out: string[] = [];
  for (const a of attrs) {
    if (a.type === RadiusAttr.FramedIpAddress && a.value.length === 4) {
      if (a.value[0] === 255 && a.value[1] === 255 && a.value[2] === 255 && a.value[3] >= 254) {
        continue;
      }
      out.push([...a.value].join("."));
    } else if (a.type === RadiusAttr.FramedIpv6Address && a.value.length === 16) {
      out.push(formatIpv6(a.value.reduce((v, b) => (v << 8n) | BigInt(b), 0n)));
    }
  }
  return out;
}

/** MS-MPPE-Recv-Key | MS-MPPE-Send-Key, when both are present. */
function mppeMsk(
  attrs: readonly RadiusAttribute[],
  requestAuth: Uint8Array,
  secret: Uint8Array,
): Uint8Array | undefined {
  let send: Uint8Array | undefined;
  let recv: Uint8Array | undefined;
  for (const a of attrs) {
    if (a.type !== RadiusAttr.VendorSpecific || a.value.length < 6) continue;
    const vendor = (a.value[0] << 24 | a.value[1] << 16 | a.value[2] << 8 | a.value[3]) >>> 0;
    if (vendor !== MICROSOFT) continue;
    for (let o = 4; o + 2 <= a.value.length;) {
      const type = a.value[o], len = a.value[o + 1];
      if (len < 2 || o + len > a.value.length) {
        throw new RadiusError("malformed Microsoft attribute");
      }
      const v = a.value.subarray(o + 2, o + len);
      if (type === MS_MPPE_SEND_KEY) send = decryptMppeKey(v, requestAuth, secret);
      if (type === MS_MPPE_RECV_KEY) recv = decryptMppeKey(v, requestAuth, secret);
      o += len;
    }
  }
  if (!send || !recv) return undefined;
  // EAP-MSCHAPv2 keys are 16 bytes each: its MSK is padded with zeros to 64
  // bytes, as the clients (and charon's own EAP-MSCHAPv2) derive it.
  const msk = join([recv, send]);
  if (msk.length >= 64) return msk;
  const padded = new Uint8Array(64);
  padded.set(msk);
  return padded;
}

/**
 * Decrypts an MS-MPPE-Send/Recv-Key value (RFC 2548 section 2.4.2): Salt(2)
 * then String, XORed with MD5(secret | RequestAuth | Salt), MD5(secret | c1)...;
 * the plaintext is Key-Length(1) | Key | padding.
 */
export function decryptMppeKey(
  value: Uint8Array,
  requestAuth: Uint8Array,
  secret: Uint8Array,
): Uint8Array {
  if (value.length < 2 + 16 || (value.length - 2) % 16 !== 0) {
    throw new RadiusError("malformed MS-MPPE key attribute");
  }
  if (!(value[0] & 0x80)) throw new RadiusError("MS-MPPE key salt without its high bit");
  const salt = value.subarray(0, 2);
  const c = value.subarray(2);
  const plain = new Uint8Array(c.length);
  let prev = join([requestAuth, salt]);
  for (let o = 0; o < c.length; o += 16) {
    const b = md5(secret, prev);
    for (let i = 0; i < 16; i++) plain[o + i] = c[o + i] ^ b[i];
    prev = c.subarray(o, o + 16);
  }
  const len = plain[0];
  if (len === 0 || len > plain.length - 1) throw new RadiusError("bad MS-MPPE key length");
  return plain.slice(1, 1 + len);
}

/** Encrypts an MS-MPPE key as a server does (for tests' servers). */
export function encryptMppeKey(
  key: Uint8Array,
  requestAuth: Uint8Array,
  secret: Uint8Array,
  salt: Uint8Array,
): Uint8Array {
  const plainLen = Math.ceil((key.length + 1) / 16) * 16;
  const plain = new Uint8Array(plainLen);
  plain[0] = key.length;
  plain.set(key, 1);
  const out = new Uint8Array(2 + plainLen);
  out.set(salt, 0);
  out[0] |= 0x80;
  let prev = join([requestAuth, out.subarray(0, 2)]);
  for (let o = 0; o < plainLen; o += 16) {
    const b = md5(secret, prev);
    for (let i = 0; i < 16; i++) out[2 + o + i] = plain[o + i] ^ b[i];
    prev = out.subarray(2 + o, 2 + o + 16);
  }
  return out;
}

/** A text attribute. */
export function textAttribute(type: number, text: string): RadiusAttribute {
  return { type, value: new TextEncoder().encode(text) };
}

/** A 32-bit integer attribute. */
export function intAttribute(type: number, n: number): RadiusAttribute {
  const v = new Uint8Array(4);
  new DataView(v.buffer).setUint32(0, n);
  return { type, value: v };
}

/**
 * An Accounting-Request (RFC 2866 section 3): its Request Authenticator is
 * MD5(Code | Identifier | Length | 16 zero octets | Attributes | Secret).
 */
export function encodeAccountingRequest(
  r: { identifier: number; secret: Uint8Array; attributes: readonly RadiusAttribute[] },
): Uint8Array {
  const p = packet(
    RadiusCode.AccountingRequest,
    r.identifier,
    undefined,
    r.attributes,
    "Accounting-Request",
  );
  p.set(md5(p, r.secret), 4);
  return p;
}

/**
 * Verifies the Accounting-Response `bytes` to `request` (RFC 2866 section
 * 3: identifier, and MD5(Code | ID | Length | RequestAuth | Attributes |
 * Secret) as its Response Authenticator).
 */
export function verifyAccountingResponse(
  bytes: Uint8Array,
  request: Uint8Array,
  secret: Uint8Array,
): void {
  if (bytes.length < 20) throw new RadiusError(`a ${bytes.length}-byte packet is no RADIUS packet`);
  const length = (bytes[2] << 8) | bytes[3];
  if (length < 20 || length > bytes.length) throw new RadiusError(`bad RADIUS length ${length}`);
  const p = bytes.subarray(0, length);
  if (p[0] !== RadiusCode.AccountingResponse) {
    throw new RadiusError(`unexpected RADIUS code ${p[0]}`);
  }
  if (p[1] !== request[1]) throw new RadiusError("the answer is to another request (identifier)");
  const want = md5(p.subarray(0, 4), request.subarray(4, 20), p.subarray(20), secret);
  if (!constantTimeEqual(want, p.subarray(4, 20))) {
    throw new RadiusError("the Response Authenticator does not verify (wrong shared secret?)");
  }
  decodeAttributes(p.subarray(20));
}

/** A verified Disconnect-Request or CoA-Request (RFC 5176). */
export interface DaeRequest {
  readonly code: number;
  readonly identifier: number;
  readonly authenticator: Uint8Array;
  readonly attributes: readonly RadiusAttribute[];
}

/**
 * Verifies a Dynamic Authorization request (RFC 5176 section 3.5): its
 * Request Authenticator is MD5(Code | ID | Length | 16 zero octets |
 * Attributes | Secret); a Message-Authenticator, when present, is the
 * HMAC-MD5 over the packet with both authenticator fields zeroed.
 */
export function verifyDaeRequest(bytes: Uint8Array, secret: Uint8Array): DaeRequest {
  if (bytes.length < 20) throw new RadiusError(`a ${bytes.length}-byte packet is no RADIUS packet`);
  const length = (bytes[2] << 8) | bytes[3];
  if (length < 20 || length > bytes.length || length > 4096) {
    throw new RadiusError(`bad RADIUS length ${length}`);
  }
  const p = bytes.subarray(0, length);
  if (p[0] !== RadiusCode.DisconnectRequest && p[0] !== RadiusCode.CoaRequest) {
    throw new RadiusError(`unexpected RADIUS code ${p[0]}`);
  }
  const zeroed = p.slice();
  zeroed.fill(0, 4, 20);
  if (!constantTimeEqual(md5(zeroed, secret), p.subarray(4, 20))) {
    throw new RadiusError("the Request Authenticator does not verify (wrong shared secret?)");
  }
  const attributes = decodeAttributes(p.subarray(20));
  for (let o = 20; o < length; o += p[o + 1]) {
    if (p[o] !== RadiusAttr.MessageAuthenticator) continue;
    if (p[o + 1] !== 18) throw new RadiusError("a Message-Authenticator is 16 bytes");
    const copy = zeroed.slice();
    copy.fill(0, o + 2, o + 18);
    if (!constantTimeEqual(hmacMd5(secret, copy), p.subarray(o + 2, o + 18))) {
      throw new RadiusError("the Message-Authenticator does not verify");
    }
  }
  return { code: p[0], identifier: p[1], authenticator: p.slice(4, 20), attributes };
}

/**
 * The answer to a Dynamic Authorization request: its Response Authenticator
 * is MD5(Code | ID | Length | Request Authenticator | Attributes | Secret).
 */
export function encodeDaeResponse(
  code: number,
  request: DaeRequest,
  attributes: readonly RadiusAttribute[],
  secret: Uint8Array,
): Uint8Array {
  const p = packet(code, request.identifier, request.authenticator, attributes, "DAE answer");
  p.set(md5(p, secret), 4);
  return p;
}
