/**
 * Which of our addresses the kernel would use to reach a peer: the route's
 * source address, found by connecting a UDP socket (nothing is sent) and
 * reading its local address. The daemon needs it when a connection has no
 * `local_addrs` or listens on the wildcard: the engine must be told a real
 * address (NAT detection hashes it, SAs use it as the outer source), never
 * 0.0.0.0.
 *
 * @example
 * ```ts
 * routeSource("192.0.2.2", 0x5000); // "192.0.2.1"
 * ```
 *
 * @module
 */
import { libc } from "../../ffi/libc.ts";
import { decodeSockaddrAddress, withRouteTo } from "../../ffi/socket.ts";
import { formatIp, ipFromBytes, ipToBytes, parseIp } from "../db/address.ts";

/** True for "0.0.0.0", "::", "%any" and the like: no concrete address. */
export function isWildcardAddress(address: string): boolean {
  if (address === "" || address.startsWith("%")) return true;
  const ip = parseIp(address);
  return ip !== undefined && ip.value === (ip.version === 4 ? 0 : 0n);
}

/**
 * Our source address toward `remote` (an IP address), or undefined when
 * there is no route (or `remote` is not an address). `mark` is the fwmark
 * the lookup uses (the data plane's, so a peer reachable through the TUN
 * table is looked up in the main table, as our IKE and ESP packets are).
 */
export function routeSource(remote: string, mark = 0): string | undefined {
  const ip = parseIp(remote);
  if (!ip) return undefined;
  return withRouteTo(ipToBytes(ip), mark, (sock, sa) => {
    const l = new Uint32Array([128]);
    if (libc().getsockname(sock.fd, sa, l) < 0) return undefined;
    const local = decodeSockaddrAddress(sa, 0);
    if (local.length !== 4 && local.length !== 16) return undefined;
    const text = formatIp(ipFromBytes(local));
    return isWildcardAddress(text) ? undefined : text;
  });
}
