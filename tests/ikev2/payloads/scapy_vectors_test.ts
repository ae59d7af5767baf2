/**
 * Decodes messages built by an independent encoder: scapy 2.5.0's IKEv2
 * layer (tests/vectors/ikev2/gen_scapy_vectors.py wrote
 * tests/vectors/ikev2/scapy_vectors.json). The expected field values below
 * are the ones the python script put in, not our decoder's output. Each
 * message is then re-encoded and must come out byte-identical.
 */
import assert from "node:assert/strict";
import { fromHex, toHex } from "../../../lib/wire/bytes.ts";
import { decodeMessage, encodeMessage, type Payload } from "../../../lib/ikev2/message.ts";
import { encodeEncryptedPayload } from "../../../lib/ikev2/payloads/chain.ts";
import { encodeHeader } from "../../../lib/ikev2/header.ts";
import { Writer } from "../../../lib/wire/writer.ts";
import { PayloadType } from "../../../lib/ikev2/constants.ts";
import { transformKeyLength } from "../../../lib/ikev2/payloads/sa.ts";
import { formatTsRange } from "../../../lib/ikev2/payloads/ts.ts";

const vectors = JSON.parse(
  await Deno.readTextFile(new URL("../../vectors/ikev2/scapy_vectors.json", import.meta.url)),
) as { vectors: { name: string; hex: string }[] };
const byName = (n: string) => fromHex(vectors.vectors.find((v) => v.name === n)!.hex);

function pick<T extends Payload["type"]>(ps: Payload[], t: T): (Payload & { type: T })[] {
  return ps.filter((p) => p.type === t) as (Payload & { type: T })[];
}

Deno.test("scapy IKE_SA_INIT request decodes field by field and re-encodes identically", () => {
  const bytes = byName("ike_sa_init_request");
  const m = decodeMessage(bytes);
  assert.equal(m.header.spiI, 0x0102030405060708n);
  assert.equal(m.header.spiR, 0n);
  assert.equal(m.header.exchangeType, 34);
  assert.equal(m.header.initiator, true);
  assert.equal(m.header.response, false);
  assert.equal(m.header.messageId, 0);
  assert.deepEqual(m.payloads.map((p) => p.type), [33, 34, 40, 41, 41, 41, 43]);
  const [sa] = pick(m.payloads, PayloadType.SA);
  assert.equal(sa.proposals.length, 1);
  const prop = sa.proposals[0];
  assert.equal(prop.protocolId, 1);
  assert.equal(prop.spi.length, 0);
  assert.deepEqual(prop.transforms.map((t) => [t.type, t.id]), [[1, 12], [2, 5], [3, 12], [4, 19]]);
  assert.equal(transformKeyLength(prop.transforms[0]), 256);
  const [ke] = pick(m.payloads, PayloadType.KE);
  assert.equal(ke.group, 19);
  assert.equal(ke.data.length, 64);
  assert.equal(ke.data[63], 63);
  const [nonce] = pick(m.payloads, PayloadType.NONCE);
  assert.equal(nonce.data.length, 32);
  const notes = pick(m.payloads, PayloadType.NOTIFY);
  assert.deepEqual(notes.map((n) => n.notifyType), [16388, 16389, 16430]);
  assert.equal(toHex(notes[0].data), "aa".repeat(20));
  assert.equal(notes[2].data.length, 0);
  const [vid] = pick(m.payloads, PayloadType.VENDOR_ID);
  assert.equal(new TextDecoder().decode(vid.data), "strongSwan");
  assert.equal(toHex(encodeMessage({ header: m.header, payloads: m.payloads })), toHex(bytes));
});

Deno.test("scapy IKE_AUTH payload set (IDi, CERTREQ, IDr, AUTH, CP, SA, TSi, TSr, N) decodes", () => {
  const bytes = byName("ike_auth_cleartext");
  const m = decodeMessage(bytes);
  assert.equal(m.header.exchangeType, 35);
  assert.equal(m.header.messageId, 1);
  assert.equal(m.encrypted, undefined);
  assert.deepEqual(m.payloads.map((p) => p.type), [35, 38, 36, 39, 47, 33, 44, 45, 41]);
  const [idi] = pick(m.payloads, PayloadType.IDi);
  assert.equal(idi.idType, 2);
  assert.equal(new TextDecoder().decode(idi.data), "moon.strongswan.org");
  const [creq] = pick(m.payloads, PayloadType.CERTREQ);
  assert.equal(creq.encoding, 4);
  assert.equal(toHex(creq.data), "11".repeat(20) + "22".repeat(20));
  const [idr] = pick(m.payloads, PayloadType.IDr);
  assert.deepEqual([idr.idType, ...idr.data], [1, 192, 0, 2, 7]);
  const [auth] = pick(m.payloads, PayloadType.AUTH);
  assert.equal(auth.method, 2);
  assert.equal(toHex(auth.data), "5a".repeat(32));
  const [cp] = pick(m.payloads, PayloadType.CP);
  assert.equal(cp.cfgType, 1);
  assert.deepEqual(cp.attributes.map((a) => [a.type, toHex(a.value)]), [
    [1, ""],
    [3, ""],
    [8, ""],
    [13, "0a000000ffffff00"],
  ]);
  const [sa] = pick(m.payloads, PayloadType.SA);
  assert.deepEqual(sa.proposals.map((p) => [p.num, p.protocolId, toHex(p.spi)]), [
    [1, 3, "c0ffee01"],
    [2, 3, "c0ffee01"],
  ]);
  assert.deepEqual(sa.proposals[0].transforms.map((t) => [t.type, t.id, transformKeyLength(t)]), [
    [1, 20, 256],
    [5, 0, undefined],
    [5, 1, undefined],
  ]);
  assert.deepEqual(sa.proposals[1].transforms.map((t) => [t.type, t.id, transformKeyLength(t)]), [
    [1, 12, 128],
    [3, 2, undefined],
    [5, 0, undefined],
  ]);
  const [tsi] = pick(m.payloads, PayloadType.TSi);
  assert.deepEqual(tsi.selectors.map(formatTsRange), [
    "10.1.0.0-10.1.255.255[6/80-443]",
    "2001:db8::-2001:db8::ffff:ffff:ffff:ffff",
  ]);
  const [tsr] = pick(m.payloads, PayloadType.TSr);
  assert.deepEqual(tsr.selectors.map(formatTsRange), ["192.0.2.1-192.0.2.1[17/500]"]);
  const [n] = pick(m.payloads, PayloadType.NOTIFY);
  assert.deepEqual([n.notifyType, n.protocolId, toHex(n.spi)], [16393, 3, "c0ffee02"]);
  assert.equal(toHex(encodeMessage({ header: m.header, payloads: m.payloads })), toHex(bytes));
});

Deno.test("scapy IKE_AUTH response with IDr(IPv6), CERT and AUTH method 14 decodes", () => {
  const bytes = byName("ike_auth_response_cert");
  const m = decodeMessage(bytes);
  assert.equal(m.header.response, true);
  assert.equal(m.header.initiator, false);
  const [idr] = pick(m.payloads, PayloadType.IDr);
  assert.equal(idr.idType, 5);
  assert.equal(toHex(idr.data), "20010db8000000000000000000000001");
  const [cert] = pick(m.payloads, PayloadType.CERT);
  assert.deepEqual([cert.encoding, toHex(cert.data)], [4, "3003020101"]);
  const [auth] = pick(m.payloads, PayloadType.AUTH);
  assert.equal(auth.method, 14);
  assert.equal(auth.data[0], 15);
  assert.equal(toHex(encodeMessage({ header: m.header, payloads: m.payloads })), toHex(bytes));
});

Deno.test("scapy SK and SKF framing decodes (inner type, fragment numbers, opaque body)", () => {
  for (const name of ["informational_sk", "ike_auth_skf"]) {
    const bytes = byName(name);
    const m = decodeMessage(bytes);
    assert.equal(m.payloads.length, 0);
    assert.ok(m.encrypted);
    assert.equal(m.encryptedOffset, 28);
    const w = new Writer();
    const lenPos = encodeHeader(w, m.header, m.header.nextPayload);
    encodeEncryptedPayload(w, m.encrypted);
    w.patch32(lenPos, w.length);
    assert.equal(toHex(w.finish()), toHex(bytes), name);
  }
  const sk = decodeMessage(byName("informational_sk")).encrypted!;
  assert.equal(sk.type, PayloadType.SK);
  assert.equal(sk.innerNextPayload, 41);
  assert.equal(sk.data.length, 48);
  const skf = decodeMessage(byName("ike_auth_skf")).encrypted!;
  assert.ok(skf.type === PayloadType.SKF);
  assert.deepEqual([skf.fragmentNumber, skf.totalFragments, skf.innerNextPayload], [2, 3, 0]);
  assert.equal(skf.data.length, 40);
});
