/**
 * RFC 4739 multiple authentication in the configuration, with swanctl's
 * section names: `local`/`local-1` then `local-2`, `local-3` (our rounds as
 * a client), `remote`/`remote-1` then `remote-2`, `remote-3` (what a gateway
 * requires); each round checked like the first (secrets, EAP passwords).
 */
import assert from "node:assert/strict";
import { ConfigError } from "../../lib/config/config.ts";
import { parseConfig } from "../../lib/config/parse.ts";
import { toEngineConfig } from "../../lib/config/to_peer_config.ts";
import { buildPadEntries } from "../../lib/config/build.ts";
import { padRows } from "../../lib/db/tables.ts";

const client = (rounds: string, secrets = "") => `
connections:
  home:
    remote_addrs: 192.0.2.2
    local_addrs: 192.0.2.1
${rounds}
    remote:
      auth: psk
      id: gw.example.org
    children:
      net:
        remote_ts: 10.2.0.0/16
secrets:
  ike-gw:
    id: [gw.example.org, host.example.org]
    secret: gateway-psk
  eap-alice:
    id: alice
    secret: alice-password
${secrets}`;

const gateway = (rounds: string) => `
connections:
  rw:
    local_addrs: 192.0.2.2
    local:
      auth: psk
      id: gw.example.org
${rounds}
    children:
      net:
        local_ts: 10.2.0.0/16
secrets:
  ike-gw:
    id: gw.example.org
    secret: gateway-psk
  eap-alice:
    id: alice
    secret: alice-password
`;

const fails = (yaml: string, re: RegExp) =>
  assert.throws(
    () => parseConfig(yaml),
    (e: unknown) => e instanceof ConfigError && re.test(e.message),
    `expected ${re}`,
  );

Deno.test("multi-auth config: local-1 and local-2 become the engine's first and later rounds", () => {
  const cfg = parseConfig(client(`    local-1:
      auth: psk
      id: host.example.org
    local-2:
      auth: eap-mschapv2
      id: alice@example.org
      eap_id: alice`));
  const c = cfg.connections[0];
  assert.equal(c.local.auth, "psk");
  assert.equal(c.localRounds.length, 1);
  assert.equal(c.localRounds[0].auth, "eap");
  const [peer] = toEngineConfig(cfg).connections;
  assert.equal(peer.local.id.value, "host.example.org");
  assert.deepEqual(peer.localRounds?.map((r) => [r.auth, r.id.value, r.eapId]), [
    ["eap", "alice@example.org", "alice"],
  ]);
  assert.equal(peer.remoteRounds, undefined);
});

Deno.test("multi-auth config: a later round's id defaults to the first round's", () => {
  const cfg = parseConfig(client(`    local:
      auth: psk
      id: host.example.org
    local-2:
      auth: eap-mschapv2
      eap_id: alice`));
  const [peer] = toEngineConfig(cfg).connections;
  assert.equal(peer.localRounds?.[0].id.value, "host.example.org");
});

Deno.test("multi-auth config: a gateway's remote-2 is required and shown in the PAD", () => {
  const cfg = parseConfig(gateway(`    remote:
      auth: psk
    remote-2:
      auth: eap-mschapv2
      eap_id: "%any"`));
  const [peer] = toEngineConfig(cfg).connections;
  assert.deepEqual(peer.remoteRounds, [{ auth: "eap", eapMethod: "mschapv2", eapId: "%any" }]);
  const [row] = padRows(buildPadEntries(cfg));
  assert.equal(row.auth, "psk, then eap-mschapv2 (eap_id %any) as %any");
});

Deno.test("multi-auth config: mistakes name the round that is wrong", () => {
  // Both spellings of the first round.
  fails(
    client(`    local:
      auth: psk
      id: host.example.org
    local-1:
      auth: psk
      id: host.example.org`),
    /local-1.*either 'local'\/'remote' or '-1'/,
  );
  // A third round without a second.
  fails(
    client(`    local:
      auth: psk
      id: host.example.org
    local-3:
      auth: psk`),
    /'local-3' without 'local-2'/,
  );
  // No EAP password for round 2's EAP identity.
  fails(
    client(`    local:
      auth: psk
      id: host.example.org
    local-2:
      auth: eap-mschapv2
      eap_id: carol`),
    /local-2.*auth: eap but no EAP secret .* has id 'carol'/,
  );
  // No PSK for round 2's identity.
  fails(
    gateway(`    remote:
      auth: psk
      id: host.example.org
    remote-2:
      auth: psk
      id: user.example.org`).replace(
      "  ike-gw:\n    id: gw.example.org",
      "  ike-gw:\n    id: host.example.org",
    ),
    /remote-2.*auth: psk but no entry in 'secrets'/,
  );
  // Unknown round names are refused as unknown keys.
  fails(
    client(`    local:
      auth: psk
      id: host.example.org
    local-9:
      auth: psk`),
    /unknown key 'local-9'/,
  );
});
