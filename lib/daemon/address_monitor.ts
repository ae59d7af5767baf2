/**
 * Which of this host's addresses are usable as IKE/ESP endpoints, polled
 * (for MOBIKE, lib/daemon/mobike_driver.ts). `Deno.networkInterfaces()`
 * every second is simple, needs only `--allow-sys` and sees every kind of
 * change (DHCP, `ip addr`, interfaces coming and going); the daemon decides
 * on each tick whether anything changed.
 *
 * Not usable: loopback (the `lo` interface, 127.0.0.0/8, ::1), link-local
 * (169.254.0.0/16, fe80::/10), the unspecified address, and the excluded
 * interfaces and addresses (our TUN, virtual IPs).
 *
 * @example
 * ```ts
 * const m = new AddressMonitor({ excludeInterfaces: ["ipsec0"], mark: 0x5000 });
 * m.start((addresses) => console.log(addresses)); // ["192.0.2.1", "2001:db8::1"]
 * m.routeSource("198.51.100.7"); // "192.0.2.1"
 * m.close();
 * ```
 *
 * @module
 */
import { formatIp, type IpAddress, parseIp } from "../db/address.ts";
import type { AddressMonitorPort } from "./ports.ts";
import { routeSource } from "./route_source.ts";

/** The fields of `Deno.NetworkInterfaceInfo` the monitor reads. */
export interface InterfaceAddress {
  readonly name: string;
  readonly address: string;
}

/** What to leave out besides loopback and link-local. */
export interface AddressExclusions {
  /** Interface names (our TUN). */
  readonly interfaces?: readonly string[];
  /** Addresses (virtual IPs). */
  readonly addresses?: readonly string[];
}

function inPrefix(ip: IpAddress, v4: number, v6: bigint, bits: number): boolean {
  if (ip.version === 4) return bits <= 32 && (ip.value >>> (32 - bits)) === (v4 >>> (32 - bits));
  return (ip.value >> BigInt(128 - bits)) === (v6 >> BigInt(128 - bits));
}

/** True for loopback, link-local and unspecified addresses (never IKE endpoints). */
export function isLocalOnlyAddress(ip: IpAddress): boolean {
  if (ip.version === 4) {
    return ip.value === 0 || inPrefix(ip, 0x7f000000, 0n, 8) || inPrefix(ip, 0xa9fe0000, 0n, 16);
  }
  return ip.value === 0n || ip.value === 1n || inPrefix(ip, 0, 0xfe80n << 112n, 10);
}

/**
 * The usable addresses among `interfaces` (see the module documentation),
 * canonical (`formatIp`), without duplicates, sorted.
 *
 * @example
 * ```ts
 * usableAddresses([{ name: "eth0", address: "192.0.2.1" }, { name: "lo", address: "127.0.0.1" },
 *   { name: "ipsec0", address: "10.3.0.1" }], { interfaces: ["ipsec0"] }); // ["192.0.2.1"]
 * ```
 */
export function usableAddresses(
  interfaces: readonly InterfaceAddress[],
  exclude: AddressExclusions = {},
): string[] {
  const skipIf = new Set(["lo", ...(exclude.interfaces ?? [])]);
  const skipAddr = new Set<string>();
  for (const a of exclude.addresses ?? []) {
    const ip = parseIp(a);
    if (ip) skipAddr.add(formatIp(ip));
  }
  const out = new Set<string>();
  for (const i of interfaces) {
    if (skipIf.has(i.name)) continue;
    // Deno appends no zone, but be safe with "fe80::1%eth0".
    const ip = parseIp(i.address.split("%")[0]);
    if (!ip || isLocalOnlyAddress(ip)) continue;
    const text = formatIp(ip);
    if (!skipAddr.has(text)) out.add(text);
  }
  return [...out].sort();
}

/** Options of {@link AddressMonitor}. */
export interface AddressMonitorOptions {
  /** Poll interval (default 1000 ms). */
  readonly intervalMs?: number;
  /** Interfaces never used (our TUN). */
  readonly excludeInterfaces?: readonly string[];
  /** fwmark for route lookups (the data plane's, so the TUN table is skipped). */
  readonly mark?: number;
  /** Reads the host's interfaces (default `Deno.networkInterfaces`). */
  readonly read?: () => readonly InterfaceAddress[];
  /** Route source lookup (default lib/daemon/route_source.ts). */
  readonly route?: (remote: string, mark: number) => string | undefined;
}

/** Polls the host's addresses; see the module documentation. */
export class AddressMonitor implements AddressMonitorPort {
  #o: AddressMonitorOptions;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(o: AddressMonitorOptions = {}) {
    this.#o = o;
  }

  /** The usable addresses right now. */
  addresses(): string[] {
    const read = this.#o.read ?? Deno.networkInterfaces;
    return usableAddresses(read(), { interfaces: this.#o.excludeInterfaces ?? [] });
  }

  /**
   * Calls `onTick` with the usable addresses now and then every interval
   * (also when nothing changed: route changes show only in lookups).
   * A failing read skips that tick.
   */
  start(onTick: (addresses: readonly string[]) => void): void {
    if (this.#timer !== undefined) throw new Error("AddressMonitor already started");
    const tick = () => {
      let list: string[];
      try {
        list = this.addresses();
      } catch {
        return;
      }
      onTick(list);
    };
    this.#timer = setInterval(tick, this.#o.intervalMs ?? 1000);
    tick();
  }

  routeSource(remote: string): string | undefined {
    return (this.#o.route ?? routeSource)(remote, this.#o.mark ?? 0);
  }

  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
