import { startTunnel } from "./tests/dataplane/_tunnel.ts";
const seconds = 8;
for (let i = 0; i < 3; i++) {
  const t = await startTunnel({ encapPort: 4500, udpOffload: true });
  try {
    const server = t.lab.spawnIn(t.b, ["iperf3", "-s", "-1", "-B", t.innerB]);
    await new Promise((r) => setTimeout(r, 500));
    const r = await t.lab.runIn(t.a, ["iperf3", "-c", t.innerB, "-t", `${seconds}`, "-J", "-B", t.innerA]);
    await server.status;
    const j = JSON.parse(r.stdout);
    const per = j.intervals.map((x: any) => (x.sum.bits_per_second / 1e6).toFixed(0)).join(" ");
    const a = await t.stats("a"); const b = await t.stats("b");
    const nz = (o: any) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== 0));
    console.log(`${(j.end.sum_received.bits_per_second / 1e6).toFixed(0)} Mbit/s retrans ${j.end.sum_sent.retransmits} | ${per}`);
    console.log("  a drops", JSON.stringify(nz(a.stats.drops)), "b drops", JSON.stringify(nz(b.stats.drops)));
  } finally { await t.close(); }
}
