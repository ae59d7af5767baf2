/**
 * One end-to-end run (tests/netns/e2e_*_test.ts) with the bundle, as users
 * run it (tests/helpers/build_bundle.ts {@link testBundle}): pings both ways
 * and a 50 MB TCP transfer through the SA, ESP/AH only on the wire, then
 * `ipsec down` and `ipsec stop` leave nothing behind. The scenario's
 * transcript is the failure message.
 *
 * @module
 */
import assert from "node:assert/strict";
import { testBundle } from "../helpers/build_bundle.ts";
import { runTunnelScenario, type TunnelOptions, tunnelProblems } from "./_tunnel.ts";

/** Bytes sent over TCP through each SA (issue 7: 50 MB). */
export const TRANSFER_BYTES = 50_000_000;

/** Runs the scenario from the bundle and asserts protected traffic and a clean teardown. */
export async function scenario(
  o: Pick<TunnelOptions, "mode" | "upWithConfig" | "protocol">,
): Promise<void> {
  const transcript: string[] = [];
  const why = () => transcript.join("\n");
  const pings = 3;
  const report = await runTunnelScenario({
    prefix: "te2e-",
    command: [await testBundle()],
    pings,
    transferBytes: TRANSFER_BYTES,
    ...o,
    narrator: { step: (t) => transcript.push(`# ${t}`), show: (t) => transcript.push(t) },
  }).catch((e) => {
    throw new Error(`${(e as Error).message}\n${why()}`);
  });
  assert.deepEqual(tunnelProblems(report), [], `${why()}\n${report.logs}`);
  assert.equal(report.transferError, null, why());
  assert.notEqual(report.ipsecPackets, null, "tshark is required (bash .ci/install_deps.sh)");
  // Each echo request and reply is one ESP (AH) packet on the veth, and no
  // packet carries more than the veth's 1500-byte MTU of the TCP stream.
  const least = 4 * pings + Math.ceil(TRANSFER_BYTES / 1500);
  assert.ok(report.ipsecPackets! >= least, `${report.ipsecPackets} < ${least}\n${why()}`);
  assert.equal(report.clearPackets, 0, why());
  assert.ok(report.inboundBytes >= TRANSFER_BYTES, `${report.inboundBytes} bytes\n${why()}`);
}
