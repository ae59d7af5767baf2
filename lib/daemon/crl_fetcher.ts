/**
 * Fetches a CRL from a certificate's distribution point over HTTP(S), for
 * the engine's `fetchCrl` effect (charon's curl fetcher). Never throws:
 * what went wrong comes back as a reason for the log.
 *
 * @module
 */

import type { CrlFetchResult } from "../ikev2/effects.ts";

/** Limits of {@linkcode fetchCrl}. */
export interface CrlFetchOptions {
  /** Give up after this long (ms; default 10 s, charon's fetch timeout). */
  readonly timeoutMs?: number;
  /** Refuse bodies larger than this (default 16 MiB). */
  readonly maxBytes?: number;
  /** The HTTP client (tests inject one). */
  readonly fetch?: typeof fetch;
}

/** GETs `uri` (http or https only) and returns the body. */
export async function fetchCrl(uri: string, opts: CrlFetchOptions = {}): Promise<CrlFetchResult> {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return { error: `'${uri}' is not a URL` };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return { error: `only http and https distribution points are fetched, not ${url.protocol}` };
  }
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const maxBytes = opts.maxBytes ?? 16 << 20;
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const res = await (opts.fetch ?? fetch)(url, { signal, redirect: "follow" });
    if (!res.ok) {
      await res.body?.cancel();
      return { error: `HTTP ${res.status} ${res.statusText}`.trimEnd() };
    }
    const declared = Number(res.headers.get("content-length") ?? NaN);
    if (declared > maxBytes) {
      await res.body?.cancel();
      return { error: `the CRL is ${declared} bytes, more than the ${maxBytes} we take` };
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of res.body ?? new ReadableStream<Uint8Array>()) {
      size += chunk.length;
      if (size > maxBytes) {
        return { error: `the CRL is more than the ${maxBytes} bytes we take` };
      }
      chunks.push(chunk);
    }
    const bytes = new Uint8Array(size);
    let o = 0;
    for (const c of chunks) {
      bytes.set(c, o);
      o += c.length;
    }
    return { bytes };
  } catch (e) {
    if (signal.aborted) return { error: `no answer within ${timeoutMs / 1000} s` };
    return { error: (e as Error).message };
  }
}
