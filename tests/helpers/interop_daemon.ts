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
import type { NetnsLab, RunResult } from "./netns.ts";

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

  /** `ipsec stop`, then SIGKILL after 5 s; waits for the process. */
  async stop(): Promise<void> {
    if (!this.#exited) await this.cli(["stop"]).catch(() => {});
    const t = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 5000);
    await this.#child.status;
    clearTimeout(t);
  }
}

/** An IKE SA in `ipsec list-sas --json` (the fields the interop tests read). */
export interface DaemonIkeSa {
  name: string;
  state: string;
  children: { name: string; state: string; spiIn: number | string; spiOut: number | string }[];
  [k: string]: unknown;
}
