/**
 * The daemon's log: a bounded ring of recent lines that `ipsec log` replays
 * and then follows, plus an optional sink (stderr in the foreground, a file
 * when detached).
 *
 * @module
 */
import type { LogLevel } from "../ikev2/effects.ts";

/** Subsystems a line belongs to (strongSwan-like). */
export type LogSubsystem = "dmn" | "ike" | "cfg" | "net" | "esp" | "knl";

/** One log line. */
export interface LogEntry {
  /** Milliseconds since the epoch. */
  readonly time: number;
  readonly level: LogLevel;
  readonly subsystem: LogSubsystem;
  readonly message: string;
}

const LEVEL_RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

/** True when `level` is at least as severe as `threshold`. */
export function levelEnabled(level: LogLevel, threshold: LogLevel): boolean {
  return LEVEL_RANK[level] <= LEVEL_RANK[threshold];
}

/** All subsystems, in the order `--log-level` help lists them. */
export const LOG_SUBSYSTEMS: readonly LogSubsystem[] = ["dmn", "ike", "cfg", "net", "esp", "knl"];

/** Log levels, most severe first. */
export const LOG_LEVELS: readonly LogLevel[] = ["error", "warn", "info", "debug"];

/** A default level and per-subsystem overrides (`ike=debug,knl=warn,info`). */
export interface LogLevels {
  readonly default: LogLevel;
  readonly subsystems: Partial<Record<LogSubsystem, LogLevel>>;
}

/** A `--log-level` value that cannot be understood; the message says what is allowed. */
export class LogLevelError extends Error {
  override readonly name = "LogLevelError";
}

/**
 * Parses `info`, or comma-separated `SUBSYSTEM=LEVEL` items with an optional
 * bare default level, e.g. `ike=debug,knl=warn,info`.
 *
 * @example
 * ```ts
 * parseLogLevels("ike=debug,warn"); // { default: "warn", subsystems: { ike: "debug" } }
 * ```
 */
export function parseLogLevels(spec: string): LogLevels {
  let def: LogLevel = "info";
  const subsystems: Partial<Record<LogSubsystem, LogLevel>> = {};
  const level = (s: string): LogLevel => {
    const l = LOG_LEVELS.find((x) => x === s);
    if (!l) throw new LogLevelError(`unknown log level '${s}' (use ${LOG_LEVELS.join(", ")})`);
    return l;
  };
  for (const item of spec.split(",").map((x) => x.trim()).filter(Boolean)) {
    const eq = item.indexOf("=");
    if (eq < 0) {
      def = level(item);
      continue;
    }
    const name = item.slice(0, eq);
    const sub = LOG_SUBSYSTEMS.find((x) => x === name);
    if (!sub) {
      throw new LogLevelError(`unknown subsystem '${name}' (use ${LOG_SUBSYSTEMS.join(", ")})`);
    }
    subsystems[sub] = level(item.slice(eq + 1));
  }
  return { default: def, subsystems };
}

/** Whether `e` passes the configured levels. */
export function entryEnabled(e: LogEntry, levels: LogLevels): boolean {
  return levelEnabled(e.level, levels.subsystems[e.subsystem] ?? levels.default);
}

/** Renders a line as `2026-11-23T16:00:00.000Z [ike] info  message`. */
export function formatLogEntry(e: LogEntry): string {
  return `${new Date(e.time).toISOString()} [${e.subsystem}] ${e.level.padEnd(5)} ${e.message}`;
}

/**
 * A fixed-size ring of log entries with live subscribers.
 *
 * @example
 * ```ts
 * const log = new LogRing(1000);
 * log.add({ time: Date.now(), level: "info", subsystem: "dmn", message: "started" });
 * log.recent(10);
 * ```
 */
export class LogRing {
  readonly capacity: number;
  #entries: LogEntry[] = [];
  #start = 0;
  #subscribers = new Set<(e: LogEntry) => void>();

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`log ring capacity must be a positive integer, got ${capacity}`);
    }
    this.capacity = capacity;
  }

  /** Appends an entry, dropping the oldest when full, and notifies subscribers. */
  add(e: LogEntry): void {
    if (this.#entries.length < this.capacity) {
      this.#entries.push(e);
    } else {
      this.#entries[this.#start] = e;
      this.#start = (this.#start + 1) % this.capacity;
    }
    for (const s of this.#subscribers) s(e);
  }

  /** The last `n` entries (all when `n` is omitted), oldest first. */
  recent(n = this.capacity): LogEntry[] {
    const all = [...this.#entries.slice(this.#start), ...this.#entries.slice(0, this.#start)];
    return n >= all.length ? all : all.slice(all.length - n);
  }

  /** Calls `fn` for every future entry; returns the unsubscribe function. */
  subscribe(fn: (e: LogEntry) => void): () => void {
    this.#subscribers.add(fn);
    return () => this.#subscribers.delete(fn);
  }
}
