/**
 * Interop with an independent implementation: strongSwan's charon in one
 * network namespace, our engine on real UDP sockets in another
 * (tests/helpers/interop_engine.ts driven through the shared bench in
 * tests/helpers/interop_lab.ts).
 *
 * ```
 *  ns "c": charon 10.99.0.1 <==== veth ====> ns "e": deno engine 10.99.0.2
 * ```
 *
 * Both directions are checked: our engine initiating (charon verifies our
 * AUTH, KE, SK protection and proposals) and charon initiating (we verify
 * its). In each case both sides must agree on IKE SPIs, ESP SPIs and
 * algorithms, again after charon rekeys the child SA, after we rekey the
 * child SA and after we rekey the IKE SA; our Delete then removes the SAs on
 * charon too.
 *
 * @module
 */
import { type InteropCase, InteropLab } from "../helpers/interop_lab.ts";

const SUITES = [
  ["engine", "aes256gcm16-prfsha384-x25519", "aes256gcm16"],
  ["engine", "aes128-sha256-modp2048", "aes128-sha256"],
  ["charon", "aes256gcm16-prfsha384-ecp256", "aes128gcm16"],
  ["charon", "chacha20poly1305-prfsha256-x25519", "chacha20poly1305"],
] as const;

const CASES: readonly InteropCase[] = SUITES.map(([initiator, ike, esp], i) => ({
  name: `ei${i}`,
  ike,
  esp,
  initiator,
  deleter: "engine",
}));

/*
 *   initiator = engine: deno engine ──IKE_SA_INIT, IKE_AUTH──► charon
 *   initiator = charon: charon ──IKE_SA_INIT, IKE_AUTH──► deno engine
 *   then: charon ──CREATE_CHILD_SA {N(REKEY_SA)}──► deno engine   (child rekey)
 *         deno engine ──CREATE_CHILD_SA {N(REKEY_SA)}──► charon   (child rekey)
 *         deno engine ──CREATE_CHILD_SA {SA Ni KEi}──► charon     (IKE SA rekey)
 *         deno engine ──INFORMATIONAL [ D ]──► charon
 */
Deno.test({
  name: "engine interop with strongSwan charon: both roles, four suites, rekeys and Delete",
  // Needs root (netns) and charon: `.ci/install_deps.sh --with-interop` installs it.
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lab = await InteropLab.create();
    try {
      for (const c of CASES) {
        const role = c.initiator === "engine" ? "initiator" : "responder";
        await t.step(`engine as ${role}, ${c.ike} / ${c.esp}`, () =>
          lab.withLogs(c, async () => {
            await lab.establish(c);
            let now = await lab.agreement(c);
            for (const who of ["charon", "engine"] as const) {
              const old = now.theirs.children[0].spiIn;
              if (who === "charon") await lab.charon.rekey("child", `${c.name}-net`);
              else await lab.engine.rekeyChild();
              now = await lab.agreement(c, [old], c.initiator);
            }
            const mark = lab.engine.mark();
            await lab.engine.rekeyIke();
            await lab.engine.waitFor((o) => o.type === "event" && o.event === "ike-rekeyed", mark);
            // RFC 7296 section 2.18: whoever rekeys is the initiator of the new IKE SA.
            await lab.agreement(c, [now.theirs.spiI], "engine");
            await lab.teardown(c);
          }));
      }
    } finally {
      await lab.close();
    }
  },
});
