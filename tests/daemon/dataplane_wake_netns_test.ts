/**
 * The real data plane with SA installs posted without a wake-up (the
 * daemon's outbound SAs, lib/daemon/adapters.ts): they are applied in
 * posting order, before anything posted after them, and without any other
 * call. Needs root (a namespace with its own TUN).
 */
import assert from "node:assert/strict";
import { NetnsLab } from "../helpers/netns.ts";

const PROBE = new URL("./_lazy_wake_probe.ts", import.meta.url).pathname;

Deno.test("data plane: installs without a wake-up keep their order and still go in", async () => {
  const lab = await NetnsLab.create("talw-");
  try {
    const ns = await lab.addNs("a");
    const r = await lab.runIn(ns, [Deno.execPath(), "run", "-A", PROBE]);
    assert.equal(r.code, 0, r.stderr);
    const got = JSON.parse(r.stdout.trim().split("\n").pop()!);
    assert.deepEqual(got, {
      seenByNext: [0x1001],
      alone: [0x1001, 0x1002],
      removed: true,
      after: [0x1001, 0x1002],
    });
  } finally {
    await lab.cleanup();
  }
});
