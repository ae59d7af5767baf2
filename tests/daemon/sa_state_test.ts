import assert from "node:assert/strict";
import { formatSpi, formatTrafficSelector, SaState } from "../../lib/daemon/sa_state.ts";
import { sa } from "./_fakes.ts";

const ts = (start: number[], end: number[], ipProtocol = 0, startPort = 0, endPort = 65535) => ({
  ipVersion: (start.length === 4 ? 4 : 6) as 4 | 6,
  ipProtocol,
  startPort,
  endPort,
  startAddress: new Uint8Array(start),
  endAddress: new Uint8Array(end),
});

Deno.test("formatTrafficSelector() prints prefixes, hosts, ranges, protocol and ports", () => {
  assert.equal(formatTrafficSelector(ts([10, 1, 0, 0], [10, 1, 255, 255])), "10.1.0.0/16");
  assert.equal(
    formatTrafficSelector(ts([192, 0, 2, 1], [192, 0, 2, 1], 6, 80, 80)),
    "192.0.2.1[tcp/80]",
  );
  assert.equal(
    formatTrafficSelector(ts([10, 0, 0, 1], [10, 0, 0, 9], 17)),
    "10.0.0.1-10.0.0.9[udp]",
  );
  const v6 = [0x20, 0x01, 0x0d, 0xb8, ...new Array(12).fill(0)];
  const v6end = [0x20, 0x01, 0x0d, 0xb8, ...new Array(12).fill(0xff)];
  assert.equal(formatTrafficSelector(ts(v6, v6end)), "2001:db8::/32");
  assert.equal(formatSpi(0xc1), "000000c1");
});

Deno.test("SaState follows events: ike-down forgets the IKE SA and its children", () => {
  const s = new SaState();
  s.apply({ kind: "event", event: { type: "ike-up", ikeSaId: 3, connectionName: "site" } }, 1000);
  assert.equal(s.connectionOf(3), "site");
  assert.equal(s.ikeSas()[0].state, "established");
  s.apply({
    kind: "event",
    event: { type: "ike-down", ikeSaId: 3, connectionName: "site", reason: "x" },
  }, 2000);
  assert.deepEqual(s.ikeSas(), []);
  assert.equal(s.connectionOf(3), undefined);
});

Deno.test("SaState: an IKE rekey moves the children to the new IKE SA", () => {
  const s = new SaState();
  s.apply({ kind: "event", event: { type: "ike-up", ikeSaId: 1, connectionName: "site" } }, 0);
  s.apply({ kind: "installSa", sa: sa(1, 5, "site", "in", 0x1001) }, 0);
  s.apply({
    kind: "event",
    event: { type: "ike-rekeyed", ikeSaId: 2, oldIkeSaId: 1, connectionName: "site" },
  }, 5000);
  assert.deepEqual(s.ikeSas().map((i) => [i.ikeSaId, i.connectionName, i.state, i.since]), [
    [2, "site", "established", 5000],
  ]);
  assert.deepEqual([...s.ikeSas()[0].children.keys()], [5]);
  assert.deepEqual(s.sas().map((x) => [x.spi, x.ikeSaId]), [[0x1001, 1]]);
  assert.equal(s.connectionOf(1), undefined);
});
