/**
 * `ipsec spd`: the SPD as admins read it, one row per selector set in SPD
 * order (RFC 4301 section 4.4.1), built from the configured entries or, in a
 * running daemon, from what the data plane enforces (a gateway's per-client
 * instances of named entries included).
 *
 * @module
 */
import { formatIpv4, formatIpv6 } from "../db/address.ts";
import type { Box } from "../db/box.ts";
import { formatIdentityPattern } from "../db/identity.ts";
import {
  formatAddressSelector,
  formatPortSelector,
  protocolName,
  type Selector,
} from "../db/selector.ts";
import { type DecorrelatedPiece, Spd, type SpdEntry } from "../db/spd.ts";
import type { TableRow } from "./ports.ts";

function selectorText(s: Selector): string {
  const proto = s.protocol === "any" ? "" : ` ${protocolName(s.protocol)}`;
  const port = (p: Selector["localPort"]) =>
    p.kind === "any" ? "" : `:${formatPortSelector(p, s.protocol)}`;
  return `${formatAddressSelector(s.localAddress)}${port(s.localPort)} -> ` +
    `${formatAddressSelector(s.remoteAddress)}${port(s.remotePort)}${proto}`;
}

function processingText(e: SpdEntry): string {
  const p = e.processing;
  return p
    ? `${p.protocol.toUpperCase()} ${p.mode}` +
      (p.tunnel ? ` ${p.tunnel.local} -> ${p.tunnel.remote}` : "")
    : "";
}

/** An address dimension of a box: ANY, a prefix, one address, or a range. */
function addressRange(version: 4 | 6, lo: bigint, hi: bigint): string {
  const bits = version === 4 ? 32 : 128;
  const text = (v: bigint) => version === 4 ? formatIpv4(Number(v)) : formatIpv6(v);
  const size = hi - lo + 1n;
  if (size === 1n << BigInt(bits)) return version === 4 ? "0.0.0.0/0" : "::/0";
  // A prefix: the size is a power of two and lo is aligned to it.
  if ((size & (size - 1n)) === 0n && lo % size === 0n) {
    const len = bits - (size.toString(2).length - 1);
    return len === bits ? text(lo) : `${text(lo)}/${len}`;
  }
  return `${text(lo)}-${text(hi)}`;
}

/** A port or protocol dimension (-1 is OPAQUE); "" when it is the whole range. */
function numberRange(lo: bigint, hi: bigint, max: bigint, name?: (n: number) => string): string {
  if (lo === -1n && hi === max) return "";
  const one = (n: bigint) => n === -1n ? "OPAQUE" : name ? name(Number(n)) : String(n);
  if (lo === hi) return one(lo);
  if (lo === 0n && hi === max) return "not OPAQUE";
  return `${one(lo)}-${one(hi)}`;
}

/**
 * A decorrelated piece's box in the selector notation of `ipsec spd`:
 * `local[:port] -> remote[:port] [protocol]`.
 */
export function boxText(b: Box): string {
  const port = (d: number) => {
    const t = numberRange(b.lo[d], b.hi[d], 65535n);
    return t === "" ? "" : `:${t}`;
  };
  const proto = numberRange(b.lo[2], b.hi[2], 255n, (n) => protocolName(n));
  return `${addressRange(b.version, b.lo[0], b.hi[0])}${port(3)} -> ` +
    `${addressRange(b.version, b.lo[1], b.hi[1])}${port(4)}${proto ? ` ${proto}` : ""}`;
}

/**
 * `ipsec spd --decorrelated`: the SPD-S, SPD-O and SPD-I of RFC 4301 section
 * 4.4.1.3 (each entry minus every earlier one, so the pieces are disjoint and
 * order no longer matters), one row per piece with the entry it came from.
 */
export function decorrelatedRows(entries: readonly SpdEntry[]): TableRow[] {
  const d = new Spd(entries, { cacheSize: 0 }).decorrelated();
  const rows = (part: string, pieces: readonly DecorrelatedPiece[]) =>
    pieces.map((p): TableRow => ({
      part,
      "#": p.index + 1,
      label: p.entry.label ?? "",
      selector: boxText(p.box),
      action: p.entry.action.toUpperCase(),
      processing: processingText(p.entry),
    }));
  return [...rows("SPD-S", d.spdS), ...rows("SPD-O", d.spdO), ...rows("SPD-I", d.spdI)];
}

/** `ipsec spd` rows: one per selector set, in SPD order. */
export function spdRows(entries: readonly SpdEntry[]): TableRow[] {
  const rows: TableRow[] = [];
  entries.forEach((e, i) => {
    const processing = processingText(e);
    e.selectors.forEach((s, j) => {
      rows.push({
        "#": j === 0 ? i + 1 : "",
        label: j === 0 ? e.label ?? "" : "",
        selector: selectorText(s),
        name: j === 0 && e.name ? formatIdentityPattern(e.name) : "",
        action: j === 0 ? e.action.toUpperCase() : "",
        processing: j === 0 ? processing : "",
      });
    });
  });
  return rows;
}
