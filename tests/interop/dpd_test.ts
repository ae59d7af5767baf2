/**
 * Dead peer detection with strongSwan, each side detecting the other:
 *
 * - charon (dpd_delay 1s, dpd_action restart) keeps an idle IKE SA with us
 *   alive through liveness checks we answer; then our engine is killed
 *   (SIGKILL, no Delete) and restarted empty: charon's checks go unanswered,
 *   it gives up, and per dpd_action=restart initiates a new IKE SA to us.
 * - our engine (dpdDelaySeconds 1, dpd_action clear) watches charon; the
 *   link to charon goes down: our checks go unanswered and we clear the SA.
 *
 * ```
 *  charon ──INFORMATIONAL { }──► engine      (liveness check, answered)
 *  charon ──INFORMATIONAL { }──► (dead)      ... retransmits, gives up
 *  charon ──IKE_SA_INIT, IKE_AUTH──► engine   (dpd_action = restart)
 * ```
 *
 * @module
 */
import { type InteropCase, InteropLab } from "../helpers/interop_lab.ts";

// Fast retransmissions so a dead peer is declared within seconds (1 + 2 retransmits of 0.5 s).
const FAST_CHARON = "retransmit_tries = 2\n  retransmit_timeout = 0.5\n  retransmit_base = 1.0";

Deno.test({
  name: "strongSwan interop: DPD, charon detects our death and restarts; we detect charon's",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lab = await InteropLab.create(FAST_CHARON);
    try {
      const charonWatches: InteropCase = {
        name: "dpd1",
        ike: "aes128gcm16-prfsha256-ecp256",
        esp: "aes128gcm16",
        initiator: "engine",
        deleter: "engine",
        // keyingtries = 0: keep trying the restart until our new engine is up (slow under load).
        charonExtra: ["dpd_delay = 1s", "keyingtries = 0"],
        charonChildExtra: ["dpd_action = restart"],
      };
      await t.step(
        "charon's liveness checks are answered, then we die and it restarts",
        () =>
          lab.withLogs(charonWatches, async () => {
            await lab.establish(charonWatches);
            const first = await lab.agreement(charonWatches);
            // Idle for longer than dpd_delay: charon must have checked and kept the SA.
            const mark = await lab.charon.logMark();
            await lab.charon.waitLog(/sending DPD request/, mark);
            await new Promise((r) => setTimeout(r, 1500));
            const still = await lab.charon.sas();
            if (still[0]?.spiI !== first.theirs.spiI || still[0].state !== "ESTABLISHED") {
              throw new Error(`charon dropped a live SA: ${JSON.stringify(still)}`);
            }
            await lab.restartEngine();
            await lab.engine.configure(InteropLab.engineSpec(charonWatches));
            const m = lab.engine.mark();
            await lab.charon.waitLog(/giving up after \d+ retransmits/, mark, 20_000);
            await lab.engine.waitFor(
              (o) => o.type === "event" && o.event === "child-up",
              m,
              20_000,
            );
            const after = await lab.agreement(charonWatches, [first.theirs.spiI], "charon");
            if (after.theirs.spiI === first.theirs.spiI) throw new Error("no new IKE SA");
            await lab.teardown(charonWatches);
          }),
      );

      const weWatch: InteropCase = {
        name: "dpd2",
        ike: "aes128gcm16-prfsha256-ecp256",
        esp: "aes128gcm16",
        initiator: "charon",
        deleter: "engine",
        engine: { dpdDelaySeconds: 1, retransmit: { timeoutMs: 500, base: 1, tries: 2 } },
      };
      await t.step(
        "our liveness checks go unanswered and we clear the SA",
        () =>
          lab.withLogs(weWatch, async () => {
            await lab.establish(weWatch);
            await lab.agreement(weWatch);
            const m = lab.engine.mark();
            // Let one check succeed first (charon answers it).
            await lab.engine.waitFor(
              (o) => o.type === "log" && /INFORMATIONAL response/.test(`${o.line}`),
              m,
            );
            await lab.lab.runIn(lab.charon.ns, ["ip", "link", "set", "vc", "down"]);
            try {
              const down = await lab.engine.waitFor(
                (o) => o.type === "event" && o.event === "ike-down",
                m,
                20_000,
              );
              if (!/dead|dpd/i.test(`${down.reason}`)) {
                throw new Error(`the SA went down for another reason: ${down.reason}`);
              }
              const removed = lab.engine.since(m).filter((o) => o.type === "remove").length;
              if (removed !== 2) throw new Error(`removed ${removed} SAs, expected 2`);
              const left = (await lab.engine.list()).filter((sa) => sa.state === "established");
              if (left.length !== 0) throw new Error(`SA left behind: ${JSON.stringify(left)}`);
            } finally {
              await lab.lab.runIn(lab.charon.ns, ["ip", "link", "set", "vc", "up"]);
              await lab.charon.terminate(weWatch.name, true);
            }
          }),
      );
    } finally {
      await lab.close();
    }
  },
});
