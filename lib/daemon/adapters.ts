/**
 * Adapters from the real IKEv2 engine (lib/ikev2/engine.ts) and the
 * userspace data plane (lib/dataplane/dataplane.ts) to the daemon's ports.
 *
 * @module
 */
import type { EngineConfig } from "../ikev2/peer_config.ts";
import type { Effect, Endpoint, SaInstall } from "../ikev2/effects.ts";
import { IkeEngine } from "../ikev2/engine.ts";
import type { SpdEntry } from "../db/spd.ts";
import { Dataplane, type DataplaneEvent, type DataplaneOptions } from "../dataplane/dataplane.ts";
import type { Json } from "./control_protocol.ts";
import { saSpecFromInstall } from "./install_spec.ts";
import type {
  AcquireEvent,
  DataplanePort,
  EnginePort,
  ExpireEvent,
  IkeSaDetail,
  SaCounters,
} from "./ports.ts";
import { transformName, TransformType } from "../crypto/transforms.ts";

/** What the production runtime builds from a config file. */
export interface RuntimePayload {
  readonly engine: EngineConfig;
  /** Ordered SPD for the data plane (PROTECT entries name connection/child). */
  readonly spd: readonly SpdEntry[];
  /** TUN, addresses, routes, marks. */
  readonly dataplane: DataplaneOptions;
}

/** Something worth a log line that happened inside an adapter. */
export type AdapterLog = (level: "error" | "warn" | "info" | "debug", message: string) => void;

/** {@link EnginePort} over {@link IkeEngine}. */
export class IkeEngineAdapter implements EnginePort<RuntimePayload> {
  #engine: IkeEngine;
  #log: AdapterLog;

  constructor(config: RuntimePayload, log: AdapterLog) {
    this.#engine = new IkeEngine(config.engine);
    this.#log = log;
  }

  /** The wrapped engine (status details, counters). */
  get engine(): IkeEngine {
    return this.#engine;
  }

  handle(bytes: Uint8Array, from: Endpoint, to: Endpoint, now: number): Effect[] {
    return this.#engine.handle(bytes, from, to, now);
  }

  initiate(name: string, now: number, child?: string): Effect[] {
    // The engine negotiates every child of the connection in IKE_AUTH; a
    // single-child request is satisfied by that.
    void child;
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

  reconfigure(config: RuntimePayload, now: number): Effect[] {
    void now;
    if (this.#engine.list().length === 0) {
      this.#engine = new IkeEngine(config.engine);
      return [];
    }
    this.#log(
      "warn",
      "the engine cannot take a new configuration while IKE SAs exist: " +
        "changed connections apply after their SAs are gone ('ipsec down' them, then reload)",
    );
    return [];
  }

  shutdown(now: number): Effect[] {
    return this.#engine.list().flatMap((s) => this.#engine.terminate(s.id, now));
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
        algorithms,
        nat: s.natLocal && s.natRemote
          ? "both"
          : s.natLocal
          ? "local"
          : s.natRemote
          ? "remote"
          : "",
      };
    });
  }
}

/** {@link DataplanePort} over the Worker-based {@link Dataplane}. */
export class UserspaceDataplaneAdapter implements DataplanePort<RuntimePayload> {
  #dp: Dataplane | null = null;
  #spd: readonly SpdEntry[] = [];
  #acquire: ((a: AcquireEvent) => void) | null = null;
  #expire: ((e: ExpireEvent) => void) | null = null;
  #log: AdapterLog;
  #start: (o: DataplaneOptions) => Promise<Dataplane>;

  constructor(
    log: AdapterLog,
    start: (o: DataplaneOptions) => Promise<Dataplane> = Dataplane.start,
  ) {
    this.#log = log;
    this.#start = start;
  }

  async configure(config: RuntimePayload): Promise<void> {
    if (!this.#dp) {
      this.#dp = await this.#start(config.dataplane);
      this.#dp.on((e) => this.#event(e));
      this.#log(
        "info",
        `data plane up: TUN ${this.#dp.tunName}, crypto ${this.#dp.backend}, ` +
          `routes ${(config.dataplane.routes ?? []).join(" ") || "none"}`,
      );
    }
    this.#spd = config.spd;
    await this.#dp.setPolicies([...config.spd]);
  }

  #event(e: DataplaneEvent): void {
    switch (e.type) {
      case "acquire": {
        const p = this.#spd[e.policyIndex]?.processing;
        const packet = `${e.src} -> ${e.dst} proto ${e.protocol}`;
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
      case "ike":
        this.#log(
          "debug",
          `IKE message on the encapsulation port from port ${e.remotePort} ignored`,
        );
        break;
      case "error":
        this.#log("error", `data plane: ${e.message}`);
        break;
    }
  }

  #need(): Dataplane {
    if (!this.#dp) throw new Error("data plane is not started");
    return this.#dp;
  }

  installSa(sa: SaInstall): Promise<void> {
    return this.#need().installSa(saSpecFromInstall(sa));
  }

  async removeSa(e: Extract<Effect, { kind: "removeSa" }>): Promise<void> {
    await this.#need().removeSa(e.direction, e.protocol, e.spi);
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

  async describe(): Promise<Json> {
    if (!this.#dp) return null;
    const s = await this.#dp.stats();
    const drops: { [k: string]: Json } = {};
    for (const [k, v] of Object.entries(s.drops)) if (v > 0) drops[k] = v;
    return { tun: this.#dp.tunName, crypto: this.#dp.backend, packets: { ...s.packets }, drops };
  }

  async close(): Promise<void> {
    const dp = this.#dp;
    this.#dp = null;
    await dp?.stop();
  }
}
