import assert from "node:assert/strict";
import {
  INITIAL_MOBIKE_STATE,
  type MobikeAction,
  type MobikeSa,
  type MobikeState,
  planMobike,
} from "../../lib/daemon/mobike_driver.ts";

const PEER = "198.51.100.1";

function sa(over: Partial<MobikeSa> = {}): MobikeSa {
  return {
    ikeSaId: 1,
    local: "192.0.2.2",
    remote: PEER,
    initiator: true,
    mobike: true,
    established: true,
    ...over,
  };
}

/** Runs polls in sequence; returns every poll's actions. */
function polls(
  steps: { addresses: string[]; sas: MobikeSa[]; routes: Record<string, string> }[],
  state: MobikeState = INITIAL_MOBIKE_STATE,
): MobikeAction[][] {
  const out: MobikeAction[][] = [];
  for (const s of steps) {
    const r = planMobike(state, {
      addresses: s.addresses,
      sas: s.sas,
      routeSource: (remote) => s.routes[remote],
    });
    out.push(r.actions);
    state = r.state;
  }
  return out;
}

Deno.test("planMobike() announces the first list and only changes after that", () => {
  const [first, same, reordered, changed] = polls([
    { addresses: ["192.0.2.2", "2001:db8::2"], sas: [], routes: {} },
    { addresses: ["192.0.2.2", "2001:db8::2"], sas: [], routes: {} },
    { addresses: ["2001:db8::2", "192.0.2.2", "192.0.2.2"], sas: [], routes: {} },
    { addresses: ["2001:db8::2"], sas: [], routes: {} },
  ]);
  assert.deepEqual(first, [{ kind: "announce", addresses: ["192.0.2.2", "2001:db8::2"] }]);
  assert.deepEqual(same, []);
  assert.deepEqual(reordered, []);
  assert.deepEqual(changed, [{ kind: "announce", addresses: ["2001:db8::2"] }]);
});

Deno.test("planMobike() moves an SA we initiated with MOBIKE when its address is gone, then announces", () => {
  const [, after, settled] = polls([
    { addresses: ["192.0.2.2"], sas: [sa()], routes: { [PEER]: "192.0.2.2" } },
    { addresses: ["192.0.2.12"], sas: [sa()], routes: { [PEER]: "192.0.2.12" } },
    // The engine moved it (updateAddresses sets the new local address at once).
    {
      addresses: ["192.0.2.12"],
      sas: [sa({ local: "192.0.2.12" })],
      routes: { [PEER]: "192.0.2.12" },
    },
  ]);
  assert.deepEqual(after, [
    {
      kind: "move",
      ikeSaId: 1,
      from: "192.0.2.2",
      local: "192.0.2.12",
      reason: "192.0.2.2 is gone",
    },
    { kind: "announce", addresses: ["192.0.2.12"] },
  ]);
  assert.deepEqual(settled, []);
});

Deno.test("planMobike() moves an SA when the route to its peer changes source, address still there", () => {
  const both = ["192.0.2.2", "203.0.113.2"];
  const [, , moved] = polls([
    { addresses: both, sas: [sa()], routes: { [PEER]: "192.0.2.2" } },
    { addresses: both, sas: [sa()], routes: { [PEER]: "192.0.2.2" } },
    { addresses: both, sas: [sa()], routes: { [PEER]: "203.0.113.2" } },
  ]);
  assert.deepEqual(moved, [{
    kind: "move",
    ikeSaId: 1,
    from: "192.0.2.2",
    local: "203.0.113.2",
    reason: `the route to ${PEER} now uses 203.0.113.2`,
  }]);
});

Deno.test("planMobike() leaves an SA on a configured address that is not the route source", () => {
  // local_addrs names a secondary address: it is still there and the route never changed.
  const both = ["192.0.2.2", "192.0.2.3"];
  const configured = sa({ local: "192.0.2.3", localAddrs: ["192.0.2.3"] });
  const r = polls([
    { addresses: both, sas: [configured], routes: { [PEER]: "192.0.2.2" } },
    { addresses: both, sas: [configured], routes: { [PEER]: "192.0.2.2" } },
  ]);
  assert.deepEqual(r[0], [{ kind: "announce", addresses: both }]);
  assert.deepEqual(r[1], []);
});

Deno.test("planMobike() moves a new SA whose route already prefers another address", () => {
  // Without local_addrs, the SA follows the route: here the route changed
  // while the SA was being set up, so the first look already finds it elsewhere.
  const both = ["192.0.2.2", "192.0.2.3"];
  const [first] = polls([
    { addresses: both, sas: [sa({ local: "192.0.2.2" })], routes: { [PEER]: "192.0.2.3" } },
  ]);
  assert.deepEqual(first.map((a) => a.kind), ["move", "announce"]);
  assert.equal(first[0].kind === "move" && first[0].local, "192.0.2.3");
});

Deno.test("planMobike() does not move without a route or to a source that is not usable", () => {
  const [, noRoute, unusable, back] = polls([
    { addresses: ["192.0.2.2"], sas: [sa()], routes: { [PEER]: "192.0.2.2" } },
    { addresses: ["192.0.2.12"], sas: [sa()], routes: {} },
    // e.g. the route source is a virtual IP the daemon filtered out.
    { addresses: ["192.0.2.12"], sas: [sa()], routes: { [PEER]: "10.3.0.1" } },
    { addresses: ["192.0.2.12"], sas: [sa()], routes: { [PEER]: "192.0.2.12" } },
  ]);
  assert.deepEqual(noRoute, [{ kind: "announce", addresses: ["192.0.2.12"] }]);
  assert.deepEqual(unusable, []);
  assert.equal(back.length, 1);
  assert.equal(back[0].kind, "move");
});

Deno.test("planMobike() never moves responder, non-MOBIKE or unestablished SAs; warns once per stranded SA", () => {
  const sas = [
    // The MOBIKE initiator moves it (to an address we announce): no warning.
    sa({ ikeSaId: 4, initiator: false }),
    sa({ ikeSaId: 1, initiator: false, mobike: false }),
    sa({ ikeSaId: 2, mobike: false }),
    sa({ ikeSaId: 3, established: false }),
  ];
  const routes = { [PEER]: "192.0.2.12" };
  const [, lost, again] = polls([
    { addresses: ["192.0.2.2"], sas, routes },
    { addresses: ["192.0.2.12"], sas, routes },
    { addresses: ["192.0.2.12"], sas, routes },
  ]);
  assert.deepEqual(lost, [
    { kind: "stranded", ikeSaId: 1, local: "192.0.2.2", reason: "no MOBIKE" },
    { kind: "stranded", ikeSaId: 2, local: "192.0.2.2", reason: "no MOBIKE" },
    { kind: "announce", addresses: ["192.0.2.12"] },
  ]);
  assert.deepEqual(again, []);
});

Deno.test("planMobike() forgets SAs that are gone", () => {
  const r = planMobike(INITIAL_MOBIKE_STATE, {
    addresses: ["192.0.2.2"],
    sas: [sa({ ikeSaId: 7 })],
    routeSource: () => "192.0.2.2",
  });
  assert.deepEqual([...r.state.sources], [[7, "192.0.2.2"]]);
  const next = planMobike(r.state, { addresses: ["192.0.2.2"], sas: [], routeSource: () => "x" });
  assert.equal(next.state.sources.size, 0);
});

Deno.test("planMobike() moves an SA only within its connection's local_addrs", () => {
  const routes = { [PEER]: "2001:db8::12" };
  const pinned = sa({ local: "2001:db8::2", localAddrs: ["2001:db8::2", "192.0.2.2"] });
  const listed = sa({ ikeSaId: 2, local: "2001:db8::2", localAddrs: ["2001:DB8:0::12"] });
  const [, lost, again] = polls([
    { addresses: ["2001:db8::2"], sas: [pinned, listed], routes: { [PEER]: "2001:db8::2" } },
    { addresses: ["2001:db8::12"], sas: [pinned, listed], routes },
    { addresses: ["2001:db8::12"], sas: [pinned, { ...listed, local: "2001:db8::12" }], routes },
  ]);
  assert.deepEqual(lost, [
    {
      kind: "stranded",
      ikeSaId: 1,
      local: "2001:db8::2",
      reason: "2001:db8::12 is not in its local_addrs",
    },
    {
      kind: "move",
      ikeSaId: 2,
      from: "2001:db8::2",
      local: "2001:db8::12",
      reason: "2001:db8::2 is gone",
    },
    { kind: "announce", addresses: ["2001:db8::12"] },
  ]);
  assert.deepEqual(again, []);
});

Deno.test("planMobike() tells the peer when the engine already followed a new route source", () => {
  // A packet arriving after the route change made the engine float our side to 203.0.113.2
  // (NAT-T); only UPDATE_SA_ADDRESSES tells the peer, so the SA is "moved" where it is.
  const both = ["192.0.2.2", "203.0.113.2"];
  const [, moved, settled] = polls([
    { addresses: both, sas: [sa()], routes: { [PEER]: "192.0.2.2" } },
    { addresses: both, sas: [sa({ local: "203.0.113.2" })], routes: { [PEER]: "203.0.113.2" } },
    { addresses: both, sas: [sa({ local: "203.0.113.2" })], routes: { [PEER]: "203.0.113.2" } },
  ]);
  assert.deepEqual(moved, [{
    kind: "move",
    ikeSaId: 1,
    from: "203.0.113.2",
    local: "203.0.113.2",
    reason: `the route to ${PEER} now uses 203.0.113.2`,
  }]);
  assert.deepEqual(settled, []);
});

Deno.test("planMobike() compares addresses in canonical form", () => {
  const r = polls([
    {
      addresses: ["2001:DB8:0::2"],
      sas: [sa({ local: "2001:db8::2" })],
      routes: { [PEER]: "2001:db8:0:0::2" },
    },
    {
      addresses: ["2001:db8::2"],
      sas: [sa({ local: "2001:DB8::2" })],
      routes: { [PEER]: "2001:db8::2" },
    },
  ]);
  assert.deepEqual(r, [[{ kind: "announce", addresses: ["2001:db8::2"] }], []]);
});
