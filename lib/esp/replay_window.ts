/**
 * Anti-replay window for ESP and AH (RFC 4303 section 3.4.3, RFC 4302
 * section 3.4.3) as the bitmap of RFC 6479: the window of `size` bits is
 * stored in 32-bit blocks plus one spare block, so sliding the window right
 * only clears whole blocks and never shifts bits.
 *
 * With Extended Sequence Numbers only the low 32 bits travel on the wire;
 * {@linkcode ReplayWindow.check} infers the high 32 bits as in RFC 4303
 * Appendix A2.2 and returns the full 64-bit number, which the caller feeds
 * into the ICV. A wrong guess makes the ICV fail, so the packet is dropped.
 *
 * Protocol: call `check(seqLow)` before decrypting; call `update(seq)` with
 * the returned number only after the ICV verified.
 *
 * Sequence numbers are exact 64-bit values kept as two uint32 halves (no
 * BigInt on the hot path): {@linkcode ReplayWindow.checkHigh} returns the
 * inferred high half and {@linkcode ReplayWindow.accept} takes both halves.
 * `check`/`update`/`infer`/`top` are number conveniences, exact below 2^53.
 *
 * @example
 * ```ts
 * const w = new ReplayWindow({ size: 1024, esn: true });
 * const hi = w.checkHigh(0x00000005);        // high half, or a negative REPLAY_* code
 * if (hi >= 0 && icvVerifies(hi, 0x00000005)) w.accept(hi, 0x00000005);
 * ```
 *
 * @module
 */

/** `check()` result: the sequence number was already received. */
export const REPLAY_DUPLICATE = -1;
/** `check()` result: the sequence number is left of the window. */
export const REPLAY_TOO_OLD = -2;
/** `check()` result: sequence number 0 is never sent (RFC 4303 section 3.3.3). */
export const REPLAY_ZERO = -3;

/** Largest window size accepted. */
export const MAX_REPLAY_WINDOW = 65536;
/** Default window size. */
export const DEFAULT_REPLAY_WINDOW = 1024;

const TWO32 = 0x1_0000_0000;

/** Options for {@linkcode ReplayWindow}. */
export interface ReplayWindowOptions {
  /** Window size in packets, 32..65536 (default 1024). */
  size?: number;
  /** Extended Sequence Numbers negotiated (RFC 4303 section 2.2.1). */
  esn?: boolean;
}

/** A per-SA receive window. */
export class ReplayWindow {
  /** Window size in packets. */
  readonly size: number;
  /** Whether ESN inference is on. */
  readonly esn: boolean;
  readonly #bits: Uint32Array;
  readonly #mask: number;
  /** Highest authenticated sequence number so far, as uint32 halves (0/0 = none yet). */
  #topHi = 0;
  #topLo = 0;

  constructor(opts: ReplayWindowOptions = {}) {
    const size = opts.size ?? DEFAULT_REPLAY_WINDOW;
    if (!Number.isInteger(size) || size < 32 || size > MAX_REPLAY_WINDOW) {
      throw new RangeError(`replay window size must be 32..${MAX_REPLAY_WINDOW}, got ${size}`);
    }
    this.size = size;
    this.esn = opts.esn ?? false;
    // One spare block beyond the window, rounded up to a power of two (RFC 6479 section 2).
    // At most 4096 blocks, so a block index is (low half >>> 5) & mask: the high
    // half only adds multiples of 2^27 blocks.
    let blocks = 1;
    while (blocks < Math.ceil(size / 32) + 1) blocks *= 2;
    this.#bits = new Uint32Array(blocks);
    this.#mask = blocks - 1;
  }

  /** Highest authenticated sequence number (0 before the first packet); exact below 2^53. */
  get top(): number {
    return this.#topHi * TWO32 + this.#topLo;
  }
  /** High 32 bits of {@linkcode top}. */
  get topHi(): number {
    return this.#topHi;
  }
  /** Low 32 bits of {@linkcode top}. */
  get topLo(): number {
    return this.#topLo;
  }
  /** {@linkcode top}, exact. */
  get topBig(): bigint {
    return (BigInt(this.#topHi) << 32n) | BigInt(this.#topLo);
  }

  /**
   * Checks the wire sequence number (low 32 bits) before decryption. Returns
   * the inferred high half (>= 0; always 0 without ESN) when the packet may
   * be new, else {@linkcode REPLAY_DUPLICATE}, {@linkcode REPLAY_TOO_OLD} or
   * {@linkcode REPLAY_ZERO}. Never changes state.
   */
  checkHigh(seqLow: number): number {
    const lo = seqLow >>> 0;
    const hi = this.esn ? this.inferHigh(lo) : 0;
    if (hi < 0 || hi > 0xffffffff) return REPLAY_TOO_OLD;
    if (hi === 0 && lo === 0) return REPLAY_ZERO;
    const r = this.#test(hi, lo);
    return r < 0 ? r : hi;
  }

  /**
   * {@linkcode checkHigh} as one number: the full sequence number (exact
   * below 2^53) or a negative REPLAY_* code.
   */
  check(seqLow: number): number {
    const hi = this.checkHigh(seqLow);
    return hi < 0 ? hi : hi * TWO32 + (seqLow >>> 0);
  }

  /**
   * RFC 4303 Appendix A2.2: the high half of the 64-bit sequence number
   * whose low half is `seqLow`, assuming it lies within the window or ahead
   * of it. May be -1 (before the first subspace) or 2^32 (beyond the last),
   * which callers treat as too old.
   */
  inferHigh(seqLow: number): number {
    const seql = seqLow >>> 0;
    const th = this.#topHi;
    const tl = this.#topLo;
    const w = this.size;
    if (tl >= w - 1) {
      // Case A: the window lies within one subspace.
      return seql >= tl - w + 1 ? th : th + 1;
    }
    // Case B: the window spans two subspaces.
    return seql >= tl - w + 1 + TWO32 ? th - 1 : th;
  }

  /** {@linkcode inferHigh} as one number (exact below 2^53); may be negative. */
  infer(seqLow: number): number {
    return this.inferHigh(seqLow) * TWO32 + (seqLow >>> 0);
  }

  /** `hi:lo` if it is new and inside or ahead of the window, else a negative code. */
  #test(hi: number, lo: number): number {
    // top - seq; exact while it matters (|d| < 2^53), and its sign is always right.
    const d = (this.#topHi - hi) * TWO32 + (this.#topLo - lo);
    if (d < 0) return 0;
    if (d >= this.size) return REPLAY_TOO_OLD;
    const block = (lo >>> 5) & this.#mask;
    return (this.#bits[block] >>> (lo & 31)) & 1 ? REPLAY_DUPLICATE : 0;
  }

  /**
   * Records `hi:lo` (the high half {@linkcode checkHigh} returned and the wire's
   * low half) after its ICV verified. Returns false, changing nothing, if it
   * is zero or became a duplicate or too old in the meantime.
   */
  accept(hi: number, lo: number): boolean {
    hi >>>= 0;
    lo >>>= 0;
    if ((hi === 0 && lo === 0) || this.#test(hi, lo) < 0) return false;
    const bits = this.#bits;
    const mask = this.#mask;
    const th = this.#topHi;
    const tl = this.#topLo;
    if (hi > th || (hi === th && lo > tl)) {
      const topBlock = tl >>> 5;
      // Blocks between the old top and the new one (capped: the whole bitmap is cleared).
      let diff = (hi - th) * 0x8000000 + ((lo >>> 5) - topBlock);
      if (diff > mask + 1) diff = mask + 1;
      for (let i = 1; i <= diff; i++) bits[(topBlock + i) & mask] = 0;
      this.#topHi = hi;
      this.#topLo = lo;
    }
    bits[(lo >>> 5) & mask] |= 1 << (lo & 31);
    return true;
  }

  /**
   * {@linkcode accept} for a whole sequence number (a number, exact below
   * 2^53, or a bigint below 2^64).
   */
  update(seq: number | bigint): boolean {
    if (typeof seq === "bigint") {
      if (seq < 1n || seq >= 1n << 64n) return false;
      return this.accept(Number(seq >> 32n), Number(seq & 0xffffffffn));
    }
    if (!(seq >= 1) || !Number.isSafeInteger(seq)) return false;
    const hi = Math.floor(seq / TWO32);
    return this.accept(hi, seq - hi * TWO32);
  }
}
