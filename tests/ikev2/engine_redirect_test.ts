/**
 * IKEv2 redirect (RFC 5685) between two engines: bob is two gateways
 * (192.0.2.2 with `redirectTo: 192.0.2.3`, and 192.0.2.3); alice follows
 * the REDIRECT in the IKE_SA_INIT response, and later one in an
 * INFORMATIONAL request on her established IKE SA.
 *
 * ```
 *   alice                                   bob @ .2             bob @ .3
 *   IKE_SA_INIT [ ... N(REDIR_SUP) ]  -->
 *                   <--  [ N(REDIRECT(192.0.2.3, Ni)) ]
 *   IKE_SA_INIT [ ... N(REDIR_FROM(192.0.2.2)) ]  ------------->
 *   IKE_AUTH ...                                  <------------->   up
 *
 *   (established with .2)  <-- INFORMATIONAL [ N(REDIRECT(192.0.2.3)) ]
 *   [ ] -->;  new IKE_SA with .3 (REDIRECTED_FROM), then D(IKE) to .2
 * ```
 */
import assert from "node:assert/strict";
import { NotifyType } from "../../lib/ikev2/constants.ts";
import { IkeSa } from "../../lib/ikev2/ike_sa.ts";
import type { EngineConfig, PeerConfig } from "../../lib/ikev2/peer_config.ts";
import { GatewayIdType, makeRedirect } from "../../lib/ikev2/payloads/notify.ts";
import { MAX_REDIRECTS, redirectTarget } from "../../lib/ikev2/tasks/redirect.ts";
import { pskConfigs, TwoPeers } from "../helpers/two_peers.ts";

/** Bob at .2 (redirecting when `redirectTo`) and at .3; alice with `alice` overrides. */
function gateways(
  o: { redirectTo?: string; alice?: Partial<PeerConfig> } = {},
): { alice: EngineConfig; bob: EngineConfig } {
  const base = pskConfigs({ ...(o.alice ? { alice: o.alice } : {}) });
  const b = base.bob.connections[0];
  return {
    alice: base.alice,
    bob: {
      ...base.bob,
      connections: [
        { ...b, ...(o.redirectTo ? { redirectTo: o.redirectTo } : {}) },
        { ...b, name: "site-b", localAddress: "192.0.2.3" },
      ],
    },
  };
}

const generated = (logs: string[], what: RegExp) =>
  logs.filter((l) => / generating /.test(l) && what.test(l)).map((l) =>
    l.replace(/^.* generating /, "")
  );

Deno.test("engine redirect: IKE_SA_INIT answered with REDIRECT, alice comes up with the other gateway", () => {
  const t = new TwoPeers(gateways({ redirectTo: "192.0.2.3" }));
  t.initiate("alice", "site");
  t.run(5000);
  const inits = generated(t.alice.logs, /IKE_SA_INIT request/);
  assert.deepEqual(inits, [
    "IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) N(HASH_ALG) N(REDIR_SUP) ]",
    "IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) N(HASH_ALG) N(REDIR_FROM) ]",
  ]);
  assert.ok(
    t.bob.logs.some((l) => /generating IKE_SA_INIT response 0 \[ N\(REDIR\) \]/.test(l)),
  );
  assert.equal(t.bob.engine.counters.redirectsSent, 1);
  assert.ok(t.alice.logs.some((l) => /redirected by 192\.0\.2\.2 to 192\.0\.2\.3/.test(l)));
  const [sa] = t.alice.engine.list();
  assert.equal(sa.remote.address, "192.0.2.3");
  assert.equal(sa.state, "established");
  assert.equal(t.alice.eventsOf("ike-up").length, 1);
  assert.equal(t.alice.eventsOf("ike-failed").length, 0, "the redirected attempt is no failure");
  assert.equal(t.bob.engine.list()[0].name, "site-b");
  assert.equal(t.alice.sad.size, 2);
});

Deno.test("engine redirect: follow_redirects no announces nothing and is not redirected", () => {
  const t = new TwoPeers(gateways({ redirectTo: "192.0.2.3", alice: { followRedirects: false } }));
  t.initiate("alice", "site");
  t.run(5000);
  assert.ok(!generated(t.alice.logs, /IKE_SA_INIT/).some((m) => /REDIR/.test(m)));
  assert.equal(t.alice.engine.list()[0].remote.address, "192.0.2.2");
  assert.equal(t.bob.engine.counters.redirectsSent, 0);
});

Deno.test("engine redirect: an established IKE SA is moved by an INFORMATIONAL REDIRECT", () => {
  const t = new TwoPeers(gateways());
  t.initiate("alice", "site");
  t.run(5000);
  const [old] = t.alice.engine.list();
  const bobSa = t.bob.engine.list()[0];
  t.startTraffic(10);
  t.apply(t.bob, t.bob.engine.redirect(bobSa.id, "192.0.2.3", t.clock.now));
  t.run(t.clock.now + 8000);
  t.stopTraffic();
  t.run(t.clock.now + 100);
  assert.deepEqual(
    generated(t.bob.logs, /INFORMATIONAL request/)[0],
    "INFORMATIONAL request 0 [ N(REDIR) ]",
  );
  const now = t.alice.engine.list();
  assert.equal(now.length, 1, t.alice.logs.join("\n"));
  assert.notEqual(now[0].id, old.id);
  assert.equal(now[0].remote.address, "192.0.2.3");
  assert.ok(
    generated(t.alice.logs, /IKE_SA_INIT request/).some((m) => /N\(REDIR_FROM\)/.test(m)),
  );
  assert.deepEqual(t.bob.engine.list().map((s) => s.name), ["site-b"]);
  assert.equal(t.alice.sad.size, 2);
  assert.deepEqual(t.traffic.lost, [], "make-before-break: no packet lost");
  assert.throws(() => t.alice.engine.redirect(now[0].id, "192.0.2.9", t.clock.now), RangeError);
});

Deno.test("redirectTarget(): nonce check, DNS names, loops and self-redirects", () => {
  const cfg = pskConfigs().alice.connections[0];
  const sa = new IkeSa({
    id: 1,
    initiator: true,
    config: cfg,
    spiI: 1n,
    spiR: 0n,
    local: { address: "192.0.2.1", port: 500 },
    remote: { address: "192.0.2.2", port: 500 },
    now: 0,
  });
  const ni = new Uint8Array(32).fill(7);
  const to = (gwIdType: number, gwId: Uint8Array, nonce = new Uint8Array(0)) =>
    makeRedirect({ gwIdType, gwId, nonce }, NotifyType.REDIRECT);
  const v4 = Uint8Array.of(192, 0, 2, 3);
  assert.deepEqual(redirectTarget(sa, to(GatewayIdType.IPV4, v4, ni), ni, 0), {
    ok: true,
    address: "192.0.2.3",
  });
  const wrong = redirectTarget(sa, to(GatewayIdType.IPV4, v4, ni.map((b) => b ^ 1)), ni, 0);
  assert.equal(wrong.ok, false);
  assert.equal(!wrong.ok && wrong.ignore, true);
  const v6 = new Uint8Array(16);
  v6[0] = 0x20, v6[1] = 0x01, v6[2] = 0x0d, v6[3] = 0xb8, v6[15] = 3;
  assert.deepEqual(redirectTarget(sa, to(GatewayIdType.IPV6, v6), undefined, 0), {
    ok: true,
    address: "2001:db8::3",
  });
  const fqdn = redirectTarget(
    sa,
    to(GatewayIdType.FQDN, new TextEncoder().encode("gw2.example.org")),
    undefined,
    0,
  );
  assert.deepEqual(fqdn, { ok: true, name: "gw2.example.org" });
  const notName = redirectTarget(
    sa,
    to(GatewayIdType.FQDN, new TextEncoder().encode("gw2 example;org")),
    undefined,
    0,
  );
  assert.match(!notName.ok ? notName.reason : "", /which is no DNS name/);
  const self = redirectTarget(
    sa,
    to(GatewayIdType.IPV4, Uint8Array.of(192, 0, 2, 2)),
    undefined,
    0,
  );
  assert.match(!self.ok ? self.reason : "", /to itself/);
  sa.redirects = Array.from({ length: MAX_REDIRECTS }, (_, i) => 1000 * i);
  const loop = redirectTarget(sa, to(GatewayIdType.IPV4, v4), undefined, 10_000);
  assert.match(!loop.ok ? loop.reason : "", /redirect loop/);
  // Old redirects leave the window.
  assert.equal(redirectTarget(sa, to(GatewayIdType.IPV4, v4), undefined, 400_000).ok, true);
  const garbled = makeRedirect({ gwIdType: GatewayIdType.IPV4, gwId: v4, nonce: ni });
  garbled.data = garbled.data.subarray(0, 3); // GW Ident Len says 4, 1 byte follows
  const unread = redirectTarget(sa, garbled, ni, 0);
  assert.equal(!unread.ok && unread.ignore, true, "unreadable in IKE_SA_INIT: ignored");
  const unreadLater = redirectTarget(sa, garbled, undefined, 0);
  assert.equal(!unreadLater.ok && unreadLater.ignore, undefined, "after AUTH: a failure");
  const bad = redirectTarget(
    sa,
    makeRedirect({ gwIdType: 9, gwId: v4, nonce: new Uint8Array(0) }),
    undefined,
    0,
  );
  assert.match(!bad.ok ? bad.reason : "", /unknown gateway identity type 9/);
});

Deno.test("engine redirect: a redirected IKE SA reauthenticates with the gateway it was sent to", () => {
  const t = new TwoPeers(gateways({ redirectTo: "192.0.2.3" }));
  t.initiate("alice", "site");
  t.run(5000);
  const [sa] = t.alice.engine.list();
  t.apply(t.alice, t.alice.engine.reauthenticate(sa.id, t.clock.now));
  t.run(t.clock.now + 5000);
  const [now] = t.alice.engine.list();
  assert.notEqual(now.id, sa.id);
  assert.equal(now.remote.address, "192.0.2.3");
  assert.equal(t.bob.engine.counters.redirectsSent, 1, "not sent through .2 again");
  assert.equal(t.alice.engine.list().length, 1);
});

Deno.test("engine redirect: a gateway named by DNS (FQDN) is resolved, then alice goes there", () => {
  const t = new TwoPeers({
    ...gateways({ redirectTo: "gw-b.example.org" }),
    hosts: { "gw-b.example.org": ["2001:db8::9", "192.0.2.3"] },
  });
  t.initiate("alice", "site");
  t.run(5000);
  assert.ok(
    t.bob.logs.some((l) => /generating IKE_SA_INIT response 0 \[ N\(REDIR\) \]/.test(l)),
  );
  assert.deepEqual(t.alice.nameLookups, ["gw-b.example.org"]);
  // The family alice was redirected from (IPv4) wins over the first address.
  assert.ok(t.alice.logs.some((l) => /gw-b\.example\.org is 192\.0\.2\.3/.test(l)));
  const [sa] = t.alice.engine.list();
  assert.equal(sa.remote.address, "192.0.2.3");
  assert.equal(sa.state, "established");
  assert.equal(t.alice.eventsOf("ike-failed").length, 0);
  assert.equal(t.alice.sad.size, 2);
});

Deno.test("engine redirect: a gateway name that does not resolve fails the connection with why", () => {
  const t = new TwoPeers(gateways({ redirectTo: "nowhere.example.org" }));
  t.initiate("alice", "site");
  t.run(5000);
  assert.deepEqual(t.alice.nameLookups, ["nowhere.example.org"]);
  const [failed] = t.alice.eventsOf("ike-failed");
  assert.match(failed.reason, /redirected to nowhere\.example\.org, cannot resolve/);
  assert.equal(failed.connectionName, "site");
  assert.equal(t.alice.engine.list().length, 0);
  assert.equal(t.alice.sad.size, 0);
});

Deno.test("engine redirect: an established IKE SA redirected to a DNS name moves there", () => {
  const t = new TwoPeers({ ...gateways(), hosts: { "gw-b.example.org": ["192.0.2.3"] } });
  t.initiate("alice", "site");
  t.run(5000);
  const [old] = t.alice.engine.list();
  const bobSa = t.bob.engine.list()[0];
  t.apply(t.bob, t.bob.engine.redirect(bobSa.id, "gw-b.example.org", t.clock.now));
  t.run(t.clock.now + 8000);
  const now = t.alice.engine.list();
  assert.equal(now.length, 1, t.alice.logs.join("\n"));
  assert.notEqual(now[0].id, old.id);
  assert.equal(now[0].remote.address, "192.0.2.3");
  assert.deepEqual(t.bob.engine.list().map((s) => s.name), ["site-b"]);
  // Unresolvable while established: the SA stays where it is.
  const t2 = new TwoPeers(gateways());
  t2.initiate("alice", "site");
  t2.run(5000);
  t2.apply(t2.bob, t2.bob.engine.redirect(t2.bob.engine.list()[0].id, "nx.example", t2.clock.now));
  t2.run(t2.clock.now + 8000);
  assert.equal(t2.alice.engine.list()[0].remote.address, "192.0.2.2");
  assert.equal(t2.alice.engine.list()[0].state, "established");
  assert.ok(
    t2.alice.logs.some((l) => /redirect by 192\.0\.2\.2 not followed: cannot resolve/.test(l)),
  );
  assert.throws(
    () => t2.bob.engine.redirect(t2.bob.engine.list()[0].id, "not a name!", t2.clock.now),
    /neither an IP address nor a DNS name/,
  );
});
