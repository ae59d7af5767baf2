import assert from "node:assert/strict";
import { decodePem, encodePem, isPem, readBlocks } from "../../lib/pki/pem.ts";
import { PkiError } from "../../lib/pki/pki_error.ts";
import { must, read, withTempDir } from "./_tools.ts";

Deno.test("encodePem()/decodePem() match openssl's PEM armour", async () => {
  await withTempDir(async (t) => {
    await must("openssl", [
      "genpkey",
      "-algorithm",
      "RSA",
      "-pkeyopt",
      "rsa_keygen_bits:1024",
      "-out",
      `${t.dir}/k.pem`,
    ]);
    const pemText = Deno.readTextFileSync(`${t.dir}/k.pem`);
    const der = (await must("openssl", [
      "pkcs8",
      "-topk8",
      "-nocrypt",
      "-in",
      `${t.dir}/k.pem`,
      "-outform",
      "DER",
    ])).bytes;
    const [block] = decodePem(pemText);
    assert.equal(block.label, "PRIVATE KEY");
    assert.deepEqual(block.der, der);
    assert.equal(encodePem("PRIVATE KEY", der), pemText);
    // DER input is passed through as one unlabelled block.
    assert.deepEqual(readBlocks(read(`${t.dir}/k.pem`)), [block]);
    assert.deepEqual(readBlocks(der), [{ label: null, der }]);
    assert.equal(isPem(der), false);
  });
});

Deno.test("decodePem() reads several blocks, CRLF and RFC 1421 headers", () => {
  const text = "text\r\n-----BEGIN A-----\r\nAQID\r\n-----END A-----\r\n" +
    "-----BEGIN B-----\nProc-Type: 4,ENCRYPTED\n\nBAU=\n-----END B-----\n";
  const blocks = decodePem(text);
  assert.deepEqual(blocks.map((b) => b.label), ["A", "B"]);
  assert.deepEqual(blocks[0].der, new Uint8Array([1, 2, 3]));
  assert.deepEqual(blocks[1].der, new Uint8Array([4, 5]));
});

Deno.test("readBlocks() rejects empty input, non-PEM text and broken blocks", () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  assert.throws(
    () => readBlocks(new Uint8Array(0), "x"),
    (e) => e instanceof PkiError && e.message === "x: empty input",
  );
  assert.throws(() => readBlocks(enc("hello"), "x"), /x: neither PEM nor DER/);
  assert.throws(
    () => readBlocks(enc("-----BEGIN A-----\nAQID\n"), "x"),
    /x: PEM block 'A' has no END line/,
  );
  assert.throws(
    () => readBlocks(enc("-----BEGIN A-----\n!!\n-----END A-----\n"), "x"),
    /corrupt base64/,
  );
  assert.throws(
    () => readBlocks(enc("-----BEGIN A-----\n-----END A-----\n"), "x"),
    /x: PEM block 'A' is empty/,
  );
  assert.throws(() => readBlocks(enc("-----BEGIN lower-----"), "x"), /x: no PEM block found/);
});
