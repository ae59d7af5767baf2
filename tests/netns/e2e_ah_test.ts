/**
 * End to end in network namespaces, run from the bundle as users run it:
 * host-to-host AH transport mode (RFC 4302) negotiated by two of our daemons
 * with IKEv2 (`ah_proposals`); tshark sees every ping (both ways) and every
 * segment of a 50 MB TCP transfer (same SHA-256 on both ends) as an AH packet
 * and nothing else between the hosts, the responder's inbound SA verified
 * them, `ipsec down`/acquire/`ipsec stop` as in the ESP tests. Needs root
 * and tshark; namespaces `te2e-*`, always deleted.
 */
import { scenario } from "./_e2e.ts";

Deno.test("e2e: host-to-host AH transport mode carries pings both ways and 50 MB over TCP as AH", async () => {
  await scenario({ mode: "transport", protocol: "ah" });
});
