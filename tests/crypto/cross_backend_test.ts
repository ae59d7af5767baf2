/**
 * Cross-implementation checks: noble, node:crypto and (when the system has
 * it) libcrypto.so.3 through ffi/libcrypto.ts must give identical bytes for
 * every primitive on random keys, nonces and inputs. AES-CMAC is also checked
 * against noble's own independent `cmac`. The elliptic-curve key exchanges
 * (ECP 19/20/21, X25519, X448) give identical public values and g^ir with
 * node:crypto, noble and the default per-step mix.
 */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { cmac as nobleCmac } from "@noble/ciphers/aes.js";
import { toHex } from "../../lib/wire/bytes.ts";
import {
  backendSupports,
  createAead,
  createBlockCipher,
  createMac,
  createPrf,
  type MacAlgorithm,
  type SoftwareBackend,
} from "../../lib/crypto/primitives.ts";
import { createAesXcbcMac } from "../../lib/crypto/aes_xcbc.ts";
import { createAesCmac } from "../../lib/crypto/aes_cmac.ts";
import type { Aead, BlockCipher, Mac } from "../../lib/crypto/types.ts";
import { loadLibcrypto } from "../../ffi/libcrypto.ts";
import {
  createKeyExchange,
  createKeyExchangeFromPrivate,
  generatePrivateKey,
} from "../../lib/crypto/key_exchange.ts";
import { CryptoError } from "../../lib/crypto/types.ts";

const BACKENDS: SoftwareBackend[] = ["noble", "node"];
const lc = loadLibcrypto();
const rnd = (n: number) => crypto.getRandomValues(new Uint8Array(n));
const LENGTHS = [0, 1, 15, 16, 17, 31, 64, 100, 1400];

function aeadImpls(alg: "aes-gcm" | "chacha20-poly1305", key: Uint8Array, tag: number): Aead[] {
  const out: Aead[] = [];
  for (const b of BACKENDS) {
    if (backendSupports(b, alg, key.length)) out.push(createAead(alg, key, tag, b));
  }
  if (lc) out.push(lc.createAead(alg, key, tag));
  return out;
}

Deno.test("AEADs: noble, node and libcrypto agree on random inputs", () => {
  const cases: ["aes-gcm" | "chacha20-poly1305", number, number][] = [
    ["aes-gcm", 16, 8],
    ["aes-gcm", 16, 12],
    ["aes-gcm", 16, 16],
    ["aes-gcm", 24, 16],
    ["aes-gcm", 32, 16],
    ["aes-gcm", 32, 8],
    ["chacha20-poly1305", 32, 16],
  ];
  for (const [alg, klen, tag] of cases) {
    for (let round = 0; round < 4; round++) {
      const impls = aeadImpls(alg, rnd(klen), tag);
      assert.ok(impls.length >= (klen === 24 ? 1 : 2));
      for (const n of LENGTHS) {
        const nonce = rnd(12), pt = rnd(n), aad = rnd(round * 4);
        const ref = impls[0].seal(nonce, pt, aad);
        for (const a of impls) {
          assert.equal(toHex(a.seal(nonce, pt, aad)), toHex(ref), `${alg} ${a.backend} n=${n}`);
        }
        for (const a of impls) {
          assert.equal(toHex(a.open(nonce, ref, aad)!), toHex(pt), `${a.backend} open`);
          const bad = ref.slice();
          bad[Math.floor(Math.random() * bad.length)] ^= 1 << (round % 8);
          assert.equal(a.open(nonce, bad, aad), null, `${a.backend} tamper`);
        }
      }
    }
  }
});

Deno.test("AES-CBC: noble, node and libcrypto agree on random inputs", () => {
  for (const klen of [16, 24, 32]) {
    const key = rnd(klen);
    const impls: BlockCipher[] = BACKENDS.filter((b) => backendSupports(b, "aes-cbc", klen))
      .map((b) => createBlockCipher("aes-cbc", key, b));
    if (lc) impls.push(lc.createBlockCipher("aes-cbc", key));
    for (const n of [0, 16, 32, 1392]) {
      const iv = rnd(16), pt = rnd(n);
      const ref = impls[0].encrypt(iv, pt);
      for (const c of impls) {
        assert.equal(toHex(c.encrypt(iv, pt)), toHex(ref), `${c.backend} ${klen}`);
        assert.equal(toHex(c.decrypt(iv, ref)), toHex(pt));
      }
    }
  }
});

Deno.test("AES-CTR: noble, node and libcrypto agree on random inputs and counter blocks", () => {
  for (const klen of [16, 24, 32]) {
    const key = rnd(klen);
    const impls: BlockCipher[] = BACKENDS.filter((b) => backendSupports(b, "aes-ctr", klen))
      .map((b) => createBlockCipher("aes-ctr", key, b));
    if (lc) impls.push(lc.createBlockCipher("aes-ctr", key));
    assert.equal(impls.length, lc ? 3 : 2);
    for (const n of LENGTHS) {
      // RFC 3686 counter block: random nonce || IV, block counter 1.
      const cb = rnd(16);
      cb.set([0, 0, 0, 1], 12);
      const pt = rnd(n);
      const ref = impls[0].encrypt(cb, pt);
      for (const c of impls) {
        assert.equal(toHex(c.encrypt(cb, pt)), toHex(ref), `${c.backend} ${klen} ${n}`);
        assert.equal(toHex(c.decrypt(cb, ref)), toHex(pt));
      }
    }
  }
});

Deno.test("MACs and PRFs: noble, node and libcrypto agree on random inputs", () => {
  const algs: [MacAlgorithm, number][] = [
    ["hmac-sha1", 20],
    ["hmac-sha256", 32],
    ["hmac-sha384", 48],
    ["hmac-sha512", 64],
    ["aes-xcbc", 16],
    ["aes-cmac", 16],
  ];
  for (const [alg, klen] of algs) {
    const key = rnd(klen);
    const impls: Mac[] = BACKENDS.map((b) => createMac(alg, key, b));
    if (lc) {
      const lcCbc = (k: Uint8Array) => lc.createBlockCipher("aes-cbc", k);
      if (alg === "aes-xcbc") impls.push(createAesXcbcMac(key, lcCbc));
      else if (alg === "aes-cmac") impls.push(createAesCmac(key, lcCbc));
      else impls.push(lc.createMac(alg, key));
    }
    for (const n of LENGTHS) {
      const data = rnd(n);
      const ref = impls[0].compute(data);
      assert.equal(ref.length, impls[0].outputLength);
      for (const m of impls) {
        assert.equal(toHex(m.compute(data)), toHex(ref), `${alg} ${m.backend}`);
      }
      if (alg === "aes-cmac") assert.equal(toHex(nobleCmac(data, key)), toHex(ref));
    }
  }
  for (const id of [2, 4, 5, 6, 7, 8]) {
    // Keys longer than the hash block (64 or 128 bytes) are hashed first (RFC 2104 section 2).
    for (const klen of [1, 10, 16, 17, 32, 64, 65, 128, 129, 200]) {
      const key = rnd(klen), data = rnd(klen * 3);
      assert.equal(
        toHex(createPrf(id, "noble").compute(key, data)),
        toHex(createPrf(id, "node").compute(key, data)),
        `prf ${id} key ${klen}`,
      );
    }
  }
});

Deno.test("ECDH: node, noble and the default agree on random keys and odd peer values", () => {
  const modes = [{ backend: "node" as const }, { backend: "noble" as const }, {}];
  for (const g of [19, 20, 21, 31, 32]) {
    for (let round = 0; round < 6; round++) {
      const priv = generatePrivateKey(g, rnd);
      const peer = createKeyExchange(g, rnd, { backend: round % 2 ? "node" : "noble" });
      const sides = modes.map((m) => createKeyExchangeFromPrivate(g, priv, m));
      const refSecret = toHex(sides[0].computeSharedSecret(peer.publicKey));
      assert.equal(toHex(peer.computeSharedSecret(sides[0].publicKey)), refSecret, `group ${g}`);
      for (const [k, ke] of sides.entries()) {
        const what = `group ${g} ${modes[k].backend ?? "default"}`;
        assert.equal(toHex(ke.publicKey), toHex(sides[0].publicKey), `${what} public`);
        assert.equal(toHex(ke.computeSharedSecret(peer.publicKey)), refSecret, `${what} g^ir`);
      }
    }
  }
  // X25519/X448 peer values are any bytes (RFC 7748 section 5: the top bit of
  // a Curve25519 u is masked, u >= p is reduced): both backends must agree,
  // or both refuse with CryptoError.
  for (const [g, len] of [[31, 32], [32, 56]] as const) {
    const priv = generatePrivateKey(g, rnd);
    const [node, noble] = [
      createKeyExchangeFromPrivate(g, priv, { backend: "node" }),
      createKeyExchangeFromPrivate(g, priv, { backend: "noble" }),
    ];
    const odd = [new Uint8Array(len).fill(0xff), rnd(len), rnd(len)];
    odd[1][len - 1] |= 0x80;
    for (const u of odd) {
      const r = [node, noble].map((ke) => {
        try {
          return toHex(ke.computeSharedSecret(u));
        } catch (e) {
          assert.ok(e instanceof CryptoError);
          return "refused";
        }
      });
      assert.equal(r[0], r[1], `group ${g} u=${toHex(u)}`);
    }
  }
});

Deno.test("node HMAC (keyed createHash copies) equals createHmac, repeated and in parts", () => {
  for (const hash of ["sha1", "sha256", "sha384", "sha512"] as const) {
    for (const klen of [0, 1, 20, 63, 64, 65, 127, 128, 129, 300]) {
      const key = rnd(klen);
      const mac = createMac(`hmac-${hash}`, key, "node");
      for (const n of [0, 1, 55, 56, 64, 111, 112, 128, 1400]) {
        const data = rnd(n);
        const want = toHex(createHmac(hash, key).update(data).digest());
        assert.equal(toHex(mac.compute(data)), want, `${hash} key ${klen} n ${n}`);
        const cut = n >> 1;
        assert.equal(toHex(mac.compute(data.subarray(0, cut), data.subarray(cut))), want);
      }
    }
  }
});

Deno.test("Camellia-CBC and -CTR: the portable code and libcrypto agree, range calls too", () => {
  if (!lc) return;
  for (const klen of [16, 24, 32]) {
    const key = rnd(klen);
    const soft = createBlockCipher("camellia-cbc", key);
    const ffi = lc.createBlockCipher("camellia-cbc", key);
    const softCtr = createBlockCipher("camellia-ctr", key);
    const ffiCtr = lc.createBlockCipher("camellia-ctr", key);
    for (const n of [0, 16, 32, 1392]) {
      const iv = rnd(16), pt = rnd(n);
      const ref = soft.encrypt(iv, pt);
      assert.equal(toHex(ffi.encrypt(iv, pt)), toHex(ref), `cbc ${klen} ${n}`);
      assert.equal(toHex(ffi.decrypt(iv, ref)), toHex(pt));
      // ESP's layout: header, IV, data in one buffer, processed in place.
      const buf = new Uint8Array(8 + 16 + n);
      buf.set(iv, 8);
      buf.set(pt, 24);
      ffi.encryptRange(buf, 8, buf, 24, 24 + n);
      assert.equal(toHex(buf.subarray(24)), toHex(ref), `cbc range ${klen} ${n}`);
      ffi.decryptRange(buf, 8, buf, 24, 24 + n);
      assert.equal(toHex(buf.subarray(24)), toHex(pt));
    }
    for (const n of LENGTHS) {
      const cb = rnd(16);
      cb.set([0, 0, 0, 1], 12);
      const pt = rnd(n);
      const ref = softCtr.encrypt(cb, pt);
      assert.equal(toHex(ffiCtr.encrypt(cb, pt)), toHex(ref), `ctr ${klen} ${n}`);
      assert.equal(toHex(ffiCtr.decrypt(cb, ref)), toHex(pt));
    }
  }
});
