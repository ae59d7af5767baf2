/** `ipsec reload`: re-read the configuration without dropping unaffected SAs. */
import { resolve } from "node:path";
import type { Json } from "../../lib/daemon/control_protocol.ts";
import {
  callDaemon,
  defineCommand,
  io,
  JSON_OPTION,
  printJson,
  SOCKET_HELP,
  SOCKET_OPTION,
  socketPath,
} from "./_common.ts";
import type { Command } from "./mod.ts";

const USAGE = `usage: ipsec reload [--config FILE] [--json] [--socket PATH]

Validates the configuration first: a broken file changes nothing (exit 6 and
the error with file:line:column). Otherwise SAs of removed or changed
connections are deleted, unchanged ones stay up, and new connections with
start_action=start are initiated.

options:
  -c, --config FILE   load FILE instead of the file the daemon started with
  -j, --json          print the daemon's JSON answer
${SOCKET_HELP}`;

function names(x: Json | undefined): string {
  return Array.isArray(x) && x.length > 0 ? x.join(", ") : "none";
}

/** The `reload` subcommand. */
export const command: Command = defineCommand({
  name: "reload",
  summary: "reload the configuration (validated first)",
  usage: USAGE,
  options: {
    ...SOCKET_OPTION,
    ...JSON_OPTION,
    config: { type: "string", short: "c" },
  },
}, async ({ values }) => {
  const req: { [k: string]: Json } = {};
  if (values.config) req.config = resolve(values.config);
  const data = await callDaemon(socketPath(values.socket), "reload", req);
  if (values.json) {
    printJson(data);
  } else {
    const d = typeof data === "object" && data !== null && !Array.isArray(data) ? data : {};
    io.out(
      `reloaded ${String(d.config)}: added ${names(d.added)}; changed ${
        names(d.changed)
      }; removed ${names(d.removed)}`,
    );
  }
  return 0;
});
