/**
 * IKE fragmentation (RFC 7383) with strongSwan: a four-deep RSA-3072
 * certificate chain (root, three intermediates, end entity) sent by both
 * sides in IKE_AUTH, with 576-byte fragments on both sides, in both
 * directions. Both sides must split their IKE_AUTH message, reassemble the
 * peer's, verify the whole chain up to the root and agree on the SAs.
 *
 * ```
 *  initiator ──IKE_SA_INIT [N(FRAG_SUP)]──────────────────────► responder
 *  initiator ──IKE_AUTH SKF(1/n) ... SKF(n/n)──────────────────► responder
 *  initiator ◄──────────────── IKE_AUTH SKF(1/m) ... SKF(m/m)── responder
 * ```
 *
 * @module
 */
import { issueChain } from "../helpers/interop_certs.ts";
import { ENGINE_ID, InteropLab } from "../helpers/interop_lab.ts";

const FRAGMENT = 576;

Deno.test({
  name:
    "strongSwan interop: IKE fragmentation with a long certificate chain and 576-byte fragments",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lab = await InteropLab.create(`fragment_size = ${FRAGMENT}`);
    try {
      const certs = await issueChain(`${lab.dir}/chain`, 3);
      for (const initiator of ["engine", "charon"] as const) {
        const c = {
          name: `frag-${initiator}`,
          ike: "aes256gcm16-prfsha256-ecp256",
          esp: "aes256gcm16",
          initiator,
          deleter: initiator,
          certs,
          engine: { fragmentSize: FRAGMENT },
          expectCharonLog: new RegExp(
            `authentication of '${ENGINE_ID.replaceAll(".", "\\.")}' with RSA_EMSA_\\w+ successful`,
          ),
        };
        await t.step(`${initiator} initiates`, () =>
          lab.withLogs(c, async () => {
            const mark = lab.engine.mark();
            const logMark = await lab.charon.logMark();
            await lab.establish(c);
            await lab.agreement(c);
            const log = await lab.charon.log(logMark);
            // charon reassembled our IKE_AUTH and checked our intermediates.
            const ours = /received fragment #\d+ of (\d+), reassembled fragmented IKE message/
              .exec(log);
            if (!ours || Number(ours[1]) < 4) {
              throw new Error("charon did not reassemble a fragmented IKE_AUTH from us");
            }
            for (const n of [1, 2, 3]) {
              if (
                !log.includes(
                  `received issuer cert "C=CH, O=strongSwan interop chain, CN=Intermediate CA ${n}"`,
                )
              ) {
                throw new Error(`charon did not receive intermediate ${n} from us`);
              }
            }
            // charon split its own IKE_AUTH, and we parsed it.
            const theirs = /splitting IKE message \(\d+ bytes\) into (\d+) fragments/.exec(log);
            if (!theirs || Number(theirs[1]) < 4) throw new Error("charon did not fragment");
            const split = lab.engine.since(mark).some((o) =>
              o.type === "log" && /split \d+-byte message into \d+ fragments/.test(`${o.line}`)
            );
            if (!split) throw new Error("we did not fragment our IKE_AUTH");
            await lab.teardown(c);
          }));
      }
    } finally {
      await lab.close();
    }
  },
});
