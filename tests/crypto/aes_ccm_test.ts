/**
 * AES-CCM (lib/crypto/aes_ccm.ts over the noble and node:crypto building
 * blocks, and ffi/libcrypto.ts over EVP_aes_*_ccm):
 *
 * - known answers from NIST SP 800-38C Appendix C (C.1-C.4: nonces of 7, 8,
 *   12, 13 bytes, tags of 4, 6, 8, 14 bytes, C.4 with 65536 bytes of AAD and
 *   so the 0xff 0xfe length encoding) and RFC 3610 section 8 packet vectors
 *   (13-byte nonce, 8 and 10-byte tags, two keys);
 * - the IPsec case (11-byte nonce, L = 4, 8/12/16-byte ICV, AES-128/192/256)
 *   cross-checked on random inputs against python3 `cryptography`'s AESCCM
 *   (OpenSSL underneath, an implementation independent of ours), every
 *   backend including libcrypto's in-place entry points;
 * - a wrong tag, nonce or AAD gives null/false, and the AEAD keeps working.
 */
import assert from "node:assert/strict";
import { fromHex, toHex } from "../../lib/wire/bytes.ts";
import {
  backendSupports,
  createAead,
  createAesCcm,
  type SoftwareBackend,
} from "../../lib/crypto/primitives.ts";
import { CryptoError } from "../../lib/crypto/types.ts";
import type { Aead } from "../../lib/crypto/types.ts";
import { loadLibcrypto } from "../../ffi/libcrypto.ts";
import { runPythonJson } from "./_python.ts";

const BACKENDS: SoftwareBackend[] = ["noble", "node"];
const lc = loadLibcrypto();
const hx = (s: string) => fromHex(s.replace(/\s+/g, "").toLowerCase());
const seq = (from: number, n: number) =>
  Uint8Array.from({ length: n }, (_, i) => (from + i) & 0xff);

interface Vector {
  name: string;
  key: string;
  nonce: string;
  aad: Uint8Array;
  pt: Uint8Array;
  /** Ciphertext || tag. */
  sealed: string;
  tag: number;
}

const NIST_KEY = "404142434445464748494a4b4c4d4e4f";
const RFC_KEY_A = "C0 C1 C2 C3 C4 C5 C6 C7 C8 C9 CA CB CC CD CE CF";
const RFC_KEY_B = "D7 82 8D 13 B2 B0 BD C3 25 A7 62 36 DF 93 CC 6B";

/** RFC 3610 section 8 gives the whole packet: `hdr` cleartext octets (the AAD), then the payload. */
function rfc3610(
  name: string,
  key: string,
  nonce: string,
  hdr: number,
  packet: string,
  output: string,
  tag: number,
): Vector {
  const p = hx(packet), o = hx(output);
  return {
    name,
    key,
    nonce,
    aad: p.subarray(0, hdr),
    pt: p.subarray(hdr),
    sealed: toHex(o.subarray(hdr)),
    tag,
  };
}

const VECTORS: Vector[] = [
  // NIST SP 800-38C Appendix C.
  {
    name: "SP 800-38C C.1",
    key: NIST_KEY,
    nonce: "10111213141516",
    aad: seq(0, 8),
    pt: seq(0x20, 4),
    sealed: "7162015b4dac255d",
    tag: 4,
  },
  {
    name: "SP 800-38C C.2",
    key: NIST_KEY,
    nonce: "1011121314151617",
    aad: seq(0, 16),
    pt: seq(0x20, 16),
    sealed: "d2a1f0e051ea5f62081a7792073d593d1fc64fbfaccd",
    tag: 6,
  },
  {
    name: "SP 800-38C C.3",
    key: NIST_KEY,
    nonce: "101112131415161718191a1b",
    aad: seq(0, 20),
    pt: seq(0x20, 24),
    sealed: "e3b201a9f5b71a7a9b1ceaeccd97e70b6176aad9a4428aa5484392fbc1b09951",
    tag: 8,
  },
  {
    name: "SP 800-38C C.4 (65536-byte AAD)",
    key: NIST_KEY,
    nonce: "101112131415161718191a1b1c",
    aad: seq(0, 65536),
    pt: seq(0x20, 32),
    sealed: "69915dad1e84c6376a68c2967e4dab615ae0fd1faec44cc484828529463ccf72" +
      "b4ac6bec93e8598e7f0dadbcea5b",
    tag: 14,
  },
  // RFC 3610 section 8.
  rfc3610(
    "RFC 3610 packet vector #1",
    RFC_KEY_A,
    "00 00 00 03 02 01 00 A0 A1 A2 A3 A4 A5",
    8,
    "00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 10 11 12 13 14 15 16 17 18 19 1A 1B 1C 1D 1E",
    "00 01 02 03 04 05 06 07 58 8C 97 9A 61 C6 63 D2 F0 66 D0 C2 C0 F9 89 80 6D 5F 6B 61 DA C3 84" +
      " 17 E8 D1 2C FD F9 26 E0",
    8,
  ),
  rfc3610(
    "RFC 3610 packet vector #2",
    RFC_KEY_A,
    "00 00 00 04 03 02 01 A0 A1 A2 A3 A4 A5",
    8,
    "00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 10 11 12 13 14 15 16 17 18 19 1A 1B 1C 1D 1E 1F",
    "00 01 02 03 04 05 06 07 72 C9 1A 36 E1 35 F8 CF 29 1C A8 94 08 5C 87 E3 CC 15 C4 39 C9 E4 3A 3B" +
      " A0 91 D5 6E 10 40 09 16",
    8,
  ),
  rfc3610(
    "RFC 3610 packet vector #9",
    RFC_KEY_A,
    "00 00 00 0B 0A 09 08 A0 A1 A2 A3 A4 A5",
    8,
    "00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 10 11 12 13 14 15 16 17 18 19 1A 1B 1C 1D 1E 1F 20",
    "00 01 02 03 04 05 06 07 82 53 1A 60 CC 24 94 5A 4B 82 79 18 1A B5 C8 4D F2 1C E7 F9 B7 3F 42 E1" +
      " 97 EA 9C 07 E5 6B 5E B1 7E 5F 4E",
    10,
  ),
  rfc3610(
    "RFC 3610 packet vector #13",
    RFC_KEY_B,
    "00 41 2B 4E A9 CD BE 3C 96 96 76 6C FA",
    8,
    "0B E1 A8 8B AC E0 18 B1 08 E8 CF 97 D8 20 EA 25 84 60 E9 6A D9 CF 52 89 05 4D 89 5C EA C4 7C",
    "0B E1 A8 8B AC E0 18 B1 4C B9 7F 86 A2 A4 68 9A 87 79 47 AB 80 91 EF 53 86 A6 FF BD D0 80 F8" +
      " E7 8C F7 CB 0C DD D7 B3",
    8,
  ),
  rfc3610(
    "RFC 3610 packet vector #19",
    RFC_KEY_B,
    "00 42 FF F8 F1 95 1C 3C 96 96 76 6C FA",
    8,
    "D8 5B C7 E6 9F 94 4F B8 8A 19 B9 50 BC F7 1A 01 8E 5E 67 01 C9 17 87 65 98 09 D6 7D BE DD 18",
    "D8 5B C7 E6 9F 94 4F B8 BC 21 8D AA 94 74 27 B6 DB 38 6A 99 AC 1A EF 23 AD E0 B5 29 39 CB 6A 63" +
      " 7C F9 BE C2 40 88 97 C6 BA",
    10,
  ),
];

for (const backend of BACKENDS) {
  Deno.test(`createAesCcm(${backend}): NIST SP 800-38C and RFC 3610 known answers`, () => {
    for (const v of VECTORS) {
      const key = hx(v.key), nonce = hx(v.nonce);
      const ccm = createAesCcm(key, v.tag, nonce.length, backend);
      assert.equal(ccm.backend, backend);
      const sealed = ccm.seal(nonce, v.pt, v.aad);
      assert.equal(toHex(sealed), v.sealed, v.name);
      assert.equal(toHex(ccm.open(nonce, sealed, v.aad)!), toHex(v.pt), `${v.name} open`);
      for (const i of [0, sealed.length - 1]) {
        const bad = sealed.slice();
        bad[i] ^= 0x80;
        assert.equal(ccm.open(nonce, bad, v.aad), null, `${v.name} flipped byte ${i}`);
      }
      const badAad = v.aad.slice();
      badAad[0] ^= 1;
      assert.equal(ccm.open(nonce, sealed, badAad), null, `${v.name} AAD`);
      // Still working after the failures.
      assert.equal(toHex(ccm.open(nonce, sealed, v.aad)!), toHex(v.pt));
    }
  });
}

Deno.test("createAesCcm(): parameter checks", () => {
  const key = new Uint8Array(16);
  assert.throws(() => createAesCcm(key, 16, 6), CryptoError);
  assert.throws(() => createAesCcm(key, 16, 14), CryptoError);
  assert.throws(() => createAesCcm(key, 5, 11), CryptoError);
  assert.throws(() => createAesCcm(key, 18, 11), CryptoError);
  assert.throws(() => createAesCcm(new Uint8Array(20), 16, 11), CryptoError);
  assert.throws(() => createAead("aes-ccm", key, 10), CryptoError);
  const a = createAead("aes-ccm", key, 16);
  assert.equal(a.nonceLength, 11);
  assert.throws(
    () => a.seal(new Uint8Array(12), new Uint8Array(1), new Uint8Array(0)),
    CryptoError,
  );
  // 13-byte nonce: L = 2, messages up to 65535 bytes.
  const l2 = createAesCcm(key, 8, 13);
  assert.throws(() => l2.seal(new Uint8Array(13), new Uint8Array(65536), new Uint8Array(0)));
  assert.equal(l2.seal(new Uint8Array(13), new Uint8Array(65535), new Uint8Array(0)).length, 65543);
});

/** Every implementation of the IPsec AES-CCM (11-byte nonce) for a key and tag length. */
function ipsecImpls(key: Uint8Array, tag: number): Aead[] {
  const out: Aead[] = [];
  for (const b of BACKENDS) {
    if (backendSupports(b, "aes-ccm", key.length)) out.push(createAead("aes-ccm", key, tag, b));
  }
  if (lc) out.push(lc.createAead("aes-ccm", key, tag));
  return out;
}

const PY_CCM = `
import json, sys
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
out = []
for c in json.load(sys.stdin):
    a = AESCCM(bytes.fromhex(c["key"]), tag_length=c["tag"])
    out.append(a.encrypt(bytes.fromhex(c["nonce"]), bytes.fromhex(c["pt"]), bytes.fromhex(c["aad"])).hex())
print(json.dumps(out))
`;

Deno.test("AES-CCM with an 11-byte nonce: every backend matches python3 cryptography", async () => {
  const rnd = (n: number) => crypto.getRandomValues(new Uint8Array(n));
  interface Case {
    key: string;
    tag: number;
    nonce: string;
    pt: string;
    aad: string;
  }
  const cases: Case[] = [];
  for (const klen of [16, 24, 32]) {
    for (const tag of [8, 12, 16]) {
      for (const [n, alen] of [[0, 8], [1, 12], [15, 8], [16, 0], [17, 12], [100, 40], [1400, 8]]) {
        cases.push({
          key: toHex(rnd(klen)),
          tag,
          nonce: toHex(rnd(11)),
          pt: toHex(rnd(n)),
          aad: toHex(rnd(alen)),
        });
      }
    }
  }
  const expected = await runPythonJson(PY_CCM, cases) as string[];
  let checked = 0;
  cases.forEach((c, i) => {
    const key = fromHex(c.key), nonce = fromHex(c.nonce), pt = fromHex(c.pt), aad = fromHex(c.aad);
    const impls = ipsecImpls(key, c.tag);
    assert.ok(impls.length >= (key.length === 24 ? 1 : 2) + (lc ? 1 : 0));
    for (const a of impls) {
      const what = `${a.backend} key=${key.length} tag=${c.tag} n=${pt.length} aad=${aad.length}`;
      assert.equal(toHex(a.seal(nonce, pt, aad)), expected[i], what);
      const sealed = fromHex(expected[i]);
      assert.equal(toHex(a.open(nonce, sealed, aad)!), c.pt, `${what} open`);
      const bad = sealed.slice();
      bad[i % bad.length] ^= 0x04;
      assert.equal(a.open(nonce, bad, aad), null, `${what} tamper`);
      const badNonce = nonce.slice();
      badNonce[10] ^= 1;
      assert.equal(a.open(badNonce, sealed, aad), null, `${what} nonce`);
      assert.equal(toHex(a.open(nonce, sealed, aad)!), c.pt, `${what} after failures`);
      checked++;
    }
  });
  assert.ok(checked >= cases.length * 2);
});

Deno.test(
  { name: "libcrypto AES-CCM: in-place entry points match python3 cryptography", ignore: !lc },
  async () => {
    const rnd = (n: number) => crypto.getRandomValues(new Uint8Array(n));
    const cases = [16, 24, 32].flatMap((klen) =>
      [8, 12, 16].map((tag) => ({
        key: toHex(rnd(klen)),
        tag,
        nonce: toHex(rnd(11)),
        pt: toHex(rnd(64 + klen + tag)),
        aad: toHex(rnd(tag === 12 ? 12 : 8)),
      }))
    );
    const expected = await runPythonJson(PY_CCM, cases) as string[];
    cases.forEach((c, i) => {
      const a = lc!.createAead("aes-ccm", fromHex(c.key), c.tag);
      assert.equal(a.sequence, "init");
      const nonce = fromHex(c.nonce), pt = fromHex(c.pt), aad = fromHex(c.aad);
      // A packet buffer: 24 bytes of header, the plaintext, room for the tag.
      for (let round = 0; round < 3; round++) {
        const buf = new Uint8Array(24 + pt.length + c.tag + 4).fill(0xee);
        buf.set(pt, 24);
        a.sealInPlace(nonce, aad, buf, 24, 24 + pt.length);
        assert.equal(toHex(buf.subarray(24, 24 + pt.length + c.tag)), expected[i], `seal ${i}`);
        assert.equal(buf[23], 0xee);
        assert.equal(buf[24 + pt.length + c.tag], 0xee);
        const copy = buf.slice();
        assert.ok(a.openInPlace(nonce, aad, buf, 24, 24 + pt.length + c.tag), `open ${i}`);
        assert.equal(toHex(buf.subarray(24, 24 + pt.length)), c.pt);
        copy[24 + round] ^= 0x10;
        assert.equal(a.openInPlace(nonce, aad, copy, 24, 24 + pt.length + c.tag), false);
        // openTo/sealTo aliasing the input.
        const whole = new Uint8Array(pt.length + c.tag);
        whole.set(pt);
        a.sealTo(nonce, whole.subarray(0, pt.length), aad, whole);
        assert.equal(toHex(whole), expected[i]);
        assert.ok(a.openTo(nonce, whole, aad, whole));
        assert.equal(toHex(whole.subarray(0, pt.length)), c.pt);
      }
      // An empty message has a tag too (RFC 4309 never sends one, but CCM defines it).
      const empty = a.seal(nonce, new Uint8Array(0), aad);
      assert.equal(empty.length, c.tag);
      assert.equal(a.open(nonce, empty, aad)?.length, 0);
      assert.equal(
        toHex(empty),
        toHex(
          createAead("aes-ccm", fromHex(c.key), c.tag, "noble").seal(nonce, new Uint8Array(0), aad),
        ),
      );
      a.free();
    });
  },
);
