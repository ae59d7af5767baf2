/**
 * IPComp (RFC 3173) with DEFLATE (RFC 2394): header layout, the
 * send-uncompressed rules, and DEFLATE checked against Python's zlib (an
 * independent implementation): what we compress Python inflates, with a 2 KB
 * window as Linux's IPComp inflates it; what Python compresses (window 2 KB
 * as Linux sends, and 32 KB) we inflate.
 */
import assert from "node:assert/strict";
import {
  CPI_MAX,
  CPI_MIN,
  IPCOMP_HEADER,
  IPCOMP_THRESHOLD,
  ipcompCompress,
  ipcompDecompress,
  IPPROTO_IPCOMP,
  randomCpi,
} from "../../lib/ip/ipcomp.ts";
import { runPythonJson } from "../crypto/_python.ts";
import { toHex } from "../../lib/wire/bytes.ts";

const hex = (h: string) => Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16));

/** Text-like payloads of several sizes (compressible), as IP payloads are. */
function samples(): Uint8Array[] {
  const text = new TextEncoder().encode(
    "GET /index.html HTTP/1.1\r\nHost: intranet.example.org\r\nAccept: */*\r\n\r\n".repeat(60),
  );
  const out: Uint8Array[] = [];
  for (const n of [IPCOMP_THRESHOLD, 200, 1400, 3000, 9000, 65000]) {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = text[i % text.length] ^ ((i >> 11) & 1);
    out.push(b);
  }
  return out;
}

Deno.test("ipcomp: header is next header, zero flags, CPI; the rest a raw DEFLATE stream", () => {
  const payload = new Uint8Array(500).fill(0x41);
  const c = ipcompCompress(payload, 4, 0x1234);
  assert.ok(c !== null);
  assert.deepEqual([...c.subarray(0, IPCOMP_HEADER)], [4, 0, 0x12, 0x34]);
  const d = ipcompDecompress(c, 0x1234);
  assert.ok(d.ok);
  assert.equal(d.nextHeader, 4);
  assert.equal(d.cpi, 0x1234);
  assert.deepEqual(d.payload, payload);
  assert.equal(IPPROTO_IPCOMP, 108);
});

Deno.test("ipcomp: short or incompressible payloads are sent uncompressed (RFC 3173 2.2)", () => {
  assert.equal(ipcompCompress(new Uint8Array(IPCOMP_THRESHOLD - 1), 6, 300), null);
  const random = crypto.getRandomValues(new Uint8Array(1400));
  assert.equal(ipcompCompress(random, 6, 300), null);
  assert.notEqual(ipcompCompress(new Uint8Array(IPCOMP_THRESHOLD), 6, 300), null);
});

Deno.test("ipcomp: bad input is refused with a reason, never thrown", () => {
  const c = ipcompCompress(new Uint8Array(1000).fill(7), 41, 0x2222)!;
  assert.deepEqual(ipcompDecompress(c.subarray(0, 4)), {
    ok: false,
    error: "truncated",
    detail: "4 bytes",
  });
  const wrong = ipcompDecompress(c, 0x2223);
  assert.ok(!wrong.ok && wrong.error === "wrong-cpi");
  const cut = ipcompDecompress(c.subarray(0, c.length - 2), 0x2222);
  assert.ok(!cut.ok && cut.error === "corrupt");
  const garbage = Uint8Array.of(4, 0, 0x22, 0x22, 0xff, 0xff, 0xff, 0xff);
  assert.ok(!ipcompDecompress(garbage).ok);
  const nested = Uint8Array.from(c);
  nested[0] = IPPROTO_IPCOMP;
  const n = ipcompDecompress(nested);
  assert.ok(!n.ok && n.error === "bad-next-header");
  // A stream that inflates past any IP datagram (a "zip bomb") stops at 64 KB.
  const bomb = ipcompCompress(new Uint8Array(70000), 4, 0x2222)!;
  const b = ipcompDecompress(bomb, 0x2222);
  assert.ok(!b.ok && b.error === "corrupt");
});

Deno.test("ipcomp: trailing bytes after the DEFLATE stream are ignored", () => {
  const payload = new Uint8Array(300).fill(9);
  const c = ipcompCompress(payload, 4, 0x0400)!;
  const padded = new Uint8Array(c.length + 7);
  padded.set(c);
  padded.fill(0xee, c.length);
  const d = ipcompDecompress(padded, 0x0400);
  assert.ok(d.ok);
  assert.deepEqual(d.payload, payload);
});

Deno.test("ipcomp: randomCpi stays in the negotiable range 256..61439", () => {
  for (const b of [[0, 0], [0xff, 0xff], [0xef, 0xff], [0xf0, 0x00], [0x12, 0x34]]) {
    const cpi = randomCpi(() => Uint8Array.from(b));
    assert.ok(cpi >= CPI_MIN && cpi <= CPI_MAX, `${b}: ${cpi}`);
  }
});

const PY = `
import json, sys, zlib
req = json.load(sys.stdin)
out = {"inflated": [], "deflated": []}
for h in req["ours"]:
    # Linux's IPComp inflates with a 2 KB window (windowBits -11).
    d = zlib.decompressobj(-11)
    out["inflated"].append(d.decompress(bytes.fromhex(h)).hex())
for h in req["plain"]:
    row = []
    for wbits in (-11, -15):
        c = zlib.compressobj(6, zlib.DEFLATED, wbits)
        row.append((c.compress(bytes.fromhex(h)) + c.flush()).hex())
    out["deflated"].append(row)
print(json.dumps(out))
`;

Deno.test("ipcomp: DEFLATE agrees with Python's zlib both ways", async () => {
  const plain = samples();
  const ours = plain.map((p) => ipcompCompress(p, 6, 0x3039));
  for (const c of ours) assert.ok(c !== null);
  const res = await runPythonJson(PY, {
    ours: ours.map((c) => toHex(c!.subarray(IPCOMP_HEADER))),
    plain: plain.map(toHex),
  }) as { inflated: string[]; deflated: string[][] };
  plain.forEach((p, i) => {
    assert.equal(res.inflated[i], toHex(p), `python inflates ours (${p.length} bytes)`);
    for (const z of res.deflated[i]) {
      const datagram = new Uint8Array(IPCOMP_HEADER + z.length / 2);
      datagram.set([6, 0, 0x30, 0x39]);
      datagram.set(hex(z), IPCOMP_HEADER);
      const d = ipcompDecompress(datagram, 0x3039);
      assert.ok(d.ok, `python's stream of ${p.length} bytes`);
      assert.deepEqual(d.payload, p);
    }
  });
});
