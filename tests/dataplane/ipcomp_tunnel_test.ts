/**
 * IPComp through the real data plane (TUN, Workers, raw and UDP sockets) in
 * two namespaces with static ESP SAs that compress: pings with a large,
 * compressible payload cross both ways and their ESP packets on the wire are
 * far smaller than the pings; small pings go uncompressed. tshark (Wireshark's
 * ESP and IPComp dissectors, independent of us) decrypts the ESP with the SA
 * keys and finds an IPComp header with the receiver's CPI and the inner
 * packet's protocol (4 in tunnel mode, 1 for ICMP in transport mode), and
 * inflates the DEFLATE data to the ICMP echo it holds.
 */
import assert from "node:assert/strict";
import { KEY_AB, KEY_BA, type Tunnel, type TunnelOptions } from "./_tunnel.ts";
import { withTunnel } from "./_wire.ts";
import { tcpTransfer } from "../helpers/interop_traffic.ts";
import { tsharkDuring } from "../helpers/tshark.ts";

interface Seen {
  len: number;
  src: string;
  spi: string;
  cpi: string;
  next: string;
  /** ICMP type of the packet inside, when tshark could decompress it. */
  icmp: string;
}

/** Captures on a's veth with ESP decryption while `during` runs. */
async function captureDecrypted(t: Tunnel, during: () => Promise<void>): Promise<Seen[]> {
  const sa = (src: string, dst: string, spi: string, key: string) =>
    `uat:esp_sa:"IPv4","${src}","${dst}","${spi}","AES-GCM with 16 octet ICV [RFC4106]",` +
    `"0x${key.slice(0, 40)}","NULL",""`;
  const out = await tsharkDuring(t.a, [
    "-o",
    "esp.enable_encryption_decode:TRUE",
    "-o",
    sa(t.outerA, t.outerB, "0x00001001", KEY_AB),
    "-o",
    sa(t.outerB, t.outerA, "0x00002001", KEY_BA),
    "-i",
    t.vethA,
    "-n",
    "-l",
    "-f",
    "ip",
    // ESP in UDP: tshark must see port 4500 as UDP-encapsulated ESP.
    "-d",
    "udp.port==4500,udpencap",
    "-T",
    "fields",
    "-E",
    "separator=,",
    "-E",
    "aggregator=;",
    "-e",
    "frame.len",
    "-e",
    "ip.src",
    "-e",
    "esp.spi",
    "-e",
    "ipcomp.cpi",
    "-e",
    "ipcomp.next_header",
    "-e",
    "icmp.type",
  ], during);
  return out.trim().split("\n").filter((l) => l !== "").map((l) => {
    const [len, src, spi, cpi, next, icmp] = l.split(",");
    // Fields of the inner packet (tunnel mode) follow the outer ones, ";"-separated.
    return { len: Number(len), src: src.split(";")[0], spi, cpi, next, icmp };
  });
}

async function ping(t: Tunnel, from: "a" | "b", size: number): Promise<void> {
  const [ns, dst] = from === "a" ? [t.a, t.innerB] : [t.b, t.innerA];
  // -p 61: the payload is one repeated byte, as compressible as text.
  const r = await t.lab.runIn(ns, [
    "ping",
    "-c",
    "2",
    "-i",
    "0.2",
    "-W",
    "2",
    "-s",
    String(size),
    "-p",
    "61",
    dst,
  ]);
  assert.equal(r.code, 0, `ping -s ${size} from ${from}:\n${r.stdout}${r.stderr}`);
}

const CASES: [string, TunnelOptions, string][] = [
  ["tunnel mode, raw ESP", { ipcomp: true }, "0x04"],
  ["tunnel mode, ESP in UDP", { ipcomp: true, encapPort: 4500 }, "0x04"],
  [
    "tunnel mode, ESP in UDP with TUN and UDP offloads",
    { ipcomp: true, encapPort: 4500, tunOffload: true, udpOffload: true },
    "0x04",
  ],
  ["transport mode, raw ESP", { ipcomp: true, mode: "transport" }, "0x01"],
];

for (const [what, opts, inner] of CASES) {
  Deno.test({
    name: `dataplane ipcomp: ${what}: big pings cross compressed, tshark finds IPComp inside ESP`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: () =>
      withTunnel(opts, async (t) => {
        const seen = await captureDecrypted(t, async () => {
          await ping(t, "a", 1200);
          await ping(t, "b", 1200);
          await ping(t, "a", 20);
        });
        const esp = seen.filter((s) => s.spi !== "");
        assert.ok(esp.length >= 10, `ESP packets seen: ${JSON.stringify(seen)}`);
        const compressed = esp.filter((s) => s.cpi !== "");
        // 2 requests + 2 replies of each big ping: 8, all compressed and small.
        assert.equal(compressed.length, 8, JSON.stringify(esp));
        for (const s of compressed) {
          assert.ok(s.len < 300, `a 1228-byte ping left compressed as ${s.len} bytes`);
          // The sender uses the receiver's CPI: a's is 0x0a0a, b's 0x0b0b.
          assert.equal(s.cpi, s.src === t.outerA ? "0x0b0b" : "0x0a0a", JSON.stringify(s));
          assert.equal(s.next, inner, JSON.stringify(s));
          // Wireshark inflates IPComp's DEFLATE itself: the ICMP echo is inside.
          assert.match(s.icmp, /^[08]$/, JSON.stringify(s));
        }
        // The small pings (48 bytes) go as plain ESP.
        assert.equal(esp.length - compressed.length, 4, JSON.stringify(esp));
        if (opts.mode !== "transport") {
          // TCP both ways, compressible and random (with TUN offloads: 64 KB
          // super-packets cut into segments, each compressed; received ones coalesced).
          const A = { ns: t.a, ip: t.innerA };
          const B = { ns: t.b, ip: t.innerB };
          await tcpTransfer(t.lab, A, B, 2 << 20, 5001, true);
          await tcpTransfer(t.lab, B, A, 2 << 20, 5002, true);
          await tcpTransfer(t.lab, A, B, 1 << 20, 5003);
        }
        const a = await t.stats("a");
        const sas = a.stats.sas as {
          direction: string;
          drops: object;
          ipcomp: { cpi: number; compressed: number; uncompressed: number };
        }[];
        for (const s of sas) assert.deepEqual(s.drops, {}, JSON.stringify(sas));
        // a's counters: out with b's CPI, in with its own; TCP segments mostly compressed.
        const out = sas.find((s) => s.direction === "out")!.ipcomp;
        const inb = sas.find((s) => s.direction === "in")!.ipcomp;
        assert.equal(out.cpi, 0x0b0b);
        assert.equal(inb.cpi, 0x0a0a);
        const least = opts.mode === "transport" ? 4 : 500;
        assert.ok(out.compressed >= least && inb.compressed >= least, JSON.stringify(sas));
        assert.ok(out.uncompressed >= 2 && inb.uncompressed >= 2, JSON.stringify(sas));
      }),
  });
}
