/**
 * SPD caches (RFC 4301 section 4.4.1.3 and 5.1): per-flow memo of a lookup
 * result, keyed by the exact packet tuple, so repeated packets of a flow skip
 * the classifier. Each cache entry is a fully specified (decorrelated by
 * construction) selector, so order never matters inside the cache.
 *
 * Bounded: when full, the oldest entry is evicted (insertion order of a
 * `Map`, refreshed on hit = LRU). A new SPD builds new caches, so stale
 * entries never outlive a policy change.
 *
 * @module
 */

import type { PacketTuple } from "./selector.ts";

/** Hit/miss counters of one cache. */
export interface SpdCacheStats {
  hits: number;
  misses: number;
  evictions: number;
}

/** The string key of a packet tuple (exact match on every selector field). */
export function tupleKey(t: PacketTuple): string {
  return `${t.version}|${t.localAddress}|${t.remoteAddress}|${t.protocol}|${t.localPort}|${t.remotePort}`;
}

/**
 * A bounded LRU cache of lookup results keyed by packet tuple.
 *
 * @example
 * ```ts
 * const c = new SpdCache<number>(1024);
 * c.set(tuple, 3);
 * c.get(tuple); // 3
 * ```
 */
export class SpdCache<V> {
  readonly #map = new Map<string, V>();
  readonly #capacity: number;
  /** Counters since creation. */
  readonly stats: SpdCacheStats = { hits: 0, misses: 0, evictions: 0 };

  /** A cache holding at most `capacity` flows (0 disables caching). */
  constructor(capacity = 4096) {
    if (!Number.isInteger(capacity) || capacity < 0) {
      throw new RangeError(`cache capacity must be a non-negative integer, got ${capacity}`);
    }
    this.#capacity = capacity;
  }

  /** Number of cached flows. */
  get size(): number {
    return this.#map.size;
  }

  /** The cached value for the flow, refreshing its age, or undefined. */
  get(t: PacketTuple): V | undefined {
    if (this.#capacity === 0) {
      this.stats.misses++;
      return undefined;
    }
    const k = tupleKey(t);
    const v = this.#map.get(k);
    if (v === undefined) {
      this.stats.misses++;
      return undefined;
    }
    this.stats.hits++;
    this.#map.delete(k);
    this.#map.set(k, v);
    return v;
  }

  /** Caches a value for the flow, evicting the least recently used one when full. */
  set(t: PacketTuple, v: V): void {
    if (this.#capacity === 0) return;
    const k = tupleKey(t);
    this.#map.delete(k);
    if (this.#map.size >= this.#capacity) {
      const oldest = this.#map.keys().next().value;
      if (oldest !== undefined) {
        this.#map.delete(oldest);
        this.stats.evictions++;
      }
    }
    this.#map.set(k, v);
  }

  /** Forgets every flow. */
  clear(): void {
    this.#map.clear();
  }
}
