import assert from "node:assert/strict";
import { fromHex, toHex } from "../../../lib/wire/bytes.ts";
import { ParseError } from "../../../lib/wire/parse_error.ts";
import {
  decodeDigitalSignature,
  encodeDigitalSignature,
  isSignatureAuthMethod,
} from "../../../lib/ikev2/payloads/auth.ts";
import { certreqAuthorities, makeCertreq } from "../../../lib/ikev2/payloads/certreq.ts";
import { AuthMethod } from "../../../lib/ikev2/constants.ts";

// RFC 7427 Appendix A: the sha256WithRSAEncryption AlgorithmIdentifier (NULL parameters),
// preceded by its ASN.1 Length octet (0x0f).
const SHA256_RSA = "300d06092a864886f70d01010b0500";

Deno.test("RFC 7427 Digital Signature data: length octet, AlgorithmIdentifier, signature", () => {
  const data = encodeDigitalSignature({
    algorithmIdentifier: fromHex(SHA256_RSA),
    signature: fromHex("deadbeef"),
  });
  assert.equal(toHex(data), "0f" + SHA256_RSA + "deadbeef");
  const d = decodeDigitalSignature(data);
  assert.equal(toHex(d.algorithmIdentifier), SHA256_RSA);
  assert.equal(toHex(d.signature), "deadbeef");
  assert.throws(() => decodeDigitalSignature(fromHex("00")), ParseError);
  assert.throws(() => decodeDigitalSignature(fromHex("10" + SHA256_RSA)), ParseError);
  assert.throws(() => decodeDigitalSignature(fromHex("0204ff")), ParseError);
  assert.throws(() => decodeDigitalSignature(new Uint8Array(0)), ParseError);
  assert.throws(
    () =>
      encodeDigitalSignature({
        algorithmIdentifier: new Uint8Array(256),
        signature: new Uint8Array(0),
      }),
    RangeError,
  );
});

Deno.test("isSignatureAuthMethod(): PSK, NULL and GSPM are not signatures", () => {
  assert.equal(isSignatureAuthMethod(AuthMethod.SHARED_KEY_MIC), false);
  assert.equal(isSignatureAuthMethod(AuthMethod.NULL_AUTHENTICATION), false);
  assert.equal(isSignatureAuthMethod(AuthMethod.DIGITAL_SIGNATURE), true);
  assert.equal(isSignatureAuthMethod(AuthMethod.ECDSA_SHA256_P256), true);
});

Deno.test("CERTREQ: 20-byte CA key hashes in, same out; bad lengths rejected", () => {
  const hashes = [new Uint8Array(20).fill(1), new Uint8Array(20).fill(2)];
  const c = makeCertreq(hashes);
  assert.equal(c.encoding, 4);
  assert.deepEqual(certreqAuthorities(c), hashes);
  assert.throws(() => makeCertreq([new Uint8Array(19)]), RangeError);
  assert.throws(() => certreqAuthorities({ ...c, data: new Uint8Array(21) }), ParseError);
});
