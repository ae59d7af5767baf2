/**
 * `ipsec redirect NAME --gateway ADDRESS`: a gateway sends the clients of a
 * connection to another gateway (RFC 5685, as `swanctl --redirect`).
 *
 * @module
 */
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

const USAGE = `usage: ipsec redirect NAME --gateway ADDRESS [--json]

Sends every client IKE SA of connection NAME an INFORMATIONAL with
N(REDIRECT) naming ADDRESS (RFC 5685): each client that follows redirects
brings up a new IKE SA with that gateway and then deletes the one with us.
Exit codes: 0 sent, 1 failed, 2 usage, 3 unknown connection or no client
IKE SA, 7 no daemon running.

options:
  -g, --gateway ADDRESS   the gateway's IPv4 or IPv6 address, or DNS name (sent as an FQDN)
  -j, --json              print the daemon's JSON answer
${SOCKET_HELP}`;

/** The `redirect` subcommand. */
export const command: Command = defineCommand({
  name: "redirect",
  summary: "send a connection's clients to another gateway (RFC 5685)",
  usage: USAGE,
  options: {
    ...SOCKET_OPTION,
    ...JSON_OPTION,
    gateway: { type: "string", short: "g" },
  },
  positionals: { min: 1, max: 1, names: "connection NAME" },
}, async ({ values, positionals }) => {
  if (typeof values.gateway !== "string") {
    io.err(`ipsec redirect: --gateway ADDRESS is required\n\n${USAGE}`);
    return 2;
  }
  const data = await callDaemon(socketPath(values.socket), "redirect", {
    name: positionals[0],
    gateway: values.gateway,
  });
  if (values.json) printJson(data);
  else {
    const n = typeof data === "object" && data !== null && "redirected" in data
      ? data.redirected
      : 0;
    io.out(`redirected ${n} IKE SA(s) of '${positionals[0]}' to ${values.gateway}`);
  }
  return 0;
});
