/**
 * CRLs fetched from the distribution points peer certificates name
 * (RFC 5280 section 4.2.1.13), as charon fetches them while it validates a
 * chain. Pure bookkeeping: what to fetch, what is in flight, what came back;
 * the daemon does the HTTP and reports each result.
 *
 * A URI is fetched again when none of its CRLs is current any more (their
 * nextUpdate passed), after {@linkcode CRL_REFRESH_MS} for CRLs without
 * nextUpdate, and {@linkcode CRL_RETRY_MS} after a failed fetch (a dead
 * server does not hold every IKE_AUTH up). At most {@linkcode CRL_CACHE_MAX}
 * URIs are kept; the oldest entry goes first.
 *
 * @module
 */
import type { Crl } from "./crl.ts";

/** A URI that failed is tried again after this long (ms). */
export const CRL_RETRY_MS = 60_000;
/** CRLs without nextUpdate are fetched again after this long (ms). */
export const CRL_REFRESH_MS = 3_600_000;
/** How many URIs the cache keeps. */
export const CRL_CACHE_MAX = 64;

/** What the cache holds for one distribution point. */
export type CrlCacheEntry =
  | { readonly state: "fetching"; readonly since: number; readonly previous?: readonly Crl[] }
  | { readonly state: "ok"; readonly at: number; readonly crls: readonly Crl[] }
  | {
    readonly state: "failed";
    readonly at: number;
    readonly reason: string;
    readonly previous?: readonly Crl[];
  };

/** The answer of {@linkcode CrlCache.request}. */
export interface CrlRequest {
  /** URIs whose answer is still to come (newly started or already in flight). */
  readonly pending: readonly string[];
  /** URIs to fetch now (a subset of `pending`). */
  readonly start: readonly string[];
}

/** The CRLs fetched so far, by distribution point URI. */
export class CrlCache {
  #entries = new Map<string, CrlCacheEntry>();

  /**
   * Of `uris`, those without a usable answer at `now`; marks the ones not in
   * flight yet as fetching (the caller fetches `start`).
   */
  request(uris: readonly string[], now: number): CrlRequest {
    const pending: string[] = [];
    const start: string[] = [];
    for (const uri of new Set(uris)) {
      const e = this.#entries.get(uri);
      if (e?.state === "fetching") {
        pending.push(uri);
        continue;
      }
      if (e && !stale(e, now)) continue;
      const previous = e?.state === "ok" ? e.crls : e?.previous;
      this.#set(uri, { state: "fetching", since: now, ...(previous ? { previous } : {}) });
      pending.push(uri);
      start.push(uri);
    }
    return { pending, start };
  }

  /** A fetch of `uri` brought `crls`. */
  fetched(uri: string, crls: readonly Crl[], now: number): void {
    this.#set(uri, { state: "ok", at: now, crls });
  }

  /** A fetch of `uri` failed (`reason` for logs); CRLs fetched before stay usable. */
  failed(uri: string, reason: string, now: number): void {
    const e = this.#entries.get(uri);
    const previous = e?.state === "ok" ? e.crls : e?.previous;
    this.#set(uri, { state: "failed", at: now, reason, ...(previous ? { previous } : {}) });
  }

  /** Every CRL at hand (validation picks each certificate's issuer's). */
  crls(): Crl[] {
    const out: Crl[] = [];
    for (const e of this.#entries.values()) {
      if (e.state === "ok") out.push(...e.crls);
      else if (e.previous) out.push(...e.previous);
    }
    return out;
  }

  /** The entries, oldest first (for status views and tests). */
  entries(): [string, CrlCacheEntry][] {
    return [...this.#entries];
  }

  #set(uri: string, e: CrlCacheEntry): void {
    this.#entries.delete(uri);
    this.#entries.set(uri, e);
    while (this.#entries.size > CRL_CACHE_MAX) {
      const [oldest] = this.#entries.keys();
      this.#entries.delete(oldest);
    }
  }
}

function stale(e: Exclude<CrlCacheEntry, { state: "fetching" }>, now: number): boolean {
  if (e.state === "failed") return now - e.at >= CRL_RETRY_MS;
  if (e.crls.length === 0) return now - e.at >= CRL_RETRY_MS;
  const current = e.crls.some((c) =>
    c.nextUpdate ? now <= c.nextUpdate.getTime() : now - e.at < CRL_REFRESH_MS
  );
  // A server that still hands out an outdated CRL is not asked every time.
  return !current && now - e.at >= CRL_RETRY_MS / 6;
}
