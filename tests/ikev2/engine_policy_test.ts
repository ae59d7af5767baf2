import assert from "node:assert/strict";
import { parseIdentity, parseIdentityPattern } from "../../lib/db/identity.ts";
import { Pad } from "../../lib/db/pad.ts";
import { formatTsRange, tsRange } from "../../lib/ikev2/payloads/ts.ts";
import { type Peer, pskConfigs, TwoPeers } from "../helpers/two_peers.ts";

function generated(p: Peer): string[] {
  return p.logs.filter((l) => l.includes("generating")).map((l) => l.replace(/^.*generating /, ""));
}

const SECRET = new TextEncoder().encode("s3cret-psk-0123");

function withPad(pad: Pad) {
  const cfg = pskConfigs();
  cfg.bob = { ...cfg.bob, pad };
  return cfg;
}

/*
 *   bob's PAD: alice@example.org, PSK, may claim only 10.1.0.0/24
 *   IKE_AUTH request 1 [ IDi IDr AUTH N(INIT_CONTACT) SA TSi(10.1.0.0/16) TSr ] -->
 *            <-- IKE_AUTH response 1 [ IDr AUTH N(ADD_TS_POSS) SA TSi(10.1.0.0/24) TSr ]
 */
Deno.test("engine: PAD entry authorizes the peer and constrains its traffic selectors", () => {
  const pad = new Pad([{
    label: "alice",
    id: parseIdentityPattern("*@example.org"),
    auth: { method: "psk", secret: SECRET },
    allowedTs: [tsRange("10.1.0.0", "10.1.0.255")],
    spdLookup: "ts",
  }]);
  const t = new TwoPeers(withPad(pad));
  t.initiate("alice", "site");
  t.run(5000);
  assert.equal(t.bob.eventsOf("ike-up").length, 1, t.bob.logs.join("\n"));
  assert.deepEqual(t.bob.outbound()[0].remoteTs.map(formatTsRange), ["10.1.0.0-10.1.0.255"]);
  assert.deepEqual(t.alice.outbound()[0].localTs.map(formatTsRange), ["10.1.0.0-10.1.0.255"]);
});

/*
 *   bob's PAD knows only *@other.example: no entry for alice
 *            <-- IKE_AUTH response 1 [ N(AUTH_FAILED) ]
 */
Deno.test("engine: peer without a PAD entry -> AUTHENTICATION_FAILED", () => {
  const pad = new Pad([{
    label: "others",
    id: parseIdentityPattern("*@other.example"),
    auth: { method: "psk", secret: SECRET },
    allowedTs: [tsRange("0.0.0.0", "255.255.255.255")],
    spdLookup: "ts",
  }]);
  const t = new TwoPeers(withPad(pad));
  t.initiate("alice", "site");
  t.run(5000);
  assert.equal(generated(t.bob).at(-1), "IKE_AUTH response 1 [ N(AUTH_FAILED) ]");
  assert.ok(t.bob.logs.some((l) => l.includes("no PAD entry for alice@example.org")));
});

/*
 *   the PAD demands certificates from alice, who sends a PSK AUTH:
 *            <-- IKE_AUTH response 1 [ N(AUTH_FAILED) ]
 */
Deno.test("engine: PAD auth method mismatch -> AUTHENTICATION_FAILED", () => {
  const pad = new Pad([{
    label: "alice",
    id: parseIdentityPattern("alice@example.org"),
    auth: { method: "pubkey", trustAnchors: [] },
    allowedTs: [tsRange("0.0.0.0", "255.255.255.255")],
    spdLookup: "ts",
  }]);
  const t = new TwoPeers(withPad(pad));
  t.initiate("alice", "site");
  t.run(5000);
  assert.equal(generated(t.bob).at(-1), "IKE_AUTH response 1 [ N(AUTH_FAILED) ]");
});

/*
 *   PAD with an empty allowedTs: the IKE SA comes up, the child is refused.
 *            <-- IKE_AUTH response 1 [ IDr AUTH N(TS_UNACCEPT) ]
 */
Deno.test("engine: PAD allowing no selectors refuses the child only", () => {
  const pad = new Pad([{
    label: "alice",
    id: parseIdentityPattern("alice@example.org"),
    auth: { method: "psk", secret: SECRET },
    allowedTs: [],
    spdLookup: "ts",
  }]);
  const t = new TwoPeers(withPad(pad));
  t.initiate("alice", "site");
  t.run(5000);
  assert.equal(
    generated(t.bob).at(-1),
    "IKE_AUTH response 1 [ IDr AUTH N(TS_UNACCEPT) N(MOBIKE_SUP) N(NO_ADD_ADDR) ]",
  );
  assert.equal(t.alice.eventsOf("ike-up").length, 1);
  assert.equal(t.alice.sad.size + t.bob.sad.size, 0);
});

/*
 *   alice offers [aes128gcm16..., aes256gcm16...]; bob lists aes256 first.
 *   default: bob takes alice's first acceptable proposal (aes128);
 *   preferOwnProposals: bob takes its own first (aes256).
 */
Deno.test("engine: proposal choice follows the initiator's order unless the responder prefers its own", () => {
  for (const [preferOwn, bits] of [[false, 128], [true, 256]] as const) {
    const t = new TwoPeers(pskConfigs({
      ikeProposals: "aes128gcm16-prfsha256-x25519,aes256gcm16-prfsha384-x25519",
      bobIkeProposals: "aes256gcm16-prfsha384-x25519,aes128gcm16-prfsha256-x25519",
      bob: { preferOwnProposals: preferOwn },
    }));
    t.initiate("alice", "site");
    t.run(5000);
    const sa = t.alice.engine.ikeSa(t.alice.engine.list()[0].id)!;
    assert.equal(sa.suite?.encrKeyBits, bits, `preferOwn=${preferOwn}`);
  }
});

/*
 *   IKE_AUTH request 1 [ ... N(ESP_TFC_PAD_N) SA TSi TSr ] -->
 *   bob's outbound SA must not use TFC padding.
 */
Deno.test("engine: ESP_TFC_PADDING_NOT_SUPPORTED reaches the peer's SAD entry", () => {
  const t = new TwoPeers(pskConfigs({ aliceChild: { noTfcPadding: true } }));
  t.initiate("alice", "site");
  t.run(5000);
  assert.ok(generated(t.alice)[1].includes("N(ESP_TFC_PAD_N)"));
  assert.equal(t.bob.outbound()[0].tfcPadding, false);
  assert.equal(t.alice.outbound()[0].tfcPadding, true);
});

/*
 *   identities of every type the engine sends: DN, KEY_ID, IPv6 (and IPv6 IKE addresses)
 */
Deno.test("engine: DN, KEY_ID and IPv6 identities over IPv6", () => {
  for (
    const [a, b] of [
      ["C=CH, O=Example, CN=alice", "C=CH, O=Example, CN=bob"],
      ["keyid:0102030405", "keyid:a0b0c0"],
      ["2001:db8::1", "2001:db8::2"],
    ]
  ) {
    const ai = parseIdentity(a), bi = parseIdentity(b);
    const cfg = pskConfigs({
      alice: {
        localAddress: "2001:db8::1",
        remoteAddress: "2001:db8::2",
        local: { auth: "psk", id: ai },
        remote: { auth: "psk", id: bi },
      },
      bob: {
        localAddress: "2001:db8::2",
        local: { auth: "psk", id: bi },
        remote: { auth: "psk", id: ai },
      },
      aliceChild: { localTs: ["fd00:1::/64"], remoteTs: ["fd00:2::/64"] },
      bobChild: { localTs: ["fd00:2::/64"], remoteTs: ["fd00:1::/64"] },
    });
    cfg.alice = { ...cfg.alice, secrets: [{ ids: [ai, bi], secret: SECRET }] };
    cfg.bob = { ...cfg.bob, secrets: [{ ids: [ai, bi], secret: SECRET }] };
    const t = new TwoPeers(cfg);
    t.initiate("alice", "site");
    t.run(5000);
    assert.equal(t.bob.eventsOf("ike-up").length, 1, `${a}: ${t.bob.logs.join("\n")}`);
    assert.equal(t.alice.engine.list()[0].remoteId, bi.value);
    assert.equal(t.bob.engine.list()[0].remoteId, ai.value);
    assert.equal(t.alice.outbound()[0].dst, "2001:db8::2");
    assert.deepEqual(t.alice.outbound()[0].remoteTs.map(formatTsRange), [
      "fd00:2::-fd00:2::ffff:ffff:ffff:ffff",
    ]);
  }
});

/*
 *   the data plane on alice sees ESP with an unknown SPI from bob:
 *   INFORMATIONAL request 2 [ N(INVAL_SPI) ] -->
 *                 <-- INFORMATIONAL response 2 [ ]
 */
Deno.test("engine: INVALID_SPI is reported to the peer over the IKE SA", () => {
  const t = new TwoPeers(pskConfigs());
  t.initiate("alice", "site");
  t.run(5000);
  t.apply(t.alice, t.alice.engine.invalidSpi("192.0.2.2", "esp", 0xdeadbeef, t.clock.now));
  t.run(t.clock.now + 5000);
  assert.equal(generated(t.alice).at(-1), "INFORMATIONAL request 2 [ N(INVAL_SPI) ]");
  assert.ok(t.bob.logs.some((l) => l.includes("peer reports INVALID_SPI")));
  assert.equal(t.bob.sad.size, 2);
  // Unknown peer: nothing to do.
  assert.equal(t.alice.engine.invalidSpi("198.51.100.9", "esp", 1, t.clock.now).length, 0);
});

function roadWarrior(range: string, aliceExtra = {}) {
  const cfg = pskConfigs({
    alice: { vips: ["0.0.0.0"], ...aliceExtra },
    bob: { pools: ["rw"] },
    aliceChild: { localTs: ["dynamic"], remoteTs: ["10.2.0.0/16"] },
    bobChild: { localTs: ["10.2.0.0/16"], remoteTs: ["dynamic"] },
  });
  cfg.bob = { ...cfg.bob, pools: [{ name: "rw", range, dns: ["10.3.0.53"] }] };
  return cfg;
}

/*
 *   road warrior with a virtual IP from bob's pool 10.3.0.0/24:
 *   IKE_AUTH request 1 [ IDi IDr AUTH N(INIT_CONTACT) CPRQ(ADDR DNS) SA TSi TSr ] -->
 *          <-- IKE_AUTH response 1 [ IDr AUTH CPRP(ADDR DNS) SA TSi TSr ]
 *   TSi narrowed from 0.0.0.0/0 to the virtual IP; the lease is released on delete
 *   and the same identity gets the same address again.
 */
Deno.test("engine: configuration payload assigns a virtual IP from a pool", () => {
  const t = new TwoPeers(roadWarrior("10.3.0.0/24"));
  t.initiate("alice", "site");
  t.run(5000);
  assert.match(generated(t.alice)[1], /CPRQ\(ADDR DNS\) SA TSi TSr/);
  assert.match(generated(t.bob)[1], /CPRP\(ADDR DNS\) .*SA TSi TSr/);
  const ev = t.alice.eventsOf("virtual-ip");
  assert.deepEqual(ev.map((e) => [e.address, e.dns]), [["10.3.0.1", ["10.3.0.53"]]]);
  assert.deepEqual(t.alice.outbound()[0].localTs.map(formatTsRange), ["10.3.0.1-10.3.0.1"]);
  assert.deepEqual(t.bob.outbound()[0].remoteTs.map(formatTsRange), ["10.3.0.1-10.3.0.1"]);
  assert.deepEqual(t.bob.engine.leases("rw"), ["10.3.0.1"]);
  assert.equal(t.alice.engine.list()[0].vip, "10.3.0.1");
  t.apply(t.alice, t.alice.engine.terminate(t.alice.engine.list()[0].id, t.clock.now));
  t.run(t.clock.now + 5000);
  assert.deepEqual(t.bob.engine.leases("rw"), []);
  t.initiate("alice", "site");
  t.run(t.clock.now + 5000);
  assert.deepEqual(t.bob.engine.leases("rw"), ["10.3.0.1"]);
});

/*
 *   a one-address pool already in use:
 *          <-- IKE_AUTH response 1 [ IDr AUTH N(INT_ADDR_FAIL) ]
 *   the IKE SA comes up without a child SA.
 */
Deno.test("engine: exhausted pool answers INTERNAL_ADDRESS_FAILURE", () => {
  const t = new TwoPeers(roadWarrior("10.3.0.5-10.3.0.5", { initialContact: false }));
  t.initiate("alice", "site");
  t.run(5000);
  t.initiate("alice", "site");
  t.run(t.clock.now + 5000);
  assert.equal(
    generated(t.bob).at(-1),
    "IKE_AUTH response 1 [ IDr AUTH N(INT_ADDR_FAIL) N(MOBIKE_SUP) N(NO_ADD_ADDR) ]",
  );
  assert.equal(t.alice.engine.list().length, 2);
  assert.equal(t.alice.eventsOf("child-failed").length, 1);
  assert.deepEqual(t.bob.engine.leases("rw"), ["10.3.0.5"]);
});
