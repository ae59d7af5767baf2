import assert from "node:assert/strict";
import {
  checkKeySize,
  exportPrivateKeyDer,
  exportPrivateKeyPem,
  generateKeyPair,
  importPrivateKey,
  type KeyPair,
  publicKeyInfo,
  publicKeyPem,
} from "../../lib/pki/keys.ts";
import { PkiError } from "../../lib/pki/pki_error.ts";
import { decodePem } from "../../lib/pki/pem.ts";
import { must, read, swPkiMust, withTempDir } from "./_tools.ts";

// One RSA key for the whole file: RSA generation is slow.
let rsa: KeyPair | undefined;
async function rsaKey(): Promise<KeyPair> {
  return rsa ??= await generateKeyPair("rsa", 2048);
}

Deno.test("checkKeySize() applies defaults and rejects sizes a type does not have", () => {
  assert.equal(checkKeySize("rsa"), 3072);
  assert.equal(checkKeySize("ecdsa"), 256);
  assert.equal(checkKeySize("ecdsa", 521), 521);
  assert.equal(checkKeySize("ed25519"), 256);
  assert.throws(() => checkKeySize("ecdsa", 512), PkiError);
  assert.throws(() => checkKeySize("rsa", 1024), /invalid size 1024 for rsa keys/);
  assert.throws(() => checkKeySize("dsa"), /unknown key type 'dsa'/);
});

Deno.test("generated keys are PKCS#8 that openssl reads with the right type and size", async () => {
  await withTempDir(async (t) => {
    const cases: [KeyPair, RegExp][] = [
      [await rsaKey(), /Private-Key: \(2048 bit, 2 primes\)/],
      [await generateKeyPair("ecdsa", 256), /NIST CURVE: P-256/],
      [await generateKeyPair("ecdsa", 384), /NIST CURVE: P-384/],
      [await generateKeyPair("ecdsa", 521), /NIST CURVE: P-521/],
      [await generateKeyPair("ed25519"), /ED25519 Private-Key/],
    ];
    for (const [i, [key, want]] of cases.entries()) {
      const pem = await exportPrivateKeyPem(key);
      assert.match(pem, /^-----BEGIN PRIVATE KEY-----\n/);
      const path = `${t.dir}/k${i}.pem`;
      Deno.writeTextFileSync(path, pem);
      const r = await must("openssl", ["pkey", "-in", path, "-noout", "-text"]);
      assert.match(r.stdout, want);
      // openssl's public key equals ours.
      const pub = await must("openssl", ["pkey", "-in", path, "-pubout", "-outform", "DER"]);
      assert.deepEqual(pub.bytes, key.spki);
    }
  });
});

Deno.test("importPrivateKey() round-trips PKCS#8 PEM and DER", async () => {
  for (const key of [await rsaKey(), await generateKeyPair("ed25519")]) {
    const der = await exportPrivateKeyDer(key);
    const fromDer = await importPrivateKey(der, "k.der");
    const fromPem = await importPrivateKey(
      new TextEncoder().encode(await exportPrivateKeyPem(key)),
      "k.pem",
    );
    for (const k of [fromDer, fromPem]) {
      assert.equal(k.type, key.type);
      assert.equal(k.bits, key.bits);
      assert.deepEqual(k.spki, key.spki);
    }
  }
});

Deno.test("importPrivateKey() reads keys written by openssl (PKCS#1, SEC1) and strongSwan", async () => {
  await withTempDir(async (t) => {
    // openssl: traditional RSA (PKCS#1) and EC (SEC1) encodings.
    await must("openssl", ["genrsa", "-traditional", "-out", `${t.dir}/rsa.pem`, "2048"]);
    await must("openssl", [
      "ecparam",
      "-name",
      "secp384r1",
      "-genkey",
      "-noout",
      "-out",
      `${t.dir}/ec.pem`,
    ]);
    const rsaPem = new TextDecoder().decode(read(`${t.dir}/rsa.pem`));
    assert.match(rsaPem, /BEGIN RSA PRIVATE KEY/);
    const k1 = await importPrivateKey(read(`${t.dir}/rsa.pem`), "rsa.pem");
    assert.equal(k1.type, "rsa");
    assert.equal(k1.bits, 2048);
    const k2 = await importPrivateKey(read(`${t.dir}/ec.pem`), "ec.pem");
    assert.deepEqual([k2.type, k2.bits], ["ecdsa", 384]);
    // strongSwan pki --gen, DER output (its default form).
    const sw = await swPkiMust(["--gen", "--type", "ecdsa", "--size", "521"]);
    const k3 = await importPrivateKey(sw.bytes, "sw.der");
    assert.deepEqual([k3.type, k3.bits], ["ecdsa", 521]);
    const swEd = await swPkiMust(["--gen", "--type", "ed25519", "--outform", "pem"]);
    const k4 = await importPrivateKey(swEd.bytes, "sw-ed.pem");
    assert.equal(k4.type, "ed25519");
    // Our SPKI for it matches strongSwan's pki --pub.
    const pub = await swPkiMust(["--pub", "--type", "priv"], { stdin: swEd.bytes });
    assert.deepEqual(k4.spki, pub.bytes);
  });
});

Deno.test("importPrivateKey() gives clear errors for keys it cannot use", async () => {
  await withTempDir(async (t) => {
    await must("openssl", ["genpkey", "-algorithm", "X25519", "-out", `${t.dir}/x.pem`]);
    await must("openssl", [
      "genpkey",
      "-algorithm",
      "EC",
      "-pkeyopt",
      "ec_paramgen_curve:secp256k1",
      "-out",
      `${t.dir}/k1.pem`,
    ]);
    await must("openssl", [
      "genpkey",
      "-algorithm",
      "ED25519",
      "-aes-128-cbc",
      "-pass",
      "pass:x",
      "-out",
      `${t.dir}/enc.pem`,
    ]);
    await assert.rejects(
      () => importPrivateKey(read(`${t.dir}/x.pem`), "x.pem"),
      /x\.pem: unsupported key algorithm 'x25519'/,
    );
    await assert.rejects(
      () => importPrivateKey(read(`${t.dir}/k1.pem`), "k1.pem"),
      /k1\.pem: unsupported elliptic curve 'secp256k1'/,
    );
    await assert.rejects(
      () => importPrivateKey(read(`${t.dir}/enc.pem`), "enc.pem"),
      /enc\.pem: the private key is encrypted and no passphrase was given/,
    );
    const pub = new TextEncoder().encode(publicKeyPem((await generateKeyPair("ecdsa")).spki));
    await assert.rejects(
      () => importPrivateKey(pub, "pub.pem"),
      /pub\.pem: not a private key \(found PUBLIC KEY\)/,
    );
    await assert.rejects(
      () => importPrivateKey(new TextEncoder().encode("hello\n"), "junk"),
      (e) => e instanceof PkiError && /junk: neither PEM nor DER/.test(e.message),
    );
    const bad = "-----BEGIN PRIVATE KEY-----\nMIIB$$$\n-----END PRIVATE KEY-----\n";
    await assert.rejects(
      () => importPrivateKey(new TextEncoder().encode(bad), "bad.pem"),
      /bad\.pem: PEM block 'PRIVATE KEY' has corrupt base64/,
    );
    const corrupt = "-----BEGIN PRIVATE KEY-----\nMAMCAQA=\n-----END PRIVATE KEY-----\n";
    await assert.rejects(
      () => importPrivateKey(new TextEncoder().encode(corrupt), "c.pem"),
      /c\.pem: corrupt PRIVATE KEY/,
    );
  });
});

Deno.test("publicKeyInfo() describes SPKIs from openssl and rejects garbage", async () => {
  await withTempDir(async (t) => {
    await must("openssl", ["genpkey", "-algorithm", "ED25519", "-out", `${t.dir}/ed.pem`]);
    const der = (await must("openssl", [
      "pkey",
      "-in",
      `${t.dir}/ed.pem`,
      "-pubout",
      "-outform",
      "DER",
    ])).bytes;
    const info = publicKeyInfo(der);
    assert.deepEqual([info.type, info.bits], ["ed25519", 256]);
    // PEM armour as openssl writes it.
    const pem = (await must("openssl", ["pkey", "-in", `${t.dir}/ed.pem`, "-pubout"])).stdout;
    assert.equal(publicKeyPem(der), pem);
    assert.deepEqual(decodePem(pem)[0].der, der);
    assert.throws(
      () => publicKeyInfo(new Uint8Array([0x30, 0x00])),
      /not a valid SubjectPublicKeyInfo/,
    );
  });
});
