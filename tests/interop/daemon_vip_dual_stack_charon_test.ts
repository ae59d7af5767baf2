/**
 * A dual-stack road warrior through our whole daemon: charon asks for an
 * IPv4 and an IPv6 virtual IP (`vips = 0.0.0.0,::`) for selectors of both
 * families; our gateway leases one of each from two pools, puts both
 * selectors in one child SA, and IPv4 and IPv6 traffic both flow (IPv6
 * inside an IPv4 tunnel).
 *
 * ```
 *  ns c: charon 10.99.0.1, vips 0.0.0.0,::, remote_ts 10.2.0.0/24,fd00:2::/64
 *  ns d: our daemon 10.99.0.2, lo 10.2.0.1 and fd00:2::1, pools 10.4.0.0/24 and fd00:4::/112
 * ```
 *
 * The second case swaps the roles: our daemon asks charon's two pools for
 * both families (`vips: [0.0.0.0, '::']`) and puts both on its TUN.
 *
 * @module
 */
import { benchTest, must } from "../helpers/interop_system.ts";
import { trafficBothWays } from "../helpers/interop_traffic.ts";
import { oneInstalled as installed } from "../helpers/strongswan.ts";

benchTest(
  "dual-stack road warrior, IPv4 and IPv6 virtual IPs",
  async (b) => {
    must(
      await b.lab.runIn(b.d, ["ip", "addr", "add", "fd00:2::1/128", "dev", "lo"]),
      "ip addr add fd00:2::1",
    );
    await b.charon.initiate("gw", "net");
    const [sa] = await b.charon.waitSas(installed, "charon's SAs");
    const v4 = sa.localVips.find((v) => v.startsWith("10.4.0."));
    const v6 = sa.localVips.find((v) => v.startsWith("fd00:4::"));
    if (sa.localVips.length !== 2 || !v4 || !v6) {
      throw new Error(`charon's virtual IPs: ${JSON.stringify(sa)}`);
    }
    const child = sa.children.find((c) => c.state === "INSTALLED")!;
    if (child.localTs.slice().sort().join() !== [`${v4}/32`, `${v6}/128`].sort().join()) {
      throw new Error(`charon's selectors: ${JSON.stringify(child)}`);
    }
    await trafficBothWays(b.lab, { ns: b.c, ip: v4 }, { ns: b.d, ip: "10.2.0.1" }, 1 << 14);
    await trafficBothWays(b.lab, { ns: b.c, ip: v6 }, { ns: b.d, ip: "fd00:2::1" }, 1 << 14);
    const st = await b.daemon.cli(["status", "--json"]);
    must(st, "ipsec status --json");
    for (const v of [v4, v6]) {
      if (!st.stdout.includes(`"${v}"`)) throw new Error(`status lacks ${v}:\n${st.stdout}`);
    }
  },
  {
    ours: {
      localTs: "10.2.0.0/24, fd00:2::/64",
      remoteTs: "dynamic",
      remoteAddrs: null,
      extra: ["pools: [rw, rw6]"],
      sections: "pools:\n  rw:\n    addrs: 10.4.0.0/24\n  rw6:\n    addrs: fd00:4::/112\n",
    },
    charon: {
      localTs: "dynamic",
      remoteTs: "10.2.0.0/24,fd00:2::/64",
      extra: ["dpd_delay = 0", "vips = 0.0.0.0,::"],
    },
  },
);

benchTest(
  "we are the dual-stack road warrior",
  async (b) => {
    must(
      await b.lab.runIn(b.c, ["ip", "addr", "add", "fd00:1::1/128", "dev", "lo"]),
      "ip addr add fd00:1::1",
    );
    must(await b.daemon.cli(["up", "gw", "--timeout", "15"]), "ipsec up gw");
    const [sa] = await b.charon.waitSas(installed, "charon's SAs");
    const v4 = sa.remoteVips.find((v) => v.startsWith("10.3.0."));
    const v6 = sa.remoteVips.find((v) => v.startsWith("fd00:3::"));
    if (sa.remoteVips.length !== 2 || !v4 || !v6) {
      throw new Error(`our virtual IPs in charon's view: ${JSON.stringify(sa)}`);
    }
    await trafficBothWays(b.lab, { ns: b.d, ip: v4 }, { ns: b.c, ip: "10.1.0.1" }, 1 << 14);
    await trafficBothWays(b.lab, { ns: b.d, ip: v6 }, { ns: b.c, ip: "fd00:1::1" }, 1 << 14);
  },
  {
    ours: {
      localTs: "dynamic",
      remoteTs: "10.1.0.0/24, fd00:1::/64",
      extra: ["vips: [0.0.0.0, '::']"],
    },
    charon: {
      localTs: "10.1.0.0/24,fd00:1::/64",
      remoteTs: "dynamic",
      extra: ["dpd_delay = 0", "pools = rw,rw6"],
      pools: "  rw {\n    addrs = 10.3.0.0/24\n  }\n  rw6 {\n    addrs = fd00:3::/112\n  }",
    },
  },
);
