/**
 * Rekeying with strongSwan, each side initiating: the child SA (with PFS,
 * CREATE_CHILD_SA carrying N(REKEY_SA) and a KE) and the IKE SA (new SPIs
 * and keys, children move over). After every rekey both sides must agree on
 * the new SPIs, the old SAs must be gone, and the IKE SA must still work for
 * the next exchange.
 *
 * ```
 *  rekeyer ──CREATE_CHILD_SA {N(REKEY_SA) SA Ni KEi TSi TSr}──► other
 *  rekeyer ◄─────────────────{SA Nr KEr TSi TSr}─────────────── other
 *  rekeyer ──INFORMATIONAL {D(old child)}─────────────────────► other
 *
 *  rekeyer ──CREATE_CHILD_SA {SA Ni KEi}──► other      (IKE SA rekey)
 *  rekeyer ◄─────────────{SA Nr KEr}─────── other
 *  rekeyer ──INFORMATIONAL {D(old IKE SA)}─► other
 * ```
 *
 * @module
 */
import { type Agreement, type InteropCase, InteropLab } from "../helpers/interop_lab.ts";

const CASE: InteropCase = {
  name: "rk",
  ike: "aes256gcm16-prfsha256-x25519",
  esp: "aes256gcm16-x25519",
  initiator: "engine",
  deleter: "charon",
};

Deno.test({
  name: "strongSwan interop: child SA and IKE SA rekey initiated by each side",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lab = await InteropLab.create();
    try {
      let before: Agreement | undefined;
      // Who initiated the current IKE SA (an IKE rekey makes the rekeyer the initiator).
      let initiator: "engine" | "charon" = CASE.initiator;
      let ok = await t.step("establish", () =>
        lab.withLogs(CASE, async () => {
          await lab.establish(CASE);
          before = await lab.agreement(CASE);
        }));
      for (const [kind, who] of [["child", "charon"], ["child", "engine"]] as const) {
        if (!ok) break;
        ok = await t.step(`${who} rekeys the child SA`, () =>
          lab.withLogs(CASE, async () => {
            const old = before!.theirs.children[0];
            const mark = lab.engine.mark();
            if (who === "charon") await lab.charon.rekey(kind, `${CASE.name}-net`);
            else await lab.engine.rekeyChild();
            const after = await lab.agreement(CASE, [old.spiIn], initiator);
            // PFS: charon lists the group the rekey used.
            if (!after.theirs.children[0].algorithms.endsWith("/CURVE_25519")) {
              throw new Error(`rekey without PFS: ${after.theirs.children[0].algorithms}`);
            }
            if (after.theirs.spiI !== before!.theirs.spiI) throw new Error("IKE SA changed");
            await lab.engine.waitFor(
              (o) => o.type === "remove" && o.spi === old.spiOut,
              mark,
            );
            await lab.engine.waitFor((o) => o.type === "remove" && o.spi === old.spiIn, mark);
            before = after;
          }));
      }
      for (const who of ["charon", "engine"] as const) {
        if (!ok) break;
        ok = await t.step(`${who} rekeys the IKE SA`, () =>
          lab.withLogs(CASE, async () => {
            const old = before!.theirs;
            const mark = lab.engine.mark();
            if (who === "charon") await lab.charon.rekey("ike", CASE.name);
            else await lab.engine.rekeyIke();
            await lab.engine.waitFor((o) => o.type === "event" && o.event === "ike-rekeyed", mark);
            // RFC 7296 section 2.18: whoever rekeys is the initiator of the new IKE SA.
            const after = await lab.agreement(CASE, [old.spiI], who);
            if (after.theirs.children[0].spiIn !== old.children[0].spiIn) {
              throw new Error("the child SA did not move to the new IKE SA unchanged");
            }
            if (lab.engine.since(mark).some((o) => o.type === "remove")) {
              throw new Error("an IKE rekey removed a child SA");
            }
            before = after;
            initiator = who;
          }));
      }
      if (ok) {
        await t.step(
          "the rekeyed IKE SA still carries a Delete",
          () => lab.withLogs(CASE, () => lab.teardown(CASE)),
        );
      }
    } finally {
      await lab.close();
    }
  },
});
