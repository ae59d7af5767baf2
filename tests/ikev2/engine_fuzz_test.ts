/**
 * A peer that holds the IKE SA's keys can send anything: authentic requests
 * whose plaintext is a mutated copy of a genuine one (CREATE_CHILD_SA for a
 * new child, a child rekey and an IKE rekey; INFORMATIONAL with a Delete or
 * empty). The responder must never throw, must answer every such request
 * with its Message ID (RFC 7296 sections 2.21 and 3.10.1: INVALID_SYNTAX and
 * the like, or a normal answer), and must keep its SAD consistent: one
 * outbound SA per child SA it lists, no two on one SPI.
 */
import assert from "node:assert/strict";
import { ExchangeType, PayloadType } from "../../lib/ikev2/constants.ts";
import type { Effect, Endpoint } from "../../lib/ikev2/effects.ts";
import type { IkeSa } from "../../lib/ikev2/ike_sa.ts";
import { decodeMessage, openProtected, sealProtected } from "../../lib/ikev2/message.ts";
import { parseConfig } from "../../lib/config/parse.ts";
import { parseIdentity } from "../../lib/db/identity.ts";
import { toEngineConfig } from "../../lib/config/to_peer_config.ts";
import type { EngineConfig } from "../../lib/ikev2/peer_config.ts";
import { certConfigs, makePki, NOW } from "../helpers/engine_pki.ts";
import { clientYaml, gatewayYaml } from "../helpers/road_warrior_yaml.ts";
import { pskConfigs, TwoPeers } from "../helpers/two_peers.ts";

interface Seed {
  what: string;
  exchangeType: number;
  first: number;
  inner: Uint8Array;
  from: Endpoint;
  to: Endpoint;
}

/**
 * alice and bob with an IKE SA and one child SA (same seed: same SPIs and
 * keys every time); with MOBIKE, bob has a second address and both use 4500.
 */
function established(mobike: boolean): { t: TwoPeers; alice: IkeSa; bob: IkeSa } {
  const t = new TwoPeers(
    mobike
      ? pskConfigs({ bobEngine: { localAddresses: ["192.0.2.2", "198.51.100.2"] } })
      : pskConfigs({ alice: { mobike: false }, bob: { mobike: false } }),
  );
  t.initiate("alice", "site");
  t.run(5000);
  assert.equal(t.bob.sad.size, 2);
  const alice = t.alice.engine.ikeSa(t.alice.engine.list()[0].id)!;
  const bob = t.bob.engine.ikeSa(t.bob.engine.list()[0].id)!;
  assert.equal(bob.mobike, mobike);
  return { t, alice, bob };
}

/** The plaintext of the request alice sends when `act` runs (not delivered to bob). */
function seed(what: string, mobike: boolean, act: (t: TwoPeers) => Effect[]): Seed {
  const { t, bob } = established(mobike);
  const send = act(t).find((e) => e.kind === "send");
  assert.ok(send?.kind === "send", `${what}: alice sent nothing`);
  const d = decodeMessage(send.bytes);
  assert.ok(d.encrypted?.type === PayloadType.SK, `${what}: not an SK message`);
  return {
    what,
    exchangeType: d.header.exchangeType,
    first: d.encrypted.innerNextPayload,
    inner: openProtected(d, bob.protection!.inbound).slice(),
    from: send.from,
    to: send.to,
  };
}

function seeds(mobike: boolean): Seed[] {
  const now = (t: TwoPeers) => t.clock.now;
  const ike = (t: TwoPeers) => t.alice.engine.list()[0].id;
  const child = (t: TwoPeers) => t.alice.engine.list()[0].children[0].id;
  const common = [
    seed("child rekey", mobike, (t) => t.alice.engine.rekeyChild(child(t), now(t))),
    seed("IKE rekey", mobike, (t) => t.alice.engine.rekeyIke(ike(t), now(t))),
    seed("new child", mobike, (t) => t.alice.engine.createChild(ike(t), "net", now(t))),
    seed("child delete", mobike, (t) => t.alice.engine.closeChild(child(t), now(t))),
    seed("IKE delete", mobike, (t) => t.alice.engine.terminate(ike(t), now(t))),
  ];
  if (!mobike) return common;
  return [
    ...common,
    seed("MOBIKE update", true, (t) => {
      t.relocateAlice("198.51.100.10");
      return t.alice.engine.updateAddresses(ike(t), "198.51.100.10", now(t));
    }),
    seed("additional addresses", true, (t) => {
      const fx = t.alice.engine.setLocalAddresses(["192.0.2.1", "198.51.100.11"], now(t));
      return fx.some((e) => e.kind === "send")
        ? fx
        : t.alice.engine.setLocalAddresses(["192.0.2.1", "198.51.100.12", "2001:db8::1"], now(t));
    }),
  ];
}

/** A deterministic generator of mutations. */
function mutator(seed: number) {
  let s = seed >>> 0;
  const rnd = (n: number) => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s >>> 8) % n;
  };
  return (b: Uint8Array): Uint8Array => {
    const out = b.slice();
    switch (rnd(5)) {
      case 0: // a few bit flips
        for (let k = 1 + rnd(4); k > 0; k--) out[rnd(out.length)] ^= 1 << rnd(8);
        return out;
      case 1: // one byte anything
        out[rnd(out.length)] = rnd(256);
        return out;
      case 2: // a length field (bytes 2-3 of a payload header somewhere) set to anything
      {
        const at = rnd(Math.max(1, out.length - 1));
        out[at] = rnd(256);
        out[at + 1] = rnd(256);
        return out;
      }
      case 3: // cut short
        return out.subarray(0, rnd(out.length));
      default: { // a byte run repeated in the middle
        const at = rnd(out.length);
        const n = 1 + rnd(16);
        const r = new Uint8Array(out.length + n);
        r.set(out.subarray(0, at));
        r.set(out.subarray(at, Math.min(out.length, at + n)), at);
        r.set(out.subarray(at), at + Math.min(n, out.length - at));
        return r;
      }
    }
  };
}

/** Sends `rounds` mutations of `all` to bob and checks every answer and bob's SAD. */
function fuzz(mobike: boolean, all: readonly Seed[], rounds: number, seedValue: number): void {
  const mutate = mutator(seedValue);
  let pair = established(mobike);
  let answered = 0;
  let rebuilt = 0;
  for (let i = 0; i < rounds; i++) {
    const s = all[i % all.length];
    const inner = mutate(s.inner);
    const mid = pair.bob.window.expectedMid;
    const bytes = sealProtected(
      {
        spiI: pair.alice.spiI,
        spiR: pair.alice.spiR,
        exchangeType: s.exchangeType,
        initiator: true,
        response: false,
        messageId: mid,
      },
      pair.alice.protection!.outbound,
      inner,
      s.first,
    );
    let fx: Effect[];
    try {
      fx = pair.t.bob.engine.handle(bytes, s.from, s.to, pair.t.clock.now);
    } catch (e) {
      throw new Error(`${s.what} mutation ${i} made handle() throw: ${(e as Error).stack}`);
    }
    pair.t.apply(pair.t.bob, fx);
    const responses = fx.filter((e) => {
      if (e.kind !== "send") return false;
      const h = decodeMessage(e.bytes).header;
      return h.response && h.messageId === mid;
    });
    assert.equal(responses.length, 1, `${s.what} mutation ${i}: ${responses.length} answers`);
    answered++;
    // Outbound SAs: one per child SA bob lists, never two children on one SPI
    // (inbound SAs of deleted children linger a moment for packets in flight).
    const outSpis = new Set<number>();
    for (const ikeSa of pair.t.bob.engine.list()) {
      for (const c of ikeSa.children) {
        assert.ok(
          !outSpis.has(c.spiOut),
          `${s.what} mutation ${i}: two children send on ${c.spiOut}`,
        );
        outSpis.add(c.spiOut);
      }
    }
    for (const sa of pair.t.bob.sad.values()) {
      if (sa.direction !== "out") continue;
      assert.ok(outSpis.has(sa.spi), `${s.what} mutation ${i}: outbound SA ${sa.spi} of no child`);
    }
    // Start again from a fresh IKE SA when this one is gone or was replaced.
    const now = pair.t.bob.engine.list();
    if (
      now.length !== 1 || now[0].state !== "established" || !pair.t.bob.engine.ikeSa(pair.bob.id)
    ) {
      pair = established(mobike);
      rebuilt++;
    }
  }
  assert.equal(answered, rounds);
  assert.ok(rebuilt > 0, "some mutations must have kept the Delete of the IKE SA intact");
}

Deno.test("fuzz: authentic mutated CREATE_CHILD_SA/INFORMATIONAL requests: no throw, always answered, one outbound SA per child", () => {
  const all = seeds(false);
  assert.deepEqual(all.map((x) => x.exchangeType), [
    ExchangeType.CREATE_CHILD_SA,
    ExchangeType.CREATE_CHILD_SA,
    ExchangeType.CREATE_CHILD_SA,
    ExchangeType.INFORMATIONAL,
    ExchangeType.INFORMATIONAL,
  ]);
  fuzz(false, all, 1500, 20261207);
});

Deno.test("fuzz: the same with MOBIKE, and mutated UPDATE_SA_ADDRESSES and address notifications", () => {
  const all = seeds(true);
  assert.deepEqual(all.slice(5).map((x) => x.exchangeType), [
    ExchangeType.INFORMATIONAL,
    ExchangeType.INFORMATIONAL,
  ]);
  assert.deepEqual(all[5].from, { address: "198.51.100.10", port: 4500 });
  fuzz(true, all, 1500, 42);
});

/** An action alice starts and the plaintext of bob's genuine answer to it. */
interface ResponseSeed {
  what: string;
  act: (t: TwoPeers) => Effect[];
  exchangeType: number;
  first: number;
  inner: Uint8Array;
}

function responseSeeds(mobike: boolean): ResponseSeed[] {
  const now = (t: TwoPeers) => t.clock.now;
  const ike = (t: TwoPeers) => t.alice.engine.list()[0].id;
  const child = (t: TwoPeers) => t.alice.engine.list()[0].children[0]?.id ?? -1;
  const acts: [string, (t: TwoPeers) => Effect[]][] = [
    ["child rekey", (t) => t.alice.engine.rekeyChild(child(t), now(t))],
    ["IKE rekey", (t) => t.alice.engine.rekeyIke(ike(t), now(t))],
    ["new child", (t) => t.alice.engine.createChild(ike(t), "net", now(t))],
    ["child delete", (t) => t.alice.engine.closeChild(child(t), now(t))],
  ];
  if (mobike) {
    acts.push(["MOBIKE update", (t) => {
      t.relocateAlice("198.51.100.10");
      return t.alice.engine.updateAddresses(ike(t), "198.51.100.10", now(t));
    }]);
  }
  return acts.map(([what, act]) => {
    const { t, alice } = established(mobike);
    t.apply(t.alice, act(t));
    const before = t.bob.effects.length;
    t.run(t.clock.now + 50);
    const send = t.bob.effects.slice(before).find((e) => e.kind === "send");
    assert.ok(send?.kind === "send", `${what}: bob answered nothing`);
    const d = decodeMessage(send.bytes);
    assert.ok(d.header.response && d.encrypted?.type === PayloadType.SK, `${what}: no SK answer`);
    return {
      what,
      act,
      exchangeType: d.header.exchangeType,
      first: d.encrypted.innerNextPayload,
      inner: openProtected(d, alice.protection!.inbound).slice(),
    };
  });
}

/**
 * alice starts an exchange, and bob's authentic answer is a mutated copy of
 * a genuine one: alice must never throw, must not wait for that answer any
 * more unless it did not parse, and must keep one outbound SA per child SA
 * on its own SPI.
 */
function fuzzResponses(
  mobike: boolean,
  all: readonly ResponseSeed[],
  rounds: number,
  seedValue: number,
) {
  const mutate = mutator(seedValue);
  let pair = established(mobike);
  let reached = 0;
  for (let i = 0; i < rounds; i++) {
    const s = all[i % all.length];
    // The request goes into the simulated network, which nothing runs: bob never sees it.
    const started = s.act(pair.t);
    pair.t.apply(pair.t.alice, started);
    const sent = started.filter((e) => e.kind === "send");
    if (sent.length !== 1 || sent[0].kind !== "send" || !pair.alice.window.busy) {
      pair = established(mobike);
      continue;
    }
    reached++;
    const request = decodeMessage(sent[0].bytes).header;
    const bytes = sealProtected(
      {
        spiI: pair.bob.spiI,
        spiR: pair.bob.spiR,
        exchangeType: request.exchangeType,
        initiator: false,
        response: true,
        messageId: request.messageId,
      },
      pair.bob.protection!.outbound,
      mutate(s.inner),
      s.first,
    );
    const parseErrors = pair.t.alice.engine.counters.parseErrors;
    let fx: Effect[];
    try {
      fx = pair.t.alice.engine.handle(bytes, sent[0].to, sent[0].from, pair.t.clock.now);
    } catch (e) {
      throw new Error(`${s.what} answer mutation ${i} made handle() throw: ${(e as Error).stack}`);
    }
    pair.t.apply(pair.t.alice, fx);
    const sa = pair.t.alice.engine.ikeSa(pair.alice.id);
    // An answer that does not parse is dropped like a lost one: the request is
    // retransmitted until the peer's cached answer parses or alice gives up.
    const unparsed = pair.t.alice.engine.counters.parseErrors > parseErrors;
    assert.ok(
      unparsed || !sa || sa.window.outstanding?.mid !== request.messageId,
      `${s.what} answer mutation ${i}: alice still waits for answer ${request.messageId}`,
    );
    const outSpis = new Set<number>();
    for (const ikeSa of pair.t.alice.engine.list()) {
      for (const c of ikeSa.children) {
        if (c.spiOut === 0) continue;
        assert.ok(
          !outSpis.has(c.spiOut),
          `${s.what} answer mutation ${i}: two children on one SPI`,
        );
        outSpis.add(c.spiOut);
      }
    }
    for (const x of pair.t.alice.sad.values()) {
      if (x.direction !== "out") continue;
      assert.ok(outSpis.has(x.spi), `${s.what} answer mutation ${i}: outbound SA of no child`);
    }
    const now = pair.t.alice.engine.list();
    if (now.length !== 1 || now[0].state !== "established" || !sa || sa.window.busy) {
      pair = established(mobike);
    }
  }
  assert.ok(reached > rounds * 0.9, `only ${reached} of ${rounds} answers reached alice`);
}

Deno.test("fuzz: authentic mutated answers to CREATE_CHILD_SA/INFORMATIONAL: no throw, nothing left waiting", () => {
  fuzzResponses(false, responseSeeds(false), 1000, 7);
  fuzzResponses(true, responseSeeds(true), 1000, 8);
});

/**
 * Anyone who completes IKE_SA_INIT holds keys that make its IKE_AUTH
 * "authentic" before it has proven anything: the initiator's genuine
 * IKE_AUTH request (IDi, AUTH, CERT, CP, SA, TSi, TSr, notifies), mutated,
 * must never make the responder throw, must get exactly one answer, and
 * must leave SAs installed only for IKE SAs that came up. Returns how many
 * came up.
 */
function fuzzIkeAuth(
  cfg: { alice: EngineConfig; bob: EngineConfig },
  rounds: number,
  seedValue: number,
  startMs = 0,
): number {
  const mutate = mutator(seedValue);
  const name = cfg.alice.connections[0].name;
  const only = (fx: Effect[]) => {
    const s = fx.filter((e) => e.kind === "send");
    assert.equal(s.length, 1);
    return s[0] as Extract<Effect, { kind: "send" }>;
  };
  let t = new TwoPeers({ ...cfg, startMs });
  let up = 0;
  for (let i = 0; i < rounds; i++) {
    // A fresh pair now and then: the initiator's half-open SAs pile up otherwise.
    if (i % 100 === 99) t = new TwoPeers({ ...cfg, startMs, seed: i + 1 });
    const now = t.clock.now;
    const initFx = t.alice.engine.initiate(name, now);
    t.apply(t.alice, initFx);
    const init = only(initFx);
    const initAnswerFx = t.bob.engine.handle(init.bytes, init.from, init.to, now);
    t.apply(t.bob, initAnswerFx);
    const initAnswer = only(initAnswerFx);
    const authFx = t.alice.engine.handle(initAnswer.bytes, initAnswer.from, initAnswer.to, now);
    t.apply(t.alice, authFx);
    const auth = only(authFx);
    const d = decodeMessage(auth.bytes);
    assert.ok(d.encrypted?.type === PayloadType.SK);
    const alice = t.alice.engine.ikeSa(t.alice.engine.list().at(-1)!.id)!;
    const bob = [...t.bob.engine.list()].reverse().find((x) => x.spiI === d.header.spiI)!;
    const bobSa = t.bob.engine.ikeSa(bob.id)!;
    const inner = mutate(openProtected(d, bobSa.protection!.inbound));
    const bytes = sealProtected(
      {
        spiI: alice.spiI,
        spiR: alice.spiR,
        exchangeType: ExchangeType.IKE_AUTH,
        initiator: true,
        response: false,
        messageId: 1,
      },
      alice.protection!.outbound,
      inner,
      d.encrypted.innerNextPayload,
    );
    let fx: Effect[];
    try {
      fx = t.bob.engine.handle(bytes, auth.from, auth.to, now);
    } catch (e) {
      (e as Error).message = `IKE_AUTH mutation ${i} made handle() throw: ${(e as Error).message}`;
      throw e;
    }
    t.apply(t.bob, fx);
    const answers = fx.filter((e) => {
      if (e.kind !== "send") return false;
      const h = decodeMessage(e.bytes).header;
      return h.response && h.messageId === 1 && h.exchangeType === ExchangeType.IKE_AUTH;
    });
    assert.equal(answers.length, 1, `IKE_AUTH mutation ${i}: ${answers.length} answers`);
    if (t.bob.engine.ikeSa(bob.id)?.established) up++;
    // SAs only for child SAs of IKE SAs that are up.
    const spis = new Set<number>();
    for (const x of t.bob.engine.list()) {
      if (x.state !== "established") continue;
      for (const c of x.children) spis.add(c.spiIn).add(c.spiOut);
    }
    for (const sa of t.bob.sad.values()) {
      assert.ok(spis.has(sa.spi), `IKE_AUTH mutation ${i}: SA ${sa.spi} without an IKE SA up`);
    }
  }
  return up;
}

Deno.test("fuzz: mutated IKE_AUTH requests (with a configuration payload) against a gateway with pools", () => {
  const cfg = {
    alice: toEngineConfig(parseConfig(clientYaml('[0.0.0.0, "::"]'))),
    bob: toEngineConfig(parseConfig(gatewayYaml("[v4, v6]"))),
  };
  const up = fuzzIkeAuth(cfg, 600, 77);
  // Mutations of the CP, SA, TS and notify payloads keep the AUTH valid: some come up.
  assert.ok(up > 0 && up < 600, `${up} of 600 came up`);
});

Deno.test("fuzz: mutated IKE_AUTH requests with ECDSA certificates (CERT, CERTREQ, AUTH by signature)", async () => {
  const up = fuzzIkeAuth(certConfigs(await makePki("ecdsa", 256)), 300, 99, NOW);
  assert.ok(up > 0 && up < 300, `${up} of 300 came up`);
});

/**
 * IKE_SA_INIT is in clear: anyone can send anything. The initiator's genuine
 * request (SA, KE, Ni, NAT detection, notifies) with its payloads mutated
 * (the header's length fixed up) must never make the responder throw, gets
 * at most one answer, and leaves no SA installed.
 */
Deno.test("fuzz: mutated IKE_SA_INIT requests: no throw, at most one answer, nothing installed", () => {
  const mutate = mutator(5150);
  const cfg = pskConfigs();
  let t = new TwoPeers(cfg);
  for (let i = 0; i < 3000; i++) {
    if (i % 200 === 199) t = new TwoPeers({ ...cfg, seed: i + 1 });
    const fx = t.alice.engine.initiate("site", t.clock.now);
    const send = fx.find((e) => e.kind === "send");
    assert.ok(send?.kind === "send");
    const body = mutate(send.bytes.subarray(28));
    const bytes = new Uint8Array(28 + body.length);
    bytes.set(send.bytes.subarray(0, 28));
    bytes.set(body, 28);
    new DataView(bytes.buffer).setUint32(24, bytes.length);
    let answer: Effect[];
    try {
      answer = t.bob.engine.handle(bytes, send.from, send.to, t.clock.now);
    } catch (e) {
      (e as Error).message = `IKE_SA_INIT mutation ${i} made handle() throw: ${
        (e as Error).message
      }`;
      throw e;
    }
    t.apply(t.bob, answer);
    assert.ok(
      answer.filter((e) => e.kind === "send").length <= 1,
      `mutation ${i}: several answers`,
    );
    assert.equal(t.bob.sad.size, 0, `mutation ${i}: an SA after IKE_SA_INIT`);
  }
});

Deno.test("fuzz: mutated IKE_AUTH requests with a PPK (PPK_IDENTITY, NO_PPK_AUTH; RFC 8784)", () => {
  const base = pskConfigs({ alice: { ppkId: "ppk-1" } });
  const ppks = [{ ids: ["ppk-1"], secret: new Uint8Array(32).fill(9) }];
  const cfg = { alice: { ...base.alice, ppks }, bob: { ...base.bob, ppks } };
  const up = fuzzIkeAuth(cfg, 300, 123);
  assert.ok(up > 0 && up < 300, `${up} of 300 came up`);
});

Deno.test("fuzz: mutated first IKE_AUTH requests of an EAP client: answered, never up in one exchange", () => {
  const base = pskConfigs();
  const a = base.alice.connections[0], b = base.bob.connections[0];
  const cfg = {
    alice: {
      ...base.alice,
      connections: [{ ...a, local: { auth: "eap" as const, id: a.local.id } }],
      eapSecrets: [{ ids: [], secret: "clientPass" }],
    },
    bob: {
      ...base.bob,
      connections: [{ ...b, remote: { auth: "eap" as const, id: b.remote.id } }],
      eapSecrets: [{ ids: [], secret: "clientPass" }],
    },
  };
  // The responder answers each (its AUTH and an EAP request, or an error); EAP needs more rounds.
  assert.equal(fuzzIkeAuth(cfg, 300, 321), 0);
});

Deno.test("fuzz: mutated first IKE_AUTH requests of a two-round client (RFC 4739): never up after one", () => {
  const base = pskConfigs();
  const a = base.alice.connections[0], b = base.bob.connections[0];
  const user = parseIdentity("alice-user@example.org");
  const cfg = {
    alice: {
      ...base.alice,
      connections: [{ ...a, localRounds: [{ auth: "eap" as const, id: user, eapId: "alice" }] }],
      eapSecrets: [{ ids: [], secret: "clientPass" }],
    },
    bob: {
      ...base.bob,
      connections: [{ ...b, remoteRounds: [{ auth: "eap" as const, eapId: "%any" }] }],
      eapSecrets: [{ ids: [], secret: "clientPass" }],
    },
  };
  // Dropping ANOTHER_AUTH_FOLLOWS is refused; keeping it is answered with IDr AUTH only.
  assert.equal(fuzzIkeAuth(cfg, 300, 4739), 0);
});

/**
 * The initiator's side of IKE_SA_INIT is just as open: mutated copies of a
 * genuine response (one carrying a REDIRECT with the nonce, one a normal
 * answer with USE_PPK and the rest) must never make it throw, and leave no
 * SA installed before IKE_AUTH completes.
 */
Deno.test("fuzz: mutated IKE_SA_INIT responses (REDIRECT, USE_PPK): the initiator never throws", () => {
  const mutate = mutator(8784);
  const base = pskConfigs({ alice: { ppkId: "ppk-1" } });
  const ppks = [{ ids: ["ppk-1"], secret: new Uint8Array(32).fill(3) }];
  for (const redirectTo of [undefined, "192.0.2.9"]) {
    const b = base.bob.connections[0];
    const cfg = {
      alice: { ...base.alice, ppks },
      bob: { ...base.bob, ppks, connections: [{ ...b, ...(redirectTo ? { redirectTo } : {}) }] },
    };
    let t = new TwoPeers(cfg);
    for (let i = 0; i < 1500; i++) {
      if (i % 200 === 199) t = new TwoPeers({ ...cfg, seed: i + 1 });
      const fx = t.alice.engine.initiate("site", t.clock.now);
      t.apply(t.alice, fx);
      const send = fx.find((e) => e.kind === "send");
      assert.ok(send?.kind === "send");
      const answer = t.bob.engine.handle(send.bytes, send.from, send.to, t.clock.now)
        .find((e) => e.kind === "send");
      assert.ok(answer?.kind === "send");
      const body = mutate(answer.bytes.subarray(28));
      const bytes = new Uint8Array(28 + body.length);
      bytes.set(answer.bytes.subarray(0, 28));
      bytes.set(body, 28);
      new DataView(bytes.buffer).setUint32(24, bytes.length);
      try {
        t.apply(t.alice, t.alice.engine.handle(bytes, answer.from, answer.to, t.clock.now));
      } catch (e) {
        (e as Error).message = `IKE_SA_INIT response mutation ${i} (redirect ${redirectTo}) made ` +
          `handle() throw: ${(e as Error).message}`;
        throw e;
      }
      assert.equal(t.alice.sad.size, 0, `mutation ${i}: an SA after IKE_SA_INIT`);
    }
  }
});
