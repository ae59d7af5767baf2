import assert from "node:assert/strict";
import {
  fixTransportChecksum,
  internetChecksum,
  onesComplementSum,
  pseudoHeaderSum,
} from "../../lib/ip/checksum.ts";
import { fromHex, toHex } from "../../lib/wire/bytes.ts";
import { runScapy } from "../helpers/scapy.ts";
import { udp4, udp6 } from "../esp/_packets.ts";

Deno.test("onesComplementSum() matches the RFC 1071 section 3 example", () => {
  // RFC 1071 section 3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2 (checksum 220d).
  const b = fromHex("0001f203f4f5f6f7");
  assert.equal(onesComplementSum(b), 0xddf2);
  assert.equal(internetChecksum(b), 0x220d);
  // Odd length: the last byte is the high half of a word.
  assert.equal(onesComplementSum(fromHex("0001f2")), 0xf201);
});

Deno.test("internetChecksum() gives the well-known IPv4 header checksum b861", () => {
  // 192.168.0.1 -> 192.168.0.199, UDP, total length 0x73 (a common textbook header).
  const h = fromHex("450000730000400040110000c0a80001c0a800c7");
  assert.equal(internetChecksum(h), 0xb861);
  h[10] = 0xb8;
  h[11] = 0x61;
  assert.equal(internetChecksum(h), 0);
});

Deno.test("UDP/TCP checksums over IPv4 and IPv6 agree with scapy", async () => {
  const data = new TextEncoder().encode("checksum me, odd length!");
  const pkts = [
    udp4("10.1.2.3", "10.3.2.1", data),
    udp4("192.0.2.1", "198.51.100.2", data.subarray(1)),
    udp6("2001:db8::1", "2001:db8:ffff::2", data),
    udp6("fe80::1", "ff02::1:2", data.subarray(3)),
  ];
  // A TCP segment over IPv4 whose checksum we compute with fixTransportChecksum.
  // IPv4 (44 bytes) + TCP SYN 1234 -> 80 with 4 data bytes; both checksums zero to start.
  const tcp = fromHex(
    "4500002c000100004006" + "0000" + "c0000201c0000202" +
      "04d20050000000010000000050022000" + "0000" + "0000" + "68692121",
  );
  assert.ok(fixTransportChecksum(tcp.subarray(20), 6, tcp.subarray(12, 16), tcp.subarray(16, 20)));
  tcp.set(fromHex("0000"), 10);
  const c = internetChecksum(tcp.subarray(0, 20));
  tcp[10] = c >> 8;
  tcp[11] = c & 0xff;
  pkts.push(tcp);
  const res = await runScapy(pkts.map((p) => ({ op: "checksums", packet: toHex(p) })));
  res.forEach((r, i) => {
    assert.ok(r.ok, !r.ok ? r.error : "");
    if (r.ok) assert.equal(toHex(pkts[i]), r.packet, `packet ${i}`);
  });
});

Deno.test("fixTransportChecksum() follows new addresses; UDP over IPv4 keeps 'no checksum'", () => {
  const p = udp4("10.0.0.1", "10.0.0.2", new Uint8Array(9).fill(7));
  const seg = p.slice(20);
  const nat = Uint8Array.of(100, 64, 0, 9);
  assert.ok(fixTransportChecksum(seg, 17, nat, p.subarray(16, 20)));
  assert.equal(internetChecksum(seg, pseudoHeaderSum(nat, p.subarray(16, 20), 17, seg.length)), 0);
  seg[6] = 0;
  seg[7] = 0;
  assert.ok(fixTransportChecksum(seg, 17, nat, p.subarray(16, 20)));
  assert.equal((seg[6] << 8) | seg[7], 0);
  assert.equal(fixTransportChecksum(seg.subarray(0, 5), 17, nat, nat), false);
  assert.ok(fixTransportChecksum(seg, 1, nat, nat)); // ICMP: untouched
});
