/**
 * `ipsec spd --decorrelated`: the SPD-S, SPD-O and SPD-I of RFC 4301 section
 * 4.4.1.3 as admins read them, one row per decorrelated piece, in the columns
 * of the ordered table (lib/db/tables.ts spdRows) plus the part.
 *
 * @module
 */
import { formatIpv4, formatIpv6 } from "../db/address.ts";
import {
  type Box,
  DIM_LOCAL_ADDR,
  DIM_LOCAL_PORT,
  DIM_PROTOCOL,
  DIM_REMOTE_ADDR,
  DIM_REMOTE_PORT,
} from "../db/box.ts";
import { protocolName } from "../db/selector.ts";
import { type DecorrelatedPiece, Spd, type SpdEntry } from "../db/spd.ts";
import { processingText, type TableRow } from "../db/tables.ts";

/** An address dimension of a box: a prefix (0.0.0.0/0 = any), one address, or a range. */
export function addressRange(version: 4 | 6, lo: bigint, hi: bigint): string {
  const bits = version === 4 ? 32 : 128;
  const text = (v: bigint) => version === 4 ? formatIpv4(Number(v)) : formatIpv6(v);
  const size = hi - lo + 1n;
  // A prefix: the size is a power of two and lo is aligned to it.
  if ((size & (size - 1n)) === 0n && lo % size === 0n) {
    const len = bits - (size.toString(2).length - 1);
    return len === bits ? text(lo) : `${text(lo)}/${len}`;
  }
  return `${text(lo)}-${text(hi)}`;
}

/** A port or protocol dimension (-1 is OPAQUE): ANY for the whole range. */
export function numberRange(
  lo: bigint,
  hi: bigint,
  max: bigint,
  name: (n: number) => string = String,
): string {
  if (lo === -1n && hi === max) return "ANY";
  const one = (n: bigint) => n === -1n ? "OPAQUE" : name(Number(n));
  if (lo === hi) return one(lo);
  return `${one(lo)}-${one(hi)}`;
}

/** The selector columns of a decorrelated piece's box. */
export function boxColumns(b: Box): TableRow {
  return {
    local: addressRange(b.version, b.lo[DIM_LOCAL_ADDR], b.hi[DIM_LOCAL_ADDR]),
    remote: addressRange(b.version, b.lo[DIM_REMOTE_ADDR], b.hi[DIM_REMOTE_ADDR]),
    proto: numberRange(b.lo[DIM_PROTOCOL], b.hi[DIM_PROTOCOL], 255n, (n) => protocolName(n)),
    lport: numberRange(b.lo[DIM_LOCAL_PORT], b.hi[DIM_LOCAL_PORT], 65535n),
    rport: numberRange(b.lo[DIM_REMOTE_PORT], b.hi[DIM_REMOTE_PORT], 65535n),
  };
}

/**
 * The decorrelated SPD: each entry minus every earlier one, so the pieces
 * are disjoint and order no longer matters; one row per piece with the
 * entry (`#`) it came from.
 */
export function decorrelatedRows(entries: readonly SpdEntry[]): TableRow[] {
  const d = new Spd(entries, { cacheSize: 0 }).decorrelated();
  const rows = (part: string, pieces: readonly DecorrelatedPiece[]) =>
    pieces.map((p): TableRow => ({
      part,
      "#": p.index + 1,
      label: p.entry.label ?? "",
      ...boxColumns(p.box),
      action: p.entry.action.toUpperCase(),
      processing: p.entry.processing ? processingText(p.entry.processing) : "",
    }));
  return [...rows("SPD-S", d.spdS), ...rows("SPD-O", d.spdO), ...rows("SPD-I", d.spdI)];
}
