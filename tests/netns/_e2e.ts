/**
 * One end-to-end run (tests/netns/e2e_*test.ts):
 * asserts that the ping crossed the SA as ESP only and that everything was
 * cleaned up; the scenario's transcript is the failure message.
 *
 * @module
 */
import assert from "node:assert/strict";
import { runTunnelScenario, type TunnelOptions, tunnelProblems } from "./_tunnel.ts";

/** Runs the scenario and asserts protected traffic and a clean teardown. */
export async function scenario(
  o: Pick<TunnelOptions, "mode" | "upWithConfig" | "ipsec">,
): Promise<void> {
  const transcript: string[] = [];
  const report = await runTunnelScenario({
    prefix: "te2e-",
    ...o,
    narrator: { step: (t) => transcript.push(`# ${t}`), show: (t) => transcript.push(t) },
  }).catch((e) => {
    throw new Error(`${(e as Error).message}\n${transcript.join("\n")}`);
  });
  const problems = tunnelProblems(report);
  assert.deepEqual(problems, [], transcript.join("\n"));
  assert.notEqual(report.ipsecPackets, null, "tshark is required (bash .ci/install_deps.sh)");
  // 3 echo requests and 3 replies, each one ESP (AH) packet on the veth.
  assert.ok(report.ipsecPackets! >= 6, transcript.join("\n"));
  assert.equal(report.clearIcmp, 0);
  assert.equal(report.inboundPackets, 3);
}
