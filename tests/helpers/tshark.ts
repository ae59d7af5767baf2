/**
 * tshark as a live oracle in tests: captures in a network namespace while
 * a test step runs, and returns what it printed (typically `-T fields`
 * lines). tshark says "Capturing on" a moment before it really captures, so
 * the step starts half a second after that; the capture stops `tailMs`
 * after the step (SIGINT, so tshark flushes what it has).
 *
 * @example
 * ```ts
 * const out = await tsharkDuring(ns, ["-i", "va", "-f", "esp", "-T", "fields", "-e", "esp.spi"],
 *   () => lab.runIn(ns, ["ping", "-c", "3", "10.2.0.1"]));
 * ```
 *
 * @module
 */

/** Runs `during` while `tshark ARGS` captures in `ns`; returns tshark's standard output. */
export async function tsharkDuring(
  ns: string,
  args: readonly string[],
  during: () => Promise<unknown>,
  tailMs = 500,
): Promise<string> {
  const child = new Deno.Command("ip", {
    args: ["netns", "exec", ns, "tshark", ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new Response(child.stdout).text();
  const errReader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let err = "";
  while (!err.includes("Capturing on")) {
    const { value, done } = await errReader.read();
    if (done) {
      await child.status;
      throw new Error(`tshark did not start: ${err}`);
    }
    err += value;
  }
  await new Promise((r) => setTimeout(r, 500));
  try {
    await during();
    await new Promise((r) => setTimeout(r, tailMs));
  } finally {
    child.kill("SIGINT");
  }
  await child.status;
  const out = await stdout;
  await errReader.cancel();
  return out;
}
