import assert from "node:assert/strict";
import {
  decodeEap,
  decodeIdentity,
  decodeMd5,
  decodeMsChapV2,
  decodeNak,
  EapError,
  eapMethodName,
  encodeEap,
  encodeMd5,
  encodeMsChapV2,
  encodeNak,
  formatMsChapV2Failure,
  formatMsChapV2Success,
  type MsChapV2Packet,
  parseMsChapV2Failure,
  parseMsChapV2Success,
} from "../../lib/eap/eap_message.ts";
import { fromHex, toHex } from "../../lib/wire/bytes.ts";

const ascii = (s: string) => new TextEncoder().encode(s);

Deno.test("decodeEap() / encodeEap() round-trip every Code", () => {
  const packets = [
    { code: 1 as const, identifier: 7, type: 1, data: new Uint8Array() },
    { code: 2 as const, identifier: 255, type: 26, data: fromHex("0301") },
    { code: 3 as const, identifier: 0 },
    { code: 4 as const, identifier: 9 },
  ];
  for (const p of packets) assert.deepEqual(decodeEap(encodeEap(p)), p);
  assert.equal(toHex(encodeEap(packets[0])), "0107000501");
  assert.equal(toHex(encodeEap(packets[2])), "03000004");
});

Deno.test("decodeEap() throws EapError with a clear reason on bad input", () => {
  const cases: [string, RegExp][] = [
    ["", /truncated: 0 bytes/],
    ["010100", /truncated: 3 bytes/],
    ["0101000601", /Length field says 6 but the packet has 5 bytes/],
    ["010100050100", /Length field says 5 but the packet has 6 bytes/],
    ["03010005", /Length field says 5/],
    ["0301000500", /Success must be 4 bytes, got 5/],
    ["0401000500", /Failure must be 4 bytes, got 5/],
    ["01010004", /Request without a Type/],
    ["05010004", /unknown Code 5/],
    ["00010004", /unknown Code 0/],
  ];
  for (const [hex, re] of cases) {
    assert.throws(() => decodeEap(fromHex(hex)), (e: unknown) => {
      assert.ok(e instanceof EapError, `${hex}: ${e}`);
      assert.match(e.message, re, hex);
      return true;
    });
  }
});

Deno.test("Identity, Nak and MD5 type data", () => {
  assert.equal(decodeIdentity(ascii("carol@strongswan.org\0")), "carol@strongswan.org");
  assert.throws(() => decodeIdentity(fromHex("ff")), EapError);
  assert.deepEqual(decodeNak(encodeNak([26, 4])), [26, 4]);
  assert.deepEqual([...encodeNak([])], [0]);
  assert.throws(() => decodeNak(new Uint8Array()), /no Desired Auth Type/);
  const md5 = { value: fromHex("00112233445566778899aabbccddeeff"), name: ascii("gw") };
  assert.deepEqual(decodeMd5(encodeMd5(md5)), md5);
  assert.throws(() => decodeMd5(new Uint8Array()), /no Value-Size/);
  assert.throws(() => decodeMd5(fromHex("00")), /Value-Size is 0/);
  assert.throws(() => decodeMd5(fromHex("10aabb")), /Value-Size 16 but only 2 bytes follow/);
  assert.equal(eapMethodName(4), "md5");
  assert.equal(eapMethodName(26), "mschapv2");
  assert.equal(eapMethodName(13), "tls");
  assert.equal(eapMethodName(21), "ttls");
  assert.equal(eapMethodName(25), "peap");
  assert.equal(eapMethodName(43), undefined);
});

Deno.test("EAP-MSCHAPv2 type data round-trips; MS-Length = EAP Length - 5", () => {
  const challenge = fromHex("5B5D7C7D7B3F2F3E3C2C602132262628");
  const reqs: MsChapV2Packet[] = [
    { kind: "challenge", msChapV2Id: 3, challenge, name: "strongSwan" },
    { kind: "success-request", msChapV2Id: 4, message: "S=" + "A".repeat(40) + " M=hi" },
    { kind: "failure-request", msChapV2Id: 4, message: "E=691 R=0 V=3 M=no" },
  ];
  for (const p of reqs) {
    const data = encodeMsChapV2(p);
    const eap = encodeEap({ code: 1, identifier: 3, type: 26, data });
    assert.equal((data[2] << 8) | data[3], eap.length - 5);
    assert.deepEqual(decodeMsChapV2(1, data), p);
  }
  const resp: MsChapV2Packet = {
    kind: "response",
    msChapV2Id: 3,
    peerChallenge: fromHex("21402324255E262A28295F2B3A337C7E"),
    ntResponse: fromHex("82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF"),
    flags: 0,
    name: "User",
  };
  const data = encodeMsChapV2(resp);
  // OpCode 2, ID 3, MS-Length 58, Value-Size 49, Peer-Challenge, 8 zero, NT-Response, Flags 0, Name.
  assert.equal(
    toHex(data),
    "0203003a31" + "21402324255e262a28295f2b3a337c7e" + "00".repeat(8) +
      "82309ecd8d708b5ea08faa3981cd83544233114a3d85d6df" + "00" + toHex(ascii("User")),
  );
  assert.deepEqual(decodeMsChapV2(2, data), resp);
  // Success/Failure Responses are the OpCode alone.
  assert.equal(toHex(encodeMsChapV2({ kind: "success-response" })), "03");
  assert.equal(toHex(encodeMsChapV2({ kind: "failure-response" })), "04");
  assert.deepEqual(decodeMsChapV2(2, fromHex("03")), { kind: "success-response" });
  assert.deepEqual(decodeMsChapV2(2, fromHex("04")), { kind: "failure-response" });
});

Deno.test("decodeMsChapV2() accepts charon's Success Request with its trailing NUL", () => {
  const text = "S=407A5589115FD0D6209F510FE9C04566932CDA56 M=Welcome2strongSwan";
  const body = new Uint8Array([...ascii(text), 0]);
  const data = new Uint8Array([3, 1, 0, 4 + body.length, ...body]);
  const m = decodeMsChapV2(1, data);
  assert.deepEqual(m, { kind: "success-request", msChapV2Id: 1, message: text });
  assert.deepEqual(parseMsChapV2Success(text), {
    authenticatorResponse: "S=407A5589115FD0D6209F510FE9C04566932CDA56",
    message: "Welcome2strongSwan",
  });
});

Deno.test("decodeMsChapV2() rejects bad lengths, sizes and OpCodes", () => {
  const cases: [number, string, RegExp][] = [
    [1, "", /no OpCode/],
    [1, "0101", /truncated: 2 bytes/],
    [1, "01010020" + "10" + "00".repeat(16), /MS-Length says 32 but the type data has 21/],
    [1, "01010014" + "10" + "00".repeat(15), /Challenge truncated/],
    [1, "01010016" + "08" + "00".repeat(17), /Value-Size 8, expected 16/],
    [2, "02010030" + "31" + "00".repeat(43), /Response truncated/],
    [2, "02010036" + "30" + "00".repeat(49), /Value-Size 48, expected 49/],
    [1, "02010004", /unsupported Request OpCode 2/],
    [2, "01010004", /unsupported Response OpCode 1/],
    [1, "07010004", /unsupported Request OpCode 7/],
    [1, "03010009" + "00".repeat(4), /MS-Length says 9 but the type data has 8 bytes/],
  ];
  for (const [code, hex, re] of cases) {
    assert.throws(() => decodeMsChapV2(code, fromHex(hex)), re, hex);
  }
});

Deno.test("Success and Failure messages parse and format", () => {
  const s = formatMsChapV2Success("S=" + "0A".repeat(20), "Welcome home");
  assert.equal(s, "S=" + "0A".repeat(20) + " M=Welcome home");
  assert.equal(parseMsChapV2Success(s).message, "Welcome home");
  assert.equal(parseMsChapV2Success("S=" + "b".repeat(40)).message, "");
  assert.throws(() => parseMsChapV2Success("S=" + "A".repeat(39)), /no valid S=/);
  assert.throws(() => parseMsChapV2Success("M=hi"), EapError);

  const c = fromHex("00112233445566778899AABBCCDDEEFF");
  const f = formatMsChapV2Failure({
    error: 691,
    retriable: false,
    challenge: c,
    version: 3,
    message: "Authentication failed",
  });
  assert.equal(f, "E=691 R=0 C=00112233445566778899AABBCCDDEEFF V=3 M=Authentication failed");
  assert.deepEqual(parseMsChapV2Failure(f), {
    error: 691,
    retriable: false,
    challenge: c,
    version: 3,
    message: "Authentication failed",
  });
  // charon's form: no V=, no M=.
  const charon = parseMsChapV2Failure("E=691 R=1 C=" + "AB".repeat(16));
  assert.equal(charon.error, 691);
  assert.equal(charon.retriable, true);
  assert.equal(charon.message, "");
  assert.throws(() => parseMsChapV2Failure("R=0 V=3"), /no E=/);
  assert.throws(() => parseMsChapV2Failure("E=691 C=12"), /malformed field "C=12"/);
});
