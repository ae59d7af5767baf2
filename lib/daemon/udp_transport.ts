/**
 * IKE over UDP 500 and 4500 with node:dgram (IKE is a few packets per second:
 * no need for the data plane's batched FFI sockets, and no unstable flag).
 *
 * Port 4500 carries both IKE and ESP-in-UDP (RFC 3948): IKE messages start
 * with a 4-byte non-ESP marker of zeros, a single 0xff byte is a NAT-T
 * keepalive, anything else is ESP and goes to `onEsp` when the data plane
 * wants it. The production runtime leaves 4500 to the data plane instead
 * (`bindNatt: false`, see lib/daemon/natt_transport.ts): ESP-in-UDP must
 * reach its Workers, and only one socket can own the port.
 *
 * Listening on the wildcard, a request sent to one of several addresses of
 * this host must be answered from that address (the peer's NAT detection
 * hashes it, and firewalls expect it), which a wildcard socket cannot tell
 * or do. So besides the wildcard sockets, each of our addresses gets its own
 * socket ({@linkcode UdpIkeTransport.setLocalAddresses}, fed by the address
 * monitor): the kernel delivers to the most specific one, and what it
 * receives is answered through it. All of them set SO_REUSEADDR, which lets
 * the specific binds share the port with the wildcard.
 *
 * @module
 */
import dgram from "node:dgram";
import type { Endpoint } from "../ikev2/effects.ts";
import type { IkeTransport } from "./ports.ts";
import { isWildcardAddress } from "./route_source.ts";

/** The IKE port. */
export const IKE_PORT = 500;
/** The NAT-T port (IKE with a non-ESP marker, and ESP-in-UDP). */
export const NATT_PORT = 4500;

/** What arrived on a NAT-T port datagram. */
export type NattDatagram =
  | { readonly kind: "ike"; readonly bytes: Uint8Array }
  | { readonly kind: "keepalive" }
  | { readonly kind: "esp"; readonly bytes: Uint8Array }
  | { readonly kind: "runt" };

/** Classifies a datagram received on UDP 4500 (RFC 3948 section 2.2). */
export function classifyNattDatagram(b: Uint8Array): NattDatagram {
  if (b.length === 1 && b[0] === 0xff) return { kind: "keepalive" };
  if (b.length < 4) return { kind: "runt" };
  if (b[0] === 0 && b[1] === 0 && b[2] === 0 && b[3] === 0) {
    return { kind: "ike", bytes: b.subarray(4) };
  }
  return { kind: "esp", bytes: b };
}

/** Prefixes an IKE message with the non-ESP marker for port 4500. */
export function addNonEspMarker(ike: Uint8Array): Uint8Array {
  const out = new Uint8Array(ike.length + 4);
  out.set(ike, 4);
  return out;
}

/** Options of {@link UdpIkeTransport}. */
export interface UdpIkeTransportOptions {
  /** Addresses to bind (empty: the IPv4 and IPv6 wildcards). */
  readonly addresses: readonly string[];
  /** Ports (default 500 and 4500; tests use unprivileged ones). */
  readonly ikePort?: number;
  readonly nattPort?: number;
  /** Bind the NAT-T port (default true; false when the data plane owns it). */
  readonly bindNatt?: boolean;
  /** ESP-in-UDP arriving on the NAT-T port. */
  readonly onEsp?: (bytes: Uint8Array, from: Endpoint, to: Endpoint) => void;
  /** Datagrams that were dropped, with the reason. */
  readonly onDrop?: (reason: string, from: Endpoint) => void;
}

interface Bound {
  readonly socket: dgram.Socket;
  readonly local: Endpoint;
  readonly natt: boolean;
  /** Bound to one of our addresses next to the wildcard (see setLocalAddresses). */
  readonly specific?: boolean;
}

/**
 * Binds UDP sockets for IKE on each configured address.
 *
 * @example
 * ```ts
 * const t = new UdpIkeTransport({ addresses: ["192.0.2.1"] });
 * await t.start((bytes, from, to) => console.log(bytes.length, from, to));
 * ```
 */
export class UdpIkeTransport implements IkeTransport {
  #opts: UdpIkeTransportOptions;
  #bound: Bound[] = [];
  #onMessage: ((bytes: Uint8Array, from: Endpoint, to: Endpoint) => void) | null = null;
  /** Addresses with sockets of their own (or being bound), wildcard listening only. */
  #specific = new Set<string>();

  constructor(opts: UdpIkeTransportOptions) {
    this.#opts = opts;
  }

  /** The endpoints actually bound (ports resolved when 0 was asked). */
  get endpoints(): Endpoint[] {
    return this.#bound.map((b) => b.local);
  }

  async start(
    onMessage: (bytes: Uint8Array, from: Endpoint, to: Endpoint) => void,
  ): Promise<void> {
    const addrs = this.#opts.addresses.length > 0 ? this.#opts.addresses : ["0.0.0.0", "::"];
    this.#onMessage = onMessage;
    try {
      for (const address of addrs) {
        for (const [port, natt] of this.#ports()) {
          this.#bound.push(await this.#bind(address, port, natt, onMessage));
        }
      }
    } catch (e) {
      this.close();
      throw e;
    }
  }

  #ports(): [number, boolean][] {
    // The ports actually bound (0 asks the kernel; the wildcard's port is then the one).
    const ike = this.#bound.find((b) => !b.natt && !b.specific)?.local.port;
    const natt = this.#bound.find((b) => b.natt && !b.specific)?.local.port;
    const ports: [number, boolean][] = [[ike ?? this.#opts.ikePort ?? IKE_PORT, false]];
    if (this.#opts.bindNatt ?? true) ports.push([natt ?? this.#opts.nattPort ?? NATT_PORT, true]);
    return ports;
  }

  /**
   * Our addresses now (wildcard listening only; otherwise a no-op): each
   * gets sockets of its own on the IKE ports, and those of addresses that
   * went away are closed. An address that cannot be bound yet (an IPv6
   * address still in duplicate address detection) is tried again on the
   * next call; meanwhile the wildcard socket serves it as before.
   */
  async setLocalAddresses(addresses: readonly string[]): Promise<void> {
    if (this.#opts.addresses.length > 0 || !this.#onMessage) return;
    const want = new Set(addresses.filter((a) => !isWildcardAddress(a)));
    for (const b of [...this.#bound]) {
      if (b.specific && !want.has(b.local.address)) {
        this.#bound = this.#bound.filter((x) => x !== b);
        this.#specific.delete(b.local.address);
        try {
          b.socket.close();
        } catch { /* already closed */ }
      }
    }
    const onMessage = this.#onMessage;
    for (const address of want) {
      if (this.#specific.has(address)) continue;
      this.#specific.add(address);
      const got: Bound[] = [];
      try {
        for (const [port, natt] of this.#ports()) {
          got.push(await this.#bind(address, port, natt, onMessage, true));
        }
      } catch {
        for (const b of got) b.socket.close();
        this.#specific.delete(address);
        continue;
      }
      // Closed meanwhile, or the address went away in a later call: drop them.
      if (!this.#onMessage || !this.#specific.has(address)) {
        for (const b of got) b.socket.close();
        continue;
      }
      this.#bound.push(...got);
    }
  }

  async #bind(
    address: string,
    port: number,
    natt: boolean,
    onMessage: (bytes: Uint8Array, from: Endpoint, to: Endpoint) => void,
    specific = false,
  ): Promise<Bound> {
    const v6 = address.includes(":");
    // SO_REUSEADDR on the wildcard too: an address of ours may then bind the port as well.
    const reuseAddr = this.#opts.addresses.length === 0;
    // But another IKE daemon on this port (charon sets SO_REUSEADDR as well) must
    // still be an error: a bind without it fails while anyone holds the port.
    if (reuseAddr && !specific && port !== 0) await this.#probe(address, port, v6);
    const socket = dgram.createSocket({ type: v6 ? "udp6" : "udp4", ipv6Only: v6, reuseAddr });
    return await new Promise((resolve, reject) => {
      socket.once("error", (e) => {
        reject(new Error(`cannot bind UDP ${address} port ${port} for IKE: ${e.message}`));
      });
      socket.bind(port, address, () => {
        const a = socket.address();
        const local = { address, port: a.port };
        socket.on("message", (msg, rinfo) => {
          const from = { address: rinfo.address, port: rinfo.port };
          const bytes = new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength);
          if (!natt) return onMessage(bytes, from, local);
          const d = classifyNattDatagram(bytes);
          if (d.kind === "ike") onMessage(d.bytes, from, local);
          else if (d.kind === "esp" && this.#opts.onEsp) this.#opts.onEsp(d.bytes, from, local);
          else if (d.kind !== "keepalive") this.#opts.onDrop?.(`${d.kind} on NAT-T port`, from);
        });
        resolve({ socket, local, natt, ...(specific ? { specific } : {}) });
      });
    });
  }

  /** Binds and closes a socket without SO_REUSEADDR: rejects when the port is taken. */
  #probe(address: string, port: number, v6: boolean): Promise<void> {
    const probe = dgram.createSocket({ type: v6 ? "udp6" : "udp4", ipv6Only: v6 });
    return new Promise((resolve, reject) => {
      probe.once("error", (e) => {
        reject(new Error(`cannot bind UDP ${address} port ${port} for IKE: ${e.message}`));
      });
      probe.bind(port, address, () => probe.close(() => resolve()));
    });
  }

  #pick(from: Endpoint): Bound {
    const wildcard = from.address.includes(":") ? "::" : "0.0.0.0";
    const samePort = this.#bound.filter((b) => b.local.port === from.port);
    const b = samePort.find((b) => b.local.address === from.address) ??
      samePort.find((b) => b.local.address === wildcard);
    if (b) return b;
    throw new Error(`no IKE socket bound to ${from.address} port ${from.port}`);
  }

  send(bytes: Uint8Array, from: Endpoint, to: Endpoint, raw = false): Promise<void> {
    let b: Bound;
    try {
      b = this.#pick(from);
    } catch (e) {
      return Promise.reject(e);
    }
    const out = b.natt && !raw ? addNonEspMarker(bytes) : bytes;
    return new Promise((resolve, reject) => {
      b.socket.send(out, to.port, to.address, (err) => err ? reject(err) : resolve());
    });
  }

  close(): void {
    this.#onMessage = null;
    this.#specific.clear();
    for (const b of this.#bound) {
      try {
        b.socket.close();
      } catch { /* already closed */ }
    }
    this.#bound = [];
  }
}
