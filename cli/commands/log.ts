/** `ipsec log`: print the daemon's recent log lines and follow new ones. */
import { ControlClient } from "../../lib/daemon/control_client.ts";
import type { Json } from "../../lib/daemon/control_protocol.ts";
import { formatLogEntry, type LogEntry } from "../../lib/daemon/log_ring.ts";
import {
  defineCommand,
  io,
  JSON_OPTION,
  SOCKET_HELP,
  SOCKET_OPTION,
  socketPath,
  UsageError,
} from "./_common.ts";
import type { Command } from "./mod.ts";

const USAGE = `usage: ipsec log [--lines N] [--no-follow] [--json] [--socket PATH]

Prints the last N lines the daemon logged, then follows new lines until
interrupted (Ctrl-C).

options:
  -n, --lines N       how many past lines to show (default 50)
      --no-follow     print the past lines and exit
  -j, --json          one JSON object per line
${SOCKET_HELP}`;

function isLogEntry(x: Json): x is Json & LogEntry {
  return typeof x === "object" && x !== null && !Array.isArray(x) &&
    typeof x.time === "number" && typeof x.message === "string";
}

/** The `log` subcommand. */
export const command: Command = defineCommand({
  name: "log",
  summary: "show and follow the daemon log",
  usage: USAGE,
  options: {
    ...SOCKET_OPTION,
    ...JSON_OPTION,
    lines: { type: "string", short: "n" },
    "no-follow": { type: "boolean" },
  },
}, async ({ values }) => {
  const lines = Number(values.lines ?? 50);
  if (!Number.isInteger(lines) || lines < 0) {
    throw new UsageError(`--lines must be a non-negative integer, got '${values.lines}'`);
  }
  const c = await ControlClient.connect(socketPath(values.socket));
  try {
    for await (const ev of c.stream("log", { lines, follow: !values["no-follow"] })) {
      if (values.json) io.out(JSON.stringify(ev));
      else if (isLogEntry(ev)) io.out(formatLogEntry(ev));
    }
  } finally {
    c.close();
  }
  return 0;
});
