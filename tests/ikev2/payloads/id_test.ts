import assert from "node:assert/strict";
import { fromHex, toHex } from "../../../lib/wire/bytes.ts";
import {
  formatDn,
  formatId,
  idDn,
  idFqdn,
  idIp,
  idKeyId,
  idNull,
  idPayloadBody,
  idRfc822,
} from "../../../lib/ikev2/payloads/id.ts";

// DER of C=CH, O=strongSwan, CN=moon.strongswan.org from python3-cryptography 38:
// x509.Name([...]).public_bytes()
const MOON_DN = fromHex(
  "3040310b300906035504061302434831133011060355040a0c0a7374726f6e675377616e311c301a060355" +
    "04030c136d6f6f6e2e7374726f6e677377616e2e6f7267",
);

Deno.test("formatId() prints identities as strongSwan logs them", () => {
  assert.equal(formatId(idFqdn("moon.strongswan.org")), "moon.strongswan.org");
  assert.equal(formatId(idRfc822("carol@strongswan.org")), "carol@strongswan.org");
  assert.equal(formatId(idIp("192.0.2.1")), "192.0.2.1");
  assert.equal(formatId(idIp("2001:db8::1")), "2001:db8::1");
  assert.equal(formatId(idIp("2001:db8:0:0:1:0:0:1")), "2001:db8::1:0:0:1"); // RFC 5952 4.2.3
  assert.equal(formatId(idKeyId(fromHex("0102"))), "@#0102");
  assert.equal(formatId(idNull()), "%any");
  assert.equal(formatId(idDn(MOON_DN)), "C=CH, O=strongSwan, CN=moon.strongswan.org");
  assert.equal(formatId({ idType: 10, data: fromHex("ab") }), "ID_DER_ASN1_GN:ab");
});

Deno.test("formatDn() refuses what is not a DER Name", () => {
  assert.equal(formatDn(fromHex("0401ff")), undefined);
  assert.equal(formatDn(MOON_DN.subarray(0, 20)), undefined);
  assert.equal(formatId(idDn(fromHex("0401ff"))), "ID_DER_ASN1_DN:0401ff");
});

Deno.test("idPayloadBody() is ID Type, 3 RESERVED bytes, data (RFC 7296 section 2.15)", () => {
  assert.equal(toHex(idPayloadBody(idFqdn("moon"))), "020000006d6f6f6e");
  assert.equal(toHex(idPayloadBody(idIp("10.0.0.1"))), "010000000a000001");
});

Deno.test("idIp() takes text or 4/16 raw bytes and rejects the rest", () => {
  assert.deepEqual(idIp(Uint8Array.of(10, 0, 0, 1)), idIp("10.0.0.1"));
  assert.throws(() => idIp(new Uint8Array(5)), RangeError);
  assert.throws(() => idIp("10.0.0.256"), RangeError);
  assert.throws(() => idIp("1::2::3"), RangeError);
});
