/**
 * `IkeEngine.reconfigure` (what `ipsec reload` does to the engine): live IKE
 * SAs keep the connection they were made from, new ones use the new
 * configuration, and pool leases survive.
 *
 * ```
 *  alice ──IKE_SA_INIT, IKE_AUTH (site/net)──► bob        established
 *  bob.reconfigure({ site unchanged, + "lab" })
 *  alice ──INFORMATIONAL { } (DPD) ──────────► bob        old SA still answers
 *  alice ──CREATE_CHILD_SA (net rekey) ──────► bob        still works
 *  alice ──IKE_SA_INIT, IKE_AUTH (lab/more)──► bob        the new connection
 * ```
 */
import assert from "node:assert/strict";
import { parseProposals } from "../../lib/crypto/proposal.ts";
import type { ChildConfig, EngineConfig } from "../../lib/ikev2/peer_config.ts";
import { AddressPools } from "../../lib/ikev2/tasks/config_payload.ts";
import { parseIdentity } from "../../lib/db/identity.ts";
import { pskConfigs, TwoPeers } from "../helpers/two_peers.ts";

const LAB_ID = parseIdentity("lab@example.org");

/** Adds connection "lab": alice authenticates as lab@example.org there. */
function withLab(
  c: EngineConfig,
  local: string,
  remote: string,
  side: "alice" | "bob",
): EngineConfig {
  const site = c.connections[0];
  const child: ChildConfig = {
    ...site.children[0],
    name: "more",
    localTs: [local],
    remoteTs: [remote],
    proposals: parseProposals("aes128gcm16", "esp"),
  };
  const lab = side === "alice"
    ? { ...site, name: "lab", local: { ...site.local, id: LAB_ID }, children: [child] }
    : { ...site, name: "lab", remote: { ...site.remote, id: LAB_ID }, children: [child] };
  const secrets = (c.secrets ?? []).map((x) => ({ ...x, ids: [...x.ids, LAB_ID] }));
  return { ...c, secrets, connections: [...c.connections, lab] };
}

Deno.test("engine: reconfigure keeps live SAs on their connection and serves new connections", () => {
  const { alice, bob } = pskConfigs();
  const t = new TwoPeers({ alice, bob });
  t.initiate("alice", "site");
  t.run();
  const [before] = t.bob.engine.list();
  assert.equal(before.state, "established");

  // bob learns a second connection; "site" is unchanged.
  t.bob.engine.reconfigure(withLab(bob, "10.20.0.0/16", "10.10.0.0/16", "bob"));
  assert.equal(t.bob.engine.config.connections.length, 2);
  // The live SA is untouched and still rekeys its child.
  const childId = t.alice.engine.list()[0].children[0].id;
  t.apply(t.alice, t.alice.engine.childExpired(childId, "soft", t.clock.now));
  t.run();
  const live = t.bob.engine.list().filter((s) => s.state === "established");
  assert.equal(live.length, 1);
  assert.equal(live[0].id, before.id);
  assert.equal(live[0].children.filter((c) => c.state === "installed").length, 1);
  assert.ok(t.bob.eventsOf("child-up").length >= 2, t.bob.logs.join("\n"));

  // alice too, then she brings the new connection up: bob answers with "lab".
  t.alice.engine.reconfigure(withLab(alice, "10.10.0.0/16", "10.20.0.0/16", "alice"));
  t.initiate("alice", "lab");
  t.run();
  const names = t.bob.engine.list().filter((s) => s.state === "established").map((s) => s.name);
  assert.deepEqual(names.sort(), ["lab", "site"], t.bob.logs.join("\n"));
  const lab = t.bob.engine.list().find((s) => s.name === "lab")!;
  assert.equal(lab.children[0].name, "more");
});

Deno.test("engine: without the connection any more, the peer's new IKE SA is refused but the live one stays", () => {
  const { alice, bob } = pskConfigs();
  const t = new TwoPeers({ alice, bob });
  t.initiate("alice", "site");
  t.run();
  t.bob.engine.reconfigure({ ...bob, connections: [] });
  // The old SA still answers liveness checks (made from the old "site").
  t.initiate("alice", "site");
  t.run();
  const bobs = t.bob.engine.list().filter((s) => s.state === "established");
  assert.equal(bobs.length, 1, t.bob.logs.join("\n"));
  assert.ok(t.alice.eventsOf("ike-failed").length >= 1, t.alice.logs.join("\n"));
});

Deno.test("AddressPools.reconfigure: a pool with the same range keeps its leases, a changed one starts empty", () => {
  const pools = new AddressPools([
    { name: "a", range: "10.3.0.0/24", dns: ["10.1.0.53"] },
    { name: "b", range: "10.4.0.0/24", dns: [] },
  ]);
  const x = pools.lease("a", "alice")!;
  pools.lease("b", "bob");
  const next = pools.reconfigure([
    { name: "a", range: "10.3.0.0/24", dns: ["10.1.0.54"] },
    { name: "b", range: "10.5.0.0/24", dns: [] },
  ]);
  assert.deepEqual(next.inUse("a"), [x]);
  assert.deepEqual(next.dns("a"), ["10.1.0.54"]);
  assert.deepEqual(next.inUse("b"), []);
  assert.notEqual(next.lease("a", "carol"), x);
});
