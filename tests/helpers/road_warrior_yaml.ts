/**
 * A road-warrior setup in YAML (PSK): a gateway with an IPv4 pool (v4,
 * 10.3.0.0/24) and an IPv6 pool (v6, 2001:db8:ff::/112) in front of
 * 10.1.0.0/16 and 2001:db8:1::/48, and a client asking for virtual IPs.
 *
 * @module
 */

/** A gateway at 192.0.2.1 leasing from `pools` (YAML list of v4, v6) to *@company.com. */
export function gatewayYaml(pools: string): string {
  return `
connections:
  rw:
    local_addrs: 192.0.2.1
    pools: ${pools}
    proposals: aes256gcm16-prfsha384-x25519
    local:
      auth: psk
      id: vpn.company.com
    remote:
      auth: psk
      id: "*@company.com"
    children:
      intranet:
        local_ts: 10.1.0.0/16, 2001:db8:1::/48
        remote_ts: dynamic
        esp_proposals: aes256gcm16
pools:
  v4:
    addrs: 10.3.0.0/24
    dns: [10.1.0.53]
  v6:
    addrs: 2001:db8:ff::/112
    dns: [2001:db8::53]
secrets:
  users:
    secret: "road warrior key 0123456789"
`;
}

/** alice@company.com at 192.0.2.100 asking the gateway for `vips` (YAML list). */
export function clientYaml(vips: string): string {
  return `
connections:
  office:
    local_addrs: 192.0.2.100
    remote_addrs: 192.0.2.1
    vips: ${vips}
    proposals: aes256gcm16-prfsha384-x25519
    local:
      auth: psk
      id: alice@company.com
    remote:
      auth: psk
      id: vpn.company.com
    children:
      intranet:
        local_ts: dynamic
        remote_ts: 10.1.0.0/16, 2001:db8:1::/48
        esp_proposals: aes256gcm16
secrets:
  users:
    secret: "road warrior key 0123456789"
`;
}
