import assert from "node:assert/strict";
import { parseIdentity } from "../../lib/db/identity.ts";
import { decodeMessage } from "../../lib/ikev2/message.ts";
import { ExchangeType } from "../../lib/ikev2/constants.ts";
import { type Peer, pskConfigs, TwoPeers } from "../helpers/two_peers.ts";

function generated(p: Peer): string[] {
  return p.logs.filter((l) => l.includes("generating")).map((l) => l.replace(/^.*generating /, ""));
}

/*
 *   alice offers x25519 first, bob accepts only ecp256
 *   IKE_SA_INIT request 0 [ SA KE(x25519) No N... ] -->
 *                  <-- IKE_SA_INIT response 0 [ N(INVAL_KE) ]   (ecp256, bob keeps no state)
 *   IKE_SA_INIT request 0 [ SA KE(ecp256) No N... ] -->
 *                  <-- IKE_SA_INIT response 0 [ SA KE No N... ]
 *   IKE_AUTH ...
 */
Deno.test("engine: INVALID_KE_PAYLOAD makes the initiator retry with the requested group", () => {
  const t = new TwoPeers(pskConfigs({
    ikeProposals: "aes256gcm16-prfsha384-x25519-ecp256",
    bobIkeProposals: "aes256gcm16-prfsha384-ecp256",
  }));
  t.initiate("alice", "site");
  t.run(5000);
  assert.deepEqual(generated(t.bob).slice(0, 1), ["IKE_SA_INIT response 0 [ N(INVAL_KE) ]"]);
  assert.equal(t.alice.eventsOf("ike-up").length, 1);
  const sa = t.alice.engine.ikeSa(t.alice.engine.list()[0].id)!;
  assert.equal(sa.suite?.keId, 19);
  assert.equal(t.bob.engine.list().length, 1);
  assert.equal(t.bob.eventsOf("ike-failed").length, 0);
});

/*
 *   IKE_SA_INIT request 0 [ SA(aes128-sha256-modp2048) KE No N... ] -->
 *                  <-- IKE_SA_INIT response 0 [ N(NO_PROP) ]
 *   alice: ike-failed; bob: no state
 */
Deno.test("engine: NO_PROPOSAL_CHOSEN for IKE fails the initiator and leaves no responder state", () => {
  const t = new TwoPeers(pskConfigs({
    ikeProposals: "aes128-sha256-modp2048",
    bobIkeProposals: "aes256gcm16-prfsha384-x25519",
  }));
  t.initiate("alice", "site");
  t.run(5000);
  assert.deepEqual(generated(t.bob), ["IKE_SA_INIT response 0 [ N(NO_PROP) ]"]);
  // The responder's log names both sides' proposals, as strongSwan's does.
  assert.ok(
    t.bob.logs.some((l) =>
      l.includes(
        "received IKE:AES_CBC_128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048; " +
          "configured IKE:AES_GCM_16_256/PRF_HMAC_SHA2_384/CURVE25519",
      )
    ),
    t.bob.logs.join("\n"),
  );
  assert.equal(t.alice.eventsOf("ike-failed").length, 1);
  // The initiator's reason (what `ipsec up` prints) says what it offered.
  assert.equal(
    t.alice.eventsOf("ike-failed")[0].reason,
    "peer answered NO_PROPOSAL_CHOSEN: it accepts none of " +
      "IKE:AES_CBC_128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048",
  );
  assert.equal(t.alice.engine.list().length, 0);
  assert.equal(t.bob.engine.list().length, 0);
});

/*
 *   bob's cookie threshold is 0 (always demand a cookie):
 *   IKE_SA_INIT request 0 [ SA KE No N... ] -->
 *                <-- IKE_SA_INIT response 0 [ N(COOKIE) ]
 *   IKE_SA_INIT request 0 [ N(COOKIE) SA KE No N... ] -->
 *                <-- IKE_SA_INIT response 0 [ SA KE No N... ]
 *   IKE_AUTH ...
 */
Deno.test("engine: COOKIE challenge is answered and the SA comes up", () => {
  const t = new TwoPeers(pskConfigs({ bobEngine: { cookieThreshold: 0 } }));
  t.initiate("alice", "site");
  t.run(5000);
  assert.equal(generated(t.bob)[0], "IKE_SA_INIT response 0 [ N(COOKIE) ]");
  assert.ok(generated(t.alice)[1].startsWith("IKE_SA_INIT request 0 [ N(COOKIE) SA KE No"));
  assert.equal(t.bob.engine.counters.cookiesSent, 1);
  assert.equal(t.alice.eventsOf("ike-up").length, 1);
  assert.equal(t.bob.eventsOf("ike-up").length, 1);
});

/*
 *   threshold 1: a first half-open SA (alice's IKE_AUTH is dropped) makes bob
 *   stateless for the next initiator, which must come back with the cookie.
 *   carol IKE_SA_INIT request 0 -->  <-- N(COOKIE) ; retry with N(COOKIE) --> SA created
 *   A forged cookie is refused with a fresh N(COOKIE).
 */
Deno.test("engine: COOKIE only above the half-open threshold; forged cookies are refused", () => {
  const t = new TwoPeers({
    ...pskConfigs({ bobEngine: { cookieThreshold: 1 } }),
    network: {
      filter: (d) => {
        const h = decodeMessage(d.bytes).header;
        return h.exchangeType !== ExchangeType.IKE_AUTH;
      },
    },
  });
  t.initiate("alice", "site");
  t.run(1000);
  assert.equal(t.bob.engine.halfOpenCount, 1);
  assert.equal(t.bob.engine.counters.cookiesSent, 0);
  // A second initiator (alice again, new SPI) now gets a cookie challenge first.
  t.initiate("alice", "site");
  t.run(2000);
  assert.equal(t.bob.engine.counters.cookiesSent, 1);
  assert.equal(t.bob.engine.halfOpenCount, 2);
  // Forged cookie: replay alice's retried request with the cookie bytes flipped.
  const retried = t.net.sent.filter((s) => {
    const d = decodeMessage(s.bytes);
    return d.header.exchangeType === ExchangeType.IKE_SA_INIT && !d.header.response &&
      d.payloads[0].type === 41;
  }).at(-1)!;
  const forged = retried.bytes.slice();
  // Cookie data starts after header (28) + notify header (4) + protocol/spi/type (4).
  forged[36 + 10] ^= 0xff;
  forged[7] ^= 0x55; // another SPIi, so it is not a retransmit of a known SA
  const before = t.bob.engine.counters.cookiesSent;
  t.apply(t.bob, t.bob.engine.handle(forged, retried.from, retried.to, t.clock.now));
  assert.equal(t.bob.engine.counters.cookiesSent, before + 1);
  assert.equal(t.bob.engine.halfOpenCount, 2);
});

/*
 *   different PSKs:
 *   IKE_AUTH request 1 [ IDi IDr AUTH N(INIT_CONTACT) SA TSi TSr ] -->
 *                  <-- IKE_AUTH response 1 [ N(AUTH_FAILED) ]
 *   both sides: ike-failed, nothing installed, no reason on the wire
 */
Deno.test("engine: wrong PSK -> AUTHENTICATION_FAILED, no SA on either side", () => {
  const t = new TwoPeers(pskConfigs({ bobSecret: "a-different-secret" }));
  t.initiate("alice", "site");
  t.run(5000);
  assert.deepEqual(generated(t.bob).slice(1), ["IKE_AUTH response 1 [ N(AUTH_FAILED) ]"]);
  assert.equal(t.alice.eventsOf("ike-failed").length, 1);
  assert.equal(t.bob.eventsOf("ike-failed").length, 1);
  assert.equal(t.alice.engine.list().length, 0);
  assert.equal(t.bob.engine.list().length, 0);
  assert.equal(t.alice.sad.size + t.bob.sad.size, 0);
  assert.ok(t.bob.logs.some((l) => l.includes("pre-shared key AUTH mismatch")));
});

/*
 *   bob does not know alice's identity:
 *   IKE_AUTH request 1 [ IDi(mallory@...) ... ] -->  <-- IKE_AUTH response 1 [ N(AUTH_FAILED) ]
 */
Deno.test("engine: unknown initiator identity -> AUTHENTICATION_FAILED", () => {
  const mallory = parseIdentity("mallory@example.org");
  const cfg = pskConfigs({ alice: { local: { auth: "psk", id: mallory } } });
  cfg.alice = {
    ...cfg.alice,
    secrets: [{ ids: [], secret: new TextEncoder().encode("s3cret-psk-0123") }],
  };
  const t = new TwoPeers(cfg);
  t.initiate("alice", "site");
  t.run(5000);
  assert.deepEqual(generated(t.bob).slice(1), ["IKE_AUTH response 1 [ N(AUTH_FAILED) ]"]);
  assert.equal(t.alice.eventsOf("ike-failed").length, 1);
  assert.equal(t.bob.engine.list().length, 0);
  // The log says who was refused and whom the connection expects.
  assert.ok(
    t.bob.logs.some((l) =>
      l.includes(
        "no connection for peer 'mallory@example.org' (rfc822) asking for our " +
          "'bob.example.org' (fqdn): expected 'alice@example.org' (rfc822) in 'site'",
      )
    ),
    t.bob.logs.join("\n"),
  );
});

/*
 *   alice expects responder "bob.example.org" but does not send IDr; bob answers as
 *   "impostor.example.org" with a valid PSK:
 *   IKE_AUTH request 1 [ IDi AUTH N(INIT_CONTACT) SA TSi TSr ] -->
 *          <-- IKE_AUTH response 1 [ IDr AUTH SA TSi TSr ]
 *   INFORMATIONAL request 2 [ N(AUTH_FAILED) ] -->   (alice forgets the SA at once)
 *   bob deletes its SA and children when that arrives.
 */
Deno.test("engine: initiator rejecting the responder's identity sends AUTH_FAILED", () => {
  const impostor = parseIdentity("impostor.example.org");
  const cfg = pskConfigs({
    alice: { sendIdr: false },
    bob: { local: { auth: "psk", id: impostor } },
  });
  cfg.bob = {
    ...cfg.bob,
    secrets: [{ ids: [], secret: new TextEncoder().encode("s3cret-psk-0123") }],
  };
  const t = new TwoPeers(cfg);
  t.initiate("alice", "site");
  t.run(5000);
  assert.equal(generated(t.alice).at(-1), "INFORMATIONAL request 2 [ N(AUTH_FAILED) ]");
  assert.equal(t.alice.eventsOf("ike-failed").length, 1);
  assert.match(
    t.alice.eventsOf("ike-failed")[0].reason,
    /'impostor\.example\.org' \(fqdn\) not accepted \(expected 'bob\.example\.org' \(fqdn\)\)/,
  );
  assert.equal(t.alice.sad.size, 0);
  assert.equal(t.bob.eventsOf("ike-down").length, 1);
  assert.equal(t.bob.sad.size, 0);
  assert.equal(t.bob.engine.list().length, 0);
});

/*
 *   bob's child selectors do not overlap alice's:
 *   IKE_AUTH request 1 [ IDi IDr AUTH N(INIT_CONTACT) SA TSi TSr ] -->
 *                  <-- IKE_AUTH response 1 [ IDr AUTH N(TS_UNACCEPT) ]
 *   IKE SA up on both sides, no child SA.
 */
Deno.test("engine: TS_UNACCEPTABLE fails the child but keeps the IKE SA", () => {
  const t = new TwoPeers(pskConfigs({ bobChild: { remoteTs: ["172.16.0.0/12"] } }));
  t.initiate("alice", "site");
  t.run(5000);
  assert.equal(
    generated(t.bob)[1],
    "IKE_AUTH response 1 [ IDr AUTH N(TS_UNACCEPT) N(MOBIKE_SUP) N(NO_ADD_ADDR) ]",
  );
  assert.equal(t.alice.eventsOf("ike-up").length, 1);
  assert.equal(t.bob.eventsOf("ike-up").length, 1);
  assert.equal(t.alice.eventsOf("child-failed").length, 1);
  // The reason names the notify (not its number) so the log line says what went wrong.
  assert.match(t.alice.eventsOf("child-failed")[0].reason, /: TS_UNACCEPTABLE$/);
  assert.equal(t.bob.eventsOf("child-failed").length, 1);
  // Bob's reason shows what was asked and what he has, as strongSwan's log does.
  assert.equal(
    t.bob.eventsOf("child-failed")[0].reason,
    "traffic selectors 10.1.0.0/16 === 10.2.0.0/16 unacceptable; " +
      "configured 172.16.0.0/12 === 10.2.0.0/16",
  );
  assert.equal(t.alice.sad.size + t.bob.sad.size, 0);
});

/*
 *   IKE_AUTH request 1 [ ... SA(aes128gcm16) TSi TSr ] -->
 *                  <-- IKE_AUTH response 1 [ IDr AUTH N(NO_PROP) ]
 */
Deno.test("engine: child NO_PROPOSAL_CHOSEN keeps the IKE SA", () => {
  const t = new TwoPeers(
    pskConfigs({ espProposals: "aes128gcm16", bobEspProposals: "aes256-sha256" }),
  );
  t.initiate("alice", "site");
  t.run(5000);
  assert.equal(
    generated(t.bob)[1],
    "IKE_AUTH response 1 [ IDr AUTH N(NO_PROP) N(MOBIKE_SUP) N(NO_ADD_ADDR) ]",
  );
  assert.equal(t.alice.engine.list()[0].state, "established");
  assert.equal(t.alice.eventsOf("child-failed").length, 1);
  assert.ok(
    t.bob.logs.some((l) =>
      l.includes("received ESP:AES_GCM_16_128/NO_EXT_SEQ; configured ESP:AES_CBC_256/")
    ),
    t.bob.logs.join("\n"),
  );
  assert.equal(t.alice.sad.size + t.bob.sad.size, 0);
});

/*
 *   the first IKE_AUTH request is corrupted in flight (one ciphertext bit):
 *   IKE_AUTH request 1 (bad ICV) -->   dropped silently, counted, not answered
 *   IKE_AUTH request 1 (retransmit) -->  <-- IKE_AUTH response 1
 */
Deno.test("engine: a message failing its integrity check is dropped silently and counted", () => {
  let corrupted = false;
  const t = new TwoPeers(pskConfigs());
  t.initiate("alice", "site");
  // Deliver IKE_SA_INIT, then corrupt the IKE_AUTH request in place before delivery.
  const orig = t.net.send.bind(t.net);
  t.net.send = (from, to, bytes, now) => {
    const h = decodeMessage(bytes).header;
    if (!corrupted && h.exchangeType === ExchangeType.IKE_AUTH && !h.response) {
      corrupted = true;
      const b = bytes.slice();
      b[b.length - 20] ^= 1;
      return orig(from, to, b, now);
    }
    return orig(from, to, bytes, now);
  };
  t.run(20_000);
  assert.equal(t.bob.engine.counters.integrityFailures, 1);
  assert.equal(t.alice.engine.counters.retransmits, 1);
  assert.equal(generated(t.bob).filter((l) => l.startsWith("IKE_AUTH response")).length, 1);
  assert.equal(t.alice.eventsOf("ike-up").length, 1);
});

/*
 *   bob never answers:
 *   IKE_SA_INIT request 0 --> (lost) x 6 (1 + 5 retransmits at 4, 7.2, 13, 23, 42 s)
 *   alice gives up: ike-failed
 */
Deno.test("engine: retransmission with back-off, then give-up", () => {
  const t = new TwoPeers({ ...pskConfigs(), network: { lossRate: 1 } });
  t.initiate("alice", "site");
  t.run(400_000);
  const sends = t.net.sent.map((s) => s.at);
  assert.deepEqual(sends, [0, 4000, 11200, 24160, 47488, 89478]);
  assert.equal(t.alice.eventsOf("ike-failed").length, 1);
  assert.equal(t.alice.engine.list().length, 0);
  assert.equal(t.clock.pending("alice").length, 0);
});

/*
 *   a configurable give-up: 2 tries with 1 s, base 2
 */
Deno.test("engine: retransmit policy from the connection config", () => {
  const t = new TwoPeers({
    ...pskConfigs({ alice: { retransmit: { timeoutMs: 1000, base: 2, tries: 2 } } }),
    network: { lossRate: 1 },
  });
  t.initiate("alice", "site");
  t.run(100_000);
  assert.deepEqual(t.net.sent.map((s) => s.at), [0, 1000, 3000]);
  assert.equal(t.alice.eventsOf("ike-failed")[0].reason, "peer not responding");
});

/*
 *   every IKE_AUTH request is lost: bob's half-open SA expires after 30 s
 */
Deno.test("engine: half-open responder SA expires", () => {
  const t = new TwoPeers({
    ...pskConfigs(),
    network: {
      filter: (d) => decodeMessage(d.bytes).header.exchangeType !== ExchangeType.IKE_AUTH,
    },
  });
  t.initiate("alice", "site");
  t.run(29_000);
  assert.equal(t.bob.engine.halfOpenCount, 1);
  t.run(31_000);
  assert.equal(t.bob.engine.halfOpenCount, 0);
  assert.equal(t.bob.engine.list().length, 0);
  assert.equal(t.bob.eventsOf("ike-failed")[0].reason, "half-open IKE_SA timed out");
});

/*
 *   garbage and truncated datagrams never change state
 */
Deno.test("engine: malformed datagrams are counted and dropped", () => {
  const t = new TwoPeers(pskConfigs());
  t.initiate("alice", "site");
  t.run(5000);
  const from = { address: "192.0.2.1", port: 500 };
  const to = { address: "192.0.2.2", port: 500 };
  const fx = [
    ...t.bob.engine.handle(new Uint8Array(10), from, to, t.clock.now),
    ...t.bob.engine.handle(t.net.sent[2].bytes.subarray(0, 60), from, to, t.clock.now),
  ];
  assert.equal(fx.filter((e) => e.kind !== "log").length, 0);
  assert.equal(t.bob.engine.counters.parseErrors, 2);
  // An unknown SPI is dropped too.
  const b = t.net.sent[2].bytes.slice();
  b[0] ^= 0xff;
  assert.equal(
    t.bob.engine.handle(b, from, to, t.clock.now).filter((e) => e.kind === "send").length,
    0,
  );
  assert.equal(t.bob.engine.counters.unknownSpi, 1);
});

/*
 *   keyingTries 3 and a dead responder: three IKE_SA_INIT attempts (each with its own
 *   retransmissions and a new SPIi), then alice gives up for good.
 */
Deno.test("engine: keyingTries restarts a failed initiation", () => {
  const t = new TwoPeers({
    ...pskConfigs({
      alice: { keyingTries: 3, retransmit: { timeoutMs: 1000, base: 2, tries: 1 } },
    }),
    network: { lossRate: 1 },
  });
  t.initiate("alice", "site");
  t.run(60_000);
  const spis = new Set(t.net.sent.map((s) => decodeMessage(s.bytes).header.spiI));
  assert.equal(spis.size, 3);
  assert.equal(t.net.sent.length, 6);
  assert.equal(t.alice.eventsOf("ike-failed").length, 3);
  assert.equal(t.alice.engine.list().length, 0);
});

Deno.test("engine: keyingTries 0 retries until the peer answers; a refusal is never retried", () => {
  // The responder is unreachable for the first 3 minutes (several retransmission sequences).
  let reachable = false;
  const t = new TwoPeers({
    ...pskConfigs({
      alice: { keyingTries: 0, retransmit: { timeoutMs: 1000, base: 2, tries: 2 } },
    }),
    network: { filter: () => reachable },
  });
  t.initiate("alice", "site");
  t.run(180_000);
  assert.ok(t.alice.eventsOf("ike-failed").length >= 20, "kept trying");
  reachable = true;
  t.run(t.clock.now + 30_000);
  assert.equal(t.alice.eventsOf("ike-up").length, 1);
  assert.equal(t.alice.engine.list().length, 1);
  // A wrong PSK is a refusal: one attempt, however many tries are configured.
  const w = new TwoPeers(pskConfigs({ alice: { keyingTries: 0 }, bobSecret: "another key" }));
  w.initiate("alice", "site");
  w.run(120_000);
  assert.equal(w.alice.eventsOf("ike-failed").length, 1);
  assert.equal(w.alice.engine.list().length, 0);
});
