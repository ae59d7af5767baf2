import assert from "node:assert/strict";
import { NetnsLab } from "../helpers/netns.ts";
import { startAgent, twoHosts } from "./_lab.ts";

// UdpGsoSender (ffi/udp_gso.ts) between two namespaces joined by a veth
// (MTU 1500). The receiving kernel is the oracle: whatever the sender
// batched, the receiver's UDP socket must get the same datagrams, byte for
// byte, in order, from the sender's address and port, as if each had been
// sent on its own. Plan (tests/ffi/_udp_gso_agent.ts): 5 x 1000 bytes + 120
// (one run, 5,120 bytes: over the MTU if it went out unsegmented), 300
// without DF, 3 x 200 with TOS 0x20 (a second run).
//
// The IPv4 receiver also reads every UDP packet's IP header with a raw
// socket, as the kernel delivered it: a run's header must carry DF (with the
// socket's default path MTU discovery, a segmented send over the MTU goes
// out without DF) and the TOS asked for. With UDP_GRO on the receiving
// socket, the veth hands a run over whole and MmsgBatch.groSize must say
// where to cut it.

const PORT = 4500;

const AGENT = new URL("./_udp_gso_agent.ts", import.meta.url).pathname;

interface Received {
  datagrams: { len: number; ok: boolean; port: number; from: number[] }[];
  groSizes: number[];
  headers: { len: number; df: boolean; tos: number }[];
}

for (const fam of [4, 6] as const) {
  for (const gro of [false, true]) {
    const name = `udp gso: IPv${fam} runs segmented, ${gro ? "UDP_GRO" : "plain"} receiver ` +
      "gets every datagram intact and in order";
    Deno.test(name, async () => {
      const lab = await NetnsLab.create("tgso-");
      try {
        const [a, b] = await twoHosts(lab, "gs", "2001:db8:6::");
        const [src, dst] = fam === 4
          ? ["192.0.2.1", "192.0.2.2"]
          : ["2001:db8:6::1", "2001:db8:6::2"];
        const rx = await startAgent(
          lab,
          b,
          ["recv", `${fam}`, `${PORT}`, "10", gro ? "1" : "0"],
          true,
          AGENT,
        );
        const tx = await startAgent(lab, a, ["send", `${fam}`, src, dst, `${PORT}`], true, AGENT);
        const sent = await tx.next();
        const got = (await rx.next()) as unknown as Received;
        assert.equal(sent.sent, 10, JSON.stringify(sent));
        assert.equal(sent.pending, 0);
        const stats = sent.stats as { sends: number; segments: number; fallbacks: number };
        // Two runs (6 and 3 datagrams); the IPv4 packet without DF went raw.
        // IPv6 has no DF: 300 bytes then 200 with another traffic class: alone, raw.
        assert.deepEqual(stats, { sends: 2, segments: 9, fallbacks: 0, disabledBy: 0 });
        assert.equal(got.datagrams.length, 10, JSON.stringify(got));
        got.datagrams.forEach((d, i) => {
          assert.ok(d.ok, `datagram ${i} differs: ${JSON.stringify(d)}`);
          assert.equal(d.port, PORT);
          assert.equal(d.from.length, fam === 4 ? 4 : 16);
        });
        if (gro) assert.ok(got.groSizes.includes(1000), `no coalesced run: ${got.groSizes}`);
        else assert.ok(got.groSizes.every((g) => g === 0), `${got.groSizes}`);
        if (fam === 4) {
          // One header per run (segmented after the raw socket saw it) or per datagram.
          assert.ok(got.headers.length >= 3, JSON.stringify(got.headers));
          const run1 = got.headers.find((h) => h.len > 1500);
          assert.ok(
            run1,
            `the first run was cut before the receiver: ${JSON.stringify(got.headers)}`,
          );
          assert.ok(run1.df, "a segmented run left without DF");
          const noDf = got.headers.filter((h) => !h.df);
          assert.deepEqual(noDf.map((h) => h.len), [20 + 8 + 300]);
          assert.ok(got.headers.some((h) => h.tos === 0x20 && h.df));
        }
      } finally {
        await lab.cleanup();
      }
    });
  }
}

// A segment over the path MTU: the kernel refuses the segmented send
// (EINVAL). The run then goes through the raw socket, where its packets
// that do not fit fail alone (EMSGSIZE, DF set) and the rest still go; the
// second run is segmented as before, offload stays on, nothing throws.
Deno.test("udp gso: a run over the path MTU falls back to the raw socket, the rest still goes", async () => {
  const lab = await NetnsLab.create("tgso-");
  try {
    const [a, b] = await twoHosts(lab, "gs", "2001:db8:6::");
    await lab.runIn(a, ["ip", "link", "set", "dev", "vgs0", "mtu", "1000"]);
    const rx = await startAgent(lab, b, ["recv", "4", `${PORT}`, "5", "0"], true, AGENT);
    const tx = await startAgent(
      lab,
      a,
      ["send", "4", "192.0.2.1", "192.0.2.2", `${PORT}`],
      true,
      AGENT,
    );
    const sent = await tx.next();
    const got = (await rx.next()) as unknown as Received;
    // Five 1,028-byte packets cannot leave; 120, 300 and the three 200-byte ones do.
    assert.equal(sent.sent, 5, JSON.stringify(sent));
    assert.deepEqual(sent.stats, { sends: 1, segments: 3, fallbacks: 1, disabledBy: 0 });
    assert.deepEqual(got.datagrams.map((d) => d.len), [120, 300, 200, 200, 200]);
  } finally {
    await lab.cleanup();
  }
});
