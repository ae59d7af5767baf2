/**
 * Revocation against strongSwan's charon (tests/helpers/interop_system.ts),
 * with ECDSA certificates from `ipsec pki`:
 *
 * - charon's certificate revoked in a CRL made by strongSwan's own
 *   `pki --signcrl` and loaded into our daemon (`remote.crls`): we refuse it
 *   whichever side starts, and say why (serial, date, reason, CRL issuer);
 *   after `ipsec reload` without the CRL, charon gets in;
 * - a current CRL that lists another certificate, `revocation: strict`:
 *   charon's certificate passes;
 * - our certificate revoked in a CRL made by `ipsec pki signcrl` and loaded
 *   into charon (swanctl's x509crl/): charon refuses us, so charon read our
 *   CRL and its signature verified;
 * - charon's certificate from strongSwan's `pki --issue --crl URI`, revoked
 *   in the CRL served there: our daemon fetches it and refuses charon;
 * - charon's certificate from `pki --issue --ocsp URI`, revoked in the
 *   index of OpenSSL's OCSP responder there: our daemon asks and refuses;
 * - our certificate from `ipsec pki issue --crl URI` / `--ocsp URI`: charon
 *   (revocation plugin with curl) fetches our CRL / asks the responder and
 *   refuses us, so it reads our distribution points and authorityInfoAccess.
 *
 * @module
 */
import assert from "node:assert/strict";
import { issueCerts, issueSwanSet } from "../helpers/interop_certs.ts";
import { CHARON_ID, ENGINE_ID } from "../helpers/interop_lab.ts";
import { serving } from "../helpers/netns_daemons.ts";
import { type Bench, type Creds, withBench } from "../helpers/interop_system.ts";
import { run as ipsecPki } from "../../cli/commands/pki.ts";
import { swPkiMust } from "../pki/_tools.ts";

async function issue(dir: string): Promise<Creds & { caKey: string }> {
  const f = await issueCerts(dir, "ipsec", "ecdsa");
  return {
    ca: f.ca,
    caKey: `${dir}/ca.key`,
    ourCert: f.engineCert,
    ourKey: f.engineKey,
    charonCert: f.charonCert,
    charonKey: f.charonKey,
  };
}

/** A CRL from strongSwan's `pki --signcrl` (PEM file `out`). */
async function swanCrl(creds: { ca: string; caKey: string }, revoke: string[], out: string) {
  const r = await swPkiMust([
    "--signcrl",
    "--cacert",
    creds.ca,
    "--cakey",
    creds.caKey,
    ...revoke,
    "--outform",
    "pem",
  ]);
  await Deno.writeFile(out, r.bytes);
}

Deno.test({
  name: "strongSwan interop, our daemon: a peer certificate revoked by a CRL is refused",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "ti-crl-" });
    try {
      const creds = await issue(dir);
      const crl = `${dir}/moon.crl`;
      await swanCrl(creds, ["--reason", "key-compromise", "--cert", creds.charonCert], crl);
      await withBench(
        creds,
        async (b) => {
          // charon starts: our daemon checks its certificate and refuses it.
          await assert.rejects(b.charon.initiate("gw", "net", 8), /initiate failed/);
          assert.match(
            b.daemon.log(),
            /certificate "C=CH, O=deno-ipsec interop, CN=moon.example.org" \(serial [0-9a-f:]+\) was revoked on \S+ \(keyCompromise\) according to the CRL of "C=CH, O=deno-ipsec interop, CN=Interop CA"/,
          );
          assert.deepEqual(await b.daemon.listSas(), []);
          // We start: charon's certificate in its IKE_AUTH answer is refused the same way.
          const up = await b.daemon.cli(["up", "gw", "--timeout", "8"]);
          assert.notEqual(up.code, 0, "ipsec up must fail");
          assert.match(up.stdout + up.stderr, /revoked/);
          await b.charon.waitSas((s) => s.length === 0, "charon to have no SAs");
          // `ipsec reload` re-reads remote.crls: without the CRL charon gets in.
          const yaml = await Deno.readTextFile(b.daemon.config);
          await Deno.writeTextFile(b.daemon.config, yaml.replace(`crls: [${crl}]`, "crls: []"));
          const reload = await b.daemon.cli(["reload"]);
          assert.equal(reload.code, 0, reload.stdout + reload.stderr);
          await b.charon.initiate("gw", "net", 8);
          await b.daemon.waitSas((s) => s.length === 1 && s[0].children.length === 1, "the SA");
        },
        {},
        { ours: { remoteExtra: [`crls: [${crl}]`] } },
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "strongSwan interop, our daemon: strict revocation with a current CRL; charon honours our CRL",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "ti-crl-" });
    try {
      const creds = await issue(dir);
      // strongSwan's CRL lists some other serial: charon's certificate is not revoked.
      const other = `${dir}/other.crl`;
      await swanCrl(creds, ["--serial", "0badc0de"], other);
      await withBench(
        creds,
        async (b) => {
          await b.charon.initiate("gw", "net", 8);
          await b.daemon.waitSas((s) => s.length === 1 && s[0].children.length === 1, "the SA");
          const r = await b.charon.terminate("gw");
          assert.equal(r.code, 0, r.stdout + r.stderr);
          await b.daemon.waitSas((s) => s.length === 0, "no SAs after swanctl --terminate");

          // Our certificate revoked by `ipsec pki signcrl`, loaded into charon.
          const crlDir = `${b.charon.dir}/x509crl`;
          await Deno.mkdir(crlDir, { recursive: true });
          const code = await ipsecPki([
            "signcrl",
            "--cacert",
            creds.ca,
            "--cakey",
            creds.caKey,
            "--cert",
            creds.ourCert,
            "--reason",
            "superseded",
            "--out",
            `${crlDir}/ours.crl`,
          ]);
          assert.equal(code, 0);
          const load = await b.charon.swanctl([
            "--load-creds",
            "--file",
            `${b.charon.dir}/swanctl.conf`,
          ]);
          assert.equal(load.code, 0, load.stdout + load.stderr);
          assert.match(load.stdout, /loaded certificate from '.*ours\.crl'/);
          const up = await b.daemon.cli(["up", "gw", "--timeout", "8"]);
          assert.notEqual(up.code, 0, "charon must refuse our revoked certificate");
          await b.charon.waitLog(/certificate was revoked on .* reason: superseded/);
        },
        {},
        { ours: { remoteExtra: [`crls: [${other}]`, "revocation: strict"] } },
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** A web server for `dir`/www on 127.0.0.1:`port`, and the command that finds it ready. */
function webServer(dir: string, port: number, uri: string): { args: string[]; probe: string[] } {
  return {
    args: [
      "python3",
      "-m",
      "http.server",
      String(port),
      "--bind",
      "127.0.0.1",
      "--directory",
      `${dir}/www`,
    ],
    probe: ["python3", "-c", `import urllib.request; urllib.request.urlopen("${uri}")`],
  };
}

/**
 * OpenSSL's OCSP responder on `port` for `creds`' CA, whose database lists
 * `cert` revoked on 2026-01-01 for `reason`; and the query that finds it ready.
 */
async function ocspResponder(
  dir: string,
  creds: Creds & { caKey: string },
  cert: string,
  port: number,
  reason: string,
): Promise<{ args: string[]; probe: string[] }> {
  const serial = (await swPkiMust(["--print", "--in", cert])).stdout
    .match(/serial: +([0-9a-f:]+)/)![1].replaceAll(":", "").toUpperCase();
  await Deno.writeTextFile(
    `${dir}/index.txt`,
    `R\t351231235959Z\t260101000000Z,${reason}\t${serial}\tunknown\t/CN=revoked\n`,
  );
  const ca = ["-CA", creds.ca];
  return {
    args: [
      "openssl",
      "ocsp",
      "-index",
      `${dir}/index.txt`,
      "-port",
      String(port),
      "-rsigner",
      creds.ca,
      "-rkey",
      creds.caKey,
      ...ca,
      "-ndays",
      "1",
    ],
    probe: [
      "openssl",
      "ocsp",
      "-issuer",
      creds.ca,
      "-cert",
      cert,
      "-url",
      `http://127.0.0.1:${port}`,
      "-CAfile",
      creds.ca,
    ],
  };
}

/** A server for a test: its command line and the command that finds it ready. */
type Served = { args: string[]; probe: string[] };

/**
 * Issues `creds` in a fresh directory, writes what `server` serves there,
 * and runs `f` on a bench with the server running in namespace `side` (c:
 * charon's, d: ours) until it is done.
 */
async function withServed(
  prefix: string,
  creds: (dir: string) => Promise<Creds & { caKey: string }>,
  side: "c" | "d",
  server: (dir: string, creds: Creds & { caKey: string }) => Promise<Served>,
  f: (b: Bench) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    const c = await creds(dir);
    const { args, probe } = await server(dir, c);
    await withBench(
      c,
      (b) =>
        serving(
          b[side],
          args,
          async () => (await b.lab.runIn(b[side], probe)).code === 0,
          () => f(b),
        ),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** strongSwan's pki issues charon's certificate with `moonExtra` (`--crl URI`, `--ocsp URI`). */
async function swanCreds(dir: string, moonExtra: string[]): Promise<Creds & { caKey: string }> {
  const org = "C=CH, O=strongSwan interop";
  await issueSwanSet(dir, "ecdsa", `${org}, CN=Interop CA`, [
    { name: "moon", dn: `${org}, CN=${CHARON_ID}`, san: CHARON_ID, extra: moonExtra },
    { name: "sun", dn: `${org}, CN=${ENGINE_ID}`, san: ENGINE_ID },
  ]);
  return {
    ca: `${dir}/ca.pem`,
    caKey: `${dir}/ca.key`,
    ourCert: `${dir}/sun.pem`,
    ourKey: `${dir}/sun.key`,
    charonCert: `${dir}/moon.pem`,
    charonKey: `${dir}/moon.key`,
  };
}

/** `ipsec pki` credentials, our certificate issued again with `extra` (`--crl`, `--ocsp`). */
async function ourCreds(dir: string, extra: string[]): Promise<Creds & { caKey: string }> {
  const creds = await issue(dir);
  const code = await ipsecPki([
    "issue",
    "--cacert",
    creds.ca,
    "--cakey",
    creds.caKey,
    "--in",
    creds.ourKey,
    "--dn",
    `C=CH, O=deno-ipsec interop, CN=${ENGINE_ID}`,
    "--san",
    ENGINE_ID,
    "--flag",
    "serverAuth",
    ...extra,
    "--out",
    creds.ourCert,
  ]);
  assert.equal(code, 0);
  return creds;
}

Deno.test({
  name:
    "strongSwan interop, our daemon: the CRL a strongSwan-issued certificate names is fetched and refuses it",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // Served in our daemon's namespace, on its loopback.
    const cdp = "http://127.0.0.1:8089/interop-ca.crl";
    const server = async (dir: string, creds: Creds & { caKey: string }) => {
      await Deno.mkdir(`${dir}/www`);
      // strongSwan's pki writes DER by default, as CRLs are served.
      const r = await swPkiMust([
        "--signcrl",
        "--cacert",
        creds.ca,
        "--cakey",
        creds.caKey,
        "--reason",
        "key-compromise",
        "--cert",
        creds.charonCert,
      ]);
      await Deno.writeFile(`${dir}/www/interop-ca.crl`, r.bytes);
      return webServer(dir, 8089, cdp);
    };
    await withServed("ti-crl-", (d) => swanCreds(d, ["--crl", cdp]), "d", server, async (b) => {
      // charon starts: we fetch the CRL its certificate names and refuse it.
      await assert.rejects(b.charon.initiate("gw", "net", 12), /initiate failed/);
      assert.match(
        b.daemon.log(),
        /fetched the CRL of "C=CH, O=strongSwan interop, CN=Interop CA" from http:\/\/127\.0\.0\.1:8089\/interop-ca\.crl: 1 revoked/,
      );
      assert.match(
        b.daemon.log(),
        /CN=moon\.example\.org" \(serial [0-9a-f:]+\) was revoked on \S+ \(keyCompromise\)/,
      );
      assert.deepEqual(await b.daemon.listSas(), []);
      // We start: the cached CRL refuses charon's certificate in its answer, no second fetch.
      const up = await b.daemon.cli(["up", "gw", "--timeout", "8"]);
      assert.notEqual(up.code, 0, "ipsec up must fail");
      assert.equal(b.daemon.log().match(/fetching CRL from /g)?.length, 1);
    });
  },
});

Deno.test({
  name:
    "strongSwan interop, our daemon: OCSP for a strongSwan-issued certificate (pki --issue --ocsp), OpenSSL's responder",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await withServed(
      "ti-ocsp-",
      (d) => swanCreds(d, ["--ocsp", "http://127.0.0.1:8890"]),
      "d",
      (dir, creds) => ocspResponder(dir, creds, creds.charonCert, 8890, "superseded"),
      async (b) => {
        // charon starts: we ask the responder its certificate names and refuse it.
        await assert.rejects(b.charon.initiate("gw", "net", 12), /initiate failed/);
        assert.match(
          b.daemon.log(),
          /CN=moon\.example\.org" \(serial [0-9a-f:]+\) was revoked on 2026-01-01T00:00:00\.000Z \(superseded\) according to the OCSP responder \(the issuer signed\)/,
        );
        assert.deepEqual(await b.daemon.listSas(), []);
      },
    );
  },
});

/** charon checks our certificate (revocation plugin with curl) when we initiate, and refuses it. */
async function charonRefusesUs(b: Bench, revokedLog: RegExp, viaLog: RegExp): Promise<void> {
  const logMark = await b.charon.logMark();
  const up = await b.daemon.cli(["up", "gw", "--timeout", "8"]);
  assert.notEqual(up.code, 0, "charon must refuse our revoked certificate");
  await b.charon.waitLog(revokedLog, logMark);
  await b.charon.waitLog(viaLog, logMark);
  assert.deepEqual(await b.daemon.listSas(), []);
}

Deno.test({
  name:
    "strongSwan interop, our daemon: charon fetches the CRL our certificate names and refuses it",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const cdp = "http://127.0.0.1:8091/ours.crl";
    const server = async (dir: string, creds: Creds & { caKey: string }) => {
      await Deno.mkdir(`${dir}/www`);
      const code = await ipsecPki([
        "signcrl",
        "--cacert",
        creds.ca,
        "--cakey",
        creds.caKey,
        "--cert",
        creds.ourCert,
        "--reason",
        "keyCompromise",
        "--outform",
        "der",
        "--out",
        `${dir}/www/ours.crl`,
      ]);
      assert.equal(code, 0);
      return webServer(dir, 8091, cdp);
    };
    await withServed(
      "ti-crl-ours-",
      (d) => ourCreds(d, ["--crl", cdp]),
      "c",
      server,
      (b) =>
        charonRefusesUs(
          b,
          /certificate was revoked on .* reason: key compromise/,
          /fetching crl from 'http:\/\/127\.0\.0\.1:8091\/ours\.crl'/,
        ),
    );
  },
});

Deno.test({
  name: "strongSwan interop, our daemon: charon asks the OCSP responder our certificate names",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await withServed(
      "ti-ocsp-ours-",
      (d) => ourCreds(d, ["--ocsp", "http://127.0.0.1:8892"]),
      "c",
      (dir, creds) => ocspResponder(dir, creds, creds.ourCert, 8892, "keyCompromise"),
      (b) =>
        charonRefusesUs(
          b,
          /certificate was revoked on .* reason: key compromise/,
          /requesting ocsp status from 'http:\/\/127\.0\.0\.1:8892'/,
        ),
    );
  },
});
