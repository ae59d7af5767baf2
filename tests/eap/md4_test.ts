import assert from "node:assert/strict";
import { md4 } from "../../lib/crypto/md4.ts";
import { toHex } from "../../lib/wire/bytes.ts";
import { opensslMd4 } from "./_oracle.ts";

const ascii = (s: string) => new TextEncoder().encode(s);

// Source: RFC 1320 appendix A.5 (test suite).
const RFC1320 = [
  ["", "31d6cfe0d16ae931b73c59d7e0c089c0"],
  ["a", "bde52cb31de33e46245e05fbdbd6fb24"],
  ["abc", "a448017aaf21d8525fc10ae87aa6729d"],
  ["message digest", "d9130a8164549fe818874806e1c7014b"],
  ["abcdefghijklmnopqrstuvwxyz", "d79e1c308aa5bbcdeea8ed63df412da9"],
  [
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
    "043f8582f241db351ce627e153e7f0e4",
  ],
  [
    "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
    "e33b4ddc9c38f2199c3e7b164fcc0536",
  ],
];

Deno.test("md4() matches RFC 1320 appendix A.5", () => {
  for (const [msg, want] of RFC1320) assert.equal(toHex(md4(ascii(msg))), want, msg);
});

Deno.test("md4() matches openssl dgst -md4 on random inputs around block edges", async () => {
  // Lengths around the 55/56/64-byte padding boundaries plus a multi-block one.
  for (const n of [1, 54, 55, 56, 57, 63, 64, 65, 119, 120, 1000]) {
    const data = crypto.getRandomValues(new Uint8Array(n));
    assert.equal(toHex(md4(data)), await opensslMd4(data), `length ${n}`);
  }
});
