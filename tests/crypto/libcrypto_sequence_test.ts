/**
 * The per-packet EVP call sequences of ffi/libcrypto.ts ("params": IV and
 * tag through prebuilt OSSL_PARAM arrays, GCM's next IV armed at the end of
 * each seal; "init": EVP_CipherInit_ex per packet) against noble, an
 * independent implementation, on the pattern ESP produces: a fixed salt and
 * a counter nonce (crossing a 2^32 carry), interleaved with forged packets,
 * unrelated nonces, salt changes and AAD lengths on both sides of the
 * 32-byte scratch. Also the offset-based AES-CBC and HMAC calls the ESP
 * CBC path uses, against noble and node:crypto.
 */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { cbc, gcm } from "@noble/ciphers/aes.js";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { type LibcryptoAeadSequence, loadLibcrypto } from "../../ffi/libcrypto.ts";
import { toHex } from "../../lib/wire/bytes.ts";

const loaded = loadLibcrypto();
if (loaded === null) {
  throw new Error("libcrypto.so.3 (OpenSSL 3) not found: run `bash .ci/install_deps.sh`");
}
const lc = loaded;

/** Deterministic bytes (xorshift32), so a failure can be replayed. */
function prng(seed: number): (n: number) => Uint8Array {
  let x = seed >>> 0 || 1;
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      out[i] = x & 0xff;
    }
    return out;
  };
}

/** noble's sealed output with the tag cut to `tagLen` (GCM tags truncate to a prefix). */
function nobleSeal(
  alg: "aes-gcm" | "chacha20-poly1305",
  key: Uint8Array,
  tagLen: number,
  nonce: Uint8Array,
  pt: Uint8Array,
  aad: Uint8Array,
): Uint8Array {
  const full = alg === "aes-gcm"
    ? gcm(key, nonce, aad).encrypt(pt)
    : chacha20poly1305(key, nonce, aad).encrypt(pt);
  return full.subarray(0, pt.length + tagLen);
}

function increment(nonce: Uint8Array): void {
  for (let i = 11; i >= 4; i--) {
    nonce[i] = (nonce[i] + 1) & 0xff;
    if (nonce[i] !== 0) break;
  }
}

const CASES = [
  ["aes-gcm", 16, 16],
  ["aes-gcm", 16, 12],
  ["aes-gcm", 16, 8],
  ["aes-gcm", 24, 16],
  ["aes-gcm", 32, 16],
  ["chacha20-poly1305", 32, 16],
] as const;
const SEQUENCES: LibcryptoAeadSequence[] = ["params", "init"];

Deno.test("libcrypto AEAD sequences equal noble on an ESP-like packet stream", () => {
  for (const [alg, keyLen, tagLen] of CASES) {
    for (const sequence of SEQUENCES) {
      const rnd = prng(keyLen * 131 + tagLen + (sequence === "init" ? 7 : 0));
      const key = rnd(keyLen);
      const tx = lc.createAead(alg, key, tagLen, sequence);
      const rx = lc.createAead(alg, key, tagLen, sequence);
      assert.equal(tx.sequence, sequence);
      // Salt || 64-bit counter, starting 3 below a 2^32 carry.
      const nonce = new Uint8Array(12);
      nonce.set(rnd(4), 0);
      nonce.set([0, 0, 0, 0, 0xff, 0xff, 0xff, 0xfd], 4);
      const buf = new Uint8Array(1600 + 64);
      for (let p = 0; p < 240; p++) {
        const what = `${alg}/${keyLen}/${tagLen} ${sequence} packet ${p}`;
        const len = p % 5 === 0 ? 0 : (p * 97) % 1500;
        const aadLen = [8, 12, 8, 12, 0, 40][p % 6];
        const pt = rnd(len);
        const aad = rnd(aadLen);
        const want = nobleSeal(alg, key, tagLen, nonce, pt, aad);
        // In place at an offset, as ESP does (SPI, sequence number and IV before it).
        buf.set(pt, 24);
        tx.sealInPlace(nonce, aad, buf, 24, 24 + len);
        assert.equal(toHex(buf.subarray(24, 24 + len + tagLen)), toHex(want), what);
        if (p % 7 === 3) {
          const forged = buf.slice();
          forged[24 + ((p * 13) % (len + tagLen))] ^= 0x10;
          assert.equal(rx.openInPlace(nonce, aad, forged, 24, 24 + len + tagLen), false, what);
        }
        assert.ok(rx.openInPlace(nonce, aad, buf, 24, 24 + len + tagLen), what);
        assert.equal(toHex(buf.subarray(24, 24 + len)), toHex(pt), what);
        if (p % 11 === 5) {
          // An unrelated nonce between two stream packets, on both contexts.
          const other = rnd(12);
          const sealed = tx.seal(other, pt, aad);
          assert.equal(toHex(sealed), toHex(nobleSeal(alg, key, tagLen, other, pt, aad)), what);
          assert.equal(toHex(rx.open(other, sealed, aad) ?? new Uint8Array(1)), toHex(pt), what);
        }
        if (p === 150) nonce.set(rnd(4), 0); // a new salt (as after a rekey with the same key)
        if (p === 200) nonce[5] ^= 0x40; // a jump in the counter
        increment(nonce);
      }
      tx.free();
      rx.free();
    }
  }
});

Deno.test("libcrypto uses the params sequence with this OpenSSL (its self-test passes)", () => {
  // The self-test in ffi/libcrypto.ts passes with the OpenSSL 3.0 CI installs; if a
  // future OpenSSL changes the provider internals it relies on, "init" is used instead
  // and this test says so.
  for (const [alg, keyLen] of [["aes-gcm", 16], ["chacha20-poly1305", 32]] as const) {
    const aead = lc.createAead(alg, new Uint8Array(keyLen), 16);
    assert.equal(aead.sequence, "params", `${alg}: self-test of the params sequence failed`);
    aead.free();
  }
});

Deno.test("libcrypto AES-CBC and HMAC range calls equal noble and node:crypto at offsets", () => {
  const rnd = prng(99);
  for (const keyLen of [16, 24, 32]) {
    const key = rnd(keyLen);
    const c = lc.createBlockCipher("aes-cbc", key);
    for (const blocks of [0, 1, 4, 88]) {
      // An ESP-like layout: 8 bytes of header, the IV, then the data, in one buffer.
      const buf = rnd(8 + 16 + blocks * 16 + 20);
      const iv = buf.slice(8, 24);
      const pt = buf.slice(24, 24 + blocks * 16);
      c.encryptRange(buf, 8, buf, 24, 24 + blocks * 16);
      const want = cbc(key, iv, { disablePadding: true }).encrypt(pt);
      assert.equal(toHex(buf.subarray(24, 24 + blocks * 16)), toHex(want), `${keyLen} ${blocks}`);
      c.decryptRange(buf, 8, buf, 24, 24 + blocks * 16);
      assert.equal(toHex(buf.subarray(24, 24 + blocks * 16)), toHex(pt));
    }
    assert.throws(() => c.encryptRange(new Uint8Array(40), 0, new Uint8Array(40), 16, 33));
  }
  for (const hash of ["sha1", "sha256", "sha384", "sha512"] as const) {
    const key = rnd(32);
    const m = lc.createMac(`hmac-${hash}`, key);
    for (const [start, end, tailLen] of [[0, 0, 0], [8, 100, 4], [3, 1403, 0], [16, 17, 4]]) {
      const buf = rnd(1500);
      const tail = rnd(tailLen);
      const out = new Uint8Array(m.outputLength);
      m.computeRange(out, buf, start, end, tail);
      const want = createHmac(hash, key).update(buf.subarray(start, end)).update(tail).digest();
      assert.equal(toHex(out), toHex(want), `${hash} ${start}..${end}+${tailLen}`);
    }
  }
});

Deno.test("libcrypto AES-CBC range calls stay standard CBC across packets (chained contexts)", () => {
  // The range calls keep one context running and fold the IV into the first
  // block: every packet must still be CBC under its own IV, whatever came
  // before on the same context (other packets, whole-buffer calls, other
  // buffers and offsets), and a receiver's context is independent of the sender's.
  const rnd = prng(7);
  for (const keyLen of [16, 32]) {
    const key = rnd(keyLen);
    const tx = lc.createBlockCipher("aes-cbc", key);
    const rx = lc.createBlockCipher("aes-cbc", key);
    const other = new Uint8Array(2048);
    for (let i = 0; i < 200; i++) {
      const blocks = 1 + (i * 7) % 90;
      const off = (i * 13) % 40;
      const buf = i % 3 === 0 ? other : new Uint8Array(off + 16 + blocks * 16 + 8);
      buf.set(rnd(16 + blocks * 16), off);
      const iv = buf.slice(off, off + 16);
      const pt = buf.slice(off + 16, off + 16 + blocks * 16);
      const want = cbc(key, iv, { disablePadding: true }).encrypt(pt);
      tx.encryptRange(buf, off, buf, off + 16, off + 16 + blocks * 16);
      assert.equal(toHex(buf.subarray(off + 16, off + 16 + blocks * 16)), toHex(want), `enc ${i}`);
      if (i % 5 === 4) rx.decryptRange(rnd(16), 0, rnd(32), 0, 32); // a packet for someone else
      rx.decryptRange(buf, off, buf, off + 16, off + 16 + blocks * 16);
      assert.equal(toHex(buf.subarray(off + 16, off + 16 + blocks * 16)), toHex(pt), `dec ${i}`);
      if (i % 17 === 0) {
        // The whole-buffer calls set their own IV on the same contexts.
        const iv2 = rnd(16);
        const d = rnd(48);
        const c = tx.encrypt(iv2, d);
        assert.equal(toHex(c), toHex(cbc(key, iv2, { disablePadding: true }).encrypt(d)));
        assert.equal(toHex(rx.decrypt(iv2, c)), toHex(d));
      }
    }
    tx.free();
    rx.free();
  }
});

Deno.test("libcrypto HMAC takes the low-level hash path and equals node:crypto for any key length", () => {
  // The low-level path (precomputed inner/outer states) self-tests against
  // HMAC_CTX per instance and falls back to it; OpenSSL 3.0 as CI installs it has
  // the functions, so the fast path must be the one in use here.
  const rnd = prng(5);
  for (const hash of ["sha1", "sha256", "sha384", "sha512"] as const) {
    for (const keyLen of [0, 1, 20, 64, 65, 128, 129, 200]) {
      const key = rnd(keyLen);
      const m = lc.createMac(`hmac-${hash}`, key) as ReturnType<typeof lc.createMac> & {
        lowLevel: boolean;
      };
      assert.equal(m.lowLevel, true, `${hash}: low-level path not in use`);
      for (const len of [0, 1, 55, 56, 64, 111, 112, 128, 1500]) {
        const a = rnd(len);
        const b = rnd(len % 7);
        const want = createHmac(hash, key).update(a).update(b).digest();
        assert.equal(toHex(m.compute(a, b)), toHex(want), `${hash} key ${keyLen} len ${len}`);
        const out = new Uint8Array(m.outputLength + 3);
        const buf = new Uint8Array(len + 9);
        buf.set(a, 5);
        m.computeRange(out, buf, 5, 5 + len, b);
        assert.equal(toHex(out.subarray(0, m.outputLength)), toHex(want));
      }
      m.free();
    }
  }
});
