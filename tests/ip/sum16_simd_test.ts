import assert from "node:assert/strict";
import { onesComplementSum } from "../../lib/ip/checksum.ts";
import {
  reserveSimdMemory,
  SIMD_SUM16_MAX,
  simdSum16,
  simdSum16Available,
} from "../../lib/ip/sum16_simd.ts";
import { SUM16_WASM_BASE64 } from "../../lib/ip/_sum16_wasm.ts";
import { fromHex } from "../../lib/wire/bytes.ts";
import { assembleSum16 } from "../helpers/build_sum16_wasm.ts";

/** Equal as one's-complement values (0 and 0xFFFF both mean zero). */
function same(a: number, b: number): boolean {
  return a === b || (a % 0xffff === 0 && b % 0xffff === 0);
}

Deno.test("simdSum16() is available in Deno (WebAssembly SIMD)", () => {
  assert.equal(simdSum16Available(), true);
});

Deno.test("simdSum16() matches the RFC 1071 section 3 example, odd length too", () => {
  assert.equal(simdSum16(fromHex("0001f203f4f5f6f7"), 0, 8), 0xddf2);
  assert.equal(simdSum16(fromHex("0001f2"), 0, 3), 0xf201);
  assert.equal(simdSum16(fromHex("ff0001f203f4f5f6f7"), 1, 9), 0xddf2);
});

Deno.test("simdSum16() agrees with the byte-pair loop on random ranges and contents", () => {
  const buf = new Uint8Array(70_000);
  crypto.getRandomValues(buf.subarray(0, 65536));
  crypto.getRandomValues(buf.subarray(65536));
  // Every length 0..80 (all tail shapes) at every start 0..7, then random ranges.
  for (let start = 0; start < 8; start++) {
    for (let len = 0; len <= 80; len++) {
      const want = onesComplementSum(buf.subarray(start, start + len));
      const got = simdSum16(buf, start, start + len);
      assert.ok(same(got, want), `start ${start} len ${len}: ${got} vs ${want}`);
    }
  }
  for (let i = 0; i < 3000; i++) {
    const start = Math.floor(Math.random() * 4000);
    const len = i < 20 ? SIMD_SUM16_MAX - i : Math.floor(Math.random() * 3000);
    const want = onesComplementSum(buf.subarray(start, start + len));
    assert.ok(same(simdSum16(buf, start, start + len), want), `start ${start} len ${len}`);
  }
});

Deno.test("simdSum16() handles all-0xFF data (largest lane sums) and all zeros", () => {
  const ff = new Uint8Array(SIMD_SUM16_MAX).fill(0xff);
  assert.ok(same(simdSum16(ff, 0, ff.length), onesComplementSum(ff)));
  const z = new Uint8Array(1500);
  assert.equal(simdSum16(z, 0, z.length), 0);
  // Stale bytes in the module's memory past the end never leak into a sum.
  assert.equal(simdSum16(z, 0, 5), 0);
});

Deno.test("reserveSimdMemory(): ranges of it are summed in place, the same as elsewhere; once only", () => {
  const mem = reserveSimdMemory(200_000)!;
  assert.equal(mem.length, 200_000);
  assert.ok(mem.every((x) => x === 0));
  for (let at = 0; at < mem.length; at += 65536) {
    crypto.getRandomValues(mem.subarray(at, Math.min(mem.length, at + 65536)));
  }
  const copy = mem.slice();
  for (let i = 0; i < 2000; i++) {
    const len = i < 10 ? SIMD_SUM16_MAX - i : Math.floor(Math.random() * 3000);
    // The last ranges end at the region's last byte (the 16-byte loads read past it).
    const start = i < 20 ? mem.length - len : Math.floor(Math.random() * (mem.length - len));
    const want = onesComplementSum(copy.subarray(start, start + len));
    assert.ok(same(simdSum16(mem, start, start + len), want), `start ${start} len ${len}`);
    // A view of the memory at another offset is the same memory.
    const view = mem.subarray(start, start + len);
    assert.ok(same(simdSum16(view, 0, len), want));
  }
  // Summing in place neither changed the region nor, through the copy area, it.
  assert.deepEqual(mem, copy);
  assert.ok(same(simdSum16(copy, 5, 1505), onesComplementSum(copy.subarray(5, 1505))));
  assert.deepEqual(mem, copy);
  // Growing the memory again would detach `mem`.
  assert.throws(() => reserveSimdMemory(1), /once per thread/);
  assert.throws(() => reserveSimdMemory(0), RangeError);
});

Deno.test("simdSum16() refuses a range over 64 KB", () => {
  const b = new Uint8Array(SIMD_SUM16_MAX + 1);
  assert.throws(() => simdSum16(b, 0, b.length), RangeError);
});

Deno.test("lib/ip/_sum16_wasm.ts holds what wabt assembles from lib/ip/sum16_simd.wat", async () => {
  const want = await assembleSum16();
  const got = Uint8Array.from(atob(SUM16_WASM_BASE64), (c) => c.charCodeAt(0));
  assert.deepEqual(got, want, "run: deno run -A tests/helpers/build_sum16_wasm.ts");
});
