/**
 * ESP with IPComp (RFC 3173 inside RFC 4303, the layout Linux and strongSwan
 * use) cross-checked against scapy.layers.ipsec: scapy decrypts what we
 * send and finds ESP Next Header 108, an IPComp header with the peer's CPI
 * and the packet's own next header (4/41 in tunnel mode, the upper layer in
 * transport mode) and a DEFLATE stream that gives the packet back; packets
 * scapy encrypts around an IPComp datagram we take, decompress and deliver.
 * Tunnel and transport mode, IPv4 and IPv6, plain ESP and ESP in UDP, an
 * AEAD and CBC+HMAC. Also: short or incompressible packets go as plain ESP
 * and are taken either way, and a wrong CPI or a corrupt stream is a counted
 * drop.
 */
import assert from "node:assert/strict";
import { AhSa } from "../../lib/esp/ah.ts";
import { EspSa } from "../../lib/esp/esp.ts";
import { IpcompSa } from "../../lib/esp/ipcomp_sa.ts";
import { ipcompCompress, ipcompDecompress, IPPROTO_IPCOMP } from "../../lib/ip/ipcomp.ts";
import { ipv4SetChecksum } from "../../lib/ip/ipv4.ts";
import { toHex } from "../../lib/wire/bytes.ts";
import { runScapy, type ScapyCase } from "../helpers/scapy.ts";
import {
  endpoints,
  type EspAlg,
  makeAhInteg,
  makeTransform,
  scapyParams,
  udp4,
  udp6,
} from "./_packets.ts";

const SPI = 0xc0ffee42;
const T4 = { src: "198.51.100.1", dst: "203.0.113.1" };
const T6 = { src: "2001:db8:1::1", dst: "2001:db8:2::1" };
const CPI_PEER = 0x1234;
const hex = (h: string) => Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16));

interface Variant {
  alg: EspAlg;
  mode: "tunnel" | "transport";
  v6: boolean;
  udp: boolean;
}

const VARIANTS: Variant[] = [];
for (const alg of ["aes128gcm16", "aes256-sha256"] as const) {
  for (const mode of ["tunnel", "transport"] as const) {
    for (const v6 of [false, true]) {
      for (const udp of [false, true]) VARIANTS.push({ alg, mode, v6, udp });
    }
  }
}

const name = (v: Variant) => `${v.alg} ${v.mode} v6=${v.v6} udp=${v.udp}`;

function esp(v: Variant): EspSa {
  const t = v.v6 ? T6 : T4;
  return new EspSa({
    spi: SPI,
    mode: v.mode,
    transform: makeTransform(v.alg, "auto"),
    tunnel: v.mode === "tunnel" ? endpoints(t, v.v6) : undefined,
    udpEncap: v.udp ? { srcPort: 4500, dstPort: 4500 } : undefined,
  });
}

function ipcompSa(v: Variant, cpi = CPI_PEER): IpcompSa {
  return new IpcompSa(esp(v), { cpi, udpEncap: v.udp });
}

/** A UDP packet with a compressible payload of `n` bytes (transport mode: between the tunnel ends). */
function innerPacket(v: Variant, n = 1000, random = false): Uint8Array {
  const payload = random
    ? crypto.getRandomValues(new Uint8Array(n))
    : new TextEncoder().encode("ipcomp says hello to the peer. ".repeat(n / 30 + 1)).subarray(0, n);
  if (v.mode === "transport") {
    const t = v.v6 ? T6 : T4;
    return v.v6 ? udp6(t.src, t.dst, payload) : udp4(t.src, t.dst, payload);
  }
  return v.v6
    ? udp6("2001:db8:a::1", "2001:db8:b::1", payload)
    : udp4("10.1.0.1", "10.2.0.1", payload);
}

function scapyCase(v: Variant, op: "encrypt" | "decrypt", packet: Uint8Array): ScapyCase {
  // What scapy sees is always transport-mode ESP: in tunnel mode the IPComp
  // datagram rides in an IP packet between the tunnel ends (Linux: an IPComp
  // tunnel SA inside an ESP transport SA).
  return {
    op,
    proto: "ESP",
    spi: SPI,
    seq: 1,
    ...scapyParams(v.alg),
    tunnel: null,
    nat_t: v.udp ? { sport: 4500, dport: 4500 } : null,
    packet: toHex(packet),
  };
}

function send(sa: IpcompSa, packet: Uint8Array): Uint8Array {
  const out = new Uint8Array(sa.requiredOutLength(packet.length));
  const n = sa.encapsulateInto(packet, out);
  assert.ok(n > 0, `encapsulate: ${n}`);
  return out.slice(0, n);
}

function receive(sa: IpcompSa, packet: Uint8Array): Uint8Array {
  const buf = Uint8Array.from(packet);
  const n = sa.decapsulateInPlace(buf);
  assert.ok(n >= 0, `decapsulate: ${n} (${JSON.stringify(sa.stats.drops)})`);
  return sa.lastBuffer.slice(sa.lastOffset, sa.lastOffset + n);
}

/** The IP header length of a test packet (no options or extension headers). */
const hdrLen = (p: Uint8Array) => p[0] >> 4 === 4 ? (p[0] & 15) * 4 : 40;

/**
 * The packet scapy encrypts to give us `inner` compressed: tunnel mode an
 * IP packet from tunnel end to tunnel end carrying IPComp(inner), transport
 * mode `inner` with its payload IPComp-compressed.
 */
function ipcompPacket(v: Variant, inner: Uint8Array, cpi: number): Uint8Array {
  const t = v.v6 ? T6 : T4;
  const head = v.mode === "tunnel"
    ? (v.v6 ? udp6(t.src, t.dst, new Uint8Array(0)) : udp4(t.src, t.dst, new Uint8Array(0)))
      .subarray(0, v.v6 ? 40 : 20)
    : inner.subarray(0, hdrLen(inner));
  const body = v.mode === "tunnel" ? inner : inner.subarray(hdrLen(inner));
  const nh = v.mode === "tunnel" ? (v.v6 ? 41 : 4) : 17;
  const c = ipcompCompress(body, nh, cpi);
  assert.ok(c !== null);
  const p = new Uint8Array(head.length + c.length);
  p.set(head);
  p.set(c, head.length);
  if (v.v6) {
    p[6] = IPPROTO_IPCOMP;
    p[4] = (p.length - 40) >> 8;
    p[5] = (p.length - 40) & 0xff;
  } else {
    p[9] = IPPROTO_IPCOMP;
    p[2] = p.length >> 8;
    p[3] = p.length & 0xff;
    ipv4SetChecksum(p, 20);
  }
  return p;
}

Deno.test("ipcomp sa: scapy decrypts ours to IPComp with the peer's CPI around the packet", async () => {
  const sent = VARIANTS.map((v) => {
    const sa = ipcompSa(v);
    const wire = send(sa, innerPacket(v));
    assert.equal(sa.ipcompStats.compressed, 1, name(v));
    return wire;
  });
  const res = await runScapy(VARIANTS.map((v, i) => scapyCase(v, "decrypt", sent[i])));
  VARIANTS.forEach((v, i) => {
    const r = res[i];
    assert.ok(r.ok, `${name(v)}: ${!r.ok && r.error}`);
    const plain = hex(r.packet);
    const h = hdrLen(plain);
    assert.equal(v.v6 ? plain[6] : plain[9], IPPROTO_IPCOMP, `${name(v)}: ESP next header 108`);
    const d = ipcompDecompress(plain.subarray(h), CPI_PEER);
    assert.ok(d.ok, name(v));
    const inner = innerPacket(v);
    if (v.mode === "tunnel") {
      assert.equal(d.nextHeader, v.v6 ? 41 : 4, name(v));
      assert.deepEqual(d.payload, inner, name(v));
    } else {
      assert.equal(d.nextHeader, 17, name(v));
      assert.deepEqual(d.payload, inner.subarray(hdrLen(inner)), name(v));
    }
  });
});

Deno.test("ipcomp sa: IPComp datagrams scapy encrypts are decompressed and delivered", async () => {
  const CPI_OURS = 0x2b67;
  const res = await runScapy(
    VARIANTS.map((v) => scapyCase(v, "encrypt", ipcompPacket(v, innerPacket(v), CPI_OURS))),
  );
  VARIANTS.forEach((v, i) => {
    const r = res[i];
    assert.ok(r.ok, `${name(v)}: ${!r.ok && r.error}`);
    const rx = ipcompSa(v, CPI_OURS);
    const got = receive(rx, hex(r.packet));
    assert.deepEqual(got, innerPacket(v), name(v));
    assert.equal(rx.ipcompStats.compressed, 1, name(v));
  });
});

Deno.test("ipcomp sa: round trip; small and incompressible packets go as plain ESP", () => {
  for (const v of VARIANTS) {
    const tx = ipcompSa(v);
    const rx = ipcompSa(v);
    const big = innerPacket(v, 1200);
    const small = innerPacket(v, 20);
    const noise = innerPacket(v, 600, true);
    for (const p of [big, small, noise, big]) {
      assert.deepEqual(receive(rx, send(tx, p)), p, name(v));
    }
    assert.deepEqual(tx.ipcompStats, { compressed: 2, uncompressed: 2 }, name(v));
    assert.deepEqual(rx.ipcompStats, { compressed: 2, uncompressed: 2 }, name(v));
  }
});

Deno.test("ipcomp sa: a wrong CPI or a corrupt stream is a counted drop", () => {
  for (const v of VARIANTS.filter((x) => !x.udp)) {
    const tx = ipcompSa(v, 0x1111);
    const rx = ipcompSa(v, 0x2222);
    const buf = send(tx, innerPacket(v));
    assert.ok(rx.decapsulateInPlace(Uint8Array.from(buf)) < 0, name(v));
    assert.equal(rx.stats.drops["decompression-failed"], 1, name(v));
    // Corrupt DEFLATE data the peer authenticated (a broken sender): dropped too.
    const inner = innerPacket(v);
    const bad = ipcompPacket(v, inner, 0x2222);
    const h = v.mode === "tunnel" ? (v.v6 ? 40 : 20) : hdrLen(inner);
    bad.fill(0xff, h + 4, h + 12);
    const tx2 = esp(v);
    const out = new Uint8Array(tx2.requiredOutLength(bad.length));
    // Transport-mode ESP carries the whole IPComp datagram; tunnel mode its payload.
    const n = v.mode === "tunnel"
      ? tx2.encapsulateTunnelPayload(bad.subarray(h), IPPROTO_IPCOMP, 0, true, out)
      : tx2.encapsulateInto(bad, out);
    assert.ok(n > 0, name(v));
    const rx2 = ipcompSa(v, 0x2222);
    assert.ok(rx2.decapsulateInPlace(out.slice(0, n)) < 0, name(v));
    assert.equal(rx2.stats.drops["decompression-failed"], 1, name(v));
  }
});

Deno.test("ipcomp sa fuzz: authentic ESP with mutated IPComp datagrams never throws; what passes is whole", () => {
  let s = 4242;
  const rnd = (n: number) => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s >>> 8) % n;
  };
  for (const v of VARIANTS.filter((x) => x.alg === "aes128gcm16")) {
    const tx = esp(v);
    const rx = ipcompSa(v, 0x2222);
    let passed = 0;
    for (let i = 0; i < 400; i++) {
      const inner = innerPacket(v, 100 + rnd(1200), rnd(5) === 0);
      const datagram = ipcompPacket(v, innerPacket(v, 200 + rnd(1000)), 0x2222);
      const h = v.mode === "tunnel" ? (v.v6 ? 40 : 20) : hdrLen(inner);
      const d = datagram.slice();
      switch (rnd(6)) {
        case 0: // a bit flip in the DEFLATE stream
          d[h + 4 + rnd(d.length - h - 4)] ^= 1 << rnd(8);
          break;
        case 1: // truncated
          break;
        case 2: // another next header, or IPComp again
          d[h] = rnd(2) ? rnd(256) : IPPROTO_IPCOMP;
          break;
        case 3: // another CPI
          d[h + 2] ^= 1 + rnd(255);
          break;
        case 4: // random bytes after the header
          crypto.getRandomValues(d.subarray(h + 4));
          break;
        default: // untouched
      }
      const body = rnd(6) === 1 ? d.subarray(0, h + rnd(d.length - h)) : d;
      const out = new Uint8Array(tx.requiredOutLength(body.length) + 64);
      const n = v.mode === "tunnel"
        ? tx.encapsulateTunnelPayload(body.subarray(h), IPPROTO_IPCOMP, 0, true, out)
        : tx.encapsulateInto(body, out);
      if (n <= 0) continue;
      const buf = out.slice(0, n);
      const m = rx.decapsulateInPlace(buf);
      if (m < 0) continue;
      passed++;
      const p = rx.lastBuffer.subarray(rx.lastOffset, rx.lastOffset + m);
      const ver = p[0] >> 4;
      assert.ok(ver === 4 || ver === 6, `${name(v)} #${i}: not IP`);
      const len = ver === 4 ? (p[2] << 8) | p[3] : 40 + ((p[4] << 8) | p[5]);
      assert.equal(len, m, `${name(v)} #${i}: the IP length is what was delivered`);
    }
    assert.ok(passed > 50, `${name(v)}: untouched datagrams pass (${passed})`);
    assert.ok(rx.stats.drops["decompression-failed"] > 50, JSON.stringify(rx.stats.drops));
  }
});

/** AH variants: tunnel and transport, IPv4 and IPv6 (AH is never in UDP). */
const AH_VARIANTS: Variant[] = [];
for (const mode of ["tunnel", "transport"] as const) {
  for (const v6 of [false, true]) {
    AH_VARIANTS.push({ alg: "aes128gcm16", mode, v6, udp: false });
  }
}

function ahIpcomp(v: Variant, cpi: number): IpcompSa {
  const t = v.v6 ? T6 : T4;
  return new IpcompSa(
    new AhSa({
      spi: SPI,
      mode: v.mode,
      ...makeAhInteg("hmac-sha256-128"),
      tunnel: v.mode === "tunnel" ? endpoints(t, v.v6) : undefined,
    }),
    { cpi, udpEncap: false },
  );
}

function ahScapy(op: "encrypt" | "decrypt", packet: Uint8Array): ScapyCase {
  return {
    op,
    proto: "AH",
    spi: SPI,
    seq: 1,
    auth_algo: "SHA2-256-128",
    auth_key: makeAhInteg("hmac-sha256-128").keyHex,
    tunnel: null,
    packet: toHex(packet),
  };
}

const ahName = (v: Variant) => `AH ${v.mode} v6=${v.v6}`;

Deno.test("ipcomp sa: AH around IPComp, both ways with scapy's AH", async () => {
  const sent = AH_VARIANTS.map((v) => send(ahIpcomp(v, CPI_PEER), innerPacket(v)));
  const built = AH_VARIANTS.map((v) => ipcompPacket(v, innerPacket(v), 0x2b67));
  const res = await runScapy([
    ...sent.map((p) => ahScapy("decrypt", p)),
    ...built.map((p) => ahScapy("encrypt", p)),
  ]);
  AH_VARIANTS.forEach((v, i) => {
    // scapy verified our ICV over the compressed datagram and stripped AH.
    const r = res[i];
    assert.ok(r.ok, `${ahName(v)}: ${!r.ok && r.error}`);
    const plain = hex(r.packet);
    assert.equal(v.v6 ? plain[6] : plain[9], IPPROTO_IPCOMP, ahName(v));
    const d = ipcompDecompress(plain.subarray(hdrLen(plain)), CPI_PEER);
    assert.ok(d.ok, ahName(v));
    const inner = innerPacket(v);
    assert.deepEqual(d.payload, v.mode === "tunnel" ? inner : inner.subarray(hdrLen(inner)));
    // What scapy protected with AH we verify and decompress.
    const back = res[AH_VARIANTS.length + i];
    assert.ok(back.ok, `${ahName(v)}: ${!back.ok && back.error}`);
    const rx = ahIpcomp(v, 0x2b67);
    assert.deepEqual(receive(rx, hex(back.packet)), inner, ahName(v));
    assert.equal(rx.ipcompStats.compressed, 1);
  });
});
