/**
 * OCSP in IKE_AUTH: both leaves of the test PKI name an OCSP responder; the
 * engine holds the peer's IKE_AUTH, asks (`fetchOcsp`), and decides on the
 * verified answer. The responder is OpenSSL's (`openssl ocsp -index`, run on
 * each request the engine made), so the answers are an independent
 * implementation's. Runs on the real clock: OpenSSL dates its answers now.
 */
import assert from "node:assert/strict";
import { parseIdentity } from "../../lib/db/identity.ts";
import type { CrlFetchResult } from "../../lib/ikev2/effects.ts";
import { encodePem } from "../../lib/pki/pem.ts";
import { exportPrivateKeyPem } from "../../lib/pki/keys.ts";
import { ocspIndexLine, opensslOcspRespond } from "../pki/_tools.ts";
import type { RevocationPolicy } from "../../lib/pki/validate.ts";
import { type Peer, TwoPeers } from "../helpers/two_peers.ts";
import { certConfigs, makePki, type Pki } from "../helpers/engine_pki.ts";

const OCSP = "http://ocsp.example.org/";

function generated(p: Peer): string[] {
  return p.logs.filter((l) => l.includes("generating")).map((l) => l.replace(/^.*generating /, ""));
}

const why = (t: TwoPeers) => [...t.alice.logs, "---", ...t.bob.logs].join("\n");

/** An OpenSSL responder over `dir`, knowing alice (good unless `revoked`) and bob. */
async function responder(dir: string, pki: Pki, revoked: ("alice" | "bob")[]) {
  const index = (["alice", "bob"] as const).map((who) =>
    ocspIndexLine(
      pki[who].serial,
      who,
      revoked.includes(who) ? "260101000000Z,keyCompromise" : undefined,
    )
  );
  await Deno.writeTextFile(`${dir}/ca.pem`, encodePem("CERTIFICATE", pki.ca));
  await Deno.writeTextFile(`${dir}/ca.key`, await exportPrivateKeyPem(pki.caKey));
  const asked: string[] = [];
  const answer = (uri: string, request?: Uint8Array): CrlFetchResult | undefined => {
    asked.push(uri);
    if (!request) return { error: "no CRL here" };
    const ca = `${dir}/ca.pem`;
    return {
      bytes: opensslOcspRespond(dir, {
        request,
        index,
        caPem: ca,
        signerPem: ca,
        signerKey: `${dir}/ca.key`,
      }),
    };
  };
  return { answer, asked };
}

async function connect(
  revoked: ("alice" | "bob")[],
  revocation?: RevocationPolicy,
  server?: "down",
) {
  const issued = new Date(Date.now() - 86_400_000);
  const pki = await makePki("ecdsa", 256, { ocspUris: [OCSP], issued });
  const dir = await Deno.makeTempDir({ prefix: "ocsp-" });
  try {
    const r = await responder(dir, pki, revoked);
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
    const now = Date.now();
    const t = new TwoPeers({
      ...cfg,
      startMs: now,
      crlServer: server === "down" ? () => ({ error: "connection refused" }) : r.answer,
    });
    t.initiate("alice", "site");
    t.run(now + 30_000);
    return { t, asked: r.asked };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("engine OCSP: a good answer lets the peer in, also under strict", async () => {
  const { t } = await connect([], "strict");
  assert.equal(t.bob.engine.list().length, 1, why(t));
  assert.deepEqual(t.bob.ocspFetches, [OCSP]);
  assert.deepEqual(t.alice.ocspFetches, [OCSP]);
  assert.ok(
    t.bob.logs.some((l) =>
      /OCSP responder http:\/\/ocsp\.example\.org\/ \(serial [0-9a-f:]+\): good \(the issuer signed\)/
        .test(l)
    ),
    why(t),
  );
  // The answer is cached: the next IKE SA asks nothing.
  t.initiate("alice", "site");
  t.run(t.clock.now + 30_000);
  assert.equal(t.bob.eventsOf("ike-up").length, 2, why(t));
  assert.deepEqual(t.bob.ocspFetches, [OCSP]);
});

Deno.test("engine OCSP: a revoked initiator is refused with the responder's reason", async () => {
  const { t } = await connect(["alice"]);
  assert.equal(generated(t.bob).at(-1), "IKE_AUTH response 1 [ N(AUTH_FAILED) ]", why(t));
  assert.ok(
    t.bob.logs.some((l) =>
      /CN=alice" \(serial [0-9a-f:]+\) was revoked on 2026-01-01T00:00:00\.000Z \(keyCompromise\) according to the OCSP responder/
        .test(l)
    ),
    why(t),
  );
  assert.equal(t.alice.eventsOf("ike-failed").length, 1);
});

Deno.test("engine OCSP: the initiator refuses a revoked responder", async () => {
  const { t } = await connect(["bob"]);
  assert.equal(t.alice.eventsOf("ike-failed").length, 1, why(t));
  assert.ok(t.alice.logs.some((l) => /CN=bob" .* was revoked .* OCSP responder/.test(l)), why(t));
  assert.equal(t.alice.engine.list().length, 0);
});

Deno.test("engine OCSP: no answer passes under relaxed, fails under ifuri", async () => {
  const relaxed = await connect([], undefined, "down");
  assert.equal(relaxed.t.bob.engine.list().length, 1, why(relaxed.t));
  assert.ok(relaxed.t.bob.logs.some((l) => l.includes("cannot ask: connection refused")));
  const ifuri = await connect([], "ifuri", "down");
  assert.equal(
    generated(ifuri.t.bob).at(-1),
    "IKE_AUTH response 1 [ N(AUTH_FAILED) ]",
    why(ifuri.t),
  );
  assert.ok(
    ifuri.t.bob.logs.some((l) =>
      /revocation status of .*CN=alice.* is unknown.*OCSP responder/.test(l)
    ),
    why(ifuri.t),
  );
});
