import assert from "node:assert/strict";
import { pingAndCapture, withTunnel } from "./_wire.ts";

// IPv6 inside IPv6: the kernel strips the outer IPv6 header on raw sockets,
// so the data plane rebuilds it before decryption.
Deno.test("dataplane: ESP tunnel IPv6 in IPv6, ping both ways, only ESP on the wire", async () => {
  await withTunnel({ outer: 6, inner: 6 }, async (t) => {
    const seen = await pingAndCapture(t);
    for (const p of seen) {
      assert.equal(p.proto, 50, `clear packet on the wire: ${JSON.stringify(p)}`);
      assert.equal(p.espSpi, p.src === t.outerA ? "0x00001001" : "0x00002001");
    }
  });
});

// IPv4 inside IPv6 with ESP in UDP over IPv6 (checksummed UDP, RFC 3948).
Deno.test("dataplane: ESP-in-UDP IPv4 in IPv6, ping both ways", async () => {
  await withTunnel({ outer: 6, inner: 4, encapPort: 4500 }, async (t) => {
    const seen = await pingAndCapture(t);
    for (const p of seen) {
      assert.equal(p.proto, 17, `not UDP on the wire: ${JSON.stringify(p)}`);
      assert.equal(p.icmpType, "");
    }
  });
});

// AH over IPv6: the ICV covers the outer IPv6 header, which the kernel strips
// on raw sockets; the data plane rebuilds it (mutable fields are zero in the ICV).
Deno.test("dataplane: AH tunnel IPv6 in IPv6, ping both ways, AH on the wire", async () => {
  await withTunnel({ outer: 6, inner: 6, protocol: "ah" }, async (t) => {
    const seen = await pingAndCapture(t);
    for (const p of seen) {
      assert.equal(p.proto, 51, `not AH on the wire: ${JSON.stringify(p)}`);
      assert.match(p.ahSpi, /^0x0000[12]001$/, JSON.stringify(p));
    }
  });
});

// Transport mode between the hosts' IPv6 addresses: the outer header the
// kernel strips on receive is rebuilt, then the transport payload goes back
// behind it.
Deno.test("dataplane: ESP transport mode over IPv6, only ESP on the wire", async () => {
  await withTunnel({ mode: "transport", outer: 6 }, async (t) => {
    for (const p of await pingAndCapture(t)) {
      assert.equal(p.proto, 50, `clear packet on the wire: ${JSON.stringify(p)}`);
      assert.equal(p.icmpType, "");
    }
  });
});
