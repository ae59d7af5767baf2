import assert from "node:assert/strict";
import { parseDn } from "../../lib/pki/dn.ts";
import { PkiError } from "../../lib/pki/pki_error.ts";
import { exportPrivateKeyDer, generateKeyPair } from "../../lib/pki/keys.ts";
import { selfSignCertificate } from "../../lib/pki/certificate.ts";
import { certMatchesId, IKE_ID, subjectDer } from "../../lib/pki/validate.ts";
import { swPkiMust, withTempDir } from "./_tools.ts";

Deno.test("parseDn() encodes DNs byte-for-byte like strongSwan's pki --dn", async () => {
  await withTempDir(async (t) => {
    const key = `${t.dir}/k.der`;
    Deno.writeFileSync(key, await exportPrivateKeyDer(await generateKeyPair("ed25519")));
    const cases = [
      "C=CH, O=Example, CN=Example CA",
      "C=CH, O=Example Inc, OU=VPN, CN=vpn.example.com",
      "CN=Zürich Gateway",
      "C=CH, ST=Zug, L=Baar, O=Example, CN=x",
      // Not DC: strongSwan writes domainComponent as PrintableString, we follow RFC 4519
      // (IA5String); DN comparison in validate.ts treats the two as equal.
    ];
    for (const dn of cases) {
      // Source of truth: strongSwan's own encoding of the same string.
      const self = await swPkiMust(["--self", "--in", key, "--type", "priv", "--dn", dn]);
      const want = (await swPkiMust(["--dn", "--format", "bin"], { stdin: self.bytes })).bytes;
      assert.deepEqual(new Uint8Array(parseDn(dn).toArrayBuffer()), want, dn);
    }
  });
});

Deno.test("parseDn() accepts openssl slash form, lower-case names and escapes", () => {
  assert.equal(parseDn("/C=CH/O=Example/CN=x").toString(), "C=CH, O=Example, CN=x");
  assert.equal(parseDn("cn=lower, ou=Unit").toString(), "CN=lower, OU=Unit");
  assert.equal(
    parseDn("C=CH, O=Example\\, Inc., CN=x").getField("O")[0],
    "Example, Inc.",
  );
  assert.equal(parseDn("CN=x, emailAddress=a@b.c").getField("E")[0], "a@b.c");
});

Deno.test("parseDn() explains what is wrong with a bad DN", () => {
  assert.throws(
    () => parseDn(""),
    (e) => e instanceof PkiError && e.message === "empty distinguished name",
  );
  assert.throws(() => parseDn("CN"), /expected NAME=value in 'CN'/);
  assert.throws(() => parseDn("C=CH, Foo=bar"), /unknown attribute 'Foo'/);
});

Deno.test("a DC= DN from strongSwan (PrintableString) matches our IA5String DN as an IKE ID", async () => {
  await withTempDir(async (t) => {
    const key = await generateKeyPair("ed25519");
    const keyPath = `${t.dir}/k.der`;
    Deno.writeFileSync(keyPath, await exportPrivateKeyDer(key));
    const dn = "DC=org, DC=example, CN=alice";
    const self = await swPkiMust(["--self", "--in", keyPath, "--type", "priv", "--dn", dn]);
    const swDn = (await swPkiMust(["--dn", "--format", "bin"], { stdin: self.bytes })).bytes;
    const ours = await selfSignCertificate(key, { subject: dn, now: new Date() });
    assert.notDeepEqual(subjectDer(ours), swDn); // string types differ ...
    assert.equal(certMatchesId(ours, IKE_ID.DER_ASN1_DN, swDn), true); // ... names match
    assert.equal(
      certMatchesId(
        ours,
        IKE_ID.DER_ASN1_DN,
        new Uint8Array(parseDn("DC=org, CN=alice").toArrayBuffer()),
      ),
      false,
    );
  });
});
