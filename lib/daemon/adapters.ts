/**
 * Adapters from the real IKEv2 engine (lib/ikev2/engine.ts) and the
 * userspace data plane (lib/dataplane/dataplane.ts) to the daemon's ports.
 *
 * @module
 */
import type { EngineConfig } from "../ikev2/peer_config.ts";
import type { PoolInfo } from "../ikev2/tasks/config_payload.ts";
import type { RevocationEntry } from "../pki/revocation_cache.ts";
import type { Crl } from "../pki/crl.ts";
import type { OcspStatus } from "../pki/ocsp.ts";
import type { CrlFetchResult, Effect, Endpoint, SaInstall } from "../ikev2/effects.ts";
import { IkeEngine } from "../ikev2/engine.ts";
import { type HostLookup, resolveHosts, systemLookup } from "../config/resolve_hosts.ts";
import { type SpdEntry, withInstances } from "../db/spd.ts";
import { formatTs, tsListsToSelectors } from "../db/narrow.ts";
import {
  Dataplane,
  type DataplaneEvent,
  type DataplaneOptions,
  type PolicyInstance,
} from "../dataplane/dataplane.ts";
import type { Json } from "./control_protocol.ts";
import {
  addressText,
  type ChildSaSettings,
  saSpecFromInstall,
  UnsupportedSaError,
} from "./install_spec.ts";
import type { EncapChannel } from "./natt_transport.ts";
import { isWildcardAddress } from "./route_source.ts";
import { ipToBytes, parseIp } from "../db/address.ts";
import type {
  AcquireEvent,
  DataplanePort,
  EnginePort,
  ExpireEvent,
  IkeSaAddresses,
  IkeSaDetail,
  MappingEvent,
  SaCounters,
  TableRow,
} from "./ports.ts";
import { decorrelatedRows } from "./spd_table.ts";
import { spdRows } from "../db/tables.ts";
import { transformName, TransformType } from "../crypto/transforms.ts";

/** What the production runtime builds from a config file. */
export interface RuntimePayload {
  readonly engine: EngineConfig;
  /** Ordered SPD for the data plane (PROTECT entries name connection/child). */
  readonly spd: readonly SpdEntry[];
  /** TUN, addresses, routes, marks. */
  readonly dataplane: DataplaneOptions;
  /** Per `connection/child`: what its configuration says about its SAs' packets. */
  readonly children?: ReadonlyMap<string, ChildSaSettings>;
}

/** Something worth a log line that happened inside an adapter. */
export type AdapterLog = (level: "error" | "warn" | "info" | "debug", message: string) => void;

/**
 * Connections without a local address but with a fixed peer get our route
 * source toward that peer (`localFor`): the engine needs a real address for
 * NAT detection and as the SAs' outer source when it initiates. As
 * responder they still answer requests to any of our addresses (`anyLocal`).
 * Unresolvable ones stay as they are.
 */
export function withLocalAddresses(
  config: EngineConfig,
  localFor: (remote: string) => string | undefined,
): EngineConfig {
  return {
    ...config,
    connections: config.connections.map((c) => {
      if (!isWildcardAddress(c.localAddress) || isWildcardAddress(c.remoteAddress)) return c;
      const local = localFor(c.remoteAddress);
      return local ? { ...c, localAddress: local, anyLocal: true } : c;
    }),
  };
}

/** {@link EnginePort} over {@link IkeEngine}. */
export class IkeEngineAdapter implements EnginePort<RuntimePayload> {
  #engine: IkeEngine;
  #log: AdapterLog;
  #localFor: (remote: string) => string | undefined;
  #lookup: HostLookup;
  /** The latest address of each peer DNS name (`remote_addrs: vpn.example.com`). */
  #names = new Map<string, string>();

  /**
   * `localFor` resolves our address toward a peer for connections without
   * `local_addrs` (default: none resolved); `lookup` resolves peer DNS
   * names again ({@link refreshNames}; default the system resolver).
   */
  constructor(
    config: RuntimePayload,
    log: AdapterLog,
    localFor: (remote: string) => string | undefined = () => undefined,
    lookup: HostLookup = systemLookup,
  ) {
    this.#localFor = localFor;
    this.#lookup = lookup;
    this.#engine = new IkeEngine(withLocalAddresses(config.engine, localFor), {
      localFor,
      remoteFor: (cfg) => (cfg.remoteName ? this.#names.get(cfg.remoteName) : undefined),
    });
    this.#log = log;
  }

  /**
   * Resolves the peers' DNS names again (as charon does before it
   * initiates), so the next IKE SA goes to where a name points now; a name
   * that does not resolve keeps its last address. Bounded by `timeoutMs`.
   */
  async refreshNames(timeoutMs = 5000): Promise<void> {
    const names = [
      ...new Set(
        this.#engine.config.connections.flatMap((c) => c.remoteName ? [c.remoteName] : []),
      ),
    ];
    if (names.length === 0) return;
    const found = await resolveHosts(names, this.#lookup, timeoutMs);
    for (const [name, r] of found) {
      if (!Array.isArray(r)) {
        this.#log("warn", `cannot resolve ${name} again: ${r.message} (keeping the last address)`);
        continue;
      }
      const before = this.#names.get(name) ??
        this.#engine.config.connections.find((c) => c.remoteName === name)?.remoteAddress;
      if (before !== r[0]) this.#log("info", `${name} now resolves to ${r[0]} (was ${before})`);
      this.#names.set(name, r[0]);
    }
  }

  /** The wrapped engine (status details, counters). */
  get engine(): IkeEngine {
    return this.#engine;
  }

  handle(bytes: Uint8Array, from: Endpoint, to: Endpoint, now: number): Effect[] {
    return this.#engine.handle(bytes, from, to, now);
  }

  initiate(name: string, now: number, child?: string): Effect[] {
    // A request for one child (an acquire) reuses a live IKE SA of the
    // connection: nothing to do while it is being set up or while the child
    // exists (e.g. an acquire raced a rekey), CREATE_CHILD_SA when the child is
    // missing. A new IKE SA would be a duplicate the peer may tear down.
    if (child !== undefined) {
      const live = this.#engine.list().filter((s) =>
        s.name === name && (s.state === "created" || s.state === "connecting" ||
          s.state === "established")
      );
      const established = live.find((s) => s.state === "established");
      if (live.some((s) => s.children.some((c) => c.name === child && c.state !== "deleted"))) {
        return [];
      }
      if (established) return this.#engine.createChild(established.id, child, now);
      if (live.length > 0) return [];
    }
    // Otherwise the engine negotiates the connection's children in IKE_AUTH.
    return this.#engine.initiate(name, now);
  }

  terminate(name: string, now: number): Effect[] {
    return this.#engine.list().filter((s) => s.name === name).flatMap((s) =>
      this.#engine.terminate(s.id, now)
    );
  }

  timer(id: string, now: number): Effect[] {
    return this.#engine.timer(id, now);
  }

  childExpired(childSaId: number, kind: "soft" | "hard", now: number): Effect[] {
    return this.#engine.childExpired(childSaId, kind, now);
  }

  crlFetched(
    uri: string,
    result: CrlFetchResult,
    now: number,
  ): Effect[] {
    return this.#engine.crlFetched(uri, result, now);
  }

  radiusAnswer(bytes: Uint8Array, from: Endpoint, now: number): Effect[] {
    return this.#engine.radiusAnswer(bytes, from, now);
  }

  async resolveName(
    name: string,
    timeoutMs = 5000,
  ): Promise<{ addresses: string[] } | { error: string }> {
    const r = (await resolveHosts([name], this.#lookup, timeoutMs)).get(name);
    return Array.isArray(r) ? { addresses: r } : { error: r?.message ?? "no answer" };
  }

  nameResolved(
    name: string,
    result: { addresses: readonly string[] } | { error: string },
    now: number,
  ): Effect[] {
    return this.#engine.nameResolved(name, result, now);
  }

  ocspFetched(key: string, result: CrlFetchResult, now: number): Effect[] {
    return this.#engine.ocspFetched(key, result, now);
  }

  fetchedOcsp(): [string, RevocationEntry<OcspStatus>][] {
    return this.#engine.fetchedOcsp();
  }

  pools(): PoolInfo[] {
    return this.#engine.pools();
  }

  fetchedCrls(): [string, RevocationEntry<Crl>][] {
    return this.#engine.fetchedCrls();
  }

  rekeyIke(ikeSaId: number, now: number): Effect[] {
    return this.#engine.rekeyIke(ikeSaId, now);
  }

  closeChild(childSaId: number, now: number): Effect[] {
    return this.#engine.closeChild(childSaId, now);
  }

  terminateIke(ikeSaId: number, now: number, reason?: string): Effect[] {
    return this.#engine.terminate(ikeSaId, now, reason);
  }

  redirect(ikeSaId: number, gateway: string, now: number): Effect[] {
    return this.#engine.redirect(ikeSaId, gateway, now);
  }

  rekeyChild(childSaId: number, now: number): Effect[] {
    return this.#engine.rekeyChild(childSaId, now);
  }

  peerMapping(childSaId: number, from: Endpoint, now: number): Effect[] {
    return this.#engine.peerMapping(childSaId, from, now);
  }

  /**
   * The new configuration applies to new IKE SAs; live ones keep theirs (the
   * daemon terminated those of changed and removed connections before).
   */
  reconfigure(config: RuntimePayload, now: number): Effect[] {
    void now;
    this.#names.clear(); // the new configuration's names were just resolved
    this.#engine.reconfigure(withLocalAddresses(config.engine, this.#localFor));
    return [];
  }

  shutdown(now: number): Effect[] {
    return this.#engine.list().flatMap((s) => this.#engine.terminate(s.id, now));
  }

  ikeSas(): IkeSaAddresses[] {
    return this.#engine.list().map((s) => {
      const sa = this.#engine.ikeSa(s.id);
      return {
        ikeSaId: s.id,
        connectionName: s.name,
        local: s.local.address,
        remote: s.remote.address,
        initiator: sa?.originalInitiator ?? s.initiator,
        mobike: sa?.mobike ?? false,
        established: s.state === "established",
        ...(s.vip ? { vip: s.vip } : {}),
      };
    });
  }

  updateAddresses(ikeSaId: number, local: string, now: number): Effect[] {
    return this.#engine.updateAddresses(ikeSaId, local, now);
  }

  setLocalAddresses(addresses: readonly string[], now: number): Effect[] {
    return this.#engine.setLocalAddresses(addresses, now);
  }

  describe(): IkeSaDetail[] {
    const hex = (v: bigint) => v.toString(16).padStart(16, "0");
    const ep = (e: Endpoint) => `${e.address}[${e.port}]`;
    return this.#engine.list().map((s) => {
      const suite = this.#engine.ikeSa(s.id)?.suite;
      const algorithms = suite
        ? [
          transformName(TransformType.ENCR, suite.encrId) +
          (suite.encrKeyBits ? `/${suite.encrKeyBits}` : ""),
          suite.integId ? transformName(TransformType.INTEG, suite.integId) : "",
          transformName(TransformType.PRF, suite.prfId),
          transformName(TransformType.KE, suite.keId),
        ].filter((x) => x !== "").join("/")
        : "";
      return {
        ikeSaId: s.id,
        state: s.state,
        initiator: s.initiator,
        spiI: hex(s.spiI),
        spiR: hex(s.spiR),
        local: ep(s.local),
        remote: ep(s.remote),
        localId: s.localId ?? "",
        remoteId: s.remoteId ?? "",
        ...(s.remoteEapId !== undefined ? { remoteEapId: s.remoteEapId } : {}),
        ...(s.auth ? { auth: s.auth } : {}),
        ...(s.rekeyAt ? { rekeyAt: s.rekeyAt } : {}),
        ...(s.reauthAt ? { reauthAt: s.reauthAt } : {}),
        ...(s.expiresAt ? { expiresAt: s.expiresAt } : {}),
        algorithms,
        nat: s.natLocal && s.natRemote
          ? "both"
          : s.natLocal
          ? "local"
          : s.natRemote
          ? "remote"
          : "",
        ...(s.peerVip ? { peerVirtualIp: s.peerVip } : {}),
        ...(s.peerVips ? { peerVirtualIps: [...s.peerVips] } : {}),
      };
    });
  }
}

function addressBytes(text: string): Uint8Array {
  const ip = parseIp(text);
  if (!ip) throw new UnsupportedSaError(`'${text}' is not an IP address`);
  return ipToBytes(ip);
}

/**
 * {@link DataplanePort} over the Worker-based {@link Dataplane}. With
 * `udpEncapPort` set in the data plane options it is also the
 * {@link EncapChannel} for IKE on that port (lib/daemon/natt_transport.ts).
 */
export class UserspaceDataplaneAdapter implements DataplanePort<RuntimePayload>, EncapChannel {
  #dp: Dataplane | null = null;
  #onIke: ((bytes: Uint8Array, from: Endpoint, local?: string) => void) | null = null;
  /** The UDP encapsulation port (RFC 3948). */
  readonly port: number;
  /** The configured SPD (see {@link RuntimePayload.spd}). */
  #base: readonly SpdEntry[] = [];
  /** Child settings by `connection/child` (see {@link RuntimePayload.children}). */
  #children: ReadonlyMap<string, ChildSaSettings> = new Map();
  /** Outbound SAs of named entries (`protocol:spi`): their concrete selectors (gateway side). */
  #instances = new Map<string, { connection: string; child: string; sa: SaInstall }>();
  /** Per family: the encapsulation socket reports local addresses (IP_PKTINFO). */
  #packetInfo = { 4: false, 6: false };
  /** Inbound guard warnings logged last (logged again only when they change). */
  #guardWarned = "";
  #acquire: ((a: AcquireEvent) => void) | null = null;
  #expire: ((e: ExpireEvent) => void) | null = null;
  #mapping: ((e: MappingEvent) => void) | null = null;
  #log: AdapterLog;
  #start: (o: DataplaneOptions) => Promise<Dataplane>;
  /** udp_offload the running data plane was started with. */
  #udpOffload = false;

  constructor(
    log: AdapterLog,
    start: (o: DataplaneOptions) => Promise<Dataplane> = Dataplane.start,
    udpEncapPort = 4500,
  ) {
    this.#log = log;
    this.#start = start;
    this.port = udpEncapPort;
  }

  onIke(cb: ((bytes: Uint8Array, from: Endpoint, local?: string) => void) | null): void {
    this.#onIke = cb;
  }

  async sendIke(bytes: Uint8Array, to: Endpoint, raw: boolean, from?: Endpoint): Promise<void> {
    const local = from && !isWildcardAddress(from.address) ? addressBytes(from.address) : undefined;
    const sent = await this.#need().sendIke(bytes, addressBytes(to.address), to.port, raw, local);
    if (!sent) {
      throw new Error(`sending IKE to ${to.address}[${to.port}] from port ${this.port} failed`);
    }
  }

  /**
   * Our addresses (address monitor): with several of one family, IKE on the
   * encapsulation socket reports which one it was sent to (IP_PKTINFO), so
   * that the answer leaves from it; with one, the route's source is it.
   */
  setLocalAddresses(addresses: readonly string[]): Promise<void> {
    const dp = this.#dp;
    if (!dp) return Promise.resolve();
    for (const f of [4, 6] as const) {
      const several = addresses.filter((a) => a.includes(":") === (f === 6)).length > 1;
      if (several === this.#packetInfo[f]) continue;
      try {
        dp.setPacketInfo(f, several);
        this.#packetInfo[f] = several;
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return Promise.resolve();
  }

  async configure(config: RuntimePayload): Promise<void> {
    const udpOffload = config.dataplane.udpOffload === true;
    if (!this.#dp) {
      this.#dp = await this.#start(config.dataplane);
      this.#udpOffload = udpOffload;
      this.#dp.on((e) => this.#event(e));
      this.#log(
        "info",
        `data plane up: TUN ${this.#dp.tunName}, crypto ${this.#dp.backend}, ` +
          `routes ${(config.dataplane.routes ?? []).join(" ") || "none"}` +
          (udpOffload ? ", UDP offloads on" : ""),
      );
    } else {
      // A reload: the routes into the TUN follow the new configuration.
      this.#dp.setRoutes?.(config.dataplane.routes ?? []);
      this.#log(
        "info",
        `routes into the TUN: ${(config.dataplane.routes ?? []).join(" ") || "none"}`,
      );
      if (udpOffload !== this.#udpOffload) {
        // The sockets were set up when the data plane started.
        this.#log(
          "warn",
          `udp_offload: ${udpOffload ? "yes" : "no"} takes effect at the next 'ipsec start' ` +
            `(the data plane keeps udp_offload: ${this.#udpOffload ? "yes" : "no"} until then)`,
        );
      }
    }
    this.#base = config.spd;
    this.#children = config.children ?? new Map();
    await this.#applyPolicies();
  }

  /**
   * `ipsec spd`: what the Worker enforces, each client's instance shown as
   * an entry just before its named entry (or decorrelated).
   */
  spdTable(decorrelated = false): TableRow[] {
    // Each instance row shows its SA's outer addresses where the entry says "dynamic".
    const instances = this.#instanceList().map((i) => {
      const sa = this.#instances.get(i.key)!.sa;
      return { ...i, tunnel: { local: sa.src, remote: sa.dst } };
    });
    const list = withInstances(this.#base, instances);
    return decorrelated ? decorrelatedRows(list) : spdRows(list);
  }

  /** The named PROTECT entry of a connection's child, or -1 (its SAs need instances). */
  #namedIndex(connection: string, child: string): number {
    return this.#base.findIndex((e) =>
      e.name !== undefined && e.action === "protect" && e.processing?.connection === connection &&
      e.processing.child === child
    );
  }

  /**
   * The named-entry SAs as SPD instances: a road-warrior gateway's entry
   * "Name *@company.com, remote PFP" matches, per client SA, the SA's
   * selectors (local TS -> the client's virtual IP), so outbound traffic to
   * a client finds PROTECT and then that client's SA. SAs whose entry went
   * away with a reload have none.
   */
  #instanceList(): (PolicyInstance & { label: string })[] {
    const out = [];
    for (const [key, i] of this.#instances) {
      const index = this.#namedIndex(i.connection, i.child);
      if (index < 0) continue; // its entry went away with a reload
      out.push({
        key,
        index,
        selectors: tsListsToSelectors(i.sa.localTs, i.sa.remoteTs),
        label: `${i.connection}/${i.child} ${i.sa.remoteTs.map(formatTs).join(",")}`,
      });
    }
    return out;
  }

  /** Hands the Worker (and the inbound guard) the configured SPD with every SA instance. */
  async #applyPolicies(): Promise<void> {
    const dp = this.#need();
    await dp.setPolicies([...this.#base], this.#instanceList());
    // The inbound guard's FIB rules cannot say everything the SPD says: tell once.
    const guard = dp.inboundGuard;
    const warned = guard?.warnings.join("\n") ?? "";
    if (warned !== this.#guardWarned) {
      for (const w of guard?.warnings ?? []) this.#log("warn", `inbound guard: ${w}`);
      this.#guardWarned = warned;
    }
    if (guard) this.#log("debug", `inbound guard: ${guard.rules.length} FIB rule(s)`);
  }

  #event(e: DataplaneEvent): void {
    switch (e.type) {
      case "acquire": {
        // The index is into the list the Worker had; a reload may have moved it since.
        const at = this.#base[e.policyIndex];
        const entry = at?.label === e.label
          ? at
          : this.#base.find((x) => x.label === e.label) ?? at;
        const p = entry?.processing;
        const packet = `${e.src} -> ${e.dst} proto ${e.protocol}`;
        if (e.instance) {
          // An instance whose SA is going: only its peer can bring it back.
          this.#log("debug", `no SA for ${entry?.label ?? "a named entry"} (${packet}): dropped`);
          return;
        }
        if (!p?.connection) {
          this.#log(
            "warn",
            `acquire for SPD entry ${e.policyIndex} without a connection (${packet})`,
          );
          return;
        }
        this.#acquire?.({ connectionName: p.connection, childName: p.child, packet });
        break;
      }
      case "expire": {
        const description = `${e.reason} limit of ${e.protocol.toUpperCase()} SA ${e.direction} ` +
          (e.spi >>> 0).toString(16).padStart(8, "0");
        if (e.reqid === undefined || !this.#expire) {
          this.#log("warn", `${e.hard ? "hard" : "soft"} ${description} (no child SA id)`);
          break;
        }
        this.#expire({ childSaId: e.reqid, kind: e.hard ? "hard" : "soft", description });
        break;
      }
      case "mapping": {
        const from = { address: addressText(e.remote), port: e.remotePort };
        if (e.reqid !== undefined && this.#mapping) this.#mapping({ childSaId: e.reqid, from });
        break;
      }
      case "ike": {
        const from = { address: addressText(e.remote), port: e.remotePort };
        if (this.#onIke) this.#onIke(e.data, from, e.local ? addressText(e.local) : undefined);
        else this.#log("debug", `IKE message on port ${e.localPort} from ${from.address} ignored`);
        break;
      }
      case "discard": {
        // RFC 4301 audit: one line per reason and second, with what was not shown.
        const ports = e.protocol === 6 || e.protocol === 17 || e.protocol === 132
          ? ` ports ${e.srcPort} -> ${e.dstPort}`
          : "";
        const more = e.suppressed > 0 ? ` (+${e.suppressed} more since the last report)` : "";
        const why = e.reason === "no-policy"
          ? "no SPD entry matches"
          : e.reason === "policy-discard"
          ? "a DISCARD entry matches"
          : "outside its SA's traffic selectors";
        this.#log(
          "info",
          `discarded ${e.direction} ${e.src} -> ${e.dst} proto ${e.protocol}${ports}: ${why}${more}`,
        );
        break;
      }
      case "error":
        this.#log("error", `data plane: ${e.message}`);
        break;
    }
  }

  #need(): Dataplane {
    if (!this.#dp) throw new Error("data plane is not started");
    return this.#dp;
  }

  /**
   * Posts the SA to its Worker at once (the daemon pipelines: calls reach
   * the Workers in call order, see DataplanePort). A named entry's outbound
   * SA brings its SPD instance right after it (the SA first, then the policy
   * that leads to it: no acquire in between), one change per SA.
   */
  installSa(sa: SaInstall): Promise<void> {
    let installed: Promise<void>;
    try {
      const settings = this.#children.get(`${sa.connectionName}/${sa.childName}`);
      // An inbound SA must be in before the IKE response leaves (the daemon
      // waits for it): wake its Worker now. Nothing waits for an outbound one
      // but the log and `ipsec up`; its Worker takes it at its next wake-up
      // (and before the next packet it handles), one wake-up for many.
      installed = this.#need().installSa(saSpecFromInstall(sa, settings), {
        wake: sa.direction === "in",
      });
    } catch (e) {
      return Promise.reject(e);
    }
    const index = sa.direction === "out" ? this.#namedIndex(sa.connectionName, sa.childName) : -1;
    if (index < 0) return installed;
    const key = `${sa.protocol}:${sa.spi}`;
    this.#instances.set(key, { connection: sa.connectionName, child: sa.childName, sa });
    let policy: Promise<void>;
    try {
      // With its SA, at the Worker's next wake-up (before the next packet it handles).
      policy = this.#need().addPolicyInstance({
        key,
        index,
        selectors: tsListsToSelectors(sa.localTs, sa.remoteTs),
      }, { wake: false });
    } catch (e) {
      policy = Promise.reject(e);
    }
    // A failed install takes its policy back (traffic to it is discarded, as before).
    installed.catch(() => {
      if (this.#instances.get(key)?.sa !== sa) return;
      this.#instances.delete(key);
      this.#dp?.removePolicyInstance(key).catch(() => {});
    });
    return Promise.all([installed, policy]).then(() => {});
  }

  /** The policy first, then its SA: traffic to a leaving client is discarded, never acquired. */
  removeSa(e: Extract<Effect, { kind: "removeSa" }>): Promise<void> {
    try {
      const key = `${e.protocol}:${e.spi}`;
      const policy = e.direction === "out" && this.#instances.delete(key)
        ? this.#need().removePolicyInstance(key)
        : undefined;
      const removed = this.#need().removeSa(e.direction, e.protocol, e.spi).then(() => {});
      return policy ? Promise.all([policy, removed]).then(() => {}) : removed;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  addVirtualIp(address: string): Promise<void> {
    return Promise.resolve().then(() => this.#need().addVirtualIp(address));
  }

  removeVirtualIp(address: string): Promise<void> {
    return Promise.resolve().then(() => this.#need().removeVirtualIp(address));
  }

  async updateSa(e: Extract<Effect, { kind: "updateSa" }>): Promise<void> {
    const out = e.direction === "out";
    const [local, remote] = out ? [e.src, e.dst] : [e.dst, e.src];
    const encap = e.encap
      ? out
        ? { localPort: e.encap.srcPort, remotePort: e.encap.dstPort }
        : { localPort: e.encap.dstPort, remotePort: e.encap.srcPort }
      : undefined;
    const found = await this.#need().updateSa(
      e.direction,
      e.protocol,
      e.spi,
      addressBytes(local),
      addressBytes(remote),
      encap,
    );
    if (!found) {
      this.#log("warn", `update of ${e.direction} SA ${(e.spi >>> 0).toString(16)}: not installed`);
    }
  }

  async counters(): Promise<readonly SaCounters[]> {
    if (!this.#dp) return [];
    const s = await this.#dp.stats();
    return s.sas.map((x) => ({
      spi: x.spi,
      direction: x.direction,
      bytes: BigInt(x.bytes),
      packets: BigInt(x.packets),
    }));
  }

  onAcquire(cb: (a: AcquireEvent) => void): void {
    this.#acquire = cb;
  }

  onExpire(cb: (e: ExpireEvent) => void): void {
    this.#expire = cb;
  }

  onMapping(cb: (e: MappingEvent) => void): void {
    this.#mapping = cb;
  }

  async describe(): Promise<Json> {
    if (!this.#dp) return null;
    const s = await this.#dp.stats();
    const drops: { [k: string]: Json } = {};
    for (const [k, v] of Object.entries(s.drops)) if (v > 0) drops[k] = v;
    return {
      tun: this.#dp.tunName,
      crypto: this.#dp.backend,
      packets: { ...s.packets },
      drops,
      virtualIps: this.#dp.virtualIps,
      policies: this.#base.length + this.#instanceList().length,
    };
  }

  async close(): Promise<void> {
    const dp = this.#dp;
    this.#dp = null;
    await dp?.stop();
  }
}
