/**
 * Revocation information fetched while a peer's chain is checked, as charon
 * fetches it: CRLs from the distribution points certificates name (RFC 5280
 * section 4.2.1.13) by URI, OCSP answers (RFC 6960) by responder and
 * certificate. Pure bookkeeping: what to fetch, what is in flight, what came
 * back; the daemon does the HTTP and reports each result.
 *
 * A key is fetched again when none of its items is current any more (their
 * nextUpdate passed), after {@linkcode CRL_REFRESH_MS} for items without
 * nextUpdate, and {@linkcode CRL_RETRY_MS} after a failed fetch (a dead
 * server does not hold every IKE_AUTH up). At most {@linkcode CRL_CACHE_MAX}
 * keys are kept; the oldest entry goes first.
 *
 * @module
 */

/** What the cache holds: a CRL or an OCSP answer, current until `nextUpdate`. */
export interface Dated {
  readonly nextUpdate?: Date;
}

/** A key that failed is tried again after this long (ms). */
export const CRL_RETRY_MS = 60_000;
/** Items without nextUpdate are fetched again after this long (ms). */
export const CRL_REFRESH_MS = 3_600_000;
/** How many keys the cache keeps. */
export const CRL_CACHE_MAX = 64;

/** What the cache holds for one key (a CRL's URI, an OCSP question). */
export type RevocationEntry<T extends Dated> =
  | { readonly state: "fetching"; readonly since: number; readonly previous?: readonly T[] }
  | { readonly state: "ok"; readonly at: number; readonly items: readonly T[] }
  | {
    readonly state: "failed";
    readonly at: number;
    readonly reason: string;
    readonly previous?: readonly T[];
  };

/** The answer of {@linkcode RevocationCache.request}. */
export interface RevocationRequest {
  /** Keys whose answer is still to come (newly started or already in flight). */
  readonly pending: readonly string[];
  /** Keys to fetch now (a subset of `pending`). */
  readonly start: readonly string[];
}

/** What was fetched so far, by key. */
export class RevocationCache<T extends Dated> {
  #entries = new Map<string, RevocationEntry<T>>();

  /**
   * Of `keys`, those without a usable answer at `now`; marks the ones not in
   * flight yet as fetching (the caller fetches `start`).
   */
  request(keys: readonly string[], now: number): RevocationRequest {
    const pending: string[] = [];
    const start: string[] = [];
    for (const uri of new Set(keys)) {
      const e = this.#entries.get(uri);
      if (e?.state === "fetching") {
        pending.push(uri);
        continue;
      }
      if (e && !stale(e, now)) continue;
      const previous = e?.state === "ok" ? e.items : e?.previous;
      this.#set(uri, { state: "fetching", since: now, ...(previous ? { previous } : {}) });
      pending.push(uri);
      start.push(uri);
    }
    return { pending, start };
  }

  /** A fetch of `key` brought `items`. */
  fetched(key: string, items: readonly T[], now: number): void {
    this.#set(key, { state: "ok", at: now, items });
  }

  /** A fetch of `key` failed (`reason` for logs); what was fetched before stays usable. */
  failed(key: string, reason: string, now: number): void {
    const uri = key;
    const e = this.#entries.get(uri);
    const previous = e?.state === "ok" ? e.items : e?.previous;
    this.#set(uri, { state: "failed", at: now, reason, ...(previous ? { previous } : {}) });
  }

  /** Everything at hand (validation picks what is about each certificate). */
  items(): T[] {
    const out: T[] = [];
    for (const e of this.#entries.values()) {
      if (e.state === "ok") out.push(...e.items);
      else if (e.previous) out.push(...e.previous);
    }
    return out;
  }

  /** The entries, oldest first (for status views and tests). */
  entries(): [string, RevocationEntry<T>][] {
    return [...this.#entries];
  }

  #set(uri: string, e: RevocationEntry<T>): void {
    this.#entries.delete(uri);
    this.#entries.set(uri, e);
    while (this.#entries.size > CRL_CACHE_MAX) {
      const [oldest] = this.#entries.keys();
      this.#entries.delete(oldest);
    }
  }
}

function stale<T extends Dated>(
  e: Exclude<RevocationEntry<T>, { state: "fetching" }>,
  now: number,
): boolean {
  if (e.state === "failed") return now - e.at >= CRL_RETRY_MS;
  if (e.items.length === 0) return now - e.at >= CRL_RETRY_MS;
  const current = e.items.some((c) =>
    c.nextUpdate ? now <= c.nextUpdate.getTime() : now - e.at < CRL_REFRESH_MS
  );
  // A server that still hands out outdated answers is not asked every time.
  return !current && now - e.at >= CRL_RETRY_MS / 6;
}
