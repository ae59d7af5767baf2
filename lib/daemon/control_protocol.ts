/**
 * The control protocol between `ipsec` commands and the daemon: newline-
 * delimited JSON over a Unix socket (mode 0600). Every message carries the
 * protocol version; a daemon answers a request of another major version with
 * an error instead of guessing.
 *
 * ```
 * client -> daemon  {"v":1,"id":7,"cmd":"up","args":{"name":"site-a"}}
 * daemon -> client  {"v":1,"id":7,"ok":true,"data":{...}}
 * daemon -> client  {"v":1,"id":7,"ok":false,"error":{"code":"NOT_FOUND","message":"..."}}
 * ```
 * Streaming commands (`log`) answer with several `{"v":1,"id":7,"event":...}`
 * lines until the client closes the connection.
 *
 * @module
 */

/** Protocol version spoken by this build. */
export const CONTROL_PROTOCOL_VERSION = 1;

/** Where the daemon listens unless configured otherwise. */
export const DEFAULT_CONTROL_SOCKET = "/run/ipsec/ipsec.sock";

/** The commands the daemon understands. */
export const CONTROL_COMMANDS = [
  "ping",
  "status",
  "list-sas",
  "list-conns",
  "list-pools",
  "list-certs",
  "spd",
  "sad",
  "pad",
  "up",
  "down",
  "rekey",
  "redirect",
  "reload",
  "stop",
  "log",
] as const;
export type ControlCommand = typeof CONTROL_COMMANDS[number];

/** JSON values carried by the protocol. */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface ControlRequest {
  v: number;
  id: number;
  cmd: ControlCommand;
  args: { [k: string]: Json };
}

/** Error codes, each mapped to a CLI exit code. */
export const CONTROL_ERROR_EXIT = {
  BAD_REQUEST: 2,
  NOT_FOUND: 3,
  FAILED: 1,
  TIMEOUT: 4,
  VERSION: 5,
  CONFIG: 6,
} as const;
export type ControlErrorCode = keyof typeof CONTROL_ERROR_EXIT;

export type ControlResponse =
  | { v: number; id: number; ok: true; data: Json }
  | { v: number; id: number; ok: false; error: { code: ControlErrorCode; message: string } }
  | { v: number; id: number; event: Json };

/** Raised by a command handler to send a typed error back to the client. */
export class ControlError extends Error {
  override readonly name = "ControlError";
  readonly code: ControlErrorCode;
  constructor(code: ControlErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/**
 * Validates one decoded JSON line as a request. Throws {@link ControlError}
 * with BAD_REQUEST or VERSION explaining what is wrong.
 */
export function parseControlRequest(line: string): ControlRequest {
  let x: unknown;
  try {
    x = JSON.parse(line);
  } catch {
    throw new ControlError("BAD_REQUEST", "request is not valid JSON");
  }
  if (!isObject(x)) throw new ControlError("BAD_REQUEST", "request must be a JSON object");
  if (x.v !== CONTROL_PROTOCOL_VERSION) {
    throw new ControlError(
      "VERSION",
      `control protocol version ${
        String(x.v)
      } not supported (daemon speaks ${CONTROL_PROTOCOL_VERSION})`,
    );
  }
  if (typeof x.id !== "number" || !Number.isInteger(x.id)) {
    throw new ControlError("BAD_REQUEST", "request id must be an integer");
  }
  if (typeof x.cmd !== "string" || !(CONTROL_COMMANDS as readonly string[]).includes(x.cmd)) {
    throw new ControlError("BAD_REQUEST", `unknown command '${String(x.cmd)}'`);
  }
  const args = x.args === undefined ? {} : x.args;
  if (!isObject(args)) throw new ControlError("BAD_REQUEST", "args must be an object");
  return { v: x.v, id: x.id, cmd: x.cmd as ControlCommand, args: args as { [k: string]: Json } };
}
