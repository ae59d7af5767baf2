/**
 * `ipsec pki pkcs12` end to end: keys and certificates from our own
 * `ipsec pki gen/self/issue` and from openssl (PKCS#1, SEC1, DER), bundled
 * by the command and read back by openssl; the usage and input errors with
 * their exit codes (2 usage, 1 bad input).
 */
import assert from "node:assert/strict";
import { cli, ok } from "./_pki_cli.ts";
import { must, tool, withTempDir } from "../pki/_tools.ts";

function mode(path: string): number {
  return (Deno.statSync(path).mode ?? 0) & 0o777;
}

/** A CA and alice's key and certificate in `dir`, all made by `ipsec pki`. */
async function ourSet(dir: string, type: string): Promise<void> {
  const f = (n: string) => `${dir}/${n}`;
  await ok("gen", "--type", type, "--out", f("ca.key"));
  await ok("self", "--in", f("ca.key"), "--ca", "--dn", "O=Test, CN=Test CA", "--out", f("ca.pem"));
  await ok("gen", "--type", type, "--out", f("alice.key"));
  await ok(
    "issue",
    "--cacert",
    f("ca.pem"),
    "--cakey",
    f("ca.key"),
    "--in",
    f("alice.key"),
    "--dn",
    "O=Test, CN=alice@example.com",
    "--san",
    "alice@example.com",
    "--out",
    f("alice.pem"),
  );
}

/** openssl reads `p12` with `password`: the certificates' subjects, and the key matches `cert`. */
async function opensslReads(p12: string, password: string, cert: string): Promise<string> {
  const all = await must("openssl", [
    "pkcs12",
    "-in",
    p12,
    "-nodes",
    "-passin",
    `pass:${password}`,
  ]);
  const key = all.stdout.slice(all.stdout.indexOf("-----BEGIN PRIVATE KEY-----"));
  const fromKey = await must("openssl", ["pkey", "-pubout"], { stdin: key });
  const fromCert = await must("openssl", ["x509", "-in", cert, "-noout", "-pubkey"]);
  assert.equal(fromKey.stdout, fromCert.stdout, "the key in the .p12 is not the certificate's");
  return all.stdout;
}

Deno.test("ipsec pki pkcs12: our gen/self/issue output for openssl (rsa, ecdsa, ed25519)", async () => {
  for (const type of ["rsa", "ecdsa", "ed25519"]) {
    await withTempDir(async ({ dir }) => {
      await ourSet(dir, type);
      await Deno.writeTextFile(`${dir}/pw`, "s3cret pass\n");
      const r = await ok(
        "pkcs12",
        "--in",
        `${dir}/alice.key`,
        "--cert",
        `${dir}/alice.pem`,
        "--cacert",
        `${dir}/ca.pem`,
        "--password-file",
        `${dir}/pw`,
        "--out",
        `${dir}/alice.p12`,
      );
      assert.match(r.out, /wrote .*alice\.p12.*CN=alice@example\.com.*1 CA certificate/);
      assert.equal(mode(`${dir}/alice.p12`), 0o600);
      // The password is the file's first line, without its newline.
      const text = await opensslReads(`${dir}/alice.p12`, "s3cret pass", `${dir}/alice.pem`);
      assert.match(text, /friendlyName: alice@example\.com/); // default: the CN
      assert.match(text, /subject=O = Test, CN = alice@example\.com/);
      assert.match(text, /subject=O = Test, CN = Test CA/);
      const wrong = await tool("openssl", [
        "pkcs12",
        "-in",
        `${dir}/alice.p12`,
        "-nodes",
        "-passin",
        "pass:s3cret pass\n",
      ]);
      assert.notEqual(wrong.code, 0);
    });
  }
});

Deno.test("ipsec pki --pkcs12: openssl PKCS#1 and SEC1 DER keys, --name, chain in --cert", async () => {
  await withTempDir(async ({ dir }) => {
    const f = (n: string) => `${dir}/${n}`;
    // PKCS#1 RSA PEM key with an openssl self-signed certificate.
    await must("openssl", ["genrsa", "-traditional", "-out", f("rsa.key"), "2048"]);
    assert.match(Deno.readTextFileSync(f("rsa.key")), /BEGIN RSA PRIVATE KEY/);
    await must("openssl", [
      "req",
      "-x509",
      "-key",
      f("rsa.key"),
      "-subj",
      "/CN=bob",
      "-days",
      "5",
      "-out",
      f("rsa.pem"),
    ]);
    await ok(
      "--pkcs12",
      "--in",
      f("rsa.key"),
      "--cert",
      f("rsa.pem"),
      "--password",
      "pw1",
      "--name",
      "Bob's VPN",
      "--out",
      f("rsa.p12"),
    );
    assert.match(await opensslReads(f("rsa.p12"), "pw1", f("rsa.pem")), /friendlyName: Bob's VPN/);

    // SEC1 EC key in DER; --cert is a bundle (end entity, then its CA).
    await must("openssl", [
      "ecparam",
      "-name",
      "prime256v1",
      "-genkey",
      "-noout",
      "-outform",
      "DER",
      "-out",
      f("ec.der"),
    ]);
    await ourSet(dir, "ecdsa");
    // openssl 3.0 has no `x509 -new`: sign a request.
    await must("openssl", [
      "req",
      "-new",
      "-key",
      f("ec.der"),
      "-subj",
      "/CN=carol",
      "-out",
      f("ec.csr"),
    ]);
    await must("openssl", [
      "x509",
      "-req",
      "-in",
      f("ec.csr"),
      "-CA",
      f("ca.pem"),
      "-CAkey",
      f("ca.key"),
      "-days",
      "5",
      "-out",
      f("ec.pem"),
    ]);

    await Deno.writeTextFile(
      f("bundle.pem"),
      Deno.readTextFileSync(f("ec.pem")) + Deno.readTextFileSync(f("ca.pem")),
    );
    const r = await ok(
      "pkcs12",
      "--in",
      f("ec.der"),
      "--cert",
      f("bundle.pem"),
      "--password",
      "pw2",
      "--out",
      f("ec.p12"),
    );
    assert.match(r.out, /1 CA certificate/);
    const text = await opensslReads(f("ec.p12"), "pw2", f("ec.pem"));
    assert.match(text, /friendlyName: carol/);
    assert.match(text, /subject=O = Test, CN = Test CA/);
  });
});

Deno.test("ipsec pki pkcs12: usage errors exit 2, bad input exits 1", async () => {
  await withTempDir(async ({ dir }) => {
    const f = (n: string) => `${dir}/${n}`;
    await ourSet(dir, "ecdsa");
    const base = ["--cert", f("alice.pem"), "--password", "pw", "--out", f("a.p12")];
    const cases: { args: string[]; code: number; err: RegExp }[] = [
      { args: base, code: 2, err: /--in is required/ },
      {
        args: ["--in", f("alice.key"), "--password", "pw", "--out", f("a.p12")],
        code: 2,
        err: /--cert is required/,
      },
      {
        args: ["--in", f("alice.key"), "--cert", f("alice.pem"), "--password", "pw"],
        code: 2,
        err: /--out is required/,
      },
      {
        args: ["--in", f("alice.key"), "--cert", f("alice.pem"), "--out", f("a.p12")],
        code: 2,
        err: /--password or --password-file is required/,
      },
      {
        args: ["--in", f("alice.key"), ...base, "--password-file", f("pw")],
        code: 2,
        err: /either --password or --password-file, not both/,
      },
      {
        args: ["--in", f("alice.key"), "--cert", f("alice.pem"), "--password=", "--out", f("a")],
        code: 2,
        err: /--password must not be empty/,
      },
      {
        args: ["--in", f("ca.key"), ...base],
        code: 1,
        err: /private key does not belong to the certificate "O=Test, CN=alice@example.com"/,
      },
      { args: ["--in", f("nope.key"), ...base], code: 1, err: /nope\.key: no such file/ },
      {
        args: ["--in", f("alice.pem"), ...base],
        code: 1,
        err: /alice\.pem: not a private key \(found CERTIFICATE\)/,
      },
    ];
    for (const c of cases) {
      const r = await cli("pkcs12", ...c.args);
      assert.equal(r.code, c.code, `${c.args.join(" ")}: ${r.err}`);
      assert.match(r.err, c.err);
    }
    assert.throws(() => Deno.statSync(f("a.p12")), Deno.errors.NotFound);

    await Deno.writeTextFile(f("empty_pw"), "\n");
    const empty = await cli(
      "pkcs12",
      "--in",
      f("alice.key"),
      "--cert",
      f("alice.pem"),
      "--password-file",
      f("empty_pw"),
      "--out",
      f("a.p12"),
    );
    assert.equal(empty.code, 1);
    assert.match(empty.err, /empty_pw: the password \(its first line\) is empty/);

    // An existing output file: kept without --force, replaced (and made 0600) with it.
    const args = ["pkcs12", "--in", f("alice.key"), ...base];
    await Deno.writeTextFile(f("a.p12"), "old", { mode: 0o644 });
    await Deno.chmod(f("a.p12"), 0o644);
    const exists = await cli(...args);
    assert.equal(exists.code, 1);
    assert.match(exists.err, /a\.p12 already exists \(use --force to overwrite\)/);
    assert.equal(Deno.readTextFileSync(f("a.p12")), "old");
    await ok(...args, "--force");
    assert.equal(mode(f("a.p12")), 0o600);
    await opensslReads(f("a.p12"), "pw", f("alice.pem"));
  });
});

Deno.test("ipsec pki pkcs12 through cli/main.ts: exit codes", async () => {
  await withTempDir(async ({ dir }) => {
    await ourSet(dir, "ed25519");
    const main = new URL("../../cli/main.ts", import.meta.url).pathname;
    const config = new URL("../../deno.json", import.meta.url).pathname;
    const ipsec = (...args: string[]) =>
      tool(Deno.execPath(), ["run", "-A", "--config", config, main, "pki", ...args]);
    const good = await ipsec(
      "pkcs12",
      "--in",
      `${dir}/alice.key`,
      "--cert",
      `${dir}/alice.pem`,
      "--password",
      "pw",
      "--out",
      `${dir}/x.p12`,
    );
    assert.equal(good.code, 0, good.stderr);
    await opensslReads(`${dir}/x.p12`, "pw", `${dir}/alice.pem`);
    const usage = await ipsec("pkcs12", "--cert", `${dir}/alice.pem`);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /ipsec pki pkcs12: --in is required/);
    const help = await ipsec("--help");
    assert.match(help.stdout, /pkcs12 +bundle a key, its certificate and CA certificates/);
  });
});
