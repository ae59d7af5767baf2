import assert from "node:assert/strict";
import { parseProposals } from "../../lib/crypto/proposal.ts";
import { parseIdentityPattern } from "../../lib/db/identity.ts";
import { anyTs } from "../../lib/db/narrow.ts";
import { icmpSelector, IpProto, mhSelector, parseAddressSelector } from "../../lib/db/selector.ts";
import { padRows, spdRows } from "../../lib/db/tables.ts";

Deno.test("spdRows(): one row per selector set, like the seeds' tables", () => {
  const rows = spdRows([
    {
      label: "rw",
      name: parseIdentityPattern("*@company.com"),
      selectors: [{
        localAddress: parseAddressSelector("10.1.0.0/16"),
        remoteAddress: { kind: "any" },
        protocol: "any",
        localPort: { kind: "any" },
        remotePort: { kind: "any" },
        pfp: { remoteAddress: true },
      }],
      action: "protect",
      processing: {
        protocol: "esp",
        mode: "tunnel",
        tunnel: { local: "192.0.2.1", remote: "dynamic" },
        proposals: parseProposals("aes256gcm16", "esp"),
      },
    },
    {
      selectors: [
        {
          localAddress: { kind: "any" },
          remoteAddress: parseAddressSelector("10.0.0.1-10.0.0.9"),
          protocol: IpProto.ICMP,
          localPort: icmpSelector(8, 0, 0),
          remotePort: { kind: "opaque" },
        },
        {
          localAddress: parseAddressSelector("2001:db8::1"),
          remoteAddress: { kind: "any" },
          protocol: IpProto.MH,
          localPort: mhSelector("BU"),
          remotePort: mhSelector("BA"),
        },
      ],
      action: "bypass",
      direction: "outbound",
    },
  ]);
  assert.equal(rows.length, 3);
  assert.deepStrictEqual(rows[0], {
    "#": 1,
    label: "rw",
    name: "*@company.com",
    local: "10.1.0.0/16",
    remote: "ANY",
    proto: "ANY",
    lport: "ANY",
    rport: "ANY",
    pfp: "raddr",
    dir: "both",
    action: "PROTECT",
    processing: "ESP tunnel 192.0.2.1->dynamic aes256gcm16",
  });
  assert.deepStrictEqual(
    [rows[1].remote, rows[1].proto, rows[1].lport, rows[1].rport, rows[1].action, rows[1].dir],
    ["10.0.0.1-10.0.0.9", "ICMP", "type 8 code 0", "OPAQUE", "BYPASS", "outbound"],
  );
  assert.deepStrictEqual(
    [rows[2]["#"], rows[2].local, rows[2].lport, rows[2].rport, rows[2].action],
    [2, "2001:db8::1", "BU", "BA", ""],
  );
});

Deno.test("padRows(): identity, auth, constraints and lookup mode", () => {
  const rows = padRows([
    {
      label: "rw",
      id: parseIdentityPattern("*@company.com"),
      auth: { method: "pubkey", trustAnchors: [new Uint8Array([1])] },
      allowedTs: [anyTs(4)],
      spdLookup: "name",
    },
    {
      label: "site",
      id: parseIdentityPattern("gw-b.example.com"),
      auth: { method: "psk", secret: new Uint8Array([1]) },
      allowedTs: [],
      spdLookup: "ts",
      remoteAddrs: ["198.51.100.1"],
      connection: "site-a",
    },
  ]);
  assert.deepStrictEqual(rows[0], {
    "#": 1,
    id: "*@company.com",
    auth: "pubkey (1 CA)",
    "may claim": "0.0.0.0/0",
    "spd lookup": "by ID (named)",
    "remote addrs": "%any",
    connection: "rw",
  });
  assert.equal(rows[1]["may claim"], "nothing");
  assert.equal(rows[1].connection, "site-a");
  // Secrets never appear in a table.
  assert.ok(!JSON.stringify(rows).includes("secret"));
});
