/**
 * The exchange manager's bookkeeping for one IKE SA (RFC 7296 section 2.1,
 * 2.2): message ids in both directions, the one outstanding request we sent
 * (window size 1) with its retransmission schedule, and the last response we
 * sent so a retransmitted request is answered from the cache instead of being
 * processed again. It works on encoded bytes only; it knows nothing of tasks.
 *
 * ```
 *   our requests:   nextMid ──► [outstanding mid, packets, tries, deadline]
 *                   response with mid == outstanding.mid ─► accepted, nextMid++
 *                   any other response                   ─► dropped (counted)
 *   peer requests:  mid == expectedMid     ─► "new"  (process, then storeResponse)
 *                   mid == expectedMid - 1 ─► "retransmit" (resend cached response)
 *                   anything else          ─► "invalid" (dropped, counted)
 * ```
 *
 * @example
 * ```ts
 * const x = new ExchangeWindow({ timeoutMs: 4000, base: 1.8, tries: 5 });
 * const mid = x.nextMid;
 * const deadline = x.startRequest(mid, 35, [bytes], now); // arm timer at deadline
 * // later, on timer: x.onRetransmitTimer(now) -> { packets, deadline } or "give-up"
 * ```
 *
 * @module
 */

/** Retransmission policy (strongSwan's charon.retransmit_* settings). */
export interface RetransmitPolicy {
  /** First timeout in ms (default 4000). */
  readonly timeoutMs: number;
  /** Back-off base: the n-th retransmission waits timeoutMs * base^n (default 1.8). */
  readonly base: number;
  /** Retransmissions before giving up (default 5). */
  readonly tries: number;
  /** Upper bound for one timeout in ms (0 = none). */
  readonly maxTimeoutMs?: number;
}

/** strongSwan's defaults: 4 s, base 1.8, 5 retransmissions (gives up after ~165 s). */
export const DEFAULT_RETRANSMIT: RetransmitPolicy = { timeoutMs: 4000, base: 1.8, tries: 5 };

/** The request we sent and wait a response for. */
export interface OutstandingRequest {
  readonly mid: number;
  readonly exchange: number;
  /** Datagrams of the request (several when fragmented). */
  readonly packets: readonly Uint8Array[];
  /** Retransmissions done so far. */
  retransmits: number;
  /** When the current wait ends (ms). */
  deadline: number;
}

/** How a received request relates to our responder window. */
export type RequestClass = "new" | "retransmit" | "invalid";

/** Counters kept by an {@link ExchangeWindow}. */
export interface ExchangeCounters {
  retransmitsSent: number;
  duplicateRequests: number;
  unexpectedResponses: number;
  invalidRequestMids: number;
}

/** Message id and retransmission state of one IKE SA. */
export class ExchangeWindow {
  readonly policy: RetransmitPolicy;
  /** Message id our next request gets. */
  nextMid = 0;
  /** Message id we expect in the peer's next request. */
  expectedMid = 0;
  /** Our request awaiting a response, if any. */
  outstanding: OutstandingRequest | undefined;
  /** The last response we sent (for retransmitted requests). */
  lastResponse: { mid: number; packets: readonly Uint8Array[] } | undefined;
  readonly counters: ExchangeCounters = {
    retransmitsSent: 0,
    duplicateRequests: 0,
    unexpectedResponses: 0,
    invalidRequestMids: 0,
  };

  constructor(policy: RetransmitPolicy = DEFAULT_RETRANSMIT) {
    this.policy = policy;
  }

  /** True while a request is outstanding (window size 1: no new request may start). */
  get busy(): boolean {
    return this.outstanding !== undefined;
  }

  /** Timeout before retransmission number `n` (0 = wait after the first send). */
  timeoutFor(n: number): number {
    const t = this.policy.timeoutMs * Math.pow(this.policy.base, n);
    const max = this.policy.maxTimeoutMs ?? 0;
    return Math.round(max > 0 ? Math.min(t, max) : t);
  }

  /**
   * Records a request just sent with message id `mid`; returns the deadline
   * at which the retransmit timer must fire.
   */
  startRequest(mid: number, exchange: number, packets: readonly Uint8Array[], now: number): number {
    if (this.outstanding) throw new Error(`request ${this.outstanding.mid} still outstanding`);
    if (mid !== this.nextMid) throw new Error(`request mid ${mid} != next ${this.nextMid}`);
    const deadline = now + this.timeoutFor(0);
    this.outstanding = { mid, exchange, packets, retransmits: 0, deadline };
    return deadline;
  }

  /**
   * The retransmit timer fired: returns the packets to send again and the
   * next deadline, or "give-up" when all tries are used (the caller then
   * deletes the IKE SA), or undefined when nothing is outstanding.
   */
  onRetransmitTimer(
    now: number,
  ): { packets: readonly Uint8Array[]; deadline: number } | "give-up" | undefined {
    const o = this.outstanding;
    if (!o) return undefined;
    if (o.retransmits >= this.policy.tries) return "give-up";
    o.retransmits++;
    o.deadline = now + this.timeoutFor(o.retransmits);
    this.counters.retransmitsSent++;
    return { packets: o.packets, deadline: o.deadline };
  }

  /**
   * Starts the retries of the outstanding request over (MOBIKE sent it to
   * another address pair); returns the new deadline, or undefined.
   */
  restartRetransmits(now: number): number | undefined {
    const o = this.outstanding;
    if (!o) return undefined;
    o.retransmits = 0;
    o.deadline = now + this.timeoutFor(0);
    return o.deadline;
  }

  /**
   * Strict response matching: true only for a response to the outstanding
   * request. Anything else is counted and must be dropped.
   */
  matchResponse(mid: number): boolean {
    if (this.outstanding && this.outstanding.mid === mid) return true;
    this.counters.unexpectedResponses++;
    return false;
  }

  /** The outstanding request is answered: the next request uses the next id. */
  completeRequest(): void {
    if (!this.outstanding) return;
    this.outstanding = undefined;
    this.nextMid++;
  }

  /**
   * Forgets the outstanding request without advancing the id (IKE_SA_INIT
   * retried with a COOKIE or another KE group reuses message id 0).
   */
  abortRequest(): void {
    this.outstanding = undefined;
  }

  /** Classifies a received request by its message id. */
  classifyRequest(mid: number): RequestClass {
    if (mid === this.expectedMid) return "new";
    if (this.lastResponse && mid === this.lastResponse.mid) {
      this.counters.duplicateRequests++;
      return "retransmit";
    }
    this.counters.invalidRequestMids++;
    return "invalid";
  }

  /** Caches the response to request `mid` and advances the expected id. */
  storeResponse(mid: number, packets: readonly Uint8Array[]): void {
    this.lastResponse = { mid, packets };
    if (mid === this.expectedMid) this.expectedMid++;
  }
}
