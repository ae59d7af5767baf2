/**
 * CRL fetching end to end in network namespaces, with files `ipsec pki`
 * writes: every certificate names http://127.0.0.1:8088/ca.crl; in b a web
 * server (python3 http.server on b's loopback) serves the CA's CRL, which
 * revokes carol. The gateway (b, `revocation: strict`) fetches it when the
 * first client authenticates: alice gets in (strict would refuse her
 * without the CRL), carol is refused with the reason, and the CRL is
 * fetched once. The client (a) finds no server at that address in its own
 * namespace: under the default `relaxed` it logs why and goes on. Needs
 * root; namespaces are prefixed `tcrl-` and always deleted.
 *
 * ```
 *  tcrl-a: va 192.0.2.1/24 ── vb 192.0.2.2/24, lo 10.2.0.1, web 127.0.0.1:8088 :tcrl-b
 * ```
 */
import assert from "node:assert/strict";
import { run } from "../helpers/netns.ts";
import { IPSEC, ok, serving, withHostPair } from "../helpers/netns_daemons.ts";

const CDP = "http://127.0.0.1:8088/ca.crl";

const GATEWAY = `connections:
  rw:
    local_addrs: [192.0.2.2]
    local: { auth: pubkey, id: gw.example.org, certs: [gw.pem], key: gw.key }
    remote: { auth: pubkey, cacerts: [ca.pem], revocation: strict }
    children:
      net: { local_ts: 10.2.0.0/24, remote_ts: 192.0.2.1/32 }
`;

const client = (who: string) => `
  ${who}:
    remote_addrs: 192.0.2.2
    local: { auth: pubkey, id: ${who}@example.org, certs: [${who}.pem], key: ${who}.key }
    remote: { auth: pubkey, id: gw.example.org, cacerts: [ca.pem] }
    children:
      ${who}-net: { local_ts: 192.0.2.1/32, remote_ts: 10.2.0.0/24 }`;

async function pki(args: string[]): Promise<void> {
  ok(await run([...IPSEC, "pki", ...args]), `ipsec pki ${args.join(" ")}`);
}

/** CA, gateway, alice and carol (ECDSA) from `ipsec pki` in `dir`; `extra` for every leaf. */
async function issuePki(dir: string, extra: string[]): Promise<void> {
  const f = (n: string) => `${dir}/${n}`;
  await pki(["gen", "--type", "ecdsa", "--out", f("ca.key")]);
  await pki([
    "self",
    "--ca",
    "--in",
    f("ca.key"),
    "--dn",
    "O=CRL test, CN=CRL test CA",
    "--out",
    f("ca.pem"),
  ]);
  for (
    const [who, id] of [["gw", "gw.example.org"], ["alice", "alice@example.org"], [
      "carol",
      "carol@example.org",
    ]]
  ) {
    await pki(["gen", "--type", "ecdsa", "--out", f(`${who}.key`)]);
    await pki([
      "issue",
      "--cacert",
      f("ca.pem"),
      "--cakey",
      f("ca.key"),
      "--in",
      f(`${who}.key`),
      "--dn",
      `O=CRL test, CN=${id}`,
      "--san",
      id,
      "--flag",
      "serverAuth",
      ...extra,
      "--out",
      f(`${who}.pem`),
    ]);
  }
}

/** The gateway's files into `dir`/b, the clients' into `dir`/a. */
async function spread(dir: string): Promise<void> {
  const f = (n: string) => `${dir}/${n}`;
  const sides = [["b", ["ca.pem", "gw.pem", "gw.key"]], ["a", [
    "ca.pem",
    "alice.pem",
    "alice.key",
    "carol.pem",
    "carol.key",
  ]]] as const;
  for (const [who, files] of sides) {
    await Deno.mkdir(f(who), { recursive: true });
    for (const file of files) await Deno.copyFile(f(file), f(`${who}/${file}`));
  }
}

Deno.test({
  name: "CRL fetching (netns): the gateway fetches the CRL a certificate names, once",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withHostPair("tcrl-", { bLo: ["10.2.0.1/32"] }, async ({ lab, dir, a, b, start }) => {
      const f = (n: string) => `${dir}/${n}`;
      await issuePki(dir, ["--crl", CDP]);
      await Deno.mkdir(f("www"));
      await pki([
        "signcrl",
        "--cacert",
        f("ca.pem"),
        "--cakey",
        f("ca.key"),
        "--cert",
        f("carol.pem"),
        "--reason",
        "keyCompromise",
        "--outform",
        "der",
        "--out",
        f("www/ca.crl"),
      ]);
      await spread(dir);
      const web = [
        "python3",
        "-m",
        "http.server",
        "8088",
        "--bind",
        "127.0.0.1",
        "--directory",
        f("www"),
      ];
      const probe = async () =>
        (await lab.runIn(b, [
          "python3",
          "-c",
          `import urllib.request; urllib.request.urlopen("${CDP}")`,
        ])).code === 0;
      await serving(b, web, probe, async () => {
        const B = await start(b, "b", GATEWAY);
        const A = await start(a, "a", `connections:${client("alice")}${client("carol")}\n`);
        const why = () => `\n--- a ---\n${A.log()}\n--- b ---\n${B.log()}`;

        ok(await A.ipsec(["up", "alice", "--timeout", "20"]), `ipsec up alice${why()}`);
        assert.match(
          B.log(),
          /fetched the CRL of "O=CRL test, CN=CRL test CA" from http:\/\/127\.0\.0\.1:8088\/ca\.crl: 1 revoked/,
          why(),
        );
        // a has no server at that address: relaxed, it says why and goes on.
        assert.match(A.log(), /cannot fetch the CRL at http:\/\/127\.0\.0\.1:8088\/ca\.crl/, why());

        const bad = await A.ipsec(["up", "carol", "--timeout", "20"]);
        assert.notEqual(bad.code, 0, `ipsec up carol succeeded${why()}`);
        assert.match(
          B.log(),
          /certificate "O=CRL test, CN=carol@example\.org" \(serial [0-9a-f:]+\) was revoked on \S+ \(keyCompromise\)/,
          why(),
        );
        assert.equal(B.log().match(/fetching CRL from /g)?.length, 1, `one fetch${why()}`);
        // list-certs shows our certificate with its key, the CA, and the CRL with where it came from.
        const certs = ok(await B.ipsec(["list-certs"]), "list-certs");
        assert.match(
          certs,
          /List of X\.509 End Entity Certificates\n\n {2}subject: {3}"O=CRL test, CN=gw\.example\.org"/,
          certs,
        );
        assert.match(certs, /has private key\n {2}used by: {3}rw/, certs);
        assert.match(
          certs,
          /List of X\.509 CA Certificates\n\n {2}subject: {3}"O=CRL test, CN=CRL test CA"/,
          certs,
        );
        assert.match(
          certs,
          /revoked: {3}1 certificate\n.*keyCompromise\n {2}fetched from http:\/\/127\.0\.0\.1:8088\/ca\.crl at /,
          certs,
        );
        const sas = JSON.parse(ok(await B.ipsec(["list-sas", "--json"]), "list-sas")) as unknown[];
        assert.equal(sas.length, 1, `only alice's SA${why()}`);
      });
    }),
});

const OCSP = "http://127.0.0.1:8888";

Deno.test({
  name: "OCSP (netns): a strict gateway asks OpenSSL's responder about each client certificate",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withHostPair("tocsp-", { bLo: ["10.2.0.1/32"] }, async ({ lab, dir, a, b, start }) => {
      const f = (n: string) => `${dir}/${n}`;
      await issuePki(dir, ["--ocsp", OCSP]);
      const line = async (who: string, revoked?: string) => {
        const serial = (await run(["openssl", "x509", "-in", f(`${who}.pem`), "-noout", "-serial"]))
          .stdout.trim().replace(/^serial=/, "");
        return [
          revoked ? "R" : "V",
          "351231235959Z",
          revoked ?? "",
          serial,
          "unknown",
          `/CN=${who}`,
        ]
          .join("\t");
      };
      await Deno.writeTextFile(
        f("index.txt"),
        [await line("gw"), await line("alice"), await line("carol", "260101000000Z,keyCompromise")]
          .join("\n") + "\n",
      );
      await spread(dir);
      const responder = [
        "openssl",
        "ocsp",
        "-index",
        f("index.txt"),
        "-port",
        "8888",
        "-rsigner",
        f("ca.pem"),
        "-rkey",
        f("ca.key"),
        "-CA",
        f("ca.pem"),
        "-ndays",
        "1",
      ];
      const probe = async () =>
        (await lab.runIn(b, [
          "openssl",
          "ocsp",
          "-issuer",
          f("ca.pem"),
          "-cert",
          f("alice.pem"),
          "-url",
          OCSP,
          "-CAfile",
          f("ca.pem"),
        ])).code === 0;
      await serving(b, responder, probe, async () => {
        const B = await start(b, "b", GATEWAY);
        const A = await start(a, "a", `connections:${client("alice")}${client("carol")}\n`);
        const why = () => `\n--- a ---\n${A.log()}\n--- b ---\n${B.log()}`;

        ok(await A.ipsec(["up", "alice", "--timeout", "20"]), `ipsec up alice${why()}`);
        assert.match(
          B.log(),
          /OCSP responder http:\/\/127\.0\.0\.1:8888 \(serial [0-9a-f:]+\): good \(the issuer signed\)/,
          why(),
        );
        // a has no responder in its namespace: relaxed, it says why and goes on.
        assert.match(A.log(), /OCSP responder http:\/\/127\.0\.0\.1:8888 .*cannot ask/, why());

        const bad = await A.ipsec(["up", "carol", "--timeout", "20"]);
        assert.notEqual(bad.code, 0, `ipsec up carol succeeded${why()}`);
        assert.match(
          B.log(),
          /certificate "O=CRL test, CN=carol@example\.org" \(serial [0-9a-f:]+\) was revoked on 2026-01-01T00:00:00\.000Z \(keyCompromise\) according to the OCSP responder/,
          why(),
        );
        const certs = ok(await B.ipsec(["list-certs"]), "list-certs");
        assert.match(
          certs,
          /List of OCSP responses\n\n {2}http:\/\/127\.0\.0\.1:8888 serial [0-9a-f:]+: good/,
          certs,
        );
        assert.match(certs, /serial [0-9a-f:]+: revoked on 2026-01-01/, certs);
        const sas = JSON.parse(ok(await B.ipsec(["list-sas", "--json"]), "list-sas")) as unknown[];
        assert.equal(sas.length, 1, `only alice's SA${why()}`);
      });
    }),
});
