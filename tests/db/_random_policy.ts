/**
 * Seeded random SPD entries and packets for property tests and the SPD
 * benchmark. Values cluster on a few boundaries so that overlaps, edges and
 * OPAQUE cases are frequent.
 */
import {
  type AddressSelector,
  IpProto,
  OPAQUE,
  type PacketTuple,
  type PortSelector,
  type ProtocolSelector,
  type Selector,
} from "../../lib/db/selector.ts";
import type { SpdAction, SpdEntry } from "../../lib/db/spd.ts";
import { parseProposals } from "../../lib/crypto/proposal.ts";

/** xorshift32: deterministic, seeded. */
export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0 || 1;
  }
  /** Uniform 32-bit value. */
  next(): number {
    let x = this.#s;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.#s = x;
    return x;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return this.next() % n;
  }
  /** One element of a list. */
  pick<T>(l: readonly T[]): T {
    return l[this.int(l.length)];
  }
}

const PROTOS = [IpProto.TCP, IpProto.UDP, IpProto.ICMP, IpProto.ICMPV6, IpProto.MH, 47];
const PORT_EDGES = [0, 22, 80, 443, 500, 1023, 1024, 4500, 65535];

function randAddr4(r: Rng, space: number): number {
  // 10.0.0.0/16-ish space with clustering
  return (0x0a000000 + r.int(space)) >>> 0;
}

function addrSel(r: Rng, v: 4 | 6, space: number): AddressSelector {
  const k = r.int(10);
  if (k < 2) return { kind: "any" };
  const base = randAddr4(r, space);
  if (k < 6) {
    const len = 16 + r.int(17);
    const size = 2 ** (32 - len);
    const start = Math.floor(base / size) * size;
    return v === 4
      ? { kind: "range", version: 4, start, end: start + size - 1 }
      : { kind: "range", version: 6, start: BigInt(start), end: BigInt(start + size - 1) };
  }
  const end = Math.min(base + r.int(600), 0xffffffff);
  return v === 4
    ? { kind: "range", version: 4, start: base, end }
    : { kind: "range", version: 6, start: BigInt(base), end: BigInt(end) };
}

function portSel(r: Rng, typed: boolean): PortSelector {
  const k = r.int(10);
  if (k < 4) return { kind: "any" };
  if (k === 4) return { kind: "opaque" };
  if (typed) {
    const t = r.int(8) + 1;
    return { kind: "range", start: t << 8, end: (t << 8) | 255 };
  }
  const a = r.pick(PORT_EDGES);
  const b = r.pick(PORT_EDGES);
  return { kind: "range", start: Math.min(a, b), end: Math.max(a, b) };
}

/** A random selector; `space` bounds how many distinct addresses appear. */
export function randomSelector(r: Rng, space = 4096): Selector {
  const v: 4 | 6 = r.int(5) === 0 ? 6 : 4;
  const protocol: ProtocolSelector = r.int(3) === 0 ? "any" : r.pick(PROTOS);
  const typed = protocol === IpProto.ICMP || protocol === IpProto.ICMPV6 ||
    protocol === IpProto.MH;
  return {
    localAddress: addrSel(r, v, space),
    remoteAddress: addrSel(r, v, space),
    protocol,
    localPort: portSel(r, typed),
    remotePort: portSel(r, typed),
  };
}

const ESP = parseProposals("aes256gcm16", "esp");

/** A random list of entries (some with two selector sets, some one-directional). */
export function randomEntries(r: Rng, n: number, space = 4096): SpdEntry[] {
  const out: SpdEntry[] = [];
  for (let i = 0; i < n; i++) {
    const action: SpdAction = r.pick(["bypass", "discard", "protect"] as const);
    const selectors = r.int(6) === 0
      ? [randomSelector(r, space), randomSelector(r, space)]
      : [randomSelector(r, space)];
    const direction = r.pick(["both", "both", "both", "outbound", "inbound"] as const);
    out.push({
      label: `r${i}`,
      selectors,
      action,
      direction,
      ...(action === "protect"
        ? { processing: { protocol: "esp" as const, mode: "tunnel" as const, proposals: ESP } }
        : {}),
    });
  }
  return out;
}

/** A random packet in the same address space. */
export function randomPacket(r: Rng, space = 4096): PacketTuple {
  const v: 4 | 6 = r.int(5) === 0 ? 6 : 4;
  const protocol = r.int(8) === 0 ? r.int(256) : r.pick(PROTOS);
  const typed = protocol === IpProto.ICMP || protocol === IpProto.ICMPV6 ||
    protocol === IpProto.MH;
  let lp: number;
  let rp: number;
  if (r.int(12) === 0) {
    lp = OPAQUE;
    rp = OPAQUE;
  } else if (typed) {
    const t = ((r.int(9) + 1) << 8) | r.int(3);
    if (r.int(2) === 0) [lp, rp] = [t, OPAQUE];
    else [lp, rp] = [OPAQUE, t];
  } else {
    lp = r.int(3) === 0 ? r.pick(PORT_EDGES) : r.int(65536);
    rp = r.int(3) === 0 ? r.pick(PORT_EDGES) : r.int(65536);
  }
  const la = randAddr4(r, space);
  const ra = randAddr4(r, space);
  return v === 4
    ? { version: 4, localAddress: la, remoteAddress: ra, protocol, localPort: lp, remotePort: rp }
    : {
      version: 6,
      localAddress: BigInt(la),
      remoteAddress: BigInt(ra),
      protocol,
      localPort: lp,
      remotePort: rp,
    };
}
