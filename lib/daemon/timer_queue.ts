/**
 * Named one-shot timers behind a single real timer: the daemon arms a few
 * engine timers per IKE SA (rekey, expiry, ...), and a `setTimeout` each
 * costs about 2 KB of memory (its Timeout, timer list and closures, ~0.9 KB
 * of them V8 heap), more than the rest of an IKE SA's timer state together.
 * Here a timer is one Map entry and one entry in a binary min-heap, and only
 * the earliest deadline has a `setTimeout`.
 *
 * Deadlines are real (monotonic) time, `delayMs` from when the timer is set,
 * as with `setTimeout`; timers with equal deadlines fire in the order they
 * were set.
 *
 * @example
 * ```ts
 * const q = new TimerQueue((id) => console.log(`${id} fired`));
 * q.set("ike-1-rekey", 3_600_000);
 * q.delete("ike-1-rekey");
 * q.close();
 * ```
 *
 * @module
 */

/** Longest delay `setTimeout` takes (2^31 - 1 ms); later deadlines re-arm. */
const MAX_DELAY_MS = 0x7fff_ffff;

interface Entry {
  readonly due: number;
  /** Tie-breaker: equal deadlines fire in the order they were set. */
  readonly seq: number;
  readonly id: string;
}

/** Named timers sharing one `setTimeout`; see the module doc. */
export class TimerQueue {
  readonly #fire: (id: string) => void;
  readonly #now: () => number;
  /** The live deadline of each timer; heap entries that disagree are stale. */
  readonly #due = new Map<string, number>();
  readonly #heap: Entry[] = [];
  #seq = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerDue = Infinity;

  /** `fire(id)` runs when timer `id` is due; `now` is a monotonic clock in ms (tests). */
  constructor(fire: (id: string) => void, now: () => number = () => performance.now()) {
    this.#fire = fire;
    this.#now = now;
  }

  /** Number of timers set. */
  get size(): number {
    return this.#due.size;
  }

  /** Ids of the timers set. */
  ids(): IterableIterator<string> {
    return this.#due.keys();
  }

  /** (Re)sets timer `id` to fire `delayMs` from now (negative: as soon as possible). */
  set(id: string, delayMs: number): void {
    const due = this.#now() + Math.max(0, delayMs);
    this.#due.set(id, due);
    this.#push({ due, seq: this.#seq++, id });
    if (this.#heap.length > 64 && this.#heap.length > 2 * this.#due.size) this.#compact();
    if (due < this.#timerDue) this.#arm();
  }

  /** Cancels timer `id`; true if it was set. */
  delete(id: string): boolean {
    // Its heap entry stays until it surfaces and is seen to be stale, or
    // until stale entries outnumber live ones (SAs deleted before their
    // rekey would otherwise leave theirs for a lifetime).
    const had = this.#due.delete(id);
    if (this.#heap.length > 64 && this.#heap.length > 2 * this.#due.size) this.#compact();
    return had;
  }

  /** Cancels every timer. */
  close(): void {
    this.#due.clear();
    this.#heap.length = 0;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerDue = Infinity;
  }

  /** Drops stale entries from the top and arms the real timer for the earliest deadline. */
  #arm(): void {
    while (this.#heap.length > 0 && this.#due.get(this.#heap[0].id) !== this.#heap[0].due) {
      this.#pop();
    }
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerDue = Infinity;
    if (this.#heap.length === 0) return;
    const due = this.#heap[0].due;
    this.#timerDue = due;
    this.#timer = setTimeout(
      () => this.#expire(),
      Math.min(MAX_DELAY_MS, Math.max(0, due - this.#now())),
    );
  }

  /** Fires every timer that is due, in deadline order, then re-arms. */
  #expire(): void {
    this.#timer = undefined;
    this.#timerDue = Infinity;
    const now = this.#now();
    while (this.#heap.length > 0 && this.#heap[0].due <= now) {
      const e = this.#pop();
      if (this.#due.get(e.id) !== e.due) continue; // cancelled or set again
      this.#due.delete(e.id);
      this.#fire(e.id);
    }
    this.#arm();
  }

  /** Rebuilds the heap from the live entries. */
  #compact(): void {
    const live = this.#heap.filter((e) => this.#due.get(e.id) === e.due);
    this.#heap.length = 0;
    for (const e of live) this.#push(e);
  }

  #push(e: Entry): void {
    const h = this.#heap;
    let i = h.push(e) - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  #pop(): Entry {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && before(h[l], h[m])) m = l;
        if (r < h.length && before(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

function before(a: Entry, b: Entry): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq);
}
