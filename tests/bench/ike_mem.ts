/**
 * Memory per established IKE SA (with its child SA) in our daemon and in
 * charon, measured at rest (issue: the "rss growth/SA" of ike_bench.ts under
 * load also counts garbage not yet collected):
 *
 * 1. The responder (`ipsec start --foreground --inspect` in namespace b, or
 *    charon) starts; a load generator in namespace a (our engine, like
 *    ike_bench.ts) brings it to each count of SAs in turn (default 0, 2000,
 *    5000; the initiators never delete them).
 * 2. After each stage the load has stopped; we wait SETTLE_MS and read the
 *    RSS of the responder's processes ("at rest"). For our daemon a probe in
 *    namespace b then connects to its inspector, reads the V8 heap of the
 *    main isolate and of every data-plane Worker (NodeWorker sessions), has
 *    each collect garbage, reads them again, and the RSS is read once more
 *    ("after gc").
 * 3. Bytes per SA are the differences between two stages divided by the SAs
 *    added (so start-up and JIT warm-up do not count): V8 heap used after gc
 *    per isolate, garbage (used before gc minus after), and the rest of the
 *    RSS (native: OpenSSL contexts, FFI buffers, malloc, V8 heap slack).
 *
 * With BENCH_MEM_SNAPSHOTS=DIR the probe also writes a heap snapshot of each
 * isolate at every stage (`DIR/<stage>-<isolate>.heapsnapshot`); `analyze A
 * B N` prints what grew between two snapshots, per constructor (plain
 * objects by their first property names), divided by N SAs.
 *
 * Run (root): `deno run -A tests/bench/ike_mem.ts [daemon|charon] [N1 N2 ...]`.
 * Internal modes: `loadgen N CONCURRENCY`, `probe PORT SOCKET [SNAPSHOT_PREFIX]`,
 * `analyze A B N [GROUP]`.
 *
 * @module
 */
import type { Charon } from "../helpers/strongswan.ts";
import { A, B, daemonPids, rssKib, twoNamespaces } from "./_lab.ts";
import { engineConfigs, installedSas, startCharon, startDaemon, UdpEngine } from "./ike_bench.ts";

const SELF = new URL(import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;
/** How long to wait after the load stopped before reading the RSS (BENCH_MEM_SETTLE_MS). */
const SETTLE_MS = Number(Deno.env.get("BENCH_MEM_SETTLE_MS") ?? 5000);
const CONCURRENCY = 16;
const INSPECT_PORT = 9229;

// ---------------------------------------------------------------------------
// Inspector (Chrome DevTools protocol) client

type CdpParams = Record<string, unknown>;
interface CdpMessage {
  id?: number;
  method?: string;
  params?: CdpParams;
  result?: CdpParams;
  error?: { message: string };
}

/** One WebSocket to an isolate's inspector; Worker isolates through NodeWorker sessions. */
class Cdp {
  readonly #ws: WebSocket;
  #id = 0;
  readonly #pending = new Map<string, (m: CdpMessage) => void>();
  /** Events by session ("" = main isolate). */
  onEvent: (session: string, m: CdpMessage) => void = () => {};
  readonly workers: { sessionId: string; title: string }[] = [];

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.onmessage = (e: MessageEvent<string>) => this.#dispatch("", JSON.parse(e.data));
  }

  static async connect(url: string): Promise<Cdp> {
    const ws = new WebSocket(url);
    await new Promise<void>((ok, fail) => {
      ws.onopen = () => ok();
      ws.onerror = () => fail(new Error(`cannot connect to ${url}`));
    });
    return new Cdp(ws);
  }

  #dispatch(session: string, m: CdpMessage): void {
    if (m.method === "NodeWorker.receivedMessageFromWorker") {
      const p = m.params as { sessionId: string; message: string };
      this.#dispatch(p.sessionId, JSON.parse(p.message));
      return;
    }
    if (m.method === "NodeWorker.attachedToWorker") {
      const p = m.params as { sessionId: string; workerInfo: { title: string } };
      this.workers.push({ sessionId: p.sessionId, title: p.workerInfo.title });
    }
    if (m.id !== undefined) {
      const key = `${session}/${m.id}`;
      this.#pending.get(key)?.(m);
      this.#pending.delete(key);
    } else this.onEvent(session, m);
  }

  /** Sends `method` to the main isolate (session "") or a Worker's session. */
  call(session: string, method: string, params: CdpParams = {}): Promise<CdpParams> {
    const id = ++this.#id;
    const text = JSON.stringify({ id, method, params });
    const done = new Promise<CdpParams>((ok, fail) => {
      this.#pending.set(`${session}/${id}`, (m) => {
        if (m.error) fail(new Error(`${method}: ${m.error.message}`));
        else ok(m.result ?? {});
      });
    });
    if (session === "") this.#ws.send(text);
    else {
      this.#ws.send(JSON.stringify({
        id: ++this.#id,
        method: "NodeWorker.sendMessageToWorker",
        params: { sessionId: session, message: text },
      }));
    }
    return done;
  }

  close(): void {
    this.#ws.close();
  }
}

/** V8 heap of one isolate before and after a full gc (bytes). */
interface IsolateHeap {
  name: string;
  usedBefore: number;
  totalBefore: number;
  usedAfter: number;
  totalAfter: number;
  /** Off-heap memory V8 knows of (ArrayBuffer backing stores), after gc. */
  backingAfter: number;
}

/**
 * `probe PORT SOCKET [PREFIX]` mode (inside the daemon's namespace): prints
 * IsolateHeap[] as JSON; with PREFIX also writes a heap snapshot per isolate.
 *
 * A data-plane Worker sits in a synchronous poll() and turns its event loop
 * (where inspector messages are handled) only when the daemon posts it a
 * control message: after each request to a Worker we ask the daemon for
 * `ipsec sad --json`, which collects counters from every Worker. The main
 * isolate collects again at the end, so that request's garbage is gone too.
 */
async function probeMode(port: number, socket: string, prefix: string): Promise<void> {
  const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json() as {
    webSocketDebuggerUrl: string;
  }[];
  const cdp = await Cdp.connect(list[0].webSocketDebuggerUrl);
  await cdp.call("", "NodeWorker.enable", { waitForDebuggerOnStart: false });
  await new Promise((r) => setTimeout(r, 300)); // attachedToWorker events
  const poke = () =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}cli/main.ts`, "sad", "--json", "--socket", socket],
      stdout: "null",
      stderr: "null",
    }).output();
  const call = async (session: string, method: string, params: CdpParams = {}) => {
    const reply = cdp.call(session, method, params);
    if (session === "") return await reply;
    let got: CdpParams | undefined;
    void reply.then((r) => got = r);
    for (let i = 0; i < 20 && !got; i++) {
      await poke();
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!got) throw new Error(`no answer from Worker session ${session} to ${method}`);
    return got;
  };
  const snapshot = async (session: string, name: string) => {
    const chunks: string[] = [];
    cdp.onEvent = (s, m) => {
      if (s === session && m.method === "HeapProfiler.addHeapSnapshotChunk") {
        chunks.push((m.params as { chunk: string }).chunk);
      }
    };
    await call(session, "HeapProfiler.takeHeapSnapshot", { reportProgress: false });
    cdp.onEvent = () => {};
    await Deno.writeTextFile(`${prefix}-${name}.heapsnapshot`, chunks.join(""));
  };
  const gc = async (session: string) => {
    for (let i = 0; i < 3; i++) await call(session, "HeapProfiler.collectGarbage");
  };
  const usage = (h: CdpParams) => ({
    used: h.usedSize as number,
    total: h.totalSize as number,
    backing: (h.backingStorageSize as number | undefined) ?? 0,
  });
  const out: IsolateHeap[] = [];
  const main = usage(await call("", "Runtime.getHeapUsage"));
  for (const w of cdp.workers) {
    const name = w.title.replace(/\W+/g, "_").replace(/_$/, "");
    const before = usage(await call(w.sessionId, "Runtime.getHeapUsage"));
    await gc(w.sessionId);
    const after = usage(await call(w.sessionId, "Runtime.getHeapUsage"));
    out.push({
      name,
      usedBefore: before.used,
      totalBefore: before.total,
      usedAfter: after.used,
      totalAfter: after.total,
      backingAfter: after.backing,
    });
    if (prefix) await snapshot(w.sessionId, name);
  }
  await gc("");
  const mainAfter = usage(await call("", "Runtime.getHeapUsage"));
  out.unshift({
    name: "main",
    usedBefore: main.used,
    totalBefore: main.total,
    usedAfter: mainAfter.used,
    totalAfter: mainAfter.total,
    backingAfter: mainAfter.backing,
  });
  if (prefix) await snapshot("", "main");
  cdp.close();
  console.log(JSON.stringify(out));
}

// ---------------------------------------------------------------------------
// Load generator

/** `loadgen N CONCURRENCY` mode (namespace a): establishes N PSK IKE SAs against B, then exits. */
async function loadgenMode(n: number, concurrency: number): Promise<void> {
  const g = new UdpEngine(engineConfigs("psk", undefined, B.outer).a, A.outer);
  let up = 0, failed = 0, started = 0, inFlight = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((r) => done = r);
  const launch = () => {
    while (started < n + failed && inFlight < concurrency) {
      started++;
      inFlight++;
      g.apply(g.engine.initiate("site", Date.now()));
    }
    if (inFlight === 0) done();
  };
  g.onEvent = (e) => {
    if (e.type === "child-up") up++;
    else if (e.type === "ike-failed" || e.type === "child-failed") failed++;
    else return;
    inFlight--;
    queueMicrotask(launch);
  };
  const t0 = performance.now();
  launch();
  await finished;
  const seconds = (performance.now() - t0) / 1000;
  g.close();
  console.log(JSON.stringify({ up, failed, seconds }));
  Deno.exit(0);
}

// ---------------------------------------------------------------------------
// Heap snapshot diff

interface Snapshot {
  snapshot: {
    meta: {
      node_fields: string[];
      node_types: [string[], ...unknown[]];
      edge_fields: string[];
      edge_types: [string[], ...unknown[]];
    };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

/** A parsed snapshot: per node its group key, self size, id and first strong retainer. */
interface Graph {
  keys: string[];
  sizes: number[];
  ids: number[];
  /** Node index and edge label of the first strong retainer (-1: none). */
  parent: Int32Array;
  parentEdge: string[];
}

/** Groups nodes by constructor name; plain objects by their first property names. */
function graph(path: string): Graph {
  const s = JSON.parse(Deno.readTextFileSync(path)) as Snapshot;
  const nf = s.snapshot.meta.node_fields, ef = s.snapshot.meta.edge_fields;
  const nTypes = s.snapshot.meta.node_types[0], eTypes = s.snapshot.meta.edge_types[0];
  const [iType, iName, iId, iSize, iEdges] = ["type", "name", "id", "self_size", "edge_count"]
    .map((f) => nf.indexOf(f));
  const [jType, jName, jTo] = ["type", "name_or_index", "to_node"].map((f) => ef.indexOf(f));
  const count = s.nodes.length / nf.length;
  const g: Graph = {
    keys: [],
    sizes: [],
    ids: [],
    parent: new Int32Array(count).fill(-1),
    parentEdge: new Array<string>(count).fill(""),
  };
  let e = 0;
  for (let n = 0; n < count; n++) {
    const i = n * nf.length;
    const type = nTypes[s.nodes[i + iType]];
    let name = s.strings[s.nodes[i + iName]];
    const edges = s.nodes[i + iEdges];
    const props: string[] = [];
    for (let k = 0; k < edges; k++) {
      const at = (e + k) * ef.length;
      const et = eTypes[s.edges[at + jType]];
      const label = et === "element" || et === "hidden"
        ? `[${s.edges[at + jName]}]`
        : s.strings[s.edges[at + jName]];
      if (et === "property" && props.length < 6) props.push(label);
      const to = s.edges[at + jTo] / nf.length;
      if (et !== "weak" && et !== "shortcut" && g.parent[to] === -1 && to !== n) {
        g.parent[to] = n;
        g.parentEdge[to] = label;
      }
    }
    if (type === "object" && name === "Object") name = `{${props.join(",")}}`;
    else if (type === "string" || type === "concatenated string" || type === "sliced string") {
      name = "(string)";
    } else if (type === "code") name = "(code)";
    else if (type === "closure") name = `${name}()`;
    else if (type === "array" || type === "hidden") name = `(${type}) ${name.slice(0, 40)}`;
    g.keys.push(`${type}:${name.slice(0, 90)}`);
    g.sizes.push(s.nodes[i + iSize]);
    g.ids.push(s.nodes[i + iId]);
    e += edges;
  }
  return g;
}

/**
 * `analyze A B N [GROUP]` mode: per-SA growth by group between two
 * snapshots of one isolate, largest first; with GROUP (a substring of a
 * group key) the retainer paths of that group's new objects.
 */
function analyzeMode(a: string, b: string, n: number, group: string): void {
  const ga = graph(a), gb = graph(b);
  const sum = (g: Graph) => {
    const m = new Map<string, { size: number; count: number }>();
    g.keys.forEach((k, i) => {
      const v = m.get(k) ?? { size: 0, count: 0 };
      v.size += g.sizes[i];
      v.count++;
      m.set(k, v);
    });
    return m;
  };
  const sa = sum(ga), sb = sum(gb);
  const rowsOut: { key: string; bytes: number; count: number }[] = [];
  let total = 0;
  for (const [key, g] of sb) {
    const before = sa.get(key) ?? { size: 0, count: 0 };
    const d = { key, bytes: (g.size - before.size) / n, count: (g.count - before.count) / n };
    total += d.bytes;
    rowsOut.push(d);
  }
  rowsOut.sort((x, y) => y.bytes - x.bytes);
  console.log(`total self size growth: ${total.toFixed(0)} B/SA`);
  for (const r of rowsOut.slice(0, 45)) {
    console.log(
      `${r.bytes.toFixed(0).padStart(7)} B ${r.count.toFixed(2).padStart(7)} x  ${r.key}`,
    );
  }
  if (!group) return;
  const old = new Set(ga.ids);
  const paths = new Map<string, { count: number; size: number }>();
  gb.keys.forEach((k, i) => {
    if (!k.includes(group) || old.has(gb.ids[i])) return;
    const hops: string[] = [];
    for (let at = i, d = 0; d < 5 && gb.parent[at] >= 0; d++) {
      const edge = gb.parentEdge[at].replace(/\d+/g, "#");
      hops.push(`${edge} <- ${gb.keys[gb.parent[at]].replace(/@\d+/, "").slice(0, 60)}`);
      at = gb.parent[at];
    }
    const key = hops.join("  |  ");
    const v = paths.get(key) ?? { count: 0, size: 0 };
    v.count++;
    v.size += gb.sizes[i];
    paths.set(key, v);
  });
  console.log(`\nretainers of new '${group}' objects (count/SA, bytes/SA):`);
  for (const [k, v] of [...paths].sort((x, y) => y[1].count - x[1].count).slice(0, 25)) {
    console.log(
      `${(v.count / n).toFixed(2).padStart(6)} ${(v.size / n).toFixed(0).padStart(6)}  ${k}`,
    );
  }
}

// ---------------------------------------------------------------------------
// Orchestration

interface Stage {
  sas: number;
  installed: number | null;
  rssRestKib: number;
  rssGcKib: number | null;
  heaps: IsolateHeap[];
}

async function main(responder: "daemon" | "charon", counts: number[]): Promise<void> {
  const { lab, a, b } = await twoNamespaces();
  const dir = await Deno.makeTempDir({ prefix: "tbc-mem-" });
  const snapDir = Deno.env.get("BENCH_MEM_SNAPSHOTS") ?? "";
  let charon: Charon | undefined;
  const stages: Stage[] = [];
  try {
    if (responder === "charon") charon = await startCharon(b, `${dir}/b`, "responder", "psk", "");
    else await startDaemon(lab, b, dir, ROOT, "psk", [`--inspect=127.0.0.1:${INSPECT_PORT}`]);
    const pids = await daemonPids(b);
    let sas = 0;
    for (const target of [0, ...counts]) {
      if (target > sas) {
        const r = await lab.runIn(a, [
          Deno.execPath(),
          "run",
          "-A",
          "--unstable-net",
          SELF,
          "loadgen",
          String(target - sas),
          String(CONCURRENCY),
        ]);
        const line = r.stdout.trim().split("\n").pop() ?? "";
        if (!line.startsWith("{")) throw new Error(`loadgen failed: ${r.stderr.slice(-300)}`);
        const l = JSON.parse(line) as { up: number; failed: number; seconds: number };
        console.error(`+${l.up} SAs in ${l.seconds.toFixed(1)} s (${l.failed} failed)`);
        sas += l.up;
      }
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      const rssRestKib = await rssKib(pids);
      let heaps: IsolateHeap[] = [];
      let rssGcKib: number | null = null;
      if (responder === "daemon") {
        const prefix = snapDir ? `${snapDir}/${sas}` : "";
        const r = await lab.runIn(b, [
          Deno.execPath(),
          "run",
          "-A",
          SELF,
          "probe",
          String(INSPECT_PORT),
          `${dir}/b.sock`,
          prefix,
        ]);
        if (r.code !== 0) throw new Error(`probe failed: ${r.stderr.slice(-400)}`);
        heaps = JSON.parse(r.stdout.trim().split("\n").pop() ?? "[]") as IsolateHeap[];
        await new Promise((r) => setTimeout(r, 1000));
        rssGcKib = await rssKib(pids);
      }
      const installed = responder === "daemon" ? await installedSas(dir) : null;
      stages.push({ sas, installed, rssRestKib, rssGcKib, heaps });
      console.error(JSON.stringify(stages.at(-1)));
    }
  } finally {
    await charon?.stop();
    await lab.cleanup();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  report(responder, stages);
}

function report(responder: string, stages: Stage[]): void {
  const f = (v: number) => v.toFixed(0).padStart(8);
  for (let i = 1; i < stages.length; i++) {
    const [s0, s1] = [stages[i - 1], stages[i]];
    const n = s1.sas - s0.sas;
    if (n <= 0) continue;
    console.log(
      `${responder}: ${s0.sas} -> ${s1.sas} SAs (installed SA directions: ${s1.installed})`,
    );
    console.log(`  rss at rest         ${f((s1.rssRestKib - s0.rssRestKib) * 1024 / n)} B/SA`);
    if (s1.rssGcKib !== null && s0.rssGcKib !== null) {
      console.log(`  rss after gc        ${f((s1.rssGcKib - s0.rssGcKib) * 1024 / n)} B/SA`);
    }
    let heapUsed = 0, heapTotal = 0;
    for (const h1 of s1.heaps) {
      const h0 = s0.heaps.find((h) => h.name === h1.name);
      if (!h0) continue;
      heapUsed += h1.usedAfter - h0.usedAfter;
      heapTotal += h1.totalAfter - h0.totalAfter;
      console.log(
        `  heap ${h1.name.padEnd(14)} used ${f((h1.usedAfter - h0.usedAfter) / n)} B/SA, ` +
          `total ${f((h1.totalAfter - h0.totalAfter) / n)}, ` +
          `garbage at rest ${f((h1.usedBefore - h1.usedAfter) / s1.sas)}, ` +
          `backing ${f((h1.backingAfter - h0.backingAfter) / n)}`,
      );
    }
    if (s1.rssGcKib !== null && s0.rssGcKib !== null) {
      const rss = (s1.rssGcKib - s0.rssGcKib) * 1024;
      console.log(`  heaps used (all)    ${f(heapUsed / n)} B/SA`);
      console.log(`  rss minus heap total${f((rss - heapTotal) / n)} B/SA (native + slack)`);
    }
  }
}

if (import.meta.main) {
  const [mode, ...args] = Deno.args;
  if (mode === "loadgen") await loadgenMode(Number(args[0]), Number(args[1]));
  else if (mode === "probe") await probeMode(Number(args[0]), args[1], args[2] ?? "");
  else if (mode === "analyze") analyzeMode(args[0], args[1], Number(args[2]), args[3] ?? "");
  else {
    const responder = mode === "charon" ? "charon" : "daemon";
    const counts = args.length ? args.map(Number) : [2000, 5000];
    await main(responder, counts);
  }
}
