/**
 * A road warrior that reauthenticates keeps its virtual IP: charon (client,
 * `vips = 0.0.0.0`, `reauth_time`) against our daemon as the gateway with a
 * pool, with charon's break-before-make reauthentication (its default) and
 * with make-before-break (`make_before_break = yes`), where the new IKE SA
 * asks for its address while the old one still holds it:
 *
 * ```
 *  charon ──IKE_AUTH {CP(CFG_REQUEST: ADDR=0.0.0.0)}──► daemon   CP(CFG_REPLY: ADDR=10.4.0.1)
 *  (reauth_time passes)
 *  charon ──IKE_SA_INIT, IKE_AUTH {CP(CFG_REQUEST: ADDR=10.4.0.1)}──► daemon  (a new IKE SA)
 *  daemon: CP(CFG_REPLY: ADDR=10.4.0.1)  (the same identity keeps its address)
 *  charon ──INFORMATIONAL {D (old IKE SA)}──► daemon
 * ```
 *
 * Checked: the new IKE SA has the same virtual IP on both sides, traffic
 * flows both ways after the reauthentication, and the address is still
 * leased (in `ipsec status --json`) once the old IKE SA is gone.
 *
 * The other way round, our daemon is the road warrior (`reauth_time`, our
 * make-before-break reauthentication asks for the address it holds) and
 * charon's pool must give it the same address again.
 *
 * @module
 */
import { type Bench, type BenchOverrides, benchTest, must } from "../helpers/interop_system.ts";
import { trafficBothWays } from "../helpers/interop_traffic.ts";
import { oneInstalled, type SwanIkeSa } from "../helpers/strongswan.ts";

const POOL = "10.4.0.";

async function charonSa(b: Bench, pred: (s: SwanIkeSa) => boolean, what: string) {
  const [sa] = await b.charon.waitSas((s) => oneInstalled(s) && pred(s[0]), what, 30_000);
  return sa;
}

/** charon reauthenticates against our pool and keeps its address. */
async function charonReauthenticates(b: Bench): Promise<void> {
  await b.charon.initiate("gw", "net");
  const first = await charonSa(b, () => true, "charon's first IKE SA");
  const vip = first.localVips[0];
  if (first.localVips.length !== 1 || !vip?.startsWith(POOL)) {
    throw new Error(`charon's virtual IP: ${JSON.stringify(first)}`);
  }
  await trafficBothWays(b.lab, { ns: b.d, ip: "10.2.0.1" }, { ns: b.c, ip: vip }, 1 << 14);
  // charon reauthenticates by itself (reauth_time): a new IKE SA, the same address.
  const second = await charonSa(
    b,
    (s) => s.spiI !== first.spiI,
    "charon's reauthenticated IKE SA",
  );
  if (second.localVips.join() !== vip) {
    throw new Error(
      `the virtual IP changed on reauthentication: ${vip} -> ${second.localVips}`,
    );
  }
  await b.daemon.waitSas(
    (s) => s.length === 1 && s[0].children.length === 1,
    "only the new IKE SA on our side",
    20_000,
  );
  await trafficBothWays(b.lab, { ns: b.d, ip: "10.2.0.1" }, { ns: b.c, ip: vip }, 1 << 14);
  const st = await b.daemon.cli(["status", "--json"]);
  must(st, "ipsec status --json");
  if (!st.stdout.includes(`"${vip}"`)) {
    throw new Error(`our status no longer shows ${vip} leased:\n${st.stdout}`);
  }
}

function charonClient(makeBeforeBreak: boolean): BenchOverrides {
  return {
    ours: {
      remoteTs: "dynamic",
      remoteAddrs: null,
      extra: ["pools: [rw]"],
      sections: `pools:\n  rw:\n    addrs: ${POOL}0/24\n`,
    },
    charon: {
      localTs: "dynamic",
      extra: [
        "dpd_delay = 0",
        "vips = 0.0.0.0",
        "reauth_time = 6s",
        "rekey_time = 0s",
        "over_time = 60s",
        "rand_time = 0s",
      ],
    },
    charonConf: `make_before_break = ${makeBeforeBreak ? "yes" : "no"}`,
  };
}

benchTest(
  "a road warrior keeps its virtual IP across reauthentication (break-before-make)",
  charonReauthenticates,
  charonClient(false),
);

benchTest(
  "a road warrior keeps its virtual IP across reauthentication (make-before-break)",
  charonReauthenticates,
  charonClient(true),
);

benchTest(
  "our road warrior keeps charon's virtual IP across its reauthentication",
  async (b) => {
    must(await b.daemon.cli(["up", "gw", "--timeout", "15"]), "ipsec up gw");
    const first = await charonSa(b, () => true, "charon's IKE SA");
    const vip = first.remoteVips[0];
    if (first.remoteVips.length !== 1 || !vip?.startsWith("10.3.0.")) {
      throw new Error(`our virtual IP in charon's view: ${JSON.stringify(first)}`);
    }
    await trafficBothWays(b.lab, { ns: b.d, ip: vip }, { ns: b.c, ip: "10.1.0.1" }, 1 << 14);
    // Our reauth_time passes: make-before-break, asking for the address we hold.
    const second = await charonSa(b, (s) => s.spiI !== first.spiI, "our reauthenticated SA");
    if (second.remoteVips.join() !== vip) {
      throw new Error(`charon gave another address: ${vip} -> ${second.remoteVips}`);
    }
    await b.daemon.waitSas((s) => s.length === 1, "only the new IKE SA on our side", 20_000);
    await trafficBothWays(b.lab, { ns: b.d, ip: vip }, { ns: b.c, ip: "10.1.0.1" }, 1 << 14);
  },
  {
    ours: { localTs: "dynamic", extra: ["vips: [0.0.0.0]", "reauth_time: 6s"] },
    charon: {
      remoteTs: "dynamic",
      extra: ["dpd_delay = 0", "pools = rw"],
      pools: "  rw {\n    addrs = 10.3.0.0/24\n  }",
    },
  },
);
