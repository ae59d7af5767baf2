import assert from "node:assert/strict";
import { createCrl, parseCrls } from "../../lib/pki/crl.ts";
import { parseIdentity } from "../../lib/db/identity.ts";
import type { EngineConfig } from "../../lib/ikev2/peer_config.ts";
import { type Peer, pskConfigs, TwoPeers } from "../helpers/two_peers.ts";
import { certConfigs, ISSUED, makePki, NOW } from "../helpers/engine_pki.ts";

function generated(p: Peer): string[] {
  return p.logs.filter((l) => l.includes("generating")).map((l) => l.replace(/^.*generating /, ""));
}

function run(cfg: { alice: EngineConfig; bob: EngineConfig }): TwoPeers {
  const t = new TwoPeers({ ...cfg, startMs: NOW });
  t.initiate("alice", "site");
  t.run(NOW + 5000);
  return t;
}

for (
  const [type, bits, method] of [
    ["ecdsa", 256, "DIGITAL_SIGNATURE"],
    ["ecdsa", 384, "DIGITAL_SIGNATURE"],
    ["rsa", 2048, "DIGITAL_SIGNATURE"],
    [
      "ed25519",
      undefined,
      "DIGITAL_SIGNATURE",
    ],
  ] as const
) {
  /*
   *   alice                                                 bob
   *   IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) N(HASH_ALG) N(REDIR_SUP) ] -->
   *        <-- IKE_SA_INIT response 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) N(HASH_ALG) CERTREQ ]
   *   IKE_AUTH request 1 [ IDi CERT CERTREQ IDr AUTH N(INIT_CONTACT) N(MULT_AUTH) SA TSi TSr ] -->
   *        <-- IKE_AUTH response 1 [ IDr CERT AUTH SA TSi TSr ]
   *   AUTH method 14 (RFC 7427 Digital Signature)
   */
  Deno.test(`engine: certificate AUTH with ${type}${bits ? ` ${bits}` : ""} (RFC 7427)`, async () => {
    const pki = await makePki(type, bits);
    const t = run(certConfigs(pki));
    assert.equal(t.alice.eventsOf("ike-up").length, 1, [...t.alice.logs, ...t.bob.logs].join("\n"));
    assert.equal(t.bob.eventsOf("ike-up").length, 1);
    assert.equal(t.alice.sad.size, 2);
    assert.match(generated(t.bob)[0], /CERTREQ \]$/);
    assert.equal(
      generated(t.alice)[1],
      "IKE_AUTH request 1 [ IDi CERT CERTREQ IDr AUTH N(INIT_CONTACT) N(MULT_AUTH) SA TSi TSr N(MOBIKE_SUP) N(NO_ADD_ADDR) ]",
    );
    assert.equal(
      generated(t.bob)[1],
      "IKE_AUTH response 1 [ IDr CERT AUTH SA TSi TSr N(MOBIKE_SUP) N(NO_ADD_ADDR) ]",
    );
    for (const p of [t.alice, t.bob]) {
      assert.equal(p.engine.ikeSa(p.engine.list()[0].id)!.authInfo, method);
    }
  });
}

/*
 *   alice does not send N(HASH_ALG): bob signs with the RFC 4754 method for its curve.
 *   IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) ] -->
 *   ... <-- IKE_AUTH response 1 [ IDr CERT AUTH(ECDSA_SHA384_P384) SA TSi TSr ]
 */
Deno.test("engine: ECDSA per RFC 4754 when the peer did not announce hash algorithms", async () => {
  const pki = await makePki("ecdsa", 384);
  const cfg = certConfigs(pki, {
    alice: { signatureHashes: false },
    bob: { signatureHashes: false },
  });
  const t = run(cfg);
  assert.equal(t.alice.eventsOf("ike-up").length, 1, [...t.alice.logs, ...t.bob.logs].join("\n"));
  assert.ok(!generated(t.alice)[0].includes("HASH_ALG"));
  const sa = t.bob.engine.ikeSa(t.bob.engine.list()[0].id)!;
  assert.deepEqual(sa.peerSignatureHashes, []);
  assert.equal(sa.authInfo, "ECDSA_SHA384_P384");
  const sa2 = t.alice.engine.ikeSa(t.alice.engine.list()[0].id)!;
  assert.equal(sa2.authInfo, "ECDSA_SHA384_P384");
});

/*
 *   bob trusts another CA:
 *   IKE_AUTH request 1 [ IDi CERT ... AUTH ... ] --> <-- IKE_AUTH response 1 [ N(AUTH_FAILED) ]
 */
Deno.test("engine: certificate from an untrusted CA -> AUTHENTICATION_FAILED", async () => {
  const pki = await makePki("ecdsa", 256);
  const other = await makePki("ecdsa", 256);
  const cfg = certConfigs(pki, {
    bob: {
      remote: { auth: "pubkey", id: parseIdentity("alice@example.org"), cacerts: [other.ca] },
    },
  });
  const t = run(cfg);
  assert.equal(generated(t.bob).at(-1), "IKE_AUTH response 1 [ N(AUTH_FAILED) ]");
  assert.equal(t.alice.eventsOf("ike-failed").length, 1);
  assert.equal(t.bob.engine.list().length, 0);
});

/*
 *   alice's certificate is listed in the CA's CRL that bob holds:
 *   <-- IKE_AUTH response 1 [ N(AUTH_FAILED) ]
 */
Deno.test("engine: revoked peer certificate -> AUTHENTICATION_FAILED; strict passes a listed-clean one", async () => {
  const pki = await makePki("ecdsa", 256);
  const crlOf = async (serials: string[]) =>
    parseCrls(
      await createCrl({
        issuerCert: pki.caCert,
        issuerKey: pki.caKey,
        revoked: serials.map((serial) => ({ serial, date: ISSUED, reason: 1 })),
        now: new Date(NOW - 86_400_000),
      }),
    );
  const bobRemote = (crls: Awaited<ReturnType<typeof crlOf>>, revocation?: "strict") => ({
    bob: {
      remote: {
        auth: "pubkey" as const,
        id: parseIdentity("alice@example.org"),
        cacerts: [pki.ca],
        crls,
        ...(revocation ? { revocation } : {}),
      },
    },
  });
  const revoked = run(certConfigs(pki, bobRemote(await crlOf([pki.alice.serial]))));
  assert.equal(generated(revoked.bob).at(-1), "IKE_AUTH response 1 [ N(AUTH_FAILED) ]");
  assert.ok(
    revoked.bob.logs.some((l) =>
      /CN=alice" \(serial [0-9a-f:]+\) was revoked on 2026-01-01/.test(l)
    ),
  );
  assert.equal(revoked.alice.eventsOf("ike-failed").length, 1);
  assert.equal(revoked.bob.engine.list().length, 0);
  // strict without any CRL fails; with a current CRL that lists bob only, alice gets in.
  const unknown = run(certConfigs(pki, bobRemote([], "strict")));
  assert.equal(generated(unknown.bob).at(-1), "IKE_AUTH response 1 [ N(AUTH_FAILED) ]");
  assert.ok(unknown.bob.logs.some((l) => l.includes("revocation status of")));
  const clean = run(certConfigs(pki, bobRemote(await crlOf([pki.bob.serial]), "strict")));
  assert.equal(clean.bob.engine.list().length, 1);
  assert.equal(clean.alice.engine.list().length, 1);
});

/*
 *   alice's certificate names carol@example.org, alice claims alice@example.org:
 *   <-- IKE_AUTH response 1 [ N(AUTH_FAILED) ]
 */
Deno.test("engine: certificate not matching the claimed ID -> AUTHENTICATION_FAILED", async () => {
  const pki = await makePki("ecdsa", 256, { aliceSan: "carol@example.org" });
  const t = run(certConfigs(pki));
  assert.equal(generated(t.bob).at(-1), "IKE_AUTH response 1 [ N(AUTH_FAILED) ]");
  assert.ok(t.bob.logs.some((l) => l.includes("does not contain the peer's identity")));
  assert.equal(t.alice.eventsOf("ike-failed").length, 1);
});

/*
 *   alice never sends her certificate; bob has it pinned:
 *   IKE_AUTH request 1 [ IDi CERTREQ IDr AUTH N(INIT_CONTACT) N(MULT_AUTH) SA TSi TSr ] -->
 */
Deno.test("engine: pinned peer certificate without CERT payload", async () => {
  const pki = await makePki("ed25519");
  const cfg = certConfigs(pki, {
    alice: { sendCert: "never" },
    bob: {
      remote: { auth: "pubkey", id: parseIdentity("alice@example.org"), certs: [pki.alice.cert] },
    },
  });
  const t = run(cfg);
  assert.equal(
    generated(t.alice)[1],
    "IKE_AUTH request 1 [ IDi CERTREQ IDr AUTH N(INIT_CONTACT) N(MULT_AUTH) SA TSi TSr N(MOBIKE_SUP) N(NO_ADD_ADDR) ]",
  );
  assert.equal(t.bob.eventsOf("ike-up").length, 1, t.bob.logs.join("\n"));
});

/*
 *   mixed: alice authenticates with a PSK, bob with a certificate.
 *   IKE_AUTH request 1 [ IDi CERTREQ IDr AUTH(PSK) ... ] --> <-- [ IDr CERT AUTH(sig) ... ]
 */
Deno.test("engine: PSK one way, certificate the other", async () => {
  const pki = await makePki("ecdsa", 256);
  const base = pskConfigs();
  const cfg = certConfigs(pki, {
    alice: { local: base.alice.connections[0].local },
    bob: { remote: base.bob.connections[0].remote },
  });
  cfg.alice = { ...cfg.alice, secrets: base.alice.secrets };
  cfg.bob = { ...cfg.bob, secrets: base.bob.secrets };
  const t = run(cfg);
  assert.equal(t.alice.eventsOf("ike-up").length, 1, [...t.alice.logs, ...t.bob.logs].join("\n"));
  assert.equal(t.bob.eventsOf("ike-up").length, 1);
});

/*
 *   bob requires a certificate but alice authenticates with a PSK:
 *   <-- IKE_AUTH response 1 [ N(AUTH_FAILED) ]
 */
Deno.test("engine: wrong AUTH method for the peer's policy -> AUTHENTICATION_FAILED", async () => {
  const pki = await makePki("ecdsa", 256);
  const base = pskConfigs();
  const cfg = certConfigs(pki, { alice: { local: base.alice.connections[0].local } });
  cfg.alice = { ...cfg.alice, secrets: base.alice.secrets };
  const t = run(cfg);
  assert.equal(generated(t.bob).at(-1), "IKE_AUTH response 1 [ N(AUTH_FAILED) ]");
});

/*
 *   fragment size 576 (IPv4 minimum): the certificate-laden IKE_AUTH messages
 *   travel as SKF fragments (RFC 7383), each datagram <= 576 - 28 bytes.
 *   IKE_AUTH request 1 [ EF(1/n) ] ... [ EF(n/n) ] -->
 *              <-- IKE_AUTH response 1 [ EF(1/m) ] ... [ EF(m/m) ]
 *   with 20% loss on the way: whole requests are retransmitted until complete.
 */
Deno.test("engine: IKE fragmentation of IKE_AUTH with RSA certificates, also under loss", async () => {
  const pki = await makePki("rsa", 3072);
  for (const lossRate of [0, 0.2]) {
    const cfg = certConfigs(pki, { alice: { fragmentSize: 576 }, bob: { fragmentSize: 576 } });
    const t = new TwoPeers({ ...cfg, startMs: NOW, network: { seed: 5, lossRate } });
    t.initiate("alice", "site");
    t.run(NOW + 300_000);
    assert.equal(t.alice.eventsOf("ike-up").length, 1, t.alice.logs.join("\n"));
    assert.equal(t.bob.eventsOf("ike-up").length, 1);
    const skf = t.net.sent.filter((s) => s.bytes[16] === 53);
    assert.ok(skf.length >= 6, `${skf.length} fragments`);
    assert.ok(skf.every((s) => s.bytes.length <= 576 - 28));
    assert.ok(t.bob.engine.counters.fragmentsReassembled >= 1);
    assert.ok(t.alice.engine.counters.fragmentsReassembled >= 1);
  }
  // Without fragmentation support on one side, nothing is fragmented.
  const cfg = certConfigs(pki, { alice: { fragmentSize: 576 }, bob: { fragmentation: false } });
  const t = new TwoPeers({ ...cfg, startMs: NOW });
  t.initiate("alice", "site");
  t.run(NOW + 5000);
  assert.equal(t.net.sent.filter((s) => s.bytes[16] === 53).length, 0);
  assert.equal(t.alice.eventsOf("ike-up").length, 1);
  // fragmentation: accept (alice): announced, so bob fragments; alice sends hers whole.
  const acc = new TwoPeers({
    ...certConfigs(pki, {
      alice: { fragmentSize: 576, fragmentation: "accept" },
      bob: { fragmentSize: 576 },
    }),
    startMs: NOW,
  });
  acc.initiate("alice", "site");
  acc.run(NOW + 5000);
  assert.equal(acc.alice.eventsOf("ike-up").length, 1, acc.alice.logs.join("\n"));
  const aliceIp = "192.0.2.1";
  const fragments = acc.net.sent.filter((s) => s.bytes[16] === 53);
  assert.ok(fragments.length > 0, "bob fragments its IKE_AUTH response");
  assert.ok(fragments.every((s) => s.from.address !== aliceIp), "alice sent no fragment");
  assert.ok(acc.alice.engine.counters.fragmentsReassembled >= 1);
});

/*
 *   alice and bob with send_certreq: no (and send_cert: always)
 *   IKE_SA_INIT response 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) N(HASH_ALG) ]   (no CERTREQ)
 *   IKE_AUTH request 1 [ IDi CERT IDr AUTH N(INIT_CONTACT) N(MULT_AUTH) SA TSi TSr ... ]                  (no CERTREQ)
 */
Deno.test("engine: sendCertreq false sends no CERTREQ; certificates still authenticate", async () => {
  const pki = await makePki("ecdsa", 256);
  // Without a CERTREQ, send_cert: ifasked (the default) would send no certificate either.
  const quiet = { sendCertreq: false, sendCert: "always" } as const;
  const t = run(certConfigs(pki, { alice: quiet, bob: quiet }));
  assert.equal(t.alice.eventsOf("ike-up").length, 1, [...t.alice.logs, ...t.bob.logs].join("\n"));
  assert.ok(!generated(t.bob)[0].includes("CERTREQ"), generated(t.bob)[0]);
  assert.ok(!generated(t.alice)[1].includes("CERTREQ"), generated(t.alice)[1]);
  assert.match(generated(t.alice)[1], /^IKE_AUTH request 1 \[ IDi CERT IDr AUTH /);
});
