/**
 * Full-system interop (tests/helpers/interop_system.ts): our daemon and
 * charon with a required post-quantum preshared key (RFC 8784; our YAML
 * `ppk_id`, `ppk_required` and a `ppk-…` secret; charon's `ppk_id`,
 * `ppk_required` and `ppk` secret). charon lists "/PPK" among the IKE SA's
 * algorithms, and pings and TCP transfers pass both ways through child SAs
 * keyed from SK_d' (a wrong SK_d' on either side would break the ESP keys).
 *
 * @module
 */
import { type Bench, charonInitiates, weInitiate, withBench } from "../helpers/interop_system.ts";

const PPK = "5a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";

async function usesPpk(b: Bench): Promise<void> {
  const [sa] = await b.charon.sas();
  if (!sa.algorithms.endsWith("/PPK")) {
    throw new Error(`charon's IKE SA did not use the PPK: ${sa.algorithms}`);
  }
}

const CASES: [string, (b: Bench) => Promise<void>][] = [
  ["we initiate", (b) => weInitiate(b, usesPpk)],
  ["charon initiates", (b) => charonInitiates(b, true, usesPpk)],
];

for (const [who, f] of CASES) {
  Deno.test({
    name: `strongSwan interop, our daemon: a required PPK (RFC 8784), ${who}`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: () =>
      withBench(undefined, f, {}, {
        ours: {
          extra: ["ppk_id: ppk-1", "ppk_required: yes"],
          sections: `  ppk-1:\n    id: ppk-1\n    secret: 0x${PPK}\n`,
        },
        charon: { ppk: { id: "ppk-1", secretHex: PPK, required: true } },
      }),
  });
}
