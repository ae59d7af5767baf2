/**
 * Shared, pure helpers of the benchmarks in tests/bench/: the result row
 * format collected by main.ts (see {@link BenchRow}), median, the
 * `/proc/PID/stat` CPU parser, a plain-text table and the hand-written SVG
 * plot. Nothing here touches the network.
 *
 * Result protocol: main.ts runs every `*_bench.ts` with the environment
 * variable `BENCH_OUT` set to a file path. A bench file MAY append one JSON
 * object per line ({@link BenchRow}) to that file ({@link recordRows} does
 * it); files that only print are fine too (their stdout is shown as is).
 *
 * @module
 */

/**
 * One measured figure. `value` is `null` when the case was not measured (say
 * why in `note`); never invent a number.
 *
 * @example
 * ```ts
 * const row: BenchRow = {
 *   bench: "compare", case: "strongswan aes256gcm16", metric: "tcp",
 *   value: 181.2, unit: "Mbit/s",
 * };
 * ```
 */
export interface BenchRow {
  /** Bench file without `_bench.ts` ("compare", "ike", "esp", ...). */
  bench: string;
  /** What was measured ("strongswan aes256gcm16", "veth", "us aes128gcm16"). */
  case: string;
  /** Which figure ("tcp", "udp_pps@40000", "loss@40000", "cpu", "ns/op"). */
  metric: string;
  value: number | null;
  unit: string;
  /** Free text: why not measured, run details. */
  note?: string;
}

/**
 * Appends rows as JSON lines to the file named by `BENCH_OUT` (when set).
 *
 * @example
 * ```ts
 * await recordRows([{ bench: "spd", case: "100k", metric: "lookup", value: 850, unit: "ns" }]);
 * ```
 */
export async function recordRows(rows: readonly BenchRow[]): Promise<void> {
  const out = Deno.env.get("BENCH_OUT");
  if (!out || rows.length === 0) return;
  const text = rows.map((r) => JSON.stringify(r)).join("\n") + "\n";
  await Deno.writeTextFile(out, text, { append: true, create: true });
}

/**
 * Parses the JSON lines a bench wrote to `BENCH_OUT`; lines that are not a
 * {@link BenchRow} are reported in `errors` and skipped.
 *
 * @example
 * ```ts
 * parseRows('{"bench":"x","case":"c","metric":"m","value":1,"unit":"u"}\n').rows.length; // 1
 * ```
 */
export function parseRows(text: string): { rows: BenchRow[]; errors: string[] } {
  const rows: BenchRow[] = [];
  const errors: string[] = [];
  text.split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    let o: unknown;
    try {
      o = JSON.parse(line);
    } catch {
      errors.push(`line ${i + 1}: not JSON`);
      return;
    }
    if (isRow(o)) rows.push(o);
    else errors.push(`line ${i + 1}: needs bench, case, metric, value (number|null), unit`);
  });
  return { rows, errors };
}

function isRow(o: unknown): o is BenchRow {
  if (typeof o !== "object" || o === null) return false;
  const r = o as Record<string, unknown>;
  return typeof r.bench === "string" && typeof r.case === "string" &&
    typeof r.metric === "string" && typeof r.unit === "string" &&
    (r.value === null || (typeof r.value === "number" && Number.isFinite(r.value))) &&
    (r.note === undefined || typeof r.note === "string");
}

/**
 * Median of the values (mean of the middle two for an even count); throws on
 * an empty list.
 *
 * @example
 * ```ts
 * median([3, 1, 2]); // 2
 * ```
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError("median of an empty list");
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** CPU time of one process from `/proc/PID/stat`, in clock ticks. */
export interface ProcCpu {
  /** User-mode ticks (field 14). */
  utime: number;
  /** Kernel-mode ticks (field 15). */
  stime: number;
}

/**
 * Parses the text of `/proc/PID/stat`. The command name (field 2) is in
 * parentheses and may contain spaces and parentheses, so fields are counted
 * after the last `)` (proc(5)).
 *
 * @example
 * ```ts
 * parseProcStat("42 (charon (x)) S 1 42 42 0 -1 4194560 1 0 0 0 150 30 0 0").utime; // 150
 * ```
 */
export function parseProcStat(text: string): ProcCpu {
  const close = text.lastIndexOf(")");
  if (close < 0) throw new Error("not a /proc/PID/stat line: no ')' after the command name");
  // After ") ": field 3 (state) is index 0, so field n is index n - 3.
  const f = text.slice(close + 2).trim().split(/\s+/);
  const utime = Number(f[14 - 3]);
  const stime = Number(f[15 - 3]);
  if (!Number.isInteger(utime) || !Number.isInteger(stime)) {
    throw new Error("not a /proc/PID/stat line: utime/stime are not integers");
  }
  return { utime, stime };
}

/**
 * CPU use in percent of one core between two samples taken `wallMs` apart
 * (`ticksPerSecond` is the kernel's USER_HZ, 100 on Linux).
 *
 * @example
 * ```ts
 * cpuPercent({ utime: 0, stime: 0 }, { utime: 50, stime: 50 }, 1000); // 100
 * ```
 */
export function cpuPercent(
  before: ProcCpu,
  after: ProcCpu,
  wallMs: number,
  ticksPerSecond = 100,
): number {
  const ticks = after.utime + after.stime - before.utime - before.stime;
  return wallMs > 0 ? (ticks / ticksPerSecond) / (wallMs / 1000) * 100 : 0;
}

/**
 * Formats a number for a table: 3 significant digits below 100, integers
 * with thousands separators above; `null` is "n/a".
 *
 * @example
 * ```ts
 * formatValue(1234567); // "1,234,567"
 * ```
 */
export function formatValue(v: number | null): string {
  if (v === null) return "n/a";
  if (Math.abs(v) >= 100) return Math.round(v).toLocaleString("en-US");
  return Number(v.toPrecision(3)).toString();
}

/**
 * A plain-text table of rows grouped by bench, one line per row.
 *
 * @example
 * ```ts
 * console.log(formatTable(rows));
 * ```
 */
export function formatTable(rows: readonly BenchRow[]): string {
  const head = ["bench", "case", "metric", "value", "unit", "note"];
  const body = rows.map((r) => [
    r.bench,
    r.case,
    r.metric,
    formatValue(r.value),
    r.unit,
    r.note ?? "",
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (c: string[]) =>
    c.map((s, i) => i === 3 ? s.padStart(w[i]) : s.padEnd(w[i])).join("  ").trimEnd();
  return [line(head), line(w.map((n) => "-".repeat(n))), ...body.map(line)].join("\n");
}

/** One bar of a {@link renderSvg} panel. */
export interface Bar {
  label: string;
  /** `null` draws an empty slot labelled "not measured". */
  value: number | null;
}

/** One chart of a {@link renderSvg} plot. */
export interface Panel {
  title: string;
  unit: string;
  bars: readonly Bar[];
  /**
   * Value that spans the full bar width (default: the largest bar). Larger
   * bars are clipped and marked "off scale", so one reference (the bare veth)
   * does not flatten the rest.
   */
  scaleMax?: number;
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

/**
 * A self-contained SVG with the panels side by side as horizontal bar
 * charts (each with its own linear scale), written by hand.
 *
 * @example
 * ```ts
 * const svg = renderSvg("deno-ipsec vs strongSwan", [
 *   { title: "TCP throughput", unit: "Mbit/s", bars: [{ label: "veth", value: 9000 }] },
 * ]);
 * ```
 */
export function renderSvg(title: string, panels: readonly Panel[]): string {
  const panelW = 500, labelW = 200, barH = 22, gap = 8, top = 60;
  const rowsMax = Math.max(1, ...panels.map((p) => p.bars.length));
  const height = top + rowsMax * (barH + gap) + 30;
  const width = panels.length * panelW + 20;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="15" font-weight="bold">${esc(title)}</text>`,
  ];
  panels.forEach((p, pi) => {
    const x0 = 10 + pi * panelW;
    const max = p.scaleMax ?? Math.max(0, ...p.bars.map((b) => b.value ?? 0));
    const full = panelW - labelW - 120;
    const scale = max > 0 ? full / max : 0;
    out.push(
      `<text x="${x0}" y="44" font-weight="bold">${esc(p.title)} (${esc(p.unit)})</text>`,
    );
    p.bars.forEach((b, i) => {
      const y = top + i * (barH + gap);
      out.push(
        `<text x="${x0 + labelW - 6}" y="${y + barH / 2 + 4}" text-anchor="end">${
          esc(b.label)
        }</text>`,
      );
      if (b.value === null) {
        out.push(
          `<text x="${x0 + labelW + 4}" y="${y + barH / 2 + 4}" fill="#888">not measured</text>`,
        );
        return;
      }
      const clipped = b.value > max;
      const w = Math.max(1, Math.min(full, b.value * scale));
      const color = b.label.startsWith("deno") || b.label.startsWith("us")
        ? "#2a7ab0"
        : b.label.startsWith("veth") || b.label.startsWith("bare")
        ? "#999999"
        : "#d9822b";
      out.push(
        `<rect x="${x0 + labelW}" y="${y}" width="${
          w.toFixed(1)
        }" height="${barH}" fill="${color}"/>`,
        `<text x="${(x0 + labelW + w + 4).toFixed(1)}" y="${y + barH / 2 + 4}">${
          esc(formatValue(b.value))
        }${clipped ? " (off scale)" : ""}</text>`,
      );
    });
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
