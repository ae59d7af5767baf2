/**
 * Network namespaces for tests: a {@linkcode NetnsLab} creates namespaces
 * and veth pairs whose names start with a caller-given prefix, runs commands
 * and Deno scripts inside them (`ip netns exec`), and deletes everything in
 * {@linkcode NetnsLab.cleanup} (call it in `finally`). Namespace names get a
 * random suffix so parallel tests never collide. Needs root.
 *
 * @example
 * ```ts
 * const lab = await NetnsLab.create("tdp-");
 * try {
 *   const [a, b] = [await lab.addNs("a"), await lab.addNs("b")];
 *   await lab.veth(a, "va", "192.0.2.1/24", b, "vb", "192.0.2.2/24");
 *   const r = await lab.runIn(a, ["ping", "-c1", "-W1", "192.0.2.2"]);
 *   assertEquals(r.code, 0, r.stderr);
 * } finally {
 *   await lab.cleanup();
 * }
 * ```
 *
 * @module
 */

/** Outcome of a finished command. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

const dec = new TextDecoder();

/** Runs a command on the host and collects its output (never throws on exit code). */
export async function run(cmd: readonly string[], stdin?: string): Promise<RunResult> {
  const c = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  });
  const child = c.spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const o = await child.output();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

/** Runs a command and throws with its stderr when it fails. */
export async function runOk(cmd: readonly string[]): Promise<string> {
  const r = await run(cmd);
  if (r.code !== 0) throw new Error(`${cmd.join(" ")} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** What a lab namespace's resolv.conf holds before any daemon writes to it. */
export const RESOLV_CONF_SEED = "# resolv.conf of a test namespace\nnameserver 192.0.2.53\n";

/** Namespaces, veths and processes owned by one test. */
export class NetnsLab {
  /** Prefix of every namespace name (prefix + random tag). */
  readonly prefix: string;
  readonly #namespaces: string[] = [];
  readonly #children: Deno.ChildProcess[] = [];
  readonly #tempPaths: string[] = [];

  readonly #onSignal = () => {
    // Killed (Ctrl-C, a timeout): delete what we created before exiting.
    for (const c of this.#children) {
      try {
        c.kill("SIGKILL");
      } catch { /* already exited */ }
    }
    for (const ns of this.#namespaces) {
      new Deno.Command("ip", { args: ["netns", "del", ns], stderr: "null" }).outputSync();
      try {
        Deno.removeSync(`/etc/netns/${ns}`, { recursive: true });
      } catch { /* not created */ }
    }
    Deno.exit(130);
  };

  private constructor(prefix: string) {
    this.prefix = prefix;
    Deno.addSignalListener("SIGINT", this.#onSignal);
    Deno.addSignalListener("SIGTERM", this.#onSignal);
  }

  /** A lab whose namespaces are named `${prefix}${random}-${name}`. */
  static create(prefix: string): Promise<NetnsLab> {
    if (!/^t[a-z0-9]*-$/.test(prefix)) {
      throw new Error(`namespace prefix must look like 't<tag>-', got '${prefix}'`);
    }
    const tag = crypto.getRandomValues(new Uint8Array(2));
    const hex = [...tag].map((b) => b.toString(16).padStart(2, "0")).join("");
    return Promise.resolve(new NetnsLab(`${prefix}${hex}-`));
  }

  /**
   * Creates a namespace (loopback up) and returns its full name. It gets its
   * own /etc/netns/NAME/resolv.conf ({@link RESOLV_CONF_SEED}), which `ip
   * netns exec` mounts over /etc/resolv.conf: daemons that apply assigned
   * DNS servers write there, never to the host's file.
   */
  async addNs(name: string): Promise<string> {
    const full = `${this.prefix}${name}`;
    await runOk(["ip", "netns", "add", full]);
    this.#namespaces.push(full);
    await Deno.mkdir(`/etc/netns/${full}`, { recursive: true });
    await Deno.writeTextFile(this.resolvConf(full), RESOLV_CONF_SEED);
    await runOk(["ip", "-n", full, "link", "set", "lo", "up"]);
    return full;
  }

  /**
   * Writes /etc/netns/NS/NAME, which processes started in `ns` afterwards
   * see as /etc/NAME (e.g. "hosts" for names the system resolver knows).
   */
  async writeEtc(ns: string, name: string, text: string): Promise<void> {
    await Deno.writeTextFile(`/etc/netns/${ns}/${name}`, text);
  }

  /** The file processes in `ns` see as /etc/resolv.conf. */
  resolvConf(ns: string): string {
    return `/etc/netns/${ns}/resolv.conf`;
  }

  /**
   * A veth pair between `nsA`/`ifA` and `nsB`/`ifB` (interface names of at
   * most 15 bytes), each with an optional address ("192.0.2.1/24",
   * "2001:db8::1/64", IPv6 without DAD) and up.
   */
  async veth(
    nsA: string,
    ifA: string,
    addrA: string | undefined,
    nsB: string,
    ifB: string,
    addrB: string | undefined,
  ): Promise<void> {
    await runOk([
      "ip",
      "link",
      "add",
      ifA,
      "netns",
      nsA,
      "type",
      "veth",
      "peer",
      "name",
      ifB,
      "netns",
      nsB,
    ]);
    for (const [ns, dev, addr] of [[nsA, ifA, addrA], [nsB, ifB, addrB]] as const) {
      if (addr) {
        const extra = addr.includes(":") ? ["nodad"] : [];
        await runOk(["ip", "-n", ns, "addr", "add", addr, "dev", dev, ...extra]);
      }
      await runOk(["ip", "-n", ns, "link", "set", dev, "up"]);
    }
  }

  /**
   * Makes `ns` a NAT router: IPv4 forwarding on, and everything leaving by
   * `outDev` masqueraded (iptables). With `udpPorts` ("20000-29999") UDP gets
   * source ports from that range, as carrier-grade NATs do, so a peer must use
   * the mapped ports.
   */
  async masquerade(ns: string, outDev: string, udpPorts?: string): Promise<void> {
    await runOk(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    const rules = [
      ...(udpPorts ? [["-p", "udp", "-j", "MASQUERADE", "--to-ports", udpPorts]] : []),
      ["-j", "MASQUERADE"],
    ];
    for (const rule of rules) {
      const r = await this.runIn(ns, [
        "iptables",
        "-t",
        "nat",
        "-A",
        "POSTROUTING",
        "-o",
        outDev,
        ...rule,
      ]);
      if (r.code !== 0) throw new Error(`iptables MASQUERADE in ${ns} failed: ${r.stderr}`);
    }
  }

  /** Runs `cmd` inside namespace `ns`. */
  runIn(ns: string, cmd: readonly string[]): Promise<RunResult> {
    return run(["ip", "netns", "exec", ns, ...cmd]);
  }

  /** Starts `cmd` inside `ns` in the background; killed in {@linkcode cleanup}. */
  spawnIn(ns: string, cmd: readonly string[]): Deno.ChildProcess {
    const child = new Deno.Command("ip", {
      args: ["netns", "exec", ns, ...cmd],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#children.push(child);
    return child;
  }

  /**
   * Starts a Deno script inside `ns` (`deno run` with `permissions`, default
   * `--allow-all`), passing `args`; killed in {@linkcode cleanup}.
   */
  spawnDenoIn(
    ns: string,
    script: string,
    args: readonly string[] = [],
    permissions: readonly string[] = ["-A"],
  ): Deno.ChildProcess {
    return this.spawnIn(ns, [Deno.execPath(), "run", ...permissions, script, ...args]);
  }

  /** A temporary file path deleted in {@linkcode cleanup}. */
  async tempFile(suffix = ""): Promise<string> {
    const p = await Deno.makeTempFile({ prefix: this.prefix, suffix });
    this.#tempPaths.push(p);
    return p;
  }

  /** Kills every process started here, deletes the namespaces (and their veths) and temp files. */
  async cleanup(): Promise<void> {
    Deno.removeSignalListener("SIGINT", this.#onSignal);
    Deno.removeSignalListener("SIGTERM", this.#onSignal);
    for (const c of this.#children.splice(0)) {
      try {
        c.kill("SIGKILL");
      } catch { /* already exited */ }
      try {
        await c.status;
        await c.stdin?.close().catch(() => {});
        await c.stdout.cancel().catch(() => {});
        await c.stderr.cancel().catch(() => {});
      } catch { /* streams already consumed */ }
    }
    for (const ns of this.#namespaces.splice(0).reverse()) {
      // Processes still in the namespace would keep it alive; kill them first.
      const pids = await run(["ip", "netns", "pids", ns]);
      for (const pid of pids.stdout.split(/\s+/).filter(Boolean)) {
        await run(["kill", "-9", pid]);
      }
      await run(["ip", "netns", "del", ns]);
      await Deno.remove(`/etc/netns/${ns}`, { recursive: true }).catch(() => {});
    }
    for (const p of this.#tempPaths.splice(0)) await Deno.remove(p).catch(() => {});
  }
}

/** Reads a child's stdout line by line until `pred` matches a line; returns it (or throws at EOF). */
export async function waitForLine(
  stream: ReadableStream<Uint8Array>,
  pred: (line: string) => boolean,
): Promise<{ line: string; rest: ReadableStream<string> }> {
  const lines = stream.pipeThrough(new TextDecoderStream()).pipeThrough(new LineSplitter());
  const reader = lines.getReader();
  const seen: string[] = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) {
      throw new Error(`process ended before the expected line; output:\n${seen.join("\n")}`);
    }
    seen.push(value);
    if (pred(value)) {
      reader.releaseLock();
      return { line: value, rest: lines };
    }
  }
}

class LineSplitter extends TransformStream<string, string> {
  constructor() {
    let buf = "";
    super({
      transform(chunk, ctl) {
        buf += chunk;
        const parts = buf.split("\n");
        buf = parts.pop() ?? "";
        for (const p of parts) ctl.enqueue(p);
      },
      flush(ctl) {
        if (buf) ctl.enqueue(buf);
      },
    });
  }
}

/**
 * Waits for `child` to exit, killing it with SIGKILL after `graceMs` (the
 * caller asked it to stop first: SIGTERM, a quit message, `ipsec stop`).
 */
export async function awaitExit(child: Deno.ChildProcess, graceMs: number): Promise<void> {
  const t = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, graceMs);
  await child.status;
  clearTimeout(t);
}
