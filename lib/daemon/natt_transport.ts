/**
 * IKE over UDP 500 (our own sockets) and UDP 4500 (the data plane's
 * encapsulation socket), as one {@link IkeTransport}.
 *
 * Only one socket can own UDP 4500, and ESP-in-UDP (RFC 3948) must reach
 * the data plane's Workers without crossing the main thread, so the data
 * plane binds it: IKE messages arriving there come back as events (non-ESP
 * marker stripped) and IKE we send from port 4500 goes out through it
 * (marker added; NAT-T keepalives raw).
 *
 * ```
 *  engine send from :500  ──► UdpIkeTransport (node:dgram, port 500)
 *  engine send from :4500 ──► EncapChannel.sendIke (data plane UDP 4500)
 *  UDP 500 datagram       ──► onMessage(bytes, from, to)
 *  data plane "ike" event ──► onMessage(bytes, from, { our address, 4500 })
 * ```
 *
 * `to` is always a concrete address. On a wildcard socket it is the address
 * the datagram was sent to when the socket can tell (port 500: a socket per
 * local address, lib/daemon/udp_transport.ts; port 4500: the "ike" event's
 * `local` from IP_PKTINFO, on while the host has several addresses of that
 * family), else our route source address toward the sender (or the single
 * configured listen address of that family). The engine hashes `to` for NAT
 * detection and uses it as the SAs' outer source, so 0.0.0.0 would fake a
 * NAT and break ESP. What we send from 4500 leaves from the SA's address
 * (IP_PKTINFO on send).
 *
 * @module
 */
import type { Endpoint } from "../ikev2/effects.ts";
import type { IkeTransport } from "./ports.ts";
import { isWildcardAddress } from "./route_source.ts";

/** The data plane's UDP encapsulation socket as an IKE channel. */
export interface EncapChannel {
  /** The port it owns (4500). */
  readonly port: number;
  /**
   * Registers the receiver of IKE messages that arrive on `port` (marker
   * stripped); `local` is the address it was sent to when the socket tells.
   */
  onIke(cb: ((bytes: Uint8Array, from: Endpoint, local?: string) => void) | null): void;
  /**
   * Sends an IKE message from `port` (marker added) or, `raw`, bytes as they
   * are; from `from`'s address when given (the socket is bound to the wildcard).
   */
  sendIke(bytes: Uint8Array, to: Endpoint, raw: boolean, from?: Endpoint): Promise<void>;
  /** Our addresses (see {@link IkeTransport.setLocalAddresses}). */
  setLocalAddresses?(addresses: readonly string[]): Promise<void>;
}

/** Options of {@link NattIkeTransport}. */
export interface NattIkeTransportOptions {
  /** Port 500 (and, without `encap`, 4500) sockets. */
  readonly ike: IkeTransport;
  /** The data plane's UDP 4500 socket; absent = `ike` handles everything. */
  readonly encap?: EncapChannel;
  /** Addresses the daemon listens on (empty = wildcard). */
  readonly listenAddrs: readonly string[];
  /** Our source address toward a peer (lib/daemon/route_source.ts). */
  readonly localFor: (remote: string) => string | undefined;
}

/**
 * Splits IKE between port 500 and the data plane's NAT-T socket; see the
 * module documentation.
 *
 * @example
 * ```ts
 * const t = new NattIkeTransport({
 *   ike: new UdpIkeTransport({ addresses: [], nattPort: 0 }),
 *   encap: dataplaneAdapter, listenAddrs: [], localFor: (r) => routeSource(r),
 * });
 * await t.start((bytes, from, to) => engine.handle(bytes, from, to, Date.now()));
 * ```
 */
export class NattIkeTransport implements IkeTransport {
  #o: NattIkeTransportOptions;

  constructor(o: NattIkeTransportOptions) {
    this.#o = o;
  }

  /** Our address for a datagram from `remote` that arrived on a wildcard socket. */
  localAddressFor(remote: string): string {
    const v6 = remote.includes(":");
    const same = this.#o.listenAddrs.filter((a) => a.includes(":") === v6);
    if (same.length === 1 && !isWildcardAddress(same[0])) return same[0];
    return this.#o.localFor(remote) ?? (v6 ? "::" : "0.0.0.0");
  }

  async start(
    onMessage: (bytes: Uint8Array, from: Endpoint, to: Endpoint) => void,
  ): Promise<void> {
    const concrete = (to: Endpoint, from: Endpoint): Endpoint =>
      isWildcardAddress(to.address)
        ? { address: this.localAddressFor(from.address), port: to.port }
        : to;
    await this.#o.ike.start((bytes, from, to) => onMessage(bytes, from, concrete(to, from)));
    const encap = this.#o.encap;
    encap?.onIke((bytes, from, local) =>
      onMessage(bytes, from, {
        address: local ?? this.localAddressFor(from.address),
        port: encap.port,
      })
    );
  }

  send(bytes: Uint8Array, from: Endpoint, to: Endpoint, raw = false): Promise<void> {
    const encap = this.#o.encap;
    if (encap && from.port === encap.port) return encap.sendIke(bytes, to, raw, from);
    return this.#o.ike.send(bytes, from, to, raw);
  }

  async setLocalAddresses(addresses: readonly string[]): Promise<void> {
    await this.#o.ike.setLocalAddresses?.(addresses);
    await this.#o.encap?.setLocalAddresses?.(addresses);
  }

  close(): void {
    this.#o.encap?.onIke(null);
    this.#o.ike.close();
  }
}
