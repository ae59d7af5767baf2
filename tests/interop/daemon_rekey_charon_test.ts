/**
 * Full-system interop (tests/helpers/interop_system.ts): short rekey_time on
 * charon's side (child SA 3 s, IKE SA 5 s): the SAs are rekeyed by timers while
 * 40 pings flow (none may be lost), then TCP goes both ways while the SAs
 * keep rekeying.
 *
 * @module
 */
import { rekeysByItself, withBench } from "../helpers/interop_system.ts";

Deno.test({
  name:
    "strongSwan interop, our daemon: short rekey_time, charon rekeys the child SA and the IKE SA",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () => withBench(undefined, rekeysByItself, { charon: { child: 3, ike: 5 } }),
});
