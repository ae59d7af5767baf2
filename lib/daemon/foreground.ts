/**
 * Running the daemon in this process until it stops: log sink (stderr or a
 * file), SIGINT/SIGTERM handling (clean shutdown: Delete for every SA,
 * routes and TUN removed).
 *
 * @module
 */
import { entryEnabled, formatLogEntry, type LogEntry, type LogLevels } from "./log_ring.ts";
import { Daemon } from "./daemon.ts";
import type { DaemonRuntime } from "./ports.ts";

/** Options of {@link startForeground}. */
export interface ForegroundOptions<P> {
  readonly runtime: DaemonRuntime<P>;
  readonly configPath: string;
  readonly socketPath: string;
  /** Levels per subsystem (default: info for all). */
  readonly logLevels?: LogLevels;
  /** Append log lines to this file instead of stderr. */
  readonly logFile?: string;
  /** One JSON object per line instead of text. */
  readonly logJson?: boolean;
}

/**
 * Starts a daemon in this process and installs signal handlers that stop it.
 * Resolves with the running daemon; `await daemon.done` to wait for the end.
 */
export async function startForeground<P>(opts: ForegroundOptions<P>): Promise<Daemon<P>> {
  let out: { writeSync(b: Uint8Array): number } = Deno.stderr;
  let file: Deno.FsFile | undefined;
  if (opts.logFile) {
    file = await Deno.open(opts.logFile, { append: true, create: true, mode: 0o600 });
    out = file;
  }
  // Lines of one turn of the event loop leave in one write (a busy responder
  // logs several lines per handshake; a write each was ~5% of its time).
  const enc = new TextEncoder();
  let pending: string[] = [];
  const flush = () => {
    const text = pending.join("\n") + "\n";
    pending = [];
    try {
      const bytes = enc.encode(text);
      for (let o = 0; o < bytes.length;) o += out.writeSync(bytes.subarray(o));
    } catch { /* a log line must never stop the daemon */ }
  };
  const write = (line: string) => {
    if (pending.push(line) === 1) queueMicrotask(flush);
  };
  const levels = opts.logLevels ?? { default: "info", subsystems: {} };
  const sink = (e: LogEntry) => {
    if (!entryEnabled(e, levels)) return;
    write(
      opts.logJson
        ? JSON.stringify({ ...e, time: new Date(e.time).toISOString() })
        : formatLogEntry(e),
    );
  };
  let daemon: Daemon<P>;
  try {
    daemon = await Daemon.start({
      runtime: opts.runtime,
      configPath: opts.configPath,
      socketPath: opts.socketPath,
      logSink: sink,
    });
  } catch (e) {
    if (pending.length > 0) flush();
    file?.close();
    throw e;
  }
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  const onSignal = () => void daemon.stop();
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  void daemon.done.finally(() => {
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
    if (pending.length > 0) flush();
    file?.close();
  });
  return daemon;
}
