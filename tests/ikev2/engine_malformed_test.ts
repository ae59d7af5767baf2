/**
 * Authentic but malformed requests (the ICV verifies, the payloads inside do
 * not parse): the responder answers INVALID_SYNTAX or
 * UNSUPPORTED_CRITICAL_PAYLOAD (RFC 7296 sections 2.21, 3.10.1) instead of
 * dropping them; a bad ICV is still dropped silently (engine_errors_test.ts).
 */
import assert from "node:assert/strict";
import { ExchangeType, PayloadType } from "../../lib/ikev2/constants.ts";
import type { IkeSa } from "../../lib/ikev2/ike_sa.ts";
import {
  decodeMessage,
  decryptMessage,
  openProtected,
  sealProtected,
} from "../../lib/ikev2/message.ts";
import { pskConfigs, TwoPeers } from "../helpers/two_peers.ts";

const ALICE = { address: "192.0.2.1", port: 500 };
const BOB = { address: "192.0.2.2", port: 500 };

function generated(p: { logs: string[] }): string[] {
  return p.logs.filter((l) => l.includes("generating")).map((l) => l.replace(/^.*generating /, ""));
}

/** A request sealed with alice's real keys whose plaintext is `inner` (first payload `first`). */
function sealed(sa: IkeSa, exchangeType: number, inner: Uint8Array, first: number): Uint8Array {
  return sealProtected(
    {
      spiI: sa.spiI,
      spiR: sa.spiR,
      exchangeType,
      initiator: true,
      response: false,
      messageId: sa.window.nextMid,
    },
    sa.protection!.outbound,
    inner,
    first,
  );
}

// Generic payload header: next payload, critical bit + reserved, 16-bit length.
/** A Notify payload whose length (2) is shorter than its own header: INVALID_SYNTAX. */
const SHORT_NOTIFY = new Uint8Array([0, 0, 0, 2]);
/** An empty payload of unknown type 200 with the critical bit set. */
const CRITICAL_UNKNOWN = new Uint8Array([0, 0x80, 0, 4]);

function established(): { t: TwoPeers; sa: IkeSa } {
  const t = new TwoPeers(pskConfigs());
  t.initiate("alice", "site");
  t.run(5000);
  assert.equal(t.bob.sad.size, 2);
  return { t, sa: t.alice.engine.ikeSa(t.alice.engine.list()[0].id)! };
}

/*
 *   alice                                              bob
 *   (IKE and child SA up)
 *   INFORMATIONAL request 2 SK{ N with length 2 } -->   ICV ok, payload malformed
 *                  <-- INFORMATIONAL response 2 [ N(INVAL_SYN) ]
 *   bob keeps the IKE SA and its child SA
 */
Deno.test("engine: authentic malformed INFORMATIONAL request gets INVALID_SYNTAX", () => {
  const { t, sa } = established();
  const bytes = sealed(sa, ExchangeType.INFORMATIONAL, SHORT_NOTIFY, PayloadType.NOTIFY);
  t.apply(t.bob, t.bob.engine.handle(bytes, ALICE, BOB, t.clock.now));
  assert.equal(generated(t.bob).at(-1), "INFORMATIONAL response 2 [ N(INVAL_SYN) ]");
  assert.equal(t.bob.engine.counters.parseErrors, 1);
  assert.equal(t.bob.engine.counters.integrityFailures, 0);
  assert.equal(t.bob.engine.list()[0].state, "established");
  assert.equal(t.bob.sad.size, 2);
  // The same bytes with one ciphertext bit flipped: dropped silently, not answered.
  const bad = sealed(sa, ExchangeType.INFORMATIONAL, SHORT_NOTIFY, PayloadType.NOTIFY);
  bad[bad.length - 20] ^= 1;
  const fx = t.bob.engine.handle(bad, ALICE, BOB, t.clock.now);
  assert.equal(fx.filter((e) => e.kind === "send").length, 0);
  assert.equal(t.bob.engine.counters.integrityFailures, 1);
});

/*
 *   INFORMATIONAL request 2 SK{ payload type 200, critical } -->
 *                  <-- INFORMATIONAL response 2 [ N(UNSUPP_CRIT)(200) ]
 */
Deno.test("engine: authentic request with an unknown critical payload gets UNSUPPORTED_CRITICAL_PAYLOAD", () => {
  const { t, sa } = established();
  const bytes = sealed(sa, ExchangeType.INFORMATIONAL, CRITICAL_UNKNOWN, 200);
  const fx = t.bob.engine.handle(bytes, ALICE, BOB, t.clock.now);
  t.apply(t.bob, fx);
  assert.equal(generated(t.bob).at(-1), "INFORMATIONAL response 2 [ N(UNSUPP_CRIT) ]");
  // alice can read the answer: the notify names payload type 200.
  const send = fx.find((e) => e.kind === "send");
  assert.ok(send?.kind === "send");
  const answer = decryptMessage(decodeMessage(send.bytes), sa.protection!.inbound).payloads[0];
  assert.ok(answer.type === PayloadType.NOTIFY);
  assert.equal(answer.data.at(-1), 200);
  t.run(t.clock.now + 100);
  assert.equal(t.alice.engine.counters.unexpectedResponses, 1, "alice sent no request 2 herself");
  assert.equal(t.bob.engine.list()[0].state, "established");
});

/*
 *   IKE_SA_INIT request 0 / response 0 as usual
 *   IKE_AUTH request 1 SK{ N with length 2 } -->        (alice's real IKE_AUTH is lost)
 *                  <-- IKE_AUTH response 1 [ N(INVAL_SYN) ]
 *   bob forgets the half-open IKE SA (RFC 7296 2.21.2): ike-failed
 */
Deno.test("engine: authentic malformed IKE_AUTH request gets INVALID_SYNTAX and ends the SA", () => {
  const t = new TwoPeers({
    ...pskConfigs(),
    network: { filter: (d) => !(d.from.address === ALICE.address && d.bytes[18] === 35) },
  });
  t.initiate("alice", "site");
  t.run(1000);
  assert.equal(t.bob.engine.halfOpenCount, 1);
  const sa = t.alice.engine.ikeSa(t.alice.engine.list()[0].id)!;
  const bytes = sealProtected(
    {
      spiI: sa.spiI,
      spiR: sa.spiR,
      exchangeType: ExchangeType.IKE_AUTH,
      initiator: true,
      response: false,
      messageId: 1,
    },
    sa.protection!.outbound,
    SHORT_NOTIFY,
    PayloadType.NOTIFY,
  );
  const fx = t.bob.engine.handle(bytes, ALICE, BOB, t.clock.now);
  t.apply(t.bob, fx);
  assert.equal(generated(t.bob).at(-1), "IKE_AUTH response 1 [ N(INVAL_SYN) ]");
  assert.equal(t.bob.engine.list().length, 0);
  assert.equal(t.bob.engine.halfOpenCount, 0);
  assert.match(t.bob.eventsOf("ike-failed")[0].reason, /malformed IKE_AUTH request/);
});

/** An IKE header (28 bytes, no payloads) of major version `major`, an IKE_SA_INIT request. */
function otherVersion(major: number, flags = 0x08): Uint8Array {
  const b = new Uint8Array(28);
  b.set([1, 2, 3, 4, 5, 6, 7, 8], 0); // SPIi
  b[17] = major << 4;
  b[18] = ExchangeType.IKE_SA_INIT;
  b[19] = flags;
  b[27] = 28;
  return b;
}

/*
 *   an IKEv1 Main Mode packet (version 1.0) -->   dropped; one log line says IKEv1 is not spoken
 *   a version 3.0 IKE_SA_INIT request       -->
 *           <-- version 2.0 response N(INVALID_MAJOR_VERSION), unauthenticated (RFC 7296 2.5)
 *   a version 3.0 response                  -->   dropped (nothing answers a response)
 */
Deno.test("engine: other IKE major versions: IKEv1 is dropped with a clear log line, 3.0 gets INVALID_MAJOR_VERSION", () => {
  const t = new TwoPeers(pskConfigs());
  const handle = (b: Uint8Array) => t.bob.engine.handle(b, ALICE, BOB, t.clock.now);
  const v1 = handle(otherVersion(1));
  assert.equal(v1.filter((e) => e.kind === "send").length, 0);
  const lines = v1.filter((e) => e.kind === "log").map((e) => e.kind === "log" ? e.line : "");
  assert.ok(lines.some((l) => l.includes("IKEv1") && l.includes("192.0.2.1")), lines.join("\n"));
  // A retransmitting IKEv1 peer is reported once a minute, not per packet.
  const again = handle(otherVersion(1));
  assert.equal(again.filter((e) => e.kind === "log" && e.line.includes("IKEv1")).length, 0);

  const v3 = handle(otherVersion(3));
  const sent = v3.filter((e): e is Extract<typeof e, { kind: "send" }> => e.kind === "send");
  assert.equal(sent.length, 1);
  assert.deepEqual([sent[0].to, sent[0].from], [ALICE, BOB]);
  const d = decodeMessage(sent[0].bytes);
  assert.equal(sent[0].bytes[17], 0x20, "version 2.0 in the header");
  assert.equal(d.header.response, true);
  assert.equal(d.header.initiator, false);
  assert.equal(d.header.spiI, 0x0102030405060708n);
  assert.equal(d.header.exchangeType, ExchangeType.IKE_SA_INIT);
  assert.equal(d.payloads.length, 1);
  const n = d.payloads[0];
  assert.ok(n.type === PayloadType.NOTIFY && n.notifyType === 5 && n.data.length === 0);
  // A response of another version is never answered.
  const resp = handle(otherVersion(3, 0x20));
  assert.equal(resp.filter((e) => e.kind === "send").length, 0);
  assert.equal(t.bob.engine.list().length, 0, "no state");
});

/*
 *   CREATE_CHILD_SA request 2 [ SA No TSi TSr ] -->     (a second child SA, alice's SPI x)
 *                  <-- CREATE_CHILD_SA response 2 [ SA No TSi TSr ]
 *   CREATE_CHILD_SA request 3, the same payloads -->    (SPI x again: it is taken)
 *                  <-- CREATE_CHILD_SA response 3 [ N(NO_PROP) ]
 *   bob keeps both child SAs, one outbound SA each
 */
Deno.test("engine: a CREATE_CHILD_SA reusing the SPI of a child SA gets NO_PROPOSAL_CHOSEN", () => {
  const { t, sa } = established();
  const bob = t.bob.engine.ikeSa(t.bob.engine.list()[0].id)!;
  const fx = t.alice.engine.createChild(sa.id, "net", t.clock.now);
  const send = fx.find((e) => e.kind === "send");
  assert.ok(send?.kind === "send");
  const d = decodeMessage(send.bytes);
  assert.ok(d.encrypted?.type === PayloadType.SK);
  const inner = openProtected(d, bob.protection!.inbound).slice();
  const first = d.encrypted.innerNextPayload;
  t.apply(t.alice, fx);
  t.run(t.clock.now + 1000);
  assert.equal(t.bob.engine.list()[0].children.length, 2);
  assert.equal(t.bob.sad.size, 4);

  const again = sealed(sa, ExchangeType.CREATE_CHILD_SA, inner, first);
  t.apply(t.bob, t.bob.engine.handle(again, ALICE, BOB, t.clock.now));
  assert.equal(generated(t.bob).at(-1), "CREATE_CHILD_SA response 3 [ N(NO_PROP) ]");
  assert.ok(t.bob.logs.some((l) => /SPI [0-9a-f]{8} is already that of child SA net\[/.test(l)));
  assert.equal(t.bob.engine.list()[0].children.length, 2);
  assert.equal(t.bob.sad.size, 4);
});
