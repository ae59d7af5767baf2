import assert from "node:assert/strict";
import { main } from "../../cli/main.ts";
import { io } from "../../cli/commands/_common.ts";
import { COMMANDS } from "../../cli/commands/mod.ts";
import { renderIkeSas } from "../../cli/commands/_render.ts";
import { renderPools } from "../../cli/commands/list_pools.ts";
import { Daemon } from "../../lib/daemon/daemon.ts";
import { config, conn, FakeRuntime } from "../daemon/_fakes.ts";

/** Runs the CLI capturing what it prints. */
async function ipsec(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const saved = { ...io };
  const { log, error } = console;
  io.out = console.log = (s: string) => out.push(s);
  io.err = console.error = (s: string) => err.push(s);
  try {
    const code = await main(args);
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    Object.assign(io, saved);
    Object.assign(console, { log, error });
  }
}

async function withDaemon(fn: (sock: string, rt: FakeRuntime, dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  const rt = new FakeRuntime();
  rt.files.set(`${dir}/ipsec.yaml`, config(`${dir}/ipsec.yaml`, [conn("site"), conn("fail-peer")]));
  const d = await Daemon.start({
    runtime: rt,
    configPath: `${dir}/ipsec.yaml`,
    socketPath: `${dir}/ctl.sock`,
  });
  try {
    await fn(`${dir}/ctl.sock`, rt, dir);
  } finally {
    await d.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("ipsec --help lists every command; unknown commands exit 2", async () => {
  const r = await ipsec("--help");
  assert.equal(r.code, 0);
  for (const name of Object.keys(COMMANDS)) assert.match(r.out, new RegExp(`^  ${name} `, "m"));
  assert.equal((await ipsec()).code, 2);
  const bad = await ipsec("frobnicate");
  assert.equal(bad.code, 2);
  assert.match(bad.err, /unknown command 'frobnicate'/);
});

Deno.test("every subcommand answers --help with its usage and exit 0", async () => {
  for (const name of Object.keys(COMMANDS)) {
    const r = await ipsec(name, "--help");
    assert.equal(r.code, 0, `${name} --help: ${r.err}`);
    assert.match(r.out, new RegExp(`usage: ipsec ${name}`), name);
  }
});

Deno.test("argument mistakes exit 2 with a pointer to --help", async () => {
  const cases: [string[], RegExp][] = [
    [["up"], /missing connection NAME/],
    [["down", "a", "b"], /unexpected argument 'b'/],
    [["status", "extra"], /takes no arguments/],
    [["status", "--bogus"], /Unknown option '--bogus'/],
    [["start", "--log-level", "loud"], /--log-level: unknown log level .loud./],
    [["log", "--lines", "many"], /--lines must be a non-negative integer/],
    [["up", "x", "--timeout", "0"], /--timeout must be a positive number/],
    [["stop", "--timeout", "soon"], /--timeout must be a positive number of seconds, got .soon./],
  ];
  for (const [args, re] of cases) {
    const r = await ipsec(...args, "--socket", "/nonexistent/ctl.sock");
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
    assert.match(r.err, re);
    assert.match(r.err, /see 'ipsec \S+ --help'/);
  }
});

Deno.test("without a daemon, read commands say how to start one and exit 7", async () => {
  for (
    const name of ["status", "list-sas", "list-conns", "spd", "sad", "pad", "stop", "reload", "log"]
  ) {
    const r = await ipsec(name, "--socket", "/nonexistent/ctl.sock");
    assert.equal(r.code, 7, name);
    assert.match(r.err, /no ipsec daemon is listening on \/nonexistent\/ctl\.sock.*ipsec start/);
  }
  const env = Deno.env.get("IPSEC_SOCKET");
  Deno.env.set("IPSEC_SOCKET", "/nonexistent/env.sock");
  try {
    assert.match((await ipsec("status")).err, /\/nonexistent\/env\.sock/);
  } finally {
    if (env === undefined) Deno.env.delete("IPSEC_SOCKET");
    else Deno.env.set("IPSEC_SOCKET", env);
  }
});

Deno.test("up, status, list-sas, sad, down against a daemon: tables and --json", async () => {
  await withDaemon(async (sock) => {
    const up = await ipsec("up", "site", "--socket", sock);
    assert.equal(up.code, 0, up.err);
    assert.match(up.out, /connection 'site' established: child net, SPIs in c0000001 out 0a000001/);

    const status = await ipsec("status", "--socket", sock);
    assert.equal(status.code, 0);
    assert.match(
      status.out,
      /^ipsec daemon \(deno-ipsec \d+\.\d+\.\d+\) pid \d+, up \d+s, config .*ipsec\.yaml, 2 connection\(s\)$/m,
    );
    assert.match(status.out, /^site\[1\]: ESTABLISHED/m);
    assert.match(status.out, /^ {2}IKEv2 SPIs 0123456789abcdef_i\* fedcba9876543210_r$/m);
    assert.match(status.out, /^ {2}remote 'b@example.org' @ 192\.0\.2\.2\[500\]$/m);
    assert.match(status.out, /^ {2}ENCR_AES_GCM_16\/256\/PRF_HMAC_SHA2_384\/CURVE_25519$/m);
    assert.match(status.out, /^ {2}net\{10\}: INSTALLED, TUNNEL, ESP ENCR_AES_GCM_16\/256$/m);
    assert.match(
      status.out,
      /^ {4}in {2}c0000001, 840 bytes, 10 packets, rekey in \d+s, expires in \d+s$/m,
    );

    const sad = await ipsec("sad", "--socket", sock);
    const lines = sad.out.split("\n");
    assert.match(
      lines[0],
      /^SPI\s+DIR\s+PROTO\s+MODE\s+SRC\s+DST\s+ENCR\s+INTEG\s+CHILD\s+BYTES\s+PACKETS$/,
    );
    assert.equal(lines.length, 3);
    assert.ok(
      lines.some((l) => /^c0000001\s+in\s+ESP\s+tunnel\s+192\.0\.2\.2\s+192\.0\.2\.1\s/.test(l)),
    );

    const json = await ipsec("list-sas", "--json", "--socket", sock);
    const parsed = JSON.parse(json.out);
    assert.equal(parsed[0].children[0].outbound.spi, "0a000001");

    const down = await ipsec("down", "site", "--socket", sock);
    assert.equal(down.code, 0, down.err);
    assert.match((await ipsec("list-sas", "--socket", sock)).out, /^no IKE SAs$/);
    const again = await ipsec("down", "site", "--socket", sock);
    assert.equal(again.code, 3);
    assert.match(again.err, /connection 'site' has no IKE SA/);
  });
});

Deno.test("up: unknown connection exits 3, failed negotiation exits 1", async () => {
  await withDaemon(async (sock) => {
    const unknown = await ipsec("up", "nope", "--socket", sock);
    assert.equal(unknown.code, 3);
    assert.match(unknown.err, /no connection named 'nope'/);
    const failed = await ipsec("up", "fail-peer", "--socket", sock);
    assert.equal(failed.code, 1);
    assert.match(failed.err, /NO_PROPOSAL_CHOSEN/);
  });
});

Deno.test("list-conns, spd, pad render the configuration", async () => {
  await withDaemon(async (sock) => {
    const conns = await ipsec("list-conns", "--socket", sock);
    assert.match(conns.out, /^site: 192\.0\.2\.1\.\.\.192\.0\.2\.2 IKEv2$/m);
    assert.match(conns.out, /^ {2}net: TUNNEL, ESP, start_action=none$/m);
    assert.match(conns.out, /^ {4}remote: 10\.2\.0\.0\/16$/m);
    const spd = await ipsec("spd", "--socket", sock);
    assert.deepEqual(spd.out.split("\n").map((l) => l.split(/\s+/)), [
      ["#", "LOCAL", "REMOTE", "ACTION"],
      ["1", "10.1.0.0/16", "10.2.0.0/16", "PROTECT"],
    ]);
    // The fake data plane cannot decorrelate: a clear error, exit 1.
    const dec = await ipsec("spd", "--decorrelated", "--socket", sock);
    assert.equal(dec.code, 1, dec.err);
    assert.match(dec.err, /cannot show the decorrelated SPD/);
    const pad = JSON.parse((await ipsec("pad", "--json", "--socket", sock)).out);
    assert.deepEqual(pad, [{ "#": 1, id: "b@example.org", auth: "psk" }]);
  });
});

Deno.test("reload: a broken file exits 6 and says nothing changed", async () => {
  await withDaemon(async (sock, _rt, dir) => {
    const r = await ipsec("reload", "--config", `${dir}/nope.yaml`, "--socket", sock);
    assert.equal(r.code, 6);
    assert.match(r.err, /nope\.yaml:3:5: connections\.site\.remote_addrs: expected a list/);
    assert.match(r.err, /nothing was changed/);
    const ok = await ipsec("reload", "--socket", sock);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /added none; changed none; removed none/);
  });
});

Deno.test("log --no-follow prints past lines; stop waits until the daemon is gone", async () => {
  await withDaemon(async (sock) => {
    await ipsec("up", "site", "--socket", sock);
    const log = await ipsec("log", "--no-follow", "--lines", "100", "--socket", sock);
    assert.equal(log.code, 0, log.err);
    assert.match(log.out, /\[knl\] info {2}installed ESP SA out SPI 0a000001/);
    const stop = await ipsec("stop", "--socket", sock);
    assert.equal(stop.code, 0, stop.err);
    assert.match(stop.out, /stopped/);
    assert.equal((await ipsec("status", "--socket", sock)).code, 7);
  });
});

Deno.test("renderIkeSas(): rekey, reauthentication and expiry times of an IKE SA, as charon shows them", () => {
  const now = 1_000_000;
  const text = renderIkeSas([{
    ikeSaId: 1,
    connection: "gw",
    state: "established",
    since: now - 5000,
    ike: {
      spiI: "0123456789abcdef",
      spiR: "fedcba9876543210",
      initiator: true,
      local: "192.0.2.1[500]",
      remote: "192.0.2.2[500]",
      localId: "a",
      remoteId: "b",
      rekeyAt: now + 14_000_000,
      expiresAt: now + 15_440_000,
    },
    children: [],
  }], now);
  assert.match(text, /^ {2}rekeying in 14000s, expires in 15440s$/m);
  assert.doesNotMatch(text, /reauth in/);
});

Deno.test("renderPools(): swanctl's online / offline / size, and the leases with --leases", () => {
  const data = [{
    name: "rw_pool",
    range: "10.3.0.0/24",
    base: "10.3.0.1",
    size: 254,
    online: 1,
    offline: 1,
    leases: [
      { address: "10.3.0.1", owner: "carol@example.org", online: false },
      { address: "10.3.0.2", owner: "alice@example.org", online: true },
    ],
  }];
  assert.equal(
    renderPools(data, false),
    "rw_pool              10.3.0.1                                1 / 1 / 254",
  );
  const lines = renderPools(data, true).split("\n");
  assert.equal(lines.length, 3);
  assert.match(lines[1], /^ {2}10\.3\.0\.1 +offline +'carol@example\.org'$/);
  assert.match(lines[2], /^ {2}10\.3\.0\.2 +online +'alice@example\.org'$/);
  assert.equal(renderPools([], true), "no pools");
});

Deno.test("ipsec version / --version: the release (deno.json's), Deno and the crypto backend", async () => {
  const deno = JSON.parse(
    await Deno.readTextFile(new URL("../../deno.json", import.meta.url)),
  ) as { version: string };
  for (const args of [["version"], ["--version"]]) {
    const r = await ipsec(...args);
    assert.equal(r.code, 0);
    const lines = r.out.split("\n");
    assert.equal(lines[0], `deno-ipsec ${deno.version}`);
    assert.match(lines[1], new RegExp(`^Deno ${Deno.version.deno.replaceAll(".", "\\.")} `));
    // openssl's own idea of its version, as an independent check of the FFI reading.
    const ossl = new TextDecoder().decode(
      (await new Deno.Command("openssl", { args: ["version"], stdout: "piped" }).output()).stdout,
    ).match(/OpenSSL (\d+\.\d+\.\d+)/)?.[1];
    assert.equal(lines[2], `crypto: libcrypto (OpenSSL ${ossl}) via FFI`);
  }
  const j = JSON.parse((await ipsec("version", "--json")).out) as { version: string };
  assert.equal(j.version, deno.version);
  assert.equal((await ipsec("version", "--bogus")).code, 2);
});
