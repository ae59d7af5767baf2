/**
 * A real NAT between our daemon and strongSwan's charon (kernel-libipsec),
 * each side once behind it: NAT detection (RFC 7296 section 2.23) with
 * nothing forced (`encap` off on both sides), IKE floating from 500 to
 * 4500, ESP in UDP (RFC 3948) to the ports the NAT chose, and the NAT
 * forgetting its mappings while the SAs stay up.
 *
 * ```
 *  inside (behind the NAT)        ns r (NAT router)                     outside
 *  vi 172.16.0.2  <== veth ==>  ri 172.16.0.1   ro 198.51.100.1  <== veth ==>  vo 198.51.100.2
 *  lo 10.1.0.1                  MASQUERADE out of ro, UDP to ports 20000-29999  lo 10.2.0.1
 *
 *  a. charon inside (initiates, DPD every 2 s)    our daemon outside (any peer may connect)
 *  b. our daemon inside (initiates, DPD 2 s)      charon outside (remote_addrs = %any)
 *  c. as a., charon with mobike = no
 *  d. as a., charon without liveness checks (dpd_delay = 0, its default)
 *  e. as d., charon a road warrior: a virtual IP from our pool (vips = 0.0.0.0)
 * ```
 *
 * With MOBIKE the side outside must not follow the inside side's IKE
 * packets to a new port (RFC 4555 section 3.8): the inside side's liveness
 * checks carry NAT detection, the outside side answers with it, and on a
 * new mapping the inside side sends UPDATE_SA_ADDRESSES. Without MOBIKE
 * the outside side follows the next authenticated IKE message (RFC 7296
 * section 2.23). charon with kernel-libipsec always fakes its NAT detection
 * source hash (it needs UDP encapsulation), so it looks NATed from anywhere.
 *
 * Each case checks that both sides saw the NAT where it is (the side inside
 * "local", the side outside "remote"), that both sides' SAs use UDP 4500 on
 * the inside and the NAT's ports on the outside, then traffic both ways;
 * then the NAT forgets every mapping (`conntrack -F`): after the inside
 * side's next packets (new ports), traffic must flow both ways again
 * without a new SA.
 *
 * @module
 */
import assert from "node:assert/strict";
import { OurDaemon } from "../helpers/interop_daemon.ts";
import { CHARON_ID, ENGINE_ID } from "../helpers/interop_lab.ts";
import { type Host, ping, trafficBothWays } from "../helpers/interop_traffic.ts";
import { NetnsLab, run } from "../helpers/netns.ts";
import { Charon, swanctlConf, type SwanIkeSa } from "../helpers/strongswan.ts";

const PSK = "interop nat psk 5c1e0b7a";
const INSIDE = "172.16.0.2";
const NAT_OUT = "198.51.100.1";
const OUTSIDE = "198.51.100.2";
const INSIDE_NET = "10.1.0.0/24";
const OUTSIDE_NET = "10.2.0.0/24";
const inside = (ns: string): Host => ({ ns, ip: "10.1.0.1" });
const outside = (ns: string): Host => ({ ns, ip: "10.2.0.1" });

/** The part of our `list-sas --json` this test reads. */
interface OurSa {
  ike: { local: string; remote: string; nat: string };
  children: {
    inbound: { encap: string } | null;
    outbound: { encap: string } | null;
  }[];
}

/** One case of the test. */
interface Case {
  /** charon behind the NAT (initiating), else our daemon. */
  charonInside: boolean;
  /** MOBIKE on charon (default yes). */
  mobike?: boolean;
  /** Liveness checks every 2 s on the side inside (default yes). */
  dpd?: boolean;
  /** charon inside asks our gateway for a virtual IP from a pool (a road warrior). */
  vip?: boolean;
}

/** Our pool for the road-warrior case. */
const POOL = "10.4.0.";

function ourYaml(o: { weInside: boolean; vip: boolean }): string {
  return `connections:
  nat:
${
    o.weInside
      ? `    remote_addrs: [${OUTSIDE}]\n    dpd_delay: 2s\n`
      : `    local_addrs: [${OUTSIDE}]\n`
  }    proposals: [aes256gcm16-prfsha384-ecp256]
    local:
      auth: psk
      id: ${ENGINE_ID}
    remote:
      auth: psk
      id: ${CHARON_ID}
    children:
      net:
        local_ts: [${o.weInside ? INSIDE_NET : OUTSIDE_NET}]
        remote_ts: [${o.weInside ? OUTSIDE_NET : o.vip ? "dynamic" : INSIDE_NET}]
        esp_proposals: [aes256gcm16]
        start_action: none
${o.vip ? "    pools: [rw]\n" : ""}secrets:
  nat-psk:
    id: [${ENGINE_ID}, ${CHARON_ID}]
    secret: "${PSK}"
${o.vip ? `pools:\n  rw:\n    addrs: ${POOL}0/24\n` : ""}`;
}

function charonConf(o: Required<Case>): string {
  const conf = swanctlConf({
    name: "nat",
    childName: "net",
    localAddr: o.charonInside ? INSIDE : OUTSIDE,
    remoteAddr: o.charonInside ? OUTSIDE : "%any",
    localId: CHARON_ID,
    remoteId: ENGINE_ID,
    auth: "psk",
    psk: PSK,
    ikeProposal: "aes256gcm16-prfsha384-ecp256",
    espProposal: "aes256gcm16",
    localTs: o.vip ? "dynamic" : o.charonInside ? INSIDE_NET : OUTSIDE_NET,
    remoteTs: o.charonInside ? OUTSIDE_NET : INSIDE_NET,
    extra: [
      o.charonInside && o.dpd ? "dpd_delay = 2s" : "dpd_delay = 0",
      `mobike = ${o.mobike ? "yes" : "no"}`,
      ...(o.vip ? ["vips = 0.0.0.0"] : []),
    ],
  });
  // Nothing forced: the NAT must be detected (swanctlConf writes encap = yes for the other benches).
  const out = conf.replace("encap = yes", "encap = no");
  assert(out !== conf, "swanctlConf no longer writes 'encap = yes'");
  return out;
}

/** Polls `f` every 200 ms until it returns true; throws `what` after `ms`. */
async function until(what: string, f: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Our list-sas endpoints read "198.51.100.1[4500]". */
const portOf = (ep: string) => Number(/\[(\d+)\]$/.exec(ep)?.[1] ?? NaN);
const hostOf = (ep: string) => ep.replace(/\[\d+\]$/, "");

async function scenario(c: Case): Promise<void> {
  const o: Required<Case> = { mobike: true, dpd: true, vip: false, ...c };
  const { charonInside, mobike, dpd } = o;
  const lab = await NetnsLab.create("tnat-");
  const dir = await Deno.makeTempDir({ prefix: lab.prefix });
  let charon: Charon | undefined;
  let daemon: OurDaemon | undefined;
  try {
    const i = await lab.addNs("i");
    const r = await lab.addNs("r");
    const outsideNs = await lab.addNs("o");
    await lab.veth(i, "vi", `${INSIDE}/24`, r, "ri", "172.16.0.1/24");
    await lab.veth(r, "ro", `${NAT_OUT}/24`, outsideNs, "vo", `${OUTSIDE}/24`);
    await run(["ip", "-n", i, "route", "add", "default", "via", "172.16.0.1"]);
    await run(["ip", "-n", i, "addr", "add", "10.1.0.1/32", "dev", "lo"]);
    await run(["ip", "-n", outsideNs, "addr", "add", "10.2.0.1/32", "dev", "lo"]);
    await lab.masquerade(r, "ro", "20000-29999");
    // The inside network is reachable only through the tunnel; the outside one too.
    const [charonNs, ourNs] = charonInside ? [i, outsideNs] : [outsideNs, i];
    charon = await Charon.start({ ns: charonNs, dir: `${dir}/charon`, swanctlConf: "" });
    await charon.reload(charonConf(o), []);
    daemon = await OurDaemon.start(
      lab,
      ourNs,
      `${dir}/ours`,
      ourYaml({ weInside: !charonInside, vip: o.vip }),
    );

    if (charonInside) await charon.initiate("nat", "net");
    else {
      const up = await daemon.cli(["up", "nat", "--timeout", "20"]);
      assert(up.code === 0, `ipsec up failed: ${up.stdout}${up.stderr}`);
    }
    const installed = (s: SwanIkeSa[]) =>
      s.length === 1 && s[0].state === "ESTABLISHED" &&
      s[0].children.some((c) => c.state === "INSTALLED");
    const swan = (await charon.waitSas(installed, "charon's SAs through the NAT"))[0];
    await daemon.waitSas((s) => s.length === 1 && s[0].children.length === 1, "our SAs");
    const ours = async () =>
      JSON.parse((await daemon!.cli(["list-sas", "--json"])).stdout || "[]") as OurSa[];
    const [sa] = await ours();
    const dump = () => `ours: ${JSON.stringify(sa)}\ncharon: ${JSON.stringify(swan)}`;

    // Where the NAT is, as we detected it. charon with kernel-libipsec always fakes its
    // NAT_DETECTION_SOURCE_IP (it needs UDP encapsulation), so it looks NATed from anywhere.
    assert(sa.ike.nat === (charonInside ? "remote" : "both"), `our NAT detection\n${dump()}`);
    // charon saw the NAT where it is (its log; list-sas does not say).
    const log = await charon.log();
    assert(
      log.includes(charonInside ? "local host is behind NAT" : "remote host is behind NAT"),
      `charon did not detect the NAT\n${dump()}`,
    );
    // IKE floated to 4500; outside, the inside side's port is the NAT's.
    if (charonInside) {
      assert(swan.localPort === 4500 && swan.remotePort === 4500, `charon's ports\n${dump()}`);
      assert(hostOf(sa.ike.remote) === NAT_OUT, `we see the NAT's address\n${dump()}`);
      const p = portOf(sa.ike.remote);
      assert(p >= 20000 && p <= 29999, `we answer the NAT's port\n${dump()}`);
    } else {
      assert(portOf(sa.ike.local) === 4500 && portOf(sa.ike.remote) === 4500, dump());
      assert(swan.remoteAddr === NAT_OUT, `charon sees the NAT's address\n${dump()}`);
      assert(swan.remotePort >= 20000 && swan.remotePort <= 29999, `charon's port\n${dump()}`);
    }
    // ESP in UDP on both of our child SAs.
    const child = sa.children[0];
    assert(
      child.inbound?.encap && child.outbound?.encap,
      `our child SA is not UDP-encapsulated\n${dump()}`,
    );
    const swanChild = swan.children.find((c) => c.state === "INSTALLED")!;
    assert(swanChild.mode === "TUNNEL-in-UDP", `charon's child SA mode\n${dump()}`);

    // The road warrior's traffic comes from its virtual IP, out of our pool.
    const vip = swan.localVips[0];
    if (o.vip) {
      assert(swan.localVips.length === 1 && vip.startsWith(POOL), `charon's VIP\n${dump()}`);
    }
    const [hi, ho] = [o.vip ? { ns: i, ip: vip } : inside(i), outside(outsideNs)];
    await trafficBothWays(lab, hi, ho, 1 << 16);

    // The NAT forgets every mapping; the inside side's next packets get new ports.
    // The inside side's liveness checks carry NAT detection, and the outside side
    // answers with where it sees the inside side (RFC 4555 section 3.8). Wait for one
    // such exchange (the mapping the inside side compares later ones with) before the
    // NAT forgets.
    const natdIn = (dir: "request" | "response") =>
      new RegExp(`parsed INFORMATIONAL ${dir} \\d+ \\[ N\\(NATD_S_IP\\) N\\(NATD_D_IP\\)`);
    // Without MOBIKE the outside side follows the inside side's next authenticated IKE
    // message instead (RFC 7296 section 2.23): wait for one liveness check.
    // Without liveness checks there is nothing to wait for: our data plane follows the
    // new mapping of authenticated ESP (RFC 7296 section 2.23, RFC 4555 section 3.8).
    await until("a liveness check with NAT detection", async () => {
      const log = await charon!.log();
      if (!dpd) return true;
      if (!mobike) return /generating INFORMATIONAL request \d+ \[ \]/.test(log);
      return natdIn(charonInside ? "response" : "request").test(log);
    });
    await new Promise((r) => setTimeout(r, 300));
    const before = charonInside
      ? portOf((await ours())[0].ike.remote)
      : (await charon.sas())[0].remotePort;
    const flush = await lab.runIn(r, ["conntrack", "-F"]);
    assert(flush.code === 0, `conntrack -F failed: ${flush.stderr}`);
    // The inside side's next liveness check goes out through a new mapping; the NAT
    // detection in its answer tells the inside side, which moves the SAs there with
    // UPDATE_SA_ADDRESSES. The outside side must not follow IKE packets by itself.
    const first = dpd ? undefined : ping(lab, hi, ho, 3, 0.5);
    await until("the outside side to learn the new port", async () => {
      if (charonInside) {
        const now = (await ours())[0];
        return now !== undefined && portOf(now.ike.remote) !== before;
      }
      const now = (await charon!.sas())[0];
      return now !== undefined && now.remotePort !== before;
    });
    if (first) {
      const r = await first;
      assert(r.code === 0, `inside -> outside, the first packets after the flush:\n${r.stdout}`);
    }
    const out = await ping(lab, hi, ho, 3, 0.5);
    assert(out.code === 0, `inside -> outside after the NAT's new mapping:\n${out.stdout}`);
    const back = await ping(lab, ho, hi, 3, 0.5);
    assert(back.code === 0, `outside -> inside after the NAT's new mapping:\n${back.stdout}`);
    await trafficBothWays(lab, hi, ho, 1 << 16);
    // Still the same SAs.
    const after = await charon.sas();
    assert(
      after.length === 1 && after[0].spiI === swan.spiI,
      `a new IKE SA\n${JSON.stringify(after)}`,
    );
  } catch (e) {
    const charonLog = (await charon?.log() ?? "").split("\n").filter((l) => !l.includes("[CFG]"));
    throw new Error(
      `${(e as Error).message}\n--- charon log ---\n${charonLog.join("\n")}` +
        `\n--- our daemon log ---\n${daemon?.log() ?? ""}`,
    );
  } finally {
    await daemon?.stop().catch(() => {});
    await charon?.stop().catch(() => {});
    await lab.cleanup();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

Deno.test({
  name: "interop NAT: charon behind a NAT initiates to our daemon",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () => scenario({ charonInside: true }),
});

Deno.test({
  name: "interop NAT: our daemon behind a NAT initiates to charon",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () => scenario({ charonInside: false }),
});

Deno.test({
  name: "interop NAT: charon behind a NAT without MOBIKE initiates to our daemon",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () => scenario({ charonInside: true, mobike: false }),
});

Deno.test({
  name: "interop NAT: charon behind a NAT without liveness checks initiates to our daemon",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () => scenario({ charonInside: true, dpd: false }),
});

Deno.test({
  name: "interop NAT: charon as a road warrior behind a NAT gets a virtual IP from our pool",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () => scenario({ charonInside: true, vip: true, dpd: false }),
});
