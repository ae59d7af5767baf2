/**
 * A compiled first-match packet classifier over prioritized boxes.
 *
 * Compilation, per IP version:
 * 1. Rank compression: for each dimension the rule bounds (lo and hi+1) cut
 *    the axis into elementary intervals; every value is replaced by the index
 *    of its interval, so all later work is on small integers (IPv6 addresses
 *    are compared as bigint only in the two initial binary searches).
 * 2. A small decision tree (HiCuts-like): a node cuts one dimension into its
 *    local elementary intervals; rules that span few intervals are copied into
 *    the buckets they cover, wide rules go to the node's `rest` subtree. Each
 *    dimension is cut at most once on a path, so the depth is at most 5.
 * 3. Leaves hold rule lists in priority order; a lookup scans them only while
 *    a rule could beat the best match found so far.
 *
 * A lookup returns the lowest rule id (highest priority) whose box contains
 * the packet: exactly a linear first-match scan (checked by a property test).
 *
 * @module
 */

import { type Box, DIMS } from "./box.ts";
import type { PacketTuple } from "./selector.ts";

/** One rule: its box and its id (lower id = higher priority). */
export interface ClassifierRule {
  readonly box: Box;
  readonly id: number;
}

interface Leaf {
  readonly k: 0;
  readonly rules: Int32Array;
}
interface Split {
  readonly k: 1;
  readonly dim: number;
  readonly bounds: Int32Array;
  readonly buckets: (Node | null)[];
  readonly rest: Node | null;
}
type Node = Leaf | Split;

const LEAF_MAX = 8;
const SPAN_MAX = 4;

function upperIndex<T extends number | bigint>(arr: readonly T[], v: T): number {
  // largest i with arr[i] <= v, or -1
  let lo = 0;
  let hi = arr.length - 1;
  let r = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid] <= v) {
      r = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return r;
}

function upperIndexI32(arr: Int32Array, v: number): number {
  let lo = 0;
  let hi = arr.length - 1;
  let r = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid] <= v) {
      r = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return r;
}

class FamilyIndex {
  readonly version: 4 | 6;
  readonly addrBounds4: number[][] = [[], []];
  readonly addrBounds6: bigint[][] = [[], []];
  readonly small: Int32Array[] = []; // dims 2..4: value+1 -> rank
  readonly lo: Int32Array;
  readonly hi: Int32Array;
  readonly ids: Int32Array;
  readonly root: Node | null;
  readonly q = new Int32Array(DIMS);

  constructor(version: 4 | 6, rules: readonly ClassifierRule[]) {
    this.version = version;
    const n = rules.length;
    this.lo = new Int32Array(n * DIMS);
    this.hi = new Int32Array(n * DIMS);
    this.ids = new Int32Array(n);
    for (let d = 0; d < 2; d++) {
      if (version === 4) {
        // Numbers in a typed array: numeric sort without a comparator.
        const pts = new Float64Array(2 * n + 1);
        for (let i = 0; i < n; i++) {
          pts[2 * i] = Number(rules[i].box.lo[d]);
          pts[2 * i + 1] = Number(rules[i].box.hi[d]) + 1;
        }
        pts.sort();
        const uniq: number[] = [];
        for (const x of pts) if (uniq.length === 0 || uniq[uniq.length - 1] !== x) uniq.push(x);
        this.addrBounds4[d] = uniq;
      } else {
        const pts = new Set<bigint>([0n]);
        for (const r of rules) {
          pts.add(r.box.lo[d]);
          pts.add(r.box.hi[d] + 1n);
        }
        this.addrBounds6[d] = [...pts].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      }
    }
    const sizes = [0, 0, 257, 65537, 65537];
    for (let d = 2; d < DIMS; d++) {
      const cut = new Uint8Array(sizes[d] + 1);
      cut[0] = 1;
      for (const r of rules) {
        cut[Number(r.box.lo[d]) + 1] = 1;
        cut[Number(r.box.hi[d]) + 2] = 1;
      }
      const map = new Int32Array(sizes[d]);
      let rank = -1;
      for (let i = 0; i < sizes[d]; i++) {
        if (cut[i]) rank++;
        map[i] = rank;
      }
      this.small[d] = map;
    }
    for (let i = 0; i < n; i++) {
      const r = rules[i];
      this.ids[i] = r.id;
      for (let d = 0; d < DIMS; d++) {
        this.lo[i * DIMS + d] = this.rank(d, r.box.lo[d]);
        this.hi[i * DIMS + d] = this.rank(d, r.box.hi[d]);
      }
    }
    const order = [...Array(n).keys()].sort((a, b) => this.ids[a] - this.ids[b]);
    this.root = n === 0 ? null : this.build(order, (1 << DIMS) - 1);
  }

  private rank(d: number, v: bigint): number {
    if (d < 2) {
      return this.version === 4
        ? upperIndex(this.addrBounds4[d], Number(v))
        : upperIndex(this.addrBounds6[d], v);
    }
    return this.small[d][Number(v) + 1];
  }

  /** Sorted distinct interval cut points of dimension `d` over rules `idx`. */
  private cuts(idx: readonly number[], d: number): Int32Array {
    const pts = new Int32Array(2 * idx.length);
    for (let j = 0; j < idx.length; j++) {
      pts[2 * j] = this.lo[idx[j] * DIMS + d];
      pts[2 * j + 1] = this.hi[idx[j] * DIMS + d] + 1;
    }
    pts.sort();
    let k = 0;
    for (let j = 0; j < pts.length; j++) if (j === 0 || pts[j] !== pts[k - 1]) pts[k++] = pts[j];
    return pts.subarray(0, k);
  }

  /** Number of elementary intervals (of `pts`) rule `i` spans in dimension `d`. */
  private span(pts: Int32Array, i: number, d: number): number {
    return upperIndexI32(pts, this.hi[i * DIMS + d] + 1) -
      upperIndexI32(pts, this.lo[i * DIMS + d]);
  }

  private build(idx: number[], mask: number): Node | null {
    if (idx.length === 0) return null;
    if (idx.length <= LEAF_MAX || mask === 0) return { k: 0, rules: Int32Array.from(idx) };
    let bestDim = -1;
    let bestScore = 0;
    let bestPts: Int32Array<ArrayBufferLike> = new Int32Array(0);
    for (let d = 0; d < DIMS; d++) {
      if (!(mask & (1 << d))) continue;
      const pts = this.cuts(idx, d);
      if (pts.length <= 2) continue; // every rule spans the same interval(s)
      let narrow = 0;
      for (const i of idx) if (this.span(pts, i, d) <= SPAN_MAX) narrow++;
      if (narrow > bestScore) {
        bestScore = narrow;
        bestDim = d;
        bestPts = pts;
      }
    }
    if (bestDim < 0 || bestScore < 2) return { k: 0, rules: Int32Array.from(idx) };
    const d = bestDim;
    const narrowRules: number[] = [];
    const wide: number[] = [];
    for (const i of idx) (this.span(bestPts, i, d) <= SPAN_MAX ? narrowRules : wide).push(i);
    // Bounds only from the narrow rules (fewer, larger intervals).
    const bounds = this.cuts(narrowRules, d).slice();
    const lists: number[][] = Array.from({ length: bounds.length }, () => []);
    for (const i of narrowRules) {
      const a = upperIndexI32(bounds, this.lo[i * DIMS + d]);
      const b = upperIndexI32(bounds, this.hi[i * DIMS + d] + 1);
      for (let j = a; j < b; j++) lists[j].push(i);
    }
    const sub = mask & ~(1 << d);
    return {
      k: 1,
      dim: d,
      bounds,
      buckets: lists.map((l) => this.build(l, sub)),
      rest: this.build(wide, sub),
    };
  }

  lookup(p: PacketTuple): number {
    if (!this.root) return -1;
    const q = this.q;
    if (this.version === 4) {
      q[0] = upperIndex(this.addrBounds4[0], p.localAddress as number);
      q[1] = upperIndex(this.addrBounds4[1], p.remoteAddress as number);
    } else {
      q[0] = upperIndex(this.addrBounds6[0], p.localAddress as bigint);
      q[1] = upperIndex(this.addrBounds6[1], p.remoteAddress as bigint);
    }
    const pr = p.protocol + 1;
    const lp = p.localPort + 1;
    const rp = p.remotePort + 1;
    if (pr < 0 || pr > 256 || lp < 0 || lp > 65536 || rp < 0 || rp > 65536) return -1;
    q[2] = this.small[2][pr];
    q[3] = this.small[3][lp];
    q[4] = this.small[4][rp];
    const best = this.walk(this.root, 0x7fffffff);
    return best === 0x7fffffff ? -1 : best;
  }

  private walk(node: Node, best: number): number {
    if (node.k === 0) {
      const rules = node.rules;
      const q = this.q;
      const lo = this.lo;
      const hi = this.hi;
      for (let j = 0; j < rules.length; j++) {
        const i = rules[j];
        const id = this.ids[i];
        if (id >= best) break;
        const o = i * DIMS;
        if (
          q[0] >= lo[o] && q[0] <= hi[o] && q[1] >= lo[o + 1] && q[1] <= hi[o + 1] &&
          q[2] >= lo[o + 2] && q[2] <= hi[o + 2] && q[3] >= lo[o + 3] && q[3] <= hi[o + 3] &&
          q[4] >= lo[o + 4] && q[4] <= hi[o + 4]
        ) return id;
      }
      return best;
    }
    const b = upperIndexI32(node.bounds, this.q[node.dim]);
    if (b >= 0) {
      const child = node.buckets[b];
      if (child) best = this.walk(child, best);
    }
    if (node.rest) best = this.walk(node.rest, best);
    return best;
  }
}

/**
 * Compiled first-match classifier.
 *
 * @example
 * ```ts
 * const c = new Classifier(entries.flatMap((s, id) => selectorToBoxes(s).map((box) => ({ box, id }))));
 * c.lookup(packet); // lowest matching id, or -1
 * ```
 */
export class Classifier {
  readonly #v4: FamilyIndex;
  readonly #v6: FamilyIndex;
  /** Number of rules (boxes) compiled. */
  readonly size: number;

  constructor(rules: readonly ClassifierRule[]) {
    this.#v4 = new FamilyIndex(4, rules.filter((r) => r.box.version === 4));
    this.#v6 = new FamilyIndex(6, rules.filter((r) => r.box.version === 6));
    this.size = rules.length;
  }

  /** Lowest id whose box contains the packet, or -1. */
  lookup(p: PacketTuple): number {
    return p.version === 4 ? this.#v4.lookup(p) : this.#v6.lookup(p);
  }
}
