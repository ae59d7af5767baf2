/**
 * `udp_offload: yes` against strongSwan's charon (kernel-libipsec): our
 * daemon sends ESP in UDP in segmented sends (UDP_SEGMENT) and receives on
 * a UDP_GRO socket. charon's socket has no UDP_GRO, so its kernel cuts our
 * buffers into datagrams before charon reads them: if a cut fell anywhere
 * but on a datagram boundary, charon's ESP would fail its ICV and TCP would
 * stall. 4 MB of TCP go each way with the same SHA-256 on both ends,
 * charon's byte counters must move, and our data plane must have made
 * segmented sends (else nothing was tested).
 *
 * ```
 *  ns "c": charon 192.0.2.1, lo 10.1.0.1  <== veth ==>  ns "d": daemon 192.0.2.2, lo 10.2.0.1
 * ```
 *
 * @module
 */
import { check } from "./_gap_lab.ts";
import { trafficBothWays } from "../helpers/interop_traffic.ts";
import { withBench } from "../helpers/interop_system.ts";

Deno.test({
  name: "strongSwan interop, our daemon: udp_offload: yes, 4 MB each way through charon",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await withBench(
      undefined,
      async ({ lab, charon, daemon, c, d }) => {
        const r = await daemon.cli(["up", "gw", "--timeout", "15"]);
        check(r.code === 0, "ipsec up gw", r);
        await charon.waitSas(
          (x) =>
            x.length === 1 && x[0].state === "ESTABLISHED" &&
            x[0].children.some((ch) => ch.state === "INSTALLED"),
          "an IKE SA with its child",
        );
        await trafficBothWays(lab, { ns: d, ip: "10.2.0.1" }, { ns: c, ip: "10.1.0.1" }, 4 << 20);
        const child = (await charon.sas())[0].children[0];
        check(
          child.bytesIn > 4 << 20 && child.bytesOut > 4 << 20,
          "charon moved too few bytes",
          child,
        );
        const status = await daemon.call("status") as {
          dataplane: { packets: { udpSegmented: number } };
        };
        check(
          status.dataplane.packets.udpSegmented > 0,
          "our data plane made no segmented send",
          status.dataplane,
        );
      },
      {},
      { ours: { sections: "udp_offload: yes\n" } },
    );
  },
});
