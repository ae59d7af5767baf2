import assert from "node:assert/strict";
import { toHex } from "../../../lib/wire/bytes.ts";
import { Writer } from "../../../lib/wire/writer.ts";
import {
  encodeSa,
  makeTransform,
  spiFromBytes,
  spiToBytes,
  transformKeyLength,
} from "../../../lib/ikev2/payloads/sa.ts";
import { PayloadType } from "../../../lib/ikev2/constants.ts";

Deno.test("SPI helpers: bigint <-> big-endian bytes", () => {
  assert.equal(toHex(spiToBytes(0xc0ffee01n, 4)), "c0ffee01");
  assert.equal(toHex(spiToBytes(1n, 8)), "0000000000000001");
  assert.equal(spiFromBytes(spiToBytes(0x0102030405060708n, 8)), 0x0102030405060708n);
  assert.equal(spiFromBytes(new Uint8Array(0)), 0n);
  assert.throws(() => spiToBytes(0x100000000n, 4), RangeError);
  assert.throws(() => spiToBytes(-1n, 4), RangeError);
});

Deno.test("makeTransform()/transformKeyLength(): Key Length attribute in bits", () => {
  assert.equal(transformKeyLength(makeTransform(1, 12, 256)), 256);
  assert.equal(transformKeyLength(makeTransform(2, 5)), undefined);
});

Deno.test("encodeSa() refuses an empty SA and too many transforms", () => {
  assert.throws(() => encodeSa(new Writer(), { type: PayloadType.SA, proposals: [] }), RangeError);
  const transforms = Array.from({ length: 256 }, () => makeTransform(1, 12, 128));
  assert.throws(
    () =>
      encodeSa(new Writer(), {
        type: PayloadType.SA,
        proposals: [{ num: 1, protocolId: 1, spi: new Uint8Array(0), transforms }],
      }),
    RangeError,
  );
});
