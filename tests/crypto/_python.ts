/**
 * Test helper: runs a python3 script (an independent oracle such as
 * pyca/cryptography) with a JSON document on stdin and returns the JSON it
 * prints. Fails the test with python's stderr when the script fails.
 *
 * @module
 */
import assert from "node:assert/strict";

/** Runs `script` with `/usr/bin/python3 -c`, feeding `input` as JSON. */
export async function runPythonJson(script: string, input: unknown): Promise<unknown> {
  const p = new Deno.Command("/usr/bin/python3", {
    args: ["-c", script],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = p.stdin.getWriter();
  await w.write(new TextEncoder().encode(JSON.stringify(input)));
  await w.close();
  const out = await p.output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}
