/**
 * The SPD lookup key of a raw IPv4 or IPv6 packet (RFC 4301 section 4.4.1.1):
 * addresses, next-layer protocol, and the "port" fields — TCP/UDP/SCTP/
 * UDP-Lite/DCCP ports, ICMP/ICMPv6 type and code (type in the high byte),
 * Mobility Header type (high byte). Non-initial fragments and truncated
 * next-layer headers give OPAQUE ports (RFC 4301 section 4.4.1.1 and 7).
 *
 * IPv6 extension headers (hop-by-hop, routing, destination options,
 * fragment) are skipped to find the next-layer protocol.
 *
 * @module
 */

import { IpProto, OPAQUE, type PacketTuple } from "./selector.ts";

/** Why a packet has no key (it is dropped before the SPD). */
export type PacketKeyProblem = "truncated" | "bad-version" | "bad-header-length";

/** The key, or the reason there is none. */
export type PacketKeyResult =
  | { readonly ok: true; readonly tuple: PacketTuple }
  | { readonly ok: false; readonly problem: PacketKeyProblem };

function portsOf(
  p: Uint8Array,
  off: number,
  proto: number,
): [src: number, dst: number] {
  if (proto === IpProto.ICMP || proto === IpProto.ICMPV6) {
    if (off + 2 > p.length) return [OPAQUE, OPAQUE];
    return [(p[off] << 8) | p[off + 1], OPAQUE];
  }
  if (proto === IpProto.MH) {
    // RFC 6275 section 6.1.1: Payload Proto, Header Len, MH Type, ...
    if (off + 3 > p.length) return [OPAQUE, OPAQUE];
    return [p[off + 2] << 8, OPAQUE];
  }
  if (
    proto === IpProto.TCP || proto === IpProto.UDP || proto === IpProto.SCTP ||
    proto === IpProto.UDPLITE || proto === IpProto.DCCP
  ) {
    if (off + 4 > p.length) return [OPAQUE, OPAQUE];
    return [(p[off] << 8) | p[off + 1], (p[off + 2] << 8) | p[off + 3]];
  }
  return [OPAQUE, OPAQUE];
}

function v6(p: Uint8Array, off: number): bigint {
  const dv = new DataView(p.buffer, p.byteOffset + off, 16);
  return (dv.getBigUint64(0) << 64n) | dv.getBigUint64(8);
}

/**
 * Extracts the SPD key of a raw IP packet. `direction` says which side is
 * local: the source for "outbound" (a packet we send), the destination for
 * "inbound". ICMP and MH types travel on the sender's side (see
 * lib/db/selector.ts).
 *
 * @example
 * ```ts
 * const r = packetKey(bytesFromTun, "outbound");
 * if (r.ok) spd.lookupOutbound(r.tuple);
 * ```
 */
export function packetKey(p: Uint8Array, direction: "outbound" | "inbound"): PacketKeyResult {
  if (p.length < 1) return { ok: false, problem: "truncated" };
  const version = p[0] >> 4;
  let s: number | bigint;
  let d: number | bigint;
  let proto: number;
  let ports: [number, number];
  if (version === 4) {
    if (p.length < 20) return { ok: false, problem: "truncated" };
    const ihl = (p[0] & 0x0f) * 4;
    if (ihl < 20) return { ok: false, problem: "bad-header-length" };
    if (p.length < ihl) return { ok: false, problem: "truncated" };
    proto = p[9];
    const fragOffset = ((p[6] & 0x1f) << 8) | p[7];
    ports = fragOffset !== 0 ? [OPAQUE, OPAQUE] : portsOf(p, ihl, proto);
    s = ((p[12] << 24) | (p[13] << 16) | (p[14] << 8) | p[15]) >>> 0;
    d = ((p[16] << 24) | (p[17] << 16) | (p[18] << 8) | p[19]) >>> 0;
  } else if (version === 6) {
    if (p.length < 40) return { ok: false, problem: "truncated" };
    let nh = p[6];
    let off = 40;
    let fragmented = false;
    // Skip extension headers (RFC 8200 section 4) to reach the next layer.
    for (let guard = 0; guard < 16; guard++) {
      if (nh !== 0 && nh !== 43 && nh !== 60 && nh !== 44) break;
      if (off + 8 > p.length) return { ok: false, problem: "truncated" };
      if (nh === 44) {
        if ((((p[off + 2] << 8) | p[off + 3]) & 0xfff8) !== 0) fragmented = true;
        nh = p[off];
        off += 8;
      } else {
        const next = p[off];
        off += (p[off + 1] + 1) * 8;
        nh = next;
      }
    }
    proto = nh;
    ports = fragmented ? [OPAQUE, OPAQUE] : portsOf(p, off, nh);
    s = v6(p, 8);
    d = v6(p, 24);
  } else {
    return { ok: false, problem: "bad-version" };
  }
  const out = direction === "outbound";
  const [src, dst] = ports;
  // The version field decides the address representation (number for 4, bigint for 6).
  const tuple = {
    version,
    localAddress: out ? s : d,
    remoteAddress: out ? d : s,
    protocol: proto,
    localPort: out ? src : dst,
    remotePort: out ? dst : src,
  } as PacketTuple;
  return { ok: true, tuple };
}
