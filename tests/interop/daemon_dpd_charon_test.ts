/**
 * Full-system dead peer detection with strongSwan (one bench per case):
 *
 * - we watch charon (our `dpd_delay: 2s`, short retransmissions): charon is
 *   SIGKILLed, our liveness checks go unanswered and we act per
 *   `dpd_action`: `clear` removes every SA (`ipsec list-sas` and `sad` are
 *   empty, nothing is restarted); `restart` initiates again and succeeds
 *   once charon is back (a new IKE SA, traffic flows);
 * - charon watches us (dpd_delay 1s, dpd_action restart): our daemon is
 *   SIGKILLed and started again empty; charon's checks go unanswered, it
 *   gives up and initiates a new IKE SA, which the restarted daemon accepts;
 *   traffic flows again.
 *
 * ```
 *  daemon ──INFORMATIONAL { N(NATD_*) }──► charon    (liveness check, answered)
 *  daemon ──INFORMATIONAL { N(NATD_*) }──► (killed)  ... 2 retransmits, "peer dead"
 *  daemon ──IKE_SA_INIT──► (restarted charon)  (dpd_action: restart)
 * ```
 *
 * @module
 */
import {
  BENCH,
  type BenchSpec,
  type DaemonBench,
  type DaemonIkeSa,
  withDaemonBench,
} from "../helpers/interop_daemon.ts";
import { ping } from "../helpers/interop_traffic.ts";
import type { SwanIkeSa } from "../helpers/strongswan.ts";

const IKE = "aes128gcm16-prfsha256-ecp256";
const ESP = "aes128gcm16";

/** We watch charon: liveness check after 2 s idle, 1 s timeout, 2 retransmits (~8 s to dead). */
const WE_WATCH = ["dpd_delay: 2s", "retransmit_timeout: 1s", "retransmit_tries: 2"];

const established = (s: SwanIkeSa[]) =>
  s.length === 1 && s[0].state === "ESTABLISHED" &&
  s[0].children.some((ch) => ch.state === "INSTALLED");

type OurSa = DaemonIkeSa & { ike?: { spiI: string; spiR: string } };
const ourUp = (s: DaemonIkeSa[]) =>
  s.length === 1 && s[0].state === "established" &&
  s[0].children.some((c) => c.state === "installed");

/** Both sides show one IKE SA with the same SPIs (other than `not`); returns charon's. */
async function agree(b: DaemonBench, not?: string): Promise<SwanIkeSa> {
  const [theirs] = await b.charon.waitSas(
    (s) => established(s) && s[0].spiI !== not,
    "one ESTABLISHED IKE SA with an INSTALLED child",
    30_000,
  );
  const [ours] = await b.daemon.waitSas(ourUp, "our IKE SA with its child", 30_000) as OurSa[];
  if (ours.ike?.spiI !== theirs.spiI || ours.ike.spiR !== theirs.spiR) {
    throw new Error(
      `IKE SPIs differ: ours ${JSON.stringify(ours)}\ncharon ${JSON.stringify(theirs)}`,
    );
  }
  return theirs;
}

async function pingThrough(b: DaemonBench, what: string): Promise<void> {
  const r = await ping(b.lab, { ns: b.d, ip: BENCH.ourInner }, { ns: b.c, ip: BENCH.charonInner });
  if (r.code !== 0) throw new Error(`ping through the tunnel ${what} failed:\n${r.stdout}`);
}

async function up(b: DaemonBench): Promise<SwanIkeSa> {
  const r = await b.daemon.cli(["up", "gw", "--timeout", "15"]);
  if (r.code !== 0) throw new Error(`ipsec up gw failed:\n${r.stdout}${r.stderr}`);
  const sa = await agree(b);
  await pingThrough(b, "after ipsec up");
  return sa;
}

/** Polls our daemon's output (from character `from`) until `re` matches. */
async function waitDaemonLog(b: DaemonBench, re: RegExp, from: number, ms: number) {
  const deadline = Date.now() + ms;
  while (!re.test(b.daemon.log().slice(from))) {
    if (Date.now() > deadline) throw new Error(`our daemon never logged ${re}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Idle for dpd_delay: our liveness check goes out, charon answers, the SA stays. */
async function checkAnswered(b: DaemonBench, sa: SwanIkeSa): Promise<void> {
  const mark = b.daemon.log().length;
  await waitDaemonLog(
    b,
    // The bench forces UDP encapsulation, so we count as behind a NAT: with MOBIKE our
    // checks carry NAT detection, and so must charon's answers (RFC 4555 section 3.8).
    /generating INFORMATIONAL request \d+ \[ N\(NATD_S_IP\) N\(NATD_D_IP\) \][\s\S]*parsed INFORMATIONAL response \d+ \[ N\(NATD_S_IP\) N\(NATD_D_IP\) \]/,
    mark,
    15_000,
  );
  const [ours] = await b.daemon.listSas() as OurSa[];
  if (ours?.ike?.spiI !== sa.spiI || ours.state !== "established") {
    throw new Error(`our daemon dropped a live SA: ${JSON.stringify(ours)}`);
  }
}

/** One case on its own bench: connection "gw" as in BENCH, `spec` adds DPD settings. */
function dpdTest(
  name: string,
  spec: Partial<BenchSpec>,
  f: (b: DaemonBench) => Promise<void>,
  charonConf?: string,
): void {
  Deno.test({
    name: `strongSwan interop, our daemon: DPD, ${name}`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: () =>
      withDaemonBench({
        prefix: "th3-",
        spec: { ike: IKE, esp: ESP, pinLocal: true, ...spec },
        ...(charonConf ? { charonConf } : {}),
      }, f),
  });
}

dpdTest(
  "charon is killed, dpd_action clear removes the SAs",
  { ours: [...WE_WATCH, "dpd_action: clear"] },
  async (b) => {
    await checkAnswered(b, await up(b));
    const mark = b.daemon.log().length;
    await b.killCharon();
    await waitDaemonLog(b, /ike-down gw\[\d+\] peer dead \(dpd_action clear\)/, mark, 30_000);
    await b.daemon.waitSas((s) => s.length === 0, "no IKE SA after dpd_action clear");
    const sad = await b.daemon.call("sad");
    if (!Array.isArray(sad) || sad.length !== 0) {
      throw new Error(`SAs left in our SAD: ${JSON.stringify(sad)}`);
    }
    const after = b.daemon.log().slice(mark);
    if (!/sending INFORMATIONAL|generating INFORMATIONAL request/.test(after)) {
      throw new Error("our daemon declared charon dead without a liveness check");
    }
    if (/initiating IKE_SA/.test(after)) throw new Error("dpd_action clear started a new IKE SA");
  },
);

dpdTest(
  "charon is killed, dpd_action restart reconnects once it is back",
  { ours: [...WE_WATCH, "dpd_action: restart", "keyingtries: 10"] },
  async (b) => {
    const first = await up(b);
    await checkAnswered(b, first);
    const mark = b.daemon.log().length;
    await b.killCharon();
    await waitDaemonLog(b, /ike-down gw\[\d+\] peer dead \(dpd_action restart\)/, mark, 30_000);
    await b.startCharon();
    const again = await agree(b, first.spiI);
    if (again.initiator) throw new Error("charon, not our daemon, initiated the new IKE SA");
    await pingThrough(b, "after the restart");
  },
);

dpdTest(
  "our daemon is killed, charon restarts and the new daemon accepts",
  // keyingtries = 0: charon keeps trying until our new daemon answers.
  { charon: ["dpd_delay = 1s", "keyingtries = 0"], charonChild: ["dpd_action = restart"] },
  async (b) => {
    const first = await up(b);
    // charon's liveness checks are answered while we live.
    await b.charon.waitLog(
      /sending DPD request[\s\S]*parsed INFORMATIONAL response \d+ \[ \]/,
      await b.charon.logMark(),
    );
    const mark = await b.charon.logMark();
    await b.daemon.kill();
    await b.startDaemon();
    await b.charon.waitLog(/giving up after \d+ retransmits/, mark, 30_000);
    const again = await agree(b, first.spiI);
    if (!again.initiator) throw new Error("charon did not initiate the new IKE SA");
    await pingThrough(b, "with the restarted daemon");
  },
  // charon gives up on a dead peer within seconds (0.5 s, then 2 retransmits of 0.5 s).
  "retransmit_tries = 2\n  retransmit_timeout = 0.5\n  retransmit_base = 1.0",
);
