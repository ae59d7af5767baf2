/**
 * End to end in network namespaces: two instances of our daemon (A with
 * `ipsec start --foreground`, B detached with `ipsec start`, both driven by
 * the `ipsec` CLI) negotiate PSK SAs with IKEv2; a ping goes through them;
 * tshark (an independent dissector) sees only ESP on the veth; the
 * responder's inbound SA counted the packets; `ipsec down` removes the SAs;
 * a new ping brings them back through the data plane's acquire; `ipsec stop`
 * removes the TUN. Needs root; namespaces are prefixed `te2e-` and always
 * deleted. The flow of each test is printed on failure.
 */
import { scenario } from "./_e2e.ts";

Deno.test("e2e: PSK site-to-site tunnel between two namespaces carries a ping as ESP only", async () => {
  await scenario({ mode: "tunnel" });
});
