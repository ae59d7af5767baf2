/**
 * Full-system interop (tests/helpers/interop_system.ts): IKE fragmentation
 * (RFC 7383) between our daemon and strongSwan's charon. Both sides send a
 * long RSA chain from strongSwan's `pki` (end entity and two intermediates)
 * in IKE_AUTH, with 576-byte IKE packets on both sides: ours from the YAML
 * key `fragment_size: 576`, charon's from `charon.fragment_size` in its
 * strongswan.conf. In both directions the SA comes up, traffic flows both
 * ways, and the logs prove each side split its IKE_AUTH and the other
 * reassembled it.
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
import {
  type Bench,
  charonInitiates,
  type Creds,
  weInitiate,
  withBench,
} from "../helpers/interop_system.ts";

const FRAGMENT = 576;
const DEPTH = 2;

/** Fails unless, since the marks, both sides split their IKE_AUTH and reassembled the peer's. */
async function fragmentedBothWays(b: Bench, charonMark: number, ourMark: number): Promise<void> {
  const log = await b.charon.log(charonMark);
  // charon reassembled our fragmented IKE_AUTH and received our intermediates.
  const got = /received fragment #\d+ of (\d+), reassembled fragmented IKE message/.exec(log);
  if (!got || Number(got[1]) < 3) {
    throw new Error("charon did not reassemble a fragmented IKE message from us");
  }
  for (let n = 1; n <= DEPTH; n++) {
    const cn = `C=CH, O=strongSwan interop chain, CN=Intermediate CA ${n}`;
    if (!log.includes(`received issuer cert "${cn}"`)) {
      throw new Error(`charon did not receive intermediate ${n} from us`);
    }
  }
  // charon split its IKE_AUTH for us, and we reassembled it.
  const sent = /splitting IKE message \(\d+ bytes\) into (\d+) fragments/.exec(log);
  if (!sent || Number(sent[1]) < 3) throw new Error("charon did not fragment its IKE message");
  // we split ours (lib/ikev2/engine.ts logs each split at debug level).
  const ours = b.daemon.log().slice(ourMark);
  if (!/received fragment #\d+ of \d+, reassembled/.test(ours)) {
    throw new Error("our daemon did not log reassembling charon's fragments");
  }
  const split = /split (\d+)-byte message into (\d+) fragments/.exec(ours);
  if (!split || Number(split[2]) < 3) throw new Error("our daemon did not fragment IKE_AUTH");
  // fragment_size: 576 took effect: no IKE packet from us above 576 bytes of IP
  // (charon logs UDP payloads: 20 bytes of IPv4 and 8 of UDP header less).
  const sizes = [...log.matchAll(/received packet: from 10\.99\.0\.2\[\d+\] .* \((\d+) bytes\)/g)]
    .map((m) => Number(m[1]));
  const max = Math.max(...sizes);
  if (max > FRAGMENT - 28) {
    throw new Error(`we sent a ${max}-byte IKE packet despite fragment_size: ${FRAGMENT}`);
  }
}

Deno.test({
  name: "strongSwan interop, our daemon: IKE fragmentation, long chain, 576-byte fragments",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "ti-frag-" });
    try {
      const f = await issueChain(dir, DEPTH, 2048);
      const creds: Creds = {
        ca: f.ca,
        ourCert: `${dir}/sun.pem`,
        ourKey: f.engineKey,
        charonCert: f.charonCert,
        charonKey: f.charonKey,
        intermediates: f.intermediates,
      };
      await withBench(
        creds,
        async (b) => {
          for (const who of ["we", "charon"] as const) {
            await t.step(`${who} initiate${who === "we" ? "" : "s"}`, async () => {
              const charonMark = await b.charon.logMark();
              const ourMark = b.daemon.log().length;
              await (who === "we" ? weInitiate(b) : charonInitiates(b));
              await fragmentedBothWays(b, charonMark, ourMark);
            });
          }
        },
        {},
        {
          ours: { extra: [`fragment_size: ${FRAGMENT}`] },
          charonConf: `fragment_size = ${FRAGMENT}`,
        },
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
