/**
 * 3DES (ENCR_3DES, RFC 2451) on every backend: the portable implementation
 * (lib/crypto/triple_des.ts over des.ts), node:crypto and libcrypto through
 * FFI, against NIST SP 800-67's worked example, the FIPS DES known answers
 * (decryption too), and `openssl enc -des-ede3-cbc` on random keys, IVs and
 * lengths. The libcrypto range calls (what ESP uses) keep one context
 * running across packets; they must stay standard CBC per packet.
 */
import assert from "node:assert/strict";
import { createCipheriv } from "node:crypto";
import { DesKey } from "../../lib/crypto/des.ts";
import {
  tripleDesCbcDecrypt,
  tripleDesCbcEncrypt,
  TripleDesKey,
} from "../../lib/crypto/triple_des.ts";
import { createBlockCipher } from "../../lib/crypto/primitives.ts";
import { CryptoError } from "../../lib/crypto/types.ts";
import { fromHex, toHex } from "../../lib/wire/bytes.ts";
import { loadLibcrypto } from "../../ffi/libcrypto.ts";
import { run } from "../eap/_oracle.ts";

const rnd = (n: number) => crypto.getRandomValues(new Uint8Array(n));

/** `openssl enc -des-ede3-cbc -nopad` of `data` (hex). */
async function opensslTdes(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Promise<string> {
  const out = await run(
    "sh",
    ["-c", `openssl enc -des-ede3-cbc -nopad -K ${toHex(key)} -iv ${toHex(iv)} | od -An -v -tx1`],
    data,
  );
  return out.replace(/\s+/g, "");
}

Deno.test("DesKey decrypts the FIPS/NBS known answers back", () => {
  // FIPS 81 appendix B, the classic worked example and NBS SP 500-20 entries.
  for (
    const [k, p, c] of [
      ["133457799BBCDFF1", "0123456789ABCDEF", "85E813540F0AB405"],
      ["0123456789ABCDEF", "4E6F772069732074", "3FA40E8A984D4815"],
      ["0101010101010101", "8000000000000000", "95F8A5E5DD31D900"],
      ["8001010101010101", "0000000000000000", "95A8D72813DAA94D"],
    ]
  ) {
    const key = new DesKey(fromHex(k));
    const out = new Uint8Array(8);
    key.encryptBlock(fromHex(p), 0, out, 0);
    assert.equal(toHex(out), c.toLowerCase());
    key.decryptBlock(out, 0, out, 0);
    assert.equal(toHex(out), p.toLowerCase());
  }
});

Deno.test("TripleDesKey matches NIST SP 800-67's example (ECB, three distinct keys)", () => {
  // SP 800-67 Rev. 2 appendix: "The qufck brown fox jump" under
  // K1 = 0123456789ABCDEF, K2 = 23456789ABCDEF01, K3 = 456789ABCDEF0123.
  const key = new TripleDesKey(fromHex("0123456789ABCDEF23456789ABCDEF01456789ABCDEF0123"));
  const pt = new TextEncoder().encode("The qufck brown fox jump");
  const ct = new Uint8Array(24);
  for (let o = 0; o < 24; o += 8) key.encryptBlock(pt, o, ct, o);
  assert.equal(toHex(ct), "a826fd8ce53b855fcce21c8112256fe668d5c05dd9b6b900");
  for (let o = 0; o < 24; o += 8) key.decryptBlock(ct, o, ct, o);
  assert.equal(new TextDecoder().decode(ct), "The qufck brown fox jump");
});

Deno.test("3DES-CBC: portable, node:crypto and libcrypto equal openssl enc -des-ede3-cbc", async () => {
  const lc = loadLibcrypto();
  for (const blocks of [1, 2, 7, 175]) {
    const key = rnd(24), iv = rnd(8), pt = rnd(blocks * 8);
    const want = await opensslTdes(key, iv, pt);
    const impls = [
      createBlockCipher("3des-cbc", key, "noble"),
      createBlockCipher("3des-cbc", key, "node"),
      ...(lc ? [lc.createBlockCipher("3des-cbc", key)] : []),
    ];
    assert.equal(impls.length, lc ? 3 : 2);
    for (const c of impls) {
      assert.equal(c.blockSize, 8);
      assert.equal(c.ivLength, 8);
      assert.equal(toHex(c.encrypt(iv, pt)), want, `${c.backend} ${blocks} blocks`);
      assert.equal(toHex(c.decrypt(iv, fromHex(want))), toHex(pt), `${c.backend} decrypt`);
    }
    assert.equal(toHex(tripleDesCbcEncrypt(new TripleDesKey(key), iv, pt)), want);
    assert.equal(toHex(tripleDesCbcDecrypt(new TripleDesKey(key), iv, fromHex(want))), toHex(pt));
  }
});

Deno.test("3DES-CBC refuses wrong key, IV and data lengths with CryptoError", () => {
  const lc = loadLibcrypto();
  for (const n of [8, 16, 23, 25, 32]) {
    assert.throws(() => createBlockCipher("3des-cbc", new Uint8Array(n)), CryptoError);
    assert.throws(() => new TripleDesKey(new Uint8Array(n)), CryptoError);
    if (lc) assert.throws(() => lc.createBlockCipher("3des-cbc", new Uint8Array(n)), CryptoError);
  }
  for (const backend of ["noble", "node"] as const) {
    const c = createBlockCipher("3des-cbc", rnd(24), backend);
    assert.throws(() => c.encrypt(new Uint8Array(16), new Uint8Array(8)), CryptoError);
    assert.throws(() => c.encrypt(new Uint8Array(8), new Uint8Array(12)), CryptoError);
    assert.throws(() => c.decrypt(new Uint8Array(8), new Uint8Array(4)), CryptoError);
  }
  if (lc) {
    const c = lc.createBlockCipher("3des-cbc", rnd(24));
    assert.throws(() => c.encrypt(new Uint8Array(16), new Uint8Array(8)), CryptoError);
    assert.throws(
      () => c.encryptRange(new Uint8Array(40), 0, new Uint8Array(40), 8, 20),
      CryptoError,
    );
  }
});

Deno.test({
  name: "libcrypto 3DES-CBC range calls stay standard CBC across packets (chained contexts)",
  ignore: loadLibcrypto() === null,
  fn() {
    const lc = loadLibcrypto()!;
    const key = rnd(24);
    const tx = lc.createBlockCipher("3des-cbc", key);
    const rx = lc.createBlockCipher("3des-cbc", key);
    const ref = (iv: Uint8Array, d: Uint8Array) => {
      const c = createCipheriv("des-ede3-cbc", key, iv);
      c.setAutoPadding(false);
      return toHex(c.update(d));
    };
    const shared = new Uint8Array(2048);
    for (let i = 0; i < 120; i++) {
      const blocks = 1 + (i * 7) % 170;
      const off = (i * 13) % 40;
      const buf = i % 3 === 0 ? shared : new Uint8Array(off + 8 + blocks * 8 + 8);
      buf.set(rnd(8 + blocks * 8), off);
      const iv = buf.slice(off, off + 8);
      const pt = buf.slice(off + 8, off + 8 + blocks * 8);
      tx.encryptRange(buf, off, buf, off + 8, off + 8 + blocks * 8);
      assert.equal(toHex(buf.subarray(off + 8, off + 8 + blocks * 8)), ref(iv, pt), `enc ${i}`);
      if (i % 5 === 4) rx.decryptRange(rnd(8), 0, rnd(32), 0, 32); // a packet for someone else
      rx.decryptRange(buf, off, buf, off + 8, off + 8 + blocks * 8);
      assert.equal(toHex(buf.subarray(off + 8, off + 8 + blocks * 8)), toHex(pt), `dec ${i}`);
      if (i % 17 === 0) {
        const iv2 = rnd(8), d = rnd(48);
        const c = tx.encrypt(iv2, d);
        assert.equal(toHex(c), ref(iv2, d));
        assert.equal(toHex(rx.decrypt(iv2, c)), toHex(d));
      }
    }
    tx.free();
    rx.free();
  },
});
