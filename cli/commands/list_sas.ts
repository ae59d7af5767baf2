/** `ipsec list-sas`: list IKE SAs and child SAs (like swanctl --list-sas). */
import { readCommand } from "./_read_command.ts";
import { renderIkeSas } from "./_render.ts";

/** The `list-sas` subcommand. */
export const command = readCommand({
  name: "list-sas",
  summary: "list IKE SAs and child SAs (like swanctl --list-sas)",
  request: "list-sas",
  render: (d) => renderIkeSas(d),
});
