import assert from "node:assert/strict";
import { parseIdentity } from "../../lib/db/identity.ts";
import { formatTsRange } from "../../lib/ikev2/payloads/ts.ts";
import { decodeMessage } from "../../lib/ikev2/message.ts";
import { ExchangeType } from "../../lib/ikev2/constants.ts";
import { equalBytes } from "../../lib/wire/bytes.ts";
import { type Peer, pskConfigs, TwoPeers } from "../helpers/two_peers.ts";

/** Alice's outbound SA must be Bob's inbound SA (same SPI and keys), and vice versa. */
function assertMirrored(a: Peer, b: Peer): void {
  assert.equal(a.sad.size, 2, `${a.name} has ${a.sad.size} SA directions`);
  assert.equal(b.sad.size, 2, `${b.name} has ${b.sad.size} SA directions`);
  for (const [x, y] of [[a, b], [b, a]]) {
    const out = x.outbound()[0];
    const inb = y.inbound().find((s) => s.spi === out.spi);
    assert.ok(inb, `${y.name} has no inbound SA for ${x.name}'s outbound SPI`);
    assert.equal(out.src, inb.src);
    assert.equal(out.dst, inb.dst);
    assert.deepEqual(out.encr?.id, inb.encr?.id);
    assert.ok(equalBytes(out.encr?.key ?? new Uint8Array(), inb.encr?.key ?? new Uint8Array()));
    assert.ok(equalBytes(out.integ?.key ?? new Uint8Array(), inb.integ?.key ?? new Uint8Array()));
    assert.equal(out.mode, inb.mode);
  }
  // The two directions use different keys.
  const o = a.outbound()[0], i = a.inbound()[0];
  assert.ok(!equalBytes(o.encr?.key ?? o.integ!.key, i.encr?.key ?? i.integ!.key));
}

function generated(p: Peer): string[] {
  return p.logs.filter((l) => l.includes("generating")).map((l) => l.replace(/^.*generating /, ""));
}

/*
 *   alice (initiator)                                  bob (responder)
 *   IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) N(HASH_ALG) N(REDIR_SUP) ] -->
 *        <-- IKE_SA_INIT response 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) N(HASH_ALG) N(CHDLESS_SUP) N(MULT_AUTH) ]
 *   IKE_AUTH request 1 [ IDi IDr AUTH N(INIT_CONTACT) N(MULT_AUTH) SA TSi TSr N(MOBIKE_SUP) N(NO_ADD_ADDR) ] -->
 *        <-- IKE_AUTH response 1 [ IDr AUTH SA TSi TSr N(MOBIKE_SUP) N(NO_ADD_ADDR) ]
 */
Deno.test("engine: PSK handshake brings up IKE SA and mirrored child SAs", () => {
  const t = new TwoPeers(pskConfigs());
  t.initiate("alice", "site");
  t.run(5000);
  assert.deepEqual(generated(t.alice), [
    "IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) N(HASH_ALG) N(REDIR_SUP) ]",
    "IKE_AUTH request 1 [ IDi IDr AUTH N(INIT_CONTACT) N(MULT_AUTH) SA TSi TSr N(MOBIKE_SUP) N(NO_ADD_ADDR) ]",
  ]);
  assert.deepEqual(generated(t.bob), [
    "IKE_SA_INIT response 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) N(HASH_ALG) N(CHDLESS_SUP) N(MULT_AUTH) ]",
    "IKE_AUTH response 1 [ IDr AUTH SA TSi TSr N(MOBIKE_SUP) N(NO_ADD_ADDR) ]",
  ]);
  assert.equal(t.alice.eventsOf("ike-up").length, 1);
  assert.equal(t.bob.eventsOf("ike-up").length, 1);
  assert.equal(t.alice.eventsOf("child-up").length, 1);
  assertMirrored(t.alice, t.bob);
  // Once up, neither side keeps what only the handshake needed.
  for (const p of [t.alice, t.bob]) {
    const sa = p.engine.ikeSa(p.engine.list()[0].id)!;
    assert.equal(sa.keyExchange, undefined);
    assert.equal(sa.initRequest, undefined);
    assert.equal(sa.initResponse, undefined);
    assert.equal(sa.initOffer, undefined);
  }
  const out = t.alice.outbound()[0];
  assert.equal(out.src, "192.0.2.1");
  assert.equal(out.dst, "192.0.2.2");
  assert.equal(out.mode, "tunnel");
  assert.equal(out.encr?.id, 20); // ENCR_AES_GCM_16
  assert.equal(out.encr?.key.length, 36); // 256-bit key + 4-byte salt
  assert.equal(out.integ, undefined);
  assert.deepEqual(out.localTs.map(formatTsRange), ["10.1.0.0-10.1.255.255"]);
  assert.deepEqual(out.remoteTs.map(formatTsRange), ["10.2.0.0-10.2.255.255"]);
  const [ia] = t.alice.engine.list();
  assert.equal(ia.state, "established");
  assert.equal(ia.remoteId, "bob.example.org");
  const [ib] = t.bob.engine.list();
  assert.equal(ib.remoteId, "alice@example.org");
  assert.equal(ia.spiI, ib.spiI);
  assert.equal(ia.spiR, ib.spiR);
  assert.equal(ia.natLocal || ia.natRemote || ib.natLocal || ib.natRemote, false);
  // Bob learned the signature hashes Alice supports (RFC 7427 notify).
  assert.deepEqual(t.bob.engine.ikeSa(ib.id)!.peerSignatureHashes, [2, 3, 4, 5]);
  assert.equal(t.bob.engine.ikeSa(ib.id)!.peerFragmentation, true);
  // On the wire: IKE_SA_INIT in clear, IKE_AUTH protected (SK first payload = 46).
  const auth = t.net.sent.map((s) => decodeMessage(s.bytes)).find((d) =>
    d.header.exchangeType === ExchangeType.IKE_AUTH
  )!;
  assert.equal(auth.header.nextPayload, 46);
  assert.equal(auth.payloads.length, 0);
});

const IKE_PROPOSALS = [
  "aes128gcm16-prfsha256-x25519",
  "aes192gcm16-prfsha256-ecp256",
  "aes256gcm8-prfsha512-ecp384",
  "aes256gcm12-prfsha256-ecp521",
  "aes128ccm16-prfsha256-x25519",
  "aes192ccm8-prfsha384-ecp256",
  "aes256ccm12-prfsha512-x25519",
  "chacha20poly1305-prfsha256-x448",
  "aes128-sha256-modp2048",
  "aes256-sha384-x25519",
  "aes192-sha512-prfsha512-x25519",
  "aes128-sha1-prfsha1-modp3072",
  "aes128-aesxcbc-prfaesxcbc-x25519",
  "aes256-aescmac-prfaescmac-x25519",
  "aes128ctr-sha256-x25519",
  "aes192ctr-sha384-ecp256",
  "aes256ctr-sha512-prfsha256-modp2048",
];

for (const ike of IKE_PROPOSALS) {
  /*
   *   alice                                      bob
   *   IKE_SA_INIT request 0 [ SA(<ike>) KE No N... ] -->
   *                   <-- IKE_SA_INIT response 0 [ SA KE No N... ]
   *   IKE_AUTH request 1 [ IDi IDr AUTH N(INIT_CONTACT) N(MULT_AUTH) SA TSi TSr ] -->
   *                   <-- IKE_AUTH response 1 [ IDr AUTH SA TSi TSr ]
   */
  Deno.test(`engine: IKE proposal ${ike} establishes`, () => {
    const t = new TwoPeers(pskConfigs({ ikeProposals: ike }));
    t.initiate("alice", "site");
    t.run(5000);
    assert.equal(t.alice.eventsOf("ike-up").length, 1, t.alice.logs.join("\n"));
    assertMirrored(t.alice, t.bob);
  });
}

const ESP_PROPOSALS: [string, number, number | undefined][] = [
  ["aes128gcm16", 20, undefined],
  ["aes256gcm16-esn", 20, undefined],
  ["chacha20poly1305", 28, undefined],
  ["aes128ccm16", 16, undefined],
  ["aes256ccm8-esn", 14, undefined],
  ["aes192ccm12", 15, undefined],
  ["aes128-sha256", 12, 12],
  ["aes256-sha512", 12, 14],
  ["aes192-sha384", 12, 13],
  ["aes128-sha1", 12, 2],
  ["aes128ctr-sha256", 13, 12],
  ["aes192ctr-sha1-esn", 13, 2],
  ["aes256ctr-sha512", 13, 14],
  // RFC 4543: integrity only, KEYMAT key || 4-byte salt, no integrity transform.
  ["aes128gmac", 21, undefined],
  ["aes256gmac-esn", 21, undefined],
  ["aes192gmac", 21, undefined],
];
for (const [esp, encr, integ] of ESP_PROPOSALS) {
  /*
   *   alice                                   bob
   *   ... IKE_SA_INIT ...
   *   IKE_AUTH request 1 [ IDi IDr AUTH N(INIT_CONTACT) N(MULT_AUTH) SA(ESP <esp>) TSi TSr ] -->
   *                <-- IKE_AUTH response 1 [ IDr AUTH SA TSi TSr ]
   */
  Deno.test(`engine: ESP proposal ${esp} is keyed in both directions`, () => {
    const t = new TwoPeers(pskConfigs({ espProposals: esp }));
    t.initiate("alice", "site");
    t.run(5000);
    assertMirrored(t.alice, t.bob);
    const out = t.alice.outbound()[0];
    assert.equal(out.protocol, "esp");
    assert.equal(out.encr?.id, encr);
    assert.equal(out.integ?.id, integ);
    assert.equal(out.esn, esp.endsWith("-esn"));
    // KEYMAT: the AES key, then the salt (RFC 4309 section 7.1: 3 bytes for CCM).
    const bits = Number(esp.match(/^aes(\d+)/)?.[1] ?? 256);
    const salt = encr === 12 ? 0 : encr >= 14 && encr <= 16 ? 3 : 4;
    assert.equal(out.encr?.key.length, bits / 8 + salt);
  });
}

/*
 *   alice                                    bob
 *   ... IKE_SA_INIT ...
 *   IKE_AUTH request 1 [ IDi IDr AUTH N(INIT_CONTACT) N(MULT_AUTH) SA(AH) TSi TSr ] -->
 *               <-- IKE_AUTH response 1 [ IDr AUTH SA TSi TSr ]
 */
Deno.test("engine: AH child SA (sha256) is negotiated and keyed", () => {
  const t = new TwoPeers(pskConfigs({
    espProposals: "sha256",
    aliceChild: { protocol: "ah" },
    bobChild: { protocol: "ah" },
  }));
  t.initiate("alice", "site");
  t.run(5000);
  assertMirrored(t.alice, t.bob);
  const out = t.alice.outbound()[0];
  assert.equal(out.protocol, "ah");
  assert.equal(out.encr, undefined);
  assert.equal(out.integ?.id, 12);
  assert.equal(out.integ?.key.length, 32);
});

/*
 *   alice                                       bob
 *   ... IKE_SA_INIT ...
 *   IKE_AUTH request 1 [ IDi IDr AUTH N(INIT_CONTACT) N(MULT_AUTH) N(USE_TRANSP) SA TSi TSr ] -->
 *               <-- IKE_AUTH response 1 [ IDr AUTH N(USE_TRANSP) SA TSi TSr ]
 */
Deno.test("engine: USE_TRANSPORT_MODE gives transport SAs on both sides", () => {
  const t = new TwoPeers(pskConfigs({
    aliceChild: { mode: "transport", localTs: ["dynamic"], remoteTs: ["dynamic"] },
    bobChild: { mode: "transport", localTs: ["dynamic"], remoteTs: ["dynamic"] },
  }));
  t.initiate("alice", "site");
  t.run(5000);
  assert.ok(generated(t.bob).some((l) => l.includes("N(USE_TRANSP)")));
  assertMirrored(t.alice, t.bob);
  const out = t.alice.outbound()[0];
  assert.equal(out.mode, "transport");
  assert.deepEqual(out.localTs.map(formatTsRange), ["192.0.2.1-192.0.2.1"]);
  assert.deepEqual(out.remoteTs.map(formatTsRange), ["192.0.2.2-192.0.2.2"]);
});

/*
 *   alice (transport)                          bob (tunnel only)
 *   IKE_AUTH request 1 [ ... N(USE_TRANSP) SA TSi TSr ] -->
 *               <-- IKE_AUTH response 1 [ IDr AUTH SA TSi TSr ]   (no USE_TRANSP)
 *   alice refuses the tunnel-mode child and deletes bob's half; the IKE SA stays up.
 *   INFORMATIONAL request 2 [ D ] -->
 *               <-- INFORMATIONAL response 2 [ D ]
 */
Deno.test("engine: responder refusing transport mode fails only the child", () => {
  const t = new TwoPeers(pskConfigs({
    aliceChild: { mode: "transport" },
  }));
  t.initiate("alice", "site");
  t.run(5000);
  assert.equal(t.alice.eventsOf("ike-up").length, 1);
  assert.equal(t.alice.eventsOf("child-failed").length, 1);
  assert.equal(t.alice.sad.size, 0);
  assert.equal(t.bob.eventsOf("child-down").length, 1);
  assert.equal(t.bob.sad.size, 0);
  assert.equal(t.bob.engine.list()[0].state, "established");
});

/*
 *   alice asks TSi 10.0.0.0/8, TSr 10.2.0.0/16; bob allows only 10.1.0.0/16 <-> 10.2.0.0/16
 *   IKE_AUTH request 1 [ ... SA TSi(10.0.0.0/8) TSr ] -->
 *         <-- IKE_AUTH response 1 [ IDr AUTH N(ADD_TS_POSS) SA TSi(10.1.0.0/16) TSr ]
 */
Deno.test("engine: responder narrows traffic selectors (RFC 7296 2.9)", () => {
  const t = new TwoPeers(pskConfigs({
    aliceChild: { localTs: ["10.0.0.0/8"] },
  }));
  t.initiate("alice", "site");
  t.run(5000);
  assertMirrored(t.alice, t.bob);
  assert.deepEqual(t.alice.outbound()[0].localTs.map(formatTsRange), ["10.1.0.0-10.1.255.255"]);
  assert.deepEqual(t.bob.outbound()[0].remoteTs.map(formatTsRange), ["10.1.0.0-10.1.255.255"]);
  assert.ok(generated(t.bob).some((l) => l.includes("N(ADD_TS_POSS)")));
});

/*
 *   alice 192.0.2.1 --NAT 203.0.113.7:30000-- bob 192.0.2.2
 *   IKE_SA_INIT request 0 [ ... N(NATD_S_IP=hash(192.0.2.1:500)) N(NATD_D_IP) ] -->
 *          (bob sees source 203.0.113.7:30000: no NATD_S_IP matches -> peer behind NAT)
 *   IKE_AUTH from 192.0.2.1:4500 (NAT: 203.0.113.7:30001) to 192.0.2.2:4500: bob floats there
 *             <-- IKE_SA_INIT response 0 [ ... N(NATD_D_IP=hash(203.0.113.7:30000)) ]
 *          (alice: NATD_D_IP != hash(192.0.2.1:500) -> we are behind NAT)
 */
Deno.test("engine: NAT_DETECTION notifies detect a NAT on the right side", () => {
  const t = new TwoPeers({
    ...pskConfigs(),
    aliceNat: { address: "203.0.113.7", port: 30000 },
  });
  t.initiate("alice", "site");
  t.run(5000);
  const [a] = t.alice.engine.list();
  const [b] = t.bob.engine.list();
  assert.equal(a.natLocal, true);
  assert.equal(a.natRemote, false);
  assert.equal(b.natLocal, false);
  assert.equal(b.natRemote, true);
  assert.equal(b.remote.address, "203.0.113.7");
  // Child SAs carry UDP encapsulation ports; IKE moved to port 4500 after IKE_SA_INIT.
  assert.deepEqual(t.alice.outbound()[0].encap, { srcPort: 4500, dstPort: 4500 });
  // Bob sees alice's NAT mapping of her port 4500 (the second mapping: 30001).
  assert.deepEqual(t.bob.outbound()[0].encap, { srcPort: 4500, dstPort: 30001 });
  assert.equal(a.remote.port, 4500);
  assert.deepEqual(t.bob.engine.list()[0].remote, { address: "203.0.113.7", port: 30001 });
  const auth = t.net.sent.find((s) => s.bytes.length > 1 && s.bytes[18] === 35)!;
  assert.equal(auth.to.port, 4500);
  // Alice (behind the NAT) sends a keepalive every 20 s; bob does not.
  const before = t.net.sent.length;
  t.run(t.clock.now + 65_000);
  const ka = t.net.sent.slice(before).filter((s) => s.bytes.length === 1 && s.bytes[0] === 0xff);
  assert.equal(ka.length, 3);
  assert.ok(ka.every((s) => s.from.port === 30001 && s.to.port === 4500));
  assert.ok(t.alice.effects.some((e) => e.kind === "send" && e.raw === true));
  assert.ok(!t.bob.effects.some((e) => e.kind === "send" && e.raw === true));
});

/*
 *   encap: yes on alice without any NAT: alice fakes NATD_S_IP, both move to
 *   port 4500 and use UDP encapsulation (as strongSwan's encap=yes).
 */
Deno.test("engine: forced UDP encapsulation (encap: yes)", () => {
  const t = new TwoPeers(pskConfigs({ alice: { encap: true } }));
  t.initiate("alice", "site");
  t.run(5000);
  const [a] = t.alice.engine.list();
  const [b] = t.bob.engine.list();
  assert.equal(a.natLocal, true);
  assert.equal(b.natRemote, true);
  assert.equal(a.remote.port, 4500);
  assert.equal(b.remote.port, 4500);
  assert.deepEqual(t.bob.outbound()[0].encap, { srcPort: 4500, dstPort: 4500 });
});

/*
 *   Both sides without NAT: each NATD hash matches, no encapsulation.
 */
Deno.test("engine: no NAT -> no UDP encapsulation", () => {
  const t = new TwoPeers(pskConfigs());
  t.initiate("alice", "site");
  t.run(5000);
  assert.equal(t.alice.outbound()[0].encap, undefined);
});

/*
 *   alice sends IDr only when sendIdr is not false:
 *   IKE_AUTH request 1 [ IDi AUTH N(INIT_CONTACT) N(MULT_AUTH) SA TSi TSr ] -->
 *   bob picks its connection by IDi alone.
 */
Deno.test("engine: IKE_AUTH without IDr; IPv4 and FQDN identities", () => {
  const cfg = pskConfigs({
    alice: { sendIdr: false, local: { auth: "psk", id: parseIdentity("192.0.2.1") } },
    bob: { remote: { auth: "psk", id: parseIdentity("192.0.2.1") } },
  });
  const ids = [parseIdentity("192.0.2.1"), parseIdentity("bob.example.org")];
  const secret = new TextEncoder().encode("another-secret-1");
  cfg.alice = { ...cfg.alice, secrets: [{ ids, secret }] };
  cfg.bob = { ...cfg.bob, secrets: [{ ids, secret }] };
  const t = new TwoPeers(cfg);
  t.initiate("alice", "site");
  t.run(5000);
  assert.ok(generated(t.alice).some((l) => l.startsWith("IKE_AUTH request 1 [ IDi AUTH N(")));
  assert.equal(t.bob.engine.list()[0].remoteId, "192.0.2.1");
  assertMirrored(t.alice, t.bob);
});

/*
 *   alice behind a NAT that rebinds her mapping (new public port 40000):
 *   INFORMATIONAL request 2 [ ] from 203.0.113.7:40000 -->  bob floats: it answers
 *   there and moves its SAs' UDP encapsulation (updateSa effects, no rekey).
 */
Deno.test("engine: NAT port floating updates the IKE SA and the installed SAs in place", () => {
  // Without MOBIKE (with it, only UPDATE_SA_ADDRESSES moves the SA: engine_mobike_test.ts).
  const t = new TwoPeers({
    ...pskConfigs({ alice: { dpdDelaySeconds: 10 }, bob: { dpdDelaySeconds: 0, mobike: false } }),
    aliceNat: { address: "203.0.113.7", port: 30000 },
  });
  t.initiate("alice", "site");
  t.run(5000);
  const spi = t.bob.outbound()[0].spi;
  t.natRebind(40000);
  t.run(t.clock.now + 12_000); // alice's liveness check goes out from the new mapping
  assert.deepEqual(t.bob.engine.list()[0].remote, { address: "203.0.113.7", port: 40000 });
  assert.deepEqual(t.bob.sad.get(`out/${spi}`)?.encap, { srcPort: 4500, dstPort: 40000 });
  assert.ok(t.bob.effects.some((e) => e.kind === "updateSa" && e.direction === "in"));
  assert.equal(t.bob.eventsOf("child-up").length, 1, "no renegotiation");
  assert.equal(t.alice.engine.list()[0].state, "established");
});

/*
 *   alice behind a NAT (203.0.113.7:30000), no liveness checks on either side
 *   the NAT maps her anew (port 40000); her ESP now comes from there
 *   bob's data plane reports authenticated ESP from 203.0.113.7:40000 (peerMapping):
 *   bob follows (RFC 7296 section 2.23; RFC 4555 section 3.8 allows it with MOBIKE)
 */
Deno.test("engine: ESP from the peer's new NAT mapping moves the IKE SA and its child SAs", () => {
  for (const mobike of [true, false]) {
    const t = new TwoPeers({
      ...pskConfigs({ alice: { dpdDelaySeconds: 0 }, bob: { dpdDelaySeconds: 0, mobike } }),
      aliceNat: { address: "203.0.113.7", port: 30000 },
    });
    t.initiate("alice", "site");
    t.run(5000);
    const bobSa = t.bob.engine.list()[0];
    const childId = bobSa.children[0].id;
    const spi = t.bob.outbound()[0].spi;
    t.natRebind(40000);
    const moved = { address: "203.0.113.7", port: 40000 };
    t.apply(t.bob, t.bob.engine.peerMapping(childId, moved, t.clock.now));
    assert.deepEqual(t.bob.engine.list()[0].remote, moved, `mobike ${mobike}`);
    assert.deepEqual(t.bob.sad.get(`out/${spi}`)?.encap, { srcPort: 4500, dstPort: 40000 });
    assert.equal(t.bob.eventsOf("child-up").length, 1, "no renegotiation");
    // Alice is behind the NAT, bob is not: alice never follows ESP herself.
    const aliceChild = t.alice.engine.list()[0].children[0].id;
    const before = t.alice.engine.list()[0].remote;
    t.apply(
      t.alice,
      t.alice.engine.peerMapping(aliceChild, { address: "192.0.2.99", port: 4500 }, t.clock.now),
    );
    assert.deepEqual(t.alice.engine.list()[0].remote, before);
  }
});

/*
 *   alice (no child configured)                        bob
 *   IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) N(HASH_ALG) N(REDIR_SUP) ] -->
 *        <-- IKE_SA_INIT response 0 [ ... N(CHDLESS_SUP) N(MULT_AUTH) ]
 *   IKE_AUTH request 1 [ IDi IDr AUTH N(INIT_CONTACT) N(MULT_AUTH) N(MOBIKE_SUP) N(NO_ADD_ADDR) ] -->
 *        <-- IKE_AUTH response 1 [ IDr AUTH N(MOBIKE_SUP) N(NO_ADD_ADDR) ]
 */
Deno.test("engine: a childless IKE_AUTH (RFC 6023) brings up the IKE SA alone", () => {
  const cfg = pskConfigs();
  const alice = {
    ...cfg.alice,
    connections: cfg.alice.connections.map((c) => ({ ...c, children: [] })),
  };
  const t = new TwoPeers({ alice, bob: cfg.bob });
  t.initiate("alice", "site");
  t.run(5000);
  assert.deepEqual(generated(t.alice), [
    "IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) N(HASH_ALG) N(REDIR_SUP) ]",
    "IKE_AUTH request 1 [ IDi IDr AUTH N(INIT_CONTACT) N(MULT_AUTH) N(MOBIKE_SUP) N(NO_ADD_ADDR) ]",
  ]);
  assert.deepEqual(generated(t.bob), [
    "IKE_SA_INIT response 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) N(HASH_ALG) N(CHDLESS_SUP) N(MULT_AUTH) ]",
    "IKE_AUTH response 1 [ IDr AUTH N(MOBIKE_SUP) N(NO_ADD_ADDR) ]",
  ]);
  assert.equal(t.alice.eventsOf("ike-up").length, 1);
  assert.equal(t.bob.eventsOf("ike-up").length, 1);
  assert.equal(t.alice.eventsOf("child-up").length + t.bob.eventsOf("child-up").length, 0);
  assert.equal(t.alice.sad.size + t.bob.sad.size, 0);
});
