/**
 * EAP in the configuration, with swanctl.conf's names: `local.auth: eap |
 * eap-mschapv2 | eap-md5` and `eap_id` (road warrior), `remote.auth: eap…`
 * and `eap_id: %any` (gateway), and EAP passwords as `secrets` entries
 * named `eap-…` (or with `type: eap`) whose ids are user names as written.
 */
import assert from "node:assert/strict";
import { ConfigError } from "../../lib/config/config.ts";
import { parseConfig } from "../../lib/config/parse.ts";
import { toEngineConfig } from "../../lib/config/to_peer_config.ts";
import { buildPadEntries } from "../../lib/config/build.ts";
import { padRows } from "../../lib/db/tables.ts";
import { makePki } from "../helpers/engine_pki.ts";

const client = (local: string, secrets: string) => `
connections:
  home:
    remote_addrs: 192.0.2.2
    local_addrs: 192.0.2.1
    local:
${local}
    remote:
      auth: psk
      id: gw.example.org
    children:
      net:
        remote_ts: 10.2.0.0/16
secrets:
  ike-gw:
    id: gw.example.org
    secret: gateway-psk
${secrets}`;

const gateway = (remote: string, secrets: string) => `
connections:
  rw:
    local_addrs: 192.0.2.2
    local:
      auth: psk
      id: gw.example.org
    remote:
${remote}
    children:
      net:
        local_ts: 10.2.0.0/16
secrets:
  ike-gw:
    id: gw.example.org
    secret: gateway-psk
${secrets}`;

/** parseConfig with `files` as the only files the configuration can read. */
const parserOver = (files: Record<string, Uint8Array>) => (yaml: string) =>
  parseConfig(yaml, {
    readFile: (p) => {
      const f = files[p];
      if (!f) throw new Error(`no file ${p}`);
      return f;
    },
  });

const fails = (yaml: string, re: RegExp) =>
  assert.throws(
    () => parseConfig(yaml),
    (e: unknown) => e instanceof ConfigError && re.test(e.message),
  );

Deno.test("eap config: a road warrior's eap-mschapv2 with eap_id and an eap- secret reach the engine", () => {
  const cfg = parseConfig(client(
    "      auth: eap-mschapv2\n      id: alice@example.org\n      eap_id: alice",
    '  eap-alice:\n    id: alice\n    secret: "p4ss word"',
  ));
  const local = cfg.connections[0].local;
  assert.equal(local.auth, "eap");
  assert.deepEqual(local.eapMethods, ["mschapv2"]);
  assert.equal(local.eapId, "alice");
  assert.deepEqual(cfg.eapSecrets, [{ name: "eap-alice", ids: ["alice"], secret: "p4ss word" }]);
  assert.equal(cfg.secrets.length, 1, "the EAP password is not a pre-shared key");
  const e = toEngineConfig(cfg);
  assert.deepEqual(e.eapSecrets, [{ ids: ["alice"], secret: "p4ss word" }]);
  assert.equal(e.connections[0].local.auth, "eap");
  assert.equal(e.connections[0].local.eapId, "alice");
  assert.deepEqual(e.connections[0].local.eapMethods, ["mschapv2"]);
});

Deno.test("eap config: auth: eap accepts every method we have; eap_id defaults to the IKE id", () => {
  const cfg = parseConfig(client(
    "      auth: eap\n      id: alice@example.org",
    "  users:\n    type: eap\n    id: alice@example.org\n    secret: pw",
  ));
  assert.deepEqual(cfg.connections[0].local.eapMethods, ["mschapv2", "md5"]);
  assert.equal(cfg.connections[0].local.eapId, undefined);
  assert.equal(cfg.eapSecrets[0].name, "users");
});

Deno.test("eap config: a gateway's remote eap with eap_id %any becomes an EAP PAD entry", () => {
  const cfg = parseConfig(gateway(
    '      auth: eap-mschapv2\n      eap_id: "%any"',
    "  eap-alice:\n    id: alice\n    secret: pw\n  eap-bob:\n    id: [bob, robert]\n    secret: 0x707731",
  ));
  assert.equal(cfg.connections[0].remote.auth, "eap");
  assert.equal(cfg.connections[0].remote.eapMethod, "mschapv2");
  assert.deepEqual(cfg.eapSecrets.map((s) => [s.ids, s.secret]), [
    [["alice"], "pw"],
    [["bob", "robert"], "pw1"],
  ]);
  const [pad] = buildPadEntries(cfg);
  assert.deepEqual(pad.auth, { method: "eap", eap: "mschapv2", eapId: "%any" });
  assert.equal(padRows([pad])[0].auth, "eap-mschapv2 (eap_id %any)");
  const md5 = parseConfig(gateway("      auth: eap-md5", "  eap-a:\n    id: a\n    secret: pw"));
  assert.deepEqual(buildPadEntries(md5)[0].auth, { method: "eap", eap: "md5" });
});

Deno.test("eap config: mistakes are refused with the key that is wrong", () => {
  // No password for our EAP identity.
  fails(
    client(
      "      auth: eap-mschapv2\n      id: alice@example.org\n      eap_id: carol",
      "  eap-alice:\n    id: alice\n    secret: pw",
    ),
    /auth: eap but no EAP secret .* has id 'carol'/,
  );
  // eap_id only means something with EAP.
  fails(
    client("      auth: psk\n      id: alice@example.org\n      eap_id: alice", ""),
    /'eap_id' applies to auth: eap only/,
  );
  // A gateway without any user.
  fails(gateway("      auth: eap-mschapv2", ""), /auth: eap but no EAP secrets/);
  // An unknown method.
  fails(
    client("      auth: eap-gtc\n      id: alice@example.org", ""),
    /auth: 'eap-gtc' is not valid: expected one of psk, pubkey, eap, eap-mschapv2, eap-md5, eap-tls, eap-ttls, eap-peap, eap-radius/,
  );
  // EAP user names are taken as written, but not %any.
  fails(
    gateway("      auth: eap", '  eap-any:\n    id: "%any"\n    secret: pw'),
    /an EAP identity cannot be empty or %any/,
  );
  // A password that is not text.
  fails(
    gateway("      auth: eap", "  eap-bin:\n    id: a\n    secret: 0xff00"),
    /an EAP password must be UTF-8 text/,
  );
  // CRLs belong to certificate authentication.
  fails(
    gateway("      auth: eap\n      revocation: strict", "  eap-a:\n    id: a\n    secret: pw"),
    /'crls' and 'revocation' apply to auth: pubkey only/,
  );
});

Deno.test("eap config: eap-radius with a radius section; what is missing is named", () => {
  const withRadius = (radius: string) =>
    gateway('      auth: eap-radius\n      eap_id: "%any"', "") + radius;
  const cfg = parseConfig(withRadius(`radius:
  servers:
    primary: { address: 10.1.0.5, secret: "s3cret" }
    backup: { address: "2001:db8::5", secret: other, port: 11812 }
  nas_identifier: gw-1
`));
  assert.equal(cfg.connections[0].remote.eapMethod, "radius");
  const engine = toEngineConfig(cfg);
  assert.deepEqual(
    engine.radius?.servers.map((
      s,
    ) => [s.name, s.address, s.port, new TextDecoder().decode(s.secret)]),
    [["primary", "10.1.0.5", 1812, "s3cret"], ["backup", "2001:db8::5", 11812, "other"]],
  );
  assert.equal(engine.radius?.nasIdentifier, "gw-1");
  assert.equal(engine.connections[0].remote.eapMethod, "radius");
  // accounting and dae (RFC 5176).
  const full = parseConfig(withRadius(`radius:
  servers:
    primary: { address: 10.1.0.5, secret: s, acct_port: 11813 }
  accounting: yes
  interim_interval: 10m
  dae: { listen: 10.1.0.1, secret: d }
`));
  assert.equal(full.radius?.accounting, true);
  assert.equal(full.radius?.interimSeconds, 600);
  assert.equal(full.radius?.servers[0].acctPort, 11813);
  assert.deepEqual(
    { ...full.radius?.dae, secret: new TextDecoder().decode(full.radius?.dae?.secret) },
    { listen: "10.1.0.1", port: 3799, secret: "d" },
  );
  fails(
    withRadius(
      "radius:\n  servers:\n    x: { address: 10.1.0.5, secret: s }\n  dae: { port: 3799 }\n",
    ),
    /dae needs 'secret'/,
  );
  // No server: the connection says what it needs.
  fails(withRadius(""), /auth: eap-radius needs a RADIUS server in 'radius: servers'/);
  fails(
    withRadius("radius:\n  servers:\n    x: { address: radius.example.org, secret: s }\n"),
    /RADIUS server 'x' needs 'address', an IP address/,
  );
  fails(
    withRadius("radius:\n  servers:\n    x: { address: 10.1.0.5 }\n"),
    /RADIUS server 'x' needs 'secret'/,
  );
  // pools: [radius] is the RADIUS server's Framed-IP-Address, for eap-radius only.
  const rw = parseConfig(
    withRadius("radius:\n  servers:\n    x: { address: 10.1.0.5, secret: s }\n").replace(
      "    remote:",
      "    pools: [radius]\n    remote:",
    ),
  );
  assert.deepEqual(rw.connections[0].pools, ["radius"]);
  fails(
    gateway("      auth: eap-mschapv2", "  eap-a:\n    id: a\n    secret: pw").replace(
      "    remote:",
      "    pools: [radius]\n    remote:",
    ),
    /pool 'radius' \(the RADIUS server's Framed-IP-Address\) needs remote auth: eap-radius/,
  );
  // A client cannot be a RADIUS relay.
  fails(
    client("      auth: eap-radius\n      id: alice@example.org", ""),
    /eap-radius is for gateways/,
  );
});

Deno.test("eap config: eap-tls takes the round's certificate and key (client) or CAs (gateway)", async () => {
  const pki = await makePki("ecdsa", 256);
  const files: Record<string, Uint8Array> = {
    "ca.pem": pki.ca,
    "alice.pem": pki.alice.cert,
    "alice.key": pki.alice.key,
    "gw.pem": pki.bob.cert,
    "gw.key": pki.bob.key,
  };
  const parse = parserOver(files);
  const c = toEngineConfig(parse(
    client(
      "      auth: eap-tls\n      id: alice@example.org\n      certs: [alice.pem]\n      key: alice.key",
      "",
    ).replace(
      "      auth: psk\n      id: gw.example.org",
      "      auth: pubkey\n      id: gw.example.org\n      cacerts: [ca.pem]\n      aaa_id: radius.example.org",
    ).replace(/ {2}ike-gw:\n.*\n.*\n/, ""),
  ));
  const local = c.connections[0].local;
  assert.deepEqual(local.eapMethods, ["tls"]);
  assert.deepEqual(local.certs, [pki.alice.cert]);
  assert.ok(local.privateKey?.length);
  assert.equal(c.connections[0].remote.aaaId?.value, "radius.example.org");
  const gwYaml = gateway('      auth: eap-tls\n      eap_id: "%any"\n      cacerts: [ca.pem]', "")
    .replace(
      "      auth: psk\n      id: gw.example.org",
      "      auth: pubkey\n      id: gw.example.org\n      certs: [gw.pem]\n      key: gw.key",
    );
  const g = toEngineConfig(parse(gwYaml));
  assert.equal(g.connections[0].remote.eapMethod, "tls");
  assert.deepEqual(g.connections[0].remote.cacerts, [pki.ca]);
  // What is missing is named.
  assert.throws(
    () => parse(client("      auth: eap-tls\n      id: alice@example.org", "")),
    /auth: eap-tls needs 'certs' and 'key'/,
  );
  // The gateway's TLS certificate needs a CA to be checked against.
  assert.throws(
    () =>
      parse(client(
        "      auth: eap-tls\n      id: alice@example.org\n      certs: [alice.pem]\n      key: alice.key",
        "",
      )),
    /auth: eap-tls checks the gateway's TLS certificate: 'remote' needs 'cacerts'/,
  );
  assert.throws(
    () => parse(gwYaml.replace("\n      cacerts: [ca.pem]", "")),
    /auth: eap-tls needs 'cacerts'/,
  );
  assert.throws(
    () => parse(gateway("      auth: eap-tls\n      cacerts: [ca.pem]", "")),
    /auth: eap-tls makes us the TLS server: 'local' needs our 'certs' and 'key'/,
  );
});

Deno.test("eap config: eap-ttls needs a password and the gateway's CA (client), certificates (gateway)", async () => {
  const pki = await makePki("ecdsa", 256);
  const files: Record<string, Uint8Array> = {
    "ca.pem": pki.ca,
    "gw.pem": pki.bob.cert,
    "gw.key": pki.bob.key,
  };
  const parse = parserOver(files);
  const withCa = (yaml: string) =>
    yaml.replace(
      "      auth: psk\n      id: gw.example.org",
      "      auth: pubkey\n      id: gw.example.org\n      cacerts: [ca.pem]",
    );
  const c = toEngineConfig(parse(withCa(client(
    "      auth: eap-ttls\n      id: alice@example.org\n      eap_id: alice",
    "  eap-alice:\n    id: alice\n    secret: pw",
  ))));
  assert.deepEqual(c.connections[0].local.eapMethods, ["ttls"]);
  assert.throws(
    () =>
      parse(client(
        "      auth: eap-ttls\n      id: alice@example.org\n      eap_id: alice",
        "  eap-alice:\n    id: alice\n    secret: pw",
      )),
    /auth: eap-ttls checks the gateway's TLS certificate: 'remote' needs 'cacerts'/,
  );
  assert.throws(
    () =>
      parse(
        withCa(
          client("      auth: eap-ttls\n      id: alice@example.org\n      eap_id: alice", ""),
        ),
      ),
    /auth: eap but no EAP secret .* has id 'alice'/,
  );
  const gw = gateway(
    '      auth: eap-ttls\n      eap_id: "%any"',
    "  eap-alice:\n    id: alice\n    secret: pw",
  )
    .replace(
      "      auth: psk\n      id: gw.example.org",
      "      auth: pubkey\n      id: gw.example.org\n      certs: [gw.pem]\n      key: gw.key",
    );
  assert.equal(toEngineConfig(parse(gw)).connections[0].remote.eapMethod, "ttls");
  assert.throws(
    () => parse(gateway("      auth: eap-ttls", "  eap-alice:\n    id: alice\n    secret: pw")),
    /auth: eap-ttls makes us the TLS server: 'local' needs our 'certs' and 'key'/,
  );
});

Deno.test("eap config: eap-peap is for clients (with the gateway's CA); a gateway is told to relay it", () => {
  const parse = parserOver({ "ca.pem": new Uint8Array(0) });
  assert.throws(
    () =>
      parse(
        client(
          "      auth: eap-peap\n      id: alice@example.org\n      eap_id: alice",
          "  eap-alice:\n    id: alice\n    secret: pw",
        ),
      ),
    /auth: eap-peap checks the gateway's TLS certificate: 'remote' needs 'cacerts'/,
  );
  assert.throws(
    () => parseConfig(gateway("      auth: eap-peap", "  eap-a:\n    id: a\n    secret: pw")),
    /eap-peap runs as client only: a gateway relays PEAP to a RADIUS server/,
  );
});
