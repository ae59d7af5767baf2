/**
 * CRLs: parsed from strongSwan's `pki --signcrl` (an independent issuer),
 * used by chain validation (revoked, stale, forged, delta, critical
 * extensions, strict/ifuri/relaxed, a revoked intermediate), and the CRLs
 * `ipsec pki signcrl` issues read back by openssl and strongSwan's `pki`.
 * Configuration: `remote.crls` and `remote.revocation`.
 */
import assert from "node:assert/strict";
import { type ChainResult, validateChain } from "../../lib/pki/validate.ts";
import { normalizeSerial, parseCrls } from "../../lib/pki/crl.ts";
import { parseCertificate } from "../../lib/pki/certificate.ts";
import { run as ipsecPki } from "../../cli/commands/pki.ts";
import { loadConfig } from "../../lib/config/parse.ts";
import { buildDatabases } from "../../lib/config/build.ts";
import { padRows } from "../../lib/db/tables.ts";
import { must, read, swPki, swPkiMust, tool, withTempDir } from "./_tools.ts";

const DAY = 86_400_000;

interface Pki {
  dir: string;
  ca: { cert: string; key: string };
  /** End entities: a, b (plain), c (names a CRL distribution point), leaf (under int). */
  cert: Record<"a" | "b" | "c" | "int" | "leaf", string>;
  /** Same DN as the CA, another key. */
  evil: { cert: string; key: string };
}

async function key(dir: string, name: string): Promise<string> {
  const path = `${dir}/${name}.key`;
  Deno.writeFileSync(path, (await swPkiMust(["--gen", "--type", "ecdsa", "--size", "256"])).bytes);
  return path;
}

async function self(dir: string, name: string, k: string): Promise<string> {
  const path = `${dir}/${name}.pem`;
  const r = await swPkiMust([
    "--self",
    "--ca",
    "--in",
    k,
    "--type",
    "priv",
    "--dn",
    "C=CH, O=CRL test, CN=CRL Root",
    "--outform",
    "pem",
  ]);
  Deno.writeFileSync(path, r.bytes);
  return path;
}

async function issue(
  dir: string,
  name: string,
  ca: { cert: string; key: string },
  extra: string[] = [],
): Promise<string> {
  const path = `${dir}/${name}.pem`;
  const r = await swPkiMust([
    "--issue",
    "--in",
    await key(dir, name),
    "--type",
    "priv",
    "--cacert",
    ca.cert,
    "--cakey",
    ca.key,
    "--dn",
    `C=CH, O=CRL test, CN=${name}`,
    "--outform",
    "pem",
    ...extra,
  ]);
  Deno.writeFileSync(path, r.bytes);
  return path;
}

async function setUp(dir: string): Promise<Pki> {
  const caKey = await key(dir, "ca");
  const ca = { cert: await self(dir, "ca", caKey), key: caKey };
  const evilKey = await key(dir, "evil");
  const evil = { cert: await self(dir, "evil", evilKey), key: evilKey };
  const int = await issue(dir, "int", ca, ["--ca"]);
  return {
    dir,
    ca,
    evil,
    cert: {
      a: await issue(dir, "a", ca),
      b: await issue(dir, "b", ca),
      c: await issue(dir, "c", ca, ["--crl", "http://crl.example.test/root.crl"]),
      int,
      leaf: await issue(dir, "leaf", { cert: int, key: `${dir}/int.key` }),
    },
  };
}

/** strongSwan's `pki --signcrl` into `name.crl` (PEM). */
async function swanCrl(
  p: Pki,
  name: string,
  args: string[],
  by: { cert: string; key: string } = p.ca,
): Promise<string> {
  const path = `${p.dir}/${name}.crl`;
  const r = await swPkiMust([
    "--signcrl",
    "--cacert",
    by.cert,
    "--cakey",
    by.key,
    ...args,
    "--outform",
    "pem",
  ]);
  Deno.writeFileSync(path, r.bytes);
  return path;
}

const crlsOf = (...paths: string[]) => paths.flatMap((f) => parseCrls(read(f), f));
const serialOf = (cert: string) => normalizeSerial(parseCertificate(read(cert)).serialNumber);

function failure(r: ChainResult): { code: string; message: string } {
  assert.equal(r.ok, false, "expected validation to fail");
  if (r.ok) throw new Error("unreachable");
  return { code: r.error.code, message: r.error.message };
}

Deno.test("parseCrls() reads strongSwan's CRLs, PEM and DER: issuer, dates, number, entries", async () => {
  await withTempDir(async ({ dir }) => {
    const p = await setUp(dir);
    const path = await swanCrl(p, "one", [
      "--reason",
      "key-compromise",
      "--cert",
      p.cert.a,
      "--serial",
      "0badc0de",
    ]);
    const [crl] = crlsOf(path);
    assert.equal(crl.issuer, "C=CH, O=CRL test, CN=CRL Root");
    assert.equal(crl.crlNumber, "1");
    assert.equal(crl.unusable, undefined);
    assert.ok(Math.abs(crl.thisUpdate.getTime() - Date.now()) < 120_000);
    assert.equal(crl.nextUpdate!.getTime() - crl.thisUpdate.getTime(), 15 * DAY);
    assert.deepEqual([...crl.revoked.keys()].sort(), [serialOf(p.cert.a), "badc0de"].sort());
    assert.equal(crl.revoked.get(serialOf(p.cert.a))!.reason, 1);
    // openssl's DER of the same CRL parses to the same thing.
    const der = await must("openssl", ["crl", "-in", path, "-outform", "DER"]);
    const [fromDer] = parseCrls(der.bytes, "der");
    assert.deepEqual(fromDer.der, crl.der);
    assert.deepEqual([...fromDer.revoked.keys()], [...crl.revoked.keys()]);
    assert.throws(() => parseCrls(read(p.ca.cert), "ca.pem"), /not a CRL/);
  });
});

Deno.test("validateChain() with CRLs: revoked, relaxed/ifuri/strict, stale, forged, delta, critical", async () => {
  await withTempDir(async ({ dir }) => {
    const p = await setUp(dir);
    const anchors = [read(p.ca.cert)];
    const check = (
      cert: string,
      crls: string[],
      revocation?: "strict" | "ifuri" | "relaxed",
      inter: string[] = [],
    ) =>
      validateChain(read(cert), inter.map(read), anchors, new Date(), {
        crls: crlsOf(...crls),
        ...(revocation ? { revocation } : {}),
      });
    const current = await swanCrl(p, "current", [
      "--reason",
      "key-compromise",
      "--cert",
      p.cert.a,
    ]);
    // a is listed; b is not.
    const revoked = failure(check(p.cert.a, [current]));
    assert.equal(revoked.code, "revoked");
    const colon = (s: string) => (s.length % 2 ? "0" + s : s).match(/../g)!.join(":");
    assert.match(
      revoked.message,
      new RegExp(
        `certificate "C=CH, O=CRL test, CN=a" \\(serial ${
          colon(serialOf(p.cert.a))
        }\\) was revoked on \\S+ \\(keyCompromise\\) according to the CRL of "C=CH, O=CRL test, CN=CRL Root"`,
      ),
    );
    for (const mode of ["relaxed", "ifuri", "strict"] as const) {
      assert.ok(check(p.cert.b, [current], mode).ok, mode);
    }
    // Without CRLs: relaxed passes all; ifuri fails only c (it names a distribution point).
    assert.ok(check(p.cert.a, []).ok);
    assert.ok(check(p.cert.b, [], "ifuri").ok);
    const ifuri = failure(check(p.cert.c, [], "ifuri"));
    assert.equal(ifuri.code, "revocation_unknown");
    assert.match(ifuri.message, /names a CRL distribution point/);
    assert.equal(failure(check(p.cert.b, [], "strict")).code, "revocation_unknown");

    // A CRL whose nextUpdate passed still revokes, but is not current for strict.
    const stale = await swanCrl(p, "stale", [
      "--this-update",
      "01.01.20 00:00:00",
      "--next-update",
      "15.01.20 00:00:00",
      "--cert",
      p.cert.a,
    ]);
    assert.equal(failure(check(p.cert.a, [stale])).code, "revoked");
    assert.ok(check(p.cert.b, [stale]).ok);
    assert.match(
      failure(check(p.cert.b, [stale], "strict")).message,
      /out of date since 2020-01-15/,
    );

    // Same issuer name, another key: the signature does not verify, the CRL is ignored.
    const forged = await swanCrl(p, "forged", ["--cert", p.cert.b], p.evil);
    assert.ok(check(p.cert.b, [forged]).ok);
    assert.match(
      failure(check(p.cert.b, [forged], "strict")).message,
      /does not verify with the key of "C=CH, O=CRL test, CN=CRL Root"/,
    );

    // A delta CRL and one with an unknown critical extension are never used.
    const delta = await swanCrl(p, "delta", ["--basecrl", current, "--cert", p.cert.b]);
    assert.match(crlsOf(delta)[0].unusable ?? "", /delta CRL/);
    assert.ok(check(p.cert.b, [delta]).ok);
    // openssl ca: a CRL with a critical extension nobody knows (strongSwan's pki cannot add one).
    await Deno.writeTextFile(`${dir}/index.txt`, "");
    await Deno.writeTextFile(`${dir}/crlnumber`, "01\n");
    await Deno.writeTextFile(
      `${dir}/ca.cnf`,
      `[ ca ]\ndefault_ca = d\n[ d ]\ndatabase = ${dir}/index.txt\ncrlnumber = ${dir}/crlnumber\n` +
        `default_md = sha256\ndefault_crl_days = 10\ncrl_extensions = ext\n` +
        `[ ext ]\n1.3.6.1.4.1.36906.1 = critical,ASN1:NULL\n`,
    );
    const critical = `${dir}/critical.crl`;
    await must("openssl", [
      "ca",
      "-gencrl",
      "-config",
      `${dir}/ca.cnf`,
      "-keyfile",
      p.ca.key,
      "-keyform",
      "DER",
      "-cert",
      p.ca.cert,
      "-out",
      critical,
    ]);
    assert.match(
      crlsOf(critical)[0].unusable ?? "",
      /unsupported critical extension 1\.3\.6\.1\.4\.1\.36906\.1/,
    );
    assert.match(failure(check(p.cert.b, [critical], "strict")).message, /cannot be used/);
    assert.ok(check(p.cert.b, [critical]).ok);

    // The root revokes the intermediate: the leaf below it fails, naming the intermediate.
    const intRevoked = await swanCrl(p, "int", ["--cert", p.cert.int]);
    assert.ok(check(p.cert.leaf, [], "relaxed", [p.cert.int]).ok);
    const viaInt = failure(check(p.cert.leaf, [intRevoked], "relaxed", [p.cert.int]));
    assert.equal(viaInt.code, "revoked");
    assert.match(viaInt.message, /certificate "C=CH, O=CRL test, CN=int"/);
    // strict needs the intermediate's own CRL for the leaf as well.
    assert.match(
      failure(check(p.cert.leaf, [current], "strict", [p.cert.int])).message,
      /revocation status of "C=CH, O=CRL test, CN=leaf" is unknown/,
    );
    const intCrl = await swanCrl(p, "of-int", ["--serial", "01"], {
      cert: p.cert.int,
      key: `${dir}/int.key`,
    });
    assert.ok(check(p.cert.leaf, [current, intCrl], "strict", [p.cert.int]).ok);
  });
});

Deno.test("ipsec pki signcrl: openssl and strongSwan's pki read it; --lastcrl keeps entries and counts", async () => {
  await withTempDir(async ({ dir }) => {
    const f = (n: string) => `${dir}/${n}`;
    const pki = async (args: string[]) => assert.equal(await ipsecPki(args), 0, args.join(" "));
    await pki(["gen", "--type", "ecdsa", "--out", f("ca.key")]);
    await pki(["self", "--ca", "--in", f("ca.key"), "--dn", "CN=Our CA", "--out", f("ca.pem")]);
    for (const n of ["x", "y"]) {
      await pki(["gen", "--type", "ed25519", "--out", f(`${n}.key`)]);
      await pki([
        "issue",
        "--cacert",
        f("ca.pem"),
        "--cakey",
        f("ca.key"),
        "--in",
        f(`${n}.key`),
        "--dn",
        `CN=${n}`,
        "--san",
        `${n}.example.test`,
        ...(n === "y" ? ["--crl", "http://crl.example.test/our.crl"] : []),
        "--out",
        f(`${n}.pem`),
      ]);
    }
    // y names a CRL distribution point (as openssl reads it): with revocation ifuri and no CRL
    // it is not trusted; x (no distribution point) is.
    const yText = await must("openssl", ["x509", "-in", f("y.pem"), "-noout", "-text"]);
    assert.match(
      yText.stdout,
      /CRL Distribution Points:\s+Full Name:\s+URI:http:\/\/crl\.example\.test\/our\.crl/,
    );
    const ifuri = ["--cacert", f("ca.pem"), "--revocation", "ifuri"];
    assert.equal(await ipsecPki(["verify", "--in", f("y.pem"), ...ifuri]), 1);
    assert.equal(await ipsecPki(["verify", "--in", f("x.pem"), ...ifuri]), 0);
    const base = ["signcrl", "--cacert", f("ca.pem"), "--cakey", f("ca.key")];
    await pki([...base, "--cert", f("x.pem"), "--reason", "keyCompromise", "--out", f("1.crl")]);
    const text1 = await must("openssl", [
      "crl",
      "-in",
      f("1.crl"),
      "-CAfile",
      f("ca.pem"),
      "-noout",
      "-text",
    ]);
    assert.match(text1.stderr + text1.stdout, /verify OK/);
    assert.match(text1.stdout, /X509v3 CRL Number: \s*1\b/);
    assert.match(text1.stdout, /Key Compromise/);
    const xSerial = serialOf(f("x.pem")).toUpperCase();
    assert.match(text1.stdout.replace(/[\s:]/g, ""), new RegExp(`SerialNumber0*${xSerial}`));
    // strongSwan's pki: x is revoked, y is not.
    const vx = await swPki([
      "--verify",
      "--in",
      f("x.pem"),
      "--cacert",
      f("ca.pem"),
      "--crl",
      f("1.crl"),
    ]);
    assert.notEqual(vx.code, 0, vx.stdout + vx.stderr);
    assert.match(vx.stdout + vx.stderr, /revoked/);
    const vy = await swPki([
      "--verify",
      "--in",
      f("y.pem"),
      "--cacert",
      f("ca.pem"),
      "--crl",
      f("1.crl"),
    ]);
    assert.equal(vy.code, 0, vy.stdout + vy.stderr);
    // ipsec pki verify says the same.
    assert.equal(
      await ipsecPki(["verify", "--in", f("x.pem"), "--cacert", f("ca.pem"), "--crl", f("1.crl")]),
      1,
    );
    assert.equal(
      await ipsecPki(["verify", "--in", f("y.pem"), "--cacert", f("ca.pem"), "--crl", f("1.crl")]),
      0,
    );
    // The next CRL keeps x and adds y; its number counts up.
    await pki([
      ...base,
      "--lastcrl",
      f("1.crl"),
      "--serial",
      serialOf(f("y.pem")),
      "--out",
      f("2.crl"),
    ]);
    const text2 = await must("openssl", [
      "crl",
      "-in",
      f("2.crl"),
      "-CAfile",
      f("ca.pem"),
      "-noout",
      "-text",
    ]);
    assert.match(text2.stdout, /X509v3 CRL Number: \s*2\b/);
    assert.equal(text2.stdout.match(/Serial Number:/g)?.length, 2);
    const [crl2] = crlsOf(f("2.crl"));
    assert.equal(crl2.revoked.get(serialOf(f("x.pem")))?.reason, 1);
    assert.ok(crl2.revoked.has(serialOf(f("y.pem"))));
    // Wrong inputs are refused without output.
    assert.equal(await ipsecPki([...base, "--reason", "bored", "--out", f("3.crl")]), 2);
    assert.equal(
      await ipsecPki([
        "signcrl",
        "--cacert",
        f("ca.pem"),
        "--cakey",
        f("x.key"),
        "--out",
        f("3.crl"),
      ]),
      1,
    );
    assert.equal(await Deno.stat(f("3.crl")).catch(() => null), null);
    // print reads a CRL.
    const printed = await tool(Deno.execPath(), [
      "run",
      "-A",
      new URL("../../cli/main.ts", import.meta.url).pathname,
      "pki",
      "print",
      "--in",
      f("2.crl"),
    ]);
    assert.equal(printed.code, 0, printed.stderr);
    assert.match(printed.stdout, /issuer: +"CN=Our CA"/);
    assert.match(printed.stdout, /revoked: +2 certificates/);
    assert.match(printed.stdout, /keyCompromise/);
  });
});

Deno.test("config: remote.crls and remote.revocation reach the PAD; bad values are positioned errors", async () => {
  await withTempDir(async ({ dir }) => {
    const p = await setUp(dir);
    const crl = await swanCrl(p, "cfg", ["--cert", p.cert.a]);
    const yaml = (remote: string) =>
      `connections:
  pk:
    local_addrs: 192.0.2.1
    remote_addrs: 192.0.2.2
    local:
      auth: pubkey
      certs: ${p.cert.b}
      key: ${dir}/b.key
    remote:
${remote}
`;
    await Deno.writeTextFile(
      `${dir}/ok.yaml`,
      yaml(
        `      auth: pubkey\n      cacerts: [${p.ca.cert}]\n      crls: [${crl}]\n      revocation: strict`,
      ),
    );
    const c = await loadConfig(`${dir}/ok.yaml`);
    assert.equal(c.connections[0].remote.revocation, "strict");
    assert.equal(c.connections[0].remote.crls.length, 1);
    const { pad } = buildDatabases(c);
    const auth = pad.entries[0].auth;
    assert.ok(auth.method === "pubkey" && auth.crls?.length === 1 && auth.revocation === "strict");
    assert.match(String(padRows(pad.entries)[0].auth), /1 CA, 1 CRL, revocation strict/);
    const bad = async (remote: string, re: RegExp) => {
      await Deno.writeTextFile(`${dir}/bad.yaml`, yaml(remote));
      await assert.rejects(() => loadConfig(`${dir}/bad.yaml`), re);
    };
    await bad(
      `      auth: pubkey\n      cacerts: [${p.ca.cert}]\n      crls: [${p.ca.cert}]`,
      /remote\.crls\[0\]: cannot read .*not a CRL/,
    );
    await bad(
      `      auth: pubkey\n      cacerts: [${p.ca.cert}]\n      revocation: sometimes`,
      /remote\.revocation/,
    );
    await bad(
      `      auth: psk\n      crls: [${crl}]`,
      /'crls' and 'revocation' apply to auth: pubkey only/,
    );
  });
});
