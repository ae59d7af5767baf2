import assert from "node:assert/strict";
import {
  ipv4ChecksumOk,
  ipv4HeaderLength,
  ipv4IsFragment,
  writeIpv4Header,
} from "../../lib/ip/ipv4.ts";
import { toHex } from "../../lib/wire/bytes.ts";

Deno.test("writeIpv4Header() produces the textbook header with checksum b861", () => {
  const out = new Uint8Array(0x73);
  writeIpv4Header(out, 0, {
    tos: 0,
    totalLength: 0x73,
    id: 0,
    df: true,
    ttl: 64,
    protocol: 17,
    src: Uint8Array.of(192, 168, 0, 1),
    dst: Uint8Array.of(192, 168, 0, 199),
  });
  assert.equal(
    toHex(out.subarray(0, 20)),
    "450000730000400040 11b861c0a80001c0a800c7".replace(" ", ""),
  );
  assert.ok(ipv4ChecksumOk(out));
});

Deno.test("ipv4HeaderLength() and ipv4IsFragment() validate what ESP/AH rely on", () => {
  const p = new Uint8Array(40);
  writeIpv4Header(p, 0, {
    tos: 0,
    totalLength: 40,
    id: 1,
    df: false,
    ttl: 1,
    protocol: 6,
    src: new Uint8Array(4),
    dst: new Uint8Array(4),
  });
  assert.equal(ipv4HeaderLength(p), 20);
  assert.equal(ipv4HeaderLength(p.subarray(0, 39)), -1); // total length beyond the buffer
  p[0] = 0x44;
  assert.equal(ipv4HeaderLength(p), -1); // IHL < 5
  p[0] = 0x65;
  assert.equal(ipv4HeaderLength(p), -1); // not version 4
  p[0] = 0x45;
  assert.equal(ipv4IsFragment(p), false);
  p[6] = 0x20; // MF
  assert.equal(ipv4IsFragment(p), true);
  p[6] = 0;
  p[7] = 1; // offset 8
  assert.equal(ipv4IsFragment(p), true);
});
