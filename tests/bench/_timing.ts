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

/**
 * `openssl speed [-aead] -evp <cipher> -bytes <bytes>`: ns per `bytes`-byte
 * operation (CPU time, as openssl reports it), or null when openssl is
 * missing or does not know `cipher`.
 *
 * @example
 * ```ts
 * const ref = opensslEvpNs("aes-128-gcm", 1400, false);
 * ```
 */
export function opensslEvpNs(cipher: string, bytes: number, aead: boolean): number | null {
  try {
    const r = new Deno.Command("openssl", {
      args: [
        "speed",
        ...(aead ? ["-aead"] : []),
        "-evp",
        cipher,
        "-bytes",
        String(bytes),
        "-seconds",
        "1",
        "-mr",
      ],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    if (!r.success) return null;
    // -mr output: "+F:<n>:<name>:<bytes per second for each size>"
    const line = new TextDecoder().decode(r.stdout).split("\n").find((l) => l.startsWith("+F:"));
    const bps = line ? Number(line.split(":").at(-1)) : NaN;
    return bps > 0 ? (1e9 * bytes) / bps : null;
  } catch {
    return null;
  }
}
