/**
 * IPComp against strongSwan's charon, both sides with `ipcomp` on. charon's
 * userspace ESP (kernel-libipsec) cannot allocate a CPI, so charon declines
 * IPComp whichever side initiates: it answers our N(IPCOMP_SUPPORTED) without
 * one of its own (its log: "unable to allocate a CPI from kernel, IPComp
 * disabled", after it accepted our DEFLATE offer), and as initiator sends none.
 * RFC 7296 section 2.22: the child SA then comes up without IPComp. Checked
 * here: our offer is on the wire, both sides agree on a plain ESP SA, and
 * pings and TCP pass both ways, in both directions of initiation.
 *
 * @module
 */
import assert from "node:assert/strict";
import { benchTest, charonInitiates, weInitiate } from "../helpers/interop_system.ts";

const IPCOMP = {
  ours: { childExtra: ["ipcomp: yes"] },
  charon: { childExtra: ["ipcomp = yes"] },
};

benchTest("IPComp offered, charon (kernel-libipsec) declines: plain ESP, traffic", async (b) => {
  const mark = await b.charon.logMark();
  await weInitiate(b, async (b) => {
    const sas = await b.daemon.cli(["list-sas"]);
    assert.doesNotMatch(sas.stdout, /IPCOMP|IPComp/, sas.stdout);
  });
  const log = b.daemon.log();
  assert.match(log, /IKE_AUTH request 1 \[ [^\]]*N\(IPCOMP_SUP\)/, log);
  assert.doesNotMatch(
    log.split("\n").filter((l) => l.includes("IKE_AUTH response 1")).join("\n"),
    /IPCOMP/,
  );
  const charonLog = await b.charon.log(mark);
  // charon parsed our notify and took its DEFLATE offer, then found no CPI to give.
  assert.match(charonLog, /parsed IKE_AUTH request 1 \[ [^\]]*N\(IPCOMP_SUP\)/, charonLog);
  assert.match(charonLog, /unable to allocate a CPI from kernel, IPComp disabled/, charonLog);
  await charonInitiates(b, true, async (b) => {
    const sas = await b.daemon.cli(["list-sas"]);
    assert.doesNotMatch(sas.stdout, /IPCOMP|IPComp/, sas.stdout);
  });
}, IPCOMP);
