/**
 * The daemon's MOBIKE wiring over the fakes: address polls from an
 * injected monitor reach the engine (setLocalAddresses, updateAddresses)
 * through the effect queue, the engine's `updateSa` effects move the SAs in
 * the data plane and in `ipsec list-sas`, `ike-updated` is logged, and the
 * monitor is closed on stop.
 *
 * ```
 *  monitor tick [192.0.2.12] ──► planMobike ──► engine.updateAddresses(1, 192.0.2.12)
 *                                           └─► engine.setLocalAddresses([192.0.2.12])
 *  engine ──► updateSa in/out, event ike-updated ──► data plane, SaState, log
 * ```
 */
import assert from "node:assert/strict";
import { ControlClient } from "../../lib/daemon/control_client.ts";
import { Daemon } from "../../lib/daemon/daemon.ts";
import type { Effect } from "../../lib/ikev2/effects.ts";
import type {
  AddressMonitorPort,
  DaemonConfig,
  EnginePort,
  IkeSaAddresses,
} from "../../lib/daemon/ports.ts";
import { config, conn, FakeEngine, type FakePayload, FakeRuntime } from "./_fakes.ts";

/** A monitor the test ticks by hand. */
class FakeMonitor implements AddressMonitorPort {
  routes = new Map<string, string>();
  closed = false;
  #onTick: ((a: readonly string[]) => void) | null = null;
  start(onTick: (addresses: readonly string[]) => void): void {
    this.#onTick = onTick;
    onTick(["192.0.2.1"]);
  }
  tick(addresses: string[]): void {
    this.#onTick?.(addresses);
  }
  routeSource(remote: string): string | undefined {
    return this.routes.get(remote);
  }
  close(): void {
    this.closed = true;
  }
}

/** The fake engine plus MOBIKE: the SA the fake brings up (id 1) moves on request. */
class MobikeEngine extends FakeEngine {
  mobike = true;
  vip: string | undefined;
  local = "192.0.2.1";
  #up = false;
  override initiate(name: string, now: number, child?: string): Effect[] {
    this.#up = true;
    return super.initiate(name, now, child);
  }
  ikeSas(): IkeSaAddresses[] {
    if (!this.#up) return [];
    return [{
      ikeSaId: 1,
      local: this.local,
      remote: "192.0.2.2",
      initiator: true,
      mobike: this.mobike,
      established: true,
      ...(this.vip ? { vip: this.vip } : {}),
    }];
  }
  setLocalAddresses(addresses: readonly string[]): Effect[] {
    this.calls.push(`setLocalAddresses ${addresses.join(",")}`);
    return [];
  }
  updateAddresses(ikeSaId: number, local: string): Effect[] {
    this.calls.push(`updateAddresses ${ikeSaId} ${local}`);
    this.local = local;
    const encap = (src: number, dst: number) => ({ srcPort: src, dstPort: dst });
    return [
      {
        kind: "updateSa",
        ikeSaId,
        childSaId: 10,
        protocol: "esp",
        direction: "in",
        spi: 0xc0000001,
        src: "192.0.2.2",
        dst: local,
        encap: encap(4500, 4500),
      },
      {
        kind: "updateSa",
        ikeSaId,
        childSaId: 10,
        protocol: "esp",
        direction: "out",
        spi: 0x0a000001,
        src: local,
        dst: "192.0.2.2",
        encap: encap(4500, 4500),
      },
      {
        kind: "event",
        event: {
          type: "ike-updated",
          ikeSaId,
          connectionName: "site",
          local: { address: local, port: 4500 },
          remote: { address: "192.0.2.2", port: 4500 },
        },
      },
    ];
  }
}

class MobikeRuntime extends FakeRuntime {
  override engine = new MobikeEngine();
  monitor = new FakeMonitor();
  override createEngine(): EnginePort<FakePayload> {
    return this.engine;
  }
  createAddressMonitor(_config: DaemonConfig<FakePayload>): AddressMonitorPort {
    return this.monitor;
  }
}

async function withDaemon(
  fn: (d: Daemon<FakePayload>, rt: MobikeRuntime, up: () => Promise<void>) => Promise<void>,
  rt = new MobikeRuntime(),
  localAddrs: string[] = [],
): Promise<void> {
  const dir = await Deno.makeTempDir();
  // No local_addrs (any address) unless the test pins them.
  const site = { ...conn("site"), localAddrs };
  rt.files.set(`${dir}/ipsec.yaml`, config(`${dir}/ipsec.yaml`, [site]));
  const d = await Daemon.start({
    runtime: rt,
    configPath: `${dir}/ipsec.yaml`,
    socketPath: `${dir}/ctl.sock`,
    upTimeoutMs: 5000,
  });
  const up = async () => {
    const c = await ControlClient.connect(`${dir}/ctl.sock`);
    try {
      await c.call("up", { name: "site" });
    } finally {
      c.close();
    }
  };
  try {
    await fn(d, rt, up);
  } finally {
    await d.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

function logText(d: Daemon<FakePayload>): string {
  return d.log.recent(1000).map((e) => `${e.subsystem} ${e.message}`).join("\n");
}

Deno.test("daemon MOBIKE: the first poll announces our addresses to the engine", async () => {
  await withDaemon(async (d, rt) => {
    await d.settled();
    assert.deepEqual(rt.engine.calls, ["setLocalAddresses 192.0.2.1"]);
    assert.match(logText(d), /net local addresses: 192\.0\.2\.1/);
  });
});

Deno.test("daemon MOBIKE: our address is replaced, the SA moves and the data plane follows", async () => {
  await withDaemon(async (d, rt, up) => {
    await up();
    rt.engine.calls.length = 0;
    rt.monitor.routes.set("192.0.2.2", "192.0.2.12");
    rt.monitor.tick(["192.0.2.12"]);
    await d.settled();
    assert.deepEqual(rt.engine.calls, [
      "updateAddresses 1 192.0.2.12",
      "setLocalAddresses 192.0.2.12",
    ]);
    assert.deepEqual(
      rt.dataplane.updated.map((u) => `${u.direction} ${u.src} -> ${u.dst}`),
      ["in 192.0.2.2 -> 192.0.2.12", "out 192.0.2.12 -> 192.0.2.2"],
    );
    assert.deepEqual(
      d.state.sas().map((v) => `${v.direction} ${v.src} -> ${v.dst}`).sort(),
      ["in 192.0.2.2 -> 192.0.2.12", "out 192.0.2.12 -> 192.0.2.2"],
    );
    const log = logText(d);
    assert.match(log, /MOBIKE: moving site\[1\] from 192\.0\.2\.1 to 192\.0\.2\.12/);
    assert.match(log, /ike-updated site\[1\] now 192\.0\.2\.12\[4500\] - 192\.0\.2\.2\[4500\]/);
    // The next poll sees the SA at its new address: nothing more to do.
    rt.engine.calls.length = 0;
    rt.monitor.tick(["192.0.2.12"]);
    await d.settled();
    assert.deepEqual(rt.engine.calls, []);
  });
});

Deno.test("daemon MOBIKE: virtual IPs are never announced; SAs without MOBIKE are reported, not moved", async () => {
  const rt = new MobikeRuntime();
  rt.engine.mobike = false;
  rt.engine.vip = "10.3.0.7";
  await withDaemon(async (d, _rt, up) => {
    await up();
    rt.engine.calls.length = 0;
    rt.monitor.routes.set("192.0.2.2", "192.0.2.12");
    rt.monitor.tick(["192.0.2.12", "10.3.0.7"]);
    await d.settled();
    assert.deepEqual(rt.engine.calls, ["setLocalAddresses 192.0.2.12"]);
    assert.match(logText(d), /lost its address 192\.0\.2\.1 and cannot move \(no MOBIKE\)/);
  }, rt);
});

Deno.test("daemon MOBIKE: an SA never leaves its connection's local_addrs", async () => {
  await withDaemon(
    async (d, rt, up) => {
      await up();
      rt.engine.calls.length = 0;
      rt.monitor.routes.set("192.0.2.2", "192.0.2.12");
      rt.monitor.tick(["192.0.2.12"]);
      await d.settled();
      assert.deepEqual(rt.engine.calls, ["setLocalAddresses 192.0.2.12"]);
      assert.match(
        logText(d),
        /site\[1\] lost its address 192\.0\.2\.1 and cannot move \(192\.0\.2\.12 is not in its local_addrs\)/,
      );
    },
    new MobikeRuntime(),
    ["192.0.2.1"],
  );
});

Deno.test("daemon MOBIKE: stop closes the monitor and later ticks are ignored", async () => {
  const rt = new MobikeRuntime();
  await withDaemon(async () => {}, rt);
  assert.ok(rt.monitor.closed);
  rt.engine.calls.length = 0;
  rt.monitor.tick(["192.0.2.99"]);
  assert.deepEqual(rt.engine.calls, []);
});

Deno.test("daemon MOBIKE: without an address monitor in the runtime nothing is polled", async () => {
  const rt = new FakeRuntime();
  const dir = await Deno.makeTempDir();
  rt.files.set(`${dir}/c.yaml`, config(`${dir}/c.yaml`, [conn("site")]));
  const d = await Daemon.start({
    runtime: rt,
    configPath: `${dir}/c.yaml`,
    socketPath: `${dir}/ctl.sock`,
  });
  try {
    await d.settled();
    assert.doesNotMatch(logText(d as Daemon<FakePayload>), /local addresses/);
  } finally {
    await d.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
