/**
 * ESP cross-checked against scapy.layers.ipsec (an independent
 * implementation): for every algorithm scapy shares with us, tunnel and
 * transport mode, IPv4 and IPv6, plain ESP and ESP-in-UDP (RFC 3948):
 *   - packets we build are verified and decrypted by scapy;
 *   - packets scapy builds are accepted by us and give the original back.
 * All cases go to one python process.
 *
 * scapy 2.5 leaves the ESN high half out of the ESP HMAC ICV (its sign()
 * and verify() ignore esn for ESP), so ESN is cross-checked with the AEADs
 * only (scapy puts it in the AAD as RFC 4106 says). scapy's AES-GCM uses
 * cryptography's AESGCM class, which only takes 16-byte tags, so the 8 and
 * 12-byte ICV variants are covered by the known-answer tests instead.
 */
import assert from "node:assert/strict";
import { EspSa } from "../../lib/esp/esp.ts";
import { fromHex, toHex } from "../../lib/wire/bytes.ts";
import { runScapy, scapyAvailable, type ScapyCase } from "../helpers/scapy.ts";
import {
  ALG_SPECS,
  ESP_ALGS,
  type EspAlg,
  ip4,
  ip6,
  makeTransform,
  scapyParams,
  udp4,
  udp6,
} from "./_packets.ts";

interface Combo {
  alg: EspAlg;
  mode: "tunnel" | "transport";
  v6: boolean;
  udp: boolean;
  esn: boolean;
}

function combos(): Combo[] {
  const out: Combo[] = [];
  for (const alg of ESP_ALGS) {
    if (alg === "aes128gcm8" || alg === "aes128gcm12") continue;
    for (const mode of ["tunnel", "transport"] as const) {
      for (const v6 of [false, true]) {
        for (const udp of [false, true]) {
          for (const esn of [false, true]) {
            if (esn && ALG_SPECS[alg].kind !== "aead") continue;
            out.push({ alg, mode, v6, udp, esn });
          }
        }
      }
    }
  }
  return out;
}

const SPI = 0xc0ffee01;
const ESN_HIGH = 3; // high half for the ESN cases

function makeSa(c: Combo): EspSa {
  const sa = new EspSa({
    spi: SPI,
    mode: c.mode,
    transform: makeTransform(c.alg, "auto"),
    allowNullEncryption: c.alg.startsWith("null"),
    esn: c.esn,
    tunnel: c.mode === "tunnel"
      ? (c.v6
        ? { src: ip6("2001:db8:1::1"), dst: ip6("2001:db8:2::1") }
        : { src: ip4("198.51.100.1"), dst: ip4("203.0.113.1") })
      : undefined,
    udpEncap: c.udp ? { srcPort: 4500, dstPort: 4500 } : undefined,
  });
  return sa;
}

function innerPacket(c: Combo, i: number): Uint8Array {
  const data = new TextEncoder().encode(`scapy case ${i} `.repeat(1 + (i % 7)));
  return c.v6 ? udp6("2001:db8::a", "2001:db8::b", data) : udp4("10.1.0.1", "10.2.0.1", data);
}

function scapyBase(c: Combo): Omit<ScapyCase, "op" | "packet"> {
  return {
    proto: "ESP",
    spi: SPI,
    ...scapyParams(c.alg),
    tunnel: c.mode === "tunnel"
      ? (c.v6
        ? { src: "2001:db8:1::1", dst: "2001:db8:2::1" }
        : { src: "198.51.100.1", dst: "203.0.113.1" })
      : null,
    nat_t: c.udp ? { sport: 4500, dport: 4500 } : null,
    esn_en: c.esn,
    esn: c.esn ? ESN_HIGH : 0,
  };
}

Deno.test({
  name: "ESP interoperates with scapy: every algorithm, mode, IP version, plain and in UDP",
  ignore: !scapyAvailable(),
  async fn() {
    const list = combos();
    const cases: ScapyCase[] = [];
    const expect: { what: string; inner: Uint8Array; dir: "ours" | "theirs"; c: Combo }[] = [];
    list.forEach((c, i) => {
      const inner = innerPacket(c, i);
      const tx = makeSa(c);
      // ESN cases: the sender is in high subspace ESN_HIGH (seq = ESN_HIGH * 2^32 + 7).
      if (c.esn) tx.restoreSequence(ESN_HIGH * 2 ** 32 + 6);
      const out = tx.encapsulatePacket(inner);
      assert.ok(out.ok);
      const what = `${c.alg} ${c.mode} v6=${c.v6} udp=${c.udp} esn=${c.esn}`;
      cases.push({ ...scapyBase(c), op: "decrypt", packet: toHex(out.packet) });
      expect.push({ what, inner, dir: "ours", c });
      cases.push({ ...scapyBase(c), op: "encrypt", seq: 7, packet: toHex(inner) });
      expect.push({ what, inner, dir: "theirs", c });
    });
    const results = await runScapy(cases);
    assert.equal(results.length, cases.length);
    let checked = 0;
    results.forEach((r, i) => {
      const e = expect[i];
      assert.ok(r.ok, `${e.what} ${e.dir}: scapy says ${!r.ok && r.error}`);
      if (!r.ok) return;
      if (e.dir === "ours") {
        assert.equal(r.packet, toHex(e.inner), `${e.what}: scapy decrypted something else`);
      } else {
        const rx = makeSa(e.c);
        if (e.c.esn) rx.replay.update(ESN_HIGH * 2 ** 32 + 1); // receiver already in that subspace
        const got = rx.decapsulatePacket(fromHex(r.packet));
        assert.ok(got.ok, `${e.what}: we dropped scapy's packet: ${!got.ok && got.drop}`);
        if (got.ok) assert.equal(toHex(got.packet), toHex(e.inner), e.what);
      }
      checked++;
    });
    assert.equal(checked, list.length * 2);
  },
});
