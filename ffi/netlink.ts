/**
 * rtnetlink (NETLINK_ROUTE) over a raw AF_NETLINK socket, no `ip` binary:
 * add/delete addresses, routes (in any table, e.g. a dedicated one for the
 * TUN), policy-routing rules (`ip rule`: fwmark, from/to prefixes, iif/oif,
 * ipproto, port ranges; actions lookup, goto, nop, blackhole, unreachable,
 * prohibit), link up/down and MTU. Every request
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
 *   nl.addRule({ family: 4, priority: 100, action: "blackhole", ipProto: 6, dport: [22, 22],
 *     from: { address: ip("10.2.0.0"), prefixLength: 16 } });
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
const RTM_GETROUTE = 26;
const NLM_F_DUMP = 0x300;
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

// include/uapi/linux/fib_rules.h
const FRA_DST = 1;
const FRA_SRC = 2;
const FRA_IIFNAME = 3;
const FRA_GOTO = 4;
const FRA_PRIORITY = 6;
const FRA_FWMARK = 10;
const FRA_TABLE = 15;
const FRA_FWMASK = 16;
const FRA_OIFNAME = 17;
const FRA_IP_PROTO = 22;
const FRA_SPORT_RANGE = 23;
const FRA_DPORT_RANGE = 24;
const FIB_RULE_INVERT = 0x2;
const IFNAMSIZ = 16;

/** FR_ACT_* of a rule, by the name `ip rule` prints. */
const FR_ACT: Record<RuleAction, number> = {
  lookup: 1,
  goto: 2,
  nop: 3,
  blackhole: 6,
  unreachable: 7,
  prohibit: 8,
};

const IFLA_MTU = 4;
const IFLA_TXQLEN = 13;
const IFF_UP = 0x1;

const RTN_UNICAST = 1;
const RTN_BLACKHOLE = 6;
const RT_SCOPE_UNIVERSE = 0;
const RT_SCOPE_NOWHERE = 255;
const RT_SCOPE_LINK = 253;
/** Route protocol we stamp on our routes ("static", like `ip route add ... proto static`). */
export const RTPROT_STATIC = 4;

/** A netlink request the kernel refused. */
export class NetlinkError extends Error {
  override readonly name = "NetlinkError";
  /** The kernel's errno (positive). */
  readonly errno: number;
  /** Its name ("EEXIST"). */
  readonly code: string;
  /** `what` names the request in words ("add rule 100: ..."). */
  constructor(what: string, errnoValue: number) {
    const code = ERRNO_NAMES[errnoValue] ?? `E${errnoValue}`;
    super(`netlink ${what} failed: ${code}${hintFor(errnoValue)}`);
    this.errno = errnoValue;
    this.code = code;
  }
}

function hintFor(e: number): string {
  if (e === 17) return " (it already exists)";
  if (e === 2) return " (no such rule)";
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
  /** Destination prefix length in bits. */
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
  /**
   * `blackhole`: packets to `dst` are dropped silently (no interface; such a
   * route survives its table's other routes being flushed with their device).
   * Default `unicast`.
   */
  kind?: "unicast" | "blackhole";
}

/**
 * What a matching rule does (FR_ACT_*): `lookup` a table (the default),
 * `goto` the rule at priority {@linkcode RuleSpec.goto}, `nop` (go on with
 * the next rule), or end the lookup with an error route: `blackhole`
 * (silent drop), `unreachable` or `prohibit` (ICMP error to forwarded
 * packets' senders).
 */
export type RuleAction = "lookup" | "goto" | "nop" | "blackhole" | "unreachable" | "prohibit";

/** An address prefix a rule matches (`from`/`to`). */
export interface RulePrefix {
  /** Network bytes (4 or 16, the rule's family); host bits must be zero. */
  address: Uint8Array;
  /** Prefix length in bits. */
  prefixLength: number;
}

/** A policy-routing rule (`ip rule`). Unset selectors match everything. */
export interface RuleSpec {
  /** IP family of the rule (IPv4 and IPv6 rules are separate lists). */
  family: 4 | 6;
  /** Rule priority (lower first; rules of equal priority keep their insertion order). */
  priority: number;
  /** Default "lookup" (which needs `table`). */
  action?: RuleAction;
  /** Table to look up (action "lookup"). */
  table?: number;
  /** Priority of the rule to continue at (action "goto"; must be higher than `priority`). */
  goto?: number;
  /** Source prefix (`from`). */
  from?: RulePrefix;
  /** Destination prefix (`to`). */
  to?: RulePrefix;
  /** Input interface name (`iif`; "lo" = locally generated). May not exist yet. */
  iif?: string;
  /** Output interface name (`oif`, for sockets bound to a device). */
  oif?: string;
  /** Next-layer protocol number (`ipproto`, kernel 4.17+). */
  ipProto?: number;
  /**
   * Source port range, inclusive (`sport`, kernel 4.17+). The kernel takes
   * only 1..65534: ports 0 and 65535 cannot be matched.
   */
  sport?: readonly [number, number];
  /** Destination port range, inclusive (`dport`, 1..65534 as `sport`). */
  dport?: readonly [number, number];
  /** Match this fwmark (with `fwmask`, default 0xffffffff). */
  fwmark?: number;
  /** Bits of the fwmark compared (default all). */
  fwmask?: number;
  /** Negate the match: "not fwmark X lookup T". */
  invert?: boolean;
}

/**
 * A rule in `ip rule` syntax, for logs and error messages.
 *
 * @example
 * ```ts
 * describeRule({ family: 4, priority: 100, action: "blackhole", ipProto: 17,
 *   from: { address: ip("10.2.0.0"), prefixLength: 16 } });
 * // "100: from 10.2.0.0/16 ipproto 17 blackhole"
 * ```
 */
export function describeRule(r: RuleSpec): string {
  const parts = [`${r.priority}:`];
  if (r.invert) parts.push("not");
  parts.push(r.from ? `from ${fmt(r.from.address)}/${r.from.prefixLength}` : "from all");
  if (r.to) parts.push(`to ${fmt(r.to.address)}/${r.to.prefixLength}`);
  if (r.fwmark !== undefined) {
    const mask = r.fwmask ?? 0xffffffff;
    parts.push(
      `fwmark 0x${r.fwmark.toString(16)}${mask === 0xffffffff ? "" : `/0x${mask.toString(16)}`}`,
    );
  }
  if (r.iif !== undefined) parts.push(`iif ${r.iif}`);
  if (r.oif !== undefined) parts.push(`oif ${r.oif}`);
  if (r.ipProto !== undefined) parts.push(`ipproto ${r.ipProto}`);
  const range = (x: readonly [number, number]) => x[0] === x[1] ? `${x[0]}` : `${x[0]}-${x[1]}`;
  if (r.sport) parts.push(`sport ${range(r.sport)}`);
  if (r.dport) parts.push(`dport ${range(r.dport)}`);
  const action = r.action ?? "lookup";
  if (action === "lookup") parts.push(`lookup ${r.table}`);
  else if (action === "goto") parts.push(`goto ${r.goto}`);
  else parts.push(action);
  return parts.join(" ");
}

function checkRule(r: RuleSpec): void {
  const what = `rule ${describeRule(r)}`;
  const action = r.action ?? "lookup";
  if (!(action in FR_ACT)) throw new RangeError(`${what}: unknown action '${action}'`);
  if (!Number.isInteger(r.priority) || r.priority < 0 || r.priority > 0xffffffff) {
    throw new RangeError(`${what}: priority must be 0..4294967295`);
  }
  if (action === "lookup" && r.table === undefined) {
    throw new RangeError(`${what}: action "lookup" needs a table`);
  }
  if (action === "goto" && (r.goto === undefined || r.goto <= r.priority)) {
    throw new RangeError(`${what}: "goto" needs a target priority above the rule's own`);
  }
  const bytes = r.family === 4 ? 4 : 16;
  for (const p of [r.from, r.to]) {
    if (!p) continue;
    if (p.address.length !== bytes) {
      throw new RangeError(`${what}: an IPv${r.family} prefix has ${bytes} address bytes`);
    }
    checkPrefix(p.address, p.prefixLength);
    for (let bit = p.prefixLength; bit < bytes * 8; bit++) {
      if (p.address[bit >> 3] & (0x80 >> (bit & 7))) {
        throw new RangeError(`${what}: the host bits of a prefix must be zero`);
      }
    }
  }
  for (const name of [r.iif, r.oif]) {
    if (name !== undefined && (name.length === 0 || name.length >= IFNAMSIZ)) {
      throw new RangeError(`${what}: interface names have 1..15 characters`);
    }
  }
  if (
    r.ipProto !== undefined && !(Number.isInteger(r.ipProto) && r.ipProto >= 0 && r.ipProto <= 255)
  ) {
    throw new RangeError(`${what}: ipproto must be 0..255`);
  }
  for (const x of [r.sport, r.dport]) {
    if (x && !(x[0] >= 1 && x[0] <= x[1] && x[1] <= 65534 && Number.isInteger(x[0] + x[1]))) {
      throw new RangeError(`${what}: a port range is start..end within 1..65534 (kernel limit)`);
    }
  }
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
    const blackhole = r.kind === "blackhole";
    if (blackhole && (r.ifindex !== undefined || r.gateway)) {
      throw new NetlinkError(
        `route ${fmt(r.dst)}/${r.prefixLength}: a blackhole route has no interface or gateway`,
        22,
      );
    }
    m.u8[b + 6] = r.gateway || blackhole ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
    m.u8[b + 7] = blackhole ? RTN_BLACKHOLE : RTN_UNICAST;
    if (fam === 10) m.u8[b + 6] = RT_SCOPE_UNIVERSE;
    if (type === RTM_DELROUTE) {
      // Any protocol and (IPv4) any scope, as `ip route del` asks: scope 0
      // would only match universe-scope routes, never our link-scope ones.
      m.u8[b + 5] = 0;
      if (fam === 2) m.u8[b + 6] = RT_SCOPE_NOWHERE;
    }
    m.attr(RTA_DST, r.dst);
    m.attrU32(RTA_TABLE, table);
    if (r.ifindex !== undefined) m.attrU32(RTA_OIF, r.ifindex);
    if (r.gateway) m.attr(RTA_GATEWAY, r.gateway);
    if (r.prefSrc) m.attr(RTA_PREFSRC, r.prefSrc);
    if (r.metric !== undefined) m.attrU32(RTA_PRIORITY, r.metric);
    const verb = type === RTM_NEWROUTE ? "add" : "delete";
    const what = blackhole ? "blackhole route" : "route";
    this.#request(m, `${verb} ${what} ${fmt(r.dst)}/${r.prefixLength} table ${table}`);
  }

  /**
   * Adds a policy-routing rule. With `exclusive` (the default, like `ip rule
   * add`) the kernel refuses it with EEXIST when a rule at the same priority
   * has the same action and at least its selectors; note that the kernel
   * compares addresses only when the new rule has them, so "from all
   * blackhole" counts as existing beside "from 10.0.0.0/8 blackhole". Pass
   * false to append regardless (ordered rule sets of one priority).
   */
  addRule(r: RuleSpec, exclusive = true): void {
    this.#rule(RTM_NEWRULE, NLM_F_CREATE | (exclusive ? NLM_F_EXCL : 0), r);
  }

  /** Deletes a policy-routing rule (the first one with all the fields given). */
  deleteRule(r: RuleSpec): void {
    this.#rule(RTM_DELRULE, 0, r);
  }

  /**
   * Deletes every rule of `family` at `priority` (whatever it matches or
   * does); returns how many there were. For cleaning up a priority range a
   * program owns, e.g. after a crash left its rules behind.
   */
  deleteRulesAt(family: 4 | 6, priority: number): number {
    for (let n = 0;; n++) {
      try {
        this.#rule(RTM_DELRULE, 0, { family, priority }, true);
      } catch (e) {
        if (e instanceof NetlinkError && e.errno === ENOENT) return n;
        throw e;
      }
    }
  }

  #rule(
    type: number,
    flags: number,
    r: RuleSpec | { family: 4 | 6; priority: number },
    any = false,
  ): void {
    const spec: RuleSpec = r;
    if (!any) checkRule(spec);
    const action = spec.action ?? "lookup";
    const m = new NlBuilder(type, NLM_F_REQUEST | NLM_F_ACK | flags);
    // struct fib_rule_hdr: family, dst_len, src_len, tos, table, res1, res2, action (u8), flags u32
    const b = m.reserve(12);
    m.u8[b] = spec.family === 4 ? 2 : 10;
    if (spec.to) m.u8[b + 1] = spec.to.prefixLength;
    if (spec.from) m.u8[b + 2] = spec.from.prefixLength;
    // FR_ACT_UNSPEC with nothing else given: "any rule at this priority" (deleteRulesAt).
    m.u8[b + 7] = any ? 0 : FR_ACT[action];
    if (spec.table !== undefined) m.u8[b + 4] = spec.table < 256 ? spec.table : 0;
    m.dv.setUint32(b + 8, spec.invert ? FIB_RULE_INVERT : 0, true);
    m.attrU32(FRA_PRIORITY, spec.priority);
    if (spec.table !== undefined) m.attrU32(FRA_TABLE, spec.table);
    if (spec.goto !== undefined) m.attrU32(FRA_GOTO, spec.goto);
    if (spec.to) m.attr(FRA_DST, spec.to.address);
    if (spec.from) m.attr(FRA_SRC, spec.from.address);
    if (spec.iif !== undefined) m.attr(FRA_IIFNAME, cString(spec.iif));
    if (spec.oif !== undefined) m.attr(FRA_OIFNAME, cString(spec.oif));
    if (spec.ipProto !== undefined) m.attr(FRA_IP_PROTO, Uint8Array.of(spec.ipProto));
    if (spec.sport) m.attr(FRA_SPORT_RANGE, portRange(spec.sport));
    if (spec.dport) m.attr(FRA_DPORT_RANGE, portRange(spec.dport));
    if (spec.fwmark !== undefined) {
      m.attrU32(FRA_FWMARK, spec.fwmark);
      m.attrU32(FRA_FWMASK, spec.fwmask ?? 0xffffffff);
    }
    const verb = type === RTM_NEWRULE ? "add" : "delete";
    this.#request(
      m,
      any ? `${verb} rules at ${spec.priority}` : `${verb} rule ${describeRule(spec)}`,
    );
  }

  /**
   * The routes of `table` for one address family (RTM_GETROUTE dump), with
   * destination, prefix length, interface, metric and kind (unicast or
   * blackhole; other kinds are left out).
   */
  listRoutes(family: 4 | 6, table: number): RouteSpec[] {
    const m = new NlBuilder(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP);
    const b = m.reserve(12);
    m.u8[b] = family === 4 ? 2 : 10;
    const out: RouteSpec[] = [];
    this.#request(m, `list routes of table ${table}`, (type, body) => {
      if (type !== RTM_NEWROUTE || body.length < 12) return;
      const kind = body[7] === RTN_BLACKHOLE
        ? "blackhole"
        : body[7] === RTN_UNICAST
        ? "unicast"
        : null;
      if (!kind) return;
      const r: RouteSpec = {
        dst: new Uint8Array(family === 4 ? 4 : 16),
        prefixLength: body[1],
        table: body[4],
        kind,
      };
      const dv = new DataView(body.buffer, body.byteOffset, body.length);
      for (let off = 12; off + 4 <= body.length;) {
        const len = dv.getUint16(off, true);
        const t = dv.getUint16(off + 2, true);
        if (len < 4 || off + len > body.length) break;
        const v = body.subarray(off + 4, off + len);
        if (t === RTA_DST && v.length === r.dst.length) r.dst = v.slice();
        else if (t === RTA_TABLE && v.length === 4) r.table = dv.getUint32(off + 4, true);
        else if (t === RTA_OIF && v.length === 4) r.ifindex = dv.getUint32(off + 4, true);
        else if (t === RTA_PRIORITY && v.length === 4) r.metric = dv.getUint32(off + 4, true);
        off += (len + 3) & ~3;
      }
      if (r.table === table) out.push(r);
    });
    return out;
  }

  #request(
    m: NlBuilder,
    what: string,
    onMessage?: (type: number, body: Uint8Array) => void,
  ): void {
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
        if (s === seq && onMessage) {
          onMessage(t, this.#rx.subarray(off + 16, Math.min(off + len, r)));
        }
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

const ENOENT = 2;

/** NUL-terminated interface name. */
function cString(s: string): Uint8Array {
  const b = new TextEncoder().encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

/** struct fib_rule_port_range: start, end (u16, host order). */
function portRange(x: readonly [number, number]): Uint8Array {
  const out = new Uint8Array(4);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, x[0], true);
  dv.setUint16(2, x[1], true);
  return out;
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
  return a.length === 4 ? s.slice(0, -2) : compressIpv6(s.slice(1, -3));
}

/** RFC 5952 text: the longest run of two or more zero groups becomes "::". */
function compressIpv6(full: string): string {
  const groups = full.split(":").map((g) => g.replace(/^0+(?=.)/, ""));
  let best = [-1, 0];
  for (let i = 0; i < groups.length;) {
    let j = i;
    while (j < groups.length && groups[j] === "0") j++;
    if (j - i > best[1]) best = [i, j - i];
    i = j > i ? j : i + 1;
  }
  if (best[1] < 2) return groups.join(":");
  const head = groups.slice(0, best[0]).join(":");
  const tail = groups.slice(best[0] + best[1]).join(":");
  return `${head}::${tail}`;
}
