/**
 * Pure helpers of the benchmarks (tests/bench/_results.ts): median, the
 * /proc/PID/stat parser, CPU percent, BENCH_OUT row parsing, table and SVG.
 */
import assert from "node:assert/strict";
import {
  type BenchRow,
  cpuPercent,
  formatTable,
  formatValue,
  median,
  parseProcStat,
  parseRows,
  recordRows,
  renderSvg,
} from "../bench/_results.ts";

Deno.test("median() of odd and even counts, unsorted input untouched", () => {
  const xs = [5, 1, 3];
  assert.equal(median(xs), 3);
  assert.deepEqual(xs, [5, 1, 3]);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([7]), 7);
  assert.throws(() => median([]), RangeError);
});

// Captured from /proc/1/stat on the development machine; cross-checked with
// `ps -o time -p 1` (00:00:28 = (1033 + 1784) / CLK_TCK 100) and Python's
// `s.rsplit(')', 1)[1].split()[11:13]`.
const PROC1 =
  "1 (process_api) S 0 0 0 0 -1 4194560 150548 22601303 0 834 1033 1784 95046 41399 10 -10 13 0 19 51638272 4751 18446744073709551615 1 1 0 0 0 0 0 4096 1256 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0";

Deno.test("parseProcStat() reads utime and stime (fields 14 and 15)", () => {
  assert.deepEqual(parseProcStat(PROC1), { utime: 1033, stime: 1784 });
});

Deno.test("parseProcStat() counts fields after the last ')' of a command name with spaces", () => {
  const line = PROC1.replace("(process_api)", "(a) b (c) d)");
  assert.deepEqual(parseProcStat(line), { utime: 1033, stime: 1784 });
});

Deno.test("parseProcStat() throws on text that is not a stat line", () => {
  assert.throws(() => parseProcStat("no parens here"), /no '\)'/);
  assert.throws(() => parseProcStat("1 (x) S 1 2"), /not integers/);
});

Deno.test("parseProcStat() parses this process's own /proc/self/stat", async () => {
  const c = parseProcStat(await Deno.readTextFile("/proc/self/stat"));
  assert.ok(Number.isInteger(c.utime) && c.utime >= 0);
  assert.ok(Number.isInteger(c.stime) && c.stime >= 0);
});

Deno.test("cpuPercent() is ticks per wall second as a share of one core", () => {
  assert.equal(cpuPercent({ utime: 10, stime: 5 }, { utime: 60, stime: 55 }, 2000), 50);
  assert.equal(cpuPercent({ utime: 0, stime: 0 }, { utime: 250, stime: 0 }, 1000), 250);
  assert.equal(cpuPercent({ utime: 0, stime: 0 }, { utime: 1, stime: 0 }, 0), 0);
});

Deno.test("parseRows() keeps valid rows and reports bad lines by number", () => {
  const text = [
    '{"bench":"esp","case":"a","metric":"m","value":1.5,"unit":"ns"}',
    "",
    "not json",
    '{"bench":"esp","case":"b","metric":"m","value":null,"unit":"ns","note":"why"}',
    '{"bench":"esp","case":"c","metric":"m","value":"7","unit":"ns"}',
  ].join("\n");
  const { rows, errors } = parseRows(text);
  assert.deepEqual(rows.map((r) => r.case), ["a", "b"]);
  assert.equal(rows[1].value, null);
  assert.deepEqual(errors.map((e) => e.split(":")[0]), ["line 3", "line 5"]);
});

Deno.test("recordRows() appends JSON lines to BENCH_OUT that parseRows() reads back", async () => {
  const file = await Deno.makeTempFile();
  const old = Deno.env.get("BENCH_OUT");
  try {
    Deno.env.set("BENCH_OUT", file);
    const row: BenchRow = { bench: "x", case: "c", metric: "m", value: 3, unit: "u" };
    await recordRows([row]);
    await recordRows([{ ...row, case: "d", value: null, note: "n" }]);
    const { rows, errors } = parseRows(await Deno.readTextFile(file));
    assert.deepEqual(errors, []);
    assert.deepEqual(rows, [row, { ...row, case: "d", value: null, note: "n" }]);
  } finally {
    if (old === undefined) Deno.env.delete("BENCH_OUT");
    else Deno.env.set("BENCH_OUT", old);
    await Deno.remove(file);
  }
});

Deno.test("formatValue() and formatTable() align columns and print n/a for null", () => {
  assert.equal(formatValue(1234567.8), "1,234,568");
  assert.equal(formatValue(0.12345), "0.123");
  assert.equal(formatValue(null), "n/a");
  const t = formatTable([
    { bench: "compare", case: "veth", metric: "tcp", value: 9000, unit: "Mbit/s" },
    { bench: "compare", case: "us", metric: "tcp", value: null, unit: "Mbit/s", note: "down" },
  ]).split("\n");
  assert.equal(t.length, 4);
  assert.ok(t[2].includes("9,000") && t[3].includes("n/a") && t[3].endsWith("down"));
  // The value column is right-aligned: both values end at the same column.
  assert.equal(t[2].indexOf("9,000") + 5, t[3].indexOf("n/a") + 3);
});

Deno.test("renderSvg() draws one bar per value, scales to the panel maximum and escapes text", () => {
  const svg = renderSvg("a <b> & c", [
    {
      title: "TCP",
      unit: "Mbit/s",
      bars: [{ label: "veth", value: 100 }, { label: "us", value: 50 }, {
        label: "x",
        value: null,
      }],
    },
    { title: "UDP", unit: "pkt/s", bars: [{ label: "strongswan", value: 7 }] },
  ]);
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assert.ok(svg.trimEnd().endsWith("</svg>"));
  assert.ok(svg.includes("a &lt;b&gt; &amp; c"));
  assert.ok(!svg.includes("<b>"));
  const widths = [...svg.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)"/g)].map((m) =>
    Number(m[1])
  );
  assert.equal(widths.length, 3); // two bars in panel 1, one in panel 2; null draws none
  assert.equal(widths[0], widths[1] * 2);
  assert.equal(widths[2], widths[0]); // each panel scales to its own maximum
  assert.ok(svg.includes("not measured"));
});

Deno.test("renderSvg() clips bars above scaleMax to the full width and marks them", () => {
  const svg = renderSvg("t", [{
    title: "TCP",
    unit: "Mbit/s",
    scaleMax: 200,
    bars: [{ label: "veth", value: 2000 }, { label: "us", value: 100 }],
  }]);
  const widths = [...svg.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)"/g)].map((m) =>
    Number(m[1])
  );
  assert.equal(widths[0], widths[1] * 2); // 2000 is drawn as 200 (the full width)
  assert.equal((svg.match(/off scale/g) ?? []).length, 1);
});
