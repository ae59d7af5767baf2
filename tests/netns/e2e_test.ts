/**
 * End to end in network namespaces, run from the bundle as users run it:
 * two instances of our daemon (A with `ipsec start --foreground`, B detached
 * with `ipsec start`, both driven by the `ipsec` CLI) negotiate PSK SAs with
 * IKEv2 for a site-to-site tunnel (10.1.0.0/24 <-> 10.2.0.0/24); pings go
 * through them both ways and 50 MB over TCP arrive with the same SHA-256;
 * tshark (an independent dissector) sees only ESP between the sites on the
 * veth; `ipsec down` removes the SAs on both ends and whatever routes or
 * addresses they added; a new ping brings them back through the data plane's
 * acquire; `ipsec stop` removes the TUN and the routing table. Needs root
 * and tshark; namespaces are prefixed `te2e-` and always deleted. The flow
 * of each test is printed on failure.
 */
import { scenario } from "./_e2e.ts";

Deno.test("e2e: PSK site-to-site tunnel carries pings both ways and 50 MB over TCP as ESP only", async () => {
  await scenario({ mode: "tunnel" });
});
