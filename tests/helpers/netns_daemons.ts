/**
 * Our daemon (`ipsec start --foreground`, debug log) in a network namespace
 * for the netns tests, and the site-to-site configuration they share:
 * a (192.0.2.1, a.example.com, 10.1.0.0/16) and b (192.0.2.2, b.example.com,
 * 10.2.0.0/16), PSK, one child `net` of connection `site`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { DAEMON_PERMISSIONS } from "../../lib/daemon/permissions.ts";
import { NetnsLab, run, type RunResult } from "./netns.ts";

const MAIN = new URL("../../cli/main.ts", import.meta.url).pathname;
/** The CLI as the tests run it. */
export const IPSEC = [Deno.execPath(), "run", ...DAEMON_PERMISSIONS, MAIN];

/** Connection `site`, child `net`, for side a or b; `childExtra` lines go into the child. */
export function siteYaml(side: "a" | "b", childExtra = ""): string {
  const [me, peer] = side === "a" ? ["192.0.2.1", "192.0.2.2"] : ["192.0.2.2", "192.0.2.1"];
  const [myNet, peerNet] = side === "a"
    ? ["10.1.0.0/16", "10.2.0.0/16"]
    : ["10.2.0.0/16", "10.1.0.0/16"];
  const other = side === "a" ? "b" : "a";
  return `connections:
  site:
    local_addrs: [${me}]
    remote_addrs: [${peer}]
    proposals: [aes256gcm16-prfsha384-x25519]
    local: { auth: psk, id: ${side}.example.com }
    remote: { auth: psk, id: ${other}.example.com }
    children:
      net:
        local_ts: [${myNet}]
        remote_ts: [${peerNet}]
        esp_proposals: [aes256gcm16]
${childExtra.split("\n").filter((l) => l !== "").map((l) => `        ${l}`).join("\n")}
secrets:
  ike:
    id: [a.example.com, b.example.com]
    secret: "netns test key 0123456789abcdef"
`;
}

/** A daemon started by {@linkcode startDaemonIn}. */
export interface RunningDaemon {
  readonly socket: string;
  readonly process: Deno.ChildProcess;
  /** Everything it logged so far. */
  log(): string;
  /** Runs an `ipsec` command against it. */
  ipsec(args: readonly string[]): Promise<RunResult>;
}

/**
 * Writes `yaml` to `dir/name/name.yaml` and starts a daemon on it in `ns`,
 * with its control socket at `dir/name.sock`; resolves once it answers.
 */
export async function startDaemonIn(
  lab: NetnsLab,
  ns: string,
  dir: string,
  name: string,
  yaml: string,
): Promise<RunningDaemon> {
  await Deno.mkdir(`${dir}/${name}`, { recursive: true });
  const config = `${dir}/${name}/${name}.yaml`;
  const socket = `${dir}/${name}.sock`;
  await Deno.writeTextFile(config, yaml);
  const p = lab.spawnIn(ns, [
    ...IPSEC,
    "start",
    "--foreground",
    "--config",
    config,
    "--socket",
    socket,
    "--log-level",
    "debug",
  ]);
  let text = "";
  const sink = (s: ReadableStream<Uint8Array>) =>
    s.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({ write: (c) => void (text += c) }),
    ).catch(() => {});
  void sink(p.stdout);
  void sink(p.stderr);
  const d: RunningDaemon = {
    socket,
    process: p,
    log: () => text,
    ipsec: (args) => run([...IPSEC, ...args, "--socket", socket]),
  };
  for (let i = 0; i < 200; i++) {
    if ((await d.ipsec(["status"])).code === 0) return d;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`daemon ${name} did not answer:\n${text}`);
}

/** Polls `cond` every 100 ms for up to `seconds` (default 15). */
export async function waitFor(
  cond: () => Promise<boolean>,
  what: () => string,
  seconds = 15,
): Promise<void> {
  for (let i = 0; i < seconds * 10; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`condition not reached in ${seconds} s: ${what()}`);
}

/** The command's stdout; fails the test with its output when it did not succeed. */
export function ok(r: RunResult, what: string): string {
  assert.equal(r.code, 0, `${what}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** What {@linkcode withHostPair} hands its test. */
export interface HostPair {
  readonly lab: NetnsLab;
  /** Private working directory (removed afterwards). */
  readonly dir: string;
  /** Namespace names: a holds 192.0.2.1 (va), b 192.0.2.2 (vb) and `bAddrs`. */
  readonly a: string;
  readonly b: string;
  /** Starts our daemon on `yaml` in namespace `ns` ({@linkcode startDaemonIn}); stopped afterwards. */
  start(ns: string, name: string, yaml: string): Promise<RunningDaemon>;
}

/**
 * Two namespaces a (192.0.2.1/24 on va) and b (192.0.2.2/24 on vb, plus
 * `bAddrs` on vb) joined by a veth pair, with `lo` addresses (`aLo`, `bLo`),
 * for tests of two of our daemons; `ipsec stop`s every daemon started and
 * removes namespaces and files whatever happens.
 */
export async function withHostPair(
  prefix: string,
  o: { bAddrs?: string[]; aLo?: string[]; bLo?: string[] },
  f: (p: HostPair) => Promise<void>,
): Promise<void> {
  const lab = await NetnsLab.create(prefix);
  const dir = await Deno.makeTempDir({ prefix });
  const sockets: string[] = [];
  try {
    const a = await lab.addNs("a");
    const b = await lab.addNs("b");
    await lab.veth(a, "va", "192.0.2.1/24", b, "vb", "192.0.2.2/24");
    for (
      const [ns, dev, addrs] of [[b, "vb", o.bAddrs], [a, "lo", o.aLo], [b, "lo", o.bLo]] as const
    ) {
      for (const addr of addrs ?? []) {
        ok(await lab.runIn(ns, ["ip", "addr", "add", addr, "dev", dev]), `${ns}: ${addr}`);
      }
    }
    await f({
      lab,
      dir,
      a,
      b,
      start: async (ns, name, yaml) => {
        const d = await startDaemonIn(lab, ns, dir, name, yaml);
        sockets.push(d.socket);
        return d;
      },
    });
  } finally {
    for (const s of sockets) await run([...IPSEC, "stop", "--socket", s]).catch(() => {});
    await lab.cleanup();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Runs `args` in namespace `ns` in the background until `f` is done. */
export async function serving<T>(
  ns: string,
  args: string[],
  ready: () => Promise<boolean>,
  f: () => Promise<T>,
): Promise<T> {
  const p = new Deno.Command("ip", {
    args: ["netns", "exec", ns, ...args],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await waitFor(ready, () => `${args[0]} in ${ns} to answer`);
    return await f();
  } finally {
    p.kill("SIGTERM");
    await p.output().catch(() => {});
  }
}
