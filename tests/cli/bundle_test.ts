import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url).pathname;

async function run(cmd: string, args: string[]) {
  const o = await new Deno.Command(cmd, { args, cwd: ROOT, stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  return { code: o.code, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
}

Deno.test("deno task bundle builds dist/ipsec, which runs the CLI as users would", async () => {
  // A private output directory, so a parallel `deno task bundle` never races this test.
  const dir = await Deno.makeTempDir({ prefix: "ipsec-bundle-" });
  try {
    await checkBundle(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function checkBundle(dir: string): Promise<void> {
  const build = await run(Deno.execPath(), [
    "run",
    "-A",
    "tests/helpers/build_bundle.ts",
    "--out",
    dir,
  ]);
  assert.equal(build.code, 0, build.err);
  const help = await run(`${dir}/ipsec`, ["--help"]);
  assert.equal(help.code, 0, help.err);
  for (
    const name of ["start", "stop", "up", "down", "status", "list-sas", "sad", "spd", "pad", "pki"]
  ) {
    assert.match(help.out, new RegExp(`^  ${name} `, "m"));
  }
  const status = await run(`${dir}/ipsec`, ["status", "--socket", "/nonexistent/ctl.sock"]);
  assert.equal(status.code, 7);
  assert.match(status.err, /no ipsec daemon is listening/);
}
