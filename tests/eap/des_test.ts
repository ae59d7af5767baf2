import assert from "node:assert/strict";
import { desEncrypt56, desEncryptBlock, desKeyFrom56 } from "../../lib/crypto/des.ts";
import { fromHex, toHex } from "../../lib/wire/bytes.ts";
import { opensslDes } from "./_oracle.ts";

// Sources: the classic worked example (J. Orlin Grabbe, "The DES Algorithm
// Illustrated"), FIPS 81 appendix B ("Now is t" under 0123456789ABCDEF), and
// NBS SP 500-20 variable-plaintext / variable-key known-answer entries.
const VECTORS = [
  ["133457799BBCDFF1", "0123456789ABCDEF", "85E813540F0AB405"],
  ["0123456789ABCDEF", "4E6F772069732074", "3FA40E8A984D4815"],
  ["0101010101010101", "8000000000000000", "95F8A5E5DD31D900"],
  ["0101010101010101", "0000000000000001", "166B40B44ABA4BD6"],
  ["8001010101010101", "0000000000000000", "95A8D72813DAA94D"],
];

Deno.test("desEncryptBlock() matches FIPS/NBS known answers", () => {
  for (const [k, p, c] of VECTORS) {
    assert.equal(toHex(desEncryptBlock(fromHex(k), fromHex(p))), c.toLowerCase(), `${k}/${p}`);
  }
});

Deno.test("desEncryptBlock() ignores the parity bits", () => {
  const a = desEncryptBlock(fromHex("133457799BBCDFF1"), fromHex("0123456789ABCDEF"));
  const b = desEncryptBlock(fromHex("123456789ABCDEF0"), fromHex("0123456789ABCDEF"));
  assert.equal(toHex(a), toHex(b));
});

Deno.test("desEncryptBlock() matches openssl enc -des-ecb on random keys and blocks", async () => {
  for (let i = 0; i < 8; i++) {
    const key = crypto.getRandomValues(new Uint8Array(8));
    const block = crypto.getRandomValues(new Uint8Array(8));
    assert.equal(toHex(desEncryptBlock(key, block)), await opensslDes(key, block));
  }
});

Deno.test("desKeyFrom56() spreads 7 bits per byte and sets odd parity", () => {
  assert.equal(toHex(desKeyFrom56(fromHex("00000000000000"))), "0101010101010101");
  assert.equal(toHex(desKeyFrom56(fromHex("ffffffffffffff"))), "fefefefefefefefe");
  // 0x80 then zeros: the first key byte is 1000000 + parity 0 (one bit set).
  assert.equal(toHex(desKeyFrom56(fromHex("80000000000000"))), "8001010101010101");
  // Bit 56 (last) lands in the top 7 bits of byte 8: 0000001 -> 0x02 | parity 0.
  assert.equal(toHex(desKeyFrom56(fromHex("00000000000001"))), "0101010101010102");
});

Deno.test("desEncrypt56() and desEncryptBlock() reject wrong sizes", () => {
  assert.throws(() => desEncryptBlock(new Uint8Array(7), new Uint8Array(8)), RangeError);
  assert.throws(() => desEncryptBlock(new Uint8Array(8), new Uint8Array(9)), RangeError);
  assert.throws(() => desEncrypt56(new Uint8Array(8), new Uint8Array(8)), RangeError);
});
