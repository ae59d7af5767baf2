/** The table of subcommands; each lives in its own file. */

/** A subcommand: a one-line summary and an entry point returning an exit code. */
export interface Command {
  summary: string;
  run(args: string[]): Promise<number>;
}

export const COMMANDS: Record<string, Command> = {};
