/**
 * `deno task bench`: runs every benchmark script in tests/bench/ one after the
 * other, then prints one combined table and writes `dist/bench/results.json`
 * and `dist/bench/results.svg` (throughput and packet rate side by side).
 * Speed is measured here, never asserted in tests.
 *
 * `deno task bench [prefix]` runs only the `*_bench.ts` files whose name
 * starts with `prefix` (e.g. `deno task bench compare`);
 * `deno task bench --svg-only` redraws results.svg from results.json.
 *
 * Result protocol for bench files (see tests/bench/_results.ts):
 * - every `*_bench.ts` runs as `deno run -A <file>` with the environment
 *   variable `BENCH_OUT` set to a fresh file path;
 * - a bench MAY append JSON lines to that file, one object per figure:
 *   `{"bench":"esp","case":"aes256gcm16 1400B libcrypto","metric":"enc+dec",
 *   "value":812,"unit":"ns/pkt","note":"optional"}` (`value` null = not
 *   measured, say why in `note`). `recordRows()` in _results.ts does it;
 * - a bench that only prints is fine: its stdout is shown as is and it adds
 *   no rows. Exit code != 0 counts as a failed bench.
 *
 * Environment: `BENCH_SECONDS` (iperf3 and IKE load length, default 10) and
 * `BENCH_IKE_SAS` (default 10000) reach the bench files unchanged.
 *
 * @module
 */
import { type BenchRow, formatTable, type Panel, parseRows, renderSvg } from "./_results.ts";

const dir = new URL("./", import.meta.url).pathname;
const root = new URL("../../", import.meta.url).pathname;
const outDir = `${root}dist/bench`;

interface Results {
  date: string;
  host: { hostname: string; cpus: number; deno: string };
  seconds: number;
  runs: { script: string; ok: boolean; seconds: number }[];
  rows: BenchRow[];
}

/** Runs the selected bench files and collects their rows. */
async function runAll(only: string | undefined): Promise<Results> {
  const scripts: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && e.name.endsWith("_bench.ts") && (!only || e.name.startsWith(only))) {
      scripts.push(e.name);
    }
  }
  scripts.sort();
  const rows: BenchRow[] = [];
  const runs: Results["runs"] = [];
  const started = Date.now();
  for (const s of scripts) {
    console.log(`\n=== ${s} ===`);
    const file = await Deno.makeTempFile({ prefix: "bench-", suffix: ".jsonl" });
    const t0 = Date.now();
    try {
      const r = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", `${dir}${s}`],
        env: { BENCH_OUT: file },
        stdout: "inherit",
        stderr: "inherit",
      }).output();
      runs.push({ script: s, ok: r.success, seconds: (Date.now() - t0) / 1000 });
      if (!r.success) console.log(`${s} failed with exit code ${r.code}`);
      const parsed = parseRows(await Deno.readTextFile(file).catch(() => ""));
      for (const e of parsed.errors) console.log(`${s}: BENCH_OUT ${e}`);
      rows.push(...parsed.rows);
    } finally {
      await Deno.remove(file).catch(() => {});
    }
  }
  return {
    date: new Date().toISOString(),
    host: {
      hostname: Deno.hostname(),
      cpus: navigator.hardwareConcurrency,
      deno: Deno.version.deno,
    },
    seconds: (Date.now() - started) / 1000,
    runs,
    rows,
  };
}

/** The plot: compare_bench TCP throughput and max-rate 64-byte packets side by side. */
function plot(results: Results): string | null {
  const bars = (metric: string): Panel["bars"] =>
    results.rows.filter((r) => r.bench === "compare" && r.metric === metric)
      .map((r) => ({ label: r.case, value: r.value }));
  // Scale to the tunnels (1.2x the largest) so the bare veth reference does not flatten them.
  const tunnelMax = (b: Panel["bars"]) => {
    const m = Math.max(0, ...b.filter((x) => !x.label.startsWith("veth")).map((x) => x.value ?? 0));
    return m > 0 ? m * 1.2 : undefined;
  };
  const tcp = bars("tcp");
  const pps = bars("udp_pps@max");
  if (!tcp.length && !pps.length) return null;
  return renderSvg(`deno-ipsec vs strongSwan (${results.date.slice(0, 16)}Z)`, [
    { title: "TCP throughput", unit: "Mbit/s", bars: tcp, scaleMax: tunnelMax(tcp) },
    {
      title: "64-byte UDP delivered at max rate",
      unit: "pkt/s",
      bars: pps,
      scaleMax: tunnelMax(pps),
    },
  ]);
}

await Deno.mkdir(outDir, { recursive: true });
let results: Results;
if (Deno.args[0] === "--svg-only") {
  results = JSON.parse(await Deno.readTextFile(`${outDir}/results.json`)) as Results;
} else {
  results = await runAll(Deno.args[0]);
  if (results.rows.length) {
    console.log(`\n=== all results (${results.rows.length} rows) ===`);
    console.log(formatTable(results.rows));
  }
  await Deno.writeTextFile(`${outDir}/results.json`, JSON.stringify(results, null, 2) + "\n");
}
const svg = plot(results);
if (svg) await Deno.writeTextFile(`${outDir}/results.svg`, svg);
console.log(`\nwrote ${outDir}/results.json${svg ? " and results.svg" : ""}`);
Deno.exit(results.runs.some((r) => !r.ok) ? 1 : 0);
