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

/** A boolean `--flag` of a read command, passed to the daemon as `{ name: true }`. */
export interface ReadFlag {
  readonly name: string;
  readonly short: string;
  /** Help text; continuation lines are indented to the help column. */
  readonly help: string;
}

/** What a read command asks and how it prints the answer. */
export interface ReadCommandSpec {
  readonly name: string;
  readonly summary: string;
  readonly request: ControlCommand;
  /** Prints the answer; `flags` holds the names of the flags given. */
  readonly render: (data: Json, flags: ReadonlySet<string>) => string;
  /** Optional text after the summary in `--help`. */
  readonly description?: string;
  readonly flags?: readonly ReadFlag[];
}

/** Builds a {@link Command} that queries the daemon and renders the result. */
export function readCommand(spec: ReadCommandSpec): Command {
  const flags = spec.flags ?? [];
  const flagUsage = flags.map((f) => `[--${f.name}] `).join("");
  const flagHelp = flags.map((f) => `  -${f.short}, --${f.name.padEnd(14)}${f.help}\n`).join("");
  const usage = `usage: ipsec ${spec.name} ${flagUsage}[--json] [--socket PATH]

${spec.summary}${spec.description ? `: ${spec.description}` : ""}.

options:
${flagHelp}  -j, --json          print the daemon's JSON answer instead of a table
${SOCKET_HELP}`;
  const flagOptions = Object.fromEntries(
    flags.map((f) => [f.name, { type: "boolean" as const, short: f.short }]),
  );
  return defineCommand({
    name: spec.name,
    summary: spec.summary,
    usage,
    options: { ...SOCKET_OPTION, ...JSON_OPTION, ...flagOptions },
  }, async ({ values }) => {
    const given = new Set(
      flags.filter((f) => (values as Record<string, unknown>)[f.name] === true).map((f) => f.name),
    );
    const args = Object.fromEntries([...given].map((n) => [n, true]));
    const data = await callDaemon(socketPath(values.socket), spec.request, args);
    if (values.json) printJson(data);
    else io.out(spec.render(data, given));
    return 0;
  });
}
