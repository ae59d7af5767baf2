import assert from "node:assert/strict";
import {
  GSO_TCPV4,
  GSO_TCPV6,
  GSO_UDP_L4,
  OFFLOAD_ERRORS,
  prependVnetHeader,
  readVnetHeader,
  sum16,
  TcpCoalescer,
  TcpSegmenter,
  VNET_F_NEEDS_CSUM,
  VNET_HDR_LEN,
  writeVnetHeader,
} from "../../lib/dataplane/offload.ts";
import { internetChecksum, onesComplementSum, pseudoHeaderSum } from "../../lib/ip/checksum.ts";
import { reserveSimdMemory } from "../../lib/ip/sum16_simd.ts";

const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)));
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

interface Vector {
  name: string;
  maxPacket: number;
  frame: string;
  segments: string[];
  /** The segments written back to a TUN through TcpCoalescer. */
  gro: string[];
}
// Built by scapy: tests/vectors/dataplane/gso.py (every expected length and checksum is scapy's).
const vectors = JSON.parse(
  await Deno.readTextFile(new URL("../vectors/dataplane/gso.json", import.meta.url)),
) as { cases: Vector[] };

function run(seg: TcpSegmenter, frame: Uint8Array): { n: number; out: string[] } {
  const out: string[] = [];
  // Copy at once: the next segment's headers overwrite the tail of this one.
  const n = seg.process(frame, (p) => out.push(toHex(p)));
  return { n, out };
}

for (const v of vectors.cases) {
  Deno.test(`TcpSegmenter.process() matches scapy: ${v.name}`, () => {
    const { n, out } = run(new TcpSegmenter(v.maxPacket), hex(v.frame));
    assert.equal(n, v.segments.length);
    assert.deepEqual(out, v.segments);
    for (const s of out) assert.ok(s.length / 2 <= v.maxPacket);
  });
}

/**
 * Memory the WebAssembly SIMD sum reads in place, as the data plane Worker
 * reserves it for its TUN reads and GRO arena (once per thread).
 */
const simdMem = reserveSimdMemory(1 << 20);

/** Coalesces `packets` (each copied behind 16 spare bytes) and returns the frames as hex. */
function coalesce(
  packets: Uint8Array[],
  arena: number | Uint8Array = 1 << 18,
): { frames: string[]; raw: Uint8Array[] } {
  const raw: Uint8Array[] = [];
  const gro = new TcpCoalescer(arena, (f) => raw.push(f.slice()), () => {});
  for (const p of packets) {
    const b = new Uint8Array(16 + p.length);
    b.set(p, 16);
    gro.push(b.subarray(16));
  }
  gro.flush();
  return { frames: raw.map(toHex), raw };
}

for (const v of vectors.cases) {
  Deno.test(`TcpCoalescer matches scapy: ${v.name}`, () => {
    assert.deepEqual(coalesce(v.segments.map(hex)).frames, v.gro);
  });
}

/** Checks a packet's IPv4 header checksum and TCP checksum with lib/ip/checksum.ts. */
function checksumsOk(p: Uint8Array): boolean {
  const v4 = p[0] >> 4 === 4;
  const l4 = v4 ? (p[0] & 15) * 4 : 40;
  if (v4 && internetChecksum(p.subarray(0, l4)) !== 0) return false;
  const src = v4 ? p.subarray(12, 16) : p.subarray(8, 24);
  const dst = v4 ? p.subarray(16, 20) : p.subarray(24, 40);
  const tcp = p.subarray(l4);
  return internetChecksum(tcp, pseudoHeaderSum(src, dst, 6, tcp.length)) === 0;
}

/** A super-packet frame: IPv4 or IPv6 + 20-byte TCP header + `data`. */
function superFrame(
  v6: boolean,
  data: Uint8Array,
  gsoSize: number,
  seq: number,
  flags: number,
  id = 0x1234,
) {
  const l4 = v6 ? 40 : 20;
  const p = new Uint8Array(VNET_HDR_LEN + l4 + 20 + data.length);
  const ip = p.subarray(VNET_HDR_LEN);
  if (v6) {
    ip[0] = 0x60;
    ip[4] = (20 + data.length) >> 8;
    ip[5] = (20 + data.length) & 0xff;
    ip[6] = 6;
    ip[7] = 64;
    ip.set([0xfd, 0, 0, 1], 8);
    ip[23] = 1;
    ip.set([0xfd, 0, 0, 2], 24);
    ip[39] = 1;
  } else {
    const total = 40 + data.length;
    ip.set([
      0x45,
      0,
      total >> 8,
      total & 0xff,
      id >> 8,
      id & 0xff,
      0x40,
      0,
      64,
      6,
      0,
      0,
      10,
      1,
      0,
      1,
    ]);
    ip.set([10, 2, 0, 1], 16);
  }
  const t = l4;
  ip.set([0x9c, 0x40, 0x14, 0x51], t);
  ip.set([seq >>> 24, (seq >>> 16) & 255, (seq >>> 8) & 255, seq & 255], t + 4);
  ip[t + 12] = 0x50;
  ip[t + 13] = flags;
  ip[t + 14] = 0xff;
  ip.set(data, l4 + 20);
  writeVnetHeader(p, 0, {
    flags: VNET_F_NEEDS_CSUM,
    gsoType: v6 ? GSO_TCPV6 : GSO_TCPV4,
    hdrLen: l4 + 20,
    gsoSize,
    csumStart: l4,
    csumOffset: 16,
  });
  return p;
}

Deno.test("TcpSegmenter.process(): random sizes reassemble, checksums verify, segments fit", () => {
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  for (let k = 0; k < 200; k++) {
    const v6 = k % 2 === 1;
    const data = new Uint8Array(1 + rnd(60000));
    for (let i = 0; i < data.length; i++) data[i] = rnd(256);
    const gso = 1 + rnd(1500);
    const maxPacket = 600 + rnd(900);
    const seq = rnd(0x100000000);
    const frame = superFrame(v6, data, gso, seq, 0x19); // FIN PSH ACK
    const segs: Uint8Array[] = [];
    const n = new TcpSegmenter(maxPacket).process(frame, (p) => segs.push(p.slice()));
    const hdr = v6 ? 60 : 40;
    const mss = Math.min(gso, maxPacket - hdr);
    assert.equal(n, Math.ceil(data.length / mss));
    const got: number[] = [];
    segs.forEach((s, i) => {
      assert.ok(s.length <= maxPacket, `segment ${i} is ${s.length} bytes`);
      assert.ok(checksumsOk(s), `segment ${i} of case ${k}: bad checksum`);
      const t = v6 ? 40 : 20;
      const sq = ((s[t + 4] << 24) | (s[t + 5] << 16) | (s[t + 6] << 8) | s[t + 7]) >>> 0;
      assert.equal(sq, (seq + got.length) >>> 0);
      assert.equal(s[t + 13], i === segs.length - 1 ? 0x19 : 0x10);
      got.push(...s.subarray(hdr));
    });
    assert.deepEqual(Uint8Array.from(got), data);
  }
});

Deno.test("TcpCoalescer then TcpSegmenter gives back the segments; flows, gaps, PSH, 64 KB", () => {
  let seed = 777;
  const rnd = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const segmentsOf = (v6: boolean, n: number, mss: number, seq: number, flags: number) => {
    const data = new Uint8Array(n);
    for (let i = 0; i < n; i++) data[i] = rnd(256);
    const out: Uint8Array[] = [];
    // Super-packets of at most 60 mss each (an IP packet is at most 64 KB).
    for (let at = 0; at < n; at += 60 * mss) {
      const chunk = data.subarray(at, Math.min(n, at + 60 * mss));
      const f = at + chunk.length < n ? 0x10 : flags;
      const frame = superFrame(v6, chunk, mss, (seq + at) >>> 0, f, 0x1234 + at / mss);
      new TcpSegmenter(1400).process(frame, (p) => out.push(p.slice()));
    }
    return out;
  };
  for (const v6 of [false, true]) {
    // 150 full segments: more than one 64 KB super-packet.
    const long = segmentsOf(v6, 150 * 1000 + 1, 1000, 0xfffff000, 0x18);
    const { raw } = coalesce(long);
    assert.equal(raw.length, 3); // 65 + 65 + 20 segments and the short last one (with PSH)
    const back: Uint8Array[] = [];
    for (const f of raw) {
      assert.ok(f.length - VNET_HDR_LEN <= 65535);
      new TcpSegmenter(1400).process(f.slice(), (p) => back.push(p.slice()));
    }
    assert.deepEqual(back.map(toHex), long.map(toHex));
    for (const p of back) assert.ok(checksumsOk(p));
  }
  // Two flows interleaved: nothing joins across flows, order within each flow is kept.
  const x = segmentsOf(false, 5000, 1000, 1, 0x10);
  const y = segmentsOf(false, 5000, 1000, 9, 0x10);
  for (const p of y) p[20 + 1] ^= 1; // another source port (checksum irrelevant here)
  const mixed = x.flatMap((p, i) => [p, y[i]]);
  assert.equal(coalesce(mixed).raw.length, 10);
  // A gap (a lost segment) ends the super-packet.
  const gap = segmentsOf(false, 6000, 1000, 1, 0x10);
  gap.splice(2, 1);
  assert.deepEqual(coalesce(gap).raw.map((f) => readVnetHeader(f).gsoType), [1, 1]);
  // A PSH segment ends it; a short segment ends it; a pure ACK is written alone.
  const psh = segmentsOf(false, 2000, 1000, 1, 0x18);
  const more = segmentsOf(false, 2000, 1000, 2001, 0x10);
  const ack = new Uint8Array(psh[0].subarray(0, 40));
  ack[3] = 40;
  const frames = coalesce([...psh, ...more, ack]).raw;
  assert.deepEqual(frames.map((f) => f.length - VNET_HDR_LEN), [2040, 2040, 40]);
  const short = segmentsOf(false, 2500, 1000, 1, 0x10);
  assert.deepEqual(
    coalesce([...short, ...segmentsOf(false, 2000, 1000, 2501, 0x10)]).raw.length,
    2,
  );
});

Deno.test("TcpCoalescer writes a segment with a bad TCP checksum alone, unchanged", () => {
  const v = vectors.cases[0]; // 4 segments, coalesced into one when intact
  const segs = v.segments.map(hex);
  segs[1][45] ^= 0x40; // a payload bit flipped after the sender's checksum
  const { raw } = coalesce(segs);
  assert.deepEqual(raw.map((f) => readVnetHeader(f).gsoType), [0, 0, 1]);
  assert.deepEqual(raw[1].subarray(VNET_HDR_LEN), segs[1]);
  assert.ok(!checksumsOk(raw[1].subarray(VNET_HDR_LEN)));
});

Deno.test("TcpSegmenter and TcpCoalescer give the same bytes on buffers in SIMD memory", () => {
  assert.ok(simdMem !== null, "WebAssembly SIMD is available in Deno");
  const mem = simdMem!;
  for (const v of vectors.cases) {
    const frame = hex(v.frame);
    const inSimd = mem.subarray(4096 + 1, 4096 + 1 + frame.length); // at an odd address too
    inSimd.set(frame);
    assert.deepEqual(run(new TcpSegmenter(v.maxPacket), inSimd).out, v.segments, v.name);
    assert.deepEqual(coalesce(v.segments.map(hex), mem.subarray(1 << 19)).frames, v.gro, v.name);
  }
  // Bad checksums (each payload byte in turn), a gap and another flow, against the plain arena.
  const segs = vectors.cases[0].segments.map(hex);
  const inputs: Uint8Array[][] = [];
  for (let i = 0; i < segs.length; i++) {
    for (const at of [40, 41, segs[i].length - 1]) {
      const bad = segs.map((p) => p.slice());
      bad[i][at] ^= 0x81;
      inputs.push(bad);
    }
  }
  inputs.push([segs[0], segs[2], segs[3]]);
  const other = segs.map((p) => p.slice());
  other[1][21] ^= 1;
  inputs.push(other);
  for (const input of inputs) {
    const plain = coalesce(input).frames;
    assert.deepEqual(coalesce(input, mem.subarray(1 << 19)).frames, plain);
    assert.deepEqual(
      coalesce(input, mem.subarray((1 << 19) + 3, (1 << 19) + 3 + 65545)).frames,
      plain,
    );
  }
});

Deno.test("TcpCoalescer releases the arena before reusing it", () => {
  const seg: Uint8Array[] = [];
  const data = new Uint8Array(200_000);
  new TcpSegmenter(1400).process(
    superFrame(false, data.subarray(0, 60000), 1000, 1, 0x10),
    (p) => seg.push(p.slice()),
  );
  let released = 0;
  const frames: Uint8Array[] = [];
  const gro = new TcpCoalescer(VNET_HDR_LEN + 65535, (f) => frames.push(f), () => released++);
  // Two flows alternating in blocks of 30 segments: each block a new super-packet.
  for (let k = 0; k < 3; k++) {
    for (const p of seg.slice((k % 2) * 30, (k % 2) * 30 + 30)) gro.push(p);
    const other = seg[0].slice();
    other[21] ^= 1;
    gro.push(other);
  }
  gro.flush();
  assert.ok(released >= 1);
});

Deno.test("sum16() equals lib/ip/checksum at every alignment and length", () => {
  const big = new Uint8Array(70000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7919 + (i >> 5)) & 255;
  for (let off = 0; off < 8; off++) {
    const b = big.subarray(off);
    for (let st = 0; st < 8; st++) {
      for (const len of [0, 1, 31, 32, 33, 35, 100, 1399, 1400, 1401, 65535]) {
        const want = onesComplementSum(b.subarray(st, st + len), 7);
        let got = sum16(b, st, st + len, 7);
        while (got > 0xffff) got = (got & 0xffff) + Math.floor(got / 0x10000);
        assert.equal(got % 0xffff, want % 0xffff, `offset ${off} start ${st} length ${len}`);
      }
    }
  }
});

Deno.test("TcpSegmenter.process() refuses what it cannot segment, emitting nothing", () => {
  const seg = new TcpSegmenter(1400);
  const none = () => assert.fail("emitted");
  const data = new Uint8Array(3000);
  // UDP segmentation is never enabled (TUN_F_USO4/6 off).
  const udp = superFrame(false, data, 1000, 1, 0x10);
  udp[1] = GSO_UDP_L4;
  assert.equal(seg.process(udp, none), OFFLOAD_ERRORS.unsupported);
  // gso_type says IPv6, the packet is IPv4.
  const mixed = superFrame(false, data, 1000, 1, 0x10);
  mixed[1] = GSO_TCPV6;
  assert.equal(seg.process(mixed, none), OFFLOAD_ERRORS.malformed);
  // IPv4 total length beyond the frame.
  const cut = superFrame(false, data, 1000, 1, 0x10).subarray(0, 2000);
  assert.equal(seg.process(cut, none), OFFLOAD_ERRORS.malformed);
  // IPv6 with a routing header (it changes the pseudo-header's destination).
  const ext = superFrame(true, data, 1000, 1, 0x10);
  ext[VNET_HDR_LEN + 6] = 43;
  assert.equal(seg.process(ext, none), OFFLOAD_ERRORS.unsupported);
  // gso_size 0.
  assert.equal(seg.process(superFrame(false, data, 0, 1, 0x10), none), OFFLOAD_ERRORS.malformed);
  // Headers alone (IPv6 40 + TCP 60) already exceed maxPacket.
  const long = superFrame(true, data, 1000, 1, 0x10);
  long[VNET_HDR_LEN + 40 + 12] = 0xf0;
  assert.equal(new TcpSegmenter(68).process(long, none), OFFLOAD_ERRORS.malformed);
  // NEEDS_CSUM with the checksum field past the end.
  const bad = new Uint8Array(VNET_HDR_LEN + 28);
  bad[VNET_HDR_LEN] = 0x45;
  writeVnetHeader(bad, 0, {
    flags: VNET_F_NEEDS_CSUM,
    gsoType: 0,
    hdrLen: 0,
    gsoSize: 0,
    csumStart: 20,
    csumOffset: 16,
  });
  assert.equal(seg.process(bad, none), OFFLOAD_ERRORS.malformed);
  assert.equal(seg.process(new Uint8Array(12), none), OFFLOAD_ERRORS.malformed);
});

Deno.test("readVnetHeader() and writeVnetHeader() use little-endian fields", () => {
  const b = new Uint8Array(VNET_HDR_LEN);
  const h = { flags: 1, gsoType: 4, hdrLen: 0x1234, gsoSize: 1348, csumStart: 40, csumOffset: 16 };
  writeVnetHeader(b, 0, h);
  assert.deepEqual(Array.from(b), [1, 4, 0x34, 0x12, 0x44, 0x05, 40, 0, 16, 0]);
  assert.deepEqual(readVnetHeader(b), h);
});

Deno.test("prependVnetHeader() zeroes the 10 bytes in front, or returns null without room", () => {
  const buf = new Uint8Array(64).fill(0xee);
  const p = buf.subarray(20, 40);
  const f = prependVnetHeader(p)!;
  assert.equal(f.byteOffset, 10);
  assert.equal(f.length, 30);
  assert.deepEqual(Array.from(buf.subarray(10, 20)), new Array(10).fill(0));
  assert.equal(buf[9], 0xee);
  assert.equal(prependVnetHeader(buf.subarray(9, 20)), null);
});
