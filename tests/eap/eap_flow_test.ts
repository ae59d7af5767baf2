/**
 * EapPeer <-> EapServer in memory: every flow of RFC 3748 / RFC 2759 we
 * support, the Nak path, and bad input on both sides (never a throw).
 */
import assert from "node:assert/strict";
import { EapPeer, type EapPeerOptions, type EapPeerStep } from "../../lib/eap/eap_peer.ts";
import { EapServer, type EapServerOptions, type EapServerStep } from "../../lib/eap/eap_server.ts";
import {
  decodeEap,
  decodeMsChapV2,
  type EapTypedPacket,
  encodeEap,
  encodeMsChapV2,
} from "../../lib/eap/eap_message.ts";
import {
  authenticatorResponseFromHash,
  formatAuthenticatorResponse,
  generateNtResponse,
  mschapv2Msk,
  ntPasswordHash,
} from "../../lib/eap/mschapv2_crypto.ts";
import { md5 } from "@noble/hashes/legacy.js";
import { concat, fromHex, toHex } from "../../lib/wire/bytes.ts";

/** Deterministic "random": a byte counter starting at `seed`. */
function counter(seed: number): (n: number) => Uint8Array {
  let x = seed;
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = x++ & 0xff;
    return out;
  };
}

const USERS: Record<string, string> = {
  carol: "carol-pass",
  "CORP\\alice": "alice-pass",
  "dave@strongswan.org": "p\u00e4ss w\u00f6rd",
};

function makePeer(o: Partial<EapPeerOptions> = {}): EapPeer {
  return new EapPeer({
    identity: "carol",
    secret: "carol-pass",
    methods: ["mschapv2", "md5"],
    random: counter(0x40),
    ...o,
  });
}

function makeServer(o: Partial<EapServerOptions> = {}): EapServer {
  return new EapServer({
    method: "mschapv2",
    secretFor: (id) => USERS[id],
    random: counter(0x90),
    ...o,
  });
}

interface Transcript {
  peer: EapPeerStep;
  server: EapServerStep;
  /** Each message as "S:<code>/<type>" or "P:<code>/<type>". */
  wire: string[];
}

function describe(m: Uint8Array): string {
  const p = decodeEap(m);
  const code = ["", "Req", "Resp", "Success", "Failure"][p.code];
  if (!("type" in p)) return code;
  if (p.type !== 26) return `${code}/${p.type}`;
  const ms = decodeMsChapV2(p.code, p.data);
  return `${code}/26/${ms.kind}`;
}

/** Runs a whole conversation; asserts the Identifiers echo and increase. */
function converse(peer: EapPeer, server: EapServer): Transcript {
  const wire: string[] = [];
  let req = server.start();
  for (let i = 0; i < 10; i++) {
    wire.push("S:" + describe(req));
    const ps = peer.receive(req);
    if (ps.kind !== "respond") {
      return { peer: ps, server: { kind: "failure", message: req, reason: "n/a" }, wire };
    }
    assert.equal(ps.message[1], req[1], "the peer echoes the Identifier");
    wire.push("P:" + describe(ps.message));
    const ss = server.receive(ps.message);
    if (ss.kind !== "request") {
      wire.push("S:" + describe(ss.message));
      assert.equal(ss.message[1], ps.message[1], "Success/Failure Identifier = the Response's");
      return { peer: peer.receive(ss.message), server: ss, wire };
    }
    assert.equal(ss.message[1], (req[1] + 1) & 0xff, "the Identifier increases per Request");
    req = ss.message;
  }
  throw new Error("conversation did not end");
}

// server                 peer
//  Req/Identity  ---->
//               <----   Resp/Identity "carol"
//  Req/MD5       ---->
//               <----   Resp/MD5
//  Success       ---->
Deno.test("EAP-MD5 with EAP-Identity: both succeed, no MSK", () => {
  const t = converse(makePeer({ methods: ["md5"] }), makeServer({ method: "md5" }));
  assert.deepEqual(t.wire, ["S:Req/1", "P:Resp/1", "S:Req/4", "P:Resp/4", "S:Success"]);
  assert.deepEqual(t.peer, { kind: "success", msk: undefined, method: "md5" });
  assert.equal(t.server.kind, "success");
  if (t.server.kind === "success") {
    assert.equal(t.server.identity, "carol");
    assert.equal(t.server.msk, undefined);
    assert.equal(t.server.message.length, 4);
  }
});

Deno.test("EAP-MD5 with a wrong password: both fail", () => {
  const t = converse(
    makePeer({ methods: ["md5"], secret: "nope" }),
    makeServer({ method: "md5", identity: "carol" }),
  );
  assert.deepEqual(t.wire, ["S:Req/4", "P:Resp/4", "S:Failure"]);
  assert.equal(t.server.kind, "failure");
  assert.match(t.server.kind === "failure" ? t.server.reason : "", /EAP-MD5: wrong response/);
  assert.equal(t.peer.kind, "failure");
  assert.match(t.peer.kind === "failure" ? t.peer.reason : "", /rejected our EAP-MD5 response/);
});

Deno.test("EAP-MD5 response is MD5(Identifier || secret || challenge) (RFC 1994)", () => {
  const server = makeServer({ method: "md5", identity: "carol" });
  const req = server.start();
  const p = decodeEap(req) as EapTypedPacket;
  assert.equal(p.data[0], 16);
  assert.equal(p.data.length, 17, "no Name: charon's peer would hash it");
  const step = makePeer().receive(req);
  assert.equal(step.kind, "respond");
  const want = md5(
    concat(new Uint8Array([req[1]]), new TextEncoder().encode("carol-pass"), p.data.slice(1)),
  );
  if (step.kind === "respond") assert.equal(toHex(step.message.slice(6)), toHex(want));
});

// server                          peer
//  Req/Identity            ---->
//                          <----  Resp/Identity
//  Req/MSCHAPv2 Challenge  ---->
//                          <----  Resp/MSCHAPv2 Response
//  Req/MSCHAPv2 Success    ---->  (S= verified)
//                          <----  Resp/MSCHAPv2 Success
//  Success                 ---->
Deno.test("EAP-MSCHAPv2 with EAP-Identity: both succeed with the same 64-byte MSK", () => {
  const t = converse(makePeer(), makeServer());
  assert.deepEqual(t.wire, [
    "S:Req/1",
    "P:Resp/1",
    "S:Req/26/challenge",
    "P:Resp/26/response",
    "S:Req/26/success-request",
    "P:Resp/26/success-response",
    "S:Success",
  ]);
  assert.equal(t.peer.kind, "success");
  assert.equal(t.server.kind, "success");
  if (t.peer.kind === "success" && t.server.kind === "success") {
    assert.equal(t.peer.method, "mschapv2");
    assert.equal(t.server.identity, "carol");
    assert.ok(t.peer.msk && t.server.msk);
    assert.equal(t.peer.msk.length, 64);
    assert.equal(toHex(t.peer.msk), toHex(t.server.msk));
    assert.equal(toHex(t.peer.msk.slice(32)), "00".repeat(32));
    assert.notEqual(toHex(t.peer.msk.slice(0, 32)), "00".repeat(32));
  }
});

Deno.test("EAP-MSCHAPv2 without EAP-Identity, a domain user and a non-ASCII password", () => {
  for (const identity of ["CORP\\alice", "dave@strongswan.org"]) {
    const server = makeServer({ identity, serverName: "strongSwan" });
    const first = decodeEap(server.start()) as EapTypedPacket;
    const ch = decodeMsChapV2(1, first.data);
    assert.equal(ch.kind === "challenge" ? ch.name : "", "strongSwan");
    const t = converse(makePeer({ identity, secret: USERS[identity] }), server);
    assert.equal(t.wire[0], "S:Req/26/challenge");
    assert.equal(t.peer.kind, "success", identity);
    assert.equal(t.server.kind === "success" ? t.server.identity : "", identity);
  }
});

// server                          peer
//  Req/MSCHAPv2 Challenge  ---->
//                          <----  Resp/MSCHAPv2 Response (wrong password)
//  Req/MSCHAPv2 Failure    ---->  "E=691 R=0 C=... V=3 M=..."
//                          <----  Resp/MSCHAPv2 Failure
//  Failure                 ---->
Deno.test("EAP-MSCHAPv2 with a wrong password: Failure Request, Failure Response, EAP-Failure", () => {
  const server = makeServer({ identity: "carol" });
  const peer = makePeer({ secret: "wrong" });
  const t = converse(peer, server);
  assert.deepEqual(t.wire, [
    "S:Req/26/challenge",
    "P:Resp/26/response",
    "S:Req/26/failure-request",
    "P:Resp/26/failure-response",
    "S:Failure",
  ]);
  assert.equal(t.server.kind, "failure");
  assert.match(t.server.kind === "failure" ? t.server.reason : "", /wrong NT-Response for "carol"/);
  assert.equal(t.peer.kind, "failure");
  assert.match(t.peer.kind === "failure" ? t.peer.reason : "", /E=691 \(authentication failure/);
});

Deno.test("EAP-MSCHAPv2 unknown identity looks like a wrong password on the wire", () => {
  const wrong = converse(makePeer({ secret: "wrong" }), makeServer());
  const unknown = converse(makePeer({ identity: "mallory", secret: "x" }), makeServer());
  assert.deepEqual(unknown.wire, wrong.wire);
  assert.match(
    unknown.server.kind === "failure" ? unknown.server.reason : "",
    /unknown identity "mallory"/,
  );
  assert.equal(unknown.peer.kind, "failure");
});

Deno.test("EAP-MD5 unknown identity: EAP-Failure after the response, like a wrong password", () => {
  const t = converse(makePeer({ identity: "mallory" }), makeServer({ method: "md5" }));
  assert.deepEqual(t.wire, ["S:Req/1", "P:Resp/1", "S:Req/4", "P:Resp/4", "S:Failure"]);
  assert.match(t.server.kind === "failure" ? t.server.reason : "", /unknown identity "mallory"/);
});

// server                 peer (accepts only MSCHAPv2)
//  Req/MD5       ---->
//               <----   Resp/Nak [26]
//  Failure       ---->
Deno.test("Nak: the peer refuses MD5 and lists its methods; the server fails", () => {
  const t = converse(
    makePeer({ methods: ["mschapv2"] }),
    makeServer({ method: "md5", identity: "carol" }),
  );
  assert.deepEqual(t.wire, ["S:Req/4", "P:Resp/3", "S:Failure"]);
  assert.match(
    t.server.kind === "failure" ? t.server.reason : "",
    /peer refused EAP-MD5 \(Nak; it offers MSCHAPv2\)/,
  );
  assert.equal(t.peer.kind, "failure");
});

Deno.test("Nak lists our methods in preference order; 0 when we accept none", () => {
  const tls = encodeEap({ code: 1, identifier: 5, type: 13, data: new Uint8Array([0x20]) });
  const a = makePeer({ methods: ["mschapv2", "md5"] }).receive(tls);
  assert.equal(a.kind === "respond" ? toHex(a.message) : "", "02050007031a04");
  const b = makePeer({ methods: ["md5", "mschapv2"] }).receive(tls);
  assert.equal(b.kind === "respond" ? toHex(b.message) : "", "02050007030" + "41a");
  const c = makePeer({ methods: [] }).receive(tls);
  assert.equal(c.kind === "respond" ? toHex(c.message) : "", "020500060300");
  const d = makePeer({ methods: ["md5"] }).receive(
    encodeEap({ code: 1, identifier: 6, type: 26, data: new Uint8Array([1]) }),
  );
  assert.equal(d.kind === "respond" ? toHex(d.message) : "", "020600060304");
});

Deno.test("peer: a wrong S= value from the server is a failure, not a success", () => {
  const server = makeServer({ identity: "carol" });
  const peer = makePeer();
  const r1 = peer.receive(server.start());
  assert.equal(r1.kind, "respond");
  const s1 = server.receive(r1.kind === "respond" ? r1.message : new Uint8Array());
  assert.equal(s1.kind, "request");
  const req = s1.kind === "request" ? s1.message.slice() : new Uint8Array();
  // Flip one hex digit of the authenticator response: "S=" starts at byte 9.
  req[11] = req[11] === 0x30 ? 0x31 : 0x30;
  const step = peer.receive(req);
  assert.equal(step.kind, "failure");
  assert.match(
    step.kind === "failure" ? step.reason : "",
    /authenticator response \(S=\) is wrong/,
  );
  // And a later EAP-Success does not turn it into a success.
  assert.equal(peer.receive(fromHex("03020004")).kind, "failure");
});

Deno.test("peer: EAP-Success before the method finished is a failure", () => {
  assert.match(
    (makePeer().receive(fromHex("03010004")) as { reason: string }).reason,
    /before any authentication method completed/,
  );
  const server = makeServer({ identity: "carol" });
  const peer = makePeer();
  const first = server.start();
  assert.equal(peer.receive(first).kind, "respond");
  const early = peer.receive(encodeEap({ code: 3, identifier: first[1] }));
  assert.match((early as { reason: string }).reason, /before the server proved knowledge/);
});

Deno.test("peer: malformed or unexpected input gives a failure with a reason, never a throw", () => {
  const cases: [string, RegExp][] = [
    ["", /truncated: 0 bytes/],
    ["0101", /truncated: 2 bytes/],
    ["0101000901", /Length field says 9 but the packet has 5/],
    ["09010004", /unknown Code 9/],
    ["0201000501", /received an EAP Response/],
    ["0301000500", /Success must be 4 bytes/],
    ["010100050300", /Length field says 5 but the packet has 6/],
    ["0101000503", /Nak in a Request/],
    ["010100061a01", /truncated: 1 bytes|EAP-MSCHAPv2/],
    ["0101000604", /Length field says 6/],
    ["010100060400", /Value-Size is 0/],
    ["04010004", /EAP-Failure/],
  ];
  for (const [hex, re] of cases) {
    const step = makePeer().receive(fromHex(hex));
    assert.equal(step.kind, "failure", hex);
    assert.match(step.kind === "failure" ? step.reason : "", re, hex);
  }
  const peer = makePeer();
  assert.equal(peer.receive(fromHex("04010004")).kind, "failure");
  assert.match(
    (peer.receive(fromHex("0101000501")) as { reason: string }).reason,
    /already finished/,
  );
});

Deno.test("server: wrong Identifier, bad Length, unknown Code, truncation -> failure with a reason", () => {
  const bad: [(first: Uint8Array) => Uint8Array, RegExp][] = [
    [
      (f) => new Uint8Array([2, (f[1] + 1) & 0xff, 0, 6, 1, 0x61]),
      /Identifier \d+ does not match the Request's \d+/,
    ],
    [() => fromHex("0201"), /truncated: 2 bytes/],
    [(f) => new Uint8Array([2, f[1], 0, 9, 1, 0x61]), /Length field says 9 but the packet has 6/],
    [(f) => new Uint8Array([7, f[1], 0, 4]), /unknown Code 7/],
    [(f) => new Uint8Array([1, f[1], 0, 5, 1]), /expected an EAP Response, got Code 1/],
    [(f) => new Uint8Array([3, f[1], 0, 4]), /expected an EAP Response, got Code 3/],
    [(f) => new Uint8Array([2, f[1], 0, 5, 4]), /expected an EAP-Identity Response, got MD5/],
    [(f) => new Uint8Array([2, f[1], 0, 6, 1, 0xff]), /not valid UTF-8/],
  ];
  for (const [make, re] of bad) {
    const server = makeServer();
    const first = server.start();
    const step = server.receive(make(first));
    assert.equal(step.kind, "failure", String(re));
    if (step.kind === "failure") {
      assert.match(step.reason, re);
      assert.equal(toHex(step.message.slice(0, 1)), "04");
      assert.equal(step.message.length, 4);
    }
    assert.match((server.receive(first) as { reason: string }).reason, /already finished/);
  }
  assert.match(
    (makeServer().receive(fromHex("0201000501")) as { reason: string }).reason,
    /before start/,
  );
});

Deno.test("server: malformed MSCHAPv2 and MD5 responses -> failure", () => {
  const cases: [EapServerOptions["method"], (id: number) => Uint8Array, RegExp][] = [
    ["mschapv2", (id) => new Uint8Array([2, id, 0, 7, 26, 2, id]), /truncated: 2 bytes/],
    ["mschapv2", (id) => new Uint8Array([2, id, 0, 9, 26, 2, id, 0, 9]), /MS-Length says 9/],
    ["mschapv2", (id) => new Uint8Array([2, id, 0, 9, 26, 2, id, 0, 4]), /Response truncated/],
    ["mschapv2", (id) => new Uint8Array([2, id, 0, 6, 26, 4]), /the peer aborted/],
    [
      "mschapv2",
      (id) => new Uint8Array([2, id, 0, 6, 4, 16]),
      /expected an EAP-MSCHAPV2 Response, got MD5/,
    ],
    ["md5", (id) => new Uint8Array([2, id, 0, 6, 4, 16]), /Value-Size 16 but only 0 bytes/],
    ["md5", (id) => new Uint8Array([2, id, 0, 5, 3]), /no Desired Auth Type/],
  ];
  for (const [method, make, re] of cases) {
    const server = makeServer({ method, identity: "carol" });
    const first = server.start();
    const step = server.receive(make(first[1]));
    assert.equal(step.kind, "failure");
    assert.match(step.kind === "failure" ? step.reason : "", re);
  }
});

Deno.test("MS-CHAPv2-ID mismatch in the Response -> failure", () => {
  const server = makeServer({ identity: "carol" });
  const first = server.start();
  const step = makePeer().receive(first);
  const resp = step.kind === "respond" ? step.message.slice() : new Uint8Array();
  resp[6] ^= 0x55; // MS-CHAPv2-ID
  assert.match(
    (server.receive(resp) as { reason: string }).reason,
    /MS-CHAPv2-ID \d+ does not match/,
  );
});

Deno.test("peer: a retransmitted Request gets the same Response; Notification is acknowledged", () => {
  const server = makeServer({ identity: "carol" });
  const peer = makePeer();
  const first = server.start();
  const a = peer.receive(first);
  const b = peer.receive(first);
  assert.deepEqual(a, b);
  const note = makePeer().receive(
    encodeEap({ code: 1, identifier: 3, type: 2, data: new Uint8Array([0x68]) }),
  );
  assert.equal(note.kind === "respond" ? toHex(note.message) : "", "0203000502");
});

Deno.test("the server Identifier wraps from 255 to 0", () => {
  const t = converse(makePeer(), makeServer({ random: counter(0xff) }));
  assert.equal(t.peer.kind, "success");
});

Deno.test("fuzz: mutated messages never make peer or server throw", () => {
  const rnd = counter(7);
  let seed = 12345;
  const next = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  // Collect a valid conversation's messages with each side's state before them.
  for (let iter = 0; iter < 300; iter++) {
    const server = makeServer({ method: iter % 2 ? "md5" : "mschapv2", random: rnd });
    const peer = makePeer({ random: rnd });
    let req = server.start();
    const stopAt = next() % 4;
    for (let step = 0; step < 4; step++) {
      const mutate = step === stopAt;
      const m = req.slice(0, mutate ? next() % (req.length + 1) : req.length);
      if (mutate && m.length > 0) m[next() % m.length] ^= 1 << (next() % 8);
      const ps = peer.receive(m);
      if (ps.kind !== "respond") break;
      const r = ps.message.slice();
      if (mutate && r.length > 0) r[next() % r.length] ^= 1 << (next() % 8);
      const ss = server.receive(r);
      if (ss.kind !== "request") {
        peer.receive(ss.message);
        break;
      }
      req = ss.message;
    }
  }
});

// A charon-style server transcript for our peer, built from strongSwan's
// formats: Challenge Name "strongSwan", MS-CHAPv2-ID = EAP Identifier,
// Success text "S=<HEX> M=Welcome2strongSwan" + NUL, Failure "E=691 R=1 C=<hex>".
Deno.test("peer interoperates with charon's EAP-MSCHAPv2 message formats", () => {
  const ac = fromHex("5B5D7C7D7B3F2F3E3C2C602132262628");
  const pc = fromHex("21402324255E262A28295F2B3A337C7E");
  const name = new TextEncoder().encode("strongSwan");
  const challenge = new Uint8Array([1, 0x2a, 0, 4 + 17 + name.length, 16, ...ac, ...name]);
  const req1 = encodeEap({ code: 1, identifier: 0x2a, type: 26, data: challenge });
  const peer = makePeer({ identity: "User", secret: "clientPass", random: () => pc.slice() });
  const r1 = peer.receive(req1);
  assert.equal(r1.kind, "respond");
  const resp = r1.kind === "respond" ? r1.message : new Uint8Array();
  // RFC 2759 9.2 NT-Response, MS-Length = EAP Length - 5, Name = identity.
  assert.equal(
    toHex(resp),
    "022a003f" + "1a" + "022a003a31" + toHex(pc) + "00".repeat(8) +
      "82309ecd8d708b5ea08faa3981cd83544233114a3d85d6df00" +
      toHex(new TextEncoder().encode("User")),
  );
  const text = new TextEncoder().encode(
    "S=407A5589115FD0D6209F510FE9C04566932CDA56 M=Welcome2strongSwan\0",
  );
  const succ = new Uint8Array([3, 0x2a, 0, 4 + text.length, ...text]);
  const r2 = peer.receive(encodeEap({ code: 1, identifier: 0x2b, type: 26, data: succ }));
  assert.equal(r2.kind === "respond" ? toHex(r2.message) : "", "022b0006" + "1a03");
  const done = peer.receive(fromHex("032b0004"));
  assert.equal(done.kind, "success");
  const nt = generateNtResponse(ac, pc, "User", "clientPass");
  assert.equal(
    toHex(done.kind === "success" && done.msk ? done.msk : new Uint8Array()),
    toHex(mschapv2Msk(ntPasswordHash("clientPass"), nt)),
  );

  // charon's Failure Request (retriable, no V=/M=): we answer with a Failure Response.
  const peer2 = makePeer({ identity: "User", secret: "wrong", random: () => pc.slice() });
  peer2.receive(req1);
  const ftext = new TextEncoder().encode("E=691 R=1 C=" + "AB".repeat(16));
  const fail = new Uint8Array([4, 0x2a, 0, 4 + ftext.length, ...ftext]);
  const r3 = peer2.receive(encodeEap({ code: 1, identifier: 0x2b, type: 26, data: fail }));
  assert.equal(r3.kind === "respond" ? toHex(r3.message) : "", "022b0006" + "1a04");
  assert.match((peer2.receive(fromHex("042b0004")) as { reason: string }).reason, /E=691/);

  // And our server's Success text is what charon's peer parses: "S=<40 upper hex> M=...".
  const server = makeServer({ identity: "User", secretFor: () => "clientPass" });
  const first = decodeEap(server.start()) as EapTypedPacket;
  const sc = decodeMsChapV2(1, first.data);
  const chal = sc.kind === "challenge" ? sc.challenge : new Uint8Array(16);
  const ntr = generateNtResponse(chal, pc, "User", "clientPass");
  const respData = encodeMsChapV2({
    kind: "response",
    msChapV2Id: first.identifier,
    peerChallenge: pc,
    ntResponse: ntr,
    flags: 0,
    name: "User",
  });
  const ss = server.receive(
    encodeEap({ code: 2, identifier: first.identifier, type: 26, data: respData }),
  );
  const sm = ss.kind === "request"
    ? decodeMsChapV2(1, (decodeEap(ss.message) as EapTypedPacket).data)
    : undefined;
  const want = formatAuthenticatorResponse(
    authenticatorResponseFromHash(ntPasswordHash("clientPass"), ntr, pc, chal, "User"),
  );
  assert.equal(sm?.kind === "success-request" ? sm.message.split(" ")[0] : "", want);
  assert.match(want, /^S=[0-9A-F]{40}$/);
});
