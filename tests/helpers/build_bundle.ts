/**
 * `deno task bundle`: bundles the CLI into dist/ipsec.js with `deno bundle`,
 * the data-path Worker into dist/dataplane_worker.js (where
 * lib/dataplane/dataplane.ts `defaultWorkerUrl()` looks for it), and writes
 * dist/ipsec, a small launcher that runs the bundle with the permissions the
 * daemon needs (never --allow-all).
 *
 * Usage: `deno run -A tests/helpers/build_bundle.ts [--out DIR]` (default dist/).
 *
 * Tests that run the bundle as users do (tests/netns/e2e_*_test.ts) call
 * {@linkcode testBundle}: each test module builds its own copy into its own
 * temporary directory, so parallel test files (`deno test --parallel`) never
 * share or race on a half-written bundle. Measured on the 2-core CI machine:
 * one build takes ~3 s wall clock and ~1.3 s CPU, cheap enough that a lock
 * shared between files is not worth its failure modes.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { DAEMON_PERMISSIONS } from "../../lib/daemon/permissions.ts";

const root = new URL("../../", import.meta.url).pathname;

/** Bundles one entry point of the repository into `dir/output`. */
async function bundle(entry: string, dir: string, output: string): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", `${root}${entry}`, "-o", `${dir}/${output}`],
    cwd: root,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`deno bundle ${entry} failed`);
}

/** Builds ipsec.js, dataplane_worker.js and the `ipsec` launcher into `dir`. */
export async function buildBundle(dir: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await bundle("cli/main.ts", dir, "ipsec.js");
  await bundle("lib/dataplane/_worker.ts", dir, "dataplane_worker.js");
  const launcher = `#!/bin/sh
# ipsec launcher: runs the bundled deno-ipsec with the permissions it needs.
here=$(dirname "$(readlink -f "$0")")
exec deno run ${DAEMON_PERMISSIONS.join(" ")} "$here/ipsec.js" "$@"
`;
  await Deno.writeTextFile(`${dir}/ipsec`, launcher, { mode: 0o755 });
}

let shared: Promise<string> | null = null;

/**
 * The `ipsec` launcher of a bundle built for this test module: built once
 * per module (later calls get the same one) into a temporary directory that
 * is deleted when the module unloads.
 *
 * @example
 * ```ts
 * const ipsec = await testBundle();
 * await new Deno.Command(ipsec, { args: ["--help"] }).output();
 * ```
 */
export function testBundle(): Promise<string> {
  shared ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "ipsec-bundle-" });
    addEventListener("unload", () => {
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch { /* already gone */ }
    });
    await buildBundle(dir);
    return `${dir}/ipsec`;
  })();
  return shared;
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { out: { type: "string" } } });
  const dir = values.out ?? `${root}dist`;
  try {
    await buildBundle(dir);
  } catch (e) {
    console.error((e as Error).message);
    Deno.exit(1);
  }
  console.log(`wrote ${dir}/ipsec.js, ${dir}/dataplane_worker.js and ${dir}/ipsec`);
}
