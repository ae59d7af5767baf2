/**
 * `local.key` accepts what people have: PKCS#8 (`ipsec pki`, openssl genpkey),
 * PKCS#1 `RSA PRIVATE KEY` and SEC1 `EC PRIVATE KEY` (strongSwan's `pki --gen`,
 * `openssl genrsa`/`ecparam`), PEM or DER; the engine gets PKCS#8 DER. Keys
 * are made by openssl (an independent implementation) in each encoding.
 */
import assert from "node:assert/strict";
import { ConfigError } from "../../lib/config/config.ts";
import { parseConfig } from "../../lib/config/parse.ts";
import { gwConnection } from "../helpers/config_yaml.ts";
import { openssl } from "../helpers/openssl.ts";

// The leading newline keeps the line numbers the assertions below expect.
const yaml = (key: string) =>
  "\n" + gwConnection(
    `      auth: pubkey\n      id: gw.example.org\n      certs: gw.pem\n      key: ${key}`,
  );

Deno.test("config: local.key in PKCS#8, PKCS#1 and SEC1, PEM or DER, becomes PKCS#8", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tcfg-key-" });
  const certs = new Map<string, Uint8Array>();
  try {
    for (
      const [kind, gen] of [["rsa", ["genrsa", "-traditional", "2048"]], ["ec", [
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
      ]]] as const
    ) {
      const traditional = await openssl(...gen); // PKCS#1 / SEC1 PEM
      await Deno.writeFile(`${dir}/${kind}.trad.pem`, traditional);
      const pkcs8 = await openssl(
        "pkcs8",
        "-topk8",
        "-nocrypt",
        "-in",
        `${dir}/${kind}.trad.pem`,
        "-outform",
        "DER",
      );
      const der = await openssl(
        kind,
        ...(kind === "rsa" ? ["-traditional"] : []),
        "-in",
        `${dir}/${kind}.trad.pem`,
        "-outform",
        "DER",
      );
      assert.notDeepEqual(der, pkcs8, "the DER file must be the traditional encoding");
      await Deno.writeFile(`${dir}/${kind}.trad.der`, der);
      await Deno.writeFile(`${dir}/${kind}.p8.der`, pkcs8);
      const label = new TextDecoder().decode(traditional).split("\n")[0];
      assert.match(label, kind === "rsa" ? /RSA PRIVATE KEY/ : /EC PRIVATE KEY/);
      // The key's own certificate, made by openssl.
      const cert = await openssl(
        ...["req", "-x509", "-key", `${dir}/${kind}.trad.pem`, "-subj", "/CN=gw.example.org"],
        ...["-days", "1", "-outform", "PEM"],
      );
      certs.set(kind, cert);
      for (const file of [`${kind}.trad.pem`, `${kind}.trad.der`, `${kind}.p8.der`]) {
        const c = parseConfig(yaml(file), {
          file: "t.yaml",
          readFile: (p) => p === "gw.pem" ? cert : Deno.readFileSync(`${dir}/${p}`),
        });
        assert.deepEqual(c.connections[0].local.key, pkcs8, file);
      }
    }
    // A key that is not the certificate's: an error at the key's line, nothing loads.
    assert.throws(
      () =>
        parseConfig(yaml("ec.trad.pem"), {
          file: "t.yaml",
          readFile: (p) => p === "gw.pem" ? certs.get("rsa")! : Deno.readFileSync(`${dir}/${p}`),
        }),
      (e: unknown) =>
        e instanceof ConfigError &&
        /t\.yaml:9:\d+: connections\.gw\.local\.key: this private key does not belong to the certificate 'gw\.pem'/
          .test(e.message),
    );
    // Not a key: a clear error at the key's line, nothing loads.
    await Deno.writeTextFile(
      `${dir}/junk.pem`,
      "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
    );
    assert.throws(
      () =>
        parseConfig(yaml("junk.pem"), {
          file: "t.yaml",
          readFile: (p) => Deno.readFileSync(`${dir}/${p}`),
        }),
      (e: unknown) =>
        e instanceof ConfigError && /t\.yaml:9:\d+.*not a private key/s.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * swanctl's `secrets: private-NAME { file, secret }`: an encrypted private key
 * (openssl's PKCS#8 PBES2 and traditional `Proc-Type: 4,ENCRYPTED` PEM) and
 * its passphrase. `local.key` naming the file gets it decrypted; a `local`
 * with a certificate and no `key` gets the key its certificate was issued
 * for. The decrypted key must equal what `openssl pkcs8 -topk8 -nocrypt`
 * makes of it.
 */
Deno.test("config: encrypted private keys with their passphrase in a private-NAME secret", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tcfg-enckey-" });
  try {
    await Deno.writeFile(
      `${dir}/ec.enc.pem`,
      await openssl(
        ...["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        ...["-aes256", "-pass", "pass:ec pass phrase"],
      ),
    );
    await Deno.writeFile(
      `${dir}/rsa.enc.pem`,
      await openssl("genrsa", "-aes256", "-passout", "pass:rsa-pass", "-traditional", "2048"),
    );
    const headers = await Deno.readTextFile(`${dir}/rsa.enc.pem`);
    assert.match(headers, /Proc-Type: 4,ENCRYPTED/);
    for (
      const [file, pass] of [["ec.enc.pem", "ec pass phrase"], ["rsa.enc.pem", "rsa-pass"]]
    ) {
      const plain = await openssl(
        ...["pkcs8", "-topk8", "-nocrypt", "-in", `${dir}/${file}`, "-passin", `pass:${pass}`],
        ...["-outform", "DER"],
      );
      const cert = await openssl(
        ...["req", "-x509", "-key", `${dir}/${file}`, "-passin", `pass:${pass}`],
        ...["-subj", "/CN=gw.example.org", "-days", "1", "-outform", "PEM"],
      );
      const readFile = (p: string) => p === "gw.pem" ? cert : Deno.readFileSync(`${dir}/${p}`);
      const secret = `  private-gw:\n    file: ${file}\n    secret: "${pass}"\n`;
      // local.key names the encrypted file.
      const withKey = parseConfig(yaml(file) + secret, { file: "t.yaml", readFile });
      assert.deepEqual(withKey.connections[0].local.key, plain, file);
      // No local.key: the private-NAME key the certificate is for.
      const noKey = "\n" + gwConnection(
        "      auth: pubkey\n      id: gw.example.org\n      certs: gw.pem",
      ) + secret;
      assert.deepEqual(
        parseConfig(noKey, { file: "t.yaml", readFile }).connections[0].local.key,
        plain,
      );
      // Encrypted, no passphrase: said where, nothing loads.
      assert.throws(
        () => parseConfig(yaml(file), { file: "t.yaml", readFile }),
        (e: unknown) =>
          e instanceof ConfigError &&
          /t\.yaml:9:\d+: connections\.gw\.local\.key: .*the private key is encrypted: give its passphrase in a secrets entry/
            .test(e.message),
      );
      // A wrong passphrase: said at the secret.
      assert.throws(
        () =>
          parseConfig(yaml(file) + secret.replace(pass, "not it"), { file: "t.yaml", readFile }),
        (e: unknown) =>
          e instanceof ConfigError &&
          /secrets\.private-gw\.secret: cannot read .*wrong passphrase/.test(e.message),
      );
    }
    // A private key secret has no id; and a certificate no private-NAME key is for.
    const other = await openssl(
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
      ...["-keyout", "/dev/null", "-subj", "/CN=other", "-days", "1", "-outform", "PEM"],
    );
    assert.throws(
      () =>
        parseConfig(
          "\n" +
            gwConnection("      auth: pubkey\n      id: gw.example.org\n      certs: gw.pem") +
            '  private-gw:\n    id: gw.example.org\n    file: ec.enc.pem\n    secret: "ec pass phrase"\n',
          {
            file: "t.yaml",
            readFile: (p) => p === "gw.pem" ? other : Deno.readFileSync(`${dir}/${p}`),
          },
        ),
      (e: unknown) =>
        e instanceof ConfigError &&
        /secrets\.private-gw\.id: a private key has no 'id'/.test(e.message) &&
        /auth: pubkey needs 'key' \(our private key file\), or a secrets entry private-NAME/
          .test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
