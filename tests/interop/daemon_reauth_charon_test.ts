/**
 * Full system: `reauth_time` in our daemon's YAML against strongSwan. Our
 * daemon brings the tunnel up and must reauthenticate by itself (a new IKE
 * SA with new SPIs, make-before-break) while pings keep flowing, none lost.
 * (`reauth_time` used to be parsed and then dropped before the engine.)
 *
 * @module
 */
import { checkAgreement, must, withBench } from "../helpers/interop_system.ts";
import { ping } from "../helpers/interop_traffic.ts";

Deno.test({
  name: "strongSwan interop, our daemon: reauth_time in our YAML reauthenticates without loss",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withBench(
      undefined,
      async (b) => {
        must(await b.daemon.cli(["up", "gw", "--timeout", "15"]), "ipsec up gw");
        const first = (await b.charon.sas())[0];
        await checkAgreement(b.charon, await b.daemon.listSas(), b.proposals);
        const flow = ping(
          b.lab,
          { ns: b.d, ip: "10.2.0.1" },
          { ns: b.c, ip: "10.1.0.1" },
          30,
          0.25,
          true,
        );
        const after = (await b.charon.waitSas(
          (s) =>
            s.length === 1 && s[0].state === "ESTABLISHED" && s[0].spiI !== first.spiI &&
            s[0].children.some((c) => c.state === "INSTALLED"),
          "a new IKE SA from our reauthentication",
          20_000,
        ))[0];
        if (after.initiator) throw new Error("charon, not our daemon, started the new IKE SA");
        await checkAgreement(b.charon, await b.daemon.listSas(), b.proposals);
        const pings = await flow;
        const m = /(\d+) packets transmitted, (\d+) received/.exec(pings.stdout);
        if (!m || Number(m[2]) !== Number(m[1])) {
          throw new Error(`pings were lost across the reauthentication:\n${pings.stdout}`);
        }
        must(await b.daemon.cli(["down", "gw"]), "ipsec down gw");
        await b.charon.waitSas((s) => s.length === 0, "charon to drop the SAs");
      },
      {},
      { ours: { extra: ["reauth_time: 6s"] }, charonConf: "make_before_break = yes" },
    ),
});
