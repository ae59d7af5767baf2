/**
 * End to end in network namespaces, run from the bundle as users run it:
 * `ipsec pki quickstart` writes a CA, certificates for the gateway
 * gw.example.org and the client alice@example.org, and both configurations.
 * B runs the gateway configuration as written (address pool 10.10.10.0/24,
 * any client of the CA); A runs the client's (`vips: [0.0.0.0]`), narrowed
 * to reach 10.2.0.0/24 behind the gateway instead of everything. After
 * `ipsec up` the client holds an address from the pool and the gateway
 * routes it into its TUN; pings go both ways between the virtual IP and
 * 10.2.0.1 and 50 MB over TCP arrive with the same SHA-256; tshark sees only
 * ESP between them on the veth; `ipsec down` removes the SAs on both ends,
 * the client's virtual IP and any route or address either side added for
 * the SA (the gateway may route the whole pool from its start, as trap
 * routes); `ipsec stop` removes the TUNs and routing tables. Needs root and
 * tshark; namespaces are prefixed `te2e-` and always deleted. The flow of
 * the test is printed on failure.
 */
import { scenario } from "./_e2e.ts";

Deno.test("e2e: certificate road warrior gets a virtual IP from the pool; pings both ways and 50 MB over TCP as ESP only", async () => {
  await scenario({ mode: "roadwarrior" });
});
