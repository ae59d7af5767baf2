import assert from "node:assert/strict";
import { toHex } from "../../../lib/wire/bytes.ts";
import { Writer } from "../../../lib/wire/writer.ts";
import {
  encodeTs,
  formatTsRange,
  type TrafficSelector,
  tsRange,
} from "../../../lib/ikev2/payloads/ts.ts";
import type { TrafficSelector as DbTrafficSelector } from "../../../lib/db/narrow.ts";
import { anyTs } from "../../../lib/db/narrow.ts";
import { PayloadType } from "../../../lib/ikev2/constants.ts";

Deno.test("TrafficSelector is interchangeable with lib/db/narrow.ts's type", () => {
  // Compile-time checks both ways: decoded selectors feed narrowing and back.
  const fromWire: DbTrafficSelector = tsRange("10.0.0.0", "10.0.0.255");
  const fromDb: TrafficSelector = anyTs(6);
  assert.equal(formatTsRange(fromWire), "10.0.0.0-10.0.0.255");
  assert.equal(formatTsRange(fromDb), "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
});

Deno.test("formatTsRange() shows protocol and ports only when narrowed", () => {
  assert.equal(
    formatTsRange(tsRange("10.0.0.1", "10.0.0.1", 6, 80, 80)),
    "10.0.0.1-10.0.0.1[6/80]",
  );
  assert.equal(formatTsRange(tsRange("10.0.0.1", "10.0.0.1", 17)), "10.0.0.1-10.0.0.1[17]");
  assert.equal(
    formatTsRange(tsRange("10.0.0.1", "10.0.0.1", 1, 65535, 0)),
    "10.0.0.1-10.0.0.1[1/OPAQUE]",
  );
  assert.equal(formatTsRange(tsRange("::", "::1", 58, 128, 129)), "::-::1[58/128-129]");
});

Deno.test("tsRange()/encodeTs() reject mixed versions, bad addresses and empty lists", () => {
  assert.throws(() => tsRange("10.0.0.1", "::1"), RangeError);
  assert.throws(() => encodeTs(new Writer(), { type: PayloadType.TSi, selectors: [] }), RangeError);
  const bad = { ...tsRange("10.0.0.1", "10.0.0.2"), endAddress: new Uint8Array(16) };
  assert.throws(
    () => encodeTs(new Writer(), { type: PayloadType.TSi, selectors: [bad] }),
    RangeError,
  );
  const w = new Writer();
  encodeTs(w, {
    type: PayloadType.TSr,
    selectors: [tsRange("192.0.2.0", "192.0.2.255", 6, 443, 443)],
  });
  // Number of TSs 1, RESERVED, then TS_IPV4_ADDR_RANGE (7), TCP, length 16, 443..443, range
  assert.equal(toHex(w.finish()), "01000000" + "07060010" + "01bb01bb" + "c0000200" + "c00002ff");
});
