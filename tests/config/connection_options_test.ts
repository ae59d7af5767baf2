import assert from "node:assert/strict";
import { ConfigError } from "../../lib/config/config.ts";
import { parseConfig } from "../../lib/config/parse.ts";
import { toEngineConfig, toPeerConfig } from "../../lib/config/to_peer_config.ts";
import { pskConnection } from "../helpers/config_yaml.ts";

Deno.test("unique: no (default), never, keep, replace reach the engine; others are refused", () => {
  assert.equal(toPeerConfig(parseConfig(pskConnection("")).connections[0]).unique, undefined);
  for (const u of ["never", "keep", "replace"] as const) {
    const c = parseConfig(pskConnection(`    unique: ${u}`)).connections[0];
    assert.equal(c.unique, u);
    assert.equal(toPeerConfig(c).unique, u);
  }
  assert.throws(
    () => parseConfig(pskConnection("    unique: sometimes")),
    (e: unknown) =>
      e instanceof ConfigError &&
      /unique: 'sometimes' is not valid: expected one of/.test(e.message),
  );
});

Deno.test("send_certreq: yes (default) leaves the engine default, no turns CERTREQ off", () => {
  assert.equal(toPeerConfig(parseConfig(pskConnection("")).connections[0]).sendCertreq, undefined);
  const c = toPeerConfig(parseConfig(pskConnection("    send_certreq: no")).connections[0]);
  assert.equal(c.sendCertreq, false);
});

Deno.test("inactivity: a child's idle limit reaches the daemon's connection list (0 = off)", () => {
  const yaml = pskConnection("").replace(
    "        remote_ts: 10.2.0.0/16\n",
    "        remote_ts: 10.2.0.0/16\n        inactivity: 90s\n",
  );
  assert.equal(parseConfig(yaml).connections[0].children[0].inactivitySeconds, 90);
  assert.equal(parseConfig(pskConnection("")).connections[0].children[0].inactivitySeconds, 0);
});

Deno.test("fragmentation: yes/force -> on, no -> off, accept -> announced but never sent", () => {
  const frag = (v: string) =>
    toPeerConfig(parseConfig(pskConnection(`    fragmentation: ${v}`)).connections[0])
      .fragmentation;
  assert.equal(frag("yes"), true);
  assert.equal(frag("force"), true);
  assert.equal(frag("no"), false);
  assert.equal(frag("accept"), "accept");
  assert.throws(() => frag("sometimes"), ConfigError);
});

Deno.test("over_time and rand_time (IKE) and a child's rand_time reach the engine; bad values are refused", () => {
  const plain = toPeerConfig(parseConfig(pskConnection("")).connections[0]);
  assert.equal(plain.overSeconds, undefined, "engine default: 10% of rekey/reauth");
  assert.equal(plain.randSeconds, undefined);
  // swanctl's default rand_time: life_time (110% of rekey_time) - rekey_time.
  assert.equal(plain.children[0].lifetimes?.randSeconds, 360);
  const c = toPeerConfig(
    parseConfig(
      pskConnection("    rekey_time: 2h\n    over_time: 20m\n    rand_time: 5m").replace(
        "        remote_ts: 10.2.0.0/16\n",
        "        remote_ts: 10.2.0.0/16\n        rekey_time: 30m\n        rand_time: 2m\n",
      ),
    ).connections[0],
  );
  assert.equal(c.rekeySeconds, 7200);
  assert.equal(c.overSeconds, 1200);
  assert.equal(c.randSeconds, 300);
  assert.equal(c.children[0].lifetimes?.randSeconds, 120);
  assert.equal(
    toPeerConfig(parseConfig(pskConnection("    over_time: 0")).connections[0]).overSeconds,
    0,
  );
  const refused = (yaml: string, re: RegExp) =>
    assert.throws(
      () => parseConfig(yaml),
      (e: unknown) => e instanceof ConfigError && re.test(e.message),
    );
  refused(
    pskConnection("    rekey_time: 10m\n    rand_time: 10m"),
    /rand_time \(600s\) must be shorter than rekey_time\/reauth_time \(600s\)/,
  );
  refused(
    pskConnection("").replace(
      "        remote_ts: 10.2.0.0/16\n",
      "        remote_ts: 10.2.0.0/16\n        rekey_time: 1m\n        rand_time: 2m\n",
    ),
    /rand_time \(120s\) must be shorter than rekey_time \(60s\)/,
  );
});

Deno.test("follow_redirects (default yes) and a gateway's redirect_to reach the engine", () => {
  const plain = toPeerConfig(parseConfig(pskConnection("")).connections[0]);
  assert.equal(plain.followRedirects, undefined, "engine default: follow");
  assert.equal(plain.redirectTo, undefined);
  const c = toPeerConfig(
    parseConfig(pskConnection("    follow_redirects: no\n    redirect_to: 192.0.2.9"))
      .connections[0],
  );
  assert.equal(c.followRedirects, false);
  assert.equal(c.redirectTo, "192.0.2.9");
  // A DNS name: sent as gateway identity type FQDN (RFC 5685 section 8).
  const named = parseConfig(pskConnection("    redirect_to: gw2.example.org")).connections[0];
  assert.equal(toPeerConfig(named).redirectTo, "gw2.example.org");
  assert.throws(
    () => parseConfig(pskConnection("    redirect_to: gw2 example")),
    (e: unknown) =>
      e instanceof ConfigError && /neither an IP address nor a DNS name/.test(e.message),
  );
});

Deno.test("ppk_id, ppk_required and ppk secrets (RFC 8784) reach the engine; a missing PPK is refused", () => {
  const withPpk = (conn: string) =>
    pskConnection(conn) +
    "  ppk-1:\n    id: ppk-1\n    secret: 0x00112233445566778899aabbccddeeff\n";
  const config = parseConfig(withPpk("    ppk_id: ppk-1\n    ppk_required: yes"));
  assert.deepEqual(config.ppks.map((p) => [p.name, p.ids]), [["ppk-1", ["ppk-1"]]]);
  assert.equal(config.secrets.length, 1, "the PPK is not an IKE pre-shared key");
  const c = toPeerConfig(config.connections[0]);
  assert.equal(c.ppkId, "ppk-1");
  assert.equal(c.ppkRequired, true);
  const e = toEngineConfig(config);
  assert.equal(e.ppks?.[0].secret.length, 16);
  const plain = toPeerConfig(parseConfig(pskConnection("")).connections[0]);
  assert.equal(plain.ppkId, undefined);
  assert.equal(plain.ppkRequired, undefined);
  assert.throws(
    () => parseConfig(pskConnection("    ppk_id: ppk-9")),
    (e: unknown) => e instanceof ConfigError && /ppk_id 'ppk-9' names no PPK/.test(e.message),
  );
  assert.throws(
    () => parseConfig(pskConnection("") + "  ppk-2:\n    secret: 0x0011\n"),
    (e: unknown) => e instanceof ConfigError && /a PPK needs an 'id'/.test(e.message),
  );
});

Deno.test("childless: allow (default), prefer, force, never reach the engine; others are refused", () => {
  assert.equal(toPeerConfig(parseConfig(pskConnection("")).connections[0]).childless, undefined);
  for (const m of ["prefer", "force", "never"] as const) {
    assert.equal(
      toPeerConfig(parseConfig(pskConnection(`    childless: ${m}`)).connections[0]).childless,
      m,
    );
  }
  assert.throws(() => parseConfig(pskConnection("    childless: sometimes")), ConfigError);
});

Deno.test("ipcomp: a child's yes reaches the engine (default no), with ESP or AH", () => {
  const child = (extra: string, proposals = "") =>
    pskConnection("").replace(
      "        remote_ts: 10.2.0.0/16\n",
      `        remote_ts: 10.2.0.0/16\n${extra}${proposals}`,
    );
  const off = toPeerConfig(parseConfig(child("")).connections[0]).children[0];
  assert.equal(off.ipcomp, undefined);
  const on = toPeerConfig(parseConfig(child("        ipcomp: yes\n")).connections[0]).children[0];
  assert.equal(on.ipcomp, true);
  const ah = parseConfig(child("        ipcomp: yes\n", "        ah_proposals: sha256\n"));
  assert.equal(toPeerConfig(ah.connections[0]).children[0].ipcomp, true);
  assert.throws(() => parseConfig(child("        ipcomp: maybe\n")), ConfigError);
});

Deno.test("sha256_96: a child's yes reaches the engine (default no)", () => {
  const yaml = (extra: string) =>
    pskConnection("").replace(
      "        remote_ts: 10.2.0.0/16\n",
      `        remote_ts: 10.2.0.0/16\n${extra}`,
    );
  const off = toPeerConfig(parseConfig(yaml("")).connections[0]).children[0];
  assert.equal(off.sha256Icv96, undefined);
  const on = toPeerConfig(parseConfig(yaml("        sha256_96: yes\n")).connections[0]);
  assert.equal(on.children[0].sha256Icv96, true);
  assert.throws(() => parseConfig(yaml("        sha256_96: 96\n")), ConfigError);
});
