import assert from "node:assert/strict";
import { NetnsLab } from "../helpers/netns.ts";
import { startAgent } from "./_lab.ts";

// The agent opens TUN "tft0" by TUNSETIFF, sets MTU 1400 and up by ioctl, adds
// 10.77.0.1/24 by netlink, then answers ICMP echo requests to 10.77.0.2 by
// reading them from the TUN and writing replies back. A kernel `ping` from the
// same namespace succeeds only if both directions of the TUN work.
Deno.test("TUN: packets read from and written to a TUN device reach the kernel", async () => {
  const lab = await NetnsLab.create("tffi-");
  try {
    const ns = await lab.addNs("tun");
    const agent = await startAgent(lab, ns, ["tun", "tft0", "10.77.0.1/24", "10.77.0.2"]);
    const link = JSON.parse((await lab.runIn(ns, ["ip", "-j", "addr", "show", "tft0"])).stdout);
    assert.equal(link[0].mtu, 1400);
    assert.ok(link[0].flags.includes("UP"), JSON.stringify(link[0].flags));
    assert.deepEqual(
      link[0].addr_info
        .filter((a: { family: string }) => a.family === "inet")
        .map((a: { local: string; prefixlen: number }) => `${a.local}/${a.prefixlen}`),
      ["10.77.0.1/24"],
    );
    const ping = await lab.runIn(ns, ["ping", "-c", "2", "-i", "0.2", "-W", "2", "10.77.0.2"]);
    assert.equal(ping.code, 0, ping.stdout + ping.stderr);
    assert.equal((await agent.next()).reply, 1);
    assert.equal((await agent.next()).reply, 2);
  } finally {
    await lab.cleanup();
  }
});

// IFF_MULTI_QUEUE: a second open of the same name attaches a second queue
// (without the flag the kernel would refuse it with EBUSY).
Deno.test("TUN: two queues of one multi-queue device", async () => {
  const lab = await NetnsLab.create("tffi-");
  try {
    const ns = await lab.addNs("mq");
    const agent = await startAgent(lab, ns, ["tun-mq", "tfmq0"], false);
    assert.deepEqual(await agent.next(), { names: ["tfmq0", "tfmq0"], multiQueue: true });
  } finally {
    await lab.cleanup();
  }
});
