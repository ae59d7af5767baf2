import assert from "node:assert/strict";
import { type RuntimePayload, UserspaceDataplaneAdapter } from "../../lib/daemon/adapters.ts";
import type { Dataplane, DataplaneEvent, PolicyInstance } from "../../lib/dataplane/dataplane.ts";
import type { Endpoint } from "../../lib/ikev2/effects.ts";
import type { SaSpec } from "../../lib/dataplane/sa_spec.ts";
import { Spd, type SpdEntry } from "../../lib/db/spd.ts";
import { packetTuple } from "../../lib/db/selector.ts";
import { buildSpdEntries } from "../../lib/config/build.ts";
import { parseConfig } from "../../lib/config/parse.ts";
import { clientSa, gatewaySpd, removeOut } from "./_gateway.ts";

/** The part of the Worker-based Dataplane the adapter drives, recording calls. */
class RecordingDataplane {
  tunName = "ipsec0";
  backend = "test";
  calls: string[] = [];
  listener: ((e: DataplaneEvent) => void) | null = null;
  sendResult = true;
  /** The last policy list and the order of SA/policy changes (gateway instances). */
  policies: SpdEntry[] | null = null;
  /** SA instances of named entries, by key. */
  instances = new Map<string, PolicyInstance>();
  inboundGuard: { rules: unknown[]; protoBlock: unknown[]; warnings: string[] } | null = null;
  order: string[] = [];
  installSa(spec: SaSpec) {
    this.order.push(`installSa ${spec.direction} ${spec.spi.toString(16)}`);
    return Promise.resolve();
  }
  removeSa(dir: "in" | "out", _proto: "esp" | "ah", spi: number) {
    this.order.push(`removeSa ${dir} ${spi.toString(16)}`);
    return Promise.resolve(true);
  }
  on(l: (e: DataplaneEvent) => void) {
    this.listener = l;
    return () => {};
  }
  setPolicies(entries: SpdEntry[] | null, instances: PolicyInstance[] = []) {
    this.policies = entries;
    this.instances = new Map(instances.map((i) => [i.key, i]));
    this.order.push(`setPolicies ${entries?.length} +${instances.length}`);
    return Promise.resolve();
  }
  addPolicyInstance(i: PolicyInstance) {
    this.instances.set(i.key, i);
    this.order.push(`addPolicyInstance ${i.key}`);
    return Promise.resolve();
  }
  removePolicyInstance(key: string) {
    this.order.push(`removePolicyInstance ${key}`);
    return Promise.resolve(this.instances.delete(key));
  }
  sendIke(data: Uint8Array, remote: Uint8Array, port: number, raw: boolean, local?: Uint8Array) {
    this.calls.push(
      `sendIke [${[...data]}] ${remote.join(".")}:${port}${raw ? " raw" : ""}` +
        (local ? ` from ${local.join(".")}` : ""),
    );
    return Promise.resolve(this.sendResult);
  }
  setPacketInfo(family: 4 | 6, on: boolean) {
    this.calls.push(`setPacketInfo ${family} ${on}`);
  }
  updateSa(
    dir: "in" | "out",
    proto: "esp" | "ah",
    spi: number,
    local: Uint8Array,
    remote: Uint8Array,
    encap?: { localPort: number; remotePort: number },
  ) {
    this.calls.push(
      `updateSa ${dir} ${proto} ${spi.toString(16)} local ${local.join(".")}:${encap?.localPort} ` +
        `remote ${remote.join(".")}:${encap?.remotePort}`,
    );
    return Promise.resolve(true);
  }
  stop() {
    return Promise.resolve();
  }
}

async function adapter(spd: SpdEntry[] = []) {
  const fake = new RecordingDataplane();
  const logs: string[] = [];
  const a = new UserspaceDataplaneAdapter(
    (_level, m) => logs.push(m),
    () => Promise.resolve(fake as unknown as Dataplane),
    4500,
  );
  await a.configure({ engine: { connections: [] }, spd, dataplane: {} } as RuntimePayload);
  return { a, fake, logs };
}

Deno.test("UserspaceDataplaneAdapter: IKE from the encapsulation socket reaches onIke; sendIke passes raw", async () => {
  const { a, fake } = await adapter();
  const got: { bytes: number[]; from: Endpoint }[] = [];
  a.onIke((bytes, from) => got.push({ bytes: [...bytes], from }));
  fake.listener!({
    type: "ike",
    data: new Uint8Array([1, 2]),
    remote: new Uint8Array([198, 51, 100, 7]),
    remotePort: 31000,
    localPort: 4500,
  });
  assert.deepEqual(got, [{ bytes: [1, 2], from: { address: "198.51.100.7", port: 31000 } }]);
  await a.sendIke(new Uint8Array([9]), { address: "198.51.100.7", port: 31000 }, false);
  await a.sendIke(new Uint8Array([0xff]), { address: "198.51.100.7", port: 31000 }, true);
  // From one of our addresses (a wildcard "from" leaves the choice to the route).
  const to = { address: "198.51.100.7", port: 31000 };
  await a.sendIke(new Uint8Array([8]), to, false, { address: "192.0.2.10", port: 4500 });
  await a.sendIke(new Uint8Array([7]), to, false, { address: "0.0.0.0", port: 4500 });
  assert.deepEqual(fake.calls, [
    "sendIke [9] 198.51.100.7:31000",
    "sendIke [255] 198.51.100.7:31000 raw",
    "sendIke [8] 198.51.100.7:31000 from 192.0.2.10",
    "sendIke [7] 198.51.100.7:31000",
  ]);
  // The address IP_PKTINFO reported comes along.
  const locals: (string | undefined)[] = [];
  a.onIke((_b, _from, local) => locals.push(local));
  fake.listener!({
    type: "ike",
    data: new Uint8Array([1]),
    remote: new Uint8Array([198, 51, 100, 7]),
    remotePort: 31000,
    localPort: 4500,
    local: new Uint8Array([192, 0, 2, 10]),
  });
  assert.deepEqual(locals, ["192.0.2.10"]);
  // Packet info only while a family has several addresses.
  fake.calls = [];
  await a.setLocalAddresses(["192.0.2.9"]);
  await a.setLocalAddresses(["192.0.2.9", "192.0.2.10", "2001:db8::1"]);
  await a.setLocalAddresses(["192.0.2.9", "192.0.2.10", "2001:db8::1"]);
  await a.setLocalAddresses(["2001:db8::1", "2001:db8::2"]);
  assert.deepEqual(fake.calls, [
    "setPacketInfo 4 true",
    "setPacketInfo 4 false",
    "setPacketInfo 6 true",
  ]);

  fake.sendResult = false;
  await assert.rejects(
    () => a.sendIke(new Uint8Array([9]), { address: "198.51.100.7", port: 31000 }, false),
    /sending IKE to 198\.51\.100\.7\[31000\] from port 4500 failed/,
  );
  await a.close();
});

Deno.test("UserspaceDataplaneAdapter: updateSa maps src/dst and UDP ports onto our side and the peer's", async () => {
  const { a, fake } = await adapter();
  const base = { kind: "updateSa", ikeSaId: 1, childSaId: 2, protocol: "esp" } as const;
  await a.updateSa({
    ...base,
    direction: "out",
    spi: 0x1001,
    src: "192.0.2.1",
    dst: "198.51.100.7",
    encap: { srcPort: 4500, dstPort: 31000 },
  });
  await a.updateSa({
    ...base,
    direction: "in",
    spi: 0x2002,
    src: "198.51.100.7",
    dst: "192.0.2.1",
    encap: { srcPort: 31000, dstPort: 4500 },
  });
  assert.deepEqual(fake.calls, [
    "updateSa out esp 1001 local 192.0.2.1:4500 remote 198.51.100.7:31000",
    "updateSa in esp 2002 local 192.0.2.1:4500 remote 198.51.100.7:31000",
  ]);
  await a.close();
});

/** What the Worker's SPD (entries plus instances) decides for a packet to `dst`. */
function decide(fake: RecordingDataplane, dst: string): string {
  const spd = new Spd(fake.policies ?? []);
  for (const i of fake.instances.values()) spd.addInstance(i.index, i.selectors);
  const d = spd.lookupOutbound(
    packetTuple({ src: "10.1.0.1", dst, protocol: 1, direction: "outbound" }),
  );
  if (d.action !== "protect") return d.action;
  return `protect ${d.entry?.label}${d.instance !== undefined ? " instance" : ""}`;
}

/*
 * Gateway: the named entry "rw/intranet" (Name *@company.com, remote PFP)
 * never matches packets itself; each client's outbound SA adds a concrete
 * entry 10.1.0.0/16 -> its virtual IP for as long as that SA exists.
 */
Deno.test("UserspaceDataplaneAdapter: a road-warrior gateway's clients each get a policy for their SA", async () => {
  const { a, fake, logs } = await adapter(gatewaySpd());
  const base = fake.policies!.length;
  assert.equal(decide(fake, "10.3.0.1"), "discard");

  await a.installSa(clientSa(1, "in", 0xc001));
  await a.installSa(clientSa(1, "out", 0xa001));
  await a.installSa(clientSa(2, "out", 0xa002));
  // The configured list stays; each client SA adds one instance (no SPD rewrite).
  assert.equal(fake.policies!.length, base);
  assert.deepEqual([...fake.instances.keys()], [`esp:${0xa001}`, `esp:${0xa002}`]);
  assert.equal(decide(fake, "10.3.0.1"), "protect rw/intranet instance");
  assert.equal(decide(fake, "10.3.0.2"), "protect rw/intranet instance");
  assert.equal(decide(fake, "10.3.0.3"), "discard");
  assert.equal(decide(fake, "10.2.0.1"), "discard");
  // `ipsec spd` shows what is enforced: each client's instance just before the named entry.
  const table = a.spdTable();
  const at = (remote: string) => table.findIndex((r) => r.remote === remote);
  const named = table.findIndex((r) => String(r.name) === "*@company.com");
  assert.ok(named > 0, JSON.stringify(table));
  const row = table[at("10.3.0.1")];
  assert.deepEqual(
    [row.label, row.local, row.remote, row.name, row.action],
    ["rw/intranet 10.3.0.1", "10.1.0.0/16", "10.3.0.1", "", "PROTECT"],
  );
  // The client's outer address, not the named entry's "dynamic".
  assert.match(String(row.processing), /^ESP tunnel 192\.0\.2\.1->192\.0\.2\.2 /);
  assert.ok(at("10.3.0.1") < named && at("10.3.0.2") < named);
  // An instance's policy comes after its SA, and goes before it.
  assert.deepEqual(fake.order.slice(1, 4), [
    "installSa in c001",
    "installSa out a001",
    `addPolicyInstance esp:${0xa001}`,
  ]);

  // A rekeyed SA of client 1 (installed before the old one goes) keeps the policy.
  await a.installSa(clientSa(1, "out", 0xa011));
  await a.removeSa(removeOut(1, 0xa001));
  assert.equal(decide(fake, "10.3.0.1"), "protect rw/intranet instance");
  assert.deepEqual(fake.order.slice(-2), [
    `removePolicyInstance esp:${0xa001}`,
    "removeSa out a001",
  ]);

  // Client 1 leaves: traffic to its address is discarded, not acquired.
  await a.removeSa(removeOut(1, 0xa011));
  assert.equal(decide(fake, "10.3.0.1"), "discard");
  assert.equal(decide(fake, "10.3.0.2"), "protect rw/intranet instance");
  const acquired: string[] = [];
  a.onAcquire((x) => acquired.push(x.connectionName));
  const index = fake.policies!.findIndex((e) => e.name !== undefined);
  fake.listener!({
    type: "acquire",
    policyIndex: index,
    label: fake.policies![index].label,
    instance: true,
    src: "10.1.0.1",
    dst: "10.3.0.2",
    protocol: 1,
    srcPort: 0,
    dstPort: 0,
  });
  assert.deepEqual(acquired, []);
  assert.ok(
    logs.some((l) => /no SA for rw\/intranet \(10\.1\.0\.1 -> 10\.3\.0\.2/.test(l)),
    logs.join("\n"),
  );
  await a.close();
});

Deno.test("UserspaceDataplaneAdapter: site-to-site SAs add no policies", async () => {
  const { a, fake } = await adapter(buildSpdEntries(parseConfig(`
connections:
  rw:
    local_addrs: 192.0.2.1
    remote_addrs: 192.0.2.2
    local: { auth: psk, id: a.example }
    remote: { auth: psk, id: b.example }
    children:
      intranet: { local_ts: 10.1.0.0/16, remote_ts: 10.2.0.0/16 }
secrets:
  s: { secret: "0123456789abcdef" }
`)));
  const before = fake.policies!.length;
  await a.installSa(clientSa(1, "out", 0xa001));
  assert.equal(fake.policies!.length, before);
  assert.deepEqual(fake.order, [`setPolicies ${before} +0`, "installSa out a001"]);
  await a.close();
});

Deno.test("UserspaceDataplaneAdapter: inbound guard warnings are logged once, not per policy change", async () => {
  const { a, fake, logs } = await adapter(gatewaySpd());
  fake.inboundGuard = { rules: [], protoBlock: [], warnings: ["ICMP type 8 widened to ICMP"] };
  const reload = () =>
    a.configure(
      { engine: { connections: [] }, spd: gatewaySpd(), dataplane: {} } as RuntimePayload,
    );
  await reload();
  await a.installSa(clientSa(1, "out", 0xa001));
  await reload();
  // A reload hands over the clients' instances with the new list, in one message.
  assert.match(fake.order.at(-1)!, /^setPolicies \d+ \+1$/);
  assert.equal(fake.instances.size, 1);
  await a.installSa(clientSa(2, "out", 0xa002));
  await reload();
  const warned = logs.filter((l) => l === "inbound guard: ICMP type 8 widened to ICMP");
  assert.equal(warned.length, 1, logs.join("\n"));
  await a.close();
});

Deno.test("UserspaceDataplaneAdapter: a reload that changes udp_offload says it waits for the next start", async () => {
  const { a, logs } = await adapter();
  const reload = (udpOffload: boolean) =>
    a.configure(
      { engine: { connections: [] }, spd: [], dataplane: { udpOffload } } as RuntimePayload,
    );
  await reload(false);
  assert.ok(!logs.some((l) => l.includes("udp_offload")), logs.join("\n"));
  await reload(true);
  assert.ok(
    logs.includes(
      "udp_offload: yes takes effect at the next 'ipsec start' (the data plane keeps udp_offload: no until then)",
    ),
    logs.join("\n"),
  );
  await a.close();
});
