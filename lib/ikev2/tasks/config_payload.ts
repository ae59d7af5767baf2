/**
 * Configuration payload (RFC 7296 sections 2.19, 3.15) for virtual IPs:
 * the initiator asks for an IPv4 address and DNS servers in IKE_AUTH, the
 * responder leases one from a pool (the same identity gets the same address
 * back) and answers with CFG_REPLY. Leases are released when the IKE SA goes.
 *
 * ```
 *   IKE_AUTH request  [ IDi ... CPRQ(ADDR DNS) SA TSi(0.0.0.0/0) TSr ] -->
 *                 <-- [ IDr AUTH CPRP(ADDR DNS) SA TSi(vip/32) TSr ]
 *   pool empty:   <-- [ IDr AUTH N(INT_ADDR_FAIL) ]  (no child SA)
 * ```
 *
 * @example
 * ```ts
 * const pools = new AddressPools([{ name: "rw", range: "10.3.0.0/24", dns: ["10.3.0.1"] }]);
 * pools.lease("rw", "alice@example.org"); // "10.3.0.1"
 * ```
 *
 * @module
 */
import { formatIpv4, parseIpv4 } from "../../db/address.ts";
import { CfgAttributeType, CfgType, PayloadType } from "../constants.ts";
import type { CpPayload } from "../payloads/cp.ts";
import { all, type Payload } from "./_msg.ts";

/** An IPv4 address pool (EngineConfig.pools). */
export interface PoolConfig {
  readonly name: string;
  /** "10.3.0.0/24" (network and broadcast addresses skipped) or "10.3.0.10-10.3.0.20". */
  readonly range: string;
  /** DNS servers handed out with a lease. */
  readonly dns?: readonly string[];
}

interface Pool {
  readonly config: PoolConfig;
  readonly first: number;
  readonly last: number;
  /** address -> owner identity; owners keep their address while offline. */
  readonly owners: Map<number, string>;
  /** addresses in use. */
  readonly online: Set<number>;
}

/** Thrown for a pool range that does not parse. */
export class PoolError extends Error {
  override readonly name = "PoolError";
}

function parseRange(range: string): [number, number] {
  const cidr = /^([\d.]+)\/(\d+)$/.exec(range.trim());
  if (cidr) {
    const base = parseIpv4(cidr[1]);
    const len = Number(cidr[2]);
    if (base === undefined || len < 8 || len > 30) throw new PoolError(`bad pool '${range}'`);
    const mask = (0xffffffff << (32 - len)) >>> 0;
    const net = (base & mask) >>> 0;
    return [net + 1, ((net | ~mask) >>> 0) - 1];
  }
  const [a, b] = range.split("-").map((x) => parseIpv4(x.trim()));
  if (a === undefined || b === undefined || b < a) throw new PoolError(`bad pool '${range}'`);
  return [a, b];
}

/** The responder's address pools and leases. */
export class AddressPools {
  #pools = new Map<string, Pool>();

  constructor(pools: readonly PoolConfig[] = []) {
    for (const c of pools) {
      const [first, last] = parseRange(c.range);
      this.#pools.set(c.name, { config: c, first, last, owners: new Map(), online: new Set() });
    }
  }

  /** Leases an address of pool `name` to `owner`; undefined when exhausted or unknown. */
  lease(name: string, owner: string): string | undefined {
    const p = this.#pools.get(name);
    if (!p) return undefined;
    for (const [a, o] of p.owners) {
      if (o === owner && !p.online.has(a)) {
        p.online.add(a);
        return formatIpv4(a);
      }
    }
    for (let a = p.first; a <= p.last; a++) {
      if (!p.owners.has(a)) {
        p.owners.set(a, owner);
        p.online.add(a);
        return formatIpv4(a);
      }
    }
    // Reuse an offline address of someone else.
    for (const [a] of p.owners) {
      if (!p.online.has(a)) {
        p.owners.set(a, owner);
        p.online.add(a);
        return formatIpv4(a);
      }
    }
    return undefined;
  }

  /**
   * The pools of a new configuration (reload): a pool with the same name and
   * range keeps its leases (its DNS servers follow the new configuration);
   * others start empty.
   */
  reconfigure(pools: readonly PoolConfig[]): AddressPools {
    const next = new AddressPools(pools);
    for (const [name, p] of next.#pools) {
      const old = this.#pools.get(name);
      if (old && old.first === p.first && old.last === p.last) {
        next.#pools.set(name, { ...old, config: p.config });
      }
    }
    return next;
  }

  /** Releases a lease (the address stays reserved for its owner while free). */
  release(name: string, address: string): void {
    const a = parseIpv4(address);
    if (a !== undefined) this.#pools.get(name)?.online.delete(a);
  }

  /** DNS servers of pool `name`. */
  dns(name: string): readonly string[] {
    return this.#pools.get(name)?.config.dns ?? [];
  }

  /** Addresses in use in pool `name` (for status output and tests). */
  inUse(name: string): string[] {
    return [...(this.#pools.get(name)?.online ?? [])].map(formatIpv4);
  }
}

const A = CfgAttributeType;

function ip4(s: string): Uint8Array {
  const v = parseIpv4(s) ?? 0;
  return new Uint8Array([v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255]);
}

/** Initiator: CFG_REQUEST for an IPv4 address (`want`, or any) and DNS servers. */
export function buildCpRequest(want: string): CpPayload {
  const any = want === "0.0.0.0" || want === "%any";
  return {
    type: PayloadType.CP,
    cfgType: CfgType.CFG_REQUEST,
    attributes: [
      { type: A.INTERNAL_IP4_ADDRESS, value: any ? new Uint8Array(0) : ip4(want) },
      { type: A.INTERNAL_IP4_DNS, value: new Uint8Array(0) },
    ],
  };
}

/** Whether a message carries a CFG_REQUEST for an IPv4 address. */
export function wantsIp4(payloads: readonly Payload[]): boolean {
  return all({ payloads }, PayloadType.CP).some((p) =>
    p.cfgType === CfgType.CFG_REQUEST &&
    p.attributes.some((a) => a.type === A.INTERNAL_IP4_ADDRESS)
  );
}

/** Responder: CFG_REPLY with the leased address and DNS servers. */
export function buildCpReply(address: string, dns: readonly string[]): CpPayload {
  return {
    type: PayloadType.CP,
    cfgType: CfgType.CFG_REPLY,
    attributes: [
      { type: A.INTERNAL_IP4_ADDRESS, value: ip4(address) },
      ...dns.map((d) => ({ type: A.INTERNAL_IP4_DNS, value: ip4(d) })),
    ],
  };
}

/** Initiator: the address and DNS servers of a CFG_REPLY, if any. */
export function readCpReply(
  payloads: readonly Payload[],
): { address: string; dns: string[] } | undefined {
  const cp = all({ payloads }, PayloadType.CP).find((p) => p.cfgType === CfgType.CFG_REPLY);
  const fmt = (v: Uint8Array) => formatIpv4(new DataView(v.buffer, v.byteOffset, 4).getUint32(0));
  const addr = cp?.attributes.find((a) =>
    a.type === A.INTERNAL_IP4_ADDRESS && a.value.length === 4
  );
  if (!cp || !addr) return undefined;
  const dns = cp.attributes.filter((a) => a.type === A.INTERNAL_IP4_DNS && a.value.length === 4);
  return { address: fmt(addr.value), dns: dns.map((a) => fmt(a.value)) };
}
