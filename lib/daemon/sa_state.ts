/**
 * What the daemon knows about live SAs, built only from the engine's effects
 * (installSa/removeSa) and events (ike-up, child-up, ...). Feeds `ipsec
 * status`, `ipsec list-sas` and `ipsec sad`.
 *
 * @module
 */
import type { Effect, EngineEvent, SaInstall } from "../ikev2/effects.ts";
import { transformName, TransformType } from "../crypto/transforms.ts";
import { ipFromBytes } from "../db/address.ts";
import type { TrafficSelector } from "../db/narrow.ts";
import { type AddressSelector, formatAddressSelector, protocolName } from "../db/selector.ts";

/** One direction of a child SA as installed. */
export interface SaView {
  readonly spi: number;
  readonly direction: "in" | "out";
  readonly protocol: "esp" | "ah";
  readonly mode: "tunnel" | "transport";
  readonly src: string;
  readonly dst: string;
  readonly encr: string;
  readonly integ: string;
  readonly esn: boolean;
  readonly encap: string;
  /** IPComp's CPI of this direction (4 hex digits), or "" without IPComp. */
  readonly ipcomp: string;
  readonly localTs: string[];
  readonly remoteTs: string[];
  readonly installedAt: number;
  /** When the soft lifetime triggers a rekey (ms since epoch; 0 = never). */
  readonly rekeyAt: number;
  /** When the hard lifetime expires (ms since epoch; 0 = never). */
  readonly expiresAt: number;
  readonly connectionName: string;
  readonly childName: string;
  readonly childSaId: number;
  readonly ikeSaId: number;
}

/** A child SA (both directions). */
export interface ChildView {
  readonly childSaId: number;
  readonly name: string;
  state: "installing" | "installed";
  inbound?: SaView;
  outbound?: SaView;
}

/** An IKE SA and its children. */
export interface IkeView {
  readonly ikeSaId: number;
  readonly connectionName: string;
  state: "established" | "unknown";
  since: number;
  readonly children: Map<number, ChildView>;
}

/** Prints a traffic selector compactly: `10.1.0.0/16`, `192.0.2.1[tcp/80]`. */
export function formatTrafficSelector(t: TrafficSelector): string {
  const a = ipFromBytes(t.startAddress);
  const b = ipFromBytes(t.endAddress);
  const range: AddressSelector = a.version === 4 && b.version === 4
    ? { kind: "range", version: 4, start: a.value, end: b.value }
    : a.version === 6 && b.version === 6
    ? { kind: "range", version: 6, start: a.value, end: b.value }
    : { kind: "opaque" };
  const addr = formatAddressSelector(range);
  const allPorts = t.startPort === 0 && t.endPort === 65535;
  if (t.ipProtocol === 0 && allPorts) return addr;
  const proto = protocolName(t.ipProtocol).toLowerCase();
  const ports = allPorts
    ? ""
    : t.startPort === t.endPort
    ? `/${t.startPort}`
    : `/${t.startPort}-${t.endPort}`;
  return `${addr}[${proto}${ports}]`;
}

/** Formats an SPI like `ip xfrm` and swanctl: 8 hex digits. */
export function formatSpi(spi: number): string {
  return (spi >>> 0).toString(16).padStart(8, "0");
}

function saView(sa: SaInstall, now: number): SaView {
  const encr = sa.encr
    ? transformName(TransformType.ENCR, sa.encr.id) +
      (sa.encr.keyLengthBits ? `/${sa.encr.keyLengthBits}` : "")
    : "";
  const integ = sa.integ
    ? sa.sha256Icv96 ? "HMAC_SHA2_256_96" : transformName(TransformType.INTEG, sa.integ.id)
    : "";
  const at = (s: number) => s > 0 ? now + s * 1000 : 0;
  return {
    spi: sa.spi,
    direction: sa.direction,
    protocol: sa.protocol,
    mode: sa.mode,
    src: sa.src,
    dst: sa.dst,
    encr,
    integ,
    esn: sa.esn,
    encap: sa.encap ? `udp ${sa.encap.srcPort}->${sa.encap.dstPort}` : "",
    ipcomp: sa.ipcompCpi ? sa.ipcompCpi.toString(16).padStart(4, "0") : "",
    localTs: sa.localTs.map(formatTrafficSelector),
    remoteTs: sa.remoteTs.map(formatTrafficSelector),
    installedAt: now,
    rekeyAt: at(sa.lifetimes.softSeconds),
    expiresAt: at(sa.lifetimes.hardSeconds),
    connectionName: sa.connectionName,
    childName: sa.childName,
    childSaId: sa.childSaId,
    ikeSaId: sa.ikeSaId,
  };
}

/**
 * Live IKE and child SAs.
 *
 * @example
 * ```ts
 * const s = new SaState();
 * s.apply({ kind: "event", event: { type: "ike-up", ikeSaId: 1, connectionName: "site" } }, 0);
 * s.ikeSas().length; // 1
 * ```
 */
export class SaState {
  #ike = new Map<number, IkeView>();

  #ikeSa(id: number, connectionName: string, now: number): IkeView {
    let v = this.#ike.get(id);
    if (!v) {
      v = { ikeSaId: id, connectionName, state: "unknown", since: now, children: new Map() };
      this.#ike.set(id, v);
    }
    return v;
  }

  /** Updates the view from one effect (other kinds are ignored). */
  apply(e: Effect, now: number): void {
    if (e.kind === "installSa") {
      const sa = e.sa;
      const ike = this.#ikeSa(sa.ikeSaId, sa.connectionName, now);
      let c = ike.children.get(sa.childSaId);
      if (!c) {
        c = { childSaId: sa.childSaId, name: sa.childName, state: "installing" };
        ike.children.set(sa.childSaId, c);
      }
      if (sa.direction === "in") c.inbound = saView(sa, now);
      else c.outbound = saView(sa, now);
    } else if (e.kind === "removeSa") {
      const c = this.#ike.get(e.ikeSaId)?.children.get(e.childSaId);
      if (!c) return;
      if (e.direction === "in" && c.inbound?.spi === e.spi) c.inbound = undefined;
      if (e.direction === "out" && c.outbound?.spi === e.spi) c.outbound = undefined;
      if (!c.inbound && !c.outbound) this.#ike.get(e.ikeSaId)?.children.delete(e.childSaId);
    } else if (e.kind === "updateSa") {
      const c = this.#ike.get(e.ikeSaId)?.children.get(e.childSaId);
      const key = e.direction === "in" ? "inbound" : "outbound";
      const v = c?.[key];
      if (!c || !v || v.spi !== e.spi) return;
      const encap = e.encap ? `udp ${e.encap.srcPort}->${e.encap.dstPort}` : "";
      c[key] = { ...v, src: e.src, dst: e.dst, encap };
    } else if (e.kind === "event") {
      this.#event(e.event, now);
    }
  }

  #event(ev: EngineEvent, now: number): void {
    switch (ev.type) {
      case "ike-up": {
        const v = this.#ikeSa(ev.ikeSaId, ev.connectionName, now);
        v.state = "established";
        v.since = now;
        break;
      }
      case "ike-down":
      case "ike-failed":
        this.#ike.delete(ev.ikeSaId);
        break;
      case "child-up": {
        const c = this.#ike.get(ev.ikeSaId)?.children.get(ev.childSaId);
        if (c) c.state = "installed";
        break;
      }
      case "child-down":
        this.#ike.get(ev.ikeSaId)?.children.delete(ev.childSaId);
        break;
      case "child-failed":
        break;
      case "ike-rekeyed": {
        // The new IKE SA takes over the old one's children.
        const old = this.#ike.get(ev.oldIkeSaId);
        this.#ike.delete(ev.oldIkeSaId);
        const v = this.#ikeSa(ev.ikeSaId, ev.connectionName, now);
        v.state = "established";
        v.since = now;
        for (const [id, c] of old?.children ?? []) v.children.set(id, c);
        break;
      }
    }
  }

  /** The connection an IKE SA belongs to, if known. */
  connectionOf(ikeSaId: number): string | undefined {
    return this.#ike.get(ikeSaId)?.connectionName;
  }

  /** All IKE SAs, ordered by id. */
  ikeSas(): IkeView[] {
    return [...this.#ike.values()].sort((a, b) => a.ikeSaId - b.ikeSaId);
  }

  /** Every installed SA direction (the SAD as this daemon installed it). */
  sas(): SaView[] {
    const out: SaView[] = [];
    for (const ike of this.ikeSas()) {
      for (const c of ike.children.values()) {
        if (c.inbound) out.push(c.inbound);
        if (c.outbound) out.push(c.outbound);
      }
    }
    return out;
  }

  /** Forgets everything (after shutdown). */
  clear(): void {
    this.#ike.clear();
  }
}
