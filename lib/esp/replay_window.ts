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
 * Sequence numbers are kept as JavaScript numbers: exact up to 2^53, which a
 * single SA cannot reach (2^53 packets is 285 years at a billion per second).
 *
 * @example
 * ```ts
 * const w = new ReplayWindow({ size: 1024, esn: true });
 * const seq = w.check(0x00000005);
 * if (seq >= 0 && icvVerifies(seq)) w.update(seq);
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
  /** Highest authenticated sequence number so far (0 = none yet). */
  #top = 0;

  constructor(opts: ReplayWindowOptions = {}) {
    const size = opts.size ?? DEFAULT_REPLAY_WINDOW;
    if (!Number.isInteger(size) || size < 32 || size > MAX_REPLAY_WINDOW) {
      throw new RangeError(`replay window size must be 32..${MAX_REPLAY_WINDOW}, got ${size}`);
    }
    this.size = size;
    this.esn = opts.esn ?? false;
    // One spare block beyond the window, rounded up to a power of two (RFC 6479 section 2).
    let blocks = 1;
    while (blocks < Math.ceil(size / 32) + 1) blocks *= 2;
    this.#bits = new Uint32Array(blocks);
    this.#mask = blocks - 1;
  }

  /** Highest authenticated sequence number (0 before the first packet). */
  get top(): number {
    return this.#top;
  }

  /**
   * Checks the wire sequence number (low 32 bits) before decryption. Returns
   * the full sequence number (>= 1) when the packet may be new, else
   * {@linkcode REPLAY_DUPLICATE}, {@linkcode REPLAY_TOO_OLD} or
   * {@linkcode REPLAY_ZERO}. Never changes state.
   */
  check(seqLow: number): number {
    const seq = this.esn ? this.infer(seqLow) : seqLow >>> 0;
    if (seq <= 0) return seq < 0 ? REPLAY_TOO_OLD : REPLAY_ZERO;
    return this.#test(seq);
  }

  /**
   * RFC 4303 Appendix A2.2: the 64-bit sequence number whose low half is
   * `seqLow`, assuming it lies within the window or ahead of it. May be
   * negative (before the first subspace), which callers treat as too old.
   */
  infer(seqLow: number): number {
    const seql = seqLow >>> 0;
    const top = this.#top;
    const th = Math.floor(top / TWO32);
    const tl = top - th * TWO32;
    const w = this.size;
    let seqh: number;
    if (tl >= w - 1) {
      // Case A: the window lies within one subspace.
      seqh = seql >= tl - w + 1 ? th : th + 1;
    } else {
      // Case B: the window spans two subspaces.
      seqh = seql >= tl - w + 1 + TWO32 ? th - 1 : th;
    }
    return seqh * TWO32 + seql;
  }

  #test(seq: number): number {
    const top = this.#top;
    if (seq > top) return seq;
    if (seq <= top - this.size) return REPLAY_TOO_OLD;
    const block = Math.floor(seq / 32) & this.#mask;
    return (this.#bits[block] >>> (seq & 31)) & 1 ? REPLAY_DUPLICATE : seq;
  }

  /**
   * Records `seq` (a value {@linkcode check} returned) after its ICV verified.
   * Returns false, changing nothing, if it became a duplicate or too old in
   * the meantime.
   */
  update(seq: number): boolean {
    if (!(seq >= 1) || this.#test(seq) < 0) return false;
    const bits = this.#bits;
    const mask = this.#mask;
    const top = this.#top;
    const block = Math.floor(seq / 32);
    if (seq > top) {
      const topBlock = Math.floor(top / 32);
      let diff = block - topBlock;
      if (diff > mask + 1) diff = mask + 1;
      for (let i = 1; i <= diff; i++) bits[(topBlock + i) & mask] = 0;
      this.#top = seq;
    }
    bits[block & mask] |= 1 << (seq & 31);
    return true;
  }
}
