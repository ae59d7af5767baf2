/**
 * `ipsec spd`: show the Security Policy Database, ordered as the data plane
 * enforces it; `--decorrelated` shows it as SPD-S, SPD-O and SPD-I (RFC 4301
 * section 4.4.1.3).
 */
import { readCommand } from "./_read_command.ts";
import { renderRows } from "./_render.ts";

/** The `spd` subcommand. */
export const command = readCommand({
  name: "spd",
  summary: "show the Security Policy Database (ordered entries)",
  description: "what the data plane enforces, a gateway's per-client entries included",
  request: "spd",
  flags: [{
    name: "decorrelated",
    short: "d",
    help: "as the decorrelated SPD-S (PROTECT), SPD-O (outbound BYPASS/DISCARD)\n" +
      "                      and SPD-I (inbound BYPASS/DISCARD), RFC 4301 section 4.4.1.3: every\n" +
      "                      entry minus the ones before it, so no two rows overlap",
  }],
  render: (d, flags) =>
    renderRows(d, flags.has("decorrelated") ? "SPD has no decorrelated pieces" : "SPD is empty"),
});
