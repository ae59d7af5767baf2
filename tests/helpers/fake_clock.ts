/**
 * A fake clock for sans-I/O tests: time only moves when the test says so, and
 * one-shot timers (as the engine's setTimer/cancelTimer effects describe them)
 * fire in deadline order.
 *
 * @example
 * ```ts
 * const clock = new FakeClock(0);
 * clock.set("a", "rt-1", 4000);
 * clock.nextDeadline(); // 4000
 * clock.advance(4000);
 * clock.takeDue(); // [{ owner: "a", id: "rt-1", at: 4000 }]
 * ```
 *
 * @module
 */

/** A pending timer. */
export interface FakeTimer {
  /** Who armed it (a peer name). */
  readonly owner: string;
  readonly id: string;
  /** Absolute deadline in ms. */
  readonly at: number;
}

/** Manual clock with a timer table keyed by (owner, id). */
export class FakeClock {
  /** Current time in ms. */
  now: number;
  #timers = new Map<string, FakeTimer>();
  #seq = 0;
  #order = new Map<string, number>();

  constructor(start = 0) {
    this.now = start;
  }

  /** Arms (or re-arms) a one-shot timer. */
  set(owner: string, id: string, at: number): void {
    const k = `${owner}\u0000${id}`;
    this.#timers.set(k, { owner, id, at });
    this.#order.set(k, this.#seq++);
  }

  /** Disarms a timer; unknown ids are ignored. */
  cancel(owner: string, id: string): void {
    const k = `${owner}\u0000${id}`;
    this.#timers.delete(k);
    this.#order.delete(k);
  }

  /** Whether (owner, id) is armed. */
  has(owner: string, id: string): boolean {
    return this.#timers.has(`${owner}\u0000${id}`);
  }

  /** Armed timers of `owner` (or all). */
  pending(owner?: string): FakeTimer[] {
    return [...this.#timers.values()].filter((t) => owner === undefined || t.owner === owner);
  }

  /** Earliest deadline, or undefined when no timer is armed. */
  nextDeadline(): number | undefined {
    let best: number | undefined;
    for (const t of this.#timers.values()) if (best === undefined || t.at < best) best = t.at;
    return best;
  }

  /** Moves time forward by `ms` (never backwards). */
  advance(ms: number): void {
    if (ms < 0) throw new RangeError("time never goes backwards");
    this.now += ms;
  }

  /** Moves time to `t` if it is later than now. */
  advanceTo(t: number): void {
    if (t > this.now) this.now = t;
  }

  /** Removes and returns the timers due at the current time, earliest first. */
  takeDue(): FakeTimer[] {
    const due: [string, FakeTimer][] = [];
    for (const [k, t] of this.#timers) if (t.at <= this.now) due.push([k, t]);
    due.sort((a, b) =>
      a[1].at - b[1].at || (this.#order.get(a[0]) ?? 0) - (this.#order.get(b[0]) ?? 0)
    );
    for (const [k] of due) {
      this.#timers.delete(k);
      this.#order.delete(k);
    }
    return due.map(([, t]) => t);
  }
}
