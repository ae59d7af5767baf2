import assert from "node:assert/strict";
import { parseProposals } from "../../lib/crypto/proposal.ts";
import type { ChildConfig } from "../../lib/ikev2/peer_config.ts";
import { pskConfigs, TwoPeers } from "../helpers/two_peers.ts";

const second = (mode: "tunnel" | "transport"): ChildConfig => ({
  name: "two",
  mode,
  protocol: "esp",
  proposals: parseProposals("aes256gcm16", "esp"),
  localTs: ["10.1.9.0/24"],
  remoteTs: ["10.2.9.0/24"],
});

/*
 *   alice's second child wants transport mode, bob's runs tunnel mode:
 *   CREATE_CHILD_SA request 2 [ N(USE_TRANSP) SA No TSi TSr ] -->
 *                  <-- CREATE_CHILD_SA response 2 [ SA No TSi TSr ]   (bob installs a tunnel)
 *   alice must not run it (RFC 7296 section 1.3.1: "the initiator MUST delete the SA"):
 *   INFORMATIONAL request 3 [ D ] -->
 *                  <-- INFORMATIONAL response 3 [ D ]
 *   Neither side keeps any SA of the second child (found against strongSwan, which answers
 *   a refused transport request exactly like bob).
 */
Deno.test("engine: a CREATE_CHILD_SA answer we refuse is deleted at the peer too", () => {
  const cfg = pskConfigs();
  const alice = cfg.alice.connections[0];
  const bob = cfg.bob.connections[0];
  const t = new TwoPeers({
    alice: {
      ...cfg.alice,
      connections: [{ ...alice, children: [...alice.children, second("transport")] }],
    },
    bob: {
      ...cfg.bob,
      connections: [{
        ...bob,
        children: [...bob.children, {
          ...second("tunnel"),
          localTs: ["10.2.9.0/24"],
          remoteTs: ["10.1.9.0/24"],
        }],
      }],
    },
  });
  t.initiate("alice", "site");
  t.run(5000);
  const failed = t.alice.eventsOf("child-failed");
  assert.equal(failed.length, 1);
  assert.match(failed[0].reason, /transport/);
  // Only the first child's two SAs remain on each side.
  assert.equal(t.alice.sad.size, 2);
  assert.equal(t.bob.sad.size, 2, `bob kept the refused child: ${[...t.bob.sad.keys()]}`);
  assert.equal(t.bob.engine.list()[0].children.length, 1);
});

/*
 *   bob has a wide child "net" (10.2.0.0/16 <-> 10.1.0.0/16) listed before an exact one "two"
 *   (10.2.5.0/24 <-> 10.1.2.0/24); alice asks for exactly "two" by CREATE_CHILD_SA:
 *   CREATE_CHILD_SA request 2 [ SA No TSi(10.1.2.0/24) TSr(10.2.5.0/24) ] -->
 *   bob must answer with his "two" config (its name, proposals, lifetimes), not the first
 *   child whose selectors merely contain the request (strongSwan's select_child_cfg ranks
 *   equal selectors first; found when charon added a second child to our responder).
 */
Deno.test("engine: the responder picks the child config whose selectors match best", () => {
  const cfg = pskConfigs();
  const alice = cfg.alice.connections[0];
  const bob = cfg.bob.connections[0];
  const two = (localTs: string, remoteTs: string): ChildConfig => ({
    ...second("tunnel"),
    localTs: [localTs],
    remoteTs: [remoteTs],
  });
  const t = new TwoPeers({
    alice: {
      ...cfg.alice,
      connections: [{
        ...alice,
        children: [
          { ...alice.children[0], localTs: ["10.1.0.0/24"], remoteTs: ["10.2.0.0/24"] },
          two("10.1.2.0/24", "10.2.5.0/24"),
        ],
      }],
    },
    bob: {
      ...cfg.bob,
      connections: [{ ...bob, children: [...bob.children, two("10.2.5.0/24", "10.1.2.0/24")] }],
    },
  });
  t.initiate("alice", "site");
  t.run(5000);
  const names = t.bob.engine.list()[0].children.map((c) => c.name).sort();
  assert.deepStrictEqual(names, ["net", "two"]);
});
