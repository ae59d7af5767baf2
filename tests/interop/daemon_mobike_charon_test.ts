/**
 * Full-system MOBIKE (RFC 4555) with strongSwan: our daemon (no
 * `local_addrs`, so it follows the route source) initiates to charon with
 * MOBIKE; pings go through the tunnel; then our outer address 10.99.0.2 is
 * replaced by 10.99.0.12 (`ip addr add` / `del`, the subnet route stays).
 * The daemon's address monitor notices, the MOBIKE driver moves the IKE SA
 * (UPDATE_SA_ADDRESSES), charon follows: both sides keep the same IKE SPIs,
 * charon shows us at the new address, and pings still go through the tunnel.
 * kernel-libipsec cannot move an installed ESP SA, so charon follows the
 * update with a child rekey (strongSwan's fallback): new child SPIs are fine.
 *
 * Second case, multihoming: 10.99.0.2 stays, but a second veth appears and
 * the route to charon switches to it (source 10.98.0.2): the driver sees the
 * route source change and moves the SA the same way.
 *
 * ```
 *  daemon@10.99.0.2  ──IKE_SA_INIT, IKE_AUTH {N(MOBIKE_SUPPORTED)}──────────► charon
 *  (ip addr del 10.99.0.2, add 10.99.0.12; the monitor sees it within ~1 s)
 *  daemon@10.99.0.12 ──INFORMATIONAL {N(UPDATE_SA_ADDRESSES) N(NATD_*) N(COOKIE2)}──► charon
 *  daemon@10.99.0.12 ◄──INFORMATIONAL {N(NATD_*) N(COOKIE2)}──────────────── charon
 *  daemon@10.99.0.12 ──INFORMATIONAL {N(ADDITIONAL_*) or N(NO_ADDITIONAL_ADDRESSES)}──► charon
 * ```
 *
 * @module
 */
import {
  BENCH,
  type DaemonBench,
  type DaemonIkeSa,
  withDaemonBench,
} from "../helpers/interop_daemon.ts";
import { ping } from "../helpers/interop_traffic.ts";
import type { SwanIkeSa } from "../helpers/strongswan.ts";

const NEW_ADDR = "10.99.0.12";
/** A second link between the namespaces (multihoming). */
const OTHER_LINK = { charon: "10.98.0.1", ours: "10.98.0.2" } as const;
type OurSa = DaemonIkeSa & { ike?: { spiI: string; spiR: string; local: string } };

async function pingThrough(b: DaemonBench, what: string): Promise<void> {
  const r = await ping(b.lab, { ns: b.d, ip: BENCH.ourInner }, { ns: b.c, ip: BENCH.charonInner });
  if (r.code !== 0) throw new Error(`ping through the tunnel ${what} failed:\n${r.stdout}`);
}

const established = (s: SwanIkeSa[]) =>
  s.length === 1 && s[0].state === "ESTABLISHED" &&
  s[0].children.some((ch) => ch.state === "INSTALLED");

/**
 * Brings the SA up from 10.99.0.2 with traffic, runs `change` (after which
 * the route to charon uses `newAddr`), and checks that the same IKE SA moved
 * there on both sides and still carries traffic.
 */
function mobikeTest(
  name: string,
  newAddr: string,
  change: (b: DaemonBench) => Promise<void>,
  prepare?: (b: DaemonBench) => Promise<void>,
) {
  Deno.test({
    name: `strongSwan interop, our daemon: MOBIKE, ${name}`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: () =>
      withDaemonBench({
        prefix: "th3-",
        spec: {
          ike: "aes256gcm16-prfsha256-x25519",
          esp: "aes256gcm16",
          // No local_addrs: we follow the route source. charon takes us from any address.
          ours: ["mobike: yes"],
          charonRemote: "%any",
          charon: ["dpd_delay = 0", "mobike = yes"],
        },
      }, async (b) => {
        const up = await b.daemon.cli(["up", "gw", "--timeout", "15"]);
        if (up.code !== 0) throw new Error(`ipsec up gw failed:\n${up.stdout}${up.stderr}`);
        await prepare?.(b);
        const [before] = await b.charon.waitSas(established, "charon's IKE SA");
        const [ours] = await b.daemon.listSas() as OurSa[];
        if (ours?.ike?.spiI !== before.spiI || ours.ike.spiR !== before.spiR) {
          throw new Error(`IKE SPIs differ: ours ${JSON.stringify(ours)} charon ${before.spiI}`);
        }
        if (before.remoteAddr !== BENCH.ours) {
          throw new Error(`charon sees us at ${before.remoteAddr}`);
        }
        await pingThrough(b, "before the move");
        await change(b);
        await checkMoved(b, before, newAddr);
      }),
  });
}

/** The same IKE SA is at `newAddr` on both sides and carries our pings. */
async function checkMoved(b: DaemonBench, before: SwanIkeSa, newAddr: string): Promise<void> {
  const [after] = await b.charon.waitSas(
    (s) => established(s) && s[0].remoteAddr === newAddr,
    `charon to follow us to ${newAddr}`,
    20_000,
  );
  if (after.spiI !== before.spiI || after.spiR !== before.spiR) {
    throw new Error(`a new IKE SA instead of a move: ${JSON.stringify(after)}`);
  }
  await b.daemon.waitSas(
    (s) => (s[0] as OurSa | undefined)?.ike?.local.startsWith(`${newAddr}[`) === true,
    `our IKE SA at ${newAddr}`,
  );
  // What a user sees: `ipsec status --json` shows the same IKE SA at the new address.
  const st = await b.daemon.cli(["status", "--json"]);
  const moved = (JSON.parse(st.stdout || "{}").ikeSas ?? []) as OurSa[];
  if (
    st.code !== 0 || moved.length !== 1 || moved[0].ike?.spiI !== before.spiI ||
    moved[0].ike.spiR !== before.spiR || !moved[0].ike.local.startsWith(`${newAddr}[`)
  ) {
    throw new Error(`ipsec status --json after the move:\n${st.stdout}${st.stderr}`);
  }
  if (!b.daemon.log().includes(`now ${newAddr}[4500] - ${BENCH.charon}[4500]`)) {
    throw new Error("our daemon never logged ike-updated to the new address");
  }
  await pingThrough(b, "after the move");
  // charon decrypted our pings on a child SA made after the move (kernel-libipsec cannot move
  // an installed SA, so charon rekeys the child on every path change; counts on one child are
  // not stable, charon may switch its own side of the path once more, as in multihoming).
  const old = new Set(before.children.map((ch) => ch.spiIn));
  await b.charon.waitSas(
    (s) =>
      s[0]?.spiI === before.spiI && s[0].remoteAddr === newAddr &&
      s[0].children.some((ch) => !old.has(ch.spiIn) && ch.bytesIn >= 84),
    "charon to decrypt our pings on a child SA at the new address",
  );
}

mobikeTest("our outer address is replaced and the SA survives", NEW_ADDR, async (b) => {
  // The subnet route stays (promoted to the new address).
  await b.lab.runIn(b.d, ["sysctl", "-qw", "net.ipv4.conf.vd.promote_secondaries=1"]);
  await b.lab.runIn(b.d, ["ip", "addr", "add", `${NEW_ADDR}/24`, "dev", "vd"]);
  await b.lab.runIn(b.d, ["ip", "addr", "del", `${BENCH.ours}/24`, "dev", "vd"]);
});

mobikeTest(
  "a second link takes over the route to charon and the SA moves there",
  OTHER_LINK.ours,
  async (b) => {
    // Multihoming: 10.99.0.2 stays, but charon is now routed over a second veth from 10.98.0.2.
    await b.lab.veth(b.c, "vc2", `${OTHER_LINK.charon}/24`, b.d, "vd2", `${OTHER_LINK.ours}/24`);
    const r = await b.lab.runIn(b.d, [
      "ip",
      "route",
      "add",
      `${BENCH.charon}/32`,
      "via",
      OTHER_LINK.charon,
      "src",
      OTHER_LINK.ours,
    ]);
    if (r.code !== 0) throw new Error(`ip route add failed: ${r.stderr}`);
  },
);

mobikeTest(
  "charon rekeyed the IKE SA, then our outer address is replaced",
  NEW_ADDR,
  async (b) => {
    await b.lab.runIn(b.d, ["sysctl", "-qw", "net.ipv4.conf.vd.promote_secondaries=1"]);
    await b.lab.runIn(b.d, ["ip", "addr", "add", `${NEW_ADDR}/24`, "dev", "vd"]);
    await b.lab.runIn(b.d, ["ip", "addr", "del", `${BENCH.ours}/24`, "dev", "vd"]);
  },
  // charon initiates the rekey: the new IKE SA's I flag is charon's, but we started the
  // IKE SA and stay the MOBIKE initiator (RFC 4555; charon keeps COND_ORIGINAL_INITIATOR).
  async (b) => {
    const [first] = await b.charon.waitSas(established, "charon's IKE SA");
    const r = await b.charon.swanctl(["--rekey", "--ike", "gw"]);
    if (r.code !== 0) throw new Error(`swanctl --rekey failed:\n${r.stdout}${r.stderr}`);
    const [rekeyed] = await b.charon.waitSas(
      (s) => established(s) && s[0].spiI !== first.spiI,
      "charon's rekeyed IKE SA",
    );
    if (rekeyed.initiator !== true) {
      throw new Error(`charon did not initiate the rekey: ${JSON.stringify(rekeyed)}`);
    }
    await b.daemon.waitSas(
      (s) => s.length === 1 && (s[0] as OurSa).ike?.spiI === rekeyed.spiI,
      "our side of the rekeyed IKE SA",
    );
  },
);
