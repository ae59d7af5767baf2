/** `ipsec status`: show the daemon and its IKE/child SAs with counters. */
import { readCommand } from "./_read_command.ts";
import { renderStatus } from "./_render.ts";

/** The `status` subcommand. */
export const command = readCommand({
  name: "status",
  summary: "show the daemon and its IKE/child SAs with counters",
  request: "status",
  render: (d) => renderStatus(d),
});
