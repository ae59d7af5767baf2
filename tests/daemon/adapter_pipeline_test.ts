/**
 * UserspaceDataplaneAdapter under the daemon's pipelining: calls arrive
 * before earlier ones resolved, and must reach the Workers in call order;
 * a road-warrior gateway's client policies (SPD instances) are posted right
 * after their SAs, one each, and go before their SAs.
 */
import assert from "node:assert/strict";
import { type RuntimePayload, UserspaceDataplaneAdapter } from "../../lib/daemon/adapters.ts";
import type { Dataplane, PolicyInstance } from "../../lib/dataplane/dataplane.ts";
import type { SaSpec } from "../../lib/dataplane/sa_spec.ts";
import type { SpdEntry } from "../../lib/db/spd.ts";
import { clientSa, gatewaySpd, removeOut } from "./_gateway.ts";

/** "esp:40961" -> "a001" (the adapter keys instances by the outbound SA). */
const spiOf = (key: string) => Number(key.split(":")[1]).toString(16);

/** Records what the adapter posts, in posting order; answers when the test says. */
class PostedDataplane {
  tunName = "ipsec0";
  backend = "test";
  inboundGuard = null;
  /** What was posted, in order (what a Worker's FIFO would apply). */
  posted: string[] = [];
  #answers: { call: string; ok: () => void; fail: (e: Error) => void }[] = [];
  /** Answer calls as they come (true) or hold them until {@link answer} (false). */
  auto = true;

  #post(call: string): Promise<void> {
    this.posted.push(call);
    if (this.auto) return Promise.resolve();
    return new Promise((ok, fail) => this.#answers.push({ call, ok, fail }));
  }
  answer(call: string, error?: Error): void {
    const i = this.#answers.findIndex((a) => a.call === call);
    assert.ok(i >= 0, `'${call}' is not pending`);
    const a = this.#answers.splice(i, 1)[0];
    if (error) a.fail(error);
    else a.ok();
  }
  answerAll(): void {
    for (const a of this.#answers.splice(0)) a.ok();
  }
  /** Installs posted without waking the Worker (`wake: false`). */
  lazy: string[] = [];
  installSa(spec: SaSpec, opts: { wake?: boolean } = {}) {
    const call = `installSa ${spec.direction} ${spec.spi.toString(16)}`;
    if (opts.wake === false) this.lazy.push(call);
    return this.#post(call);
  }
  removeSa(dir: "in" | "out", _proto: "esp" | "ah", spi: number) {
    return this.#post(`removeSa ${dir} ${spi.toString(16)}`).then(() => true);
  }
  setPolicies(entries: SpdEntry[] | null, instances: PolicyInstance[] = []) {
    return this.#post(`setPolicies ${entries?.length} [${instances.map((i) => spiOf(i.key))}]`);
  }
  addPolicyInstance(i: PolicyInstance, opts: { wake?: boolean } = {}) {
    const call = `instance + ${spiOf(i.key)}`;
    if (opts.wake === false) this.lazy.push(call);
    return this.#post(call);
  }
  removePolicyInstance(key: string) {
    return this.#post(`instance - ${spiOf(key)}`).then(() => true);
  }
  on() {
    return () => {};
  }
  stop() {
    return Promise.resolve();
  }
}

async function gateway() {
  const fake = new PostedDataplane();
  const a = new UserspaceDataplaneAdapter(
    () => {},
    () => Promise.resolve(fake as unknown as Dataplane),
    4500,
  );
  const spd = gatewaySpd();
  await a.configure({ engine: { connections: [] }, spd, dataplane: {} } as RuntimePayload);
  fake.posted = [];
  return { a, fake };
}

/*
 * Two clients' handshakes complete in one turn (nothing awaited in between):
 * their SAs are posted as the calls come, each outbound SA followed by its
 * instance; a client leaving: its instance goes before its SA.
 */
Deno.test("adapter pipeline: SAs posted in call order, each instance after its SA, removal policy first", async () => {
  const { a, fake } = await gateway();
  fake.auto = false;
  const calls = [
    a.installSa(clientSa(1, "in", 0xc001)),
    a.installSa(clientSa(1, "out", 0xa001)),
    a.installSa(clientSa(2, "in", 0xc002)),
    a.installSa(clientSa(2, "out", 0xa002)),
  ];
  // Posted synchronously, before any answer.
  assert.deepEqual(fake.posted, [
    "installSa in c001",
    "installSa out a001",
    "instance + a001",
    "installSa in c002",
    "installSa out a002",
    "instance + a002",
  ]);
  // Only inbound SAs wake their Worker at once (the IKE response waits for them);
  // an outbound SA and its instance go together at the Worker's next wake-up.
  assert.deepEqual(fake.lazy, [
    "installSa out a001",
    "instance + a001",
    "installSa out a002",
    "instance + a002",
  ]);
  let done = false;
  void Promise.all(calls.slice(1)).then(() => done = true);
  fake.answer("installSa in c001");
  fake.answer("installSa out a001");
  fake.answer("installSa in c002");
  fake.answer("installSa out a002");
  await Promise.resolve();
  assert.equal(done, false, "an outbound SA counts as installed before its policy is in");
  fake.answerAll();
  await Promise.all(calls);

  // Client 1 leaves while client 3 arrives, in one turn.
  const more = [
    a.removeSa(removeOut(1, 0xa001)),
    a.installSa(clientSa(3, "out", 0xa003)),
  ];
  assert.deepEqual(fake.posted.slice(6), [
    "instance - a001",
    "removeSa out a001",
    "installSa out a003",
    "instance + a003",
  ]);
  fake.answerAll();
  await Promise.all(more);
  await a.close();
});

Deno.test("adapter pipeline: a failed install takes its client's policy back and reports the error", async () => {
  const { a, fake } = await gateway();
  fake.auto = false;
  const call = a.installSa(clientSa(4, "out", 0xa004));
  assert.deepEqual(fake.posted, ["installSa out a004", "instance + a004"]);
  fake.answer("installSa out a004", new Error("no room for another SA"));
  await assert.rejects(call, /no room for another SA/);
  // The instance of the SA that is not there goes.
  assert.deepEqual(fake.posted.at(-1), "instance - a004");
  fake.answerAll();
  await a.close();
});
