import assert from "node:assert/strict";
import { Reader } from "../../lib/wire/reader.ts";
import { Writer } from "../../lib/wire/writer.ts";
import { ParseError } from "../../lib/wire/parse_error.ts";
import { constantTimeEqual, fromHex, toHex } from "../../lib/wire/bytes.ts";

Deno.test("Reader reads big-endian integers and bytes", () => {
  const r = new Reader(fromHex("01 0203 04050607 08090a0b0c0d0e0f ffee"));
  assert.equal(r.u8(), 1);
  assert.equal(r.u16(), 0x0203);
  assert.equal(r.u32(), 0x04050607);
  assert.equal(r.u64(), 0x08090a0b0c0d0e0fn);
  assert.equal(toHex(r.rest()), "ffee");
  r.end();
});

Deno.test("Reader.sub() bounds child reads and reports absolute offsets", () => {
  const r = new Reader(fromHex("aabbccddeeff"), "outer");
  r.skip(2);
  const c = r.sub(2, "inner");
  assert.equal(c.u16(), 0xccdd);
  assert.throws(() => c.u8(), (e: unknown) => e instanceof ParseError && e.offset === 4);
  assert.equal(r.u16(), 0xeeff);
});

Deno.test("Reader throws ParseError on overrun and trailing bytes", () => {
  assert.throws(() => new Reader(new Uint8Array(3)).u32(), ParseError);
  assert.throws(() => new Reader(new Uint8Array(3)).sub(4), ParseError);
  const r = new Reader(new Uint8Array(3), "thing");
  r.u8();
  assert.throws(() => r.end(), /thing at offset 1: 2 trailing byte/);
});

Deno.test("Writer back-patches lengths and grows", () => {
  const w = new Writer(2);
  w.u8(7);
  const p = w.reserve16();
  w.bytes(new Uint8Array(300).fill(1));
  w.patch16(p, w.length);
  w.u64(0x0102030405060708n);
  const out = w.finish();
  assert.equal(out.length, 311);
  assert.equal(new DataView(out.buffer).getUint16(1), 303);
  assert.equal(toHex(out.subarray(303)), "0102030405060708");
});

Deno.test("constantTimeEqual compares by content", () => {
  assert.ok(constantTimeEqual(fromHex("0102"), fromHex("0102")));
  assert.ok(!constantTimeEqual(fromHex("0102"), fromHex("0103")));
  assert.ok(!constantTimeEqual(fromHex("01"), fromHex("0102")));
});
