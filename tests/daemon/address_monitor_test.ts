import assert from "node:assert/strict";
import {
  AddressMonitor,
  type InterfaceAddress,
  isLocalOnlyAddress,
  usableAddresses,
} from "../../lib/daemon/address_monitor.ts";
import { parseIp } from "../../lib/db/address.ts";

Deno.test("isLocalOnlyAddress() is true for loopback, link-local and unspecified only", () => {
  const cases: [string, boolean][] = [
    ["127.0.0.1", true],
    ["127.255.0.9", true],
    ["169.254.10.1", true],
    ["0.0.0.0", true],
    ["::1", true],
    ["::", true],
    ["fe80::1", true],
    ["febf::1", true],
    ["fec0::1", false],
    ["128.0.0.1", false],
    ["169.253.0.1", false],
    ["10.99.0.2", false],
    ["2001:db8::1", false],
    ["fd00::1", false],
  ];
  for (const [text, want] of cases) {
    assert.equal(isLocalOnlyAddress(parseIp(text)!), want, text);
  }
});

Deno.test("usableAddresses() drops lo, the TUN, virtual IPs, link-local; canonical, sorted, unique", () => {
  const ifs: InterfaceAddress[] = [
    { name: "lo", address: "127.0.0.1" },
    { name: "lo", address: "10.2.0.1" },
    { name: "eth1", address: "2001:DB8:0:0::2" },
    { name: "eth0", address: "192.0.2.2" },
    { name: "eth0", address: "fe80::1%eth0" },
    { name: "eth0", address: "169.254.1.1" },
    { name: "eth2", address: "192.0.2.2" },
    { name: "ipsec0", address: "10.3.0.7" },
    { name: "eth0", address: "10.3.0.8" },
    { name: "eth0", address: "not an address" },
  ];
  assert.deepEqual(
    usableAddresses(ifs, { interfaces: ["ipsec0"], addresses: ["10.3.0.8"] }),
    ["192.0.2.2", "2001:db8::2"],
  );
  assert.deepEqual(usableAddresses([]), []);
});

Deno.test("AddressMonitor ticks at once and every interval, skips failed reads, stops on close()", async () => {
  let reads = 0;
  const m = new AddressMonitor({
    intervalMs: 10,
    excludeInterfaces: ["ipsec0"],
    mark: 0x5000,
    read: () => {
      reads++;
      if (reads === 2) throw new Error("transient");
      return [{ name: "eth0", address: reads < 3 ? "192.0.2.2" : "192.0.2.12" }, {
        name: "ipsec0",
        address: "10.3.0.1",
      }];
    },
    route: (remote, mark) => `${remote}/${mark.toString(16)}`,
  });
  const ticks: string[][] = [];
  let done!: () => void;
  const three = new Promise<void>((r) => done = r);
  m.start((a) => {
    ticks.push([...a]);
    if (ticks.length === 3) done();
  });
  assert.deepEqual(ticks, [["192.0.2.2"]], "the first tick is synchronous");
  assert.throws(() => m.start(() => {}), /already started/);
  await three;
  m.close();
  const n = ticks.length;
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(ticks.length, n, "no tick after close()");
  assert.deepEqual(ticks.slice(0, 3), [["192.0.2.2"], ["192.0.2.12"], ["192.0.2.12"]]);
  assert.equal(m.routeSource("198.51.100.1"), "198.51.100.1/5000");
});

Deno.test("AddressMonitor reads the real host by default (loopback never listed)", () => {
  const list = new AddressMonitor().addresses();
  assert.ok(!list.some((a) => a.startsWith("127.") || a === "::1"), JSON.stringify(list));
});
