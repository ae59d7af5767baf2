/**
 * AH cross-checked against scapy.layers.ipsec (an independent
 * implementation, incl. its own mutable-field zeroing) for every integrity
 * algorithm, tunnel and transport mode, IPv4 and IPv6, with and without ESN,
 * both ways. Packets are changed in flight the way routers may (TTL, DSCP,
 * flags, flow label, mutable options, routing headers): both sides must
 * still verify. AES-XCBC-96 is not in scapy 2.5; the helper registers an
 * implementation on cryptography's AES that it checks against RFC 3566.
 */
import assert from "node:assert/strict";
import { AhSa } from "../../lib/esp/ah.ts";
import { toHex } from "../../lib/wire/bytes.ts";
import { runScapy } from "../helpers/scapy.ts";
import {
  AH_ALGS,
  type AhAlg,
  endpoints,
  ip6,
  makeAhInteg,
  udp4,
  udp6,
  withIpv4Options,
} from "./_packets.ts";
import { type InteropCase, runInterop } from "./_interop.ts";
import { routersV4, routersV6 } from "./_routers.ts";

const SPI = 0xa4a40001;
const T4 = { src: "198.51.100.7", dst: "203.0.113.7" };
const T6 = { src: "2001:db8:7::1", dst: "2001:db8:8::1" };

function ahCase(
  alg: AhAlg,
  mode: "tunnel" | "transport",
  v6: boolean,
  esn: boolean,
  inner: Uint8Array,
  what = "",
): InteropCase {
  const t = v6 ? T6 : T4;
  const k = makeAhInteg(alg);
  return {
    what: `AH ${alg} ${mode} v6=${v6} esn=${esn}${what}`,
    mode,
    inner,
    esnHigh: esn ? 5 : undefined,
    onWire: v6 ? routersV6 : routersV4,
    sa: () =>
      new AhSa({
        spi: SPI,
        mode,
        ...makeAhInteg(alg),
        esn,
        tunnel: mode === "tunnel" ? endpoints(t, v6) : undefined,
      }),
    scapy: {
      proto: "AH",
      spi: SPI,
      auth_algo: AH_ALGS[alg].scapy,
      auth_key: k.keyHex,
      tunnel: mode === "tunnel" ? t : null,
      esn_en: esn,
      esn: esn ? 5 : 0,
    },
  };
}

const data = (i: number) => new TextEncoder().encode(`AH case ${i} `.repeat(1 + (i % 5)));

Deno.test("AH interoperates with scapy: every algorithm, mode, IP version, ESN, mutated in flight", async () => {
  const list: InteropCase[] = [];
  for (const alg of Object.keys(AH_ALGS) as AhAlg[]) {
    for (const mode of ["tunnel", "transport"] as const) {
      for (const v6 of [false, true]) {
        for (const esn of [false, true]) {
          const i = list.length;
          const inner = v6
            ? udp6("2001:db8::a", "2001:db8::b", data(i))
            : udp4("10.1.0.1", "10.2.0.1", data(i));
          list.push(ahCase(alg, mode, v6, esn, inner));
        }
      }
    }
  }
  assert.equal(await runInterop(list), list.length);
});

Deno.test("AH interoperates with scapy: IPv4 options (immutable router alert, mutable record route)", async () => {
  // Router Alert (0x94, immutable, RFC 4302 A.1) + Record Route (7, mutable: zeroed) + EOL.
  const opts = Uint8Array.of(0x94, 4, 0, 0, 7, 7, 4, 0, 0, 0, 0, 0);
  const inner = withIpv4Options(udp4("10.1.0.1", "10.2.0.1", data(3)), opts);
  const list = (["hmac-sha256-128", "aes-xcbc-96"] as const).map((alg) =>
    ahCase(alg, "transport", false, false, inner, " +options")
  );
  assert.equal(await runInterop(list), list.length);
});

Deno.test("AH interoperates with scapy: IPv6 mutable hop-by-hop option and a type 0 routing header", async () => {
  // Hop-by-hop: option 0x3e has the "may change en route" bit (RFC 8200 4.2) -> zeroed.
  const hbh = Uint8Array.of(0, 0, 0x3e, 4, 1, 2, 3, 4);
  // Routing type 0 with two addresses left: the sender must compute the ICV
  // over the header as the final destination sees it (RFC 4302 3.3.3.1.2).
  const rt = new Uint8Array(40);
  rt.set([0, 4, 0, 2]);
  rt.set(ip6("2001:db8:99::1"), 8);
  rt.set(ip6("2001:db8::b"), 24);
  const dst = Uint8Array.of(0, 0, 1, 4, 0, 0, 0, 0);
  const inner = udp6("2001:db8::a", "2001:db8:98::1", data(4), [
    { type: 0, body: hbh },
    { type: 43, body: rt },
    { type: 60, body: dst },
  ]);
  const list = (["hmac-sha1-96", "hmac-sha512-256", "aes-cmac-96"] as const).map((alg) =>
    ahCase(alg, "transport", true, false, inner, " +ext headers")
  );
  assert.equal(await runInterop(list), list.length);
});

Deno.test("scapy AH oracle is not vacuous: an immutable field changed in flight is rejected", async () => {
  const c = ahCase(
    "hmac-sha256-128",
    "transport",
    false,
    false,
    udp4("10.1.0.1", "10.2.0.1", data(1)),
  );
  const out = c.sa().encapsulatePacket(c.inner);
  assert.ok(out.ok);
  const p = out.packet.slice();
  p[15] ^= 1; // source address
  const [r] = await runScapy([{ ...c.scapy, op: "decrypt", packet: toHex(p) }]);
  assert.equal(r.ok, false);
});
