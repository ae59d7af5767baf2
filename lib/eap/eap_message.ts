/**
 * EAP packet codec (RFC 3748 section 4) and the type data of the methods we
 * speak: Identity, Nak, MD5-Challenge (RFC 3748 5.4, RFC 1994) and
 * EAP-MSCHAPv2 (draft-kamath-pppext-eap-mschapv2-02). Pure functions; decoders
 * validate every length before reading and throw {@link EapError}.
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     Code      |  Identifier   |            Length             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     Type      |  Type-Data ...   (Request and Response only)
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * Interoperability notes, from strongSwan's eap-md5 / eap-mschapv2 plugins:
 * - MS-Length is the EAP Length minus 5, i.e. the length of the EAP-MSCHAPv2
 *   type data from the OpCode on (charon: `set_ms_length(len - 5)`).
 * - The peer's Success and Failure Responses are the OpCode alone (type data of
 *   1 byte, EAP Length 6): no MS-CHAPv2-ID, no MS-Length.
 * - charon's Success Request ends the "S=... M=Welcome2strongSwan" text with a
 *   NUL byte; the decoder strips trailing NULs from message text.
 * - charon's Failure Request is "E=691 R=1 C=<32 hex>" (no V=, no M=).
 * - charon sends "strongSwan" as the Name of its Challenge and the whole peer
 *   identity as the Name of its Response.
 * - charon's MD5 peer hashes everything after Value-Size as the challenge, so an
 *   MD5-Challenge Request must not carry a Name for it to interoperate; ours
 *   carries none.
 *
 * @module
 */
import { fromHex, toHex } from "../wire/bytes.ts";

/** EAP Codes (RFC 3748 section 4). */
export const EapCode = { Request: 1, Response: 2, Success: 3, Failure: 4 } as const;
/** An EAP Code value. */
export type EapCodeValue = (typeof EapCode)[keyof typeof EapCode];

/** EAP method types we know (IANA "Method Types"). */
export const EapType = {
  Identity: 1,
  Notification: 2,
  Nak: 3,
  Md5Challenge: 4,
  Tls: 13,
  Ttls: 21,
  Peap: 25,
  MsChapV2: 26,
  Extensions: 33,
} as const;

/** Names of EAP types for log messages. */
export const EAP_TYPE_NAMES: Readonly<Record<number, string>> = {
  1: "Identity",
  2: "Notification",
  3: "Nak",
  4: "MD5-Challenge",
  13: "TLS",
  21: "TTLS",
  25: "PEAP",
  33: "Extensions",
  26: "MSCHAPv2",
  254: "Expanded",
};

/** The EAP methods this implementation can run. */
export type EapMethodName = "md5" | "mschapv2" | "tls" | "ttls" | "peap";

/** The EAP type number of each method. */
export const EAP_METHOD_TYPES: Readonly<Record<EapMethodName, number>> = {
  md5: EapType.Md5Challenge,
  mschapv2: EapType.MsChapV2,
  tls: EapType.Tls,
  ttls: EapType.Ttls,
  peap: EapType.Peap,
};

/**
 * The method name for an EAP type number, or undefined if we do not run it.
 *
 * @example
 * ```ts
 * import { eapMethodName } from "./eap_message.ts";
 * eapMethodName(26); // "mschapv2"
 * ```
 */
export function eapMethodName(type: number): EapMethodName | undefined {
  if (type === EapType.Md5Challenge) return "md5";
  if (type === EapType.MsChapV2) return "mschapv2";
  if (type === EapType.Tls) return "tls";
  if (type === EapType.Ttls) return "ttls";
  if (type === EapType.Peap) return "peap";
  return undefined;
}

/**
 * Printable name of an EAP type, e.g. "MSCHAPv2" or "type 13".
 *
 * @example
 * ```ts
 * import { eapTypeName } from "./eap_message.ts";
 * eapTypeName(4); // "MD5-Challenge"
 * ```
 */
export function eapTypeName(type: number): string {
  return EAP_TYPE_NAMES[type] ?? `type ${type}`;
}

/**
 * A malformed EAP packet: the same shape as the codecs' ParseError (what,
 * offset, reason), with the message "<what> at offset <n>: <reason>".
 *
 * @example
 * ```ts
 * import { decodeEap, EapError } from "./eap_message.ts";
 * try { decodeEap(new Uint8Array(3)); } catch (e) { e instanceof EapError; } // true
 * ```
 */
export class EapError extends Error {
  override readonly name = "EapError";
  /** What was being decoded, e.g. "EAP packet", "EAP-MSCHAPv2". */
  readonly what: string;
  /** Byte offset in the EAP packet where the problem was found. */
  readonly offset: number;
  /** Human-readable reason. */
  readonly reason: string;

  constructor(what: string, offset: number, reason: string) {
    super(`${what} at offset ${offset}: ${reason}`);
    this.what = what;
    this.offset = offset;
    this.reason = reason;
  }
}

/** A Request or Response: it has a Type and type data. */
export interface EapTypedPacket {
  /** 1 (Request) or 2 (Response). */
  code: typeof EapCode.Request | typeof EapCode.Response;
  /** 0..255. */
  identifier: number;
  /** The EAP method type. */
  type: number;
  /** Everything after the Type byte. */
  data: Uint8Array;
}

/** A Success or Failure: header only. */
export interface EapResultPacket {
  /** 3 (Success) or 4 (Failure). */
  code: typeof EapCode.Success | typeof EapCode.Failure;
  /** 0..255. */
  identifier: number;
}

/** A decoded EAP packet. */
export type EapPacket = EapTypedPacket | EapResultPacket;

/**
 * Decodes a whole EAP packet. The Length field must equal the byte count (in
 * IKEv2 the EAP payload carries exactly one packet); Success and Failure are
 * exactly 4 bytes; Request and Response carry a Type.
 *
 * @throws {EapError} on any violation.
 * @example
 * ```ts
 * import { decodeEap } from "./eap_message.ts";
 * decodeEap(new Uint8Array([3, 7, 0, 4])); // { code: 3, identifier: 7 }
 * ```
 */
export function decodeEap(bytes: Uint8Array): EapPacket {
  const what = "EAP packet";
  if (bytes.length < 4) {
    throw new EapError(what, 0, `truncated: ${bytes.length} bytes, the header needs 4`);
  }
  const code = bytes[0], identifier = bytes[1];
  const length = (bytes[2] << 8) | bytes[3];
  if (length !== bytes.length) {
    throw new EapError(
      what,
      2,
      `Length field says ${length} but the packet has ${bytes.length} bytes`,
    );
  }
  switch (code) {
    case EapCode.Success:
    case EapCode.Failure:
      if (length !== 4) {
        throw new EapError(
          what,
          2,
          `${code === 3 ? "Success" : "Failure"} must be 4 bytes, got ${length}`,
        );
      }
      return { code, identifier };
    case EapCode.Request:
    case EapCode.Response:
      if (length < 5) {
        throw new EapError(what, 4, `${code === 1 ? "Request" : "Response"} without a Type`);
      }
      return { code, identifier, type: bytes[4], data: bytes.slice(5) };
    default:
      throw new EapError(what, 0, `unknown Code ${code}`);
  }
}

/**
 * Encodes an EAP packet.
 *
 * @throws {RangeError} when it would exceed 65535 bytes or a field is out of range.
 * @example
 * ```ts
 * import { encodeEap } from "./eap_message.ts";
 * encodeEap({ code: 1, identifier: 1, type: 1, data: new Uint8Array() }); // 01 01 00 05 01
 * ```
 */
export function encodeEap(p: EapPacket): Uint8Array {
  if (!Number.isInteger(p.identifier) || p.identifier < 0 || p.identifier > 255) {
    throw new RangeError(`EAP Identifier out of range: ${p.identifier}`);
  }
  if (!("type" in p)) return new Uint8Array([p.code, p.identifier, 0, 4]);
  const len = 5 + p.data.length;
  if (len > 0xffff) throw new RangeError(`EAP packet too long: ${len} bytes`);
  const out = new Uint8Array(len);
  out.set([p.code, p.identifier, len >> 8, len & 0xff, p.type]);
  out.set(p.data, 5);
  return out;
}

const utf8Strict = new TextDecoder("utf-8", { fatal: true });
const utf8 = new TextEncoder();

function decodeUtf8(bytes: Uint8Array, what: string, offset: number): string {
  try {
    return utf8Strict.decode(bytes);
  } catch {
    throw new EapError(what, offset, "text is not valid UTF-8");
  }
}

/** Message text: UTF-8 (invalid bytes replaced), trailing NULs dropped. */
function decodeText(bytes: Uint8Array): string {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  return new TextDecoder().decode(bytes.subarray(0, end));
}

// ---------------------------------------------------------------------------
// Identity (RFC 3748 5.1) and Nak (5.3.1)
// ---------------------------------------------------------------------------

/**
 * The identity in an Identity Response: UTF-8, without trailing NULs.
 *
 * @throws {EapError} when it is not UTF-8.
 * @example
 * ```ts
 * import { decodeIdentity } from "./eap_message.ts";
 * decodeIdentity(new TextEncoder().encode("carol")); // "carol"
 * ```
 */
export function decodeIdentity(data: Uint8Array): string {
  let end = data.length;
  while (end > 0 && data[end - 1] === 0) end--;
  return decodeUtf8(data.subarray(0, end), "EAP-Identity", 5);
}

/**
 * The types listed in a legacy Nak (one byte each; 0 = no alternative).
 *
 * @throws {EapError} when the list is empty.
 * @example
 * ```ts
 * import { decodeNak } from "./eap_message.ts";
 * decodeNak(new Uint8Array([26, 4])); // [26, 4]
 * ```
 */
export function decodeNak(data: Uint8Array): number[] {
  if (data.length === 0) throw new EapError("EAP-Nak", 5, "no Desired Auth Type");
  return [...data];
}

/**
 * The type data of a legacy Nak listing `types` (or 0 when empty).
 *
 * @example
 * ```ts
 * import { encodeNak } from "./eap_message.ts";
 * encodeNak([]); // Uint8Array [0]
 * ```
 */
export function encodeNak(types: readonly number[]): Uint8Array {
  return types.length === 0 ? new Uint8Array([0]) : new Uint8Array(types);
}

// ---------------------------------------------------------------------------
// MD5-Challenge (RFC 3748 5.4, RFC 1994 4.1): Value-Size, Value, Name
// ---------------------------------------------------------------------------

/** MD5-Challenge type data. */
export interface Md5ChallengeData {
  /** The challenge (Request) or the 16-byte MD5 response (Response). */
  value: Uint8Array;
  /** Optional Name (the bytes after Value). */
  name: Uint8Array;
}

/**
 * Decodes MD5-Challenge type data.
 *
 * @throws {EapError} when Value-Size is 0 or runs past the end.
 * @example
 * ```ts
 * import { decodeMd5 } from "./eap_message.ts";
 * decodeMd5(new Uint8Array([1, 9])).value; // Uint8Array [9]
 * ```
 */
export function decodeMd5(data: Uint8Array): Md5ChallengeData {
  const what = "EAP-MD5";
  if (data.length < 1) throw new EapError(what, 5, "no Value-Size");
  const size = data[0];
  if (size === 0) throw new EapError(what, 5, "Value-Size is 0");
  if (1 + size > data.length) {
    throw new EapError(what, 5, `Value-Size ${size} but only ${data.length - 1} bytes follow`);
  }
  return { value: data.slice(1, 1 + size), name: data.slice(1 + size) };
}

/**
 * Encodes MD5-Challenge type data.
 *
 * @throws {RangeError} when the value is empty or longer than 255 bytes.
 * @example
 * ```ts
 * import { encodeMd5 } from "./eap_message.ts";
 * encodeMd5({ value: new Uint8Array(16), name: new Uint8Array() }).length; // 17
 * ```
 */
export function encodeMd5(d: Md5ChallengeData): Uint8Array {
  if (d.value.length < 1 || d.value.length > 255) {
    throw new RangeError(`MD5 Value-Size must be 1..255, got ${d.value.length}`);
  }
  const out = new Uint8Array(1 + d.value.length + d.name.length);
  out[0] = d.value.length;
  out.set(d.value, 1);
  out.set(d.name, 1 + d.value.length);
  return out;
}

// ---------------------------------------------------------------------------
// EAP-MSCHAPv2 (draft-kamath-pppext-eap-mschapv2-02)
// ---------------------------------------------------------------------------

/** EAP-MSCHAPv2 OpCodes. */
export const MsChapV2OpCode = {
  Challenge: 1,
  Response: 2,
  Success: 3,
  Failure: 4,
  ChangePassword: 7,
} as const;

/** Value-Size of a Challenge. */
export const MSCHAPV2_CHALLENGE_SIZE = 16;
/** Value-Size of a Response: Peer-Challenge 16, Reserved 8, NT-Response 24, Flags 1. */
export const MSCHAPV2_RESPONSE_SIZE = 49;

/** A decoded EAP-MSCHAPv2 type data. */
export type MsChapV2Packet =
  /** Request, OpCode 1. */
  | { kind: "challenge"; msChapV2Id: number; challenge: Uint8Array; name: string }
  /** Response, OpCode 2. `name` is the user identity (possibly DOMAIN\user). */
  | {
    kind: "response";
    msChapV2Id: number;
    peerChallenge: Uint8Array;
    ntResponse: Uint8Array;
    flags: number;
    name: string;
  }
  /** Request, OpCode 3: "S=<40 hex> M=<text>". */
  | { kind: "success-request"; msChapV2Id: number; message: string }
  /** Request, OpCode 4: "E=... R=... C=... V=... M=...". */
  | { kind: "failure-request"; msChapV2Id: number; message: string }
  /** Response, OpCode 3 (OpCode only on the wire). */
  | { kind: "success-response" }
  /** Response, OpCode 4 (OpCode only on the wire). */
  | { kind: "failure-response" };

/**
 * Decodes EAP-MSCHAPv2 type data (everything after the EAP Type byte) of a
 * Request (`code` 1) or Response (`code` 2). MS-Length must equal the type
 * data length. Success/Failure Responses are accepted with or without the
 * MS-CHAPv2-ID/MS-Length header (only the OpCode is read).
 *
 * @throws {EapError} on a bad OpCode for the direction, bad lengths or sizes.
 * @example
 * ```ts
 * import { decodeMsChapV2 } from "./eap_message.ts";
 * decodeMsChapV2(2, new Uint8Array([3])); // { kind: "success-response" }
 * ```
 */
export function decodeMsChapV2(code: number, data: Uint8Array): MsChapV2Packet {
  const what = "EAP-MSCHAPv2";
  const base = 5; // offset of the type data in the EAP packet, for error messages
  if (data.length < 1) throw new EapError(what, base, "no OpCode");
  const op = data[0];
  if (
    code === EapCode.Response && (op === MsChapV2OpCode.Success || op === MsChapV2OpCode.Failure)
  ) {
    return { kind: op === MsChapV2OpCode.Success ? "success-response" : "failure-response" };
  }
  if (data.length < 4) {
    throw new EapError(what, base, `truncated: ${data.length} bytes, the header needs 4`);
  }
  const msChapV2Id = data[1];
  const msLength = (data[2] << 8) | data[3];
  if (msLength !== data.length) {
    throw new EapError(
      what,
      base + 2,
      `MS-Length says ${msLength} but the type data has ${data.length} bytes`,
    );
  }
  const body = data.subarray(4);
  if (code === EapCode.Request) {
    switch (op) {
      case MsChapV2OpCode.Challenge: {
        if (body.length < 1 + MSCHAPV2_CHALLENGE_SIZE) {
          throw new EapError(what, base + 4, "Challenge truncated");
        }
        if (body[0] !== MSCHAPV2_CHALLENGE_SIZE) {
          throw new EapError(what, base + 4, `Challenge Value-Size ${body[0]}, expected 16`);
        }
        return {
          kind: "challenge",
          msChapV2Id,
          challenge: body.slice(1, 17),
          name: decodeText(body.subarray(17)),
        };
      }
      case MsChapV2OpCode.Success:
        return { kind: "success-request", msChapV2Id, message: decodeText(body) };
      case MsChapV2OpCode.Failure:
        return { kind: "failure-request", msChapV2Id, message: decodeText(body) };
      default:
        throw new EapError(what, base, `unsupported Request OpCode ${op}`);
    }
  }
  if (code === EapCode.Response && op === MsChapV2OpCode.Response) {
    if (body.length < 1 + MSCHAPV2_RESPONSE_SIZE) {
      throw new EapError(what, base + 4, "Response truncated");
    }
    if (body[0] !== MSCHAPV2_RESPONSE_SIZE) {
      throw new EapError(what, base + 4, `Response Value-Size ${body[0]}, expected 49`);
    }
    return {
      kind: "response",
      msChapV2Id,
      peerChallenge: body.slice(1, 17),
      ntResponse: body.slice(25, 49),
      flags: body[49],
      name: decodeUtf8(body.subarray(50), what, base + 54),
    };
  }
  throw new EapError(what, base, `unsupported ${code === 1 ? "Request" : "Response"} OpCode ${op}`);
}

function withHeader(op: number, id: number, body: Uint8Array): Uint8Array {
  const len = 4 + body.length;
  if (len > 0xffff - 5) throw new RangeError(`EAP-MSCHAPv2 packet too long: ${len}`);
  const out = new Uint8Array(len);
  out.set([op, id & 0xff, len >> 8, len & 0xff]);
  out.set(body, 4);
  return out;
}

/**
 * Encodes EAP-MSCHAPv2 type data (to be put after the EAP Type byte).
 *
 * @throws {RangeError} on wrong challenge/response sizes.
 * @example
 * ```ts
 * import { encodeMsChapV2 } from "./eap_message.ts";
 * encodeMsChapV2({ kind: "success-response" }); // Uint8Array [3]
 * ```
 */
export function encodeMsChapV2(p: MsChapV2Packet): Uint8Array {
  switch (p.kind) {
    case "challenge": {
      if (p.challenge.length !== 16) throw new RangeError("MSCHAPv2 challenge must be 16 bytes");
      const name = utf8.encode(p.name);
      const body = new Uint8Array(17 + name.length);
      body[0] = MSCHAPV2_CHALLENGE_SIZE;
      body.set(p.challenge, 1);
      body.set(name, 17);
      return withHeader(MsChapV2OpCode.Challenge, p.msChapV2Id, body);
    }
    case "response": {
      if (p.peerChallenge.length !== 16) {
        throw new RangeError("MSCHAPv2 peer challenge must be 16 bytes");
      }
      if (p.ntResponse.length !== 24) throw new RangeError("MSCHAPv2 NT-Response must be 24 bytes");
      const name = utf8.encode(p.name);
      const body = new Uint8Array(50 + name.length);
      body[0] = MSCHAPV2_RESPONSE_SIZE;
      body.set(p.peerChallenge, 1); // then 8 reserved zero bytes
      body.set(p.ntResponse, 25);
      body[49] = p.flags;
      body.set(name, 50);
      return withHeader(MsChapV2OpCode.Response, p.msChapV2Id, body);
    }
    case "success-request":
      return withHeader(MsChapV2OpCode.Success, p.msChapV2Id, utf8.encode(p.message));
    case "failure-request":
      return withHeader(MsChapV2OpCode.Failure, p.msChapV2Id, utf8.encode(p.message));
    case "success-response":
      return new Uint8Array([MsChapV2OpCode.Success]);
    case "failure-response":
      return new Uint8Array([MsChapV2OpCode.Failure]);
  }
}

/** The fields of a Success Request message. */
export interface MsChapV2SuccessMessage {
  /** "S=" and 40 hex digits, as received. */
  authenticatorResponse: string;
  /** The M= text ("" when absent). */
  message: string;
}

/**
 * Parses "S=<40 hex> M=<text>" (RFC 2759 section 5). The S= field must come
 * first and have exactly 40 hex digits; M= runs to the end of the text.
 *
 * @throws {EapError} when S= is missing or malformed.
 * @example
 * ```ts
 * import { parseMsChapV2Success } from "./eap_message.ts";
 * parseMsChapV2Success("S=" + "A".repeat(40) + " M=hi").message; // "hi"
 * ```
 */
export function parseMsChapV2Success(text: string): MsChapV2SuccessMessage {
  const m = /^(S=[0-9A-Fa-f]{40})(?: +M=(.*))?\s*$/s.exec(text);
  if (!m) {
    throw new EapError(
      "EAP-MSCHAPv2 Success",
      9,
      `no valid S=<40 hex digits> in "${text.slice(0, 60)}"`,
    );
  }
  return { authenticatorResponse: m[1], message: m[2] ?? "" };
}

/**
 * Formats "S=<40 upper-case hex> M=<text>".
 *
 * @example
 * ```ts
 * import { formatMsChapV2Success } from "./eap_message.ts";
 * formatMsChapV2Success("S=" + "A".repeat(40), "Welcome"); // "S=AAAA... M=Welcome"
 * ```
 */
export function formatMsChapV2Success(authenticatorResponse: string, message: string): string {
  return `${authenticatorResponse} M=${message}`;
}

/** The fields of a Failure Request message (RFC 2759 section 6). */
export interface MsChapV2FailureMessage {
  /** E=: the error code, e.g. 691 (authentication failure). */
  error: number;
  /** R=1: the server allows a retry. */
  retriable: boolean;
  /** C=: a new 16-byte challenge, if present. */
  challenge?: Uint8Array;
  /** V=: the password change protocol version, if present. */
  version?: number;
  /** M=: the text ("" when absent). */
  message: string;
}

/**
 * Parses "E=eeeeeeeeee R=r C=<32 hex> V=vvvvvvvvvv M=<msg>". E= is required;
 * the others are optional; M= runs to the end.
 *
 * @throws {EapError} when E= is missing or a field is malformed.
 * @example
 * ```ts
 * import { parseMsChapV2Failure } from "./eap_message.ts";
 * parseMsChapV2Failure("E=691 R=0 V=3").error; // 691
 * ```
 */
export function parseMsChapV2Failure(text: string): MsChapV2FailureMessage {
  const what = "EAP-MSCHAPv2 Failure";
  const mIdx = text.search(/(^| )M=/);
  const head = mIdx < 0 ? text : text.slice(0, mIdx);
  const message = mIdx < 0 ? "" : text.slice(text.indexOf("M=", mIdx) + 2);
  const out: MsChapV2FailureMessage = { error: -1, retriable: false, message };
  for (const tok of head.trim().split(/ +/)) {
    if (tok === "") continue;
    const [k, v] = [tok.slice(0, 2), tok.slice(2)];
    if (k === "E=" && /^\d{1,10}$/.test(v)) out.error = Number(v);
    else if (k === "R=" && /^[01]$/.test(v)) out.retriable = v === "1";
    else if (k === "C=" && /^[0-9A-Fa-f]{32}$/.test(v)) out.challenge = fromHex(v);
    else if (k === "V=" && /^\d{1,10}$/.test(v)) out.version = Number(v);
    else throw new EapError(what, 9, `malformed field "${tok.slice(0, 40)}"`);
  }
  if (out.error < 0) throw new EapError(what, 9, "no E=<error code>");
  return out;
}

/**
 * Formats "E=<error> R=<0|1> C=<32 upper-case hex> V=3 M=<text>".
 *
 * @example
 * ```ts
 * import { formatMsChapV2Failure } from "./eap_message.ts";
 * formatMsChapV2Failure({ error: 691, retriable: false, challenge: new Uint8Array(16),
 *   version: 3, message: "Authentication failed" });
 * ```
 */
export function formatMsChapV2Failure(f: MsChapV2FailureMessage): string {
  const parts = [`E=${f.error}`, `R=${f.retriable ? 1 : 0}`];
  if (f.challenge) parts.push(`C=${toHex(f.challenge).toUpperCase()}`);
  if (f.version !== undefined) parts.push(`V=${f.version}`);
  parts.push(`M=${f.message}`);
  return parts.join(" ");
}
