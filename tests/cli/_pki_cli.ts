/**
 * Test helper: runs `ipsec pki ...` in-process with console output captured
 * (tests/cli/pki_test.ts, tests/cli/pkcs12_test.ts).
 *
 * @module
 */
import assert from "node:assert/strict";
import { run } from "../../cli/commands/pki.ts";

/** Exit code and captured output of one `ipsec pki` run. */
export interface CliResult {
  code: number;
  out: string;
  err: string;
}

/** Runs `ipsec pki ...args` in-process, capturing console output. */
export async function cli(...args: string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (...a: unknown[]) => out.push(a.join(" "));
  console.error = (...a: unknown[]) => err.push(a.join(" "));
  try {
    const code = await run(args);
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

/** {@link cli}, failing the test unless it exits 0. */
export async function ok(...args: string[]): Promise<CliResult> {
  const r = await cli(...args);
  assert.equal(r.code, 0, `ipsec pki ${args.join(" ")}: ${r.err}`);
  return r;
}
