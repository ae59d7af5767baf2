import assert from "node:assert/strict";
import {
  entryEnabled,
  formatLogEntry,
  levelEnabled,
  type LogEntry,
  LogRing,
  parseLogLevels,
} from "../../lib/daemon/log_ring.ts";

const entry = (i: number): LogEntry => ({
  time: i,
  level: "info",
  subsystem: "ike",
  message: `m${i}`,
});

Deno.test("LogRing keeps the newest entries in order and notifies subscribers", () => {
  const r = new LogRing(3);
  const seen: string[] = [];
  const off = r.subscribe((e) => seen.push(e.message));
  for (let i = 0; i < 5; i++) r.add(entry(i));
  off();
  r.add(entry(5));
  assert.deepEqual(r.recent().map((e) => e.message), ["m3", "m4", "m5"]);
  assert.deepEqual(r.recent(2).map((e) => e.message), ["m4", "m5"]);
  assert.deepEqual(seen, ["m0", "m1", "m2", "m3", "m4"]);
  assert.throws(() => new LogRing(0), RangeError);
});

Deno.test("log levels and line format", () => {
  assert.ok(levelEnabled("error", "info"));
  assert.ok(!levelEnabled("debug", "info"));
  assert.equal(
    formatLogEntry({ time: 0, level: "warn", subsystem: "cfg", message: "x" }),
    "1970-01-01T00:00:00.000Z [cfg] warn  x",
  );
});

Deno.test("parseLogLevels() takes a default and per-subsystem levels", () => {
  const l = parseLogLevels("ike=debug, knl=warn,error");
  assert.deepEqual(l, { default: "error", subsystems: { ike: "debug", knl: "warn" } });
  const at = (subsystem: LogEntry["subsystem"], level: LogEntry["level"]) =>
    entryEnabled({ time: 0, level, subsystem, message: "" }, l);
  assert.ok(at("ike", "debug"));
  assert.ok(!at("knl", "info"));
  assert.ok(at("knl", "warn"));
  assert.ok(!at("cfg", "warn"));
  assert.deepEqual(parseLogLevels("info"), { default: "info", subsystems: {} });
  assert.throws(() => parseLogLevels("loud"), /unknown log level 'loud'/);
  assert.throws(() => parseLogLevels("kernel=debug"), /unknown subsystem 'kernel'/);
});
