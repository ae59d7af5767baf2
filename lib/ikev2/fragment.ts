/**
 * IKEv2 message fragmentation (RFC 7383): split a protected message into
 * independently sealed SKF fragments, and reassemble received ones with
 * limits.
 *
 * Sending: {@linkcode fragmentMessage} encodes the inner payloads once,
 * cuts them into chunks so that every fragment datagram fits
 * `maxMessageBytes` (IKE header + SKF payload; IP/UDP/non-ESP marker not
 * included), and seals each chunk with its own IV (section 2.5). Fragment 1
 * carries the first inner payload type, the others Next Payload 0.
 *
 * Receiving: one {@linkcode FragmentReassembler} per IKE SA. Each fragment's
 * ICV is verified before it is stored (section 2.6.2). Duplicates, and
 * fragments whose exchange type differs from the ones stored, are dropped; a fragment with a larger Total Fragments than the stored ones
 * restarts reassembly (the peer re-fragmented to a smaller size), a smaller
 * one is dropped. Limits: fragments per message, total bytes, and an age
 * measured with the caller's `now`.
 *
 * @example
 * ```ts
 * const datagrams = fragmentMessage(msg, prot.outbound, 1280 - 48);
 *
 * const reasm = new FragmentReassembler();
 * const d = decodeMessage(datagram);
 * if (d.encrypted?.type === PayloadType.SKF) {
 *   const r = reasm.add(d, prot.inbound, nowMs);
 *   if (r.status === "complete") handle(r.message);
 *   else if (r.status === "dropped") counters[r.reason]++;
 * }
 * ```
 *
 * @module
 */
import { concat } from "../wire/bytes.ts";
import { ParseError } from "../wire/parse_error.ts";
import { IKE_HEADER_LENGTH, PayloadType } from "./constants.ts";
import type { IkeHeader } from "./header.ts";
import {
  type DecodedMessage,
  decodeInnerPayloads,
  encodeInnerPayloads,
  type IkeMessage,
  IntegrityError,
  openProtected,
  type ReceivedMessage,
  sealProtected,
  type SkProtection,
} from "./message.ts";

/** Length of the SKF payload header: generic header + Fragment Number + Total Fragments. */
export const SKF_HEADER_LENGTH = 8;
/** Smallest maxMessageBytes accepted (RFC 7383 section 2.5.1 suggests 576/1280-byte packets). */
export const MIN_FRAGMENT_MESSAGE_BYTES = 128;

/**
 * Largest plaintext chunk that fits a fragment of `maxMessageBytes`
 * (header, SKF header, IV, padding to the block size with Pad Length, ICV).
 */
export function fragmentCapacity(prot: SkProtection, maxMessageBytes: number): number {
  const room = maxMessageBytes - IKE_HEADER_LENGTH - SKF_HEADER_LENGTH - prot.ivLength -
    prot.icvLength;
  const aligned = Math.floor(room / prot.blockSize) * prot.blockSize;
  return aligned - 1; // Pad Length byte
}

/**
 * Splits `msg` into SKF fragment datagrams of at most `maxMessageBytes`
 * each (RFC 7383 section 2.5). Throws RangeError if `maxMessageBytes` is
 * below {@linkcode MIN_FRAGMENT_MESSAGE_BYTES} or more than 65535 fragments
 * would be needed.
 */
export function fragmentMessage(
  msg: IkeMessage,
  outbound: SkProtection,
  maxMessageBytes: number,
): Uint8Array[] {
  if (maxMessageBytes < MIN_FRAGMENT_MESSAGE_BYTES) {
    throw new RangeError(`fragment size ${maxMessageBytes} < ${MIN_FRAGMENT_MESSAGE_BYTES}`);
  }
  const inner = encodeInnerPayloads(msg.payloads);
  const cap = fragmentCapacity(outbound, Math.min(maxMessageBytes, 0xffff));
  const total = Math.max(1, Math.ceil(inner.length / cap));
  if (total > 0xffff) throw new RangeError(`${total} fragments needed, at most 65535`);
  const first = msg.payloads.length > 0 ? msg.payloads[0].type : PayloadType.NONE;
  const out: Uint8Array[] = [];
  for (let i = 0; i < total; i++) {
    const chunk = inner.subarray(i * cap, Math.min(inner.length, (i + 1) * cap));
    out.push(
      sealProtected(msg.header, outbound, chunk, i === 0 ? first : PayloadType.NONE, {
        number: i + 1,
        total,
      }),
    );
  }
  return out;
}

/** Limits of a {@linkcode FragmentReassembler}. */
export interface ReassemblyLimits {
  /** Most fragments accepted for one message (Total Fragments above this: dropped). */
  readonly maxFragments: number;
  /** Most plaintext bytes held for one message. */
  readonly maxBytes: number;
  /** A partial message older than this (ms since its first fragment) is discarded. */
  readonly timeoutMs: number;
  /** Most messages reassembled at once (one per direction is normal). */
  readonly maxMessages: number;
}

/** Defaults: 64 fragments, 65535 plaintext bytes (the largest unfragmented message), 30 s. */
export const DEFAULT_REASSEMBLY_LIMITS: ReassemblyLimits = {
  maxFragments: 64,
  maxBytes: 65535,
  timeoutMs: 30_000,
  maxMessages: 2,
};

/** Why a fragment was dropped (for counters). */
export type FragmentDropReason =
  | "integrity"
  | "malformed"
  | "duplicate"
  | "inconsistent"
  | "stale-total"
  | "too-many-fragments"
  | "too-large"
  | "not-a-fragment";

/** Result of {@linkcode FragmentReassembler.add}. */
export type FragmentResult =
  | { readonly status: "incomplete"; readonly received: number; readonly total: number }
  /** `message.header` is fragment 1's header (its Length is that fragment's). */
  | { readonly status: "complete"; readonly message: ReceivedMessage }
  | { readonly status: "dropped"; readonly reason: FragmentDropReason; readonly detail: string }
  /** The reassembled message is authentic but malformed: the engine may answer INVALID_SYNTAX. */
  | { readonly status: "invalid"; readonly error: ParseError; readonly header: IkeHeader };

interface PartialMessage {
  readonly key: string;
  readonly startedMs: number;
  readonly exchangeType: number;
  total: number;
  bytes: number;
  firstNext: number;
  header: IkeHeader | undefined;
  readonly chunks: Map<number, Uint8Array>;
}

/**
 * Collects SKF fragments of one IKE SA into whole messages. Pure apart from
 * its own state; time comes from the caller.
 */
export class FragmentReassembler {
  readonly #limits: ReassemblyLimits;
  readonly #partials = new Map<string, PartialMessage>();

  /** A reassembler with the given limits (defaults: {@linkcode DEFAULT_REASSEMBLY_LIMITS}). */
  constructor(limits: Partial<ReassemblyLimits> = {}) {
    this.#limits = { ...DEFAULT_REASSEMBLY_LIMITS, ...limits };
  }

  /** Messages currently being reassembled. */
  get pending(): number {
    return this.#partials.size;
  }

  /** Drops partial messages older than the timeout; returns how many. */
  expire(nowMs: number): number {
    let n = 0;
    for (const [k, p] of this.#partials) {
      if (nowMs - p.startedMs >= this.#limits.timeoutMs) {
        this.#partials.delete(k);
        n++;
      }
    }
    return n;
  }

  /** Forgets a message (e.g. once its exchange is complete). */
  forget(messageId: number, response: boolean): void {
    this.#partials.delete(`${response ? "r" : "q"}${messageId}`);
  }

  /**
   * Verifies one decoded SKF datagram and stores it; returns the whole
   * message once all fragments are in. Never throws.
   */
  add(d: DecodedMessage, inbound: SkProtection, nowMs: number): FragmentResult {
    this.expire(nowMs);
    const f = d.encrypted;
    if (f?.type !== PayloadType.SKF) {
      return { status: "dropped", reason: "not-a-fragment", detail: "no SKF payload" };
    }
    if (f.totalFragments > this.#limits.maxFragments) {
      return {
        status: "dropped",
        reason: "too-many-fragments",
        detail: `Total Fragments ${f.totalFragments} > ${this.#limits.maxFragments}`,
      };
    }
    const key = `${d.header.response ? "r" : "q"}${d.header.messageId}`;
    let p = this.#partials.get(key);
    if (p && f.totalFragments < p.total) {
      return {
        status: "dropped",
        reason: "stale-total",
        detail: `Total Fragments ${f.totalFragments} < ${p.total} already seen`,
      };
    }
    if (p && p.exchangeType !== d.header.exchangeType) {
      return {
        status: "dropped",
        reason: "inconsistent",
        detail: `fragment of exchange ${d.header.exchangeType}, earlier ones ${p.exchangeType}`,
      };
    }
    if (p && p.chunks.has(f.fragmentNumber) && f.totalFragments === p.total) {
      return {
        status: "dropped",
        reason: "duplicate",
        detail: `fragment ${f.fragmentNumber} already received`,
      };
    }
    let chunk: Uint8Array;
    try {
      chunk = openProtected(d, inbound);
    } catch (e) {
      if (e instanceof IntegrityError) {
        return { status: "dropped", reason: "integrity", detail: e.message };
      }
      if (e instanceof ParseError) {
        return { status: "dropped", reason: "malformed", detail: e.message };
      }
      throw e;
    }
    if (p && f.totalFragments > p.total) {
      // RFC 7383 section 2.6.2: the peer re-fragmented; start over.
      this.#partials.delete(key);
      p = undefined;
    }
    if (!p) {
      if (this.#partials.size >= this.#limits.maxMessages) {
        const oldest = [...this.#partials.values()].sort((a, b) => a.startedMs - b.startedMs)[0];
        this.#partials.delete(oldest.key);
      }
      p = {
        key,
        startedMs: nowMs,
        exchangeType: d.header.exchangeType,
        total: f.totalFragments,
        bytes: 0,
        firstNext: PayloadType.NONE,
        header: undefined,
        chunks: new Map(),
      };
      this.#partials.set(key, p);
    }
    if (p.bytes + chunk.length > this.#limits.maxBytes) {
      this.#partials.delete(key);
      return {
        status: "dropped",
        reason: "too-large",
        detail: `reassembled message would exceed ${this.#limits.maxBytes} bytes`,
      };
    }
    p.chunks.set(f.fragmentNumber, chunk.slice());
    p.bytes += chunk.length;
    if (f.fragmentNumber === 1) {
      p.firstNext = f.innerNextPayload;
      p.header = d.header;
    }
    if (p.chunks.size < p.total) {
      return { status: "incomplete", received: p.chunks.size, total: p.total };
    }
    this.#partials.delete(key);
    const parts: Uint8Array[] = [];
    for (let i = 1; i <= p.total; i++) parts.push(p.chunks.get(i) as Uint8Array);
    const header = { ...(p.header ?? d.header), nextPayload: PayloadType.SK };
    try {
      return {
        status: "complete",
        message: decodeInnerPayloads(header, concat(...parts), p.firstNext),
      };
    } catch (e) {
      if (e instanceof ParseError) return { status: "invalid", error: e, header };
      throw e;
    }
  }
}
