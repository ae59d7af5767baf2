/**
 * `ipsec up NAME`: establish a connection and wait for its child SA. With
 * --config and no daemon running, starts the daemon in this process first
 * and stays in the foreground (road-warrior shortcut: one command brings a
 * client up; Ctrl-C takes it down).
 *
 * @module
 */
import { resolve } from "node:path";
import type { Json } from "../../lib/daemon/control_protocol.ts";
import { ConfigLoadError } from "../../lib/daemon/ports.ts";
import {
  callDaemon,
  CHILD_TIMEOUT_OPTIONS,
  connectionRequest,
  daemonRunning,
  defineCommand,
  EXIT,
  io,
  JSON_OPTION,
  printJson,
  SOCKET_HELP,
  SOCKET_OPTION,
  socketPath,
} from "./_common.ts";
import type { Command } from "./mod.ts";

const USAGE = `usage: ipsec up NAME [--child CHILD] [--config FILE] [--timeout SECONDS] [--json]

Initiates connection NAME and waits until its child SA is installed.
Exit codes: 0 up, 1 negotiation failed, 3 unknown connection, 4 timeout,
7 no daemon running.

options:
      --child CHILD       bring up only this child (default: every child)
  -c, --config FILE       when no daemon runs: start one in the foreground
                          with FILE, bring NAME up and stay until Ctrl-C
  -t, --timeout SECONDS   how long to wait (default 30)
  -j, --json              print the daemon's JSON answer
${SOCKET_HELP}`;

function describeUp(d: Json): string {
  const o = typeof d === "object" && d !== null && !Array.isArray(d) ? d : {};
  return `connection '${String(o.connection)}' established: child ${String(o.child)}, ` +
    `SPIs in ${String(o.spiIn)} out ${String(o.spiOut)}`;
}

/** The `up` subcommand. */
export const command: Command = defineCommand({
  name: "up",
  summary: "bring a connection up and wait for its child SA",
  usage: USAGE,
  options: {
    ...SOCKET_OPTION,
    ...JSON_OPTION,
    ...CHILD_TIMEOUT_OPTIONS,
    config: { type: "string", short: "c" },
  },
  positionals: { min: 1, max: 1, names: "connection NAME" },
}, async ({ values, positionals }) => {
  const req = connectionRequest(positionals[0], values);
  const socket = resolve(socketPath(values.socket));
  const print = (d: Json) => values.json ? printJson(d) : io.out(describeUp(d));
  if (!values.config || await daemonRunning(socket)) {
    print(await callDaemon(socket, "up", req));
    return 0;
  }
  // Loaded on demand (heavy): only this road-warrior path runs a daemon.
  const { createDefaultRuntime } = await import("../../lib/daemon/runtime.ts");
  const { startForeground } = await import("../../lib/daemon/foreground.ts");
  let daemon;
  try {
    daemon = await startForeground({
      runtime: createDefaultRuntime(),
      configPath: resolve(values.config),
      socketPath: socket,
    });
  } catch (e) {
    if (e instanceof ConfigLoadError) {
      io.err(`ipsec up: ${e.message}`);
      return EXIT.CONFIG;
    }
    throw e;
  }
  try {
    print(await callDaemon(socket, "up", req));
  } catch (e) {
    await daemon.stop();
    throw e;
  }
  io.err("daemon running in the foreground; Ctrl-C or 'ipsec stop' takes the tunnel down");
  await daemon.done;
  return 0;
});
