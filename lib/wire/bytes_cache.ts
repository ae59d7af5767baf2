/**
 * A bounded cache keyed by byte content (not by array identity), most
 * recently used kept longest: for values that are a pure function of bytes
 * a peer sends again and again (its certificates, its public key).
 *
 * @example
 * ```ts
 * const keys = new BytesCache<VerifyingKey>(256);
 * const key = keys.get(spki, () => loadVerifyingKey(spki));
 * ```
 *
 * @module
 */

/** Bounded map from byte strings to values; the least recently used goes first. */
export class BytesCache<V> {
  readonly #max: number;
  readonly #map = new Map<string, V>();

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`cache size must be >= 1, got ${max}`);
    }
    this.#max = max;
  }

  /** Entries held. */
  get size(): number {
    return this.#map.size;
  }

  /** The value for `bytes`; on a miss `make()` gives it (when `make` throws, nothing is kept). */
  get(bytes: Uint8Array, make: () => V): V {
    const key = bytesKey(bytes);
    let v = this.#map.get(key);
    if (v !== undefined) {
      this.#map.delete(key);
    } else {
      v = make();
      if (this.#map.size >= this.#max) this.#map.delete(this.#map.keys().next().value!);
    }
    this.#map.set(key, v);
    return v;
  }
}

/** The bytes as a string, one UTF-16 unit per byte. */
function bytesKey(b: Uint8Array): string {
  let k = "";
  for (let i = 0; i < b.length; i += 8192) {
    k += String.fromCharCode.apply(null, b.subarray(i, i + 8192) as unknown as number[]);
  }
  return k;
}
