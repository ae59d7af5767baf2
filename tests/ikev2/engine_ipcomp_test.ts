/**
 * IPComp negotiation (RFC 7296 section 2.22): each side that wants it sends
 * N(IPCOMP_SUPPORTED) with the CPI it receives on and DEFLATE; only when both
 * did do the SAs compress, each direction with the receiver's CPI. A rekey
 * negotiates it again with new CPIs.
 */
import assert from "node:assert/strict";
import { CPI_MAX, CPI_MIN } from "../../lib/ip/ipcomp.ts";
import { type Peer, pskConfigs, TwoPeers } from "../helpers/two_peers.ts";

function generated(p: Peer): string[] {
  return p.logs.filter((l) => l.includes("generating")).map((l) => l.replace(/^.*generating /, ""));
}

function up(alice: boolean, bob: boolean): TwoPeers {
  const t = new TwoPeers(pskConfigs({
    aliceChild: alice ? { ipcomp: true } : {},
    bobChild: bob ? { ipcomp: true } : {},
  }));
  t.initiate("alice", "site");
  t.run(5000);
  assert.equal(t.alice.sad.size, 2);
  assert.equal(t.bob.sad.size, 2);
  return t;
}

/** Each side's outbound CPI is the other's inbound one, and all are negotiable CPIs. */
function assertPaired(t: TwoPeers): void {
  for (const [x, y] of [[t.alice, t.bob], [t.bob, t.alice]]) {
    for (const out of x.outbound()) {
      const inb = y.inbound().find((s) => s.spi === out.spi)!;
      assert.ok(out.ipcompCpi !== undefined, `${x.name} outbound compresses`);
      assert.equal(out.ipcompCpi, inb.ipcompCpi, "the sender uses the receiver's CPI");
      assert.ok(out.ipcompCpi >= CPI_MIN && out.ipcompCpi <= CPI_MAX);
    }
  }
}

Deno.test("engine ipcomp: both sides configured: IPCOMP_SUPPORTED both ways, SAs compress", () => {
  const t = up(true, true);
  assert.match(generated(t.alice)[1], /^IKE_AUTH request 1 \[ .*N\(IPCOMP_SUP\) SA TSi TSr/);
  assert.match(generated(t.bob)[1], /^IKE_AUTH response 1 \[ .*N\(IPCOMP_SUP\) SA TSi TSr/);
  assertPaired(t);
  const [aIn] = t.alice.inbound();
  const [aOut] = t.alice.outbound();
  assert.notEqual(aIn.ipcompCpi, aOut.ipcompCpi);
});

Deno.test("engine ipcomp: only the initiator wants it: no notify back, no compression", () => {
  const t = up(true, false);
  assert.match(generated(t.alice)[1], /N\(IPCOMP_SUP\)/);
  assert.doesNotMatch(generated(t.bob)[1], /IPCOMP/);
  for (const s of t.alice.sad.values()) assert.equal(s.ipcompCpi, undefined);
  for (const s of t.bob.sad.values()) assert.equal(s.ipcompCpi, undefined);
});

Deno.test("engine ipcomp: only the responder wants it: nothing offered, nothing used", () => {
  const t = up(false, true);
  assert.doesNotMatch(generated(t.alice)[1], /IPCOMP/);
  assert.doesNotMatch(generated(t.bob)[1], /IPCOMP/);
  for (const s of [...t.alice.sad.values(), ...t.bob.sad.values()]) {
    assert.equal(s.ipcompCpi, undefined);
  }
});

Deno.test("engine ipcomp: a child rekey negotiates IPComp again with new CPIs", () => {
  const t = up(true, true);
  const before = new Set([...t.alice.sad.values()].map((s) => s.ipcompCpi));
  const id = t.alice.engine.list()[0].children.find((c) => c.state === "installed")!.id;
  t.apply(t.alice, t.alice.engine.rekeyChild(id, t.clock.now));
  t.run(t.clock.now + 5000);
  assert.match(
    generated(t.alice).find((l) => l.startsWith("CREATE_CHILD_SA request"))!,
    /N\(IPCOMP_SUP\)/,
  );
  assert.match(
    generated(t.bob).find((l) => l.startsWith("CREATE_CHILD_SA response"))!,
    /N\(IPCOMP_SUP\)/,
  );
  assert.equal(t.alice.sad.size, 2);
  assertPaired(t);
  for (const s of t.alice.sad.values()) assert.ok(!before.has(s.ipcompCpi), "new CPIs");
});

Deno.test("engine ipcomp: AH children negotiate it too", () => {
  const t = new TwoPeers(pskConfigs({
    espProposals: "sha256",
    aliceChild: { ipcomp: true, protocol: "ah" },
    bobChild: { ipcomp: true, protocol: "ah" },
  }));
  t.initiate("alice", "site");
  t.run(5000);
  assert.equal(t.alice.sad.size, 2);
  for (const s of t.alice.sad.values()) assert.equal(s.protocol, "ah");
  assertPaired(t);
});
