/**
 * rtnetlink (NETLINK_ROUTE) over a raw AF_NETLINK socket, no `ip` binary:
 * add/delete addresses, routes (in any table, e.g. a dedicated one for the
 * TUN), policy-routing rules (fwmark), link up/down and MTU. Every request
 * asks for an ACK, and a negative ACK becomes a {@linkcode NetlinkError}
 * with the errno name and the request in words.
 *
 * ```
 *  nlmsghdr (16)                 payload (aligned to 4)       attributes
 * +-----+------+-------+-----+---+--------------------------+--------------+
 * | len | type | flags | seq |pid| ifaddrmsg/rtmsg/fib_rule | rtattr ...   |
 * +-----+------+-------+-----+---+--------------------------+--------------+
 * ```
 *
 * @example
 * ```ts
 * const nl = Netlink.open();
 * try {
 *   const idx = nl.linkIndex("ipsec0");
 *   nl.addAddress(idx, ip("10.9.0.1"), 32);
 *   nl.addRoute({ dst: ip("10.8.0.0"), prefixLength: 16, ifindex: idx, table: 220 });
 *   nl.addRule({ family: 4, table: 220, fwmark: 0x100, invert: true, priority: 220 });
 * } finally {
 *   nl.close();
 * }
 * ```
 *
 * @module
 */

import { closeFd, ERRNO_NAMES, ifNameToIndex, libc, LibcError } from "./libc.ts";
import { formatSockaddr } from "./socket.ts";

const AF_NETLINK = 16;
const NETLINK_ROUTE = 0;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0x80000;

const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_REPLACE = 0x100;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;

const RTM_NEWLINK = 16;
const RTM_NEWADDR = 20;
const RTM_DELADDR = 21;
const RTM_NEWROUTE = 24;
const RTM_DELROUTE = 25;
const RTM_NEWRULE = 32;
const RTM_DELRULE = 33;

const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_FLAGS = 8;
const IFA_F_NODAD = 0x02;

const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_PRIORITY = 6;
const RTA_PREFSRC = 7;
const RTA_TABLE = 15;

const FRA_PRIORITY = 6;
const FRA_FWMARK = 10;
const FRA_TABLE = 15;
const FRA_FWMASK = 16;
const FR_ACT_TO_TBL = 1;
const FIB_RULE_INVERT = 0x2;

const IFLA_MTU = 4;
const IFLA_TXQLEN = 13;
const IFF_UP = 0x1;

const RTN_UNICAST = 1;
const RT_SCOPE_UNIVERSE = 0;
const RT_SCOPE_LINK = 253;
/** Route protocol we stamp on our routes ("static", like `ip route add ... proto static`). */
export const RTPROT_STATIC = 4;

/** A netlink request the kernel refused. */
export class NetlinkError extends Error {
  override readonly name = "NetlinkError";
  readonly errno: number;
  readonly code: string;
  constructor(what: string, errnoValue: number) {
    const code = ERRNO_NAMES[errnoValue] ?? `E${errnoValue}`;
    super(`netlink ${what} failed: ${code}${hintFor(errnoValue)}`);
    this.errno = errnoValue;
    this.code = code;
  }
}

function hintFor(e: number): string {
  if (e === 17) return " (it already exists)";
  if (e === 99 || e === 3) return " (no such address/route)";
  if (e === 19) return " (no such interface)";
  if (e === 1) return " (needs root or CAP_NET_ADMIN)";
  if (e === 101) return " (gateway not reachable on that interface)";
  return "";
}

/** A route to add or delete. */
export interface RouteSpec {
  /** Destination network bytes (4 or 16). */
  dst: Uint8Array;
  prefixLength: number;
  /** Output interface index. */
  ifindex?: number;
  /** Next hop (same family as dst). */
  gateway?: Uint8Array;
  /** Preferred source address (e.g. the virtual IP). */
  prefSrc?: Uint8Array;
  /** Routing table (default main, 254). Values above 255 are supported. */
  table?: number;
  /** Route metric. */
  metric?: number;
  /** Replace an existing route instead of failing with EEXIST. */
  replace?: boolean;
}

/** A policy-routing rule (`ip rule`). */
export interface RuleSpec {
  family: 4 | 6;
  /** Table to look up. */
  table: number;
  /** Rule priority (lower first). */
  priority: number;
  /** Match this fwmark (with `fwmask`, default 0xffffffff). */
  fwmark?: number;
  fwmask?: number;
  /** Negate the match: "not fwmark X lookup T". */
  invert?: boolean;
}

/** A NETLINK_ROUTE socket that sends one request at a time and waits for its ACK. */
export class Netlink {
  readonly #fd: number;
  #seq = 1;
  readonly #rx = new Uint8Array(65536);

  private constructor(fd: number) {
    this.#fd = fd;
  }

  /** Opens and binds a NETLINK_ROUTE socket (blocking, for control paths only). */
  static open(): Netlink {
    const fd = libc().socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) throw LibcError.last("socket(AF_NETLINK, NETLINK_ROUTE)");
    const sa = new Uint8Array(12);
    sa[0] = AF_NETLINK;
    if (libc().bind(fd, sa, 12) < 0) {
      const e = LibcError.last("bind(AF_NETLINK)");
      closeFd(fd);
      throw e;
    }
    return new Netlink(fd);
  }

  /** Closes the socket. */
  close(): void {
    closeFd(this.#fd);
  }

  /** Interface index by name (throws when missing). */
  linkIndex(name: string): number {
    return ifNameToIndex(name);
  }

  /** Sets a link up or down (and optionally its MTU and transmit queue length). */
  setLink(ifindex: number, o: { up?: boolean; mtu?: number; txQueueLength?: number }): void {
    const m = new NlBuilder(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK);
    // struct ifinfomsg: family u8, pad u8, type u16, index i32, flags u32, change u32
    const b = m.reserve(16);
    m.dv.setInt32(b + 4, ifindex, true);
    if (o.up !== undefined) {
      m.dv.setUint32(b + 8, o.up ? IFF_UP : 0, true);
      m.dv.setUint32(b + 12, IFF_UP, true);
    }
    if (o.mtu !== undefined) m.attrU32(IFLA_MTU, o.mtu);
    if (o.txQueueLength !== undefined) m.attrU32(IFLA_TXQLEN, o.txQueueLength);
    this.#request(m, `set link #${ifindex} ${o.up === false ? "down" : "up"}`);
  }

  /**
   * Adds an address with prefix length to an interface. `noDad` skips IPv6
   * duplicate address detection (the address is usable at once).
   */
  addAddress(ifindex: number, address: Uint8Array, prefixLength: number, noDad = false): void {
    this.#address(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, ifindex, address, prefixLength, noDad);
  }

  /** Removes an address from an interface. */
  deleteAddress(ifindex: number, address: Uint8Array, prefixLength: number): void {
    this.#address(RTM_DELADDR, 0, ifindex, address, prefixLength, false);
  }

  #address(
    type: number,
    flags: number,
    ifindex: number,
    address: Uint8Array,
    prefixLength: number,
    noDad: boolean,
  ): void {
    const fam = familyOf(address);
    checkPrefix(address, prefixLength);
    const m = new NlBuilder(type, NLM_F_REQUEST | NLM_F_ACK | flags);
    // struct ifaddrmsg: family, prefixlen, flags, scope (u8 each), index u32
    const b = m.reserve(8);
    m.u8[b] = fam;
    m.u8[b + 1] = prefixLength;
    m.u8[b + 2] = noDad ? IFA_F_NODAD : 0;
    m.dv.setUint32(b + 4, ifindex, true);
    m.attr(IFA_LOCAL, address);
    m.attr(IFA_ADDRESS, address);
    if (noDad) m.attrU32(IFA_FLAGS, IFA_F_NODAD);
    const verb = type === RTM_NEWADDR ? "add" : "delete";
    this.#request(m, `${verb} address ${fmt(address)}/${prefixLength} on #${ifindex}`);
  }

  /** Adds (or replaces) a route. */
  addRoute(r: RouteSpec): void {
    this.#route(RTM_NEWROUTE, NLM_F_CREATE | (r.replace ? NLM_F_REPLACE : NLM_F_EXCL), r);
  }

  /** Deletes a route (matching destination, prefix, table and, if given, interface). */
  deleteRoute(r: RouteSpec): void {
    this.#route(RTM_DELROUTE, 0, r);
  }

  #route(type: number, flags: number, r: RouteSpec): void {
    const fam = familyOf(r.dst);
    checkPrefix(r.dst, r.prefixLength);
    const table = r.table ?? 254;
    const m = new NlBuilder(type, NLM_F_REQUEST | NLM_F_ACK | flags);
    // struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type (u8), flags u32
    const b = m.reserve(12);
    m.u8[b] = fam;
    m.u8[b + 1] = r.prefixLength;
    m.u8[b + 4] = table < 256 ? table : 252; // RT_TABLE_COMPAT; real id in RTA_TABLE
    m.u8[b + 5] = RTPROT_STATIC;
    m.u8[b + 6] = r.gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
    m.u8[b + 7] = RTN_UNICAST;
    if (type === RTM_DELROUTE) {
      m.u8[b + 5] = 0;
      m.u8[b + 6] = 0;
    }
    if (fam === 10) m.u8[b + 6] = RT_SCOPE_UNIVERSE;
    m.attr(RTA_DST, r.dst);
    m.attrU32(RTA_TABLE, table);
    if (r.ifindex !== undefined) m.attrU32(RTA_OIF, r.ifindex);
    if (r.gateway) m.attr(RTA_GATEWAY, r.gateway);
    if (r.prefSrc) m.attr(RTA_PREFSRC, r.prefSrc);
    if (r.metric !== undefined) m.attrU32(RTA_PRIORITY, r.metric);
    const verb = type === RTM_NEWROUTE ? "add" : "delete";
    this.#request(m, `${verb} route ${fmt(r.dst)}/${r.prefixLength} table ${table}`);
  }

  /** Adds a policy-routing rule. */
  addRule(r: RuleSpec): void {
    this.#rule(RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, r);
  }

  /** Deletes a policy-routing rule (same fields as when added). */
  deleteRule(r: RuleSpec): void {
    this.#rule(RTM_DELRULE, 0, r);
  }

  #rule(type: number, flags: number, r: RuleSpec): void {
    const m = new NlBuilder(type, NLM_F_REQUEST | NLM_F_ACK | flags);
    // struct fib_rule_hdr: family, dst_len, src_len, tos, table, res1, res2, action (u8), flags u32
    const b = m.reserve(12);
    m.u8[b] = r.family === 4 ? 2 : 10;
    m.u8[b + 4] = r.table < 256 ? r.table : 0;
    m.u8[b + 7] = FR_ACT_TO_TBL;
    m.dv.setUint32(b + 8, r.invert ? FIB_RULE_INVERT : 0, true);
    m.attrU32(FRA_PRIORITY, r.priority);
    m.attrU32(FRA_TABLE, r.table);
    if (r.fwmark !== undefined) {
      m.attrU32(FRA_FWMARK, r.fwmark);
      m.attrU32(FRA_FWMASK, r.fwmask ?? 0xffffffff);
    }
    const what = `${type === RTM_NEWRULE ? "add" : "delete"} rule ${r.priority}: ${
      r.invert ? "not " : ""
    }fwmark 0x${(r.fwmark ?? 0).toString(16)} lookup ${r.table}`;
    this.#request(m, what);
  }

  #request(m: NlBuilder, what: string): void {
    const seq = this.#seq++;
    const msg = m.finish(seq);
    const sa = new Uint8Array(12);
    sa[0] = AF_NETLINK;
    const n = Number(libc().sendto(this.#fd, msg, BigInt(msg.length), 0, sa, 12));
    if (n !== msg.length) throw LibcError.last(`netlink send (${what})`);
    for (;;) {
      const r = Number(libc().recv(this.#fd, this.#rx, BigInt(this.#rx.length), 0));
      if (r < 0) throw LibcError.last(`netlink recv (${what})`);
      const dv = new DataView(this.#rx.buffer, 0, r);
      let off = 0;
      while (off + 16 <= r) {
        const len = dv.getUint32(off, true);
        const t = dv.getUint16(off + 4, true);
        const s = dv.getUint32(off + 8, true);
        if (len < 16) break;
        if (s === seq && t === NLMSG_ERROR) {
          const err = -dv.getInt32(off + 16, true);
          if (err !== 0) throw new NetlinkError(what, err);
          return;
        }
        if (s === seq && t === NLMSG_DONE) return;
        off += (len + 3) & ~3;
      }
    }
  }
}

/** Builds one netlink message in a growable buffer. */
class NlBuilder {
  u8 = new Uint8Array(512);
  dv = new DataView(this.u8.buffer);
  len = 16;
  constructor(readonly type: number, readonly flags: number) {}

  reserve(n: number): number {
    const at = this.len;
    this.len += (n + 3) & ~3;
    return at;
  }

  attr(type: number, data: Uint8Array): void {
    const l = 4 + data.length;
    const at = this.reserve(l);
    this.dv.setUint16(at, l, true);
    this.dv.setUint16(at + 2, type, true);
    this.u8.set(data, at + 4);
  }

  attrU32(type: number, v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    this.attr(type, b);
  }

  finish(seq: number): Uint8Array<ArrayBuffer> {
    this.dv.setUint32(0, this.len, true);
    this.dv.setUint16(4, this.type, true);
    this.dv.setUint16(6, this.flags, true);
    this.dv.setUint32(8, seq, true);
    this.dv.setUint32(12, 0, true);
    return this.u8.subarray(0, this.len);
  }
}

function familyOf(a: Uint8Array): number {
  if (a.length === 4) return 2;
  if (a.length === 16) return 10;
  throw new RangeError(`an IP address has 4 or 16 bytes, got ${a.length}`);
}

function checkPrefix(a: Uint8Array, p: number): void {
  if (!Number.isInteger(p) || p < 0 || p > a.length * 8) {
    throw new RangeError(`prefix length must be 0..${a.length * 8}, got ${p}`);
  }
}

function fmt(a: Uint8Array): string {
  const s = formatSockaddr(a, 0);
  return a.length === 4 ? s.slice(0, -2) : s.slice(1, -3);
}
