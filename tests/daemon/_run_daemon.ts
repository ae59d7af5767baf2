/**
 * A daemon on fake ports (tests/daemon/_fakes.ts) with its control socket
 * in a temporary directory, and the fake peer's messages to it.
 *
 * @example
 * ```ts
 * await runDaemon(new FakeRuntime(), [conn("site")], async ({ c }) => {
 *   await c.call("up", { name: "site" });
 * });
 * ```
 *
 * @module
 */
import { Daemon } from "../../lib/daemon/daemon.ts";
import { ControlClient } from "../../lib/daemon/control_client.ts";
import type { ConnectionInfo } from "../../lib/daemon/ports.ts";
import type { Effect } from "../../lib/ikev2/effects.ts";
import { config, type FakePayload, type FakeRuntime } from "./_fakes.ts";

/**
 * Starts a daemon on `rt` with `connections` in its configuration (`setup`
 * runs before the start), connects a control client, runs `fn`, then closes
 * the client, stops the daemon and removes the directory.
 */
export async function runDaemon(
  rt: FakeRuntime,
  connections: ConnectionInfo[],
  fn: (ctx: { d: Daemon<FakePayload>; c: ControlClient; dir: string }) => Promise<void>,
  setup?: (dir: string) => void,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  rt.files.set(`${dir}/ipsec.yaml`, config(`${dir}/ipsec.yaml`, connections));
  setup?.(dir);
  const d = await Daemon.start({
    runtime: rt,
    configPath: `${dir}/ipsec.yaml`,
    socketPath: `${dir}/ctl.sock`,
    upTimeoutMs: 5000,
  });
  const c = await ControlClient.connect(`${dir}/ctl.sock`);
  try {
    await fn({ d, c, dir });
  } finally {
    c.close();
    await d.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

/** The (fake) peer sends a message: the engine answers it with `effects`. */
export function peerSays(rt: FakeRuntime, effects: Effect[]): void {
  rt.engine.script = effects;
  rt.transport.deliver(new Uint8Array(40), { address: "192.0.2.2", port: 4500 }, {
    address: "192.0.2.1",
    port: 4500,
  });
}
