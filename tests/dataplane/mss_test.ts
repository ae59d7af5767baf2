import assert from "node:assert/strict";
import { clampTcpMss, mssForMtu } from "../../lib/dataplane/mss.ts";

const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)));

// Vectors from scapy 2.5.0 (independent implementation, checksums computed by scapy):
//   raw(IP(src="10.1.0.5", dst="10.2.0.7", id=1, flags="DF")/TCP(sport=40000, dport=443,
//     flags="S", seq=1000, window=64240, options=[("MSS", M), ("SAckOK", b""),
//     ("Timestamp", (1, 0)), ("NOP", None), ("WScale", 7)])).hex()   for M = 1460, 1360
const SYN4_1460 = "4500003c00014000400626ad0a0100050a0200079c4001bb000003e800000000" +
  "a002faf0971c0000020405b40402080a000000010000000001030307";
const SYN4_1360 = "4500003c00014000400626ad0a0100050a0200079c4001bb000003e800000000" +
  "a002faf097800000020405500402080a000000010000000001030307";
//   raw(IPv6(src="fd00:1::5", dst="fd00:2::7")/TCP(sport=40000, dport=443, flags="S",
//     seq=1000, window=64240, options=[("NOP", None), ("MSS", M), ("WScale", 7)])).hex()
//   for M = 1440, 1340
const SYN6_1440 = "60000000001c0640fd000001000000000000000000000005fd00000200000000000000" +
  "00000000079c4001bb000003e8000000007002faf050e4000001020405a0030307";
const SYN6_1340 = "60000000001c0640fd000001000000000000000000000005fd00000200000000000000" +
  "00000000079c4001bb000003e8000000007002faf0b4e40000010204053c030307";

Deno.test("clampTcpMss() lowers an IPv4 SYN's MSS with the checksum scapy computes", () => {
  const p = hex(SYN4_1460);
  assert.equal(clampTcpMss(p, mssForMtu(1400, false)), true);
  assert.deepEqual(p, hex(SYN4_1360));
});

Deno.test("clampTcpMss() lowers an IPv6 SYN's MSS (after a NOP) like scapy", () => {
  const p = hex(SYN6_1440);
  assert.equal(clampTcpMss(p, mssForMtu(1400, true)), true);
  assert.deepEqual(p, hex(SYN6_1340));
});

Deno.test("clampTcpMss() leaves small MSS, non-SYN and non-TCP packets alone", () => {
  const small = hex(SYN4_1360);
  assert.equal(clampTcpMss(small, 1360), false);
  assert.deepEqual(small, hex(SYN4_1360));
  const ack = hex(SYN4_1460);
  ack[33] = 0x10; // ACK only
  assert.equal(clampTcpMss(ack, 1000), false);
  const udp = hex(SYN4_1460);
  udp[9] = 17;
  assert.equal(clampTcpMss(udp, 1000), false);
  const truncated = hex(SYN4_1460).subarray(0, 42);
  assert.equal(clampTcpMss(truncated, 1000), false);
});
