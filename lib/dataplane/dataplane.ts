/**
 * The userspace IPsec data plane, controlled from the main thread.
 *
 * {@linkcode Dataplane.start} spawns the data-path Workers: by default one
 * for outbound (reads the TUN, SPD, encrypts, sends through header-included
 * raw sockets) and one for inbound (raw ESP/AH and optional UDP 4500
 * sockets, decrypts, writes the TUN). Each blocks in a synchronous `poll()`;
 * packets never cross into the main thread. The main thread installs
 * policies and SAs with postMessage plus an eventfd wake-up; every call
 * resolves once the Worker applied it.
 *
 * Routing: `routes` (remote traffic selectors) go into the dedicated table
 * `table` via the TUN, and one policy rule per family says "packets without
 * fwmark `mark` look up `table`". The Worker marks everything it sends, so
 * its own ESP packets (and BYPASS traffic) follow the main table to the
 * wire and never loop into the TUN: this is what makes host-to-host and
 * transport mode work. All of it is removed by {@linkcode Dataplane.stop}.
 *
 * Public API:
 * - `Dataplane.start(opts)` -> Promise<Dataplane>: open TUN + sockets, configure routing.
 * - `dp.setPolicies(entries | null)`: the SPD (lib/db/spd.ts `SpdEntry[]`); null = discard all.
 *   Until called, everything from the TUN is dropped (fail closed). Also (re)installs the
 *   inbound guard; `dp.inboundGuard` gives its rules and warnings.
 * - `dp.installSa(spec)`: an SA with keys (`SaSpec`, lib/dataplane/sa_spec.ts).
 * - `dp.removeSa(direction, protocol, spi)`, `dp.updateSa(...)` (MOBIKE address/NAT change).
 * - `dp.sendIke(bytes, remote, port)`: IKE over the UDP encapsulation socket (marker added).
 * - `dp.stats()` -> counters per drop reason, per path and per SA.
 * - `dp.on(listener)`: events — "acquire" (PROTECT packet without SA: start IKE),
 *   "expire" (soft: rekey; hard: SA removed), "ike" (IKE message on port 4500),
 *   "discard" (audit: the first discard per reason and second, with the rest counted), "error".
 * - `dp.stop()`: close everything, remove rules/routes/addresses; the TUN disappears.
 *
 * MTU: the TUN MTU (`tunMtu`) should be the path MTU minus the SA overhead
 * ({@linkcode tunMtuFor}); the kernel then answers oversized DF packets from
 * local or forwarded traffic with ICMP "fragmentation needed" itself, and
 * the data plane clamps the MSS of tunnelled TCP SYNs (both ways) to fit.
 *
 * Permissions: root (CAP_NET_ADMIN, CAP_NET_RAW), `--allow-ffi`, and
 * `--allow-read` for the Worker module ({@linkcode defaultWorkerUrl}: from a
 * bundle, `dataplane_worker.js` must sit next to it).
 *
 * Clear inbound packets (RFC 4301 5.2 step 3) never reach the Workers: the
 * kernel delivers them. {@linkcode Dataplane.setPolicies} therefore also
 * installs FIB rules (lib/dataplane/inbound_guard.ts) that drop clear
 * packets the SPD says to DISCARD or that should have arrived protected;
 * {@linkcode Dataplane.stop} removes them last. Off with `inboundGuard: false`.
 *
 * Not done here: time-based lifetimes (the daemon's timers call removeSa);
 * more than one Worker per direction (a multi-queue TUN would spread flows,
 * but an SA's sequence counter must stay in one thread).
 *
 * @example
 * ```ts
 * const dp = await Dataplane.start({
 *   tunName: "ipsec0", tunMtu: 1400, mark: 0x1000, table: 220,
 *   addresses: ["10.1.0.1/32"], routes: ["10.2.0.0/16"],
 * });
 * dp.on((e) => { if (e.type === "acquire") ike.initiate(e.policyIndex, e.dst); });
 * await dp.setPolicies([{ selectors: [sel], action: "protect", processing }]);
 * await dp.installSa({ direction: "out", protocol: "esp", spi: 0x1001, mode: "tunnel",
 *   local: ip("192.0.2.1"), remote: ip("192.0.2.2"),
 *   encryption: { alg: "aes-gcm", key, salt, icvLength: 16 }, selectors: [sel] });
 * console.log(await dp.stats());
 * await dp.stop();
 * ```
 *
 * @module
 */

import type { CryptoBackendPreference } from "../../ffi/crypto_backend.ts";
import { signalEventFd } from "../../ffi/eventfd.ts";
import { ifNameToIndex } from "../../ffi/libc.ts";
import { NetSocket, routeMtu } from "../../ffi/socket.ts";
import { Netlink, NetlinkError, type RouteSpec, type RuleSpec } from "../../ffi/netlink.ts";
import { ipToBytes, parseIp } from "../db/address.ts";
import type { SpdEntry } from "../db/spd.ts";
import type { DataplaneEvent, DataplaneStats, PolicyInstance } from "./core.ts";
import type { ControlRequest, WorkerInit, WorkerMessage } from "./_protocol.ts";
import { type SaSpec, validateSaSpec } from "./sa_spec.ts";
import { InboundGuard, type InboundGuardPlan } from "./inbound_guard.ts";

export type {
  DataplaneEvent,
  DataplaneStats,
  DropReason,
  PolicyInstance,
  SaStats,
} from "./core.ts";
export { DROP_REASONS } from "./core.ts";
export type { EncryptionSpec, IntegritySpec, SaByteLimits, SaSpec } from "./sa_spec.ts";

/** Options of {@linkcode Dataplane.start}. */
export interface DataplaneOptions {
  /** TUN device name (default "ipsec0"). */
  tunName?: string;
  /** TUN MTU: the path MTU minus the worst ESP overhead (default 1400). */
  tunMtu?: number;
  /** fwmark on every packet the data plane sends (default 0x5000). */
  mark?: number;
  /** Routing table for `routes` (default 220). */
  table?: number;
  /** Priority of the "not fwmark -> table" rules (default = table). */
  rulePriority?: number;
  /** Addresses for the TUN ("10.1.0.1/32", a virtual IP, or the local tunnel range). */
  addresses?: string[];
  /** Networks routed into the TUN via `table` ("10.2.0.0/16", "2001:db8:2::/48"). */
  routes?: string[];
  /** Preferred source for routed traffic (e.g. the virtual IP), per family. */
  routeSource?: string[];
  /** Bind UDP on this port for ESP-in-UDP and IKE (4500); 0 = no NAT-T (default 0). */
  udpEncapPort?: number;
  /** Open raw AH sockets (default true). */
  ah?: boolean;
  /** IPv6 sockets too (default true). */
  ipv6?: boolean;
  /** Crypto backend (default "auto": libcrypto when available). */
  crypto?: CryptoBackendPreference;
  /** Packets per recvmmsg/sendmmsg batch (default 64). */
  batch?: number;
  /** Packets queued per (policy, peer) while IKE negotiates (default 32). */
  acquireQueue?: number;
  /** How long queued packets wait for an SA (default 5000 ms). */
  acquireTimeoutMs?: number;
  /** Housekeeping period and longest poll sleep (default 100 ms). */
  tickMs?: number;
  /** The Worker module (default: see {@linkcode defaultWorkerUrl}). */
  workerUrl?: URL | string;
  /**
   * 2 (default): one Worker encrypts (TUN -> sockets), one decrypts
   * (sockets -> TUN), so both directions run in parallel; each SA lives in
   * the Worker of its direction. 1: one Worker does both.
   */
  workers?: 1 | 2;
  /**
   * Drop clear inbound packets that the SPD says to DISCARD or to PROTECT
   * (FIB rules, see lib/dataplane/inbound_guard.ts; default true).
   */
  inboundGuard?: boolean;
  /** Priority of the guard's rules; it uses this and the next four (default 100). */
  inboundGuardPriority?: number;
  /**
   * What the guard does with a clear inbound packet no SPD entry matches:
   * "bypass" (default; like strongSwan, a config of connections protects
   * only what it names) or "discard" (RFC 4301's default, for an explicit
   * `policies:` list: end it with a BYPASS entry for what may pass).
   */
  inboundDefault?: "bypass" | "discard";
  /** False: plain read/write on the TUN even where io_uring would batch them (default: io_uring when available). */
  tunRing?: boolean;
  /**
   * TUN offloads (default true): the kernel hands over TCP super-packets
   * of up to 64 KB with checksums left to us, which the data plane cuts
   * into segments itself (TSO), and decrypted in-order segments of a flow
   * go back as one super-packet (GRO); see lib/dataplane/offload.ts. Falls
   * back to plain packets when the kernel refuses;
   * {@linkcode Dataplane.tunOffload} tells.
   */
  tunOffload?: boolean;
  /**
   * UDP offloads for ESP in UDP (default false): runs of equal-sized
   * datagrams of one flow leave in one segmented send (UDP_SEGMENT; see
   * ffi/udp_gso.ts) and the encapsulation socket accepts coalesced
   * datagrams (UDP_GRO). The datagrams on the wire are the same, but
   * captures on the host (tcpdump; any veth) show the unsegmented buffers.
   * Falls back to one datagram per send when the kernel refuses.
   */
  udpOffload?: boolean;
}

/**
 * Where the data-path Worker module is: `_worker.ts` next to this file when
 * run from source; when this code was bundled into one file (`deno bundle`),
 * `dataplane_worker.js` next to the bundle, which the bundle step must
 * produce with `deno bundle lib/dataplane/_worker.ts -o dist/dataplane_worker.js`.
 */
export function defaultWorkerUrl(): URL {
  const here = import.meta.url;
  return here.endsWith("/lib/dataplane/dataplane.ts")
    ? new URL("./_worker.ts", here)
    : new URL("./dataplane_worker.js", here);
}

/**
 * The largest TUN MTU whose packets still fit `pathMtu` after ESP
 * encapsulation with the worst case of our transforms: outer IPv4 (20) or
 * IPv6 (40) header, UDP (8) when encapsulated, ESP header (8), IV (16 for
 * AES-CBC, 8 for AEADs), padding (up to 15 for CBC, 3 for AEADs), pad length
 * and next header (2), ICV (up to 32 for HMAC-SHA-512, 16 for AEADs).
 * Tunnel mode also carries the inner header, which the TUN MTU includes.
 *
 * @example
 * ```ts
 * tunMtuFor(1500, { outerIpv6: false, udpEncap: true, aead: true }); // 1435
 * ```
 */
export function tunMtuFor(
  pathMtu: number,
  o: { outerIpv6: boolean; udpEncap: boolean; aead: boolean },
): number {
  const outer = (o.outerIpv6 ? 40 : 20) + (o.udpEncap ? 8 : 0);
  const esp = 8 + (o.aead ? 8 + 3 + 2 + 16 : 16 + 15 + 2 + 32);
  return pathMtu - outer - esp;
}

/** Metric of the blackhole behind each TUN route (the TUN route has metric 0). */
export const BACKSTOP_METRIC = 0xfff0;

/** The blackhole route that catches a TUN route's traffic while that route is missing. */
function backstopFor(r: RouteSpec): RouteSpec {
  return {
    dst: r.dst,
    prefixLength: r.prefixLength,
    table: r.table,
    metric: BACKSTOP_METRIC,
    kind: "blackhole",
    replace: true,
  };
}

/** A data plane that failed to start or was used after it stopped. */
export class DataplaneError extends Error {
  override readonly name = "DataplaneError";
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

function cidr(text: string): { address: Uint8Array; prefix: number } {
  const [a, p] = text.split("/");
  const ip = parseIp(a);
  if (!ip) throw new DataplaneError(`'${text}' is not an address/prefix`);
  const max = ip.version === 4 ? 32 : 128;
  const prefix = p === undefined ? max : Number(p);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) {
    throw new DataplaneError(`'${text}': prefix length must be 0..${max}`);
  }
  return { address: ipToBytes(ip), prefix };
}

/** One data-path Worker and its control channel. */
interface WorkerLink {
  role: WorkerInit["role"];
  worker: Worker;
  /** [0] = control messages posted to it. */
  control: Int32Array;
  wakeFd: number;
  /** The deferred wake-up of messages posted with `wake: false` (see {@link LAZY_WAKE_MS}). */
  lazyWake?: ReturnType<typeof setTimeout>;
}

/**
 * How long a message posted without a wake-up (an outbound SA the IKE
 * exchange does not wait for) may sit before the Worker is woken for it;
 * it is applied earlier when the Worker wakes anyway (a packet, its tick, a
 * message that wakes it), always before the next packet it handles. One
 * wake-up then serves many handshakes: a thread wake-up costs the main
 * thread and the Worker more than the install itself.
 */
export const LAZY_WAKE_MS = 20;

/** The running data plane (see the module documentation). */
export class Dataplane {
  readonly #links: WorkerLink[] = [];
  readonly #pending = new Map<number, Pending>();
  readonly #listeners: ((e: DataplaneEvent) => void)[] = [];
  #nextId = 1;
  #stopped = false;
  #undo: (() => void)[] = [];
  #nl: Netlink | null = null;
  #guard: InboundGuard | null = null;
  /** The UDP encapsulation sockets (the "out" Worker's; shared fds). */
  #udpFds: { fd: number; family: 4 | 6; gro: boolean }[] = [];
  /** TUN interface index and the routes into it (virtual IPs re-source them). */
  #tunIndex = 0;
  #tunRoutes: RouteSpec[] = [];
  #ruleFamilies = new Set<4 | 6>();
  #routeOpts: { sources: Uint8Array[]; table: number; mark: number; priority: number } = {
    sources: [],
    table: 220,
    mark: 0x5000,
    priority: 220,
  };
  /** Virtual IPs on the TUN (text -> bytes), newest last. */
  #vips = new Map<string, Uint8Array>();
  /** The TUN device name. */
  tunName = "";
  /** The crypto backend the Workers use ("libcrypto", "node", "noble"). */
  backend = "";
  /** TUN offloads are on (asked for with `tunOffload` and accepted by the kernel). */
  tunOffload = false;

  private constructor() {}

  /**
   * Starts the Worker(s), opens the TUN and sockets, and sets up addresses,
   * routes and rules. Needs root (CAP_NET_ADMIN, CAP_NET_RAW), `--allow-ffi`
   * and `--allow-read` (for the Worker module). Throws
   * {@linkcode DataplaneError} with the cause.
   */
  static async start(opts: DataplaneOptions = {}): Promise<Dataplane> {
    const table = opts.table ?? 220;
    const mark = opts.mark ?? 0x5000;
    const addresses = (opts.addresses ?? []).map(cidr);
    const routes = (opts.routes ?? []).map(cidr);
    const sources = (opts.routeSource ?? []).map((s) => cidr(s).address);
    const workers = opts.workers ?? 2;
    if (workers !== 1 && workers !== 2) throw new DataplaneError("workers must be 1 or 2");
    const dp = new Dataplane();
    const base: Omit<WorkerInit, "role" | "control"> = {
      type: "init",
      tunName: opts.tunName ?? "ipsec0",
      tunMtu: opts.tunMtu ?? 1400,
      mark,
      udpEncapPort: opts.udpEncapPort ?? 0,
      ah: opts.ah ?? true,
      ipv6: opts.ipv6 ?? true,
      crypto: opts.crypto ?? "auto",
      batch: opts.batch ?? 64,
      acquireQueue: opts.acquireQueue ?? 32,
      acquireTimeoutMs: opts.acquireTimeoutMs ?? 5000,
      tickMs: opts.tickMs ?? 100,
      ...(opts.tunRing !== undefined ? { tunRing: opts.tunRing } : {}),
      tunOffload: opts.tunOffload ?? true,
      udpOffload: opts.udpOffload ?? false,
    };
    const url = opts.workerUrl ?? defaultWorkerUrl();
    try {
      // The "out" (or only) Worker opens the TUN; the "in" Worker writes to the same fd.
      const first = await dp.#spawn(url, { ...base, role: workers === 2 ? "out" : "both" });
      dp.tunName = first.tunName;
      dp.backend = first.backend;
      dp.#udpFds = first.udpFds;
      dp.tunOffload = first.tunOffload;
      if (workers === 2) {
        await dp.#spawn(url, {
          ...base,
          role: "in",
          tunFd: first.tunFd,
          tunOffload: first.tunOffload,
          udpFds: first.udpFds,
        });
      }
      dp.#configureRouting(addresses, routes, sources, table, mark, opts.rulePriority ?? table);
      if (opts.inboundGuard ?? true) {
        const ikePorts = [500, 4500, opts.udpEncapPort ?? 0].filter((p) => p > 0);
        const priority = opts.inboundGuardPriority;
        const defaultDiscard = opts.inboundDefault === "discard";
        dp.#guard = new InboundGuard({ tunName: dp.tunName, ikePorts, priority, defaultDiscard });
      }
    } catch (e) {
      await dp.stop();
      throw e instanceof DataplaneError ? e : new DataplaneError((e as Error).message);
    }
    return dp;
  }

  #spawn(
    url: URL | string,
    init: Omit<WorkerInit, "control">,
  ): Promise<Extract<WorkerMessage, { type: "ready" }>> {
    const sab = new SharedArrayBuffer(8);
    const worker = new Worker(url, { type: "module" });
    const link: WorkerLink = { role: init.role, worker, control: new Int32Array(sab), wakeFd: -1 };
    this.#links.push(link);
    return new Promise((resolve, reject) => {
      worker.onmessage = (e: MessageEvent<WorkerMessage>) => {
        const m = e.data;
        if (m.type === "ready") {
          link.wakeFd = m.wakeFd;
          worker.onmessage = (ev: MessageEvent<WorkerMessage>) => this.#onMessage(ev.data);
          worker.onerror = (ev) => {
            ev.preventDefault();
            this.#onMessage({ type: "fatal", message: `worker crashed: ${ev.message}` });
          };
          resolve(m);
        } else if (m.type === "fatal") {
          reject(new DataplaneError(`data plane (${init.role}) failed to start: ${m.message}`));
        }
      };
      worker.onerror = (e) => {
        e.preventDefault();
        reject(new DataplaneError(`data plane worker crashed: ${e.message}`));
      };
      worker.postMessage({ ...init, control: sab } satisfies WorkerInit);
    });
  }

  #configureRouting(
    addresses: { address: Uint8Array; prefix: number }[],
    routes: { address: Uint8Array; prefix: number }[],
    sources: Uint8Array[],
    table: number,
    mark: number,
    priority: number,
  ): void {
    const nl = Netlink.open();
    this.#routeOpts = { sources, table, mark, priority };
    try {
      const idx = ifNameToIndex(this.tunName);
      this.#tunIndex = idx;
      // A longer queue than the TUN default (500) absorbs bursts while the Worker encrypts.
      nl.setLink(idx, { up: true, txQueueLength: 4096 });
      for (const a of addresses) {
        nl.addAddress(idx, a.address, a.prefix, a.address.length === 16);
        this.#undo.push(() => nl.deleteAddress(idx, a.address, a.prefix));
      }
      this.#nl = nl;
      this.#addRoutes(routes);
      this.#dropStaleBackstops(table);
    } finally {
      this.#nl = nl;
    }
  }

  /** Adds routes into the TUN, each with its blackhole backstop (and a family's fwmark rule). */
  #addRoutes(routes: { address: Uint8Array; prefix: number }[]): void {
    const nl = this.#routing();
    const { sources, table, mark, priority } = this.#routeOpts;
    for (const r of routes) {
      const len = r.address.length;
      const spec: RouteSpec = {
        dst: r.address,
        prefixLength: r.prefix,
        ifindex: this.#tunIndex,
        table,
        prefSrc: sources.find((s) => s.length === len),
        replace: true,
      };
      // Fail closed: a blackhole behind each TUN route (higher metric) drops
      // the traffic whenever the TUN route is missing: the kernel flushes
      // every route through the TUN when its last IPv4 address (a virtual
      // IP) goes, until we put them back, and all of them if we crash.
      const backstop = backstopFor(spec);
      nl.addRoute(backstop);
      this.#undo.push(() => nl.deleteRoute(backstop));
      const vip = this.#newestVip(len);
      nl.addRoute(vip ? { ...spec, prefSrc: vip } : spec);
      this.#undo.push(() => nl.deleteRoute(spec));
      this.#tunRoutes.push(spec);
      const family = len === 4 ? 4 : 6;
      if (this.#ruleFamilies.has(family)) continue;
      const rule: RuleSpec = { family, table, priority, fwmark: mark, invert: true };
      try {
        nl.addRule(rule);
      } catch (e) {
        // EEXIST: this very rule, left behind by a data plane that crashed: adopt it.
        if (!(e instanceof NetlinkError && e.errno === 17)) throw e;
      }
      this.#ruleFamilies.add(family);
      this.#undo.push(() => nl.deleteRule(rule));
    }
  }

  /**
   * Removes blackhole backstops in `table` that no route of ours has: a data
   * plane that was killed left them (fail closed), and the configuration
   * that starts now no longer routes those networks into the TUN.
   */
  #dropStaleBackstops(table: number): void {
    const nl = this.#routing();
    const key = (a: Uint8Array, p: number) => `${[...a].join(".")}/${p}`;
    const ours = new Set(this.#tunRoutes.map((r) => key(r.dst, r.prefixLength)));
    for (const family of [4, 6] as const) {
      for (const r of nl.listRoutes(family, table)) {
        if (r.kind !== "blackhole" || r.metric !== BACKSTOP_METRIC) continue;
        if (ours.has(key(r.dst, r.prefixLength))) continue;
        try {
          nl.deleteRoute(backstopFor({ ...r, table }));
        } catch (e) {
          if (!(e instanceof NetlinkError && e.errno === 3)) throw e; // ESRCH: gone already
        }
      }
    }
  }

  /**
   * Makes the routes into the TUN exactly `routes` (a reload): new ones are
   * added before old ones go. The fwmark rules stay until {@linkcode stop}.
   */
  setRoutes(routes: string[]): void {
    const want = routes.map(cidr);
    const key = (a: Uint8Array, p: number) => `${[...a].join(".")}/${p}`;
    const have = new Set(this.#tunRoutes.map((r) => key(r.dst, r.prefixLength)));
    const keep = new Set(want.map((r) => key(r.address, r.prefix)));
    this.#addRoutes(want.filter((r) => !have.has(key(r.address, r.prefix))));
    const nl = this.#routing();
    for (const r of [...this.#tunRoutes]) {
      if (keep.has(key(r.dst, r.prefixLength))) continue;
      for (const route of [r, backstopFor(r)]) {
        try {
          nl.deleteRoute(route);
        } catch (e) {
          if (!(e instanceof NetlinkError && e.errno === 3)) throw e; // ESRCH: gone already
        }
      }
      this.#tunRoutes.splice(this.#tunRoutes.indexOf(r), 1);
    }
  }

  #runUndo(): void {
    const undo = this.#undo.reverse();
    this.#undo = [];
    for (const u of undo) {
      try {
        u();
      } catch { /* already gone (the TUN took its addresses and routes with it) */ }
    }
    this.#nl?.close();
    this.#nl = null;
  }

  #onMessage(m: WorkerMessage): void {
    if (m.type === "reply") {
      const p = this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(new DataplaneError(m.error));
    } else if (m.type === "replies") {
      for (const r of m.replies) this.#onMessage(r);
    } else if (m.type === "event") {
      for (const l of this.#listeners) l(m.event);
    } else if (m.type === "fatal") {
      for (const l of this.#listeners) l({ type: "error", message: m.message });
      this.#failAll(new DataplaneError(`data plane stopped: ${m.message}`));
    }
  }

  #failAll(e: Error): void {
    for (const p of this.#pending.values()) p.reject(e);
    this.#pending.clear();
  }

  /** The Worker handling `dir` ("out": policies, outbound SAs, IKE sends; "in": inbound SAs). */
  #link(dir: "in" | "out"): WorkerLink | undefined {
    return this.#links.find((l) => l.role === "both" || l.role === dir);
  }

  #request<T>(dir: "in" | "out", req: ControlRequest, wake = true): Promise<T> {
    const link = this.#link(dir);
    if (this.#stopped || !link || link.wakeFd < 0) {
      return Promise.reject(new DataplaneError("data plane is stopped"));
    }
    return this.#post<T>(link, req, wake);
  }

  /**
   * Posts `req` to the Worker; `wake: false` leaves it for the Worker's next
   * wake-up, or wakes it {@link LAZY_WAKE_MS} later. Messages are applied in
   * posting order either way.
   */
  #post<T>(link: WorkerLink, req: ControlRequest, wake = true): Promise<T> {
    const id = this.#nextId++;
    const p = new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
    });
    Atomics.add(link.control, 0, 1);
    link.worker.postMessage({ ...req, id });
    if (wake) {
      clearTimeout(link.lazyWake);
      link.lazyWake = undefined;
      signalEventFd(link.wakeFd);
    } else if (link.lazyWake === undefined) {
      link.lazyWake = setTimeout(() => {
        link.lazyWake = undefined;
        if (!this.#stopped) signalEventFd(link.wakeFd);
      }, LAZY_WAKE_MS);
    }
    return p;
  }

  /**
   * Puts a virtual IP (assigned by the peer's CFG_REPLY) on the TUN and
   * makes it the preferred source of the routes of its family into the TUN,
   * so locally generated traffic to the remote traffic selectors leaves with
   * it as inner source. Adding one that is there already only re-sources
   * the routes. Everything goes with the TUN at {@linkcode stop}.
   */
  addVirtualIp(address: string): void {
    const nl = this.#routing();
    const a = cidr(address).address;
    try {
      nl.addAddress(this.#tunIndex, a, a.length * 8, a.length === 16);
    } catch (e) {
      if (!(e instanceof NetlinkError && e.errno === 17)) throw e; // EEXIST
    }
    this.#vips.delete(address);
    this.#vips.set(address, a);
    this.#resource(a.length);
  }

  /**
   * Removes a virtual IP: the routes get their previous source back first
   * (the kernel drops routes whose source address disappears), then the
   * address goes, then the routes are put back at once: deleting an
   * interface's last IPv4 address flushes every route through it, and
   * protected traffic must keep its way into the TUN.
   */
  removeVirtualIp(address: string): void {
    const a = this.#vips.get(address);
    if (!a) return;
    const nl = this.#routing();
    this.#vips.delete(address);
    this.#resource(a.length);
    try {
      nl.deleteAddress(this.#tunIndex, a, a.length * 8);
    } catch (e) {
      if (!(e instanceof NetlinkError && e.errno === 99)) throw e; // EADDRNOTAVAIL: gone already
    }
    this.#resource(a.length);
  }

  /** Virtual IPs on the TUN, oldest first. */
  get virtualIps(): string[] {
    return [...this.#vips.keys()];
  }

  #routing(): Netlink {
    if (this.#stopped || !this.#nl) throw new DataplaneError("data plane is stopped");
    return this.#nl;
  }

  /** Replaces the TUN routes of one family with the newest virtual IP (or the configured source). */
  /** The newest virtual IP of a family (address length 4 or 16), if any. */
  #newestVip(len: number): Uint8Array | undefined {
    return [...this.#vips.values()].filter((v) => v.length === len).at(-1);
  }

  #resource(len: number): void {
    const vip = this.#newestVip(len);
    for (const r of this.#tunRoutes) {
      if (r.dst.length !== len) continue;
      const src = vip ?? r.prefSrc;
      this.#routing().addRoute({ ...r, replace: true, ...(src ? { prefSrc: src } : {}) });
    }
  }

  /** Subscribes to events; returns an unsubscribe function. */
  on(listener: (e: DataplaneEvent) => void): () => void {
    this.#listeners.push(listener);
    return () => {
      const i = this.#listeners.indexOf(listener);
      if (i >= 0) this.#listeners.splice(i, 1);
    };
  }

  /**
   * Replaces the SPD and the SA instances of its named entries (see
   * {@link addPolicyInstance}). `null` discards all traffic from the TUN.
   */
  async setPolicies(entries: SpdEntry[] | null, instances: PolicyInstance[] = []): Promise<void> {
    await this.#request<void>("out", {
      type: "setPolicies",
      entries,
      ...(instances.length ? { instances } : {}),
    });
    // null (no SPD known): the guard keeps what it has.
    if (entries && this.#guard && !this.#stopped) this.#guard.apply(entries, instances);
  }

  /**
   * Adds (or replaces, same key) an SA's instance of a named PROTECT entry
   * of the current SPD: outbound packets within the SA's selectors get that
   * entry's PROTECT (then the SA), and the inbound guard drops them arriving
   * in clear. One change per SA, however many clients a gateway has.
   * `wake: false` as for {@link installSa} (applied before the next packet
   * the Worker handles).
   */
  async addPolicyInstance(
    instance: PolicyInstance,
    opts: { wake?: boolean } = {},
  ): Promise<void> {
    // The guard's rule at once (a lazy wake-up may keep the Worker's part a while).
    if (this.#guard && !this.#stopped) this.#guard.addInstance(instance);
    await this.#request<void>("out", { type: "addPolicyInstance", instance }, opts.wake ?? true);
  }

  /** Removes an instance (its SA is going); resolves to whether it was there. */
  async removePolicyInstance(key: string): Promise<boolean> {
    const had = await this.#request<boolean>("out", { type: "removePolicyInstance", key });
    if (this.#guard && !this.#stopped) this.#guard.removeInstance(key);
    return had;
  }

  /** The inbound guard's rules and warnings for the current SPD (null: guard off). */
  get inboundGuard(): InboundGuardPlan | null {
    return this.#guard?.plan ?? null;
  }

  /**
   * Installs an SA (rejects with the reason when the spec is unusable).
   * `wake: false`: no hurry (see {@link LAZY_WAKE_MS}): the Worker applies
   * it when it next wakes up, for whatever reason; until then its traffic is
   * handled as having no SA yet (queued for the acquire, never sent clear).
   */
  installSa(spec: SaSpec, opts: { wake?: boolean } = {}): Promise<void> {
    try {
      validateSaSpec(spec);
    } catch (e) {
      return Promise.reject(e);
    }
    // Outbound ESP: the route's MTU toward the peer bounds the keystream-aligned padding.
    if (spec.direction === "out" && spec.protocol === "esp" && spec.pathMtu === undefined) {
      const mtu = routeMtu(spec.remote, this.#routeOpts.mark);
      if (mtu !== undefined && mtu >= 68 && mtu <= 65536) spec = { ...spec, pathMtu: mtu };
    }
    return this.#request<void>(spec.direction, { type: "installSa", spec }, opts.wake ?? true);
  }

  /** Removes an SA; resolves to whether it was installed. */
  removeSa(direction: "in" | "out", protocol: "esp" | "ah", spi: number): Promise<boolean> {
    return this.#request<boolean>(direction, { type: "removeSa", direction, protocol, spi });
  }

  /** Moves an SA to new outer addresses / NAT-T ports (MOBIKE); resolves to whether it exists. */
  updateSa(
    direction: "in" | "out",
    protocol: "esp" | "ah",
    spi: number,
    local: Uint8Array,
    remote: Uint8Array,
    encap?: { localPort: number; remotePort: number },
  ): Promise<boolean> {
    return this.#request<boolean>(direction, {
      type: "updateSa",
      direction,
      protocol,
      spi,
      local,
      remote,
      encap,
    });
  }

  /**
   * Sends an IKE message from the UDP encapsulation port (adds the non-ESP
   * marker); with `raw`, `data` goes out as it is (a NAT-T keepalive, 0xFF).
   */
  sendIke(
    data: Uint8Array,
    remote: Uint8Array,
    remotePort: number,
    raw = false,
    local?: Uint8Array,
  ): Promise<boolean> {
    // The "out" Worker opened the UDP socket and sends segmented ESP on it (ffi/udp_gso.ts).
    return this.#request<boolean>("out", {
      type: "sendIke",
      data,
      remote,
      remotePort,
      raw,
      ...(local ? { local } : {}),
    });
  }

  /**
   * Whether IKE arriving on the UDP encapsulation socket of `family` says
   * which of our addresses it was sent to (the "ike" event's `local`).
   * Worth it only when this host has several addresses of that family: the
   * kernel then adds 32-40 bytes of ancillary data to every datagram.
   */
  setPacketInfo(family: 4 | 6, on: boolean): void {
    for (const u of this.#udpFds) {
      if (u.family !== family || this.#stopped) continue;
      // A handle on the Worker's socket for one option (not to be closed here).
      new NetSocket(u.fd, u.family, "udp", 0).setPacketInfo(on);
    }
  }

  /** All counters: per path, per drop reason, per SA (both Workers merged). */
  async stats(): Promise<DataplaneStats> {
    if (this.#stopped) throw new DataplaneError("data plane is stopped");
    const parts = await Promise.all(
      this.#links.map((l) => this.#post<DataplaneStats>(l, { type: "stats" })),
    );
    const total = parts[0];
    for (const p of parts.slice(1)) {
      for (const k of Object.keys(total.packets) as (keyof DataplaneStats["packets"])[]) {
        total.packets[k] += p.packets[k];
      }
      for (const k of Object.keys(total.drops) as (keyof DataplaneStats["drops"])[]) {
        total.drops[k] += p.drops[k];
      }
      total.sas.push(...p.sas);
    }
    return total;
  }

  /**
   * Removes rules, routes and addresses, then stops the Workers (each closes
   * its fds first), which removes the TUN. Idempotent.
   *
   * Fail closed: the rule goes first, while its routes still lead into the
   * TUN (whose Worker encrypts or drops); the reverse order would leave the
   * rule pointing at an empty table once the TUN took its routes with it, and
   * protected traffic would fall through to the main table in clear while we
   * are still stopping. Removing the rule is the one step that ends our
   * routing; after it the host's own routing applies.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const link of this.#links) clearTimeout(link.lazyWake);
    this.#runUndo();
    // The "in" Worker writes to the TUN the "out" Worker owns: stop it first.
    const order = [...this.#links].sort((a, b) => (a.role === "in" ? -1 : b.role === "in" ? 1 : 0));
    for (const link of order) {
      if (link.wakeFd >= 0) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        try {
          await Promise.race([
            this.#post<void>(link, { type: "stop" }),
            new Promise((r) => timer = setTimeout(r, 2000)),
          ]);
        } catch { /* the worker is gone already */ }
        clearTimeout(timer);
      }
      link.worker.terminate();
    }
    this.#failAll(new DataplaneError("data plane is stopped"));
    // Last: clear packets stay checked until nothing decrypts any more.
    try {
      this.#guard?.remove();
    } catch (e) {
      const message = `removing the inbound guard rules failed: ${(e as Error).message}`;
      for (const l of this.#listeners) l({ type: "error", message });
    }
    this.#guard = null;
  }
}
