/**
 * IKE side by side with strongSwan (issue 10):
 *
 * 1. Time to establish one tunnel (IKE_SA_INIT + IKE_AUTH with the first
 *    child), PSK + X25519 and ECDSA P-256 certificates:
 *    - strongSwan <-> strongSwan: `swanctl --initiate` wall time (includes
 *      starting swanctl), two charons in namespaces;
 *    - our engine <-> our engine in memory (lib/ikev2/engine.ts, no I/O);
 *    - our engine over UDP against our engine and against charon.
 * 2. Responder handshake rate: a load generator (our engine, CONCURRENCY
 *    handshakes in flight over UDP from namespace a) against charon and
 *    against our engine on a UDP socket and against our daemon in namespace
 *    b, for BENCH_IKE_SECONDS (default min(BENCH_SECONDS, 5)).
 *    Besides handshakes/s it reports the responder's CPU and handshakes per
 *    responder CPU-second (the generator shares the 2 cores, so the raw rate
 *    can be generator-bound), and RSS growth per IKE SA, read at rest: 5 s
 *    after the load stopped, for every responder alike (right after the load
 *    it also counted garbage; `tests/bench/ike_mem.ts` splits our daemon's
 *    figure into V8 heaps, garbage and native memory).
 * 3. Memory per IKE SA with 10,000 SAs in one in-memory responder engine
 *    (`Deno.memoryUsage().heapUsed` after gc, run with --expose-gc).
 *
 * Certificates come from lib/pki (ECDSA P-256 CA and leaves); charon gets the
 * same files (DER) so both sides sign and verify the same keys.
 *
 * Our engine responder here is the engine alone on a socket: child SAs are
 * negotiated but not installed in a data plane, while charon installs them
 * into kernel-libipsec. The table says so.
 *
 * The generator reports its own CPU too ("generator cpu"): a generator near
 * 100 % means the rate says more about it than about the responder. The PSK
 * responders run in BENCH_IKE_ROUNDS interleaved rounds (medians; see
 * ROUNDS below), because the load of other jobs on a shared machine changes
 * within seconds.
 *
 * Environment (besides BENCH_SECONDS): BENCH_IKE_ONLY=load-psk (only the
 * PSK responder rates, 3 rounds), BENCH_IKE_ROUNDS, BENCH_IKE_CONCURRENCY
 * (default 16), BENCH_IKE_BASELINE=DIR (also the daemon of another checkout:
 * before/after in one run), BENCH_IKE_DAEMON_FLAGS="--cpu-prof
 * --cpu-prof-dir=DIR" (deno flags for our daemon, which is stopped cleanly so
 * the profile gets written), BENCH_IKE_THREADS=1 (CPU ticks per responder
 * thread on stderr).
 *
 * Run: `deno task bench ike` (root, strongswan). Internal modes (run by this
 * file inside a namespace): `responder DIR AUTH`, `loadgen DIR AUTH TARGET
 * SECONDS CONCURRENCY`, `memory N`.
 *
 * @module
 */
import { parseIdentity } from "../../lib/db/identity.ts";
import type { Effect } from "../../lib/ikev2/effects.ts";
import { IkeEngine } from "../../lib/ikev2/engine.ts";
import type { EngineConfig } from "../../lib/ikev2/peer_config.ts";
import { issueCertificate, selfSignCertificate } from "../../lib/pki/certificate.ts";
import { exportPrivateKeyDer, generateKeyPair } from "../../lib/pki/keys.ts";
import { pskConfigs } from "../helpers/two_peers.ts";
import { type NetnsLab, run, waitForLine } from "../helpers/netns.ts";
import { Charon } from "../helpers/strongswan.ts";
import { A, B, cpuOf, daemonPids, ourYaml, rssKib, twoNamespaces, waitFor } from "./_lab.ts";
import {
  type BenchRow,
  cpuPercent,
  formatTable,
  median,
  parseProcStat,
  recordRows,
} from "./_results.ts";

/** Length of each load run (s): BENCH_IKE_SECONDS, else min(BENCH_SECONDS, 5). */
const SECONDS = Math.max(
  1,
  Number(
    Deno.env.get("BENCH_IKE_SECONDS") ?? Math.min(5, Number(Deno.env.get("BENCH_SECONDS") ?? 10)),
  ),
);
/** Handshakes the load generator keeps in flight (BENCH_IKE_CONCURRENCY, default 16). */
const CONCURRENCY = Math.max(1, Number(Deno.env.get("BENCH_IKE_CONCURRENCY") ?? 16));
const ESTABLISH_RUNS = 10;
/** Idle time after a load run before the responder's RSS is read (see againstResponder). */
const REST_MS = 5000;
const MEMORY_SAS = Number(Deno.env.get("BENCH_IKE_SAS") ?? 10_000);
export const PSK = "bench-psk-0123456789abcdef";
export const IKE_PROPOSAL = "aes256gcm16-prfsha384-x25519";
export const ESP_PROPOSAL = "aes256gcm16";
const SELF = new URL(import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;

/**
 * How the load generator's clients authenticate: PSK, ECDSA certificates,
 * or PSK as road warriors that each get a virtual IP from the responder's
 * pool (`psk-vip`: every client SA then brings its own SPD instance on a
 * gateway, lib/db/spd.ts addInstance).
 */
export type Auth = "psk" | "ecdsa" | "psk-vip";
/** The responder's pool for `psk-vip` (room for every handshake of a run). */
const VIP_POOL = "10.200.0.0/16";

// ---------------------------------------------------------------------------
// Configurations

/** ECDSA P-256 CA + leaf per side, DER files in `dir` (ca.der, a.der, a.key, b.der, b.key). */
async function writePki(dir: string): Promise<void> {
  const now = new Date();
  const caKey = await generateKeyPair("ecdsa", 256);
  const ca = await selfSignCertificate(caKey, {
    subject: "C=CH, O=Bench, CN=Bench CA",
    ca: true,
    now,
    lifetimeDays: 30,
  });
  await Deno.writeFile(`${dir}/ca.der`, new Uint8Array(ca.rawData));
  for (const side of [A, B]) {
    const k = await generateKeyPair("ecdsa", 256);
    const c = await issueCertificate({
      subject: `C=CH, O=Bench, CN=${side.id}`,
      sans: [side.id],
      issuerCert: ca,
      issuerKey: caKey,
      subjectSpki: k.spki,
      now,
      lifetimeDays: 30,
    });
    const tag = side === A ? "a" : "b";
    await Deno.writeFile(`${dir}/${tag}.der`, new Uint8Array(c.rawData));
    await Deno.writeFile(`${dir}/${tag}.key`, await exportPrivateKeyDer(k));
  }
}

/**
 * Engine configs for initiator A and responder B (remote %any). With
 * `pkiDir` both authenticate with the ECDSA certificates written there.
 */
export function engineConfigs(
  auth: Auth,
  pkiDir?: string,
  target = B.outer,
): { a: EngineConfig; b: EngineConfig } {
  const base = pskConfigs({
    ikeProposals: IKE_PROPOSAL,
    espProposals: ESP_PROPOSAL,
    alice: {
      localAddress: A.outer,
      remoteAddress: target,
      local: { auth: "psk", id: parseIdentity(A.id) },
      remote: { auth: "psk", id: parseIdentity(B.id) },
      dpdDelaySeconds: 0,
      initialContact: false,
      // The load generator speaks from one socket on port 500 (UdpEngine): without
      // MOBIKE, IKE stays there when there is no NAT (with it, IKE_AUTH moves to 4500).
      mobike: false,
    },
    bob: {
      localAddress: target,
      local: { auth: "psk", id: parseIdentity(B.id) },
      remote: { auth: "psk", id: parseIdentity(A.id) },
      dpdDelaySeconds: 0,
    },
    aliceChild: { localTs: [A.net], remoteTs: [B.net] },
    bobChild: { localTs: [B.net], remoteTs: [A.net] },
    aliceSecret: PSK,
    bobSecret: PSK,
  });
  const secrets = [{
    ids: [parseIdentity(A.id), parseIdentity(B.id)],
    secret: new TextEncoder().encode(PSK),
  }];
  const a = { ...base.alice, secrets };
  const b = { ...base.bob, secrets, cookieThreshold: 1_000_000 };
  if (auth === "psk") return { a, b };
  if (auth === "psk-vip") {
    // A road warrior: asks for a virtual IP; its side of the child is that address.
    const rw = {
      ...a,
      connections: a.connections.map((c) => ({
        ...c,
        vips: ["0.0.0.0"],
        children: c.children.map((ch) => ({ ...ch, localTs: ["dynamic"] })),
      })),
    };
    return { a: rw, b };
  }
  const read = (f: string) => Deno.readFileSync(`${pkiDir}/${f}`);
  const ca = read("ca.der");
  const withCerts = (cfg: EngineConfig, me: "a" | "b"): EngineConfig => ({
    ...cfg,
    connections: cfg.connections.map((c) => ({
      ...c,
      local: {
        auth: "pubkey",
        id: c.local.id,
        certs: [read(`${me}.der`)],
        privateKey: read(`${me}.key`),
      },
      remote: { auth: "pubkey", id: c.remote.id, cacerts: [ca] },
      sendCert: "always" as const,
    })),
  });
  return { a: withCerts(a, "a"), b: withCerts(b, "b") };
}

/** swanctl.conf for charon: initiator (side A) or responder (side B, remote %any). */
function charonConf(role: "initiator" | "responder", auth: Auth): string {
  const [me, peer] = role === "initiator" ? [A, B] : [B, A];
  const tag = role === "initiator" ? "a" : "b";
  const psk = auth !== "ecdsa";
  const vip = auth === "psk-vip" && role === "responder";
  const local = psk ? "auth = psk" : `auth = pubkey\n      certs = ${tag}.der`;
  const remote = psk ? "auth = psk" : "auth = pubkey";
  return `connections {
  bench {
    version = 2
    local_addrs = ${me.outer}
    ${role === "initiator" ? `remote_addrs = ${peer.outer}` : ""}
    proposals = ${IKE_PROPOSAL}
    ${vip ? "pools = bench_pool" : ""}
    unique = never
    dpd_delay = 0
    send_cert = always
    local {
      ${local}
      id = ${me.id}
    }
    remote {
      ${remote}
      id = ${peer.id}
    }
    children {
      bench {
        local_ts = ${me.net}
        remote_ts = ${vip ? "dynamic" : peer.net}
        esp_proposals = ${ESP_PROPOSAL}
      }
    }
  }
}
${vip ? `pools {\n  bench_pool {\n    addrs = ${VIP_POOL}\n  }\n}\n` : ""}${
    psk
      ? `secrets {\n  ike-bench {\n    id-1 = ${A.id}\n    id-2 = ${B.id}\n    secret = "${PSK}"\n  }\n}\n`
      : ""
  }`;
}

/** Starts charon in `ns` for `role`; certificates copied into its swanctl dirs. */
export async function startCharon(
  ns: string,
  dir: string,
  role: "initiator" | "responder",
  auth: Auth,
  pkiDir: string,
): Promise<Charon> {
  if (auth === "ecdsa") {
    const tag = role === "initiator" ? "a" : "b";
    for (const d of ["x509", "x509ca", "private"]) {
      await Deno.mkdir(`${dir}/${d}`, { recursive: true });
    }
    await Deno.copyFile(`${pkiDir}/${tag}.der`, `${dir}/x509/${tag}.der`);
    await Deno.copyFile(`${pkiDir}/ca.der`, `${dir}/x509ca/ca.der`);
    await Deno.copyFile(`${pkiDir}/${tag}.key`, `${dir}/private/${tag}.key`);
  }
  return await Charon.start({ ns, dir, swanctlConf: charonConf(role, auth) });
}

// ---------------------------------------------------------------------------
// In memory

/**
 * Delivers every datagram between two engines synchronously (no clock, no
 * loss; timers ignored) and counts child-up events per side.
 */
class MemoryPair {
  a: IkeEngine | null;
  readonly b: IkeEngine;
  upA = 0;
  upB = 0;
  failed = 0;

  constructor(cfg: { a: EngineConfig; b: EngineConfig }) {
    this.a = new IkeEngine(cfg.a, { now: Date.now() });
    this.b = new IkeEngine(cfg.b, { now: Date.now() });
  }

  /** Runs one handshake from A to completion. */
  establish(now: number): void {
    if (!this.a) throw new Error("initiator dropped");
    const queue: { side: "a" | "b"; fx: Effect[] }[] = [{
      side: "a",
      fx: this.a.initiate("site", now),
    }];
    while (queue.length) {
      const { side, fx } = queue.shift()!;
      for (const e of fx) {
        if (e.kind === "send") {
          const to = side === "a" ? this.b : this.a!;
          queue.push({ side: side === "a" ? "b" : "a", fx: to.handle(e.bytes, e.from, e.to, now) });
        } else if (e.kind === "event") {
          if (e.event.type === "child-up") side === "a" ? this.upA++ : this.upB++;
          if (e.event.type === "ike-failed" || e.event.type === "child-failed") this.failed++;
        }
      }
    }
  }
}

function establishInMemory(auth: Auth, pkiDir: string): number[] {
  const times: number[] = [];
  for (let i = 0; i < ESTABLISH_RUNS + 1; i++) {
    const pair = new MemoryPair(engineConfigs(auth, pkiDir));
    const t0 = performance.now();
    pair.establish(Date.now());
    const ms = performance.now() - t0;
    if (pair.upA !== 1 || pair.upB !== 1) throw new Error(`in-memory ${auth} handshake failed`);
    if (i > 0) times.push(ms); // the first run warms up the JIT
  }
  return times;
}

/** `memory N` mode: heap per IKE SA in one responder engine holding N SAs. */
function memoryMode(n: number): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run with --v8-flags=--expose-gc");
  const pair = new MemoryPair(engineConfigs("psk"));
  pair.establish(Date.now()); // warm up code and caches, counted below
  gc();
  const heap0 = Deno.memoryUsage().heapUsed;
  const t0 = performance.now();
  for (let i = 1; i < n; i++) pair.establish(Date.now());
  const seconds = (performance.now() - t0) / 1000;
  gc();
  const both = Deno.memoryUsage().heapUsed;
  pair.a = null; // drop the initiator: what remains is the responder's state
  gc();
  const responder = Deno.memoryUsage().heapUsed;
  console.log(JSON.stringify({
    sas: pair.upB,
    failed: pair.failed,
    bytesPerSaBoth: (both - heap0) / (n - 1),
    bytesPerSaResponder: (responder - heap0) / (n - 1),
    handshakesPerSecond: (n - 1) / seconds,
    rssKib: Math.round(Deno.memoryUsage().rss / 1024),
  }));
}

// ---------------------------------------------------------------------------
// Over UDP

/** Drives one engine on a UDP socket on port 500: receive loop plus a 20 ms timer sweep. */
export class UdpEngine {
  readonly engine: IkeEngine;
  readonly sock: Deno.DatagramConn;
  readonly timers = new Map<string, number>();
  /** Exceptions thrown by `engine.handle` (engine bugs; the datagram is dropped). */
  engineErrors = 0;
  onEvent: (e: Extract<Effect, { kind: "event" }>["event"]) => void = () => {};
  #sweep: ReturnType<typeof setInterval>;
  #closed = false;

  constructor(cfg: EngineConfig, address: string) {
    this.engine = new IkeEngine(cfg, { now: Date.now() });
    this.sock = Deno.listenDatagram({ transport: "udp", hostname: address, port: 500 });
    this.#sweep = setInterval(() => {
      const now = Date.now();
      for (const [id, at] of [...this.timers]) {
        if (at <= now) {
          this.timers.delete(id);
          this.apply(this.engine.timer(id, now));
        }
      }
    }, 20);
    void this.#receive(address);
  }

  apply(fx: Effect[]): void {
    for (const e of fx) {
      switch (e.kind) {
        case "send":
          this.sock.send(e.bytes, { transport: "udp", hostname: e.to.address, port: e.to.port })
            .catch(() => {});
          break;
        case "setTimer":
          this.timers.set(e.id, e.at);
          break;
        case "cancelTimer":
          this.timers.delete(e.id);
          break;
        case "event":
          this.onEvent(e.event);
          break;
      }
    }
  }

  async #receive(address: string): Promise<void> {
    while (!this.#closed) {
      let got: [Uint8Array, Deno.Addr];
      try {
        got = await this.sock.receive();
      } catch {
        return;
      }
      const from = got[1] as Deno.NetAddr;
      try {
        this.apply(
          this.engine.handle(got[0], { address: from.hostname, port: from.port }, {
            address,
            port: 500,
          }, Date.now()),
        );
      } catch (e) {
        // An engine bug must not stop the measurement: count it, report the first.
        if (this.engineErrors++ === 0) console.error(`engine.handle threw: ${(e as Error).stack}`);
      }
    }
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#sweep);
    this.sock.close();
  }
}

/** `responder DIR AUTH` mode: our engine answering on B.outer:500 until stdin closes. */
async function responderMode(pkiDir: string, auth: Auth): Promise<void> {
  const r = new UdpEngine(engineConfigs(auth, pkiDir).b, B.outer);
  let up = 0;
  r.onEvent = (e) => {
    if (e.type === "child-up") up++;
  };
  console.log(JSON.stringify({ ready: true }));
  for await (const _ of Deno.stdin.readable) { /* wait for EOF */ }
  console.error(`responder: ${up} child SAs up`);
  r.close();
}

/**
 * `loadgen DIR AUTH TARGET SECONDS CONCURRENCY` mode: keeps CONCURRENCY
 * handshakes in flight against TARGET for SECONDS; prints one JSON line.
 */
async function loadgenMode(
  pkiDir: string,
  auth: Auth,
  target: string,
  seconds: number,
  concurrency: number,
): Promise<void> {
  const g = new UdpEngine(engineConfigs(auth, pkiDir, target).a, A.outer);
  let up = 0, failed = 0, inFlight = 0, stopping = false;
  const latencies: number[] = [];
  const started: number[] = []; // start times, FIFO (good enough at concurrency 1)
  let done: () => void = () => {};
  const finished = new Promise<void>((r) => done = r);
  const launch = () => {
    while (!stopping && inFlight < concurrency) {
      inFlight++;
      started.push(performance.now());
      g.apply(g.engine.initiate("site", Date.now()));
    }
    if (stopping && inFlight === 0) done();
  };
  g.onEvent = (e) => {
    if (e.type === "child-up") {
      up++;
      latencies.push(performance.now() - (started.shift() ?? performance.now()));
    } else if (e.type === "ike-failed" || e.type === "child-failed") {
      failed++;
      started.shift();
    } else return;
    inFlight--;
    queueMicrotask(launch);
  };
  const selfCpu = () => parseProcStat(Deno.readTextFileSync("/proc/self/stat"));
  const cpu0 = selfCpu();
  const t0 = performance.now();
  launch();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  stopping = true;
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = cpuPercent(cpu0, selfCpu(), elapsed * 1000);
  const upAtStop = up;
  await Promise.race([finished, new Promise((r) => setTimeout(r, 3000))]);
  g.close();
  console.log(JSON.stringify({
    up: upAtStop,
    failed,
    seconds: elapsed,
    rate: upAtStop / elapsed,
    medianMs: latencies.length ? median(latencies) : null,
    engineErrors: g.engineErrors,
    cpu,
  }));
  Deno.exit(0);
}

interface LoadResult {
  up: number;
  failed: number;
  seconds: number;
  rate: number;
  medianMs: number | null;
  engineErrors: number;
  /** The generator's own CPU (%core, all its threads) while it ran. */
  cpu: number;
}

/** Runs this file's loadgen mode inside namespace a and parses its JSON line. */
async function loadgen(
  lab: NetnsLab,
  ns: string,
  pkiDir: string,
  auth: Auth,
  seconds: number,
  concurrency: number,
): Promise<LoadResult> {
  const r = await lab.runIn(ns, [
    Deno.execPath(),
    "run",
    "-A",
    "--unstable-net",
    SELF,
    "loadgen",
    pkiDir,
    auth,
    B.outer,
    String(seconds),
    String(concurrency),
  ]);
  const line = r.stdout.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as LoadResult;
  } catch {
    throw new Error(`load generator failed (exit ${r.code}): ${r.stderr.slice(-300)}`);
  }
}

// ---------------------------------------------------------------------------
// Orchestration

const rows: BenchRow[] = [];
const add = (c: string, metric: string, value: number | null, unit: string, note?: string) =>
  rows.push({ bench: "ike", case: c, metric, value, unit, ...(note ? { note } : {}) });

const errText = (e: unknown) => (e as Error).message.split("\n")[0].slice(0, 160);

/** strongSwan <-> strongSwan: median `swanctl --initiate` time over ESTABLISH_RUNS. */
async function swanToSwan(auth: Auth, pkiDir: string): Promise<void> {
  const name = `strongswan<->strongswan ${auth}`;
  const { lab, a, b } = await twoNamespaces();
  const dir = await Deno.makeTempDir({ prefix: "tbc-ike-" });
  const charons: Charon[] = [];
  try {
    charons.push(await startCharon(a, `${dir}/a`, "initiator", auth, pkiDir));
    charons.push(await startCharon(b, `${dir}/b`, "responder", auth, pkiDir));
    const times: number[] = [];
    for (let i = 0; i < ESTABLISH_RUNS; i++) {
      const t0 = performance.now();
      const r = await charons[0].swanctl(["--initiate", "--child", "bench", "--timeout", "10"]);
      const ms = performance.now() - t0;
      if (r.code !== 0) throw new Error(`swanctl --initiate: ${r.stdout.slice(-200)}${r.stderr}`);
      times.push(ms);
      await charons[0].swanctl(["--terminate", "--ike", "bench", "--timeout", "10"]);
    }
    add(name, "establish", median(times), "ms", `median of ${ESTABLISH_RUNS}, incl. swanctl start`);
  } catch (e) {
    add(name, "establish", null, "ms", `not measured: ${errText(e)}`);
  } finally {
    for (const c of charons) await c.stop();
    await lab.cleanup();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Our daemon (`ipsec start --foreground`) as a PSK responder in `ns`, ready when status answers. */
export async function startDaemon(
  lab: NetnsLab,
  ns: string,
  dir: string,
  root = ROOT,
  auth: Auth = "psk",
  extra: readonly string[] = (Deno.env.get("BENCH_IKE_DAEMON_FLAGS") ?? "").split(" ").filter(
    Boolean,
  ),
): Promise<Deno.ChildProcess> {
  const ipsec = [Deno.execPath(), "run", "-A", `${ROOT}cli/main.ts`];
  const pool = auth === "psk-vip" ? VIP_POOL : undefined;
  await Deno.writeTextFile(
    `${dir}/b.yaml`,
    ourYaml({
      me: B,
      peer: A,
      ike: IKE_PROPOSAL,
      esp: ESP_PROPOSAL,
      psk: PSK,
      anyRemote: true,
      pool,
    }),
  );
  const socket = ["--socket", `${dir}/b.sock`];
  const child = lab.spawnIn(ns, [
    Deno.execPath(),
    "run",
    "-A",
    ...extra,
    `${root}cli/main.ts`,
    "start",
    "--foreground",
    "--config",
    `${dir}/b.yaml`,
    // A log file, as charon gets one (its filelog in tests/helpers/strongswan.ts).
    "--log-file",
    `${dir}/b.log`,
    ...socket,
  ]);
  void child.stderr.cancel().catch(() => {});
  void child.stdout.cancel().catch(() => {});
  await waitFor(
    "our daemon to answer",
    async () => (await run([...ipsec, "status", ...socket])).code === 0,
  );
  return child;
}

/** Who answers the load generator. */
type Responder = "strongswan" | "deno-ipsec" | "deno-ipsec daemon" | "deno-ipsec daemon baseline";

/**
 * BENCH_IKE_BASELINE=DIR (a checkout of another revision, e.g. `git archive
 * HEAD | tar -x -C DIR`): its daemon answers too, in every PSK round, as
 * "deno-ipsec daemon (baseline)": before/after figures from the same run.
 */
const BASELINE = (() => {
  const dir = Deno.env.get("BENCH_IKE_BASELINE");
  return dir ? (dir.endsWith("/") ? dir : `${dir}/`) : "";
})();

/**
 * Our load generator against `responder` in namespace b: one handshake at a
 * time (establish latency), then CONCURRENCY in flight for SECONDS.
 */
async function againstResponder(
  responder: Responder,
  auth: Auth,
  pkiDir: string,
): Promise<void> {
  const { lab, a, b } = await twoNamespaces();
  const dir = await Deno.makeTempDir({ prefix: "tbc-ike-" });
  let charon: Charon | undefined;
  let daemon: Deno.ChildProcess | undefined;
  const label = responder === "strongswan"
    ? "charon"
    : responder === "deno-ipsec"
    ? "deno-ipsec engine"
    : responder === "deno-ipsec daemon"
    ? "deno-ipsec daemon"
    : "deno-ipsec daemon (baseline)";
  try {
    if (responder === "strongswan") {
      charon = await startCharon(b, `${dir}/b`, "responder", auth, pkiDir);
    } else if (responder === "deno-ipsec daemon") {
      daemon = await startDaemon(lab, b, dir, ROOT, auth);
    } else if (responder === "deno-ipsec daemon baseline") {
      daemon = await startDaemon(lab, b, dir, BASELINE, auth);
    } else {
      const child = lab.spawnIn(b, [
        Deno.execPath(),
        "run",
        "-A",
        "--unstable-net",
        SELF,
        "responder",
        pkiDir,
        auth,
      ]);
      await waitForLine(child.stdout, (l) => l.includes("ready"));
    }
    const pids = await daemonPids(b);
    const single = await loadgen(lab, a, pkiDir, auth, Math.min(3, SECONDS), 1);
    add(
      `deno-ipsec engine -> ${label} ${auth}`,
      "establish",
      single.medianMs,
      "ms",
      `UDP, median of ${single.up}`,
    );
    const [cpu0, rss0, t0] = [await cpuOf(pids), await rssKib(pids), Date.now()];
    const threads0 = DEBUG_THREADS ? await threadTicks(pids) : new Map<string, number[]>();
    const load = await loadgen(lab, a, pkiDir, auth, SECONDS, CONCURRENCY);
    const ms = Date.now() - t0;
    const cpu = cpuPercent(cpu0, await cpuOf(pids), ms);
    if (DEBUG_THREADS) {
      for (const [t, [u, s]] of await threadTicks(pids)) {
        const [u0, s0] = threads0.get(t) ?? [0, 0];
        if (u - u0 + s - s0 > 0) {
          console.error(`${label} thread ${t}: user ${u - u0} sys ${s - s0} ticks`);
        }
      }
    }
    // RSS at rest: the load has stopped and the responder had REST_MS to free
    // (V8: to collect) what the handshakes left behind; right after the load
    // it also counted garbage not yet collected (tests/bench/ike_mem.ts
    // splits the figure up, with a forced gc).
    await new Promise((r) => setTimeout(r, REST_MS));
    const rss1 = await rssKib(pids);
    const c = `load -> ${label} ${auth}`;
    const note = responder === "deno-ipsec" ? "engine only, child SAs not installed" : undefined;
    if (daemon) {
      add(c, "child SAs installed", await installedSas(dir), "SAs", "ipsec sad, in + out");
      // A clean stop, so a daemon run with --cpu-prof (BENCH_IKE_DAEMON_FLAGS) writes its profile.
      await run([
        Deno.execPath(),
        "run",
        "-A",
        `${ROOT}cli/main.ts`,
        "stop",
        "--socket",
        `${dir}/b.sock`,
      ]);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([daemon?.status, new Promise((r) => timer = setTimeout(r, 10_000))]);
      clearTimeout(timer);
    }
    add(
      c,
      "handshakes/s",
      load.rate,
      "1/s",
      `${CONCURRENCY} in flight, ${load.failed} failed${
        load.engineErrors ? `, ${load.engineErrors} engine exceptions in the generator` : ""
      }`,
    );
    add(c, "responder cpu", cpu, "%core", note);
    add(c, "generator cpu", load.cpu, "%core", "the load generator's process");
    add(c, "handshakes/cpu-s", cpu > 0 ? load.rate / (cpu / 100) : null, "1/s", note);
    const total = load.up + single.up;
    add(
      c,
      "rss growth/SA",
      total ? (rss1 - rss0) * 1024 / total : null,
      "B",
      `${total} SAs, at rest (${REST_MS / 1000} s after the load)`,
    );
  } catch (e) {
    add(`load -> ${label} ${auth}`, "handshakes/s", null, "1/s", `not measured: ${errText(e)}`);
    if (charon) console.error((await charon.log()).split("\n").slice(-20).join("\n"));
  } finally {
    await charon?.stop();
    await lab.cleanup();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

const DEBUG_THREADS = Deno.env.get("BENCH_IKE_THREADS") === "1";

/** utime/stime ticks per thread ("pid/tid comm") of `pids`. */
async function threadTicks(pids: readonly number[]): Promise<Map<string, number[]>> {
  const m = new Map<string, number[]>();
  for (const p of pids) {
    for await (const t of Deno.readDir(`/proc/${p}/task`)) {
      const text = await Deno.readTextFile(`/proc/${p}/task/${t.name}/stat`).catch(() => "");
      const comm = text.slice(text.indexOf("(") + 1, text.lastIndexOf(")"));
      const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
      m.set(`${p}/${t.name} ${comm}`, [Number(f[11]), Number(f[12])]);
    }
  }
  return m;
}

/** SAs (both directions) in our daemon's SAD, via `ipsec sad --json`. */
export async function installedSas(dir: string): Promise<number | null> {
  const r = await run([
    Deno.execPath(),
    "run",
    "-A",
    `${ROOT}cli/main.ts`,
    "sad",
    "--json",
    "--socket",
    `${dir}/b.sock`,
  ]);
  try {
    return (JSON.parse(r.stdout) as unknown[]).length;
  } catch {
    return null;
  }
}

async function memory(): Promise<void> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--v8-flags=--expose-gc", SELF, "memory", String(MEMORY_SAS)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(r.stdout).trim().split("\n").pop() ?? "";
  try {
    const m = JSON.parse(out) as {
      sas: number;
      failed: number;
      bytesPerSaBoth: number;
      bytesPerSaResponder: number;
      handshakesPerSecond: number;
    };
    const c = `deno-ipsec engine in memory, ${m.sas} SAs`;
    add(c, "heap/IKE SA (responder)", m.bytesPerSaResponder, "B", "incl. its child SA");
    add(c, "heap/IKE SA (both sides)", m.bytesPerSaBoth, "B");
    add(c, "handshakes/s", m.handshakesPerSecond, "1/s", "both sides in one thread, PSK");
  } catch {
    add(
      "deno-ipsec engine in memory",
      "heap/IKE SA (responder)",
      null,
      "B",
      `failed: ${new TextDecoder().decode(r.stderr).slice(-200)}`,
    );
  }
}

/**
 * BENCH_IKE_ONLY=load-psk runs only the PSK responder rates (engine, daemon,
 * charon; then daemon and charon handing out virtual IPs), e.g. to profile
 * the daemon.
 */
const LOAD_ONLY = Deno.env.get("BENCH_IKE_ONLY") === "load-psk";
/**
 * PSK responder rates: BENCH_IKE_ROUNDS rounds of engine, daemon, charon one
 * after the other (default 3 with BENCH_IKE_ONLY=load-psk, else 1); each
 * figure is the median over the rounds, its note gives the range. On a
 * shared machine the load of other jobs changes within seconds: interleaved
 * rounds give every responder the same mix of quiet and busy moments.
 */
const ROUNDS = Math.max(1, Number(Deno.env.get("BENCH_IKE_ROUNDS") ?? (LOAD_ONLY ? 3 : 1)));

/** Merges rows measured in several rounds: the median value per case and metric. */
function mergeRounds(all: readonly BenchRow[], rounds: number): BenchRow[] {
  if (rounds < 2) return [...all];
  const groups = new Map<string, BenchRow[]>();
  for (const r of all) {
    const key = `${r.case}\u0000${r.metric}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.values()].map((g) => {
    const values = g.map((r) => r.value).filter((v): v is number => v !== null);
    if (values.length === 0) return g[0];
    const fmt = (v: number) => (v >= 100 ? v.toFixed(0) : v.toPrecision(3));
    const range = `median of ${values.length} rounds (${fmt(Math.min(...values))}-${
      fmt(Math.max(...values))
    })`;
    return {
      ...g[0],
      value: median(values),
      note: g[0].note ? `${g[0].note}; ${range}` : range,
    };
  });
}

/**
 * The PSK responder rates, ROUNDS times interleaved (see {@link ROUNDS}),
 * without and with virtual IPs for the clients (`psk-vip`).
 */
async function pskResponders(pkiDir: string): Promise<void> {
  const from = rows.length;
  for (let i = 0; i < ROUNDS; i++) {
    const responders: Responder[] = [
      "deno-ipsec",
      ...(BASELINE ? ["deno-ipsec daemon baseline" as const] : []),
      "deno-ipsec daemon",
      "strongswan",
    ];
    for (const r of responders) await againstResponder(r, "psk", pkiDir);
    // Road warriors with virtual IPs: a gateway's per-client SPD instances (not the engine alone).
    for (const r of responders) {
      if (r !== "deno-ipsec") await againstResponder(r, "psk-vip", pkiDir);
    }
  }
  rows.push(...mergeRounds(rows.splice(from), ROUNDS));
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const pkiDir = await Deno.makeTempDir({ prefix: "tbc-pki-" });
  try {
    await writePki(pkiDir);
    if (LOAD_ONLY) await pskResponders(pkiDir);
    for (const auth of LOAD_ONLY ? [] : ["psk", "ecdsa"] as const) {
      add(
        `deno-ipsec<->deno-ipsec ${auth}`,
        "establish",
        median(establishInMemory(auth, pkiDir)),
        "ms",
        `in memory, median of ${ESTABLISH_RUNS}`,
      );
      await swanToSwan(auth, pkiDir);
      if (auth === "psk") await pskResponders(pkiDir);
      else {
        await againstResponder("deno-ipsec", auth, pkiDir);
        await againstResponder("strongswan", auth, pkiDir);
      }
    }
    if (!LOAD_ONLY) await memory();
  } finally {
    await Deno.remove(pkiDir, { recursive: true }).catch(() => {});
  }
  console.log(formatTable(rows));
  console.log(`ike: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  await recordRows(rows);
}

if (import.meta.main) {
  const [mode, ...args] = Deno.args;
  const auth = (args[1] ?? "psk") as Auth;
  if (mode === "responder") await responderMode(args[0], auth);
  else if (mode === "loadgen") {
    await loadgenMode(args[0], auth, args[2], Number(args[3]), Number(args[4]));
  } else if (mode === "memory") memoryMode(Number(args[0]));
  else await main();
}
