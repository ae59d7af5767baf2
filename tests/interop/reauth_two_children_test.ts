/**
 * Reauthentication of an IKE SA that carries two child SAs, with strongSwan
 * (make-before-break): every child must be recreated under the new IKE SA
 * (the first in IKE_AUTH, the second by CREATE_CHILD_SA) before the old IKE
 * SA goes, whether charon (`reauth_time`) or we (`reauthSeconds`)
 * reauthenticate. Both sides must end with one IKE SA holding both children,
 * agreeing on their SPIs and selectors.
 *
 * @module
 */
import { check, GapLab, gapSpec } from "./_gap_lab.ts";
import { reauthConf, waitReauthenticated } from "./_reauth.ts";

function conf(reauth: string): string {
  return reauthConf("r2", reauth, [
    { name: "r2-net", localTs: "10.1.0.0/24", remoteTs: "10.2.0.0/24" },
    { name: "r2-two", localTs: "10.1.2.0/24", remoteTs: "10.2.2.0/24" },
  ]);
}

Deno.test({
  name: "strongSwan interop: reauthentication recreates both child SAs",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lab = await GapLab.create("w", "make_before_break = yes");
    try {
      for (const reauther of ["charon", "engine"] as const) {
        await t.step(`${reauther} reauthenticates`, () =>
          lab.withLogs(async () => {
            await lab.load(
              conf(reauther === "charon" ? "5s" : "0"),
              gapSpec({
                name: "r2",
                localTs: ["10.2.0.0/24"],
                remoteTs: ["10.1.0.0/24"],
                moreChildren: [{
                  name: "r2-two",
                  localTs: ["10.2.2.0/24"],
                  remoteTs: ["10.1.2.0/24"],
                }],
                ...(reauther === "engine" ? { reauthSeconds: 6 } : {}),
              }),
            );
            // The other side starts the IKE SA: charon's reauthentication then runs on an SA
            // we initiated, ours on one charon initiated (plus its second child).
            const mark = lab.engine.mark();
            if (reauther === "charon") await lab.engine.initiate();
            else {
              await lab.charon.initiate("r2", "r2-net");
              await lab.engineUp(mark);
              await lab.charon.initiate("r2", "r2-two");
            }
            await lab.engine.waitFor(
              (o) => o.type === "event" && o.event === "child-up" && o.childName === "r2-two",
              mark,
            );
            const before = await lab.charonUp(2);
            const m2 = lab.engine.mark();
            const after = await waitReauthenticated(lab, m2, before, 2);
            const ours = (await lab.engine.list()).filter((x) => x.state === "established");
            check(ours.length === 1 && ours[0].spiI === after.spiI, "IKE SAs differ", ours, after);
            const oc = ours[0].children.filter((c) => c.state === "installed");
            check(oc.length === 2, "we did not recreate both children", ours);
            for (const sc of after.children.filter((c) => c.state === "INSTALLED")) {
              const o = oc.find((c) => c.spiIn === sc.spiOut && c.spiOut === sc.spiIn);
              check(!!o, `no matching child for ${sc.name}`, ours, after);
              check(o!.name === sc.name, "child names differ", o, sc);
            }
            await lab.reset();
          }));
      }
    } finally {
      await lab.close();
    }
  },
});
