/**
 * A deterministic lossy network for sans-I/O tests. Datagrams handed to
 * {@link FakeNetwork.send} are delivered later by {@link FakeNetwork.takeDue};
 * on the way they can be dropped, duplicated, delayed and reordered, all
 * driven by a seeded PRNG so a failing run can be replayed. A `filter` hook
 * drops chosen packets exactly (e.g. "the second IKE_AUTH response").
 *
 * @example
 * ```ts
 * const net = new FakeNetwork({ seed: 7, lossRate: 0.3 });
 * net.send(a, b, bytes, 0);
 * net.takeDue(1000); // zero or more deliveries
 * ```
 *
 * @module
 */

/** A UDP endpoint as the engine sees it. */
export interface NetEndpoint {
  readonly address: string;
  readonly port: number;
}

/** One datagram in flight or delivered. */
export interface Datagram {
  readonly from: NetEndpoint;
  readonly to: NetEndpoint;
  readonly bytes: Uint8Array;
  /** Time it was sent (ms). */
  readonly sentAt: number;
  /** Time it arrives (ms). */
  readonly at: number;
  /** Sequence number of the send() call that produced it (duplicates share it). */
  readonly seq: number;
}

/** Impairments of a {@link FakeNetwork}. */
export interface FakeNetworkOptions {
  /** PRNG seed (default 1). */
  seed?: number;
  /** Probability a datagram is lost (0..1). */
  lossRate?: number;
  /** Probability a datagram is delivered twice. */
  duplicateRate?: number;
  /** Base one-way delay in ms (default 10). */
  delayMs?: number;
  /** Extra uniformly random delay 0..jitterMs, which reorders datagrams. */
  jitterMs?: number;
  /**
   * Called for every datagram before the random impairments; return false
   * to drop it. `index` counts send() calls from 0.
   */
  filter?: (d: { from: NetEndpoint; to: NetEndpoint; bytes: Uint8Array; index: number }) => boolean;
}

/** A small, fast, seedable PRNG (mulberry32); returns floats in [0, 1). */
export function seededPrng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Deterministic random bytes from a seed (for injecting into engines in tests). */
export function seededRandomBytes(seed: number): (n: number) => Uint8Array {
  const next = seededPrng(seed);
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.floor(next() * 256);
    return out;
  };
}

/** The simulated network. */
export class FakeNetwork {
  readonly options: FakeNetworkOptions;
  /** Every send() call in order, before impairments (for assertions). */
  readonly sent: { from: NetEndpoint; to: NetEndpoint; bytes: Uint8Array; at: number }[] = [];
  /** Counters. */
  readonly stats = { sent: 0, dropped: 0, duplicated: 0, delivered: 0 };
  #queue: Datagram[] = [];
  #rand: () => number;
  #index = 0;

  constructor(options: FakeNetworkOptions = {}) {
    this.options = options;
    this.#rand = seededPrng(options.seed ?? 1);
  }

  /** Changes impairments mid-test (e.g. heal the network). */
  set(options: Partial<FakeNetworkOptions>): void {
    Object.assign(this.options, options);
  }

  /** Hands a datagram to the network at time `now`. */
  send(from: NetEndpoint, to: NetEndpoint, bytes: Uint8Array, now: number): void {
    const index = this.#index++;
    this.stats.sent++;
    this.sent.push({ from, to, bytes, at: now });
    const o = this.options;
    if (o.filter && !o.filter({ from, to, bytes, index })) {
      this.stats.dropped++;
      return;
    }
    if (this.#rand() < (o.lossRate ?? 0)) {
      this.stats.dropped++;
      return;
    }
    const copies = this.#rand() < (o.duplicateRate ?? 0) ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let i = 0; i < copies; i++) {
      const delay = (o.delayMs ?? 10) + this.#rand() * (o.jitterMs ?? 0);
      this.#queue.push({
        from,
        to,
        bytes: bytes.slice(),
        sentAt: now,
        at: now + delay,
        seq: index,
      });
    }
  }

  /** Earliest arrival time of a datagram in flight. */
  nextArrival(): number | undefined {
    let best: number | undefined;
    for (const d of this.#queue) if (best === undefined || d.at < best) best = d.at;
    return best;
  }

  /** Number of datagrams in flight. */
  get inFlight(): number {
    return this.#queue.length;
  }

  /** Removes and returns datagrams arriving at or before `now`, in arrival order. */
  takeDue(now: number): Datagram[] {
    const due = this.#queue.filter((d) => d.at <= now).sort((a, b) => a.at - b.at);
    this.#queue = this.#queue.filter((d) => d.at > now);
    this.stats.delivered += due.length;
    return due;
  }

  /** Drops everything in flight. */
  clear(): void {
    this.#queue = [];
  }
}
