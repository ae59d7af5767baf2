/**
 * The system C library through `Deno.dlopen`, opened once per isolate
 * (main thread or Worker), with typed errors carrying `errno`.
 *
 * Every symbol is synchronous: a synchronous FFI call costs ~10 ns here,
 * a `nonblocking: true` one ~12 µs, so the data path drains its fds with
 * synchronous calls and blocks in a synchronous `poll()` inside a Worker.
 * Only `--allow-ffi` is needed.
 *
 * `errno` is read through `__errno_location()` right after the failing call,
 * on the same thread (FFI calls without `nonblocking` run on the JS thread).
 *
 * @example
 * ```ts
 * const fd = libc().socket(2, 2, 0);
 * if (fd < 0) throw LibcError.last("socket(AF_INET, SOCK_DGRAM)");
 * ```
 *
 * @module
 */

const SYMBOLS = {
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  sendto: {
    parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"],
    result: "isize",
  },
  recvfrom: {
    parameters: ["i32", "buffer", "usize", "i32", "buffer", "buffer"],
    result: "isize",
  },
  sendmsg: { parameters: ["i32", "buffer", "i32"], result: "isize" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  recvmmsg: { parameters: ["i32", "buffer", "u32", "i32", "pointer"], result: "i32" },
  sendmmsg: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  if_nametoindex: { parameters: ["buffer"], result: "u32" },
  getpid: { parameters: [], result: "i32" },
  dlopen: { parameters: ["buffer", "i32"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The bound libc symbols (synchronous). */
export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | null = null;
let errnoView: Deno.UnsafePointerView | null = null;

/**
 * The libc symbols, loading `libc.so.6` on first use. Throws
 * {@linkcode LibcError} (errno 0) when the library cannot be opened, e.g.
 * without `--allow-ffi`.
 */
export function libc(): Libc {
  if (lib === null) {
    try {
      lib = Deno.dlopen("libc.so.6", SYMBOLS);
    } catch (e) {
      throw new LibcError(
        "dlopen(libc.so.6)",
        0,
        `${(e as Error).message} (run with --allow-ffi on Linux with glibc)`,
      );
    }
  }
  return lib.symbols;
}

/** The calling thread's current `errno`. */
export function errno(): number {
  if (errnoView === null) {
    const p = libc().__errno_location();
    if (p === null) return 0;
    errnoView = new Deno.UnsafePointerView(p);
  }
  return errnoView.getInt32(0);
}

/** Common errno values by number (Linux x86_64/aarch64 generic numbering). */
export const ERRNO_NAMES: Readonly<Record<number, string>> = {
  1: "EPERM",
  2: "ENOENT",
  4: "EINTR",
  5: "EIO",
  9: "EBADF",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  14: "EFAULT",
  16: "EBUSY",
  17: "EEXIST",
  19: "ENODEV",
  22: "EINVAL",
  24: "EMFILE",
  28: "ENOSPC",
  32: "EPIPE",
  71: "EPROTO",
  90: "EMSGSIZE",
  92: "ENOPROTOOPT",
  93: "EPROTONOSUPPORT",
  95: "EOPNOTSUPP",
  97: "EAFNOSUPPORT",
  98: "EADDRINUSE",
  99: "EADDRNOTAVAIL",
  101: "ENETUNREACH",
  105: "ENOBUFS",
  111: "ECONNREFUSED",
  113: "EHOSTUNREACH",
};

/** `EAGAIN` / `EWOULDBLOCK`: nothing to read or no room to write on a non-blocking fd. */
export const EAGAIN = 11;
/** `EINTR`: interrupted by a signal; retry. */
export const EINTR = 4;

const decoder = new TextDecoder();

function strerror(code: number): string {
  try {
    const p = libc().strerror(code);
    return p === null ? `errno ${code}` : Deno.UnsafePointerView.getCString(p);
  } catch {
    return `errno ${code}`;
  }
}

/**
 * A failed libc call: `op` names the call and its important arguments,
 * `errno` the error number, `code` its name (e.g. "EPERM").
 */
export class LibcError extends Error {
  override readonly name = "LibcError";
  /** The errno value (0 when not from a system call). */
  readonly errno: number;
  /** Symbolic errno name, e.g. "EADDRINUSE" ("E?" when unknown). */
  readonly code: string;
  /** The failed operation, e.g. "bind(0.0.0.0:500)". */
  readonly op: string;

  constructor(op: string, errnoValue: number, detail?: string) {
    const code = ERRNO_NAMES[errnoValue] ?? (errnoValue === 0 ? "E0" : `E${errnoValue}`);
    const text = detail ?? strerror(errnoValue);
    super(`${op} failed: ${code} (${text})${hint(errnoValue)}`);
    this.errno = errnoValue;
    this.code = code;
    this.op = op;
  }

  /** A LibcError for `op` with the current errno. */
  static last(op: string): LibcError {
    return new LibcError(op, errno());
  }
}

function hint(e: number): string {
  if (e === 1 || e === 13) return "; this needs root or CAP_NET_ADMIN/CAP_NET_RAW";
  if (e === 98) return "; another process (an IKE daemon?) already uses this port";
  if (e === 97) return "; is IPv6 disabled on this host? (the data plane takes ipv6: false)";
  return "";
}

/** NUL-terminated C string for FFI `buffer` parameters. */
export function cString(s: string): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(s.length * 3 + 1);
  const r = new TextEncoder().encodeInto(s, b);
  return b.subarray(0, r.written + 1);
}

/** Reads a NUL-terminated string from `buf` starting at `off` (at most `max` bytes). */
export function readCString(buf: Uint8Array, off = 0, max = buf.length - off): string {
  let end = off;
  while (end < off + max && buf[end] !== 0) end++;
  return decoder.decode(buf.subarray(off, end));
}

/** Closes an fd, ignoring errors (for cleanup paths). */
export function closeFd(fd: number): void {
  if (fd >= 0) libc().close(fd);
}

/** Interface index of `name`, or throws a LibcError (ENODEV) naming the interface. */
export function ifNameToIndex(name: string): number {
  const i = libc().if_nametoindex(cString(name));
  if (i === 0) throw new LibcError(`if_nametoindex(${name})`, errno() || 19);
  return i;
}
