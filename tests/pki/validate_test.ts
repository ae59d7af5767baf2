/**
 * Chain validation and IKE identity matching, checked against certificates
 * made by independent implementations: strongSwan's `pki` (chains for every
 * key type, path length, CA flag, critical extensions) and openssl (keyUsage
 * without keyCertSign). Identity bytes come from strongSwan too (`pki --dn
 * --format bin`, `pki --keyid --format hex`).
 */
import assert from "node:assert/strict";
import * as nodeCrypto from "node:crypto";
import { Buffer } from "node:buffer";
import {
  certMatchesId,
  type ChainResult,
  checkSelfSignature,
  describeId,
  IKE_ID,
  publicKeyOf,
  subjectDer,
  subjectPublicKeyInfo,
  validateChain,
  validatePeerCertificate,
} from "../../lib/pki/validate.ts";
import { parseCertificate } from "../../lib/pki/certificate.ts";
import { fromHex } from "../../lib/wire/bytes.ts";
import { must, opensslCsr, opensslSign, read, swPkiMust, withTempDir } from "./_tools.ts";

const DAY = 86_400_000;
const enc = (s: string) => new TextEncoder().encode(s);

/** Generates a strongSwan key (DER) in `dir/name.key`. */
async function swKey(dir: string, name: string, type: string, size?: number): Promise<string> {
  const args = ["--gen", "--type", type];
  if (size) args.push("--size", String(size));
  Deno.writeFileSync(`${dir}/${name}.key`, (await swPkiMust(args)).bytes);
  return `${dir}/${name}.key`;
}

/** strongSwan `pki --self` (DER) into `dir/name.der`. */
async function swSelf(dir: string, name: string, key: string, extra: string[]): Promise<string> {
  const der = (await swPkiMust(["--self", "--in", key, "--type", "priv", ...extra])).bytes;
  Deno.writeFileSync(`${dir}/${name}.der`, der);
  return `${dir}/${name}.der`;
}

/** strongSwan `pki --issue` of `key`'s public half (DER) into `dir/name.der`. */
async function swIssue(
  dir: string,
  name: string,
  key: string,
  ca: { cert: string; key: string },
  extra: string[],
): Promise<string> {
  const der = (await swPkiMust([
    "--issue",
    "--in",
    key,
    "--type",
    "priv",
    "--cacert",
    ca.cert,
    "--cakey",
    ca.key,
    ...extra,
  ])).bytes;
  Deno.writeFileSync(`${dir}/${name}.der`, der);
  return `${dir}/${name}.der`;
}

function failure(r: ChainResult): { code: string; message: string } {
  assert.equal(r.ok, false, "expected validation to fail");
  if (r.ok) throw new Error("unreachable");
  return { code: r.error.code, message: r.error.message };
}

Deno.test("validateChain() accepts strongSwan root -> intermediate -> leaf chains for every signature type", async () => {
  await withTempDir(async (t) => {
    const kinds: { name: string; type: string; size?: number; sign?: string[] }[] = [
      { name: "rsa", type: "rsa", size: 2048 },
      { name: "rsa-pss", type: "rsa", size: 2048, sign: ["--rsa-padding", "pss"] },
      { name: "p256", type: "ecdsa", size: 256 },
      { name: "p384", type: "ecdsa", size: 384 },
      { name: "p521", type: "ecdsa", size: 521 },
      { name: "ed25519", type: "ed25519" },
    ];
    // One RSA key pair serves both RSA variants (RSA generation is slow).
    const rsaRoot = await swKey(t.dir, "rsa-root", "rsa", 2048);
    const rsaInt = await swKey(t.dir, "rsa-int", "rsa", 2048);
    const leafKey = await swKey(t.dir, "leaf", "ecdsa", 256);
    for (const k of kinds) {
      const d = `${t.dir}/${k.name}`;
      await Deno.mkdir(d);
      const rootKey = k.type === "rsa" ? rsaRoot : await swKey(d, "root", k.type, k.size);
      const intKey = k.type === "rsa" ? rsaInt : await swKey(d, "int", k.type, k.size);
      const sign = k.sign ?? [];
      const root = await swSelf(d, "root", rootKey, [
        "--ca",
        "--dn",
        `C=CH, O=strongSwan, CN=${k.name} Root`,
        ...sign,
      ]);
      const int = await swIssue(d, "int", intKey, { cert: root, key: rootKey }, [
        "--ca",
        "--dn",
        `C=CH, O=strongSwan, CN=${k.name} Intermediate`,
        ...sign,
      ]);
      const leaf = await swIssue(d, "leaf", leafKey, { cert: int, key: intKey }, [
        "--dn",
        "C=CH, O=strongSwan, CN=moon.strongswan.org",
        "--san",
        "moon.strongswan.org",
        "--flag",
        "serverAuth",
        ...sign,
      ]);
      const now = new Date();
      const r = validateChain(read(leaf), [read(int)], [read(root)], now);
      assert.equal(r.ok, true, `${k.name}: ${r.ok ? "" : r.error.message}`);
      if (r.ok) {
        assert.deepEqual(r.path.map((c) => c.subject), [
          "C=CH, O=strongSwan, CN=moon.strongswan.org",
          `C=CH, O=strongSwan, CN=${k.name} Intermediate`,
          `C=CH, O=strongSwan, CN=${k.name} Root`,
        ]);
      }
      // Without the intermediate there is no path.
      assert.equal(
        failure(validateChain(read(leaf), [], [read(root)], now)).code,
        "unknown_issuer",
        k.name,
      );
      // strongSwan agrees the chain is fine (so our acceptance is not vacuous).
      await swPkiMust(["--verify", "--in", int, "--cacert", root]);
      assert.equal(checkSelfSignature(read(root)), true, k.name);
    }
  });
});

Deno.test("validateChain() rejects with a reason: validity, CA flag, path length, signature, issuer", async () => {
  await withTempDir(async (t) => {
    const d = t.dir;
    const rootKey = await swKey(d, "root", "ecdsa", 256);
    const eeKey = await swKey(d, "ee", "ed25519");
    const root = await swSelf(d, "root", rootKey, [
      "--ca",
      "--dn",
      "C=CH, CN=Root",
      "--lifetime",
      "10",
    ]);
    const leaf = await swIssue(d, "leaf", eeKey, { cert: root, key: rootKey }, [
      "--dn",
      "C=CH, CN=leaf",
      "--lifetime",
      "30",
    ]);
    // Certificates are valid from the second they are made: take "now" after making them.
    let now = Date.now();
    assert.equal(validateChain(read(leaf), [], [read(root)], now).ok, true);
    // Leaf valid, CA expired (day 20).
    let f = failure(validateChain(read(leaf), [], [read(root)], now + 20 * DAY));
    assert.equal(f.code, "expired");
    assert.match(f.message, /^CA certificate "C=CH, CN=Root" expired on \d{4}-/);
    // Leaf expired (day 40).
    f = failure(validateChain(read(leaf), [], [read(root)], now + 40 * DAY));
    assert.equal(f.code, "expired");
    assert.match(f.message, /^certificate "C=CH, CN=leaf" expired on/);
    // Before notBefore (as a Date).
    f = failure(validateChain(read(leaf), [], [read(root)], new Date(now - 2 * DAY)));
    assert.equal(f.code, "not_yet_valid");

    // An end-entity certificate used as an issuer.
    const notCaKey = await swKey(d, "notca", "ecdsa", 256);
    const notCa = await swIssue(d, "notca", notCaKey, { cert: root, key: rootKey }, [
      "--dn",
      "C=CH, CN=Not a CA",
    ]);
    // strongSwan refuses to issue with it, openssl does not check.
    await must("openssl", ["x509", "-inform", "DER", "-in", notCa, "-out", `${d}/notca.pem`]);
    Deno.writeTextFileSync(`${d}/req.cnf`, "[req]\ndistinguished_name = dn\n[dn]\n");
    const underNotCa = await opensslSign({
      csr: await opensslCsr(`${d}/victim`, "/CN=victim", `${d}/req.cnf`),
      caCert: `${d}/notca.pem`,
      caKey: notCaKey,
      out: `${d}/victim.der`,
      extra: ["-CAkeyform", "DER", "-outform", "DER"],
    });
    now = Date.now();
    f = failure(validateChain(read(underNotCa), [read(notCa)], [read(root)], now));
    assert.equal(f.code, "not_ca");
    assert.match(f.message, /issuer "C=CH, CN=Not a CA" is not a CA/);

    // pathLenConstraint 0 on the root forbids an intermediate CA below it.
    const r0 = await swSelf(d, "r0", rootKey, ["--ca", "--pathlen", "0", "--dn", "C=CH, CN=R0"]);
    const intKey = await swKey(d, "int", "ecdsa", 384);
    const int = await swIssue(d, "int0", intKey, { cert: r0, key: rootKey }, [
      "--ca",
      "--dn",
      "C=CH, CN=Int",
    ]);
    const deep = await swIssue(d, "deep", eeKey, { cert: int, key: intKey }, [
      "--dn",
      "C=CH, CN=deep",
    ]);
    now = Date.now();
    f = failure(validateChain(read(deep), [read(int)], [read(r0)], now));
    assert.equal(f.code, "path_length");
    // ... while pathlen 1 allows it.
    const r1 = await swSelf(d, "r1", rootKey, ["--ca", "--pathlen", "1", "--dn", "C=CH, CN=R0"]);
    now = Date.now();
    assert.equal(validateChain(read(deep), [read(int)], [read(r1)], now).ok, true);

    // A flipped bit in the signature.
    const bad = read(leaf).slice();
    bad[bad.length - 5] ^= 0x10;
    f = failure(validateChain(bad, [], [read(root)], now));
    assert.equal(f.code, "bad_signature");
    assert.match(f.message, /signature of "C=CH, CN=leaf" does not verify/);

    // Same issuer name, different key: not our CA.
    const otherKey = await swKey(d, "other", "ecdsa", 256);
    const impostor = await swSelf(d, "impostor", otherKey, ["--ca", "--dn", "C=CH, CN=Root"]);
    assert.equal(validateChain(read(leaf), [], [read(impostor)], now).ok, false);
    // Unrelated anchor.
    f = failure(validateChain(read(leaf), [], [read(r0)], now));
    assert.equal(f.code, "unknown_issuer");
    assert.match(f.message, /no trusted issuer "C=CH, CN=Root" found for "C=CH, CN=leaf"/);

    // An unknown critical extension (strongSwan --critical adds one).
    const crit = await swIssue(d, "crit", eeKey, { cert: root, key: rootKey }, [
      "--dn",
      "C=CH, CN=crit",
      "--critical",
      "1.3.6.1.4.1.36906.1",
    ]);
    now = Date.now();
    f = failure(validateChain(read(crit), [], [read(root)], now));
    assert.equal(f.code, "unsupported_critical_extension");

    // Garbage, and the leaf being a trust anchor itself.
    assert.equal(failure(validateChain(enc("nope"), [], [read(root)], now)).code, "malformed");
    // A pinned self-signed end-entity certificate is its own anchor ...
    const pinned = await swSelf(d, "pinned", eeKey, ["--dn", "C=CH, CN=pinned"]);
    now = Date.now();
    assert.equal(validateChain(read(pinned), [], [read(pinned)], now).ok, true);
    // ... but a CA certificate (keyUsage without digitalSignature) cannot sign AUTH.
    assert.equal(failure(validateChain(read(root), [], [read(root)], now)).code, "key_usage");
    // Unrelated and broken intermediates are skipped.
    assert.equal(
      validateChain(read(deep), [enc("junk"), read(leaf), read(int)], [read(r1)], now).ok,
      true,
    );
  });
});

Deno.test("validateChain() checks keyUsage on issuer and leaf (openssl-made certificates)", async () => {
  await withTempDir(async (t) => {
    const d = t.dir;
    const ext = `${d}/ext.cnf`;
    Deno.writeTextFileSync(
      ext,
      `[req]
distinguished_name = dn
[dn]
[leaf_enc]
keyUsage = critical, keyEncipherment
[leaf_ok]
keyUsage = critical, digitalSignature
`,
    );
    await must("openssl", ["genpkey", "-algorithm", "ED25519", "-out", `${d}/ca.key`]);
    await must("openssl", ["genpkey", "-algorithm", "ED25519", "-out", `${d}/ee.key`]);
    const ca = (name: string, keyUsage: string) =>
      must("openssl", [
        "req",
        "-x509",
        "-new",
        "-key",
        `${d}/ca.key`,
        "-subj",
        `/CN=${name}`,
        "-days",
        "30",
        "-config",
        ext,
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        `keyUsage=critical,${keyUsage}`,
        "-out",
        `${d}/${name}.pem`,
      ]);
    await ca("NoSignCA", "digitalSignature");
    await ca("GoodCA", "keyCertSign");
    const csr = `${d}/ee.csr`;
    await must("openssl", [
      "req",
      "-new",
      "-key",
      `${d}/ee.key`,
      "-subj",
      "/CN=ee",
      "-config",
      ext,
      "-out",
      csr,
    ]);
    const issue = (ca: string, name: string, section: string) =>
      opensslSign({
        csr,
        caCert: `${d}/${ca}.pem`,
        caKey: `${d}/ca.key`,
        out: `${d}/${name}.pem`,
        extra: ["-extfile", ext, "-extensions", section],
      });
    await issue("NoSignCA", "under_nosign", "leaf_ok");
    await issue("GoodCA", "enc_only", "leaf_enc");
    await issue("GoodCA", "good", "leaf_ok");
    const now = new Date();
    const p = (n: string) => read(`${d}/${n}.pem`);
    // Sanity: openssl itself accepts "good" and rejects the other two.
    await must("openssl", ["verify", "-CAfile", `${d}/GoodCA.pem`, `${d}/good.pem`]);
    assert.equal(validateChain(p("good"), [], [p("GoodCA")], now).ok, true);
    let f = failure(validateChain(p("under_nosign"), [], [p("NoSignCA")], now));
    assert.equal(f.code, "key_usage");
    assert.match(f.message, /issuer "CN=NoSignCA" keyUsage lacks keyCertSign/);
    f = failure(validateChain(p("enc_only"), [], [p("GoodCA")], now));
    assert.equal(f.code, "key_usage");
    assert.match(f.message, /certificate "CN=ee" keyUsage lacks digitalSignature/);
  });
});

Deno.test("certMatchesId() binds FQDN, RFC822, IPv4, IPv6, DN and KEY_ID identities", async () => {
  await withTempDir(async (t) => {
    const d = t.dir;
    const caKey = await swKey(d, "ca", "ecdsa", 256);
    const ca = await swSelf(d, "ca", caKey, ["--ca", "--dn", "C=CH, CN=CA"]);
    const eeKey = await swKey(d, "ee", "ecdsa", 256);
    const leaf = await swIssue(d, "leaf", eeKey, { cert: ca, key: caKey }, [
      "--dn",
      "C=CH, O=Example, CN=Gateway",
      "--san",
      "vpn.example.com",
      "--san",
      "*.vpn.example.net",
      "--san",
      "192.0.2.7",
      "--san",
      "2001:db8::7",
      "--san",
      "ops@example.com",
    ]);
    const cert = read(leaf);
    const yes = (type: number, data: Uint8Array) =>
      assert.equal(certMatchesId(cert, type, data), true, describeId(type, data));
    const no = (type: number, data: Uint8Array) =>
      assert.equal(certMatchesId(cert, type, data), false, describeId(type, data));

    yes(IKE_ID.FQDN, enc("vpn.example.com"));
    yes(IKE_ID.FQDN, enc("VPN.Example.COM"));
    yes(IKE_ID.FQDN, enc("a.vpn.example.net"));
    no(IKE_ID.FQDN, enc("a.b.vpn.example.net"));
    no(IKE_ID.FQDN, enc("vpn.example.net"));
    no(IKE_ID.FQDN, enc("Gateway"));
    no(IKE_ID.FQDN, new Uint8Array(0));
    yes(IKE_ID.RFC822_ADDR, enc("OPS@example.com"));
    no(IKE_ID.RFC822_ADDR, enc("ops@example.org"));
    no(IKE_ID.RFC822_ADDR, enc("vpn.example.com"));
    yes(IKE_ID.IPV4_ADDR, new Uint8Array([192, 0, 2, 7]));
    no(IKE_ID.IPV4_ADDR, new Uint8Array([192, 0, 2, 8]));
    yes(IKE_ID.IPV6_ADDR, fromHex("20010db8000000000000000000000007"));
    no(IKE_ID.IPV6_ADDR, fromHex("20010db8000000000000000000000008"));
    no(IKE_ID.FQDN, enc("192.0.2.7"));

    // DN: DER as strongSwan encodes it for an ID_DER_ASN1_DN identity.
    const dn = (await swPkiMust(["--dn", "--in", leaf, "--format", "bin"])).bytes;
    yes(IKE_ID.DER_ASN1_DN, dn);
    assert.deepEqual(subjectDer(cert), dn);
    const otherDn = (await swPkiMust(["--dn", "--in", ca, "--format", "bin"])).bytes;
    no(IKE_ID.DER_ASN1_DN, otherDn);
    no(IKE_ID.DER_ASN1_DN, enc("garbage"));

    // KEY_ID: strongSwan's subjectPublicKey SHA-1 key identifier.
    const keyid = await swPkiMust([
      "--keyid",
      "--in",
      leaf,
      "--type",
      "x509",
      "--id",
      "spk",
      "--format",
      "hex",
    ]);
    yes(IKE_ID.KEY_ID, fromHex(keyid.stdout.trim()));
    no(IKE_ID.KEY_ID, new Uint8Array(20));

    no(99, enc("vpn.example.com"));
    assert.equal(certMatchesId(enc("junk"), IKE_ID.FQDN, enc("vpn.example.com")), false);
  });
});

Deno.test("validatePeerCertificate() returns the key to check AUTH with, or why not", async () => {
  await withTempDir(async (t) => {
    const d = t.dir;
    const caKey = await swKey(d, "ca", "ed25519");
    const ca = await swSelf(d, "ca", caKey, ["--ca", "--dn", "C=CH, CN=CA"]);
    const eeKey = await swKey(d, "ee", "rsa", 2048);
    const leaf = await swIssue(d, "leaf", eeKey, { cert: ca, key: caKey }, [
      "--dn",
      "C=CH, CN=sun.example.com",
      "--san",
      "sun.example.com",
    ]);
    const now = new Date();
    const base = {
      certs: [read(leaf)],
      trustAnchors: [read(ca)],
      idType: IKE_ID.FQDN,
      idData: enc("sun.example.com"),
      now,
    };
    const r = validatePeerCertificate(base);
    assert.equal(r.ok, true);
    if (!r.ok) return;
    assert.equal(r.cert.subject, "C=CH, CN=sun.example.com");
    assert.equal(r.path.length, 2);
    // The returned key verifies a signature openssl made with the peer's private key.
    const data = enc("signed octets");
    Deno.writeFileSync(`${d}/data`, data);
    await must("openssl", [
      "dgst",
      "-sha256",
      "-sign",
      `${d}/ee.key`,
      "-keyform",
      "DER",
      "-out",
      `${d}/sig`,
      `${d}/data`,
    ]);
    assert.equal(
      nodeCrypto.verify("sha256", Buffer.from(data), r.publicKey, read(`${d}/sig`)),
      true,
    );
    assert.equal(publicKeyOf(read(leaf)).asymmetricKeyType, "rsa");
    // The SPKI is what strongSwan extracts with pki --pub.
    const swPub = await swPkiMust(["--pub", "--in", leaf, "--type", "x509"]);
    assert.deepEqual(r.spki, swPub.bytes);
    assert.deepEqual(subjectPublicKeyInfo(read(leaf)), swPub.bytes);

    const wrongId = validatePeerCertificate({ ...base, idData: enc("moon.example.com") });
    assert.equal(wrongId.ok, false);
    if (!wrongId.ok) {
      assert.equal(wrongId.error.code, "id_mismatch");
      assert.equal(
        wrongId.error.message,
        'certificate "C=CH, CN=sun.example.com" does not contain the peer\'s identity ' +
          'FQDN "moon.example.com" (as subjectAltName)',
      );
    }
    const none = validatePeerCertificate({ ...base, certs: [] });
    assert.equal(!none.ok && none.error.code, "no_certificate");
    const expired = validatePeerCertificate({ ...base, now: now.getTime() + 4000 * DAY });
    assert.equal(!expired.ok && expired.error.code, "expired");
    assert.equal(parseCertificate(read(ca)).subject, "C=CH, CN=CA");
  });
});

Deno.test("describeId() prints identities for logs", () => {
  assert.equal(describeId(IKE_ID.IPV4_ADDR, new Uint8Array([10, 0, 0, 1])), "IPv4 10.0.0.1");
  assert.equal(
    describeId(IKE_ID.IPV6_ADDR, fromHex("20010db8000000000000000000000001")),
    "IPv6 2001:db8:0:0:0:0:0:1",
  );
  assert.equal(describeId(IKE_ID.RFC822_ADDR, enc("a@b.c")), 'RFC822 "a@b.c"');
  assert.equal(describeId(IKE_ID.KEY_ID, new Uint8Array([1, 0xab])), "KEY_ID 0x01ab");
  assert.equal(describeId(IKE_ID.IPV4_ADDR, new Uint8Array([1])), "IPv4 0x01");
});

Deno.test("validateChain() purpose 'ca' checks a CA certificate instead of a peer", async () => {
  await withTempDir(async (t) => {
    const d = t.dir;
    const rootKey = await swKey(d, "root", "ecdsa", 256);
    const root = await swSelf(d, "root", rootKey, ["--ca", "--dn", "C=CH, CN=Root"]);
    const intKey = await swKey(d, "int", "ed25519");
    const int = await swIssue(d, "int", intKey, { cert: root, key: rootKey }, [
      "--ca",
      "--dn",
      "C=CH, CN=Int",
    ]);
    const ee = await swIssue(d, "ee", intKey, { cert: root, key: rootKey }, [
      "--dn",
      "C=CH, CN=ee",
    ]);
    const now = Date.now();
    assert.equal(validateChain(read(int), [], [read(root)], now, { purpose: "ca" }).ok, true);
    assert.equal(validateChain(read(root), [], [read(root)], now, { purpose: "ca" }).ok, true);
    const f = failure(validateChain(read(ee), [], [read(root)], now, { purpose: "ca" }));
    assert.equal(f.code, "not_ca");
    assert.equal(f.message, '"C=CH, CN=ee" is not a CA certificate');
    assert.equal(validateChain(read(ee), [], [read(root)], now).ok, true);
  });
});

Deno.test("validateChain() verifies P-521 signatures with SHA-256 and SHA-384 (openssl-made)", async () => {
  // Deno's node:crypto rejects valid P-521 signatures over hashes other than
  // SHA-512; _verify.ts routes P-521 through @noble/curves. openssl is the oracle.
  await withTempDir(async ({ dir }) => {
    const cnf = `${dir}/req.cnf`;
    Deno.writeTextFileSync(cnf, "[req]\ndistinguished_name = dn\n[dn]\n");
    await must("openssl", [
      "ecparam",
      "-name",
      "secp521r1",
      "-genkey",
      "-noout",
      "-out",
      `${dir}/ca.key`,
    ]);
    for (const hash of ["sha256", "sha384"]) {
      await must("openssl", [
        "req",
        "-x509",
        "-new",
        `-${hash}`,
        "-key",
        `${dir}/ca.key`,
        "-subj",
        `/CN=P521 ${hash}`,
        "-days",
        "5",
        "-config",
        cnf,
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-out",
        `${dir}/${hash}.pem`,
      ]);
      const text = (await must("openssl", ["x509", "-in", `${dir}/${hash}.pem`, "-noout", "-text"]))
        .stdout;
      assert.match(text, new RegExp(`ecdsa-with-${hash.toUpperCase()}`));
      const ca = read(`${dir}/${hash}.pem`);
      assert.equal(checkSelfSignature(ca), true, hash);
      // A leaf signed by the P-521 CA with the same hash.
      await opensslSign({
        csr: await opensslCsr(`${dir}/leaf`, "/CN=leaf", cnf),
        caCert: `${dir}/${hash}.pem`,
        caKey: `${dir}/ca.key`,
        out: `${dir}/leaf-${hash}.pem`,
        extra: [`-${hash}`],
      });
      await must("openssl", ["verify", "-CAfile", `${dir}/${hash}.pem`, `${dir}/leaf-${hash}.pem`]);
      const leaf = read(`${dir}/leaf-${hash}.pem`);
      const r = validateChain(leaf, [], [ca], Date.now());
      assert.equal(r.ok, true, `${hash}: ${r.ok ? "" : r.error.message}`);
      // A corrupted signature still fails (the check is not vacuous).
      const bad = parseCertificate(leaf).rawData;
      const der = new Uint8Array(bad);
      der[der.length - 4] ^= 0x01;
      assert.equal(validateChain(der, [], [ca], Date.now()).ok, false, hash);
    }
  });
});

Deno.test("validateChain() keeps parsed certificates by their bytes, never a verdict for other bytes or keys", async () => {
  await withTempDir(async (t) => {
    const d = t.dir;
    // Two roots with the same name and different keys; the leaf is signed by the first.
    const k1 = await swKey(d, "r1", "ecdsa", 256);
    const k2 = await swKey(d, "r2", "ecdsa", 256);
    const dn = ["--ca", "--dn", "C=CH, CN=Same Root"];
    const r1 = await swSelf(d, "r1", k1, dn);
    const r2 = await swSelf(d, "r2", k2, dn);
    const leaf = await swIssue(d, "leaf", await swKey(d, "ee", "ecdsa", 256), {
      cert: r1,
      key: k1,
    }, ["--dn", "C=CH, CN=leaf"]);
    const now = Date.now();
    for (let round = 0; round < 3; round++) {
      // Fresh copies each time: the cache goes by content, not by object.
      // (its key identifier differs: not even a candidate issuer)
      assert.equal(failure(validateChain(read(leaf), [], [read(r2)], now)).code, "unknown_issuer");
      assert.equal(validateChain(read(leaf), [], [read(r1)], now).ok, true);
      assert.equal(validateChain(read(leaf), [], [read(r2), read(r1)], now).ok, true);
    }
    // The same certificate with one signature bit flipped is other bytes: checked afresh.
    const bad = read(leaf);
    bad[bad.length - 5] ^= 1;
    assert.equal(failure(validateChain(bad, [], [read(r1)], now)).code, "bad_signature");
    assert.equal(validateChain(read(leaf), [], [read(r1)], now).ok, true);
  });
});

Deno.test("validatePeerCertificate() never throws on certificates a peer mangled (strongSwan-made, mutated)", async () => {
  await withTempDir(async (t) => {
    const d = t.dir;
    const caKey = await swKey(d, "ca", "ecdsa");
    const ca = await swSelf(d, "ca", caKey, ["--ca", "--dn", "C=CH, CN=CA"]);
    const eeKey = await swKey(d, "ee", "ecdsa");
    const leaf = read(
      await swIssue(d, "leaf", eeKey, { cert: ca, key: caKey }, [
        "--dn",
        "C=CH, O=Test, CN=sun.example.com",
        "--san",
        "sun.example.com",
        "--san",
        "sun@example.com",
        "--san",
        "192.0.2.1",
        "--crl",
        "http://crl.example.com/ca.crl",
      ]),
    );
    let seed = 4321;
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const codes = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const bad = leaf.slice();
      for (let k = 1 + rnd(3); k > 0; k--) bad[rnd(bad.length)] = rnd(256);
      let r: ReturnType<typeof validatePeerCertificate>;
      try {
        r = validatePeerCertificate({
          certs: [bad, bad],
          trustAnchors: [read(ca)],
          idType: IKE_ID.FQDN,
          idData: enc("sun.example.com"),
          now: new Date(),
        });
      } catch (e) {
        throw new Error(`mutation ${i} threw: ${(e as Error).message}`);
      }
      if (!r.ok) codes.add(r.error.code);
    }
    // Mangled DER or fields, or intact fields under a signature that no longer verifies.
    assert.ok(codes.has("malformed") && codes.has("bad_signature"), [...codes].join(" "));
  });
});
