import assert from "node:assert/strict";
import { ipToBytes } from "../../lib/db/address.ts";
import type { TrafficSelector } from "../../lib/db/narrow.ts";
import { parseAddressSelector } from "../../lib/db/selector.ts";
import type { EngineEvent, SaInstall } from "../../lib/ikev2/effects.ts";
import {
  execScript,
  interfaceOfAddress,
  type ScriptExec,
  scriptProblem,
  tsSubnet,
  type UpdownEnv,
  updownEnvironments,
  UpdownRunner,
  type UpdownSa,
  UpdownTracker,
} from "../../lib/daemon/updown.ts";

/** A traffic selector from `10.1.0.0/16`, `10.0.0.1-10.0.0.6` or an address. */
function ts(text: string, ipProtocol = 0, ports: [number, number] = [0, 65535]): TrafficSelector {
  const a = parseAddressSelector(text);
  if (a.kind !== "range") throw new Error(text);
  const bytes = (v: number | bigint) =>
    a.version === 4
      ? ipToBytes({ version: 4, value: Number(v) })
      : ipToBytes({ version: 6, value: BigInt(v) });
  return {
    ipVersion: a.version,
    ipProtocol,
    startPort: ports[0],
    endPort: ports[1],
    startAddress: bytes(a.start),
    endAddress: bytes(a.end),
  };
}

const BASE: UpdownSa = {
  up: true,
  childName: "net",
  interfaceName: "ipsec0",
  reqid: 7,
  protocol: "esp",
  uniqueId: 3,
  me: "192.0.2.1",
  peer: "198.51.100.1",
  myId: "gw-a.example.com",
  peerId: "gw-b.example.com",
  localTs: [ts("10.1.0.0/16")],
  remoteTs: [ts("10.2.0.0/16")],
  myVirtualIps: [],
  peerVirtualIps: [],
  dns: [],
};

Deno.test("updownEnvironments(): IPv4 subnets give up-client with charon's names", () => {
  assert.deepStrictEqual(updownEnvironments(BASE), [{
    PLUTO_VERSION: "1.1",
    PLUTO_VERB: "up-client",
    PLUTO_CONNECTION: "net",
    PLUTO_INTERFACE: "ipsec0",
    PLUTO_REQID: "7",
    PLUTO_PROTO: "esp",
    PLUTO_UNIQUEID: "3",
    PLUTO_ME: "192.0.2.1",
    PLUTO_MY_ID: "gw-a.example.com",
    PLUTO_MY_CLIENT: "10.1.0.0/16",
    PLUTO_MY_PORT: "0",
    PLUTO_MY_PROTOCOL: "0",
    PLUTO_PEER: "198.51.100.1",
    PLUTO_PEER_ID: "gw-b.example.com",
    PLUTO_PEER_CLIENT: "10.2.0.0/16",
    PLUTO_PEER_PORT: "0",
    PLUTO_PEER_PROTOCOL: "0",
  }]);
  const [down] = updownEnvironments({ ...BASE, up: false, protocol: "ah" });
  assert.equal(down.PLUTO_VERB, "down-client");
  assert.equal(down.PLUTO_PROTO, "ah");
});

Deno.test("updownEnvironments(): one run per same-family TS pair, -v6 for IPv6 selectors", () => {
  const envs = updownEnvironments({
    ...BASE,
    localTs: [ts("10.1.0.0/16"), ts("2001:db8:1::/48")],
    remoteTs: [ts("10.2.0.0/16", 6, [443, 443]), ts("2001:db8:2::/64")],
  });
  assert.deepStrictEqual(
    envs.map((e) => [e.PLUTO_VERB, e.PLUTO_MY_CLIENT, e.PLUTO_PEER_CLIENT, e.PLUTO_PEER_PROTOCOL]),
    [
      ["up-client", "10.1.0.0/16", "10.2.0.0/16", "6"],
      ["up-client-v6", "2001:db8:1::/48", "2001:db8:2::/64", "0"],
    ],
  );
  assert.equal(envs[0].PLUTO_PEER_PORT, "443");
  assert.equal(envs[0].PLUTO_MY_PORT, "0");
  const [down6] = updownEnvironments({
    ...BASE,
    up: false,
    localTs: [ts("2001:db8:1::/48")],
    remoteTs: [ts("2001:db8:2::/64")],
  });
  assert.equal(down6.PLUTO_VERB, "down-client-v6");
});

Deno.test("updownEnvironments(): a selector of exactly our address is -host (transport)", () => {
  const [v4] = updownEnvironments({
    ...BASE,
    localTs: [ts("192.0.2.1/32")],
    remoteTs: [ts("198.51.100.1/32")],
  });
  assert.equal(v4.PLUTO_VERB, "up-host");
  assert.equal(v4.PLUTO_MY_CLIENT, "192.0.2.1/32");
  const [v6] = updownEnvironments({
    ...BASE,
    up: false,
    me: "2001:db8::1",
    peer: "2001:db8::2",
    localTs: [ts("2001:db8::1")],
    remoteTs: [ts("2001:db8::2")],
  });
  assert.equal(v6.PLUTO_VERB, "down-host-v6");
  assert.equal(v6.PLUTO_MY_CLIENT, "2001:db8::1/128");
  // A subnet holding our address is still a client.
  const [net] = updownEnvironments({ ...BASE, localTs: [ts("192.0.2.0/24")] });
  assert.equal(net.PLUTO_VERB, "up-client");
});

Deno.test("updownEnvironments(): virtual IPs, UDP encapsulation and DNS servers", () => {
  const [env] = updownEnvironments({
    ...BASE,
    localTs: [ts("10.3.0.5/32")],
    remoteTs: [ts("0.0.0.0/0")],
    myVirtualIps: ["10.3.0.5", "2001:db8:3::5"],
    udpEncapPort: 4500,
    dns: ["10.2.0.53", "2001:db8:2::53", "10.2.0.54"],
  });
  assert.equal(env.PLUTO_VERB, "up-client");
  assert.equal(env.PLUTO_MY_SOURCEIP, "10.3.0.5");
  assert.equal(env.PLUTO_MY_SOURCEIP4_1, "10.3.0.5");
  assert.equal(env.PLUTO_MY_SOURCEIP6_1, "2001:db8:3::5");
  assert.equal(env.PLUTO_PEER_CLIENT, "0.0.0.0/0");
  assert.equal(env.PLUTO_UDP_ENC, "4500");
  assert.equal(env.PLUTO_DNS4_1, "10.2.0.53");
  assert.equal(env.PLUTO_DNS4_2, "10.2.0.54");
  assert.equal(env.PLUTO_DNS6_1, "2001:db8:2::53");
  assert.equal(env.PLUTO_PEER_SOURCEIP, undefined);
  // The gateway's side: the peer's virtual IP, no UDP encapsulation.
  const [gw] = updownEnvironments({ ...BASE, peerVirtualIps: ["10.3.0.5"] });
  assert.equal(gw.PLUTO_PEER_SOURCEIP, "10.3.0.5");
  assert.equal(gw.PLUTO_PEER_SOURCEIP4_1, "10.3.0.5");
  assert.equal(gw.PLUTO_MY_SOURCEIP, undefined);
  assert.equal(gw.PLUTO_UDP_ENC, undefined);
  assert.equal(gw.PLUTO_DNS4_1, undefined);
});

Deno.test("tsSubnet(): a range is shown as the smallest prefix holding it; ICMP ports", () => {
  assert.equal(tsSubnet(ts("10.0.0.1-10.0.0.6")), "10.0.0.0/29");
  assert.equal(tsSubnet(ts("0.0.0.0/0")), "0.0.0.0/0");
  assert.equal(tsSubnet(ts("::/0")), "::/0");
  // ICMP: type in MY_PORT, code in PEER_PORT (charon packs them into the from port).
  const [icmp] = updownEnvironments({
    ...BASE,
    localTs: [ts("10.1.0.0/16", 1, [0x0800, 0x08ff])],
    remoteTs: [ts("10.2.0.0/16", 1, [0, 65535])],
  });
  assert.deepStrictEqual([icmp.PLUTO_MY_PORT, icmp.PLUTO_PEER_PORT], ["8", "0"]);
  const [range] = updownEnvironments({
    ...BASE,
    remoteTs: [ts("10.2.0.0/16", 17, [5000, 5100])],
  });
  assert.equal(range.PLUTO_PEER_PORT, "5000:5100");
});

function install(childSaId: number, direction: "in" | "out", encap = false): SaInstall {
  const inbound = direction === "in";
  return {
    ikeSaId: 1,
    childSaId,
    childName: "net",
    connectionName: "site",
    protocol: "esp",
    mode: "tunnel",
    direction,
    spi: 0x1000 + childSaId,
    src: inbound ? "198.51.100.1" : "192.0.2.1",
    dst: inbound ? "192.0.2.1" : "198.51.100.1",
    esn: false,
    localTs: [ts("10.1.0.0/16")],
    remoteTs: [ts("10.2.0.0/16")],
    lifetimes: {
      softSeconds: 0,
      hardSeconds: 0,
      softBytes: 0n,
      hardBytes: 0n,
      softPackets: 0n,
      hardPackets: 0n,
    },
    ...(encap
      ? { encap: inbound ? { srcPort: 4501, dstPort: 4500 } : { srcPort: 4500, dstPort: 4501 } }
      : {}),
    tfcPadding: true,
  };
}

const up = (childSaId: number, rekeyOf?: number): Extract<EngineEvent, { type: "child-up" }> => ({
  type: "child-up",
  ikeSaId: 1,
  childSaId,
  childName: "net",
  spiIn: 1,
  spiOut: 2,
  ...(rekeyOf !== undefined ? { rekeyOf } : {}),
});
const down = (childSaId: number): Extract<EngineEvent, { type: "child-down" }> => ({
  type: "child-down",
  ikeSaId: 1,
  childSaId,
  childName: "net",
  reason: "x",
});
const IKE = {
  interfaceName: "ipsec0",
  myId: "a",
  peerId: "b",
  myVirtualIps: [],
  peerVirtualIps: [],
  dns: [],
};
const script = () => "/x/updown.sh";

Deno.test("UpdownTracker: a rekey (and a lost collision) joins the session; the last one out runs down", () => {
  const t = new UpdownTracker();
  t.installed(install(1, "in", true));
  t.installed(install(1, "out", true));
  const s = t.up(up(1), script, () => IKE);
  assert.ok(s);
  assert.equal(s.reqid, 1);
  assert.equal(s.script, "/x/updown.sh");
  assert.equal(s.sa.me, "192.0.2.1");
  assert.equal(s.sa.peer, "198.51.100.1");
  assert.equal(s.sa.udpEncapPort, 4501, "the peer's NAT-T port");
  // Rekey: 2 replaces 1; a collision's 3 replaces 1 too and is deleted.
  t.installed(install(2, "in"));
  assert.equal(t.up(up(2, 1), script, () => IKE), null);
  t.installed(install(3, "in"));
  assert.equal(t.up(up(3, 1), script, () => IKE), null);
  assert.equal(t.down(down(3)), null);
  assert.equal(t.down(down(1)), null);
  assert.equal(t.down(down(2)), s, "the last child SA of the session ran down");
  assert.equal(t.down(down(2)), null, "once");
  // No script: nothing runs, ever.
  t.installed(install(4, "in"));
  assert.equal(t.up(up(4), () => undefined, () => IKE), null);
  assert.equal(t.down(down(4)), null);
  // MOBIKE and IKE rekeys keep the session current.
  t.installed(install(5, "in", true));
  const m = t.up(up(5), script, () => IKE)!;
  t.ikeUpdated(1, "192.0.2.9", { address: "198.51.100.9", port: 4600 });
  t.ikeRekeyed(1, 8);
  assert.deepStrictEqual([m.sa.me, m.sa.peer, m.sa.udpEncapPort, m.sa.uniqueId], [
    "192.0.2.9",
    "198.51.100.9",
    4600,
    8,
  ]);
});

Deno.test("UpdownRunner: per session in order (down never overtakes up), output logged, exit status warned", async () => {
  const log: string[] = [];
  const ran: string[] = [];
  const releases: (() => void)[] = [];
  const exec: ScriptExec = async (path, env) => {
    ran.push(`${env.PLUTO_VERB}#${env.PLUTO_REQID}`);
    if (env.PLUTO_VERB === "up-client" && env.PLUTO_REQID === "1") {
      await new Promise<void>((r) => releases.push(r));
    }
    if (path === "/missing") throw new Deno.errors.NotFound("no such file");
    return {
      code: env.PLUTO_VERB.startsWith("down") ? 3 : 0,
      output: `hello ${env.PLUTO_VERB}\n${"x".repeat(500)}\n`,
    };
  };
  const r = new UpdownRunner((level, m) => log.push(`${level} ${m}`), exec);
  const env = (verb: string, reqid: number): UpdownEnv => ({
    PLUTO_VERB: verb,
    PLUTO_REQID: String(reqid),
    PLUTO_CONNECTION: "net",
  });
  void r.enqueue(1, "/s", [env("up-client", 1)]);
  void r.enqueue(1, "/s", [env("down-client", 1)]);
  void r.enqueue(2, "/s", [env("up-client", 2)]);
  while (ran.length < 2) await new Promise((res) => setTimeout(res, 0));
  // Session 2 ran while session 1's up still runs; session 1's down waits.
  assert.deepStrictEqual(ran, ["up-client#1", "up-client#2"]);
  releases.forEach((f) => f());
  await r.idle();
  assert.deepStrictEqual(ran, ["up-client#1", "up-client#2", "down-client#1"]);
  assert.ok(log.includes("info updown: hello down-client"));
  assert.ok(log.some((l) => l.startsWith("info updown: xxx") && l.length < 260), "truncated");
  assert.ok(log.includes("warn updown down-client net{1}: '/s' exited with status 3"));
  await r.enqueue(3, "/missing", [env("up-client", 3)]);
  assert.match(
    log.at(-1)!,
    /^error updown up-client net\{3\}: could not run '\/missing': .*does not exist/,
  );
});

Deno.test("execScript(): no shell, no arguments, only PATH and the PLUTO_* environment", async () => {
  const dir = await Deno.makeTempDir({ prefix: "updown_exec_" });
  try {
    const path = `${dir}/updown.sh`;
    await Deno.writeTextFile(
      path,
      '#!/bin/sh\necho "args=$#"; env | sort; echo oops >&2; exit 4\n',
    );
    assert.match(scriptProblem(path) ?? "", /is not executable/);
    await Deno.chmod(path, 0o755);
    assert.equal(scriptProblem(path), null);
    assert.match(scriptProblem(`${dir}/nope`) ?? "", /does not exist/);
    const r = await execScript(path, { PLUTO_VERB: "up-client", PLUTO_CONNECTION: "a b;$(x)" });
    assert.equal(r.code, 4);
    const lines = r.output.trim().split("\n");
    assert.equal(lines[0], "args=0");
    assert.ok(lines.includes("PLUTO_VERB=up-client"));
    assert.ok(lines.includes("PLUTO_CONNECTION=a b;$(x)"), "values reach the script verbatim");
    assert.ok(lines.includes("oops"), "stderr captured");
    const names = lines.slice(1).filter((l) => l.includes("=")).map((l) => l.split("=")[0]);
    assert.deepStrictEqual(
      names.filter((n) => !n.startsWith("PLUTO_") && !["PATH", "PWD", "SHLVL", "_"].includes(n)),
      [],
      "nothing of the daemon's environment leaks",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("interfaceOfAddress(): the interface holding our outer address, IPv4 and IPv6 in any spelling", () => {
  const list = [
    { name: "lo", address: "127.0.0.1" },
    { name: "eth0", address: "192.0.2.1" },
    { name: "eth0", address: "fe80::1%eth0" },
    { name: "eth1", address: "2001:db8:0:0::7" },
  ];
  assert.equal(interfaceOfAddress("192.0.2.1", list), "eth0");
  assert.equal(interfaceOfAddress("2001:db8::7", list), "eth1");
  assert.equal(interfaceOfAddress("fe80::1", list), "eth0");
  assert.equal(interfaceOfAddress("192.0.2.9", list), undefined);
  assert.equal(interfaceOfAddress("not an address", list), undefined);
});

Deno.test("updownEnvironments(): PLUTO_XAUTH_ID is the peer's EAP identity when it differs from its IKE id", () => {
  const [eap] = updownEnvironments({ ...BASE, peerEapId: "carol" });
  assert.equal(eap.PLUTO_XAUTH_ID, "carol");
  const [same] = updownEnvironments({ ...BASE, peerEapId: BASE.peerId });
  assert.equal(same.PLUTO_XAUTH_ID, undefined);
  assert.equal(updownEnvironments(BASE)[0].PLUTO_XAUTH_ID, undefined);
});
