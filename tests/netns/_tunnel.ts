/**
 * The end-to-end scenario shared by `deno task demo` (tests/netns/demo.ts)
 * and tests/netns/e2e_test.ts: two namespaces joined by a veth, our daemon
 * in each, `ipsec up`, a ping through the tunnel, ESP checked on the wire
 * with tshark (an independent dissector), `ipsec down`, `ipsec stop`.
 *
 * ```
 *  ns A: lo 10.1.0.1/32                          ns B: lo 10.2.0.1/32
 *        va 192.0.2.1/24  <====== veth ======>  vb 192.0.2.2/24 (+ 192.0.2.12, unprotected)
 *        daemon (TUN ipsec0)    ESP only here    daemon (TUN ipsec0)
 * ```
 *
 * Tunnel mode protects 10.1.0.0/24 <-> 10.2.0.0/24 (site-to-site); transport
 * mode protects 192.0.2.1 <-> 192.0.2.2 themselves (host-to-host). A ping to
 * 192.0.2.12 is outside every policy: it tells us when tshark really captures.
 *
 * Everything (daemons by PID, capture, namespaces, temp files) is removed
 * in `finally` by {@link NetnsLab.cleanup}.
 *
 * @module
 */
import { DAEMON_PERMISSIONS } from "../../lib/daemon/permissions.ts";
import { NetnsLab, run, type RunResult } from "../helpers/netns.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** How the scenario talks to the user (the demo prints, the test collects). */
export interface Narrator {
  /** A numbered step. */
  step(text: string): void;
  /** Output of a command, indented. */
  show(text: string): void;
}

/** Options of {@link runTunnelScenario}. */
export interface TunnelOptions {
  /** Namespace prefix: "tdemo-" or "te2e-". */
  readonly prefix: string;
  readonly narrator: Narrator;
  /** Run `dist/ipsec` (the bundle, as users do) instead of cli/main.ts from source. */
  readonly bundle?: boolean;
  /** Pings to send through the tunnel (default 3). */
  readonly pings?: number;
  /** Tunnel (site-to-site, default) or transport (host-to-host) mode. */
  readonly mode?: "tunnel" | "transport";
  /** ESP (default) or AH for the child SA. */
  readonly ipsec?: "esp" | "ah";
  /** Start A with the road-warrior shortcut `ipsec up NAME --config FILE` (no separate start). */
  readonly upWithConfig?: boolean;
}

/** What happened; the demo and the test decide success from it. */
export interface TunnelReport {
  /** `ipsec up` exit code and output. */
  up: RunResult;
  /** The ping through the tunnel. */
  ping: RunResult;
  /** ESP (or AH) packets that tshark saw on the veth (null: no tshark). */
  ipsecPackets: number | null;
  /** ICMP packets between the inner addresses seen in clear on the veth (must be 0). */
  clearIcmp: number | null;
  /** Packets the responder's inbound SA decrypted (from `ipsec sad --json`). */
  inboundPackets: number;
  /** SAs left on A after `ipsec down` (must be 0). */
  sasAfterDown: number;
  /** A ping after `ipsec down`: the data plane's acquire must bring the tunnel back. */
  reacquire: RunResult;
  /** Both daemons exited after `ipsec stop` and their TUNs are gone. */
  stoppedClean: boolean;
}

/** Inner (protected) addresses of each side per mode: ping source and target. */
export function innerAddresses(mode: "tunnel" | "transport"): { a: string; b: string } {
  return mode === "tunnel" ? { a: "10.1.0.1", b: "10.2.0.1" } : { a: "192.0.2.1", b: "192.0.2.2" };
}

/** The swanctl-like YAML for one side (PSK, AES-GCM), tunnel or transport mode. */
export function siteConfig(
  side: "a" | "b",
  mode: "tunnel" | "transport" = "tunnel",
  ipsec: "esp" | "ah" = "esp",
): string {
  const me = side === "a"
    ? { addr: "192.0.2.1", net: "10.1.0.0/24", id: "a.example.org" }
    : { addr: "192.0.2.2", net: "10.2.0.0/24", id: "b.example.org" };
  const peer = side === "a"
    ? { addr: "192.0.2.2", net: "10.2.0.0/24", id: "b.example.org" }
    : { addr: "192.0.2.1", net: "10.1.0.0/24", id: "a.example.org" };
  const [localTs, remoteTs] = mode === "tunnel" ? [me.net, peer.net] : ["dynamic", "dynamic"];
  return `# deno-ipsec demo: ${
    mode === "tunnel" ? "site-to-site tunnel" : "host-to-host transport"
  }, side ${side.toUpperCase()}
connections:
  site:
    local_addrs: [${me.addr}]
    remote_addrs: [${peer.addr}]
    proposals: [aes256gcm16-prfsha384-x25519]
    local:
      auth: psk
      id: ${me.id}
    remote:
      auth: psk
      id: ${peer.id}
    children:
      net:
        mode: ${mode}
        local_ts: [${localTs}]
        remote_ts: [${remoteTs}]
        ${ipsec === "esp" ? "esp_proposals: [aes256gcm16-x25519]" : "ah_proposals: [sha256-x25519]"}
        start_action: none
secrets:
  site-psk:
    id: [a.example.org, b.example.org]
    secret: "demo secret, change me: 4f1c0a7e"
`;
}

function ipsecCommand(bundle: boolean): string[] {
  return bundle
    ? [`${ROOT}dist/ipsec`]
    : [Deno.execPath(), "run", ...DAEMON_PERMISSIONS, `${ROOT}cli/main.ts`];
}

/** Feeds a child's output to `sink` as text until it ends. */
export function drain(
  stream: ReadableStream<Uint8Array>,
  sink: (s: string) => void,
): Promise<void> {
  return stream.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (c) => sink(c) }),
  ).catch(() => {});
}

/** Polls `f` every 100 ms until it is true; throws after `tries`. */
export async function waitUntil(
  what: string,
  f: () => Promise<boolean>,
  tries = 150,
): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await f()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** A running tshark: one row of `fields` per packet, appended as they come. */
export interface Capture {
  readonly rows: string[][];
  /** Stops tshark (SIGINT) and waits for it. */
  stop(): Promise<void>;
}

/** Starts tshark on `iface` in `ns` with a capture `filter`, printing `fields`. */
export function startCapture(
  lab: NetnsLab,
  ns: string,
  iface: string,
  filter: string,
  fields: readonly string[],
): Capture {
  const p = lab.spawnIn(ns, [
    "tshark",
    "-l",
    "-n",
    "-i",
    iface,
    "-f",
    filter,
    "-T",
    "fields",
    ...fields.flatMap((f) => ["-e", f]),
  ]);
  const rows: string[][] = [];
  let partial = "";
  void drain(p.stdout, (s) => {
    const parts = (partial + s).split("\n");
    partial = parts.pop() ?? "";
    for (const l of parts) if (l.trim()) rows.push(l.split("\t"));
  });
  void drain(p.stderr, () => {});
  return {
    rows,
    stop: async () => {
      p.kill("SIGINT");
      await p.status;
    },
  };
}

interface Daemon {
  ns: string;
  socket: string;
  /** The foreground daemon process (absent when started detached). */
  child?: Deno.ChildProcess;
  log: () => string;
  exited: () => boolean;
}

/** Counts tshark field rows matching `pred`. */
function count(rows: string[][], pred: (f: string[]) => boolean): number {
  return rows.filter(pred).length;
}

/** Runs the whole scenario; always cleans up. Throws only on harness failures. */
export async function runTunnelScenario(o: TunnelOptions): Promise<TunnelReport> {
  const n = o.narrator;
  const mode = o.mode ?? "tunnel";
  const inner = innerAddresses(mode);
  const proto = o.ipsec ?? "esp";
  const PROTO = proto.toUpperCase();
  const ipProto = proto === "esp" ? "50" : "51";
  const ipsec = ipsecCommand(o.bundle ?? false);
  const lab = await NetnsLab.create(o.prefix);
  const daemons: Daemon[] = [];
  try {
    n.step("create two network namespaces joined by a veth pair");
    const a = await lab.addNs("a");
    const b = await lab.addNs("b");
    await lab.veth(a, "va", "192.0.2.1/24", b, "vb", "192.0.2.2/24");
    await run(["ip", "-n", a, "addr", "add", "10.1.0.1/32", "dev", "lo"]);
    await run(["ip", "-n", b, "addr", "add", "10.2.0.1/32", "dev", "lo"]);
    await run(["ip", "-n", b, "addr", "add", "192.0.2.12/24", "dev", "vb"]);
    n.show(`${a}: va 192.0.2.1/24, lo 10.1.0.1   <-->   ${b}: vb 192.0.2.2/24, lo 10.2.0.1`);

    const dir = await Deno.makeTempDir({ prefix: lab.prefix });
    try {
      const shortcut = o.upWithConfig ?? false;
      n.step(
        shortcut
          ? "start B detached (ipsec start); on A one command starts the daemon and brings the SA up (ipsec up site --config)"
          : "start the daemons: B detached (ipsec start), A in the foreground (ipsec start --foreground)",
      );
      const cli = (args: string[], d: Daemon) => run([...ipsec, ...args, "--socket", d.socket]);
      const files = (side: "a" | "b") => ({
        config: `${dir}/${side}.yaml`,
        socket: `${dir}/${side}.sock`,
      });
      for (const side of ["a", "b"] as const) {
        await Deno.writeTextFile(files(side).config, siteConfig(side, mode, proto));
      }
      const common = (side: "a" | "b") => [
        "--config",
        files(side).config,
        "--socket",
        files(side).socket,
      ];
      {
        // B detached: `ipsec start` returns once the control socket answers. The
        // daemon leaves the process tree; cleanup kills it via `ip netns pids`.
        const logFile = `${dir}/b.log`;
        const r = await lab.runIn(b, [
          ...ipsec,
          "start",
          ...common("b"),
          "--log-level",
          "debug",
          "--log-file",
          logFile,
          "--log-json",
        ]);
        const log = () => {
          try {
            return Deno.readTextFileSync(logFile);
          } catch {
            return "";
          }
        };
        n.show(`${b}: ${(r.stdout + r.stderr).trim()}`);
        if (r.code !== 0) {
          throw new Error(`ipsec start in ${b} exited ${r.code}:\n${r.stderr}\n${log()}`);
        }
        daemons.push({ ns: b, socket: files("b").socket, log, exited: () => false });
        // --log-json: every line of B's log file is one JSON object.
        const first = JSON.parse(log().split("\n")[0]) as { subsystem?: string; message?: string };
        if (first.subsystem === undefined || first.message === undefined) {
          throw new Error(`--log-json wrote something else: ${log()}`);
        }
      }
      const aArgs = shortcut
        ? ["up", "site", ...common("a"), "--timeout", "15"]
        : ["start", "--foreground", ...common("a"), "--log-level", "debug"];
      const child = lab.spawnIn(a, [...ipsec, ...aArgs]);
      let out = "";
      let text = "";
      let done = false;
      void drain(child.stdout, (s) => (out += s, text += s));
      void drain(child.stderr, (s) => text += s);
      void child.status.then(() => done = true);
      const da: Daemon = {
        ns: a,
        socket: files("a").socket,
        child,
        log: () => text,
        exited: () => done,
      };
      daemons.unshift(da);
      n.show(`${a}: ipsec ${aArgs.join(" ")} (pid ${child.pid})`);
      const db = daemons[1];

      let up: RunResult;
      if (shortcut) {
        await waitUntil("ipsec up --config to report the SA", () => {
          if (done) throw new Error(`ipsec up --config in ${a} exited:\n${text}`);
          return Promise.resolve(/established/.test(out));
        });
        up = { code: 0, stdout: out, stderr: "" };
        n.show(out.trim());
      } else {
        await waitUntil(`the daemon in ${a} to answer`, async () => {
          if (done) throw new Error(`daemon in ${a} exited:\n${text}`);
          return (await cli(["status"], da)).code === 0;
        });
        n.step("bring the SA up from A: ipsec up site");
        up = await cli(["up", "site", "--timeout", "15"], da);
        n.show((up.stdout + up.stderr).trim());
      }

      n.step("ipsec status on A");
      n.show((await cli(["status"], da)).stdout.trim());

      n.step(
        `ping ${inner.b} from ${inner.a} through the ${mode}-mode SA, capturing the veth in B`,
      );
      let ipsecPackets: number | null = null;
      let clearIcmp: number | null = null;
      const pings = o.pings ?? 3;
      const haveTshark = (await run(["sh", "-c", "command -v tshark"])).code === 0;
      let capture: Capture | null = null;
      // One line per packet: proto, src, dst, ESP SPI, ESP sequence number.
      let seen: string[][] = [];
      if (haveTshark) {
        capture = startCapture(lab, b, "vb", "esp or ah or icmp", [
          "ip.proto",
          "ip.src",
          "ip.dst",
          `${proto}.spi`,
          `${proto}.sequence`,
        ]);
        seen = capture.rows;
        // "Capturing on" comes before packets are really captured: probe with a
        // plain ping between the outer addresses until tshark reports one.
        await waitUntil("tshark to capture", async () => {
          await lab.runIn(a, ["ping", "-c", "1", "-W", "1", "192.0.2.12"]);
          await new Promise((r) => setTimeout(r, 100));
          return seen.some((f) => f[0] === "1" && f[1] === "192.0.2.1");
        }, 50);
      }
      const ping = await lab.runIn(a, [
        "ping",
        "-c",
        String(pings),
        "-W",
        "2",
        "-I",
        inner.a,
        inner.b,
      ]);
      n.show((ping.stdout + ping.stderr).trim());
      if (capture) {
        const esp = () => seen.filter((f) => f[0] === ipProto);
        await waitUntil(
          `tshark to report the ${PROTO} packets`,
          () => Promise.resolve(esp().length >= 2 * pings),
          30,
        )
          .catch(() => {});
        await capture.stop();
        ipsecPackets = esp().length;
        const protectedPair = (x: string, y: string) =>
          (x === inner.a && y === inner.b) || (x === inner.b && y === inner.a);
        clearIcmp = count(seen, (f) => f[0] === "1" && protectedPair(f[1], f[2]));
        n.show(
          `tshark on vb: ${ipsecPackets} ${PROTO} packets, ${clearIcmp} ICMP packets in clear between them`,
        );
        for (const f of esp()) n.show(`  ${PROTO} ${f[1]} -> ${f[2]} SPI ${f[3]} seq ${f[4]}`);
      } else {
        n.show("tshark not installed: relying on the SA counters only");
      }

      n.step("ipsec sad on B (its inbound SA counted the packets it verified)");
      const sadB = await cli(["sad"], db);
      n.show(sadB.stdout.trim());
      const sadJson = JSON.parse((await cli(["sad", "--json"], db)).stdout || "[]") as {
        direction: string;
        packets: string | null;
      }[];
      const inboundPackets = sadJson.filter((s) => s.direction === "in")
        .reduce((sum, s) => sum + Number(s.packets ?? 0), 0);

      n.step("take the tunnel down: ipsec down site");
      const down = await cli(["down", "site"], da);
      n.show((down.stdout + down.stderr).trim());
      const after = JSON.parse((await cli(["sad", "--json"], da)).stdout || "[]") as unknown[];
      n.show(`SAs left on A: ${after.length}`);

      n.step(
        "ping again without 'ipsec up': the PROTECT policy triggers an acquire and IKE sets the tunnel up again",
      );
      const reacquire = await lab.runIn(a, [
        "ping",
        "-c",
        "2",
        "-W",
        "5",
        "-I",
        inner.a,
        inner.b,
      ]);
      n.show((reacquire.stdout + reacquire.stderr).trim());
      n.show((await cli(["list-sas"], da)).stdout.trim());

      n.step("stop both daemons: ipsec stop");
      let stoppedClean = true;
      for (const d of daemons) {
        const r = await cli(["stop"], d);
        n.show(`${d.ns}: ${(r.stdout + r.stderr).trim()}`);
        const exitedOk = d.child ? (await d.child.status).success : true;
        const tun = await lab.runIn(d.ns, ["ip", "link", "show", "ipsec0"]);
        const left = (await run(["ip", "netns", "pids", d.ns])).stdout.trim();
        if (r.code !== 0 || !exitedOk || tun.code === 0) stoppedClean = false;
        if (left !== "") {
          stoppedClean = false;
          n.show(`${d.ns}: processes still running: ${left}`);
        }
      }
      return {
        up,
        ping,
        ipsecPackets,
        clearIcmp,
        inboundPackets,
        sasAfterDown: after.length,
        reacquire,
        stoppedClean,
      };
    } catch (e) {
      for (const d of daemons) n.show(`--- daemon log ${d.ns} ---\n${d.log().trim()}`);
      throw e;
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  } finally {
    n.step("clean up: kill leftover processes, delete namespaces");
    await lab.cleanup();
  }
}

/** Why the scenario did not show encrypted traffic, or null when it did. */
export function tunnelProblems(r: TunnelReport): string[] {
  const p: string[] = [];
  if (r.up.code !== 0) p.push(`ipsec up exited ${r.up.code}: ${r.up.stderr.trim()}`);
  if (r.ping.code !== 0) p.push("ping through the tunnel got no replies");
  if (r.ipsecPackets !== null && r.ipsecPackets === 0) p.push("no ESP/AH packets on the wire");
  if (r.clearIcmp !== null && r.clearIcmp > 0) {
    p.push(`${r.clearIcmp} ICMP packets leaked in clear`);
  }
  if (r.inboundPackets === 0) p.push("B's inbound SA decrypted no packets");
  if (r.sasAfterDown !== 0) p.push(`${r.sasAfterDown} SAs left after ipsec down`);
  if (r.reacquire.code !== 0) {
    p.push("after ipsec down, traffic did not bring the tunnel back (acquire)");
  }
  if (!r.stoppedClean) p.push("a daemon did not stop cleanly (exit code, or its TUN stayed)");
  return p;
}
