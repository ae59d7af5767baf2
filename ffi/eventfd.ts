/**
 * `eventfd(2)`: a kernel counter used to wake a Worker blocked in `poll()`.
 * The Worker creates the eventfd and sends its number to the main thread;
 * fds are process-wide, so {@linkcode signalEventFd} works from any thread.
 *
 * @example
 * ```ts
 * const ev = EventFd.create();     // in the Worker
 * postMessage({ wakeFd: ev.fd });
 * signalEventFd(wakeFd);           // in the main thread, after postMessage
 * ev.drain();                      // in the Worker, when poll says readable
 * ```
 *
 * @module
 */

import { closeFd, EAGAIN, errno, libc, LibcError } from "./libc.ts";

const EFD_NONBLOCK = 0x800;
const EFD_CLOEXEC = 0x80000;

const one = new Uint8Array(new BigUint64Array([1n]).buffer);

/**
 * Adds 1 to the eventfd `fd` (wakes its poller). Returns false if the fd is
 * closed or invalid (the Worker already stopped).
 */
export function signalEventFd(fd: number): boolean {
  return Number(libc().write(fd, one, 8n)) === 8;
}

/** A non-blocking eventfd owned by one thread. */
export class EventFd {
  readonly fd: number;
  readonly #buf = new Uint8Array(8);
  #closed = false;

  private constructor(fd: number) {
    this.fd = fd;
  }

  /** Creates a non-blocking, close-on-exec eventfd with counter 0. */
  static create(): EventFd {
    const fd = libc().eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) throw LibcError.last("eventfd");
    return new EventFd(fd);
  }

  /** Adds 1 to the counter. */
  signal(): void {
    if (!signalEventFd(this.fd)) throw LibcError.last("write(eventfd)");
  }

  /** Reads and resets the counter; returns its value (0 when it was 0). */
  drain(): number {
    const n = Number(libc().read(this.fd, this.#buf, 8n));
    if (n < 0) {
      const e = errno();
      if (e === EAGAIN) return 0;
      throw new LibcError("read(eventfd)", e);
    }
    // An eventfd read is all 8 bytes or an error; anything else has no errno to report.
    if (n !== 8) throw new Error(`read(eventfd ${this.fd}) returned ${n} bytes, not 8`);
    return Number(new DataView(this.#buf.buffer).getBigUint64(0, true));
  }

  /** Closes the fd (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeFd(this.fd);
  }
}
