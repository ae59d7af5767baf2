/**
 * NAT traversal end to end (tests/netns/e2e_natt_test.ts): our daemon on
 * both ends, ESP carried in UDP 4500 (RFC 3948), checked on the wire with
 * tshark (an independent dissector).
 *
 * ```
 * "encap":  ns a: lo 10.1.0.1  va 192.0.2.1 <== veth ==> vb 192.0.2.2  lo 10.2.0.1 :ns b
 *           both sides `encap: yes` (no NAT: encapsulation is forced)
 *
 * "nat":    ns a (client)            ns r (NAT router)                 ns b (gateway)
 *           lo 10.1.0.1              ra 172.16.0.1   rb 198.51.100.1   lo 10.2.0.1
 *           va 172.16.0.2 <=veth=>   MASQUERADE out of rb   <=veth=>   vb 198.51.100.2
 *           a: no local_addrs (route source), NAT detected, IKE floats to 4500
 *           b: no local_addrs, no remote_addrs (road-warrior responder on the wildcard)
 * ```
 *
 * Both daemons and the CLI run from the bundle, as users run them
 * (tests/helpers/build_bundle.ts). Captures run on b's interface: that is
 * where ESP must be inside UDP.
 * Everything (daemons, capture, namespaces, temp files) is removed in
 * `finally`.
 *
 * @module
 */
import { testBundle } from "../helpers/build_bundle.ts";
import { tcpTransfer } from "../helpers/interop_traffic.ts";
import { NetnsLab, run, type RunResult } from "../helpers/netns.ts";
import { drain, startCapture, waitUntil } from "./_tunnel.ts";

/** Which topology. */
export type NattKind = "encap" | "nat";

/** What happened. */
export interface NattReport {
  /** Pings a -> b and b -> a through the tunnel. */
  readonly pingAB: RunResult;
  readonly pingBA: RunResult;
  /** The TCP transfer a -> b: null when b got the same bytes (SHA-256), else why not. */
  readonly transferError: string | null;
  /**
   * tshark rows on b's interface (ESP, UDP, ICMP, TCP): [ip.proto, ip.src,
   * ip.dst, udp.srcport, udp.dstport, esp.spi].
   */
  readonly rows: string[][];
  /** `ipsec list-sas --json` of each side after the pings (before the TCP transfer). */
  readonly sasA: IkeSaJson[];
  readonly sasB: IkeSaJson[];
  /**
   * "nat" only: after the NAT forgot its mappings (conntrack -F), a second
   * ping a -> b and b's list-sas (the client's new port); null without the
   * conntrack tool.
   */
  readonly floated: { readonly ping: RunResult; readonly sasB: IkeSaJson[] } | null;
  /** The daemons' logs (for failure messages). */
  readonly logs: string;
}

/** The part of `ipsec list-sas --json` the tests look at. */
export interface IkeSaJson {
  readonly ike?: { readonly local: string; readonly remote: string; readonly nat: string };
  readonly children: {
    readonly inbound: {
      readonly encap: string;
      readonly packets: string | null;
      readonly src: string;
    } | null;
    readonly outbound: {
      readonly encap: string;
      readonly packets: string | null;
      readonly dst: string;
    } | null;
  }[];
}

function config(o: {
  local?: string;
  /** Absent: any peer (a road-warrior responder). */
  remote?: string;
  net: string;
  peerNet: string;
  id: string;
  peerId: string;
  encap: boolean;
  dpdSeconds?: number;
}): string {
  return `connections:
  site:
${o.local ? `    local_addrs: [${o.local}]\n` : ""}${
    o.remote ? `    remote_addrs: [${o.remote}]\n` : ""
  }    proposals: [aes256gcm16-prfsha384-x25519]
${o.encap ? "    encap: yes\n" : ""}${
    o.dpdSeconds ? `    dpd_delay: ${o.dpdSeconds}s\n` : ""
  }    local:
      auth: psk
      id: ${o.id}
    remote:
      auth: psk
      id: ${o.peerId}
    children:
      net:
        local_ts: [${o.net}]
        remote_ts: [${o.peerNet}]
        esp_proposals: [aes256gcm16]
        start_action: none
secrets:
  psk:
    id: [a.example.org, b.example.org]
    secret: "natt test secret 8d3f"
`;
}

/**
 * Builds the topology, brings the tunnel up from a, pings both ways and
 * sends `transferBytes` over TCP from a to b, capturing on b.
 */
export async function runNattScenario(kind: NattKind, transferBytes: number): Promise<NattReport> {
  const IPSEC = [await testBundle()];
  const lab = await NetnsLab.create("te2e-");
  const dir = await Deno.makeTempDir({ prefix: lab.prefix });
  const logs: Record<string, string> = {};
  const allLogs = () => Object.entries(logs).map(([k, v]) => `--- ${k} ---\n${v}`).join("\n");
  try {
    const a = await lab.addNs("a");
    const b = await lab.addNs("b");
    let aPublic: string; // a's address as b sees it
    let router = "";
    let bAddr: string;
    if (kind === "encap") {
      await lab.veth(a, "va", "192.0.2.1/24", b, "vb", "192.0.2.2/24");
      aPublic = "192.0.2.1";
      bAddr = "192.0.2.2";
    } else {
      router = await lab.addNs("r");
      const r = router;
      await lab.veth(a, "va", "172.16.0.2/24", r, "ra", "172.16.0.1/24");
      await lab.veth(r, "rb", "198.51.100.1/24", b, "vb", "198.51.100.2/24");
      await run(["ip", "-n", a, "route", "add", "default", "via", "172.16.0.1"]);
      // UDP gets new source ports (as carrier-grade NATs do): b must use the mapped ones.
      await lab.masquerade(r, "rb", "20000-29999");
      aPublic = "198.51.100.1";
      bAddr = "198.51.100.2";
    }
    await run(["ip", "-n", a, "addr", "add", "10.1.0.1/32", "dev", "lo"]);
    await run(["ip", "-n", b, "addr", "add", "10.2.0.1/32", "dev", "lo"]);
    const encap = kind === "encap";
    const files = {
      a: {
        config: `${dir}/a.yaml`,
        socket: `${dir}/a.sock`,
        text: config({
          // Behind the NAT, a has no local_addrs: the daemon must use its route source.
          ...(encap ? { local: "192.0.2.1" } : {}),
          remote: bAddr,
          net: "10.1.0.0/24",
          peerNet: "10.2.0.0/24",
          id: "a.example.org",
          peerId: "b.example.org",
          encap,
          // Liveness checks from the client carry its new NAT mapping to b (port floating).
          ...(encap ? {} : { dpdSeconds: 2 }),
        }),
      },
      b: {
        config: `${dir}/b.yaml`,
        socket: `${dir}/b.sock`,
        text: config({
          // Behind the NAT, b listens on the wildcard and accepts the client from any
          // address (road warrior): its own address is the route source too.
          ...(encap ? { local: bAddr, remote: aPublic } : {}),
          net: "10.2.0.0/24",
          peerNet: "10.1.0.0/24",
          id: "b.example.org",
          peerId: "a.example.org",
          encap,
        }),
      },
    };
    const cli = (side: "a" | "b", args: string[]) =>
      run([...IPSEC, ...args, "--socket", files[side].socket]);
    for (const [side, ns] of [["b", b], ["a", a]] as const) {
      await Deno.writeTextFile(files[side].config, files[side].text);
      const child = lab.spawnIn(ns, [
        ...IPSEC,
        "start",
        "--foreground",
        "--config",
        files[side].config,
        "--socket",
        files[side].socket,
        "--log-level",
        "debug",
      ]);
      logs[side] = "";
      let exited = false;
      void drain(child.stdout, (s) => logs[side] += s);
      void drain(child.stderr, (s) => logs[side] += s);
      void child.status.then(() => exited = true);
      await waitUntil(`the daemon in ${ns}`, async () => {
        if (exited) throw new Error(`daemon ${side} exited:\n${logs[side]}`);
        return (await cli(side, ["status"])).code === 0;
      });
    }

    // Capture on b's side of the wire: ESP must arrive inside UDP 4500.
    const capture = startCapture(lab, b, "vb", "udp or esp or icmp or tcp", [
      "ip.proto",
      "ip.src",
      "ip.dst",
      "udp.srcport",
      "udp.dstport",
      "esp.spi",
    ]);
    const rows = capture.rows;
    // tshark reports "Capturing" before it really captures: probe until it sees a ping.
    await waitUntil("tshark to capture", async () => {
      await lab.runIn(a, ["ping", "-c", "1", "-W", "1", bAddr]);
      return rows.some((f) => f[0] === "1" && f[2] === bAddr);
    }, 50);

    const up = await cli("a", ["up", "site", "--timeout", "20"]);
    if (up.code !== 0) throw new Error(`ipsec up failed: ${up.stdout}${up.stderr}\n${allLogs()}`);
    const pingAB = await lab.runIn(a, ["ping", "-c", "3", "-W", "2", "-I", "10.1.0.1", "10.2.0.1"]);
    const pingBA = await lab.runIn(b, ["ping", "-c", "3", "-W", "2", "-I", "10.2.0.1", "10.1.0.1"]);
    // The SAs as the pings left them (their counters count exactly the 6 echoes each way).
    const sas = async (side: "a" | "b") =>
      JSON.parse((await cli(side, ["list-sas", "--json"])).stdout || "[]") as IkeSaJson[];
    const sasA = await sas("a");
    const sasB = await sas("b");
    const transferError = await tcpTransfer(
      lab,
      { ns: a, ip: "10.1.0.1" },
      { ns: b, ip: "10.2.0.1" },
      transferBytes,
    ).then(() => null, (e: Error) => e.message);
    // At least one ESP packet per echo and per 1500 bytes of the stream.
    const least = 12 + Math.ceil(transferBytes / 1500);
    await waitUntil(
      "tshark to report ESP",
      () => Promise.resolve(rows.filter((f) => f[5]).length >= least),
      50,
    ).catch(() => {});
    await capture.stop();
    let floated: NattReport["floated"] = null;
    if (kind === "nat") {
      // The NAT reboots (forgets every mapping): a's next datagrams get new ports.
      const flush = await lab.runIn(router, ["conntrack", "-F"]);
      if (flush.code === 0) {
        const ping = await lab.runIn(a, [
          "ping",
          "-c",
          "12",
          "-i",
          "0.5",
          "-W",
          "1",
          "-I",
          "10.1.0.1",
          "10.2.0.1",
        ]);
        floated = { ping, sasB: await sas("b") };
      }
    }
    for (const side of ["a", "b"] as const) await cli(side, ["stop"]);
    return { pingAB, pingBA, transferError, rows, sasA, sasB, floated, logs: allLogs() };
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${allLogs()}`);
  } finally {
    await lab.cleanup();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
