import assert from "node:assert/strict";
import { buildDatabases } from "../../lib/config/build.ts";
import { ConfigError } from "../../lib/config/config.ts";
import { decodeSecret, loadConfig, parseConfig, parseTsSpec } from "../../lib/config/parse.ts";
import { toPeerConfig } from "../../lib/config/to_peer_config.ts";
import { packetTuple } from "../../lib/db/selector.ts";

const GOOD = `connections:
  site-a:
    local_addrs: 192.0.2.1
    remote_addrs: 198.51.100.1
    local:
      auth: psk
      id: gw-a.example.com
    remote:
      auth: psk
      id: gw-b.example.com
    children:
      net:
        local_ts: 10.1.0.0/16
        remote_ts: [10.2.0.0/16, "10.4.0.0/16[tcp/443]"]
        esp_proposals: aes256gcm16
        rekey_time: 30m
        rekey_bytes: 1G
        start_action: trap
secrets:
  ike-a:
    id: [gw-a.example.com, gw-b.example.com]
    secret: 0x00112233
`;

function issues(text: string): string[] {
  try {
    parseConfig(text, { file: "t.yaml" });
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.message.split("\n");
  }
  assert.fail("expected a ConfigError");
}

Deno.test("parseConfig(): a valid connection with every child setting", () => {
  const c = parseConfig(GOOD, { file: "t.yaml" });
  assert.equal(c.connections.length, 1);
  const conn = c.connections[0];
  assert.deepStrictEqual(conn.localAddrs, ["192.0.2.1"]);
  assert.equal(conn.rekeyTimeSeconds, 4 * 3600, "swanctl default IKE rekey_time");
  const ch = conn.children[0];
  assert.equal(ch.rekeyTimeSeconds, 1800);
  assert.equal(ch.lifeTimeSeconds, 1980, "life_time defaults to 110% of rekey_time");
  assert.equal(ch.rekeyBytes, 1024n ** 3n);
  assert.equal(ch.startAction, "trap");
  assert.deepStrictEqual(ch.remoteTs.map((t) => t.text), ["10.2.0.0/16", "10.4.0.0/16[tcp/443]"]);
  assert.deepStrictEqual(c.secrets[0].secret, new Uint8Array([0, 0x11, 0x22, 0x33]));
});

Deno.test("parseConfig(): errors carry file:line:col and the key path", () => {
  const bad = GOOD.replace("local_ts: 10.1.0.0/16", "local_ts: [10.1.0.0/33]");
  const [first] = issues(bad);
  assert.match(
    first,
    /^t\.yaml:13:20: connections\.site-a\.children\.net\.local_ts\[0\]: '10\.1\.0\.0\/33' is not a valid prefix/,
  );
});

Deno.test("parseConfig(): every problem is reported at once, in file order", () => {
  const bad = GOOD
    .replace("remote_addrs: 198.51.100.1", "remote_addr: 198.51.100.1")
    .replace("esp_proposals: aes256gcm16", "esp_proposals: aes257gcm16")
    .replace("start_action: trap", "start_action: sometimes");
  const out = issues(bad);
  assert.equal(out.length, 3, out.join("\n"));
  assert.match(
    out[0],
    /^t\.yaml:4:5: connections\.site-a\.remote_addr: unknown key 'remote_addr' \(did you mean 'remote_addrs'\?\)/,
  );
  assert.match(
    out[1],
    /^t\.yaml:15:24: connections\.site-a\.children\.net\.esp_proposals: 'aes257gcm16'/,
  );
  assert.match(
    out[2],
    /start_action: 'sometimes' is not valid: expected one of none, trap, start$/,
  );
});

Deno.test("parseConfig(): cross-references are checked", () => {
  const noSecret = GOOD.replace(/secrets:[\s\S]*$/, "");
  assert.match(
    issues(noSecret)[0],
    /connections\.site-a\.local: auth: psk but no entry in 'secrets'/,
  );
  const pool = GOOD.replace("    local:\n", "    pools: nope\n    local:\n");
  assert.match(issues(pool)[0], /connections\.site-a\.pools: pool 'nope' is not defined/);
  const rw = GOOD.replace("    remote_addrs: 198.51.100.1\n", "");
  assert.match(issues(rw)[0], /start_action trap needs remote_addrs/);
  const noId = GOOD.replace("      id: gw-a.example.com\n", "").replace(
    "local_addrs: 192.0.2.1",
    "local_addrs: [192.0.2.1, 192.0.2.2]",
  );
  assert.ok(issues(noId).some((l) => /connections\.site-a\.local: set 'id'/.test(l)));
});

Deno.test("parseConfig(): YAML syntax errors have a position too", () => {
  const [first] = issues("connections:\n  a: [1, 2\n");
  assert.match(first, /^t\.yaml:\d+:\d+: YAML syntax: /);
  const [dup] = issues("connections: {}\nconnections: {}\n");
  assert.match(dup, /^t\.yaml:2:1: YAML syntax: /);
});

Deno.test("parseConfig(): a bad configuration changes nothing (pure parse)", () => {
  const good = parseConfig(GOOD);
  const before = JSON.stringify(good, (_k, v) => typeof v === "bigint" ? v.toString() : v);
  const { spd } = buildDatabases(good);
  const p = packetTuple({ src: "10.1.0.1", dst: "10.2.0.1", protocol: 6, direction: "outbound" });
  assert.equal(spd.lookupOutbound(p).action, "protect");
  assert.throws(() => parseConfig(GOOD.replace("auth: psk", "auth: magic")), ConfigError);
  assert.equal(
    JSON.stringify(good, (_k, v) => typeof v === "bigint" ? v.toString() : v),
    before,
  );
  assert.equal(spd.lookupOutbound(p).action, "protect");
});

Deno.test("parseConfig(): explicit policies with ICMP and MH types and PFP flags", () => {
  const c = parseConfig(`policies:
  - label: bu
    local: 2001:db8:1::100
    remote: 2001:db8:1::1
    protocol: mh
    local_type: BU
    remote_type: BA
    action: protect
    esp_proposals: aes128gcm16
  - label: echo
    protocol: icmp
    local_type: 8/0
    action: bypass
  - label: rw
    name: "*@company.com"
    pfp: [raddr]
    action: protect
    mode: tunnel
`);
  assert.deepStrictEqual(c.policies[0].localPort, { kind: "range", start: 0x500, end: 0x5ff });
  assert.deepStrictEqual(c.policies[0].remotePort, { kind: "range", start: 0x600, end: 0x6ff });
  assert.deepStrictEqual(c.policies[1].localPort, { kind: "range", start: 0x800, end: 0x800 });
  assert.deepStrictEqual(c.policies[2].pfp, { remoteAddress: true });
  assert.equal(c.policies[2].tunnel?.remote, "dynamic");
  const bad = issues(`policies:
  - protocol: tcp
    local_type: 8
    action: bypass
  - local_port: 80
    action: discard
  - action: bypass
    mode: tunnel
`);
  assert.equal(bad.length, 3, bad.join("\n"));
  assert.match(bad[0], /policies\[0\]\.local_type: message types need protocol/);
  assert.match(bad[1], /policies\[1\]\.local_port: ports need a protocol/);
  assert.match(bad[2], /policies\[2\]\.mode: only PROTECT entries take 'mode'/);
});

Deno.test("parseTsSpec(): swanctl syntax", () => {
  assert.equal(parseTsSpec("dynamic").dynamic, true);
  const t = parseTsSpec("10.0.0.0/8[udp/1701]");
  assert.equal(t.protocol, 17);
  assert.deepStrictEqual(t.port, { kind: "range", start: 1701, end: 1701 });
  assert.deepStrictEqual(parseTsSpec("0.0.0.0/0[icmp/8]").port, {
    kind: "range",
    start: 0x800,
    end: 0x8ff,
  });
  assert.throws(() => parseTsSpec("10.0.0.0/8[%any/80]"), /a port needs a protocol/);
  assert.throws(() => parseTsSpec("vpn.example.com"), /is not a valid traffic selector/);
});

Deno.test("decodeSecret(): 0x hex, 0s base64, else text", () => {
  assert.deepStrictEqual(decodeSecret("0x0aff"), new Uint8Array([10, 255]));
  assert.deepStrictEqual(decodeSecret("0sAAE="), new Uint8Array([0, 1]));
  assert.deepStrictEqual(decodeSecret("ab"), new Uint8Array([97, 98]));
  assert.throws(() => decodeSecret("0xabc"), /hex/);
});

Deno.test("toPeerConfig(): the engine view of a connection", () => {
  const p = toPeerConfig(parseConfig(GOOD).connections[0]);
  assert.equal(p.localAddress, "192.0.2.1");
  assert.equal(p.remoteAddress, "198.51.100.1");
  assert.deepStrictEqual(p.local.id, { type: "fqdn", value: "gw-a.example.com" });
  assert.deepStrictEqual(p.remote.id, { type: "fqdn", value: "gw-b.example.com" });
  assert.equal(p.sendIdr, true);
  assert.deepStrictEqual(p.children[0].remoteTs, ["10.2.0.0/16", "10.4.0.0/16[tcp/443]"]);
  assert.equal(p.children[0].lifetimes?.rekeySeconds, 1800);
  assert.equal(p.children[0].proposals[0].protocol, "esp");
});

Deno.test("loadConfig(): reads PEM certificates and keys relative to the file (openssl)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cfg-test-" });
  try {
    const run = async (...args: string[]) => {
      const r = await new Deno.Command("openssl", { args, cwd: dir, stderr: "piped" }).output();
      assert.ok(r.success, new TextDecoder().decode(r.stderr));
    };
    await run(
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      "gw.key",
      "-out",
      "gw.pem",
      "-subj",
      "/CN=gw.example.com",
      "-days",
      "2",
    );
    await run("x509", "-in", "gw.pem", "-outform", "DER", "-out", "gw.der");
    await run(
      "pkcs8",
      "-topk8",
      "-nocrypt",
      "-in",
      "gw.key",
      "-outform",
      "DER",
      "-out",
      "gw.key.der",
    );
    await Deno.writeTextFile(
      `${dir}/ipsec.yaml`,
      `connections:
  pk:
    local_addrs: 192.0.2.1
    remote_addrs: 192.0.2.2
    local:
      auth: pubkey
      id: gw.example.com
      certs: gw.pem
      key: gw.key
    remote:
      auth: pubkey
      cacerts: [gw.pem]
`,
    );
    const c = await loadConfig(`${dir}/ipsec.yaml`);
    // openssl's own DER of the same certificate and key: an independent decoder.
    const der = await Deno.readFile(`${dir}/gw.der`);
    const key = await Deno.readFile(`${dir}/gw.key.der`);
    assert.deepStrictEqual(c.connections[0].local.certs, [der]);
    assert.deepStrictEqual(c.connections[0].local.key, key);
    assert.deepStrictEqual(c.connections[0].remote.cacerts, [der]);
    const { pad } = buildDatabases(c);
    assert.equal(pad.entries[0].auth.method, "pubkey");
    // A missing file is a positioned error, not an exception from the file system.
    await Deno.writeTextFile(
      `${dir}/bad.yaml`,
      (await Deno.readTextFile(`${dir}/ipsec.yaml`)).replace(
        "cacerts: [gw.pem]",
        "cacerts: [nope.pem]",
      ),
    );
    await assert.rejects(
      () => loadConfig(`${dir}/bad.yaml`),
      /bad\.yaml:12:17: connections\.pk\.remote\.cacerts\[0\]: cannot read 'nope\.pem'/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseConfig(): AES-GMAC is accepted for ESP and refused for IKE with file:line:col", () => {
  const esp = parseConfig(GOOD.replace("esp_proposals: aes256gcm16", "esp_proposals: aes128gmac"), {
    file: "t.yaml",
  });
  assert.deepStrictEqual(esp.connections[0].children[0].proposals[0].encr, [
    { id: 21, keyLength: 128 },
  ]);
  const ike = GOOD.replace(
    "    local_addrs: 192.0.2.1\n",
    "    local_addrs: 192.0.2.1\n    proposals: aes256gmac-prfsha256-x25519\n",
  );
  const [first] = issues(ike);
  assert.match(
    first,
    /^t\.yaml:4:16: connections\.site-a\.proposals: 'aes256gmac-prfsha256-x25519': 'aes256gmac' \(ENCR_NULL_AUTH_AES_GMAC\) is ESP only/,
  );
});

Deno.test("parseConfig(): MODP 1024/1536 and 3DES where a proposal names them; MODP 768 never", () => {
  // strongSwan accepts the legacy suites old Windows clients offer when configured explicitly.
  const legacy = GOOD.replace(
    "    local_addrs: 192.0.2.1\n",
    "    local_addrs: 192.0.2.1\n    proposals: 3des-sha1-modp1024, aes256-sha256-modp1536\n",
  ).replace("esp_proposals: aes256gcm16", "esp_proposals: 3des-sha1-modp1024");
  const c = parseConfig(legacy, { file: "t.yaml" });
  assert.deepStrictEqual(c.connections[0].proposals.map((p) => [p.encr, p.ke]), [
    [[{ id: 3 }], [{ id: 2 }]],
    [[{ id: 12, keyLength: 256 }], [{ id: 5 }]],
  ]);
  assert.deepStrictEqual(c.connections[0].children[0].proposals[0].ke, [{ id: 2 }]);
  // RFC 8247: MODP 768 MUST NOT; the whole file loads nothing.
  const [first] = issues(GOOD.replace(
    "    local_addrs: 192.0.2.1\n",
    "    local_addrs: 192.0.2.1\n    proposals: aes128-sha256-modp768\n",
  ));
  assert.match(
    first,
    /^t\.yaml:4:16: connections\.site-a\.proposals: 'aes128-sha256-modp768': modp768 is too weak to use \(RFC 8247: MUST NOT\)/,
  );
  // The defaults never offer them.
  const plain = parseConfig(GOOD, { file: "t.yaml" });
  for (const p of plain.connections[0].proposals) {
    for (const k of p.ke) assert.ok(![1, 2, 5].includes(k.id), JSON.stringify(p));
    for (const e of p.encr) assert.notEqual(e.id, 3);
  }
});
