/**
 * Configuration payload (RFC 7296 sections 2.19, 3.15) for virtual IPs:
 * the initiator asks for an IPv4 and/or an IPv6 address and DNS servers in
 * IKE_AUTH, the responder leases one per family from the connection's pools
 * (the same identity gets the same address back) and answers with
 * CFG_REPLY. Leases are released when the IKE SA goes.
 *
 * ```
 *   IKE_AUTH request  [ IDi ... CPRQ(ADDR DNS ADDR6 DNS6) SA TSi(0.0.0.0/0 ::/0) TSr ] -->
 *                 <-- [ IDr AUTH CPRP(ADDR DNS ADDR6/64 DNS6) SA TSi(vip/32 vip6/128) TSr ]
 *   no address of any requested family:
 *                 <-- [ IDr AUTH N(INT_ADDR_FAIL) ]  (no child SA)
 * ```
 *
 * As strongSwan's ike_config task does, a request for "any" address carries
 * an empty INTERNAL_IP*_ADDRESS value, and an IPv6 address on the wire
 * (request for a specific one, or reply) has prefix length 64; the prefix is
 * ignored on receipt (the address is installed as a host address).
 *
 * @example
 * ```ts
 * const pools = new AddressPools([{ name: "rw", range: "10.3.0.0/24", dns: ["10.3.0.1"] }]);
 * pools.lease("rw", "alice@example.org"); // "10.3.0.1"
 * ```
 *
 * @module
 */
import { formatIp, ipFromBytes, ipToBytes, parseIp } from "../../db/address.ts";
import { CfgAttributeType, CfgType, PayloadType } from "../constants.ts";
import {
  type CfgAttribute,
  type CpPayload,
  ip4SubnetValue,
  ip6PrefixValue,
} from "../payloads/cp.ts";
import { all, type Payload } from "./_msg.ts";

/** An IPv4 or IPv6 address pool (EngineConfig.pools). */
export interface PoolConfig {
  readonly name: string;
  /**
   * "10.3.0.0/24" (network and broadcast addresses skipped),
   * "2001:db8:ff::/112" (the subnet-router anycast address, the first,
   * skipped) or a range "10.3.0.10-10.3.0.20" / "2001:db8::10-2001:db8::20".
   */
  readonly range: string;
  /** DNS servers handed out with a lease (IPv4 and/or IPv6). */
  readonly dns?: readonly string[];
}

/** A pool as {@link AddressPools.describe} shows it. */
export interface PoolInfo {
  readonly name: string;
  /** As configured. */
  readonly range: string;
  /** The first address handed out. */
  readonly base: string;
  /** How many addresses it hands out. */
  readonly size: number;
  /** Leases held by an IKE SA now, and those kept for their owner while it is away. */
  readonly online: number;
  readonly offline: number;
  /** By address; `owner` is the identity the address is kept for. */
  readonly leases: readonly { address: string; owner: string; online: boolean }[];
}

interface Pool {
  readonly config: PoolConfig;
  readonly version: 4 | 6;
  readonly first: bigint;
  readonly last: bigint;
  /** address -> owner identity; owners keep their address while offline. */
  readonly owners: Map<bigint, string>;
  /** owner identity -> its addresses not in use (it gets one of them back first). */
  readonly offlineOf: Map<string, Set<bigint>>;
  /**
   * Addresses in use, with how many IKE SAs hold each: a road warrior that
   * reauthenticates make-before-break holds its address on both SAs.
   */
  readonly online: Map<bigint, number>;
  /**
   * Every address below it has an owner (addresses never lose theirs), so
   * the lowest free one is found from here: a lease costs the same with 10
   * or 10,000 clients online.
   */
  cursor: bigint;
}

/** Thrown for a pool range that does not parse. */
export class PoolError extends Error {
  override readonly name = "PoolError";
}

function parseRange(range: string): { version: 4 | 6; first: bigint; last: bigint } {
  const bad = () => new PoolError(`bad pool '${range}' (expected a prefix or a range a-b)`);
  const cidr = /^([\da-fA-F.:]+)\/(\d+)$/.exec(range.trim());
  if (cidr) {
    const base = parseIp(cidr[1]);
    const len = Number(cidr[2]);
    if (!base) throw bad();
    const bits = base.version === 4 ? 32 : 128;
    // IPv4: at least 2 usable hosts; IPv6: at least one besides the anycast address.
    if (len < 8 || len > (base.version === 4 ? 30 : 127)) throw bad();
    const host = (1n << BigInt(bits - len)) - 1n;
    const net = BigInt(base.value) & ~host;
    return {
      version: base.version,
      first: net + 1n,
      last: base.version === 4 ? (net | host) - 1n : net | host,
    };
  }
  const [a, b] = range.split("-").map((x) => parseIp(x));
  if (!a || !b || a.version !== b.version || BigInt(b.value) < BigInt(a.value)) throw bad();
  return { version: a.version, first: BigInt(a.value), last: BigInt(b.value) };
}

function format(version: 4 | 6, v: bigint): string {
  return version === 4 ? formatIp({ version, value: Number(v) }) : formatIp({ version, value: v });
}

/** The responder's address pools and leases. */
export class AddressPools {
  #pools = new Map<string, Pool>();

  constructor(pools: readonly PoolConfig[] = []) {
    for (const c of pools) {
      const r = parseRange(c.range);
      this.#pools.set(c.name, {
        config: c,
        ...r,
        owners: new Map(),
        offlineOf: new Map(),
        online: new Map(),
        cursor: r.first,
      });
    }
  }

  /** The address family of pool `name` (undefined for an unknown pool). */
  family(name: string): 4 | 6 | undefined {
    return this.#pools.get(name)?.version;
  }

  /**
   * Leases an address of pool `name` to `owner`; undefined when exhausted or
   * unknown. `requested` (an address the peer asked for, e.g. the one it
   * holds while it reauthenticates) is given when `owner` owns it, even
   * while another IKE SA of the owner still holds it (as strongSwan's pools
   * reassign an online lease); then both hold it until both release it.
   */
  lease(name: string, owner: string, requested?: string): string | undefined {
    const p = this.#pools.get(name);
    if (!p) return undefined;
    const take = (a: bigint) => {
      const before = p.owners.get(a);
      if (before !== undefined) {
        const off = p.offlineOf.get(before);
        off?.delete(a);
        if (off?.size === 0) p.offlineOf.delete(before);
      }
      p.owners.set(a, owner);
      p.online.set(a, (p.online.get(a) ?? 0) + 1);
      return format(p.version, a);
    };
    const want = requested === undefined ? undefined : parseIp(requested);
    if (want?.version === p.version && p.owners.get(BigInt(want.value)) === owner) {
      return take(BigInt(want.value));
    }
    // The owner's own address back first (the same identity keeps its IP).
    const mine = p.offlineOf.get(owner);
    if (mine) return take(mine.values().next().value!);
    while (p.cursor <= p.last && p.owners.has(p.cursor)) p.cursor++;
    if (p.cursor <= p.last) return take(p.cursor);
    // Exhausted: reuse an offline address of someone else.
    for (const [a] of p.owners) {
      if (!p.online.has(a)) return take(a);
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
      if (old && old.version === p.version && old.first === p.first && old.last === p.last) {
        next.#pools.set(name, { ...old, config: p.config });
      }
    }
    return next;
  }

  /** Releases a lease (the address stays reserved for its owner while free). */
  release(name: string, address: string): void {
    const p = this.#pools.get(name);
    const a = parseIp(address);
    if (!p || a?.version !== p.version) return;
    const v = BigInt(a.value);
    const holders = p.online.get(v);
    if (holders === undefined) return;
    if (holders > 1) {
      p.online.set(v, holders - 1);
      return;
    }
    p.online.delete(v);
    const owner = p.owners.get(v)!;
    const off = p.offlineOf.get(owner);
    if (off) off.add(v);
    else p.offlineOf.set(owner, new Set([v]));
  }

  /** DNS servers of pool `name`. */
  dns(name: string): readonly string[] {
    return this.#pools.get(name)?.config.dns ?? [];
  }

  /** Every pool with its size and leases, as `swanctl --list-pools --leases` shows them. */
  describe(): PoolInfo[] {
    return [...this.#pools.values()].map((p) => {
      const leases = [...p.owners].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map((
        [a, owner],
      ) => ({ address: format(p.version, a), owner, online: p.online.has(a) }));
      const online = leases.filter((l) => l.online).length;
      return {
        name: p.config.name,
        range: p.config.range,
        base: format(p.version, p.first),
        size: Number(p.last - p.first + 1n),
        online,
        offline: leases.length - online,
        leases,
      };
    });
  }

  /** Addresses in use in pool `name` (for status output and tests). */
  inUse(name: string): string[] {
    const p = this.#pools.get(name);
    return p ? [...p.online.keys()].map((a) => format(p.version, a)) : [];
  }
}

const A = CfgAttributeType;

/** Prefix length we put on IPv6 addresses, as strongSwan does. */
const IP6_PREFIX = 64;

/** The family a `vips` entry asks for ("0.0.0.0"/"%any": any IPv4, "::"/"%any6": any IPv6). */
export function vipFamily(want: string): 4 | 6 | undefined {
  if (want === "%any") return 4;
  if (want === "%any6") return 6;
  return parseIp(want)?.version;
}

function addressAttribute(address: string): CfgAttribute {
  const ip = parseIp(address);
  if (!ip) throw new RangeError(`'${address}' is not an IP address`);
  const any = BigInt(ip.value) === 0n;
  if (ip.version === 4) {
    return { type: A.INTERNAL_IP4_ADDRESS, value: any ? new Uint8Array(0) : ipToBytes(ip) };
  }
  return {
    type: A.INTERNAL_IP6_ADDRESS,
    value: any ? new Uint8Array(0) : ip6PrefixValue(ipToBytes(ip), IP6_PREFIX),
  };
}

/**
 * Initiator: CFG_REQUEST for one address per `vips` entry (a specific one
 * or any of its family) and the DNS servers of each requested family.
 */
export function buildCpRequest(wants: string | readonly string[]): CpPayload {
  const list = (typeof wants === "string" ? [wants] : wants).map((w) =>
    w === "%any" ? "0.0.0.0" : w === "%any6" ? "::" : w
  );
  const families = new Set(list.map(vipFamily));
  return {
    type: PayloadType.CP,
    cfgType: CfgType.CFG_REQUEST,
    attributes: [
      ...list.map(addressAttribute),
      ...(families.has(4) ? [{ type: A.INTERNAL_IP4_DNS, value: new Uint8Array(0) }] : []),
      ...(families.has(6) ? [{ type: A.INTERNAL_IP6_DNS, value: new Uint8Array(0) }] : []),
    ],
  };
}

/** The address families a message's CFG_REQUEST asks addresses for (each once, IPv4 first). */
export function requestedVipFamilies(payloads: readonly Payload[]): (4 | 6)[] {
  const types = new Set(
    all({ payloads }, PayloadType.CP).filter((p) => p.cfgType === CfgType.CFG_REQUEST)
      .flatMap((p) => p.attributes.map((a) => a.type)),
  );
  return [
    ...(types.has(A.INTERNAL_IP4_ADDRESS) ? [4 as const] : []),
    ...(types.has(A.INTERNAL_IP6_ADDRESS) ? [6 as const] : []),
  ];
}

/**
 * The specific address a message's CFG_REQUEST asks for in `family`
 * (INTERNAL_IP4_ADDRESS / INTERNAL_IP6_ADDRESS with a value that is not all
 * zeros); undefined when it asks for any address or none.
 */
export function requestedVipAddress(
  payloads: readonly Payload[],
  family: 4 | 6,
): string | undefined {
  const type = family === 4 ? A.INTERNAL_IP4_ADDRESS : A.INTERNAL_IP6_ADDRESS;
  const len = family === 4 ? 4 : 16;
  for (const p of all({ payloads }, PayloadType.CP)) {
    if (p.cfgType !== CfgType.CFG_REQUEST) continue;
    for (const a of p.attributes) {
      if (a.type !== type || a.value.length < len) continue;
      const bytes = a.value.subarray(0, len);
      if (bytes.every((b) => b === 0)) continue;
      return formatIp(ipFromBytes(bytes));
    }
  }
  return undefined;
}

/**
 * Whether a CFG_REQUEST asks which subnets the responder protects
 * (INTERNAL_IP4_SUBNET / INTERNAL_IP6_SUBNET, RFC 7296 section 3.15.2).
 */
export function wantsSubnets(payloads: readonly Payload[]): boolean {
  return all({ payloads }, PayloadType.CP).some((p) =>
    p.cfgType === CfgType.CFG_REQUEST &&
    p.attributes.some((a) => a.type === A.INTERNAL_IP4_SUBNET || a.type === A.INTERNAL_IP6_SUBNET)
  );
}

/**
 * INTERNAL_IP4_SUBNET (address + netmask) and INTERNAL_IP6_SUBNET (address +
 * prefix) attributes for the prefixes among `specs` (traffic selector
 * texts: "10.1.0.0/16", "2001:db8::/48", a single address); ranges, ports,
 * protocols and "dynamic" are not subnets and are left out.
 */
export function subnetAttributes(specs: readonly string[]): CfgAttribute[] {
  const out: CfgAttribute[] = [];
  for (const spec of specs) {
    const m = /^([0-9a-fA-F.:]+)(?:\/(\d{1,3}))?$/.exec(spec.trim());
    const ip = m ? parseIp(m[1]) : undefined;
    if (!m || !ip) continue;
    const bytes = ipToBytes(ip);
    const prefix = m[2] === undefined ? bytes.length * 8 : Number(m[2]);
    if (prefix > bytes.length * 8) continue;
    out.push(
      ip.version === 4
        ? { type: A.INTERNAL_IP4_SUBNET, value: ip4SubnetValue(bytes, prefix) }
        : { type: A.INTERNAL_IP6_SUBNET, value: ip6PrefixValue(bytes, prefix) },
    );
  }
  return out;
}

/** Whether a message carries a CFG_REQUEST for an IPv4 address. */
export function wantsIp4(payloads: readonly Payload[]): boolean {
  return requestedVipFamilies(payloads).includes(4);
}

/** Responder: CFG_REPLY with the leased addresses (one per family) and DNS servers. */
export function buildCpReply(
  addresses: string | readonly string[],
  dns: readonly string[],
  subnets: readonly CfgAttribute[] = [],
): CpPayload {
  const dnsAttr = (d: string): CfgAttribute[] => {
    const ip = parseIp(d);
    if (!ip) return [];
    return [{
      type: ip.version === 4 ? A.INTERNAL_IP4_DNS : A.INTERNAL_IP6_DNS,
      value: ipToBytes(ip),
    }];
  };
  return {
    type: PayloadType.CP,
    cfgType: CfgType.CFG_REPLY,
    attributes: [
      ...(typeof addresses === "string" ? [addresses] : addresses).map(addressAttribute),
      ...dns.flatMap(dnsAttr),
      ...subnets,
    ],
  };
}

/**
 * Initiator: the addresses (IPv4 first, then IPv6, the first of each
 * family) and DNS servers of a CFG_REPLY, if it assigns any address.
 * `address` is the first of `addresses`.
 */
export function readCpReply(
  payloads: readonly Payload[],
): { address: string; addresses: string[]; dns: string[]; subnets: string[] } | undefined {
  const cp = all({ payloads }, PayloadType.CP).find((p) => p.cfgType === CfgType.CFG_REPLY);
  if (!cp) return undefined;
  const fmt = (v: Uint8Array) => formatIp(ipFromBytes(v));
  const of = (type: number, len: number) =>
    cp.attributes.filter((a) => a.type === type && a.value.length === len);
  const v4 = of(A.INTERNAL_IP4_ADDRESS, 4)[0];
  const v6 = of(A.INTERNAL_IP6_ADDRESS, 17)[0];
  const addresses = [
    ...(v4 ? [fmt(v4.value)] : []),
    ...(v6 ? [fmt(v6.value.subarray(0, 16))] : []),
  ];
  if (addresses.length === 0) return undefined;
  const dns = [...of(A.INTERNAL_IP4_DNS, 4), ...of(A.INTERNAL_IP6_DNS, 16)];
  const maskBits = (v: Uint8Array) =>
    [...v.subarray(4, 8)].reduce((n, b) => n + b.toString(2).replaceAll("0", "").length, 0);
  const subnets = [
    ...of(A.INTERNAL_IP4_SUBNET, 8).map((a) =>
      `${fmt(a.value.subarray(0, 4))}/${maskBits(a.value)}`
    ),
    ...of(A.INTERNAL_IP6_SUBNET, 17).map((a) => `${fmt(a.value.subarray(0, 16))}/${a.value[16]}`),
  ];
  return { address: addresses[0], addresses, dns: dns.map((a) => fmt(a.value)), subnets };
}
