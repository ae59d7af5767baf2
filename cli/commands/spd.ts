/** `ipsec spd`: show the Security Policy Database (ordered entries). */
import { readCommand } from "./_read_command.ts";
import { renderRows } from "./_render.ts";

/** The `spd` subcommand. */
export const command = readCommand({
  name: "spd",
  summary: "show the Security Policy Database (ordered entries)",
  request: "spd",
  render: (d) => renderRows(d, "SPD is empty"),
});
