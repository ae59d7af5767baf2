/**
 * The `openssl` command line, an independent implementation for test inputs.
 *
 * @example
 * ```ts
 * const key = await openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout");
 * ```
 *
 * @module
 */

/** Runs `openssl args...`; returns its stdout, throws with its stderr when it fails. */
export async function openssl(...args: string[]): Promise<Uint8Array> {
  const r = await new Deno.Command("openssl", { args, stdout: "piped", stderr: "piped" }).output();
  if (r.code !== 0) {
    throw new Error(`openssl ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
  }
  return r.stdout;
}
