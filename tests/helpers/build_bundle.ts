/**
 * `deno task bundle`: bundles the CLI into dist/ipsec.js with `deno bundle`
 * and writes dist/ipsec, a small launcher that runs it with the permissions
 * the daemon needs (never --allow-all).
 *
 * @module
 */
const root = new URL("../../", import.meta.url).pathname;
const dist = `${root}dist`;
await Deno.mkdir(dist, { recursive: true });

const out = await new Deno.Command(Deno.execPath(), {
  args: ["bundle", "--quiet", `${root}cli/main.ts`, "-o", `${dist}/ipsec.js`],
  cwd: root,
  stdout: "inherit",
  stderr: "inherit",
}).output();
if (!out.success) {
  console.error("deno bundle failed");
  Deno.exit(1);
}

/** Permissions the bundled program runs with. */
export const RUNTIME_PERMISSIONS = [
  "--allow-ffi",
  "--allow-read",
  "--allow-write",
  "--allow-net",
  "--allow-env",
  "--allow-sys",
  "--allow-run",
];

const launcher = `#!/bin/sh
# ipsec launcher: runs the bundled deno-ipsec with the permissions it needs.
here=$(dirname "$(readlink -f "$0")")
exec deno run ${RUNTIME_PERMISSIONS.join(" ")} "$here/ipsec.js" "$@"
`;
await Deno.writeTextFile(`${dist}/ipsec`, launcher, { mode: 0o755 });
console.log(`wrote ${dist}/ipsec.js and ${dist}/ipsec`);
