/** The table of subcommands; each lives in its own file. */
import { command as down } from "./down.ts";
import { command as listConns } from "./list_conns.ts";
import { command as listPools } from "./list_pools.ts";
import { command as listSas } from "./list_sas.ts";
import { command as log } from "./log.ts";
import { command as pad } from "./pad.ts";
import { command as redirect } from "./redirect.ts";
import { command as rekey } from "./rekey.ts";
import { command as reload } from "./reload.ts";
import { command as sad } from "./sad.ts";
import { command as spd } from "./spd.ts";
import { command as start } from "./start.ts";
import { command as status } from "./status.ts";
import { command as stop } from "./stop.ts";
import { command as up } from "./up.ts";
import { command as version } from "./version.ts";

/** A subcommand: a one-line summary and an entry point returning an exit code. */
export interface Command {
  summary: string;
  run(args: string[]): Promise<number>;
}

/** Every subcommand by name, in the order `ipsec --help` lists them. */
export const COMMANDS: Record<string, Command> = {
  start,
  stop,
  reload,
  up,
  down,
  rekey,
  redirect,
  status,
  "list-sas": listSas,
  "list-conns": listConns,
  "list-pools": listPools,
  // list_certs.ts pulls in the X.509 stack: loaded only when it runs.
  "list-certs": {
    summary: "list loaded certificates and CRLs, and CRLs fetched (like swanctl --list-certs)",
    run: async (args) => (await import("./list_certs.ts")).command.run(args),
  },
  spd,
  sad,
  pad,
  log,
  // pki.ts pulls in the X.509 stack: load it only when `ipsec pki` runs.
  pki: {
    summary: "keys, CAs and certificates (gen, self, issue, print, verify, quickstart)",
    run: async (args) => (await import("./pki.ts")).pkiCommand.run(args),
  },
  version,
};
