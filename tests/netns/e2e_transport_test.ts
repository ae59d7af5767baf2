/**
 * End to end in network namespaces: two instances of our daemon (A with the
 * road-warrior shortcut `ipsec up site --config FILE`, which starts the
 * daemon in the foreground and brings the SA up; B detached with `ipsec
 * start`) negotiate PSK transport-mode SAs (host-to-host) with
 * IKEv2; a ping between the hosts goes through them; tshark (an independent dissector) sees only ESP on the veth; the
 * responder's inbound SA counted the packets; `ipsec down` removes the SAs;
 * a new ping brings them back through the data plane's acquire; `ipsec stop`
 * removes the TUN. Needs root; namespaces are prefixed `te2e-` and always
 * deleted. The flow of each test is printed on failure.
 */
import { scenario } from "./_e2e.ts";

Deno.test("e2e: host-to-host transport mode via `ipsec up --config` carries a ping as ESP only", async () => {
  await scenario({ mode: "transport", upWithConfig: true });
});
