/**
 * Every payload of RFC 7296 section 3: hand-built bytes laid out from the
 * RFC diagrams (_cases.ts), decoded to the expected value and encoded back to
 * the same bytes; then the decoders' length and value checks.
 */
import assert from "node:assert/strict";
import { fromHex, toHex } from "../../../lib/wire/bytes.ts";
import { ParseError } from "../../../lib/wire/parse_error.ts";
import { Reader } from "../../../lib/wire/reader.ts";
import { Writer } from "../../../lib/wire/writer.ts";
import { decodePayloadChain, encodePayloadChain } from "../../../lib/ikev2/payloads/chain.ts";
import { PayloadType } from "../../../lib/ikev2/constants.ts";
import { CASES } from "./_cases.ts";

for (const [name, type, hex, value] of CASES) {
  Deno.test(`payload ${name}: decode RFC-layout bytes, encode them back`, () => {
    const bytes = fromHex(hex);
    const chain = decodePayloadChain(new Reader(bytes, "payloads"), type);
    assert.deepEqual(chain.payloads, [value]);
    const w = new Writer();
    assert.equal(encodePayloadChain(w, [value], PayloadType.NONE), type);
    assert.equal(toHex(w.finish()), toHex(bytes));
  });
}

Deno.test("a chain of every payload type round-trips with correct Next Payload fields", () => {
  const all = CASES.map((c) => c[3]);
  const w = new Writer();
  const first = encodePayloadChain(w, all, PayloadType.NONE);
  const bytes = w.finish();
  const back = decodePayloadChain(new Reader(bytes, "chain"), first);
  assert.deepEqual(back.payloads, all);
  // Walk the generic headers independently and check each Next Payload.
  let o = 0;
  for (let i = 0; i < all.length; i++) {
    assert.equal(bytes[o], i + 1 < all.length ? all[i + 1].type : 0);
    o += (bytes[o + 2] << 8) | bytes[o + 3];
  }
  assert.equal(o, bytes.length);
});

/** [what, payload type, bytes, reason regexp] — each must be a ParseError. */
const BAD: [string, number, string, RegExp][] = [
  ["generic length < 4", PayloadType.NONCE, "00 00 0003", /payload length 3 < 4/],
  ["generic length overruns", PayloadType.NONCE, "00 00 0020 00", /overruns/],
  ["nonce too short", PayloadType.NONCE, "00 00 0008 00000000", /nonce must be 16\.\.256/],
  ["SA without proposals", PayloadType.SA, "00 00 0004", /no proposals/],
  [
    "proposal Last Substruc 1",
    PayloadType.SA,
    "00 00 0010 01 00 000c 01 01 00 01 00000000",
    /Last Substruc must be 0 or 2/,
  ],
  [
    "proposal SPI size 3",
    PayloadType.SA,
    "00 00 0017 00 00 0013 01 03 03 01 aabbcc 00 00 0008 01 00 000c",
    /SPI size must be 0, 4 or 8/,
  ],
  [
    "ESP proposal without SPI",
    PayloadType.SA,
    "00 00 0014 00 00 0010 01 03 00 01 00 00 0008 01 00 000c",
    /AH\/ESP proposal needs a 4-byte SPI, got 0/,
  ],
  [
    "IKE proposal with a 4-byte SPI",
    PayloadType.SA,
    "00 00 0018 00 00 0014 01 01 04 01 aabbccdd 00 00 0008 01 00 000c",
    /IKE proposal with a 4-byte SPI/,
  ],
  [
    "Num Transforms lies",
    PayloadType.SA,
    "00 00 0014 00 00 0010 01 01 00 02 00 00 0008 01 00 000c",
    /Num Transforms is 2, found 1/,
  ],
  [
    "transform length overruns proposal",
    PayloadType.SA,
    "00 00 0010 00 00 000c 01 01 00 01 00 00 0010 01",
    /need/,
  ],
  [
    "transform attribute truncated",
    PayloadType.SA,
    "00 00 0012 00 00 000e 01 01 00 01 00 00 000a 01 00 000c 800e",
    /need/,
  ],
  ["KE without data", PayloadType.KE, "00 00 0008 0013 0000", /no key exchange data/],
  [
    "ID_IPV4_ADDR of 3 bytes",
    PayloadType.IDi,
    "00 00 000b 01 000000 0a0000",
    /ID_IPV4_ADDR must be 4 bytes/,
  ],
  ["FQDN ID empty", PayloadType.IDr, "00 00 0008 02 000000", /empty data/],
  ["CERT without data", PayloadType.CERT, "00 00 0005 04", /no certificate data/],
  ["AUTH without data", PayloadType.AUTH, "00 00 0008 02 000000", /no authentication data/],
  ["Notify SPI overruns", PayloadType.NOTIFY, "00 00 000a 03 04 4009 0000", /need 4/],
  ["Delete IKE with SPIs", PayloadType.DELETE, "00 00 000c 01 04 0001 00000000", /Delete for IKE/],
  [
    "Delete ESP with SPI size 8",
    PayloadType.DELETE,
    "00 00 0010 03 08 0001 0000000000000000",
    /SPI size 4/,
  ],
  [
    "Delete count lies",
    PayloadType.DELETE,
    "00 00 000c 03 04 0002 00000000",
    /2 SPI\(s\) of 4 bytes/,
  ],
  ["TS count 0", PayloadType.TSi, "00 00 0008 00 000000", /Number of TSs is 0/],
  [
    "TS count lies",
    PayloadType.TSi,
    "00 00 0018 02 000000 07 00 0010 0000 ffff 00000000 ffffffff",
    /found 1/,
  ],
  [
    "IPv4 TS with length 40",
    PayloadType.TSi,
    "00 00 0030 01 000000 07 00 0028" + "00".repeat(36),
    /must be 16/,
  ],
  [
    "TS Selector Length < 4",
    PayloadType.TSr,
    "00 00 000c 01 000000 07 00 0002",
    /Selector Length 2 < 4/,
  ],
  [
    "CP IPv4 address of 3 bytes",
    PayloadType.CP,
    "00 00 000f 02 000000 0001 0003 0a0000",
    /INTERNAL_IP4_ADDRESS value of 3 bytes/,
  ],
  ["CP attribute overruns", PayloadType.CP, "00 00 000c 02 000000 0001 0004", /overruns/],
  [
    "CP SUPPORTED_ATTRIBUTES odd",
    PayloadType.CP,
    "00 00 000d 01 000000 000e 0001 00",
    /SUPPORTED_ATTRIBUTES value of 1/,
  ],
  [
    "EAP Length lies",
    PayloadType.EAP,
    "00 00 000a 02 07 0009 01 00",
    /EAP Length 9 != payload data length 6/,
  ],
  ["EAP shorter than header", PayloadType.EAP, "00 00 0006 0207", /shorter than its 4-byte header/],
  ["SKF fragment number 0", PayloadType.SKF, "00 00 0008 0000 0001", /Fragment Number 0/],
  [
    "SKF number > total",
    PayloadType.SKF,
    "00 00 0008 0003 0002",
    /Fragment Number 3 not in 1\.\.2/,
  ],
  [
    "SKF non-first with Next Payload",
    PayloadType.SKF,
    "23 00 0008 0002 0002",
    /fragment 2 has Next Payload 35/,
  ],
  ["payload announced, none follows", PayloadType.NONCE, "", /no bytes left/],
  [
    "trailing bytes after the last payload",
    PayloadType.VENDOR_ID,
    "00 00 0004 00",
    /payload length 0 < 4|need|trailing/,
  ],
];

for (const [what, type, hex, re] of BAD) {
  Deno.test(`payload decode rejects: ${what}`, () => {
    assert.throws(
      () => decodePayloadChain(new Reader(fromHex(hex), "payloads"), type),
      (e) => e instanceof ParseError && re.test(e.message) && e.notify === "INVALID_SYNTAX",
    );
  });
}

Deno.test("ParseError offsets point into the outer buffer", () => {
  // Nonce payload at offset 28 of a message: body starts at 32.
  const r = new Reader(fromHex("00".repeat(28) + "00 00 0008 00000000"), "msg");
  r.skip(28);
  assert.throws(
    () => decodePayloadChain(r, PayloadType.NONCE),
    (e) => e instanceof ParseError && e.offset === 32,
  );
});
