/**
 * Full-system interop (tests/helpers/interop_system.ts): our daemon against
 * strongSwan's charon with ECDSA certificates issued by `ipsec pki`, loaded
 * from our YAML (certs, key, cacerts), in both directions (traffic both ways
 * once: the data plane does not care how the SA was authenticated).
 *
 * @module
 */
import { issueCerts } from "../helpers/interop_certs.ts";
import { charonInitiates, type Creds, weInitiate, withBench } from "../helpers/interop_system.ts";

Deno.test({
  name: "strongSwan interop, our daemon: ECDSA certificates from ipsec pki, both directions",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "ti-certs-" });
    try {
      const f = await issueCerts(dir, "ipsec", "ecdsa");
      const creds: Creds = {
        ca: f.ca,
        ourCert: f.engineCert,
        ourKey: f.engineKey,
        charonCert: f.charonCert,
        charonKey: f.charonKey,
      };
      await withBench(creds, async (b) => {
        await weInitiate(b);
        await charonInitiates(b, false);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
