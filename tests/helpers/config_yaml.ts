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
