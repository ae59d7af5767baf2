/**
 * EAP-TLS in IKE_AUTH between two engines: alice logs in with her client
 * certificate inside EAP (RFC 5216, TLS 1.2 through the system libssl) to
 * bob, a gateway that proves itself with its certificate in IKE AUTH and is
 * the TLS server with the same certificate; the AUTHs after EAP are keyed by
 * the TLS-derived MSK. charon checks the same both ways in
 * tests/interop/eap_tls_charon_test.ts.
 */
import assert from "node:assert/strict";
import type { EngineConfig } from "../../lib/ikev2/peer_config.ts";
import { parseIdentity } from "../../lib/db/identity.ts";
import { TwoPeers } from "../helpers/two_peers.ts";
import { certConfigs, makePki } from "../helpers/engine_pki.ts";

async function tlsConfigs(o: { eapId?: string; aaaId?: string } = {}) {
  const issued = new Date(Date.now() - 86_400_000);
  const pki = await makePki("ecdsa", 256, { issued });
  const base = certConfigs(pki);
  const a = base.alice.connections[0], b = base.bob.connections[0];
  const cfg: { alice: EngineConfig; bob: EngineConfig } = {
    alice: {
      ...base.alice,
      connections: [{
        ...a,
        local: {
          auth: "eap",
          id: a.local.id,
          eapMethods: ["tls"],
          certs: [pki.alice.cert],
          privateKey: pki.alice.key,
        },
        remote: { ...a.remote, ...(o.aaaId ? { aaaId: parseIdentity(o.aaaId) } : {}) },
      }],
    },
    bob: {
      ...base.bob,
      connections: [{
        ...b,
        remote: {
          auth: "eap",
          id: b.remote.id,
          eapMethod: "tls",
          cacerts: [pki.ca],
          ...(o.eapId ? { eapId: o.eapId } : {}),
        },
      }],
    },
  };
  return cfg;
}

function run(cfg: { alice: EngineConfig; bob: EngineConfig }): TwoPeers {
  const startMs = Date.now();
  const t = new TwoPeers({ ...cfg, startMs });
  t.initiate("alice", "site");
  t.run(startMs + 10_000);
  return t;
}

Deno.test("engine EAP-TLS: a client certificate inside EAP brings the child SA up, MSK-keyed AUTHs", async () => {
  const t = run(await tlsConfigs());
  assert.equal(t.alice.eventsOf("ike-up").length, 1, t.alice.logs.join("\n"));
  assert.equal(t.bob.eventsOf("ike-up").length, 1, t.bob.logs.join("\n"));
  assert.equal(t.alice.sad.size, 2);
  const [ai] = t.alice.inbound(), [bo] = t.bob.outbound();
  assert.deepEqual(ai.encr?.key, bo.encr?.key);
  assert.ok(t.alice.logs.some((l) => /EAP-TLS authentication successful, MSK established/.test(l)));
  const [sa] = t.bob.engine.list();
  assert.equal(sa.auth, "EAP-TLS 'alice@example.org'");
});

Deno.test("engine EAP-TLS: the gateway asks the EAP identity (%any); a certificate naming someone else fails", async () => {
  const ok = run(await tlsConfigs({ eapId: "%any" }));
  assert.equal(ok.bob.eventsOf("ike-up").length, 1, ok.bob.logs.join("\n"));
  // The client's TLS server check: the gateway's certificate must name aaa_id.
  const t = run(await tlsConfigs({ aaaId: "radius.example.org" }));
  assert.equal(t.alice.eventsOf("ike-up").length, 0);
  assert.equal(t.bob.eventsOf("ike-up").length, 0);
  assert.match(
    t.alice.eventsOf("ike-failed")[0]?.reason ?? "",
    /EAP-TLS: the server's certificate: it does not name 'radius.example.org'/,
  );
});

Deno.test("engine EAP-TTLS: a password through the TLS tunnel (tunneled EAP-MSCHAPv2), MSK-keyed AUTHs", async () => {
  const cfg = await tlsConfigs();
  const a = cfg.alice.connections[0], b = cfg.bob.connections[0];
  const ttls: { alice: EngineConfig; bob: EngineConfig } = {
    alice: {
      ...cfg.alice,
      connections: [{
        ...a,
        local: { auth: "eap", id: a.local.id, eapId: "alice", eapMethods: ["ttls"] },
      }],
      eapSecrets: [{ ids: ["alice"], secret: "alice's password" }],
    },
    bob: {
      ...cfg.bob,
      connections: [{ ...b, remote: { auth: "eap", eapMethod: "ttls", eapId: "%any" } }],
      eapSecrets: [{ ids: ["alice"], secret: "alice's password" }],
    },
  };
  const t = run(ttls);
  assert.equal(t.alice.eventsOf("ike-up").length, 1, t.alice.logs.join("\n"));
  assert.equal(t.bob.eventsOf("ike-up").length, 1, t.bob.logs.join("\n"));
  const [sa] = t.bob.engine.list();
  assert.equal(sa.auth, "EAP-TTLS 'alice'");
  const [ai] = t.alice.inbound(), [bo] = t.bob.outbound();
  assert.deepEqual(ai.encr?.key, bo.encr?.key);
  // A wrong password fails inside the tunnel on both sides.
  const bad = run({
    ...ttls,
    alice: { ...ttls.alice, eapSecrets: [{ ids: ["alice"], secret: "wrong" }] },
  });
  assert.equal(bad.alice.eventsOf("ike-up").length, 0);
  assert.equal(bad.bob.eventsOf("ike-up").length, 0);
  assert.ok(
    bad.bob.logs.some((l) => /EAP-TTLS tunneled method: MSCHAPv2: wrong NT-Response/.test(l)),
  );
});

Deno.test("engine: a gateway configured to run PEAP itself refuses with the reason (PEAP is client only)", async () => {
  const cfg = await tlsConfigs();
  const b = cfg.bob.connections[0];
  const t = run({
    ...cfg,
    bob: { ...cfg.bob, connections: [{ ...b, remote: { auth: "eap", eapMethod: "peap" } }] },
  });
  assert.equal(t.alice.eventsOf("ike-up").length, 0);
  assert.equal(t.bob.eventsOf("ike-up").length, 0);
  assert.ok(
    t.bob.logs.some((l) => /remote auth eap-peap: PEAP runs as client only/.test(l)),
    t.bob.logs.join("\n"),
  );
});
