/**
 * RadiusEapProxy on its own: what it relays, retries and refuses, with a
 * hand-built RADIUS server answer (RFC 2865 Response Authenticator, RFC 3579
 * Message-Authenticator computed here from the RFCs' definitions).
 */
import assert from "node:assert/strict";
import * as nodeCrypto from "node:crypto";
import { RADIUS_TRIES, RadiusEapProxy } from "../../lib/eap/radius_proxy.ts";
import { decodeAttributes, RadiusAttr, RadiusCode } from "../../lib/eap/radius.ts";

const SECRET = new TextEncoder().encode("proxy test secret");
const servers = [
  { name: "one", address: "10.0.0.1", port: 1812, secret: SECRET },
  { name: "two", address: "10.0.0.2", port: 1812, secret: SECRET },
];
let seed = 1;
const random = (n: number) =>
  Uint8Array.from({ length: n }, () => (seed = (seed * 48271) % 2147483647) & 0xff);

function proxy(identity?: string) {
  let id = 0;
  return new RadiusEapProxy({
    servers,
    nasIdentifier: "test-nas",
    ...(identity ? { identity } : {}),
    calledStation: "192.0.2.2[4500]",
    callingStation: "192.0.2.1[4500]",
    nasPort: 7,
    random,
    nextIdentifier: () => (id = (id + 1) & 0xff),
  });
}

const identityResponse = (name: string) =>
  Uint8Array.of(2, 9, 0, 5 + name.length, 1, ...new TextEncoder().encode(name));

/** A server's answer to `request` with `attrs` (Message-Authenticator added when asked). */
function answer(request: Uint8Array, code: number, attrs: Uint8Array[], withMa = true): Uint8Array {
  const body = [...attrs, ...(withMa ? [Uint8Array.of(80, 18, ...new Uint8Array(16))] : [])];
  const len = 20 + body.reduce((n, a) => n + a.length, 0);
  const p = new Uint8Array(len);
  p.set([code, request[1], len >> 8, len & 0xff]);
  p.set(request.subarray(4, 20), 4);
  let o = 20;
  for (const a of body) {
    p.set(a, o);
    o += a.length;
  }
  if (withMa) {
    const mac = nodeCrypto.createHmac("md5", SECRET).update(p).digest();
    p.set(mac, len - 16);
  }
  const auth = nodeCrypto.createHash("md5").update(p.subarray(0, 4)).update(request.subarray(4, 20))
    .update(p.subarray(20)).update(SECRET).digest();
  p.set(auth, 4);
  return p;
}

Deno.test("RadiusEapProxy: relays the identity with the NAS attributes, then the challenge", () => {
  const p = proxy();
  assert.deepEqual([...p.start()].slice(0, 1), [1]);
  const out = p.receive(identityResponse("alice"));
  assert.equal(out.kind, "send");
  if (out.kind !== "send") return;
  assert.deepEqual(out.to, { address: "10.0.0.1", port: 1812 });
  const attrs = decodeAttributes(out.bytes.subarray(20));
  const text = (t: number) => new TextDecoder().decode(attrs.find((a) => a.type === t)!.value);
  assert.equal(text(RadiusAttr.UserName), "alice");
  assert.equal(text(RadiusAttr.NasIdentifier), "test-nas");
  assert.equal(text(RadiusAttr.CallingStationId), "192.0.2.1[4500]");
  assert.deepEqual(
    attrs.find((a) => a.type === RadiusAttr.EapMessage)!.value,
    identityResponse("alice"),
  );
  assert.ok(p.waiting);
  // A second client message while RADIUS has not answered is refused (the engine drops retransmits first).
  const eapRequest = Uint8Array.of(1, 10, 0, 6, 4, 0);
  const challenge = answer(out.bytes, RadiusCode.AccessChallenge, [
    Uint8Array.of(79, 2 + eapRequest.length, ...eapRequest),
    Uint8Array.of(24, 6, 1, 2, 3, 4),
  ]);
  // From elsewhere, or tampered: not taken.
  assert.equal(p.answer(challenge, { address: "10.0.0.9", port: 1812 }), undefined);
  const bad = challenge.slice();
  bad[bad.length - 1] ^= 1;
  assert.equal(p.answer(bad, { address: "10.0.0.1", port: 1812 })?.kind, "ignored");
  const step = p.answer(challenge, { address: "10.0.0.1", port: 1812 });
  assert.deepEqual(step, { kind: "request", message: eapRequest });
  // The next Access-Request echoes the State.
  const next = p.receive(Uint8Array.of(2, 10, 0, 6, 3, 26));
  assert.equal(next.kind, "send");
  if (next.kind !== "send") return;
  const state = decodeAttributes(next.bytes.subarray(20)).find((a) => a.type === RadiusAttr.State);
  assert.deepEqual(state?.value, Uint8Array.of(1, 2, 3, 4));
  // Reject: EAP-Failure with the client's last Identifier, and the reason.
  const reject = p.answer(answer(next.bytes, RadiusCode.AccessReject, []), {
    address: "10.0.0.1",
    port: 1812,
  });
  assert.equal(reject?.kind, "failure");
  if (reject?.kind !== "failure") return;
  assert.deepEqual(reject.message, Uint8Array.of(4, 10, 0, 4));
  assert.match(reject.reason, /RADIUS server one rejected 'alice'/);
});

Deno.test("RadiusEapProxy: an EAP-Message without Message-Authenticator is not believed", () => {
  const p = proxy();
  const out = p.receive(identityResponse("alice"));
  if (out.kind !== "send") throw new Error("no send");
  const success = Uint8Array.of(3, 9, 0, 4);
  const noMa = answer(
    out.bytes,
    RadiusCode.AccessAccept,
    [Uint8Array.of(79, 6, ...success)],
    false,
  );
  const r = p.answer(noMa, { address: "10.0.0.1", port: 1812 });
  assert.equal(r?.kind, "ignored");
  assert.ok(p.waiting);
});

Deno.test("RadiusEapProxy: retries, then the next server, then failure", () => {
  const p = proxy();
  const first = p.receive(identityResponse("alice"));
  if (first.kind !== "send") throw new Error("no send");
  const sends = [first];
  for (let i = 0; i < 2 * RADIUS_TRIES - 1; i++) {
    const r = p.retry();
    if (r.kind !== "send") throw new Error(`gave up after ${i + 1} sends: ${r.reason}`);
    sends.push(r);
  }
  const last = p.retry();
  assert.equal(last.kind, "failure");
  assert.deepEqual(sends.map((s) => s.to.address), [
    ...Array(RADIUS_TRIES).fill("10.0.0.1"),
    ...Array(RADIUS_TRIES).fill("10.0.0.2"),
  ]);
  // A retransmission is the same packet; the next server gets a new one.
  assert.deepEqual(sends[1].bytes, sends[0].bytes);
  assert.notDeepEqual(sends[RADIUS_TRIES].bytes, sends[0].bytes);
  if (last.kind === "failure") assert.match(last.reason, /no answer from RADIUS servers one, two/);
});

Deno.test("RadiusEapProxy: a configured EAP identity must be the one answered; junk never throws", () => {
  const p = proxy("alice");
  const r = p.receive(identityResponse("mallory"));
  assert.equal(r.kind, "failure");
  assert.match(
    (r as { reason: string }).reason,
    /EAP identity 'mallory' is not the configured 'alice'/,
  );
  for (let i = 0; i < 300; i++) {
    const q = proxy();
    const out = q.receive(identityResponse("alice"));
    if (out.kind !== "send") throw new Error("no send");
    const junk = random(20 + (i % 60));
    junk[1] = out.bytes[1];
    const s = q.answer(junk, { address: "10.0.0.1", port: 1812 });
    assert.ok(s === undefined || s.kind === "ignored", JSON.stringify(s));
    assert.equal(q.receive(random(8)).kind, "failure");
  }
});
