/**
 * Runs a real strongSwan charon (Debian's charon-systemd) inside a network
 * namespace with its own strongswan.conf, VICI socket and log file, using the
 * kernel-libipsec plugin for a userspace ESP data plane (our kernel has no
 * XFRM). For interop tests and benchmarks; always `stop()` it in `finally`.
 *
 * @module
 */

/** Plugins charon loads: crypto from openssl, userspace ESP from kernel-libipsec. */
const PLUGINS = "random nonce openssl kdf pem pkcs1 pkcs8 x509 pubkey revocation constraints " +
  "kernel-libipsec kernel-netlink socket-default vici updown attr";

export interface CharonOptions {
  /** Network namespace to run in (must exist). */
  ns: string;
  /** Private working directory (config, socket, log). */
  dir: string;
  /** swanctl.conf contents (connections, secrets, pools). */
  swanctlConf: string;
  /** Extra lines inside the `charon-systemd { }` section. */
  extraCharonConf?: string;
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class Charon {
  readonly ns: string;
  readonly dir: string;
  #child: Deno.ChildProcess;

  private constructor(ns: string, dir: string, child: Deno.ChildProcess) {
    this.ns = ns;
    this.dir = dir;
    this.#child = child;
  }

  get vici(): string {
    return `unix://${this.dir}/charon.vici`;
  }

  /** Starts charon and loads `swanctlConf`; throws with charon's log on failure. */
  static async start(o: CharonOptions): Promise<Charon> {
    await Deno.mkdir(o.dir, { recursive: true });
    const conf = `charon-systemd {
  load = ${PLUGINS}
  install_routes = yes
  retransmit_tries = 3
  retransmit_timeout = 1.0
  plugins {
    vici { socket = unix://${o.dir}/charon.vici }
  }
  filelog {
    log {
      path = ${o.dir}/charon.log
      time_format = %H:%M:%S
      default = 1
      ike = 2
      cfg = 2
      enc = 1
    }
  }
  journal { default = -1 }
  ${o.extraCharonConf ?? ""}
}
`;
    await Deno.writeTextFile(`${o.dir}/strongswan.conf`, conf);
    await Deno.writeTextFile(`${o.dir}/swanctl.conf`, o.swanctlConf);
    const child = new Deno.Command("ip", {
      args: ["netns", "exec", o.ns, "/usr/sbin/charon-systemd"],
      env: { STRONGSWAN_CONF: `${o.dir}/strongswan.conf` },
      stdout: "null",
      stderr: "null",
    }).spawn();
    const c = new Charon(o.ns, o.dir, child);
    try {
      for (let i = 0; i < 100; i++) {
        try {
          await Deno.stat(`${o.dir}/charon.vici`);
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
        if (i === 99) throw new Error(`charon in ${o.ns} did not open its VICI socket`);
      }
      const r = await c.swanctl(["--load-all", "--file", `${o.dir}/swanctl.conf`]);
      if (r.code !== 0) throw new Error(`swanctl --load-all failed: ${r.stdout}${r.stderr}`);
    } catch (e) {
      const log = await c.log();
      await c.stop();
      throw new Error(`${(e as Error).message}\n--- charon log (${o.ns}) ---\n${log}`);
    }
    return c;
  }

  /** Runs swanctl against this charon inside its namespace. */
  async swanctl(args: string[]): Promise<CommandResult> {
    const out = await new Deno.Command("ip", {
      args: ["netns", "exec", this.ns, "swanctl", ...args, "--uri", this.vici],
      env: { STRONGSWAN_CONF: `${this.dir}/strongswan.conf` },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  }

  /** `swanctl --list-sas` output. */
  async listSas(): Promise<string> {
    return (await this.swanctl(["--list-sas"])).stdout;
  }

  /** charon's log file so far (empty if none). */
  async log(): Promise<string> {
    try {
      return await Deno.readTextFile(`${this.dir}/charon.log`);
    } catch {
      return "";
    }
  }

  /** Stops charon (SIGTERM, then SIGKILL) and waits for it. */
  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch { /* already gone */ }
    const t = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch { /* already gone */ }
    }, 3000);
    await this.#child.status;
    clearTimeout(t);
  }
}
