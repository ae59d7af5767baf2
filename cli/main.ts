/**
 * The `ipsec` command line: dispatches to one file per subcommand in
 * `cli/commands/`. Each command exports `run(args: string[]): Promise<number>`
 * returning the process exit code.
 *
 * @module
 */
import { COMMANDS } from "./commands/mod.ts";
import { io } from "./commands/_common.ts";
import { DEFAULT_CONTROL_SOCKET } from "../lib/daemon/control_protocol.ts";
// The npm packages that only lazily imported commands load (the daemon, pki),
// named here so that Deno resolves them from deno.lock when it builds this
// module's graph: without them, each dynamic import made Deno fetch their
// registry metadata again (a "Download" line on stderr per package, per run).
// Type-only: nothing of them is loaded until a command needs it.
import type {} from "yaml";
import type {} from "@peculiar/x509";
import type {} from "reflect-metadata";

const USAGE = `usage: ipsec <command> [options]

commands:
${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(12)} ${c.summary}`).join("\n")}

Run 'ipsec <command> --help' for a command's options.

The control socket is --socket PATH, else $IPSEC_SOCKET, else ${DEFAULT_CONTROL_SOCKET}.
Exit codes: 0 ok, 1 failed, 2 usage, 3 not found, 4 timeout, 5 protocol version,
6 configuration error, 7 no daemon running.`;

/** Runs the CLI with `args` and returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    io.out(USAGE);
    return name ? 0 : 2;
  }
  const cmd = COMMANDS[name === "--version" || name === "-V" ? "version" : name];
  if (!cmd) {
    io.err(`ipsec: unknown command '${name}'\n\n${USAGE}`);
    return 2;
  }
  return await cmd.run(rest);
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
