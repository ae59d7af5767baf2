/**
 * The allocation-free tunnel-mode outer header writer of lib/esp/_outer.ts:
 * a known IPv4 header (the worked checksum example of the Wikipedia article
 * "Internet checksum": 4500 0073 0000 4000 4011 *b861* c0a8 0001 c0a8 00c7),
 * and agreement with the general writers of lib/ip on random fields, with
 * the checksum verifying.
 */
import assert from "node:assert/strict";
import { writeOuterHeader } from "../../lib/esp/_outer.ts";
import { ipv4ChecksumOk, writeIpv4Header } from "../../lib/ip/ipv4.ts";
import { writeIpv6Header } from "../../lib/ip/ipv6.ts";
import { toHex } from "../../lib/wire/bytes.ts";

Deno.test("writeOuterHeader() writes the worked IPv4 checksum example (b861)", () => {
  const out = new Uint8Array(24).fill(0xee);
  const n = writeOuterHeader(
    out,
    2,
    Uint8Array.of(192, 168, 0, 1),
    Uint8Array.of(192, 168, 0, 199),
    17,
    0x73,
    0,
    true,
    0,
    { dscp: "copy", ecn: true, df: "copy", ttl: 64 },
  );
  assert.equal(n, 20);
  assert.equal(toHex(out.subarray(2, 22)), "45000073000040004011b861c0a80001c0a800c7");
  assert.equal(out[1], 0xee);
  assert.equal(out[22], 0xee);
});

Deno.test("writeOuterHeader() equals the lib/ip header writers on random fields", () => {
  const rnd = (n: number) => crypto.getRandomValues(new Uint8Array(n));
  for (let i = 0; i < 500; i++) {
    const [a, b, c, d, e] = rnd(5);
    const tos = a;
    const dscp = b % 3 === 0 ? "copy" as const : b & 0x3f;
    // copy_ecn: no sends Not-ECT whatever the inner packet says.
    const ecn = (b & 4) === 0;
    const wantTos = (dscp === "copy" ? tos : ((dscp & 0x3f) << 2) | (tos & 3)) &
      (ecn ? 0xff : 0xfc);
    const df = (c & 1) === 1;
    const ttl = d;
    const proto = e;
    const id = (rnd(2)[0] << 8) | rnd(1)[0];
    const v6 = i % 2 === 1;
    const total = (v6 ? 40 : 20) + ((rnd(2)[0] << 8) | rnd(1)[0]) % 65000;
    const src = rnd(v6 ? 16 : 4);
    const dst = rnd(v6 ? 16 : 4);
    const got = new Uint8Array(48);
    const want = new Uint8Array(48);
    writeOuterHeader(got, 3, src, dst, proto, total, tos, df, id, { dscp, ecn, df: "copy", ttl });
    if (v6) {
      writeIpv6Header(want, 3, {
        trafficClass: wantTos,
        flowLabel: 0,
        payloadLength: total - 40,
        nextHeader: proto,
        hopLimit: ttl,
        src,
        dst,
      });
    } else {
      writeIpv4Header(want, 3, {
        tos: wantTos,
        totalLength: total,
        id,
        df,
        ttl,
        protocol: proto,
        src,
        dst,
      });
      assert.ok(ipv4ChecksumOk(got.subarray(3, 23), 20));
    }
    assert.equal(toHex(got), toHex(want), `case ${i}`);
  }
});
