/**
 * `ipsec version` (also `ipsec --version`): this release, the Deno runtime
 * under it, and the crypto the data plane would use here (the system
 * OpenSSL through FFI, or the portable fallback), like `ipsec version` /
 * `swanctl --version` of strongSwan.
 */
import { loadLibcrypto } from "../../ffi/libcrypto.ts";
import { VERSION } from "../../lib/version.ts";
import { defineCommand, io, JSON_OPTION } from "./_common.ts";
import type { Command } from "./mod.ts";

const USAGE = `usage: ipsec version [--json]

Prints the deno-ipsec release, the Deno runtime and the crypto backend the
data plane uses on this machine.

options:
  -j, --json          as JSON`;

/** OpenSSL_version_num() (0xMNN00PP0L) as "M.NN.PP". */
export function opensslVersion(n: bigint): string {
  const v = Number(n);
  return `${(v >>> 28) & 0xf}.${(v >>> 20) & 0xff}.${(v >>> 4) & 0xff}`;
}

/** The `version` subcommand. */
export const command: Command = defineCommand({
  name: "version",
  summary: "show the deno-ipsec release, Deno runtime and crypto backend",
  usage: USAGE,
  options: { ...JSON_OPTION, help: { type: "boolean", short: "h" } },
}, ({ values }) => {
  const lc = loadLibcrypto();
  const crypto = lc
    ? `libcrypto (OpenSSL ${opensslVersion(lc.version)}) via FFI`
    : "node:crypto and noble (libcrypto.so.3 not found)";
  if (values.json) {
    io.out(JSON.stringify({
      version: VERSION,
      deno: Deno.version.deno,
      v8: Deno.version.v8,
      crypto,
    }));
  } else {
    io.out(`deno-ipsec ${VERSION}`);
    io.out(`Deno ${Deno.version.deno} (V8 ${Deno.version.v8}), ${Deno.build.target}`);
    io.out(`crypto: ${crypto}`);
  }
  return Promise.resolve(0);
});
