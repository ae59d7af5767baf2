/**
 * The usual road-warrior setup: everything through the tunnel. charon asks
 * our gateway for a virtual IP with `remote_ts = 0.0.0.0/0`; our gateway
 * protects `local_ts: [0.0.0.0/0]` for it. The selectors cover both hosts'
 * own outer addresses, so IKE itself must stay outside the tunnel on both
 * sides (our SPD's IKE bypass, charon's own), while traffic from the
 * virtual IP to anything, here our 10.2.0.1, goes through it.
 *
 * ```
 *  ns c: charon 10.99.0.1, vips 0.0.0.0, remote_ts 0.0.0.0/0
 *  ns d: our daemon 10.99.0.2, lo 10.2.0.1, local_ts 0.0.0.0/0, pool 10.4.0.0/24
 * ```
 *
 * After traffic both ways, charon rekeys the IKE SA and the child SA
 * (`swanctl --rekey`): both exchanges must pass with the tunnel up, and
 * traffic must still flow. The second case swaps the roles: our daemon is
 * the road warrior with `remote_ts: [0.0.0.0/0]` (its routes into the TUN
 * cover charon's outer address too) against charon's pool.
 *
 * @module
 */
import { type Bench, benchTest, must } from "../helpers/interop_system.ts";
import { trafficBothWays } from "../helpers/interop_traffic.ts";
import { oneInstalled as installed } from "../helpers/strongswan.ts";

/** charon rekeys the IKE SA, then the child SA (`swanctl --rekey`); waits for both. */
async function charonRekeys(b: Bench): Promise<void> {
  const [before] = await b.charon.sas();
  must(await b.charon.swanctl(["--rekey", "--ike", "gw"]), "swanctl --rekey --ike");
  await b.charon.waitSas((s) => installed(s) && s[0].spiI !== before.spiI, "the rekeyed IKE SA");
  const spiIn = (await b.charon.sas())[0].children.find((c) => c.state === "INSTALLED")!.spiIn;
  must(await b.charon.swanctl(["--rekey", "--child", "net"]), "swanctl --rekey --child");
  await b.charon.waitSas(
    (s) => installed(s) && s[0].children.some((c) => c.state === "INSTALLED" && c.spiIn !== spiIn),
    "the rekeyed child SA",
  );
}

async function vipOf(b: Bench): Promise<string> {
  const [sa] = await b.charon.waitSas(installed, "charon's SAs");
  const vip = sa.localVips[0];
  const child = sa.children.find((c) => c.state === "INSTALLED")!;
  if (sa.localVips.length !== 1 || !vip.startsWith("10.4.0.")) {
    throw new Error(`charon's virtual IP: ${JSON.stringify(sa)}`);
  }
  if (child.localTs.join() !== `${vip}/32` || child.remoteTs.join() !== "0.0.0.0/0") {
    throw new Error(`charon's selectors are not ${vip}/32 === 0.0.0.0/0: ${JSON.stringify(sa)}`);
  }
  return vip;
}

benchTest(
  "full-tunnel road warrior (remote_ts 0.0.0.0/0), rekeys pass",
  async (b) => {
    await b.charon.initiate("gw", "net");
    const vip = await vipOf(b);
    const client = { ns: b.c, ip: vip };
    const gw = { ns: b.d, ip: "10.2.0.1" };
    await trafficBothWays(b.lab, client, gw, 1 << 14);
    await charonRekeys(b);
    await trafficBothWays(b.lab, client, gw, 1 << 14);
    await b.daemon.waitSas((s) => s.length === 1, "one IKE SA on our side");
  },
  {
    ours: {
      localTs: "0.0.0.0/0",
      remoteTs: "dynamic",
      remoteAddrs: null,
      extra: ["pools: [rw]"],
      sections: "pools:\n  rw:\n    addrs: 10.4.0.0/24\n",
    },
    charon: {
      localTs: "dynamic",
      remoteTs: "0.0.0.0/0",
      extra: ["dpd_delay = 0", "vips = 0.0.0.0"],
    },
  },
);

benchTest(
  "we are the full-tunnel road warrior (remote_ts 0.0.0.0/0)",
  async (b) => {
    must(await b.daemon.cli(["up", "gw", "--timeout", "15"]), "ipsec up gw");
    const [sa] = await b.charon.waitSas(installed, "charon's SAs");
    const vip = sa.remoteVips[0];
    if (sa.remoteVips.length !== 1 || !vip.startsWith("10.3.0.")) {
      throw new Error(`our virtual IP in charon's view: ${JSON.stringify(sa)}`);
    }
    // Everything from our virtual IP goes through the tunnel, IKE and ESP themselves not.
    const client = { ns: b.d, ip: vip };
    const gw = { ns: b.c, ip: "10.1.0.1" };
    await trafficBothWays(b.lab, client, gw, 1 << 14);
    // IKE keeps working outside the tunnel: our answers to charon's rekeys (to its outer
    // address, inside 0.0.0.0/0) must reach it.
    await charonRekeys(b);
    await trafficBothWays(b.lab, client, gw, 1 << 14);
  },
  {
    ours: { localTs: "dynamic", remoteTs: "0.0.0.0/0", extra: ["vips: [0.0.0.0]"] },
    charon: {
      localTs: "0.0.0.0/0",
      remoteTs: "dynamic",
      extra: ["dpd_delay = 0", "pools = rw"],
      pools: "  rw {\n    addrs = 10.3.0.0/24\n  }",
    },
  },
);
