/**
 * EAP in IKE_AUTH (RFC 7296 section 2.16) between two engines: alice, a
 * road warrior, authenticates by EAP (MSCHAPv2 or MD5) to bob, a gateway
 * that authenticates itself by PSK or certificate; each AUTH after EAP is
 * keyed by the method's MSK (SK_pi/SK_pr without one).
 *
 * ```
 *   alice (EAP peer)                          bob (EAP server)
 *   IKE_AUTH [ IDi IDr SA TSi TSr N(...) ]  -->
 *                  <--  [ IDr AUTH EAP/REQ/(ID) ]      bob's PSK/cert AUTH checked here
 *   [ EAP/RES/(ID) ]  -->                               (eap_id: %any only)
 *                  <--  [ EAP/REQ/MSCHAPV2 ]            (Challenge)
 *   [ EAP/RES/MSCHAPV2 ]  -->                           (NT-Response)
 *                  <--  [ EAP/REQ/MSCHAPV2 ]            (Success, S=…)
 *   [ EAP/RES/MSCHAPV2 ]  -->
 *                  <--  [ EAP/SUCC ]
 *   [ AUTH ]  -->                                       prf(prf(MSK, "Key Pad for IKEv2"), …)
 *                  <--  [ AUTH SA TSi TSr ]
 * ```
 */
import assert from "node:assert/strict";
import type { EapMethodName } from "../../lib/eap/eap_message.ts";
import type { EngineConfig } from "../../lib/ikev2/peer_config.ts";
import { pskConfigs, TwoPeers } from "../helpers/two_peers.ts";
import { certConfigs, makePki, NOW } from "../helpers/engine_pki.ts";

interface EapSetup {
  clientMethods?: EapMethodName[];
  serverMethod?: EapMethodName;
  eapId?: string;
  serverEapId?: string;
  password?: string;
  clientEap?: boolean;
  serverEap?: boolean;
  alicePsk?: string;
}

/** Alice: local eap (id alice@example.org); bob: local psk, remote eap with user "alice". */
function eapConfigs(s: EapSetup = {}): { alice: EngineConfig; bob: EngineConfig } {
  const base = pskConfigs(s.alicePsk ? { aliceSecret: s.alicePsk } : {});
  const a = base.alice.connections[0], b = base.bob.connections[0];
  return {
    alice: {
      ...base.alice,
      connections: [{
        ...a,
        local: s.clientEap === false ? a.local : {
          auth: "eap",
          id: a.local.id,
          ...(s.eapId ? { eapId: s.eapId } : {}),
          eapMethods: s.clientMethods ?? ["mschapv2", "md5"],
        },
      }],
      eapSecrets: [{ ids: [s.eapId ?? "alice@example.org"], secret: s.password ?? "clientPass" }],
    },
    bob: {
      ...base.bob,
      connections: [{
        ...b,
        remote: s.serverEap === false ? b.remote : {
          auth: "eap",
          id: b.remote.id,
          eapMethod: s.serverMethod ?? "mschapv2",
          ...(s.serverEapId ? { eapId: s.serverEapId } : {}),
        },
      }],
      eapSecrets: [
        { ids: ["alice@example.org", "alice"], secret: "clientPass" },
        { ids: ["bob"], secret: "other" },
      ],
    },
  };
}

function run(cfg: { alice: EngineConfig; bob: EngineConfig }, startMs = 0): TwoPeers {
  const t = new TwoPeers({ ...cfg, startMs });
  t.initiate("alice", "site");
  t.run(startMs + 10_000);
  return t;
}

/** The IKE_AUTH messages a peer generated, as logged ("IKE_AUTH request 2 [ EAP ]"). */
const authMessages = (logs: string[]) =>
  logs.filter((l) => / generating IKE_AUTH /.test(l)).map((l) =>
    l.replace(/^.* generating IKE_AUTH /, "")
  );

Deno.test("engine EAP-MSCHAPv2: a PSK gateway and an EAP road warrior bring up the child SA", () => {
  const t = run(eapConfigs());
  assert.equal(t.alice.eventsOf("ike-up").length, 1, t.alice.logs.join("\n"));
  assert.equal(t.bob.eventsOf("ike-up").length, 1);
  assert.equal(t.alice.sad.size, 2);
  assert.equal(t.bob.sad.size, 2);
  assert.deepEqual(authMessages(t.alice.logs), [
    "request 1 [ IDi IDr N(INIT_CONTACT) N(MULT_AUTH) SA TSi TSr N(MOBIKE_SUP) N(NO_ADD_ADDR) ]",
    "request 2 [ EAP/RES/MSCHAPV2 ]",
    "request 3 [ EAP/RES/MSCHAPV2 ]",
    "request 4 [ AUTH ]",
  ]);
  const bobMsgs = authMessages(t.bob.logs);
  assert.equal(bobMsgs.length, 4);
  assert.match(bobMsgs[0], /^response 1 \[ IDr AUTH EAP\/REQ\/MSCHAPV2 \]$/);
  assert.match(bobMsgs[2], /^response 3 \[ EAP\/SUCC \]$/);
  assert.match(bobMsgs[3], /^response 4 \[ AUTH SA TSi TSr/);
  assert.ok(
    t.bob.logs.some((l) =>
      /EAP-MSCHAPv2 authentication of 'alice@example.org' successful, MSK established/.test(l)
    ),
  );
  assert.ok(
    t.alice.logs.some((l) => /EAP-MSCHAPv2 authentication successful, MSK established/.test(l)),
  );
  // Same keys both ways.
  const [ai] = t.alice.inbound(), [bo] = t.bob.outbound();
  assert.equal(ai.spi, bo.spi);
  assert.deepEqual(ai.encr?.key, bo.encr?.key);
});

Deno.test("engine EAP: eap_id %any makes the gateway ask for the EAP identity first", () => {
  const t = run(eapConfigs({ eapId: "alice", serverEapId: "%any" }));
  assert.equal(t.alice.eventsOf("ike-up").length, 1, t.alice.logs.join("\n"));
  assert.equal(t.bob.eventsOf("ike-up").length, 1, t.bob.logs.join("\n"));
  assert.match(authMessages(t.bob.logs)[0], /EAP\/REQ\/ID/);
  assert.match(authMessages(t.alice.logs)[1], /EAP\/RES\/ID/);
  assert.ok(t.bob.logs.some((l) => /EAP-MSCHAPv2 authentication of 'alice' successful/.test(l)));
  assert.equal(authMessages(t.alice.logs).length, 5);
});

Deno.test("engine EAP-MD5: no MSK, so SK_pi/SK_pr key the AUTH payloads", () => {
  const t = run(eapConfigs({ serverMethod: "md5" }));
  assert.equal(t.alice.eventsOf("ike-up").length, 1, t.alice.logs.join("\n"));
  assert.equal(t.bob.eventsOf("ike-up").length, 1, t.bob.logs.join("\n"));
  assert.ok(t.alice.logs.some((l) => /EAP-MD5 authentication successful \(no MSK/.test(l)));
});

Deno.test("engine EAP: a wrong password fails on both sides and installs nothing", () => {
  const t = run(eapConfigs({ password: "wrong" }));
  assert.equal(t.alice.eventsOf("ike-up").length, 0);
  assert.equal(t.bob.eventsOf("ike-up").length, 0);
  assert.match(t.alice.eventsOf("ike-failed")[0]?.reason ?? "", /EAP authentication failed/);
  assert.match(t.bob.eventsOf("ike-failed")[0]?.reason ?? "", /authentication failed/);
  assert.ok(
    t.bob.logs.some((l) => /EAP-MSCHAPv2 authentication of 'alice@example.org' failed/.test(l)),
  );
  assert.equal(t.alice.sad.size + t.bob.sad.size, 0);
  assert.equal(t.alice.engine.list().length + t.bob.engine.list().length, 0);
});

Deno.test("engine EAP: a method the client does not accept is Nak'd and fails", () => {
  const t = run(eapConfigs({ clientMethods: ["md5"], serverMethod: "mschapv2" }));
  assert.equal(t.alice.eventsOf("ike-up").length, 0);
  assert.equal(t.bob.eventsOf("ike-up").length, 0);
  assert.match(authMessages(t.alice.logs)[1], /EAP\/RES\/NAK/);
  assert.equal(t.alice.sad.size + t.bob.sad.size, 0);
});

Deno.test("engine EAP: the gateway's AUTH is checked before the client answers any EAP request", () => {
  // Alice holds another PSK than bob: bob's AUTH in the first response fails.
  const t = run(eapConfigs({ alicePsk: "not-the-gateway-key" }));
  assert.equal(t.alice.eventsOf("ike-up").length, 0);
  const msgs = authMessages(t.alice.logs);
  assert.equal(msgs.length, 1, msgs.join("\n"));
  assert.ok(
    t.alice.logs.some((l) =>
      /authentication of the responder failed: pre-shared key AUTH mismatch/.test(l)
    ),
  );
  assert.ok(!msgs.some((m) => /EAP/.test(m)), "nothing of the password went out");
});

Deno.test("engine EAP: mismatched expectations fail with a reason saying which side wants what", () => {
  // The client wants EAP, the gateway a PSK from it.
  let t = run(eapConfigs({ serverEap: false }));
  assert.equal(t.alice.eventsOf("ike-up").length, 0);
  assert.ok(t.bob.logs.some((l) => /no AUTH payload/.test(l)), t.bob.logs.join("\n"));
  assert.match(t.alice.eventsOf("ike-failed")[0].reason, /AUTHENTICATION_FAILED/);
  // The gateway wants EAP, the client sends a PSK AUTH.
  t = run(eapConfigs({ clientEap: false }));
  assert.equal(t.alice.eventsOf("ike-up").length, 0);
  assert.ok(t.bob.logs.some((l) => /peer sent AUTH, we require EAP/.test(l)));
});

Deno.test("engine EAP-MSCHAPv2 with a certificate gateway (the usual road-warrior setup)", async () => {
  const pki = await makePki("ecdsa");
  const certs = certConfigs(pki);
  const eap = eapConfigs();
  const cfg = {
    alice: {
      ...certs.alice,
      eapSecrets: eap.alice.eapSecrets,
      connections: [{ ...certs.alice.connections[0], local: eap.alice.connections[0].local }],
    },
    bob: {
      ...certs.bob,
      eapSecrets: eap.bob.eapSecrets,
      connections: [{ ...certs.bob.connections[0], remote: eap.bob.connections[0].remote }],
    },
  };
  const t = run(cfg, NOW);
  assert.equal(t.alice.eventsOf("ike-up").length, 1, t.alice.logs.join("\n"));
  assert.equal(t.bob.eventsOf("ike-up").length, 1);
  assert.match(authMessages(t.bob.logs)[0], /^response 1 \[ IDr CERT AUTH EAP\/REQ\/MSCHAPV2 \]$/);
  assert.match(authMessages(t.alice.logs)[0], /CERTREQ/);
});

Deno.test("engine EAP: the IKE SA rekeys after EAP and keeps the peer's EAP identity", () => {
  const t = run(eapConfigs({ eapId: "alice", serverEapId: "%any" }));
  const [before] = t.bob.engine.list();
  assert.equal(before.remoteEapId, "alice");
  t.apply(t.alice, t.alice.engine.rekeyIke(t.alice.engine.list()[0].id, t.clock.now));
  t.run(t.clock.now + 10_000);
  const after = t.bob.engine.list();
  assert.equal(after.length, 1, t.bob.logs.join("\n"));
  assert.notEqual(after[0].spiI, before.spiI);
  assert.equal(after[0].remoteEapId, "alice");
  assert.equal(
    t.alice.engine.list()[0].remoteEapId,
    undefined,
    "the client knows no EAP id of the gateway",
  );
});
