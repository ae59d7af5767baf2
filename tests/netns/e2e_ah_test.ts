/**
 * End to end in network namespaces: host-to-host AH transport mode (RFC
 * 4302) negotiated by two of our daemons with IKEv2 (`ah_proposals`); tshark
 * sees each ping as an AH packet and nothing else between the hosts, the
 * responder's inbound SA verified them, `ipsec down`/acquire/`ipsec stop`
 * as in the ESP tests. Needs root; namespaces `te2e-*`, always deleted.
 */
import { scenario } from "./_e2e.ts";

Deno.test("e2e: host-to-host AH transport mode carries a ping as AH", async () => {
  await scenario({ mode: "transport", ipsec: "ah" });
});
