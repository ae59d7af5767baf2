/**
 * AES-GMAC (RFC 4543; NIST SP 800-38D: AES-GCM with an empty plaintext) from
 * createGmac (noble, node:crypto) and ffi/libcrypto.ts (compute and the
 * offset-based computeRange the ESP hot path uses):
 *
 * - known answers: the GCM specification's test cases 1, 7 and 13 (McGrew &
 *   Viega, "The Galois/Counter Mode of Operation": zero key and IV, empty
 *   plaintext and AAD, AES-128/192/256) and NIST CAVP gcmEncryptExtIV128.rsp
 *   ([PTlen = 0], [AADlen = 128], Count = 0);
 * - random keys, nonces and AAD of 0..1400 bytes cross-checked against
 *   python3 `cryptography`'s AESGCM(key).encrypt(nonce, b"", aad) (OpenSSL
 *   underneath, independent of our code), the AAD split into head and range
 *   at every interesting point for computeRange;
 * - a changed bit of key, nonce or AAD changes the tag.
 */
import assert from "node:assert/strict";
import { fromHex, toHex } from "../../lib/wire/bytes.ts";
import { createGmac, type SoftwareBackend } from "../../lib/crypto/primitives.ts";
import { CryptoError, type Gmac } from "../../lib/crypto/types.ts";
import { loadLibcrypto } from "../../ffi/libcrypto.ts";
import { runPythonJson } from "./_python.ts";

const lc = loadLibcrypto();
const rnd = (n: number) => crypto.getRandomValues(new Uint8Array(n));

/** Every implementation that takes a key of this length (node has no AES-192 in Deno). */
function impls(key: Uint8Array): Gmac[] {
  const out: Gmac[] = [];
  for (const b of ["noble", "node"] as SoftwareBackend[]) {
    if (b === "node" && key.length === 24) continue;
    out.push(createGmac(key, b));
  }
  if (lc) out.push(lc.createGmac(key));
  return out;
}

const KNOWN = [
  // GCM spec test case 1 (AES-128), 7 (AES-192), 13 (AES-256): K = 0, IV = 0, P = A = empty.
  {
    name: "GCM TC1",
    key: "00".repeat(16),
    iv: "00".repeat(12),
    aad: "",
    tag: "58e2fccefa7e3061367f1d57a4e7455a",
  },
  {
    name: "GCM TC7",
    key: "00".repeat(24),
    iv: "00".repeat(12),
    aad: "",
    tag: "cd33b28ac773f74ba00ed1f312572435",
  },
  {
    name: "GCM TC13",
    key: "00".repeat(32),
    iv: "00".repeat(12),
    aad: "",
    tag: "530f8afbc74536b9a963b4f1c4cb738b",
  },
  {
    name: "CAVP gcmEncryptExtIV128 PTlen=0 AADlen=128 Count=0",
    key: "77be63708971c4e240d1cb79e8d77feb",
    iv: "e0e00f19fed7ba0136a797f3",
    aad: "7a43ec1d9c0a5a78a0b16533a6213cab",
    tag: "209fcc8d3675ed938e9c7166709dd946",
  },
];

Deno.test("AES-GMAC known answers (GCM spec test cases 1/7/13, NIST CAVP) on every backend", () => {
  let n = 0;
  for (const v of KNOWN) {
    const key = fromHex(v.key), iv = fromHex(v.iv), aad = fromHex(v.aad);
    for (const g of impls(key)) {
      assert.equal(g.nonceLength, 12);
      assert.equal(g.tagLength, 16);
      assert.equal(toHex(g.compute(iv, aad)), v.tag, `${v.name} ${g.backend}`);
      n++;
    }
  }
  assert.ok(n >= KNOWN.length * 2);
});

const PY_GMAC = `
import json, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
out = []
for c in json.load(sys.stdin):
    tag = AESGCM(bytes.fromhex(c["key"])).encrypt(bytes.fromhex(c["nonce"]), b"", bytes.fromhex(c["aad"]))
    assert len(tag) == 16
    out.append(tag.hex())
print(json.dumps(out))
`;

Deno.test("AES-GMAC agrees with python3 cryptography on random inputs, whole and split (computeRange)", async () => {
  const cases: { key: string; nonce: string; aad: string }[] = [];
  for (const klen of [16, 24, 32]) {
    for (const alen of [0, 1, 15, 16, 17, 20, 33, 64, 100, 1400]) {
      cases.push({ key: toHex(rnd(klen)), nonce: toHex(rnd(12)), aad: toHex(rnd(alen)) });
    }
  }
  const expected = await runPythonJson(PY_GMAC, cases) as string[];
  let checked = 0;
  cases.forEach((c, i) => {
    const key = fromHex(c.key), nonce = fromHex(c.nonce), aad = fromHex(c.aad);
    for (const g of impls(key)) {
      const what = `${g.backend} key=${key.length} aad=${aad.length}`;
      assert.equal(toHex(g.compute(nonce, aad)), expected[i], what);
      // Split like ESP: a 16/20-byte head (SPI, sequence, IV) then the packet range.
      for (const cut of [0, 1, 16, 20, 33].filter((x) => x <= aad.length)) {
        assert.equal(
          toHex(g.compute(nonce, aad.subarray(0, cut), aad.subarray(cut))),
          expected[i],
          `${what} parts cut=${cut}`,
        );
        if ("computeRange" in g && typeof g.computeRange === "function") {
          // The range sits at an offset inside a bigger buffer; the tag goes right after it.
          const buf = new Uint8Array(7 + aad.length + 16 + 3);
          buf.set(aad.subarray(cut), 7);
          const end = 7 + aad.length - cut;
          g.computeRange(buf, end, nonce, aad.subarray(0, cut), buf, 7, end);
          assert.equal(toHex(buf.subarray(end, end + 16)), expected[i], `${what} range cut=${cut}`);
        }
      }
      checked++;
    }
  });
  assert.ok(checked >= cases.length * 2);
});

Deno.test("AES-GMAC: a changed bit of key, nonce or AAD changes the tag", () => {
  const key = rnd(16), nonce = rnd(12), aad = rnd(48);
  for (const g of impls(key)) {
    const tag = toHex(g.compute(nonce, aad));
    const k2 = key.slice();
    k2[3] ^= 1;
    const n2 = nonce.slice();
    n2[11] ^= 0x80;
    const a2 = aad.slice();
    a2[47] ^= 1;
    const other = impls(k2).find((x) => x.backend === g.backend)!;
    assert.notEqual(toHex(other.compute(nonce, aad)), tag, `${g.backend} key`);
    assert.notEqual(toHex(g.compute(n2, aad)), tag, `${g.backend} nonce`);
    assert.notEqual(toHex(g.compute(nonce, a2)), tag, `${g.backend} aad`);
    assert.equal(toHex(g.compute(nonce, aad)), tag, `${g.backend} unchanged afterwards`);
  }
});

Deno.test("AES-GMAC rejects bad key and nonce lengths with CryptoError", () => {
  for (const b of ["noble", "node"] as SoftwareBackend[]) {
    assert.throws(() => createGmac(new Uint8Array(20), b), CryptoError);
    assert.throws(() => createGmac(new Uint8Array(16), b).compute(new Uint8Array(8)), CryptoError);
  }
  if (lc) {
    assert.throws(() => lc.createGmac(new Uint8Array(20)), CryptoError);
    assert.throws(() => lc.createGmac(new Uint8Array(16)).compute(new Uint8Array(11)), CryptoError);
  }
});
