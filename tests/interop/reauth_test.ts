/**
 * IKE SA reauthentication with strongSwan: a complete new IKE_SA_INIT and
 * IKE_AUTH (no INITIAL_CONTACT) with the children recreated, then the old IKE
 * SA is deleted. charon reauthenticates by `reauth_time` both
 * break-before-make (charon's default) and make-before-break
 * (`make_before_break = yes`), whichever side initiated the IKE SA; then we
 * reauthenticate by `reauthSeconds`. Afterwards each side must have exactly one
 * IKE SA with new SPIs and one child, agreeing on SPIs, and the old SAs gone.
 *
 * ```
 *  charon ──IKE_SA_INIT / IKE_AUTH {IDi AUTH SA TSi TSr} (new SPIs)──► us
 *  charon ──INFORMATIONAL {D(old IKE SA)}─────────────────────────────► us
 * ```
 *
 * @module
 */
import { check, GapLab, gapSpec } from "./_gap_lab.ts";
import { reauthConf, waitReauthenticated } from "./_reauth.ts";

function conf(reauth: string): string {
  return reauthConf("ra", reauth, [{
    name: "ra-net",
    localTs: "10.1.0.0/16",
    remoteTs: "10.2.0.0/16",
  }]);
}

Deno.test({
  name: "strongSwan interop: IKE SA reauthentication (charon's reauth_time, ours)",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    for (const mbb of [false, true]) {
      const lab = await GapLab.create(mbb ? "r" : "q", `make_before_break = ${mbb ? "yes" : "no"}`);
      try {
        const cases: ["engine" | "charon", "charon" | "engine"][] = mbb
          ? [["engine", "charon"], ["charon", "charon"]]
          : [["engine", "charon"], ["charon", "charon"], ["engine", "engine"]];
        for (const [who, reauther] of cases) {
          const what = `${mbb ? "make-before-break" : "break-before-make"}: ` +
            `${who} initiates, ${reauther} reauthenticates`;
          await t.step(what, () =>
            lab.withLogs(async () => {
              await lab.load(
                conf(reauther === "charon" ? "4s" : "0"),
                gapSpec({ name: "ra", ...(reauther === "engine" ? { reauthSeconds: 6 } : {}) }),
              );
              const mark = lab.engine.mark();
              if (who === "engine") await lab.engine.initiate();
              else await lab.charon.initiate("ra", "ra-net");
              await lab.engineUp(mark);
              const before = await lab.charonUp();
              const m2 = lab.engine.mark();
              const logMark = await lab.charon.logMark();
              // Reauthentication repeats every few seconds: compare right after the first one.
              const after = await waitReauthenticated(lab, m2, before, 1);
              const ours = await lab.engine.list();
              if (reauther === "charon") await lab.charon.waitLog(/reauthenticat/i, logMark);
              check(ours.length === 1, "engine: expected exactly one IKE SA", ours, after);
              const o = ours[0];
              check(o.state === "established", "engine's SA is not established", ours);
              check(o.spiI === after.spiI && o.spiR === after.spiR, "IKE SPIs differ", o, after);
              check(o.initiator === (reauther === "engine"), "reauthenticator is not initiator", o);
              const oc = o.children.filter((c) => c.state === "installed");
              const sc = after.children.find((c) => c.state === "INSTALLED")!;
              check(oc.length === 1, "engine: expected one child", o);
              check(oc[0].spiIn === sc.spiOut && oc[0].spiOut === sc.spiIn, "ESP SPIs", o, after);
              const old = before.children[0];
              const removed = lab.engine.since(m2).filter((x) => x.type === "remove")
                .map((x) => `${x.spi}`);
              check(
                removed.includes(old.spiIn) && removed.includes(old.spiOut),
                "the old child SAs were not removed",
                removed,
                before,
              );
              await lab.reset();
            }));
        }
      } finally {
        await lab.close();
      }
    }
  },
});
