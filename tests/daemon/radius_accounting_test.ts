/**
 * RADIUS accounting sessions: what Start and Stop carry (RFC 2866 attribute
 * values checked by decoding the packets; the Request Authenticator as
 * RFC 2866 section 3 defines it), Gigawords, rekeyed sessions, retries and
 * failover, and verified Accounting-Responses.
 */
import assert from "node:assert/strict";
import * as nodeCrypto from "node:crypto";
import {
  RadiusAccounting,
  TerminateCause,
  terminateCause,
} from "../../lib/daemon/radius_accounting.ts";
import { decodeAttributes, RadiusAttr } from "../../lib/eap/radius.ts";

const SECRET = new TextEncoder().encode("acct secret");
const servers = [
  { name: "a", address: "10.0.0.1", port: 1813, secret: SECRET },
  { name: "b", address: "10.0.0.2", port: 1813, secret: SECRET },
];

function setup(retryMs = 20, interimSeconds = 0) {
  const sent: { to: string; bytes: Uint8Array }[] = [];
  const logs: string[] = [];
  let now = 1_700_000_000_000;
  const acct = new RadiusAccounting({
    config: () => ({ servers, nasIdentifier: "nas-1", interimSeconds }),
    live: (id) =>
      Promise.resolve(
        id === 1
          ? { inOctets: 1000n, outOctets: 2000n, inPackets: 10n, outPackets: 20n }
          : { inOctets: 0n, outOctets: 0n, inPackets: 0n, outPackets: 0n },
      ),
    send: (to, bytes) => sent.push({ to: to.address, bytes }),
    log: (_l, m) => logs.push(m),
    now: () => now,
    retryMs,
  });
  return { acct, sent, logs, advance: (ms: number) => (now += ms) };
}

const int = (attrs: ReturnType<typeof decodeAttributes>, t: number) =>
  new DataView(attrs.find((a) => a.type === t)!.value.slice().buffer).getUint32(0);
const text = (attrs: ReturnType<typeof decodeAttributes>, t: number) =>
  new TextDecoder().decode(attrs.find((a) => a.type === t)!.value);

function response(request: Uint8Array): Uint8Array {
  const p = new Uint8Array(20);
  p.set([5, request[1], 0, 20]);
  const auth = nodeCrypto.createHash("md5").update(p.subarray(0, 4)).update(request.subarray(4, 20))
    .update(SECRET).digest();
  p.set(auth, 4);
  return p;
}

Deno.test("RadiusAccounting: Start and Stop with counters, Gigawords, session time, cause", () => {
  const { acct, sent, advance } = setup(60_000);
  acct.start(5, {
    user: "alice",
    addresses: ["10.3.0.7", "2001:db8::7"],
    calledStation: "192.0.2.2[4500]",
    callingStation: "198.51.100.9[4500]",
    nasPort: 5,
  });
  const start = sent[0].bytes;
  assert.equal(start[0], 4);
  // RFC 2866: MD5(Code|ID|Length|16 zero octets|Attributes|Secret).
  const zeroed = start.slice();
  zeroed.fill(0, 4, 20);
  assert.deepEqual(
    start.subarray(4, 20),
    new Uint8Array(nodeCrypto.createHash("md5").update(zeroed).update(SECRET).digest()),
  );
  const sa = decodeAttributes(start.subarray(20));
  assert.equal(int(sa, RadiusAttr.AcctStatusType), 1);
  assert.equal(text(sa, RadiusAttr.UserName), "alice");
  assert.equal(text(sa, RadiusAttr.NasIdentifier), "nas-1");
  assert.deepEqual([...sa.find((a) => a.type === RadiusAttr.FramedIpAddress)!.value], [
    10,
    3,
    0,
    7,
  ]);
  assert.equal(sa.find((a) => a.type === RadiusAttr.FramedIpv6Address)!.value.length, 16);
  const session = text(sa, RadiusAttr.AcctSessionId);
  assert.ok(acct.answer(response(start), { address: "10.0.0.1", port: 1813 }));

  // Rekeyed: the session moves to the new IKE SA; counters add up over child SAs.
  acct.rekeyed(5, 9);
  assert.ok(!acct.has(5) && acct.has(9));
  acct.add(9, "in", 5n * 2n ** 32n + 100n, 10n);
  acct.add(9, "in", 20n, 2n);
  acct.add(9, "out", 300n, 4n);
  advance(61_500);
  acct.stop(9, TerminateCause.UserRequest);
  const stop = decodeAttributes(sent[1].bytes.subarray(20));
  assert.equal(int(stop, RadiusAttr.AcctStatusType), 2);
  assert.equal(text(stop, RadiusAttr.AcctSessionId), session);
  assert.equal(int(stop, RadiusAttr.AcctInputOctets), 120);
  assert.equal(int(stop, RadiusAttr.AcctInputGigawords), 5);
  assert.equal(int(stop, RadiusAttr.AcctInputPackets), 12);
  assert.equal(int(stop, RadiusAttr.AcctOutputOctets), 300);
  assert.equal(int(stop, RadiusAttr.AcctOutputPackets), 4);
  assert.equal(int(stop, RadiusAttr.AcctSessionTime), 61);
  assert.equal(int(stop, RadiusAttr.AcctTerminateCause), 1);
  assert.ok(!acct.has(9));
  // A forged answer is not taken; the real one is.
  const forged = response(sent[1].bytes);
  forged[5] ^= 1;
  acct.answer(forged, { address: "10.0.0.1", port: 1813 });
  assert.ok(acct.answer(response(sent[1].bytes), { address: "10.0.0.1", port: 1813 }));
  assert.ok(!acct.answer(response(sent[1].bytes), { address: "10.0.0.1", port: 1813 }));
  acct.close();
});

Deno.test("RadiusAccounting: unanswered requests are sent again, then to the next server", async () => {
  const { acct, sent, logs } = setup(10);
  acct.start(1, { user: "u", addresses: [], calledStation: "x", callingStation: "y", nasPort: 1 });
  await new Promise((r) => setTimeout(r, 150));
  assert.deepEqual(sent.map((s) => s.to), [
    "10.0.0.1",
    "10.0.0.1",
    "10.0.0.1",
    "10.0.0.2",
    "10.0.0.2",
    "10.0.0.2",
  ]);
  assert.deepEqual(sent[1].bytes, sent[0].bytes);
  assert.ok(logs.some((l) => /Start of .* for 'u': no server answered/.test(l)));
  acct.close();
});

Deno.test("RadiusAccounting: Interim-Updates add the live child SAs to what removed ones carried", async () => {
  const { acct, sent } = setup(60_000, 0.03);
  acct.start(1, { user: "u", addresses: [], calledStation: "x", callingStation: "y", nasPort: 1 });
  acct.add(1, "in", 5n, 1n);
  await new Promise((r) => setTimeout(r, 80));
  const interim = sent.map((s) => decodeAttributes(s.bytes.subarray(20))).find((a) =>
    int(a, RadiusAttr.AcctStatusType) === 3
  );
  assert.ok(interim, "an Interim-Update was sent");
  assert.equal(int(interim, RadiusAttr.AcctInputOctets), 1005);
  assert.equal(int(interim, RadiusAttr.AcctInputPackets), 11);
  assert.equal(int(interim, RadiusAttr.AcctOutputOctets), 2000);
  acct.stop(1, TerminateCause.NasRequest);
  const n = sent.length;
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(sent.length, n, "no Interim-Update after Stop");
  acct.close();
});

Deno.test("terminateCause: the engine's reasons for an IKE SA's end map to RFC 2866 causes", () => {
  const cases: [string, number][] = [
    ["deleted by peer", TerminateCause.UserRequest],
    ["peer dead (dpd_action clear)", TerminateCause.LostCarrier],
    ["closed after 30s of inactivity", TerminateCause.IdleTimeout],
    ["IKE_SA lifetime expired", TerminateCause.SessionTimeout],
    ["terminated", TerminateCause.AdminReset],
  ];
  for (const [reason, cause] of cases) assert.equal(terminateCause(reason), cause, reason);
});
