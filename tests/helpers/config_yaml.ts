/**
 * Small YAML configurations for tests of lib/config.
 *
 * @module
 */

/**
 * One PSK site-to-site connection `gw` (192.0.2.1 to 198.51.100.1, child
 * `net` 10.1.0.0/16 to 10.2.0.0/16) with `extra` lines (already indented by
 * four spaces) inside the connection, and its secret.
 *
 * @example
 * ```ts
 * parseConfig(pskConnection("    fragment_size: 576"));
 * ```
 */
export function pskConnection(extra: string): string {
  return `connections:
  gw:
    local_addrs: 192.0.2.1
    remote_addrs: 198.51.100.1
${extra}
    local:
      auth: psk
      id: a.example.org
    remote:
      auth: psk
      id: b.example.org
    children:
      net:
        local_ts: 10.1.0.0/16
        remote_ts: 10.2.0.0/16
secrets:
  s:
    id: [a.example.org, b.example.org]
    secret: "0123456789abcdef"
`;
}

/**
 * Connection `gw` to 192.0.2.2 (child `net` 10.1.0.0/24 to 10.2.0.0/24, a
 * PSK remote side) and one secret without ids. `local` is the body of the
 * `local:` section (lines indented by six spaces); `localAddrs` and
 * `remoteId` are left out when not given.
 *
 * @example
 * ```ts
 * parseConfig(gwConnection("      auth: psk", { localAddrs: "192.0.2.1" }));
 * ```
 */
export function gwConnection(
  local: string,
  o: { localAddrs?: string; remoteId?: string } = {},
): string {
  return `connections:
  gw:
${o.localAddrs ? `    local_addrs: ${o.localAddrs}\n` : ""}    remote_addrs: 192.0.2.2
    local:
${local}
    remote:
      auth: psk
${o.remoteId ? `      id: ${o.remoteId}\n` : ""}    children:
      net:
        local_ts: 10.1.0.0/24
        remote_ts: 10.2.0.0/24
secrets:
  s:
    secret: "0123456789abcdef"
`;
}

/**
 * A road-warrior client: connection `home` to `remoteAddrs` (the YAML value
 * as written) asking for a virtual IPv4 address, PSK between
 * alice@example.org and `gatewayId`, child `net` to 10.1.0.0/16.
 *
 * @example
 * ```ts
 * parseConfig(homeClient("[192.0.2.1]", "gw.example.org"));
 * ```
 */
export function homeClient(remoteAddrs: string, gatewayId: string): string {
  return `connections:
  home:
    remote_addrs: ${remoteAddrs}
    vips: [0.0.0.0]
    local: { auth: psk, id: alice@example.org }
    remote: { auth: psk, id: ${gatewayId} }
    children:
      net: { remote_ts: [10.1.0.0/16] }
secrets:
  s: { id: [alice@example.org, ${gatewayId}], secret: "a long enough secret here" }
`;
}
