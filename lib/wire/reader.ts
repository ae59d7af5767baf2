import { ParseError } from "./parse_error.ts";

/**
 * A bounded, big-endian reader over a byte view. Every read checks bounds and
 * throws {@linkcode ParseError}; `sub(len)` yields a child reader limited to the
 * next `len` bytes (and advances this one past them), so a payload decoder can
 * never read outside its own length field.
 *
 * @example
 * ```ts
 * const r = new Reader(bytes, "IKE header");
 * const spi = r.u64();
 * const body = r.sub(r.u16() - 4);
 * r.end(); // throws if trailing bytes remain
 * ```
 */
export class Reader {
  readonly #buf: Uint8Array;
  readonly #view: DataView;
  #pos: number;
  readonly #end: number;
  /** Offset of this reader's window inside the outermost buffer. */
  readonly base: number;
  /** Name of what is being decoded, used in error messages. */
  what: string;

  constructor(buf: Uint8Array, what = "data", base = 0) {
    this.#buf = buf;
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.#pos = 0;
    this.#end = buf.byteLength;
    this.base = base;
    this.what = what;
  }

  /** Current position relative to this reader's window. */
  get pos(): number {
    return this.#pos;
  }
  /** Absolute offset (in the outermost buffer) of the current position. */
  get offset(): number {
    return this.base + this.#pos;
  }
  /** Bytes left to read. */
  get remaining(): number {
    return this.#end - this.#pos;
  }

  /** Throws a ParseError at the current position. */
  fail(reason: string, opts?: { notify?: string; notifyData?: number }): never {
    throw new ParseError(this.what, this.offset, reason, opts);
  }

  #need(n: number): number {
    if (n < 0 || this.#pos + n > this.#end) {
      this.fail(`need ${n} byte(s), only ${this.remaining} left`);
    }
    const p = this.#pos;
    this.#pos += n;
    return p;
  }

  u8(): number {
    return this.#view.getUint8(this.#need(1));
  }
  u16(): number {
    return this.#view.getUint16(this.#need(2));
  }
  u32(): number {
    return this.#view.getUint32(this.#need(4));
  }
  u64(): bigint {
    return this.#view.getBigUint64(this.#need(8));
  }
  /** A zero-copy view of the next `n` bytes. */
  bytes(n: number): Uint8Array {
    const p = this.#need(n);
    return this.#buf.subarray(p, p + n);
  }
  /** A zero-copy view of everything left. */
  rest(): Uint8Array {
    return this.bytes(this.remaining);
  }
  skip(n: number): void {
    this.#need(n);
  }
  /** Peek at a byte `ahead` positions from the cursor without consuming. */
  peekU8(ahead = 0): number {
    if (this.#pos + ahead >= this.#end) this.fail(`need ${ahead + 1} byte(s) to peek`);
    return this.#view.getUint8(this.#pos + ahead);
  }

  /** A child reader over the next `len` bytes; this reader moves past them. */
  sub(len: number, what = this.what): Reader {
    const start = this.offset;
    const b = this.bytes(len);
    return new Reader(b, what, start);
  }

  /** Throws if any bytes are left unread. */
  end(): void {
    if (this.#pos !== this.#end) this.fail(`${this.remaining} trailing byte(s)`);
  }
}
