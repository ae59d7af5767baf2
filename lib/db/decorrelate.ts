/**
 * SPD decorrelation (RFC 4301 section 4.4.1.3 and Appendix B): rewrite an
 * ordered list of possibly overlapping entries into disjoint boxes, each
 * carrying the decision of the first original entry that matches it. After
 * decorrelation, order no longer matters: any box containing a packet gives
 * the same decision as the ordered first-match on the original list.
 *
 * Construction: entry i keeps `box(i) minus box(j) for every j < i`; the set
 * difference of two boxes is at most 2*5 disjoint boxes (slicing one
 * dimension at a time). Named entries (Name selector) are left out: they do
 * not match packets until an SA instantiates them.
 *
 * @module
 */

import { type Box, intersectBox, selectorToBoxes, subtractBox } from "./box.ts";
import type { Selector } from "./selector.ts";

/** One disjoint piece of an original entry. */
export interface DecorrelatedBox {
  readonly box: Box;
  /** Index of the original entry in the ordered list. */
  readonly index: number;
}

/** The pieces of `selectors[index]` not shadowed by any earlier selector. */
export function decorrelateEntry(
  selectors: readonly Selector[],
  index: number,
  skip: (i: number) => boolean = (i) => selectors[i].name !== undefined,
): Box[] {
  let pieces = selectorToBoxes(selectors[index]);
  for (let j = 0; j < index && pieces.length > 0; j++) {
    if (skip(j)) continue;
    for (const b of selectorToBoxes(selectors[j])) {
      const next: Box[] = [];
      for (const p of pieces) {
        if (intersectBox(p, b)) next.push(...subtractBox(p, b));
        else next.push(p);
      }
      pieces = next;
    }
  }
  return pieces;
}

/**
 * Decorrelates an ordered selector list. The result's boxes never overlap,
 * and the box containing a packet (if any) names the same entry as an
 * ordered first-match over `selectors` (skipping named entries).
 *
 * @example
 * ```ts
 * const pieces = decorrelate(spdEntries.map((e) => e.selector));
 * ```
 */
export function decorrelate(selectors: readonly Selector[]): DecorrelatedBox[] {
  const out: DecorrelatedBox[] = [];
  for (let i = 0; i < selectors.length; i++) {
    if (selectors[i].name !== undefined) continue;
    for (const box of decorrelateEntry(selectors, i)) out.push({ box, index: i });
  }
  return out;
}
