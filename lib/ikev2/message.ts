/**
 * Whole IKEv2 messages: the IKE header plus payload chain (RFC 7296 section
 * 3), SK protection (section 3.14 for AES-CBC + HMAC/XCBC/CMAC; RFC 5282 for
 * AES-GCM and RFC 7634 for ChaCha20-Poly1305), and per-exchange payload
 * rules (which payloads, how many, encrypted or not) in the style of
 * strongSwan's encoding/message.c.
 *
 * API, in the order the engine uses it:
 * - {@linkcode decodeMessage}`(bytes)` parses the header and the cleartext
 *   chain; a protected message ends in `encrypted` (SK or SKF, still sealed).
 *   IKE_SA_INIT is checked against the rule table here.
 * - {@linkcode decryptMessage}`(decoded, inbound)` verifies the ICV in
 *   constant time BEFORE using any decrypted byte, strips padding, parses the
 *   inner chain and checks the rule table. SKF fragments go through
 *   lib/ikev2/fragment.ts instead.
 * - {@linkcode encodeMessage}`(msg)` writes an unprotected message
 *   (IKE_SA_INIT, or an unprotected INFORMATIONAL per RFC 7296 section 2.21.4).
 * - {@linkcode encryptMessage}`(msg, outbound)` writes header + SK{payloads}.
 * - {@linkcode ikeSaProtection}`(suite, keys, initiator)` keys both
 *   directions from lib/crypto/keys.ts output.
 *
 * Errors, and what the engine should do with them:
 * - {@linkcode ParseError} from `decodeMessage`: the message is malformed
 *   (`notify` says INVALID_SYNTAX, INVALID_MAJOR_VERSION or
 *   UNSUPPORTED_CRITICAL_PAYLOAD with `notifyData` = payload type). For
 *   messages that will be protected this is unauthenticated: count and drop.
 * - {@linkcode IntegrityError} from `decryptMessage`: ICV mismatch or a
 *   sealed part too short to check. Never answer it; count and drop
 *   (RFC 7296 section 2.21.2).
 * - {@linkcode ParseError} from `decryptMessage`: the authenticated content
 *   is malformed or breaks the exchange's rules; answering a request with
 *   INVALID_SYNTAX is allowed.
 *
 * @example
 * ```ts
 * import { decodeMessage, decryptMessage, encryptMessage, ikeSaProtection } from "./message.ts";
 * import { PayloadType, ExchangeType } from "./constants.ts";
 *
 * const prot = ikeSaProtection(suite, keys, true); // we are the original initiator
 * const bytes = encryptMessage({
 *   header: { spiI, spiR, exchangeType: ExchangeType.INFORMATIONAL, initiator: true,
 *     response: false, messageId: 2 },
 *   payloads: [], // an empty INFORMATIONAL is a liveness check
 * }, prot.outbound);
 *
 * // on receipt:
 * const d = decodeMessage(datagram);
 * if (d.encrypted?.type === PayloadType.SK) {
 *   const m = decryptMessage(d, prot.inbound); // IntegrityError -> drop silently
 *   m.payloads; // Notify, Delete, CP, ...
 * }
 * ```
 *
 * @module
 */
import { Reader } from "../wire/reader.ts";
import { Writer } from "../wire/writer.ts";
import { ParseError } from "../wire/parse_error.ts";
import { concat } from "../wire/bytes.ts";
import {
  aeadAlgorithm,
  type BlockCipherAlgorithm,
  blockCipherAlgorithm,
  createAead,
  createBlockCipher,
  createIntegMac,
} from "../crypto/primitives.ts";
import type { SoftwareBackend } from "../crypto/primitives.ts";
import { constantTimeEqual } from "../wire/bytes.ts";
import { CryptoError } from "../crypto/types.ts";
import { encrInfo } from "../crypto/transforms.ts";
import type { IkeSaKeys, KeySuite } from "../crypto/keys.ts";
import {
  CfgType,
  exchangeName,
  ExchangeType,
  IKE_HEADER_LENGTH,
  isErrorNotify,
  notifyShortName,
  NotifyType,
  payloadName,
  payloadShortName,
  PayloadType,
} from "./constants.ts";
import { decodeHeader, encodeHeader, type IkeHeader, type IkeHeaderInit } from "./header.ts";
import { decodePayloadChain, encodePayloadChain, type Payload } from "./payloads/chain.ts";
import type { SkfPayload, SkPayload } from "./payloads/sk.ts";
import type { NotifyPayload } from "./payloads/notify.ts";

export type { IkeHeader, IkeHeaderInit } from "./header.ts";
export type { Payload } from "./payloads/chain.ts";

/** Largest message we decode (fits a UDP datagram / RFC 8229 TCP frame). */
export const MAX_MESSAGE_LENGTH = 65535;

/** A message to send, or a decrypted one: header fields and cleartext payloads. */
export interface IkeMessage {
  /** Header fields (Length and Next Payload are computed). */
  header: IkeHeaderInit;
  /** Cleartext payloads, in wire order. */
  payloads: Payload[];
}

/** A received message after {@linkcode decryptMessage} (or an unprotected one). */
export interface ReceivedMessage {
  /** The decoded IKE header. */
  header: IkeHeader;
  /** Payloads in wire order (inner ones once decrypted). */
  payloads: Payload[];
  /** Types of unknown non-critical payloads that were skipped (for logs). */
  skipped: number[];
}

/** Output of {@linkcode decodeMessage}: header, cleartext payloads, sealed part. */
export interface DecodedMessage extends ReceivedMessage {
  /** The trailing SK or SKF payload, still sealed; absent for unprotected messages. */
  encrypted?: SkPayload | SkfPayload;
  /** Offset of the SK/SKF generic header in `raw`. */
  encryptedOffset?: number;
  /** The whole datagram (needed for the ICV / AAD). */
  raw: Uint8Array;
}

/**
 * The ICV did not verify, or the sealed part is too short or misaligned to
 * be checked. Unauthenticated: the engine drops the message and counts it.
 */
export class IntegrityError extends Error {
  /** Error class name. */
  override readonly name = "IntegrityError";
  /** Why, for counters and logs. */
  readonly reason: "icv-mismatch" | "too-short" | "misaligned";
  /** Builds the error; `detail` says what was wrong. */
  constructor(reason: IntegrityError["reason"], detail: string) {
    super(`integrity check failed (${reason}): ${detail}`);
    this.reason = reason;
  }
}

// ---------------------------------------------------------------------------
// Per-exchange payload rules (RFC 7296 section 1, strongSwan message.c style)
// ---------------------------------------------------------------------------

/** How often a payload type may occur in one message. */
export interface PayloadRule {
  /** Payload type the rule is about. */
  readonly type: number;
  /** Fewest occurrences. */
  readonly min: number;
  /** Most occurrences. */
  readonly max: number;
}

/** Rules for one exchange type. */
export interface ExchangeRules {
  /** Whether the payloads travel inside SK (all but IKE_SA_INIT). */
  readonly encrypted: boolean;
  /** Rules for requests. */
  readonly request: readonly PayloadRule[];
  /** Rules for responses. */
  readonly response: readonly PayloadRule[];
}

const MAX_NOTIFY = 32;
const MAX_VID = 20;
const MAX_CERT = 16;
const MAX_CERTREQ = 20;
const MAX_DELETE = 20;

const P = PayloadType;
const rule = (type: number, min: number, max: number): PayloadRule => ({ type, min, max });
const N = rule(P.NOTIFY, 0, MAX_NOTIFY);
const V = rule(P.VENDOR_ID, 0, MAX_VID);

const AUTH_PAYLOADS = [
  N,
  V,
  rule(P.CERT, 0, MAX_CERT),
  rule(P.CERTREQ, 0, MAX_CERTREQ),
  rule(P.AUTH, 0, 1),
  rule(P.EAP, 0, 1),
  rule(P.CP, 0, 1),
  rule(P.SA, 0, 1),
  rule(P.TSi, 0, 1),
  rule(P.TSr, 0, 1),
];
const INFO_PAYLOADS = [N, V, rule(P.DELETE, 0, MAX_DELETE), rule(P.CP, 0, 1)];
const CHILD_PAYLOADS = [
  N,
  V,
  rule(P.SA, 1, 1),
  rule(P.NONCE, 1, 1),
  rule(P.KE, 0, 1),
  rule(P.TSi, 0, 1),
  rule(P.TSr, 0, 1),
];

/**
 * The rule table by exchange type. Minimum counts are waived in a message
 * that carries an error notify (e.g. a NO_PROPOSAL_CHOSEN response), or a
 * COOKIE or REDIRECT notify in IKE_SA_INIT (RFC 7296 section 2.6, RFC 5685).
 * Exchange types missing here are unsupported: the engine ignores them.
 */
export const MESSAGE_RULES: ReadonlyMap<number, ExchangeRules> = new Map([
  [ExchangeType.IKE_SA_INIT, {
    encrypted: false,
    request: [N, V, rule(P.SA, 1, 1), rule(P.KE, 1, 1), rule(P.NONCE, 1, 1)],
    response: [
      N,
      V,
      rule(P.SA, 1, 1),
      rule(P.KE, 1, 1),
      rule(P.NONCE, 1, 1),
      rule(P.CERTREQ, 0, MAX_CERTREQ),
    ],
  }],
  [ExchangeType.IKE_AUTH, {
    encrypted: true,
    request: [...AUTH_PAYLOADS, rule(P.IDi, 0, 1), rule(P.IDr, 0, 1)],
    response: [...AUTH_PAYLOADS, rule(P.IDr, 0, 1)],
  }],
  [ExchangeType.CREATE_CHILD_SA, {
    encrypted: true,
    request: CHILD_PAYLOADS,
    response: CHILD_PAYLOADS,
  }],
  [ExchangeType.INFORMATIONAL, {
    encrypted: true,
    request: INFO_PAYLOADS,
    response: INFO_PAYLOADS,
  }],
  [ExchangeType.IKE_INTERMEDIATE, {
    encrypted: true,
    request: [N, V, rule(P.KE, 0, 1)],
    response: [N, V, rule(P.KE, 0, 1)],
  }],
  [ExchangeType.IKE_FOLLOWUP_KE, {
    encrypted: true,
    request: [N, rule(P.KE, 1, 1)],
    response: [N, rule(P.KE, 1, 1)],
  }],
]);

function waivesMinimum(exchangeType: number, payloads: readonly Payload[]): boolean {
  return payloads.some((p) =>
    p.type === P.NOTIFY && (
      isErrorNotify((p as NotifyPayload).notifyType) ||
      (exchangeType === ExchangeType.IKE_SA_INIT &&
        ((p as NotifyPayload).notifyType === NotifyType.COOKIE ||
          (p as NotifyPayload).notifyType === NotifyType.REDIRECT))
    )
  );
}

/**
 * Checks `payloads` against the rule table for the header's exchange type
 * and direction. Throws ParseError (INVALID_SYNTAX) naming the payload and
 * the broken rule; does nothing for exchange types without rules.
 */
export function checkPayloadRules(
  header: Pick<IkeHeader, "exchangeType" | "response">,
  payloads: readonly Payload[],
  offset = 0,
): void {
  const rules = MESSAGE_RULES.get(header.exchangeType);
  if (!rules) return;
  const list = header.response ? rules.response : rules.request;
  const what = `${exchangeName(header.exchangeType)} ${header.response ? "response" : "request"}`;
  const counts = new Map<number, number>();
  for (const p of payloads) counts.set(p.type, (counts.get(p.type) ?? 0) + 1);
  for (const [type, n] of counts) {
    const r = list.find((x) => x.type === type);
    if (!r) throw new ParseError(what, offset, `${payloadName(type)} payload not allowed`);
    if (n > r.max) {
      throw new ParseError(what, offset, `${n} ${payloadName(type)} payloads, at most ${r.max}`);
    }
  }
  if (waivesMinimum(header.exchangeType, payloads)) return;
  for (const r of list) {
    const n = counts.get(r.type) ?? 0;
    if (n < r.min) {
      throw new ParseError(what, offset, `${payloadName(r.type)} payload missing`);
    }
  }
}

// ---------------------------------------------------------------------------
// Decode / encode
// ---------------------------------------------------------------------------

/**
 * Decodes a datagram (without the RFC 3948 non-ESP marker) into header,
 * cleartext payloads and the still-sealed SK/SKF payload. Throws only
 * ParseError. Checks: header (version 2, Length = datagram size), payload
 * lengths, critical bits, SK/SKF last; IKE_SA_INIT must not be protected and
 * is checked against {@linkcode MESSAGE_RULES}; in other exchanges nothing
 * may precede SK/SKF.
 */
export function decodeMessage(bytes: Uint8Array): DecodedMessage {
  if (bytes.length > MAX_MESSAGE_LENGTH) {
    throw new ParseError("IKE message", 0, `${bytes.length} bytes > ${MAX_MESSAGE_LENGTH}`);
  }
  const r = new Reader(bytes, "IKE header");
  const header = decodeHeader(r, bytes.length);
  const chain = decodePayloadChain(r, header.nextPayload);
  const msg: DecodedMessage = {
    header,
    payloads: chain.payloads,
    skipped: chain.skipped,
    raw: bytes,
  };
  if (chain.encrypted) {
    msg.encrypted = chain.encrypted;
    msg.encryptedOffset = chain.encryptedOffset;
    if (header.exchangeType === ExchangeType.IKE_SA_INIT) {
      throw new ParseError("IKE_SA_INIT", chain.encryptedOffset ?? 0, "must not be encrypted");
    }
    if (chain.payloads.length > 0) {
      throw new ParseError(
        exchangeName(header.exchangeType),
        IKE_HEADER_LENGTH,
        `${payloadName(chain.payloads[0].type)} payload outside the encrypted payload`,
      );
    }
  } else if (header.exchangeType === ExchangeType.IKE_SA_INIT) {
    checkPayloadRules(header, chain.payloads, IKE_HEADER_LENGTH);
  }
  return msg;
}

/**
 * Encodes an unprotected message (IKE_SA_INIT, or an unprotected
 * INFORMATIONAL such as INVALID_IKE_SPI). Throws RangeError on values that
 * do not fit their fields.
 */
export function encodeMessage(msg: IkeMessage): Uint8Array {
  const w = new Writer(512);
  const first = msg.payloads.length > 0 ? msg.payloads[0].type : P.NONE;
  const lenPos = encodeHeader(w, msg.header, first);
  encodePayloadChain(w, msg.payloads, P.NONE);
  if (w.length > MAX_MESSAGE_LENGTH) {
    throw new RangeError(`message of ${w.length} bytes exceeds ${MAX_MESSAGE_LENGTH}`);
  }
  w.patch32(lenPos, w.length);
  return w.finish();
}

/** Encodes just the inner payload chain (what SK/SKF carries before padding). */
export function encodeInnerPayloads(payloads: readonly Payload[]): Uint8Array {
  const w = new Writer(512);
  encodePayloadChain(w, payloads, P.NONE);
  return w.finish();
}

// ---------------------------------------------------------------------------
// SK protection
// ---------------------------------------------------------------------------

/**
 * One direction of IKE SA protection, keyed once. `seal`/`open` work on the
 * padded plaintext; message.ts and fragment.ts frame it.
 */
export interface SkProtection {
  /**
   * "aead" (GCM, ChaCha20-Poly1305), "cbc" (AES-CBC + separate integrity) or
   * "ctr" (AES-CTR + separate integrity, RFC 5930).
   */
  readonly kind: "aead" | "cbc" | "ctr";
  /** Explicit IV bytes in each SK payload (8 AEAD and AES-CTR, 16 AES-CBC). */
  readonly ivLength: number;
  /** Alignment of (payloads + padding + Pad Length): 16 for CBC, 1 for AEAD and CTR. */
  readonly blockSize: number;
  /** ICV bytes after the ciphertext. */
  readonly icvLength: number;
  /** A fresh IV: random for CBC, a counter for AEAD and CTR (never repeats under this key). */
  nextIv(): Uint8Array;
  /**
   * Seals `padded`; `authPrefix` is the message from the IKE header to the
   * end of the SK/SKF header, with final Length fields. Returns IV||ct||ICV.
   */
  seal(authPrefix: Uint8Array, iv: Uint8Array, padded: Uint8Array): Uint8Array;
  /**
   * Verifies and decrypts IV||ct||ICV; returns the padded plaintext.
   * Throws {@linkcode IntegrityError}; never returns unverified bytes.
   */
  open(authPrefix: Uint8Array, body: Uint8Array): Uint8Array;
}

/** What {@linkcode createSkProtection} needs for one direction. */
export interface SkProtectionParams {
  /** Encryption transform id (12 AES-CBC, 13 AES-CTR, 18/19/20 AES-GCM, 28 ChaCha20-Poly1305). */
  readonly encrId: number;
  /** SK_ei or SK_er (for AEAD and AES-CTR including the salt/nonce at the end: 4 bytes, 3 for AES-CCM). */
  readonly encrKey: Uint8Array;
  /** Integrity transform id; required for CBC and CTR, absent for AEAD. */
  readonly integId?: number;
  /** SK_ai or SK_ar. */
  readonly integKey?: Uint8Array;
}

/** Options for {@linkcode createSkProtection}. */
export interface SkProtectionOptions {
  /** Crypto backend (default: the fastest available). */
  readonly backend?: SoftwareBackend;
  /** Randomness for CBC IVs and the AEAD/CTR counter start (tests inject it). */
  readonly randomBytes?: (n: number) => Uint8Array;
}

function defaultRandom(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

/** A 64-bit IV counter from a random start below 2^63: IVs never repeat under one key. */
function ivCounter(random: (n: number) => Uint8Array): () => Uint8Array {
  const seed = random(8);
  if (seed.length !== 8) throw new CryptoError(`randomBytes(8) returned ${seed.length} bytes`);
  let counter = new DataView(seed.buffer, seed.byteOffset, 8).getBigUint64(0) &
    0x7fffffffffffffffn;
  return () => {
    const iv = new Uint8Array(8);
    new DataView(iv.buffer).setBigUint64(0, counter);
    counter = (counter + 1n) & 0xffffffffffffffffn;
    return iv;
  };
}

/**
 * Keys one direction of SK protection. Throws CryptoError for transforms
 * not usable for IKE (NULL) or wrong key lengths.
 */
export function createSkProtection(
  params: SkProtectionParams,
  opts: SkProtectionOptions = {},
): SkProtection {
  const info = encrInfo(params.encrId);
  if (!info || !info.ike) {
    throw new CryptoError(`encryption transform ${params.encrId} cannot protect IKE messages`);
  }
  const random = opts.randomBytes ?? defaultRandom;
  if (info.kind === "aead") {
    const keyLen = params.encrKey.length - info.saltLength;
    const key = params.encrKey.subarray(0, keyLen);
    const salt = params.encrKey.subarray(keyLen); // read only: no buffer of its own
    const alg = aeadAlgorithm(params.encrId);
    if (!alg) throw new CryptoError(`${info.name} is not a known AEAD`);
    const aead = createAead(alg, key, info.icvLength, opts.backend);
    // RFC 5282 needs AEAD IVs that never repeat under a key: a 64-bit counter from a random start.
    const nextIv = ivCounter(random);
    const nonce = (iv: Uint8Array) => concat(salt, iv);
    return {
      kind: "aead",
      ivLength: 8,
      blockSize: 1,
      icvLength: info.icvLength,
      nextIv,
      seal(authPrefix, iv, padded) {
        return concat(iv, aead.seal(nonce(iv), padded, authPrefix));
      },
      open(authPrefix, body) {
        if (body.length < 8 + info.icvLength) {
          throw new IntegrityError("too-short", `${body.length} sealed bytes`);
        }
        const out = aead.open(nonce(body.subarray(0, 8)), body.subarray(8), authPrefix);
        if (out === null) throw new IntegrityError("icv-mismatch", "AEAD tag did not verify");
        return out;
      },
    };
  }
  if (info.kind !== "cbc" && info.kind !== "ctr") {
    throw new CryptoError(`${info.name} is not supported for IKE SA protection`);
  }
  if (params.integId === undefined || params.integKey === undefined) {
    throw new CryptoError(`${info.name} needs an integrity transform and key`);
  }
  const alg = blockCipherAlgorithm(params.encrId);
  if (!alg) throw new CryptoError(`${info.name} is not supported for IKE SA protection`);
  if (info.kind === "ctr") {
    return ctrProtection(params, alg, params.integId, params.integKey, opts);
  }
  const cipher = createBlockCipher(alg, params.encrKey, opts.backend);
  const integ = createIntegMac(params.integId, params.integKey, opts.backend);
  const bs = cipher.blockSize;
  return {
    kind: "cbc",
    ivLength: cipher.ivLength,
    blockSize: bs,
    icvLength: integ.icvLength,
    nextIv: () => random(cipher.ivLength),
    seal(authPrefix, iv, padded) {
      const ct = cipher.encrypt(iv, padded);
      const icv = integ.mac.compute(authPrefix, iv, ct).subarray(0, integ.icvLength);
      return concat(iv, ct, icv);
    },
    open(authPrefix, body) {
      const ctLen = body.length - cipher.ivLength - integ.icvLength;
      if (ctLen < bs) throw new IntegrityError("too-short", `${body.length} sealed bytes`);
      if (ctLen % bs !== 0) {
        throw new IntegrityError("misaligned", `ciphertext of ${ctLen} bytes`);
      }
      const signed = body.subarray(0, body.length - integ.icvLength);
      const icv = body.subarray(body.length - integ.icvLength);
      const want = integ.mac.compute(authPrefix, signed).subarray(0, integ.icvLength);
      if (!constantTimeEqual(want, icv)) {
        throw new IntegrityError("icv-mismatch", "integrity checksum did not verify");
      }
      return cipher.decrypt(body.subarray(0, cipher.ivLength), signed.subarray(cipher.ivLength));
    },
  };
}

/**
 * AES-CTR SK protection (RFC 5930; Camellia-CTR likewise, RFC 5529): SK_e is key || 4-byte nonce, each SK
 * payload carries an 8-byte IV (a counter here, RFC 5930 section 2 only asks
 * that it never repeat under a key), the keystream starts at the counter
 * block nonce || IV || 00000001 (RFC 3686 section 4), no padding is needed
 * (block size 1), and the ICV covers the message up to the end of the
 * ciphertext as with AES-CBC.
 */
function ctrProtection(
  params: SkProtectionParams,
  alg: BlockCipherAlgorithm,
  integId: number,
  integKey: Uint8Array,
  opts: SkProtectionOptions,
): SkProtection {
  const keyLen = params.encrKey.length - 4;
  if (keyLen <= 0) throw new CryptoError(`${alg} key of ${params.encrKey.length} bytes`);
  const cipher = createBlockCipher(alg, params.encrKey.subarray(0, keyLen), opts.backend);
  const counterBlock = new Uint8Array(16);
  counterBlock.set(params.encrKey.subarray(keyLen), 0);
  counterBlock[15] = 1;
  const block = (iv: Uint8Array) => {
    counterBlock.set(iv, 4);
    return counterBlock;
  };
  const integ = createIntegMac(integId, integKey, opts.backend);
  const icvLen = integ.icvLength;
  return {
    kind: "ctr",
    ivLength: 8,
    blockSize: 1,
    icvLength: icvLen,
    nextIv: ivCounter(opts.randomBytes ?? defaultRandom),
    seal(authPrefix, iv, padded) {
      if (iv.length !== 8) throw new CryptoError(`AES-CTR IV must be 8 bytes, got ${iv.length}`);
      const ct = cipher.encrypt(block(iv), padded);
      const icv = integ.mac.compute(authPrefix, iv, ct).subarray(0, icvLen);
      return concat(iv, ct, icv);
    },
    open(authPrefix, body) {
      if (body.length < 8 + 1 + icvLen) {
        throw new IntegrityError("too-short", `${body.length} sealed bytes`);
      }
      const signed = body.subarray(0, body.length - icvLen);
      const want = integ.mac.compute(authPrefix, signed).subarray(0, icvLen);
      if (!constantTimeEqual(want, body.subarray(body.length - icvLen))) {
        throw new IntegrityError("icv-mismatch", "integrity checksum did not verify");
      }
      return cipher.decrypt(block(body.subarray(0, 8)), signed.subarray(8));
    },
  };
}

/** Both directions of an IKE SA's protection. */
export interface IkeSaProtection {
  /** Seals what we send. */
  readonly outbound: SkProtection;
  /** Opens what the peer sends. */
  readonly inbound: SkProtection;
}

/**
 * Keys both directions from the negotiated suite and SK_* keys: the original
 * initiator sends with SK_ei/SK_ai and receives with SK_er/SK_ar.
 */
export function ikeSaProtection(
  suite: KeySuite,
  keys: IkeSaKeys,
  weAreInitiator: boolean,
  opts: SkProtectionOptions = {},
): IkeSaProtection {
  const integId = suite.integId ? suite.integId : undefined;
  const i = createSkProtection(
    { encrId: suite.encrId, encrKey: keys.skEi, integId, integKey: keys.skAi },
    opts,
  );
  const r = createSkProtection(
    { encrId: suite.encrId, encrKey: keys.skEr, integId, integKey: keys.skAr },
    opts,
  );
  return weAreInitiator ? { outbound: i, inbound: r } : { outbound: r, inbound: i };
}

/** Padded plaintext: payloads || zero padding || Pad Length, aligned to `blockSize`. */
export function padPlaintext(inner: Uint8Array, blockSize: number): Uint8Array {
  const padLen = (blockSize - ((inner.length + 1) % blockSize)) % blockSize;
  const out = new Uint8Array(inner.length + padLen + 1);
  out.set(inner);
  out[out.length - 1] = padLen;
  return out;
}

/** Bytes of the sealed body (IV||ct||ICV) for `innerLength` plaintext bytes. */
export function sealedLength(prot: SkProtection, innerLength: number): number {
  const padded = Math.ceil((innerLength + 1) / prot.blockSize) * prot.blockSize;
  return prot.ivLength + padded + prot.icvLength;
}

/**
 * Writes header + SK or SKF header for a protected message and seals
 * `inner` into it. Used by {@linkcode encryptMessage} and fragment.ts.
 */
export function sealProtected(
  header: IkeHeaderInit,
  prot: SkProtection,
  inner: Uint8Array,
  innerNextPayload: number,
  fragment?: { number: number; total: number },
): Uint8Array {
  const skHeaderLen = fragment ? 8 : 4;
  const bodyLen = sealedLength(prot, inner.length);
  const total = IKE_HEADER_LENGTH + skHeaderLen + bodyLen;
  if (total > MAX_MESSAGE_LENGTH) {
    throw new RangeError(`protected message of ${total} bytes is too long: fragment it`);
  }
  const w = new Writer(total);
  const lenPos = encodeHeader(w, header, fragment ? P.SKF : P.SK);
  w.patch32(lenPos, total);
  w.u8(innerNextPayload).u8(0).u16(skHeaderLen + bodyLen);
  if (fragment) w.u16(fragment.number).u16(fragment.total);
  const prefix = w.finish();
  const body = prot.seal(prefix, prot.nextIv(), padPlaintext(inner, prot.blockSize));
  return concat(prefix, body);
}

/**
 * Encodes `msg` as IKE header + SK{payloads}, sealed with `outbound`.
 * Throws RangeError if it does not fit (use fragment.ts for large messages).
 */
export function encryptMessage(msg: IkeMessage, outbound: SkProtection): Uint8Array {
  const inner = encodeInnerPayloads(msg.payloads);
  const first = msg.payloads.length > 0 ? msg.payloads[0].type : P.NONE;
  return sealProtected(msg.header, outbound, inner, first);
}

/**
 * Verifies and decrypts the sealed SK/SKF payload of `d` and returns the
 * plaintext payload bytes (padding removed). Throws IntegrityError before
 * returning anything unverified; ParseError on bad padding.
 */
export function openProtected(d: DecodedMessage, inbound: SkProtection): Uint8Array {
  const enc = d.encrypted;
  if (!enc || d.encryptedOffset === undefined) {
    throw new ParseError(exchangeName(d.header.exchangeType), 0, "message is not encrypted");
  }
  const skHeaderLen = enc.type === P.SKF ? 8 : 4;
  const prefixEnd = d.encryptedOffset + skHeaderLen;
  const padded = inbound.open(d.raw.subarray(0, prefixEnd), enc.data);
  const padLen = padded.length > 0 ? padded[padded.length - 1] : 0;
  if (padded.length === 0 || padLen + 1 > padded.length) {
    throw new ParseError(
      `${payloadName(enc.type)} payload`,
      prefixEnd,
      `Pad Length ${padLen} exceeds the ${padded.length} decrypted bytes`,
    );
  }
  return padded.subarray(0, padded.length - padLen - 1);
}

/**
 * Parses decrypted inner payload bytes starting with `first`, then checks
 * the exchange rules. `offset` positions errors (offset of the plaintext).
 */
export function decodeInnerPayloads(
  header: IkeHeader,
  plaintext: Uint8Array,
  first: number,
  offset = 0,
): ReceivedMessage {
  const chain = decodePayloadChain(
    new Reader(plaintext, "encrypted payloads", offset),
    first,
    false,
  );
  checkPayloadRules(header, chain.payloads, offset);
  return { header, payloads: chain.payloads, skipped: chain.skipped };
}

/**
 * Verifies, decrypts and parses the SK payload of a decoded message, then
 * checks the exchange rules. Throws {@linkcode IntegrityError} (drop
 * silently) or ParseError (authenticated but malformed).
 */
export function decryptMessage(d: DecodedMessage, inbound: SkProtection): ReceivedMessage {
  if (d.encrypted?.type !== P.SK) {
    throw new ParseError(
      exchangeName(d.header.exchangeType),
      d.encryptedOffset ?? 0,
      d.encrypted ? "an SKF fragment: use FragmentReassembler" : "message has no SK payload",
    );
  }
  const plain = openProtected(d, inbound);
  const offset = (d.encryptedOffset ?? 0) + 4 + inbound.ivLength;
  return decodeInnerPayloads(d.header, plain, d.encrypted.innerNextPayload, offset);
}

// ---------------------------------------------------------------------------
// One-line summaries for logs
// ---------------------------------------------------------------------------

const CP_TYPE_SHORT: ReadonlyMap<number, string> = new Map([
  [CfgType.CFG_REQUEST, "CPRQ"],
  [CfgType.CFG_REPLY, "CPRP"],
  [CfgType.CFG_SET, "CPS"],
  [CfgType.CFG_ACK, "CPA"],
]);
const CP_ATTR_SHORT: ReadonlyMap<number, string> = new Map([
  [1, "ADDR"],
  [2, "MASK"],
  [3, "DNS"],
  [4, "NBNS"],
  [6, "DHCP"],
  [7, "VER"],
  [8, "ADDR6"],
  [10, "DNS6"],
  [12, "DHCP6"],
  [13, "SUBNET"],
  [14, "SUP"],
  [15, "SUBNET6"],
]);

/** EAP types by number as charon prints them (RFC 3748 and the IANA registry). */
const EAP_TYPE_SHORT = new Map<number, string>([
  [1, "ID"],
  [2, "NTF"],
  [3, "NAK"],
  [4, "MD5"],
  [6, "GTC"],
  [13, "TLS"],
  [18, "SIM"],
  [21, "TTLS"],
  [23, "AKA"],
  [25, "PEAP"],
  [26, "MSCHAPV2"],
  [254, "EXPANDED"],
]);

/** `EAP/REQ/MSCHAPV2`, `EAP/SUCC`: code and type of an EAP message, as charon logs them. */
function describeEap(data: Uint8Array): string {
  const code = ["", "REQ", "RES", "SUCC", "FAIL"][data[0]] ?? `CODE${data[0]}`;
  if (data.length < 5 || data[0] > 2) return `EAP/${code}`;
  return `EAP/${code}/${EAP_TYPE_SHORT.get(data[4]) ?? String(data[4])}`;
}

function describePayload(p: Payload): string {
  switch (p.type) {
    case P.EAP:
      return describeEap(p.data);
    case P.NOTIFY:
      return `N(${notifyShortName(p.notifyType)})`;
    case P.CP: {
      const attrs = p.attributes.map((a) => CP_ATTR_SHORT.get(a.type) ?? String(a.type));
      return `${CP_TYPE_SHORT.get(p.cfgType) ?? "CP"}(${attrs.join(" ")})`;
    }
    default:
      return payloadShortName(p.type);
  }
}

/**
 * A strongSwan-style one-line summary, e.g.
 * `IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) ]`; a still
 * sealed fragment shows as `EF(2/3)`, a sealed SK payload as `E`.
 */
export function describeMessage(
  header: Pick<IkeHeader, "exchangeType" | "response" | "messageId">,
  payloads: readonly Payload[],
  encrypted?: SkPayload | SkfPayload,
): string {
  const parts = payloads.map(describePayload);
  if (encrypted?.type === P.SKF) {
    parts.push(`EF(${encrypted.fragmentNumber}/${encrypted.totalFragments})`);
  } else if (encrypted) parts.push("E");
  const dir = header.response ? "response" : "request";
  const list = parts.length > 0 ? `[ ${parts.join(" ")} ]` : "[ ]";
  return `${exchangeName(header.exchangeType)} ${dir} ${header.messageId} ${list}`;
}
