/** `ipsec sad`: show the Security Association Database (installed SAs). */
import { readCommand } from "./_read_command.ts";
import { renderSad } from "./_render.ts";

/** The `sad` subcommand. */
export const command = readCommand({
  name: "sad",
  summary: "show the Security Association Database (installed SAs)",
  request: "sad",
  render: renderSad,
});
