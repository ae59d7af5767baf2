/**
 * A growable big-endian writer with back-patched length fields.
 *
 * @example
 * ```ts
 * const w = new Writer();
 * w.u8(0); w.u8(0);
 * const len = w.reserve16();   // placeholder for a 2-byte length
 * w.bytes(body);
 * w.patch16(len, w.length - len + 2); // or any computed value
 * const out = w.finish();
 * ```
 */
export class Writer {
  #buf: Uint8Array;
  #view: DataView;
  #len = 0;

  constructor(initial = 256) {
    this.#buf = new Uint8Array(initial);
    this.#view = new DataView(this.#buf.buffer);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#len;
  }

  #grow(n: number): number {
    const need = this.#len + n;
    if (need > this.#buf.length) {
      let cap = this.#buf.length * 2;
      while (cap < need) cap *= 2;
      const nb = new Uint8Array(cap);
      nb.set(this.#buf.subarray(0, this.#len));
      this.#buf = nb;
      this.#view = new DataView(nb.buffer);
    }
    const p = this.#len;
    this.#len = need;
    return p;
  }

  u8(v: number): this {
    const p = this.#grow(1);
    this.#view.setUint8(p, v);
    return this;
  }
  u16(v: number): this {
    const p = this.#grow(2);
    this.#view.setUint16(p, v);
    return this;
  }
  u32(v: number): this {
    const p = this.#grow(4);
    this.#view.setUint32(p, v);
    return this;
  }
  u64(v: bigint): this {
    const p = this.#grow(8);
    this.#view.setBigUint64(p, v);
    return this;
  }
  bytes(b: Uint8Array): this {
    const p = this.#grow(b.length);
    this.#buf.set(b, p);
    return this;
  }
  zeros(n: number): this {
    const p = this.#grow(n);
    this.#buf.fill(0, p, this.#len);
    return this;
  }

  /** Reserves a 2-byte field and returns its position for {@linkcode patch16}. */
  reserve16(): number {
    return this.#grow(2);
  }
  /** Reserves a 4-byte field and returns its position for {@linkcode patch32}. */
  reserve32(): number {
    return this.#grow(4);
  }
  patch8(pos: number, v: number): void {
    this.#view.setUint8(pos, v);
  }
  patch16(pos: number, v: number): void {
    this.#view.setUint16(pos, v);
  }
  patch32(pos: number, v: number): void {
    this.#view.setUint32(pos, v);
  }

  /** A copy of the written bytes. */
  finish(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}
