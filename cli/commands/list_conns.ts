/** `ipsec list-conns`: list configured connections and their children. */
import { readCommand } from "./_read_command.ts";
import { renderConnections } from "./_render.ts";

/** The `list-conns` subcommand. */
export const command = readCommand({
  name: "list-conns",
  summary: "list configured connections and their children",
  request: "list-conns",
  render: renderConnections,
});
