/**
 * Two IKEv2 engines wired through a {@link FakeNetwork} and a shared
 * {@link FakeClock}, for in-memory handshake tests in the style of
 * strongSwan's `exchange_test_helper`. Each peer applies its engine's
 * effects: sends go onto the network, timers into the clock, installSa and
 * removeSa into a simulated SAD, events and logs into lists.
 *
 * @example
 * ```ts
 * const t = new TwoPeers(pskConfigs());
 * t.initiate("alice", "site");
 * t.run(); // until nothing is in flight and no timer is due before the horizon
 * t.alice.sad.size; // 2 (one child SA, both directions)
 * ```
 *
 * @module
 */
import { parseProposals } from "../../lib/crypto/proposal.ts";
import { parseIdentity } from "../../lib/db/identity.ts";
import type { CrlFetchResult, Effect, EngineEvent, SaInstall } from "../../lib/ikev2/effects.ts";
import { type EngineOptions, IkeEngine } from "../../lib/ikev2/engine.ts";
import type { ChildConfig, EngineConfig, PeerConfig } from "../../lib/ikev2/peer_config.ts";
import { FakeClock } from "./fake_clock.ts";

import { FakeNetwork, type FakeNetworkOptions, seededRandomBytes } from "./fake_network.ts";

/** One side of a {@link TwoPeers} setup. */
export class Peer {
  readonly name: string;
  readonly engine: IkeEngine;
  /** Installed SA directions keyed by `${direction}/${spi}`. */
  readonly sad = new Map<string, SaInstall>();
  readonly events: EngineEvent[] = [];
  readonly logs: string[] = [];
  /** Every effect in order (for detailed assertions). */
  readonly effects: Effect[] = [];
  /** URIs the engine asked to fetch, in order. */
  readonly crlFetches: string[] = [];
  /** OCSP responders the engine asked, in order. */
  readonly ocspFetches: string[] = [];
  /** DNS names the engine asked to resolve (`resolveName`), in order. */
  readonly nameLookups: string[] = [];

  constructor(name: string, config: EngineConfig, opts: EngineOptions) {
    this.name = name;
    this.engine = new IkeEngine(config, opts);
  }

  /** Events of one type. */
  eventsOf<T extends EngineEvent["type"]>(type: T): Extract<EngineEvent, { type: T }>[] {
    return this.events.filter((e) => e.type === type) as Extract<EngineEvent, { type: T }>[];
  }

  /** Inbound SAs in the simulated SAD. */
  inbound(): SaInstall[] {
    return [...this.sad.values()].filter((s) => s.direction === "in");
  }

  /** Outbound SAs in the simulated SAD. */
  outbound(): SaInstall[] {
    return [...this.sad.values()].filter((s) => s.direction === "out");
  }
}

/** Setup of a {@link TwoPeers} run. */
export interface TwoPeersOptions {
  readonly alice: EngineConfig;
  readonly bob: EngineConfig;
  readonly network?: FakeNetworkOptions;
  /** Seed for both peers' randomness (alice uses seed, bob seed+1000). */
  readonly seed?: number;
  /**
   * Put alice behind a NAT: her datagrams leave with this source endpoint,
   * and datagrams to it are delivered to her real endpoint.
   */
  readonly aliceNat?: { readonly address: string; readonly port: number };
  /** Start time of the fake clock in ms (default 0; certificate tests need a real date). */
  readonly startMs?: number;
  /**
   * Route simulated ESP by the SAs' outer addresses (MOBIKE tests): a packet
   * goes from the outbound SA's `src` (which its sender must own) to its
   * `dst` (which must reach a peer), else it counts as lost. Default: by name.
   */
  readonly espByAddress?: boolean;
  /**
   * Answers the peers' `fetchCrl` (GET `uri`) and `fetchOcsp` (POST
   * `request` to `uri`) effects after `crlDelayMs` (default 50); undefined =
   * the server never answers. Without it nobody answers.
   */
  readonly crlServer?: (uri: string, request?: Uint8Array) => CrlFetchResult | undefined;
  readonly crlDelayMs?: number;
  /** What `resolveName` effects find (name -> addresses); others do not resolve. */
  readonly hosts?: Record<string, string[]>;
}

/** Counters of the simulated ESP data path (see {@link TwoPeers.startTraffic}). */
export interface TrafficStats {
  /** Packets sent (a peer had an outbound SA). */
  sent: number;
  /** Packets that found their inbound SA on arrival. */
  delivered: number;
  /** Packets whose SA was gone (or not yet there) on arrival: "time, who, SPI". */
  lost: string[];
  /** Send opportunities where a peer had no outbound SA at all. */
  noSa: number;
  /** When those happened: "time who". */
  noSaAt: string[];
}

/** Two engines, a network and a clock. */
export class TwoPeers {
  readonly clock: FakeClock;
  readonly net: FakeNetwork;
  /** Lossless ESP path with jitter, for make-before-break checks. */
  readonly esp = new FakeNetwork({ seed: 99, delayMs: 10, jitterMs: 40 });
  readonly traffic: TrafficStats = {
    sent: 0,
    delivered: 0,
    lost: [],
    noSa: 0,
    noSaAt: [],
  };
  #trafficMs = 0;
  alice: Peer;
  bob: Peer;
  #byAddress = new Map<string, Peer>();
  #nat: { readonly address: string; readonly port: number } | undefined;
  #alicePrivate: { address: string; port: number } | undefined;
  #espByAddress: boolean;
  #crlServer: ((uri: string, request?: Uint8Array) => CrlFetchResult | undefined) | undefined;
  #ocspQuestions = new Map<string, { uri: string; request: Uint8Array }>();
  #crlDelayMs: number;
  #hosts: Record<string, string[]>;

  constructor(o: TwoPeersOptions) {
    this.#nat = o.aliceNat;
    this.#crlServer = o.crlServer;
    this.#crlDelayMs = o.crlDelayMs ?? 50;
    this.#hosts = o.hosts ?? {};
    this.#espByAddress = o.espByAddress ?? false;
    this.clock = new FakeClock(o.startMs ?? 0);
    this.net = new FakeNetwork(o.network ?? {});
    const seed = o.seed ?? 1;
    const now = o.startMs ?? 0;
    this.alice = new Peer("alice", o.alice, { random: seededRandomBytes(seed), now });
    this.bob = new Peer("bob", o.bob, { random: seededRandomBytes(seed + 1000), now });
    for (const p of [this.alice, this.bob]) {
      for (const c of p.engine.config.connections) this.#byAddress.set(c.localAddress, p);
    }
    if (this.#nat) {
      this.#byAddress.set(this.#nat.address, this.alice);
      const c = o.alice.connections[0];
      this.#alicePrivate = { address: c.localAddress, port: c.localPort ?? 500 };
    }
  }

  /** NAT mappings: alice's private port -> public port (first: the configured one). */
  #natPorts = new Map<number, number>();

  #natOut(privatePort: number): { address: string; port: number } {
    let pub = this.#natPorts.get(privatePort);
    if (pub === undefined) {
      pub = this.#nat!.port + this.#natPorts.size;
      this.#natPorts.set(privatePort, pub);
    }
    return { address: this.#nat!.address, port: pub };
  }

  #natIn(publicPort: number): { address: string; port: number } {
    for (const [priv, pub] of this.#natPorts) {
      if (pub === publicPort) return { address: this.#alicePrivate!.address, port: priv };
    }
    return this.#alicePrivate!;
  }

  /** The NAT forgets alice's mappings and uses new public ports from `base` on. */
  natRebind(base: number): void {
    this.#natPorts.clear();
    this.#nat = { address: this.#nat!.address, port: base };
  }

  /**
   * Alice's address changes (MOBIKE tests): from now on she owns only
   * `address` (datagrams to her old addresses are lost), behind `nat` (its
   * public address and first port) when given, else reachable directly.
   */
  relocateAlice(address: string, nat?: { readonly address: string; readonly port: number }): void {
    for (const [a, p] of [...this.#byAddress]) if (p === this.alice) this.#byAddress.delete(a);
    this.#byAddress.set(address, this.alice);
    this.#natPorts.clear();
    this.#nat = nat;
    if (nat) {
      this.#byAddress.set(nat.address, this.alice);
      this.#alicePrivate = { address, port: 4500 };
    }
  }

  /** `who` also owns `address` (datagrams to it are delivered to that peer). */
  addAddress(who: "alice" | "bob", address: string): void {
    this.#byAddress.set(address, this.peer(who));
  }

  /** `address` goes away: datagrams to it are lost, its owner can no longer send ESP from it. */
  dropAddress(address: string): void {
    this.#byAddress.delete(address);
  }

  /** The peer with that name. */
  peer(name: "alice" | "bob"): Peer {
    return name === "alice" ? this.alice : this.bob;
  }

  /**
   * `who` crashes and comes back: a fresh engine with the same configuration
   * and no IKE or child SAs (its pending timers find no SA and do nothing).
   */
  restart(who: "alice" | "bob", seed = 7777): void {
    const old = this.peer(who);
    const fresh = new Peer(who, old.engine.config, {
      random: seededRandomBytes(seed),
      now: this.clock.now,
    });
    for (const [address, p] of this.#byAddress) {
      if (p === old) this.#byAddress.set(address, fresh);
    }
    if (who === "alice") this.alice = fresh;
    else this.bob = fresh;
  }

  /** Applies effects of `p` at the current time. */
  apply(p: Peer, effects: Effect[]): void {
    for (const e of effects) {
      p.effects.push(e);
      switch (e.kind) {
        case "send":
          this.net.send(
            p === this.alice && this.#nat ? this.#natOut(e.from.port) : e.from,
            e.to,
            e.bytes,
            this.clock.now,
          );
          break;
        case "installSa":
          p.sad.set(`${e.sa.direction}/${e.sa.spi}`, e.sa);
          break;
        case "updateSa": {
          const cur = p.sad.get(`${e.direction}/${e.spi}`);
          if (cur) {
            const { encap: _old, ...rest } = cur;
            p.sad.set(`${e.direction}/${e.spi}`, {
              ...rest,
              src: e.src,
              dst: e.dst,
              ...(e.encap ? { encap: e.encap } : {}),
            });
          }
          break;
        }
        case "removeSa":
          p.sad.delete(`${e.direction}/${e.spi}`);
          break;
        case "setTimer":
          this.clock.set(p.name, e.id, e.at);
          break;
        case "cancelTimer":
          this.clock.cancel(p.name, e.id);
          break;
        case "fetchCrl":
          p.crlFetches.push(e.uri);
          if (this.#crlServer) {
            this.clock.set(`crl:${p.name}`, e.uri, this.clock.now + this.#crlDelayMs);
          }
          break;
        case "resolveName":
          p.nameLookups.push(e.name);
          // The answer comes 20 ms later, from `hosts` (no entry: the name does not resolve).
          this.clock.set(`dns:${p.name}`, e.name, this.clock.now + 20);
          break;
        case "fetchOcsp":
          p.ocspFetches.push(e.uri);
          this.#ocspQuestions.set(`${p.name} ${e.key}`, { uri: e.uri, request: e.request });
          if (this.#crlServer) {
            this.clock.set(`ocsp:${p.name}`, e.key, this.clock.now + this.#crlDelayMs);
          }
          break;
        case "log":
          p.logs.push(e.line);
          break;
        case "event":
          p.events.push(e.event);
          break;
      }
    }
  }

  /**
   * Every `intervalMs` each peer sends one ESP packet on its newest outbound
   * SA (the last one installed); on arrival it must find its inbound SA.
   */
  startTraffic(intervalMs: number): void {
    this.#trafficMs = intervalMs;
    this.clock.set("traffic", "tick", this.clock.now + intervalMs);
  }

  /** Stops the simulated traffic. */
  stopTraffic(): void {
    this.#trafficMs = 0;
    this.clock.cancel("traffic", "tick");
  }

  #trafficTick(): void {
    for (const [p, q] of [[this.alice, this.bob], [this.bob, this.alice]] as const) {
      const out = p.outbound().at(-1);
      if (!out) {
        this.traffic.noSa++;
        this.traffic.noSaAt.push(`${this.clock.now} ${p.name}`);
        continue;
      }
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, out.spi);
      this.traffic.sent++;
      if (this.#espByAddress) {
        if (this.#byAddress.get(out.src) !== p) {
          this.traffic.lost.push(`${this.clock.now} ${p.name} cannot send from ${out.src}`);
          continue;
        }
        this.esp.send(
          { address: out.src, port: 0 },
          { address: out.dst, port: 0 },
          b,
          this.clock.now,
        );
        continue;
      }
      const to = { address: q.name, port: 0 };
      this.esp.send({ address: p.name, port: 0 }, to, b, this.clock.now);
    }
    if (this.#trafficMs > 0) this.clock.set("traffic", "tick", this.clock.now + this.#trafficMs);
  }

  /** `who` initiates connection `name` now. */
  initiate(who: "alice" | "bob", name: string): void {
    const p = this.peer(who);
    this.apply(p, p.engine.initiate(name, this.clock.now));
  }

  /**
   * Runs the simulation: delivers datagrams and fires timers in time order
   * until nothing is left before `untilMs` (absolute) or `maxSteps` is hit.
   */
  run(untilMs = this.clock.now + 60_000, maxSteps = 2_000_000): void {
    for (let step = 0; step < maxSteps; step++) {
      const tNet = this.net.nextArrival();
      const tEsp = this.esp.nextArrival();
      const tTimer = this.clock.nextDeadline();
      const next = Math.min(tNet ?? Infinity, tTimer ?? Infinity, tEsp ?? Infinity);
      if (next === Infinity || next > untilMs) {
        this.clock.advanceTo(untilMs);
        return;
      }
      this.clock.advanceTo(next);
      for (const d of this.net.takeDue(this.clock.now)) {
        const p = this.#byAddress.get(d.to.address);
        if (!p) continue;
        const to = this.#nat && d.to.address === this.#nat.address ? this.#natIn(d.to.port) : d.to;
        this.apply(p, p.engine.handle(d.bytes, d.from, to, this.clock.now));
      }
      for (const d of this.esp.takeDue(this.clock.now)) {
        const q = this.#espByAddress
          ? this.#byAddress.get(d.to.address)
          : this.peer(d.to.address as "alice" | "bob");
        if (!q) {
          this.traffic.lost.push(`${this.clock.now} unreachable ${d.to.address}`);
          continue;
        }
        const spi = new DataView(d.bytes.buffer).getUint32(0);
        if (q.sad.has(`in/${spi}`)) this.traffic.delivered++;
        else this.traffic.lost.push(`${this.clock.now} ${q.name} ${spi.toString(16)}`);
      }
      for (const t of this.clock.takeDue()) {
        if (t.owner === "traffic") {
          this.#trafficTick();
          continue;
        }
        if (t.owner.startsWith("ocsp:")) {
          const p = this.peer(t.owner.slice(5) as "alice" | "bob");
          const q = this.#ocspQuestions.get(`${p.name} ${t.id}`)!;
          const result = this.#crlServer!(q.uri, q.request);
          if (result) this.apply(p, p.engine.ocspFetched(t.id, result, this.clock.now));
          continue;
        }
        if (t.owner.startsWith("dns:")) {
          const p = this.peer(t.owner.slice(4) as "alice" | "bob");
          const addresses = this.#hosts[t.id];
          const result = addresses ? { addresses } : { error: "Name or service not known" };
          this.apply(p, p.engine.nameResolved(t.id, result, this.clock.now));
          continue;
        }
        if (t.owner.startsWith("crl:")) {
          const p = this.peer(t.owner.slice(4) as "alice" | "bob");
          const result = this.#crlServer!(t.id);
          if (result) this.apply(p, p.engine.crlFetched(t.id, result, this.clock.now));
          continue;
        }
        const p = this.peer(t.owner as "alice" | "bob");
        this.apply(p, p.engine.timer(t.id, this.clock.now));
      }
    }
    throw new Error(`simulation did not settle in ${maxSteps} steps`);
  }
}

/** Options of {@link pskConfigs}. */
export interface PskSetup {
  readonly ikeProposals?: string;
  /** Bob's IKE proposals (default: same as alice's). */
  readonly bobIkeProposals?: string;
  readonly espProposals?: string;
  readonly bobEspProposals?: string;
  readonly aliceChild?: Partial<ChildConfig>;
  readonly bobChild?: Partial<ChildConfig>;
  readonly alice?: Partial<PeerConfig>;
  readonly bob?: Partial<PeerConfig>;
  readonly aliceSecret?: string;
  readonly bobSecret?: string;
  readonly bobEngine?: Partial<EngineConfig>;
}

/**
 * Alice (192.0.2.1, 10.1.0.0/16) and Bob (192.0.2.2, 10.2.0.0/16) with a
 * PSK, site-to-site, one ESP child each.
 */
export function pskConfigs(s: PskSetup = {}): { alice: EngineConfig; bob: EngineConfig } {
  const aliceId = parseIdentity("alice@example.org");
  const bobId = parseIdentity("bob.example.org");
  const ike = s.ikeProposals ?? "aes256gcm16-prfsha384-x25519";
  const esp = s.espProposals ?? "aes256gcm16";
  const child = (
    localTs: string,
    remoteTs: string,
    proposals: string,
    extra?: Partial<ChildConfig>,
  ): ChildConfig => ({
    name: "net",
    mode: "tunnel",
    protocol: "esp",
    proposals: parseProposals(proposals, extra?.protocol ?? "esp", { allowWeak: true }),
    localTs: [localTs],
    remoteTs: [remoteTs],
    ...extra,
  });
  const alice: PeerConfig = {
    name: "site",
    localAddress: "192.0.2.1",
    remoteAddress: "192.0.2.2",
    proposals: parseProposals(ike, "ike", { allowWeak: true }),
    local: { auth: "psk", id: aliceId },
    remote: { auth: "psk", id: bobId },
    children: [child("10.1.0.0/16", "10.2.0.0/16", esp, s.aliceChild)],
    ...s.alice,
  };
  const bob: PeerConfig = {
    name: "site",
    localAddress: "192.0.2.2",
    remoteAddress: "%any",
    proposals: parseProposals(s.bobIkeProposals ?? ike, "ike", { allowWeak: true }),
    local: { auth: "psk", id: bobId },
    remote: { auth: "psk", id: aliceId },
    children: [child("10.2.0.0/16", "10.1.0.0/16", s.bobEspProposals ?? esp, s.bobChild)],
    ...s.bob,
  };
  const secret = (t: string) => new TextEncoder().encode(t);
  return {
    alice: {
      connections: [alice],
      secrets: [{ ids: [aliceId, bobId], secret: secret(s.aliceSecret ?? "s3cret-psk-0123") }],
    },
    bob: {
      connections: [bob],
      secrets: [{ ids: [aliceId, bobId], secret: secret(s.bobSecret ?? "s3cret-psk-0123") }],
      ...s.bobEngine,
    },
  };
}
