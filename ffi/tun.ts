/**
 * TUN devices through `/dev/net/tun` (TUNSETIFF with IFF_TUN | IFF_NO_PI,
 * optionally IFF_MULTI_QUEUE), non-blocking, with MTU and up/down set by
 * ioctl on a helper socket. Each `read` returns one IP packet; each `write`
 * injects one.
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
}

/** One open TUN queue. */
export class TunDevice {
  /** The fd (non-blocking) for poll and read/write. */
  readonly fd: number;
  /** Interface name the kernel assigned. */
  readonly name: string;
  readonly multiQueue: boolean;
  #closed = false;

  constructor(fd: number, name: string, multiQueue: boolean) {
    this.fd = fd;
    this.name = name;
    this.multiQueue = multiQueue;
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
  const fd = libc().open(cString("/dev/net/tun"), O_RDWR | O_NONBLOCK | O_CLOEXEC, 0);
  if (fd < 0) throw LibcError.last("open(/dev/net/tun)");
  try {
    const ifr = ifreq(name);
    const flags = IFF_TUN | IFF_NO_PI | (o.multiQueue ? IFF_MULTI_QUEUE : 0);
    ifr[16] = flags & 0xff;
    ifr[17] = flags >> 8;
    if (libc().ioctl(fd, TUNSETIFF, ifr) < 0) {
      throw LibcError.last(`ioctl(TUNSETIFF, ${name || "tun%d"})`);
    }
    const tun = new TunDevice(fd, readCString(ifr, 0, IFNAMSIZ), o.multiQueue ?? false);
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
