import assert from "node:assert/strict";
import { fromHex, toHex } from "../../../lib/wire/bytes.ts";
import { cpValues, ip4SubnetValue, ip6PrefixValue } from "../../../lib/ikev2/payloads/cp.ts";
import { CfgAttributeType, PayloadType } from "../../../lib/ikev2/constants.ts";

Deno.test("CP value helpers follow RFC 7296 section 3.15.1 layouts", () => {
  // INTERNAL_IP4_SUBNET: address then netmask
  assert.equal(toHex(ip4SubnetValue(Uint8Array.of(10, 1, 0, 0), 16)), "0a010000ffff0000");
  assert.equal(toHex(ip4SubnetValue(Uint8Array.of(0, 0, 0, 0), 0)), "0000000000000000");
  assert.equal(toHex(ip4SubnetValue(Uint8Array.of(10, 1, 2, 3), 32)), "0a010203ffffffff");
  // INTERNAL_IP6_ADDRESS / _SUBNET: 16-byte address then prefix length octet
  const a = fromHex("20010db8000000000000000000000001");
  assert.equal(toHex(ip6PrefixValue(a, 64)), "20010db800000000000000000000000140");
  assert.throws(() => ip4SubnetValue(new Uint8Array(4), 33), RangeError);
  assert.throws(() => ip6PrefixValue(new Uint8Array(4), 64), RangeError);
});

Deno.test("cpValues() collects all values of one attribute type in order", () => {
  const cp = {
    type: PayloadType.CP,
    cfgType: 2,
    attributes: [
      { type: CfgAttributeType.INTERNAL_IP4_DNS, value: Uint8Array.of(8, 8, 8, 8) },
      { type: CfgAttributeType.INTERNAL_IP4_ADDRESS, value: Uint8Array.of(10, 0, 0, 2) },
      { type: CfgAttributeType.INTERNAL_IP4_DNS, value: Uint8Array.of(1, 1, 1, 1) },
    ],
  } as const;
  assert.deepEqual(cpValues({ ...cp, attributes: [...cp.attributes] }, 3).map(toHex), [
    "08080808",
    "01010101",
  ]);
});
