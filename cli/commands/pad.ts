/** `ipsec pad`: show the Peer Authorization Database. */
import { readCommand } from "./_read_command.ts";
import { renderRows } from "./_render.ts";

/** The `pad` subcommand. */
export const command = readCommand({
  name: "pad",
  summary: "show the Peer Authorization Database",
  request: "pad",
  render: (d) => renderRows(d, "PAD is empty"),
});
