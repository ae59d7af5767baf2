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
  return opensslSpeedNs([...(aead ? ["-aead"] : []), "-evp", cipher], bytes);
}

/**
 * `openssl speed -hmac <hash> -bytes <bytes>`: ns per HMAC of `bytes` bytes
 * (CPU time), or null when openssl is missing or does not know `hash`.
 *
 * @example
 * ```ts
 * const ref = opensslHmacNs("sha256", 104);
 * ```
 */
export function opensslHmacNs(hash: string, bytes: number): number | null {
  return opensslSpeedNs(["-hmac", hash], bytes);
}

function opensslSpeedNs(what: string[], bytes: number): number | null {
  try {
    const r = new Deno.Command("openssl", {
      args: ["speed", ...what, "-bytes", String(bytes), "-seconds", "1", "-mr"],
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

let sealBinary: string | null | undefined;

/**
 * CPU ns of one AEAD seal of `bytes` bytes done in C through OpenSSL's EVP
 * API with the per-packet steps ESP needs (nonce, AAD, Final, tag; see
 * tests/bench/evp_aead_seal.c), or null when it cannot be built here (no
 * gcc or no OpenSSL headers: Debian's libssl-dev).
 *
 * @example
 * ```ts
 * const ref = evpAeadSealNs("chacha20-poly1305", 64, 300);
 * ```
 */
export function evpAeadSealNs(cipher: string, bytes: number, ms: number): number | null {
  if (sealBinary === undefined) {
    sealBinary = null;
    try {
      const dir = Deno.makeTempDirSync({ prefix: "evp-seal-" });
      const src = new URL("./evp_aead_seal.c", import.meta.url).pathname;
      const r = new Deno.Command("gcc", {
        args: ["-O2", "-o", `${dir}/evp_aead_seal`, src, "-lcrypto"],
        stdout: "null",
        stderr: "null",
      }).outputSync();
      if (r.success) sealBinary = `${dir}/evp_aead_seal`;
      globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
    } catch {
      // no gcc
    }
  }
  if (sealBinary === null) return null;
  const r = new Deno.Command(sealBinary, {
    args: [cipher, String(bytes), String(ms)],
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  const v = Number(new TextDecoder().decode(r.stdout).trim());
  return r.success && v > 0 ? v : null;
}
