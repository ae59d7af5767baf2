/**
 * `ipsec rekey NAME` and `ipsec rekey NAME --child CHILD` against charon:
 * the IKE SA gets new SPIs (its child SA moves over), then the child SA gets
 * new SPIs; charon agrees on both, and traffic flows before and after.
 * Unknown connections and children are refused with exit code 3.
 *
 * @module
 */
import { benchTest, checkAgreement, must } from "../helpers/interop_system.ts";
import { trafficBothWays } from "../helpers/interop_traffic.ts";
import { oneInstalled } from "../helpers/strongswan.ts";

benchTest("ipsec rekey renews the IKE SA and, with --child, the child SA", async (b) => {
  must(await b.daemon.cli(["up", "gw", "--timeout", "15"]), "ipsec up gw");
  const [first] = await b.charon.waitSas(oneInstalled, "charon's SAs");
  const ours = { ns: b.d, ip: "10.2.0.1" };
  const theirs = { ns: b.c, ip: "10.1.0.1" };
  await trafficBothWays(b.lab, ours, theirs, 1 << 14);

  const ike = await b.daemon.cli(["rekey", "gw", "--timeout", "15"]);
  must(ike, "ipsec rekey gw");
  if (!ike.stdout.includes("'gw' rekeyed")) throw new Error(`ipsec rekey said: ${ike.stdout}`);
  const [afterIke] = await b.charon.waitSas(
    (s) => oneInstalled(s) && s[0].spiI !== first.spiI,
    "charon's rekeyed IKE SA",
  );
  await checkAgreement(b.charon, await b.daemon.listSas(), b.proposals);
  const childBefore = afterIke.children.find((c) => c.state === "INSTALLED")!.spiIn;

  must(
    await b.daemon.cli(["rekey", "gw", "--child", "net", "--timeout", "15"]),
    "ipsec rekey --child",
  );
  await b.charon.waitSas(
    (s) =>
      oneInstalled(s) && s[0].spiI === afterIke.spiI &&
      s[0].children.some((c) => c.state === "INSTALLED" && c.spiIn !== childBefore),
    "charon's rekeyed child SA",
  );
  await b.daemon.waitSas((s) => s.length === 1 && s[0].children.length === 1, "one child SA");
  await trafficBothWays(b.lab, ours, theirs, 1 << 14);

  for (const args of [["rekey", "nope"], ["rekey", "gw", "--child", "nope"]]) {
    const r = await b.daemon.cli(args);
    if (r.code !== 3) throw new Error(`ipsec ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  }
});
