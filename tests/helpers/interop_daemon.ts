/**
 * Our whole daemon (`ipsec start --foreground`, cli/main.ts from source)
 * inside a network namespace, driven through the `ipsec` CLI on its own
 * control socket, for the full-system strongSwan interop tests.
 *
 * @example
 * ```ts
 * const d = await OurDaemon.start(lab, ns, dir, yaml);
 * const r = await d.cli(["up", "gw", "--timeout", "15"]);
 * ```
 *
 * @module
 */
import { DAEMON_PERMISSIONS } from "../../lib/daemon/permissions.ts";
import { ControlClient } from "../../lib/daemon/control_client.ts";
import type { ControlCommand, Json } from "../../lib/daemon/control_protocol.ts";
import { awaitExit, NetnsLab, run, type RunResult } from "./netns.ts";
import { Charon, type SwanConn, swanctlConf } from "./strongswan.ts";

const MAIN = new URL("../../cli/main.ts", import.meta.url).pathname;

/** The `ipsec` command line (from source) with the daemon's permissions. */
export const IPSEC: readonly string[] = [Deno.execPath(), "run", ...DAEMON_PERMISSIONS, MAIN];

/** A running daemon; `stop()` it in `finally` (the lab kills it by PID at the latest). */
export class OurDaemon {
  readonly ns: string;
  readonly socket: string;
  readonly config: string;
  readonly #lab: NetnsLab;
  readonly #child: Deno.ChildProcess;
  #text = "";
  #exited = false;

  private constructor(lab: NetnsLab, ns: string, dir: string, child: Deno.ChildProcess) {
    this.#lab = lab;
    this.ns = ns;
    this.socket = `${dir}/ipsec.sock`;
    this.config = `${dir}/ipsec.yaml`;
    this.#child = child;
    for (const s of [child.stdout, child.stderr]) {
      s.pipeThrough(new TextDecoderStream()).pipeTo(
        new WritableStream({ write: (c) => void (this.#text += c) }),
      ).catch(() => {});
    }
    child.status.then(() => this.#exited = true);
  }

  /** Writes `yaml` to DIR/ipsec.yaml and starts the daemon in `ns`; waits for its socket. */
  static async start(lab: NetnsLab, ns: string, dir: string, yaml: string): Promise<OurDaemon> {
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(`${dir}/ipsec.yaml`, yaml);
    const child = lab.spawnIn(ns, [
      ...IPSEC,
      "start",
      "--foreground",
      "--config",
      `${dir}/ipsec.yaml`,
      "--socket",
      `${dir}/ipsec.sock`,
      "--log-level",
      "debug",
    ]);
    const d = new OurDaemon(lab, ns, dir, child);
    for (let i = 0; i < 300; i++) {
      if (d.#exited) throw new Error(`our daemon in ${ns} exited:\n${d.log()}`);
      if (await d.call("status").then(() => true, () => false)) return d;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`our daemon in ${ns} never answered on its socket:\n${d.log()}`);
  }

  /** Runs `ipsec ARGS --socket SOCK` inside the namespace. */
  cli(args: readonly string[]): Promise<RunResult> {
    return this.#lab.runIn(this.ns, [...IPSEC, ...args, "--socket", this.socket]);
  }

  /**
   * One command on the control socket, straight from the test process (the
   * socket is a file, reachable from any namespace): much cheaper than
   * starting the CLI for every poll.
   */
  async call(cmd: ControlCommand, args: { [k: string]: Json } = {}): Promise<Json> {
    const c = await ControlClient.connect(this.socket);
    try {
      return await c.call(cmd, args);
    } finally {
      c.close();
    }
  }

  /** The daemon's IKE SAs (the data of `ipsec list-sas --json`). */
  async listSas(): Promise<DaemonIkeSa[]> {
    return await this.call("list-sas") as unknown as DaemonIkeSa[];
  }

  /** Polls the daemon's SAs until `pred` holds (every 100 ms, up to `ms`). */
  async waitSas(
    pred: (sas: DaemonIkeSa[]) => boolean,
    what: string,
    ms = 10_000,
  ): Promise<DaemonIkeSa[]> {
    const deadline = Date.now() + ms;
    for (;;) {
      const sas = await this.listSas();
      if (pred(sas)) return sas;
      if (Date.now() > deadline) {
        throw new Error(
          `our daemon: timed out waiting for ${what}; list-sas: ${JSON.stringify(sas)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Everything the daemon printed so far. */
  log(): string {
    return this.#text;
  }

  /** Whether the process has exited. */
  get exited(): boolean {
    return this.#exited;
  }

  /** SIGKILL (a crash: no Delete, no cleanup); waits for the process. */
  async kill(): Promise<void> {
    try {
      this.#child.kill("SIGKILL");
    } catch { /* gone */ }
    await this.#child.status;
  }

  /** `ipsec stop`, then SIGKILL after 5 s; waits for the process. */
  async stop(): Promise<void> {
    if (!this.#exited) await this.cli(["stop"]).catch(() => {});
    await awaitExit(this.#child, 5000);
  }
}

/** An IKE SA in `ipsec list-sas --json` (the fields the interop tests read). */
export interface DaemonIkeSa {
  name: string;
  state: string;
  children: { name: string; state: string; spiIn: number | string; spiOut: number | string }[];
  [k: string]: unknown;
}

/**
 * Addresses of {@linkcode withDaemonBench}:
 *
 * ```
 *  ns "c": charon 10.99.0.1 (vc), lo 10.1.0.1  <== veth ==>  ns "d": daemon 10.99.0.2 (vd), lo 10.2.0.1
 *          TS 10.1.0.0/24                                           TS 10.2.0.0/24
 * ```
 */
export const BENCH = {
  charon: "10.99.0.1",
  ours: "10.99.0.2",
  charonInner: "10.1.0.1",
  ourInner: "10.2.0.1",
  charonTs: "10.1.0.0/24",
  ourTs: "10.2.0.0/24",
} as const;

/** A bench whose sides can be killed and restarted (MOBIKE, DPD). */
export interface DaemonBench {
  readonly lab: NetnsLab;
  /** charon's namespace. */
  readonly c: string;
  /** Our namespace. */
  readonly d: string;
  /** The newest charon. */
  readonly charon: Charon;
  /** The newest daemon. */
  readonly daemon: OurDaemon;
  /** Starts charon (again: after {@link killCharon}) with the bench's connection. */
  startCharon(): Promise<Charon>;
  /** SIGKILLs charon by its PID (no Delete). */
  killCharon(): Promise<void>;
  /** Starts our daemon (again: after `daemon.kill()`) with the bench's YAML. */
  startDaemon(): Promise<OurDaemon>;
}

/**
 * Connection "gw" (child "net", PSK, `encap`) of {@linkcode withDaemonBench}
 * on both sides.
 */
export interface BenchSpec {
  /** IKE proposal (both sides). */
  readonly ike: string;
  /** ESP proposal (both sides). */
  readonly esp: string;
  /** Our `local_addrs: [10.99.0.2]` (default none: we use the route source). */
  readonly pinLocal?: boolean;
  /** Extra lines of our connection ("dpd_delay: 2s"). */
  readonly ours?: readonly string[];
  /** charon's `remote_addrs` (default our address). */
  readonly charonRemote?: string;
  /** Extra lines of charon's connection ("dpd_delay = 1s") and child. */
  readonly charon?: readonly string[];
  readonly charonChild?: readonly string[];
}

const BENCH_PSK = "interop daemon bench psk 0123456789";
const BENCH_OUR_ID = "sun.example.org";
const BENCH_CHARON_ID = "moon.example.org";

/** Our daemon's YAML for `s`. */
export function benchYaml(s: BenchSpec): string {
  const lines = [
    ...(s.pinLocal ? [`local_addrs: [${BENCH.ours}]`] : []),
    `remote_addrs: [${BENCH.charon}]`,
    `proposals: [${s.ike}]`,
    "encap: yes",
    ...(s.ours ?? []),
  ];
  return `connections:
  gw:
${lines.map((l) => `    ${l}\n`).join("")}    local:
      auth: psk
      id: ${BENCH_OUR_ID}
    remote:
      auth: psk
      id: ${BENCH_CHARON_ID}
    children:
      net:
        local_ts: [${BENCH.ourTs}]
        remote_ts: [${BENCH.charonTs}]
        esp_proposals: [${s.esp}]
secrets:
  gw-psk:
    id: [${BENCH_OUR_ID}, ${BENCH_CHARON_ID}]
    secret: "${BENCH_PSK}"
`;
}

/** charon's connection for `s`. */
export function benchConn(s: BenchSpec): SwanConn {
  return {
    name: "gw",
    childName: "net",
    localAddr: BENCH.charon,
    remoteAddr: s.charonRemote ?? BENCH.ours,
    localId: BENCH_CHARON_ID,
    remoteId: BENCH_OUR_ID,
    auth: "psk",
    psk: BENCH_PSK,
    ikeProposal: s.ike,
    espProposal: s.esp,
    localTs: BENCH.charonTs,
    remoteTs: BENCH.ourTs,
    extra: [...(s.charon ?? [])],
    childExtra: [...(s.charonChild ?? [])],
  };
}

/** What {@linkcode withDaemonBench} runs. */
export interface DaemonBenchOptions {
  /** Namespace prefix (`t<tag>-`). */
  readonly prefix: string;
  /** The connection on both sides. */
  readonly spec: BenchSpec;
  /** Extra lines in charon's `charon-systemd { }` section. */
  readonly charonConf?: string;
}

/**
 * Creates the namespaces of {@link BENCH}, starts charon and our daemon, runs
 * `f`; on failure rethrows with charon's log and every daemon's output; always
 * kills both sides and deletes namespaces and files.
 */
export async function withDaemonBench(
  o: DaemonBenchOptions,
  f: (b: DaemonBench) => Promise<void>,
): Promise<void> {
  const lab = await NetnsLab.create(o.prefix);
  const dir = await Deno.makeTempDir({ prefix: lab.prefix });
  const charons: Charon[] = [];
  const daemons: OurDaemon[] = [];
  try {
    const c = await lab.addNs("c");
    const d = await lab.addNs("d");
    await lab.veth(c, "vc", `${BENCH.charon}/24`, d, "vd", `${BENCH.ours}/24`);
    await lab.runIn(c, ["ip", "addr", "add", `${BENCH.charonInner}/32`, "dev", "lo"]);
    await lab.runIn(d, ["ip", "addr", "add", `${BENCH.ourInner}/32`, "dev", "lo"]);
    const b: DaemonBench = {
      lab,
      c,
      d,
      get charon() {
        return charons[charons.length - 1];
      },
      get daemon() {
        return daemons[daemons.length - 1];
      },
      async startCharon() {
        // A killed charon leaves its VICI socket behind; Charon.start waits for a fresh one.
        await Deno.remove(`${dir}/charon/charon.vici`).catch(() => {});
        const ch = await Charon.start({
          ns: c,
          dir: `${dir}/charon`,
          swanctlConf: swanctlConf(benchConn(o.spec)),
          extraCharonConf: o.charonConf,
        });
        charons.push(ch);
        return ch;
      },
      async killCharon() {
        const pids = await run(["ip", "netns", "pids", c]);
        for (const pid of pids.stdout.split(/\s+/).filter(Boolean)) {
          const comm = await Deno.readTextFile(`/proc/${pid}/comm`).catch(() => "");
          if (comm.trim() === "charon-systemd") Deno.kill(Number(pid), "SIGKILL");
        }
        await b.charon.stop();
      },
      async startDaemon() {
        const dm = await OurDaemon.start(lab, d, `${dir}/ours`, benchYaml(o.spec));
        daemons.push(dm);
        return dm;
      },
    };
    await b.startCharon();
    await b.startDaemon();
    await f(b);
  } catch (e) {
    const charonLog = (await charons[0]?.log() ?? "").split("\n")
      .filter((l) => !l.includes("[CFG]")).join("\n");
    const ours = daemons.map((dm, i) => `--- our daemon #${i + 1} log ---\n${dm.log()}`);
    throw new Error(
      `${(e as Error).message}\n--- charon log ---\n${charonLog}\n${ours.join("\n")}`,
    );
  } finally {
    for (const dm of daemons) await dm.kill();
    for (const ch of charons) await ch.stop().catch(() => {});
    await lab.cleanup();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
