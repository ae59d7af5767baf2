/**
 * The small interfaces the daemon drives. The daemon owns the only event loop
 * (sockets, timers, the control socket); everything it talks to sits behind
 * one of these ports so tests can swap in in-memory fakes (see
 * tests/daemon/_fakes.ts) and the real engine, data plane and config loader
 * plug in through lib/daemon/runtime.ts.
 *
 * @module
 */
import type { LoadedCredential } from "./credentials_view.ts";
import type { RadiusServer } from "../eap/radius_proxy.ts";
import type { DaeConfig } from "./radius_dae.ts";
import type { PoolInfo } from "../ikev2/tasks/config_payload.ts";
import type { RevocationEntry } from "../pki/revocation_cache.ts";
import type { Crl } from "../pki/crl.ts";
import type { OcspStatus } from "../pki/ocsp.ts";
import type { CrlFetchResult, Effect, Endpoint, LogLevel, SaInstall } from "../ikev2/effects.ts";
import type { Json } from "./control_protocol.ts";
import type { ScriptExec } from "./updown.ts";

/** When a child SA is brought up (swanctl `start_action`). */
export type StartAction = "none" | "trap" | "start";

/** One child of a connection as `ipsec list-conns` shows it. */
export interface ChildInfo {
  readonly name: string;
  /** `pass`/`drop`: a shunt policy, never negotiated. */
  readonly mode: "tunnel" | "transport" | "pass" | "drop";
  readonly protocol: "esp" | "ah";
  readonly localTs: readonly string[];
  readonly remoteTs: readonly string[];
  readonly proposals: readonly string[];
  readonly startAction: StartAction;
  /** `updown`: the script run when a child SA comes up or goes (lib/daemon/updown.ts). */
  readonly updown?: string;
  /** `inactivity`: close an idle child SA after this many seconds (absent = never). */
  readonly inactivitySeconds?: number;
  /** `ipcomp: yes`: IPComp is proposed and accepted (absent = no). */
  readonly ipcomp?: boolean;
}

/** One connection as `ipsec list-conns` shows it. */
export interface ConnectionInfo {
  readonly name: string;
  readonly localAddrs: readonly string[];
  readonly remoteAddrs: readonly string[];
  /** DNS names written in `remote_addrs` (resolved into `remoteAddrs`). */
  readonly remoteNames?: readonly string[];
  readonly localAuth: string;
  readonly remoteAuth: string;
  readonly localId: string;
  readonly remoteId: string;
  /** RFC 4739: our later authentication rounds (`local-2`...), as auth and id. */
  readonly localRounds?: readonly { readonly auth: string; readonly id: string }[];
  /** RFC 4739: the peer's later rounds (`remote-2`...). */
  readonly remoteRounds?: readonly { readonly auth: string; readonly id: string }[];
  readonly proposals: readonly string[];
  readonly children: readonly ChildInfo[];
}

/** A row of a printable table (`ipsec spd`, `ipsec pad`): column name to value. */
export type TableRow = { readonly [column: string]: string | number };

/**
 * A validated configuration as the daemon needs it. `P` is whatever the data
 * plane and engine are built from (the parsed config); the daemon only passes
 * it through.
 */
export interface DaemonConfig<P = unknown> {
  /** The file it was loaded from. */
  readonly path: string;
  readonly connections: readonly ConnectionInfo[];
  /** Ordered SPD entries for `ipsec spd`. */
  readonly spd: readonly TableRow[];
  /** PAD entries for `ipsec pad`. */
  readonly pad: readonly TableRow[];
  /** Local addresses the daemon listens for IKE on (empty = any). */
  readonly listenAddrs: readonly string[];
  /** Opaque configuration handed to the engine and data plane factories. */
  readonly payload: P;
  /** `resolv_conf`: the file assigned DNS servers go to; null or absent = left alone. */
  readonly resolvConf?: string | null;
  /** The data plane's TUN (PLUTO_INTERFACE of `updown` scripts; absent = "unknown"). */
  readonly interfaceName?: string;
  /** Certificates and CRLs loaded, for `ipsec list-certs`. */
  readonly credentials?: readonly LoadedCredential[];
  /** RADIUS Dynamic Authorization listener (`radius: dae:`). */
  readonly radiusDae?: DaeConfig;
  /** RADIUS accounting (`radius: accounting: yes`): servers at their accounting ports. */
  readonly radiusAccounting?: {
    readonly servers: readonly RadiusServer[];
    readonly nasIdentifier: string;
    /** Seconds between Interim-Updates (0 = none). */
    readonly interimSeconds?: number;
  };
}

/** A configuration file could not be loaded; nothing was changed. */
export class ConfigLoadError extends Error {
  override readonly name = "ConfigLoadError";
}

/** The sans-I/O IKEv2 engine as the daemon drives it. */
export interface EnginePort<P = unknown> {
  /** An IKE datagram arrived (non-ESP marker already removed). */
  handle(bytes: Uint8Array, from: Endpoint, to: Endpoint, now: number): Effect[];
  /** Establish connection `name` (optionally only child `child`). */
  initiate(name: string, now: number, child?: string): Effect[];
  /** Delete every IKE SA of connection `name` (sends Delete). Empty when none exist. */
  terminate(name: string, now: number): Effect[];
  /** A timer armed by a `setTimer` effect fired. */
  timer(id: string, now: number): Effect[];
  /** Replace the configuration; SAs of unchanged connections stay. */
  reconfigure(config: P, now: number): Effect[];
  /** Delete every SA before exit. */
  shutdown(now: number): Effect[];
  /** A child SA hit a data plane lifetime: rekey (soft) or delete (hard). */
  childExpired?(childSaId: number, kind: "soft" | "hard", now: number): Effect[];
  /** Resolves the peers' DNS names again before we initiate (`remote_addrs: vpn.example.com`). */
  refreshNames?(): Promise<void>;
  /** The answer to a `fetchCrl` effect (the CRL's bytes, or why there are none). */
  crlFetched?(
    uri: string,
    result: CrlFetchResult,
    now: number,
  ): Effect[];
  /** Rekey IKE SA `ikeSaId` now (`ipsec rekey NAME`). */
  rekeyIke?(ikeSaId: number, now: number): Effect[];
  /** Delete child SA `childSaId` (INFORMATIONAL with a Delete; `inactivity`). */
  closeChild?(childSaId: number, now: number): Effect[];
  /** Delete IKE SA `ikeSaId` and its child SAs (`inactivity` of its last child). */
  terminateIke?(ikeSaId: number, now: number, reason?: string): Effect[];
  /**
   * Gateway: send the client of IKE SA `ikeSaId` to `gateway` (RFC 5685
   * INFORMATIONAL REDIRECT; `ipsec redirect`). Throws a RangeError when the
   * SA is ours or the gateway is no IP address.
   */
  redirect?(ikeSaId: number, gateway: string, now: number): Effect[];
  /** Rekey child SA `childSaId` now (`ipsec rekey NAME --child CHILD`). */
  rekeyChild?(childSaId: number, now: number): Effect[];
  /** Authenticated ESP of a child SA came from another NAT mapping of the peer. */
  peerMapping?(childSaId: number, from: Endpoint, now: number): Effect[];
  /** A datagram from a RADIUS server (answers to `sendRadius` effects). */
  radiusAnswer?(bytes: Uint8Array, from: Endpoint, now: number): Effect[];
  /** Resolves a DNS name a REDIRECT named (the `resolveName` effect), with the host's resolver. */
  resolveName?(name: string): Promise<{ addresses: string[] } | { error: string }>;
  /** The answer to a `resolveName` effect. */
  nameResolved?(
    name: string,
    result: { addresses: readonly string[] } | { error: string },
    now: number,
  ): Effect[];
  /** The answer to a `fetchOcsp` effect (the responder's bytes, or why there are none). */
  ocspFetched?(key: string, result: CrlFetchResult, now: number): Effect[];
  /** OCSP answers fetched, by responder and certificate (`ipsec list-certs`). */
  fetchedOcsp?(): readonly (readonly [string, RevocationEntry<OcspStatus>])[];
  /** Virtual IP pools and their leases (`ipsec list-pools`). */
  pools?(): readonly PoolInfo[];
  /** CRLs fetched from distribution points, by URI (`ipsec list-certs`). */
  fetchedCrls?(): readonly (readonly [string, RevocationEntry<Crl>])[];
  /** Details of live IKE SAs for `ipsec status` (SPIs, endpoints, identities, algorithms). */
  describe?(): readonly IkeSaDetail[];
  /** MOBIKE: live IKE SAs with their outer addresses (lib/daemon/mobike_driver.ts). */
  ikeSas?(): readonly IkeSaAddresses[];
  /** MOBIKE: move IKE SA `ikeSaId` (we are its original initiator) to our address `local`. */
  updateAddresses?(ikeSaId: number, local: string, now: number): Effect[];
  /** MOBIKE: this host's usable addresses changed (announced to MOBIKE peers). */
  setLocalAddresses?(addresses: readonly string[], now: number): Effect[];
}

/** An IKE SA's outer addresses and MOBIKE role, as the address monitor needs them. */
export interface IkeSaAddresses {
  readonly ikeSaId: number;
  /** Its connection, when the engine knows it. */
  readonly connectionName?: string;
  /** Our outer address (no port). */
  readonly local: string;
  /** The peer's outer address (no port). */
  readonly remote: string;
  /** We are the original initiator (only it may move the SA). */
  readonly initiator: boolean;
  /** Both sides announced MOBIKE_SUPPORTED. */
  readonly mobike: boolean;
  readonly established: boolean;
  /** Our virtual IP from this SA (never an outer address). */
  readonly vip?: string;
}

/** This host's addresses as the daemon watches them for MOBIKE (lib/daemon/address_monitor.ts). */
export interface AddressMonitorPort {
  /** Calls `onTick` with the usable addresses now and then periodically. */
  start(onTick: (addresses: readonly string[]) => void): void;
  /** Our route source toward `remote` (undefined: no route). */
  routeSource(remote: string): string | undefined;
  close(): void;
}

/** Where DNS servers a gateway assigned go (lib/daemon/resolv_conf.ts). */
export interface DnsPort {
  /** The file, for log lines. */
  readonly path: string;
  /** Removes what a daemon that died left behind. */
  cleanStale(): Promise<void>;
  /** One more holder of each server; resolves to the servers newly written. */
  add(servers: readonly string[]): Promise<string[]>;
  /** One holder fewer; resolves to the servers whose lines were removed. */
  remove(servers: readonly string[]): Promise<string[]>;
  /** Removes every line written (stop). */
  removeAll(): Promise<string[]>;
}

/** What `ipsec status` shows about one IKE SA beyond the daemon's own view. */
export interface IkeSaDetail {
  readonly ikeSaId: number;
  /** Engine state name (e.g. "established", "rekeying"). */
  readonly state: string;
  readonly initiator: boolean;
  /** SPIs as 16 hex digits. */
  readonly spiI: string;
  readonly spiR: string;
  /** `address[port]`. */
  readonly local: string;
  readonly remote: string;
  readonly localId: string;
  readonly remoteId: string;
  /** The peer's EAP identity (we were its EAP server). */
  readonly remoteEapId?: string;
  /** How the peer authenticated, e.g. "DIGITAL_SIGNATURE", "EAP-RADIUS 'alice'". */
  readonly auth?: string;
  /** When (ms) the IKE SA rekeys, reauthenticates and expires unless rekeyed, if it will. */
  readonly rekeyAt?: number;
  readonly reauthAt?: number;
  readonly expiresAt?: number;
  /** Negotiated IKE algorithms, e.g. "ENCR_AES_GCM_16/256/PRF_HMAC_SHA2_384/CURVE_25519". */
  readonly algorithms: string;
  /** "local", "remote", "both" or "" for NAT detection results. */
  readonly nat: string;
  /** Road-warrior gateway: the virtual IP leased to the peer from a pool. */
  readonly peerVirtualIp?: string;
  /** Every virtual IP leased to the peer when there are several (one per family). */
  readonly peerVirtualIps?: string[];
}

/** Counters of one installed SA. */
export interface SaCounters {
  readonly spi: number;
  readonly direction: "in" | "out";
  readonly bytes: bigint;
  readonly packets: bigint;
}

/** Traffic that policy says to protect found no SA: bring up this child. */
export interface AcquireEvent {
  readonly connectionName: string;
  readonly childName?: string;
  /** Human-readable description of the packet that triggered it. */
  readonly packet?: string;
}

/** A child SA reached a byte/packet (or sequence number) lifetime in the data plane. */
/**
 * Authenticated ESP of an inbound UDP-encapsulated SA arrived from `from`,
 * not from the SA's peer endpoint (a NAT mapped the peer anew).
 */
export interface MappingEvent {
  /** The engine's child SA id (the data plane's reqid). */
  readonly childSaId: number;
  readonly from: Endpoint;
}

export interface ExpireEvent {
  /** The engine's child SA id (the data plane's reqid). */
  readonly childSaId: number;
  readonly kind: "soft" | "hard";
  /** For the log: which SA and which limit. */
  readonly description: string;
}

/**
 * The packet path (TUN, ESP sockets, SAD) as the daemon drives it.
 *
 * Ordering: the daemon calls `installSa`, `removeSa` and `updateSa` as soon
 * as the engine asks (pipelined), without waiting for earlier calls to
 * resolve. An implementation must apply them in call order (e.g. post them
 * to its Worker synchronously, in order); each promise resolves once that
 * call took effect, and the daemon waits for it before anything that depends
 * on it (the next `send`, `event` and SaState).
 */
export interface DataplanePort<P = unknown> {
  /** Apply a configuration: SPD, trap policies, routes. Called before any SA is installed. */
  configure(config: P): Promise<void>;
  installSa(sa: SaInstall): Promise<void>;
  removeSa(e: Extract<Effect, { kind: "removeSa" }>): Promise<void>;
  /** Moves an installed SA to new outer addresses / UDP ports (NAT port floating, MOBIKE). */
  updateSa?(e: Extract<Effect, { kind: "updateSa" }>): Promise<void>;
  /** Per-SA counters, when the data plane counts. */
  counters?(): Promise<readonly SaCounters[]>;
  /** Registers the callback for acquires; called once before configure(). */
  onAcquire(cb: (a: AcquireEvent) => void): void;
  /** Registers the callback for byte/packet lifetime expiries (soft: rekey, hard: gone). */
  onExpire?(cb: (e: ExpireEvent) => void): void;
  /** Registers the callback for ESP from a peer's new NAT mapping. */
  onMapping?(cb: (e: MappingEvent) => void): void;
  /**
   * Road-warrior client: the peer assigned us `address` (CFG_REPLY); put it
   * on the TUN as the source of traffic routed into it.
   */
  addVirtualIp?(address: string): Promise<void>;
  /** Removes a virtual IP (its IKE SA is gone); the routes get their old source back. */
  removeVirtualIp?(address: string): Promise<void>;
  /** Extra status for `ipsec status --json` (interfaces, drop counters). */
  describe?(): Promise<Json>;
  /**
   * `ipsec spd` as enforced now: the configured entries plus a gateway's
   * per-client instances of named entries (absent: the configured table);
   * `decorrelated`: as SPD-S, SPD-O and SPD-I (RFC 4301 section 4.4.1.3).
   */
  spdTable?(decorrelated?: boolean): readonly TableRow[];
  /** Removes routes, addresses, the TUN; stops workers. */
  close(): Promise<void>;
}

/** How IKE datagrams go out and come in (UDP 500/4500). */
export interface IkeTransport {
  /** Starts receiving; `bytes` never include a non-ESP marker. */
  start(onMessage: (bytes: Uint8Array, from: Endpoint, to: Endpoint) => void): Promise<void>;
  /**
   * Sends an IKE message (the non-ESP marker is added on the NAT-T port);
   * `raw` bytes (a NAT-T keepalive) go out as they are.
   */
  send(bytes: Uint8Array, from: Endpoint, to: Endpoint, raw?: boolean): Promise<void>;
  /**
   * Our addresses (from the address monitor, on every poll): a transport
   * listening on the wildcard binds each of them as well, so that a request
   * to one of them is answered from it.
   */
  setLocalAddresses?(addresses: readonly string[]): Promise<void>;
  close(): void;
}

/** Everything the daemon is built from. */
export interface DaemonRuntime<P = unknown> {
  /** Reads and validates a config; throws {@link ConfigLoadError} (nothing applied). */
  loadConfig(path: string): Promise<DaemonConfig<P>>;
  createEngine(config: DaemonConfig<P>): EnginePort<P>;
  createDataplane(config: DaemonConfig<P>): DataplanePort<P>;
  createTransport(config: DaemonConfig<P>): IkeTransport;
  /** Milliseconds since the epoch (tests inject a fake clock). */
  now?(): number;
  /** Applies assigned DNS servers; absent or null = only shown (the daemon tests' fakes). */
  createDns?(config: DaemonConfig<P>): DnsPort | null;
  /** Watches this host's addresses for MOBIKE; absent = never (the daemon tests' fakes). */
  createAddressMonitor?(config: DaemonConfig<P>): AddressMonitorPort;
  /** Runs `updown` scripts (default: Deno.Command, lib/daemon/updown.ts). */
  runScript?: ScriptExec;
  /** Why an `updown` script cannot run, or null (default: stat, lib/daemon/updown.ts). */
  checkScript?(path: string): string | null;
  /** Receives the daemon's logger before any port is created (adapters log through it). */
  attachLog?(
    log: (level: LogLevel, subsystem: "knl" | "net" | "ike", message: string) => void,
  ): void;
}
