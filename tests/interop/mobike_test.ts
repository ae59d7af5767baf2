/**
 * MOBIKE (RFC 4555) with strongSwan as the initiator that moves: charon
 * establishes the IKE SA from 10.99.0.1, then that address is replaced by
 * 10.99.0.11 on its interface. charon (kernel-netlink sees the change) sends
 * UPDATE_SA_ADDRESSES from the new address; our engine, as responder, must
 * move the IKE SA there (same IKE SPIs, charon now at 10.99.0.11), both sides
 * must agree on the child SA, and the SA still carries a Delete afterwards.
 *
 * ```
 *  charon 10.99.0.1  ──IKE_SA_INIT, IKE_AUTH {N(MOBIKE_SUP)}──► engine
 *  (address 10.99.0.1 removed, 10.99.0.11 added)
 *  charon 10.99.0.11 ──INFORMATIONAL {N(UPDATE_SA_ADDRESSES) N(NATD_*)}──► engine
 *  charon 10.99.0.11 ◄──INFORMATIONAL {N(NATD_*)}─────────────────────── engine
 * ```
 *
 * @module
 */
import { type InteropCase, InteropLab } from "../helpers/interop_lab.ts";

const NEW_ADDR = "10.99.0.11";

Deno.test({
  name: "strongSwan interop: MOBIKE, charon as initiator changes its address and the SA survives",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const lab = await InteropLab.create();
    const c: InteropCase = {
      name: "mobike",
      ike: "aes256gcm16-prfsha256-x25519",
      esp: "aes256gcm16",
      initiator: "charon",
      deleter: "engine",
      // Any local address, so charon may move to the new one.
      charon: { localAddr: "%any", extra: ["dpd_delay = 0", "send_cert = always", "mobike = yes"] },
    };
    try {
      await lab.withLogs(c, async () => {
        await lab.establish(c);
        const before = await lab.agreement(c);
        const mark = lab.engine.mark();
        const ns = lab.charon.ns;
        // Keep the new (secondary) address when the old primary goes away.
        await lab.lab.runIn(ns, ["sysctl", "-qw", "net.ipv4.conf.vc.promote_secondaries=1"]);
        await lab.lab.runIn(ns, ["ip", "addr", "add", `${NEW_ADDR}/24`, "dev", "vc"]);
        await lab.lab.runIn(ns, ["ip", "addr", "del", "10.99.0.1/24", "dev", "vc"]);
        const moved = await lab.engine.waitFor(
          (o) => o.type === "event" && o.event === "ike-updated",
          mark,
        );
        const remote = moved.remote as { address: string };
        if (remote.address !== NEW_ADDR) {
          throw new Error(`we moved the SA to ${JSON.stringify(moved.remote)}`);
        }
        const sas = await lab.charon.waitSas(
          (s) => s.length === 1 && s[0].localAddr === NEW_ADDR,
          `charon's IKE SA to move to ${NEW_ADDR}`,
        );
        if (sas[0].spiI !== before.theirs.spiI) throw new Error("a new IKE SA instead of a move");
        // kernel-libipsec cannot move an installed SA, so charon follows the update with a
        // child rekey (strongSwan's fallback): the child may have new SPIs, but both sides
        // must agree on it and the IKE SA is the same.
        const after = await lab.agreement(c, [], "charon");
        if (after.theirs.spiI !== before.theirs.spiI) throw new Error("the IKE SA was replaced");
        await lab.teardown(c);
      });
    } finally {
      await lab.close();
    }
  },
});
