/**
 * Full-system interop (tests/helpers/interop_system.ts): our daemon against
 * strongSwan's charon with PSK. `ipsec up` and `swanctl --initiate`; both
 * sides agree on SPIs and algorithms; charon counts exactly our pings; pings
 * and 1 MiB TCP transfers (SHA-256 checked) go both ways through the tunnel;
 * `ipsec down` and `swanctl --terminate` remove the SAs on both sides.
 *
 * @module
 */
import { charonInitiates, weInitiate, withBench } from "../helpers/interop_system.ts";

Deno.test({
  name: "strongSwan interop, our daemon: PSK, ipsec up / down, swanctl --initiate / --terminate",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withBench(undefined, async (b) => {
      await weInitiate(b);
      await charonInitiates(b);
    }),
});
