import assert from "node:assert/strict";
import { Daemon } from "../../lib/daemon/daemon.ts";
import { ControlClient } from "../../lib/daemon/control_client.ts";
import { ControlError, type Json } from "../../lib/daemon/control_protocol.ts";
import { ConfigLoadError } from "../../lib/daemon/ports.ts";
import { config, conn, type FakePayload, FakeRuntime } from "./_fakes.ts";
import { peerSays, runDaemon } from "./_run_daemon.ts";

type Obj = { [k: string]: Json };
function obj(x: Json): Obj {
  assert.ok(typeof x === "object" && x !== null && !Array.isArray(x), `not an object: ${x}`);
  return x;
}
function list(x: Json): Json[] {
  assert.ok(Array.isArray(x), `not a list: ${JSON.stringify(x)}`);
  return x;
}

/** Starts a daemon over fakes on a temp socket; always stops it and removes the dir. */
function withDaemon(
  fn: (
    ctx: { d: Daemon<FakePayload>; rt: FakeRuntime; c: ControlClient; dir: string },
  ) => Promise<void>,
  setup?: (rt: FakeRuntime, dir: string) => void,
): Promise<void> {
  const rt = new FakeRuntime();
  return runDaemon(
    rt,
    [conn("site"), conn("fail-peer")],
    (ctx) => fn({ ...ctx, rt }),
    (dir) => setup?.(rt, dir),
  );
}

function isCode(code: string) {
  return (e: unknown) => e instanceof ControlError && e.code === code;
}

Deno.test("daemon: up installs both SA directions, status/sad show them, down removes them", async () => {
  await withDaemon(async ({ rt, c }) => {
    assert.deepEqual(obj(await c.call("status")).ikeSas, []);
    const up = obj(await c.call("up", { name: "site" }));
    assert.equal(up.connection, "site");
    assert.equal(up.spiIn, "c0000001");
    assert.equal(up.spiOut, "0a000001");
    assert.deepEqual([...rt.dataplane.installed.keys()].sort(), [
      `in:${0xc0000001}`,
      `out:${0x0a000001}`,
    ]);
    assert.equal(rt.transport.sent.length, 1);
    assert.equal(rt.transport.sent[0].to.address, "192.0.2.2");

    const sas = list(await c.call("list-sas"));
    assert.equal(sas.length, 1);
    const ike = obj(sas[0]);
    assert.equal(ike.state, "established");
    const child = obj(list(ike.children)[0]);
    assert.equal(child.state, "installed");
    const inbound = obj(child.inbound);
    assert.equal(inbound.spi, "c0000001");
    assert.equal(inbound.encr, "ENCR_AES_GCM_16/256");
    assert.equal(inbound.bytes, "840");
    assert.deepEqual(inbound.localTs, ["10.1.0.0/16"]);

    const sad = list(await c.call("sad")).map(obj);
    assert.deepEqual(sad.map((s) => `${s.direction} ${s.spi}`).sort(), [
      "in c0000001",
      "out 0a000001",
    ]);

    const down = obj(await c.call("down", { name: "site" }));
    assert.deepEqual(down, { connection: "site", deleted: 1 });
    assert.equal(rt.dataplane.installed.size, 0);
    assert.deepEqual(list(await c.call("sad")), []);
    await assert.rejects(() => c.call("down", { name: "site" }), isCode("NOT_FOUND"));
  });
});

Deno.test("daemon: up reports unknown connections, missing names and failed negotiations", async () => {
  await withDaemon(async ({ c }) => {
    await assert.rejects(
      () => c.call("up", { name: "nope" }),
      (e: unknown) =>
        isCode("NOT_FOUND")(e) && /configured: site, fail-peer/.test((e as Error).message),
    );
    await assert.rejects(() => c.call("up", {}), isCode("BAD_REQUEST"));
    await assert.rejects(() => c.call("up", { name: "site", child: "other" }), isCode("NOT_FOUND"));
    await assert.rejects(
      () => c.call("up", { name: "fail-peer" }),
      (e: unknown) => isCode("FAILED")(e) && /NO_PROPOSAL_CHOSEN/.test((e as Error).message),
    );
  });
});

Deno.test("daemon: start_action=start connections are initiated at startup", async () => {
  await withDaemon(
    async ({ rt, c }) => {
      assert.deepEqual(rt.engine.calls, ["initiate auto/net"]);
      assert.equal(list(await c.call("list-sas")).length, 1);
    },
    (rt, dir) =>
      rt.files.set(`${dir}/ipsec.yaml`, config(`${dir}/ipsec.yaml`, [conn("auto", "start")])),
  );
});

Deno.test("daemon: a broken config on reload is rejected and changes nothing", async () => {
  await withDaemon(async ({ rt, c, dir }) => {
    await c.call("up", { name: "site" });
    await assert.rejects(
      () => c.call("reload", { config: `${dir}/broken.yaml` }),
      (e: unknown) => isCode("CONFIG")(e) && /broken\.yaml:3:5/.test((e as Error).message),
    );
    assert.deepEqual(list(await c.call("list-conns")).map((x) => obj(x).name), [
      "site",
      "fail-peer",
    ]);
    assert.equal(list(await c.call("list-sas")).length, 1);
    assert.ok(!rt.engine.calls.some((x) => x.startsWith("reconfigure")));
  });
});

Deno.test("daemon: reload keeps unchanged SAs, deletes changed ones and starts new ones", async () => {
  await withDaemon(
    async ({ rt, c, dir }) => {
      await c.call("up", { name: "site" });
      await c.call("up", { name: "other" });
      rt.files.set(
        `${dir}/v2.yaml`,
        config(`${dir}/v2.yaml`, [
          conn("site"),
          conn("other", "none", "192.0.2.99"),
          conn("new", "start"),
        ]),
      );
      rt.engine.calls = [];
      const r = obj(await c.call("reload", { config: `${dir}/v2.yaml` }));
      assert.deepEqual(r.added, ["new"]);
      assert.deepEqual(r.changed, ["other"]);
      assert.deepEqual(r.removed, []);
      assert.deepEqual(rt.engine.calls, [
        "terminate other",
        "reconfigure site,other,new",
        "initiate new/net",
      ]);
      const live = list(await c.call("list-sas")).map((x) => obj(x).connection).sort();
      assert.deepEqual(live, ["new", "site"]);
      assert.ok(rt.dataplane.calls.includes("configure site,other,new"));
    },
    (rt, dir) =>
      rt.files.set(`${dir}/ipsec.yaml`, config(`${dir}/ipsec.yaml`, [conn("site"), conn("other")])),
  );
});

Deno.test("daemon: acquires from the data plane initiate once per child until it is up", async () => {
  await withDaemon(async ({ rt, c }) => {
    rt.engine.calls = [];
    rt.dataplane.acquire({
      connectionName: "fail-peer",
      childName: "net",
      packet: "10.1.0.1 -> 10.2.0.1 icmp",
    });
    rt.dataplane.acquire({ connectionName: "fail-peer", childName: "net" });
    await c.call("ping");
    assert.deepEqual(rt.engine.calls, ["initiate fail-peer/net"]);
    // The failure clears the pending acquire: the next packet triggers again.
    rt.dataplane.acquire({ connectionName: "fail-peer", childName: "net" });
    assert.deepEqual(rt.engine.calls, ["initiate fail-peer/net", "initiate fail-peer/net"]);
  });
});

Deno.test("daemon: received datagrams reach the engine and timers call engine.timer", async () => {
  await withDaemon(async ({ d, rt, c }) => {
    rt.transport.deliver(new Uint8Array(28), { address: "192.0.2.2", port: 4500 }, {
      address: "192.0.2.1",
      port: 4500,
    });
    assert.deepEqual(rt.engine.calls, ["handle 28 192.0.2.2:4500 -> 192.0.2.1:4500"]);
    await c.call("up", { name: "site" });
    assert.deepEqual(d.timerIds(), ["rekey-1"]);
    // Arm a timer that is already due and wait until the engine sees it.
    const fired = new Promise<void>((resolve) => {
      const orig = rt.engine.timer.bind(rt.engine);
      rt.engine.timer = (id: string) => {
        const r = orig(id);
        resolve();
        return r;
      };
    });
    rt.engine.initiate = () => [{ kind: "setTimer", id: "due", at: 0 }];
    await c.call("up", { name: "site", timeoutSeconds: 0.001 }).catch(() => {});
    await fired;
    assert.ok(rt.engine.calls.includes("timer due"));
  });
});

Deno.test("daemon: log stream replays recent lines and ends without --follow", async () => {
  await withDaemon(async ({ c }) => {
    await c.call("up", { name: "site" });
    const lines: string[] = [];
    for await (const ev of c.stream("log", { lines: 100, follow: false })) {
      lines.push(String(obj(ev).message));
    }
    assert.ok(lines.some((l) => /^started/.test(l)), lines.join("\n"));
    assert.ok(lines.some((l) => /installed ESP SA in SPI c0000001/.test(l)), lines.join("\n"));
    assert.ok(
      lines.some((l) => /child-up site\[1\] net in c0000001 out 0a000001/.test(l)),
      lines.join("\n"),
    );
  });
});

Deno.test("daemon: stop deletes SAs, closes data plane, sockets and the control socket", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const rt = new FakeRuntime();
    rt.files.set(`${dir}/c.yaml`, config(`${dir}/c.yaml`, [conn("site")]));
    const d = await Daemon.start({
      runtime: rt,
      configPath: `${dir}/c.yaml`,
      socketPath: `${dir}/ctl.sock`,
    });
    const c = await ControlClient.connect(`${dir}/ctl.sock`);
    await c.call("up", { name: "site" });
    assert.deepEqual(obj(await c.call("stop")).stopping, true);
    c.close();
    await d.done;
    assert.ok(rt.engine.calls.includes("shutdown"));
    assert.equal(rt.dataplane.installed.size, 0);
    assert.ok(rt.dataplane.closed && rt.transport.closed);
    await assert.rejects(() => Deno.stat(`${dir}/ctl.sock`), Deno.errors.NotFound);
    assert.deepEqual(d.timerIds(), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("daemon: a broken config or a failing socket starts nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const rt = new FakeRuntime();
    await assert.rejects(
      () =>
        Daemon.start({
          runtime: rt,
          configPath: `${dir}/missing.yaml`,
          socketPath: `${dir}/ctl.sock`,
        }),
      ConfigLoadError,
    );
    rt.files.set(`${dir}/c.yaml`, config(`${dir}/c.yaml`, [conn("site")]));
    rt.transport.failStart = true;
    await assert.rejects(
      () =>
        Daemon.start({ runtime: rt, configPath: `${dir}/c.yaml`, socketPath: `${dir}/ctl.sock` }),
      /cannot bind UDP/,
    );
    assert.ok(rt.dataplane.closed, "data plane must be closed again when a later step fails");
    await assert.rejects(() => Deno.stat(`${dir}/ctl.sock`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("daemon: log --follow streams new lines until the client leaves", async () => {
  await withDaemon(async ({ dir }) => {
    const follower = await ControlClient.connect(`${dir}/ctl.sock`);
    const other = await ControlClient.connect(`${dir}/ctl.sock`);
    try {
      const seen: string[] = [];
      const stream = follower.stream("log", { lines: 1, follow: true });
      // The replayed last line proves the subscription is live before `up` logs anything.
      const replayed = await stream.next();
      assert.match(String(obj(replayed.value as Json).message), /^started/);
      await other.call("up", { name: "site" });
      for (let r = await stream.next(); !r.done; r = await stream.next()) {
        seen.push(String(obj(r.value).message));
        if (seen.some((l) => l.startsWith("child-up site"))) break;
      }
      assert.ok(seen.some((l) => l === "ipsec up site"), seen.join("\n"));
      assert.ok(!seen.some((l) => l.startsWith("started")), "only one past line was asked for");
    } finally {
      follower.close();
      other.close();
    }
  });
});

Deno.test("daemon: data plane lifetime expiries go to engine.childExpired", async () => {
  await withDaemon(async ({ rt, c }) => {
    rt.engine.calls = [];
    rt.dataplane.expire({
      childSaId: 10,
      kind: "soft",
      description: "bytes limit of ESP SA out c0000001",
    });
    rt.dataplane.expire({
      childSaId: 10,
      kind: "hard",
      description: "bytes limit of ESP SA out c0000001",
    });
    assert.deepEqual(rt.engine.calls, ["childExpired 10 soft", "childExpired 10 hard"]);
    const lines: string[] = [];
    for await (const ev of c.stream("log", { lines: 2, follow: false })) {
      lines.push(String(obj(ev).message));
    }
    assert.deepEqual(lines, [
      "soft lifetime: bytes limit of ESP SA out c0000001",
      "hard lifetime: bytes limit of ESP SA out c0000001",
    ]);
  });
});

Deno.test("daemon: NAT port floating moves installed SAs (updateSa); keepalives go out raw", async () => {
  await withDaemon(async ({ rt, c, d }) => {
    await c.call("up", { name: "site" });
    // The peer's next IKE message came from its new NAT mapping: the engine
    // moves the child SA (childSaId 10, SPIs from FakeEngine) and sends a keepalive.
    const natt = { address: "198.51.100.7", port: 4500 };
    const moved = { src: "192.0.2.1", encap: { srcPort: 4500, dstPort: 31000 } };
    rt.engine.script = [
      {
        kind: "updateSa",
        ikeSaId: 1,
        childSaId: 10,
        protocol: "esp",
        direction: "out",
        spi: 0x0a000001,
        dst: "198.51.100.7",
        ...moved,
      },
      {
        kind: "updateSa",
        ikeSaId: 1,
        childSaId: 10,
        protocol: "esp",
        direction: "in",
        spi: 0xc0000001,
        src: "198.51.100.7",
        dst: "192.0.2.1",
        encap: { srcPort: 31000, dstPort: 4500 },
      },
      {
        kind: "send",
        from: { address: "192.0.2.1", port: 4500 },
        to: natt,
        bytes: new Uint8Array([0xff]),
        raw: true,
      },
    ];
    rt.transport.deliver(new Uint8Array(28), { ...natt, port: 31000 }, natt);
    await d.settled();
    assert.deepEqual(rt.dataplane.updated.map((u) => `${u.direction} ${u.src}->${u.dst}`), [
      "out 192.0.2.1->198.51.100.7",
      "in 198.51.100.7->192.0.2.1",
    ]);
    const sad = list(await c.call("sad")).map(obj);
    const out = sad.find((s) => s.direction === "out")!;
    assert.equal(out.dst, "198.51.100.7");
    assert.equal(out.encap, "udp 4500->31000");
    assert.equal(sad.find((s) => s.direction === "in")!.encap, "udp 31000->4500");
    const last = rt.transport.sent.at(-1)!;
    assert.equal(last.raw, true);
    assert.deepEqual([...last.bytes], [0xff]);
  });
});

Deno.test("daemon: a virtual IP from the peer goes on the TUN before up returns, and goes with its IKE SA", async () => {
  await withDaemon(
    async ({ rt, c }) => {
      const up = obj(await c.call("up", { name: "vip-office" }));
      assert.equal(up.connection, "vip-office");
      // Installed before `up` answered: traffic may leave with it at once.
      assert.deepEqual(rt.dataplane.vips, ["10.3.0.1"]);
      const ike = obj(list(await c.call("list-sas"))[0]);
      assert.equal(ike.virtualIp, "10.3.0.1");
      assert.deepEqual(ike.dns, ["10.1.0.53"]);
      const status = obj(await c.call("status"));
      assert.equal(obj(list(status.ikeSas)[0]).virtualIp, "10.3.0.1");
      const log: string[] = [];
      for await (const ev of c.stream("log", { lines: 100, follow: false })) {
        log.push(String(obj(ev).message));
      }
      assert.ok(
        log.some((l) => /installed virtual IP 10\.3\.0\.1 on the TUN, DNS 10\.1\.0\.53/.test(l)),
        log.join("\n"),
      );

      // An IKE SA rekey keeps the address; only the deletion of the new SA removes it.
      peerSays(rt, [{
        kind: "event",
        event: { type: "ike-rekeyed", ikeSaId: 7, oldIkeSaId: 1, connectionName: "vip-office" },
      }]);
      peerSays(rt, [{
        kind: "event",
        event: { type: "ike-down", ikeSaId: 1, connectionName: "vip-office", reason: "rekeyed" },
      }]);
      await c.call("status");
      assert.deepEqual(rt.dataplane.vips, ["10.3.0.1"]);
      peerSays(rt, [{
        kind: "event",
        event: { type: "ike-down", ikeSaId: 7, connectionName: "vip-office", reason: "deleted" },
      }]);
      await c.call("status");
      assert.deepEqual(rt.dataplane.vips, []);
      assert.ok(rt.dataplane.calls.includes("removeVirtualIp 10.3.0.1"));
    },
    (rt, dir) =>
      rt.files.set(`${dir}/ipsec.yaml`, config(`${dir}/ipsec.yaml`, [conn("vip-office")])),
  );
});

Deno.test("daemon: ipsec down removes the virtual IP; one shared by a reauthenticated SA stays", async () => {
  await withDaemon(
    async ({ rt, c }) => {
      await c.call("up", { name: "vip-office" });
      await c.call("down", { name: "vip-office" });
      assert.deepEqual(rt.dataplane.vips, []);
      assert.deepEqual(rt.dataplane.calls.filter((x) => /VirtualIp/.test(x)), [
        "addVirtualIp 10.3.0.1",
        "removeVirtualIp 10.3.0.1",
      ]);
      assert.equal(obj(list(await c.call("list-sas"))[0] ?? {}).virtualIp, undefined);

      // Make-before-break reauthentication: the new IKE SA gets the same address.
      await c.call("up", { name: "vip-office" }); // IKE SA 2: 10.3.0.2
      peerSays(rt, [{
        kind: "event",
        event: { type: "virtual-ip", ikeSaId: 9, address: "10.3.0.2", dns: [] },
      }, {
        kind: "event",
        event: { type: "ike-down", ikeSaId: 2, connectionName: "vip-office", reason: "reauth" },
      }]);
      await c.call("status");
      assert.deepEqual(rt.dataplane.vips, ["10.3.0.2"]);
    },
    (rt, dir) =>
      rt.files.set(`${dir}/ipsec.yaml`, config(`${dir}/ipsec.yaml`, [conn("vip-office")])),
  );
});
