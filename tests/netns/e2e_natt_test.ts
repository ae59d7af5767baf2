/**
 * NAT traversal end to end in network namespaces (issue 6 NAT-T, issue 7):
 * two instances of our daemon run from the bundle, ESP in UDP 4500 (RFC
 * 3948) as tshark (an independent dissector) sees it on the wire, pings both
 * ways and 50 MB over TCP from a to b (same SHA-256 on both ends). Needs
 * root, tshark and iptables (.ci/install_deps.sh); namespaces are prefixed
 * `te2e-` and always deleted.
 */
import assert from "node:assert/strict";
import { TRANSFER_BYTES } from "./_e2e.ts";
import { type NattReport, runNattScenario } from "./_natt.ts";

/** tshark rows: [ip.proto, ip.src, ip.dst, udp.srcport, udp.dstport, esp.spi]. */
function summary(r: NattReport) {
  const inner = new Set(["10.1.0.1", "10.2.0.1"]);
  const between = (f: string[]) => inner.has(f[1]) && inner.has(f[2]);
  return {
    espInUdp: r.rows.filter((f) => f[0] === "17" && f[5] !== "" && f[5] !== undefined),
    rawEsp: r.rows.filter((f) => f[0] === "50"),
    clearIcmp: r.rows.filter((f) => f[0] === "1" && between(f)),
    clearTcp: r.rows.filter((f) => f[0] === "6" && between(f)),
  };
}

/** The first tshark rows (a bulk transfer makes tens of thousands) and both daemons' logs. */
function why(r: NattReport): string {
  const rows = r.rows.slice(0, 60).map((f) => f.join(" ")).join("\n");
  return `${rows}\n(${r.rows.length} rows)\ntransfer: ${r.transferError ?? "ok"}\n${r.logs}`;
}

/** What every case asserts about the traffic: both pings, the transfer, nothing in clear. */
function assertTraffic(r: NattReport): void {
  const s = summary(r);
  assert.equal(r.pingAB.code, 0, `ping a -> b failed\n${r.pingAB.stdout}\n${why(r)}`);
  assert.equal(r.pingBA.code, 0, `ping b -> a failed\n${r.pingBA.stdout}\n${why(r)}`);
  assert.equal(r.transferError, null, why(r));
  // 6 echo requests + 6 replies and one packet per 1500 bytes at least, each one
  // ESP-in-UDP datagram.
  const least = 12 + Math.ceil(TRANSFER_BYTES / 1500);
  assert.ok(s.espInUdp.length >= least, `${s.espInUdp.length} < ${least}\n${why(r)}`);
  assert.equal(s.rawEsp.length, 0, why(r));
  assert.equal(s.clearIcmp.length, 0, why(r));
  assert.equal(s.clearTcp.length, 0, why(r));
}

Deno.test("e2e NAT-T: encap: yes puts ESP in UDP 4500; pings both ways and 50 MB over TCP pass", async () => {
  const r = await runNattScenario("encap", TRANSFER_BYTES);
  assertTraffic(r);
  // Every ESP-in-UDP datagram runs between ports 4500.
  const s = summary(r);
  const otherPorts = s.espInUdp.filter((f) => f[3] !== "4500" || f[4] !== "4500");
  assert.equal(otherPorts.length, 0, `${JSON.stringify(otherPorts.slice(0, 5))}\n${why(r)}`);
  for (const sas of [r.sasA, r.sasB]) {
    const c = sas[0]?.children[0];
    assert.equal(c?.inbound?.encap, "udp 4500->4500", why(r));
    assert.equal(c?.outbound?.encap, "udp 4500->4500", why(r));
    assert.equal(c?.inbound?.packets, "6", why(r));
  }
});

Deno.test("e2e NAT-T: through a masquerading NAT the tunnel comes up, ESP goes in UDP 4500; pings and 50 MB pass", async () => {
  const r = await runNattScenario("nat", TRANSFER_BYTES);
  assertTraffic(r);
  // On b's wire the client is the NAT's public address; b's end is port 4500.
  const s = summary(r);
  const elsewhere = s.espInUdp.filter((f) =>
    !(f[1] === "198.51.100.1" || f[2] === "198.51.100.1") || !(f[3] === "4500" || f[4] === "4500")
  );
  assert.equal(elsewhere.length, 0, `${JSON.stringify(elsewhere.slice(0, 5))}\n${why(r)}`);
  // NAT detection: a knows it is behind a NAT, b knows its peer is.
  assert.equal(r.sasA[0]?.ike?.nat, "local", why(r));
  assert.equal(r.sasB[0]?.ike?.nat, "remote", why(r));
  // a uses its real (route source) address, not 0.0.0.0; b sees the NAT's.
  // The NAT maps UDP to ports 20000-29999: b talks to the mapped port of a's 4500.
  assert.equal(r.sasA[0]?.ike?.local, "172.16.0.2[4500]", why(r));
  const remote = r.sasB[0]?.ike?.remote ?? "";
  const port = /^198\.51\.100\.1\[(2\d{4})\]$/.exec(remote)?.[1];
  assert.ok(port, `b's peer is ${remote}\n${why(r)}`);
  const b = r.sasB[0]?.children[0];
  assert.equal(b?.inbound?.encap, `udp ${port}->4500`, why(r));
  assert.equal(b?.outbound?.encap, `udp 4500->${port}`, why(r));
  assert.equal(r.sasA[0]?.children[0]?.outbound?.encap, "udp 4500->4500", why(r));
  for (const sas of [r.sasA, r.sasB]) assert.equal(sas[0]?.children[0]?.inbound?.packets, "6");
  // Port floating: the NAT forgot its mappings; a's next IKE message (DPD) comes from a
  // new port, b moves the IKE SA and both ESP SAs there, and traffic flows again.
  assert.notEqual(r.floated, null, "conntrack is required (bash .ci/install_deps.sh)");
  const f = r.floated!;
  assert.equal(f.ping.code, 0, `no reply after the NAT remapped\n${f.ping.stdout}\n${why(r)}`);
  const moved = f.sasB[0]?.ike?.remote ?? "";
  const newPort = /^198\.51\.100\.1\[(2\d{4})\]$/.exec(moved)?.[1];
  assert.ok(newPort && newPort !== port, `b's peer after the remap: ${moved}\n${why(r)}`);
  assert.equal(f.sasB[0]?.children[0]?.outbound?.encap, `udp 4500->${newPort}`, why(r));
});
