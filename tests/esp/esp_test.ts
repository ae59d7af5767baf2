import assert from "node:assert/strict";
import { AhSa } from "../../lib/esp/ah.ts";
import {
  ESP_DROP_REASONS,
  espDropReason,
  EspSa,
  type EspSaConfig,
  espSendError,
} from "../../lib/esp/esp.ts";
import { fromHex, toHex } from "../../lib/wire/bytes.ts";
import { selectCryptoBackend } from "../../ffi/crypto_backend.ts";
import { RFC3686_VECTORS } from "../vectors/crypto/rfc3686_vectors.ts";
import {
  ESP_ALGS,
  type EspAlg,
  ip4,
  ip6,
  makeAhInteg,
  makeTransform,
  udp4,
  udp6,
} from "./_packets.ts";

type Pref = "libcrypto" | "node" | "noble";

function pair(alg: EspAlg, extra: Partial<EspSaConfig>, pref: Pref = "libcrypto") {
  const base = (): EspSaConfig => ({
    spi: 0x01020304,
    mode: "tunnel",
    transform: makeTransform(alg, pref),
    allowNullEncryption: alg.startsWith("null"),
    tunnel: { src: ip4("192.0.2.1"), dst: ip4("192.0.2.2") },
    ...extra,
  });
  return { tx: new EspSa(base()), rx: new EspSa(base()) };
}

const payload = new TextEncoder().encode("hello, ESP world! ".repeat(5));

Deno.test("ESP round-trips every algorithm, mode and IP version (libcrypto, node, noble)", () => {
  for (const pref of ["libcrypto", "node", "noble"] as const) {
    for (const alg of ESP_ALGS) {
      for (const esn of [false, true]) {
        for (const v6 of [false, true]) {
          for (const mode of ["tunnel", "transport"] as const) {
            for (const udp of [false, true]) {
              const tunnel = v6
                ? { src: ip6("2001:db8::1"), dst: ip6("2001:db8::2") }
                : { src: ip4("192.0.2.1"), dst: ip4("192.0.2.2") };
              const { tx, rx } = pair(alg, {
                mode,
                esn,
                tunnel: mode === "tunnel" ? tunnel : undefined,
                udpEncap: udp ? { srcPort: 4500, dstPort: 4500 } : undefined,
              }, pref);
              const pkt = v6
                ? udp6("2001:db8::10", "2001:db8::20", payload)
                : udp4("10.0.0.1", "10.0.0.2", payload);
              for (let i = 0; i < 3; i++) {
                const out = tx.encapsulatePacket(pkt);
                assert.ok(out.ok);
                const what = `${pref} ${alg} esn=${esn} v6=${v6} ${mode} udp=${udp}`;
                const back = rx.decapsulatePacket(out.packet.slice());
                assert.ok(back.ok, `${what}: ${!back.ok && back.drop}`);
                assert.equal(toHex(back.packet), toHex(pkt), what);
              }
            }
          }
        }
      }
    }
  }
});

Deno.test("ESP backends interoperate: libcrypto sender, noble receiver and back", () => {
  for (const alg of ESP_ALGS) {
    const a = pair(alg, {}, "libcrypto");
    const b = pair(alg, {}, "noble");
    const pkt = udp4("10.0.0.1", "10.0.0.2", payload);
    const o1 = a.tx.encapsulatePacket(pkt);
    assert.ok(o1.ok);
    const r1 = b.rx.decapsulatePacket(o1.packet);
    assert.ok(r1.ok, alg);
    const o2 = b.tx.encapsulatePacket(pkt);
    assert.ok(o2.ok);
    const r2 = a.rx.decapsulatePacket(o2.packet);
    assert.ok(r2.ok, alg);
  }
});

Deno.test("ESP AEAD and GMAC IV is the 64-bit sequence number and never repeats", () => {
  for (const alg of ["aes128gcm16", "aes128gmac"] as const) {
    const { tx } = pair(alg, { esn: true });
    tx.restoreSequence(2 ** 32 + 5);
    const o = tx.encapsulatePacket(udp4("10.0.0.1", "10.0.0.2", payload));
    assert.ok(o.ok);
    assert.equal(toHex(o.packet.subarray(28, 36)), "0000000100000006", alg);
  }
  const { tx } = pair("aes128gcm16", { esn: true });
  const seen = new Set<string>();
  for (let i = 1; i <= 50; i++) {
    const o = tx.encapsulatePacket(udp4("10.0.0.1", "10.0.0.2", payload));
    assert.ok(o.ok);
    const iv = toHex(o.packet.subarray(28, 36));
    assert.equal(iv, i.toString(16).padStart(16, "0"));
    assert.ok(!seen.has(iv));
    seen.add(iv);
  }
});

Deno.test("ESP negative: wrong ICV, replay, left of window, truncated, bad padding are counted drops", () => {
  const algs = [
    "aes128gcm16",
    "aes128-sha1",
    "chacha20poly1305",
    "aes128ctr-sha256",
    "aes128ccm16",
    "aes256ccm8",
    "aes128gmac",
    "aes256gmac",
  ] as const;
  for (const alg of algs) {
    const { tx, rx } = pair(alg, { replayWindowSize: 64 });
    const pkt = udp4("10.0.0.1", "10.0.0.2", payload);
    const first = tx.encapsulatePacket(pkt);
    assert.ok(first.ok);
    // wrong ICV
    const bad = first.packet.slice();
    bad[bad.length - 1] ^= 1;
    assert.deepEqual(rx.decapsulatePacket(bad), { ok: false, drop: "icv-failed" });
    assert.ok(rx.decapsulatePacket(first.packet.slice()).ok);
    // replayed
    assert.deepEqual(rx.decapsulatePacket(first.packet.slice()), {
      ok: false,
      drop: "replay-duplicate",
    });
    // left of the window: send 100 more, deliver the last, then an early one
    const later: Uint8Array[] = [];
    for (let i = 0; i < 100; i++) {
      const o = tx.encapsulatePacket(pkt);
      assert.ok(o.ok);
      later.push(o.packet);
    }
    assert.ok(rx.decapsulatePacket(later[99].slice()).ok);
    assert.deepEqual(rx.decapsulatePacket(later[5].slice()), {
      ok: false,
      drop: "replay-too-old",
    });
    assert.ok(rx.decapsulatePacket(later[60].slice()).ok); // inside the window
    // truncated
    assert.equal(rx.decapsulatePacket(later[70].subarray(0, 30)).ok, false);
    const trunc = later[71].slice(0, 20 + 12);
    trunc[2] = 0;
    trunc[3] = 32;
    const tr = rx.decapsulatePacket(trunc);
    assert.deepEqual(tr, { ok: false, drop: "truncated" });
    for (const r of ESP_DROP_REASONS) assert.ok(rx.stats.drops[r] >= 0);
    assert.equal(rx.stats.drops["icv-failed"], 1);
    assert.equal(rx.stats.drops["replay-duplicate"], 1);
    assert.equal(rx.stats.drops["replay-too-old"], 1);
    assert.ok(rx.stats.drops["truncated"] + rx.stats.drops["malformed"] >= 2);
  }
});

Deno.test("ESP negative: bad padding is dropped after a valid ICV (NULL cipher lets us forge it)", () => {
  const { tx, rx } = pair("null-sha256", {});
  const o = tx.encapsulatePacket(udp4("10.0.0.1", "10.0.0.2", payload.subarray(1)));
  assert.ok(o.ok);
  // Rebuild the packet with a wrong pad byte and a recomputed ICV.
  const p = o.packet.slice();
  const icvStart = p.length - 16;
  const padLen = p[icvStart - 2];
  assert.ok(padLen > 0);
  p[icvStart - 2 - padLen] ^= 0x40;
  const t = makeTransform("null-sha256");
  assert.equal(t.kind, "null");
  if (t.kind !== "null") return;
  p.set(t.integ.compute(p.subarray(20, icvStart)).subarray(0, 16), icvStart);
  assert.deepEqual(rx.decapsulatePacket(p), { ok: false, drop: "bad-padding" });
  assert.equal(rx.stats.drops["bad-padding"], 1);
});

Deno.test("ESP inbound never throws on random garbage and mutations; the SA still works after", () => {
  const cases = [
    ["aes128-sha1", "libcrypto"],
    ["aes128gcm16", "libcrypto"],
    ["aes128ctr-sha256", "libcrypto"],
    ["aes128ctr-sha256", "noble"],
    ["aes128ccm16", "libcrypto"],
    ["aes256ccm8", "noble"],
    ["aes128gmac", "libcrypto"],
    ["aes192gmac", "noble"],
    ["aes256gmac", "node"],
    // 8-byte blocks (3DES) and the portable Camellia: misaligned ciphertexts must drop, not throw.
    ["3des-sha1", "libcrypto"],
    ["3des-sha256", "noble"],
    ["camellia128-sha256", "libcrypto"],
    ["camellia256-sha1", "noble"],
    ["camellia192ctr-sha256", "node"],
  ] as const;
  for (const [alg, pref] of cases) {
    const { tx, rx } = pair(alg, {}, pref);
    const good = tx.encapsulatePacket(udp4("10.0.0.1", "10.0.0.2", payload));
    assert.ok(good.ok);
    let x = 12345;
    const rnd = () => (x = (x * 1103515245 + 12345) >>> 0) / 2 ** 32;
    let delivered = 0;
    for (let i = 0; i < 2000; i++) {
      const p = good.packet.slice(0, Math.floor(rnd() * (good.packet.length + 1)));
      // Bits flipped in the ESP part (SPI to ICV), which the ICV covers but for the SPI.
      for (let j = 0; j < 3; j++) {
        if (p.length > 20) p[20 + Math.floor(rnd() * (p.length - 20))] ^= 1 << (j + 1);
      }
      const r = rx.decapsulatePacket(p);
      assert.equal(typeof r.ok, "boolean");
      if (r.ok) delivered++;
    }
    // Every packet lost bytes or had ESP bits flipped: none may pass.
    assert.equal(delivered, 0, `${alg} ${pref}: a mutated packet was accepted`);
    assert.equal(rx.stats.drops["internal-error"], 0, `${alg} ${pref}`);
    // Nothing moved the window: the untouched packet still opens, once.
    assert.ok(rx.decapsulatePacket(good.packet.slice()).ok, `${alg} ${pref}`);
    assert.equal(rx.decapsulatePacket(good.packet.slice()).ok, false);
  }
});

Deno.test("ESP dummy packets (next header 59) are built on request and silently dropped", () => {
  const { tx, rx } = pair("aes128gcm16", {});
  const d = tx.encapsulateDummy(100);
  assert.ok(d.ok);
  assert.deepEqual(rx.decapsulatePacket(d.packet), { ok: false, drop: "dummy" });
  assert.equal(rx.stats.drops.dummy, 1);
  // the window moved: the dummy cannot be replayed either
  assert.equal(rx.replay.top, 1);
});

Deno.test("ESP TFC padding hides the inner length and is trimmed on receipt", () => {
  const { tx, rx } = pair("aes128gcm16", { tfcPadTo: 1000 });
  const pkt = udp4("10.0.0.1", "10.0.0.2", payload);
  const o = tx.encapsulatePacket(pkt);
  assert.ok(o.ok);
  assert.ok(o.packet.length > 1000 + 20 + 8);
  const r = rx.decapsulatePacket(o.packet);
  assert.ok(r.ok);
  assert.deepEqual(r.packet, pkt);
});

Deno.test("ESP sequence numbers never wrap: soft limit asks for rekey, hard limit refuses", () => {
  const { tx } = pair("aes128gcm16", { seqSoftLimit: 3, seqHardLimit: 5 });
  const pkt = udp4("10.0.0.1", "10.0.0.2", payload);
  const rekey: boolean[] = [];
  for (let i = 0; i < 5; i++) {
    const o = tx.encapsulatePacket(pkt);
    assert.ok(o.ok);
    rekey.push(o.rekey);
  }
  assert.deepEqual(rekey, [false, false, true, true, true]);
  assert.deepEqual(tx.encapsulatePacket(pkt), { ok: false, error: "sequence-exhausted" });
  assert.ok(tx.sequenceExhausted);
  assert.throws(() => pair("aes128gcm16", { seqHardLimit: 2 ** 33 }), RangeError);
});

Deno.test("ESP ESN counter is exact 64-bit: crosses 2^32 and 2^53, stops at 2^64 - 1", () => {
  const pkt = udp4("10.0.0.1", "10.0.0.2", payload);
  // 20-byte outer header, SPI, then the sequence number (big-endian).
  const wireSeq = (p: Uint8Array) => new DataView(p.buffer, p.byteOffset).getUint32(24);
  const { tx, rx } = pair("aes128gcm16", { esn: true });
  tx.restoreSequence(0xffffffff - 1);
  rx.replay.update(0xffffffff - 1);
  for (const [hi, lo] of [[0, 0xffffffff], [1, 0], [1, 1]]) {
    const o = tx.encapsulatePacket(pkt);
    assert.ok(o.ok);
    assert.equal(wireSeq(o.packet), lo, "only the low half is on the wire");
    const r = rx.decapsulatePacket(o.packet);
    assert.ok(r.ok);
    assert.deepEqual([rx.lastSeqHi, rx.lastSeqLo], [hi, lo]);
  }
  // 2^53 + 1 is not a safe number: the counter must still step by exactly one.
  tx.restoreSequence(1n << 53n);
  rx.replay.update(1n << 53n);
  for (const lo of [1, 2, 3]) {
    const o = tx.encapsulatePacket(pkt);
    assert.ok(o.ok);
    assert.equal(wireSeq(o.packet), lo);
    assert.equal(tx.sequenceBig, (1n << 53n) + BigInt(lo));
    assert.ok(rx.decapsulatePacket(o.packet).ok);
    assert.deepEqual([rx.lastSeqHi, rx.lastSeqLo], [2 ** 21, lo]);
  }
  assert.throws(() => tx.restoreSequence(2 ** 53 + 2), RangeError, "unsafe numbers are refused");
  // The last number is 2^64 - 1; it never wraps to 0.
  const last = pair("aes128gcm16", { esn: true, seqSoftLimit: (1n << 64n) - 3n }).tx;
  last.restoreSequence((1n << 64n) - 3n);
  assert.ok(last.rekeyNeeded);
  assert.ok(last.encapsulatePacket(pkt).ok);
  const o = last.encapsulatePacket(pkt);
  assert.ok(o.ok && wireSeq(o.packet) === 0xffffffff);
  assert.ok(last.sequenceExhausted);
  assert.deepEqual(last.encapsulatePacket(pkt), { ok: false, error: "sequence-exhausted" });
  assert.equal(last.sequenceBig, (1n << 64n) - 1n);
  assert.throws(() => pair("aes128gcm16", { esn: true, seqHardLimit: 1n << 64n }), RangeError);
});

Deno.test("ESP ESN: high bits in the ICV, not on the wire; receiver infers them", () => {
  const { tx, rx } = pair("aes128-sha1", { esn: true });
  const pkt = udp4("10.0.0.1", "10.0.0.2", payload);
  const o = tx.encapsulatePacket(pkt);
  assert.ok(o.ok);
  // ESP header: SPI then low 32 bits only
  assert.equal(toHex(o.packet.subarray(20, 28)), "0102030400000001");
  assert.ok(rx.decapsulatePacket(o.packet).ok);
  // A receiver without ESN does not append the (zero) high half: its ICV differs.
  const { rx: rx32 } = pair("aes128-sha1", { esn: false });
  const o2 = tx.encapsulatePacket(pkt);
  assert.ok(o2.ok);
  assert.deepEqual(rx32.decapsulatePacket(o2.packet.slice()), { ok: false, drop: "icv-failed" });
});

Deno.test("ESP refuses NULL encryption unless allowed", () => {
  assert.throws(
    () =>
      new EspSa({
        spi: 0x1000,
        mode: "transport",
        transform: makeTransform("null-sha256"),
      }),
    /allowNullEncryption/,
  );
});

Deno.test("ESP transport over IPv6 goes after hop-by-hop/routing, before end-to-end dest options", () => {
  const hbh = new Uint8Array(8);
  const rt = new Uint8Array(24);
  rt[1] = 2;
  const dst = new Uint8Array(8);
  const pkt = udp6("2001:db8::10", "2001:db8::20", payload, [
    { type: 0, body: hbh },
    { type: 60, body: dst },
    { type: 43, body: rt },
    { type: 60, body: dst },
  ]);
  const { tx, rx } = pair("aes128gcm16", { mode: "transport", tunnel: undefined });
  const o = tx.encapsulatePacket(pkt);
  assert.ok(o.ok);
  // 40 + hbh 8 + dst 8 + routing 24: ESP follows the routing header
  const espAt = 40 + 8 + 8 + 24;
  assert.equal(o.packet[40 + 8 + 8], 50); // routing header's next header
  assert.equal(toHex(o.packet.subarray(espAt, espAt + 4)), "01020304");
  const r = rx.decapsulatePacket(o.packet);
  assert.ok(r.ok);
  assert.deepEqual(r.packet, pkt);
  assert.equal(r.nextHeader, 60);
});

Deno.test("ESP hot path: encapsulateInto/decapsulateInPlace use caller buffers, refusals cost no sequence number", () => {
  for (const alg of ["aes256gcm16", "aes128-sha1", "chacha20poly1305"] as const) {
    for (const v6 of [false, true]) {
      for (const mode of ["tunnel", "transport"] as const) {
        const { tx, rx } = pair(alg, {
          mode,
          tunnel: mode === "tunnel"
            ? { src: ip6("2001:db8::1"), dst: ip6("2001:db8::2") }
            : undefined,
          udpEncap: v6 ? { srcPort: 4500, dstPort: 4500 } : undefined,
        });
        const pkt = v6
          ? udp6("2001:db8::10", "2001:db8::20", payload)
          : udp4("10.0.0.1", "10.0.0.2", payload);
        const out = new Uint8Array(2 + tx.requiredOutLength(pkt.length));
        assert.equal(
          espSendError(tx.encapsulateInto(pkt, out.subarray(0, 30))),
          "buffer-too-small",
        );
        assert.equal(tx.sequence, 0);
        out.fill(0xee);
        const n = tx.encapsulateInto(pkt, out, 2);
        assert.ok(n > 0 && n + 2 <= out.length, `${alg} ${mode} ${v6}: ${n}`);
        assert.equal(out[0], 0xee, "nothing written before offset");
        const wire = out.slice(2, 2 + n);
        // Received into a bigger buffer (as from a socket): the IP length bounds it.
        const rbuf = new Uint8Array(2048);
        rbuf.set(wire, 100);
        const m = rx.decapsulateInPlace(rbuf, 100, 100 + n);
        assert.ok(m > 0, espDropReason(m));
        assert.equal(toHex(rbuf.subarray(rx.lastOffset, rx.lastOffset + m)), toHex(pkt));
        assert.equal(rx.lastSeq, 1);
        // A replay is a negative, counted code; nothing thrown.
        rbuf.set(wire, 100);
        const again = rx.decapsulateInPlace(rbuf, 100, 100 + n);
        assert.equal(espDropReason(again), "replay-duplicate");
        assert.equal(rx.stats.drops["replay-duplicate"], 1);
      }
    }
  }
});

Deno.test("ESP refuses packets over the path MTU with DF set without using a sequence number", () => {
  const { tx } = pair("aes128gcm16", { pathMtu: 100 });
  const pkt = udp4("10.0.0.1", "10.0.0.2", payload);
  assert.deepEqual(tx.encapsulatePacket(pkt), { ok: false, error: "too-big" });
  assert.equal(tx.sequence, 0);
});

Deno.test("ESP drops packets for another SPI and moves endpoints in place (MOBIKE)", () => {
  const { tx, rx } = pair("aes128gcm16", {});
  const other = new EspSa({
    spi: 0x0a0b0c0d,
    mode: "tunnel",
    transform: makeTransform("aes128gcm16"),
    tunnel: { src: ip4("192.0.2.1"), dst: ip4("192.0.2.2") },
  });
  const o = other.encapsulatePacket(udp4("10.0.0.1", "10.0.0.2", payload));
  assert.ok(o.ok);
  assert.deepEqual(rx.decapsulatePacket(o.packet), { ok: false, drop: "unknown-spi" });
  // MOBIKE: new outer addresses and NAT-T, same keys, counters and window.
  const first = tx.encapsulatePacket(udp4("10.0.0.1", "10.0.0.2", payload));
  assert.ok(first.ok && rx.decapsulatePacket(first.packet).ok);
  tx.updateEndpoints({ src: ip6("2001:db8::7"), dst: ip6("2001:db8::8") }, {
    srcPort: 4500,
    dstPort: 4501,
  });
  const moved = tx.encapsulatePacket(udp4("10.0.0.1", "10.0.0.2", payload));
  assert.ok(moved.ok);
  if (!moved.ok) return;
  assert.equal(moved.packet[0] >> 4, 6);
  assert.equal(moved.packet[6], 17);
  assert.equal((moved.packet[42] << 8) | moved.packet[43], 4501);
  assert.equal(moved.seq, 2);
  const r = rx.decapsulatePacket(moved.packet);
  assert.ok(r.ok);
  assert.throws(
    () => tx.updateEndpoints({ src: ip4("192.0.2.1"), dst: ip6("2001:db8::8") }, undefined),
    RangeError,
  );
});

Deno.test("ESP decapsulateEspInPlace: UDP socket payloads without IP header, tunnel and transport", () => {
  for (const mode of ["tunnel", "transport"] as const) {
    const { tx, rx } = pair("aes128gcm16", {
      mode,
      tunnel: mode === "tunnel" ? { src: ip4("192.0.2.1"), dst: ip4("192.0.2.2") } : undefined,
      udpEncap: { srcPort: 4500, dstPort: 4500 },
      tfcPadTo: mode === "tunnel" ? 300 : undefined,
    });
    const pkt = udp4("10.0.0.1", "10.0.0.2", payload);
    const o = tx.encapsulatePacket(pkt);
    assert.ok(o.ok);
    if (!o.ok) continue;
    // What a UDP/4500 socket hands over: the bytes after the outer IP and UDP headers.
    const udpPayload = o.packet.slice(20 + 8);
    const n = rx.decapsulateEspInPlace(udpPayload);
    assert.ok(n > 0, espDropReason(n));
    const got = udpPayload.subarray(rx.lastOffset, rx.lastOffset + n);
    if (mode === "tunnel") {
      assert.equal(toHex(got), toHex(pkt)); // TFC padding trimmed
      assert.equal(rx.lastNextHeader, 4);
    } else {
      assert.equal(toHex(got), toHex(pkt.subarray(20))); // the UDP segment
      assert.equal(rx.lastNextHeader, 17);
    }
    assert.equal(espDropReason(rx.decapsulateEspInPlace(o.packet.slice(28))), "replay-duplicate");
    assert.equal(rx.stats.drops["replay-duplicate"], 1);
  }
});

Deno.test("ESP tunnel outer header: DSCP copied or set with ECN kept, DF copied/set/clear, TTL (RFC 4301 5.1.2.1)", () => {
  const inner = udp4("10.0.0.1", "10.0.0.2", payload, 0xb9); // DSCP 46 (EF), ECN 01
  const outer = (extra: Partial<EspSaConfig>) => {
    const o = pair("aes128gcm16", extra).tx.encapsulatePacket(inner);
    assert.ok(o.ok);
    return o.ok ? o.packet : new Uint8Array(0);
  };
  assert.equal(outer({})[1], 0xb9);
  assert.equal(outer({ dscp: 10 })[1], (10 << 2) | 1);
  assert.equal(outer({})[6] & 0x40, 0x40); // inner DF copied
  assert.equal(outer({ df: "clear" })[6] & 0x40, 0);
  const noDf = inner.slice();
  noDf[6] = 0;
  const o = pair("aes128gcm16", { df: "set", ttl: 7 }).tx.encapsulatePacket(noDf);
  assert.ok(o.ok && (o.packet[6] & 0x40) === 0x40 && o.packet[8] === 7);
});

Deno.test("ESP and AH transport mode refuse fragments (RFC 4303/4302 section 3.3.4)", () => {
  const f = new Uint8Array(8);
  f[3] = 1; // more fragments
  const v6 = udp6("2001:db8::10", "2001:db8::20", payload, [{ type: 44, body: f }]);
  const v4 = udp4("10.0.0.1", "10.0.0.2", payload);
  v4[6] = 0x20; // IPv4 MF
  const esp = pair("aes128gcm16", { mode: "transport", tunnel: undefined }).tx;
  const ah = new AhSa({ spi: 0x777, mode: "transport", ...makeAhInteg("hmac-sha1-96") });
  for (const sa of [esp, ah]) {
    assert.deepEqual(sa.encapsulatePacket(v6), { ok: false, error: "fragment" });
    assert.deepEqual(sa.encapsulatePacket(v4), { ok: false, error: "fragment" });
    assert.equal(sa.sequence, 0);
  }
});

Deno.test("ESP decapsulateInPlace at an offset: the received length bounds the packet, not the buffer", () => {
  for (const mode of ["tunnel", "transport"] as const) {
    for (const v6 of [false, true]) {
      const { tx, rx } = pair("aes128gcm16", {
        mode,
        tunnel: mode === "tunnel"
          ? { src: ip6("2001:db8::1"), dst: ip6("2001:db8::2") }
          : undefined,
        udpEncap: v6 ? undefined : { srcPort: 4500, dstPort: 4500 },
      });
      const pkt = v6
        ? udp6("2001:db8::10", "2001:db8::20", payload)
        : udp4("10.0.0.1", "10.0.0.2", payload);
      const wire = tx.encapsulatePacket(pkt);
      assert.ok(wire.ok);
      const n = wire.packet.length;
      const rbuf = new Uint8Array(4096).fill(0x5a);
      // One byte short of the IP length: malformed, counted, nothing thrown.
      rbuf.set(wire.packet, 300);
      assert.equal(espDropReason(rx.decapsulateInPlace(rbuf, 300, 300 + n - 1)), "malformed");
      assert.equal(rx.stats.drops.malformed, 1);
      // Bytes after the IP length (the rest of the buffer) are not part of the packet.
      const m = rx.decapsulateInPlace(rbuf, 300, 300 + n + 7);
      assert.ok(m > 0, `${mode} v6=${v6}: ${espDropReason(m)}`);
      assert.ok(rx.lastOffset >= 300 && rx.lastOffset + m <= 300 + n);
      assert.equal(toHex(rbuf.subarray(rx.lastOffset, rx.lastOffset + m)), toHex(pkt));
      assert.equal(rbuf[299], 0x5a, "nothing written before the packet");
    }
  }
});

Deno.test("ESP alignment padding: whole keystream blocks within the path MTU, else minimal", () => {
  const udpEncap = { srcPort: 4500, dstPort: 4500 };
  // 20 IPv4 + 8 UDP + 8 ESP header + 8 IV + encrypted part + 16 ICV.
  const outer = 20 + 8 + 8 + 8 + 16;
  const cases = [
    // [alg, to, inner size, limit, encrypted part expected]
    ["chacha20poly1305", 64, 1400, 1500, 1408],
    ["chacha20poly1305", 64, 1400, 1467, 1404], // aligned would be 1468 bytes: minimal
    ["chacha20poly1305", 64, 1400, 1468, 1408],
    ["chacha20poly1305", 64, 100, 1500, 128],
    ["chacha20poly1305", 64, 1342, 1500, 1344], // already whole blocks
    ["aes128gcm16", 16, 1400, 1500, 1408],
    ["aes128gcm16", 16, 1393, 1500, 1408],
  ] as const;
  for (const pref of ["libcrypto", "noble"] as const) {
    for (const [alg, to, size, limit, encrypted] of cases) {
      const what = `${pref} ${alg} to ${to}, ${size} bytes, limit ${limit}`;
      // The receiver pads minimally itself: alignment is the sender's choice alone.
      const { tx } = pair(alg, { udpEncap, alignPadding: { to, limit } }, pref);
      const { rx } = pair(alg, { udpEncap }, pref === "noble" ? "libcrypto" : "noble");
      const inner = udp4("10.0.0.1", "10.0.0.2", new Uint8Array(size - 28).map((_, i) => i));
      assert.ok(tx.requiredOutLength(size) >= outer + encrypted, what);
      const out = tx.encapsulatePacket(inner);
      assert.ok(out.ok, what);
      assert.equal(out.packet.length, outer + encrypted, what);
      const back = rx.decapsulatePacket(out.packet.slice());
      assert.ok(back.ok, what);
      assert.equal(toHex(back.packet), toHex(inner), what);
    }
  }
  // The padding bytes are 1, 2, 3, ... (RFC 4303 section 2.4), read after decryption by noble.
  const { tx } = pair("chacha20poly1305", { alignPadding: { to: 64, limit: 1500 } });
  const { rx } = pair("chacha20poly1305", {}, "noble");
  const esp = tx.encapsulateEsp(new Uint8Array(100), 4);
  assert.equal(esp.ok && esp.packet.length, 8 + 8 + 104 + 16); // no IP packet: minimal
  const inner = udp4("10.0.0.1", "10.0.0.2", new Uint8Array(72));
  const out = tx.encapsulatePacket(inner);
  assert.ok(out.ok);
  const body = out.packet.slice(20);
  const opened = rx.decapsulateEsp(body);
  assert.ok(opened.ok);
  // 100 inner bytes + 2 -> 128: 26 padding bytes.
  const clear = body.subarray(16, 16 + 128);
  const expected = Uint8Array.from({ length: 26 }, (_, i) => i + 1);
  // decapsulateEsp decrypted in place: the trailer is still there after the payload.
  assert.equal(toHex(clear.subarray(100, 126)), toHex(expected));
  assert.deepEqual([clear[126], clear[127]], [26, 4]);
});

Deno.test("ESP alignment padding: a bad block size is refused; an address move turns it off", () => {
  assert.throws(
    () => pair("aes256-sha256", { alignPadding: { to: 8, limit: 1500 } }),
    /multiple of 16/,
  );
  assert.throws(
    () => pair("chacha20poly1305", { alignPadding: { to: 512, limit: 1500 } }),
    /up to 256/,
  );
  const { tx } = pair("chacha20poly1305", { alignPadding: { to: 64, limit: 1500 } });
  const inner = udp4("10.0.0.1", "10.0.0.2", new Uint8Array(72));
  const before = tx.encapsulatePacket(inner);
  assert.equal(before.ok && before.packet.length, 20 + 8 + 8 + 128 + 16);
  tx.updateEndpoints({ src: ip4("192.0.2.9"), dst: ip4("192.0.2.2") }, undefined);
  const after = tx.encapsulatePacket(inner);
  assert.equal(after.ok && after.packet.length, 20 + 8 + 8 + 104 + 16);
});

Deno.test("ESP AES-CTR: IV is the 64-bit sequence number, 4-byte alignment only, no block padding", () => {
  const { tx, rx } = pair("aes128ctr-sha256", { esn: true });
  tx.restoreSequence((1n << 32n) + 0xfffffffdn);
  // The receiver already is in the ESN subspace of the sender (high half 1).
  assert.ok(rx.replay.accept(1, 0xfffffff0));
  for (let i = 0; i < 4; i++) {
    const seq = (1n << 32n) + 0xfffffffen + BigInt(i);
    // Inner packets of 28+n bytes: the encrypted part (inner + 2) is padded to 4, not 16.
    const inner = udp4("10.0.0.1", "10.0.0.2", payload.subarray(0, 1 + i));
    const o = tx.encapsulatePacket(inner);
    assert.ok(o.ok);
    // Outer IPv4 (20) | SPI, seq (8) | IV (8) | ciphertext | ICV (16).
    assert.equal(toHex(o.packet.subarray(28, 36)), seq.toString(16).padStart(16, "0"));
    const ctLen = o.packet.length - 20 - 8 - 8 - 16;
    assert.equal(ctLen, Math.ceil((inner.length + 2) / 4) * 4, `ciphertext of ${inner.length}`);
    const back = rx.decapsulatePacket(o.packet.slice());
    assert.ok(back.ok, `${seq}: ${!back.ok && back.drop}`);
    assert.equal(toHex(back.packet), toHex(inner));
  }
});

// Source: RFC 3686 section 6 test vector #2 (tests/vectors/crypto/rfc3686_vectors.ts): an ESP
// packet whose IV is that vector's IV must carry that vector's keystream. With a NULL MAC-free
// view of it: the 32-byte plaintext 00..1f as payload gives the vector's ciphertext on the wire.
Deno.test("ESP AES-CTR: the wire bytes follow RFC 3686 test vector #2 for IV = its sequence number", () => {
  const v = RFC3686_VECTORS[1];
  for (const pref of ["libcrypto", "node", "noble"] as const) {
    const be = selectCryptoBackend(pref);
    const integ = be.createMac("hmac-sha256", new Uint8Array(32));
    const sa = new EspSa({
      spi: 0x1000,
      mode: "transport",
      esn: true,
      transform: {
        kind: "ctr",
        cipher: be.createBlockCipher("aes-ctr", fromHex(v.key)),
        nonce: fromHex(v.nonce),
        integ,
        icvLength: 16,
      },
    });
    // IV = sequence number = the vector's IV (ESN: 64 bits of it).
    sa.restoreSequence(BigInt("0x" + v.iv) - 1n);
    // A transport-mode IPv4 packet whose payload is 30 bytes: 30 + Pad Length + Next Header
    // = 32 bytes of plaintext (no padding), the first 30 from the vector's plaintext.
    const pt = fromHex(v.plaintext);
    const ip = udp4("10.0.0.1", "10.0.0.2", pt.subarray(8, 30));
    ip.set(pt.subarray(0, 8), 20); // UDP header bytes replaced by the vector's first 8 bytes
    const o = sa.encapsulatePacket(ip);
    assert.ok(o.ok, pref);
    const esp = o.packet.subarray(20);
    assert.equal(toHex(esp.subarray(8, 16)), v.iv, pref);
    const ct = esp.subarray(16, 16 + 32);
    // The last two plaintext bytes are Pad Length 0 and Next Header 17 instead of 1e 1f.
    const want = fromHex(v.ciphertext);
    want[30] ^= 0x1e ^ 0x00;
    want[31] ^= 0x1f ^ 17;
    assert.equal(toHex(ct), toHex(want), pref);
  }
});
