import assert from "node:assert/strict";
import { buildSpdEntries } from "../../lib/config/build.ts";
import { parseConfig } from "../../lib/config/parse.ts";
import { boxColumns, decorrelatedRows } from "../../lib/daemon/spd_table.ts";

// Entry 1 lets one host of the protected subnet pass in clear; entry 2
// protects the rest of 10.2.0.0/24. Decorrelated by hand (RFC 4301 section
// 4.4.1.3): SPD-S holds 10.2.0.0/24 minus 10.2.0.5, i.e. 10.2.0.0-10.2.0.4 and
// 10.2.0.6-10.2.0.255; SPD-O and SPD-I hold entry 1 unchanged, in both
// directions (inbound, local and remote are the same sides).
const YAML = `policies:
  - label: printer
    local: 10.1.0.0/16
    remote: 10.2.0.5
    action: bypass
  - label: branch
    local: 10.1.0.0/16
    remote: 10.2.0.0/24
    action: protect
    mode: tunnel
    tunnel_local: 192.0.2.1
    tunnel_remote: 192.0.2.2
    esp_proposals: aes128gcm16
`;

Deno.test("ipsec spd --decorrelated: SPD-S, SPD-O and SPD-I pieces, disjoint, each with its entry", () => {
  const entries = buildSpdEntries(parseConfig(YAML, { file: "t.yaml" }));
  const rows = decorrelatedRows(entries).map((r) => [r.part, r["#"], r.local, r.remote, r.action]);
  assert.deepEqual(rows, [
    ["SPD-S", 2, "10.1.0.0/16", "10.2.0.0-10.2.0.4", "PROTECT"],
    ["SPD-S", 2, "10.1.0.0/16", "10.2.0.6-10.2.0.255", "PROTECT"],
    ["SPD-O", 1, "10.1.0.0/16", "10.2.0.5", "BYPASS"],
    ["SPD-I", 1, "10.1.0.0/16", "10.2.0.5", "BYPASS"],
  ]);
  assert.match(
    String(decorrelatedRows(entries)[0].processing),
    /^ESP tunnel 192\.0\.2\.1->192\.0\.2\.2 /,
  );
});

Deno.test("boxColumns: ANY, prefixes, ranges, ports, OPAQUE and protocol names", () => {
  const v4max = 0xffffffffn;
  assert.deepEqual(
    boxColumns({
      version: 4,
      lo: [0n, 0n, -1n, -1n, -1n],
      hi: [v4max, v4max, 255n, 65535n, 65535n],
    }),
    { local: "0.0.0.0/0", remote: "0.0.0.0/0", proto: "ANY", lport: "ANY", rport: "ANY" },
  );
  assert.deepEqual(
    boxColumns({
      version: 4,
      lo: [0x0a010000n, 0x0a020001n, 6n, -1n, 443n],
      hi: [0x0a01ffffn, 0x0a020001n, 6n, 65535n, 443n],
    }),
    { local: "10.1.0.0/16", remote: "10.2.0.1", proto: "TCP", lport: "ANY", rport: "443" },
  );
  assert.deepEqual(
    boxColumns({
      version: 6,
      lo: [0n, 0x20010db8n << 96n, 17n, -1n, -1n],
      hi: [(1n << 128n) - 1n, (0x20010db8n << 96n) + (1n << 96n) - 1n, 17n, 65535n, 0n],
    }),
    { local: "::/0", remote: "2001:db8::/32", proto: "UDP", lport: "ANY", rport: "OPAQUE-0" },
  );
});
