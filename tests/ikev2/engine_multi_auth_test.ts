/**
 * Multiple authentication rounds (RFC 4739) between two engines: alice
 * authenticates first as a machine (PSK or certificate), then as a user
 * (EAP or a second PSK identity); bob, the gateway, requires both rounds.
 *
 * ```
 *   alice                                      bob
 *   IKE_SA_INIT                       <-->     ... N(MULT_AUTH)
 *   [ IDi AUTH N(MULT_AUTH) N(AUTH_FOLLOWS) SA TSi TSr ]  -->
 *                                     <--  [ IDr AUTH ]
 *   [ IDi' ]  -->                              (round 2: EAP)
 *                                     <--  [ EAP/REQ/ID ] ... [ EAP/SUCC ]
 *   [ AUTH ]  -->                              prf(prf(MSK, "Key Pad for IKEv2"), ... IDi')
 *                                     <--  [ AUTH SA TSi TSr ]
 * ```
 */
import assert from "node:assert/strict";
import { parseIdentity } from "../../lib/db/identity.ts";
import type {
  EngineConfig,
  LocalAuthConfig,
  RemoteAuthConfig,
} from "../../lib/ikev2/peer_config.ts";
import { pskConfigs, TwoPeers } from "../helpers/two_peers.ts";
import { certConfigs, makePki, NOW } from "../helpers/engine_pki.ts";

const USER_EAP: LocalAuthConfig = {
  auth: "eap",
  id: parseIdentity("alice-user@example.org"),
  eapId: "alice",
  eapMethods: ["mschapv2"],
};
const GW_EAP: RemoteAuthConfig = { auth: "eap", eapMethod: "mschapv2", eapId: "%any" };

/** Alice and bob of `base` with alice's second round `local2` and bob's `remote2`. */
function twoRounds(
  base: { alice: EngineConfig; bob: EngineConfig },
  local2: LocalAuthConfig | undefined,
  remote2: RemoteAuthConfig | undefined,
  password = "userPass",
): { alice: EngineConfig; bob: EngineConfig } {
  const a = base.alice.connections[0], b = base.bob.connections[0];
  return {
    alice: {
      ...base.alice,
      connections: [{ ...a, ...(local2 ? { localRounds: [local2] } : {}) }],
      eapSecrets: [{ ids: ["alice"], secret: password }],
    },
    bob: {
      ...base.bob,
      connections: [{ ...b, ...(remote2 ? { remoteRounds: [remote2] } : {}) }],
      eapSecrets: [{ ids: ["alice"], secret: "userPass" }],
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

function assertSameKeys(t: TwoPeers): void {
  assert.equal(t.alice.sad.size, 2);
  assert.equal(t.bob.sad.size, 2);
  const [ai] = t.alice.inbound(), [bo] = t.bob.outbound();
  assert.equal(ai.spi, bo.spi);
  assert.deepEqual(ai.encr?.key, bo.encr?.key);
}

Deno.test("engine RFC 4739: PSK, then EAP-MSCHAPv2 as a user, brings the child SA up", () => {
  const t = run(twoRounds(pskConfigs(), USER_EAP, GW_EAP));
  assert.equal(t.alice.eventsOf("ike-up").length, 1, t.alice.logs.join("\n"));
  assert.equal(t.bob.eventsOf("ike-up").length, 1, t.bob.logs.join("\n"));
  assertSameKeys(t);
  assert.deepEqual(authMessages(t.alice.logs), [
    "request 1 [ IDi IDr AUTH N(INIT_CONTACT) N(MULT_AUTH) N(AUTH_FOLLOWS) SA TSi TSr " +
    "N(MOBIKE_SUP) N(NO_ADD_ADDR) ]",
    "request 2 [ IDi ]",
    "request 3 [ EAP/RES/ID ]",
    "request 4 [ EAP/RES/MSCHAPV2 ]",
    "request 5 [ EAP/RES/MSCHAPV2 ]",
    "request 6 [ AUTH ]",
  ]);
  const bob = authMessages(t.bob.logs);
  assert.equal(bob[0], "response 1 [ IDr AUTH ]");
  assert.equal(bob[1], "response 2 [ EAP/REQ/ID ]");
  assert.equal(bob[4], "response 5 [ EAP/SUCC ]");
  assert.match(bob[5], /^response 6 \[ AUTH SA TSi TSr N\(MOBIKE_SUP\)/);
  const [sa] = t.bob.engine.list();
  assert.equal(sa.remoteEapId, "alice");
  assert.equal(sa.remoteId, "alice@example.org");
  assert.equal(sa.auth, "SHARED_KEY_MIC + EAP-MSCHAPv2 'alice'");
  assert.ok(
    t.bob.logs.some((l) => /authentication round 1 of 'alice@example.org' successful/.test(l)),
  );
  assert.ok(
    t.bob.logs.some((l) =>
      /authenticating 'alice-user@example.org' by EAP-MSCHAPv2 \(round 2\)/.test(l)
    ),
  );
});

Deno.test("engine RFC 4739: certificates, then a second identity with its own PSK", async () => {
  const pki = await makePki("ecdsa");
  const user = parseIdentity("alice-user@example.org");
  const base = certConfigs(pki);
  const cfg = twoRounds(base, { auth: "psk", id: user }, { auth: "psk", id: user });
  const psk = { ids: [user], secret: new TextEncoder().encode("user-psk-0123456789") };
  cfg.alice = { ...cfg.alice, secrets: [psk] };
  cfg.bob = { ...cfg.bob, secrets: [psk] };
  const t = run(cfg, NOW);
  assert.equal(t.alice.eventsOf("ike-up").length, 1, t.alice.logs.join("\n"));
  assert.equal(t.bob.eventsOf("ike-up").length, 1, t.bob.logs.join("\n"));
  assertSameKeys(t);
  const alice = authMessages(t.alice.logs);
  assert.equal(alice.length, 2);
  assert.match(alice[0], /N\(MULT_AUTH\) N\(AUTH_FOLLOWS\)/);
  assert.equal(alice[1], "request 2 [ IDi AUTH ]");
  const bob = authMessages(t.bob.logs);
  assert.match(bob[0], /^response 1 \[ IDr CERT AUTH \]$/);
  assert.match(bob[1], /^response 2 \[ SA TSi TSr/);
});

Deno.test("engine RFC 4739: EAP first, then a PSK round (AUTH_FOLLOWS rides on the EAP AUTH)", () => {
  const base = pskConfigs();
  const a = base.alice.connections[0], b = base.bob.connections[0];
  const user = parseIdentity("alice-user@example.org");
  const cfg: { alice: EngineConfig; bob: EngineConfig } = {
    alice: {
      ...base.alice,
      connections: [{
        ...a,
        local: { ...USER_EAP, id: a.local.id },
        localRounds: [{ auth: "psk", id: user }],
      }],
      secrets: [
        ...base.alice.secrets!,
        { ids: [user], secret: new TextEncoder().encode("user-psk-0123456789") },
      ],
      eapSecrets: [{ ids: ["alice"], secret: "userPass" }],
    },
    bob: {
      ...base.bob,
      connections: [{ ...b, remote: GW_EAP, remoteRounds: [{ auth: "psk", id: user }] }],
      secrets: [
        ...base.bob.secrets!,
        { ids: [user], secret: new TextEncoder().encode("user-psk-0123456789") },
      ],
      eapSecrets: [{ ids: ["alice"], secret: "userPass" }],
    },
  };
  const t = run(cfg);
  assert.equal(t.alice.eventsOf("ike-up").length, 1, t.alice.logs.join("\n"));
  assert.equal(t.bob.eventsOf("ike-up").length, 1, t.bob.logs.join("\n"));
  assertSameKeys(t);
  const alice = authMessages(t.alice.logs);
  assert.equal(alice.at(-2), "request 5 [ AUTH N(AUTH_FOLLOWS) ]");
  assert.equal(alice.at(-1), "request 6 [ IDi AUTH ]");
  const bob = authMessages(t.bob.logs);
  assert.equal(bob.at(-2), "response 5 [ AUTH ]");
  assert.match(bob.at(-1)!, /^response 6 \[ SA TSi TSr/);
});

Deno.test("engine RFC 4739: a wrong password in the second round fails both sides, nothing installed", () => {
  const t = run(twoRounds(pskConfigs(), USER_EAP, GW_EAP, "wrong"));
  assert.equal(t.alice.eventsOf("ike-up").length, 0);
  assert.equal(t.bob.eventsOf("ike-up").length, 0);
  assert.equal(t.alice.sad.size, 0);
  assert.equal(t.bob.sad.size, 0);
  assert.match(t.alice.eventsOf("ike-failed")[0]?.reason ?? "", /EAP authentication failed/);
  assert.equal(t.bob.eventsOf("ike-failed").length, 1);
});

Deno.test("engine RFC 4739: the gateway requires a second round the client does not do", () => {
  const t = run(twoRounds(pskConfigs(), undefined, GW_EAP));
  assert.equal(t.alice.eventsOf("ike-up").length, 0);
  assert.equal(t.bob.eventsOf("ike-up").length, 0);
  assert.equal(t.bob.sad.size, 0);
  assert.ok(
    t.bob.logs.some((l) =>
      /connection 'site' requires 2 authentication rounds \(remote-2: eap\), the peer ended after 1/
        .test(l)
    ),
    t.bob.logs.join("\n"),
  );
  assert.match(t.alice.eventsOf("ike-failed")[0]?.reason ?? "", /AUTHENTICATION_FAILED/);
});

Deno.test("engine RFC 4739: a client announcing a second round the gateway does not expect is refused", () => {
  const t = run(twoRounds(pskConfigs(), USER_EAP, undefined));
  assert.equal(t.alice.eventsOf("ike-up").length, 0);
  assert.equal(t.bob.eventsOf("ike-up").length, 0);
  assert.ok(
    t.bob.logs.some((l) => /announces authentication round 2 .*connection 'site' has one/.test(l)),
    t.bob.logs.join("\n"),
  );
});

Deno.test("engine RFC 4739: a second-round identity the gateway does not accept is refused", () => {
  const t = run(
    twoRounds(pskConfigs(), USER_EAP, { ...GW_EAP, id: parseIdentity("bob-user@example.org") }),
  );
  assert.equal(t.alice.eventsOf("ike-up").length, 0);
  assert.equal(t.bob.eventsOf("ike-up").length, 0);
  assert.ok(
    t.bob.logs.some((l) =>
      /authentication round 2 failed: identity 'alice-user@example.org' \(rfc822\) not accepted/
        .test(l)
    ),
    t.bob.logs.join("\n"),
  );
});

Deno.test("engine RFC 4739: a machine certificate, then EAP-TLS with a user certificate", async () => {
  const issued = new Date(Date.now() - 86_400_000);
  const pki = await makePki("ecdsa", 256, { issued });
  const base = certConfigs(pki);
  const cfg = twoRounds(
    base,
    {
      auth: "eap",
      id: parseIdentity("alice@example.org"),
      eapMethods: ["tls"],
      certs: [pki.alice.cert],
      privateKey: pki.alice.key,
    },
    { auth: "eap", eapMethod: "tls", eapId: "%any", cacerts: [pki.ca] },
  );
  const startMs = Date.now();
  const t = new TwoPeers({ ...cfg, startMs });
  t.initiate("alice", "site");
  t.run(startMs + 10_000);
  assert.equal(t.alice.eventsOf("ike-up").length, 1, t.alice.logs.join("\n"));
  assert.equal(t.bob.eventsOf("ike-up").length, 1, t.bob.logs.join("\n"));
  assertSameKeys(t);
  const [sa] = t.bob.engine.list();
  assert.equal(sa.auth, "DIGITAL_SIGNATURE + EAP-TLS 'alice@example.org'");
});
