/**
 * parseListSas() on real `swanctl --list-sas` output (strongSwan 5.9.8,
 * captured from the interop bench in this directory), so the interop
 * assertions read charon's view correctly.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parseListSas } from "../helpers/strongswan.ts";

// swanctl --list-sas, charon as responder (`_r*`), AES-CBC with HMAC, PFS group after a rekey.
const RESPONDER = `deno: #1, ESTABLISHED, IKEv2, 8bb486fa911f4f49_i e0e66db5027d6da1_r*
  local  'moon.example.org' @ 10.99.0.1[4500]
  remote 'sun.example.org' @ 10.99.0.2[4500]
  AES_CBC-128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048
  established 0s ago, rekeying in 13241s
  deno: #1, reqid 1, INSTALLED, TUNNEL-in-UDP, ESP:AES_CBC-256/HMAC_SHA2_256_128
    installed 0s ago, rekeying in 3416s, expires in 3960s
    in  88ae5fa5,      0 bytes,     0 packets
    out f3f77e1f,      0 bytes,     0 packets
    local  10.1.0.0/16
    remote 10.2.0.0/16
`;

// charon as initiator (`_i*`), with traffic counters.
const INITIATOR = `gw: #1, ESTABLISHED, IKEv2, d6fa34b62b504962_i* a6d9db827944c264_r
  local  'moon.example.org' @ 10.99.0.1[4500]
  remote 'sun.example.org' @ 10.99.0.2[4500]
  AES_GCM_16-256/PRF_HMAC_SHA2_256/CURVE_25519
  established 6s ago, rekeying in 14116s
  gw: #1, reqid 1, INSTALLED, TUNNEL-in-UDP, ESP:AES_GCM_16-256
    installed 6s ago, rekeying in 3306s, expires in 3954s
    in  d14b94f6,    168 bytes,     2 packets,     5s ago
    out 0ef4bb93,    336 bytes,     4 packets,     2s ago
    local  10.1.0.0/24
    remote 10.2.0.0/24

`;

Deno.test("parseListSas() reads charon's IKE and child SAs as responder", () => {
  const [sa] = parseListSas(RESPONDER);
  assert.equal(sa.name, "deno");
  assert.equal(sa.state, "ESTABLISHED");
  assert.equal(sa.spiI, "8bb486fa911f4f49");
  assert.equal(sa.spiR, "e0e66db5027d6da1");
  assert.equal(sa.initiator, false);
  assert.deepEqual([sa.localId, sa.localAddr, sa.localPort], [
    "moon.example.org",
    "10.99.0.1",
    4500,
  ]);
  assert.deepEqual([sa.remoteId, sa.remoteAddr, sa.remotePort], [
    "sun.example.org",
    "10.99.0.2",
    4500,
  ]);
  assert.equal(sa.algorithms, "AES_CBC-128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048");
  assert.equal(sa.children.length, 1);
  const c = sa.children[0];
  assert.deepEqual(
    [c.name, c.state, c.mode, c.algorithms],
    ["deno", "INSTALLED", "TUNNEL-in-UDP", "ESP:AES_CBC-256/HMAC_SHA2_256_128"],
  );
  assert.deepEqual([c.spiIn, c.spiOut, c.bytesIn, c.bytesOut], ["88ae5fa5", "f3f77e1f", 0, 0]);
  assert.deepEqual([c.localTs, c.remoteTs], [["10.1.0.0/16"], ["10.2.0.0/16"]]);
});

Deno.test("parseListSas() reads charon as initiator with byte counters", () => {
  const [sa] = parseListSas(INITIATOR);
  assert.equal(sa.initiator, true);
  assert.equal(sa.algorithms, "AES_GCM_16-256/PRF_HMAC_SHA2_256/CURVE_25519");
  const c = sa.children[0];
  assert.deepEqual([c.spiIn, c.bytesIn, c.spiOut, c.bytesOut], ["d14b94f6", 168, "0ef4bb93", 336]);
});

Deno.test("parseListSas() returns nothing for an empty listing", () => {
  assert.deepEqual(parseListSas(""), []);
});
