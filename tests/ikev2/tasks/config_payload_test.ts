/**
 * Configuration payload task helpers (lib/ikev2/tasks/config_payload.ts):
 * IPv4 and IPv6 address pools and the CFG_REQUEST / CFG_REPLY they build
 * and read. Expected bytes are laid out by hand from RFC 7296 section
 * 3.15.1 (attribute: R bit + 15-bit type, 16-bit length, value; type 1
 * INTERNAL_IP4_ADDRESS 0|4 octets, 3 INTERNAL_IP4_DNS 0|4, 8
 * INTERNAL_IP6_ADDRESS 0|17 = address + prefix length, 10 INTERNAL_IP6_DNS
 * 0|16) and section 3.15 (CFG Type 1 = CFG_REQUEST, 2 = CFG_REPLY, then 3
 * reserved octets).
 */
import assert from "node:assert/strict";
import { CfgType, PayloadType } from "../../../lib/ikev2/constants.ts";
import { type CpPayload, decodeCp, encodeCp } from "../../../lib/ikev2/payloads/cp.ts";
import {
  AddressPools,
  buildCpReply,
  buildCpRequest,
  PoolError,
  readCpReply,
  requestedVipAddress,
  requestedVipFamilies,
  subnetAttributes,
  vipFamily,
  wantsSubnets,
} from "../../../lib/ikev2/tasks/config_payload.ts";
import { Reader } from "../../../lib/wire/reader.ts";
import { Writer } from "../../../lib/wire/writer.ts";
import { fromHex, toHex } from "../../../lib/wire/bytes.ts";

function body(p: Parameters<typeof encodeCp>[1]): string {
  const w = new Writer();
  encodeCp(w, p);
  return toHex(w.finish());
}

Deno.test("AddressPools leases IPv6 addresses from a prefix, skipping the anycast address", () => {
  const pools = new AddressPools([{ name: "v6", range: "2001:db8:ff::/126", dns: [] }]);
  assert.equal(pools.family("v6"), 6);
  // ::0 is the subnet-router anycast address (RFC 4291 section 2.6.1).
  assert.equal(pools.lease("v6", "alice"), "2001:db8:ff::1");
  assert.equal(pools.lease("v6", "bob"), "2001:db8:ff::2");
  assert.equal(pools.lease("v6", "carol"), "2001:db8:ff::3");
  assert.equal(pools.lease("v6", "dave"), undefined, "/126 has three usable addresses");
  assert.deepEqual(pools.inUse("v6"), ["2001:db8:ff::1", "2001:db8:ff::2", "2001:db8:ff::3"]);
  pools.release("v6", "2001:db8:ff::2");
  assert.deepEqual(pools.inUse("v6"), ["2001:db8:ff::1", "2001:db8:ff::3"]);
  // bob's address stays his while another is free; here none is, so dave takes it.
  assert.equal(pools.lease("v6", "dave"), "2001:db8:ff::2");
  pools.release("v6", "2001:db8:ff::1");
  assert.equal(
    pools.lease("v6", "alice"),
    "2001:db8:ff::1",
    "the same owner gets its address back",
  );
});

// A gateway with thousands of clients: every lease takes the lowest address
// never owned, owners get theirs back, and an owner's addresses follow it
// when they are handed to someone else (checked against a plain model).
Deno.test("AddressPools: many clients, reconnects and reuse keep the leasing rules", () => {
  const pools = new AddressPools([{ name: "p", range: "10.200.0.0/18" }]); // 16,382 usable
  const n = 5000;
  const got = new Map<string, string>();
  for (let i = 0; i < n; i++) got.set(`c${i}`, pools.lease("p", `c${i}`)!);
  assert.equal(new Set(got.values()).size, n);
  assert.equal(got.get("c0"), "10.200.0.1");
  assert.equal(got.get(`c${n - 1}`), `10.200.19.136`); // the 5000th host address
  // Half of them go offline and come back: each gets its own address again.
  for (let i = 0; i < n; i += 2) pools.release("p", got.get(`c${i}`)!);
  assert.equal(pools.inUse("p").length, n / 2);
  for (let i = n - 2; i >= 0; i -= 2) assert.equal(pools.lease("p", `c${i}`), got.get(`c${i}`));
  // A newcomer takes the next never-owned address, not an offline client's.
  pools.release("p", got.get("c1")!);
  assert.equal(pools.lease("p", "new"), "10.200.19.137");
  assert.equal(pools.lease("p", "c1"), got.get("c1"));

  // One identity on many devices (a shared PSK identity): one address per SA,
  // and a free one of its own when it has one.
  const shared = new AddressPools([{ name: "s", range: "10.8.0.0/24" }]);
  assert.deepEqual([1, 2, 3].map(() => shared.lease("s", "team")), [
    "10.8.0.1",
    "10.8.0.2",
    "10.8.0.3",
  ]);
  shared.release("s", "10.8.0.2");
  shared.release("s", "10.8.0.2"); // twice: no harm
  assert.equal(shared.lease("s", "other"), "10.8.0.4");
  assert.equal(shared.lease("s", "team"), "10.8.0.2");
  assert.equal(shared.lease("s", "team"), "10.8.0.5");

  // Exhausted: someone else's offline address is reused; it is then the new owner's.
  const small = new AddressPools([{ name: "s", range: "10.9.0.0/30" }]);
  assert.equal(small.lease("s", "a"), "10.9.0.1");
  assert.equal(small.lease("s", "b"), "10.9.0.2");
  small.release("s", "10.9.0.1");
  assert.equal(small.lease("s", "c"), "10.9.0.1");
  small.release("s", "10.9.0.1");
  assert.equal(small.lease("s", "a"), "10.9.0.1", "a's old address, now free again");
  small.release("s", "10.9.0.1");
  assert.equal(small.lease("s", "c"), "10.9.0.1", "reused once more for c (nothing else is free)");
});

Deno.test("AddressPools handles IPv6 ranges and keeps families apart", () => {
  const pools = new AddressPools([
    { name: "v4", range: "10.3.0.0/30" },
    { name: "v6", range: "2001:db8::fffe-2001:db8::1:1" },
  ]);
  assert.equal(pools.family("v4"), 4);
  assert.equal(pools.family("nope"), undefined);
  // The range crosses a 16-bit group boundary: bigint arithmetic, not per-group.
  const got = [1, 2, 3, 4].map((i) => pools.lease("v6", `u${i}`));
  assert.deepEqual(got, ["2001:db8::fffe", "2001:db8::ffff", "2001:db8::1:0", "2001:db8::1:1"]);
  assert.equal(pools.lease("v6", "u5"), undefined);
  assert.equal(pools.lease("v4", "u1"), "10.3.0.1");
  assert.equal(pools.lease("v4", "u2"), "10.3.0.2");
  assert.equal(pools.lease("v4", "u3"), undefined, "/30: network and broadcast skipped");
  // Releasing an address of the other family is a no-op.
  pools.release("v4", "2001:db8::fffe");
  assert.equal(pools.inUse("v6").length, 4);
});

Deno.test("AddressPools rejects bad IPv6 pools with PoolError", () => {
  for (
    const range of ["2001:db8::/128", "2001:db8::/7", "2001:db8::9-2001:db8::1", "10.0.0.1-::2"]
  ) {
    assert.throws(() => new AddressPools([{ name: "x", range }]), PoolError, range);
  }
});

Deno.test("AddressPools.reconfigure() keeps IPv6 leases of an unchanged pool", () => {
  const a = new AddressPools([{ name: "v6", range: "2001:db8:ff::/112" }]);
  a.lease("v6", "alice");
  const b = a.reconfigure([{ name: "v6", range: "2001:db8:ff::/112", dns: ["2001:db8::53"] }]);
  assert.deepEqual(b.inUse("v6"), ["2001:db8:ff::1"]);
  assert.deepEqual(b.dns("v6"), ["2001:db8::53"]);
  const c = b.reconfigure([{ name: "v6", range: "2001:db8:fe::/112" }]);
  assert.deepEqual(c.inUse("v6"), []);
});

Deno.test("vipFamily() maps the vips spellings to families", () => {
  assert.equal(vipFamily("0.0.0.0"), 4);
  assert.equal(vipFamily("%any"), 4);
  assert.equal(vipFamily("::"), 6);
  assert.equal(vipFamily("%any6"), 6);
  assert.equal(vipFamily("2001:db8::5"), 6);
  assert.equal(vipFamily("bogus"), undefined);
});

Deno.test("buildCpRequest() for any IPv6 address: empty INTERNAL_IP6_ADDRESS and IP6_DNS", () => {
  // CFG Type 1 (REQUEST), 3 reserved; attr 8 len 0; attr 10 len 0.
  assert.equal(body(buildCpRequest(["::"])), "01000000" + "00080000" + "000a0000");
  assert.equal(body(buildCpRequest("%any6")), "01000000" + "00080000" + "000a0000");
});

Deno.test("buildCpRequest() dual-stack asks for both addresses and both DNS types", () => {
  const hex = body(buildCpRequest(["0.0.0.0", "::"]));
  // attr 1 len 0, attr 8 len 0, attr 3 len 0, attr 10 len 0
  assert.equal(hex, "01000000" + "00010000" + "00080000" + "00030000" + "000a0000");
  assert.deepEqual(requestedVipFamilies([buildCpRequest(["0.0.0.0", "::"])]), [4, 6]);
  assert.deepEqual(requestedVipFamilies([buildCpRequest(["::"])]), [6]);
  assert.deepEqual(requestedVipFamilies([buildCpRequest("0.0.0.0")]), [4]);
});

Deno.test("buildCpRequest() for a specific IPv6 address carries 16 octets + prefix length", () => {
  const hex = body(buildCpRequest(["2001:db8::7"]));
  // attr 8, length 17 (0x11): address then prefix length 64 (0x40), as strongSwan sends.
  assert.equal(
    hex,
    "01000000" + "00080011" + "20010db8000000000000000000000007" + "40" + "000a0000",
  );
});

Deno.test("buildCpReply() dual-stack: both addresses and DNS servers of either family", () => {
  const reply = buildCpReply(["10.3.0.1", "2001:db8:ff::1"], ["10.1.0.53", "2001:db8::53"]);
  const hex = body(reply);
  assert.equal(
    hex,
    "02000000" + // CFG_REPLY
      "00010004" + "0a030001" + // INTERNAL_IP4_ADDRESS 10.3.0.1
      "00080011" + "20010db800ff00000000000000000001" + "40" + // INTERNAL_IP6_ADDRESS /64
      "00030004" + "0a010035" + // INTERNAL_IP4_DNS 10.1.0.53
      "000a0010" + "20010db8000000000000000000000053", // INTERNAL_IP6_DNS 2001:db8::53
  );
  // What goes on the wire decodes (length rules of cp.ts) and reads back.
  const decoded = decodeCp(new Reader(fromHex(hex)));
  assert.equal(decoded.cfgType, CfgType.CFG_REPLY);
  assert.deepEqual(readCpReply([decoded]), {
    address: "10.3.0.1",
    addresses: ["10.3.0.1", "2001:db8:ff::1"],
    dns: ["10.1.0.53", "2001:db8::53"],
    subnets: [],
  });
});

Deno.test("readCpReply() reads an IPv6-only reply and ignores the prefix length", () => {
  // A reply as strongSwan builds it for an IPv6 pool: address + prefix 64, one IP6_DNS.
  const hex = "02000000" + "00080011" + "20010db800ff0000000000000000000a" + "40" +
    "000a0010" + "20010db8000000000000000000000053";
  const cp = decodeCp(new Reader(fromHex(hex)));
  assert.deepEqual(readCpReply([cp]), {
    address: "2001:db8:ff::a",
    addresses: ["2001:db8:ff::a"],
    dns: ["2001:db8::53"],
    subnets: [],
  });
  // A reply without any address assigns nothing.
  const empty = { type: PayloadType.CP, cfgType: CfgType.CFG_REPLY, attributes: [] };
  assert.equal(readCpReply([empty]), undefined);
});

// RFC 7296 3.15.1/3.15.2: INTERNAL_IP4_SUBNET = type 13, address + netmask
// (8 bytes); INTERNAL_IP6_SUBNET = type 15, address + prefix length (17 bytes).
Deno.test("INTERNAL_IP4/6_SUBNET: the responder lists prefix selectors, the initiator reads them", () => {
  const attrs = subnetAttributes([
    "10.1.0.0/16",
    "192.0.2.7",
    "2001:db8:1::/48",
    "dynamic",
    "10.0.0.1-10.0.0.5",
    "10.9.0.0/16[tcp/443]",
  ]);
  const reply = buildCpReply(["10.3.0.1"], [], attrs);
  assert.equal(
    body(reply),
    "02000000" + "00010004" + "0a030001" +
      "000d0008" + "0a010000" + "ffff0000" +
      "000d0008" + "c0000207" + "ffffffff" +
      "000f0011" + "20010db8000100000000000000000000" + "30",
  );
  const cp = decodeCp(new Reader(fromHex(body(reply))));
  assert.deepEqual(readCpReply([cp])?.subnets, ["10.1.0.0/16", "192.0.2.7/32", "2001:db8:1::/48"]);
  // Asked for with empty values (as Windows clients do): wantsSubnets.
  const ask: CpPayload = {
    type: PayloadType.CP,
    cfgType: CfgType.CFG_REQUEST,
    attributes: [{ type: 13, value: new Uint8Array(0) }],
  };
  assert.equal(wantsSubnets([ask]), true);
  assert.equal(wantsSubnets([buildCpRequest("0.0.0.0")]), false);
});

Deno.test("AddressPools: an owner asking for the address it holds gets it again, held twice", () => {
  const pools = new AddressPools([{ name: "rw", range: "10.3.0.0/24" }]);
  const a = pools.lease("rw", "alice")!;
  assert.equal(a, "10.3.0.1");
  // Make-before-break reauthentication: the new IKE SA asks for 10.3.0.1 while the old holds it.
  assert.equal(pools.lease("rw", "alice", a), a);
  // Someone else asking for it does not get it.
  assert.equal(pools.lease("rw", "bob", a), "10.3.0.2");
  // The old SA goes: the address stays in use for the new one.
  pools.release("rw", a);
  assert.deepEqual(pools.inUse("rw").sort(), ["10.3.0.1", "10.3.0.2"]);
  assert.equal(pools.lease("rw", "carol"), "10.3.0.3", "not handed to another client");
  // The new SA goes too: now it is free (and kept for alice).
  pools.release("rw", a);
  assert.deepEqual(pools.inUse("rw").sort(), ["10.3.0.2", "10.3.0.3"]);
  assert.equal(pools.lease("rw", "alice"), a);
  // An address outside the pool, or of the other family, is ignored.
  assert.equal(pools.lease("rw", "dave", "192.0.2.9"), "10.3.0.4");
  assert.equal(pools.lease("rw", "erin", "2001:db8::1"), "10.3.0.5");
});

Deno.test("requestedVipAddress() reads a specific address, not 'any'", () => {
  const req = (...vips: string[]) => [buildCpRequest(vips)];
  assert.equal(requestedVipAddress(req("0.0.0.0"), 4), undefined);
  assert.equal(requestedVipAddress(req("10.3.0.7"), 4), "10.3.0.7");
  assert.equal(requestedVipAddress(req("10.3.0.7"), 6), undefined);
  assert.equal(requestedVipAddress(req("0.0.0.0", "2001:db8::5"), 6), "2001:db8::5");
  assert.equal(requestedVipAddress(req("::"), 6), undefined);
  assert.equal(requestedVipAddress([buildCpReply(["10.3.0.7"], [])], 4), undefined, "a reply");
});

Deno.test("AddressPools.describe: size, online / offline and who each address is kept for", () => {
  const pools = new AddressPools([
    { name: "v4", range: "10.3.0.0/24" },
    { name: "v6", range: "2001:db8:ff::10-2001:db8:ff::13" },
  ]);
  assert.equal(pools.lease("v4", "carol@example.org"), "10.3.0.1");
  assert.equal(pools.lease("v4", "alice@example.org"), "10.3.0.2");
  pools.release("v4", "10.3.0.1");
  assert.deepEqual(pools.describe(), [
    {
      name: "v4",
      range: "10.3.0.0/24",
      base: "10.3.0.1",
      size: 254,
      online: 1,
      offline: 1,
      leases: [
        { address: "10.3.0.1", owner: "carol@example.org", online: false },
        { address: "10.3.0.2", owner: "alice@example.org", online: true },
      ],
    },
    {
      name: "v6",
      range: "2001:db8:ff::10-2001:db8:ff::13",
      base: "2001:db8:ff::10",
      size: 4,
      online: 0,
      offline: 0,
      leases: [],
    },
  ]);
});
