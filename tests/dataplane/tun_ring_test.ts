/**
 * TunRing (ffi/tun.ts): many TUN reads/writes per system call through
 * io_uring. Runs tests/dataplane/_tun_ring_probe.ts inside a fresh
 * namespace, which sends datagrams out through a TUN, reads them back in
 * batches and writes replies through the ring to a socket.
 */
import assert from "node:assert/strict";
import { NetnsLab } from "../helpers/netns.ts";

const PROBE = new URL("./_tun_ring_probe.ts", import.meta.url).pathname;

Deno.test("TunRing reads every packet in order and writes batches that arrive in order", async () => {
  const lab = await NetnsLab.create("tring-");
  try {
    const ns = await lab.addNs("a");
    const child = lab.spawnDenoIn(ns, PROBE, ["300"]);
    const out = await child.output();
    const text = new TextDecoder().decode(out.stdout);
    assert.ok(out.success, `probe failed: ${new TextDecoder().decode(out.stderr)}`);
    const r = JSON.parse(text.trim().split("\n").at(-1)!) as {
      uring: boolean;
      seen?: number[];
      refused?: number;
      got?: number[];
    };
    // CI kernels have io_uring; a container that forbids it makes the data
    // plane fall back to read/write, which tunnel_test.ts covers.
    assert.ok(r.uring, "io_uring is unavailable here (seccomp or kernel.io_uring_disabled)");
    const all = Array.from({ length: 300 }, (_, i) => i);
    assert.deepEqual(r.seen, all, "TUN reads lost or reordered packets");
    assert.equal(r.refused, 0);
    assert.deepEqual(r.got, all, "TUN writes lost or reordered packets");
  } finally {
    await lab.cleanup();
  }
});
