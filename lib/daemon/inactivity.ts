/**
 * strongSwan's `inactivity` for child SAs: a child SA whose packet counters
 * (both directions) have not moved for its limit is idle. Pure: the daemon
 * feeds it the counters it reads each second and closes what comes back.
 *
 * @module
 */

/** One installed child SA with an `inactivity` limit, as seen at a check. */
export interface InactivitySample {
  readonly childSaId: number;
  /** The `inactivity` limit in milliseconds. */
  readonly limitMs: number;
  /** Packets of its inbound and outbound SAs together. */
  readonly packets: bigint;
}

/**
 * Tracks when each child SA's packet total last moved.
 *
 * @example
 * ```ts
 * const t = new InactivityTracker();
 * t.check([{ childSaId: 1, limitMs: 60_000, packets: 5n }], 0); // []
 * t.check([{ childSaId: 1, limitMs: 60_000, packets: 5n }], 60_000); // [1]
 * ```
 */
export class InactivityTracker {
  readonly #seen = new Map<number, { packets: bigint; since: number }>();

  /**
   * One check at `now` over the child SAs that are up: returns those whose
   * total has not changed for at least their limit, each once. Child SAs
   * missing from `samples` are forgotten; one seen for the first time
   * starts its clock now.
   */
  check(samples: readonly InactivitySample[], now: number): number[] {
    const idle: number[] = [];
    const live = new Set<number>();
    for (const s of samples) {
      live.add(s.childSaId);
      const seen = this.#seen.get(s.childSaId);
      if (!seen || seen.packets !== s.packets) {
        this.#seen.set(s.childSaId, { packets: s.packets, since: now });
      } else if (now - seen.since >= s.limitMs) {
        idle.push(s.childSaId);
        seen.since = Number.POSITIVE_INFINITY; // reported; closing it is the caller's
      }
    }
    for (const id of [...this.#seen.keys()]) if (!live.has(id)) this.#seen.delete(id);
    return idle;
  }
}
