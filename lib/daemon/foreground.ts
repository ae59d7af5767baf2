/**
 * Running the daemon in this process until it stops: log sink (stderr or a
 * file), SIGINT/SIGTERM handling (clean shutdown: Delete for every SA,
 * routes and TUN removed), SIGHUP (reload the configuration file).
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
 * Log lines to a file or stderr, written once per turn of the event loop (a
 * busy responder logs several lines per handshake; a write each was ~5% of
 * its time). A write error never reaches the daemon. Once the reader of a
 * pipe is gone (BrokenPipe) every later write would fail the same way, so
 * the writer closes and drops lines instead of trying (and building an
 * error) again each time.
 */
export class LineWriter {
  readonly #out: { writeSync(b: Uint8Array): number };
  readonly #enc = new TextEncoder();
  #pending: string[] = [];
  #closed = false;

  constructor(out: { writeSync(b: Uint8Array): number }) {
    this.#out = out;
  }

  /** True once the output is gone (lines are dropped). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Queues one line (without its newline); it leaves at the end of this turn. */
  write(line: string): void {
    if (this.#closed) return;
    if (this.#pending.push(line) === 1) queueMicrotask(() => this.flush());
  }

  /** Writes the queued lines now. */
  flush(): void {
    if (this.#pending.length === 0) return;
    const text = this.#pending.join("\n") + "\n";
    this.#pending = [];
    if (this.#closed) return;
    try {
      const bytes = this.#enc.encode(text);
      for (let o = 0; o < bytes.length;) o += this.#out.writeSync(bytes.subarray(o));
    } catch (e) {
      if (e instanceof Deno.errors.BrokenPipe) this.#closed = true;
    }
  }
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
  const lines = new LineWriter(out);
  const levels = opts.logLevels ?? { default: "info", subsystems: {} };
  const sink = (e: LogEntry) => {
    if (lines.closed || !entryEnabled(e, levels)) return;
    lines.write(
      opts.logJson
        ? JSON.stringify({ ...e, time: new Date(e.time).toISOString() })
        : formatLogEntry(e),
    );
  };
  // What ends the process goes to the log too: a detached daemon (ipsec start)
  // has no stderr, and `ipsec start` shows the log's last lines when it dies.
  const fatal = (what: string, e: unknown, stack = true) => {
    const text = e instanceof Error ? (stack && e.stack ? e.stack : e.message) : String(e);
    sink({ time: Date.now(), level: "error", subsystem: "dmn", message: `${what}: ${text}` });
    lines.flush();
  };
  const onRejection = (ev: PromiseRejectionEvent) => fatal("unhandled rejection", ev.reason);
  const onError = (ev: ErrorEvent) => fatal("uncaught exception", ev.error ?? ev.message);
  globalThis.addEventListener("unhandledrejection", onRejection);
  globalThis.addEventListener("error", onError);
  const unhook = () => {
    globalThis.removeEventListener("unhandledrejection", onRejection);
    globalThis.removeEventListener("error", onError);
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
    // On stderr the CLI reports it already (e.g. a configuration error).
    if (file) fatal("the daemon did not start", e, false);
    unhook();
    file?.close();
    throw e;
  }
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  const onSignal = () => void daemon.stop();
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  // SIGHUP reloads the configuration (as `ipsec reload`; systemd's ExecReload=kill -HUP).
  const onHup = () => void daemon.reload();
  Deno.addSignalListener("SIGHUP", onHup);
  void daemon.done.finally(() => {
    Deno.removeSignalListener("SIGHUP", onHup);
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
    unhook();
    lines.flush();
    file?.close();
  });
  return daemon;
}
