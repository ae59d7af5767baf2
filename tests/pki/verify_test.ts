import assert from "node:assert/strict";
import * as nodeCrypto from "node:crypto";
import { verifyWithSpki } from "../../lib/pki/_verify.ts";
import { loadLibcryptoEcdsa } from "../../ffi/libcrypto_ecdsa.ts";

// Certificate signatures (ECDSA, DER) as a CA makes them, checked by both
// paths: the system libcrypto and the software one (node:crypto, noble for
// P-521). Signatures come from node:crypto's signer, an independent
// implementation of the verifiers under test; P-521 with SHA-512 only (the
// combination Deno's node:crypto handles, see lib/pki/_verify.ts).
const CASES = [
  { curve: "prime256v1", hash: "SHA-256" },
  { curve: "secp384r1", hash: "SHA-384" },
  { curve: "secp521r1", hash: "SHA-512" },
] as const;

Deno.test("verifyWithSpki(): ECDSA through libcrypto and the software path agree", () => {
  const paths = loadLibcryptoEcdsa() ? [true, false] : [false];
  const data = new TextEncoder().encode("tbsCertificate bytes stand-in");
  for (const { curve, hash } of CASES) {
    const { publicKey, privateKey } = nodeCrypto.generateKeyPairSync("ec", { namedCurve: curve });
    const other = nodeCrypto.generateKeyPairSync("ec", { namedCurve: curve }).publicKey;
    const spki = new Uint8Array(publicKey.export({ format: "der", type: "spki" }));
    const otherSpki = new Uint8Array(other.export({ format: "der", type: "spki" }));
    const sig = new Uint8Array(
      nodeCrypto.sign(hash.replace("-", "").toLowerCase(), data, privateKey),
    );
    const alg = { name: "ECDSA", hash: { name: hash } };
    for (const libcrypto of paths) {
      const what = `${curve} ${hash} ${libcrypto ? "libcrypto" : "software"}`;
      assert.equal(verifyWithSpki(spki, alg, data, sig, { libcrypto }), "ok", what);
      const flipped = sig.slice();
      flipped[flipped.length - 3] ^= 1;
      assert.equal(verifyWithSpki(spki, alg, data, flipped, { libcrypto }), "bad", what);
      assert.equal(verifyWithSpki(otherSpki, alg, data, sig, { libcrypto }), "bad", what);
      const changed = data.slice();
      changed[0] ^= 1;
      assert.equal(verifyWithSpki(spki, alg, changed, sig, { libcrypto }), "bad", what);
      assert.equal(verifyWithSpki(spki, alg, data, sig.subarray(0, 5), { libcrypto }), "bad", what);
    }
  }
  // Not an EC key: "bad"; a hash we do not take: "unsupported".
  const rsa = nodeCrypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey;
  const rsaSpki = new Uint8Array(rsa.export({ format: "der", type: "spki" }));
  const alg = { name: "ECDSA", hash: { name: "SHA-256" } };
  assert.equal(verifyWithSpki(rsaSpki, alg, data, new Uint8Array(70)), "bad");
  assert.equal(
    verifyWithSpki(rsaSpki, { name: "ECDSA", hash: { name: "SHA-1" } }, data, new Uint8Array(70)),
    "unsupported",
  );
});
