/**
 * Shared plumbing of the `ipsec` subcommands: argument parsing with
 * node:util parseArgs, the control socket path, error-to-exit-code mapping
 * and output (replaceable in tests through {@link io}).
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ControlClient, DaemonNotRunning } from "../../lib/daemon/control_client.ts";
import {
  CONTROL_ERROR_EXIT,
  ControlError,
  DEFAULT_CONTROL_SOCKET,
  type Json,
} from "../../lib/daemon/control_protocol.ts";

/** Exit codes of the CLI (control errors map through CONTROL_ERROR_EXIT). */
export const EXIT = {
  OK: 0,
  FAILED: CONTROL_ERROR_EXIT.FAILED,
  USAGE: CONTROL_ERROR_EXIT.BAD_REQUEST,
  NOT_FOUND: CONTROL_ERROR_EXIT.NOT_FOUND,
  TIMEOUT: CONTROL_ERROR_EXIT.TIMEOUT,
  VERSION: CONTROL_ERROR_EXIT.VERSION,
  CONFIG: CONTROL_ERROR_EXIT.CONFIG,
  NOT_RUNNING: 7,
} as const;

/** Where command output goes; tests swap these to capture it. */
export const io = {
  out: (s: string): void => console.log(s),
  err: (s: string): void => console.error(s),
};

/** The default config file of `ipsec start`. */
export const DEFAULT_CONFIG = "/etc/ipsec/ipsec.yaml";

/** Options every daemon-talking command accepts. */
export const SOCKET_OPTION = {
  socket: { type: "string", short: "s" },
  help: { type: "boolean", short: "h" },
} as const satisfies ParseArgsConfig["options"];

/** `--json` for read commands. */
export const JSON_OPTION = {
  json: { type: "boolean", short: "j" },
} as const satisfies ParseArgsConfig["options"];

/** The usage text appended to every command's help. */
export const SOCKET_HELP =
  `  -s, --socket PATH   control socket (default $IPSEC_SOCKET or ${DEFAULT_CONTROL_SOCKET})
  -h, --help          show this help`;

/** A mistake on the command line: printed with a hint to --help, exit 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** A `--timeout SECONDS` value: `fallback` when absent; a usage error unless positive. */
export function timeoutSeconds(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const t = Number(value);
  if (!(t > 0) || !Number.isFinite(t)) {
    throw new UsageError(`--timeout must be a positive number of seconds, got '${value}'`);
  }
  return t;
}

/** `--child CHILD` and `--timeout SECONDS` of the commands that act on one connection. */
export const CHILD_TIMEOUT_OPTIONS = {
  child: { type: "string" },
  timeout: { type: "string", short: "t" },
} as const satisfies ParseArgsConfig["options"];

/** The daemon request naming connection `name`, with `--child` and `--timeout` if given. */
export function connectionRequest(
  name: string,
  values: { child?: string; timeout?: string },
): { [k: string]: Json } {
  const req: { [k: string]: Json } = { name };
  if (values.child) req.child = values.child;
  if (values.timeout !== undefined) req.timeoutSeconds = timeoutSeconds(values.timeout, 30);
  return req;
}

/** The control socket: --socket, else $IPSEC_SOCKET, else the default. */
export function socketPath(flag: string | undefined): string {
  if (flag) return flag;
  try {
    const env = Deno.env.get("IPSEC_SOCKET");
    if (env) return env;
  } catch { /* no env permission: use the default */ }
  return DEFAULT_CONTROL_SOCKET;
}

/** Parsed arguments of one command. */
export interface Parsed<O extends ParseArgsConfig["options"]> {
  values: ReturnType<typeof parseArgs<{ options: O; allowPositionals: true; strict: true }>>[
    "values"
  ];
  positionals: string[];
}

/**
 * Parses `args` for command `name`; throws {@link UsageError} on unknown
 * options or a wrong number of positionals.
 */
export function parseCommand<O extends NonNullable<ParseArgsConfig["options"]>>(
  name: string,
  args: string[],
  options: O,
  positionals: { min: number; max: number; names: string } = { min: 0, max: 0, names: "" },
): Parsed<O> {
  let r;
  try {
    r = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const help = (r.values as Record<string, unknown>).help === true;
  if (!help && r.positionals.length < positionals.min) {
    throw new UsageError(`missing ${positionals.names}`);
  }
  if (r.positionals.length > positionals.max) {
    throw new UsageError(
      `unexpected argument '${r.positionals[positionals.max]}'` +
        (positionals.max === 0 ? ` ('ipsec ${name}' takes no arguments)` : ""),
    );
  }
  return { values: r.values, positionals: r.positionals };
}

/**
 * Runs a command body and turns errors into messages and exit codes:
 * usage 2, not found 3, timeout 4, version 5, config 6, daemon not running 7.
 */
export async function guard(name: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`ipsec ${name}: ${e.message}\n(see 'ipsec ${name} --help')`);
      return EXIT.USAGE;
    }
    if (e instanceof DaemonNotRunning) {
      io.err(`ipsec ${name}: ${e.message}`);
      return EXIT.NOT_RUNNING;
    }
    if (e instanceof ControlError) {
      io.err(`ipsec ${name}: ${e.message}`);
      return CONTROL_ERROR_EXIT[e.code] ?? EXIT.FAILED;
    }
    if (e instanceof Deno.errors.PermissionDenied) {
      io.err(`ipsec ${name}: permission denied: ${e.message} (run as root?)`);
      return EXIT.FAILED;
    }
    io.err(`ipsec ${name}: ${e instanceof Error ? e.message : String(e)}`);
    return EXIT.FAILED;
  }
}

/** Connects, sends one command and closes. */
export async function callDaemon(
  socket: string,
  cmd: Parameters<ControlClient["call"]>[0],
  args: { [k: string]: Json } = {},
): Promise<Json> {
  const c = await ControlClient.connect(socket);
  try {
    return await c.call(cmd, args);
  } finally {
    c.close();
  }
}

/** True when a daemon answers `ping` on `socket`. */
export async function daemonRunning(socket: string): Promise<boolean> {
  try {
    await callDaemon(socket, "ping");
    return true;
  } catch {
    return false;
  }
}

/** Prints JSON data (for `--json`). */
export function printJson(data: Json): void {
  io.out(JSON.stringify(data, null, 2));
}

/** What {@link defineCommand} needs besides the body. */
export interface CommandSpec<O extends NonNullable<ParseArgsConfig["options"]>> {
  readonly name: string;
  readonly summary: string;
  /** Full `--help` text. */
  readonly usage: string;
  readonly options: O;
  readonly positionals?: { min: number; max: number; names: string };
}

/**
 * A subcommand with the shared plumbing: parse (usage errors exit 2), print
 * `usage` for `--help`, map errors to exit codes ({@link guard}).
 *
 * @example
 * ```ts
 * export const command = defineCommand(
 *   { name: "stop", summary: "stop the daemon", usage: USAGE, options: SOCKET_OPTION },
 *   async ({ values }) => (await callDaemon(socketPath(values.socket), "stop"), 0),
 * );
 * ```
 */
export function defineCommand<O extends NonNullable<ParseArgsConfig["options"]>>(
  spec: CommandSpec<O>,
  body: (parsed: Parsed<O>) => Promise<number>,
): { summary: string; run(args: string[]): Promise<number> } {
  return {
    summary: spec.summary,
    run: (args) =>
      guard(spec.name, async () => {
        const parsed = parseCommand(spec.name, args, spec.options, spec.positionals);
        if ((parsed.values as Record<string, unknown>).help === true) {
          io.out(spec.usage);
          return 0;
        }
        return await body(parsed);
      }),
  };
}
