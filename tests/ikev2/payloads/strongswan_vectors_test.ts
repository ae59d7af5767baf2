/**
 * Decodes IKEv2 messages captured from two real strongSwan charons
 * (tests/vectors/ikev2/capture_strongswan.ts wrote strongswan_capture.json;
 * run 0, proposal aes256-sha256-modp2048). Decryption of the SK messages with
 * charon's logged keys is in tests/ikev2/message_test.ts.
 * Expected values come from the capture's configuration and from charon's own
 * log of those messages:
 *   IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) N(HASH_ALG) N(REDIR_SUP) ]
 *   configured proposals: IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048 (run 0),
 *     IKE:AES_GCM_16_128/PRF_HMAC_SHA2_256/CURVE_25519 (run 1)
 *   IKE_SA_INIT response 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) N(HASH_ALG) N(CHDLESS_SUP) N(MULT_AUTH) ]
 *   selected proposal: IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048
 *   sending supported signature hash algorithms: sha256 sha384 sha512 identity
 *   IKE_AUTH request 1 [ IDi N(INIT_CONTACT) IDr AUTH SA TSi TSr ... ]  (SK, first inner: IDi)
 *   IKE_AUTH response 1 [ IDr AUTH ... ]                                 (SK, first inner: IDr)
 *   INFORMATIONAL request 2 [ D ] / response 2 [ ]                        (SK)
 */
import assert from "node:assert/strict";
import { fromHex, toHex } from "../../../lib/wire/bytes.ts";
import { Writer } from "../../../lib/wire/writer.ts";
import {
  decodeMessage,
  describeMessage,
  encodeMessage,
  type Payload,
} from "../../../lib/ikev2/message.ts";
import { encodeHeader } from "../../../lib/ikev2/header.ts";
import { encodeEncryptedPayload } from "../../../lib/ikev2/payloads/chain.ts";
import { decodeSignatureHashAlgorithms } from "../../../lib/ikev2/payloads/notify.ts";
import { transformKeyLength } from "../../../lib/ikev2/payloads/sa.ts";
import { ExchangeType, PayloadType } from "../../../lib/ikev2/constants.ts";

const cap = JSON.parse(
  await Deno.readTextFile(new URL("../../vectors/ikev2/strongswan_capture.json", import.meta.url)),
) as { runs: { messages: { from: string; hex: string }[] }[] };
const msgs = cap.runs[0].messages.map((m) => fromHex(m.hex));

const notifyTypes = (ps: Payload[]) =>
  ps.flatMap((p) => (p.type === PayloadType.NOTIFY ? [p.notifyType] : []));

Deno.test("strongSwan IKE_SA_INIT request: payloads, both proposals, KE, notifies", () => {
  const m = decodeMessage(msgs[0]);
  assert.equal(m.header.exchangeType, ExchangeType.IKE_SA_INIT);
  assert.deepEqual([m.header.initiator, m.header.response, m.header.messageId], [true, false, 0]);
  assert.equal(m.header.spiR, 0n);
  assert.deepEqual(m.payloads.map((p) => p.type), [33, 34, 40, 41, 41, 41, 41, 41]);
  assert.deepEqual(notifyTypes(m.payloads), [16388, 16389, 16430, 16431, 16406]);
  const proposals = (bytes: Uint8Array) => {
    const sa = decodeMessage(bytes).payloads[0];
    assert.ok(sa.type === PayloadType.SA);
    return sa.proposals.map((p) => [
      p.num,
      p.protocolId,
      p.spi.length,
      ...p.transforms.map((t) => [t.type, t.id, transformKeyLength(t) ?? null]),
    ]);
  };
  // aes256-sha256-modp2048, as strongSwan orders transforms: ENCR, INTEG, PRF, KE
  assert.deepEqual(proposals(msgs[0]), [[1, 1, 0, [1, 12, 256], [3, 12, null], [2, 5, null], [
    4,
    14,
    null,
  ]]]);
  // run 1: aes128gcm16-prfsha256-x25519
  assert.deepEqual(proposals(fromHex(cap.runs[1].messages[0].hex)), [
    [1, 1, 0, [1, 20, 128], [2, 5, null], [4, 31, null]],
  ]);
  const ke = m.payloads[1];
  assert.ok(ke.type === PayloadType.KE);
  assert.deepEqual([ke.group, ke.data.length], [14, 256]);
  const hashAlg = m.payloads.find((p) => p.type === PayloadType.NOTIFY && p.notifyType === 16431);
  assert.ok(hashAlg?.type === PayloadType.NOTIFY);
  assert.deepEqual(decodeSignatureHashAlgorithms(hashAlg), [2, 3, 4, 5]);
  assert.equal(toHex(encodeMessage({ header: m.header, payloads: m.payloads })), toHex(msgs[0]));
});

Deno.test("strongSwan IKE_SA_INIT response: selected proposal and its notifies", () => {
  const m = decodeMessage(msgs[1]);
  assert.deepEqual([m.header.initiator, m.header.response, m.header.messageId], [false, true, 0]);
  assert.notEqual(m.header.spiR, 0n);
  assert.deepEqual(notifyTypes(m.payloads), [16388, 16389, 16430, 16431, 16418, 16404]);
  const sa = m.payloads[0];
  assert.ok(sa.type === PayloadType.SA);
  assert.equal(sa.proposals.length, 1);
  assert.deepEqual(sa.proposals[0].transforms.map((t) => [t.type, t.id]), [
    [1, 12],
    [3, 12],
    [2, 5],
    [4, 14],
  ]);
  assert.equal(toHex(encodeMessage({ header: m.header, payloads: m.payloads })), toHex(msgs[1]));
});

Deno.test("strongSwan SK messages: framing, first inner payload, re-encoded identically", () => {
  const expect: [number, boolean, number, number][] = [
    // exchange, response, message id, first inner payload
    [ExchangeType.IKE_AUTH, false, 1, PayloadType.IDi],
    [ExchangeType.IKE_AUTH, true, 1, PayloadType.IDr],
    [ExchangeType.INFORMATIONAL, false, 2, PayloadType.DELETE],
    [ExchangeType.INFORMATIONAL, true, 2, PayloadType.NONE],
  ];
  msgs.slice(2).forEach((bytes, i) => {
    const m = decodeMessage(bytes);
    const [x, resp, id, inner] = expect[i];
    assert.deepEqual([m.header.exchangeType, m.header.response, m.header.messageId], [x, resp, id]);
    assert.ok(m.encrypted?.type === PayloadType.SK);
    assert.equal(m.encrypted.innerNextPayload, inner);
    // AES-CBC-256 + HMAC-SHA2-256-128: 16-byte IV, 16-byte blocks, 16-byte ICV.
    assert.equal((m.encrypted.data.length - 16 - 16) % 16, 0);
    const w = new Writer();
    const lenPos = encodeHeader(w, m.header, PayloadType.SK);
    encodeEncryptedPayload(w, m.encrypted);
    w.patch32(lenPos, w.length);
    assert.equal(toHex(w.finish()), toHex(bytes));
  });
});

Deno.test("describeMessage() prints the captured messages as charon logged them", () => {
  const line = (i: number) => {
    const m = decodeMessage(msgs[i]);
    return describeMessage(m.header, m.payloads, m.encrypted);
  };
  assert.equal(
    line(0),
    "IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) N(HASH_ALG) N(REDIR_SUP) ]",
  );
  assert.equal(
    line(1),
    "IKE_SA_INIT response 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) N(HASH_ALG) N(CHDLESS_SUP) N(MULT_AUTH) ]",
  );
  // charon logged the decrypted IKE_AUTH request as below; the same payload list prints alike.
  const n = (t: number): Payload => ({
    type: PayloadType.NOTIFY,
    protocolId: 0,
    spi: new Uint8Array(0),
    notifyType: t,
    data: new Uint8Array(0),
  });
  const id = (type: 35 | 36): Payload => ({ type, idType: 2, data: new Uint8Array(1) });
  const inner: Payload[] = [
    id(35),
    n(16384),
    id(36),
    { type: PayloadType.AUTH, method: 2, data: new Uint8Array(1) },
    { type: PayloadType.SA, proposals: [] },
    { type: PayloadType.TSi, selectors: [] },
    { type: PayloadType.TSr, selectors: [] },
    n(16396),
    n(16399),
    n(16404),
    n(16417),
    n(16420),
  ];
  assert.equal(
    describeMessage({ exchangeType: 35, response: false, messageId: 1 }, inner),
    "IKE_AUTH request 1 [ IDi N(INIT_CONTACT) IDr AUTH SA TSi TSr N(MOBIKE_SUP) N(NO_ADD_ADDR) N(MULT_AUTH) N(EAP_ONLY) N(MSG_ID_SYN_SUP) ]",
  );
  assert.equal(line(2), "IKE_AUTH request 1 [ E ]");
});
