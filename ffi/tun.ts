/**
 * TUN devices through `/dev/net/tun` (TUNSETIFF with IFF_TUN | IFF_NO_PI,
 * optionally IFF_MULTI_QUEUE), non-blocking, with MTU and up/down set by
 * ioctl on a helper socket. Each `read` returns one IP packet; each `write`
 * injects one. {@linkcode TunRing} does a batch of them per system call
 * (io_uring), which the data path uses where the kernel allows it. With
 * `offload` (IFF_VNET_HDR + TUNSETOFFLOAD) each read and write is a
 * virtio_net_hdr frame and reads may be TCP super-packets of up to 64 KB
 * (lib/dataplane/offload.ts segments and coalesces them).
 *
 * @example
 * ```ts
 * const tun = openTun({ name: "ipsec0", mtu: 1400 });
 * tun.setUp(true);
 * const buf = new Uint8Array(65536);
 * const n = tun.read(buf);     // -1 when no packet is queued
 * if (n > 0) tun.write(buf.subarray(0, n));
 * tun.close();                 // the device disappears with its last fd
 * ```
 *
 * @module
 */

import { closeFd, cString, EAGAIN, EINTR, errno, libc, LibcError, readCString } from "./libc.ts";

const O_RDWR = 2;
const O_NONBLOCK = 0x800;
const O_CLOEXEC = 0x80000;
const TUNSETIFF = 0x400454can;
const IFF_TUN = 0x0001;
const IFF_NO_PI = 0x1000;
const IFF_MULTI_QUEUE = 0x0100;
const IFF_VNET_HDR = 0x4000;
const TUNSETOFFLOAD = 0x400454d0n;
const TUN_F_CSUM = 0x01;
const TUN_F_TSO4 = 0x02;
const TUN_F_TSO6 = 0x04;
const SIOCGIFFLAGS = 0x8913n;
const SIOCSIFFLAGS = 0x8914n;
const SIOCGIFMTU = 0x8921n;
const SIOCSIFMTU = 0x8922n;
const IFF_UP = 0x1;
const IFNAMSIZ = 16;

/** Options for {@linkcode openTun}. */
export interface TunOptions {
  /** Interface name (max 15 bytes); "" or absent lets the kernel pick (tun%d). */
  name?: string;
  /** IFF_MULTI_QUEUE: several fds (queues) for one device, one per Worker. */
  multiQueue?: boolean;
  /** MTU to set after creation. */
  mtu?: number;
  /** Bring the link up after creation. */
  up?: boolean;
  /**
   * Try TUN offloads: IFF_VNET_HDR, then TUNSETOFFLOAD with checksum, TSO4
   * and TSO6. Reads then return a `struct virtio_net_hdr` (10 bytes) and
   * TCP super-packets of up to 64 KB, and every write must start with such
   * a header (lib/dataplane/offload.ts). When the kernel refuses, the
   * device is opened without them: check {@linkcode TunDevice.offload}.
   */
  offload?: boolean;
}

/** Bytes a read buffer needs for any frame of an offloading TUN (header + 64 KB packet). */
export const TUN_OFFLOAD_FRAME = 65536 + 16;

const IOCTL_INT_SYMBOLS = {
  // ioctl(fd, request, unsigned long): TUNSETOFFLOAD takes its argument by value.
  ioctl: { parameters: ["i32", "u64", "u64"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;
let ioctlIntLib: Deno.DynamicLibrary<typeof IOCTL_INT_SYMBOLS>["symbols"] | null = null;

/** One open TUN queue. */
export class TunDevice {
  /** The fd (non-blocking) for poll and read/write. */
  readonly fd: number;
  /** Interface name the kernel assigned. */
  readonly name: string;
  readonly multiQueue: boolean;
  /**
   * Offloads on (IFF_VNET_HDR and TUNSETOFFLOAD accepted): every read and
   * write carries a 10-byte virtio_net_hdr in front of the packet.
   */
  readonly offload: boolean;
  #closed = false;

  constructor(fd: number, name: string, multiQueue: boolean, offload = false) {
    this.fd = fd;
    this.name = name;
    this.multiQueue = multiQueue;
    this.offload = offload;
  }

  /** Reads one packet into `buf`; returns its length, or -1 when none is queued. */
  read(buf: Uint8Array): number {
    const n = Number(libc().read(this.fd, buf, BigInt(buf.length)));
    if (n < 0) {
      const e = errno();
      if (e === EAGAIN || e === EINTR) return -1;
      throw new LibcError(`read(${this.name})`, e);
    }
    return n;
  }

  /**
   * Writes one IP packet; returns false when the kernel refused it without a
   * fatal error (EAGAIN, or EINVAL/EIO for a malformed packet).
   */
  write(packet: Uint8Array): boolean {
    const n = Number(libc().write(this.fd, packet, BigInt(packet.length)));
    if (n < 0) {
      const e = errno();
      if (e === EAGAIN || e === EINTR || e === 22 || e === 5) return false;
      throw new LibcError(`write(${this.name})`, e);
    }
    return true;
  }

  /** Sets the interface MTU. */
  setMtu(mtu: number): void {
    setInterfaceMtu(this.name, mtu);
  }

  /** The interface MTU. */
  get mtu(): number {
    return interfaceMtu(this.name);
  }

  /** Sets the interface administratively up or down. */
  setUp(up: boolean): void {
    setInterfaceUp(this.name, up);
  }

  /** Closes this queue; the device is removed when its last queue closes (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeFd(this.fd);
  }
}

/**
 * Creates (or attaches to, with `multiQueue`) a TUN device. Needs
 * CAP_NET_ADMIN. Throws {@linkcode LibcError} naming the device on failure.
 */
export function openTun(o: TunOptions = {}): TunDevice {
  const name = o.name ?? "";
  if (new TextEncoder().encode(name).length >= IFNAMSIZ) {
    throw new RangeError(`interface name '${name}' is longer than 15 bytes`);
  }
  if (o.offload) {
    const t = openTunFd(name, o, true);
    if (t !== null) return t;
  }
  return openTunFd(name, o, false)!;
}

/**
 * Opens and configures the device; with `vnetHdr`, returns null (the fd
 * closed, so a new device of that name is gone again) when the kernel
 * refuses IFF_VNET_HDR or the offloads.
 */
function openTunFd(name: string, o: TunOptions, vnetHdr: boolean): TunDevice | null {
  const fd = libc().open(cString("/dev/net/tun"), O_RDWR | O_NONBLOCK | O_CLOEXEC, 0);
  if (fd < 0) throw LibcError.last("open(/dev/net/tun)");
  try {
    const ifr = ifreq(name);
    const flags = IFF_TUN | IFF_NO_PI | (o.multiQueue ? IFF_MULTI_QUEUE : 0) |
      (vnetHdr ? IFF_VNET_HDR : 0);
    ifr[16] = flags & 0xff;
    ifr[17] = flags >> 8;
    if (libc().ioctl(fd, TUNSETIFF, ifr) < 0) {
      if (vnetHdr) {
        closeFd(fd);
        return null;
      }
      throw LibcError.last(`ioctl(TUNSETIFF, ${name || "tun%d"})`);
    }
    if (vnetHdr) {
      ioctlIntLib ??= Deno.dlopen("libc.so.6", IOCTL_INT_SYMBOLS).symbols;
      const offloads = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
      if (ioctlIntLib.ioctl(fd, TUNSETOFFLOAD, BigInt(offloads)) < 0) {
        closeFd(fd);
        return null;
      }
    }
    const tun = new TunDevice(fd, readCString(ifr, 0, IFNAMSIZ), o.multiQueue ?? false, vnetHdr);
    if (o.mtu !== undefined) tun.setMtu(o.mtu);
    if (o.up) tun.setUp(true);
    return tun;
  } catch (e) {
    closeFd(fd);
    throw e;
  }
}

function ifreq(name: string): Uint8Array<ArrayBuffer> {
  const ifr = new Uint8Array(40); // struct ifreq
  ifr.set(cString(name).subarray(0, IFNAMSIZ - 1));
  return ifr;
}

function withCtlSocket<T>(fn: (fd: number) => T): T {
  const fd = libc().socket(2, 2 | 0x80000, 0);
  if (fd < 0) throw LibcError.last("socket(AF_INET, SOCK_DGRAM) for interface ioctl");
  try {
    return fn(fd);
  } finally {
    closeFd(fd);
  }
}

/** Sets the MTU of any interface by name (SIOCSIFMTU). */
export function setInterfaceMtu(name: string, mtu: number): void {
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
    throw new RangeError(`MTU must be 68..65535, got ${mtu}`);
  }
  withCtlSocket((fd) => {
    const ifr = ifreq(name);
    new DataView(ifr.buffer).setInt32(16, mtu, true);
    if (libc().ioctl(fd, SIOCSIFMTU, ifr) < 0) {
      throw LibcError.last(`ioctl(SIOCSIFMTU, ${name}, ${mtu})`);
    }
  });
}

/** The MTU of an interface by name (SIOCGIFMTU). */
export function interfaceMtu(name: string): number {
  return withCtlSocket((fd) => {
    const ifr = ifreq(name);
    if (libc().ioctl(fd, SIOCGIFMTU, ifr) < 0) {
      throw LibcError.last(`ioctl(SIOCGIFMTU, ${name})`);
    }
    return new DataView(ifr.buffer).getInt32(16, true);
  });
}

/** Sets an interface up or down by name (SIOCGIFFLAGS/SIOCSIFFLAGS). */
export function setInterfaceUp(name: string, up: boolean): void {
  withCtlSocket((fd) => {
    const ifr = ifreq(name);
    if (libc().ioctl(fd, SIOCGIFFLAGS, ifr) < 0) {
      throw LibcError.last(`ioctl(SIOCGIFFLAGS, ${name})`);
    }
    const dv = new DataView(ifr.buffer);
    const f = dv.getUint16(16, true);
    dv.setUint16(16, up ? f | IFF_UP : f & ~IFF_UP, true);
    if (libc().ioctl(fd, SIOCSIFFLAGS, ifr) < 0) {
      throw LibcError.last(`ioctl(SIOCSIFFLAGS, ${name}, ${up ? "up" : "down"})`);
    }
  });
}

// ------------------------------------------------------------------ io_uring

const URING_SYMBOLS = {
  // syscall(long nr, ...): the number as i64; the kernel truncates the rest to their types.
  syscall: { parameters: ["i64", "i32", "i32", "i32", "i32", "pointer", "i32"], result: "i32" },
  uring_setup: { name: "syscall", parameters: ["i64", "i32", "pointer"], result: "i32" },
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;
type UringLib = Deno.DynamicLibrary<typeof URING_SYMBOLS>["symbols"];
let uringLib: UringLib | null = null;

// The same numbers on x86-64 and arm64 (io_uring came after the syscall tables were unified).
const SYS_IO_URING_SETUP = 425n;
const SYS_IO_URING_ENTER = 426n;
const IORING_ENTER_GETEVENTS = 1;
const IORING_FEAT_SINGLE_MMAP = 1;
const IORING_OFF_SQES = 0x10000000;
const IORING_OP_READ = 22;
const IORING_OP_WRITE = 23;
const RWF_NOWAIT = 8;
const EBUSY = 16;
const EOPNOTSUPP = 95;
const PROT_RW = 3;
const MAP_SHARED_POPULATE = 0x01 | 0x8000;
const SQE = 64;
const CQE = 16;
const TWO32 = 0x1_0000_0000;

/** The mapping mmap() returned, or null for NULL and MAP_FAILED ((void *)-1). */
function mapped(p: Deno.PointerValue): Deno.PointerObject | null {
  if (p === null || BigInt.asIntN(64, BigInt(Deno.UnsafePointer.value(p))) === -1n) return null;
  return p;
}

/** Address of the first byte of `v` (its ArrayBuffer backing store never moves). */
function addressOf(v: Uint8Array | Int32Array): number {
  return Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(v)));
}

/**
 * Many TUN reads or writes per system call, through an io_uring (Linux >=
 * 5.6): a TUN fd moves one packet per read/write, and on a virtual machine
 * every system call costs microseconds, so the data path queues a batch of
 * them and enters the kernel once. Every operation carries RWF_NOWAIT, so
 * it runs inline during the submit, in submission order, and a read with
 * nothing queued completes at once with -EAGAIN instead of parking; the
 * call waits for all completions, so buffers may be reused as soon as it
 * returns. {@linkcode TunRing.open} checks that the TUN honours RWF_NOWAIT.
 *
 * {@linkcode TunRing.open} returns null when io_uring is unavailable
 * (seccomp, `kernel.io_uring_disabled`, old kernel): use
 * {@linkcode TunDevice.read}/{@linkcode TunDevice.write} then.
 *
 * @example
 * ```ts
 * const ring = TunRing.open(tun.fd, 64, 2048);
 * if (ring) {
 *   const n = ring.readBatch(16);   // packets in ring.packet(0..n-1)
 *   ring.queueWrite(decrypted);     // ...
 *   ring.flushWrites();             // one system call for all queued writes
 * }
 * ```
 */
export class TunRing {
  readonly fd: number;
  /** Most operations per system call. */
  readonly entries: number;
  readonly #ringFd: number;
  readonly #lib: UringLib;
  readonly #ringPtr: Deno.PointerObject;
  readonly #ringLen: number;
  readonly #sqePtr: Deno.PointerObject;
  readonly #ring32: Uint32Array;
  readonly #cq32: Int32Array;
  readonly #sqe32: Uint32Array;
  readonly #sqHead: number;
  readonly #sqTail: number;
  readonly #sqMask: number;
  readonly #cqHead: number;
  readonly #cqTail: number;
  readonly #cqMask: number;
  readonly #cqes: number;
  readonly #slot: number;
  /** Read slots: given to open(), else allocated on the first readBatch (a write-only ring needs none). */
  #rx: Uint8Array | null = null;
  #rxBase = 0;
  readonly #rxLen: Int32Array;
  /** Slots of the packets of the last readBatch, in order. */
  readonly #order: Int32Array;
  #queued = 0;
  #tail: number;
  // The addresses of the last two buffers written from (GRO arena, receive
  // slots): finding an address is a runtime call, too dear per packet.
  #lastBuf: ArrayBufferLike | null = null;
  #lastBase = 0;
  #prevBuf: ArrayBufferLike | null = null;
  #prevBase = 0;
  #closed = false;
  /** Writes the kernel refused (EAGAIN: TUN queue full, EINVAL/EIO: malformed). */
  writeErrors = 0;

  private constructor(
    fd: number,
    ringFd: number,
    lib: UringLib,
    params: DataView,
    entries: number,
    slotSize: number,
  ) {
    this.fd = fd;
    this.#ringFd = ringFd;
    this.#lib = lib;
    this.entries = entries;
    const sqEntries = params.getUint32(0, true);
    const cqEntries = params.getUint32(4, true);
    const sq = (o: number) => params.getUint32(40 + o, true);
    const cq = (o: number) => params.getUint32(80 + o, true);
    const sqLen = sq(24) + sqEntries * 4;
    const cqLen = cq(20) + cqEntries * CQE;
    if ((params.getUint32(20, true) & IORING_FEAT_SINGLE_MMAP) === 0) {
      throw new LibcError("io_uring without IORING_FEAT_SINGLE_MMAP", 95);
    }
    this.#ringLen = Math.max(sqLen, cqLen);
    const ring = mapped(
      lib.mmap(null, BigInt(this.#ringLen), PROT_RW, MAP_SHARED_POPULATE, ringFd, 0n),
    );
    if (ring === null) {
      throw LibcError.last("mmap(io_uring ring)");
    }
    this.#ringPtr = ring;
    const sqes = mapped(lib.mmap(
      null,
      BigInt(sqEntries * SQE),
      PROT_RW,
      MAP_SHARED_POPULATE,
      ringFd,
      BigInt(IORING_OFF_SQES),
    ));
    if (sqes === null) {
      lib.munmap(ring, BigInt(this.#ringLen));
      throw LibcError.last("mmap(io_uring SQEs)");
    }
    this.#sqePtr = sqes;
    const ab = Deno.UnsafePointerView.getArrayBuffer(ring, this.#ringLen);
    this.#ring32 = new Uint32Array(ab);
    this.#cq32 = new Int32Array(ab);
    this.#sqe32 = new Uint32Array(Deno.UnsafePointerView.getArrayBuffer(sqes, sqEntries * SQE));
    this.#sqHead = sq(0) / 4;
    this.#sqTail = sq(4) / 4;
    this.#sqMask = this.#ring32[sq(8) / 4];
    this.#cqHead = cq(0) / 4;
    this.#cqTail = cq(4) / 4;
    this.#cqMask = this.#ring32[cq(8) / 4];
    this.#cqes = cq(20) / 4;
    // SQ array: slot i -> SQE i, fixed.
    const arr = sq(24) / 4;
    for (let i = 0; i < sqEntries; i++) this.#ring32[arr + i] = i;
    this.#tail = this.#ring32[this.#sqTail];
    this.#slot = slotSize;
    this.#rxLen = new Int32Array(entries);
    this.#order = new Int32Array(entries);
  }

  /**
   * An io_uring of `entries` operations for the TUN `fd`, or null if
   * io_uring is unavailable. Reads land in `readBuffer` (at least `entries *
   * slotSize` bytes, kept by the ring; the data plane passes memory its
   * checksum code reads in place) or in a buffer of the ring's own.
   */
  static open(
    fd: number,
    entries = 64,
    slotSize = 65536,
    readBuffer?: Uint8Array,
  ): TunRing | null {
    if (!Number.isInteger(entries) || entries < 1 || entries > 4096) {
      throw new RangeError(`io_uring entries must be 1..4096, got ${entries}`);
    }
    if (readBuffer !== undefined && readBuffer.length < entries * slotSize) {
      throw new RangeError(
        `TUN read buffer of ${readBuffer.length} bytes; ${entries} slots of ${slotSize} need ${
          entries * slotSize
        }`,
      );
    }
    let lib: UringLib;
    try {
      uringLib ??= Deno.dlopen("libc.so.6", URING_SYMBOLS).symbols;
      lib = uringLib;
    } catch {
      return null;
    }
    const params = new Uint8Array(120);
    const ringFd = lib.uring_setup(SYS_IO_URING_SETUP, entries, Deno.UnsafePointer.of(params));
    if (ringFd < 0) return null;
    let ring: TunRing;
    try {
      ring = new TunRing(fd, ringFd, lib, new DataView(params.buffer), entries, slotSize);
    } catch {
      closeFd(ringFd);
      return null;
    }
    if (readBuffer !== undefined) {
      ring.#rx = readBuffer;
      ring.#rxBase = addressOf(readBuffer);
    }
    if (ring.#probe()) return ring;
    ring.close(); // closing the ring cancels a parked read
    return null;
  }

  /** Queues one SQE; the caller checks there is room. */
  #push(op: number, addr: number, len: number, userData: number): void {
    const s = (this.#tail & this.#sqMask) * (SQE / 4);
    const q = this.#sqe32;
    q[s] = op; // opcode, flags 0, ioprio 0
    q[s + 1] = this.fd;
    q[s + 2] = 0xffffffff; // offset -1: the file position (TUN is not seekable)
    q[s + 3] = 0xffffffff;
    q[s + 4] = addr % TWO32;
    q[s + 5] = Math.floor(addr / TWO32);
    q[s + 6] = len;
    q[s + 7] = RWF_NOWAIT; // never park the operation: EAGAIN completes it
    q[s + 8] = userData;
    q[s + 9] = 0;
    for (let i = 10; i < 16; i++) q[s + i] = 0;
    this.#tail = (this.#tail + 1) >>> 0;
  }

  /** Submits everything queued and waits until `n` completions are ready. */
  #enter(n: number): void {
    const r32 = this.#ring32;
    r32[this.#sqTail] = this.#tail;
    for (;;) {
      const toSubmit = (this.#tail - r32[this.#sqHead]) >>> 0;
      const ready = (r32[this.#cqTail] - r32[this.#cqHead]) >>> 0;
      if (toSubmit === 0 && ready >= n) return;
      const wait = Math.max(0, n - ready);
      const r = this.#lib.syscall(
        SYS_IO_URING_ENTER,
        this.#ringFd,
        toSubmit,
        wait,
        wait > 0 ? IORING_ENTER_GETEVENTS : 0,
        null,
        0,
      );
      if (r < 0) {
        const e = errno();
        if (e !== EINTR && e !== EAGAIN && e !== EBUSY) throw new LibcError("io_uring_enter", e);
      }
    }
  }

  /**
   * Checks that the TUN takes RWF_NOWAIT (the file supports non-blocking
   * io_uring operations, so reads and writes complete inline, in order, and
   * a read with nothing queued completes with EAGAIN instead of parking):
   * an empty write must fail with anything but EOPNOTSUPP, and at once.
   */
  #probe(): boolean {
    this.#push(IORING_OP_WRITE, addressOf(this.#rxLen), 0, 0);
    const r32 = this.#ring32;
    r32[this.#sqTail] = this.#tail;
    const r = this.#lib.syscall(SYS_IO_URING_ENTER, this.#ringFd, 1, 0, 0, null, 0);
    if (r !== 1) return false;
    let res = 0;
    if (this.#reap((_, v) => res = v) !== 1) return false;
    this.probeResult = res;
    return res !== -EOPNOTSUPP;
  }

  /** Result of the empty write in the start-up probe (for diagnostics). */
  probeResult = 0;

  /** Calls `f(userData, res)` for every completion and consumes them; returns how many. */
  #reap(f: (userData: number, res: number) => void): number {
    const c = this.#cq32;
    let head = c[this.#cqHead] >>> 0;
    const tail = c[this.#cqTail] >>> 0;
    let n = 0;
    while (head !== tail) {
      const o = this.#cqes + (head & this.#cqMask) * (CQE / 4);
      f(c[o], c[o + 2]);
      head = (head + 1) >>> 0;
      n++;
    }
    c[this.#cqHead] = head;
    return n;
  }

  /**
   * Reads up to `max` packets (at most `entries`) in one system call.
   * Returns how many arrived; packet `i` is {@linkcode packet}(i). Throws
   * LibcError on a read error other than EAGAIN/EINTR.
   */
  readBatch(max: number): number {
    if (this.#queued > 0) this.flushWrites();
    if (this.#rx === null) {
      this.#rx = new Uint8Array(new ArrayBuffer(this.entries * this.#slot));
      this.#rxBase = addressOf(this.#rx);
    }
    const n = Math.min(max, this.entries);
    for (let i = 0; i < n; i++) {
      this.#push(IORING_OP_READ, this.#rxBase + i * this.#slot, this.#slot, i);
    }
    this.#enter(n);
    let error = 0;
    this.#reap((i, res) => {
      if (res < 0 && res !== -EAGAIN && res !== -EINTR) error = -res;
      this.#rxLen[i] = res;
    });
    if (error) throw new LibcError(`read(TUN fd ${this.fd})`, error);
    // Reads run in submission order. A packet may arrive after an EAGAIN, so
    // every success counts (still in arrival order).
    let got = 0;
    for (let i = 0; i < n; i++) if (this.#rxLen[i] >= 0) this.#order[got++] = i;
    return got;
  }

  /** Packet `i` of the last {@linkcode readBatch} (a view, valid until the next call). */
  packet(i: number): Uint8Array {
    const k = this.#order[i];
    const s = k * this.#slot;
    return this.#rx!.subarray(s, s + this.#rxLen[k]);
  }

  /**
   * Queues a write of `packet`, which must stay unchanged until
   * {@linkcode flushWrites}; flushes first when the ring is full.
   */
  queueWrite(packet: Uint8Array): void {
    if (this.#queued >= this.entries) this.flushWrites();
    const buf = packet.buffer;
    if (buf !== this.#lastBuf) {
      const base = buf === this.#prevBuf ? this.#prevBase : addressOf(new Uint8Array(buf));
      this.#prevBuf = this.#lastBuf;
      this.#prevBase = this.#lastBase;
      this.#lastBuf = buf;
      this.#lastBase = base;
    }
    this.#push(IORING_OP_WRITE, this.#lastBase + packet.byteOffset, packet.length, 0);
    this.#queued++;
  }

  /** Writes everything queued in one system call; returns how many the kernel refused. */
  flushWrites(): number {
    const n = this.#queued;
    if (n === 0) return 0;
    this.#queued = 0;
    this.#enter(n);
    let failed = 0;
    this.#reap((_, res) => {
      if (res < 0) failed++;
    });
    this.writeErrors += failed;
    return failed;
  }

  /** Unmaps the ring and closes its fd (not the TUN fd). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#lib.munmap(this.#sqePtr, BigInt(this.entries * SQE));
    this.#lib.munmap(this.#ringPtr, BigInt(this.#ringLen));
    closeFd(this.#ringFd);
  }
}
