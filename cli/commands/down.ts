/** `ipsec down NAME`: delete the IKE SA(s) of a connection and their children. */
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

const USAGE = `usage: ipsec down NAME [--json] [--socket PATH]

Deletes the IKE SA(s) of connection NAME and all their child SAs (the peer
gets a Delete). Exit code 3 when the connection is unknown or not up.

options:
  -j, --json          print the daemon's JSON answer
${SOCKET_HELP}`;

/** The `down` subcommand. */
export const command: Command = defineCommand({
  name: "down",
  summary: "delete the SAs of a connection",
  usage: USAGE,
  options: {
    ...SOCKET_OPTION,
    ...JSON_OPTION,
  },
  positionals: { min: 1, max: 1, names: "connection NAME" },
}, async ({ values, positionals }) => {
  const data = await callDaemon(socketPath(values.socket), "down", { name: positionals[0] });
  if (values.json) printJson(data);
  else io.out(`connection '${positionals[0]}' closed`);
  return 0;
});
