/**
 * ECN at tunnel decapsulation against RFC 6040 section 4.2's table, written
 * out here from the RFC (rows: the arriving inner header; columns: the
 * arriving outer header), and the IPv4 checksum after a rewrite against a
 * full recomputation.
 */
import assert from "node:assert/strict";
import { applyDecapsulationEcn, decapsulatedEcn, Ecn, ecnOf } from "../../lib/ip/ecn.ts";
import { writeIpv4Header } from "../../lib/ip/ipv4.ts";
import { writeIpv6Header } from "../../lib/ip/ipv6.ts";
import { internetChecksum } from "../../lib/ip/checksum.ts";

const { NOT_ECT, ECT0, ECT1, CE } = Ecn;
const DROP = -1;

// RFC 6040 Figure 4: outer Not-ECT, ECT(0), ECT(1), CE.
const TABLE: [number, number[]][] = [
  [NOT_ECT, [NOT_ECT, NOT_ECT, NOT_ECT, DROP]],
  [ECT0, [ECT0, ECT0, ECT1, CE]],
  [ECT1, [ECT1, ECT1, ECT1, CE]],
  [CE, [CE, CE, CE, CE]],
];
const OUTER = [NOT_ECT, ECT0, ECT1, CE];

Deno.test("decapsulatedEcn() is RFC 6040's decapsulation table", () => {
  for (const [inner, row] of TABLE) {
    OUTER.forEach((outer, i) => {
      assert.equal(decapsulatedEcn(outer, inner), row[i], `inner ${inner} outer ${outer}`);
    });
  }
});

function v4(tos: number): Uint8Array {
  const p = new Uint8Array(28);
  writeIpv4Header(p, 0, {
    tos,
    totalLength: 28,
    id: 0x1234,
    df: true,
    ttl: 61,
    protocol: 17,
    src: Uint8Array.of(10, 1, 0, 5),
    dst: Uint8Array.of(10, 2, 0, 7),
  });
  return p;
}

function v6(tclass: number): Uint8Array {
  const p = new Uint8Array(48);
  writeIpv6Header(p, 0, {
    trafficClass: tclass,
    flowLabel: 0xabcde,
    payloadLength: 8,
    nextHeader: 17,
    hopLimit: 64,
    src: new Uint8Array(16).fill(1),
    dst: new Uint8Array(16).fill(2),
  });
  return p;
}

Deno.test("applyDecapsulationEcn() rewrites IPv4 and IPv6 headers as the table says, DSCP kept", () => {
  const dscp = 46 << 2; // EF
  for (const [inner, row] of TABLE) {
    OUTER.forEach((outer, i) => {
      const p4 = v4(dscp | inner);
      const before4 = p4.slice();
      const ok4 = applyDecapsulationEcn(outer, p4, 0, p4.length);
      const p6 = v6(dscp | inner);
      const before6 = p6.slice();
      const ok6 = applyDecapsulationEcn(outer, p6, 0, p6.length);
      const what = `inner ${inner} outer ${outer}`;
      if (row[i] === DROP) {
        assert.equal(ok4, false, what);
        assert.equal(ok6, false, what);
        assert.deepEqual(p4, before4);
        assert.deepEqual(p6, before6);
        return;
      }
      assert.ok(ok4 && ok6, what);
      assert.equal(ecnOf(p4, 0), row[i], what);
      assert.equal(ecnOf(p6, 0), row[i], what);
      assert.equal(p4[1] >> 2, 46, "DSCP unchanged");
      // The header checksum stays valid (sums to zero over the header).
      assert.equal(internetChecksum(p4.subarray(0, 20)), 0, what);
      // IPv6: only the ECN bits of the Traffic Class move; version, DSCP, flow label stay.
      assert.equal(p6[0], before6[0]);
      assert.equal(p6[1] & 0xcf, before6[1] & 0xcf);
      assert.deepEqual(p6.subarray(2), before6.subarray(2));
      // Nothing else of the IPv4 header changed.
      for (let k = 0; k < 28; k++) {
        if (k !== 1 && k !== 10 && k !== 11) assert.equal(p4[k], before4[k]);
      }
    });
  }
});

Deno.test("applyDecapsulationEcn() leaves packets too short for their header alone", () => {
  for (const n of [0, 1, 2, 11, 19]) {
    const p = v4(ECT0).subarray(0, 28);
    const before = p.slice();
    assert.equal(applyDecapsulationEcn(CE, p, 0, n), true, `${n}`);
    assert.deepEqual(p, before);
  }
  const p6 = v6(NOT_ECT);
  assert.equal(applyDecapsulationEcn(CE, p6, 0, 39), true);
  assert.equal(applyDecapsulationEcn(CE, p6, 0, 40), false);
});
