/** `ipsec stop`: delete every SA and stop the daemon. */
import { delay } from "../../lib/daemon/_delay.ts";
import {
  callDaemon,
  daemonRunning,
  defineCommand,
  io,
  SOCKET_HELP,
  SOCKET_OPTION,
  socketPath,
  timeoutSeconds,
} from "./_common.ts";
import type { Command } from "./mod.ts";

const USAGE = `usage: ipsec stop [--timeout SECONDS] [--socket PATH]

Sends Delete for every SA, removes routes, addresses and the TUN, and waits
until the daemon is gone (exit 4 if it still answers after --timeout).

options:
  -t, --timeout SECONDS  how long to wait (default 15)
${SOCKET_HELP}`;

/** The `stop` subcommand. */
export const command: Command = defineCommand({
  name: "stop",
  summary: "stop the daemon (Delete for every SA, routes removed)",
  usage: USAGE,
  options: {
    ...SOCKET_OPTION,
    timeout: { type: "string", short: "t" },
  },
}, async ({ values }) => {
  const socket = socketPath(values.socket);
  const wait = timeoutSeconds(values.timeout, 15);
  const data = await callDaemon(socket, "stop");
  const pid = typeof data === "object" && data !== null && !Array.isArray(data)
    ? data.pid
    : undefined;
  const deadline = Date.now() + wait * 1000;
  while (await daemonRunning(socket)) {
    if (Date.now() > deadline) {
      io.err(`ipsec stop: daemon (pid ${String(pid)}) still answers on ${socket}`);
      return 4;
    }
    await delay(100);
  }
  io.out(`ipsec daemon (pid ${String(pid)}) stopped`);
  return 0;
});
