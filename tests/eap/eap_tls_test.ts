/**
 * EAP-TLS (RFC 5216): the type data and fragmentation (L/M/S flags, empty
 * acknowledgements), and EapPeer <-> EapServer over real TLS 1.2 handshakes
 * through the system libssl: both sides derive the same 64-byte MSK, the
 * server checks the client's certificate against its EAP identity and the
 * client the server's, and certificates from another CA fail the handshake.
 * (charon's and FreeRADIUS's EAP-TLS check the MSK independently: see
 * tests/interop.)
 */
import assert from "node:assert/strict";
import { EapPeer } from "../../lib/eap/eap_peer.ts";
import { EapServer, type EapServerStep } from "../../lib/eap/eap_server.ts";
import { decodeEap, EapError, EapType } from "../../lib/eap/eap_message.ts";
import {
  ACK,
  decodeEapTls,
  EapTlsChannel,
  EapTlsFlag,
  type EapTlsOptions,
  encodeEapTls,
} from "../../lib/eap/eap_tls.ts";
import { makePki } from "../helpers/engine_pki.ts";
import { certMatchesId } from "../../lib/pki/validate.ts";
import { identityToPayload, parseIdentity } from "../../lib/db/identity.ts";

Deno.test("EAP-TLS type data: flags, the length field, the empty acknowledgement", () => {
  assert.deepEqual(decodeEapTls(Uint8Array.of(0x20)), { flags: 0x20, data: new Uint8Array() });
  const d = decodeEapTls(Uint8Array.of(0xc0, 0, 0, 0x0b, 0xb8, 1, 2, 3));
  assert.equal(d.flags, EapTlsFlag.Length | EapTlsFlag.More);
  assert.equal(d.totalLength, 3000);
  assert.deepEqual(d.data, Uint8Array.of(1, 2, 3));
  assert.deepEqual(
    encodeEapTls({ flags: EapTlsFlag.Length, totalLength: 2, data: Uint8Array.of(9, 9) }),
    Uint8Array.of(0x80, 0, 0, 0, 2, 9, 9),
  );
  assert.deepEqual(ACK, Uint8Array.of(0));
  assert.throws(() => decodeEapTls(new Uint8Array()), EapError);
  assert.throws(() => decodeEapTls(Uint8Array.of(0x80, 0, 0)), EapError);
});

Deno.test("EAP-TLS channel: a 3000-byte message goes in three acknowledged fragments", () => {
  const tx = new EapTlsChannel(1024), rx = new EapTlsChannel(1024);
  const msg = Uint8Array.from({ length: 3000 }, (_, i) => i & 0xff);
  const f1 = tx.send(msg);
  assert.equal(f1[0], EapTlsFlag.Length | EapTlsFlag.More);
  assert.equal(decodeEapTls(f1).totalLength, 3000);
  assert.equal(decodeEapTls(f1).data.length, 1024);
  assert.deepEqual(rx.receive(f1), { kind: "ack" });
  assert.deepEqual(tx.receive(ACK), { kind: "next" });
  const f2 = tx.next()!;
  assert.equal(f2[0], EapTlsFlag.More);
  assert.deepEqual(rx.receive(f2), { kind: "ack" });
  assert.deepEqual(tx.receive(ACK), { kind: "next" });
  const f3 = tx.next()!;
  assert.equal(f3[0], 0);
  assert.equal(decodeEapTls(f3).data.length, 3000 - 2048);
  assert.equal(tx.sending, false);
  const got = rx.receive(f3);
  assert.equal(got.kind, "message");
  assert.deepEqual(got.kind === "message" && got.bytes, msg);
  // Nothing pending: an empty message acknowledges our last one.
  assert.deepEqual(tx.receive(ACK), { kind: "empty" });
  // A short message travels alone, with its length.
  assert.equal(tx.send(Uint8Array.of(1, 2))[0], EapTlsFlag.Length);
});

Deno.test("EAP-TLS channel: lengths beyond the announced or the limit, and data out of turn, are refused", () => {
  const rx = new EapTlsChannel();
  const first = encodeEapTls({
    flags: EapTlsFlag.Length | EapTlsFlag.More,
    totalLength: 4,
    data: Uint8Array.of(1, 2, 3),
  });
  rx.receive(first);
  assert.throws(
    () => rx.receive(encodeEapTls({ flags: 0, data: Uint8Array.of(4, 5) })),
    /more TLS data \(5\) than announced \(4\)/,
  );
  assert.throws(
    () =>
      new EapTlsChannel().receive(
        encodeEapTls({ flags: EapTlsFlag.Length, totalLength: 1 << 20, data: Uint8Array.of(1) }),
      ),
    /too long/,
  );
  const tx = new EapTlsChannel(2);
  tx.send(Uint8Array.of(1, 2, 3));
  assert.throws(
    () => tx.receive(encodeEapTls({ flags: 0, data: Uint8Array.of(7) })),
    /while our fragments wait/,
  );
});

/** Whether the end-entity certificate names `identity` (as charon checks EAP-TLS peers). */
function names(identity: string) {
  return (certs: Uint8Array[]) => {
    const { idType, data } = identityToPayload(parseIdentity(identity));
    return certs[0] && certMatchesId(certs[0], idType, data)
      ? undefined
      : `it does not name '${identity}'`;
  };
}

interface Run {
  peer: ReturnType<EapPeer["receive"]>;
  server: EapServerStep | undefined;
  messages: number;
}

function converse(peer: EapPeer, server: EapServer): Run {
  let req = server.start();
  let messages = 1;
  for (let i = 0; i < 40; i++) {
    const p = peer.receive(req);
    if (p.kind !== "respond") return { peer: p, server: undefined, messages };
    const s = server.receive(p.message);
    messages += 2;
    if (s.kind !== "request") {
      return { peer: peer.receive(s.message), server: s, messages };
    }
    req = s.message;
  }
  throw new Error("no end after 40 round trips");
}

const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));

async function setup(clientFromOtherCa = false) {
  const issued = new Date(Date.now() - 86_400_000);
  const pki = await makePki("ecdsa", 256, { issued });
  const other = await makePki("ecdsa", 256, { issued });
  const server: EapTlsOptions = {
    certs: [pki.bob.cert],
    key: pki.bob.key,
    trustAnchors: [pki.ca],
    check: (certs, identity) => names(identity)(certs),
  };
  const client: EapTlsOptions = {
    certs: [(clientFromOtherCa ? other : pki).alice.cert],
    key: (clientFromOtherCa ? other : pki).alice.key,
    trustAnchors: [pki.ca],
    check: names("bob.example.org"),
  };
  return { server, client };
}

/** An EAP-TLS peer with EAP identity `identity`. */
const tlsPeer = (tls: EapTlsOptions, identity = "alice@example.org") =>
  new EapPeer({ identity, secret: "", methods: ["tls"], random, tls });

/** An EAP-TLS server (asking the EAP identity). */
const tlsServer = (tls: EapTlsOptions) =>
  new EapServer({ method: "tls", secretFor: () => undefined, random, tls });

Deno.test("EAP-TLS: peer and server complete TLS 1.2 and derive the same 64-byte MSK", async () => {
  const o = await setup();
  const peer = tlsPeer({ ...o.client, fragmentSize: 400 }, "alice@example.org");
  const server = tlsServer(o.server);
  const r = converse(peer, server);
  assert.equal(r.peer.kind, "success", JSON.stringify(r.peer));
  assert.equal(r.server?.kind, "success", JSON.stringify(r.server));
  if (r.peer.kind !== "success" || r.server?.kind !== "success") return;
  assert.equal(r.peer.method, "tls");
  assert.equal(r.peer.msk?.length, 64);
  assert.deepEqual(r.peer.msk, r.server.msk);
  assert.equal(r.server.identity, "alice@example.org");
  // Identity, Start, then the handshake in fragments of 400 (the server's 1024).
  assert.ok(r.messages > 10, `${r.messages} messages`);
});

Deno.test("EAP-TLS: a client certificate that does not name the EAP identity is refused", async () => {
  const o = await setup();
  const peer = tlsPeer(o.client, "mallory@example.org");
  const server = tlsServer(o.server);
  const r = converse(peer, server);
  assert.equal(r.server?.kind, "failure");
  assert.match(
    r.server?.kind === "failure" ? r.server.reason : "",
    /the client's certificate: it does not name 'mallory@example.org'/,
  );
  assert.equal(r.peer.kind, "failure");
});

Deno.test("EAP-TLS: a client certificate from another CA fails the handshake", async () => {
  const o = await setup(true);
  const peer = tlsPeer(o.client, "alice@example.org");
  const server = tlsServer(o.server);
  const r = converse(peer, server);
  assert.equal(r.server?.kind, "failure");
  assert.match(
    r.server?.kind === "failure" ? r.server.reason : "",
    /EAP-TLS handshake failed: certificate verification failed/,
  );
});

Deno.test("EAP-TLS: the client refuses a server whose certificate names someone else", async () => {
  const o = await setup();
  const peer = tlsPeer({ ...o.client, check: names("gw.example.org") }, "alice@example.org");
  const server = tlsServer(o.server);
  const r = converse(peer, server);
  assert.equal(r.peer.kind, "failure");
  assert.match(
    r.peer.kind === "failure" ? r.peer.reason : "",
    /the server's certificate: it does not name 'gw.example.org'/,
  );
  assert.notEqual(r.server?.kind, "success");
});

Deno.test("EAP-TLS: a peer without certificates, or asked for TLS it does not accept, does not start it", async () => {
  const o = await setup();
  const server = () =>
    new EapServer({
      method: "tls",
      identity: "alice@example.org",
      secretFor: () => undefined,
      random,
      tls: o.server,
    });
  // Offers only MSCHAPv2: a Nak to the Start.
  const nak = new EapPeer({ identity: "alice", secret: "pw", methods: ["mschapv2"], random });
  const start = server().start();
  const p = nak.receive(start);
  assert.equal(p.kind, "respond");
  if (p.kind === "respond") {
    const m = decodeEap(p.message);
    assert.ok(m.code === 2 && m.type === EapType.Nak);
  }
  // Accepts TLS but has no certificate settings.
  const bare = new EapPeer({ identity: "alice", secret: "", methods: ["tls"], random });
  const q = bare.receive(server().start());
  assert.equal(q.kind, "failure");
  assert.match(q.kind === "failure" ? q.reason : "", /needs our certificate and key/);
});

Deno.test("EAP-TLS: mutated messages of live conversations never make either side throw", async () => {
  const o = await setup();
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  const mutate = (m: Uint8Array): Uint8Array => {
    const c = m.slice();
    switch (rnd() % 4) {
      case 0:
        c[rnd() % c.length] ^= 1 << (rnd() % 8);
        return c;
      case 1:
        return c.subarray(0, rnd() % c.length);
      case 2:
        c[Math.min(5, c.length - 1)] = rnd() & 0xff; // the EAP-TLS flags
        return c;
      default:
        return new Uint8Array([...c, ...new Uint8Array(1 + (rnd() % 64))]);
    }
  };
  let failures = 0;
  for (let round = 0; round < 60; round++) {
    const peer = tlsPeer({ ...o.client, fragmentSize: 300 }, "alice@example.org");
    const server = new EapServer({
      method: "tls",
      secretFor: () => undefined,
      random,
      tls: { ...o.server, fragmentSize: 300 },
    });
    // Mutate the message at step `at` (even: a Request to the peer, odd: a Response).
    const at = round % 16;
    let msg = server.start();
    let ended = false;
    for (let step = 0; step < 60 && !ended; step++) {
      const toPeer = step % 2 === 0;
      const m = step === at ? mutate(msg) : msg;
      if (toPeer) {
        const r = peer.receive(m);
        assert.ok(["respond", "failure", "success"].includes(r.kind));
        if (r.kind !== "respond") ended = true;
        else msg = r.message;
      } else {
        const r = server.receive(m);
        assert.ok(["request", "failure", "success"].includes(r.kind));
        if (r.kind === "failure") failures++;
        msg = r.message;
        if (r.kind !== "request") {
          peer.receive(msg);
          ended = true;
        }
      }
    }
  }
  assert.ok(failures > 0, "some mutations must be refused");
});
