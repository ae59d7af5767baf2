/**
 * The ipsec daemon: the only event loop of the system. It owns the IKE
 * sockets, real timers and the control socket, feeds datagrams and timer
 * expiries to the sans-I/O IKEv2 engine and applies the engine's effects,
 * pipelined (data plane calls issued at once and in order; what depends on
 * them waits, per IKE SA; see `#run`):
 *
 * ```
 *  UDP 500/4500 ──► engine.handle ─┐
 *  timer fired ───► engine.timer  ─┤            ┌─► send       ──► UDP
 *  acquire (DP) ──► engine.initiate┼─► Effect[] ┼─► installSa  ──► data plane (+ SaState)
 *  ipsec up/down ─► initiate/term. ┤   (queue)  ├─► updateSa   ──► data plane (NAT-T float)
 *  address poll ──► MOBIKE driver ─┘                (lib/daemon/mobike_driver.ts)
 *                                               ├─► removeSa   ──► data plane (+ SaState)
 *                                               ├─► setTimer / cancelTimer ──► timers
 *                                               └─► log / event ──► LogRing, `up` waiters,
 *                                                          `updown` scripts (lib/daemon/updown.ts)
 * ```
 *
 * Everything it drives sits behind the ports of lib/daemon/ports.ts.
 *
 * @module
 */
import { isDnsName } from "../ikev2/tasks/redirect.ts";
import { parseIp } from "../db/address.ts";
import type { CrlFetchResult, Effect, EngineEvent, LogLevel } from "../ikev2/effects.ts";
import { ControlError, type Json } from "./control_protocol.ts";
import { type ControlHandler, ControlServer } from "./control_server.ts";
import { type LogEntry, LogRing, type LogSubsystem } from "./log_ring.ts";
import {
  type AcquireEvent,
  ConfigLoadError,
  type DaemonConfig,
  type DaemonRuntime,
  type DataplanePort,
  type EnginePort,
  type ExpireEvent,
  type IkeSaDetail,
  type IkeTransport,
  type MappingEvent,
  type SaCounters,
} from "./ports.ts";
import type { AddressMonitorPort, DnsPort } from "./ports.ts";
import { INITIAL_MOBIKE_STATE, type MobikeState, planMobike } from "./mobike_driver.ts";
import { formatSpi, type IkeView, SaState, type SaView } from "./sa_state.ts";
import { type InactivitySample, InactivityTracker } from "./inactivity.ts";
import {
  execScript,
  interfaceOfAddress,
  scriptProblem,
  updownEnvironments,
  type UpdownIkeInfo,
  UpdownRunner,
  type UpdownSession,
  UpdownTracker,
} from "./updown.ts";
import { TimerQueue } from "./timer_queue.ts";
import { fetchCrl, postOcsp } from "./crl_fetcher.ts";
import { RadiusTransport } from "./radius_transport.ts";
import { RadiusAccounting, terminateCause } from "./radius_accounting.ts";
import { RadiusCode } from "../eap/radius.ts";
import { RadiusDae } from "./radius_dae.ts";
import { credentialsJson } from "./credentials_view.ts";
import { VERSION } from "../version.ts";

/** Options of {@link Daemon.start}. */
export interface DaemonOptions<P> {
  readonly runtime: DaemonRuntime<P>;
  readonly configPath: string;
  readonly socketPath: string;
  /** Lines kept for `ipsec log` (default 2000). */
  readonly logCapacity?: number;
  /** Receives every log entry besides the ring (the foreground filters and prints them). */
  readonly logSink?: (entry: LogEntry) => void;
  /** How long `ipsec up` waits for the child SA (default 30 s). */
  readonly upTimeoutMs?: number;
  /** How long `ipsec down` waits for the IKE SA to be deleted (default 10 s). */
  readonly downTimeoutMs?: number;
  /** How long stop waits for `updown` scripts still running (default 10 s). */
  readonly updownTimeoutMs?: number;
}

type Waiter = (ev: EngineEvent) => boolean;

/** An effect on its way: `issued` resolves to the error of its data plane call, or null. */
interface Step {
  readonly e: Effect;
  readonly issued: Promise<unknown> | undefined;
}

/**
 * Make before break: within one batch of engine effects, an outbound SA that
 * replaces one removed earlier in the batch (a rekey responder switching to
 * the new child when the peer deletes the old one) is installed before that
 * removal. The data plane sends on the newest matching outbound SA, so the
 * policy never has no SA in between: no packet waits for an acquire and no
 * spurious IKE SA is started (fail closed stays quiet).
 */
function installBeforeRemove(effects: readonly Effect[]): Effect[] {
  const out = [...effects];
  for (let i = 0; i < out.length; i++) {
    const e = out[i];
    if (e.kind !== "installSa" || e.sa.direction !== "out") continue;
    const at = out.findIndex((r, j) =>
      j < i && r.kind === "removeSa" && r.direction === "out" && r.ikeSaId === e.sa.ikeSaId &&
      r.spi !== e.sa.spi
    );
    if (at < 0) continue;
    out.splice(i, 1);
    out.splice(at, 0, e);
  }
  return out;
}

/**
 * Inbound SA before the peer may use it: the engine answers IKE_AUTH and
 * CREATE_CHILD_SA with the response first and the SAs after it; a `send`
 * that comes before an inbound `installSa` of the same batch moves right
 * behind the last of them, so (see {@link Daemon.#run}) the response leaves
 * only once the Worker has the SA the peer may send on as soon as it reads
 * the response. The order among the sends stays.
 */
function sendsAfterInboundInstalls(effects: readonly Effect[]): Effect[] {
  let last = -1;
  effects.forEach((e, i) => {
    if (e.kind === "installSa" && e.sa.direction === "in") last = i;
  });
  if (last < 0) return [...effects];
  const early = effects.slice(0, last).filter((e) => e.kind === "send");
  if (early.length === 0) return [...effects];
  return [
    ...effects.slice(0, last + 1).filter((e) => e.kind !== "send"),
    ...early,
    ...effects.slice(last + 1),
  ];
}

/**
 * An IKE_SA_INIT message (exchange type 34 in the IKE header, RFC 7296
 * section 3.1): it comes before any SA of its IKE SA, so no data plane call
 * can be one it must wait for.
 */
function isIkeSaInit(e: Extract<Effect, { kind: "send" }>): boolean {
  return !e.raw && e.bytes.length >= 28 && e.bytes[18] === 34;
}

/**
 * The IKE SAs a batch of effects (timers and IKE_SA_INIT sends taken out)
 * touches, for the order of {@link Daemon.#run}: the ids of its SAs and
 * events; "all" when it sends without naming an IKE SA (which one is it
 * for? the daemon cannot tell) or moves virtual IPs (shared between IKE SAs
 * during reauthentication); [] when it only logs.
 */
function laneOf(effects: readonly Effect[]): readonly number[] | "all" {
  const ids = new Set<number>();
  let sends = false;
  for (const e of effects) {
    if (e.kind === "installSa") ids.add(e.sa.ikeSaId);
    else if (e.kind === "removeSa" || e.kind === "updateSa") ids.add(e.ikeSaId);
    else if (e.kind === "send") sends = true;
    else if (e.kind === "event") {
      const ev = e.event;
      if (ev.type === "virtual-ip" || ev.type === "ike-down" || ev.type === "ike-failed") {
        return "all";
      }
      ids.add(ev.ikeSaId);
      if (ev.type === "ike-rekeyed") ids.add(ev.oldIkeSaId);
    }
  }
  return sends && ids.size === 0 ? "all" : [...ids];
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function stringArg(args: { [k: string]: Json }, key: string, required: true): string;
function stringArg(args: { [k: string]: Json }, key: string, required: false): string | undefined;
function stringArg(args: { [k: string]: Json }, key: string, required: boolean) {
  const v = args[key];
  if (v === undefined || v === null) {
    if (required) throw new ControlError("BAD_REQUEST", `missing argument '${key}'`);
    return undefined;
  }
  if (typeof v !== "string" || v === "") {
    throw new ControlError("BAD_REQUEST", `argument '${key}' must be a non-empty string`);
  }
  return v;
}

function saJson(sa: SaView, counters: SaCounters | undefined): Json {
  return {
    spi: formatSpi(sa.spi),
    direction: sa.direction,
    protocol: sa.protocol,
    mode: sa.mode,
    src: sa.src,
    dst: sa.dst,
    encr: sa.encr,
    integ: sa.integ,
    esn: sa.esn,
    encap: sa.encap,
    ipcomp: sa.ipcomp,
    localTs: sa.localTs,
    remoteTs: sa.remoteTs,
    connection: sa.connectionName,
    child: sa.childName,
    childSaId: sa.childSaId,
    ikeSaId: sa.ikeSaId,
    installedAt: sa.installedAt,
    rekeyAt: sa.rekeyAt,
    expiresAt: sa.expiresAt,
    bytes: counters ? counters.bytes.toString() : null,
    packets: counters ? counters.packets.toString() : null,
  };
}

/**
 * A running daemon.
 *
 * @example
 * ```ts
 * const d = await Daemon.start({ runtime, configPath: "/etc/ipsec/ipsec.yaml",
 *   socketPath: "/run/ipsec/ipsec.sock", logSink: (e) => console.error(e.message) });
 * await d.done; // until `ipsec stop` or d.stop()
 * ```
 */
export class Daemon<P = unknown> {
  readonly log: LogRing;
  readonly state = new SaState();
  /** Resolves once the daemon has stopped. */
  readonly done: Promise<void>;

  #opts: DaemonOptions<P>;
  #now: () => number;
  #config: DaemonConfig<P>;
  #engine: EnginePort<P>;
  #dataplane: DataplanePort<P>;
  #transport: IkeTransport;
  #control: ControlServer;
  /** Engine timers by id (one real timer for all of them). */
  #timers = new TimerQueue((id) => this.#run(() => this.#engine.timer(id, this.#now())));
  /** UDP to RADIUS servers (EAP pass-through); answers go to the engine. */
  #radius = new RadiusTransport(
    (bytes, from) => {
      // Accounting-Responses are ours; the rest answers the engine's EAP relays.
      if (bytes[0] === RadiusCode.AccountingResponse) this.#accounting.answer(bytes, from);
      else void this.#run(() => this.#engine.radiusAnswer?.(bytes, from, this.#now()) ?? []);
    },
    (message) => this.#log("warn", "net", message),
  );
  /** RADIUS Dynamic Authorization listener (`radius: dae:`), and what it was bound with. */
  #dae: RadiusDae | undefined;
  #daeKey = "";
  /** RADIUS accounting of EAP-RADIUS road warriors (`radius: accounting: yes`). */
  #accounting = new RadiusAccounting({
    config: () => this.#config.radiusAccounting,
    live: async (ikeSaId) => {
      const counters = await this.#counters();
      const t = { inOctets: 0n, outOctets: 0n, inPackets: 0n, outPackets: 0n };
      for (const sa of this.state.sas()) {
        const c = sa.ikeSaId === ikeSaId ? counters.get(`${sa.direction}:${sa.spi}`) : undefined;
        if (!c) continue;
        if (sa.direction === "in") {
          [t.inOctets, t.inPackets] = [t.inOctets + c.bytes, t.inPackets + c.packets];
        } else [t.outOctets, t.outPackets] = [t.outOctets + c.bytes, t.outPackets + c.packets];
      }
      return t;
    },
    send: (to, bytes) => this.#radius.send(to, bytes),
    log: (level, message) => this.#log(level, "ike", message),
  });
  /** Per IKE SA id: the last batch of effects touching it (see {@link Daemon.#run}). */
  #lanes = new Map<number, Promise<void>>();
  /** The last batch that waited for everything before it. */
  #barrier: Promise<void> = Promise.resolve();
  /** Batches not yet applied. */
  #pending = new Set<Promise<void>>();
  /** Datagrams handed to the transport and not yet sent. */
  #sends = new Set<Promise<void>>();
  #waiters = new Set<Waiter>();
  #pendingAcquires = new Set<string>();
  /** Virtual IPs the peers assigned us, by IKE SA id (road-warrior client). */
  #vips = new Map<
    number,
    { address: string; addresses: readonly string[]; dns: readonly string[] }
  >();
  #monitor: AddressMonitorPort | null = null;
  readonly #inactivity = new InactivityTracker();
  #inactivityTimer: ReturnType<typeof setInterval> | undefined;
  /** Re-resolves peers named by DNS once a minute (see {@link #startNameRefresh}). */
  #namesTimer: ReturnType<typeof setInterval> | undefined;
  #inactivityBusy = false;
  /** resolv.conf for assigned DNS servers (null: only shown in `ipsec status`). */
  #dns: DnsPort | null;
  #mobike: MobikeState = INITIAL_MOBIKE_STATE;
  /** Child SAs whose `updown` script ran `up` (rekeys join, see lib/daemon/updown.ts). */
  #updown = new UpdownTracker();
  #scripts: UpdownRunner;
  #startedAt: number;
  #stopping: Promise<void> | null = null;
  #resolveDone!: () => void;

  private constructor(opts: DaemonOptions<P>, config: DaemonConfig<P>) {
    this.#opts = opts;
    this.#now = opts.runtime.now ?? Date.now;
    this.#startedAt = this.#now();
    this.log = new LogRing(opts.logCapacity ?? 2000);
    this.#config = config;
    opts.runtime.attachLog?.((level, subsystem, message) => this.#log(level, subsystem, message));
    this.#engine = opts.runtime.createEngine(config);
    this.#dataplane = opts.runtime.createDataplane(config);
    this.#transport = opts.runtime.createTransport(config);
    this.#dns = opts.runtime.createDns?.(config) ?? null;
    this.#scripts = new UpdownRunner(
      (level, message) => this.#log(level, "knl", message),
      opts.runtime.runScript ?? execScript,
    );
    this.#control = new ControlServer(opts.socketPath, {
      commands: this.#commands(),
      streams: {
        log: (req, emit, signal) => this.#streamLog(req.args, emit, signal),
      },
    });
    this.done = new Promise((r) => this.#resolveDone = r);
  }

  /**
   * Loads the config (throws {@link ConfigLoadError} and starts nothing when
   * it is broken), configures the data plane, binds the IKE sockets, opens
   * the control socket and brings up `start_action: start` children.
   */
  static async start<P>(opts: DaemonOptions<P>): Promise<Daemon<P>> {
    const config = await opts.runtime.loadConfig(opts.configPath);
    const d = new Daemon(opts, config);
    await d.#start();
    return d;
  }

  async #start(): Promise<void> {
    const steps: (() => void | Promise<void>)[] = [];
    try {
      this.#dataplane.onAcquire((a) => this.#acquire(a));
      this.#dataplane.onExpire?.((e) => this.#expire(e));
      this.#dataplane.onMapping?.((e) => this.#mapping(e));
      await this.#dataplane.configure(this.#config.payload);
      steps.push(() => this.#dataplane.close());
      await this.#transport.start((bytes, from, to) =>
        this.#run(() => this.#engine.handle(bytes, from, to, this.#now()))
      );
      steps.push(() => this.#transport.close());
      await this.#control.start();
    } catch (e) {
      for (const undo of steps.reverse()) {
        try {
          await undo();
        } catch { /* best effort while failing */ }
      }
      throw e;
    }
    this.#log(
      "info",
      "dmn",
      `started (pid ${Deno.pid}), config ${this.#config.path}, ` +
        `${this.#config.connections.length} connection(s), control ${this.#opts.socketPath}`,
    );
    if (this.#dns) {
      const dns = this.#dns;
      await dns.cleanStale().catch((e) =>
        this.#log("warn", "knl", `DNS servers: cannot clean ${dns.path}: ${errorMessage(e)}`)
      );
    }
    this.#checkScripts();
    this.#startMonitor();
    this.#startInactivity();
    this.#startNameRefresh();
    await this.#startDae();
    this.#startActions(this.#config.connections.map((c) => c.name));
    await this.settled();
  }

  /** The loaded configuration. */
  get config(): DaemonConfig<P> {
    return this.#config;
  }

  #startActions(names: readonly string[]): void {
    for (const c of this.#config.connections) {
      if (!names.includes(c.name)) continue;
      for (const ch of c.children) {
        if (ch.startAction === "start" && ch.mode !== "pass" && ch.mode !== "drop") {
          this.#log("info", "cfg", `start_action=start: initiating ${c.name}/${ch.name}`);
          this.#run(() => this.#engine.initiate(c.name, this.#now(), ch.name));
        }
      }
    }
  }

  /** A missing or non-executable `updown` script is an error in the log (nothing else changes). */
  #checkScripts(): void {
    const check = this.#opts.runtime.checkScript ?? scriptProblem;
    for (const c of this.#config.connections) {
      for (const ch of c.children) {
        const problem = ch.updown !== undefined ? check(ch.updown) : null;
        if (problem) this.#log("error", "cfg", `${c.name}/${ch.name}: ${problem}`);
      }
    }
  }

  /** The `updown` script of a child, if it has one. */
  #updownScript(connection: string, child: string): string | undefined {
    return this.#config.connections.find((c) => c.name === connection)?.children
      .find((ch) => ch.name === child)?.updown;
  }

  /** What `updown` scripts learn about IKE SA `ikeSaId` (identities, virtual IPs, DNS). */
  #updownIke(ikeSaId: number): UpdownIkeInfo {
    let d;
    try {
      d = this.#engine.describe?.().find((x) => x.ikeSaId === ikeSaId);
    } catch { /* no details: the addresses stand in for the identities */ }
    const v = this.#vips.get(ikeSaId);
    return {
      interfaceName: this.#config.interfaceName ?? "unknown",
      interfaceOf: (address) => {
        try {
          return interfaceOfAddress(address, Deno.networkInterfaces());
        } catch {
          return undefined;
        }
      },
      myId: d?.localId ?? "",
      peerId: d?.remoteId ?? "",
      ...(d?.remoteEapId !== undefined ? { peerEapId: d.remoteEapId } : {}),
      myVirtualIps: v?.addresses ?? [],
      // All of the peer's virtual IPs (IPv4 and IPv6), as charon's PLUTO_PEER_SOURCEIP*_n.
      peerVirtualIps: d?.peerVirtualIps ?? (d?.peerVirtualIp ? [d.peerVirtualIp] : []),
      dns: v?.dns ?? [],
    };
  }

  /**
   * Child SA events for `updown` scripts: a new child SA runs `up`, the last
   * of its line (rekeys replace, they run nothing, as in charon) `down`. The
   * scripts run in the background, in order per child SA.
   */
  #updownEvent(ev: EngineEvent): void {
    let session: UpdownSession | null = null;
    switch (ev.type) {
      case "child-up":
        session = this.#updown.up(
          ev,
          (c, ch) => this.#updownScript(c, ch),
          (id) => this.#updownIke(id),
        );
        if (session) this.#runUpdown(session, true);
        break;
      case "child-down":
        session = this.#updown.down(ev);
        if (session) this.#runUpdown(session, false);
        break;
      case "ike-rekeyed":
        this.#updown.ikeRekeyed(ev.oldIkeSaId, ev.ikeSaId);
        break;
      case "ike-updated":
        this.#updown.ikeUpdated(ev.ikeSaId, ev.local.address, ev.remote);
        break;
    }
  }

  #runUpdown(s: UpdownSession, up: boolean): void {
    const envs = updownEnvironments({ ...s.sa, up });
    void this.#scripts.enqueue(s.reqid, s.script, envs);
  }

  #log(level: LogLevel, subsystem: LogSubsystem, message: string): void {
    const e: LogEntry = { time: this.#now(), level, subsystem, message };
    this.log.add(e);
    this.#opts.logSink?.(e);
  }

  /**
   * Runs an engine call and applies its effects; engine exceptions are
   * logged, never fatal. Resolves once its effects are applied.
   *
   * Pipelined, so that one handshake's data plane work never holds up
   * another's datagrams:
   * - data plane calls (installSa, removeSa, updateSa) are issued at once,
   *   in engine order, whatever else is pending (the port applies them in
   *   call order, see {@link DataplanePort}): install and delete of one SA
   *   keep their order;
   * - timers are (re)armed at once, and IKE_SA_INIT messages leave at once
   *   (they come before any SA of their IKE SA);
   * - the rest of the batch (sends, events, logs, SaState) is applied in
   *   engine order, each step after the data plane calls issued before it in
   *   the batch resolved, and after the earlier batches of the same IKE SAs
   *   (ids of its SAs and events); a batch that names no IKE SA but sends
   *   something (a retransmission, an INFORMATIONAL response) or that moves
   *   virtual IPs waits for every earlier batch, and every later one waits
   *   for it.
   * So a response announcing an inbound SA (moved behind it by
   * {@link sendsAfterInboundInstalls}) leaves only once the Worker has the
   * SA, `ipsec up` hears of a child once its SAs are in, and a failed call
   * is logged where it would have been applied.
   */
  #run(call: () => Effect[]): Promise<void> {
    let effects: Effect[];
    try {
      effects = call();
    } catch (e) {
      this.#log("error", "ike", `engine error: ${errorMessage(e)}`);
      return Promise.resolve();
    }
    const steps: Step[] = [];
    for (const e of installBeforeRemove(sendsAfterInboundInstalls(effects))) {
      if (e.kind === "setTimer" || e.kind === "cancelTimer") this.#timer(e);
      else if (e.kind === "send" && isIkeSaInit(e)) this.#send(e);
      // An accounted SA's counters are read before it goes (in #apply, which removes it then).
      else if (e.kind === "removeSa" && this.#accounting.has(e.ikeSaId)) {
        steps.push({ e, issued: undefined });
      } else steps.push({ e, issued: this.#issue(e) });
    }
    if (steps.length === 0) return Promise.resolve();
    const lane = laneOf(steps.map((s) => s.e));
    const before = lane === "all"
      ? [this.#barrier, ...this.#pending]
      : [this.#barrier, ...lane.flatMap((id) => this.#lanes.get(id) ?? [])];
    const done = (before.length === 1 ? before[0] : Promise.all(before))
      .then(() => this.#applyAll(steps));
    if (lane === "all") {
      this.#barrier = done;
      this.#lanes.clear();
    } else {
      for (const id of lane) this.#lanes.set(id, done);
    }
    this.#pending.add(done);
    void done.finally(() => {
      this.#pending.delete(done);
      if (lane !== "all") {
        for (const id of lane) if (this.#lanes.get(id) === done) this.#lanes.delete(id);
      }
    });
    return done;
  }

  /** Starts the data plane call of `e`, if it has one; resolves to its error or null. */
  #issue(e: Effect): Promise<unknown> | undefined {
    let p: Promise<void> | undefined;
    try {
      if (e.kind === "installSa") p = this.#dataplane.installSa(e.sa);
      else if (e.kind === "removeSa") p = this.#dataplane.removeSa(e);
      else if (e.kind === "updateSa") p = this.#dataplane.updateSa?.(e);
    } catch (err) {
      return Promise.resolve(err ?? new Error("data plane call failed"));
    }
    // Handled at once: the rejection is reported when the step is applied.
    return p?.then(() => null, (err) => err ?? new Error("data plane call failed"));
  }

  async #applyAll(steps: readonly Step[]): Promise<void> {
    for (const { e, issued } of steps) {
      try {
        if (issued) {
          const err = await issued;
          if (err !== null) throw err;
        }
        await this.#apply(e);
      } catch (err) {
        this.#log("error", "dmn", `applying ${e.kind} failed: ${errorMessage(err)}`);
      }
    }
  }

  /** Sends without waiting for the socket (kept in `#sends` for {@link settled} and stop). */
  #send(e: Extract<Effect, { kind: "send" }>): void {
    let p: Promise<void>;
    try {
      p = this.#transport.send(e.bytes, e.from, e.to, e.raw);
    } catch (err) {
      p = Promise.reject(err);
    }
    const done = p.then(
      () => {},
      (err) => this.#log("error", "dmn", `applying send failed: ${errorMessage(err)}`),
    ).finally(() => this.#sends.delete(done));
    this.#sends.add(done);
  }

  /** (Re)arms or cancels an engine timer. */
  #timer(e: Extract<Effect, { kind: "setTimer" | "cancelTimer" }>): void {
    this.#timers.delete(e.id);
    if (e.kind === "cancelTimer" || this.#stopping) return;
    this.#timers.set(e.id, e.at - this.#now());
  }

  /** Applies one effect; its data plane call (if any) already succeeded. */
  async #apply(e: Effect): Promise<void> {
    const now = this.#now();
    switch (e.kind) {
      case "send":
        this.#send(e);
        break;
      case "installSa":
        this.state.apply(e, now);
        this.#updown.installed(e.sa);
        this.#log(
          "info",
          "knl",
          `installed ${e.sa.protocol.toUpperCase()} SA ${e.sa.direction} SPI ` +
            `${
              formatSpi(e.sa.spi)
            } ${e.sa.src} -> ${e.sa.dst} (${e.sa.connectionName}/${e.sa.childName})`,
        );
        break;
      case "updateSa": {
        const what = `${e.protocol.toUpperCase()} SA ${e.direction} SPI ${formatSpi(e.spi)}`;
        const udp = e.encap ? ` (UDP ${e.encap.srcPort} -> ${e.encap.dstPort})` : "";
        if (!this.#dataplane.updateSa) {
          this.#log("warn", "knl", `cannot move ${what}: the data plane has no updateSa`);
          break;
        }
        this.state.apply(e, now);
        this.#log("info", "knl", `updated ${what}: ${e.src} -> ${e.dst}${udp}`);
        break;
      }
      case "removeSa":
        if (this.#accounting.has(e.ikeSaId)) {
          // What the child SA carried goes into the accounting session, then it goes.
          const c = (await this.#counters()).get(`${e.direction}:${e.spi}`);
          if (c) this.#accounting.add(e.ikeSaId, e.direction, c.bytes, c.packets);
          const err = await this.#issue(e);
          if (err) throw err;
        }
        this.state.apply(e, now);
        this.#log(
          "info",
          "knl",
          `removed ${e.protocol.toUpperCase()} SA ${e.direction} SPI ${formatSpi(e.spi)}`,
        );
        break;
      case "setTimer":
      case "cancelTimer":
        this.#timer(e);
        break;
      case "fetchCrl":
        this.#fetchRevocation(
          `fetching CRL from ${e.uri}`,
          () => fetchCrl(e.uri),
          (r, t) => this.#engine.crlFetched?.(e.uri, r, t),
        );
        break;
      case "fetchOcsp":
        this.#fetchRevocation(
          `asking OCSP responder ${e.uri}`,
          () => postOcsp(e.uri, e.request),
          (r, t) => this.#engine.ocspFetched?.(e.key, r, t),
        );
        break;
      case "resolveName": {
        // Not awaited: IKE goes on meanwhile; the redirect continues with the answer.
        const engine = this.#engine;
        this.#log("info", "ike", `resolving ${e.name}, the gateway a REDIRECT named`);
        void (engine.resolveName?.(e.name) ?? Promise.resolve({ error: "no resolver" })).then(
          (r) => {
            if (this.#engine !== engine) return;
            return this.#run(() => engine.nameResolved?.(e.name, r, this.#now()) ?? []);
          },
        );
        break;
      }
      case "sendRadius":
        this.#radius.send(e.to, e.bytes);
        break;
      case "log":
        this.#log(e.level, "ike", e.line);
        break;
      case "event":
        await this.#virtualIp(e.event);
        this.#accountingEvent(e.event);
        this.#event(e.event);
        this.state.apply(e, now);
        this.#updownEvent(e.event);
        break;
    }
  }

  /**
   * Fetches what the engine asked for to check a certificate's revocation
   * (not awaited: IKE goes on meanwhile) and hands the result to `deliver`.
   */
  #fetchRevocation(
    line: string,
    fetch: () => Promise<CrlFetchResult>,
    deliver: (result: CrlFetchResult, now: number) => Effect[] | undefined,
  ): void {
    const engine = this.#engine;
    this.#log("info", "cfg", line);
    void fetch().then((result) => {
      if (this.#engine !== engine) return;
      return this.#run(() => deliver(result, this.#now()) ?? []);
    });
  }

  /**
   * RADIUS Dynamic Authorization (`radius: dae:`): (re)binds the listener
   * when its settings changed; a port that cannot be bound is logged.
   */
  async #startDae(): Promise<void> {
    const want = this.#config.radiusDae;
    const key = want ? `${want.listen} ${want.port} ${[...want.secret].join(",")}` : "";
    if (key === this.#daeKey) return;
    this.#dae?.close();
    this.#dae = undefined;
    this.#daeKey = key;
    if (!want) return;
    const dae = new RadiusDae({
      ...want,
      find: ({ user, sessionId }) => {
        const ids = new Set<number>();
        if (sessionId !== undefined) {
          const id = this.#accounting.findSession(sessionId);
          if (id !== undefined) ids.add(id);
        }
        if (user !== undefined) {
          for (const d of this.#engine.describe?.() ?? []) {
            if (d.remoteEapId === user && d.state === "established") ids.add(d.ikeSaId);
          }
        }
        return [...ids];
      },
      terminate: (id) => void this.#run(() => this.#engine.terminateIke?.(id, this.#now()) ?? []),
      log: (level, message) => this.#log(level, "ike", message),
    });
    try {
      await dae.start();
      this.#dae = dae;
      this.#log("info", "net", `RADIUS DAE listening on ${want.listen} port ${want.port}`);
    } catch (e) {
      dae.close();
      this.#log(
        "error",
        "net",
        `cannot listen for RADIUS DAE on port ${want.port}: ${errorMessage(e)}`,
      );
    }
  }

  /** RADIUS accounting: Start when an EAP-RADIUS IKE SA is up, Stop when it goes. */
  #accountingEvent(ev: EngineEvent): void {
    if (ev.type === "ike-rekeyed") this.#accounting.rekeyed(ev.oldIkeSaId, ev.ikeSaId);
    else if (ev.type === "ike-down") this.#accounting.stop(ev.ikeSaId, terminateCause(ev.reason));
    else if (ev.type === "ike-up" && this.#config.radiusAccounting) {
      const d = this.#engine.describe?.().find((x) => x.ikeSaId === ev.ikeSaId);
      if (!d?.auth?.startsWith("EAP-RADIUS") || d.remoteEapId === undefined) return;
      this.#accounting.start(ev.ikeSaId, {
        user: d.remoteEapId,
        addresses: d.peerVirtualIps ?? (d.peerVirtualIp ? [d.peerVirtualIp] : []),
        calledStation: d.local,
        callingStation: d.remote,
        nasPort: ev.ikeSaId,
      });
    }
  }

  #event(ev: EngineEvent): void {
    const conn = "connectionName" in ev ? ev.connectionName : this.state.connectionOf(ev.ikeSaId);
    const what = ev.type === "child-up"
      ? `${ev.childName} in ${formatSpi(ev.spiIn)} out ${formatSpi(ev.spiOut)}`
      : ev.type === "ike-updated"
      ? `now ${ev.local.address}[${ev.local.port}] - ${ev.remote.address}[${ev.remote.port}]`
      : "reason" in ev
      ? ev.reason
      : "";
    this.#log(
      ev.type.endsWith("failed") ? "warn" : "info",
      "ike",
      `${ev.type} ${conn ?? "?"}[${ev.ikeSaId}] ${what}`.trimEnd(),
    );
    if (conn) {
      for (const key of [...this.#pendingAcquires]) {
        if (key.startsWith(`${conn}/`)) this.#pendingAcquires.delete(key);
      }
    }
    for (const w of [...this.#waiters]) {
      if (w(ev)) this.#waiters.delete(w);
    }
  }

  /**
   * Peers named by DNS (`remote_addrs: vpn.example.com`) are resolved again
   * once a minute, so restarts after DPD, keyingtries and trap-triggered
   * initiations go where the name points now (`ipsec up` resolves first too).
   */
  #startNameRefresh(): void {
    clearInterval(this.#namesTimer);
    this.#namesTimer = undefined;
    const named = this.#config.connections.some((c) => (c.remoteNames?.length ?? 0) > 0);
    if (!named || !this.#engine.refreshNames) return;
    this.#namesTimer = setInterval(() => void this.#engine.refreshNames?.(), 60_000);
  }

  /** `inactivity`: once a second while any child of the configuration has a limit. */
  #startInactivity(): void {
    clearInterval(this.#inactivityTimer);
    this.#inactivityTimer = undefined;
    const limited = this.#config.connections.some((c) =>
      c.children.some((ch) => (ch.inactivitySeconds ?? 0) > 0)
    );
    if (!limited || !this.#engine.closeChild || !this.#dataplane.counters) return;
    this.#inactivityTimer = setInterval(() => void this.#inactivityTick(), 1000);
  }

  /**
   * Closes child SAs whose packet counters stood still for their
   * `inactivity` (and the IKE SA with its last child, as charon does).
   */
  async #inactivityTick(): Promise<void> {
    if (this.#inactivityBusy) return;
    this.#inactivityBusy = true;
    try {
      const limits = new Map<string, number>();
      for (const c of this.#config.connections) {
        for (const ch of c.children) {
          const s = ch.inactivitySeconds ?? 0;
          if (s > 0) limits.set(`${c.name}/${ch.name}`, s * 1000);
        }
      }
      const counters = await this.#counters();
      const samples: InactivitySample[] = [];
      const owner = new Map<number, IkeView>();
      for (const ike of this.state.ikeSas()) {
        for (const ch of ike.children.values()) {
          const limitMs = limits.get(`${ike.connectionName}/${ch.name}`);
          if (limitMs === undefined || ch.state !== "installed") continue;
          const cin = ch.inbound ? counters.get(`in:${ch.inbound.spi}`) : undefined;
          const cout = ch.outbound ? counters.get(`out:${ch.outbound.spi}`) : undefined;
          if (!cin && !cout) continue; // no counters: never call it idle
          samples.push({
            childSaId: ch.childSaId,
            limitMs,
            packets: (cin?.packets ?? 0n) + (cout?.packets ?? 0n),
          });
          owner.set(ch.childSaId, ike);
        }
      }
      for (const id of this.#inactivity.check(samples, this.#now())) {
        const ike = owner.get(id)!;
        const name = ike.children.get(id)?.name ?? "?";
        const up = [...ike.children.values()].filter((c) => c.state === "installed");
        const last = up.length === 1 && this.#engine.terminateIke !== undefined;
        const seconds = (limits.get(`${ike.connectionName}/${name}`) ?? 0) / 1000;
        this.#log(
          "info",
          "ike",
          `closing CHILD_SA ${ike.connectionName}/${name} #${id} after ${seconds}s of inactivity` +
            (last ? ", with its IKE_SA (its last CHILD_SA)" : ""),
        );
        const now = this.#now();
        await this.#run(() =>
          last
            ? this.#engine.terminateIke!(ike.ikeSaId, now, `closed after ${seconds}s of inactivity`)
            : this.#engine.closeChild!(id, now)
        );
      }
    } catch (e) {
      this.#log("warn", "ike", `inactivity check failed: ${errorMessage(e)}`);
    } finally {
      this.#inactivityBusy = false;
    }
  }

  /** Starts the runtime's address monitor (MOBIKE), if any and if the engine can move SAs. */
  #startMonitor(): void {
    const e = this.#engine;
    if (!e.ikeSas || !e.updateAddresses || !e.setLocalAddresses) return;
    const m = this.#opts.runtime.createAddressMonitor?.(this.#config);
    if (!m) return;
    this.#monitor = m;
    m.start((addresses) => this.#addressTick(m, addresses));
  }

  /** One address poll: announce a changed list, move IKE SAs whose path changed. */
  #addressTick(m: AddressMonitorPort, addresses: readonly string[]): void {
    const engine = this.#engine;
    if (this.#stopping || !engine.ikeSas || !engine.updateAddresses || !engine.setLocalAddresses) {
      return;
    }
    // A wildcard listener binds each address too (answers leave from the address asked).
    this.#transport.setLocalAddresses?.(addresses).catch((err) =>
      this.#log("warn", "net", `IKE sockets for our addresses: ${errorMessage(err)}`)
    );
    let plan;
    try {
      const sas = engine.ikeSas().map((s) => {
        const name = s.connectionName ?? this.state.connectionOf(s.ikeSaId);
        const c = this.#config.connections.find((c) => c.name === name);
        return { ...s, localAddrs: c?.localAddrs ?? [] };
      });
      // Our virtual IPs (every family we were given) are never MOBIKE paths.
      const vips = new Set([
        ...sas.flatMap((s) => s.vip ? [s.vip] : []),
        ...[...this.#vips.values()].flatMap((v) => v.addresses),
      ]);
      plan = planMobike(this.#mobike, {
        addresses: addresses.filter((a) => !vips.has(a)),
        sas,
        routeSource: (r) => m.routeSource(r),
      });
    } catch (err) {
      this.#log("error", "net", `address monitor: ${errorMessage(err)}`);
      return;
    }
    this.#mobike = plan.state;
    for (const a of plan.actions) {
      const conn = "ikeSaId" in a
        ? `${this.state.connectionOf(a.ikeSaId) ?? "?"}[${a.ikeSaId}]`
        : "";
      switch (a.kind) {
        case "announce":
          this.#log("info", "net", `local addresses: ${a.addresses.join(", ") || "none"}`);
          this.#run(() => engine.setLocalAddresses!(a.addresses, this.#now()));
          break;
        case "move":
          this.#log(
            "info",
            "net",
            `MOBIKE: moving ${conn} from ${a.from} to ${a.local} (${a.reason})`,
          );
          this.#run(() => engine.updateAddresses!(a.ikeSaId, a.local, this.#now()));
          break;
        case "stranded":
          this.#log(
            "warn",
            "net",
            `${conn} lost its address ${a.local} and cannot move (${a.reason})`,
          );
          break;
      }
    }
  }

  /**
   * Road-warrior client: puts the virtual IP a peer assigned on the TUN
   * (before `up` hears of the child, which the engine reports after it), and
   * takes it away with its IKE SA unless another IKE SA holds the same
   * address (reauthentication). DNS servers are shown in `ipsec status`
   * and, with `resolv_conf` set (default /etc/resolv.conf), written there
   * while an IKE SA holds them.
   */
  async #virtualIp(ev: EngineEvent): Promise<void> {
    const dp = this.#dataplane;
    try {
      if (ev.type === "virtual-ip") {
        // One address per family (IPv4 and/or IPv6), each installed on the TUN.
        const addresses = ev.addresses ?? [ev.address];
        const previous = this.#vips.get(ev.ikeSaId);
        this.#vips.set(ev.ikeSaId, { address: ev.address, addresses, dns: ev.dns });
        const dnsWhere = this.#dns ? "" : " (resolv_conf: no, left alone)";
        const dns = (ev.dns.length ? `, DNS ${ev.dns.join(" ")}${dnsWhere}` : "") +
          (ev.subnets?.length ? `, peer protects ${ev.subnets.join(" ")}` : "");
        for (const address of addresses) {
          if (!dp.addVirtualIp) {
            this.#log("warn", "knl", `virtual IP ${address}: the data plane cannot install it`);
            return;
          }
          await dp.addVirtualIp(address);
          this.#log("info", "knl", `installed virtual IP ${address} on the TUN${dns}`);
        }
        await this.#applyDns(ev.dns, previous?.dns ?? []);
      } else if (ev.type === "ike-rekeyed") {
        const v = this.#vips.get(ev.oldIkeSaId);
        if (v) {
          this.#vips.delete(ev.oldIkeSaId);
          this.#vips.set(ev.ikeSaId, v);
        }
      } else if (ev.type === "ike-down" || ev.type === "ike-failed") {
        const v = this.#vips.get(ev.ikeSaId);
        if (!v) return;
        this.#vips.delete(ev.ikeSaId);
        await this.#applyDns([], v.dns);
        for (const address of v.addresses) {
          if ([...this.#vips.values()].some((o) => o.addresses.includes(address))) continue;
          await dp.removeVirtualIp?.(address);
          this.#log("info", "knl", `removed virtual IP ${address}`);
        }
      }
    } catch (err) {
      this.#log("error", "knl", `virtual IP: ${errorMessage(err)}`);
    }
  }

  /** Writes `add` to resolv.conf and then drops `remove` (one holder each); logs, never throws. */
  async #applyDns(add: readonly string[], remove: readonly string[]): Promise<void> {
    const dns = this.#dns;
    if (!dns || (add.length === 0 && remove.length === 0)) return;
    try {
      const written = await dns.add(add);
      if (written.length) {
        this.#log("info", "knl", `DNS servers ${written.join(" ")} written to ${dns.path}`);
      }
      const removed = await dns.remove(remove);
      if (removed.length) {
        this.#log("info", "knl", `DNS servers ${removed.join(" ")} removed from ${dns.path}`);
      }
    } catch (err) {
      this.#log("error", "knl", `DNS servers in ${dns.path}: ${errorMessage(err)}`);
    }
  }

  #acquire(a: AcquireEvent): void {
    if (this.#stopping) return;
    const key = `${a.connectionName}/${a.childName ?? ""}`;
    if (this.#pendingAcquires.has(key)) return;
    this.#pendingAcquires.add(key);
    this.#log("info", "knl", `acquire for ${key}${a.packet ? ` (${a.packet})` : ""}`);
    this.#run(() => this.#engine.initiate(a.connectionName, this.#now(), a.childName));
  }

  #expire(e: ExpireEvent): void {
    if (this.#stopping) return;
    this.#log(e.kind === "hard" ? "warn" : "info", "knl", `${e.kind} lifetime: ${e.description}`);
    const engine = this.#engine;
    if (!engine.childExpired) return;
    this.#run(() => engine.childExpired!(e.childSaId, e.kind, this.#now()));
  }

  #mapping(e: MappingEvent): void {
    if (this.#stopping) return;
    const engine = this.#engine;
    if (!engine.peerMapping) return;
    this.#run(() => engine.peerMapping!(e.childSaId, e.from, this.#now()));
  }

  /** Waits (bounded) for the `updown` scripts still running, as at stop. */
  async #scriptsDone(): Promise<void> {
    const ms = this.#opts.updownTimeoutMs ?? 10_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<boolean>((r) => timer = setTimeout(() => r(true), ms));
    const timedOut = await Promise.race([this.#scripts.idle().then(() => false), late]);
    clearTimeout(timer);
    if (timedOut) this.#log("warn", "knl", `updown scripts still running after ${ms / 1000} s`);
  }

  /** Resolves once every effect issued so far has been applied (and its datagrams sent). */
  async settled(): Promise<void> {
    while (this.#pending.size > 0 || this.#sends.size > 0) {
      await Promise.all([...this.#pending, ...this.#sends]);
    }
  }

  /** Pending engine timers (ids), for tests and `status --json`. */
  timerIds(): string[] {
    return [...this.#timers.ids()].sort();
  }

  #waitFor(
    match: (ev: EngineEvent) => Json | Error | undefined,
    timeoutMs: number,
    what: string,
  ): Promise<Json> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(w);
        reject(
          new ControlError(
            "TIMEOUT",
            `${what}: no answer within ${timeoutMs / 1000} s (see 'ipsec log')`,
          ),
        );
      }, timeoutMs);
      const w: Waiter = (ev) => {
        const r = match(ev);
        if (r === undefined) return false;
        clearTimeout(timer);
        if (r instanceof Error) reject(r);
        else resolve(r);
        return true;
      };
      this.#waiters.add(w);
    });
  }

  #connection(name: string) {
    const c = this.#config.connections.find((c) => c.name === name);
    if (!c) {
      const known = this.#config.connections.map((c) => c.name).join(", ") || "none";
      throw new ControlError("NOT_FOUND", `no connection named '${name}' (configured: ${known})`);
    }
    return c;
  }

  async #up(args: { [k: string]: Json }): Promise<Json> {
    const { name, child } = this.#connectionArgs(args);
    if (this.#stopping) throw new ControlError("FAILED", "daemon is stopping");
    const result = this.#waitFor(
      (ev) => {
        if (ev.type === "ike-failed" && ev.connectionName === name) {
          return new ControlError("FAILED", `IKE SA for '${name}' failed: ${ev.reason}`);
        }
        if (ev.type === "child-failed" && this.state.connectionOf(ev.ikeSaId) === name) {
          return new ControlError(
            "FAILED",
            `child SA '${ev.childName}' of '${name}' failed: ${ev.reason}`,
          );
        }
        if (
          ev.type === "child-up" && this.state.connectionOf(ev.ikeSaId) === name &&
          (!child || ev.childName === child)
        ) {
          return {
            connection: name,
            ikeSaId: ev.ikeSaId,
            child: ev.childName,
            childSaId: ev.childSaId,
            spiIn: formatSpi(ev.spiIn),
            spiOut: formatSpi(ev.spiOut),
          };
        }
        return undefined;
      },
      this.#timeoutArg(args, this.#opts.upTimeoutMs ?? 30_000),
      `bringing up '${name}'`,
    );
    this.#log("info", "dmn", `ipsec up ${name}${child ? `/${child}` : ""}`);
    // A peer named by DNS may have moved since the file was loaded (charon resolves each time).
    await this.#engine.refreshNames?.();
    await this.#run(() => this.#engine.initiate(name, this.#now(), child));
    return await result;
  }

  /** The `name` of a configured connection and, if given, the `child` it has (else NOT_FOUND). */
  #connectionArgs(args: { [k: string]: Json }): { name: string; child: string | undefined } {
    const name = stringArg(args, "name", true);
    const child = stringArg(args, "child", false);
    const conn = this.#connection(name);
    if (child && !conn.children.some((c) => c.name === child)) {
      throw new ControlError("NOT_FOUND", `connection '${name}' has no child '${child}'`);
    }
    return { name, child };
  }

  #timeoutArg(args: { [k: string]: Json }, fallbackMs: number): number {
    const t = args.timeoutSeconds;
    if (t === undefined || t === null) return fallbackMs;
    if (typeof t !== "number" || !(t > 0)) {
      throw new ControlError("BAD_REQUEST", "timeoutSeconds must be a positive number");
    }
    return t * 1000;
  }

  async #down(args: { [k: string]: Json }): Promise<Json> {
    const name = stringArg(args, "name", true);
    this.#connection(name);
    const ids = new Set(
      this.state.ikeSas().filter((s) => s.connectionName === name).map((s) => s.ikeSaId),
    );
    if (ids.size === 0) throw new ControlError("NOT_FOUND", `connection '${name}' has no IKE SA`);
    const count = ids.size;
    const result = this.#waitFor(
      (ev) => {
        if ((ev.type === "ike-down" || ev.type === "ike-failed") && ids.delete(ev.ikeSaId)) {
          return ids.size === 0 ? { connection: name, deleted: count } : undefined;
        }
        return undefined;
      },
      this.#opts.downTimeoutMs ?? 10_000,
      `deleting '${name}'`,
    );
    this.#log("info", "dmn", `ipsec down ${name}`);
    await this.#run(() => this.#engine.terminate(name, this.#now()));
    return await result;
  }

  /**
   * `ipsec rekey NAME [--child CHILD]`: rekeys the IKE SA(s) of a connection,
   * or its child SAs named CHILD, now; answers once each has been replaced
   * (new SPIs; IKE: the children move over, child: make-before-break).
   */
  async #rekey(args: { [k: string]: Json }): Promise<Json> {
    const { name, child } = this.#connectionArgs(args);
    const engine = this.#engine;
    if (!engine.rekeyIke || !engine.rekeyChild) {
      throw new ControlError("FAILED", "this engine cannot rekey on request");
    }
    const ikes = this.state.ikeSas().filter((s) =>
      s.connectionName === name && s.state === "established"
    );
    if (ikes.length === 0) {
      throw new ControlError("NOT_FOUND", `connection '${name}' has no IKE SA`);
    }
    const children = child
      ? ikes.flatMap((s) => [...s.children.values()].filter((c) => c.name === child))
      : [];
    if (child && children.length === 0) {
      throw new ControlError("NOT_FOUND", `connection '${name}' has no child SA '${child}' up`);
    }
    const waiting = new Set(child ? children.map((c) => c.childSaId) : ikes.map((s) => s.ikeSaId));
    const count = waiting.size;
    const done = () => ({ connection: name, ...(child ? { child } : {}), rekeyed: count });
    const result = this.#waitFor(
      (ev) => {
        if (ev.type === "ike-failed" && ev.connectionName === name) {
          return new ControlError("FAILED", `IKE SA for '${name}' failed: ${ev.reason}`);
        }
        if (
          child && ev.type === "child-failed" && ev.childName === child &&
          this.state.connectionOf(ev.ikeSaId) === name
        ) {
          return new ControlError("FAILED", `rekeying child SA '${child}' failed: ${ev.reason}`);
        }
        // A child SA is replaced when the old one goes down for its rekey; an IKE SA when
        // its successor is announced.
        const gone = child
          ? ev.type === "child-down" && waiting.delete(ev.childSaId)
          : ev.type === "ike-rekeyed" && waiting.delete(ev.oldIkeSaId);
        return gone && waiting.size === 0 ? done() : undefined;
      },
      this.#timeoutArg(args, this.#opts.upTimeoutMs ?? 30_000),
      `rekeying '${name}'${child ? `/${child}` : ""}`,
    );
    this.#log("info", "dmn", `ipsec rekey ${name}${child ? ` --child ${child}` : ""}`);
    await this.#run(() =>
      child
        ? children.flatMap((c) => engine.rekeyChild!(c.childSaId, this.#now()))
        : ikes.flatMap((s) => engine.rekeyIke!(s.ikeSaId, this.#now()))
    );
    return await result;
  }

  /**
   * `ipsec redirect NAME --gateway ADDRESS`: sends every client of
   * connection NAME (IKE SAs the peers started) to another gateway (RFC 5685
   * INFORMATIONAL REDIRECT, as `swanctl --redirect`); each client brings up
   * a new IKE SA there and deletes the one with us.
   */
  async #redirect(args: { [k: string]: Json }): Promise<Json> {
    const { name } = this.#connectionArgs(args);
    const gateway = stringArg(args, "gateway", true);
    const engine = this.#engine;
    if (!engine.redirect) throw new ControlError("FAILED", "this engine cannot redirect");
    if (!parseIp(gateway) && !isDnsName(gateway)) {
      throw new ControlError(
        "BAD_REQUEST",
        `'${gateway}' is neither an IP address nor a DNS name`,
      );
    }
    const ikes = this.state.ikeSas().filter((s) =>
      s.connectionName === name && s.state === "established"
    );
    // Only IKE SAs the peers started: the engine refuses to redirect ours.
    const effects: Effect[] = [];
    let redirected = 0;
    for (const s of ikes) {
      try {
        effects.push(...engine.redirect(s.ikeSaId, gateway, this.#now()));
        redirected++;
      } catch (e) {
        if (!(e instanceof RangeError)) throw e;
      }
    }
    if (redirected === 0) {
      throw new ControlError("NOT_FOUND", `connection '${name}' has no client IKE SA to redirect`);
    }
    this.#log(
      "info",
      "dmn",
      `ipsec redirect ${name} --gateway ${gateway}: ${redirected} IKE SA(s)`,
    );
    await this.#run(() => effects);
    return { connection: name, gateway, redirected };
  }

  /**
   * Reloads the configuration file as `ipsec reload` does (the SIGHUP of a
   * foreground daemon): a file with errors changes nothing and is logged.
   * Reloads run one at a time, whoever asks.
   */
  async reload(): Promise<void> {
    try {
      await this.#reloadInTurn({});
    } catch (e) {
      if (!(e instanceof ControlError)) {
        this.#log("error", "cfg", `reload failed: ${errorMessage(e)}`);
      }
    }
  }

  #reloads: Promise<unknown> = Promise.resolve();

  /** {@linkcode #reload} after every reload asked for before it has finished. */
  #reloadInTurn(args: { [k: string]: Json }): Promise<Json> {
    const next = this.#reloads.then(() => this.#reload(args));
    this.#reloads = next.catch(() => {});
    return next;
  }

  async #reload(args: { [k: string]: Json }): Promise<Json> {
    const path = stringArg(args, "config", false) ?? this.#config.path;
    let next: DaemonConfig<P>;
    try {
      next = await this.#opts.runtime.loadConfig(path);
    } catch (e) {
      if (e instanceof ConfigLoadError) {
        this.#log("warn", "cfg", `reload rejected, nothing changed: ${e.message}`);
        throw new ControlError("CONFIG", `${e.message}\n(nothing was changed)`);
      }
      throw e;
    }
    const before = new Map(this.#config.connections.map((c) => [c.name, JSON.stringify(c)]));
    const after = new Map(next.connections.map((c) => [c.name, JSON.stringify(c)]));
    const removed = [...before.keys()].filter((n) => !after.has(n));
    const changed = [...after.keys()].filter((n) =>
      before.has(n) && before.get(n) !== after.get(n)
    );
    const added = [...after.keys()].filter((n) => !before.has(n));
    const live = new Set(this.state.ikeSas().map((s) => s.connectionName));
    for (const n of [...removed, ...changed]) {
      if (live.has(n)) await this.#run(() => this.#engine.terminate(n, this.#now()));
    }
    this.#config = next;
    this.#checkScripts();
    this.#startInactivity();
    this.#startNameRefresh();
    await this.#startDae();
    await this.#dataplane.configure(next.payload);
    await this.#run(() => this.#engine.reconfigure(next.payload, this.#now()));
    this.#startActions([...added, ...changed]);
    await this.settled();
    this.#log(
      "info",
      "cfg",
      `reloaded ${path}: added ${added.length}, changed ${changed.length}, removed ${removed.length}`,
    );
    return { config: path, added, changed, removed };
  }

  async #status(): Promise<Json> {
    return {
      daemon: {
        version: VERSION,
        pid: Deno.pid,
        startedAt: this.#startedAt,
        uptimeSeconds: Math.floor((this.#now() - this.#startedAt) / 1000),
        config: this.#config.path,
        socket: this.#opts.socketPath,
        connections: this.#config.connections.length,
        timers: this.#timers.size,
      },
      ikeSas: await this.#ikeSasJson(),
      dataplane: (await this.#dataplane.describe?.()) ?? null,
    };
  }

  /** Counters by `direction:spi`; empty when the data plane does not count or fails. */
  async #counters(): Promise<Map<string, SaCounters>> {
    const m = new Map<string, SaCounters>();
    try {
      for (const c of (await this.#dataplane.counters?.()) ?? []) {
        m.set(`${c.direction}:${c.spi}`, c);
      }
    } catch (e) {
      this.#log("warn", "knl", `reading SA counters failed: ${errorMessage(e)}`);
    }
    return m;
  }

  async #ikeSasJson(): Promise<Json> {
    const counters = await this.#counters();
    let details = new Map<number, IkeSaDetail>();
    try {
      details = new Map((this.#engine.describe?.() ?? []).map((d) => [d.ikeSaId, d]));
    } catch (e) {
      this.#log("warn", "ike", `describing IKE SAs failed: ${errorMessage(e)}`);
    }
    const sa = (v: SaView | undefined) =>
      v ? saJson(v, counters.get(`${v.direction}:${v.spi}`)) : null;
    return this.state.ikeSas().map((ike) => ({
      ikeSaId: ike.ikeSaId,
      connection: ike.connectionName,
      state: ike.state,
      since: ike.since,
      ...(details.has(ike.ikeSaId) ? { ike: { ...details.get(ike.ikeSaId)! } } : {}),
      ...(this.#vips.has(ike.ikeSaId)
        ? {
          virtualIp: this.#vips.get(ike.ikeSaId)!.address,
          virtualIps: [...this.#vips.get(ike.ikeSaId)!.addresses],
          dns: [...this.#vips.get(ike.ikeSaId)!.dns],
        }
        : {}),
      children: [...ike.children.values()].map((c) => ({
        childSaId: c.childSaId,
        name: c.name,
        state: c.state,
        inbound: sa(c.inbound),
        outbound: sa(c.outbound),
      })),
    }));
  }

  async #sadJson(): Promise<Json> {
    const counters = await this.#counters();
    return this.state.sas().map((v) => saJson(v, counters.get(`${v.direction}:${v.spi}`)));
  }

  /** `ipsec spd [--decorrelated]`, once queued effects (a client's SA) have landed. */
  async #spd(args: { [k: string]: Json }): Promise<Json> {
    await this.settled();
    const decorrelated = args.decorrelated === true;
    const table = this.#dataplane.spdTable?.(decorrelated);
    if (table) return table as unknown as Json;
    if (decorrelated) {
      throw new ControlError("FAILED", "this data plane cannot show the decorrelated SPD");
    }
    return this.#config.spd as unknown as Json;
  }

  #commands(): Partial<Record<string, ControlHandler>> {
    return {
      ping: () => ({ pong: true, pid: Deno.pid }),
      // Read commands first let queued effects land, so they show what the engine decided.
      status: async () => (await this.settled(), await this.#status()),
      "list-sas": async () => (await this.settled(), await this.#ikeSasJson()),
      "list-conns": () => this.#config.connections as unknown as Json,
      "list-pools": () => (this.#engine.pools?.() ?? []) as unknown as Json,
      "list-certs": () =>
        credentialsJson(
          this.#config.credentials ?? [],
          this.#engine.fetchedCrls?.() ?? [],
          this.#engine.fetchedOcsp?.() ?? [],
        ),
      spd: (req) => this.#spd(req.args),
      pad: () => this.#config.pad as unknown as Json,
      sad: async () => (await this.settled(), await this.#sadJson()),
      up: (req) => this.#up(req.args),
      down: (req) => this.#down(req.args),
      rekey: (req) => this.#rekey(req.args),
      redirect: (req) => this.#redirect(req.args),
      reload: (req) => this.#reloadInTurn(req.args),
      stop: () => {
        setTimeout(() => void this.stop(), 20);
        return { stopping: true, pid: Deno.pid };
      },
    };
  }

  async #streamLog(
    args: { [k: string]: Json },
    emit: (event: Json) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const lines = typeof args.lines === "number" ? args.lines : 50;
    const toJson = (e: LogEntry): Json => ({ ...e });
    for (const e of this.log.recent(lines)) emit(toJson(e));
    if (args.follow === false) return;
    await new Promise<void>((resolve) => {
      const off = this.log.subscribe((e) => emit(toJson(e)));
      const end = () => {
        off();
        resolve();
      };
      if (signal.aborted) end();
      signal.addEventListener("abort", end, { once: true });
      void this.done.then(end);
    });
  }

  /**
   * Deletes every SA (the engine sends Delete), closes the data plane (routes,
   * addresses, TUN), the IKE sockets and the control socket. Idempotent.
   */
  stop(): Promise<void> {
    if (!this.#stopping) this.#stopping = this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#log("info", "dmn", "stopping: deleting SAs");
    this.#monitor?.close();
    clearInterval(this.#inactivityTimer);
    clearInterval(this.#namesTimer);
    await this.#run(() => this.#engine.shutdown(this.#now()));
    await this.settled(); // the Deletes leave before the sockets close
    // Child SAs still up go with the data plane: their `updown` scripts run `down` now.
    for (const session of this.#updown.drain()) this.#runUpdown(session, false);
    await this.#scriptsDone();
    this.#timers.close();
    this.#accounting.close();
    this.#dae?.close();
    this.#radius.close();
    for (
      const [step, f] of [
        // The data plane's routing keeps protected traffic in the TUN (encrypted
        // or dropped, never in clear) until the end; the control socket goes
        // last, as `ipsec stop` waits for it to promise that the TUN is gone.
        ["IKE sockets", () => this.#transport.close()],
        ["data plane", () => this.#dataplane.close()],
        ["control socket", () => this.#control.close()],
      ] as const
    ) {
      try {
        await f();
      } catch (e) {
        this.#log("error", "dmn", `closing ${step} failed: ${errorMessage(e)}`);
      }
    }
    this.state.clear();
    this.#vips.clear();
    if (this.#dns) {
      const dns = this.#dns;
      await dns.removeAll().then(
        (gone) => {
          if (gone.length) {
            this.#log("info", "knl", `DNS servers ${gone.join(" ")} removed from ${dns.path}`);
          }
        },
        (e) => this.#log("error", "knl", `DNS servers in ${dns.path}: ${errorMessage(e)}`),
      );
    }
    this.#log("info", "dmn", "stopped");
    this.#resolveDone();
  }
}
