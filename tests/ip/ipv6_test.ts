import assert from "node:assert/strict";
import { ipv6ExtLength, ipv6InsertionPoint, ipv6Valid } from "../../lib/ip/ipv6.ts";
import { udp6 } from "../esp/_packets.ts";

const data = new Uint8Array(12);
const ext8 = () => new Uint8Array(8);

Deno.test("ipv6InsertionPoint() goes after hop-by-hop, routing, fragment, and dest-opts only before routing", () => {
  // RFC 4303 section 3.1.1 / RFC 4302 section 3.1.1 orderings.
  const cases: { exts: number[]; offset: number; nhOff: number; nh: number }[] = [
    { exts: [], offset: 40, nhOff: 6, nh: 17 },
    { exts: [0], offset: 48, nhOff: 40, nh: 17 },
    { exts: [0, 43, 44], offset: 64, nhOff: 56, nh: 17 },
    { exts: [0, 60], offset: 48, nhOff: 40, nh: 60 }, // end-to-end dest opts stay behind ESP
    { exts: [60, 43, 60], offset: 56, nhOff: 48, nh: 60 },
  ];
  for (const c of cases) {
    const p = udp6(
      "2001:db8::1",
      "2001:db8::2",
      data,
      c.exts.map((type) => ({ type, body: ext8() })),
    );
    assert.deepEqual(ipv6InsertionPoint(p), {
      offset: c.offset,
      nextHeaderOffset: c.nhOff,
      nextHeader: c.nh,
      fragment: false,
    }, `${c.exts}`);
  }
});

Deno.test("ipv6 helpers reject truncated packets and chains", () => {
  const p = udp6("2001:db8::1", "2001:db8::2", data, [{ type: 0, body: ext8() }]);
  assert.ok(ipv6Valid(p));
  assert.equal(ipv6Valid(p.subarray(0, p.length - 1)), false);
  const bad = p.slice();
  bad[41] = 200; // hop-by-hop claims 1608 bytes
  assert.equal(ipv6InsertionPoint(bad), null);
  assert.equal(ipv6ExtLength(p, 40, 44), 8); // fragment header is always 8
  assert.equal(ipv6ExtLength(p.subarray(0, 44), 40, 0), -1);
});

Deno.test("ipv6InsertionPoint() flags real fragments, not atomic ones (RFC 8200 4.5, RFC 6946)", () => {
  const frag = (offsetAndFlags: number) => {
    const f = new Uint8Array(8);
    f[2] = offsetAndFlags >> 8;
    f[3] = offsetAndFlags & 0xff;
    return udp6("2001:db8::1", "2001:db8::2", data, [{ type: 44, body: f }]);
  };
  assert.equal(ipv6InsertionPoint(frag(0))?.fragment, false); // atomic fragment
  assert.equal(ipv6InsertionPoint(frag(1))?.fragment, true); // M flag
  assert.equal(ipv6InsertionPoint(frag(8 << 3))?.fragment, true); // offset 8
});
