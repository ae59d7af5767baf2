/**
 * EAP-TTLS (RFC 5281): the AVP codec (lengths, padding, vendor AVPs,
 * unknown mandatory AVPs refused), and EapPeer <-> EapServer with the inner
 * EAP-MSCHAPv2 and EAP-MD5 through a real TLS 1.2 tunnel (system libssl):
 * the same MSK on both sides, a wrong password or a server certificate from
 * another CA refused. charon and FreeRADIUS check the same against their
 * own implementations (tests/interop, tests/netns).
 */
import assert from "node:assert/strict";
import { EapPeer } from "../../lib/eap/eap_peer.ts";
import { EapServer, type EapServerStep } from "../../lib/eap/eap_server.ts";
import {
  AVP_EAP_MESSAGE,
  AvpFlag,
  decodeAvps,
  eapMessageOf,
  encodeAvps,
} from "../../lib/eap/eap_ttls.ts";
import type { EapTlsOptions } from "../../lib/eap/eap_tls.ts";
import { makePki } from "../helpers/engine_pki.ts";

Deno.test("EAP-TTLS AVPs: length without padding, padding to 4, vendor ids, unknown mandatory AVPs", () => {
  const bytes = encodeAvps([
    { code: AVP_EAP_MESSAGE, flags: AvpFlag.Mandatory, data: Uint8Array.of(2, 0, 0, 5, 1) },
    { code: 1, flags: AvpFlag.Vendor, vendorId: 311, data: Uint8Array.of(9) },
  ]);
  assert.deepEqual(
    [...bytes],
    [
      ...[0, 0, 0, 79, 0x40, 0, 0, 13, 2, 0, 0, 5, 1, 0, 0, 0],
      ...[0, 0, 0, 1, 0x80, 0, 0, 13, 0, 0, 1, 0x37, 9, 0, 0, 0],
    ],
  );
  const avps = decodeAvps(bytes);
  assert.equal(avps.length, 2);
  assert.deepEqual(avps[0].data, Uint8Array.of(2, 0, 0, 5, 1));
  assert.equal(avps[1].vendorId, 311);
  assert.deepEqual(eapMessageOf(avps), Uint8Array.of(2, 0, 0, 5, 1));
  // EAP-Message AVPs are concatenated; an unknown mandatory AVP ends the conversation.
  const two = decodeAvps(encodeAvps([
    { code: 79, flags: 0x40, data: Uint8Array.of(1, 2) },
    { code: 79, flags: 0x40, data: Uint8Array.of(3) },
  ]));
  assert.deepEqual(eapMessageOf(two), Uint8Array.of(1, 2, 3));
  assert.throws(
    () => eapMessageOf(decodeAvps(encodeAvps([{ code: 7, flags: 0x40, data: new Uint8Array() }]))),
    /unsupported mandatory AVP 7/,
  );
  assert.equal(
    eapMessageOf(decodeAvps(encodeAvps([{ code: 7, flags: 0, data: Uint8Array.of(1) }]))),
    undefined,
  );
  assert.throws(() => decodeAvps(Uint8Array.of(0, 0, 0, 79, 0x40, 0, 0, 40, 1)), /does not fit/);
  assert.throws(() => decodeAvps(Uint8Array.of(0, 0, 0)), /truncated header/);
});

const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));

async function setup(serverFromOtherCa = false) {
  const issued = new Date(Date.now() - 86_400_000);
  const pki = await makePki("ecdsa", 256, { issued });
  const other = await makePki("ecdsa", 256, { issued });
  const serverPki = serverFromOtherCa ? other : pki;
  const server: EapTlsOptions = {
    certs: [serverPki.bob.cert],
    key: serverPki.bob.key,
    trustAnchors: [],
  };
  const client: EapTlsOptions = { trustAnchors: [pki.ca] };
  return { server, client };
}

function converse(peer: EapPeer, server: EapServer) {
  let req = server.start();
  for (let i = 0; i < 40; i++) {
    const p = peer.receive(req);
    if (p.kind !== "respond") return { peer: p, server: undefined as EapServerStep | undefined };
    const s = server.receive(p.message);
    if (s.kind !== "request") return { peer: peer.receive(s.message), server: s };
    req = s.message;
  }
  throw new Error("no end after 40 round trips");
}

for (const inner of ["mschapv2", "md5"] as const) {
  Deno.test(`EAP-TTLS: the tunneled EAP-${inner.toUpperCase()} succeeds, same MSK both sides`, async () => {
    const o = await setup();
    const peer = new EapPeer({
      identity: "carol",
      secret: "carol's password",
      methods: ["ttls"],
      random,
      tls: o.client,
    });
    const server = new EapServer({
      method: "ttls",
      innerMethod: inner,
      secretFor: (id) => (id === "carol" ? "carol's password" : undefined),
      random,
      tls: o.server,
    });
    const r = converse(peer, server);
    assert.equal(r.server?.kind, "success", JSON.stringify(r.server));
    assert.equal(r.peer.kind, "success", JSON.stringify(r.peer));
    if (r.peer.kind !== "success" || r.server?.kind !== "success") return;
    assert.equal(r.peer.method, "ttls");
    assert.equal(r.peer.msk?.length, 64);
    assert.deepEqual(r.peer.msk, r.server.msk);
    assert.equal(r.server.identity, "carol");
  });
}

Deno.test("EAP-TTLS: a wrong password fails in the tunnel; a server from another CA fails the handshake", async () => {
  const o = await setup();
  const wrong = converse(
    new EapPeer({ identity: "carol", secret: "wrong", methods: ["ttls"], random, tls: o.client }),
    new EapServer({
      method: "ttls",
      secretFor: () => "carol's password",
      random,
      tls: o.server,
    }),
  );
  assert.equal(wrong.server?.kind, "failure");
  assert.match(
    wrong.server?.kind === "failure" ? wrong.server.reason : "",
    /EAP-TTLS tunneled method: MSCHAPv2: wrong NT-Response/,
  );
  assert.equal(wrong.peer.kind, "failure");
  const o2 = await setup(true);
  const rogue = converse(
    new EapPeer({ identity: "carol", secret: "pw", methods: ["ttls"], random, tls: o2.client }),
    new EapServer({ method: "ttls", secretFor: () => "pw", random, tls: o2.server }),
  );
  assert.equal(rogue.peer.kind, "failure");
  assert.match(
    rogue.peer.kind === "failure" ? rogue.peer.reason : "",
    /EAP-TTLS handshake failed: certificate verification failed/,
  );
});

Deno.test("EAP-TTLS: mutated messages of live conversations never make either side throw", async () => {
  const o = await setup();
  let seed = 11;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  const mutate = (m: Uint8Array): Uint8Array => {
    const c = m.slice();
    switch (rnd() % 3) {
      case 0:
        c[rnd() % c.length] ^= 1 << (rnd() % 8);
        return c;
      case 1:
        return c.subarray(0, rnd() % c.length);
      default:
        return new Uint8Array([...c, ...new Uint8Array(1 + (rnd() % 32))]);
    }
  };
  let refused = 0;
  for (let round = 0; round < 60; round++) {
    const peer = new EapPeer({
      identity: "carol",
      secret: "carol's password",
      methods: ["ttls"],
      random,
      tls: { ...o.client, fragmentSize: 300 },
    });
    const server = new EapServer({
      method: "ttls",
      secretFor: () => "carol's password",
      random,
      tls: { ...o.server, fragmentSize: 300 },
    });
    const at = round % 20;
    let msg = server.start();
    for (let step = 0; step < 80; step++) {
      const m = step === at ? mutate(msg) : msg;
      if (step % 2 === 0) {
        const r = peer.receive(m);
        assert.ok(["respond", "failure", "success"].includes(r.kind));
        if (r.kind !== "respond") break;
        msg = r.message;
      } else {
        const r = server.receive(m);
        assert.ok(["request", "failure", "success"].includes(r.kind));
        if (r.kind === "failure") refused++;
        msg = r.message;
        if (r.kind !== "request") {
          peer.receive(msg);
          break;
        }
      }
    }
  }
  assert.ok(refused > 0, "some mutations must be refused");
});
