/**
 * `ipsec rekey NAME [--child CHILD]`: rekey the IKE SA(s) of a connection,
 * or its child SAs named CHILD, now (as `swanctl --rekey --ike/--child`).
 *
 * @module
 */
import {
  callDaemon,
  CHILD_TIMEOUT_OPTIONS,
  connectionRequest,
  defineCommand,
  io,
  JSON_OPTION,
  printJson,
  SOCKET_HELP,
  SOCKET_OPTION,
  socketPath,
} from "./_common.ts";
import type { Command } from "./mod.ts";

const USAGE = `usage: ipsec rekey NAME [--child CHILD] [--timeout SECONDS] [--json]

Rekeys the IKE SA(s) of connection NAME now (new SPIs and keys; the child
SAs move over), or with --child its child SAs named CHILD (make-before-break),
and waits until each has been replaced. Exit codes: 0 rekeyed, 1 the rekey
failed, 3 unknown connection or nothing up, 4 timeout, 7 no daemon running.

options:
      --child CHILD       rekey these child SAs instead of the IKE SA
  -t, --timeout SECONDS   how long to wait (default 30)
  -j, --json              print the daemon's JSON answer
${SOCKET_HELP}`;

/** The `rekey` subcommand. */
export const command: Command = defineCommand({
  name: "rekey",
  summary: "rekey a connection's IKE SA, or its child SAs, now",
  usage: USAGE,
  options: {
    ...SOCKET_OPTION,
    ...JSON_OPTION,
    ...CHILD_TIMEOUT_OPTIONS,
  },
  positionals: { min: 1, max: 1, names: "connection NAME" },
}, async ({ values, positionals }) => {
  const req = connectionRequest(positionals[0], values);
  const data = await callDaemon(socketPath(values.socket), "rekey", req);
  if (values.json) printJson(data);
  else {
    const what = values.child
      ? `child SA(s) '${values.child}' of '${positionals[0]}'`
      : `'${positionals[0]}'`;
    io.out(`${what} rekeyed`);
  }
  return 0;
});
