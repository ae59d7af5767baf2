/**
 * `deno task bench`: runs every benchmark script in tests/bench/ one after the
 * other (each prints its own table). Speed is measured here, never asserted
 * in tests.
 *
 * @module
 */
const dir = new URL("./", import.meta.url).pathname;
const only = Deno.args[0];
const scripts: string[] = [];
for await (const e of Deno.readDir(dir)) {
  if (e.isFile && e.name.endsWith("_bench.ts") && (!only || e.name.startsWith(only))) {
    scripts.push(e.name);
  }
}
scripts.sort();
let failed = 0;
for (const s of scripts) {
  console.log(`\n=== ${s} ===`);
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${dir}${s}`],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!r.success) {
    failed++;
    console.log(`${s} failed with exit code ${r.code}`);
  }
}
Deno.exit(failed ? 1 : 0);
