/**
 * CRLs fetched from the distribution points peer certificates name (RFC 5280
 * 4.2.1.13), as charon fetches them while it validates: the engine holds the
 * peer's IKE_AUTH, asks for the URI (`fetchCrl`), and decides once the CRL
 * (or the failure) is in. Both leaves of the test PKI name CDP.
 */
import assert from "node:assert/strict";
import { createCrl } from "../../lib/pki/crl.ts";
import { parseIdentity } from "../../lib/db/identity.ts";
import { CRL_WAIT_MS } from "../../lib/ikev2/engine.ts";
import type { CrlFetchResult } from "../../lib/ikev2/effects.ts";
import type { RevocationPolicy } from "../../lib/pki/validate.ts";
import { type Peer, TwoPeers } from "../helpers/two_peers.ts";
import { certConfigs, ISSUED, makePki, NOW, type Pki } from "../helpers/engine_pki.ts";

const CDP = "http://crl.example.org/test-ca.crl";

function generated(p: Peer): string[] {
  return p.logs.filter((l) => l.includes("generating")).map((l) => l.replace(/^.*generating /, ""));
}

function crlListing(pki: Pki, serials: string[], now = new Date(NOW - 86_400_000)) {
  return createCrl({
    issuerCert: pki.caCert,
    issuerKey: pki.caKey,
    revoked: serials.map((serial) => ({ serial, date: ISSUED, reason: 1 })),
    now,
  });
}

/** alice -> bob with `server` answering the CDP; bob checks with `revocation`. */
function connect(
  pki: Pki,
  server: ((uri: string) => CrlFetchResult | undefined) | undefined,
  revocation?: RevocationPolicy,
): TwoPeers {
  const cfg = certConfigs(pki, {
    bob: {
      remote: {
        auth: "pubkey",
        id: parseIdentity("alice@example.org"),
        cacerts: [pki.ca],
        ...(revocation ? { revocation } : {}),
      },
    },
  });
  const t = new TwoPeers({ ...cfg, startMs: NOW, ...(server ? { crlServer: server } : {}) });
  t.initiate("alice", "site");
  t.run(NOW + 30_000);
  return t;
}

const why = (t: TwoPeers) => [...t.alice.logs, "---", ...t.bob.logs].join("\n");

Deno.test("engine CRL fetch: a revoked initiator is refused with the CRL its certificate names", async () => {
  const pki = await makePki("ecdsa", 256, { crlUris: [CDP] });
  const crl = await crlListing(pki, [pki.alice.serial]);
  const asked: string[] = [];
  const t = connect(pki, (uri) => {
    asked.push(uri);
    return uri === CDP ? { bytes: crl } : { error: "HTTP 404" };
  });
  assert.deepEqual(t.bob.crlFetches, [CDP], why(t));
  assert.equal(generated(t.bob).at(-1), "IKE_AUTH response 1 [ N(AUTH_FAILED) ]", why(t));
  assert.ok(t.bob.logs.some((l) => /was revoked on 2026-01-01.*Test CA/.test(l)), why(t));
  assert.ok(t.bob.logs.some((l) => l.includes(`fetched the CRL of "C=CH, O=Test, CN=Test CA"`)));
  assert.equal(t.alice.eventsOf("ike-failed").length, 1);
  assert.equal(t.bob.engine.list().length, 0);
  // bob's fetched CRL stays, with the URI it came from.
  const [[uri, entry]] = t.bob.engine.fetchedCrls();
  assert.equal(uri, CDP);
  assert.equal(entry.state, "ok");
});

Deno.test("engine CRL fetch: a clean certificate gets in, and the next IKE SA uses the cached CRL", async () => {
  const pki = await makePki("ecdsa", 256, { crlUris: [CDP] });
  const crl = await crlListing(pki, ["0badc0de"]);
  const t = connect(pki, () => ({ bytes: crl }), "strict");
  assert.equal(t.bob.engine.list().length, 1, why(t));
  assert.equal(t.alice.engine.list().length, 1, why(t));
  // Both sides checked the other's certificate against it: one fetch each.
  assert.deepEqual(t.bob.crlFetches, [CDP]);
  assert.deepEqual(t.alice.crlFetches, [CDP]);
  t.initiate("alice", "site");
  t.run(NOW + 60_000);
  assert.equal(t.bob.eventsOf("ike-up").length, 2, why(t));
  assert.deepEqual(t.bob.crlFetches, [CDP], "no second fetch while the CRL is current");
});

Deno.test("engine CRL fetch: a failed fetch passes under relaxed, fails under strict and ifuri", async () => {
  const pki = await makePki("ecdsa", 256, { crlUris: [CDP] });
  const down = () => ({ error: "connection refused" });
  const relaxed = connect(pki, down);
  assert.equal(relaxed.bob.engine.list().length, 1, why(relaxed));
  assert.ok(
    relaxed.bob.logs.some((l) => l.includes(`cannot fetch the CRL at ${CDP}: connection refused`)),
  );
  for (const policy of ["strict", "ifuri"] as const) {
    const t = connect(pki, down, policy);
    assert.equal(generated(t.bob).at(-1), "IKE_AUTH response 1 [ N(AUTH_FAILED) ]", why(t));
    assert.ok(
      t.bob.logs.some((l) => /revocation status of .*CN=alice.* is unknown/.test(l)),
      why(t),
    );
  }
});

Deno.test("engine CRL fetch: what is not a CRL counts as a failed fetch", async () => {
  const pki = await makePki("ecdsa", 256, { crlUris: [CDP] });
  const t = connect(
    pki,
    () => ({ bytes: new TextEncoder().encode("<html>moved</html>") }),
    "strict",
  );
  assert.equal(generated(t.bob).at(-1), "IKE_AUTH response 1 [ N(AUTH_FAILED) ]", why(t));
  assert.ok(t.bob.logs.some((l) => l.startsWith(`no CRL from ${CDP}`)), why(t));
  assert.equal(t.bob.engine.fetchedCrls()[0][1].state, "failed");
});

Deno.test("engine CRL fetch: without an answer the IKE_AUTH is decided after the wait", async () => {
  const pki = await makePki("ecdsa", 256, { crlUris: [CDP] });
  const t = connect(pki, () => undefined);
  assert.equal(t.bob.engine.list().length, 1, why(t));
  assert.ok(t.bob.logs.some((l) => l.includes(`no answer from ${CDP} in time`)), why(t));
  const up = t.bob.eventsOf("ike-up")[0];
  assert.ok(up, why(t));
  // alice retransmitted meanwhile (the held request was not answered), bob dropped the copies.
  assert.ok(t.bob.logs.some((l) => l.includes("still checking revocation")), why(t));
  assert.ok(CRL_WAIT_MS >= 5000);
  // The silent URI counts as failed: the next IKE SA does not wait for it again at once.
  assert.equal(t.bob.engine.fetchedCrls()[0][1].state, "failed");
  const before = t.bob.crlFetches.length;
  const at = t.clock.now;
  t.initiate("alice", "site");
  t.run(at + 5_000);
  assert.equal(t.bob.eventsOf("ike-up").length, 2, why(t));
  assert.equal(t.bob.crlFetches.length, before, "no new fetch within the retry time");
});

Deno.test("engine CRL fetch: the initiator checks the responder's certificate the same way", async () => {
  const pki = await makePki("ecdsa", 256, { crlUris: [CDP] });
  const crl = await crlListing(pki, [pki.bob.serial]);
  const t = connect(pki, () => ({ bytes: crl }));
  assert.deepEqual(t.alice.crlFetches, [CDP]);
  assert.equal(t.alice.eventsOf("ike-failed").length, 1, why(t));
  assert.ok(t.alice.logs.some((l) => /CN=bob" \(serial [0-9a-f:]+\) was revoked/.test(l)), why(t));
  assert.equal(t.alice.engine.list().length, 0);
});

Deno.test("engine CRL fetch: a certificate of a CA we do not trust makes us fetch nothing", async () => {
  const pki = await makePki("ecdsa", 256, { crlUris: [CDP] });
  const other = await makePki("ecdsa", 256);
  const cfg = certConfigs(pki, {
    bob: {
      remote: { auth: "pubkey", id: parseIdentity("alice@example.org"), cacerts: [other.ca] },
    },
  });
  const t = new TwoPeers({ ...cfg, startMs: NOW, crlServer: () => ({ error: "unused" }) });
  t.initiate("alice", "site");
  t.run(NOW + 30_000);
  assert.deepEqual(t.bob.crlFetches, []);
  assert.equal(generated(t.bob).at(-1), "IKE_AUTH response 1 [ N(AUTH_FAILED) ]", why(t));
});

Deno.test("engine CRL fetch: an outdated CRL is fetched again once its nextUpdate passed", async () => {
  const pki = await makePki("ecdsa", 256, { crlUris: [CDP] });
  // Issued 20 days before NOW: its nextUpdate (15 days) has passed.
  const old = await crlListing(pki, [], new Date(NOW - 20 * 86_400_000));
  const fresh = await crlListing(pki, [pki.alice.serial]);
  let n = 0;
  const t = connect(pki, () => ({ bytes: n++ === 0 ? old : fresh }), "strict");
  // First answer was out of date: strict refuses (and says so).
  assert.equal(generated(t.bob).at(-1), "IKE_AUTH response 1 [ N(AUTH_FAILED) ]", why(t));
  assert.ok(t.bob.logs.some((l) => l.includes("is out of date since")), why(t));
  t.clock.advanceTo(NOW + 120_000);
  t.initiate("alice", "site");
  t.run(NOW + 180_000);
  assert.equal(t.bob.crlFetches.length, 2, why(t));
  assert.ok(t.bob.logs.some((l) => /CN=alice" \(serial [0-9a-f:]+\) was revoked/.test(l)), why(t));
});
