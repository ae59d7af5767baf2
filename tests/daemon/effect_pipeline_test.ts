/**
 * The daemon applies the engine's effects pipelined (lib/daemon/daemon.ts
 * `#run`): data plane calls are issued at once and in engine order, while
 * sends, events and SaState wait for the calls they depend on. These tests
 * hold the data plane's answers back (a gated fake) and check what may and
 * what may not happen meanwhile.
 */
import assert from "node:assert/strict";
import { Daemon } from "../../lib/daemon/daemon.ts";
import type { Effect, EngineEvent, SaInstall } from "../../lib/ikev2/effects.ts";
import { config, conn, FakeDataplane, type FakePayload, FakeRuntime, sa } from "./_fakes.ts";

/** A data plane call the test answers (or fails) when it wants. */
interface Gate {
  readonly call: string;
  resolve(): void;
  reject(e: Error): void;
}

/** The fake data plane, but every install/remove waits for the test. */
class GatedDataplane extends FakeDataplane {
  /** Calls in the order the daemon made them (not the order they finished). */
  readonly issued: string[] = [];
  readonly gates: Gate[] = [];

  #gate(call: string, apply: () => void): Promise<void> {
    this.issued.push(call);
    return new Promise<void>((resolve, reject) => {
      this.gates.push({
        call,
        resolve: () => {
          apply();
          resolve();
        },
        reject,
      });
    });
  }

  override installSa(s: SaInstall): Promise<void> {
    return this.#gate(
      `install ${s.direction} ${s.spi.toString(16)}`,
      () => void super.installSa(s),
    );
  }

  override removeSa(e: Extract<Effect, { kind: "removeSa" }>): Promise<void> {
    return this.#gate(`remove ${e.direction} ${e.spi.toString(16)}`, () => void super.removeSa(e));
  }

  /** Answers the pending call `call` (it must exist). */
  release(call: string): void {
    const i = this.gates.findIndex((g) => g.call === call);
    assert.ok(i >= 0, `no pending call '${call}' (pending: ${this.pending()})`);
    this.gates.splice(i, 1)[0].resolve();
  }

  fail(call: string, e: Error): void {
    const i = this.gates.findIndex((g) => g.call === call);
    assert.ok(i >= 0, `no pending call '${call}'`);
    this.gates.splice(i, 1)[0].reject(e);
  }

  pending(): string[] {
    return this.gates.map((g) => g.call);
  }
}

const US = { address: "192.0.2.1", port: 500 };
const PEER = { address: "192.0.2.2", port: 500 };

/** A 28-byte IKE header: SPIi = `spi`, exchange type, response flag. */
function ike(spi: number, exchange: 34 | 35 | 36 | 37, response = true): Uint8Array {
  const b = new Uint8Array(28);
  new DataView(b.buffer).setUint32(4, spi);
  b[17] = 0x20;
  b[18] = exchange;
  b[19] = response ? 0x20 : 0x08;
  return b;
}

const send = (bytes: Uint8Array): Effect => ({ kind: "send", from: US, to: PEER, bytes });
const install = (ikeSaId: number, dir: "in" | "out", spi: number): Effect => ({
  kind: "installSa",
  sa: sa(ikeSaId, ikeSaId * 10, "site", dir, spi),
});
const remove = (ikeSaId: number, dir: "in" | "out", spi: number): Effect => ({
  kind: "removeSa",
  ikeSaId,
  childSaId: ikeSaId * 10,
  protocol: "esp",
  direction: dir,
  spi,
  dst: dir === "in" ? "192.0.2.1" : "192.0.2.2",
});
const event = (ev: EngineEvent): Effect => ({ kind: "event", event: ev });

/**
 * What the real engine returns for an IKE_AUTH request it accepts: the
 * response first, then both SAs, then child-up.
 */
function authResponse(id: number, spiIn: number, spiOut: number): Effect[] {
  return [
    send(ike(id, 35)),
    event({ type: "ike-up", ikeSaId: id, connectionName: "site" }),
    install(id, "in", spiIn),
    install(id, "out", spiOut),
    event({
      type: "child-up",
      ikeSaId: id,
      childSaId: id * 10,
      childName: "net",
      spiIn,
      spiOut,
    }),
  ];
}

/** Lets every promise that can settle do so (no timing involved: only queued jobs run). */
async function drain(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
}

async function withGatedDaemon(
  fn: (ctx: { d: Daemon<FakePayload>; rt: FakeRuntime; dp: GatedDataplane }) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const rt = new FakeRuntime();
  const dp = new GatedDataplane();
  rt.dataplane = dp;
  rt.files.set(`${dir}/ipsec.yaml`, config(`${dir}/ipsec.yaml`, [conn("site")]));
  const d = await Daemon.start({
    runtime: rt,
    configPath: `${dir}/ipsec.yaml`,
    socketPath: `${dir}/ctl.sock`,
  });
  try {
    await fn({ d, rt, dp });
  } finally {
    // Whatever the test left pending: answer it, so stop() can finish.
    for (const g of dp.gates.splice(0)) g.resolve();
    const stopping = d.stop();
    await drain();
    for (const g of dp.gates.splice(0)) g.resolve();
    await stopping;
    await Deno.remove(dir, { recursive: true });
  }
}

/** The peer's message arrives; the engine answers with `effects`. */
function peerSays(rt: FakeRuntime, effects: Effect[]): void {
  rt.engine.script = effects;
  rt.transport.deliver(new Uint8Array(40), PEER, US);
}

const sentExchanges = (rt: FakeRuntime) =>
  rt.transport.sent.map((s) => `${new DataView(s.bytes.buffer).getUint32(4)}/${s.bytes[18]}`);

/*
 * Two initiators at once (IKE SAs 1 and 2):
 *
 *   peer 1 IKE_AUTH ──► install in/out (held)    response 1 waits for "in c1"
 *   peer 2 IKE_SA_INIT ──► response leaves at once
 *   peer 2 IKE_AUTH ──► install in/out (held)    response 2 waits for "in c2"
 *   "in c2" done ──► response 2 leaves (1 still waits)
 *   "in c1" done ──► response 1 leaves; child-up 1 only once "out a1" is done
 */
Deno.test("effect pipeline: a handshake's installs hold back only its own response and events", async () => {
  await withGatedDaemon(async ({ d, rt, dp }) => {
    peerSays(rt, authResponse(1, 0xc1, 0xa1));
    // Issued at once, in engine order, before anything was answered.
    assert.deepEqual(dp.issued, ["install in c1", "install out a1"]);
    await drain();
    assert.deepEqual(sentExchanges(rt), [], "IKE_AUTH response before its inbound SA");

    peerSays(rt, [send(ike(2, 34)), { kind: "setTimer", id: "rtx-2", at: Date.now() + 60_000 }]);
    assert.deepEqual(sentExchanges(rt), ["2/34"], "IKE_SA_INIT waits for nothing");
    assert.ok(d.timerIds().includes("rtx-2"));

    peerSays(rt, authResponse(2, 0xc2, 0xa2));
    assert.deepEqual(dp.issued, [
      "install in c1",
      "install out a1",
      "install in c2",
      "install out a2",
    ]);
    dp.release("install in c2");
    await drain();
    assert.deepEqual(sentExchanges(rt), ["2/34", "2/35"], "IKE SA 2 does not wait for IKE SA 1");

    dp.release("install in c1");
    await drain();
    assert.deepEqual(sentExchanges(rt), ["2/34", "2/35", "1/35"]);
    // child-up (and `ipsec up`, SaState) only once both directions are in.
    const childUps = () => d.log.recent(100).filter((e) => e.message.startsWith("child-up"));
    assert.equal(childUps().length, 0);
    assert.deepEqual(d.state.sas().map((s) => s.spi).sort(), [0xc1, 0xc2]);
    dp.release("install out a1");
    await drain();
    assert.deepEqual(childUps().map((e) => e.message.split(" ")[1]), ["site[1]"]);
    dp.release("install out a2");
    await d.settled();
    assert.equal(childUps().length, 2);
    assert.equal(d.state.sas().length, 4);
  });
});

/*
 * One child SA installed and deleted before the Worker answered the install:
 * the data plane gets install, install, remove, remove in that order, and
 * SaState and the log follow that order.
 */
Deno.test("effect pipeline: install and removal of one SA keep their order", async () => {
  await withGatedDaemon(async ({ d, rt, dp }) => {
    peerSays(rt, authResponse(1, 0xc1, 0xa1));
    peerSays(rt, [
      remove(1, "in", 0xc1),
      remove(1, "out", 0xa1),
      event({ type: "child-down", ikeSaId: 1, childSaId: 10, childName: "net", reason: "deleted" }),
      send(ike(1, 37)),
    ]);
    assert.deepEqual(dp.issued, [
      "install in c1",
      "install out a1",
      "remove in c1",
      "remove out a1",
    ]);
    // The Worker answers in the order it got them.
    for (const call of [...dp.issued]) dp.release(call);
    await d.settled();
    assert.deepEqual(d.state.sas(), []);
    assert.equal(rt.dataplane.installed.size, 0);
    const knl = d.log.recent(100).filter((e) => e.subsystem === "knl").map((e) =>
      e.message.split(" ").slice(0, 5).join(" ")
    );
    assert.deepEqual(knl, [
      "installed ESP SA in SPI",
      "installed ESP SA out SPI",
      "removed ESP SA in SPI",
      "removed ESP SA out SPI",
    ]);
    assert.deepEqual(sentExchanges(rt), ["1/35", "1/37"]);
  });
});

/*
 * A message that names no IKE SA (here the engine resending a cached
 * IKE_AUTH response to a retransmitted request) cannot be told apart from
 * one that announces a pending SA: it waits for everything before it.
 */
Deno.test("effect pipeline: a send without an IKE SA waits for every earlier install", async () => {
  await withGatedDaemon(async ({ d, rt, dp }) => {
    peerSays(rt, authResponse(1, 0xc1, 0xa1));
    peerSays(rt, [send(ike(1, 35))]);
    await drain();
    assert.deepEqual(sentExchanges(rt), []);
    dp.release("install in c1");
    await drain();
    assert.deepEqual(sentExchanges(rt), ["1/35"], "the retransmission before its SA");
    dp.release("install out a1");
    await d.settled();
    assert.deepEqual(sentExchanges(rt), ["1/35", "1/35"]);
  });
});

Deno.test("effect pipeline: a failed install is logged where it was due, the rest goes on", async () => {
  await withGatedDaemon(async ({ d, rt, dp }) => {
    peerSays(rt, authResponse(1, 0xc1, 0xa1));
    dp.fail("install in c1", new Error("ENCR 99 is not supported by the data plane"));
    dp.release("install out a1");
    await d.settled();
    const lines = d.log.recent(100).map((e) => `${e.level} ${e.message}`);
    const failed = lines.findIndex((l) =>
      l === "error applying installSa failed: ENCR 99 is not supported by the data plane"
    );
    assert.ok(failed >= 0, lines.join("\n"));
    assert.ok(lines.findIndex((l) => l.includes("installed ESP SA out")) > failed);
    // Only what the data plane has is in SaState (and `ipsec sad`).
    assert.deepEqual(d.state.sas().map((s) => `${s.direction} ${s.spi.toString(16)}`), [
      "out a1",
    ]);
    assert.deepEqual(sentExchanges(rt), ["1/35"]);
  });
});

/*
 * Rekey responder, the peer deletes the old child in the same exchange: the
 * new outbound SA goes in before the old one goes (make before break), so
 * protected traffic always finds an SA and never waits for an acquire.
 */
Deno.test("effect pipeline: a replacing outbound SA is installed before the old one is removed", async () => {
  await withGatedDaemon(async ({ d, rt, dp }) => {
    peerSays(rt, authResponse(1, 0xc1, 0xa1));
    for (const call of [...dp.issued]) dp.release(call);
    await d.settled();
    peerSays(rt, [
      remove(1, "out", 0xa1),
      remove(1, "in", 0xc1),
      send(ike(1, 36)),
      install(1, "in", 0xc3),
      install(1, "out", 0xa3),
    ]);
    assert.deepEqual(dp.issued.slice(2), [
      "install out a3",
      "remove out a1",
      "remove in c1",
      "install in c3",
    ]);
    await drain();
    assert.deepEqual(sentExchanges(rt), ["1/35"], "CREATE_CHILD_SA response before its SA");
    for (const call of dp.pending()) dp.release(call);
    await d.settled();
    assert.deepEqual(sentExchanges(rt), ["1/35", "1/36"]);
    assert.deepEqual(d.state.sas().map((s) => s.spi).sort(), [0xa3, 0xc3]);
  });
});

Deno.test("effect pipeline: stop lets the Deletes leave before the sockets close", async () => {
  await withGatedDaemon(async ({ d, rt, dp }) => {
    peerSays(rt, authResponse(1, 0xc1, 0xa1));
    for (const call of [...dp.issued]) dp.release(call);
    await d.settled();
    // A socket that takes its time: a Delete still in flight when stop() runs.
    const order: string[] = [];
    rt.transport.send = (bytes) => {
      order.push(`send ${bytes[18]}`);
      return new Promise((r) => setTimeout(r, 5)).then(() => void order.push("sent"));
    };
    const close = rt.transport.close.bind(rt.transport);
    rt.transport.close = () => {
      order.push("close");
      close();
    };
    rt.engine.shutdown = () => [send(ike(1, 37, false))];
    await d.stop();
    assert.deepEqual(order, ["send 37", "sent", "close"]);
  });
});
