import assert from "node:assert/strict";
import { run } from "../helpers/netns.ts";
import { KEY_AB, KEY_BA } from "./_tunnel.ts";
import { capture, pingAndCapture, pingBothWays, withTunnel } from "./_wire.ts";

// Two namespaces, each running our data plane with static AES-GCM SAs
// (0x1001 a->b, 0x2001 b->a). Pings go both ways through the TUNs; tshark on
// the wire must see only ESP between the outer addresses, never clear ICMP.
// Interop: tshark (Wireshark's ESP dissector, an independent implementation
// of RFC 4303/4106) decrypts those packets with the SA keys and finds the
// ICMP echo requests (8) and replies (0) inside.
Deno.test("dataplane: ESP tunnel mode, only ESP on the wire, tshark decrypts it", async () => {
  const sa = (src: string, dst: string, spi: string, key: string) =>
    `uat:esp_sa:"IPv4","${src}","${dst}","${spi}","AES-GCM with 16 octet ICV [RFC4106]",` +
    `"0x${key.slice(0, 40)}","NULL",""`;
  await withTunnel({}, async (t) => {
    const seen = await capture(t, () => pingBothWays(t), [
      "-o",
      "esp.enable_encryption_decode:TRUE",
      "-o",
      sa("192.0.2.1", "192.0.2.2", "0x00001001", KEY_AB),
      "-o",
      sa("192.0.2.2", "192.0.2.1", "0x00002001", KEY_BA),
    ]);
    assert.ok(seen.length >= 6, `expected >= 6 of 12 packets on the wire, saw ${seen.length}`);
    for (const p of seen) {
      assert.equal(p.proto, 50, `clear packet on the wire: ${JSON.stringify(p)}`);
      assert.equal(p.espSpi, p.src === t.outerA ? "0x00001001" : "0x00002001");
      assert.match(p.icmpType, /^[08]$/, `tshark could not decrypt: ${JSON.stringify(p)}`);
    }
    assert.ok(seen.some((p) => p.icmpType === "8") && seen.some((p) => p.icmpType === "0"));
    const a = await t.stats("a");
    const sas = a.stats.sas as { direction: string; packets: number }[];
    assert.equal(sas.find((s) => s.direction === "out")!.packets, 6);
    assert.equal(sas.find((s) => s.direction === "in")!.packets, 6);
  });
});

// The same with a single Worker doing both directions.
Deno.test("dataplane: one Worker for both directions, ping both ways, only ESP", async () => {
  await withTunnel({ workers: 1 }, async (t) => {
    for (const p of await pingAndCapture(t)) assert.equal(p.proto, 50, JSON.stringify(p));
  });
});

// The TUN without io_uring (where it is blocked, e.g. Docker's default
// seccomp profile): plain read/write, one packet per system call.
Deno.test("dataplane: TUN without io_uring (plain read/write), ping both ways, only ESP", async () => {
  await withTunnel({ tunRing: false }, async (t) => {
    for (const p of await pingAndCapture(t)) assert.equal(p.proto, 50, JSON.stringify(p));
  });
});

// Same, with ESP in UDP (RFC 3948) on port 4500 between the peers.
Deno.test("dataplane: ESP-in-UDP (4500), ping both ways, only UDP/4500 ESP on the wire", async () => {
  await withTunnel({ encapPort: 4500 }, async (t) => {
    const seen = await pingAndCapture(t);
    for (const p of seen) {
      assert.equal(p.proto, 17, `not UDP on the wire: ${JSON.stringify(p)}`);
      assert.equal(p.udpDst, "4500");
      assert.match(p.espSpi, /^0x0000[12]001$/, JSON.stringify(p));
      assert.equal(p.icmpType, "");
    }
  });
});

// Transport mode host to host: the hosts' own addresses are protected; the
// data plane's ESP (fwmarked) must not loop back into the TUN.
Deno.test("dataplane: ESP transport mode host to host, only ESP on the wire", async () => {
  await withTunnel({ mode: "transport" }, async (t) => {
    const seen = await pingAndCapture(t);
    for (const p of seen) {
      assert.equal(p.proto, 50, `clear packet on the wire: ${JSON.stringify(p)}`);
      assert.equal(p.icmpType, "");
    }
  });
});

// AH tunnel mode: authenticated, not encrypted: tshark sees AH (51) with our
// SPIs, and the inner ICMP is visible inside it.
Deno.test("dataplane: AH tunnel mode, ping both ways, AH on the wire", async () => {
  await withTunnel({ protocol: "ah" }, async (t) => {
    const seen = await pingAndCapture(t);
    for (const p of seen) {
      assert.equal(p.proto, 51, `not AH on the wire: ${JSON.stringify(p)}`);
      assert.match(p.ahSpi, /^0x0000[12]001$/, JSON.stringify(p));
      // AH does not encrypt: tshark dissects the inner ICMP echo (8) / reply (0).
      assert.match(p.icmpType, /^[08]$/, JSON.stringify(p));
    }
  });
});

Deno.test("dataplane: tshark is available for the wire checks", async () => {
  const r = await run(["tshark", "--version"]);
  assert.equal(r.code, 0, "tshark is needed: bash .ci/install_deps.sh --with-interop");
});
