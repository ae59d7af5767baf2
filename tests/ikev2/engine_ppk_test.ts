/**
 * Post-quantum preshared keys (RFC 8784) between two engines. Both announce
 * USE_PPK in IKE_SA_INIT; the initiator names its PPK in PPK_IDENTITY (and,
 * unless it requires the PPK, adds NO_PPK_AUTH, its AUTH data computed
 * without the PPK); a responder holding that PPK checks AUTH with SK_pi' and
 * answers with N(PPK_IDENTITY); then SK_d' keys the child SAs. A responder
 * without it falls back to NO_PPK_AUTH, unless either side requires the PPK.
 *
 * ```
 *   alice                                          bob
 *   IKE_SA_INIT [ ... N(USE_PPK) ]  -->
 *                 <--  [ ... N(USE_PPK) ]
 *   IKE_AUTH [ IDi AUTH(SK_pi') N(PPK_ID) N(NO_PPK_AUTH) SA TSi TSr ]  -->
 *                 <--  [ IDr AUTH(SK_pr') N(PPK_ID) SA TSi TSr ]     child keys from SK_d'
 * ```
 */
import assert from "node:assert/strict";
import { derivePpkKeys } from "../../lib/crypto/keys.ts";
import type { EngineConfig, PeerConfig } from "../../lib/ikev2/peer_config.ts";
import { fromHex, toHex } from "../../lib/wire/bytes.ts";
import { runPythonJson } from "../crypto/_python.ts";
import { pskConfigs, TwoPeers } from "../helpers/two_peers.ts";

const PPK = fromHex("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");

function configs(o: {
  alice?: Partial<PeerConfig>;
  bob?: Partial<PeerConfig>;
  alicePpks?: boolean;
  bobPpks?: boolean;
}): { alice: EngineConfig; bob: EngineConfig } {
  const base = pskConfigs({
    alice: { ppkId: "ppk-1", ...o.alice },
    ...(o.bob ? { bob: o.bob } : {}),
  });
  const ppks = [{ ids: ["ppk-1"], secret: PPK }];
  return {
    alice: { ...base.alice, ...(o.alicePpks === false ? {} : { ppks }) },
    bob: { ...base.bob, ...(o.bobPpks === false ? {} : { ppks }) },
  };
}

function run(cfg: { alice: EngineConfig; bob: EngineConfig }): TwoPeers {
  const t = new TwoPeers(cfg);
  t.initiate("alice", "site");
  t.run(5000);
  return t;
}

const generated = (logs: string[], what: RegExp) =>
  logs.filter((l) => / generating /.test(l) && what.test(l)).map((l) =>
    l.replace(/^.* generating /, "")
  );

Deno.test("derivePpkKeys(): prf+(PPK, SK_x) matches an independent HMAC-SHA-256 prf+", async () => {
  const keys = {
    skD: fromHex("0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"),
    skPi: fromHex("2122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40"),
    skPr: fromHex("4142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f60"),
  };
  const ours = derivePpkKeys(5, PPK, keys); // PRF_HMAC_SHA2_256
  const py = await runPythonJson(
    `import json, sys, hmac, hashlib
d = json.load(sys.stdin)
def prfplus(k, s, n):
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = hmac.new(k, t + s + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:n]
k = bytes.fromhex(d["ppk"])
print(json.dumps({x: prfplus(k, bytes.fromhex(d[x]), 32).hex() for x in ("skD", "skPi", "skPr")}))`,
    { ppk: toHex(PPK), skD: toHex(keys.skD), skPi: toHex(keys.skPi), skPr: toHex(keys.skPr) },
  ) as Record<string, string>;
  assert.deepEqual(
    { skD: toHex(ours.skD), skPi: toHex(ours.skPi), skPr: toHex(ours.skPr) },
    py,
  );
});

Deno.test("engine PPK: both sides hold the PPK, so it keys both AUTHs and the child SAs", () => {
  const t = run(configs({}));
  assert.equal(t.alice.eventsOf("ike-up").length, 1, t.alice.logs.join("\n"));
  assert.equal(t.bob.eventsOf("ike-up").length, 1);
  assert.match(generated(t.alice.logs, /IKE_SA_INIT request/)[0], /N\(USE_PPK\)/);
  assert.match(generated(t.bob.logs, /IKE_SA_INIT response/)[0], /N\(USE_PPK\)/);
  assert.match(
    generated(t.alice.logs, /IKE_AUTH request/)[0],
    /AUTH N\(PPK_IDENTITY\) N\(NO_PPK_AUTH\)/,
  );
  assert.match(generated(t.bob.logs, /IKE_AUTH response/)[0], /AUTH N\(PPK_IDENTITY\)/);
  // The child keys differ from a run without the PPK (same seeds, same nonces).
  const plain = run(configs({ alice: { ppkId: undefined } }));
  assert.equal(plain.alice.eventsOf("ike-up").length, 1);
  const key = (p: TwoPeers) => toHex(p.alice.inbound()[0].encr!.key);
  assert.notEqual(key(t), key(plain));
  assert.deepEqual(t.alice.inbound()[0].encr!.key, t.bob.outbound()[0].encr!.key);
  // An IKE SA rekey (from SK_d') works too.
  t.apply(t.alice, t.alice.engine.rekeyIke(t.alice.engine.list()[0].id, t.clock.now));
  t.run(t.clock.now + 5000);
  assert.equal(t.alice.eventsOf("ike-rekeyed").length, 1);
  assert.equal(t.bob.engine.list().length, 1);
});

Deno.test("engine PPK: a responder without the PPK falls back to NO_PPK_AUTH; ppk_required refuses", () => {
  const t = run(configs({ bobPpks: false }));
  assert.equal(t.alice.eventsOf("ike-up").length, 1, t.bob.logs.join("\n"));
  // Bob holds no PPK: he does not even echo USE_PPK; alice then sends neither notify.
  assert.doesNotMatch(generated(t.alice.logs, /IKE_AUTH request/)[0], /PPK/);
  // Bob has PPKs, but not alice's id: NO_PPK_AUTH carries her.
  const other = configs({});
  const u = run({ ...other, bob: { ...other.bob, ppks: [{ ids: ["other"], secret: PPK }] } });
  assert.equal(u.alice.eventsOf("ike-up").length, 1, u.bob.logs.join("\n"));
  assert.doesNotMatch(generated(u.bob.logs, /IKE_AUTH response/)[0], /PPK_ID/);
  // ... unless alice requires the PPK (no NO_PPK_AUTH, bob refuses) ...
  const r = run({
    ...other,
    alice: { ...other.alice, connections: [{ ...other.alice.connections[0], ppkRequired: true }] },
    bob: { ...other.bob, ppks: [{ ids: ["other"], secret: PPK }] },
  });
  assert.equal(r.alice.eventsOf("ike-up").length, 0);
  assert.doesNotMatch(generated(r.alice.logs, /IKE_AUTH request/)[0], /NO_PPK_AUTH/);
  assert.ok(r.bob.logs.some((l) => /no PPK 'ppk-1' here and no NO_PPK_AUTH/.test(l)));
  // ... or bob does.
  const b = run(configs({ bob: { ppkRequired: true }, alice: { ppkId: undefined } }));
  assert.equal(b.alice.eventsOf("ike-up").length, 0);
  assert.ok(b.bob.logs.some((l) => /no PPK used, but ppk_required is set/.test(l)));
  // alice requiring a PPK of a peer that has none fails before IKE_AUTH.
  const n = run(configs({ alice: { ppkRequired: true }, bobPpks: false }));
  assert.equal(n.alice.eventsOf("ike-up").length, 0);
  assert.match(n.alice.eventsOf("ike-failed")[0].reason, /does not support PPKs/);
});

Deno.test("engine PPK: different PPK values under one id fail authentication", () => {
  const c = configs({});
  const t = run({
    ...c,
    bob: { ...c.bob, ppks: [{ ids: ["ppk-1"], secret: PPK.map((x) => x ^ 1) }] },
  });
  assert.equal(t.alice.eventsOf("ike-up").length, 0);
  assert.equal(t.bob.eventsOf("ike-up").length, 0);
});
