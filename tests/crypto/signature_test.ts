import assert from "node:assert/strict";
import { concat, fromHex, toHex } from "../../lib/wire/bytes.ts";
import {
  chooseSignatureScheme,
  createSignatureAuth,
  decodeDigitalSignatureAuth,
  decodeSignatureAlgorithmId,
  decodeSignatureHashAlgorithms,
  ecdsaDerToRaw,
  ecdsaRawToDer,
  encodeSignatureAlgorithmId,
  encodeSignatureHashAlgorithms,
  exportSpki,
  loadSigningKey,
  loadVerifyingKey,
  negotiateSignatureHashes,
  sign,
  SIGNATURE_SCHEMES,
  type SignatureBackend,
  signatureBackendSupports,
  type SignatureScheme,
  type SigningKey,
  verify,
  verifySignatureAuth,
} from "../../lib/crypto/signature.ts";
import { CryptoError } from "../../lib/crypto/types.ts";
import { runPythonJson } from "./_python.ts";
import { readDer, readDerSequence } from "../../lib/crypto/_asn1.ts";

const BACKENDS: SignatureBackend[] = ["node", "noble", "libcrypto"];
/** The backends with EdDSA (libcrypto here is ECDSA only). */
const EDDSA_BACKENDS: SignatureBackend[] = ["node", "noble"];
const ascii = (s: string) => new TextEncoder().encode(s);

// ---------------------------------------------------------------------------
// AlgorithmIdentifiers. Source: RFC 7427 appendix A.1 (sha*WithRSAEncryption),
// A.3 (ecdsa-with-SHA*); RSASSA-PSS with SHA-256 as DER (the trailer field
// DEFAULT left out): the 67-byte blob Libreswan 4.10's pluto carries and
// compares byte for byte (RFC 7427 A.4.3 prints the 72-byte form with an
// explicit trailer, which decoding still accepts); RFC 8420 section 2
// (id-Ed25519, id-Ed448: "30 05 06 03 2B 65 70" / "... 71").
// ---------------------------------------------------------------------------
const RFC7427_BLOBS: [SignatureScheme, string][] = [
  ["rsa-pkcs1-sha1", "300d06092a864886f70d0101050500"],
  ["rsa-pkcs1-sha256", "300d06092a864886f70d01010b0500"],
  ["rsa-pkcs1-sha384", "300d06092a864886f70d01010c0500"],
  ["rsa-pkcs1-sha512", "300d06092a864886f70d01010d0500"],
  ["ecdsa-sha256", "300a06082a8648ce3d040302"],
  ["ecdsa-sha384", "300a06082a8648ce3d040303"],
  ["ecdsa-sha512", "300a06082a8648ce3d040304"],
  [
    "rsa-pss-sha256",
    "304106092a864886f70d01010a3034a00f300d06096086480165030402010500a11c301a06092a864886" +
    "f70d010108300d06096086480165030402010500a203020120",
  ],
  ["ed25519", "300506032b6570"],
  ["ed448", "300506032b6571"],
];

Deno.test("encodeSignatureAlgorithmId() matches the RFC 7427 / RFC 8420 blobs", () => {
  for (const [scheme, hex] of RFC7427_BLOBS) {
    assert.equal(toHex(encodeSignatureAlgorithmId(scheme)), hex, scheme);
    assert.deepEqual(
      decodeSignatureAlgorithmId(fromHex(hex)),
      scheme.startsWith("rsa-pss") ? { scheme, saltLength: 32 } : { scheme },
    );
  }
  // Every scheme round-trips (PSS salt = digest length).
  for (const scheme of Object.keys(SIGNATURE_SCHEMES) as SignatureScheme[]) {
    const d = decodeSignatureAlgorithmId(encodeSignatureAlgorithmId(scheme));
    assert.equal(d.scheme, scheme);
    if (scheme === "rsa-pss-sha384") assert.equal(d.saltLength, 48);
    if (scheme === "rsa-pss-sha512") assert.equal(d.saltLength, 64);
  }
});

Deno.test("decodeSignatureAlgorithmId() accepts other valid forms and rejects the rest", () => {
  // RSA without the NULL parameter (RFC 4055 allows absent), OpenSSL-style PSS
  // without the default trailer and with salt 10 (Chromium
  // verify_signed_data/rsa-pss-sha256-salt10 structure).
  assert.equal(
    decodeSignatureAlgorithmId(fromHex("300b06092a864886f70d01010b")).scheme,
    "rsa-pkcs1-sha256",
  );
  assert.deepEqual(
    decodeSignatureAlgorithmId(
      fromHex(
        "304106092a864886f70d01010a3034a00f300d06096086480165030402010500a11c301a06092a864886" +
          "f70d010108300d06096086480165030402010500a20302010a",
      ),
    ),
    { scheme: "rsa-pss-sha256", saltLength: 10 },
  );
  // RFC 7427 appendix A.4.3 as printed there, with the explicit trailer field 1.
  assert.deepEqual(
    decodeSignatureAlgorithmId(
      fromHex(
        "304606092a864886f70d01010a3039a00f300d06096086480165030402010500a11c301a06092a864886" +
          "f70d010108300d06096086480165030402010500a203020120a303020101",
      ),
    ),
    { scheme: "rsa-pss-sha256", saltLength: 32 },
  );
  const bad = [
    "300b06092a864886f70d01010a", // PSS with default (SHA-1) parameters
    "300d06092a864886f70d01010a3000", // PSS with empty parameters = SHA-1
    // PSS SHA-256 with MGF1-SHA-512 (Chromium rsa-pss-sha256-mgf1-sha512-salt33)
    "304106092a864886f70d01010a3034a00f300d06096086480165030402010500a11c301a06092a864886" +
    "f70d010108300d06096086480165030402030500a203020121",
    "300c06082a8648ce3d0403020500", // ECDSA with a NULL parameter
    "300906072a8648ce3d0401", // ecdsa-with-SHA1: not supported
    "300a06082a8648ce3d04030200", // trailing byte after the SEQUENCE
    "300b06082a8648ce3d040302", // length beyond the buffer
    "",
    "3000",
  ];
  for (const hex of bad) {
    assert.throws(() => decodeSignatureAlgorithmId(fromHex(hex)), CryptoError, hex);
  }
});

// ---------------------------------------------------------------------------
// Ed25519. Source: RFC 8032 section 7.1, TEST 1, 2 and 3.
// ---------------------------------------------------------------------------
const RFC8032_ED25519 = [
  {
    secret: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    public: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    message: "",
    signature: "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155" +
      "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
  },
  {
    secret: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    public: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    message: "72",
    signature: "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da" +
      "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
  },
  {
    secret: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
    public: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
    message: "af82",
    signature: "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac" +
      "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
  },
];

Deno.test("Ed25519 matches RFC 8032 7.1 tests 1-3 on both backends", () => {
  for (const v of RFC8032_ED25519) {
    // PKCS#8 / SPKI wrappers of RFC 8410 section 7 / 4
    const key = loadSigningKey(fromHex("302e020100300506032b657004220420" + v.secret));
    assert.equal(toHex(key.publicKey.raw!), v.public);
    const pub = loadVerifyingKey(fromHex("302a300506032b6570032100" + v.public));
    assert.equal(toHex(exportSpki(key)), "302a300506032b6570032100" + v.public);
    const msg = fromHex(v.message);
    for (const b of EDDSA_BACKENDS) {
      assert.equal(toHex(sign(key, "ed25519", msg, { backend: b })), v.signature, b);
      assert.ok(verify(pub, "ed25519", msg, fromHex(v.signature), { backend: b }));
      const bad = fromHex(v.signature);
      bad[10] ^= 1;
      assert.equal(verify(pub, "ed25519", msg, bad, { backend: b }), false);
      assert.equal(
        verify(pub, "ed25519", concat(msg, Uint8Array.of(0)), fromHex(v.signature)),
        false,
      );
    }
  }
});

// Source: RFC 8032 section 7.4, Ed448 test "-----Blank" (empty message).
Deno.test("Ed448 matches RFC 8032 7.4 (blank) on both backends", () => {
  const secret = "6c82a562cb808d10d632be89c8513ebf6c929f34ddfa8c9f63c9960ef6e348a3" +
    "528c8a3fcc2f044e39a3fc5b94492f8f032e7549a20098f95b";
  const pubHex = "5fd7449b59b461fd2ce787ec616ad46a1da1342485a70e1f8a0ea75d80e96778" +
    "edf124769b46c7061bd6783df1e50f6cd1fa1abeafe8256180";
  const sig = "533a37f6bbe457251f023c0d88f976ae2dfb504a843e34d2074fd823d41a591f" +
    "2b233f034f628281f2fd7a22ddd47d7828c59bd0a21bfd3980ff0d2028d4b18a9df63e006c5d1c2d" +
    "345b925d8dc00b4104852db99ac5c7cdda8530a113a0f4dbb61149f05a7363268c71d95808ff2e652600";
  const key = loadSigningKey(fromHex("3047020100300506032b6571043b0439" + secret));
  const pub = loadVerifyingKey(fromHex("3043300506032b6571033a00" + pubHex));
  assert.equal(toHex(key.publicKey.raw!), pubHex);
  for (const b of EDDSA_BACKENDS) {
    assert.equal(toHex(sign(key, "ed448", new Uint8Array(0), { backend: b })), sig, b);
    assert.ok(verify(pub, "ed448", new Uint8Array(0), fromHex(sig), { backend: b }));
    assert.equal(verify(pub, "ed448", Uint8Array.of(0), fromHex(sig), { backend: b }), false);
  }
});

// Source: RFC 6979 appendix A.2.5 (ECDSA, P-256, SHA-256, message "sample"):
// noble's deterministic k gives exactly r || s; node's random k still verifies.
Deno.test("ECDSA P-256 matches RFC 6979 A.2.5 (deterministic k) and both backends verify", () => {
  // PKCS#8 (RFC 5208) around an RFC 5915 ECPrivateKey without the public key.
  const x = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";
  const key = loadSigningKey(
    fromHex("3041020100301306072a8648ce3d020106082a8648ce3d030107042730250201010420" + x),
  );
  const rs = "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716" +
    "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8";
  const msg = ascii("sample");
  const ours = sign(key, "ecdsa-sha256", msg, { backend: "noble", ecdsaFormat: "raw" });
  assert.equal(toHex(ours), rs);
  for (const b of BACKENDS) {
    assert.ok(verify(key, "ecdsa-sha256", msg, fromHex(rs), { backend: b, ecdsaFormat: "raw" }));
    const n = sign(key, "ecdsa-sha256", msg, { backend: "node", ecdsaFormat: "raw" });
    assert.ok(verify(key, "ecdsa-sha256", msg, n, { backend: b, ecdsaFormat: "raw" }));
  }
});

Deno.test("default ECDSA backend is libcrypto here; noble and node verify what it signs", () => {
  // The RFC 6979 A.2.5 key: its deterministic "sample" signature verifies through the
  // default (libcrypto), and the default's own (random-nonce) signatures verify on the others.
  const key = loadSigningKey(
    fromHex(
      "3041020100301306072a8648ce3d020106082a8648ce3d030107042730250201010420" +
        "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721",
    ),
  );
  assert.ok(signatureBackendSupports("libcrypto", key), "libcrypto loads on this machine");
  const rs = "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716" +
    "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8";
  const msg = ascii("sample");
  assert.ok(verify(key, "ecdsa-sha256", msg, fromHex(rs), { ecdsaFormat: "raw" }));
  const bad = fromHex(rs);
  bad[5] ^= 1;
  assert.equal(verify(key, "ecdsa-sha256", msg, bad, { ecdsaFormat: "raw" }), false);
  assert.equal(verify(key, "ecdsa-sha256", msg, bad.subarray(1), { ecdsaFormat: "raw" }), false);
  for (
    const [name, scheme] of [["p256", "ecdsa-sha256"], ["p384", "ecdsa-sha384"], [
      "p521",
      "ecdsa-sha512",
    ]] as const
  ) {
    for (const fmt of ["der", "raw"] as const) {
      const sig = sign(KEYS[name], scheme, MSG, { ecdsaFormat: fmt });
      // A fresh nonce each time (OpenSSL's DRBG), unlike noble's RFC 6979 default.
      assert.notDeepEqual(sig, sign(KEYS[name], scheme, MSG, { ecdsaFormat: fmt }), name);
      for (const b of name === "p521" ? ["noble" as const] : ["noble" as const, "node" as const]) {
        assert.ok(verify(PUBS[name], scheme, MSG, sig, { backend: b, ecdsaFormat: fmt }), name);
      }
      assert.ok(verify(PUBS[name], scheme, MSG, sig, { ecdsaFormat: fmt }), name);
      assert.equal(verify(PUBS[name], scheme, ascii("other"), sig, { ecdsaFormat: fmt }), false);
    }
  }
  // Not an EC key: libcrypto does not take it, and asking for it strictly throws.
  assert.equal(signatureBackendSupports("libcrypto", KEYS.ed25519), false);
  assert.throws(() => sign(KEYS.ed25519, "ed25519", MSG, { backend: "libcrypto" }), CryptoError);
});

Deno.test("ecdsaDerToRaw()/ecdsaRawToDer() agree with noble's DER and compact forms", () => {
  // noble signs deterministically: the same (r, s) in both encodings.
  for (
    const [name, scheme, n] of [["p256", "ecdsa-sha256", 32], ["p384", "ecdsa-sha384", 48], [
      "p521",
      "ecdsa-sha512",
      66,
    ]] as const
  ) {
    for (let i = 0; i < 20; i++) {
      const m = ascii(`message ${i}`);
      const der = sign(KEYS[name], scheme, m, { backend: "noble", ecdsaFormat: "der" });
      const raw = sign(KEYS[name], scheme, m, { backend: "noble", ecdsaFormat: "raw" });
      assert.equal(toHex(ecdsaDerToRaw(der, n)), toHex(raw), `${name} ${i}`);
      assert.equal(toHex(ecdsaRawToDer(raw)), toHex(der), `${name} ${i}`);
    }
  }
  // Short integers (leading zero bytes) and a high bit that needs a sign byte.
  const raw = new Uint8Array(64);
  raw[31] = 1;
  raw[32] = 0x80;
  assert.equal(toHex(ecdsaRawToDer(raw)), "3026020101022100" + "80" + "00".repeat(31));
  assert.equal(toHex(ecdsaDerToRaw(ecdsaRawToDer(raw), 32)), toHex(raw));
  for (const bad of ["", "3000", "30060201010201", "3006020101020101ff", "31060201010201010"]) {
    assert.throws(() => ecdsaDerToRaw(fromHex(bad.length % 2 ? bad + "0" : bad), 32), CryptoError);
  }
});

// ---------------------------------------------------------------------------
// Keys and deterministic signatures made by pyca/cryptography (OpenSSL):
// tests/vectors/crypto/signature_vectors.json, see gen_signature_vectors.py.
// ---------------------------------------------------------------------------
interface VectorKey {
  pkcs8: string;
  spki: string;
  signatures: Record<string, string>;
}
const VEC = JSON.parse(
  Deno.readTextFileSync(new URL("../vectors/crypto/signature_vectors.json", import.meta.url)),
) as { message: string; keys: Record<string, VectorKey> };
const MSG = fromHex(VEC.message);
const KEYS: Record<string, SigningKey> = Object.fromEntries(
  Object.entries(VEC.keys).map(([n, k]) => [n, loadSigningKey(fromHex(k.pkcs8))]),
);
const PUBS = Object.fromEntries(
  Object.entries(VEC.keys).map(([n, k]) => [n, loadVerifyingKey(fromHex(k.spki))]),
);

Deno.test("loadSigningKey()/loadVerifyingKey() describe RSA, ECDSA and EdDSA keys", () => {
  assert.deepEqual([KEYS.rsa2048.type, KEYS.rsa2048.bits], ["rsa", 2048]);
  assert.deepEqual([KEYS.p256.type, KEYS.p256.curve], ["ec", "P-256"]);
  assert.deepEqual([PUBS.p384.curve, PUBS.p521.curve], ["P-384", "P-521"]);
  assert.equal(PUBS.p521.raw!.length, 133);
  assert.deepEqual([KEYS.ed25519.type, KEYS.ed448.type], ["ed25519", "ed448"]);
  for (const n of Object.keys(VEC.keys)) {
    assert.equal(toHex(exportSpki(KEYS[n])), VEC.keys[n].spki, n);
    assert.deepEqual(PUBS[n].raw, KEYS[n].publicKey.raw, n);
  }
  assert.throws(() => loadSigningKey(fromHex(VEC.keys.p256.spki)), CryptoError);
  assert.throws(() => loadVerifyingKey(fromHex(VEC.keys.p256.pkcs8)), CryptoError);
  assert.throws(() => loadSigningKey(new Uint8Array(10)), CryptoError);
});

Deno.test("deterministic signatures equal pyca/cryptography's (RSA PKCS#1, RFC 6979 ECDSA, EdDSA)", () => {
  for (const [name, k] of Object.entries(VEC.keys)) {
    for (const [label, sigHex] of Object.entries(k.signatures)) {
      const raw = label.endsWith("-raw");
      const scheme = label.replace(/-raw$/, "") as SignatureScheme;
      const fmt = raw ? "raw" : "der";
      const keyType = SIGNATURE_SCHEMES[scheme].keyType;
      const backends: SignatureBackend[] = keyType === "rsa"
        ? ["node"]
        : keyType === "ec"
        ? ["noble"] // node's and libcrypto's ECDSA are randomized: checked by verification below
        : EDDSA_BACKENDS;
      for (const b of backends) {
        const ours = sign(KEYS[name], scheme, MSG, { backend: b, ecdsaFormat: fmt });
        assert.equal(toHex(ours), sigHex, `${name} ${label} ${b}`);
      }
      for (const b of BACKENDS.filter((x) => signatureBackendSupports(x, PUBS[name]))) {
        const opts = { backend: b, ecdsaFormat: fmt } as const;
        assert.ok(verify(PUBS[name], scheme, MSG, fromHex(sigHex), opts), `${name} ${label} ${b}`);
        const bad = fromHex(sigHex);
        bad[bad.length - 3] ^= 0x10;
        assert.equal(verify(PUBS[name], scheme, MSG, bad, opts), false);
      }
    }
  }
});

Deno.test("every scheme signs on every backend and the other backend verifies", () => {
  const cases: [string, SignatureScheme][] = [
    ["rsa2048", "rsa-pkcs1-sha256"],
    ["rsa2048", "rsa-pss-sha256"],
    ["rsa2048", "rsa-pss-sha384"],
    ["rsa2048", "rsa-pss-sha512"],
    ["p256", "ecdsa-sha256"],
    ["p256", "ecdsa-sha512"],
    ["p384", "ecdsa-sha384"],
    ["p384", "ecdsa-sha256"],
    ["p521", "ecdsa-sha512"],
    ["p521", "ecdsa-sha256"],
    ["ed25519", "ed25519"],
    ["ed448", "ed448"],
  ];
  for (const [name, scheme] of cases) {
    const rsa = name.startsWith("rsa");
    for (const fmt of ["der", "raw"] as const) {
      for (const sb of rsa ? ["node" as const] : BACKENDS) {
        if (sb === "libcrypto" && !name.startsWith("p")) continue; // ECDSA only
        if (sb === "node" && name === "p521") {
          // Deno's node:crypto cannot sign P-521 and rejects valid P-521/SHA-256
          // signatures (pyca/cryptography accepts them), so node refuses P-521.
          assert.throws(() => sign(KEYS[name], scheme, MSG, { backend: sb }), CryptoError);
          assert.throws(
            () => verify(PUBS[name], scheme, MSG, new Uint8Array(132), { backend: sb }),
            CryptoError,
          );
          continue;
        }
        const sig = sign(KEYS[name], scheme, MSG, { backend: sb, ecdsaFormat: fmt });
        for (
          const vb of rsa
            ? ["node" as const]
            : name === "p521"
            ? ["noble" as const, "libcrypto" as const]
            : BACKENDS.filter((b) => signatureBackendSupports(b, PUBS[name]))
        ) {
          const opts = { backend: vb, ecdsaFormat: fmt } as const;
          assert.ok(verify(PUBS[name], scheme, MSG, sig, opts), `${name} ${scheme} ${sb}->${vb}`);
          assert.equal(verify(PUBS[name], scheme, ascii("other"), sig, opts), false);
        }
      }
    }
  }
  assert.throws(() => sign(KEYS.p256, "rsa-pss-sha256", MSG), CryptoError);
  assert.throws(() => sign(KEYS.rsa2048, "rsa-pss-sha256", MSG, { backend: "noble" }), CryptoError);
  assert.throws(() => verify(PUBS.ed25519, "ed448", MSG, new Uint8Array(114)), CryptoError);
});

Deno.test("noble ECDSA: deterministic without rng, injected rng changes k reproducibly", () => {
  const a = sign(KEYS.p256, "ecdsa-sha256", MSG, { backend: "noble" });
  assert.deepEqual(sign(KEYS.p256, "ecdsa-sha256", MSG, { backend: "noble" }), a);
  const rng = (n: number) => new Uint8Array(n).fill(0x42);
  const b = sign(KEYS.p256, "ecdsa-sha256", MSG, { backend: "noble", rng });
  assert.notDeepEqual(b, a);
  assert.deepEqual(sign(KEYS.p256, "ecdsa-sha256", MSG, { backend: "noble", rng }), b);
  assert.ok(verify(PUBS.p256, "ecdsa-sha256", MSG, b));
});

// ---------------------------------------------------------------------------
// AUTH payloads (RFC 7427 section 3, RFC 4754 section 3, RFC 7296 3.8).
// ---------------------------------------------------------------------------
Deno.test("createSignatureAuth()/verifySignatureAuth() round-trip every method", () => {
  const octets = ascii("InitiatorSignedOctets");
  const cases: [string, number, SignatureScheme, number][] = [
    // key, method, scheme, expected data length (-1: variable)
    ["rsa2048", 14, "rsa-pss-sha256", 1 + 67 + 256],
    ["rsa2048", 14, "rsa-pkcs1-sha384", 1 + 15 + 256],
    ["rsa2048", 1, "rsa-pkcs1-sha1", 256],
    ["p256", 14, "ecdsa-sha256", -1],
    ["p256", 9, "ecdsa-sha256", 64],
    ["p384", 10, "ecdsa-sha384", 96],
    ["p521", 11, "ecdsa-sha512", 132],
    ["p521", 14, "ecdsa-sha384", -1],
    ["ed25519", 14, "ed25519", 1 + 7 + 64],
    ["ed448", 14, "ed448", 1 + 7 + 114],
  ];
  for (const [name, method, scheme, len] of cases) {
    const auth = createSignatureAuth(KEYS[name], { method: method as 14, scheme }, octets);
    assert.equal(auth.method, method);
    if (len >= 0) assert.equal(auth.data.length, len, `${name} ${method} ${scheme}`);
    if (method === 14) {
      const { algorithmId } = decodeDigitalSignatureAuth(auth.data);
      assert.deepEqual(algorithmId, encodeSignatureAlgorithmId(scheme));
    }
    for (const backend of BACKENDS) {
      const r = verifySignatureAuth(PUBS[name], method, auth.data, octets, { backend });
      assert.deepEqual(r, { ok: true, scheme }, `${name} ${method} ${scheme} ${backend}`);
      const tampered = verifySignatureAuth(PUBS[name], method, auth.data, ascii("x"), { backend });
      assert.equal(tampered.ok, false);
    }
  }
});

Deno.test("verifySignatureAuth() refuses mismatches, bad data and unaccepted hashes", () => {
  const octets = ascii("ResponderSignedOctets");
  const p256Auth = createSignatureAuth(KEYS.p256, { method: 9, scheme: "ecdsa-sha256" }, octets);
  const fails = (r: { ok: boolean }) => assert.equal(r.ok, false);
  fails(verifySignatureAuth(PUBS.p384, 9, p256Auth.data, octets)); // wrong curve for method 9
  fails(verifySignatureAuth(PUBS.p256, 10, p256Auth.data, octets)); // method 10 needs P-384
  fails(verifySignatureAuth(PUBS.rsa2048, 9, p256Auth.data, octets));
  fails(verifySignatureAuth(PUBS.p256, 9, p256Auth.data.subarray(1), octets));
  fails(verifySignatureAuth(PUBS.p256, 2, p256Auth.data, octets)); // shared key: not a signature
  const m14 = createSignatureAuth(KEYS.p256, { method: 14, scheme: "ecdsa-sha256" }, octets);
  fails(verifySignatureAuth(PUBS.ed25519, 14, m14.data, octets)); // key type mismatch
  fails(verifySignatureAuth(PUBS.p256, 14, m14.data, octets, { hashes: [3, 4] }));
  fails(verifySignatureAuth(PUBS.p256, 14, Uint8Array.of(200, 1, 2), octets));
  fails(verifySignatureAuth(PUBS.p256, 14, new Uint8Array(0), octets));
  // SHA-1 inside method 14 only when accepted explicitly.
  const sha1 = createSignatureAuth(KEYS.rsa2048, { method: 14, scheme: "rsa-pkcs1-sha1" }, octets);
  fails(verifySignatureAuth(PUBS.rsa2048, 14, sha1.data, octets));
  assert.ok(verifySignatureAuth(PUBS.rsa2048, 14, sha1.data, octets, { hashes: [1] }).ok);
  // Method 1 with pyca's RSA PKCS#1 v1.5 SHA-1 signature; and disallowed by policy.
  const legacy = fromHex(VEC.keys.rsa2048.signatures["rsa-pkcs1-sha1"]);
  assert.deepEqual(verifySignatureAuth(PUBS.rsa2048, 1, legacy, MSG), {
    ok: true,
    scheme: "rsa-pkcs1-sha1",
  });
  fails(verifySignatureAuth(PUBS.rsa2048, 1, legacy, MSG, { allowRsaSha1Method: false }));
  // createSignatureAuth() refuses legacy methods that do not fit the key.
  assert.throws(
    () => createSignatureAuth(KEYS.p384, { method: 9, scheme: "ecdsa-sha256" }, octets),
    CryptoError,
  );
  assert.throws(
    () => createSignatureAuth(KEYS.rsa2048, { method: 1, scheme: "rsa-pss-sha256" }, octets),
    CryptoError,
  );
});

Deno.test("chooseSignatureScheme() follows SIGNATURE_HASH_ALGORITHMS", () => {
  const all = [1, 2, 3, 4, 5];
  assert.deepEqual(chooseSignatureScheme(KEYS.p256, all), { method: 14, scheme: "ecdsa-sha256" });
  assert.deepEqual(chooseSignatureScheme(KEYS.p384, all), { method: 14, scheme: "ecdsa-sha384" });
  assert.deepEqual(chooseSignatureScheme(KEYS.p384, [2]), { method: 14, scheme: "ecdsa-sha256" });
  assert.deepEqual(chooseSignatureScheme(KEYS.p521, undefined), {
    method: 11,
    scheme: "ecdsa-sha512",
  });
  assert.deepEqual(chooseSignatureScheme(KEYS.rsa2048, [4, 2]), {
    method: 14,
    scheme: "rsa-pss-sha256",
  });
  assert.deepEqual(chooseSignatureScheme(KEYS.rsa2048, [4], { rsaPadding: "pkcs1" }), {
    method: 14,
    scheme: "rsa-pkcs1-sha512",
  });
  assert.deepEqual(chooseSignatureScheme(KEYS.ed25519, [2, 5]), { method: 14, scheme: "ed25519" });
  assert.throws(() => chooseSignatureScheme(KEYS.ed25519, [2, 3, 4]), CryptoError);
  assert.throws(() => chooseSignatureScheme(KEYS.ed448, undefined), CryptoError);
  assert.throws(() => chooseSignatureScheme(KEYS.rsa2048, undefined), CryptoError);
  assert.throws(() => chooseSignatureScheme(KEYS.p256, [1]), CryptoError); // SHA-1 only
  assert.deepEqual(chooseSignatureScheme(KEYS.rsa2048, undefined, { allowLegacyRsaSha1: true }), {
    method: 1,
    scheme: "rsa-pkcs1-sha1",
  });
});

Deno.test("SIGNATURE_HASH_ALGORITHMS notify data codec and negotiation", () => {
  // RFC 7427 section 4: a list of 16-bit hash algorithm identifiers.
  assert.equal(toHex(encodeSignatureHashAlgorithms([2, 3, 4, 5])), "0002000300040005");
  assert.deepEqual(decodeSignatureHashAlgorithms(fromHex("00020001000200ff")), [2, 1, 255]);
  assert.deepEqual(decodeSignatureHashAlgorithms(new Uint8Array(0)), []);
  assert.throws(() => decodeSignatureHashAlgorithms(fromHex("000203")), CryptoError);
  assert.throws(() => encodeSignatureHashAlgorithms([70000]), CryptoError);
  assert.deepEqual(negotiateSignatureHashes([2, 3, 4, 5], [5, 1, 4]), [4, 5]);
});

// ---------------------------------------------------------------------------
// Live cross-check with pyca/cryptography (OpenSSL) for the randomized
// schemes: python verifies our RSA-PSS and node ECDSA signatures (DER and
// raw) and signs PSS with salt lengths 32 and 20 for us to verify.
// ---------------------------------------------------------------------------
const PY_CHECK = String.raw`
import json, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils
a = json.loads(sys.stdin.read())
H = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}
msg = bytes.fromhex(a["msg"])
out = {"verified": [], "pss": {}}
for c in a["checks"]:
    pub = serialization.load_der_public_key(bytes.fromhex(c["spki"]))
    sig = bytes.fromhex(c["sig"])
    h = H[c["digest"]]
    if c["kind"] == "pss":
        pub.verify(sig, msg, padding.PSS(padding.MGF1(h), h.digest_size), h)
    elif c["kind"] == "ecdsa-raw":
        n = len(sig) // 2
        der = utils.encode_dss_signature(int.from_bytes(sig[:n], "big"), int.from_bytes(sig[n:], "big"))
        pub.verify(der, msg, ec.ECDSA(h))
    else:
        pub.verify(sig, msg, ec.ECDSA(h))
    out["verified"].append(c["id"])
key = serialization.load_der_private_key(bytes.fromhex(a["rsa"]), None)
for salt in (32, 20):
    out["pss"][str(salt)] = key.sign(msg, padding.PSS(padding.MGF1(hashes.SHA256()), salt), hashes.SHA256()).hex()
print(json.dumps(out))
`;

Deno.test("pyca/cryptography verifies our PSS and node ECDSA signatures and vice versa", async () => {
  const checks: Record<string, string>[] = [];
  const add = (name: string, scheme: SignatureScheme, kind: string, sig: Uint8Array) =>
    checks.push({
      id: `${name}/${scheme}/${kind}`,
      spki: VEC.keys[name].spki,
      digest: SIGNATURE_SCHEMES[scheme].digest!,
      kind,
      sig: toHex(sig),
    });
  for (const s of ["rsa-pss-sha256", "rsa-pss-sha384", "rsa-pss-sha512"] as const) {
    add("rsa2048", s, "pss", sign(KEYS.rsa2048, s, MSG));
  }
  for (const [name, s] of [["p256", "ecdsa-sha256"], ["p384", "ecdsa-sha512"]] as const) {
    add(name, s, "ecdsa", sign(KEYS[name], s, MSG, { backend: "node" }));
    add(name, s, "ecdsa-raw", sign(KEYS[name], s, MSG, { backend: "node", ecdsaFormat: "raw" }));
  }
  add(
    "p521",
    "ecdsa-sha512",
    "ecdsa-raw",
    sign(KEYS.p521, "ecdsa-sha512", MSG, { ecdsaFormat: "raw" }),
  );
  const res =
    (await runPythonJson(PY_CHECK, { msg: VEC.message, checks, rsa: VEC.keys.rsa2048.pkcs8 })) as {
      verified: string[];
      pss: Record<string, string>;
    };
  assert.deepEqual(res.verified, checks.map((c) => c.id));
  const pss32 = fromHex(res.pss["32"]);
  const pss20 = fromHex(res.pss["20"]);
  assert.ok(verify(PUBS.rsa2048, "rsa-pss-sha256", MSG, pss32));
  assert.ok(verify(PUBS.rsa2048, "rsa-pss-sha256", MSG, pss20, { saltLength: 20 }));
  assert.equal(verify(PUBS.rsa2048, "rsa-pss-sha256", MSG, pss20, { saltLength: 32 }), false);
  // As RFC 7427 AUTH data with the salt length taken from the AlgorithmIdentifier.
  const algId = fromHex(
    "304106092a864886f70d01010a3034a00f300d06096086480165030402010500a11c301a06092a864886" +
      "f70d010108300d06096086480165030402010500a203020114",
  );
  const data = concat(Uint8Array.of(algId.length), algId, pss20);
  assert.deepEqual(verifySignatureAuth(PUBS.rsa2048, 14, data, MSG), {
    ok: true,
    scheme: "rsa-pss-sha256",
  });
});

Deno.test("an OpenSSL RSASSA-PSS certificate: AlgorithmIdentifier decodes, signature verifies", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sigtest-" });
  try {
    await Deno.writeFile(`${dir}/k.der`, fromHex(VEC.keys.rsa2048.pkcs8));
    const r = await new Deno.Command("openssl", {
      args: [
        "req",
        "-x509",
        "-new",
        "-key",
        `${dir}/k.der`,
        "-keyform",
        "DER",
        "-subj",
        "/CN=pss",
        "-days",
        "1",
        "-sha384",
        "-sigopt",
        "rsa_padding_mode:pss",
        "-sigopt",
        "rsa_pss_saltlen:48",
        "-outform",
        "DER",
        "-out",
        `${dir}/c.der`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(r.success, new TextDecoder().decode(r.stderr));
    const cert = await Deno.readFile(`${dir}/c.der`);
    const top = readDer(cert, 0, "cert");
    const [tbs, algId, sigBits] = readDerSequence(top.value, "cert");
    const tbsBytes = top.value.subarray(0, tbs.end);
    const algBytes = top.value.subarray(tbs.end, algId.end);
    assert.deepEqual(decodeSignatureAlgorithmId(algBytes), {
      scheme: "rsa-pss-sha384",
      saltLength: 48,
    });
    const sig = sigBits.value.subarray(1); // BIT STRING: skip the unused-bits octet
    assert.ok(verify(PUBS.rsa2048, "rsa-pss-sha384", tbsBytes, sig, { saltLength: 48 }));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function openssl(args: string[], stdin?: Uint8Array): Promise<Uint8Array> {
  const p = new Deno.Command("openssl", {
    args,
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin) {
    const w = p.stdin.getWriter();
    await w.write(stdin);
    await w.close();
  }
  const out = await p.output();
  assert.ok(out.success, `openssl ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return out.stdout;
}

Deno.test("id-RSASSA-PSS keys from openssl: PSS only, both directions verified by openssl", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sigtest-" });
  try {
    const pem = `${dir}/pss.pem`;
    await openssl([
      "genpkey",
      "-algorithm",
      "RSA-PSS",
      "-pkeyopt",
      "rsa_keygen_bits:2048",
      "-out",
      pem,
    ]);
    const pkcs8 = await openssl(["pkcs8", "-topk8", "-nocrypt", "-in", pem, "-outform", "DER"]);
    const spki = await openssl(["pkey", "-in", pem, "-pubout", "-outform", "DER"]);
    await Deno.writeFile(`${dir}/pub.der`, spki);
    await Deno.writeFile(`${dir}/msg`, MSG);
    const key = loadSigningKey(pkcs8);
    const pub = loadVerifyingKey(spki);
    assert.deepEqual([key.type, key.pssOnly, pub.pssOnly], ["rsa", true, true]);
    assert.throws(() => sign(key, "rsa-pkcs1-sha256", MSG), CryptoError);
    assert.deepEqual(chooseSignatureScheme(key, [2, 3], { rsaPadding: "pkcs1" }), {
      method: 14,
      scheme: "rsa-pss-sha256",
    });
    assert.throws(
      () => chooseSignatureScheme(key, undefined, { allowLegacyRsaSha1: true }),
      CryptoError,
    );
    // ours -> openssl
    await Deno.writeFile(`${dir}/sig`, sign(key, "rsa-pss-sha256", MSG));
    const ok = await openssl([
      "dgst",
      "-sha256",
      "-sigopt",
      "rsa_padding_mode:pss",
      "-sigopt",
      "rsa_pss_saltlen:32",
      "-keyform",
      "DER",
      "-verify",
      `${dir}/pub.der`,
      "-signature",
      `${dir}/sig`,
      `${dir}/msg`,
    ]);
    assert.match(new TextDecoder().decode(ok), /Verified OK/);
    // openssl -> ours, as RFC 7427 AUTH data
    const sig = await openssl([
      "dgst",
      "-sha256",
      "-sigopt",
      "rsa_padding_mode:pss",
      "-sigopt",
      "rsa_pss_saltlen:32",
      "-sign",
      pem,
      `${dir}/msg`,
    ]);
    const auth = concat(
      Uint8Array.of(RFC7427_BLOBS[7][1].length / 2),
      fromHex(RFC7427_BLOBS[7][1]),
      sig,
    );
    assert.deepEqual(verifySignatureAuth(pub, 14, auth, MSG), {
      ok: true,
      scheme: "rsa-pss-sha256",
    });
    // a PKCS#1 v1.5 AlgorithmIdentifier is refused for a PSS-only key
    const pkcs1 = createSignatureAuth(
      KEYS.rsa2048,
      { method: 14, scheme: "rsa-pkcs1-sha256" },
      MSG,
    );
    assert.equal(verifySignatureAuth(pub, 14, pkcs1.data, MSG).ok, false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("verifySignatureAuth() refuses RSA keys below minRsaBits (default 2048)", async () => {
  const pem = await openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"]);
  const pkcs8 = await openssl(["pkcs8", "-topk8", "-nocrypt", "-outform", "DER"], pem);
  const key = loadSigningKey(pkcs8);
  assert.equal(key.bits, 1024);
  const auth = createSignatureAuth(key, { method: 14, scheme: "rsa-pss-sha256" }, MSG);
  const r = verifySignatureAuth(key.publicKey, 14, auth.data, MSG);
  assert.equal(r.ok, false);
  assert.match((r as { reason: string }).reason, /1024 bits is below the minimum 2048/);
  assert.deepEqual(verifySignatureAuth(key.publicKey, 14, auth.data, MSG, { minRsaBits: 1024 }), {
    ok: true,
    scheme: "rsa-pss-sha256",
  });
});
