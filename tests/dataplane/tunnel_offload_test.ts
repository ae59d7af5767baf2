import assert from "node:assert/strict";
import type { Tunnel, TunnelOptions } from "./_tunnel.ts";
import { pingAndCapture, withTunnel } from "./_wire.ts";
import { tcpTransfer } from "../helpers/interop_traffic.ts";

// TUN offloads (lib/dataplane/offload.ts) on both ends: the kernel hands the
// data plane TCP super-packets of up to 64 KB, which it cuts into segments
// of at most the TUN MTU (1400) before ESP. What proves it works:
// - the receiving Python gets the exact bytes (length and SHA-256) both
//   ways, so every segment's sequence number, length and checksum were
//   right (the receiving kernel drops a segment with a bad TCP checksum
//   and TCP would resend it, so the receivers' TCP InCsumErrors must stay 0);
// - the sender's counters show super-packets were cut (else TSO was off
//   and nothing was tested), the receiver's that it wrote coalesced ones
//   (GRO), and no frame was refused;
// - no ESP packet was fragmented (the netns's /proc/net/snmp on both ends,
//   kept by the kernel): every segment fit the ESP budget of the path;
// - tshark sees only ESP on the wire;
// - ESP in UDP with udpOffload: both ends sent runs of datagrams in segmented sends
//   (UDP_SEGMENT) and received coalesced ones (UDP_GRO), and the bytes
//   still arrived intact: the datagrams were cut where they began.

const BYTES = 8 << 20;

/** A counter of a namespace's /proc/net/snmp ("Ip", "Tcp", ...). */
async function snmp(t: Tunnel, ns: string, group: string, names: string[]): Promise<number> {
  const rows = (await t.lab.runIn(ns, ["cat", "/proc/net/snmp"])).stdout.split("\n")
    .filter((l) => l.startsWith(`${group}:`));
  const keys = rows[0].split(/\s+/);
  const values = rows[1].split(/\s+/).map(Number);
  return names.reduce((sum, n) => sum + values[keys.indexOf(n)], 0);
}

/** Ip FragCreates + FragFails + ReasmReqds of a namespace (IPv4 and IPv6). */
async function fragmentCounters(t: Tunnel, ns: string): Promise<number> {
  let n = await snmp(t, ns, "Ip", ["FragCreates", "FragFails", "ReasmReqds"]);
  for (const l of (await t.lab.runIn(ns, ["cat", "/proc/net/snmp6"])).stdout.split("\n")) {
    const [k, v] = l.trim().split(/\s+/);
    if (k === "Ip6FragCreates" || k === "Ip6FragFails" || k === "Ip6ReasmReqds") n += Number(v);
  }
  return n;
}

interface Counters {
  packets: {
    superPackets: number;
    coalesced: number;
    outbound: number;
    udpSegmented: number;
    udpCoalesced: number;
  };
  drops: Record<string, number>;
}

async function transferBothWays(o: TunnelOptions): Promise<void> {
  await withTunnel({ ...o, tunOffload: true }, async (t) => {
    for (const p of await pingAndCapture(t)) {
      assert.equal(p.proto, o.encapPort ? 17 : 50, `not ESP on the wire: ${JSON.stringify(p)}`);
    }
    const frag0 = await fragmentCounters(t, t.a) + await fragmentCounters(t, t.b);
    const a = { ns: t.a, ip: t.innerA }, b = { ns: t.b, ip: t.innerB };
    await tcpTransfer(t.lab, a, b, BYTES, 5001);
    await tcpTransfer(t.lab, b, a, BYTES, 5002);
    for (const end of ["a", "b"] as const) {
      const s = (await t.stats(end)).stats as unknown as Counters;
      assert.ok(s.packets.superPackets > 0, `${end} saw no super-packet: ${JSON.stringify(s)}`);
      assert.ok(s.packets.outbound > s.packets.superPackets * 4, JSON.stringify(s.packets));
      assert.ok(s.packets.coalesced > 0, `${end} wrote no super-packet: ${JSON.stringify(s)}`);
      assert.equal(s.drops["offload-malformed"], 0);
      assert.equal(s.drops["encapsulation-failed"], 0);
      assert.equal(s.drops["tun-write-failed"], 0);
      // Every datagram verified: nothing was cut or overwritten before its
      // ICV check (the coalesced datagrams are decrypted in place, side by side).
      assert.equal(s.drops["decapsulation-failed"], 0);
      if (o.encapPort && o.udpOffload) {
        assert.ok(
          s.packets.udpSegmented > 0,
          `${end} made no segmented send: ${JSON.stringify(s)}`,
        );
        assert.ok(
          s.packets.udpCoalesced > 0,
          `${end} got no coalesced datagram: ${JSON.stringify(s)}`,
        );
        assert.equal(s.drops["send-failed"], 0);
      } else {
        assert.equal(s.packets.udpSegmented, 0);
      }
    }
    assert.equal(await fragmentCounters(t, t.a) + await fragmentCounters(t, t.b), frag0);
    // The TCP MIB counts IPv4 and IPv6 together.
    for (const ns of [t.a, t.b]) assert.equal(await snmp(t, ns, "Tcp", ["InCsumErrors"]), 0);
  });
}

Deno.test("dataplane offload: IPv4 TCP super-packets segmented, 8 MB each way intact, no fragments", async () => {
  await transferBothWays({});
});

Deno.test("dataplane offload: IPv6 inside, IPv6 outside, 8 MB each way intact", async () => {
  await transferBothWays({ inner: 6, outer: 6 });
});

Deno.test("dataplane offload: ESP-in-UDP with one Worker, 8 MB each way intact", async () => {
  await transferBothWays({ encapPort: 4500, workers: 1, udpOffload: true });
});

Deno.test("dataplane offload: ESP-in-UDP over IPv6, two Workers, 8 MB each way intact", async () => {
  await transferBothWays({ encapPort: 4500, outer: 6, udpOffload: true });
});

Deno.test("dataplane offload: TUN without io_uring (plain read/write), 8 MB each way intact", async () => {
  await transferBothWays({ tunRing: false });
});
