/**
 * MOBIKE (RFC 4555) with strongSwan, each side as the initiator that moves:
 *
 * - charon establishes from 10.99.0.1, then that address is replaced by
 *   10.99.0.11; charon (kernel-netlink sees the change) sends
 *   UPDATE_SA_ADDRESSES from there and our engine, as responder, moves the
 *   IKE SA;
 * - we establish from 10.99.0.2, then our address becomes 10.99.0.12 and we
 *   send UPDATE_SA_ADDRESSES (`IkeEngine.updateAddresses`); charon follows.
 *
 * Either way the IKE SA keeps its SPIs, both sides agree on the child SA at
 * the new address, and the SA still carries a Delete afterwards.
 * kernel-libipsec cannot move an installed ESP SA, so charon follows each
 * update with a child rekey (strongSwan's fallback): new child SPIs are fine.
 *
 * ```
 *  initiator@old ──IKE_SA_INIT, IKE_AUTH {N(MOBIKE_SUP)}──────────────► responder
 *  (old address removed, new one added)
 *  initiator@new ──INFORMATIONAL {N(UPDATE_SA_ADDRESSES) N(NATD_*) N(COOKIE2)}──► responder
 *  initiator@new ◄──INFORMATIONAL {N(NATD_*) N(COOKIE2)}─────────────── responder
 * ```
 *
 * @module
 */
import { type InteropCase, InteropLab } from "../helpers/interop_lab.ts";

const NEW_ADDR = "10.99.0.11";
const OUR_NEW_ADDR = "10.99.0.12";

const weMove: InteropCase = {
  name: "mobike-we",
  ike: "aes256gcm16-prfsha256-x25519",
  esp: "aes256gcm16",
  initiator: "engine",
  deleter: "charon",
  charon: { remoteAddr: "%any", extra: ["dpd_delay = 0", "send_cert = always", "mobike = yes"] },
};

Deno.test({
  name: "strongSwan interop: MOBIKE, the initiator changes its address and the SA survives",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
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
      await t.step("charon moves", () =>
        lab.withLogs(c, async () => {
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
          // Back to the original address for the next case.
          await lab.lab.runIn(ns, ["ip", "addr", "add", "10.99.0.1/24", "dev", "vc"]);
          await lab.lab.runIn(ns, ["ip", "addr", "del", `${NEW_ADDR}/24`, "dev", "vc"]);
        }));
      await t.step("we move", () =>
        lab.withLogs(weMove, async () => {
          await lab.establish(weMove);
          const before = await lab.agreement(weMove);
          const mark = lab.engine.mark();
          const ns = lab.engineNs;
          await lab.lab.runIn(ns, ["sysctl", "-qw", "net.ipv4.conf.ve.promote_secondaries=1"]);
          await lab.lab.runIn(ns, ["ip", "addr", "add", `${OUR_NEW_ADDR}/24`, "dev", "ve"]);
          await lab.lab.runIn(ns, ["ip", "addr", "del", "10.99.0.2/24", "dev", "ve"]);
          await lab.engine.move(OUR_NEW_ADDR);
          const moved = await lab.engine.waitFor(
            (o) => o.type === "event" && o.event === "ike-updated",
            mark,
          );
          const local = moved.local as { address: string };
          if (local.address !== OUR_NEW_ADDR) {
            throw new Error(`we moved the SA to ${JSON.stringify(moved.local)}`);
          }
          const sas = await lab.charon.waitSas(
            (s) => s.length === 1 && s[0].remoteAddr === OUR_NEW_ADDR,
            `charon to follow us to ${OUR_NEW_ADDR}`,
          );
          if (sas[0].spiI !== before.theirs.spiI) throw new Error("a new IKE SA instead of a move");
          // As above, charon may follow with a child rekey (kernel-libipsec cannot move SAs).
          await lab.agreement(weMove);
          await lab.teardown(weMove);
        }));
    } finally {
      await lab.close();
    }
  },
});
