import assert from "node:assert/strict";
import { packetKey } from "../../lib/db/packet_key.ts";
import { packetTuple } from "../../lib/db/selector.ts";
import { fromHex } from "../../lib/wire/bytes.ts";

// Packets built by scapy and the fields scapy dissects back from the same
// bytes (tests/vectors/db/packet_keys.py): an independent oracle.
interface Vector {
  name: string;
  hex: string;
  src: string;
  dst: string;
  protocol: number;
  srcPort: number | null;
  dstPort: number | null;
  icmpType: number | null;
  icmpCode: number | null;
  mhType: number | null;
  fragment: boolean;
}

const vectors = JSON.parse(
  await Deno.readTextFile(new URL("../vectors/db/packet_keys.json", import.meta.url)),
) as { cases: Vector[] };

Deno.test("packetKey() extracts the fields scapy dissects", () => {
  assert.ok(vectors.cases.length >= 13);
  for (const v of vectors.cases) {
    for (const direction of ["outbound", "inbound"] as const) {
      const want = packetTuple({
        src: v.src,
        dst: v.dst,
        protocol: v.protocol,
        srcPort: v.srcPort ?? undefined,
        dstPort: v.dstPort ?? undefined,
        icmpType: v.icmpType ?? undefined,
        icmpCode: v.icmpCode ?? undefined,
        mhType: v.mhType ?? undefined,
        fragment: v.fragment,
        direction,
      });
      const got = packetKey(fromHex(v.hex), direction);
      assert.ok(got.ok, v.name);
      assert.deepStrictEqual(got.tuple, want, `${v.name} (${direction})`);
    }
  }
});

Deno.test("packetKey() rejects truncated and unknown packets", () => {
  const tcp = fromHex(vectors.cases[0].hex);
  assert.deepStrictEqual(packetKey(tcp.subarray(0, 19), "outbound"), {
    ok: false,
    problem: "truncated",
  });
  assert.deepStrictEqual(packetKey(new Uint8Array([0x50, 0, 0, 0]), "outbound"), {
    ok: false,
    problem: "bad-version",
  });
  const badIhl = tcp.slice();
  badIhl[0] = 0x44;
  assert.deepStrictEqual(packetKey(badIhl, "outbound"), {
    ok: false,
    problem: "bad-header-length",
  });
  assert.deepStrictEqual(packetKey(new Uint8Array(0), "inbound"), {
    ok: false,
    problem: "truncated",
  });
  // A header without its ports: ports are OPAQUE, the key still exists.
  const r = packetKey(tcp.subarray(0, 22), "outbound");
  assert.ok(r.ok);
  assert.equal(r.tuple.localPort, -1);
});

Deno.test("packetKey() never throws on mutated or random bytes", () => {
  let seed = 7;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  for (const v of vectors.cases) {
    const base = fromHex(v.hex);
    for (let i = 0; i < 200; i++) {
      const m = base.slice(0, rnd(base.length + 1));
      for (let j = 0; j < 3 && m.length > 0; j++) m[rnd(m.length)] = rnd(256);
      const r = packetKey(m, i % 2 ? "inbound" : "outbound");
      if (r.ok) {
        assert.ok(r.tuple.protocol >= 0 && r.tuple.protocol <= 255);
        assert.ok(r.tuple.localPort >= -1 && r.tuple.localPort <= 65535);
      }
    }
  }
});
