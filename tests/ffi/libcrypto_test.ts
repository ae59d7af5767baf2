import assert from "node:assert/strict";
import * as nodeCrypto from "node:crypto";
import { loadLibcrypto } from "../../ffi/libcrypto.ts";
import { selectCryptoBackend } from "../../ffi/crypto_backend.ts";
import { cbc as nobleCbc, gcm as nobleGcm } from "@noble/ciphers/aes.js";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { fromHex, toHex } from "../../lib/wire/bytes.ts";
import { counterBlock, RFC3686_VECTORS } from "../vectors/crypto/rfc3686_vectors.ts";

// No skipping: CI installs libssl3 (bash .ci/install_deps.sh); without it every test fails loudly.
const loaded = loadLibcrypto();
if (loaded === null) {
  throw new Error("libcrypto.so.3 (OpenSSL 3) not found: run `bash .ci/install_deps.sh`");
}
const lc = loaded;
const enc = new TextEncoder();

Deno.test({
  name: "loadLibcrypto() finds OpenSSL 3 on this machine",
  fn() {
    assert.ok(lc.version >= 0x30000000n);
  },
});

// McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", test cases 4 and 16
// (60-byte plaintext with 20-byte AAD).
const GCM_P = fromHex(
  "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72" +
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
);
const GCM_A = fromHex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
const GCM_IV = fromHex("cafebabefacedbaddecaf888");
const GCM_CASES = [
  {
    name: "test case 4 (AES-128)",
    key: "feffe9928665731c6d6a8f9467308308",
    c: "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e" +
      "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
    t: "5bc94fbc3221a5db94fae95ae7121a47",
  },
  {
    name: "test case 16 (AES-256)",
    key: "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
    c: "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa" +
      "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
    t: "76fc6ece0f4e1768cddf8853bb2d551b",
  },
];

Deno.test({
  name: "libcrypto AES-GCM matches McGrew-Viega test cases 4 and 16",
  fn() {
    for (const tc of GCM_CASES) {
      for (const tagLen of [16, 12, 8]) {
        const aead = lc.createAead("aes-gcm", fromHex(tc.key), tagLen);
        const sealed = aead.seal(GCM_IV, GCM_P, GCM_A);
        assert.equal(toHex(sealed), tc.c + tc.t.slice(0, 2 * tagLen), tc.name);
        assert.deepEqual(aead.open(GCM_IV, sealed, GCM_A), GCM_P);
        sealed[3] ^= 1;
        assert.equal(aead.open(GCM_IV, sealed, GCM_A), null);
        aead.free();
      }
    }
  },
});

Deno.test({
  name: "libcrypto ChaCha20-Poly1305 matches RFC 8439 section 2.8.2",
  fn() {
    const key = fromHex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
    const nonce = fromHex("070000004041424344454647");
    const aad = fromHex("50515253c0c1c2c3c4c5c6c7");
    const pt = enc.encode(
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the " +
        "future, sunscreen would be it.",
    );
    const want = "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6" +
      "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36" +
      "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc" +
      "3ff4def08e4b7a9de576d26586cec64b6116" + "1ae10b594f09e26a7e902ecbd0600691";
    const aead = lc.createAead("chacha20-poly1305", key, 16);
    const sealed = aead.seal(nonce, pt, aad);
    assert.equal(toHex(sealed), want);
    assert.deepEqual(aead.open(nonce, sealed, aad), pt);
    const badAad = aad.slice();
    badAad[0] ^= 0x80;
    assert.equal(aead.open(nonce, sealed, badAad), null);
    assert.equal(aead.open(nonce, sealed.subarray(0, 10), aad), null);
  },
});

Deno.test({
  name: "libcrypto AES-CBC matches RFC 3602 section 4 cases 1 and 2",
  fn() {
    // RFC 3602 section 4, case #1 and case #2.
    const c1 = lc.createBlockCipher("aes-cbc", fromHex("06a9214036b8a15b512e03d534120006"));
    const iv1 = fromHex("3dafba429d9eb430b422da802c9fac41");
    const ct1 = c1.encrypt(iv1, enc.encode("Single block msg"));
    assert.equal(toHex(ct1), "e353779c1079aeb82708942dbe77181a");
    assert.equal(new TextDecoder().decode(c1.decrypt(iv1, ct1)), "Single block msg");
    const c2 = lc.createBlockCipher("aes-cbc", fromHex("c286696d887c9aa0611bbb3e2025a45a"));
    const iv2 = fromHex("562e17996d093d28ddb3ba695a2e6f58");
    const pt2 = fromHex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    const ct2 = c2.encrypt(iv2, pt2);
    assert.equal(
      toHex(ct2),
      "d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1",
    );
    assert.deepEqual(c2.decrypt(iv2, ct2), pt2);
    assert.throws(() => c2.encrypt(iv2, new Uint8Array(17)));
  },
});

Deno.test({
  name: "libcrypto HMAC matches RFC 4231 cases 1 and 2 and RFC 2202 case 1",
  fn() {
    const k1 = new Uint8Array(20).fill(0x0b);
    const d1 = enc.encode("Hi There");
    // RFC 4231 section 4.2 (test case 1)
    const want1 = {
      sha256: "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
      sha384: "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c" +
        "faea9ea9076ede7f4af152e8b2fa9cb6",
      sha512: "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde" +
        "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
      // RFC 2202 section 3 (test case 1)
      sha1: "b617318655057264e28bc0b6fb378c8ef146be00",
    } as const;
    for (const [h, want] of Object.entries(want1)) {
      const mac = lc.createMac(`hmac-${h as keyof typeof want1}`, k1);
      assert.equal(toHex(mac.compute(d1)), want, h);
      // twice: the key must survive the restart
      assert.equal(toHex(mac.compute(d1.subarray(0, 3), d1.subarray(3))), want, h);
    }
    // RFC 4231 section 4.3 (test case 2)
    const m2 = lc.createMac("hmac-sha256", enc.encode("Jefe"));
    assert.equal(
      toHex(m2.compute(enc.encode("what do ya want for nothing?"))),
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    );
  },
});

function rnd(n: number): Uint8Array {
  return new Uint8Array(nodeCrypto.randomBytes(n));
}

function gcmNode(
  kl: number,
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  pt: Uint8Array,
): Uint8Array {
  const alg = kl === 16 ? "aes-128-gcm" : "aes-256-gcm";
  const c = nodeCrypto.createCipheriv(alg, key, nonce);
  c.setAAD(aad);
  return new Uint8Array(Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]));
}

function cbcNode(kl: number, key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  const c = nodeCrypto.createCipheriv(kl === 16 ? "aes-128-cbc" : "aes-256-cbc", key, iv);
  c.setAutoPadding(false);
  return new Uint8Array(Buffer.concat([c.update(data), c.final()]));
}

Deno.test({
  name: "libcrypto agrees with node:crypto and noble on random inputs",
  fn() {
    for (let i = 0; i < 200; i++) {
      const len = i % 5 === 0 ? 0 : (i * 37) % 1500;
      const pt = rnd(len);
      const aad = rnd(i % 3 === 0 ? 8 : 12);
      const nonce = rnd(12);
      // AES-GCM
      const kl = [16, 24, 32][i % 3];
      const key = rnd(kl);
      const g = lc.createAead("aes-gcm", key, 16);
      // node:crypto in Deno lacks AES-192, so noble is the reference there.
      const want = kl === 24
        ? nobleGcm(key, nonce, aad).encrypt(pt)
        : gcmNode(kl, key, nonce, aad, pt);
      assert.equal(toHex(g.seal(nonce, pt, aad)), toHex(want));
      assert.deepEqual(g.open(nonce, want, aad), pt);
      // ChaCha20-Poly1305
      const ck = rnd(32);
      const c = lc.createAead("chacha20-poly1305", ck, 16);
      // node:crypto in Deno has no ChaCha20-Poly1305 AEAD: noble is the reference.
      const wantc = chacha20poly1305(ck, nonce, aad).encrypt(pt);
      assert.equal(toHex(c.seal(nonce, pt, aad)), toHex(wantc));
      assert.deepEqual(c.open(nonce, wantc, aad), pt);
      // AES-CBC
      const blocks = pt.subarray(0, pt.length - (pt.length % 16));
      const cbc = lc.createBlockCipher("aes-cbc", key);
      const iv = rnd(16);
      const wantb = kl === 24
        ? nobleCbc(key, iv, { disablePadding: true }).encrypt(blocks)
        : cbcNode(kl, key, iv, blocks);
      assert.equal(toHex(cbc.encrypt(iv, blocks)), toHex(wantb));
      assert.deepEqual(cbc.decrypt(iv, new Uint8Array(wantb)), blocks);
      // HMAC
      const h = (["sha1", "sha256", "sha384", "sha512"] as const)[i % 4];
      const mk = rnd(i % 7 === 0 ? 0 : 1 + (i % 130));
      const mac = lc.createMac(`hmac-${h}`, mk);
      const wantm = nodeCrypto.createHmac(h, mk).update(aad).update(pt).digest("hex");
      assert.equal(toHex(mac.compute(aad, pt)), wantm);
      g.free();
      c.free();
    }
  },
});

Deno.test({
  name: "libcrypto in-place sealTo/openTo round-trips and rejects bad tags",
  fn() {
    const aead = lc.createAead("aes-gcm", rnd(16), 16) as
      & ReturnType<
        NonNullable<typeof lc>["createAead"]
      >
      & {
        sealTo(n: Uint8Array, p: Uint8Array, a: Uint8Array, o: Uint8Array): void;
        openTo(n: Uint8Array, s: Uint8Array, a: Uint8Array, o: Uint8Array): boolean;
      };
    const nonce = rnd(12);
    const aad = rnd(8);
    const pt = rnd(100);
    const buf = new Uint8Array(116);
    buf.set(pt);
    aead.sealTo(nonce, buf.subarray(0, 100), aad, buf);
    assert.deepEqual(buf, aead.seal(nonce, pt, aad));
    assert.ok(aead.openTo(nonce, buf, aad, buf));
    assert.deepEqual(buf.subarray(0, 100), pt);
    assert.throws(() => aead.seal(new Uint8Array(8), pt, aad));
    aead.free();
    assert.throws(() => aead.seal(nonce, pt, aad));
  },
});

Deno.test("selectCryptoBackend() prefers libcrypto, says so, and falls back to software when it is missing", () => {
  const logs: string[] = [];
  const be = selectCryptoBackend("auto", (m) => logs.push(m));
  assert.equal(be.name, "libcrypto");
  assert.match(logs[0], /libcrypto \(OpenSSL 0x3/);
  const fb = selectCryptoBackend("libcrypto", (m) => logs.push(m), "/nonexistent/libcrypto.so.3");
  assert.equal(fb.name, "node");
  assert.match(logs[1], /not found, falling back/);
  // Both produce the same bytes (AES-CMAC and AES-XCBC over each backend's AES-CBC, HMAC, GCM).
  const key = new Uint8Array(16).fill(9);
  const msg = new Uint8Array(77).fill(3);
  for (const alg of ["aes-xcbc", "aes-cmac", "hmac-sha384"] as const) {
    assert.equal(
      toHex(be.createMac(alg, key).compute(msg)),
      toHex(fb.createMac(alg, key).compute(msg)),
      alg,
    );
  }
  const n = new Uint8Array(12).fill(1);
  assert.equal(
    toHex(be.createAead("aes-gcm", key, 16).seal(n, msg, key)),
    toHex(fb.createAead("aes-gcm", key, 16).seal(n, msg, key)),
  );
});

Deno.test("libcrypto sealInPlace/openInPlace at an offset equal seal/open and reject bad tags", () => {
  for (
    const [alg, keyLen] of [["aes-gcm", 16], ["aes-gcm", 32], ["chacha20-poly1305", 32]] as const
  ) {
    const key = new Uint8Array(keyLen).fill(5);
    const aead = lc.createAead(alg, key, 16);
    const nonce = new Uint8Array(12).fill(6);
    const aad = new Uint8Array(12).fill(7);
    for (const len of [0, 1, 16, 77, 1400]) {
      const pt = new Uint8Array(len).map((_, i) => i * 31);
      const buf = new Uint8Array(len + 16 + 40).fill(0xaa);
      buf.set(pt, 24);
      aead.sealInPlace(nonce, aad, buf, 24, 24 + len);
      assert.equal(
        toHex(buf.subarray(24, 24 + len + 16)),
        toHex(aead.seal(nonce, pt, aad)),
        `${alg} ${len}`,
      );
      assert.equal(buf[23], 0xaa);
      assert.equal(buf[24 + len + 16], 0xaa);
      const bad = buf.slice();
      bad[24 + len] ^= 1;
      assert.equal(aead.openInPlace(nonce, aad, bad, 24, 24 + len + 16), false);
      assert.ok(aead.openInPlace(nonce, aad, buf, 24, 24 + len + 16));
      assert.equal(toHex(buf.subarray(24, 24 + len)), toHex(pt));
    }
  }
});

// Source: RFC 3686 section 6, test vectors #1-#9 (tests/vectors/crypto/rfc3686_vectors.ts).
Deno.test({
  name: "libcrypto AES-CTR matches RFC 3686 #1-#9: whole-buffer, in-place and offset entry points",
  fn() {
    for (const v of RFC3686_VECTORS) {
      const c = lc.createBlockCipher("aes-ctr", fromHex(v.key));
      assert.equal(c.blockSize, 1);
      const cb = fromHex(counterBlock(v));
      const pt = fromHex(v.plaintext);
      assert.equal(toHex(c.encrypt(cb, pt)), v.ciphertext, v.name);
      assert.equal(toHex(c.decrypt(cb, fromHex(v.ciphertext))), v.plaintext, v.name);
      // In place (out aliases data), twice: each call starts a fresh keystream.
      for (let round = 0; round < 2; round++) {
        const b = pt.slice();
        c.encryptTo(cb, b, b);
        assert.equal(toHex(b), v.ciphertext, `${v.name} encryptTo`);
        c.decryptTo(cb, b, b);
        assert.equal(toHex(b), v.plaintext, `${v.name} decryptTo`);
      }
      // Offsets: data at 13..13+n of a larger buffer, counter block at 5 of another one.
      const ivBuf = new Uint8Array(40).fill(0xee);
      ivBuf.set(cb, 5);
      const buf = new Uint8Array(13 + pt.length + 9).fill(0xaa);
      buf.set(pt, 13);
      for (let round = 0; round < 2; round++) {
        c.encryptRange(ivBuf, 5, buf, 13, 13 + pt.length);
        assert.equal(toHex(buf.subarray(13, 13 + pt.length)), v.ciphertext, `${v.name} range`);
        assert.ok(buf.subarray(0, 13).every((x) => x === 0xaa), "bytes before untouched");
        assert.ok(buf.subarray(13 + pt.length).every((x) => x === 0xaa), "bytes after untouched");
        c.decryptRange(ivBuf, 5, buf, 13, 13 + pt.length);
        assert.equal(toHex(buf.subarray(13, 13 + pt.length)), v.plaintext, `${v.name} range`);
      }
      // A partial-block call must not leave keystream behind for the next one.
      const head = c.encrypt(cb, pt.subarray(0, 5));
      assert.equal(toHex(head), v.ciphertext.slice(0, 10));
      assert.equal(toHex(c.encrypt(cb, pt)), v.ciphertext, `${v.name} after a partial block`);
      assert.throws(() => c.encrypt(new Uint8Array(8), pt));
      assert.throws(() => c.encryptRange(ivBuf, 30, buf, 13, 14));
      c.free();
      assert.throws(() => c.encrypt(cb, pt));
    }
  },
});
