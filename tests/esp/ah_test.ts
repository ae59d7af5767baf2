import assert from "node:assert/strict";
import { AhSa, type AhSaConfig, zeroMutableFields } from "../../lib/esp/ah.ts";
import { espDropReason, espSendError } from "../../lib/esp/esp.ts";
import { UdpEncapError } from "../../lib/esp/udp_encap.ts";
import { toHex } from "../../lib/wire/bytes.ts";
import {
  AH_ALGS,
  type AhAlg,
  ip4,
  ip6,
  makeAhInteg,
  udp4,
  udp6,
  withIpv4Options,
} from "./_packets.ts";
import { routersV4, routersV6 } from "./_routers.ts";

function pair(
  alg: AhAlg,
  extra: Partial<AhSaConfig> = {},
  pref: "libcrypto" | "node" | "noble" = "libcrypto",
) {
  const cfg = (): AhSaConfig => ({
    spi: 0x5000,
    mode: "transport",
    ...makeAhInteg(alg, pref),
    ...extra,
  });
  return { tx: new AhSa(cfg()), rx: new AhSa(cfg()) };
}

const data = new TextEncoder().encode("authenticated, not encrypted ".repeat(3));

Deno.test("AH round-trips every algorithm, mode, IP version and ESN on every backend, through routers", () => {
  for (const pref of ["libcrypto", "node", "noble"] as const) {
    for (const alg of Object.keys(AH_ALGS) as AhAlg[]) {
      for (const v6 of [false, true]) {
        for (const mode of ["tunnel", "transport"] as const) {
          for (const esn of [false, true]) {
            const tunnel = v6
              ? { src: ip6("2001:db8::1"), dst: ip6("2001:db8::2") }
              : { src: ip4("192.0.2.1"), dst: ip4("192.0.2.2") };
            const { tx, rx } = pair(alg, {
              mode,
              esn,
              tunnel: mode === "tunnel" ? tunnel : undefined,
            }, pref);
            const pkt = v6
              ? udp6("2001:db8::10", "2001:db8::20", data)
              : udp4("10.0.0.1", "10.0.0.2", data);
            const what = `${pref} ${alg} v6=${v6} ${mode} esn=${esn}`;
            const o = tx.encapsulatePacket(pkt);
            assert.ok(o.ok, what);
            if (!o.ok) continue;
            // AH header length: 32-bit aligned (IPv4) / 64-bit aligned (IPv6), RFC 4302 section 2.2.
            const hdr = mode === "tunnel" ? (v6 ? 40 : 20) : (v6 ? 40 : 20);
            const ahLen = (o.packet[hdr + 1] + 2) * 4;
            assert.equal(ahLen % (v6 ? 8 : 4), 0, what);
            assert.equal(o.packet.length, pkt.length + ahLen + (mode === "tunnel" ? hdr : 0), what);
            const wire = (v6 ? routersV6 : routersV4)(o.packet.slice());
            const back = rx.decapsulatePacket(wire);
            assert.ok(back.ok, `${what}: ${!back.ok && back.drop}`);
            const expected = mode === "transport" ? (v6 ? routersV6 : routersV4)(pkt.slice()) : pkt;
            if (back.ok) assert.equal(toHex(back.packet), toHex(expected), what);
          }
        }
      }
    }
  }
});

Deno.test("AH negative: changed payload or address, replay, wrong SPI, truncated, bad length: counted drops", () => {
  const { tx, rx } = pair("hmac-sha256-128");
  const pkt = udp4("10.0.0.1", "10.0.0.2", data);
  const o1 = tx.encapsulatePacket(pkt);
  const o2 = tx.encapsulatePacket(pkt);
  assert.ok(o1.ok && o2.ok);
  const flip = (p: Uint8Array, i: number) => {
    const c = p.slice();
    c[i] ^= 1;
    return c;
  };
  assert.deepEqual(rx.decapsulatePacket(flip(o1.packet, o1.packet.length - 1)), {
    ok: false,
    drop: "icv-failed",
  });
  assert.deepEqual(rx.decapsulatePacket(flip(o1.packet, 13)), { ok: false, drop: "icv-failed" }); // source address
  assert.deepEqual(rx.decapsulatePacket(flip(o1.packet, 9)), { ok: false, drop: "malformed" }); // not AH any more
  assert.deepEqual(rx.decapsulatePacket(flip(o1.packet, 24)), { ok: false, drop: "unknown-spi" });
  assert.deepEqual(rx.decapsulatePacket(flip(o1.packet, 21)), { ok: false, drop: "malformed" }); // payload len
  // A failed ICV does not move the window: the genuine packet still goes through, once.
  assert.ok(rx.decapsulatePacket(o2.packet.slice()).ok);
  assert.ok(rx.decapsulatePacket(o1.packet.slice()).ok);
  assert.deepEqual(rx.decapsulatePacket(o1.packet.slice()), {
    ok: false,
    drop: "replay-duplicate",
  });
  const short = o1.packet.slice(0, 30);
  short[2] = 0;
  short[3] = 30;
  assert.deepEqual(rx.decapsulatePacket(short), { ok: false, drop: "truncated" });
  assert.equal(rx.stats.drops["icv-failed"], 2);
  assert.equal(rx.stats.drops["replay-duplicate"], 1);
  assert.equal(rx.stats.drops["unknown-spi"], 1);
  assert.equal(rx.stats.drops.truncated, 1);
  assert.equal(rx.stats.inPackets, 2);
});

Deno.test("AH is never UDP-encapsulated: constructor and MOBIKE update refuse it with a clear error", () => {
  assert.throws(
    () => pair("hmac-sha1-96", { udpEncap: { srcPort: 4500, dstPort: 4500 } }),
    (e: unknown) => e instanceof UdpEncapError && /AH cannot be UDP-encapsulated/.test(e.message),
  );
  const { tx } = pair("hmac-sha1-96", {
    mode: "tunnel",
    tunnel: { src: ip4("192.0.2.1"), dst: ip4("192.0.2.2") },
  });
  assert.throws(
    () =>
      tx.updateEndpoints({ src: ip4("192.0.2.9"), dst: ip4("192.0.2.2") }, {
        srcPort: 4500,
        dstPort: 4500,
      }),
    UdpEncapError,
  );
  tx.updateEndpoints({ src: ip4("192.0.2.9"), dst: ip4("192.0.2.2") });
  assert.deepEqual(tx.tunnel?.src, ip4("192.0.2.9"));
});

Deno.test("AH sequence numbers never wrap; hot path writes into a preallocated buffer", () => {
  const { tx, rx } = pair("aes-cmac-96", { seqSoftLimit: 2, seqHardLimit: 3 });
  const pkt = udp6("2001:db8::10", "2001:db8::20", data);
  const out = new Uint8Array(tx.requiredOutLength(pkt.length));
  assert.equal(espSendError(tx.encapsulateInto(pkt, new Uint8Array(10))), "buffer-too-small");
  assert.equal(tx.sequence, 0, "a refused packet uses no sequence number");
  const seen: boolean[] = [];
  for (let i = 0; i < 3; i++) {
    const n = tx.encapsulateInto(pkt, out);
    assert.ok(n > 0);
    seen.push(tx.rekeyNeeded);
    const buf = out.slice(0, n);
    const m = rx.decapsulateInPlace(buf);
    assert.ok(m > 0, espDropReason(m));
    assert.equal(toHex(buf.subarray(rx.lastOffset, rx.lastOffset + m)), toHex(pkt));
  }
  assert.deepEqual(seen, [false, true, true]);
  assert.equal(espSendError(tx.encapsulateInto(pkt, out)), "sequence-exhausted");
  assert.equal(
    espSendError(tx.encapsulateInto(udp4("10.0.0.1", "10.0.0.2", data).fill(0, 0, 1), out)),
    "malformed",
  );
});

Deno.test("AH inbound never throws on garbage and mutations", () => {
  const { tx, rx } = pair("hmac-sha1-96", {
    mode: "tunnel",
    tunnel: { src: ip6("2001:db8::1"), dst: ip6("2001:db8::2") },
  });
  const o = tx.encapsulatePacket(udp4("10.0.0.1", "10.0.0.2", data));
  assert.ok(o.ok);
  for (let i = 0; i < 2000; i++) {
    const p = o.packet.slice(0, 1 + Math.floor(Math.random() * o.packet.length));
    for (let k = 0; k < 3; k++) p[Math.floor(Math.random() * p.length)] ^= 1 << (i % 8);
    rx.decapsulatePacket(p); // must not throw
  }
  assert.equal(rx.stats.drops["internal-error"], 0);
});

Deno.test("zeroMutableFields() zeroes exactly the RFC 4302 Appendix A fields", () => {
  // IPv4: TOS, flags+offset, TTL, checksum, and mutable options (record route) but not router alert.
  const v4 = withIpv4Options(
    udp4("10.0.0.1", "10.0.0.2", data, 0xb8),
    Uint8Array.of(0x94, 4, 0, 0, 7, 7, 4, 1, 2, 3, 4, 0),
  );
  const h4 = v4.slice(0, 32);
  assert.ok(zeroMutableFields(h4, 32, true));
  const e4 = v4.slice(0, 32);
  for (const i of [1, 6, 7, 8, 10, 11]) e4[i] = 0;
  e4.fill(0, 24, 31); // record route (option 7) is mutable; router alert (0x94) stays
  assert.equal(toHex(h4), toHex(e4));
  assert.equal(toHex(h4.subarray(20, 24)), "94040000");
  // IPv6: traffic class, flow label, hop limit; data of options with the change bit.
  const v6 = udp6("2001:db8::10", "2001:db8::20", data, [{
    type: 0,
    body: Uint8Array.of(0, 0, 0x3e, 1, 9, 0x1e, 1, 9),
  }]);
  v6[0] = 0x6a;
  v6[1] = 0xbc;
  v6[3] = 0x77;
  const h6 = v6.slice(0, 48);
  assert.ok(zeroMutableFields(h6, 48, false));
  assert.equal(toHex(h6.subarray(0, 8)), "60000000" + toHex(v6.subarray(4, 7)) + "00");
  assert.equal(toHex(h6.subarray(40, 48)), toHex(v6.subarray(40, 44)) + "00" + "1e0109");
  // Unknown routing header types with hops left cannot be predicted: refused.
  const rt = new Uint8Array(24);
  rt.set([17, 2, 4, 1]);
  const v6rt = udp6("2001:db8::10", "2001:db8::20", data, [{ type: 43, body: rt }]);
  assert.equal(zeroMutableFields(v6rt.slice(0, 64), 64, true), false);
});
