/**
 * Raw public keys (swanctl's `pubkeys`): two hosts that trust each other's
 * public key, with no certificate and no CA. Each signs AUTH with its bare
 * private key (RFC 7427 signature, no CERT payload); the other verifies it
 * with the key it was given. A key that is not the configured one fails.
 *
 * ```
 *   alice                                             bob
 *   IKE_AUTH [ IDi IDr AUTH SA TSi TSr ... ]  -->      verified with alice's public key
 *                 <--  [ IDr AUTH SA TSi TSr ... ]     verified with bob's public key
 * ```
 */
import assert from "node:assert/strict";
import { splitCertificate } from "../../lib/pki/_der.ts";
import type { EngineConfig } from "../../lib/ikev2/peer_config.ts";
import type { KeyType } from "../../lib/pki/keys.ts";
import { makePki, NOW } from "../helpers/engine_pki.ts";
import { pskConfigs, TwoPeers } from "../helpers/two_peers.ts";

const spki = (cert: Uint8Array) => splitCertificate(cert).spki;

async function rawKeyConfigs(
  type: KeyType,
  bits?: number,
): Promise<{ alice: EngineConfig; bob: EngineConfig; other: Uint8Array }> {
  const pki = await makePki(type, bits);
  const spare = await makePki(type, bits);
  const base = pskConfigs();
  const a = base.alice.connections[0], b = base.bob.connections[0];
  return {
    alice: {
      connections: [{
        ...a,
        local: { auth: "pubkey", id: a.local.id, privateKey: pki.alice.key },
        remote: { auth: "pubkey", id: a.remote.id, pubkeys: [spki(pki.bob.cert)] },
      }],
    },
    bob: {
      connections: [{
        ...b,
        local: { auth: "pubkey", id: b.local.id, privateKey: pki.bob.key },
        remote: { auth: "pubkey", id: b.remote.id, pubkeys: [spki(pki.alice.cert)] },
      }],
    },
    other: spki(spare.alice.cert),
  };
}

function run(cfg: { alice: EngineConfig; bob: EngineConfig }): TwoPeers {
  const t = new TwoPeers({ ...cfg, startMs: NOW });
  t.initiate("alice", "site");
  t.run(NOW + 5000);
  return t;
}

for (const [type, bits] of [["ecdsa", 256], ["rsa", 2048], ["ed25519", undefined]] as const) {
  Deno.test(`engine raw public keys (${type}): no certificates, each side trusts the other's key`, async () => {
    const cfg = await rawKeyConfigs(type, bits);
    const t = run(cfg);
    assert.equal(t.alice.eventsOf("ike-up").length, 1, t.alice.logs.join("\n"));
    assert.equal(t.bob.eventsOf("ike-up").length, 1, t.bob.logs.join("\n"));
    assert.equal(t.alice.sad.size, 2);
    const auths = [...t.alice.logs, ...t.bob.logs].filter((l) => / generating IKE_AUTH /.test(l));
    assert.ok(auths.every((l) => !/CERT/.test(l)), auths.join("\n"));
    // Bob trusting another key refuses alice.
    const wrong = run({
      ...cfg,
      bob: {
        connections: [{
          ...cfg.bob.connections[0],
          remote: { ...cfg.bob.connections[0].remote, pubkeys: [cfg.other] },
        }],
      },
    });
    assert.equal(wrong.alice.eventsOf("ike-up").length, 0);
    assert.ok(
      wrong.bob.logs.some((l) => /no configured public key verifies the signature/.test(l)),
      wrong.bob.logs.join("\n"),
    );
  });
}
