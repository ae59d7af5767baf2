/**
 * The shape shared by the read-only subcommands (`status`, `list-sas`,
 * `list-conns`, `spd`, `sad`, `pad`): ask the daemon, print a table or
 * `--json`.
 *
 * @module
 */
import type { ControlCommand, Json } from "../../lib/daemon/control_protocol.ts";
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

/** What a read command asks and how it prints the answer. */
export interface ReadCommandSpec {
  readonly name: string;
  readonly summary: string;
  readonly request: ControlCommand;
  readonly render: (data: Json) => string;
}

/** Builds a {@link Command} that queries the daemon and renders the result. */
export function readCommand(spec: ReadCommandSpec): Command {
  const usage = `usage: ipsec ${spec.name} [--json] [--socket PATH]

${spec.summary}.

options:
  -j, --json          print the daemon's JSON answer instead of a table
${SOCKET_HELP}`;
  return defineCommand({
    name: spec.name,
    summary: spec.summary,
    usage,
    options: { ...SOCKET_OPTION, ...JSON_OPTION },
  }, async ({ values }) => {
    const data = await callDaemon(socketPath(values.socket), spec.request);
    if (values.json) printJson(data);
    else io.out(spec.render(data));
    return 0;
  });
}
