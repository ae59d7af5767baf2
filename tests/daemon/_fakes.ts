/**
 * In-memory stand-ins for the daemon's ports (engine, data plane, IKE
 * transport, config loader). The fake engine plays a scripted peer: initiate
 * succeeds for every connection except those whose name starts with "fail";
 * connections whose name starts with "vip" get virtual IP 10.3.0.<IKE SA id>
 * (DNS 10.1.0.53) reported before their child, as the real engine does.
 */
import type { Effect, Endpoint, SaInstall } from "../../lib/ikev2/effects.ts";
import {
  type AcquireEvent,
  ConfigLoadError,
  type ConnectionInfo,
  type DaemonConfig,
  type DaemonRuntime,
  type DataplanePort,
  type EnginePort,
  type ExpireEvent,
  type IkeSaDetail,
  type IkeTransport,
  type SaCounters,
} from "../../lib/daemon/ports.ts";

/** What the fake config carries for the engine: the connection names. */
export interface FakePayload {
  readonly names: string[];
}

/** A connection with one tunnel child. */
export function conn(
  name: string,
  startAction: "none" | "start" | "trap" = "none",
  remote = "192.0.2.2",
): ConnectionInfo {
  return {
    name,
    localAddrs: ["192.0.2.1"],
    remoteAddrs: [remote],
    localAuth: "psk",
    remoteAuth: "psk",
    localId: "a@example.org",
    remoteId: "b@example.org",
    proposals: ["aes256gcm16-prfsha384-x25519"],
    children: [{
      name: "net",
      mode: "tunnel",
      protocol: "esp",
      localTs: ["10.1.0.0/16"],
      remoteTs: ["10.2.0.0/16"],
      proposals: ["aes256gcm16"],
      startAction,
    }],
  };
}

/** A config of connections (tests put it in {@link FakeRuntime.files}). */
export function config(path: string, connections: ConnectionInfo[]): DaemonConfig<FakePayload> {
  return {
    path,
    connections,
    spd: [{ "#": 1, local: "10.1.0.0/16", remote: "10.2.0.0/16", action: "PROTECT" }],
    pad: [{ "#": 1, id: "b@example.org", auth: "psk" }],
    listenAddrs: ["192.0.2.1"],
    payload: { names: connections.map((c) => c.name) },
  };
}

const ts = {
  ipVersion: 4 as const,
  ipProtocol: 0,
  startPort: 0,
  endPort: 65535,
  startAddress: new Uint8Array([10, 1, 0, 0]),
  endAddress: new Uint8Array([10, 1, 255, 255]),
};

/** One direction of the fake child SA (AES-GCM-256, 10.1/16 <-> 10.2/16). */
export function sa(
  ikeSaId: number,
  childSaId: number,
  name: string,
  direction: "in" | "out",
  spi: number,
): SaInstall {
  return {
    ikeSaId,
    childSaId,
    childName: "net",
    connectionName: name,
    protocol: "esp",
    mode: "tunnel",
    direction,
    spi,
    src: direction === "out" ? "192.0.2.1" : "192.0.2.2",
    dst: direction === "out" ? "192.0.2.2" : "192.0.2.1",
    encr: { id: 20, keyLengthBits: 256, key: new Uint8Array(36) },
    esn: false,
    localTs: [ts],
    remoteTs: [{
      ...ts,
      startAddress: new Uint8Array([10, 2, 0, 0]),
      endAddress: new Uint8Array([10, 2, 255, 255]),
    }],
    lifetimes: {
      softSeconds: 3000,
      hardSeconds: 3600,
      softBytes: 0n,
      hardBytes: 0n,
      softPackets: 0n,
      hardPackets: 0n,
    },
    tfcPadding: true,
  };
}

const LOCAL: Endpoint = { address: "192.0.2.1", port: 500 };
const PEER: Endpoint = { address: "192.0.2.2", port: 500 };

/** A scripted engine recording every call. */
export class FakeEngine implements EnginePort<FakePayload> {
  calls: string[] = [];
  /** Effects the next `handle` call returns after its log line (then emptied). */
  script: Effect[] = [];
  #nextIke = 1;
  #live = new Map<number, { name: string; childSaId: number; spiIn: number; spiOut: number }>();

  handle(bytes: Uint8Array, from: Endpoint, to: Endpoint): Effect[] {
    this.calls.push(
      `handle ${bytes.length} ${from.address}:${from.port} -> ${to.address}:${to.port}`,
    );
    return [
      { kind: "log", level: "debug", line: `got ${bytes.length} bytes` },
      ...this.script.splice(0),
    ];
  }

  initiate(name: string, _now: number, child?: string): Effect[] {
    this.calls.push(`initiate ${name}${child ? `/${child}` : ""}`);
    const id = this.#nextIke++;
    if (name.startsWith("fail")) {
      return [
        { kind: "send", from: LOCAL, to: PEER, bytes: new Uint8Array([1]) },
        {
          kind: "event",
          event: {
            type: "ike-failed",
            ikeSaId: id,
            connectionName: name,
            reason: "NO_PROPOSAL_CHOSEN",
          },
        },
      ];
    }
    const c = { name, childSaId: id * 10, spiIn: 0xc0000000 + id, spiOut: 0x0a000000 + id };
    this.#live.set(id, c);
    return [
      { kind: "send", from: LOCAL, to: PEER, bytes: new Uint8Array([2, 2]) },
      { kind: "event", event: { type: "ike-up", ikeSaId: id, connectionName: name } },
      ...(name.startsWith("vip")
        ? [{
          kind: "event" as const,
          event: {
            type: "virtual-ip" as const,
            ikeSaId: id,
            address: `10.3.0.${id}`,
            dns: ["10.1.0.53"],
          },
        }]
        : []),
      { kind: "installSa", sa: sa(id, c.childSaId, name, "in", c.spiIn) },
      { kind: "installSa", sa: sa(id, c.childSaId, name, "out", c.spiOut) },
      {
        kind: "event",
        event: {
          type: "child-up",
          ikeSaId: id,
          childSaId: c.childSaId,
          childName: "net",
          spiIn: c.spiIn,
          spiOut: c.spiOut,
        },
      },
      { kind: "setTimer", id: `rekey-${id}`, at: Date.now() + 3_000_000 },
    ];
  }

  terminate(name: string): Effect[] {
    this.calls.push(`terminate ${name}`);
    const out: Effect[] = [];
    for (const [id, c] of this.#live) {
      if (c.name !== name) continue;
      this.#live.delete(id);
      out.push(
        { kind: "send", from: LOCAL, to: PEER, bytes: new Uint8Array([3]) },
        {
          kind: "removeSa",
          ikeSaId: id,
          childSaId: c.childSaId,
          protocol: "esp",
          direction: "in",
          spi: c.spiIn,
          dst: "192.0.2.1",
        },
        {
          kind: "removeSa",
          ikeSaId: id,
          childSaId: c.childSaId,
          protocol: "esp",
          direction: "out",
          spi: c.spiOut,
          dst: "192.0.2.2",
        },
        {
          kind: "event",
          event: {
            type: "child-down",
            ikeSaId: id,
            childSaId: c.childSaId,
            childName: "net",
            reason: "deleted",
          },
        },
        {
          kind: "event",
          event: { type: "ike-down", ikeSaId: id, connectionName: name, reason: "deleted" },
        },
        { kind: "cancelTimer", id: `rekey-${id}` },
      );
    }
    return out;
  }

  childExpired(childSaId: number, kind: "soft" | "hard"): Effect[] {
    this.calls.push(`childExpired ${childSaId} ${kind}`);
    return [];
  }

  timer(id: string): Effect[] {
    this.calls.push(`timer ${id}`);
    return [];
  }

  reconfigure(config: FakePayload): Effect[] {
    this.calls.push(`reconfigure ${config.names.join(",")}`);
    return [];
  }

  describe(): IkeSaDetail[] {
    return [...this.#live.keys()].map((id) => ({
      ikeSaId: id,
      state: "established",
      initiator: true,
      spiI: "0123456789abcdef",
      spiR: "fedcba9876543210",
      local: "192.0.2.1[500]",
      remote: "192.0.2.2[500]",
      localId: "a@example.org",
      remoteId: "b@example.org",
      algorithms: "ENCR_AES_GCM_16/256/PRF_HMAC_SHA2_384/CURVE_25519",
      nat: "",
    }));
  }

  shutdown(): Effect[] {
    this.calls.push("shutdown");
    return [...new Set([...this.#live.values()].map((c) => c.name))].flatMap((n) =>
      this.terminate(n)
    );
  }
}

/** A data plane that records installs and lets tests raise acquires. */
export class FakeDataplane<P = FakePayload> implements DataplanePort<P> {
  installed = new Map<string, SaInstall>();
  calls: string[] = [];
  closed = false;
  #acquire: ((a: AcquireEvent) => void) | null = null;
  #expire: ((e: ExpireEvent) => void) | null = null;

  configure(config: P): Promise<void> {
    const names = (config as Partial<FakePayload>).names;
    this.calls.push(`configure ${names ? names.join(",") : "?"}`);
    return Promise.resolve();
  }
  installSa(sa: SaInstall): Promise<void> {
    this.installed.set(`${sa.direction}:${sa.spi}`, sa);
    return Promise.resolve();
  }
  removeSa(e: Extract<Effect, { kind: "removeSa" }>): Promise<void> {
    this.installed.delete(`${e.direction}:${e.spi}`);
    return Promise.resolve();
  }
  updated: Extract<Effect, { kind: "updateSa" }>[] = [];
  /** Virtual IPs on the fake TUN. */
  vips: string[] = [];
  addVirtualIp(address: string): Promise<void> {
    this.calls.push(`addVirtualIp ${address}`);
    if (!this.vips.includes(address)) this.vips.push(address);
    return Promise.resolve();
  }
  removeVirtualIp(address: string): Promise<void> {
    this.calls.push(`removeVirtualIp ${address}`);
    this.vips = this.vips.filter((v) => v !== address);
    return Promise.resolve();
  }
  updateSa(e: Extract<Effect, { kind: "updateSa" }>): Promise<void> {
    this.updated.push(e);
    return Promise.resolve();
  }
  counters(): Promise<SaCounters[]> {
    return Promise.resolve(
      [...this.installed.values()].map((sa) => ({
        spi: sa.spi,
        direction: sa.direction,
        bytes: 840n,
        packets: 10n,
      })),
    );
  }
  onAcquire(cb: (a: AcquireEvent) => void): void {
    this.#acquire = cb;
  }
  onExpire(cb: (e: ExpireEvent) => void): void {
    this.#expire = cb;
  }
  /** Simulates a byte/packet lifetime reached in the data plane. */
  expire(e: ExpireEvent): void {
    this.#expire?.(e);
  }
  /** Simulates a packet that policy wants protected but has no SA. */
  acquire(a: AcquireEvent): void {
    this.#acquire?.(a);
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

/** Records sends; tests call `deliver` to inject received datagrams. */
export class FakeTransport implements IkeTransport {
  sent: { bytes: Uint8Array; from: Endpoint; to: Endpoint; raw?: boolean }[] = [];
  closed = false;
  failStart = false;
  #onMessage: ((bytes: Uint8Array, from: Endpoint, to: Endpoint) => void) | null = null;

  start(onMessage: (bytes: Uint8Array, from: Endpoint, to: Endpoint) => void): Promise<void> {
    if (this.failStart) return Promise.reject(new Error("cannot bind UDP 192.0.2.1 port 500"));
    this.#onMessage = onMessage;
    return Promise.resolve();
  }
  send(bytes: Uint8Array, from: Endpoint, to: Endpoint, raw?: boolean): Promise<void> {
    this.sent.push({ bytes, from, to, ...(raw ? { raw } : {}) });
    return Promise.resolve();
  }
  deliver(bytes: Uint8Array, from: Endpoint, to: Endpoint): void {
    this.#onMessage?.(bytes, from, to);
  }
  close(): void {
    this.closed = true;
  }
}

/** A runtime over the fakes; `files` maps config paths to configs (others fail to load). */
export class FakeRuntime implements DaemonRuntime<FakePayload> {
  files = new Map<string, DaemonConfig<FakePayload>>();
  engine = new FakeEngine();
  dataplane = new FakeDataplane();
  transport = new FakeTransport();

  loadConfig(path: string): Promise<DaemonConfig<FakePayload>> {
    const c = this.files.get(path);
    if (!c) {
      return Promise.reject(
        new ConfigLoadError(`${path}:3:5: connections.site.remote_addrs: expected a list`),
      );
    }
    return Promise.resolve(c);
  }
  createEngine(): EnginePort<FakePayload> {
    return this.engine;
  }
  createDataplane(): DataplanePort<FakePayload> {
    return this.dataplane;
  }
  createTransport(): IkeTransport {
    return this.transport;
  }
}
