/**
 * tshark (Wireshark 4.0's ISAKMP/IKEv2 dissector: an independent decoder)
 * dissects a message holding every payload of _cases.ts as we encode it. Each
 * regexp below is what Wireshark prints for the field values the case was
 * built with. ID_NULL is left out: Wireshark 4.0 hits a dissector assertion on
 * an empty Identification Data.
 */
import assert from "node:assert/strict";
import { encodeMessage } from "../../../lib/ikev2/message.ts";
import { encodeHeader } from "../../../lib/ikev2/header.ts";
import { encodeEncryptedPayload } from "../../../lib/ikev2/payloads/chain.ts";
import { Writer } from "../../../lib/wire/writer.ts";
import { PayloadType } from "../../../lib/ikev2/constants.ts";
import { CASES } from "./_cases.ts";
import { tsharkDissect } from "./_tshark.ts";

const HDR = {
  spiI: 0x0102030405060708n,
  spiR: 0x1112131415161718n,
  exchangeType: 35,
  initiator: true,
  response: false,
  messageId: 1,
};

const EXPECT: RegExp[] = [
  /Exchange type: IKE_AUTH \(35\)/,
  /Initiator SPI: 0102030405060708/,
  /Transform ID \(ENCR\): ENCR_AES_CBC \(12\)\n.*Key Length: 128/,
  /Transform ID \(D-H\): 2048 bit MODP group \(14\)/,
  /Proposal number: 2\n\s+Protocol ID: ESP \(3\)\n\s+SPI Size: 4/,
  /SPI: aabbccdd/,
  /Transform ID \(ENCR\): ENCR_CHACHA20_POLY1305 \(28\)/,
  /DH Group #: Curve25519 \(31\)\n.*\n\s+Key Exchange Data: (11){32}/,
  /ID_FQDN: moon/,
  /ID_IPV6_ADDR: 2001:db8::1/,
  /Certificate Encoding: X\.509 Certificate - Signature \(4\)/,
  /Certificate Authority Data: (ab){20}/,
  /Authentication Method: Shared Key Message Integrity Code \(2\)\n.*\n?\s+Authentication Data: 01020304/,
  /Nonce DATA: 00112233445566778899aabbccddeeff/,
  /Notify Message Type: REKEY_SA \(16393\)\n\s+SPI: c0ffee00/,
  /Accepted DH group number: 256-bit random ECP group \(19\)/,
  /Protocol ID: IKE \(1\)\n\s+SPI Size: 0\n\s+Number of SPIs: 0/,
  /Number of SPIs: 2\n\s+Delete SPI: 11111111\n\s+Delete SPI: 22222222/,
  /Protocol ID: TCP \(6\)\n.*\n\s+Start Port: 80\n\s+End Port: 443\n\s+Starting Addr: 10\.0\.0\.0\n\s+Ending Addr: 10\.0\.0\.255/,
  /Starting Addr: 2001:db8::\n\s+Ending Addr: 2001:db8::ffff:ffff:ffff:ffff/,
  /Start Port: 65535\n\s+End Port: 0\n\s+Starting Addr: 192\.0\.2\.1/,
  /Traffic Selector Type: Future use \(10\)/,
  /Type: CFG_REPLY \(2\)/,
  /INTERNAL IP4 ADDRESS: 10\.1\.0\.2/,
  /INTERNAL IP4 NETMASK: 255\.255\.255\.0/,
  /INTERNAL IP4 DNS: 8\.8\.8\.8/,
  /INTERNAL IP6 ADDRESS: 2001:db8::2\n\s+INTERNAL IP6 ADDRESS \(PREFIX\): 64/,
  /INTERNAL IP4 SUBNET \(IP\): 10\.0\.0\.0\n\s+INTERNAL IP4 SUBNET \(NETMASK\): 255\.255\.0\.0/,
  /APPLICATION VERSION: abc/,
  /Code: Response \(2\)\n\s+Id: 7\n\s+Length: 10\n\s+Type: Identity \(1\)\n\s+Identity: user1/,
];

Deno.test("tshark dissects every payload we encode with the values we put in", async () => {
  const payloads = CASES.filter((c) => !c[0].includes("ID_NULL")).map((c) => c[3]);
  const [frame] = await tsharkDissect([encodeMessage({ header: HDR, payloads })]);
  for (const re of EXPECT) assert.match(frame, re);
  // Payload count and order as Wireshark walked the Next Payload chain.
  const walked = [...frame.matchAll(/^ {4}Payload: ([A-Za-z -]+) \((\d+)\)/gm)].map((m) =>
    Number(m[2])
  );
  assert.deepEqual(walked, payloads.map((p) => p.type));
  assert.doesNotMatch(frame, /Dissector bug|Malformed Packet/);
});

Deno.test("tshark reads our SKF framing: fragment number, total, inner Next Payload", async () => {
  const w = new Writer();
  const lenPos = encodeHeader(w, HDR, PayloadType.SKF);
  encodeEncryptedPayload(w, {
    type: PayloadType.SKF,
    innerNextPayload: PayloadType.IDi,
    fragmentNumber: 1,
    totalFragments: 3,
    data: new Uint8Array(48),
  });
  w.patch32(lenPos, w.length);
  const [frame] = await tsharkDissect([w.finish()]);
  assert.match(frame, /Payload: Encrypted and Authenticated Fragment \(53\)/);
  assert.match(frame, /Next payload: Identification - Initiator \(35\)/);
  assert.match(frame, /Fragment Number: 1/);
  assert.match(frame, /Total Fragments: 3/);
});
