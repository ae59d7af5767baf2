/**
 * Two daemons with the real IKEv2 engine (lib/ikev2/engine.ts behind
 * IkeEngineAdapter) talking over an in-memory link; the data plane is a
 * recording fake. Checks the daemon plumbing end to end: control socket ->
 * engine.initiate -> sends -> the peer's engine -> installSa on both sides ->
 * `up` answers; `down` deletes on both sides; `stop` sends Delete.
 *
 * ```
 * alice (initiator)                       bob (responder)
 *  ipsec up site
 *  IKE_SA_INIT req  ───────────────────►
 *                   ◄───────────────────  IKE_SA_INIT resp
 *  IKE_AUTH req     ───────────────────►  installSa in/out, child-up
 *                   ◄───────────────────  IKE_AUTH resp
 *  installSa in/out, child-up -> `up` answers
 *  ipsec down site
 *  INFORMATIONAL D  ───────────────────►  removeSa, ike-down
 *                   ◄───────────────────  INFORMATIONAL resp
 *  removeSa, ike-down -> `down` answers
 * ```
 */
import assert from "node:assert/strict";
import { IkeEngineAdapter, type RuntimePayload } from "../../lib/daemon/adapters.ts";
import { ControlClient } from "../../lib/daemon/control_client.ts";
import type { Json } from "../../lib/daemon/control_protocol.ts";
import { Daemon } from "../../lib/daemon/daemon.ts";
import type { DaemonConfig, DaemonRuntime, IkeTransport } from "../../lib/daemon/ports.ts";
import type { Endpoint } from "../../lib/ikev2/effects.ts";
import type { EngineConfig } from "../../lib/ikev2/peer_config.ts";
import { pskConfigs } from "../helpers/two_peers.ts";
import { conn, FakeDataplane } from "./_fakes.ts";

/** Delivers datagrams to the transport registered for the destination address. */
class Link {
  #ends = new Map<string, (b: Uint8Array, from: Endpoint, to: Endpoint) => void>();
  sent = 0;
  end(address: string): IkeTransport {
    return {
      start: (on) => {
        this.#ends.set(address, on);
        return Promise.resolve();
      },
      send: (bytes, from, to) => {
        this.sent++;
        const copy = bytes.slice();
        const deliver = this.#ends.get(to.address);
        if (deliver) setTimeout(() => deliver(copy, from, to), 0);
        return Promise.resolve();
      },
      close: () => void this.#ends.delete(address),
    };
  }
}

function runtime(
  engine: EngineConfig,
  link: Link,
  address: string,
  dp: FakeDataplane<RuntimePayload>,
): DaemonRuntime<RuntimePayload> {
  const cfg: DaemonConfig<RuntimePayload> = {
    path: `/virtual/${address}.yaml`,
    connections: [conn("site")],
    spd: [],
    pad: [],
    listenAddrs: [address],
    payload: { engine, spd: [], dataplane: {} },
  };
  return {
    loadConfig: () => Promise.resolve(cfg),
    createEngine: (c) => new IkeEngineAdapter(c.payload, () => {}),
    createDataplane: () =>
      dp as unknown as FakeDataplane & { configure(c: RuntimePayload): Promise<void> },
    createTransport: () => link.end(address),
  };
}

function obj(x: Json): { [k: string]: Json } {
  assert.ok(typeof x === "object" && x !== null && !Array.isArray(x));
  return x;
}

interface Pair {
  dir: string;
  link: Link;
  a: Daemon<RuntimePayload>;
  b: Daemon<RuntimePayload>;
  dpA: FakeDataplane<RuntimePayload>;
  dpB: FakeDataplane<RuntimePayload>;
}

/** alice (192.0.2.1, initiator) and bob (192.0.2.2) daemons on a link; always stopped. */
async function withTwoDaemons(fn: (p: Pair) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  const link = new Link();
  const { alice, bob } = pskConfigs();
  const dpA = new FakeDataplane<RuntimePayload>();
  const dpB = new FakeDataplane<RuntimePayload>();
  const start = (
    cfg: EngineConfig,
    address: string,
    dp: FakeDataplane<RuntimePayload>,
    name: string,
  ) =>
    Daemon.start({
      runtime: runtime(cfg, link, address, dp),
      configPath: name,
      socketPath: `${dir}/${name}.sock`,
    });
  const a = await start(alice, "192.0.2.1", dpA, "a");
  try {
    const b = await start(bob, "192.0.2.2", dpB, "b");
    try {
      await fn({ dir, link, a, b, dpA, dpB });
    } finally {
      await b.stop();
    }
  } finally {
    await a.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("daemons with the real engine: up installs matching SAs on both sides, down removes them", async () => {
  await withTwoDaemons(async ({ dir, b, dpA, dpB }) => {
    const c = await ControlClient.connect(`${dir}/a.sock`);
    try {
      const up = obj(await c.call("up", { name: "site", timeoutSeconds: 10 }));
      assert.equal(up.connection, "site");
      assert.equal(up.child, "net");
      // alice's outbound SPI is bob's inbound SPI and vice versa.
      const outA = [...dpA.installed.values()].find((s) => s.direction === "out")!;
      const inA = [...dpA.installed.values()].find((s) => s.direction === "in")!;
      assert.ok(
        dpB.installed.has(`in:${outA.spi}`),
        "bob must have alice's outbound SA as inbound",
      );
      assert.ok(
        dpB.installed.has(`out:${inA.spi}`),
        "bob must have alice's inbound SA as outbound",
      );
      assert.equal(up.spiOut, outA.spi.toString(16).padStart(8, "0"));
      assert.deepEqual(dpB.installed.get(`in:${outA.spi}`)!.encr!.key, outA.encr!.key);
      assert.equal(b.state.ikeSas().length, 1);
      const ike = obj(obj((await c.call("list-sas") as Json[])[0]).ike);
      assert.match(String(ike.algorithms), /^ENCR_AES_GCM_16\/256\/PRF_HMAC_SHA2_384\/\S+$/);
      assert.match(String(ike.spiI), /^[0-9a-f]{16}$/);
      assert.equal(ike.initiator, true);
      assert.equal(ike.local, "192.0.2.1[4500]", "IKE_AUTH on 4500: MOBIKE and NAT-T (RFC 4555)");
      assert.equal(ike.remoteId, "bob.example.org");

      const down = obj(await c.call("down", { name: "site" }));
      assert.deepEqual(down, { connection: "site", deleted: 1 });
      assert.equal(dpA.installed.size, 0);
      // bob removed his side when he answered the Delete; wait for his queue to drain.
      const cb = await ControlClient.connect(`${dir}/b.sock`);
      try {
        assert.deepEqual(await cb.call("sad"), []);
      } finally {
        cb.close();
      }
    } finally {
      c.close();
    }
  });
});

Deno.test("daemon stop with the real engine sends a Delete the peer acts on", async () => {
  await withTwoDaemons(async ({ dir, link, a, b, dpA, dpB }) => {
    const c = await ControlClient.connect(`${dir}/a.sock`);
    await c.call("up", { name: "site", timeoutSeconds: 10 });
    c.close();
    await b.settled();
    assert.equal(dpB.installed.size, 2);
    const before = link.sent;
    await a.stop();
    assert.ok(link.sent > before, "stop must send an INFORMATIONAL Delete");
    assert.ok(dpA.closed);
    // The Delete is in flight on the link (delivered by a timer): wait for it to land.
    for (let i = 0; i < 100 && dpB.installed.size > 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
      await b.settled();
    }
    assert.equal(dpB.installed.size, 0, "bob must remove the SAs alice deleted");
  });
});
