/**
 * `ipsec pki` end to end: each subcommand (and its strongSwan spelling) run
 * in-process through `run(args)`, with the results checked by openssl and
 * strongSwan's `pki`; stdin/stdout behaviour in a subprocess.
 */
import assert from "node:assert/strict";
import { cli, ok } from "./_pki_cli.ts";
import { generateKeyPair } from "../../lib/pki/keys.ts";
import { exportPrivateKeyPem } from "../../lib/pki/keys.ts";
import { selfSignCertificate } from "../../lib/pki/certificate.ts";
import { must, read, swPki, tool, withTempDir } from "../pki/_tools.ts";

/** Runs `ipsec pki` in a subprocess (for stdin/stdout). */
function subprocess(args: string[], stdin?: Uint8Array) {
  return tool(Deno.execPath(), [
    "eval",
    "--config",
    new URL("../../deno.json", import.meta.url).pathname,
    `import { run } from "${new URL("../../cli/commands/pki.ts", import.meta.url).href}";` +
    "Deno.exit(await run(Deno.args));",
    "--",
    ...args,
  ], { stdin });
}

/** `issue --cacert CA --cakey KEY --in INPUT ...more` */
function issue(cacert: string, cakey: string, input: string, ...more: string[]): string[] {
  return ["issue", "--cacert", cacert, "--cakey", cakey, "--in", input, ...more];
}

function mode(path: string): number {
  return (Deno.statSync(path).mode ?? 0) & 0o777;
}

Deno.test("pki: gen, self, pub, issue, req, print, verify (openssl and strongSwan agree)", async () => {
  await withTempDir(async (t) => {
    const p = (n: string) => `${t.dir}/${n}`;

    // An existing world-readable file becomes 0600 when a key is written over it.
    Deno.writeTextFileSync(p("ca.key"), "", { mode: 0o644 });
    Deno.chmodSync(p("ca.key"), 0o644);
    await ok("gen", "--type", "ecdsa", "--size", "384", "--out", p("ca.key"));
    assert.equal(mode(p("ca.key")), 0o600);
    assert.match(Deno.readTextFileSync(p("ca.key")), /^-----BEGIN PRIVATE KEY-----/);
    await ok(
      "self",
      "--in",
      p("ca.key"),
      "--dn",
      "C=CH, O=Example, CN=Example CA",
      "--ca",
      "--lifetime",
      "3650",
      "--out",
      p("ca.pem"),
    );
    await ok("gen", "--type", "rsa", "--size", "2048", "--out", p("gw.key"));
    assert.equal(mode(p("gw.key")), 0o600);
    await ok("pub", "--in", p("gw.key"), "--out", p("gw.pub"));
    const issued = await ok(
      ...issue(p("ca.pem"), p("ca.key"), p("gw.pub")),
      "--dn",
      "C=CH, O=Example, CN=vpn.example.com",
      "--san",
      "vpn.example.com",
      "--san",
      "10.0.0.1",
      "--san",
      "user@example.com",
      "--flag",
      "serverAuth",
      "--flag",
      "ikeIntermediate",
      "--out",
      p("gw.pem"),
    );
    assert.equal(issued.err, "", "a well-formed gateway certificate gets no lint warnings");

    const ov = await must("openssl", ["verify", "-CAfile", p("ca.pem"), p("gw.pem")]);
    assert.match(ov.stdout, /gw\.pem: OK/);
    const text = (await must("openssl", ["x509", "-in", p("gw.pem"), "-noout", "-text"])).stdout;
    assert.match(text, /DNS:vpn\.example\.com, IP Address:10\.0\.0\.1, email:user@example\.com/);
    assert.match(text, /TLS Web Server Authentication, 1\.3\.6\.1\.5\.5\.8\.2\.2/);
    assert.match(text, /Public-Key: \(2048 bit\)/);
    const sv = await swPki(["--verify", "--in", p("gw.pem"), "--cacert", p("ca.pem")]);
    assert.equal(sv.code, 0, sv.stdout + sv.stderr);
    const sp = await swPki(["--print", "--in", p("gw.pem")]);
    assert.match(sp.stdout, /altNames:\s+vpn\.example\.com, 10\.0\.0\.1, user@example\.com/);
    assert.match(sp.stdout, /flags:\s+serverAuth ikeIntermediate/);

    const printed = await ok("print", "--in", p("gw.pem"));
    assert.match(printed.out, /subject:\s+"C=CH, O=Example, CN=vpn\.example\.com"/);
    assert.match(printed.out, /issuer:\s+"C=CH, O=Example, CN=Example CA"/);
    assert.match(
      printed.out,
      /altNames:\s+dns:vpn\.example\.com, ip:10\.0\.0\.1, email:user@example\.com/,
    );
    assert.match(printed.out, /extKeyUsage: serverAuth, ikeIntermediate/);
    assert.match(printed.out, /keyUsage:\s+digitalSignature/);
    assert.match(printed.out, /pubkey:\s+RSA 2048 bits/);
    assert.match(printed.out, /ok \(expires in 109[45] days\)/);
    // Fingerprints as openssl computes them.
    const fp =
      (await must("openssl", ["x509", "-in", p("gw.pem"), "-noout", "-fingerprint", "-sha256"]))
        .stdout.trim().split("=")[1].toLowerCase();
    assert.match(printed.out, new RegExp(`SHA-256:\\s+${fp}`));

    const verified = await ok("verify", "--in", p("gw.pem"), "--cacert", p("ca.pem"));
    assert.match(verified.out, /using trusted certificate "C=CH, O=Example, CN=Example CA"/);
    assert.match(verified.out, /certificate trusted, lifetimes valid/);
    // A self-signed CA verifies on its own.
    await ok("verify", "--in", p("ca.pem"));

    // PKCS#10: req, then issue from the request (subject and SANs come from it).
    await ok("gen", "--type", "ed25519", "--out", p("alice.key"));
    await ok(
      "req",
      "--in",
      p("alice.key"),
      "--dn",
      "C=CH, O=Example, CN=alice@example.com",
      "--san",
      "alice@example.com",
      "--out",
      p("alice.csr"),
    );
    const rv = await tool("openssl", ["req", "-in", p("alice.csr"), "-verify", "-noout"]);
    assert.equal(rv.code, 0, rv.stderr);
    const csrPrint = await ok("print", "--in", p("alice.csr"));
    assert.match(csrPrint.out, /altNames:\s+email:alice@example\.com/);
    assert.match(csrPrint.out, /signature: ok/);
    await ok(
      ...issue(p("ca.pem"), p("ca.key"), p("alice.csr")),
      "--flag",
      "clientAuth",
      "--out",
      p("alice.pem"),
    );
    const at = (await must("openssl", ["x509", "-in", p("alice.pem"), "-noout", "-text"])).stdout;
    assert.match(at, /Subject: C ?= ?CH, O ?= ?Example, CN ?= ?alice@example\.com/);
    assert.match(at, /email:alice@example\.com/);
    assert.match(at, /TLS Web Client Authentication/);
    await must("openssl", ["verify", "-CAfile", p("ca.pem"), p("alice.pem")]);

    const keyPrint = await ok("print", "--in", p("alice.key"));
    assert.match(keyPrint.out, /privkey:\s+ED25519 256 bits/);
    const pubPrint = await ok("print", "--in", p("gw.pub"));
    assert.match(pubPrint.out, /pubkey:\s+RSA 2048 bits/);
  });
});

Deno.test("pki: strongSwan spellings (--gen, --self, --req, --issue, --print, --verify) and DER in/out", async () => {
  await withTempDir(async (t) => {
    const p = (n: string) => `${t.dir}/${n}`;

    await ok("--gen", "--type", "ed25519", "--outform", "der", "--out", p("ca.der.key"));
    assert.equal(mode(p("ca.der.key")), 0o600);
    // openssl reads our DER PKCS#8.
    await must("openssl", ["pkey", "-inform", "DER", "-in", p("ca.der.key"), "-noout"]);
    await ok(
      "--self",
      "--in",
      p("ca.der.key"),
      "--type",
      "priv",
      "--dn",
      "C=CH, CN=DER CA",
      "--ca",
      "--outform",
      "der",
      "--out",
      p("ca.der"),
    );
    await ok("--gen", "-t", "ecdsa", "-o", p("peer.key"));
    await ok(
      "--req",
      "--in",
      p("peer.key"),
      "--dn",
      "C=CH, CN=peer.example.com",
      "--san",
      "peer.example.com",
      "--outform",
      "der",
      "--out",
      p("peer.csr.der"),
    );
    await ok(
      "--issue",
      "--in",
      p("peer.csr.der"),
      "--type",
      "pkcs10",
      "--cacert",
      p("ca.der"),
      "--cakey",
      p("ca.der.key"),
      "--flag",
      "serverAuth",
      "--flag",
      "ikeIntermediate",
      "--outform",
      "der",
      "--out",
      p("peer.der"),
    );
    assert.equal(read(p("peer.der"))[0], 0x30);
    const printed = await ok("--print", "--in", p("peer.der"));
    assert.match(printed.out, /altNames:\s+dns:peer\.example\.com/);
    await ok("--verify", "--in", p("peer.der"), "--cacert", p("ca.der"));
    const sv = await swPki(["--verify", "--in", p("peer.der"), "--cacert", p("ca.der")]);
    assert.equal(sv.code, 0, sv.stdout + sv.stderr);
    // strongSwan-style short options.
    await ok("-a", "-i", p("peer.der"));
    await ok("-v", "-i", p("peer.der"), "-c", p("ca.der"));
  });
});

Deno.test("pki: certificates strongSwan issues pass our verify; ours pass its verify", async () => {
  await withTempDir(async (t) => {
    const p = (n: string) => `${t.dir}/${n}`;

    for (const [type, size] of [["rsa", "2048"], ["ecdsa", "384"], ["ed25519", ""]]) {
      const gen = ["--gen", "--type", type, ...(size ? ["--size", size] : [])];
      Deno.writeFileSync(p(`${type}.key`), (await swPki(gen)).bytes);
      const self = await swPki([
        "--self",
        "--in",
        p(`${type}.key`),
        "--ca",
        "--dn",
        `C=CH, CN=sw ${type} CA`,
      ]);
      Deno.writeFileSync(p(`${type}.ca`), self.bytes);
      const leaf = await swPki([
        "--issue",
        "--in",
        p(`${type}.key`),
        "--type",
        "priv",
        "--cacert",
        p(`${type}.ca`),
        "--cakey",
        p(`${type}.key`),
        "--dn",
        `C=CH, CN=${type}.example.com`,
        "--san",
        `${type}.example.com`,
      ]);
      Deno.writeFileSync(p(`${type}.crt`), leaf.bytes);
      const r = await ok("verify", "--in", p(`${type}.crt`), "--cacert", p(`${type}.ca`));
      assert.match(r.out, new RegExp(`using trusted certificate "C=CH, CN=sw ${type} CA"`));
      // Our issue, signed by strongSwan's CA key.
      await ok(
        "issue",
        "--in",
        p(`${type}.key`),
        "--cacert",
        p(`${type}.ca`),
        "--cakey",
        p(`${type}.key`),
        "--dn",
        `C=CH, CN=ours.${type}.example.com`,
        "--san",
        `ours.${type}.example.com`,
        "--flag",
        "serverAuth",
        "--flag",
        "ikeIntermediate",
        "--out",
        p(`${type}.ours.pem`),
      );
      const sv = await swPki([
        "--verify",
        "--in",
        p(`${type}.ours.pem`),
        "--cacert",
        p(`${type}.ca`),
      ]);
      assert.equal(sv.code, 0, `${type}: ${sv.stdout}${sv.stderr}`);
    }
  });
});

Deno.test("pki: bad input gives a clear message and exit code 1; misuse gives exit code 2", async () => {
  await withTempDir(async (t) => {
    const p = (n: string) => `${t.dir}/${n}`;

    await ok("gen", "--type", "ecdsa", "--out", p("ca.key"));
    await ok("self", "--in", p("ca.key"), "--dn", "CN=CA", "--ca", "--out", p("ca.pem"));
    await ok("gen", "--type", "ecdsa", "--out", p("other.key"));
    await ok("pub", "--in", p("other.key"), "--out", p("other.pub"));
    Deno.writeTextFileSync(
      p("garbage.pem"),
      "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
    );
    Deno.writeTextFileSync(p("text.txt"), "hello world\n");
    // A CA that expired yesterday (made with our library at an earlier "now").
    const oldKey = await generateKeyPair("ecdsa");
    const old = await selfSignCertificate(oldKey, {
      subject: "CN=Old CA",
      ca: true,
      lifetimeDays: 10,
      now: new Date(Date.now() - 11 * 86_400_000),
    });
    Deno.writeTextFileSync(p("old.pem"), old.toString("pem"));
    Deno.writeTextFileSync(p("old.key"), await exportPrivateKeyPem(oldKey));
    const cases: [string[], number, RegExp][] = [
      // exit 1: inputs that are wrong
      [
        ["self", "--in", p("ca.pem"), "--dn", "CN=x"],
        1,
        /ca\.pem: not a private key \(found CERTIFICATE\)/,
      ],
      [
        ["self", "--in", p("garbage.pem"), "--dn", "CN=x"],
        1,
        /garbage\.pem: PEM block 'CERTIFICATE' has corrupt base64/,
      ],
      [["print", "--in", p("text.txt")], 1, /text\.txt: neither PEM nor DER/],
      [["print", "--in", p("missing.pem")], 1, /missing\.pem: no such file/],
      [
        issue(p("ca.pem"), p("other.key"), p("other.pub"), "--dn", "CN=x"),
        1,
        /CA private key does not match the CA certificate 'CN=CA'/,
      ],
      [
        issue(p("old.pem"), p("old.key"), p("other.pub"), "--dn", "CN=x"),
        1,
        /CA certificate 'CN=Old CA' expired on/,
      ],
      [
        issue(p("ca.key"), p("ca.key"), p("other.pub"), "--dn", "CN=x"),
        1,
        /ca\.key: not a certificate \(found PRIVATE KEY\)/,
      ],
      [
        issue(p("ca.pem"), p("ca.key"), p("ca.pem"), "--dn", "CN=x"),
        1,
        /is a certificate; give a public key or a certificate request/,
      ],
      [
        ["verify", "--in", p("ca.pem"), "--cacert", p("old.pem")],
        1,
        /certificate not trusted: no trusted issuer "CN=CA"/,
      ],
      [["verify", "--in", p("other.pub")], 1, /other\.pub: not a certificate \(found PUBLIC KEY\)/],
      // exit 2: wrong use of the command line
      [["gen", "--type", "dsa"], 2, /unknown key type 'dsa' \(use one of: rsa, ecdsa, ed25519\)/],
      [
        ["gen", "--type", "ecdsa", "--size", "512"],
        2,
        /invalid size 512 for ecdsa keys \(use one of: 256, 384, 521\)/,
      ],
      [["gen", "--size", "big"], 2, /--size needs a number, got 'big'/],
      [["gen", "--outform", "txt"], 2, /--outform must be pem or der/],
      [["self", "--in", p("ca.key")], 2, /--dn is required/],
      [["self", "--in", p("ca.key"), "--dn", "CN=x", "--flag", "bogus"], 2, /unknown flag 'bogus'/],
      [["issue", "--cakey", p("ca.key"), "--in", p("other.pub")], 2, /--cacert is required/],
      [
        ["issue", "--cacert", p("ca.pem"), "--cakey", p("ca.key"), "--in", p("other.pub")],
        2,
        /--dn is required/,
      ],
      [
        ["self", "--in", p("ca.key"), "--dn", "CN=x", "--lifetime", "0"],
        2,
        /--lifetime must be at least 1 day/,
      ],
      [
        ["self", "--in", p("ca.key"), "--dn", "CN=x", "--serial", "zz"],
        2,
        /--serial needs a non-zero hex number/,
      ],
      [["print", "--in", p("ca.pem"), "--type", "bogus"], 2, /unknown --type 'bogus'/],
      [["gen", "--nonsense"], 2, /nonsense/],
      [["frobnicate"], 2, /unknown subcommand 'frobnicate'/],
      [[], 2, /usage: ipsec pki <subcommand>/],
    ];
    for (const [args, code, msg] of cases) {
      const r = await cli(...args);
      assert.equal(r.code, code, `${args.join(" ")}: ${r.err}`);
      assert.match(r.err + r.out, msg, args.join(" "));
    }

    // A bad DN is an input error with the reason.
    const badDn = await cli("self", "--in", p("ca.key"), "--dn", "C=CH, Foo=bar");
    assert.equal(badDn.code, 1);
    assert.match(badDn.err, /unknown attribute 'Foo'/);
    // Help is not an error.
    assert.equal((await cli("--help")).code, 0);
    const gh = await cli("gen", "--help");
    assert.equal(gh.code, 0);
    assert.match(gh.out, /--type TYPE/);
  });
});

Deno.test("pki issue: lint warnings for gateway certificates clients would reject", async () => {
  await withTempDir(async (t) => {
    const p = (n: string) => `${t.dir}/${n}`;

    await ok("gen", "--out", p("ca.key"));
    // A CA that outlives the certificate (the same default lifetime a second later would not).
    await ok(
      ...["self", "--in", p("ca.key"), "--dn", "CN=Not A CA", "--lifetime", "3650"],
      ...["--out", p("notca.pem")],
    );
    await ok("pub", "--in", p("ca.key"), "--out", p("k.pub"));
    const r = await ok(
      ...issue(p("notca.pem"), p("ca.key"), p("k.pub")),
      "--dn",
      "CN=vpn.example.com",
      "--san",
      "gw.example.com",
      "--out",
      p("gw.pem"),
    );
    const warnings = r.err.split("\n");
    assert.equal(warnings.length, 4, r.err);
    assert.match(warnings[0], /^warning: no subjectAltName matches 'vpn\.example\.com'/);
    assert.match(warnings[1], /^warning: gateway certificate lacks the serverAuth EKU/);
    assert.match(warnings[2], /^warning: gateway certificate lacks the ikeIntermediate EKU/);
    assert.match(
      warnings[3],
      /^warning: issuing certificate "CN=Not A CA" lacks basicConstraints CA:TRUE/,
    );
    // --id names the identity to check instead of the CN.
    const r2 = await ok(
      ...issue(p("notca.pem"), p("ca.key"), p("k.pub")),
      "--dn",
      "CN=Gateway",
      "--san",
      "gw.example.com",
      "--id",
      "gw.example.com",
      "--flag",
      "serverAuth",
      "--flag",
      "ikeIntermediate",
      "--out",
      p("gw2.pem"),
    );
    assert.doesNotMatch(r2.err, /subjectAltName/);
  });
});

Deno.test("pki quickstart: writes keys 0600, certificates and YAML; refuses to overwrite", async () => {
  await withTempDir(async (t) => {
    const dir = `${t.dir}/out`;
    const r = await ok(
      "quickstart",
      "--gateway",
      "vpn.example.com",
      "--gateway-address",
      "192.0.2.1",
      "--client",
      "alice@example.com",
      "--out",
      dir,
    );
    assert.match(r.out, /wrote .*gateway\.yaml/);
    assert.equal(r.err, "");
    for (const k of ["ca.key", "gateway.key", "alice@example.com.key"]) {
      assert.equal(mode(`${dir}/${k}`), 0o600, k);
    }
    assert.equal(mode(`${dir}/gateway.pem`), 0o644);
    await must("openssl", [
      "verify",
      "-CAfile",
      `${dir}/ca.pem`,
      `${dir}/gateway.pem`,
      `${dir}/alice@example.com.pem`,
    ]);
    assert.match(Deno.readTextFileSync(`${dir}/gateway.yaml`), /^connections:/m);
    const again = await cli(
      "quickstart",
      "--gateway",
      "vpn.example.com",
      "--gateway-address",
      "192.0.2.1",
      "--out",
      dir,
    );
    assert.equal(again.code, 1);
    assert.match(again.err, /ca\.key already exists \(use --force to overwrite\)/);
    await ok(
      "quickstart",
      "--gateway",
      "vpn.example.com",
      "--gateway-address",
      "192.0.2.1",
      "--out",
      dir,
      "--force",
      "--type",
      "ed25519",
    );
    assert.match((await ok("print", "--in", `${dir}/ca.key`)).out, /ED25519/);
    assert.equal((await cli("quickstart", "--out", dir)).code, 2);
  });
});

Deno.test("pki via stdin/stdout: gen | pub, DER on stdout, errors name stdin", async () => {
  const key = await subprocess(["--gen", "--type", "ecdsa", "--outform", "der"]);
  assert.equal(key.code, 0, key.stderr);
  assert.equal(key.bytes[0], 0x30);
  const pub = await subprocess(["pub"], key.bytes);
  assert.equal(pub.code, 0, pub.stderr);
  assert.match(pub.stdout, /^-----BEGIN PUBLIC KEY-----/);
  // openssl derives the same public key from the DER private key.
  await withTempDir(async (t) => {
    Deno.writeFileSync(`${t.dir}/k.der`, key.bytes);
    const o = await must("openssl", ["pkey", "-inform", "DER", "-in", `${t.dir}/k.der`, "-pubout"]);
    assert.equal(pub.stdout, o.stdout);
  });
  const junk = await subprocess(["print"], new TextEncoder().encode("junk"));
  assert.equal(junk.code, 1);
  assert.match(junk.stderr, /ipsec pki print: stdin: neither PEM nor DER/);
});

Deno.test("pki verify: a bundle with an intermediate CA; pathlen is enforced", async () => {
  await withTempDir(async ({ dir }) => {
    const p = (n: string) => `${dir}/${n}`;
    for (const k of ["root", "sub", "leaf"]) await ok("gen", "--out", p(`${k}.key`));
    await ok("self", "--in", p("root.key"), "--dn", "CN=Root", "--ca", "--out", p("root.pem"));
    await ok(
      ...issue(p("root.pem"), p("root.key"), p("sub.key"), "--dn", "CN=Sub", "--ca"),
      "--pathlen",
      "0",
      "--out",
      p("sub.pem"),
    );
    await ok(
      ...issue(p("sub.pem"), p("sub.key"), p("leaf.key"), "--dn", "CN=leaf@example.com"),
      "--san",
      "leaf@example.com",
      "--out",
      p("leaf.pem"),
    );
    Deno.writeTextFileSync(
      p("bundle.pem"),
      Deno.readTextFileSync(p("leaf.pem")) + Deno.readTextFileSync(p("sub.pem")),
    );
    const r = await ok("verify", "--in", p("bundle.pem"), "--cacert", p("root.pem"));
    assert.match(
      r.out,
      /using trusted certificate "CN=Sub"\n.*using trusted certificate "CN=Root"/,
    );
    await must("openssl", [
      "verify",
      "-CAfile",
      p("root.pem"),
      "-untrusted",
      p("sub.pem"),
      p("leaf.pem"),
    ]);
    // pathlen 0 on Sub: a CA below it is refused by us and by openssl.
    await ok("gen", "--out", p("deep.key"));
    await ok(
      ...issue(p("sub.pem"), p("sub.key"), p("deep.key"), "--dn", "CN=Deep", "--ca"),
      "--out",
      p("deep.pem"),
    );
    await ok(
      ...issue(p("deep.pem"), p("deep.key"), p("leaf.key"), "--dn", "CN=too deep"),
      "--out",
      p("deeper.pem"),
    );
    Deno.writeTextFileSync(
      p("deep-bundle.pem"),
      ["deeper", "deep", "sub"].map((n) => Deno.readTextFileSync(p(`${n}.pem`))).join(""),
    );
    const bad = await cli("verify", "--in", p("deep-bundle.pem"), "--cacert", p("root.pem"));
    assert.equal(bad.code, 1);
    assert.match(bad.err, /issuer "CN=Sub" allows 0 intermediate CA\(s\) below it, path has 1/);
    const o = await tool("openssl", [
      "verify",
      "-CAfile",
      p("root.pem"),
      "-untrusted",
      p("deep-bundle.pem"),
      p("deeper.pem"),
    ]);
    assert.notEqual(o.code, 0);
    assert.match(o.stdout + o.stderr, /path length constraint exceeded/);
  });
});
