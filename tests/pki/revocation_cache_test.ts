import assert from "node:assert/strict";
import {
  CRL_CACHE_MAX,
  CRL_REFRESH_MS,
  CRL_RETRY_MS,
  RevocationCache,
} from "../../lib/pki/revocation_cache.ts";
import type { Crl } from "../../lib/pki/crl.ts";

const T0 = Date.parse("2026-06-01T00:00:00Z");

function crl(nextUpdate?: number): Crl {
  return {
    der: new Uint8Array(),
    parts: {} as Crl["parts"],
    issuer: "CN=CA",
    signatureAlgorithm: {} as Crl["signatureAlgorithm"],
    thisUpdate: new Date(T0 - 1000),
    ...(nextUpdate !== undefined ? { nextUpdate: new Date(nextUpdate) } : {}),
    revoked: new Map(),
  };
}

Deno.test("RevocationCache: fetch once, share in-flight requests, keep a current CRL", () => {
  const c = new RevocationCache<Crl>();
  assert.deepEqual(c.request(["u1", "u2", "u1"], T0), {
    pending: ["u1", "u2"],
    start: ["u1", "u2"],
  });
  // Asked again while in flight: pending, nothing new to start.
  assert.deepEqual(c.request(["u1"], T0 + 10), { pending: ["u1"], start: [] });
  const a = crl(T0 + 86_400_000);
  c.fetched("u1", [a], T0 + 20);
  c.failed("u2", "HTTP 404", T0 + 20);
  assert.deepEqual(c.items(), [a]);
  assert.deepEqual(c.request(["u1", "u2"], T0 + 30), { pending: [], start: [] });
  // A failed URI is tried again after CRL_RETRY_MS, a current CRL is not.
  assert.deepEqual(c.request(["u1", "u2"], T0 + 20 + CRL_RETRY_MS), {
    pending: ["u2"],
    start: ["u2"],
  });
  // Past nextUpdate: fetched again; meanwhile (and if that fails) the old CRL stays usable.
  const later = T0 + 2 * 86_400_000;
  assert.deepEqual(c.request(["u1"], later), { pending: ["u1"], start: ["u1"] });
  assert.deepEqual(c.items(), [a]);
  c.failed("u1", "timeout", later + 5);
  assert.deepEqual(c.items(), [a]);
  assert.equal(c.entries().find(([u]) => u === "u1")![1].state, "failed");
});

Deno.test("RevocationCache: CRLs without nextUpdate are refreshed hourly; outdated answers not hammered", () => {
  const c = new RevocationCache<Crl>();
  c.request(["u"], T0);
  c.fetched("u", [crl()], T0);
  assert.deepEqual(c.request(["u"], T0 + CRL_REFRESH_MS - 1).start, []);
  assert.deepEqual(c.request(["u"], T0 + CRL_REFRESH_MS).start, ["u"]);
  // The server answers with a CRL already out of date: not asked again at once.
  const t = T0 + CRL_REFRESH_MS + 10;
  c.fetched("u", [crl(T0)], t);
  assert.deepEqual(c.request(["u"], t + 1000).start, []);
  assert.deepEqual(c.request(["u"], t + CRL_RETRY_MS).start, ["u"]);
});

Deno.test("RevocationCache: bounded, the oldest entry goes first", () => {
  const c = new RevocationCache<Crl>();
  for (let i = 0; i < CRL_CACHE_MAX + 5; i++) {
    c.request([`u${i}`], T0);
    c.fetched(`u${i}`, [crl(T0 + 1e9)], T0);
  }
  const uris = c.entries().map(([u]) => u);
  assert.equal(uris.length, CRL_CACHE_MAX);
  assert.equal(uris[0], "u5");
  assert.equal(c.items().length, CRL_CACHE_MAX);
});
