/**
 * Non-blocking sockets through libc: UDP (IKE on 500, ESP-in-UDP and IKE on
 * 4500), raw IP sockets for protocol 50 (ESP) and 51 (AH), IPv4 and IPv6,
 * with `recvmmsg`/`sendmmsg` batching over preallocated buffers
 * ({@linkcode MmsgBatch}), `SO_MARK` (fwmark) and `SO_BINDTODEVICE`.
 *
 * Addresses are raw network-order bytes (4 or 16); `lib/db/address.ts`
 * converts from text. Received IPv4 raw datagrams start with the IPv4
 * header; IPv6 raw datagrams start at the payload (kernel behaviour).
 *
 * @example
 * ```ts
 * const s = openUdpSocket({ family: 4, port: 4500, mark: 0x100 });
 * const batch = new MmsgBatch(64, 2048);
 * const n = batch.recv(s.fd);          // 0 when nothing is queued
 * for (let i = 0; i < n; i++) handle(batch.data(i), batch.peerAddress(i), batch.peerPort(i));
 * s.close();
 * ```
 *
 * @module
 */

import { closeFd, cString, EAGAIN, EINTR, errno, libc, LibcError } from "./libc.ts";

/** Address family numbers. */
export const AF_INET = 2;
/** IPv6 address family. */
export const AF_INET6 = 10;
const SOCK_DGRAM = 2;
const SOCK_RAW = 3;
const SOCK_NONBLOCK = 0x800;
const SOCK_CLOEXEC = 0x80000;
const SOL_SOCKET = 1;
const SO_RCVBUF = 8;
const SO_SNDBUF = 7;
const SO_RCVBUFFORCE = 33;
const SO_SNDBUFFORCE = 32;
const SO_BINDTODEVICE = 25;
const SO_MARK = 36;
/** IPv6 socket option level. */
export const IPPROTO_IPV6 = 41;
/** IPv4: report each datagram's local address (struct in_pktinfo); on send, choose the source. */
export const IP_PKTINFO = 8;
/** IPv6: report each datagram's local address (struct in6_pktinfo). */
export const IPV6_RECVPKTINFO = 49;
/** IPv6 ancillary data type of struct in6_pktinfo (received, and on send the source). */
export const IPV6_PKTINFO = 50;
const IPV6_V6ONLY = 26;
/** IPv4: report each datagram's TOS byte (IP_TOS ancillary data, one byte). */
export const IP_RECVTOS = 13;
/** IPv4 ancillary data type of the TOS byte. */
export const IP_TOS = 1;
/** IPv6: report each datagram's Traffic Class (IPV6_TCLASS ancillary data, an int). */
export const IPV6_RECVTCLASS = 66;
/** IPv6 ancillary data type of the Traffic Class. */
export const IPV6_TCLASS = 67;
/** SOL_UDP socket options (linux/udp.h). */
export const IPPROTO_IP = 0;
export const SOL_UDP = 17;
export const UDP_SEGMENT = 103;
export const UDP_GRO = 104;
/** `MSG_DONTWAIT`: per-call non-blocking. */
export const MSG_DONTWAIT = 0x40;

/** ESP protocol number. */
export const IPPROTO_ESP = 50;
/** AH protocol number. */
export const IPPROTO_AH = 51;

/** Options common to all sockets. */
export interface SocketOptions {
  family: 4 | 6;
  /** SO_MARK: fwmark on every packet sent (so policy routing can skip the TUN). */
  mark?: number;
  /** SO_BINDTODEVICE: send/receive only through this interface. */
  device?: string;
  /** Receive / send buffer sizes in bytes (forced when running as root). */
  receiveBufferBytes?: number;
  sendBufferBytes?: number;
}

/** Options for {@linkcode openUdpSocket}. */
export interface UdpSocketOptions extends SocketOptions {
  /** Local port (0 = ephemeral). */
  port: number;
  /** Local address bytes (default: any). */
  address?: Uint8Array;
}

/** Options for {@linkcode openRawSocket}. */
export interface RawSocketOptions extends SocketOptions {
  /** IP protocol, usually 50 (ESP) or 51 (AH). */
  protocol: number;
}

/** An open non-blocking socket. */
export class NetSocket {
  /** The file descriptor (for poll and batches). */
  readonly fd: number;
  readonly family: 4 | 6;
  readonly kind: "udp" | "raw";
  /** Local port (UDP; 0 for raw). */
  readonly port: number;
  #closed = false;
  readonly #name = new Uint8Array(128);
  readonly #nameLen = new Uint32Array(1);
  /** struct msghdr, iovec, sockaddr and control for {@linkcode sendToFrom} (made on first use). */
  #msg: Uint8Array<ArrayBuffer> | null = null;

  constructor(fd: number, family: 4 | 6, kind: "udp" | "raw", port: number) {
    this.fd = fd;
    this.family = family;
    this.kind = kind;
    this.port = port;
  }

  /**
   * Sends one datagram to `address` (4/16 bytes) and `port` (ignored for
   * raw). Returns bytes sent, or -1 when the socket buffer is full (EAGAIN).
   * Throws {@linkcode LibcError} on other errors.
   */
  sendTo(data: Uint8Array, address: Uint8Array, port = 0): number {
    const len = encodeSockaddr(this.#name, 0, address, port);
    const n = Number(libc().sendto(this.fd, data, BigInt(data.length), 0, this.#name, len));
    if (n < 0) {
      const e = errno();
      if (e === EAGAIN || e === EINTR) return -1;
      throw new LibcError(`sendto(${formatSockaddr(address, port)})`, e);
    }
    return n;
  }

  /**
   * Like {@linkcode sendTo}, from our address `local` (4/16 bytes): the
   * datagram's source on a socket bound to the wildcard (IP_PKTINFO /
   * IPV6_PKTINFO ancillary data). UDP only.
   */
  sendToFrom(data: Uint8Array, address: Uint8Array, port: number, local: Uint8Array): number {
    // The datagram is copied in too: a small typed array may live on the V8
    // heap, where a garbage collection can move it.
    const iovOff = MSGHDR, nameOff = MSGHDR + IOV, ctlOff = nameOff + 128, dataOff = ctlOff + 64;
    if (!this.#msg || this.#msg.length < dataOff + data.length) {
      this.#msg = new Uint8Array(new ArrayBuffer(dataOff + Math.max(2048, data.length)));
    }
    const m = this.#msg;
    const dv = new DataView(m.buffer);
    const base = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(m)));
    m.set(data, dataOff);
    const nameLen = encodeSockaddr(m, nameOff, address, port);
    m.fill(0, ctlOff, dataOff);
    let ctlLen: number;
    if (local.length === 4) {
      // struct cmsghdr (16) + struct in_pktinfo { ifindex, spec_dst, addr } (12).
      dv.setBigUint64(ctlOff, 28n, true);
      dv.setInt32(ctlOff + 8, IPPROTO_IP, true);
      dv.setInt32(ctlOff + 12, IP_PKTINFO, true);
      m.set(local, ctlOff + 16 + 4);
      ctlLen = 32;
    } else {
      // struct cmsghdr (16) + struct in6_pktinfo { addr (16), ifindex } (20).
      dv.setBigUint64(ctlOff, 36n, true);
      dv.setInt32(ctlOff + 8, IPPROTO_IPV6, true);
      dv.setInt32(ctlOff + 12, IPV6_PKTINFO, true);
      m.set(local, ctlOff + 16);
      ctlLen = 40;
    }
    dv.setBigUint64(iovOff, base + BigInt(dataOff), true);
    dv.setBigUint64(iovOff + 8, BigInt(data.length), true);
    dv.setBigUint64(0, base + BigInt(nameOff), true); // msg_name
    dv.setUint32(8, nameLen, true); // msg_namelen
    dv.setBigUint64(16, base + BigInt(iovOff), true); // msg_iov
    dv.setBigUint64(24, 1n, true); // msg_iovlen
    dv.setBigUint64(32, base + BigInt(ctlOff), true); // msg_control
    dv.setBigUint64(40, BigInt(ctlLen), true); // msg_controllen
    dv.setInt32(48, 0, true); // msg_flags
    const n = Number(libc().sendmsg(this.fd, m, 0));
    if (n < 0) {
      const e = errno();
      if (e === EAGAIN || e === EINTR) return -1;
      throw new LibcError(`sendmsg(${formatSockaddr(address, port)})`, e);
    }
    return n;
  }

  /**
   * Turns the per-datagram local address on or off (IP_PKTINFO or
   * IPV6_RECVPKTINFO): {@linkcode MmsgBatch.localAddress} then reads it.
   */
  setPacketInfo(on: boolean): void {
    if (this.family === 4) this.setIntOption(IPPROTO_IP, IP_PKTINFO, on ? 1 : 0, "IP_PKTINFO");
    else this.setIntOption(IPPROTO_IPV6, IPV6_RECVPKTINFO, on ? 1 : 0, "IPV6_RECVPKTINFO");
  }

  /**
   * Receives one datagram into `buf`; returns its length or -1 when none is
   * queued. The sender is then in {@linkcode lastPeerAddress}/{@linkcode lastPeerPort}.
   */
  recvFrom(buf: Uint8Array): number {
    this.#nameLen[0] = this.#name.length;
    const n = Number(
      libc().recvfrom(this.fd, buf, BigInt(buf.length), MSG_DONTWAIT, this.#name, this.#nameLen),
    );
    if (n < 0) {
      const e = errno();
      if (e === EAGAIN || e === EINTR) return -1;
      throw new LibcError("recvfrom", e);
    }
    return n;
  }

  /** The sender of the last {@linkcode recvFrom}. */
  lastPeerAddress(): Uint8Array {
    return decodeSockaddrAddress(this.#name, 0);
  }
  /** Source port of the last {@linkcode recvFrom} (0 for raw). */
  lastPeerPort(): number {
    return decodeSockaddrPort(this.#name, 0);
  }

  /** Sets an integer socket option; throws LibcError naming `what`. */
  setIntOption(level: number, option: number, value: number, what: string): void {
    const v = new Int32Array([value]);
    if (libc().setsockopt(this.fd, level, option, new Uint8Array(v.buffer), 4) < 0) {
      throw LibcError.last(`setsockopt(${what}=${value})`);
    }
  }

  /** Reads an integer socket option. */
  getIntOption(level: number, option: number, what: string): number {
    const v = new Int32Array(1);
    const l = new Uint32Array([4]);
    if (libc().getsockopt(this.fd, level, option, new Uint8Array(v.buffer), l) < 0) {
      throw LibcError.last(`getsockopt(${what})`);
    }
    return v[0];
  }

  /** The fwmark set with SO_MARK (0 when none). */
  get mark(): number {
    return this.getIntOption(SOL_SOCKET, SO_MARK, "SO_MARK") >>> 0;
  }

  /** Closes the socket (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeFd(this.fd);
  }
}

function openSocket(
  o: SocketOptions,
  type: number,
  protocol: number,
  kind: "udp" | "raw",
): NetSocket {
  const af = o.family === 4 ? AF_INET : AF_INET6;
  const fd = libc().socket(af, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd < 0) {
    throw LibcError.last(
      `socket(${o.family === 4 ? "AF_INET" : "AF_INET6"}, ${kind}, ${protocol})`,
    );
  }
  const s = new NetSocket(fd, o.family, kind, 0);
  try {
    applyCommon(s, o);
  } catch (e) {
    s.close();
    throw e;
  }
  return s;
}

function applyCommon(s: NetSocket, o: SocketOptions): void {
  if (o.mark !== undefined && o.mark !== 0) s.setIntOption(SOL_SOCKET, SO_MARK, o.mark, "SO_MARK");
  if (o.device !== undefined) {
    const name = cString(o.device);
    if (libc().setsockopt(s.fd, SOL_SOCKET, SO_BINDTODEVICE, name, name.length) < 0) {
      throw LibcError.last(`setsockopt(SO_BINDTODEVICE=${o.device})`);
    }
  }
  if (o.receiveBufferBytes !== undefined) {
    try {
      s.setIntOption(SOL_SOCKET, SO_RCVBUFFORCE, o.receiveBufferBytes, "SO_RCVBUFFORCE");
    } catch {
      s.setIntOption(SOL_SOCKET, SO_RCVBUF, o.receiveBufferBytes, "SO_RCVBUF");
    }
  }
  if (o.sendBufferBytes !== undefined) {
    try {
      s.setIntOption(SOL_SOCKET, SO_SNDBUFFORCE, o.sendBufferBytes, "SO_SNDBUFFORCE");
    } catch {
      s.setIntOption(SOL_SOCKET, SO_SNDBUF, o.sendBufferBytes, "SO_SNDBUF");
    }
  }
}

/**
 * Opens and binds a non-blocking UDP socket. No SO_REUSEADDR: for UDP it
 * would let a second daemon share the port silently, so a taken port fails
 * with EADDRINUSE. IPv6 sockets are IPV6_V6ONLY so a separate IPv4 socket
 * can bind the same port.
 */
export function openUdpSocket(o: UdpSocketOptions): NetSocket {
  const s0 = openSocket(o, SOCK_DGRAM, 0, "udp");
  try {
    if (o.family === 6) s0.setIntOption(IPPROTO_IPV6, IPV6_V6ONLY, 1, "IPV6_V6ONLY");
    const addr = o.address ?? new Uint8Array(o.family === 4 ? 4 : 16);
    if (addr.length !== (o.family === 4 ? 4 : 16)) {
      throw new RangeError(`IPv${o.family} socket needs a ${o.family === 4 ? 4 : 16}-byte address`);
    }
    const sa = new Uint8Array(128);
    const len = encodeSockaddr(sa, 0, addr, o.port);
    if (libc().bind(s0.fd, sa, len) < 0) {
      throw LibcError.last(`bind(udp ${formatSockaddr(addr, o.port)})`);
    }
    const l = new Uint32Array([128]);
    if (libc().getsockname(s0.fd, sa, l) < 0) throw LibcError.last("getsockname");
    return new NetSocket(s0.fd, o.family, "udp", decodeSockaddrPort(sa, 0));
  } catch (e) {
    s0.close();
    throw e;
  }
}

/**
 * Opens a non-blocking raw IP socket for `protocol` (50 ESP, 51 AH). It
 * receives every packet of that protocol addressed to this host; sends get
 * their IP header from the kernel (destination from `sendTo`). Protocol 255
 * (IPPROTO_RAW) is send-only and header-included: each datagram is a whole
 * IP packet (IPv4: the kernel fills in the checksum, total length and a
 * zero ID; IPv6: sent as is).
 */
export function openRawSocket(o: RawSocketOptions): NetSocket {
  if (!Number.isInteger(o.protocol) || o.protocol < 1 || o.protocol > 255) {
    throw new RangeError(`raw socket protocol must be 1..255, got ${o.protocol}`);
  }
  return openSocket(o, SOCK_RAW, o.protocol, "raw");
}

/** IPPROTO_IP / IP_MTU and IPV6_MTU: the path MTU of a connected socket's route. */
const IP_MTU = 14;
const IPV6_MTU = 24;

/**
 * Asks the kernel about its route toward `remote` (4 or 16 address bytes):
 * a UDP socket with fwmark `mark` is connected (nothing is sent) and handed
 * to `ask` with its sockaddr scratch. Undefined when there is no route or
 * `ask` throws.
 */
export function withRouteTo<T>(
  remote: Uint8Array,
  mark: number,
  ask: (sock: NetSocket, sockaddr: Uint8Array) => T | undefined,
): T | undefined {
  let sock: NetSocket;
  try {
    sock = openUdpSocket({
      family: remote.length === 4 ? 4 : 6,
      port: 0,
      ...(mark ? { mark } : {}),
    });
  } catch {
    return undefined;
  }
  try {
    const sa = new Uint8Array(128);
    const len = encodeSockaddr(sa, 0, remote, 4500);
    if (libc().connect(sock.fd, sa, len) < 0) return undefined;
    return ask(sock, sa);
  } catch {
    return undefined;
  } finally {
    sock.close();
  }
}

/**
 * The MTU of the route toward `remote` (4 or 16 address bytes) as the kernel
 * knows it (interface MTU, or a smaller learned path MTU), from IP_MTU /
 * IPV6_MTU of a connected socket ({@linkcode withRouteTo}). Undefined when
 * there is no route.
 */
export function routeMtu(remote: Uint8Array, mark = 0): number | undefined {
  return withRouteTo(
    remote,
    mark,
    (sock) =>
      remote.length === 4
        ? sock.getIntOption(IPPROTO_IP, IP_MTU, "IP_MTU")
        : sock.getIntOption(IPPROTO_IPV6, IPV6_MTU, "IPV6_MTU"),
  );
}

// ------------------------------------------------------------------ sockaddr

/**
 * Writes a sockaddr_in (16 bytes) or sockaddr_in6 (28 bytes) for `address`
 * (4 or 16 bytes) and `port` at `off`; returns its length.
 */
export function encodeSockaddr(
  out: Uint8Array,
  off: number,
  address: Uint8Array,
  port: number,
): number {
  if (address.length === 4) {
    out.fill(0, off, off + 16);
    out[off] = AF_INET & 0xff; // sa_family is host order (little endian here)
    out[off + 1] = AF_INET >> 8;
    out[off + 2] = port >> 8;
    out[off + 3] = port & 0xff;
    out.set(address, off + 4);
    return 16;
  }
  if (address.length === 16) {
    out.fill(0, off, off + 28);
    out[off] = AF_INET6;
    out[off + 2] = port >> 8;
    out[off + 3] = port & 0xff;
    out.set(address, off + 8);
    return 28;
  }
  throw new RangeError(`an IP address has 4 or 16 bytes, got ${address.length}`);
}

/** Address bytes (a copy) of a sockaddr at `off`. */
export function decodeSockaddrAddress(buf: Uint8Array, off: number): Uint8Array {
  const fam = buf[off] | (buf[off + 1] << 8);
  if (fam === AF_INET) return buf.slice(off + 4, off + 8);
  if (fam === AF_INET6) return buf.slice(off + 8, off + 24);
  return new Uint8Array(0);
}

/** Port of a sockaddr at `off` (0 for raw sockets). */
export function decodeSockaddrPort(buf: Uint8Array, off: number): number {
  return (buf[off + 2] << 8) | buf[off + 3];
}

/** "192.0.2.1:500" or "[2001:db8::1]:500" for messages. */
export function formatSockaddr(address: Uint8Array, port: number): string {
  if (address.length === 4) return `${address.join(".")}:${port}`;
  const g: string[] = [];
  for (let i = 0; i < address.length; i += 2) {
    g.push(((address[i] << 8) | address[i + 1]).toString(16));
  }
  return `[${g.join(":")}]:${port}`;
}

// --------------------------------------------------------------- mmsg batches

/** sizeof(struct mmsghdr) on LP64. */
export const MMSG = 64;
/** sizeof(struct iovec). */
export const IOV = 16;
/** sizeof(struct msghdr). */
const MSGHDR = 56;
/** Room per message for a sockaddr_in6 (28 bytes). */
export const NAME = 32;

/**
 * A preallocated array of `struct mmsghdr` with one data slot, iovec and
 * sockaddr per message, for `recvmmsg`/`sendmmsg` without per-packet
 * allocation. All memory lives in one ArrayBuffer (off the V8 heap, so the
 * kernel-visible pointers are stable).
 *
 * Each slot has `headroom` free bytes before its data: a receiver can write
 * a header in front of the received bytes without copying them.
 *
 * Layout of `struct mmsghdr` (x86_64/aarch64): msg_name@0, msg_namelen@8,
 * msg_iov@16, msg_iovlen@24, msg_control@32, msg_controllen@40,
 * msg_flags@48, msg_len@56.
 */
export class MmsgBatch {
  /** Number of messages per call. */
  readonly count: number;
  /** Data bytes per slot. */
  readonly slotSize: number;
  /** Free bytes before each slot's data. */
  readonly headroom: number;
  readonly #stride: number;
  readonly #mem: Uint8Array<ArrayBuffer>;
  readonly #dv: DataView;
  readonly #hdrs: Uint8Array<ArrayBuffer>;
  readonly #hdrOff: number;
  readonly #nameOff: number;
  readonly #iovOff: number;
  /** Per-slot views (whole slot; data area), made once: no view per packet. */
  readonly #slotViews: Uint8Array[] = [];
  readonly #dataViews: Uint8Array[] = [];
  /** Messages filled for sending. */
  #pending = 0;
  #failed = 0;
  /** Bytes of msg_control per message (0: none), after the headers. */
  readonly #control: number;
  readonly #ctlOff: number;
  /** Staging slots (headroom + slotSize each) for {@linkcode stage}. */
  readonly #stageOff: number;
  readonly #stageStride: number;
  readonly #stagingSize: number;
  readonly #stageViews: Uint8Array[] = [];
  #staged = 0;
  /** Address of the memory, as a number (for iovecs built elsewhere). */
  readonly #base: number;

  /**
   * `options.control`: bytes of ancillary data to receive per message (e.g.
   * 32 for UDP_GRO's segment size, {@linkcode groSize}). `options.staging`:
   * extra slots of `options.stagingSize` bytes (default `slotSize`), each
   * with the same headroom, that {@linkcode stage} copies parts of received
   * messages into (to split a coalesced UDP datagram).
   */
  constructor(
    count = 64,
    slotSize = 2048,
    headroom = 0,
    options: { control?: number; staging?: number; stagingSize?: number } = {},
  ) {
    if (!Number.isInteger(count) || count < 1 || count > 1024) {
      throw new RangeError(`batch count must be 1..1024, got ${count}`);
    }
    if (!Number.isInteger(slotSize) || slotSize < 64 || slotSize > 65536) {
      throw new RangeError(`slot size must be 64..65536, got ${slotSize}`);
    }
    if (!Number.isInteger(headroom) || headroom < 0 || headroom > 256) {
      throw new RangeError(`headroom must be 0..256, got ${headroom}`);
    }
    this.count = count;
    this.slotSize = slotSize;
    this.headroom = headroom;
    const control = options.control ?? 0;
    const staging = options.staging ?? 0;
    const stagingSize = options.stagingSize ?? slotSize;
    if (!Number.isInteger(stagingSize) || stagingSize < 64 || stagingSize > 65536) {
      throw new RangeError(`staging slot size must be 64..65536, got ${stagingSize}`);
    }
    if (!Number.isInteger(control) || control < 0 || control > 256 || control % 8 !== 0) {
      throw new RangeError(`control bytes must be 0..256 in steps of 8, got ${control}`);
    }
    if (!Number.isInteger(staging) || staging < 0 || staging > 4096) {
      throw new RangeError(`staging slots must be 0..4096, got ${staging}`);
    }
    this.#control = control;
    this.#stride = (headroom + slotSize + 7) & ~7;
    this.#stagingSize = stagingSize;
    this.#stageStride = (headroom + stagingSize + 7) & ~7;
    this.#nameOff = count * this.#stride;
    this.#iovOff = this.#nameOff + count * NAME;
    this.#hdrOff = this.#iovOff + count * IOV;
    this.#ctlOff = this.#hdrOff + count * MMSG;
    this.#stageOff = this.#ctlOff + count * control;
    const total = this.#stageOff + staging * this.#stageStride;
    this.#mem = new Uint8Array(new ArrayBuffer(total));
    this.#dv = new DataView(this.#mem.buffer);
    this.#hdrs = this.#mem.subarray(this.#hdrOff, this.#ctlOff);
    this.#base = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(this.#mem)));
    const base = BigInt(this.#base);
    const dv = this.#dv;
    for (let k = 0; k < staging; k++) {
      const s = this.#stageOff + k * this.#stageStride;
      this.#stageViews.push(this.#mem.subarray(s, s + this.#stageStride));
    }
    for (let i = 0; i < count; i++) {
      const h = this.#hdrOff + i * MMSG;
      const iov = this.#iovOff + i * IOV;
      dv.setBigUint64(iov, base + BigInt(i * this.#stride + headroom), true);
      dv.setBigUint64(iov + 8, BigInt(slotSize), true);
      dv.setBigUint64(h, base + BigInt(this.#nameOff + i * NAME), true);
      dv.setUint32(h + 8, NAME, true);
      dv.setBigUint64(h + 16, base + BigInt(iov), true);
      dv.setBigUint64(h + 24, 1n, true);
      if (control > 0) dv.setBigUint64(h + 32, base + BigInt(this.#ctlOff + i * control), true);
      const s = i * this.#stride;
      this.#slotViews.push(this.#mem.subarray(s, s + this.#stride));
      this.#dataViews.push(this.#mem.subarray(s + headroom, s + headroom + slotSize));
    }
  }

  /**
   * Receives up to `count` datagrams from `fd` without blocking; returns how
   * many (0 when none). Throws LibcError on errors other than EAGAIN/EINTR.
   */
  recv(fd: number): number {
    const dv = this.#dv;
    for (let i = 0; i < this.count; i++) {
      dv.setUint32(this.#hdrOff + i * MMSG + 8, NAME, true);
      dv.setUint32(this.#iovOff + i * IOV + 8, this.slotSize, true); // iov_len (high half is 0)
      if (this.#control > 0) dv.setUint32(this.#hdrOff + i * MMSG + 40, this.#control, true);
    }
    this.#staged = 0;
    const n = libc().recvmmsg(fd, this.#hdrs, this.count, MSG_DONTWAIT, null);
    if (n < 0) {
      const e = errno();
      if (e === EAGAIN || e === EINTR) return 0;
      throw new LibcError("recvmmsg", e);
    }
    return n;
  }

  /** Length of received message `i`. */
  length(i: number): number {
    return this.#dv.getUint32(this.#hdrOff + i * MMSG + 56, true);
  }

  /**
   * The whole slot of message `i`, headroom included: its data starts at
   * offset {@linkcode headroom}. A view, valid until the next call.
   */
  slot(i: number): Uint8Array {
    return this.#slotViews[i];
  }

  /**
   * The segment size the kernel reported for received message `i` when it
   * coalesced several datagrams of one flow into it (UDP_GRO ancillary data):
   * the message is then segments of this size, the last one possibly
   * shorter. 0 when the message is one datagram.
   */
  groSize(i: number): number {
    const c = this.#cmsg(i, SOL_UDP, UDP_GRO, 2);
    return c < 0 ? 0 : this.#dv.getUint16(c, true);
  }

  /**
   * The TOS byte (IPv4) or Traffic Class (IPv6) of received message `i`'s IP
   * header (IP_TOS / IPV6_TCLASS ancillary data, asked for with IP_RECVTOS /
   * IPV6_RECVTCLASS), or -1 when the kernel gave none.
   */
  tos(i: number): number {
    const v4 = this.#cmsg(i, IPPROTO_IP, IP_TOS, 1);
    if (v4 >= 0) return this.#mem[v4];
    const v6 = this.#cmsg(i, IPPROTO_IPV6, IPV6_TCLASS, 4);
    return v6 < 0 ? -1 : this.#dv.getInt32(v6, true) & 0xff;
  }

  /**
   * The local address received message `i` was sent to (IP_PKTINFO /
   * IPV6_PKTINFO ancillary data, see {@linkcode NetSocket.setPacketInfo}),
   * or null when the kernel gave none.
   */
  localAddress(i: number): Uint8Array | null {
    // in_pktinfo: ifindex, spec_dst, addr (the header's destination); in6_pktinfo: addr, ifindex.
    const v4 = this.#cmsg(i, IPPROTO_IP, IP_PKTINFO, 12);
    if (v4 >= 0) return this.#mem.slice(v4 + 8, v4 + 12);
    const v6 = this.#cmsg(i, IPPROTO_IPV6, IPV6_PKTINFO, 20);
    return v6 < 0 ? null : this.#mem.slice(v6, v6 + 16);
  }

  /**
   * Offset of the data of message `i`'s control message `level`/`type`
   * with at least `min` bytes of data, or -1.
   */
  #cmsg(i: number, level: number, type: number, min: number): number {
    if (this.#control === 0) return -1;
    const dv = this.#dv;
    const len = dv.getUint32(this.#hdrOff + i * MMSG + 40, true); // msg_controllen (low half)
    let c = this.#ctlOff + i * this.#control;
    const end = c + Math.min(len, this.#control);
    while (c + 16 <= end) {
      const clen = dv.getUint32(c, true);
      if (clen < 16) break;
      if (dv.getInt32(c + 8, true) === level && dv.getInt32(c + 12, true) === type) {
        return clen >= 16 + min ? c + 16 : -1;
      }
      c += (clen + 7) & ~7;
    }
    return -1;
  }

  /**
   * Copies `length` bytes of received message `i`, from offset `from` of its
   * data, into the next staging slot after its headroom (no allocation);
   * returns that slot (headroom included, like {@linkcode slot}), or null
   * when every staging slot is in use since the last {@linkcode recv} /
   * {@linkcode resetStaging}, or `length` is bigger than a staging slot.
   */
  stage(i: number, from: number, length: number): Uint8Array | null {
    const k = this.#staged;
    if (k >= this.#stageViews.length || length > this.#stagingSize) return null;
    this.#staged = k + 1;
    const src = i * this.#stride + this.headroom + from;
    const dst = this.#stageOff + k * this.#stageStride + this.headroom;
    this.#mem.copyWithin(dst, src, src + length);
    return this.#stageViews[k];
  }

  /** Staging slots left before {@linkcode stage} returns null. */
  get stagingFree(): number {
    return this.#stageViews.length - this.#staged;
  }

  /** Makes every staging slot free again (their views must be done with). */
  resetStaging(): void {
    this.#staged = 0;
  }

  /** Received bytes of message `i` (a view, valid until the next call). */
  data(i: number): Uint8Array {
    const s = i * this.#stride + this.headroom;
    return this.#mem.subarray(s, s + this.length(i));
  }

  /** Sender address of received message `i` (a copy). */
  peerAddress(i: number): Uint8Array {
    return decodeSockaddrAddress(this.#mem, this.#nameOff + i * NAME);
  }

  /** Sender port of received message `i`. */
  peerPort(i: number): number {
    return decodeSockaddrPort(this.#mem, this.#nameOff + i * NAME);
  }

  /** Copies the sender address of message `i` into `out` at `off` (4 or 16 bytes); returns its length. */
  copyPeerAddress(i: number, out: Uint8Array, off: number): number {
    const o = this.#nameOff + i * NAME;
    const m = this.#mem;
    if (m[o] === AF_INET) {
      for (let k = 0; k < 4; k++) out[off + k] = m[o + 4 + k];
      return 4;
    }
    for (let k = 0; k < 16; k++) out[off + k] = m[o + 8 + k];
    return 16;
  }

  /** Messages queued for sending. */
  get pending(): number {
    return this.#pending;
  }

  /** True when no more messages can be queued. */
  get full(): boolean {
    return this.#pending >= this.count;
  }

  /**
   * Queues `data` for `address`/`port` (copied into the next slot); returns
   * false when the batch is full or `data` is bigger than a slot.
   */
  push(data: Uint8Array, address: Uint8Array, port = 0): boolean {
    const slot = this.reserve();
    if (slot === null || data.length > this.slotSize) return false;
    slot.set(data);
    this.commit(data.length, address, port);
    return true;
  }

  /**
   * The data area (slotSize bytes) of the next free slot, to build a packet
   * in place; then {@linkcode commit} it. Null when the batch is full.
   */
  reserve(): Uint8Array | null {
    const i = this.#pending;
    if (i >= this.count) return null;
    return this.#dataViews[i];
  }

  /** Queues the slot returned by {@linkcode reserve} with `length` bytes for `address`/`port`. */
  commit(length: number, address: Uint8Array, port = 0): void {
    const i = this.#pending;
    const h = this.#hdrOff + i * MMSG;
    const nl = encodeSockaddr(this.#mem, this.#nameOff + i * NAME, address, port);
    this.#dv.setUint32(h + 8, nl, true);
    this.#dv.setUint32(this.#iovOff + i * IOV + 8, length, true); // iov_len (high half is 0)
    this.#pending = i + 1;
  }

  /**
   * Queues the reserved slot with `length` bytes for the destination address
   * of the IPv4 or IPv6 header at its start (port 0: raw sockets), without
   * a view or copy of the address.
   */
  commitToIpDestination(length: number): void {
    const i = this.#pending;
    const m = this.#mem;
    const d = i * this.#stride + this.headroom;
    const o = this.#nameOff + i * NAME;
    let nl: number;
    if (m[d] >> 4 === 4) {
      m.fill(0, o, o + 16);
      m[o] = AF_INET & 0xff;
      m[o + 1] = AF_INET >> 8;
      for (let k = 0; k < 4; k++) m[o + 4 + k] = m[d + 16 + k];
      nl = 16;
    } else {
      m.fill(0, o, o + 28);
      m[o] = AF_INET6;
      for (let k = 0; k < 16; k++) m[o + 8 + k] = m[d + 24 + k];
      nl = 28;
    }
    const h = this.#hdrOff + i * MMSG;
    this.#dv.setUint32(h + 8, nl, true);
    this.#dv.setUint32(this.#iovOff + i * IOV + 8, length, true); // iov_len (high half is 0)
    this.#pending = i + 1;
  }

  /** Bytes queued in message `i` (before {@linkcode flush}). */
  pendingLength(i: number): number {
    return this.#dv.getUint32(this.#iovOff + i * IOV + 8, true);
  }

  /** Offset of message `i`'s data in {@linkcode memory}. */
  dataOffset(i: number): number {
    return i * this.#stride + this.headroom;
  }

  /** Address of message `i`'s data (for an iovec). */
  dataAddress(i: number): number {
    return this.#base + i * this.#stride + this.headroom;
  }

  /** All of the batch's memory (slots first): read queued messages through {@linkcode dataOffset}. */
  get memory(): Uint8Array {
    return this.#mem;
  }

  /**
   * Sends the queued messages with `sendmmsg` and clears the queue. Returns
   * how many were sent; the rest (socket buffer full, or an error for one
   * destination) are dropped: `pending before - returned`.
   */
  flush(fd: number): number {
    const total = this.#pending;
    this.#pending = 0;
    return this.sendRange(fd, 0, total);
  }

  /** Drops the queued messages without sending them. */
  clear(): void {
    this.#pending = 0;
  }

  /**
   * Sends queued messages `from` (inclusive) to `to` (exclusive) with
   * `sendmmsg`, leaving the queue as it is (see {@linkcode clear}). Returns
   * how many were sent, as {@linkcode flush} does.
   */
  sendRange(fd: number, from: number, to: number): number {
    let done = from;
    const total = to;
    this.#failed = 0;
    while (done < total) {
      const n = libc().sendmmsg(fd, this.#hdrs.subarray(done * MMSG), total - done, 0);
      if (n > 0) {
        done += n;
        continue;
      }
      const e = errno();
      if (n < 0 && e === EINTR) continue;
      if (n < 0 && e !== EAGAIN) {
        // The first unsent message failed (e.g. EMSGSIZE, EHOSTUNREACH): skip it.
        done++;
        this.#failed++;
        this.lastError = e;
        continue;
      }
      break;
    }
    return done - from - this.#failed;
  }

  /** errno of the last per-message send failure in {@linkcode flush} (0 if none). */
  lastError = 0;
}
