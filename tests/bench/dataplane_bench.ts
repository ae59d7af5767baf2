/**
 * Throughput of the userspace data plane: iperf3 TCP through an ESP tunnel
 * between two namespaces (tests/dataplane/_tunnel.ts), for raw ESP and
 * ESP-in-UDP, plus a plain veth baseline. Prints a table; asserts nothing.
 *
 * Run: `deno run -A tests/bench/dataplane_bench.ts [seconds]` (root, iperf3), or
 * `deno task bench dataplane` (rows recorded through tests/bench/_results.ts;
 * `BENCH_SECONDS` sets the iperf3 run length).
 *
 * @module
 */

import { startTunnel, type TunnelOptions } from "../dataplane/_tunnel.ts";
import { recordRows } from "./_results.ts";

const seconds = Number(Deno.args[0] ?? Deno.env.get("BENCH_SECONDS") ?? 5);

interface Row {
  name: string;
  mbps: number;
  retransmits: number;
}

async function iperf(o: TunnelOptions, name: string, throughTunnel: boolean): Promise<Row> {
  const t = await startTunnel(o);
  try {
    const target = throughTunnel ? t.innerB : "192.0.2.2";
    const server = t.lab.spawnIn(t.b, ["iperf3", "-s", "-1", "-B", target]);
    await new Promise((r) => setTimeout(r, 500));
    const args = ["iperf3", "-c", target, "-t", `${seconds}`, "-J"];
    if (throughTunnel) args.push("-B", t.innerA);
    const r = await t.lab.runIn(t.a, args);
    await server.status;
    if (r.code !== 0) throw new Error(`iperf3 failed: ${r.stdout.slice(0, 400)} ${r.stderr}`);
    const j = JSON.parse(r.stdout);
    const s = await t.stats("a");
    const b = await t.stats("b");
    console.error(
      `  ${name}: a drops ${JSON.stringify(nonZero(s.stats.drops))}, b drops ${
        JSON.stringify(nonZero(b.stats.drops))
      }`,
    );
    return {
      name,
      mbps: j.end.sum_received.bits_per_second / 1e6,
      retransmits: j.end.sum_sent.retransmits ?? 0,
    };
  } finally {
    await t.close();
  }
}

function nonZero(o: unknown): Record<string, number> {
  return Object.fromEntries(
    Object.entries(o as Record<string, number>).filter(([, v]) => v !== 0),
  );
}

const rows: Row[] = [];
rows.push(await iperf({}, "veth baseline (no IPsec)", false));
rows.push(await iperf({}, "ESP tunnel AES-GCM-128 (libcrypto)", true));
rows.push(await iperf({ workers: 1 }, "same, one Worker for both directions", true));
rows.push(await iperf({ encapPort: 4500 }, "ESP-in-UDP tunnel AES-GCM-128", true));
rows.push(await iperf({ crypto: "node" }, "ESP tunnel AES-GCM-128 (node:crypto)", true));
// TUN offloads (TSO in, GRO out; lib/dataplane/offload.ts): off and on, run
// alternately OFFLOAD_RUNS times each on this shared machine; medians.
const OFFLOAD_RUNS = 3;
const off: Row[] = [];
const on: Row[] = [];
for (let i = 0; i < OFFLOAD_RUNS; i++) {
  off.push(await iperf({ tunOffload: false }, "ESP tunnel, TUN offload off", true));
  on.push(await iperf({ tunOffload: true }, "ESP tunnel, TUN offload on (TSO+GRO)", true));
}
const median = (v: Row[]): Row => [...v].sort((a, b) => a.mbps - b.mbps)[v.length >> 1];
rows.push(median(off), median(on));
await recordRows(rows.map((r) => ({
  bench: "dataplane",
  case: r.name,
  metric: "tcp",
  value: Math.round(r.mbps),
  unit: "Mbit/s",
  note: `iperf3 ${seconds} s, ${r.retransmits} retransmits`,
})));
console.log(`iperf3 TCP, ${seconds} s each`);
for (const r of rows) {
  console.log(
    `${r.name.padEnd(40)} ${r.mbps.toFixed(0).padStart(8)} Mbit/s  retransmits ${r.retransmits}`,
  );
}
console.log(
  `TUN offload on/off: ${
    (median(on).mbps / median(off).mbps).toFixed(2)
  }x (medians of ${OFFLOAD_RUNS}: ` +
    `off ${off.map((r) => r.mbps.toFixed(0)).join(", ")}; on ${
      on.map((r) => r.mbps.toFixed(0)).join(", ")
    } Mbit/s; load ${Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ")})`,
);
