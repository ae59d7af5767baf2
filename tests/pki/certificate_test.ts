import assert from "node:assert/strict";
import {
  exportPrivateKeyDer,
  generateKeyPair,
  importPrivateKey,
  type KeyPair,
} from "../../lib/pki/keys.ts";
import {
  createCertificateRequest,
  issueCertificate,
  parseCertificate,
  parseCertificateRequest,
  parseCertificates,
  selfSignCertificate,
  type X509Certificate,
} from "../../lib/pki/certificate.ts";
import { encodePem } from "../../lib/pki/pem.ts";
import { PkiError } from "../../lib/pki/pki_error.ts";
import { validateChain } from "../../lib/pki/validate.ts";
import { must, read, swPki, swPkiMust, tool, withTempDir } from "./_tools.ts";

const NOW = new Date();
const DAY = 86_400_000;

let rsa: KeyPair | undefined;
async function rsaKey(): Promise<KeyPair> {
  return rsa ??= await generateKeyPair("rsa", 2048);
}

function pem(c: X509Certificate): string {
  return encodePem("CERTIFICATE", new Uint8Array(c.rawData));
}

async function makeCa(key: KeyPair, cn = "Test CA"): Promise<X509Certificate> {
  return await selfSignCertificate(key, {
    subject: `C=CH, O=Example, CN=${cn}`,
    ca: true,
    lifetimeDays: 3650,
    now: NOW,
  });
}

Deno.test("self-signed CA: openssl sees CA:TRUE, keyCertSign and the DN in order", async () => {
  await withTempDir(async (t) => {
    const ca = await makeCa(await generateKeyPair("ecdsa", 384));
    Deno.writeTextFileSync(`${t.dir}/ca.pem`, pem(ca));
    const text = (await must("openssl", ["x509", "-in", `${t.dir}/ca.pem`, "-noout", "-text"]))
      .stdout;
    assert.match(text, /Subject: C ?= ?CH, O ?= ?Example, CN ?= ?Test CA/);
    assert.match(text, /Issuer: C ?= ?CH, O ?= ?Example, CN ?= ?Test CA/);
    assert.match(text, /X509v3 Basic Constraints: critical\n\s+CA:TRUE/);
    assert.match(text, /X509v3 Key Usage: critical\n\s+Certificate Sign, CRL Sign/);
    assert.match(text, /Signature Algorithm: ecdsa-with-SHA384/);
    assert.match(text, /X509v3 Subject Key Identifier/);
    const r = await must("openssl", ["verify", "-CAfile", `${t.dir}/ca.pem`, `${t.dir}/ca.pem`]);
    assert.match(r.stdout, /: OK/);
    // Validity: notAfter - notBefore is the lifetime.
    assert.equal(ca.notAfter.getTime() - ca.notBefore.getTime(), 3650 * DAY);
  });
});

Deno.test("issued certificates verify with openssl and strongSwan for every key type", async () => {
  await withTempDir(async (t) => {
    const keys: KeyPair[] = [
      await rsaKey(),
      await generateKeyPair("ecdsa", 256),
      await generateKeyPair("ecdsa", 521),
      await generateKeyPair("ed25519"),
    ];
    for (const [i, caKey] of keys.entries()) {
      const ca = await makeCa(caKey, `CA ${caKey.type} ${caKey.bits}`);
      const peer = keys[(i + 1) % keys.length];
      const cert = await issueCertificate({
        issuerCert: ca,
        issuerKey: caKey,
        subjectSpki: peer.spki,
        subject: "C=CH, O=Example, CN=vpn.example.com",
        sans: ["vpn.example.com", "10.0.0.1", "2001:db8::1", "user@example.com"],
        flags: ["serverAuth", "ikeIntermediate"],
        now: NOW,
      });
      const caPath = `${t.dir}/ca${i}.pem`;
      const certPath = `${t.dir}/cert${i}.pem`;
      Deno.writeTextFileSync(caPath, pem(ca));
      Deno.writeTextFileSync(certPath, pem(cert));
      const ov = await tool("openssl", ["verify", "-CAfile", caPath, certPath]);
      assert.equal(ov.code, 0, `openssl verify (${caKey.type}): ${ov.stderr}${ov.stdout}`);
      const text = (await must("openssl", ["x509", "-in", certPath, "-noout", "-text"])).stdout;
      assert.match(
        text,
        /X509v3 Subject Alternative Name: \n\s+DNS:vpn\.example\.com, IP Address:10\.0\.0\.1, IP Address:2001:DB8:0:0:0:0:0:1, email:user@example\.com/,
      );
      assert.match(
        text,
        /X509v3 Extended Key Usage: \n\s+TLS Web Server Authentication, 1\.3\.6\.1\.5\.5\.8\.2\.2/,
      );
      assert.match(text, /X509v3 Key Usage: critical\n\s+Digital Signature\n/);
      assert.doesNotMatch(text, /CA:TRUE/);
      assert.match(text, /X509v3 Authority Key Identifier/);

      const sp = await swPkiMust(["--print", "--in", certPath]);
      assert.match(sp.stdout, /subject:\s+"C=CH, O=Example, CN=vpn\.example\.com"/);
      assert.match(
        sp.stdout,
        /altNames:\s+vpn\.example\.com, 10\.0\.0\.1, 2001:db8::1, user@example\.com/,
      );
      assert.match(sp.stdout, /flags:\s+serverAuth ikeIntermediate/);
      const sv = await swPki(["--verify", "--in", certPath, "--cacert", caPath]);
      assert.equal(sv.code, 0, `pki --verify (${caKey.type}): ${sv.stdout}${sv.stderr}`);
      assert.match(sv.stdout, /certificate trusted, lifetimes valid/);
      // And our own validator.
      assert.equal(validateChain(cert, [], [ca], NOW).ok, true);
    }
  });
});

Deno.test("flags: clientAuth, ipsecIKE, crlSign and a CA with path length", async () => {
  await withTempDir(async (t) => {
    const caKey = await generateKeyPair("ecdsa");
    const ca = await makeCa(caKey);
    const sub = await issueCertificate({
      issuerCert: ca,
      issuerKey: caKey,
      subjectSpki: caKey.spki,
      subject: "CN=Sub CA",
      ca: true,
      pathLen: 0,
      now: NOW,
    });
    const client = await issueCertificate({
      issuerCert: ca,
      issuerKey: caKey,
      subjectSpki: (await generateKeyPair("ed25519")).spki,
      subject: "CN=alice@example.com",
      sans: ["alice@example.com"],
      flags: ["clientAuth", "ipsecIKE", "crlSign"],
      now: NOW,
    });
    Deno.writeTextFileSync(`${t.dir}/sub.pem`, pem(sub));
    Deno.writeTextFileSync(`${t.dir}/client.pem`, pem(client));
    const s = (await must("openssl", ["x509", "-in", `${t.dir}/sub.pem`, "-noout", "-text"]))
      .stdout;
    assert.match(s, /CA:TRUE, pathlen:0/);
    const c = (await must("openssl", ["x509", "-in", `${t.dir}/client.pem`, "-noout", "-text"]))
      .stdout;
    assert.match(c, /TLS Web Client Authentication, ipsec Internet Key Exchange/);
    assert.match(c, /Digital Signature, CRL Sign/);
    assert.match(c, /email:alice@example\.com/);
  });
});

Deno.test("PKCS#10: our requests verify with openssl; requests from openssl and strongSwan are issued", async () => {
  await withTempDir(async (t) => {
    const caKey = await generateKeyPair("ecdsa");
    const ca = await makeCa(caKey);
    Deno.writeTextFileSync(`${t.dir}/ca.pem`, pem(ca));

    const key = await rsaKey();
    const csr = await createCertificateRequest(key, {
      subject: "C=CH, O=Example, CN=gw.example.com",
      sans: ["gw.example.com", "192.0.2.1"],
    });
    const csrPath = `${t.dir}/our.csr`;
    Deno.writeTextFileSync(csrPath, encodePem("CERTIFICATE REQUEST", new Uint8Array(csr.rawData)));
    const v = await tool("openssl", ["req", "-in", csrPath, "-verify", "-noout", "-text"]);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout + v.stderr, /verify OK|Certificate request self-signature verify OK/);
    assert.match(v.stdout, /DNS:gw\.example\.com, IP Address:192\.0\.2\.1/);
    // strongSwan accepts our request: pki --issue signs it (and checks its signature).
    Deno.writeFileSync(`${t.dir}/ca.key`, await exportPrivateKeyDer(caKey));
    const swIssued = await swPkiMust([
      "--issue",
      "--type",
      "pkcs10",
      "--in",
      csrPath,
      "--cacert",
      `${t.dir}/ca.pem`,
      "--cakey",
      `${t.dir}/ca.key`,
    ]);
    const swCert = parseCertificate(swIssued.bytes);
    assert.equal(swCert.subject, "C=CH, O=Example, CN=gw.example.com");
    assert.deepEqual(new Uint8Array(swCert.publicKey.rawData), key.spki);

    // A request from openssl (SAN in an extensionRequest): subject and SANs are taken over.
    await must("openssl", [
      "req",
      "-new",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      `${t.dir}/o.key`,
      "-subj",
      "/C=CH/O=Example/CN=peer.example.com",
      "-addext",
      "subjectAltName=DNS:peer.example.com,email:ops@example.com",
      "-out",
      `${t.dir}/o.csr`,
    ]);
    const oreq = parseCertificateRequest(read(`${t.dir}/o.csr`), "o.csr");
    const fromO = await issueCertificate({
      issuerCert: ca,
      issuerKey: caKey,
      request: oreq,
      sans: ["10.1.1.1"],
      now: NOW,
    });
    Deno.writeTextFileSync(`${t.dir}/o.pem`, pem(fromO));
    const text = (await must("openssl", ["x509", "-in", `${t.dir}/o.pem`, "-noout", "-text"]))
      .stdout;
    assert.match(text, /Subject: C ?= ?CH, O ?= ?Example, CN ?= ?peer\.example\.com/);
    assert.match(text, /DNS:peer\.example\.com, email:ops@example\.com, IP Address:10\.1\.1\.1/);
    await must("openssl", ["verify", "-CAfile", `${t.dir}/ca.pem`, `${t.dir}/o.pem`]);
    // The certificate carries the request's key: openssl says the key matches.
    const certPub = (await must("openssl", ["x509", "-in", `${t.dir}/o.pem`, "-noout", "-pubkey"]))
      .stdout;
    const keyPub = (await must("openssl", ["pkey", "-in", `${t.dir}/o.key`, "-pubout"])).stdout;
    assert.equal(certPub, keyPub);

    // A request from strongSwan pki --req (DER), --dn overrides its subject.
    const swKey = await swPkiMust(["--gen", "--type", "ed25519"]);
    Deno.writeFileSync(`${t.dir}/sw.key`, swKey.bytes);
    const swReq = await swPkiMust([
      "--req",
      "--in",
      `${t.dir}/sw.key`,
      "--type",
      "priv",
      "--dn",
      "C=CH, CN=sw.example.com",
      "--san",
      "sw.example.com",
    ]);
    const fromSw = await issueCertificate({
      issuerCert: ca,
      issuerKey: caKey,
      request: parseCertificateRequest(swReq.bytes, "sw.csr"),
      subject: "C=CH, O=Example, CN=override.example.com",
      now: NOW,
    });
    assert.equal(fromSw.subject, "C=CH, O=Example, CN=override.example.com");
    Deno.writeTextFileSync(`${t.dir}/sw.pem`, pem(fromSw));
    const sv = await swPki(["--verify", "--in", `${t.dir}/sw.pem`, "--cacert", `${t.dir}/ca.pem`]);
    assert.equal(sv.code, 0, sv.stdout + sv.stderr);
    const swp = await swPkiMust(["--print", "--in", `${t.dir}/sw.pem`]);
    assert.match(swp.stdout, /altNames:\s+sw\.example\.com/);
    assert.match(swp.stdout, /pubkey:\s+ED25519/);
  });
});

Deno.test("issuing with a strongSwan-made RSA CA: strongSwan and openssl accept the result", async () => {
  await withTempDir(async (t) => {
    const caKeyDer = (await swPkiMust(["--gen", "--type", "rsa", "--size", "2048"])).bytes;
    Deno.writeFileSync(`${t.dir}/ca.key`, caKeyDer);
    const caDer = (await swPkiMust([
      "--self",
      "--in",
      `${t.dir}/ca.key`,
      "--ca",
      "--dn",
      "C=CH, O=strongSwan Test, CN=sw CA",
      "--lifetime",
      "30",
    ])).bytes;
    Deno.writeFileSync(`${t.dir}/ca.der`, caDer);
    const ca = parseCertificate(caDer, "ca.der");
    const caKey = await importPrivateKey(caKeyDer, "ca.key");
    const cert = await issueCertificate({
      issuerCert: ca,
      issuerKey: caKey,
      subjectSpki: (await generateKeyPair("ecdsa")).spki,
      subject: "C=CH, O=Example, CN=moon.example.com",
      sans: ["moon.example.com"],
      flags: ["serverAuth"],
      now: new Date(),
    });
    Deno.writeFileSync(`${t.dir}/moon.der`, new Uint8Array(cert.rawData));
    const sv = await swPki([
      "--verify",
      "--in",
      `${t.dir}/moon.der`,
      "--cacert",
      `${t.dir}/ca.der`,
    ]);
    assert.equal(sv.code, 0, sv.stdout + sv.stderr);
    await must("openssl", [
      "x509",
      "-inform",
      "DER",
      "-in",
      `${t.dir}/ca.der`,
      "-out",
      `${t.dir}/ca.pem`,
    ]);
    Deno.writeTextFileSync(`${t.dir}/moon.pem`, pem(cert));
    await must("openssl", ["verify", "-CAfile", `${t.dir}/ca.pem`, `${t.dir}/moon.pem`]);
  });
});

Deno.test("issueCertificate() refuses a mismatched CA key, an expired CA and a forged request", async () => {
  const caKey = await generateKeyPair("ecdsa");
  const ca = await makeCa(caKey);
  const other = await generateKeyPair("ecdsa");
  const base = {
    subjectSpki: other.spki,
    subject: "CN=x.example.com",
  };
  await assert.rejects(
    () => issueCertificate({ ...base, issuerCert: ca, issuerKey: other, now: NOW }),
    (e) =>
      e instanceof PkiError &&
      e.message ===
        "CA private key does not match the CA certificate 'C=CH, O=Example, CN=Test CA'",
  );
  await assert.rejects(
    () =>
      issueCertificate({
        ...base,
        issuerCert: ca,
        issuerKey: caKey,
        now: new Date(NOW.getTime() + 3651 * DAY),
      }),
    /CA certificate 'C=CH, O=Example, CN=Test CA' expired on /,
  );
  await assert.rejects(
    () =>
      issueCertificate({
        ...base,
        issuerCert: ca,
        issuerKey: caKey,
        now: new Date(NOW.getTime() - DAY),
      }),
    /is not valid before/,
  );
  // A request whose signature was tampered with.
  const csr = await createCertificateRequest(other, { subject: "CN=forged" });
  const der = new Uint8Array(csr.rawData);
  der[der.length - 3] ^= 0x01;
  await assert.rejects(
    () =>
      issueCertificate({
        issuerCert: ca,
        issuerKey: caKey,
        request: parseCertificateRequest(der),
        now: NOW,
      }),
    /certificate request signature does not verify/,
  );
  await assert.rejects(
    () =>
      issueCertificate({
        issuerCert: ca,
        issuerKey: caKey,
        subjectSpki: new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]),
        subject: "CN=x",
        now: NOW,
      }),
    /subject public key: not a valid SubjectPublicKeyInfo/,
  );
  await assert.rejects(
    () => issueCertificate({ issuerCert: ca, issuerKey: caKey, subjectSpki: other.spki, now: NOW }),
    /no subject distinguished name given/,
  );
  await assert.rejects(
    () =>
      issueCertificate({ ...base, issuerCert: ca, issuerKey: caKey, lifetimeDays: 0, now: NOW }),
    /invalid lifetime 0/,
  );
});

Deno.test("parseCertificates() reads PEM bundles and DER; rejects other objects and garbage", async () => {
  const k = await generateKeyPair("ed25519");
  const a = await makeCa(k, "A");
  const b = await makeCa(k, "B");
  const bundle = `junk before\n${pem(a)}${pem(b)}`;
  assert.deepEqual(parseCertificates(bundle).map((c) => c.subject), [
    "C=CH, O=Example, CN=A",
    "C=CH, O=Example, CN=B",
  ]);
  assert.equal(parseCertificate(new Uint8Array(a.rawData)).subject, "C=CH, O=Example, CN=A");
  assert.throws(
    () => parseCertificate(encodePem("PUBLIC KEY", k.spki), "k.pem"),
    /k\.pem: not a certificate \(found PUBLIC KEY\)/,
  );
  assert.throws(
    () => parseCertificate(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]), "x.der"),
    /x\.der: not a valid X\.509 certificate/,
  );
  assert.throws(
    () => parseCertificate("-----BEGIN CERTIFICATE-----\nAAAA\n", "t.pem"),
    /t\.pem: PEM block 'CERTIFICATE' has no END line/,
  );
  assert.throws(() => parseCertificate(new Uint8Array(0), "e.pem"), /e\.pem: empty input/);
});
