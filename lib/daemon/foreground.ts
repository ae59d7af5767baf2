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
  let write: (line: string) => void = (line) => console.error(line);
  let file: Deno.FsFile | undefined;
  if (opts.logFile) {
    file = await Deno.open(opts.logFile, { append: true, create: true, mode: 0o600 });
    const enc = new TextEncoder();
    const f = file;
    write = (line) => {
      try {
        f.writeSync(enc.encode(line + "\n"));
      } catch { /* a log line must never stop the daemon */ }
    };
  }
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
    file?.close();
    throw e;
  }
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  const onSignal = () => void daemon.stop();
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  void daemon.done.finally(() => {
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
    file?.close();
  });
  return daemon;
}
