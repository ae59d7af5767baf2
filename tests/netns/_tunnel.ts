/**
 * The end-to-end scenario shared by `deno task demo` (tests/netns/demo.ts)
 * and tests/netns/e2e_*_test.ts: two namespaces joined by a veth, our daemon
 * in each, `ipsec up`, pings both ways and optionally a TCP transfer through
 * the SA, ESP/AH checked on the wire with tshark (an independent dissector),
 * `ipsec down` (SAs, and the routes and addresses the SA added, gone),
 * `ipsec stop` (TUN and routing table gone).
 *
 * ```
 *  ns A: lo 10.1.0.1/32                          ns B: lo 10.2.0.1/32
 *        va 192.0.2.1/24  <====== veth ======>  vb 192.0.2.2/24 (+ 192.0.2.12, unprotected)
 *        daemon (TUN ipsec0)    ESP only here    daemon (TUN ipsec0)
 * ```
 *
 * - tunnel: site-to-site PSK, 10.1.0.0/24 <-> 10.2.0.0/24.
 * - transport: host-to-host PSK, 192.0.2.1 <-> 192.0.2.2 themselves.
 * - roadwarrior: certificates and configurations from `ipsec pki
 *   quickstart`; B runs its gateway config as written (pool 10.10.10.0/24,
 *   `local_ts: [0.0.0.0/0]`, any client of the CA), A its client config
 *   (asks for a virtual IP) narrowed to reach 10.2.0.0/24; traffic runs
 *   between A's virtual IP and 10.2.0.1 on B.
 *
 * A ping to 192.0.2.12 is outside every policy: it tells us when tshark
 * really captures.
 *
 * Everything (daemons by PID, capture, namespaces, temp files) is removed
 * in `finally` by {@link NetnsLab.cleanup}.
 *
 * @module
 */
import { DAEMON_PERMISSIONS } from "../../lib/daemon/permissions.ts";
import { tcpTransfer } from "../helpers/interop_traffic.ts";
import { NetnsLab, run, runOk, type RunResult } from "../helpers/netns.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** How the scenario talks to the user (the demo prints, the test collects). */
export interface Narrator {
  /** A numbered step. */
  step(text: string): void;
  /** Output of a command, indented. */
  show(text: string): void;
}

/** Site-to-site tunnel, host-to-host transport, or road warrior with a virtual IP. */
export type TunnelMode = "tunnel" | "transport" | "roadwarrior";

/** Options of {@link runTunnelScenario}. */
export interface TunnelOptions {
  /** Namespace prefix: "tdemo-" or "te2e-". */
  readonly prefix: string;
  readonly narrator: Narrator;
  /**
   * The `ipsec` command, e.g. `["/tmp/ipsec-bundle-x/ipsec"]` (a bundle's
   * launcher, as users run it). Default: cli/main.ts from source.
   */
  readonly command?: readonly string[];
  /** Pings to send each way through the SA (default 3). */
  readonly pings?: number;
  /** Default "tunnel". */
  readonly mode?: TunnelMode;
  /** ESP (default) or AH for the child SA. */
  readonly protocol?: "esp" | "ah";
  /** Start A with the road-warrior shortcut `ipsec up NAME --config FILE` (no separate start). */
  readonly upWithConfig?: boolean;
  /** Bytes to send over TCP from A to B through the SA, checked by SHA-256 (default none). */
  readonly transferBytes?: number;
}

/** What happened; the demo and the test decide success from it. */
export interface TunnelReport {
  readonly mode: TunnelMode;
  /** `ipsec up` exit code and output. */
  up: RunResult;
  /** The protected addresses the traffic ran between (A's virtual IP in road-warrior mode). */
  inner: { a: string; b: string };
  /** Routes (table 220) and addresses the SA added in A and in B (`ipsec up`). */
  added: { a: string[]; b: string[] };
  /** Road warrior: `ip route get VIP` in the gateway (must name the TUN). */
  gatewayRoute?: string;
  /** Pings A -> B and B -> A through the SA. */
  ping: RunResult;
  pingBack: RunResult;
  /** The TCP transfer's failure (null: the receiver got the same bytes; absent: none sent). */
  transferError?: string | null;
  /** ESP (or AH) packets that tshark saw on the veth (null: no tshark). */
  ipsecPackets: number | null;
  /** ICMP or TCP packets between the inner addresses seen in clear on the veth (must be 0). */
  clearPackets: number | null;
  /** Packets and bytes B's inbound SAs decrypted (from `ipsec sad --json`). */
  inboundPackets: number;
  inboundBytes: number;
  /** SAs (SAD entries) left on A and on B after `ipsec down` (must be 0). */
  sasAfterDown: { a: number; b: number };
  /** IKE SAs (`ipsec list-sas --json`) left on A and on B after `ipsec down` (must be 0). */
  ikeSasAfterDown: { a: number; b: number };
  /**
   * How routes and addresses after `ipsec down` differ from before `ipsec up`
   * ("+ x": left behind, "- x": gone, e.g. a trap route; both must be empty).
   */
  leftAfterDown: string[];
  /** A ping after `ipsec down` must bring the tunnel back through acquire (null: not tried). */
  reacquire: RunResult | null;
  /** Both daemons exited after `ipsec stop` with status 0, no process left. */
  stoppedClean: boolean;
  /** What `ipsec stop` left behind: the TUN, routes in table 220, added addresses. */
  leftAfterStop: string[];
  /** Both daemons' logs (for failure messages). */
  logs: string;
}

/** The routing table the daemon routes protected traffic into the TUN from. */
const TABLE = "220";

/** The virtual IP pool of the road-warrior gateway (the `ipsec pki quickstart` default). */
export const POOL = "10.10.10.0/24";

/**
 * The two sites of the module diagram in `lab`: namespaces A and B joined
 * by the veth va/vb (192.0.2.1/24, 192.0.2.2/24), 10.1.0.1 on A's loopback
 * (unless `siteA` is false: a road-warrior client has only its virtual
 * IP), 10.2.0.1 on B's, and 192.0.2.12 on vb (outside every policy).
 *
 * @example
 * ```ts
 * const { a, b } = await twoSites(lab);
 * ```
 */
export async function twoSites(
  lab: NetnsLab,
  siteA = true,
): Promise<{ a: string; b: string }> {
  const a = await lab.addNs("a");
  const b = await lab.addNs("b");
  await lab.veth(a, "va", "192.0.2.1/24", b, "vb", "192.0.2.2/24");
  if (siteA) await runOk(["ip", "-n", a, "addr", "add", "10.1.0.1/32", "dev", "lo"]);
  await runOk(["ip", "-n", b, "addr", "add", "10.2.0.1/32", "dev", "lo"]);
  await runOk(["ip", "-n", b, "addr", "add", "192.0.2.12/24", "dev", "vb"]);
  return { a, b };
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

/** Identities of the road-warrior scenario (certificates from `ipsec pki quickstart`). */
export const RW_GATEWAY = "gw.example.org";
export const RW_CLIENT = "alice@example.org";

/**
 * The road-warrior client's YAML from the one `ipsec pki quickstart` wrote
 * (`text`), narrowed to this lab: the quickstart client sends everything
 * through the gateway (`remote_ts: [0.0.0.0/0]`) and connects when its
 * daemon starts; here it reaches 10.2.0.0/24 only (the veth itself stays
 * outside the tunnel, so tshark can tell the capture works) and waits for
 * `ipsec up`. The gateway's YAML is used as written.
 */
export function roadWarriorClientConfig(text: string): string {
  const edits: [string, string][] = [
    ["remote_ts: [0.0.0.0/0]", "remote_ts: [10.2.0.0/24]"],
    ["start_action: start", "start_action: none"],
  ];
  for (const [from, to] of edits) {
    if (!text.includes(from)) {
      throw new Error(`the quickstart client config has no '${from}' any more:\n${text}`);
    }
    text = text.replace(from, to);
  }
  return text;
}

function sourceCommand(): string[] {
  return [Deno.execPath(), "run", ...DAEMON_PERMISSIONS, `${ROOT}cli/main.ts`];
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

/** `e` with the daemon log files appended (for a failing test's message). */
export function withLogs(e: unknown, logs: readonly string[]): Error {
  const text = logs.map((l) => {
    try {
      return `--- ${l}\n${Deno.readTextFileSync(l)}`;
    } catch {
      return "";
    }
  }).join("\n");
  return new Error(`${(e as Error).message}\n${text}`);
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
  /** Stops tshark (SIGINT), waits for it and for the rows it printed last. */
  stop(): Promise<void>;
}

/**
 * Starts tshark on `iface` in `ns` with a capture `filter`, printing
 * `fields`. Only the first 128 bytes of each packet are captured (outer
 * headers: enough for IP, ESP, AH, UDP) into a 32 MiB buffer, so a bulk
 * transfer is not dropped by the capture.
 */
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
    "-s",
    "128",
    "-B",
    "32",
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
  const out = drain(p.stdout, (s) => {
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
      await out;
    },
  };
}

interface Daemon {
  ns: string;
  socket: string;
  /** The foreground daemon process (absent when started detached). */
  child?: Deno.ChildProcess;
  log: () => string;
}

/** Counts tshark field rows matching `pred`. */
function count(rows: string[][], pred: (f: string[]) => boolean): number {
  return rows.filter(pred).length;
}

/**
 * Routes in table 220 and addresses of namespace `ns`, one string each
 * ("route 10.2.0.0/24 dev ipsec0", "addr ipsec0 10.10.10.1/32"), IPv4 and
 * IPv6, without link-local addresses.
 */
export async function netState(ns: string): Promise<string[]> {
  const state: string[] = [];
  for (const family of ["-4", "-6"]) {
    const routes = await run(["ip", "-n", ns, "-j", family, "route", "show", "table", TABLE]);
    // An empty or missing table prints nothing (or an error): no routes.
    const list = routes.code === 0 && routes.stdout.trim()
      ? JSON.parse(routes.stdout) as { dst: string; dev?: string; prefsrc?: string }[]
      : [];
    for (const r of list) {
      state.push(`route ${r.dst} dev ${r.dev ?? "-"}${r.prefsrc ? ` src ${r.prefsrc}` : ""}`);
    }
  }
  const addrs = await run(["ip", "-n", ns, "-j", "addr", "show"]);
  const links = JSON.parse(addrs.stdout || "[]") as {
    ifname: string;
    addr_info?: { local: string; prefixlen: number; scope: string }[];
  }[];
  for (const l of links) {
    for (const a of l.addr_info ?? []) {
      if (a.scope !== "link") state.push(`addr ${l.ifname} ${a.local}/${a.prefixlen}`);
    }
  }
  return state;
}

/**
 * The routes A's daemon installs from its configuration before any SA
 * (lib/daemon/runtime.ts: fixed `remote_ts` of tunnel children, the peer of
 * transport children, each with its blackhole backstop), as {@link netState} prints them.
 */
function trapRoutes(mode: TunnelMode): string[] {
  const dst = mode === "transport" ? "192.0.2.2" : "10.2.0.0/24";
  // Each with its fail-closed blackhole behind it (lib/dataplane/dataplane.ts).
  return [`route ${dst} dev ipsec0`, `route ${dst} dev -`];
}

/** Entries of `after` not in `before`. */
function added(before: readonly string[], after: readonly string[]): string[] {
  return after.filter((s) => !before.includes(s));
}

/** What differs: "+ x" for entries only in `after`, "- x" for entries only in `before`. */
function changed(before: readonly string[], after: readonly string[]): string[] {
  return [
    ...added(before, after).map((s) => `+ ${s}`),
    ...added(after, before).map((s) => `- ${s}`),
  ];
}

interface SadRow {
  direction: string;
  packets: string | null;
  bytes: string | null;
}

/** Routes and addresses of both namespaces at one moment. */
interface NetStates {
  a: string[];
  b: string[];
}

/** What every phase of one run shares. */
interface Run {
  readonly o: TunnelOptions;
  readonly n: Narrator;
  readonly lab: NetnsLab;
  readonly mode: TunnelMode;
  /** The connection `ipsec up`/`down` names on A. */
  readonly conn: string;
  readonly proto: "esp" | "ah";
  readonly ipsec: readonly string[];
  /** Configs, certificates, sockets and B's log. */
  readonly dir: string;
  readonly a: string;
  readonly b: string;
  /** A and B once started. */
  readonly daemons: Daemon[];
}

function cli(r: Run, args: string[], d: Daemon): Promise<RunResult> {
  return run([...r.ipsec, ...args, "--socket", d.socket]);
}

async function sad(r: Run, d: Daemon): Promise<SadRow[]> {
  return JSON.parse((await cli(r, ["sad", "--json"], d)).stdout || "[]") as SadRow[];
}

async function ikeSaCount(r: Run, d: Daemon): Promise<number> {
  return (JSON.parse((await cli(r, ["list-sas", "--json"], d)).stdout || "[]") as unknown[])
    .length;
}

function files(r: Run, side: "a" | "b"): { config: string; socket: string } {
  return { config: `${r.dir}/${side}.yaml`, socket: `${r.dir}/${side}.sock` };
}

/**
 * Both YAML files; in road-warrior mode the PKI and configurations come
 * from `ipsec pki quickstart` (ESP only: its configs have no AH).
 */
async function writeConfigs(r: Run): Promise<void> {
  if (r.mode === "roadwarrior") {
    r.n.step(
      `certificates for the gateway (${RW_GATEWAY}) and the client (${RW_CLIENT}): ` +
        "ipsec pki quickstart",
    );
    const pki = await run([
      ...r.ipsec,
      ...["pki", "quickstart", "--gateway", RW_GATEWAY, "--gateway-address", "192.0.2.2"],
      ...["--client", RW_CLIENT, "--out", r.dir],
    ]);
    r.n.show((pki.stdout + pki.stderr).trim());
    if (pki.code !== 0) throw new Error(`ipsec pki quickstart exited ${pki.code}`);
  }
  for (const side of ["a", "b"] as const) {
    await Deno.writeTextFile(
      files(r, side).config,
      r.mode !== "roadwarrior"
        ? siteConfig(side, r.mode, r.proto)
        : side === "b"
        ? await Deno.readTextFile(`${r.dir}/gateway.yaml`)
        : roadWarriorClientConfig(await Deno.readTextFile(`${r.dir}/${RW_CLIENT}.yaml`)),
    );
  }
}

/**
 * Starts B detached (`ipsec start` returns once the control socket answers;
 * the daemon leaves the process tree and cleanup kills it via `ip netns pids`).
 */
async function startB(r: Run): Promise<Daemon> {
  const logFile = `${r.dir}/b.log`;
  const { config, socket } = files(r, "b");
  const res = await r.lab.runIn(r.b, [
    ...r.ipsec,
    ...["start", "--config", config, "--socket", socket],
    ...["--log-level", "debug", "--log-file", logFile, "--log-json"],
  ]);
  const log = () => {
    try {
      return Deno.readTextFileSync(logFile);
    } catch {
      return "";
    }
  };
  r.n.show(`${r.b}: ${(res.stdout + res.stderr).trim()}`);
  if (res.code !== 0) {
    throw new Error(`ipsec start in ${r.b} exited ${res.code}:\n${res.stderr}\n${log()}`);
  }
  const d = { ns: r.b, socket, log };
  r.daemons.push(d);
  // --log-json: every line of B's log file is one JSON object.
  const first = JSON.parse(log().split("\n")[0]) as { subsystem?: string; message?: string };
  if (first.subsystem === undefined || first.message === undefined) {
    throw new Error(`--log-json wrote something else: ${log()}`);
  }
  return d;
}

/**
 * Starts both daemons and brings the SA up from A; returns `ipsec up`'s
 * result and the routes and addresses from just before it.
 */
async function bringUp(r: Run): Promise<{ up: RunResult; before: NetStates }> {
  const shortcut = r.o.upWithConfig ?? false;
  r.n.step(
    shortcut
      ? `start B detached (ipsec start); on A one command starts the daemon and brings the SA up (ipsec up ${r.conn} --config)`
      : "start the daemons: B detached (ipsec start), A in the foreground (ipsec start --foreground)",
  );
  await startB(r);
  // With the shortcut, A's daemon starts and brings the SA up in one go: its
  // configured routes cannot be seen before the SA, so they are added here.
  const before = {
    a: [...await netState(r.a), ...(shortcut ? trapRoutes(r.mode) : [])],
    b: await netState(r.b),
  };
  const { config, socket } = files(r, "a");
  const common = ["--config", config, "--socket", socket];
  const args = shortcut
    ? ["up", r.conn, ...common, "--timeout", "15"]
    : ["start", "--foreground", ...common, "--log-level", "debug"];
  const child = r.lab.spawnIn(r.a, [...r.ipsec, ...args]);
  let out = "";
  let text = "";
  let done = false;
  void drain(child.stdout, (s) => (out += s, text += s));
  void drain(child.stderr, (s) => text += s);
  void child.status.then(() => done = true);
  const da: Daemon = { ns: r.a, socket, child, log: () => text };
  r.daemons.unshift(da);
  r.n.show(`${r.a}: ipsec ${args.join(" ")} (pid ${child.pid})`);
  let up: RunResult;
  if (shortcut) {
    await waitUntil("ipsec up --config to report the SA", () => {
      if (done) throw new Error(`ipsec up --config in ${r.a} exited:\n${text}`);
      return Promise.resolve(/established/.test(out));
    });
    up = { code: 0, stdout: out, stderr: "" };
    r.n.show(out.trim());
  } else {
    await waitUntil(`the daemon in ${r.a} to answer`, async () => {
      if (done) throw new Error(`daemon in ${r.a} exited:\n${text}`);
      return (await cli(r, ["status"], da)).code === 0;
    });
    // Routes the daemon installs from its configuration (trap policies) are
    // there before `ipsec up`: only what the SA adds must go on `ipsec down`.
    before.a = await netState(r.a);
    r.n.step(`bring the SA up from A: ipsec up ${r.conn}`);
    up = await cli(r, ["up", r.conn, "--timeout", "15"], da);
    r.n.show((up.stdout + up.stderr).trim());
  }
  if (up.code !== 0) {
    // Nothing to measure without an SA: fail now with both daemons' logs.
    throw new Error(`ipsec up ${r.conn} exited ${up.code}: ${(up.stdout + up.stderr).trim()}`);
  }
  return { up, before };
}

/**
 * What the SA added to each namespace, and the addresses traffic runs
 * between (in road-warrior mode A's virtual IP, with the gateway's route to it).
 */
async function afterUp(r: Run, before: NetStates): Promise<
  Pick<TunnelReport, "inner" | "added" | "gatewayRoute">
> {
  if (r.mode === "roadwarrior") {
    // The client's virtual IP is the address `ipsec up` added in A.
    await waitUntil("the virtual IP in A", async () => {
      return added(before.a, await netState(r.a)).some((s) => s.startsWith("addr "));
    }, 50).catch(() => {});
  }
  const add = { a: added(before.a, await netState(r.a)), b: added(before.b, await netState(r.b)) };
  r.n.step("routes (table 220) and addresses the SA added");
  r.n.show(`${r.a}: ${add.a.join(", ") || "none"}\n${r.b}: ${add.b.join(", ") || "none"}`);
  if (r.mode !== "roadwarrior") return { inner: innerAddresses(r.mode), added: add };
  const vip = add.a.find((s) => s.startsWith("addr "))?.split(" ")[2]?.split("/")[0];
  const inner = { a: vip ?? "(no virtual IP)", b: "10.2.0.1" };
  // The gateway must route the client's virtual IP into its TUN (a route of
  // its own or one for the whole pool; either way the kernel picks the TUN).
  const route = await r.lab.runIn(r.b, ["ip", "route", "get", inner.a, "from", inner.b]);
  const gatewayRoute = (route.stdout + route.stderr).trim();
  r.n.show(`${r.b}: ip route get ${inner.a} from ${inner.b}: ${gatewayRoute}`);
  return { inner, added: add, gatewayRoute };
}

/**
 * Pings both ways and the TCP transfer through the SA while tshark captures
 * B's veth: counts ESP/AH packets and ICMP/TCP between the inner addresses in clear.
 */
async function traffic(r: Run, inner: { a: string; b: string }): Promise<
  Pick<TunnelReport, "ping" | "pingBack" | "transferError" | "ipsecPackets" | "clearPackets">
> {
  const { n, lab, o } = r;
  const PROTO = r.proto.toUpperCase();
  const ipProto = r.proto === "esp" ? "50" : "51";
  n.step(
    `ping ${inner.b} from ${inner.a} and back through the ${r.mode} SA` +
      `${o.transferBytes ? `, ${o.transferBytes} bytes over TCP` : ""}, capturing the veth in B`,
  );
  const pings = o.pings ?? 3;
  const haveTshark = (await run(["sh", "-c", "command -v tshark"])).code === 0;
  let capture: Capture | null = null;
  // One line per packet: proto, src, dst, ESP SPI, ESP sequence number.
  let seen: string[][] = [];
  if (haveTshark) {
    capture = startCapture(lab, r.b, "vb", "esp or ah or icmp or tcp", [
      "ip.proto",
      "ip.src",
      "ip.dst",
      `${r.proto}.spi`,
      `${r.proto}.sequence`,
    ]);
    seen = capture.rows;
    // "Capturing on" comes before packets are really captured: probe with a
    // plain ping between the outer addresses until tshark reports one.
    await waitUntil("tshark to capture", async () => {
      await lab.runIn(r.a, ["ping", "-c", "1", "-W", "1", "192.0.2.12"]);
      await new Promise((res) => setTimeout(res, 100));
      return seen.some((f) => f[0] === "1" && f[1] === "192.0.2.1");
    }, 50);
  }
  const pingArgs = (from: string, to: string) => [
    ...["ping", "-c", String(pings), "-i", "0.2", "-W", "2"],
    ...["-I", from, to],
  ];
  const ping = await lab.runIn(r.a, pingArgs(inner.a, inner.b));
  n.show((ping.stdout + ping.stderr).trim());
  const pingBack = await lab.runIn(r.b, pingArgs(inner.b, inner.a));
  n.show((pingBack.stdout + pingBack.stderr).trim());
  let transferError: string | null | undefined;
  if (o.transferBytes) {
    transferError = await tcpTransfer(
      lab,
      { ns: r.a, ip: inner.a },
      { ns: r.b, ip: inner.b },
      o.transferBytes,
    ).then(() => null, (e: Error) => e.message);
    n.show(
      transferError ??
        `${o.transferBytes} bytes from ${inner.a} to ${inner.b}: same SHA-256 on both ends`,
    );
  }
  if (!capture) {
    n.show("tshark not installed: relying on the SA counters only");
    return { ping, pingBack, transferError, ipsecPackets: null, clearPackets: null };
  }
  // tshark prints with a lag and drops what it has not printed when stopped: wait
  // (a while, not forever) until it reported at least one packet per echo and per
  // 1500 bytes of the stream.
  const least = 4 * pings + Math.ceil((o.transferBytes ?? 0) / 1500);
  await waitUntil(
    `tshark to report ${least} ${PROTO} packets`,
    () => Promise.resolve(seen.filter((f) => f[0] === ipProto).length >= least),
    50,
  ).catch(() => {});
  await capture.stop();
  const esp = seen.filter((f) => f[0] === ipProto);
  const protectedPair = (x: string, y: string) =>
    (x === inner.a && y === inner.b) || (x === inner.b && y === inner.a);
  const clearPackets = count(
    seen,
    (f) => (f[0] === "1" || f[0] === "6") && protectedPair(f[1], f[2]),
  );
  n.show(
    `tshark on vb: ${esp.length} ${PROTO} packets, ` +
      `${clearPackets} ICMP/TCP packets in clear between ${inner.a} and ${inner.b}`,
  );
  for (const f of esp.slice(0, 4 * pings)) {
    n.show(`  ${PROTO} ${f[1]} -> ${f[2]} SPI ${f[3]} seq ${f[4]}`);
  }
  return { ping, pingBack, transferError, ipsecPackets: esp.length, clearPackets };
}

/** B's inbound counters, then `ipsec down` on A and what is left on both sides. */
async function takeDown(r: Run, before: NetStates): Promise<
  Pick<
    TunnelReport,
    "inboundPackets" | "inboundBytes" | "sasAfterDown" | "ikeSasAfterDown" | "leftAfterDown"
  >
> {
  const [da, db] = r.daemons;
  r.n.step("ipsec sad on B (its inbound SA counted the packets it verified)");
  r.n.show((await cli(r, ["sad"], db)).stdout.trim());
  const inbound = (await sad(r, db)).filter((s) => s.direction === "in");
  const inboundPackets = inbound.reduce((sum, s) => sum + Number(s.packets ?? 0), 0);
  const inboundBytes = inbound.reduce((sum, s) => sum + Number(s.bytes ?? 0), 0);

  r.n.step(`take the SA down: ipsec down ${r.conn}`);
  const down = await cli(r, ["down", r.conn], da);
  r.n.show((down.stdout + down.stderr).trim());
  // B removes its SAs when A's Delete arrives.
  await waitUntil(
    "B to delete its SAs",
    async () => (await sad(r, db)).length === 0 && await ikeSaCount(r, db) === 0,
    30,
  ).catch(() => {});
  const sasAfterDown = { a: (await sad(r, da)).length, b: (await sad(r, db)).length };
  const ikeSasAfterDown = { a: await ikeSaCount(r, da), b: await ikeSaCount(r, db) };
  const leftAfterDown = [
    ...changed(before.a, await netState(r.a)).map((s) => `${r.a}: ${s}`),
    ...changed(before.b, await netState(r.b)).map((s) => `${r.b}: ${s}`),
  ];
  r.n.show(
    `SAs left: A ${sasAfterDown.a}, B ${sasAfterDown.b}; IKE SAs left: A ${ikeSasAfterDown.a}, ` +
      `B ${ikeSasAfterDown.b}; routes/addresses changed: ${leftAfterDown.join(", ") || "none"}`,
  );
  return { inboundPackets, inboundBytes, sasAfterDown, ikeSasAfterDown, leftAfterDown };
}

/** A ping after `ipsec down`: the PROTECT policy's acquire must set the SA up again. */
async function reacquire(r: Run, inner: { a: string; b: string }): Promise<RunResult> {
  r.n.step(
    "ping again without 'ipsec up': the PROTECT policy triggers an acquire and IKE sets the SA up again",
  );
  const res = await r.lab.runIn(r.a, ["ping", "-c", "2", "-W", "5", "-I", inner.a, inner.b]);
  r.n.show((res.stdout + res.stderr).trim());
  r.n.show((await cli(r, ["list-sas"], r.daemons[0])).stdout.trim());
  return res;
}

/** `ipsec stop` on both; what is left: processes, the TUN, table 220, added addresses. */
async function stopAll(r: Run, before: NetStates): Promise<
  Pick<TunnelReport, "stoppedClean" | "leftAfterStop">
> {
  r.n.step("stop both daemons: ipsec stop");
  let stoppedClean = true;
  const leftAfterStop: string[] = [];
  for (const d of r.daemons) {
    const res = await cli(r, ["stop"], d);
    r.n.show(`${d.ns}: ${(res.stdout + res.stderr).trim()}`);
    const exitedOk = d.child ? (await d.child.status).success : true;
    if (res.code !== 0 || !exitedOk) stoppedClean = false;
    // Our daemons only: a TCP receiver left by a failed transfer is cleanup's job.
    const pids = async () => {
      const all = (await run(["ip", "netns", "pids", d.ns])).stdout.split(/\s+/).filter(Boolean);
      const ours = all.filter((pid) => {
        try {
          return Deno.readTextFileSync(`/proc/${pid}/cmdline`).includes(r.ipsec.at(-1)!);
        } catch {
          return false; // already gone
        }
      });
      return ours.join(" ");
    };
    await waitUntil(`the daemon in ${d.ns} to exit`, async () => await pids() === "", 50)
      .catch(() => {});
    const left = await pids();
    if (left !== "") {
      stoppedClean = false;
      r.n.show(`${d.ns}: processes still running: ${left}`);
    }
    const base = d.ns === r.a ? before.a : before.b;
    // Trap routes from before `ipsec up` go too: the table must be empty.
    for (const s of await netState(d.ns)) {
      if (s.startsWith("route ") || !base.includes(s) || s.startsWith("addr ipsec0 ")) {
        leftAfterStop.push(`${d.ns}: ${s}`);
      }
    }
    const tun = await r.lab.runIn(d.ns, ["ip", "link", "show", "ipsec0"]);
    if (tun.code === 0) leftAfterStop.push(`${d.ns}: TUN ipsec0`);
  }
  r.n.show(`left after stop: ${leftAfterStop.join(", ") || "nothing"}`);
  return { stoppedClean, leftAfterStop };
}

/** Runs the whole scenario; always cleans up. Throws only on harness failures. */
export async function runTunnelScenario(o: TunnelOptions): Promise<TunnelReport> {
  const n = o.narrator;
  const mode = o.mode ?? "tunnel";
  const rw = mode === "roadwarrior";
  if (rw && o.protocol === "ah") throw new Error("the road-warrior scenario runs ESP only");
  const lab = await NetnsLab.create(o.prefix);
  const daemons: Daemon[] = [];
  try {
    n.step("create two network namespaces joined by a veth pair");
    const { a, b } = await twoSites(lab, !rw);
    n.show(
      `${a}: va 192.0.2.1/24${rw ? "" : ", lo 10.1.0.1"}   <-->   ` +
        `${b}: vb 192.0.2.2/24, lo 10.2.0.1`,
    );
    const dir = await Deno.makeTempDir({ prefix: lab.prefix });
    const r: Run = {
      o,
      n,
      lab,
      mode,
      conn: rw ? "home" : "site",
      proto: o.protocol ?? "esp",
      ipsec: o.command ?? sourceCommand(),
      dir,
      a,
      b,
      daemons,
    };
    try {
      await writeConfigs(r);
      const { up, before } = await bringUp(r);
      n.step("ipsec status on A");
      n.show((await cli(r, ["status"], daemons[0])).stdout.trim());
      const state = await afterUp(r, before);
      const moved = await traffic(r, state.inner);
      const down = await takeDown(r, before);
      // A road-warrior client has no address to source the trigger from once its
      // virtual IP is gone; site and host SAs come back on their own.
      const again = rw ? null : await reacquire(r, state.inner);
      const stopped = await stopAll(r, before);
      const logs = daemons.map((d) => `--- daemon log ${d.ns} ---\n${d.log().trim()}`).join("\n");
      return { mode, up, ...state, ...moved, ...down, reacquire: again, ...stopped, logs };
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

/** Why the scenario did not show protected traffic both ways and a clean teardown; empty if it did. */
export function tunnelProblems(r: TunnelReport): string[] {
  const p: string[] = [];
  if (r.up.code !== 0) p.push(`ipsec up exited ${r.up.code}: ${r.up.stderr.trim()}`);
  if (r.mode === "roadwarrior") {
    const pool = POOL.split(".").slice(0, 3).join(".") + ".";
    if (!r.inner.a.startsWith(pool)) {
      p.push(`the client got no virtual IP from ${POOL} (added in A: ${r.added.a.join(", ")})`);
    }
    if (!/ dev ipsec0 .*table 220/.test(r.gatewayRoute ?? "")) {
      p.push(
        `the gateway does not route the client's virtual IP into its TUN (table ${TABLE}): ` +
          (r.gatewayRoute ?? ""),
      );
    }
  }
  if (r.ping.code !== 0) p.push(`ping ${r.inner.a} -> ${r.inner.b} through the SA got no replies`);
  if (r.pingBack.code !== 0) {
    p.push(`ping ${r.inner.b} -> ${r.inner.a} through the SA got no replies`);
  }
  if (r.transferError) p.push(`TCP transfer: ${r.transferError}`);
  if (r.ipsecPackets !== null && r.ipsecPackets === 0) p.push("no ESP/AH packets on the wire");
  if (r.clearPackets !== null && r.clearPackets > 0) {
    p.push(`${r.clearPackets} ICMP/TCP packets leaked in clear`);
  }
  if (r.inboundPackets === 0) p.push("B's inbound SA decrypted no packets");
  if (r.sasAfterDown.a !== 0 || r.sasAfterDown.b !== 0) {
    p.push(`SAs left after ipsec down: A ${r.sasAfterDown.a}, B ${r.sasAfterDown.b}`);
  }
  if (r.ikeSasAfterDown.a !== 0 || r.ikeSasAfterDown.b !== 0) {
    p.push(
      `IKE SAs left after ipsec down: A ${r.ikeSasAfterDown.a}, B ${r.ikeSasAfterDown.b}`,
    );
  }
  if (r.leftAfterDown.length > 0) {
    p.push(
      `routes/addresses after ipsec down differ from before up: ${r.leftAfterDown.join(", ")}`,
    );
  }
  if (r.reacquire && r.reacquire.code !== 0) {
    p.push("after ipsec down, traffic did not bring the tunnel back (acquire)");
  }
  if (!r.stoppedClean) p.push("a daemon did not stop cleanly (exit code, or processes left)");
  if (r.leftAfterStop.length > 0) p.push(`left after ipsec stop: ${r.leftAfterStop.join(", ")}`);
  return p;
}
