/**
 * SAD size and lookup speed: inserts 10^4, 10^5 and 10^6 inbound SAs and
 * reports heap per entry and ns per `lookupInbound` (random SPIs, hits and
 * misses). Constant time shows as a flat ns column.
 *
 * Run: `deno task bench sad` (or `deno run -A tests/bench/sad_bench.ts`).
 *
 * @module
 */
import { Sad, type SaProcessor } from "../../lib/db/sad.ts";
import { type BenchRow, recordRows } from "./_results.ts";

const proc: SaProcessor = {
  spi: 0,
  sequence: 0,
  sequenceExhausted: false,
  replay: { size: 1024, top: 0 },
};
const SRC = Uint8Array.of(192, 0, 2, 2);
const DST = Uint8Array.of(192, 0, 2, 1);

function heap(): number {
  return Deno.memoryUsage().heapUsed;
}

console.log(
  ["entries", "insert ms", "heap B/entry", "lookup ns (hit)", "lookup ns (miss)"].join("  "),
);
const records: BenchRow[] = [];
for (const n of [10_000, 100_000, 1_000_000]) {
  const before = heap();
  const sad = new Sad();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    sad.add({
      spi: 0x1000 + i * 7,
      protocol: "esp",
      direction: "in",
      mode: "tunnel",
      src: SRC,
      dst: DST,
      processor: proc,
      now: 0,
    });
  }
  const insertMs = performance.now() - t0;
  const perEntry = (heap() - before) / n;
  const probes = 1_000_000;
  const spis = new Uint32Array(probes);
  let x = 12345;
  for (let i = 0; i < probes; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    spis[i] = 0x1000 + (x % n) * 7;
  }
  let found = 0;
  let t = performance.now();
  for (let i = 0; i < probes; i++) if (sad.lookupInbound(spis[i])) found++;
  const hitNs = ((performance.now() - t) * 1e6) / probes;
  t = performance.now();
  for (let i = 0; i < probes; i++) if (sad.lookupInbound(spis[i] + 1)) found++;
  const missNs = ((performance.now() - t) * 1e6) / probes;
  if (found !== probes) throw new Error(`expected ${probes} hits, got ${found}`);
  records.push(
    { bench: "sad", case: `${n} SAs`, metric: "lookup hit", value: +hitNs.toFixed(1), unit: "ns" },
    {
      bench: "sad",
      case: `${n} SAs`,
      metric: "lookup miss",
      value: +missNs.toFixed(1),
      unit: "ns",
    },
    { bench: "sad", case: `${n} SAs`, metric: "heap", value: Math.round(perEntry), unit: "B/SA" },
  );
  console.log(
    [String(n), insertMs.toFixed(0), perEntry.toFixed(0), hitNs.toFixed(1), missNs.toFixed(1)].join(
      "  ",
    ),
  );
}
await recordRows(records);
