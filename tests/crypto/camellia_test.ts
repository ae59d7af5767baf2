/**
 * Camellia (lib/crypto/camellia.ts):
 *
 * - known answers from RFC 3713 Appendix A (one block for each of the 128,
 *   192 and 256-bit keys, both directions);
 * - RFC 5528 section 4.1 Camellia-CTR test vectors #1 to #3 (128-bit keys,
 *   16, 32 and 36 bytes, counter block = nonce || IV || 00000001);
 * - CBC and CTR on random keys, IVs and data of several lengths checked
 *   against the system `openssl enc` (an implementation independent of ours),
 *   for all three key sizes;
 * - decrypt(encrypt(x)) == x, in-place blocks, and the CryptoError checks
 *   (key length, IV and counter block length, misaligned CBC data, block
 *   offsets, 32-bit counter wrap).
 */
import assert from "node:assert/strict";
import { fromHex, toHex } from "../../lib/wire/bytes.ts";
import {
  camelliaCbcDecrypt,
  camelliaCbcEncrypt,
  camelliaCtrXor,
  CamelliaKey,
} from "../../lib/crypto/camellia.ts";
import { CryptoError } from "../../lib/crypto/types.ts";

const hx = (s: string) => fromHex(s.replace(/\s+/g, "").toLowerCase());
const rnd = (n: number) => crypto.getRandomValues(new Uint8Array(n));
const KEY_LENGTHS = [16, 24, 32];

/** RFC 3713 Appendix A: the same plaintext under a 128, 192 and 256-bit key. */
const RFC3713 = [
  {
    key: "01 23 45 67 89 ab cd ef fe dc ba 98 76 54 32 10",
    pt: "01 23 45 67 89 ab cd ef fe dc ba 98 76 54 32 10",
    ct: "67 67 31 38 54 96 69 73 08 57 06 56 48 ea be 43",
  },
  {
    key: "01 23 45 67 89 ab cd ef fe dc ba 98 76 54 32 10 00 11 22 33 44 55 66 77",
    pt: "01 23 45 67 89 ab cd ef fe dc ba 98 76 54 32 10",
    ct: "b4 99 34 01 b3 e9 96 f8 4e e5 ce e7 d7 9b 09 b9",
  },
  {
    key: "01 23 45 67 89 ab cd ef fe dc ba 98 76 54 32 10" +
      " 00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff",
    pt: "01 23 45 67 89 ab cd ef fe dc ba 98 76 54 32 10",
    ct: "9a cc 23 7d ff 16 d7 6c 20 ef 7c 91 9e 3a 75 09",
  },
];

/**
 * RFC 5528 section 4.1, Camellia-CTR test vectors #1 to #3 (the 128-bit key
 * ones). The counter block is nonce (4) || IV (8) || block counter (4) = 1,
 * as in RFC 3686; #1's plaintext is "Single block msg".
 */
const RFC5528 = [
  {
    name: "#1 (16 octets)",
    key: "AE 68 52 F8 12 10 67 CC 4B F7 A5 76 55 77 F3 9E",
    nonce: "00 00 00 30",
    iv: "00 00 00 00 00 00 00 00",
    pt: "53 69 6E 67 6C 65 20 62 6C 6F 63 6B 20 6D 73 67",
    ct: "D0 9D C2 9A 82 14 61 9A 20 87 7C 76 DB 1F 0B 3F",
  },
  {
    name: "#2 (32 octets)",
    key: "7E 24 06 78 17 FA E0 D7 43 D6 CE 1F 32 53 91 63",
    nonce: "00 6C B6 DB",
    iv: "C0 54 3B 59 DA 48 D9 0B",
    pt: "00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F" +
      " 10 11 12 13 14 15 16 17 18 19 1A 1B 1C 1D 1E 1F",
    ct: "DB F3 C7 8D C0 83 96 D4 DA 7C 90 77 65 BB CB 44" +
      " 2B 8E 8E 0F 31 F0 DC A7 2C 74 17 E3 53 60 E0 48",
  },
  {
    name: "#3 (36 octets)",
    key: "76 91 BE 03 5E 50 20 A8 AC 6E 61 85 29 F9 A0 DC",
    nonce: "00 E0 01 7B",
    iv: "27 77 7F 3F 4A 17 86 F0",
    pt: "00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F" +
      " 10 11 12 13 14 15 16 17 18 19 1A 1B 1C 1D 1E 1F 20 21 22 23",
    ct: "B1 9D 1F CD CB 75 EB 88 2F 84 9C E2 4D 85 CF 73" +
      " 9C E6 4B 2B 5C 9D 73 F1 4F 2D 5D 9D CE 98 89 CD DF 50 86 96",
  },
];

Deno.test("CamelliaKey: RFC 3713 Appendix A known answers, both directions", () => {
  for (const v of RFC3713) {
    const key = new CamelliaKey(hx(v.key));
    assert.equal(key.keyLength, hx(v.key).length);
    const out = new Uint8Array(16);
    key.encryptBlock(hx(v.pt), 0, out, 0);
    assert.equal(toHex(out), toHex(hx(v.ct)), `encrypt, ${key.keyLength * 8}-bit key`);
    key.decryptBlock(hx(v.ct), 0, out, 0);
    assert.equal(toHex(out), toHex(hx(v.pt)), `decrypt, ${key.keyLength * 8}-bit key`);
  }
});

Deno.test("CamelliaKey: blocks at offsets and in place", () => {
  for (const v of RFC3713) {
    const key = new CamelliaKey(hx(v.key));
    // The plaintext at offset 5 of a larger buffer, encrypted to offset 3 of another.
    const src = new Uint8Array(30).fill(0xaa);
    src.set(hx(v.pt), 5);
    const dst = new Uint8Array(20).fill(0x55);
    key.encryptBlock(src, 5, dst, 3);
    assert.equal(toHex(dst.subarray(3, 19)), toHex(hx(v.ct)));
    assert.deepEqual([dst[2], dst[19]], [0x55, 0x55], "bytes around the block untouched");
    // In place, both directions.
    key.decryptBlock(dst, 3, dst, 3);
    assert.equal(toHex(dst.subarray(3, 19)), toHex(hx(v.pt)));
    key.encryptBlock(dst, 3, dst, 3);
    assert.equal(toHex(dst.subarray(3, 19)), toHex(hx(v.ct)));
  }
});

Deno.test("camelliaCtrXor(): RFC 5528 section 4.1 test vectors #1-#3", () => {
  for (const v of RFC5528) {
    const key = new CamelliaKey(hx(v.key));
    const counterBlock = hx(v.nonce + v.iv + "00000001");
    const before = toHex(counterBlock);
    assert.equal(toHex(camelliaCtrXor(key, counterBlock, hx(v.pt))), toHex(hx(v.ct)), v.name);
    assert.equal(toHex(camelliaCtrXor(key, counterBlock, hx(v.ct))), toHex(hx(v.pt)), v.name);
    assert.equal(toHex(counterBlock), before, "counter block left untouched");
  }
  assert.equal(new TextDecoder().decode(hx(RFC5528[0].pt)), "Single block msg");
});

/** `openssl enc -<cipher> -K key -iv iv -nopad` over `data` on stdin. */
async function opensslEnc(
  cipher: string,
  key: Uint8Array,
  iv: Uint8Array,
  data: Uint8Array,
  decrypt = false,
): Promise<Uint8Array> {
  const args = ["enc", `-${cipher}`, "-K", toHex(key), "-iv", toHex(iv), "-nopad"];
  if (decrypt) args.push("-d");
  const child = new Deno.Command("openssl", {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(data);
  await writer.close();
  const r = await child.output();
  if (r.code !== 0) {
    throw new Error(`openssl ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
  }
  return r.stdout;
}

const hasOpensslCamellia = await (async () => {
  try {
    const r = await new Deno.Command("openssl", { args: ["enc", "-list"], stdout: "piped" })
      .output();
    return r.code === 0 && /camellia-128-cbc/i.test(new TextDecoder().decode(r.stdout));
  } catch {
    return false;
  }
})();

Deno.test({
  name: "camelliaCbcEncrypt/Decrypt(): match openssl enc -camellia-*-cbc on random inputs",
  ignore: !hasOpensslCamellia,
  fn: async () => {
    for (const klen of KEY_LENGTHS) {
      for (const len of [0, 16, 32, 48, 160, 1408]) {
        const k = rnd(klen), iv = rnd(16), pt = rnd(len);
        const what = `klen=${klen} len=${len} key=${toHex(k)} iv=${toHex(iv)}`;
        const key = new CamelliaKey(k);
        const ct = camelliaCbcEncrypt(key, iv, pt);
        const cipher = `camellia-${klen * 8}-cbc`;
        assert.equal(toHex(ct), toHex(await opensslEnc(cipher, k, iv, pt)), what);
        // Decrypt random "ciphertext" too, so decryption is checked on its own.
        const junk = rnd(len);
        assert.equal(
          toHex(camelliaCbcDecrypt(key, iv, junk)),
          toHex(await opensslEnc(cipher, k, iv, junk, true)),
          what,
        );
        assert.equal(toHex(camelliaCbcDecrypt(key, iv, ct)), toHex(pt), what);
      }
    }
  },
});

Deno.test({
  name: "camelliaCtrXor(): matches openssl enc -camellia-*-ctr on random inputs",
  ignore: !hasOpensslCamellia,
  fn: async () => {
    for (const klen of KEY_LENGTHS) {
      for (const len of [0, 1, 15, 16, 17, 36, 100, 1400]) {
        const k = rnd(klen), cb = rnd(16);
        // OpenSSL counts over all 128 bits; keep the low 32 bits from carrying out.
        cb[12] &= 0x7f;
        const pt = rnd(len);
        const what = `klen=${klen} len=${len} key=${toHex(k)} cb=${toHex(cb)}`;
        const key = new CamelliaKey(k);
        const ct = camelliaCtrXor(key, cb, pt);
        const cipher = `camellia-${klen * 8}-ctr`;
        assert.equal(toHex(ct), toHex(await opensslEnc(cipher, k, cb, pt)), what);
        assert.equal(toHex(camelliaCtrXor(key, cb, ct)), toHex(pt), what);
      }
    }
    // Up to the very last counter value, still without a carry out of the low 32 bits.
    const k = rnd(16), cb = rnd(16), pt = rnd(40);
    cb.set([0xff, 0xff, 0xff, 0xfd], 12);
    assert.equal(
      toHex(camelliaCtrXor(new CamelliaKey(k), cb, pt)),
      toHex(await opensslEnc("camellia-128-ctr", k, cb, pt)),
    );
  },
});

Deno.test("Camellia: decrypt(encrypt(x)) == x for every key size and many lengths", () => {
  for (const klen of KEY_LENGTHS) {
    const key = new CamelliaKey(rnd(klen));
    for (let blocks = 0; blocks <= 9; blocks++) {
      const iv = rnd(16), pt = rnd(16 * blocks);
      const ct = camelliaCbcEncrypt(key, iv, pt);
      assert.equal(ct.length, pt.length);
      if (blocks > 0) assert.notEqual(toHex(ct), toHex(pt));
      assert.equal(toHex(camelliaCbcDecrypt(key, iv, ct)), toHex(pt));
    }
    for (let len = 0; len <= 70; len++) {
      const cb = rnd(16), pt = rnd(len);
      cb[12] = 0;
      assert.equal(toHex(camelliaCtrXor(key, cb, camelliaCtrXor(key, cb, pt))), toHex(pt));
    }
    for (let i = 0; i < 50; i++) {
      const block = rnd(16), copy = block.slice();
      key.encryptBlock(block, 0, block, 0);
      key.decryptBlock(block, 0, block, 0);
      assert.deepEqual(block, copy);
    }
  }
});

Deno.test("Camellia: CBC chains blocks; the CTR keystream is E(counter block + i)", () => {
  const key = new CamelliaKey(rnd(16));
  const iv = rnd(16);
  const pt = new Uint8Array(64); // four equal blocks
  const ct = camelliaCbcEncrypt(key, iv, pt);
  const blocks = [0, 16, 32, 48].map((o) => toHex(ct.subarray(o, o + 16)));
  assert.equal(new Set(blocks).size, 4, "equal plaintext blocks give different ciphertext");
  // The first CBC block is E(pt ^ iv).
  const first = new Uint8Array(16);
  key.encryptBlock(iv, 0, first, 0);
  assert.equal(blocks[0], toHex(first));
  // CTR over zeros is the raw keystream: block i is E(cb with counter + i).
  const cb = hx("00112233 4455667788990011 00000007");
  const stream = camelliaCtrXor(key, cb, pt);
  for (let i = 0; i < 4; i++) {
    const c = cb.slice();
    c[15] = 7 + i;
    const e = new Uint8Array(16);
    key.encryptBlock(c, 0, e, 0);
    assert.equal(toHex(stream.subarray(16 * i, 16 * i + 16)), toHex(e), `keystream block ${i}`);
  }
});

Deno.test("Camellia: bad inputs throw CryptoError", () => {
  for (const n of [0, 1, 8, 15, 17, 20, 23, 25, 31, 33, 64]) {
    assert.throws(() => new CamelliaKey(new Uint8Array(n)), CryptoError, `key length ${n}`);
  }
  const key = new CamelliaKey(new Uint8Array(16));
  const iv = new Uint8Array(16);
  for (const n of [1, 15, 17, 31, 33]) {
    assert.throws(() => camelliaCbcEncrypt(key, iv, new Uint8Array(n)), CryptoError);
    assert.throws(() => camelliaCbcDecrypt(key, iv, new Uint8Array(n)), CryptoError);
  }
  for (const n of [0, 8, 12, 15, 17, 32]) {
    assert.throws(
      () => camelliaCbcEncrypt(key, new Uint8Array(n), new Uint8Array(16)),
      CryptoError,
    );
    assert.throws(
      () => camelliaCbcDecrypt(key, new Uint8Array(n), new Uint8Array(16)),
      CryptoError,
    );
    assert.throws(() => camelliaCtrXor(key, new Uint8Array(n), new Uint8Array(16)), CryptoError);
  }
  // Block offsets that do not leave 16 bytes, or are not whole numbers.
  const buf = new Uint8Array(32);
  for (const off of [-1, 17, 32, 1.5, NaN]) {
    assert.throws(() => key.encryptBlock(buf, off, buf, 0), CryptoError, `src offset ${off}`);
    assert.throws(() => key.decryptBlock(buf, 0, buf, off), CryptoError, `dst offset ${off}`);
  }
  assert.throws(() => key.encryptBlock(new Uint8Array(15), 0, buf, 0), CryptoError);
  key.encryptBlock(buf, 16, buf, 0); // the last whole block is fine
});

Deno.test("camelliaCtrXor(): refuses to wrap the 32-bit block counter", () => {
  const key = new CamelliaKey(new Uint8Array(16));
  const cb = hx("00000030 0000000000000000 fffffffe");
  // Counter values 0xfffffffe and 0xffffffff: two blocks (17..32 bytes) fit.
  assert.equal(camelliaCtrXor(key, cb, new Uint8Array(32)).length, 32);
  assert.equal(camelliaCtrXor(key, cb, new Uint8Array(17)).length, 17);
  assert.throws(() => camelliaCtrXor(key, cb, new Uint8Array(33)), CryptoError);
  const last = hx("00000030 0000000000000000 ffffffff");
  assert.equal(camelliaCtrXor(key, last, new Uint8Array(16)).length, 16);
  assert.throws(() => camelliaCtrXor(key, last, new Uint8Array(17)), CryptoError);
  assert.equal(camelliaCtrXor(key, last, new Uint8Array(0)).length, 0, "empty data is fine");
});
