/**
 * Hand-built payload bytes laid out from the RFC 7296 section 3 diagrams
 * (field by field, commented) with the value each decodes to. Shared by
 * payloads_test.ts, tshark_test.ts and the codec fuzz test.
 */
import { fromHex } from "../../../lib/wire/bytes.ts";
import type { Payload } from "../../../lib/ikev2/payloads/chain.ts";
import { PayloadType } from "../../../lib/ikev2/constants.ts";
import { makeTransform } from "../../../lib/ikev2/payloads/sa.ts";
import { tsRange } from "../../../lib/ikev2/payloads/ts.ts";

const enc = new TextEncoder();

/** [name, payload type, wire bytes of one payload incl. generic header (Next Payload 0), value] */
export const CASES: [string, number, string, Payload][] = [
  [
    "SA: IKE proposal AES-CBC-128 (Key Length TV attribute), PRF, INTEG, D-H 14",
    PayloadType.SA,
    "00 00 0030" + // generic header: next 0, C 0, length 48
    "00 00 002c 01 01 00 04" + // proposal: last, len 44, #1, IKE, SPI size 0, 4 transforms
    "03 00 000c 01 00 000c 800e 0080" + // transform ENCR 12, attribute AF=1 type 14 value 128
    "03 00 0008 02 00 0002" + // PRF_HMAC_SHA1
    "03 00 0008 03 00 0002" + // AUTH_HMAC_SHA1_96
    "00 00 0008 04 00 000e", // D-H 14, last transform
    {
      type: PayloadType.SA,
      proposals: [{
        num: 1,
        protocolId: 1,
        spi: new Uint8Array(0),
        transforms: [
          makeTransform(1, 12, 128),
          makeTransform(2, 2),
          makeTransform(3, 2),
          makeTransform(4, 14),
        ],
      }],
    },
  ],
  [
    "SA: two ESP proposals with 4-byte SPIs, TLV attribute kept",
    PayloadType.SA,
    "00 00 0034" +
    "02 00 0018 01 03 04 01 aabbccdd" + // more proposals, len 24, #1, ESP, SPI 4, 1 transform
    "00 00 000c 01 00 0014 800e 0100" + // AES-GCM-16 256
    "00 00 0018 02 03 04 01 aabbccdd" + // last proposal #2
    "00 00 000c 01 00 001c 0063 0000", // ChaCha20 with a TLV attribute type 99, length 0
    {
      type: PayloadType.SA,
      proposals: [
        {
          num: 1,
          protocolId: 3,
          spi: fromHex("aabbccdd"),
          transforms: [makeTransform(1, 20, 256)],
        },
        {
          num: 2,
          protocolId: 3,
          spi: fromHex("aabbccdd"),
          transforms: [{ type: 1, id: 28, attributes: [{ type: 99, value: new Uint8Array(0) }] }],
        },
      ],
    },
  ],
  [
    "KE: group 31 (Curve25519), 32-byte public value",
    PayloadType.KE,
    "00 00 0028 001f 0000" + "11".repeat(32),
    { type: PayloadType.KE, group: 31, data: fromHex("11".repeat(32)) },
  ],
  [
    "IDi: ID_FQDN",
    PayloadType.IDi,
    "00 00 000c 02 000000 6d6f6f6e", // "moon"
    { type: PayloadType.IDi, idType: 2, data: enc.encode("moon") },
  ],
  [
    "IDr: ID_IPV6_ADDR",
    PayloadType.IDr,
    "00 00 0018 05 000000 20010db8000000000000000000000001",
    { type: PayloadType.IDr, idType: 5, data: fromHex("20010db8000000000000000000000001") },
  ],
  [
    "IDi: ID_NULL (RFC 7619) has empty data",
    PayloadType.IDi,
    "00 00 0008 0d 000000",
    { type: PayloadType.IDi, idType: 13, data: new Uint8Array(0) },
  ],
  [
    "CERT: X.509 Certificate - Signature (4)",
    PayloadType.CERT,
    "00 00 000a 04 3003020101",
    { type: PayloadType.CERT, encoding: 4, data: fromHex("3003020101") },
  ],
  [
    "CERTREQ: encoding 4 with one SHA-1 CA key hash",
    PayloadType.CERTREQ,
    "00 00 0019 04" + "ab".repeat(20),
    { type: PayloadType.CERTREQ, encoding: 4, data: fromHex("ab".repeat(20)) },
  ],
  [
    "CERTREQ: empty CA list",
    PayloadType.CERTREQ,
    "00 00 0005 04",
    { type: PayloadType.CERTREQ, encoding: 4, data: new Uint8Array(0) },
  ],
  [
    "AUTH: Shared Key MIC",
    PayloadType.AUTH,
    "00 00 000c 02 000000 01020304",
    { type: PayloadType.AUTH, method: 2, data: fromHex("01020304") },
  ],
  [
    "Nonce: 16 bytes (minimum)",
    PayloadType.NONCE,
    "00 00 0014" + "00112233445566778899aabbccddeeff",
    { type: PayloadType.NONCE, data: fromHex("00112233445566778899aabbccddeeff") },
  ],
  [
    "Notify: REKEY_SA for ESP SPI",
    PayloadType.NOTIFY,
    "00 00 000c 03 04 4009 c0ffee00",
    {
      type: PayloadType.NOTIFY,
      protocolId: 3,
      spi: fromHex("c0ffee00"),
      notifyType: 16393,
      data: new Uint8Array(0),
    },
  ],
  [
    "Notify: INVALID_KE_PAYLOAD with group 19",
    PayloadType.NOTIFY,
    "00 00 000a 00 00 0011 0013",
    {
      type: PayloadType.NOTIFY,
      protocolId: 0,
      spi: new Uint8Array(0),
      notifyType: 17,
      data: fromHex("0013"),
    },
  ],
  [
    "Delete: IKE SA",
    PayloadType.DELETE,
    "00 00 0008 01 00 0000",
    { type: PayloadType.DELETE, protocolId: 1, spiSize: 0, spis: [] },
  ],
  [
    "Delete: two ESP SPIs",
    PayloadType.DELETE,
    "00 00 0010 03 04 0002 11111111 22222222",
    {
      type: PayloadType.DELETE,
      protocolId: 3,
      spiSize: 4,
      spis: [fromHex("11111111"), fromHex("22222222")],
    },
  ],
  [
    "Vendor ID: empty is allowed",
    PayloadType.VENDOR_ID,
    "00 00 0004",
    { type: PayloadType.VENDOR_ID, data: new Uint8Array(0) },
  ],
  [
    "TSi: IPv4 range TCP 80..443 + IPv6 range",
    PayloadType.TSi,
    "00 00 0040 02 000000" +
    "07 06 0010 0050 01bb 0a000000 0a0000ff" + // TS_IPV4_ADDR_RANGE, TCP, len 16, 80..443
    "08 00 0028 0000 ffff" + // TS_IPV6_ADDR_RANGE, any proto, len 40, all ports
    "20010db8000000000000000000000000 20010db800000000ffffffffffffffff",
    {
      type: PayloadType.TSi,
      selectors: [
        tsRange("10.0.0.0", "10.0.0.255", 6, 80, 443),
        tsRange("2001:db8::", "2001:db8::ffff:ffff:ffff:ffff"),
      ],
    },
  ],
  [
    "TSr: OPAQUE ports (start 65535, end 0) and an unknown TS type kept opaque",
    PayloadType.TSr,
    "00 00 0020 02 000000" +
    "07 11 0010 ffff 0000 c0000201 c0000201" +
    "0a 00 0008 01020304", // TS_SECLABEL (RFC 9478), opaque
    {
      type: PayloadType.TSr,
      selectors: [tsRange("192.0.2.1", "192.0.2.1", 17, 65535, 0)],
      opaque: [{ tsType: 10, byte1: 0, data: fromHex("01020304") }],
    },
  ],
  [
    "CP: CFG_REPLY with address, netmask, DNS, IPv6 address/prefix, subnet, app version",
    PayloadType.CP,
    "00 00 0048 02 000000" +
    "0001 0004 0a010002" + // INTERNAL_IP4_ADDRESS 10.1.0.2
    "0002 0004 ffffff00" + // INTERNAL_IP4_NETMASK
    "0003 0004 08080808" + // INTERNAL_IP4_DNS
    "0008 0011 20010db8000000000000000000000002 40" + // INTERNAL_IP6_ADDRESS /64
    "000d 0008 0a000000 ffff0000" + // INTERNAL_IP4_SUBNET
    "0007 0003 616263", // APPLICATION_VERSION "abc"
    {
      type: PayloadType.CP,
      cfgType: 2,
      attributes: [
        { type: 1, value: fromHex("0a010002") },
        { type: 2, value: fromHex("ffffff00") },
        { type: 3, value: fromHex("08080808") },
        { type: 8, value: fromHex("20010db800000000000000000000000240") },
        { type: 13, value: fromHex("0a000000ffff0000") },
        { type: 7, value: enc.encode("abc") },
      ],
    },
  ],
  [
    "EAP: Identity response (RFC 3748 code 2, type 1)",
    PayloadType.EAP,
    "00 00 000e 02 07 000a 01 75736572 31", // code 2, id 7, length 10, type 1, "user1"
    { type: PayloadType.EAP, data: fromHex("0207000a017573657231") },
  ],
];
