/**
 * PKCS#12 export checked only by independent readers: OpenSSL (`pkcs12`,
 * `kdf PKCS12KDF`), NSS (`pk12util`, `certutil`) and Python `cryptography`.
 * Each must verify the MAC with the right password, fail with a wrong one,
 * and return our certificates and a private key whose public key is the
 * certificate's.
 */
import assert from "node:assert/strict";
import { createPkcs12, pkcs12Kdf } from "../../lib/pki/pkcs12.ts";
import { exportPrivateKeyPem, generateKeyPair, type KeyType } from "../../lib/pki/keys.ts";
import {
  issueCertificate,
  selfSignCertificate,
  type X509Certificate,
} from "../../lib/pki/certificate.ts";
import { PkiError } from "../../lib/pki/pki_error.ts";
import { decodePem, encodePem } from "../../lib/pki/pem.ts";
import { toHex } from "../../lib/wire/bytes.ts";
import { must, tool, withTempDir } from "./_tools.ts";

const PASSWORD = "correct horse battery staple";
/** Non-ASCII: PBES2 takes the UTF-8 bytes, the MAC KDF the BMPString; a mix-up fails here. */
const UNICODE_PASSWORD = "pässwörd-€-ключ";

interface Set {
  ca: X509Certificate;
  cert: X509Certificate;
  key: Awaited<ReturnType<typeof generateKeyPair>>;
}

async function certSet(type: KeyType, size?: number): Promise<Set> {
  const caKey = await generateKeyPair(type, size);
  const ca = await selfSignCertificate(caKey, {
    subject: "C=CH, O=Test, CN=Test CA",
    ca: true,
    now: new Date(),
  });
  const key = await generateKeyPair(type, size);
  const cert = await issueCertificate({
    issuerCert: ca,
    issuerKey: caKey,
    subjectSpki: key.spki,
    subject: "C=CH, O=Test, CN=alice@example.com",
    sans: ["alice@example.com"],
    now: new Date(),
  });
  return { ca, cert, key };
}

const der = (c: X509Certificate) => new Uint8Array(c.rawData);
const pem = (c: X509Certificate) => encodePem("CERTIFICATE", der(c));

/** DER of every CERTIFICATE block in openssl's output, in order. */
function certsIn(text: string): string[] {
  return decodePem(text).filter((b) => b.label === "CERTIFICATE").map((b) => toHex(b.der));
}

/** openssl: the SPKI PEM of a certificate and of a private key. */
async function pubOfCert(dir: string, c: X509Certificate): Promise<string> {
  await Deno.writeTextFile(`${dir}/cert.pem`, pem(c));
  return (await must("openssl", ["x509", "-in", `${dir}/cert.pem`, "-noout", "-pubkey"])).stdout;
}

async function pubOfKey(keyPem: string): Promise<string> {
  return (await must("openssl", ["pkey", "-pubout"], { stdin: keyPem })).stdout;
}

async function checkOpenssl(dir: string, p12: string, s: Set, password: string): Promise<void> {
  const pass = `pass:${password}`;
  const info = await must("openssl", ["pkcs12", "-in", p12, "-info", "-nokeys", "-passin", pass]);
  // -info goes to stderr: the algorithms we chose, as openssl reads them.
  assert.match(info.stderr, /MAC: sha256, Iteration 2048/);
  assert.match(
    info.stderr,
    /PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256/,
  );
  assert.match(info.stderr, /Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 2048/);
  assert.deepEqual(certsIn(info.stdout), [toHex(der(s.cert)), toHex(der(s.ca))]);
  assert.match(info.stdout, /friendlyName: alice@example.com/);

  const keyOut = await must("openssl", [
    "pkcs12",
    "-in",
    p12,
    "-nodes",
    "-nocerts",
    "-passin",
    pass,
  ]);
  const keyPem = keyOut.stdout.slice(keyOut.stdout.indexOf("-----BEGIN PRIVATE KEY-----"));
  assert.equal(await pubOfKey(keyPem), await pubOfCert(dir, s.cert));

  const all = await must("openssl", ["pkcs12", "-in", p12, "-nodes", "-passin", pass]);
  assert.deepEqual(certsIn(all.stdout), [toHex(der(s.cert)), toHex(der(s.ca))]);

  const wrong = await tool("openssl", ["pkcs12", "-in", p12, "-nodes", "-passin", "pass:wrong"]);
  assert.notEqual(wrong.code, 0, "openssl accepted a wrong password");
  assert.match(wrong.stderr, /mac verify failure|invalid password/i);
}

const PYTHON = `
import json, sys
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, pkcs12
data = open(sys.argv[1], "rb").read()
password = sys.argv[2].encode()
key, cert, cas = pkcs12.load_key_and_certificates(data, password)
bundle = pkcs12.load_pkcs12(data, password)
try:
    pkcs12.load_key_and_certificates(data, b"wrong")
    wrong = "accepted"
except ValueError:
    wrong = "rejected"
print(json.dumps({
    "keySpki": key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo).hex(),
    "cert": cert.public_bytes(Encoding.DER).hex(),
    "cas": [c.public_bytes(Encoding.DER).hex() for c in cas],
    "name": bundle.cert.friendly_name.decode(),
    "wrong": wrong,
}))
`;

async function checkPython(
  p12: string,
  s: Set,
  password: string,
  o: { name?: string; cas?: X509Certificate[] } = {},
): Promise<void> {
  const r = await must("python3", ["-c", PYTHON, p12, password]);
  const got = JSON.parse(r.stdout) as {
    keySpki: string;
    cert: string;
    cas: string[];
    name: string;
    wrong: string;
  };
  assert.equal(got.keySpki, toHex(s.key.spki));
  assert.equal(got.cert, toHex(der(s.cert)));
  assert.deepEqual(got.cas, (o.cas ?? [s.ca]).map((c) => toHex(der(c))));
  assert.equal(got.name, o.name ?? "alice@example.com");
  assert.equal(got.wrong, "rejected");
}

async function hasPk12util(): Promise<boolean> {
  try {
    await new Deno.Command("pk12util", { args: ["-h"], stdout: "null", stderr: "null" }).output();
    return true;
  } catch {
    return false;
  }
}

/**
 * NSS: `pk12util` imports the file into a fresh database and `certutil` lists
 * the friendlyName as the nickname. When NSS cannot import our file, the same
 * key and certificate exported by `openssl pkcs12 -export` are tried: if NSS
 * rejects that too, the key type is one this NSS lacks (NSS 3.87 imports no
 * Ed25519 key) and the check is skipped with a message; otherwise it fails.
 */
async function checkNss(
  dir: string,
  p12: string,
  s: Set,
  password: string,
  name = "alice@example.com",
): Promise<void> {
  if (!(await hasPk12util())) {
    console.warn("SKIPPED NSS check: pk12util is not installed (apt-get install libnss3-tools)");
    return;
  }
  const newDb = async (sub: string) => {
    const db = `${dir}/${sub}`;
    await Deno.mkdir(db);
    await must("certutil", ["-N", "-d", `sql:${db}`, "--empty-password"]);
    return `sql:${db}`;
  };
  const db = await newDb("nssdb");
  const bad = await tool("pk12util", ["-i", p12, "-d", db, "-W", "wrong"]);
  assert.notEqual(bad.code, 0, "pk12util accepted a wrong password");
  const r = await tool("pk12util", ["-i", p12, "-d", db, "-W", password]);
  if (r.code !== 0) {
    const keyFile = `${dir}/nss_ref.key`;
    await Deno.writeTextFile(keyFile, await exportPrivateKeyPem(s.key));
    await Deno.writeTextFile(`${dir}/nss_ref.pem`, pem(s.cert));
    await must("openssl", [
      "pkcs12",
      "-export",
      "-inkey",
      keyFile,
      "-in",
      `${dir}/nss_ref.pem`,
      "-passout",
      `pass:${password}`,
      "-out",
      `${dir}/nss_ref.p12`,
    ]);
    const ref = await tool("pk12util", [
      "-i",
      `${dir}/nss_ref.p12`,
      "-d",
      await newDb("nssdb_ref"),
      "-W",
      password,
    ]);
    assert.notEqual(ref.code, 0, `NSS imports OpenSSL's file but not ours: ${r.stderr}`);
    console.warn(
      `SKIPPED NSS import of a ${s.key.type} key: this NSS rejects OpenSSL's own PKCS#12 ` +
        `for it as well (${ref.stderr.trim()})`,
    );
    return;
  }
  assert.match(r.stdout, /PKCS12 IMPORT SUCCESSFUL/);
  const list = await must("certutil", ["-L", "-d", db]);
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  assert.match(list.stdout, new RegExp(`^${escaped}\\s+u,u,u$`, "m"));
  const keys = await must("certutil", ["-K", "-d", db]);
  assert.ok(keys.stdout.includes(name), keys.stdout);
}

for (
  const [type, size] of [["rsa", 2048], ["ecdsa", 256], ["ed25519", undefined]] as const
) {
  Deno.test(`createPkcs12() ${type}: openssl, NSS and Python cryptography read it`, () =>
    readByAll(type, size, PASSWORD));
}

Deno.test("createPkcs12() with a non-ASCII password: all three readers agree", () =>
  readByAll("ecdsa", 256, UNICODE_PASSWORD));

/** A key, its certificate and CA bundled under `password`, read back by openssl, Python and NSS. */
async function readByAll(
  type: Parameters<typeof certSet>[0],
  size: number | undefined,
  password: string,
): Promise<void> {
  await withTempDir(async ({ dir }) => {
    const s = await certSet(type, size);
    const p12 = `${dir}/alice.p12`;
    await Deno.writeFile(
      p12,
      await createPkcs12({ key: s.key, certificate: s.cert, caCertificates: [s.ca], password }),
    );
    await checkOpenssl(dir, p12, s, password);
    await checkPython(p12, s, password);
    await checkNss(dir, p12, s, password);
  });
}

Deno.test("createPkcs12() friendlyName, iterations and no CA certificates", async () => {
  await withTempDir(async ({ dir }) => {
    const s = await certSet("ecdsa", 384);
    const p12 = `${dir}/alice.p12`;
    await Deno.writeFile(
      p12,
      await createPkcs12({
        key: s.key,
        certificate: s.cert,
        password: PASSWORD,
        friendlyName: "Alice's VPN – Zürich",
        iterations: 10000,
      }),
    );
    const info = await must("openssl", [
      "pkcs12",
      "-in",
      p12,
      "-info",
      "-nodes",
      "-passin",
      `pass:${PASSWORD}`,
    ]);
    assert.match(info.stderr, /MAC: sha256, Iteration 10000/);
    assert.match(info.stderr, /AES-256-CBC, Iteration 10000/);
    assert.deepEqual(certsIn(info.stdout), [toHex(der(s.cert))]);
    // OpenSSL 3.0 prints only the low byte of each BMPString character: check the
    // non-ASCII name with Python (BMPString -> UTF-8) and NSS (the nickname).
    assert.match(info.stdout, /friendlyName: Alice's VPN/);
    await checkPython(p12, s, PASSWORD, { name: "Alice's VPN – Zürich", cas: [] });
    await checkNss(dir, p12, s, PASSWORD, "Alice's VPN – Zürich");
    // The key bag carries the same localKeyId as the certificate: SHA-1 of the certificate.
    const ids = [...info.stdout.matchAll(/localKeyID: ([0-9A-F ]+)/g)].map((m) => m[1].trim());
    const sha1 = toHex(new Uint8Array(await crypto.subtle.digest("SHA-1", der(s.cert))));
    assert.equal(ids.length, 2);
    for (const id of ids) assert.equal(id.replace(/ /g, "").toLowerCase(), sha1);
  });
});

Deno.test("createPkcs12() refuses a key that is not the certificate's, and empty passwords", async () => {
  const s = await certSet("ecdsa", 256);
  const other = await generateKeyPair("ecdsa", 256);
  await assert.rejects(
    createPkcs12({ key: other, certificate: s.cert, password: PASSWORD }),
    (e: unknown) => e instanceof PkiError && /does not belong to the certificate/.test(e.message),
  );
  await assert.rejects(
    createPkcs12({ key: s.key, certificate: s.cert, password: "" }),
    (e: unknown) => e instanceof PkiError && /empty/.test(e.message),
  );
  await assert.rejects(
    createPkcs12({ key: s.key, certificate: s.cert, password: PASSWORD, iterations: 1000 }),
    PkiError,
  );
  // The key is exportable as PEM still (createPkcs12 zeroes only its own copy).
  assert.match(await exportPrivateKeyPem(s.key), /BEGIN PRIVATE KEY/);
});

Deno.test("pkcs12Kdf() equals OpenSSL's PKCS12KDF (RFC 7292 appendix B)", async () => {
  const cases: { pass: Uint8Array; salt: Uint8Array; id: 1 | 2 | 3; iter: number; len: number }[] =
    [
      // "secret" as BMPString with the trailing zero pair, ID 3 (MAC key), as in the MacData.
      { pass: bmpz("secret"), salt: rand(16), id: 3, iter: 2048, len: 32 },
      // Longer than one 64-byte block of password and salt, and more than one output block.
      { pass: bmpz("x".repeat(40)), salt: rand(70), id: 1, iter: 3, len: 70 },
      { pass: bmpz("ab"), salt: rand(8), id: 2, iter: 1, len: 16 },
    ];
  for (const c of cases) {
    const r = await must("openssl", [
      "kdf",
      "-keylen",
      String(c.len),
      "-kdfopt",
      "digest:SHA256",
      "-kdfopt",
      `hexpass:${toHex(c.pass)}`,
      "-kdfopt",
      `hexsalt:${toHex(c.salt)}`,
      "-kdfopt",
      `iter:${c.iter}`,
      "-kdfopt",
      `id:${c.id}`,
      "PKCS12KDF",
    ]);
    const expected = r.stdout.trim().replace(/:/g, "").toLowerCase();
    assert.equal(toHex(pkcs12Kdf(c.pass, c.salt, c.id, c.iter, c.len)), expected);
  }
});

function bmpz(s: string): Uint8Array {
  const out = new Uint8Array(s.length * 2 + 2);
  for (let i = 0; i < s.length; i++) out[2 * i + 1] = s.charCodeAt(i);
  return out;
}

function rand(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}
