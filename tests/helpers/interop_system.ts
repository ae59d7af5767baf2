/**
 * The full-system strongSwan interop bench shared by tests/interop/daemon_*:
 * our daemon (`ipsec start --foreground`, TUN data plane) in one namespace,
 * strongSwan's charon (kernel-libipsec) in the other, and the scenarios the
 * tests run on it.
 *
 * ```
 *  ns "c": charon 10.99.0.1, lo 10.1.0.1  <== veth ==>  ns "d": ipsec daemon 10.99.0.2, lo 10.2.0.1
 *          TS 10.1.0.0/24                 ESP-in-UDP           TS 10.2.0.0/24
 * ```
 *
 * @module
 */
import { type DaemonIkeSa, OurDaemon } from "./interop_daemon.ts";
import { CHARON_ID, ENGINE_ID } from "./interop_lab.ts";
import { NetnsLab, type RunResult } from "./netns.ts";
import { Charon, type SwanConn, swanctlConf, type SwanIkeSa } from "./strongswan.ts";
import { type Host, ping, trafficBothWays } from "./interop_traffic.ts";

const CHARON_IP = "10.99.0.1";
const OUR_IP = "10.99.0.2";
const PSK = "interop daemon psk 0123456789";

/**
 * IKE and ESP proposals for both sides of the bench, and the algorithms
 * charon's `swanctl --list-sas` must then show (strongSwan's names).
 */
export interface Proposals {
  /** IKE proposal in strongSwan syntax, e.g. "aes256gcm16-prfsha384-ecp256". */
  ike: string;
  /** ESP proposal, e.g. "aes256gcm16". */
  esp: string;
  /** charon's IKE algorithm line, e.g. "AES_GCM_16-256/PRF_HMAC_SHA2_384/ECP_256". */
  charonIke: string;
  /** charon's child SA algorithms, e.g. "ESP:AES_GCM_16-256". */
  charonEsp: string;
}

/** What the bench negotiates unless {@linkcode BenchOverrides.proposals} says otherwise. */
export const DEFAULT_PROPOSALS: Proposals = {
  ike: "aes256gcm16-prfsha384-ecp256",
  esp: "aes256gcm16",
  charonIke: "AES_GCM_16-256/PRF_HMAC_SHA2_384/ECP_256",
  charonEsp: "ESP:AES_GCM_16-256",
};

/** Certificate files for both sides (PEM; our YAML and charon load them). */
export interface Creds {
  ca: string;
  ourCert: string;
  ourKey: string;
  charonCert: string;
  charonKey: string;
  /**
   * Intermediate CA certificates (PEM files, issued by the root `ca`, the
   * one nearest the end entities first): both sides send them after their
   * own certificate (tests/interop/daemon_fragmentation_charon_test.ts).
   */
  intermediates?: string[];
}

/** Short rekey times for one side (seconds; absent = the defaults of hours). */
export interface Rekey {
  ike?: number;
  child?: number;
}

/**
 * Changes to our daemon's YAML on the bench, for road-warrior setups
 * (tests/interop/daemon_vip_charon_test.ts).
 */
export interface OurOverrides {
  /** The child's `local_ts` (default 10.2.0.0/24; "dynamic" with `vips`). */
  localTs?: string;
  /** The child's `remote_ts` (default 10.1.0.0/24; "dynamic" on a gateway with `pools`). */
  remoteTs?: string;
  /** `remote_addrs` (default charon's address); null leaves it out (any peer may connect). */
  remoteAddrs?: string | null;
  /** Extra lines of the connection ("vips: [0.0.0.0]", "pools: [rw]"). */
  extra?: string[];
  /** Extra lines of the connection's `remote` block ("crls: [ca.crl]", "revocation: strict"). */
  remoteExtra?: string[];
  /** Extra top-level YAML appended to the file (e.g. a `pools:` section). */
  sections?: string;
  /** Extra lines of the child `net` ("ipcomp: yes"). */
  childExtra?: string[];
}

/** Everything {@linkcode withBench} can change beyond credentials and rekey times. */
export interface BenchOverrides {
  ours?: OurOverrides;
  /** Fields of charon's connection to replace (TS, `extra` lines, `pools`, ...). */
  charon?: Partial<SwanConn>;
  /** Extra lines in charon's `charon-systemd { }` section of strongswan.conf. */
  charonConf?: string;
  /** IKE and ESP proposals on both sides (default {@linkcode DEFAULT_PROPOSALS}). */
  proposals?: Proposals;
}

function ourConfig(
  creds?: Creds,
  rekey?: Rekey,
  over: OurOverrides = {},
  p: Proposals = DEFAULT_PROPOSALS,
): string {
  const auth = creds
    ? {
      local: `auth: pubkey\n      id: ${ENGINE_ID}\n      certs: [${
        [creds.ourCert, ...creds.intermediates ?? []].join(", ")
      }]\n      key: ${creds.ourKey}`,
      remote: `auth: pubkey\n      id: ${CHARON_ID}\n      cacerts: [${creds.ca}]${
        (over.remoteExtra ?? []).map((l) => `\n      ${l}`).join("")
      }`,
    }
    : { local: `auth: psk\n      id: ${ENGINE_ID}`, remote: `auth: psk\n      id: ${CHARON_ID}` };
  return `connections:
  gw:
    local_addrs: [${OUR_IP}]${
    over.remoteAddrs === null ? "" : `\n    remote_addrs: [${over.remoteAddrs ?? CHARON_IP}]`
  }
    proposals: [${p.ike}]
    encap: yes${
    // As for charon below: over_time (10%) would expire the IKE SA right after its rekey.
    rekey?.ike ? `\n    rekey_time: ${rekey.ike}s\n    over_time: 60s\n    rand_time: 0s` : ""}
    send_cert: always${(over.extra ?? []).map((l) => `\n    ${l}`).join("")}
    local:
      ${auth.local}
    remote:
      ${auth.remote}
    children:
      net:
        local_ts: [${over.localTs ?? "10.2.0.0/24"}]
        remote_ts: [${over.remoteTs ?? "10.1.0.0/24"}]
        esp_proposals: [${p.esp}]${(over.childExtra ?? []).map((l) => `\n        ${l}`).join("")}${
    rekey?.child
      ? `\n        rekey_time: ${rekey.child}s\n        life_time: 60s\n        rand_time: 0s`
      : ""
  }
${
    creds ? "" : `secrets:
  gw-psk:
    id: [${ENGINE_ID}, ${CHARON_ID}]
    secret: "${PSK}"
`
  }${over.sections ?? ""}`;
}

function charonConn(creds?: Creds, rekey?: Rekey, p: Proposals = DEFAULT_PROPOSALS): SwanConn {
  return {
    name: "gw",
    childName: "net",
    localAddr: CHARON_IP,
    remoteAddr: OUR_IP,
    localId: CHARON_ID,
    remoteId: ENGINE_ID,
    ikeProposal: p.ike,
    espProposal: p.esp,
    localTs: "10.1.0.0/24",
    remoteTs: "10.2.0.0/24",
    extra: [
      "dpd_delay = 0",
      "send_cert = always",
      // over_time defaults to 10% of rekey_time: the IKE SA would expire right after its rekey.
      // rand_time defaults to over_time: the rekey time could be drawn below zero.
      ...(rekey?.ike ? [`rekey_time = ${rekey.ike}s`, "over_time = 60s", "rand_time = 0s"] : []),
    ],
    // rand_time defaults to life_time - rekey_time, which could draw a negative rekey time.
    childExtra: rekey?.child
      ? [`rekey_time = ${rekey.child}s`, "life_time = 60s", "rand_time = 0s"]
      : [],
    ...(creds
      ? {
        auth: "pubkey",
        cert: creds.charonCert,
        key: creds.charonKey,
        cacert: creds.ca,
        ...(creds.intermediates ? { intermediates: creds.intermediates } : {}),
      }
      : { auth: "psk", psk: PSK }),
  };
}

/**
 * Both sides agree on the SAs: the same IKE SPIs and crossed ESP SPIs (and
 * charon negotiated `want`, what the bench configures); returns charon's
 * inbound SPI.
 */
export async function checkAgreement(
  charon: Charon,
  ours: DaemonIkeSa[],
  want: Proposals = DEFAULT_PROPOSALS,
): Promise<string> {
  const installed = (s: SwanIkeSa) => s.children.filter((c) => c.state === "INSTALLED");
  const sas = (await charon.waitSas(
    (s) => s.length === 1 && s[0].state === "ESTABLISHED" && installed(s[0]).length === 1,
    "one ESTABLISHED IKE SA with one INSTALLED child",
  )).map((s) => ({ ...s, children: installed(s) }));
  const dump = `ours: ${JSON.stringify(ours)}\ncharon: ${JSON.stringify(sas)}`;
  if (ours.length !== 1) throw new Error(`expected one IKE SA on our side\n${dump}`);
  const o = ours[0] as DaemonIkeSa & {
    ike: { spiI: string; spiR: string };
    children: { inbound: { spi: string }; outbound: { spi: string } }[];
  };
  const s = sas[0];
  if (o.ike.spiI !== s.spiI || o.ike.spiR !== s.spiR) throw new Error(`IKE SPIs differ\n${dump}`);
  // charon appends "/PPK" when a post-quantum preshared key (RFC 8784) was mixed in.
  if (s.algorithms.replace(/\/PPK$/, "") !== want.charonIke) {
    throw new Error(`charon negotiated something else\n${dump}`);
  }
  const [oc, sc] = [o.children[0], s.children[0]];
  if (oc.inbound.spi !== sc.spiOut || oc.outbound.spi !== sc.spiIn) {
    throw new Error(`ESP SPIs differ\n${dump}`);
  }
  if (sc.algorithms !== want.charonEsp || sc.mode !== "TUNNEL-in-UDP") {
    throw new Error(`charon's child SA is not what we configured\n${dump}`);
  }
  return sc.spiIn;
}

/** The running bench handed to a scenario. */
export interface Bench {
  lab: NetnsLab;
  charon: Charon;
  daemon: OurDaemon;
  dir: string;
  c: string;
  d: string;
  /** The proposals both sides were configured with. */
  proposals: Proposals;
}

/**
 * Creates the namespaces, starts charon (PSK, or `creds`) and our daemon
 * (optionally with short `rekey` times on either side, and with `over`
 * changes to either side's configuration), runs `f`, and on failure rethrows
 * with both sides' logs; always cleans up.
 */
export async function withBench(
  creds: Creds | undefined,
  f: (b: Bench) => Promise<void>,
  rekey: { ours?: Rekey; charon?: Rekey } = {},
  over: BenchOverrides = {},
) {
  await withSystemLab({
    prefix: "ti-",
    charonAddr: `${CHARON_IP}/24`,
    ourAddr: `${OUR_IP}/24`,
    charonLo: ["10.1.0.1/32"],
    ourLo: ["10.2.0.1/32"],
  }, async ({ lab, dir, c, d }, sides) => {
    const proposals = over.proposals ?? DEFAULT_PROPOSALS;
    const conn = { ...charonConn(creds, rekey.charon, proposals), ...over.charon };
    const charon = sides.charon = await Charon.start({
      ns: c,
      dir: `${dir}/charon`,
      swanctlConf: "",
      extraCharonConf: over.charonConf,
    });
    await charon.reload(swanctlConf(conn), conn.key ? [conn.key] : []);
    const yaml = ourConfig(creds, rekey.ours, over.ours, proposals);
    const daemon = sides.daemon = await OurDaemon.start(lab, d, `${dir}/ours`, yaml);
    await f({ lab, charon, daemon, dir, c, d, proposals });
  });
}

/**
 * A test named "strongSwan interop, our daemon: NAME" running `f` on a PSK
 * bench ({@linkcode withBench}); the daemons and namespaces outlive single
 * test steps, so Deno's resource and op sanitizers are off.
 */
export function benchTest(
  name: string,
  f: (b: Bench) => Promise<void>,
  over: BenchOverrides = {},
  rekey: { ours?: Rekey; charon?: Rekey } = {},
): void {
  Deno.test({
    name: `strongSwan interop, our daemon: ${name}`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: () => withBench(undefined, f, rekey, over),
  });
}

/** Where {@link withSystemLab} puts charon and our daemon. */
export interface SystemLabOptions {
  /** Namespaces `<prefix>XXXX-c` (charon) and `-d` (our daemon). */
  prefix: string;
  /** Outer address/prefix length of charon's veth end "vc". */
  charonAddr: string;
  /** Outer address/prefix length of our veth end "vd". */
  ourAddr: string;
  /** Inner addresses on charon's `lo`. */
  charonLo: string[];
  /** Inner addresses on our `lo`. */
  ourLo: string[];
}

/** The two sides as `f` of {@link withSystemLab} starts them (stopped, and logged, by it). */
export interface SystemSides {
  charon?: Charon;
  daemon?: OurDaemon;
}

/**
 * Creates the namespaces joined by a veth with their addresses and runs `f`,
 * which starts charon and our daemon into `sides`; on failure rethrows with
 * both sides' logs; always stops both and removes namespaces and files.
 */
export async function withSystemLab(
  o: SystemLabOptions,
  f: (
    lab: { lab: NetnsLab; dir: string; c: string; d: string },
    sides: SystemSides,
  ) => Promise<void>,
): Promise<void> {
  const lab = await NetnsLab.create(o.prefix);
  const dir = await Deno.makeTempDir({ prefix: lab.prefix });
  const sides: SystemSides = {};
  try {
    const c = await lab.addNs("c");
    const d = await lab.addNs("d");
    await lab.veth(c, "vc", o.charonAddr, d, "vd", o.ourAddr);
    for (const [ns, addrs] of [[c, o.charonLo], [d, o.ourLo]] as const) {
      for (const a of addrs) await lab.runIn(ns, ["ip", "addr", "add", a, "dev", "lo"]);
    }
    await f({ lab, dir, c, d }, sides);
  } catch (e) {
    const charonLog = (await sides.charon?.log() ?? "").split("\n")
      .filter((l) => !l.includes("[CFG]"));
    throw new Error(
      `${(e as Error).message}\n--- charon log ---\n${charonLog.join("\n")}` +
        `\n--- our daemon log ---\n${sides.daemon?.log() ?? ""}`,
    );
  } finally {
    await sides.daemon?.stop().catch(() => {});
    await sides.charon?.stop().catch(() => {});
    await lab.cleanup();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Throws with the command's output unless it exited 0. */
export function must(r: RunResult, what: string): void {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}:\n${r.stdout}${r.stderr}`);
}

/** Our inner address (behind our daemon). */
function ours(b: Bench): Host {
  return { ns: b.d, ip: "10.2.0.1" };
}

/** charon's inner address. */
function theirs(b: Bench): Host {
  return { ns: b.c, ip: "10.1.0.1" };
}

/**
 * Pings charon's side from ours until three replies came back; charon's
 * inbound SA `spi` must have decrypted exactly the three echo requests it
 * answered. (Right after `ipsec up` our data plane may still drop the very
 * first request under load: ping then sends one more.)
 */
async function pingCountedByCharon(b: Bench, spi: string): Promise<void> {
  const before = (await b.charon.sas())[0].children.find((c) => c.spiIn === spi)!.bytesIn;
  const r = await ping(b.lab, ours(b), theirs(b));
  if (r.code !== 0) throw new Error(`ping through the tunnel failed:\n${r.stdout}`);
  // 3 echo requests of 84 bytes (20 IP + 8 ICMP + 56 data), counted by charon as inner bytes.
  const sas = await b.charon.waitSas(
    (s) => (s[0]?.children.find((c) => c.spiIn === spi)?.bytesIn ?? 0) >= before + 3 * 84,
    "charon to count our three pings",
  );
  const got = sas[0].children.find((c) => c.spiIn === spi)!.bytesIn - before;
  if (got !== 3 * 84) throw new Error(`charon decrypted ${got} bytes, expected ${3 * 84}`);
}

/** Pings and 64 KiB TCP transfers both ways through the tunnel (SHA-256 checked). */
function traffic(b: Bench): Promise<void> {
  return trafficBothWays(b.lab, ours(b), theirs(b), 1 << 16);
}

/**
 * `ipsec up`, agreement, counted pings, traffic both ways, `ipsec down`;
 * `whileUp` (if any) runs right after the agreement check, with the SAs up.
 */
export async function weInitiate(
  b: Bench,
  whileUp?: (b: Bench) => Promise<void>,
): Promise<void> {
  must(await b.daemon.cli(["up", "gw", "--timeout", "15"]), "ipsec up gw");
  const spi = await checkAgreement(b.charon, await b.daemon.listSas(), b.proposals);
  await whileUp?.(b);
  await pingCountedByCharon(b, spi);
  await traffic(b);
  must(await b.daemon.cli(["down", "gw"]), "ipsec down gw");
  await b.charon.waitSas((s) => s.length === 0, "charon to drop the SAs after ipsec down");
  await b.daemon.waitSas((s) => s.length === 0, "no SAs after ipsec down");
}

/**
 * `swanctl --initiate`, agreement, counted pings, traffic both ways (unless
 * `withTraffic` is false), `swanctl --terminate`; `whileUp` (if any) runs
 * right after the agreement check, with the SAs up.
 */
export async function charonInitiates(
  b: Bench,
  withTraffic = true,
  whileUp?: (b: Bench) => Promise<void>,
): Promise<void> {
  await b.charon.initiate("gw", "net");
  const ours = await b.daemon.waitSas(
    (s) => s.length === 1 && s[0].children.length === 1,
    "the SA charon initiated",
  );
  const spi = await checkAgreement(b.charon, ours, b.proposals);
  await whileUp?.(b);
  await pingCountedByCharon(b, spi);
  if (withTraffic) await traffic(b);
  const r = await b.charon.terminate("gw");
  if (r.code !== 0) throw new Error(`swanctl --terminate failed:\n${r.stdout}${r.stderr}`);
  await b.daemon.waitSas((s) => s.length === 0, "no SAs after swanctl --terminate");
  await b.charon.waitSas((s) => s.length === 0, "charon to have no SAs");
}

/**
 * With short rekey times on one side (child 3 s, IKE 5 s), that side rekeys
 * the child SA and the IKE SA by itself (timers, not commands) while 40 pings
 * flow: none may be lost, charon must show a new IKE SA and a new child SA,
 * both sides must agree, and TCP must work both ways while rekeys go on.
 */
export async function rekeysByItself(b: Bench): Promise<void> {
  must(await b.daemon.cli(["up", "gw", "--timeout", "15"]), "ipsec up gw");
  const first = (await b.charon.sas())[0];
  const spi0 = await checkAgreement(b.charon, await b.daemon.listSas(), b.proposals);
  const flow = ping(b.lab, ours(b), theirs(b), 40, 0.25, true);
  await b.charon.waitSas(
    (s) =>
      s.length === 1 && s[0].spiI !== first.spiI &&
      s[0].children.some((c) => c.state === "INSTALLED" && c.spiIn !== spi0),
    "a rekeyed IKE SA and a rekeyed child SA",
    20_000,
  );
  await checkAgreement(b.charon, await b.daemon.listSas(), b.proposals);
  const pings = await flow;
  const m = /(\d+) packets transmitted, (\d+) received/.exec(pings.stdout);
  if (!m || Number(m[2]) !== Number(m[1])) {
    throw new Error(`pings were lost across the rekeys:\n${pings.stdout}`);
  }
  await traffic(b);
  must(await b.daemon.cli(["down", "gw"]), "ipsec down gw");
  await b.charon.waitSas((s) => s.length === 0, "charon to drop the SAs after ipsec down");
}
