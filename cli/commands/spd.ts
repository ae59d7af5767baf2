/**
 * `ipsec spd`: show the Security Policy Database, ordered as the data plane
 * enforces it; `--decorrelated` shows it as SPD-S, SPD-O and SPD-I (RFC 4301
 * section 4.4.1.3).
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
import { renderRows } from "./_render.ts";

const SUMMARY = "show the Security Policy Database (ordered entries)";

const USAGE = `usage: ipsec spd [--decorrelated] [--json] [--socket PATH]

${SUMMARY}: what the data plane enforces, a gateway's per-client entries included.

options:
  -d, --decorrelated  as the decorrelated SPD-S (PROTECT), SPD-O (outbound BYPASS/DISCARD)
                      and SPD-I (inbound BYPASS/DISCARD), RFC 4301 section 4.4.1.3: every
                      entry minus the ones before it, so no two rows overlap
  -j, --json          print the daemon's JSON answer instead of a table
${SOCKET_HELP}`;

/** The `spd` subcommand. */
export const command = defineCommand({
  name: "spd",
  summary: SUMMARY,
  usage: USAGE,
  options: { ...SOCKET_OPTION, ...JSON_OPTION, decorrelated: { type: "boolean", short: "d" } },
}, async ({ values }) => {
  const decorrelated = values.decorrelated === true;
  const data = await callDaemon(
    socketPath(values.socket),
    "spd",
    decorrelated ? { decorrelated } : {},
  );
  if (values.json) printJson(data);
  else io.out(renderRows(data, decorrelated ? "SPD has no decorrelated pieces" : "SPD is empty"));
  return 0;
});
