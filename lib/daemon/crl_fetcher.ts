/**
 * Revocation information over HTTP(S) for the engine's `fetchCrl` and
 * `fetchOcsp` effects (charon's curl fetcher): a CRL from a certificate's
 * distribution point (GET), an OCSP answer from a responder (POST,
 * RFC 6960 appendix A). Never throws: what went wrong comes back as a
 * reason for the log.
 *
 * @module
 */

import type { CrlFetchResult } from "../ikev2/effects.ts";
import { concat } from "../wire/bytes.ts";

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
export function fetchCrl(uri: string, opts: CrlFetchOptions = {}): Promise<CrlFetchResult> {
  return httpBody(uri, undefined, opts);
}

/** POSTs the DER OCSP `request` to the responder at `uri` and returns its answer's bytes. */
export function postOcsp(
  uri: string,
  request: Uint8Array,
  opts: CrlFetchOptions = {},
): Promise<CrlFetchResult> {
  return httpBody(uri, request, opts);
}

async function httpBody(
  uri: string,
  ocspRequest: Uint8Array | undefined,
  opts: CrlFetchOptions,
): Promise<CrlFetchResult> {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return { error: `'${uri}' is not a URL` };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return { error: `only http and https URIs are fetched, not ${url.protocol}` };
  }
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const maxBytes = opts.maxBytes ?? 16 << 20;
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const res = await (opts.fetch ?? fetch)(
      url,
      ocspRequest
        ? {
          method: "POST",
          body: new Uint8Array(ocspRequest),
          headers: {
            "content-type": "application/ocsp-request",
            accept: "application/ocsp-response",
          },
          signal,
        }
        : { signal, redirect: "follow" },
    );
    if (!res.ok) {
      await res.body?.cancel();
      return { error: `HTTP ${res.status} ${res.statusText}`.trimEnd() };
    }
    const declared = Number(res.headers.get("content-length") ?? NaN);
    if (declared > maxBytes) {
      await res.body?.cancel();
      return { error: `the answer is ${declared} bytes, more than the ${maxBytes} we take` };
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of res.body ?? new ReadableStream<Uint8Array>()) {
      size += chunk.length;
      if (size > maxBytes) {
        return { error: `the answer is more than the ${maxBytes} bytes we take` };
      }
      chunks.push(chunk);
    }
    return { bytes: concat(...chunks) };
  } catch (e) {
    if (signal.aborted) return { error: `no answer within ${timeoutMs / 1000} s` };
    return { error: (e as Error).message };
  }
}
