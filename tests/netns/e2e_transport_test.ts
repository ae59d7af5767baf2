/**
 * End to end in network namespaces, run from the bundle as users run it:
 * two instances of our daemon (A with the road-warrior shortcut `ipsec up
 * site --config FILE`, which starts the daemon in the foreground and brings
 * the SA up; B detached with `ipsec start`) negotiate PSK transport-mode SAs
 * (host-to-host) with IKEv2; pings between the hosts go through them both
 * ways and 50 MB over TCP arrive with the same SHA-256; tshark (an
 * independent dissector) sees only ESP between the hosts on the veth;
 * `ipsec down` removes the SAs on both ends; a new ping brings them back
 * through the data plane's acquire; `ipsec stop` removes the TUN. Needs root
 * and tshark; namespaces are prefixed `te2e-` and always deleted. The flow
 * of each test is printed on failure.
 */
import { scenario } from "./_e2e.ts";

Deno.test("e2e: host-to-host transport mode via `ipsec up --config` carries pings both ways and 50 MB over TCP as ESP only", async () => {
  await scenario({ mode: "transport", upWithConfig: true });
});
