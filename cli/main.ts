/**
 * The `ipsec` command line: dispatches to one file per subcommand in
 * `cli/commands/`. Each command exports `run(args: string[]): Promise<number>`
 * returning the process exit code.
 *
 * @module
 */
import { COMMANDS } from "./commands/mod.ts";

const USAGE = `usage: ipsec <command> [options]

commands:
${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(12)} ${c.summary}`).join("\n")}

Run 'ipsec <command> --help' for a command's options.`;

/** Runs the CLI with `args` and returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(USAGE);
    return name ? 0 : 2;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    console.error(`ipsec: unknown command '${name}'\n\n${USAGE}`);
    return 2;
  }
  return await cmd.run(rest);
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
