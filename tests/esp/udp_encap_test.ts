import assert from "node:assert/strict";
import {
  addNonEspMarker,
  checkUdpEncapsulation,
  classifyUdpEncap,
  NAT_KEEPALIVE,
  stripNonEspMarker,
  UdpEncapError,
} from "../../lib/esp/udp_encap.ts";
import { EspSa, locateEsp } from "../../lib/esp/esp.ts";
import { ip4, makeTransform, udp4 } from "./_packets.ts";

Deno.test("classifyUdpEncap() tells IKE, ESP and keepalives apart (RFC 3948 section 2.2)", () => {
  assert.equal(classifyUdpEncap(NAT_KEEPALIVE), "keepalive");
  assert.equal(classifyUdpEncap(Uint8Array.of(0xfe)), "invalid");
  assert.equal(classifyUdpEncap(new Uint8Array(3)), "invalid");
  assert.equal(classifyUdpEncap(new Uint8Array(4)), "invalid");
  const ike = addNonEspMarker(new Uint8Array(28).fill(7));
  assert.equal(classifyUdpEncap(ike), "ike");
  assert.deepEqual(stripNonEspMarker(ike), new Uint8Array(28).fill(7));
  assert.equal(classifyUdpEncap(Uint8Array.of(0, 0, 1, 0, 0, 0, 0, 1)), "esp");
  assert.equal(classifyUdpEncap(Uint8Array.of(0, 0, 1, 0, 0, 0, 0)), "invalid");
});

Deno.test("AH + UDP encapsulation is refused with a clear error", () => {
  assert.throws(() => checkUdpEncapsulation("ah"), UdpEncapError);
  assert.throws(() => checkUdpEncapsulation("ah"), /AH cannot be UDP-encapsulated/);
  checkUdpEncapsulation("esp");
});

Deno.test("ESP-in-UDP: the UDP payload classifies as ESP, IKE on 4500 is not taken for ESP", () => {
  const sa = new EspSa({
    spi: 0x2000,
    mode: "tunnel",
    transform: makeTransform("aes128gcm16"),
    tunnel: { src: ip4("192.0.2.1"), dst: ip4("192.0.2.2") },
    udpEncap: { srcPort: 4500, dstPort: 4500 },
  });
  const o = sa.encapsulatePacket(udp4("10.0.0.1", "10.0.0.2", new Uint8Array(10)));
  assert.ok(o.ok);
  assert.equal(o.packet[9], 17);
  assert.equal((o.packet[22] << 8) | o.packet[23], 4500);
  assert.equal((o.packet[24] << 8) | o.packet[25], o.packet.length - 20);
  assert.equal((o.packet[26] << 8) | o.packet[27], 0); // IPv4: checksum zero (RFC 3948 2.1)
  assert.equal(classifyUdpEncap(o.packet.subarray(28)), "esp");
  const loc = locateEsp(o.packet);
  assert.equal(loc.error, null);
  assert.equal(loc.spi, 0x2000);
  assert.ok(loc.udp);
  // an IKE packet on 4500 (non-ESP marker) is not ESP
  const ikePkt = udp4("192.0.2.1", "192.0.2.2", addNonEspMarker(new Uint8Array(28)));
  assert.equal(locateEsp(ikePkt).error, "malformed");
});

Deno.test("ESP transport in UDP: inner TCP/UDP checksum is fixed for NAT-rewritten addresses", () => {
  const mk = () =>
    new EspSa({
      spi: 0x2001,
      mode: "transport",
      transform: makeTransform("aes128gcm16"),
      udpEncap: { srcPort: 4500, dstPort: 4500 },
    });
  const tx = mk();
  const rx = mk();
  const inner = udp4("10.0.0.1", "192.0.2.2", new TextEncoder().encode("behind a NAT"));
  const o = tx.encapsulatePacket(inner);
  assert.ok(o.ok);
  // A NAT rewrites the source address (and the outer IPv4 checksum).
  const natted = o.packet.slice();
  natted.set(ip4("198.51.100.7"), 12);
  natted[10] = 0;
  natted[11] = 0;
  fixIpv4(natted);
  const r = rx.decapsulatePacket(natted);
  assert.ok(r.ok);
  // What the receiver gets must be a valid UDP datagram from the NATed address.
  const expect = udp4("198.51.100.7", "192.0.2.2", new TextEncoder().encode("behind a NAT"));
  assert.deepEqual(r.packet, expect);
});

function fixIpv4(p: Uint8Array): void {
  let s = 0;
  for (let i = 0; i < 20; i += 2) s += (p[i] << 8) | p[i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  const c = ~s & 0xffff;
  p[10] = c >> 8;
  p[11] = c & 0xff;
}
