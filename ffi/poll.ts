/**
 * `poll(2)` over a fixed set of fds with a preallocated `struct pollfd`
 * array, called synchronously: a data-path Worker blocks here (its own
 * thread), woken by packets or by an eventfd the main thread writes.
 *
 * @example
 * ```ts
 * const p = new PollSet([tun.fd, sock.fd, wake.fd]);
 * const n = p.wait(1000);           // ms; -1 waits forever
 * if (n > 0 && p.readable(2)) wake.drain();
 * ```
 *
 * @module
 */

import { EINTR, errno, libc, LibcError } from "./libc.ts";

/** Data to read. */
export const POLLIN = 0x001;
/** Room to write. */
export const POLLOUT = 0x004;
/** Error condition. */
export const POLLERR = 0x008;
/** Hang up. */
export const POLLHUP = 0x010;
/** Invalid fd. */
export const POLLNVAL = 0x020;

/** A fixed set of fds to poll; slot `i` is the i-th fd given. */
export class PollSet {
  readonly #fds: Uint8Array<ArrayBuffer>;
  readonly #dv: DataView;
  readonly #n: number;
  readonly #nBig: bigint;

  /** `events` defaults to POLLIN for every fd. */
  constructor(fds: readonly number[], events: readonly number[] = []) {
    this.#n = fds.length;
    this.#nBig = BigInt(fds.length);
    this.#fds = new Uint8Array(new ArrayBuffer(Math.max(8, fds.length * 8)));
    this.#dv = new DataView(this.#fds.buffer);
    fds.forEach((fd, i) => {
      this.#dv.setInt32(i * 8, fd, true);
      this.#dv.setInt16(i * 8 + 4, events[i] ?? POLLIN, true);
    });
  }

  /** Changes the events polled for slot `i` (e.g. add POLLOUT while a queue is blocked). */
  setEvents(i: number, events: number): void {
    this.#dv.setInt16(i * 8 + 4, events, true);
  }

  /**
   * Blocks up to `timeoutMs` (-1 = forever, 0 = just check) until an fd is
   * ready; returns how many are (0 on timeout or EINTR).
   */
  wait(timeoutMs: number): number {
    for (let i = 0; i < this.#n; i++) this.#dv.setInt16(i * 8 + 6, 0, true);
    const r = libc().poll(this.#fds, this.#nBig, timeoutMs);
    if (r < 0) {
      const e = errno();
      if (e === EINTR) return 0;
      throw new LibcError("poll", e);
    }
    return r;
  }

  /** The returned events of slot `i`. */
  revents(i: number): number {
    return this.#dv.getInt16(i * 8 + 6, true);
  }

  /** True when slot `i` has data (or a hang-up/error to read). */
  readable(i: number): boolean {
    return (this.revents(i) & (POLLIN | POLLERR | POLLHUP)) !== 0;
  }

  /** True when slot `i` can be written. */
  writable(i: number): boolean {
    return (this.revents(i) & POLLOUT) !== 0;
  }
}
