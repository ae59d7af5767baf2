/**
 * A peer holding a child SA's keys decides what the inner packets are: ESP
 * that authenticates but carries mutated IPv4/IPv6 packets (TCP with and
 * without payload or an MSS option, UDP, ICMP, IPv4 options, fragments,
 * Next Header values that are no IP at all) must never make the receiving
 * core or the GRO coalescer throw, and nothing outside the SA's selectors
 * may reach the TUN: every frame written holds well-formed packets from
 * 10.1.0.0/24 (or fd01::/64) to 10.2.0.0/24 (or fd02::/64) only.
 */
import assert from "node:assert/strict";
import { selectCryptoBackend } from "../../ffi/crypto_backend.ts";
import { ipToBytes, parseIp } from "../../lib/db/address.ts";
import { ANY_PORT, parseAddressSelector, type Selector } from "../../lib/db/selector.ts";
import type { SpdEntry } from "../../lib/db/spd.ts";
import { DataplaneCore } from "../../lib/dataplane/core.ts";
import {
  GSO_NONE,
  readVnetHeader,
  TcpCoalescer,
  VNET_HDR_LEN,
} from "../../lib/dataplane/offload.ts";
import { buildProcessor, type SaSpec } from "../../lib/dataplane/sa_spec.ts";
import type { EspSa } from "../../lib/esp/esp.ts";
import { internetChecksum, pseudoHeaderSum } from "../../lib/ip/checksum.ts";

const backend = selectCryptoBackend("noble");
const ip = (s: string) => ipToBytes(parseIp(s)!);
const sel = (local: string, remote: string): Selector => ({
  localAddress: parseAddressSelector(local),
  remoteAddress: parseAddressSelector(remote),
  protocol: "any",
  localPort: ANY_PORT,
  remotePort: ANY_PORT,
});

function spec(direction: "in" | "out"): SaSpec {
  const out = direction === "out";
  return {
    direction,
    protocol: "esp",
    spi: 0x2001,
    mode: "tunnel",
    local: ip(out ? "192.0.2.1" : "192.0.2.2"),
    remote: ip(out ? "192.0.2.2" : "192.0.2.1"),
    encryption: {
      alg: "aes-gcm",
      key: Uint8Array.from({ length: 16 }, (_, i) => i * 3),
      salt: Uint8Array.of(9, 8, 7, 6),
      icvLength: 16,
    },
    // The receiver's view: local = its own networks, remote = the peer's.
    selectors: out
      ? [sel("10.1.0.0/24", "10.2.0.0/24"), sel("fd01::/64", "fd02::/64")]
      : [sel("10.2.0.0/24", "10.1.0.0/24"), sel("fd02::/64", "fd01::/64")],
  };
}

/** A TCP/IPv4 or IPv6 segment with `n` payload bytes, flags, optional MSS option. */
function tcp(v6: boolean, seq: number, n: number, flags: number, mss = 0): Uint8Array {
  const l4 = v6 ? 40 : 20;
  const thl = mss ? 24 : 20;
  const p = new Uint8Array(l4 + thl + n);
  if (v6) {
    p[0] = 0x60;
    p[4] = (thl + n) >> 8;
    p[5] = (thl + n) & 255;
    p[6] = 6;
    p[7] = 64;
    p.set(ip("fd01::5"), 8);
    p.set(ip("fd02::7"), 24);
  } else {
    p.set([0x45, 0, (l4 + thl + n) >> 8, (l4 + thl + n) & 255, 0, 1, 0x40, 0, 64, 6]);
    p.set(ip("10.1.0.5"), 12);
    p.set(ip("10.2.0.7"), 16);
    const c = internetChecksum(p.subarray(0, 20));
    p[10] = c >> 8;
    p[11] = c & 255;
  }
  p.set([0x9c, 0x40, 0x14, 0x51, seq >>> 24, (seq >>> 16) & 255, (seq >>> 8) & 255, seq & 255], l4);
  p[l4 + 12] = (thl / 4) << 4;
  p[l4 + 13] = flags;
  p[l4 + 14] = 0xff;
  if (mss) p.set([2, 4, mss >> 8, mss & 255], l4 + 20);
  for (let i = 0; i < n; i++) p[l4 + thl + i] = i * 13;
  const src = v6 ? p.subarray(8, 24) : p.subarray(12, 16);
  const dst = v6 ? p.subarray(24, 40) : p.subarray(16, 20);
  const c = internetChecksum(p.subarray(l4), pseudoHeaderSum(src, dst, 6, thl + n));
  p[l4 + 16] = c >> 8;
  p[l4 + 17] = c & 255;
  return p;
}

/** UDP/IPv4 with `n` payload bytes and two words of IPv4 options. */
function udpWithOptions(n: number): Uint8Array {
  const p = new Uint8Array(28 + 8 + n);
  p.set([0x47, 0, p.length >> 8, p.length & 255, 0, 2, 0, 0, 64, 17]);
  p.set(ip("10.1.0.9"), 12);
  p.set(ip("10.2.0.9"), 16);
  p.set([1, 1, 1, 0, 1, 1, 1, 0], 20); // NOPs and End
  p.set([0x13, 0x88, 0x13, 0x89, (8 + n) >> 8, (8 + n) & 255, 0, 0], 28);
  return p;
}

function mutator(seed: number) {
  let s = seed >>> 0;
  const rnd = (n: number) => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s >>> 8) % n;
  };
  const mutate = (b: Uint8Array): Uint8Array => {
    const out = b.slice();
    switch (rnd(4)) {
      case 0:
        return out; // as it is: coalescing gets real runs too
      case 1:
        for (let k = 1 + rnd(3); k > 0; k--) out[rnd(Math.min(out.length, 64))] = rnd(256);
        return out;
      case 2:
        for (let k = 1 + rnd(3); k > 0; k--) out[rnd(out.length)] ^= 1 << rnd(8);
        return out;
      default:
        return out.subarray(0, rnd(out.length + 1));
    }
  };
  return { rnd, mutate };
}

/** Is `a` (4 or 16 bytes) inside `prefix` (first `bytes` bytes equal)? */
function within(a: Uint8Array, prefix: Uint8Array, bytes: number): boolean {
  for (let i = 0; i < bytes; i++) if (a[i] !== prefix[i]) return false;
  return true;
}

Deno.test("fuzz: authentic ESP with mutated inner packets: no throw, only well-formed in-policy frames reach the TUN", () => {
  const { rnd, mutate } = mutator(31337);
  const frames: Uint8Array[] = [];
  const gro = new TcpCoalescer(1 << 19, (f) => frames.push(f.slice()), () => {});
  const policy = (l: string, r: string): SpdEntry => ({
    label: "p",
    selectors: [sel(l, r)],
    action: "protect",
    processing: { protocol: "esp", mode: "tunnel", proposals: [] },
  });
  const rx = new DataplaneCore({
    reserveOut: () => null,
    commitOut: () => {},
    toTun: (p) => (gro.push(p), true),
    emit: () => {},
  }, { clampMssToMtu: 1400 });
  rx.setPolicies([policy("10.2.0.0/24", "10.1.0.0/24"), policy("fd02::/64", "fd01::/64")]);
  rx.installSa(spec("in"), buildProcessor(spec("in"), backend));
  const tx = buildProcessor(spec("out"), backend) as unknown as EspSa;
  // Batches of 8: mostly a run of in-order segments of one flow (what GRO
  // coalesces), some of them mutated, between other packets, mutated too.
  const others: [Uint8Array, number][] = [
    [tcp(true, 5000, 1200, 0x10), 41],
    [tcp(false, 77, 0, 0x02, 1460), 4], // SYN with MSS: clamped
    [tcp(true, 78, 0, 0x12, 1440), 41],
    [udpWithOptions(100), 4],
  ];
  const packet = (i: number): [Uint8Array, number] => {
    if (rnd(10) < 7) {
      const seg = tcp(false, 1000 + i * 1300, 1300, rnd(8) === 0 ? 0x18 : 0x10);
      // One flipped bit: the TCP checksum always catches it where it covers it.
      if (rnd(4) === 0) seg[rnd(seg.length)] ^= 1 << rnd(8);
      return [seg, 4];
    }
    const [p, nh] = others[rnd(others.length)];
    return [mutate(p), rnd(16) === 0 ? rnd(256) : nh];
  };
  const net4 = ip("10.1.0.0"), net4d = ip("10.2.0.0");
  const net6 = ip("fd01::"), net6d = ip("fd02::");
  let delivered = 0;
  let supers = 0;
  for (let i = 0; i < 6000; i++) {
    const [inner, nh] = packet(i);
    const esp = tx.encapsulateEsp(inner, nh);
    assert.ok(esp.ok);
    const buf = esp.packet.slice();
    try {
      rx.inboundEspPayload(buf, 0, buf.length, 0x2001);
      if (i % 8 === 7) {
        gro.flush();
        gro.reset();
      }
    } catch (e) {
      (e as Error).message = `mutation ${i}: ${(e as Error).message}`;
      throw e;
    }
  }
  gro.flush();
  for (const f of frames) {
    const h = readVnetHeader(f);
    const p = f.subarray(VNET_HDR_LEN);
    const v = p[0] >> 4;
    assert.ok(v === 4 || v === 6, "not IP");
    const len = v === 4 ? (p[2] << 8) | p[3] : 40 + ((p[4] << 8) | p[5]);
    assert.ok(len <= p.length, `IP length ${len} over the ${p.length} bytes written`);
    if (v === 4) {
      assert.ok(within(p.subarray(12, 16), net4, 3) && within(p.subarray(16, 20), net4d, 3));
    } else {
      assert.ok(within(p.subarray(8, 24), net6, 8) && within(p.subarray(24, 40), net6d, 8));
    }
    if (h.gsoType !== GSO_NONE) {
      // A super-packet: the kernel cuts it by these fields.
      assert.ok(h.gsoSize > 0 && h.hdrLen <= len && h.csumStart + h.csumOffset + 2 <= len);
      // Only intact segments are coalesced (one with a flipped bit fails its
      // checksum and goes alone): every gso_size chunk is a segment's payload as sent.
      for (let at = h.hdrLen; at < len; at += h.gsoSize) {
        for (let k = 0; k < Math.min(h.gsoSize, len - at); k++) {
          if (p[at + k] !== ((k * 13) & 255)) assert.fail(`coalesced payload differs at ${at + k}`);
        }
      }
      supers++;
    }
    delivered++;
  }
  assert.ok(delivered > 1000, `only ${delivered} frames`);
  assert.ok(supers > 50, `only ${supers} coalesced frames`);
  assert.ok(rx.drops["sa-selector-mismatch"] > 0, "some mutations must leave the selectors");
});
