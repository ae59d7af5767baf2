/**
 * `ipsec start`: run the daemon. With --foreground it runs in this process
 * until SIGINT/SIGTERM or `ipsec stop`; otherwise it re-executes itself
 * detached and returns once the control socket answers.
 *
 * @module
 */
import { resolve } from "node:path";
import { delay } from "../../lib/daemon/_delay.ts";
import { DAEMON_PERMISSIONS } from "../../lib/daemon/permissions.ts";
import { ConfigLoadError } from "../../lib/daemon/ports.ts";
import { LogLevelError, type LogLevels, parseLogLevels } from "../../lib/daemon/log_ring.ts";
import {
  daemonRunning,
  DEFAULT_CONFIG,
  defineCommand,
  EXIT,
  io,
  SOCKET_HELP,
  SOCKET_OPTION,
  socketPath,
  timeoutSeconds,
  UsageError,
} from "./_common.ts";
import type { Command } from "./mod.ts";

const USAGE = `usage: ipsec start [--config FILE] [--foreground] [--socket PATH]

Starts the IKE daemon. The configuration is validated first: a broken file
starts nothing (exit 6, with file:line:column).

options:
  -c, --config FILE     configuration (default ${DEFAULT_CONFIG})
  -f, --foreground      stay in the foreground and log to stderr
      --log-level SPEC  error, warn, info (default) or debug, optionally per
                        subsystem: ike=debug,knl=warn,info (dmn ike cfg net esp knl)
      --log-json        log one JSON object per line
      --log-file FILE   append log lines to FILE (background default:
                        ipsec.log next to the control socket)
  -t, --timeout SECONDS how long to wait for a background daemon (default 15)
${SOCKET_HELP}`;

/**
 * The command line that runs this same CLI again: the compiled binary, or
 * `deno run <perms> <script>` when running from source or the bundle.
 */
export function selfCommand(): { cmd: string; args: string[] } {
  const exe = Deno.execPath();
  const main = Deno.mainModule;
  const isDeno = /(^|\/)deno$/.test(exe);
  if (!isDeno || !main.startsWith("file:")) return { cmd: exe, args: [] };
  return { cmd: exe, args: ["run", ...DAEMON_PERMISSIONS, new URL(main).pathname] };
}

function parseLevel(s: string | undefined): LogLevels | undefined {
  if (s === undefined) return undefined;
  try {
    return parseLogLevels(s);
  } catch (e) {
    if (e instanceof LogLevelError) throw new UsageError(`--log-level: ${e.message}`);
    throw e;
  }
}

async function tail(path: string, lines: number): Promise<string> {
  try {
    return (await Deno.readTextFile(path)).trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

/** The `start` subcommand. */
export const command: Command = defineCommand({
  name: "start",
  summary: "start the daemon (--foreground to stay attached)",
  usage: USAGE,
  options: {
    ...SOCKET_OPTION,
    config: { type: "string", short: "c" },
    foreground: { type: "boolean", short: "f" },
    "log-level": { type: "string" },
    "log-json": { type: "boolean" },
    "log-file": { type: "string" },
    timeout: { type: "string", short: "t" },
  },
}, async ({ values }) => {
  const socket = resolve(socketPath(values.socket));
  const config = resolve(values.config ?? DEFAULT_CONFIG);
  const logLevels = parseLevel(values["log-level"]);
  const wait = timeoutSeconds(values.timeout, 15);
  if (await daemonRunning(socket)) {
    io.err(`ipsec start: a daemon is already running on ${socket} ('ipsec stop' first)`);
    return EXIT.FAILED;
  }
  // Loaded on demand: the engine, config and data plane modules take a
  // while to load, and the other commands never need them.
  const { createDefaultRuntime } = await import("../../lib/daemon/runtime.ts");
  const { startForeground } = await import("../../lib/daemon/foreground.ts");
  const runtime = createDefaultRuntime();
  try {
    if (values.foreground) {
      const d = await startForeground({
        runtime,
        configPath: config,
        socketPath: socket,
        logLevels,
        logJson: values["log-json"],
        logFile: values["log-file"],
      });
      await d.done;
      return 0;
    }
    await runtime.loadConfig(config);
  } catch (e) {
    if (e instanceof ConfigLoadError) {
      io.err(`ipsec start: ${e.message}`);
      return EXIT.CONFIG;
    }
    throw e;
  }
  return await startDetached(socket, config, values, wait);
});

async function startDetached(
  socket: string,
  config: string,
  values: { "log-level"?: string; "log-file"?: string; "log-json"?: boolean },
  waitSeconds: number,
): Promise<number> {
  const logFile = resolve(
    values["log-file"] ?? `${socket.slice(0, socket.lastIndexOf("/"))}/ipsec.log`,
  );
  await Deno.mkdir(logFile.slice(0, logFile.lastIndexOf("/")), { recursive: true, mode: 0o700 });
  const self = selfCommand();
  const args = [
    ...self.args,
    "start",
    "--foreground",
    "--config",
    config,
    "--socket",
    socket,
    "--log-file",
    logFile,
  ];
  if (values["log-level"]) args.push("--log-level", values["log-level"]);
  if (values["log-json"]) args.push("--log-json");
  const child = new Deno.Command(self.cmd, {
    args,
    detached: true,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const seen: { exit?: Deno.CommandStatus } = {};
  void child.status.then((s) => seen.exit = s);
  child.unref();
  const deadline = Date.now() + waitSeconds * 1000;
  while (!(await daemonRunning(socket))) {
    if (seen.exit) {
      io.err(
        `ipsec start: the daemon exited with code ${seen.exit.code}; its log ends with:\n` +
          (await tail(logFile, 20)),
      );
      return EXIT.FAILED;
    }
    if (Date.now() > deadline) {
      io.err(
        `ipsec start: the daemon (pid ${child.pid}) did not answer on ${socket} within ` +
          `${waitSeconds} s; see ${logFile}`,
      );
      return EXIT.TIMEOUT;
    }
    await delay(100);
  }
  io.out(`ipsec daemon started (pid ${child.pid}), control socket ${socket}, log ${logFile}`);
  return 0;
}
