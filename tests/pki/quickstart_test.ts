import { loadConfig } from "../../lib/config/parse.ts";
import assert from "node:assert/strict";
import { parse } from "yaml";
import { quickstart } from "../../lib/pki/quickstart.ts";
import { IKE_ID, validatePeerCertificate } from "../../lib/pki/validate.ts";
import { must, read, swPki, withTempDir } from "./_tools.ts";

type Yaml = Record<string, unknown>;
function at(y: unknown, ...path: string[]): unknown {
  let cur = y;
  for (const k of path) {
    assert.ok(cur !== null && typeof cur === "object", `missing ${path.join(".")}`);
    cur = (cur as Yaml)[k];
  }
  return cur;
}

Deno.test("quickstart() writes a CA, gateway and client certificates openssl and strongSwan trust", async () => {
  await withTempDir(async (t) => {
    const now = new Date();
    const r = await quickstart({
      gateway: "vpn.example.com",
      gatewayAddress: "192.0.2.1",
      clients: ["alice@example.com", "bob@example.com"],
      now,
    });
    assert.deepEqual(r.warnings, []);
    assert.deepEqual(
      r.files.map((f) => f.name).sort(),
      [
        "alice@example.com.key",
        "alice@example.com.pem",
        "alice@example.com.yaml",
        "bob@example.com.key",
        "bob@example.com.pem",
        "bob@example.com.yaml",
        "ca.key",
        "ca.pem",
        "gateway.key",
        "gateway.pem",
        "gateway.yaml",
      ].map((n) =>
        n.replace("alice@example.com", "alice@example.com").replace(
          "bob@example.com",
          "bob@example.com",
        )
      ).sort(),
    );
    for (const f of r.files) {
      assert.equal(f.mode, f.name.endsWith(".key") ? 0o600 : 0o644, f.name);
      Deno.writeTextFileSync(`${t.dir}/${f.name}`, f.contents);
    }
    const p = (n: string) => `${t.dir}/${n}`;
    for (const leaf of ["gateway.pem", "alice@example.com.pem", "bob@example.com.pem"]) {
      const ov = await must("openssl", ["verify", "-CAfile", p("ca.pem"), p(leaf)]);
      assert.match(ov.stdout, /: OK/);
      const sv = await swPki(["--verify", "--in", p(leaf), "--cacert", p("ca.pem")]);
      assert.equal(sv.code, 0, sv.stdout + sv.stderr);
      // Each key belongs to its certificate.
      const certPub = await must("openssl", ["x509", "-in", p(leaf), "-noout", "-pubkey"]);
      const keyPub = await must("openssl", [
        "pkey",
        "-in",
        p(leaf.replace(".pem", ".key")),
        "-pubout",
      ]);
      assert.equal(certPub.stdout, keyPub.stdout, leaf);
    }
    const gwText =
      (await must("openssl", ["x509", "-in", p("gateway.pem"), "-noout", "-text"])).stdout;
    assert.match(gwText, /DNS:vpn\.example\.com/);
    assert.match(gwText, /TLS Web Server Authentication, 1\.3\.6\.1\.5\.5\.8\.2\.2/);
    const aliceText =
      (await must("openssl", ["x509", "-in", p("alice@example.com.pem"), "-noout", "-text"]))
        .stdout;
    assert.match(aliceText, /email:alice@example\.com/);
    assert.match(aliceText, /TLS Web Client Authentication/);
    const caText = (await must("openssl", ["x509", "-in", p("ca.pem"), "-noout", "-text"])).stdout;
    assert.match(caText, /CA:TRUE/);

    // What each end's IKEv2 engine will check.
    const enc = (s: string) => new TextEncoder().encode(s);
    const gwCheck = validatePeerCertificate({
      certs: [read(p("gateway.pem"))].map((b) => pemToDer(b)),
      trustAnchors: [pemToDer(read(p("ca.pem")))],
      idType: IKE_ID.FQDN,
      idData: enc("vpn.example.com"),
      now,
    });
    assert.equal(gwCheck.ok, true);
    const aliceCheck = validatePeerCertificate({
      certs: [pemToDer(read(p("alice@example.com.pem")))],
      trustAnchors: [pemToDer(read(p("ca.pem")))],
      idType: IKE_ID.RFC822_ADDR,
      idData: enc("alice@example.com"),
      now,
    });
    assert.equal(aliceCheck.ok, true);
  });
});

function pemToDer(b: Uint8Array): Uint8Array {
  const text = new TextDecoder().decode(b);
  const body = text.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");
  return Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
}

Deno.test("quickstart() YAML: swanctl-style connections for both ends that name the written files", async () => {
  const r = await quickstart({
    gateway: "192.0.2.1",
    clients: ["carol@example.com"],
    keyType: "ed25519",
    pool: "10.3.0.0/24",
    now: new Date(),
  });
  const files = new Map(r.files.map((f) => [f.name, f.contents]));
  const gw = parse(files.get("gateway.yaml")!);
  assert.equal(at(gw, "connections", "rw", "local", "auth"), "pubkey");
  assert.equal(at(gw, "connections", "rw", "local", "id"), "192.0.2.1");
  assert.deepEqual(at(gw, "connections", "rw", "local", "certs"), ["gateway.pem"]);
  assert.equal(at(gw, "connections", "rw", "remote", "auth"), "pubkey");
  assert.deepEqual(at(gw, "connections", "rw", "remote", "cacerts"), ["ca.pem"]);
  assert.deepEqual(at(gw, "connections", "rw", "children", "rw", "local_ts"), ["0.0.0.0/0"]);
  assert.deepEqual(at(gw, "connections", "rw", "children", "rw", "remote_ts"), ["dynamic"]);
  assert.equal(at(gw, "pools", "rw_pool", "addrs"), "10.3.0.0/24");
  assert.equal(at(gw, "connections", "rw", "local", "key"), "gateway.key");

  const cl = parse(files.get("carol@example.com.yaml")!);
  assert.deepEqual(at(cl, "connections", "home", "remote_addrs"), ["192.0.2.1"]);
  assert.equal(at(cl, "connections", "home", "local", "id"), "carol@example.com");
  assert.deepEqual(at(cl, "connections", "home", "local", "certs"), ["carol@example.com.pem"]);
  assert.equal(at(cl, "connections", "home", "remote", "id"), "192.0.2.1");
  assert.deepEqual(at(cl, "connections", "home", "remote", "cacerts"), ["ca.pem"]);
  assert.deepEqual(at(cl, "connections", "home", "children", "home", "remote_ts"), ["0.0.0.0/0"]);
  assert.equal(at(cl, "connections", "home", "local", "key"), "carol@example.com.key");
  assert.deepEqual(at(cl, "connections", "home", "vips"), ["0.0.0.0"]);
  // Every file a YAML names was written.
  for (
    const name of [
      "gateway.pem",
      "ca.pem",
      "gateway.key",
      "carol@example.com.pem",
      "carol@example.com.key",
    ]
  ) {
    assert.ok(files.has(name), name);
  }
  assert.deepEqual(r.warnings, []);
});

Deno.test("quickstart(): both YAML files load with lib/config, keys and certificates included", async () => {
  const r = await quickstart({
    gateway: "vpn.example.com",
    gatewayAddress: "198.51.100.7",
    clients: ["dave@example.com"],
    now: new Date(),
  });
  await withTempDir(async (t) => {
    for (const f of r.files) await Deno.writeTextFile(`${t.dir}/${f.name}`, f.contents);
    const gw = await loadConfig(`${t.dir}/gateway.yaml`);
    assert.equal(gw.connections[0].local.auth, "pubkey");
    assert.ok(gw.connections[0].local.key && gw.connections[0].local.certs.length === 1);
    assert.equal(gw.pools.length, 1);
    const cl = await loadConfig(`${t.dir}/dave@example.com.yaml`);
    assert.deepEqual(cl.connections[0].remoteAddrs, ["198.51.100.7"]);
    assert.equal(cl.connections[0].remote.cacerts.length, 1);
  });
});

Deno.test("quickstart(): a DNS-name gateway without --gateway-address is refused clearly", async () => {
  await assert.rejects(
    () => quickstart({ gateway: "vpn.example.com", clients: [], now: new Date() }),
    /is a DNS name: give the IP address clients connect to \(--gateway-address\)/,
  );
});

Deno.test("quickstart({ eap }) writes EAP-MSCHAPv2 clients: a password each, no client certificates", async () => {
  await withTempDir(async (t) => {
    const r = await quickstart({
      gateway: "vpn.example.com",
      gatewayAddress: "192.0.2.1",
      clients: ["alice", "bob@example.com"],
      eap: true,
      now: new Date(),
    });
    assert.deepEqual(r.warnings, []);
    assert.deepEqual(r.files.map((f) => f.name).sort(), [
      "alice.yaml",
      "bob@example.com.yaml",
      "ca.key",
      "ca.pem",
      "gateway.key",
      "gateway.pem",
      "gateway.yaml",
    ]);
    for (const f of r.files) {
      assert.equal(
        f.mode,
        f.name.endsWith(".pem") ? 0o644 : 0o600,
        `${f.name}: keys and passwords`,
      );
      Deno.writeTextFileSync(`${t.dir}/${f.name}`, f.contents);
    }
    const gw = await loadConfig(`${t.dir}/gateway.yaml`);
    assert.equal(gw.connections[0].remote.auth, "eap");
    assert.equal(gw.connections[0].remote.eapId, "%any");
    const passwords = new Map(gw.eapSecrets.map((s) => [s.ids[0], s.secret]));
    assert.deepEqual([...passwords.keys()].sort(), ["alice", "bob@example.com"]);
    for (const [id, pw] of passwords) {
      assert.match(pw, /^[A-Za-z0-9_-]{24}$/);
      const c = await loadConfig(`${t.dir}/${id}.yaml`);
      assert.equal(c.connections[0].local.auth, "eap");
      assert.equal(c.connections[0].local.eapId, id);
      assert.deepEqual(c.eapSecrets.map((s) => [s.ids, s.secret]), [[[id], pw]]);
      assert.equal(c.connections[0].remote.auth, "pubkey");
    }
    assert.notEqual(passwords.get("alice"), passwords.get("bob@example.com"));
  });
});
