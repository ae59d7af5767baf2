/**
 * `deno task demo`: a site-to-site IPsec tunnel between two network
 * namespaces, built and torn down by our own daemon and CLI. Needs root;
 * installs nothing. Exits 0 only if pings went both ways through the tunnel
 * encrypted (ESP on the wire, nothing in clear, the peer's SA decrypted it).
 *
 * Options: `--transport` (host-to-host transport mode instead of the
 * site-to-site tunnel), `--ah` (AH instead of ESP), `--bundle` (run
 * dist/ipsec from `deno task bundle`).
 *
 * @module
 */
import { runTunnelScenario, tunnelProblems } from "./_tunnel.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

let n = 0;
const narrator = {
  step: (t: string) => console.log(`\n[${++n}] ${t}`),
  show: (t: string) => console.log(t.split("\n").map((l) => `    ${l}`).join("\n")),
};

if (Deno.uid() !== 0) {
  console.error(
    "deno task demo needs root (network namespaces, TUN, raw sockets): run it with sudo",
  );
  Deno.exit(1);
}
const mode = Deno.args.includes("--transport") ? "transport" : "tunnel";
const ipsec = Deno.args.includes("--ah") ? "ah" : "esp";
const PROTO = ipsec.toUpperCase();
console.log(`deno-ipsec demo: IKEv2 + ${PROTO} ${mode} mode between two network namespaces`);
try {
  const report = await runTunnelScenario({
    prefix: "tdemo-",
    narrator,
    ...(Deno.args.includes("--bundle") ? { command: [`${ROOT}dist/ipsec`] } : {}),
    mode,
    protocol: ipsec,
  });
  const problems = tunnelProblems(report);
  if (problems.length > 0) {
    console.log(`\nFAILED:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    Deno.exit(1);
  }
  const how = ipsec === "esp" ? "encrypted" : "authenticated (AH)";
  console.log(
    `\nOK: pings went both ways through the SA ${how} (${
      report.ipsecPackets ?? "?"
    } ${PROTO} packets on ` +
      `the wire, none outside it, ${report.inboundPackets} verified by B); everything cleaned up.`,
  );
} catch (e) {
  console.log(`\nFAILED: ${e instanceof Error ? e.message : String(e)}`);
  Deno.exit(1);
}
