/**
 * Timing for micro benchmarks in tests/bench (not a bench itself: no
 * `_bench.ts` suffix).
 *
 * @module
 */

/**
 * ns per call of `f`: the fastest of 5 slices of `budgetMs / 5` after
 * `warmup` calls (the minimum resists other load on a shared machine).
 *
 * @example
 * ```ts
 * const ns = nsPerOp(() => aead.seal(nonce, pt, aad), 300);
 * ```
 */
export function nsPerOp(f: () => void, budgetMs: number, warmup = 50): number {
  for (let i = 0; i < warmup; i++) f();
  let best = Infinity;
  for (let slice = 0; slice < 5; slice++) {
    let n = 0;
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < budgetMs / 5) {
      for (let i = 0; i < 16; i++) f();
      n += 16;
      t = performance.now();
    }
    best = Math.min(best, ((t - t0) * 1e6) / n);
  }
  return best;
}
