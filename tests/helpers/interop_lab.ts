/**
 * The IKE-level interop bench shared by tests/interop/*: two namespaces, a
 * strongSwan charon in one and our engine (tests/helpers/interop_engine.ts)
 * in the other, both started once and reconfigured for every matrix case.
 *
 * ```
 *  ns "c": charon 10.99.0.1 (+10.1.0.1 on lo) <== veth ==> ns "e": engine 10.99.0.2
 *          moon.example.org, TS 10.1.0.0/16                 sun.example.org, TS 10.2.0.0/16
 * ```
 *
 * {@linkcode InteropLab.runCase} establishes an IKE SA and a child SA in the
 * requested direction, checks that both sides agree on IKE SPIs, ESP SPIs,
 * algorithms and UDP encapsulation (charon's view from `swanctl --list-sas`),
 * deletes the IKE SA from the requested side and checks both sides dropped
 * everything. A failure carries both sides' logs.
 *
 * @module
 */
import { type DriverIkeSa, EngineDriver, type EngineSpec } from "./interop_engine.ts";
import { NetnsLab } from "./netns.ts";
import { Charon, type SwanConn, swanctlConf, type SwanIkeSa } from "./strongswan.ts";

/** charon's side of the bench. */
export const CHARON_IP = "10.99.0.1";
/** Our side of the bench. */
export const ENGINE_IP = "10.99.0.2";
/** charon's IKE identity (its certificates carry it as a DNS SAN). */
export const CHARON_ID = "moon.example.org";
/** Our IKE identity. */
export const ENGINE_ID = "sun.example.org";
const CHARON_TS = "10.1.0.0/16";
const ENGINE_TS = "10.2.0.0/16";

/** What {@link startBench} started; {@link stopBench} undoes it. */
export interface Bench {
  lab: NetnsLab;
  charon: Charon;
  engine: EngineDriver;
  dir: string;
  /** The namespace of our engine driver ("e"). */
  engineNs: string;
}

/**
 * Namespaces `<prefix>XXXX-c` and `-e` joined by a veth (`charonIp`/24 on
 * "vc", `engineIp`/24 on "ve"), then `setup` (more addresses), charon in "c"
 * (`extraCharonConf` in its section) and our engine driver in "e" bound to
 * `engineIp`. A failure on the way undoes what was done and rethrows.
 */
export async function startBench(
  prefix: string,
  charonIp: string,
  engineIp: string,
  extraCharonConf: string,
  setup: (lab: NetnsLab, c: string, e: string) => Promise<void>,
): Promise<Bench> {
  const lab = await NetnsLab.create(prefix);
  const dir = await Deno.makeTempDir({ prefix: lab.prefix });
  let charon: Charon | undefined;
  try {
    const c = await lab.addNs("c");
    const e = await lab.addNs("e");
    await lab.veth(c, "vc", `${charonIp}/24`, e, "ve", `${engineIp}/24`);
    await setup(lab, c, e);
    charon = await Charon.start({ ns: c, dir: `${dir}/charon`, swanctlConf: "", extraCharonConf });
    const engine = await EngineDriver.start(lab, e, engineIp);
    return { lab, charon, engine, dir, engineNs: e };
  } catch (err) {
    await charon?.stop();
    await lab.cleanup();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw err;
  }
}

/** Stops both sides of a bench and removes its namespaces and files. */
export async function stopBench(b: Omit<Bench, "engineNs">): Promise<void> {
  await b.engine.stop().catch(() => {});
  await b.charon.stop().catch(() => {});
  await b.lab.cleanup();
  await Deno.remove(b.dir, { recursive: true }).catch(() => {});
}

/** Waits for our next child-up after `mark` (throws on a failure event first); returns it. */
export async function engineUp(
  engine: EngineDriver,
  mark: number,
): Promise<Record<string, unknown>> {
  const up = await engine.waitFor(
    (o) => o.type === "event" && /^(child-up|child-failed|ike-failed|ike-down)$/.test(`${o.event}`),
    mark,
  );
  if (up.event !== "child-up") throw new Error(`engine: ${up.event}: ${up.reason}`);
  return up;
}

/** strongSwan's names for IANA transform ids (strongSwan `transform_names`, not our tables). */
const SWAN_ENCR: Record<number, string> = {
  3: "3DES_CBC",
  12: "AES_CBC",
  13: "AES_CTR",
  14: "AES_CCM_8",
  15: "AES_CCM_12",
  16: "AES_CCM_16",
  18: "AES_GCM_8",
  19: "AES_GCM_12",
  20: "AES_GCM_16",
  23: "CAMELLIA_CBC",
  24: "CAMELLIA_CTR",
  28: "CHACHA20_POLY1305",
};
const SWAN_INTEG: Record<number, string> = {
  2: "HMAC_SHA1_96",
  12: "HMAC_SHA2_256_128",
  13: "HMAC_SHA2_384_192",
  14: "HMAC_SHA2_512_256",
};
const SWAN_PRF: Record<number, string> = {
  2: "PRF_HMAC_SHA1",
  5: "PRF_HMAC_SHA2_256",
  6: "PRF_HMAC_SHA2_384",
  7: "PRF_HMAC_SHA2_512",
};
const SWAN_KE: Record<number, string> = {
  2: "MODP_1024",
  5: "MODP_1536",
  14: "MODP_2048",
  15: "MODP_3072",
  16: "MODP_4096",
  17: "MODP_6144",
  18: "MODP_8192",
  19: "ECP_256",
  20: "ECP_384",
  21: "ECP_521",
  28: "ECP_256_BP",
  29: "ECP_384_BP",
  30: "ECP_512_BP",
  31: "CURVE_25519",
  32: "CURVE_448",
};

function swanEncr(id?: number, bits?: number): string {
  const name = SWAN_ENCR[id ?? -1] ?? `ENCR_${id}`;
  return bits ? `${name}-${bits}` : name;
}

/** Our negotiated IKE suite in `swanctl --list-sas` spelling. */
export function swanIkeAlgorithms(
  s: { encrId?: number; encrKeyBits?: number; integId?: number; prfId?: number; keId?: number },
): string {
  return [
    swanEncr(s.encrId, s.encrKeyBits),
    ...(s.integId ? [SWAN_INTEG[s.integId] ?? `AUTH_${s.integId}`] : []),
    SWAN_PRF[s.prfId ?? -1] ?? `PRF_${s.prfId}`,
    SWAN_KE[s.keId ?? -1] ?? `KE_${s.keId}`,
  ].join("/");
}

/** Our negotiated ESP suite in `swanctl --list-sas` spelling ("ESP:AES_GCM_16-256"). */
export function swanEspAlgorithms(
  s: { encrId?: number; encrKeyBits?: number; integId?: number },
): string {
  const integ = s.integId ? `/${SWAN_INTEG[s.integId] ?? `AUTH_${s.integId}`}` : "";
  return `ESP:${swanEncr(s.encrId, s.encrKeyBits)}${integ}`;
}

/** Credentials for a certificate case: absolute paths of PEM files. */
export interface CertFiles {
  /** CA certificate both sides trust. */
  ca: string;
  /** Intermediate CA certificates charon loads and sends after its own. */
  intermediates?: string[];
  charonCert: string;
  charonKey: string;
  engineCert: string;
  engineKey: string;
}

/** One matrix case. */
export interface InteropCase {
  /** Unique within the test file: becomes the connection name. */
  name: string;
  /** IKE proposal (strongSwan syntax, both sides). */
  ike: string;
  /** ESP proposal (both sides). */
  esp: string;
  /** Who sends IKE_SA_INIT. */
  initiator: "engine" | "charon";
  /** Who sends the Delete for the IKE SA. */
  deleter: "engine" | "charon";
  /** PSK when absent. */
  certs?: CertFiles;
  /** charon's IKE SA must list exactly these algorithms ("AES_GCM_16-256/PRF_HMAC_SHA2_256/ECP_256"). */
  expectIke?: string;
  /** charon's child SA must list exactly these ("ESP:AES_GCM_16-256"). */
  expectEsp?: string;
  /** A line charon must log while authenticating us (e.g. the RFC 7427 scheme it verified). */
  expectCharonLog?: RegExp;
  /** Extra lines for charon's connection section ("dpd_delay = 1s"). */
  charonExtra?: string[];
  /** Extra lines for charon's child section ("dpd_action = restart"). */
  charonChildExtra?: string[];
  /** Overrides for our side (DPD, retransmission, virtual IPs, TS). */
  engine?: Partial<EngineSpec>;
  /** Overrides for charon's connection (TS, pools, ...). */
  charon?: Partial<SwanConn>;
}

/** Both sides' view of the one IKE SA of a case, after {@linkcode InteropLab.agreement}. */
export interface Agreement {
  ours: DriverIkeSa;
  theirs: SwanIkeSa;
}

const PSK = "interop-psk-0123456789abcdef";

/** The shared bench (see the module documentation); `close()` it in `finally`. */
export class InteropLab {
  readonly lab: NetnsLab;
  readonly charon: Charon;
  readonly dir: string;
  /** Our namespace. */
  readonly engineNs: string;
  #engine: EngineDriver;

  private constructor(
    lab: NetnsLab,
    charon: Charon,
    engine: EngineDriver,
    dir: string,
    engineNs: string,
  ) {
    this.lab = lab;
    this.charon = charon;
    this.#engine = engine;
    this.dir = dir;
    this.engineNs = engineNs;
  }

  /** The engine driver (replaced by {@link restartEngine}). */
  get engine(): EngineDriver {
    return this.#engine;
  }

  /** Kills the engine driver without a Delete (a dead peer for charon); see {@link restartEngine}. */
  killEngine(): Promise<void> {
    return this.#engine.kill();
  }

  /** Starts a fresh engine driver (after {@link killEngine}). */
  async restartEngine(): Promise<void> {
    await this.#engine.kill();
    this.#engine = await EngineDriver.start(this.lab, this.engineNs, ENGINE_IP);
  }

  /**
   * Creates namespaces `ti-XXXX-c` / `ti-XXXX-e`, starts charon (with
   * `extraCharonConf` lines in its `charon-systemd` section) and the engine driver.
   */
  static async create(extraCharonConf = ""): Promise<InteropLab> {
    const b = await startBench("ti-", CHARON_IP, ENGINE_IP, extraCharonConf, async (lab, c) => {
      // kernel-libipsec routes the remote TS via its TUN with a source address in the local TS.
      await lab.runIn(c, ["ip", "addr", "add", "10.1.0.1/32", "dev", "lo"]);
    });
    return new InteropLab(b.lab, b.charon, b.engine, b.dir, b.engineNs);
  }

  /** Stops both sides and removes namespaces and files. */
  close(): Promise<void> {
    return stopBench(this);
  }

  /** charon's connection for a case. */
  static charonConn(c: InteropCase): SwanConn {
    return {
      name: c.name,
      childName: `${c.name}-net`,
      localAddr: CHARON_IP,
      remoteAddr: ENGINE_IP,
      localId: CHARON_ID,
      remoteId: ENGINE_ID,
      ikeProposal: c.ike,
      espProposal: c.esp,
      localTs: CHARON_TS,
      remoteTs: ENGINE_TS,
      extra: ["send_cert = always", ...(c.charonExtra ?? ["dpd_delay = 0"])],
      childExtra: c.charonChildExtra,
      ...c.charon,
      ...(c.certs
        ? {
          auth: "pubkey",
          cert: c.certs.charonCert,
          key: c.certs.charonKey,
          cacert: c.certs.ca,
          intermediates: c.certs.intermediates,
        }
        : { auth: "psk", psk: PSK }),
    };
  }

  /** Our connection for a case. */
  static engineSpec(c: InteropCase): EngineSpec {
    return {
      name: c.name,
      localAddr: ENGINE_IP,
      remoteAddr: CHARON_IP,
      localId: ENGINE_ID,
      remoteId: CHARON_ID,
      ike: c.ike,
      esp: c.esp,
      localTs: [ENGINE_TS],
      remoteTs: [CHARON_TS],
      ...(c.certs
        ? {
          auth: "pubkey",
          certFile: c.certs.engineCert,
          keyFile: c.certs.engineKey,
          caFile: c.certs.ca,
        }
        : { auth: "psk", psk: PSK }),
      ...c.engine,
    };
  }

  /**
   * Runs a case in which charon initiates and our engine must refuse it:
   * waits for our log line `engineLog`, charon's `charonLog`, and no SA left
   * on charon. Throws with both sides' logs otherwise.
   */
  refuseCharon(c: InteropCase, engineLog: RegExp, charonLog: RegExp): Promise<void> {
    return this.withLogs(c, async () => {
      const conn = InteropLab.charonConn(c);
      await this.charon.reload(swanctlConf(conn), conn.key ? [conn.key] : []);
      await this.engine.configure(InteropLab.engineSpec(c));
      const mark = this.engine.mark();
      const logMark = await this.charon.logMark();
      await this.charon.initiate(c.name, `${c.name}-net`).catch(() => {});
      await this.engine.waitFor((o) => o.type === "log" && engineLog.test(`${o.line}`), mark);
      await this.charon.waitLog(charonLog, logMark);
      await this.charon.waitSas((s) => s.length === 0, "no SAs after the refusal");
    });
  }

  /** Runs one case; throws with both sides' logs on any mismatch. */
  runCase(c: InteropCase): Promise<void> {
    return this.withLogs(c, async () => {
      await this.establish(c);
      await this.agreement(c);
      await this.teardown(c);
    });
  }

  /**
   * Runs `f`; if it throws, force-terminates the case's SAs on charon and
   * rethrows with charon's and our log lines written since the start.
   */
  async withLogs(c: InteropCase, f: () => Promise<void>): Promise<void> {
    const mark = this.engine.mark();
    const logMark = await this.charon.logMark();
    try {
      await f();
      if (c.expectCharonLog) {
        const log = await this.charon.log(logMark);
        if (!c.expectCharonLog.test(log)) {
          throw new Error(`charon never logged ${c.expectCharonLog}`);
        }
      }
    } catch (e) {
      await this.charon.terminate(c.name, true).catch(() => {});
      const charonLog = (await this.charon.log(logMark)).split("\n")
        .filter((l) => !l.includes("[CFG]")).join("\n");
      throw new Error(
        `${(e as Error).message}\n--- charon log (${c.name}) ---\n${charonLog}` +
          `\n--- engine log (${c.name}) ---\n${this.engine.log(mark)}`,
      );
    }
  }

  /** Loads the case on both sides and brings up the IKE SA and child from `c.initiator`. */
  async establish(c: InteropCase): Promise<void> {
    const conn = InteropLab.charonConn(c);
    await this.charon.reload(swanctlConf(conn), conn.key ? [conn.key] : []);
    await this.engine.configure(InteropLab.engineSpec(c));
    const mark = this.engine.mark();
    if (c.initiator === "engine") await this.engine.initiate();
    else await this.charon.initiate(c.name, `${c.name}-net`);
    await engineUp(this.engine, mark);
  }

  /**
   * Waits until charon shows one ESTABLISHED IKE SA with one INSTALLED child
   * (other than `notSpis`, e.g. the SPIs before a rekey) and checks that both
   * sides agree on everything; returns both views.
   */
  async agreement(
    c: InteropCase,
    notSpis: readonly string[] = [],
    initiator: "engine" | "charon" = c.initiator,
  ): Promise<Agreement> {
    const installed = (sa: SwanIkeSa) => sa.children.filter((ch) => ch.state === "INSTALLED");
    const sas = await this.charon.waitSas(
      (s) =>
        s.length === 1 && s[0].state === "ESTABLISHED" && installed(s[0]).length === 1 &&
        !notSpis.includes(s[0].spiI) && !notSpis.includes(installed(s[0])[0].spiIn),
      "one ESTABLISHED IKE SA with one INSTALLED child",
    );
    // After a rekey charon keeps the old inbound SA a few seconds (delete_rekeyed_delay).
    const view = sas.map((sa) => ({ ...sa, children: installed(sa) }));
    return await this.#checkAgreement(c, view, initiator);
  }

  /** Deletes the IKE SA from `c.deleter` and checks both sides dropped everything. */
  async teardown(c: InteropCase): Promise<void> {
    const m2 = this.engine.mark();
    // Every SA of every child must go (an old inbound SA still in its rekey grace may too).
    const spis = (await this.engine.list()).flatMap((sa) => sa.children)
      .flatMap((ch) => [ch.spiIn, ch.spiOut]);
    if (c.deleter === "engine") {
      await this.engine.terminate();
    } else {
      const r = await this.charon.terminate(c.name);
      if (r.code !== 0) throw new Error(`swanctl --terminate failed: ${r.stdout}${r.stderr}`);
    }
    await this.engine.waitFor((o) => o.type === "event" && o.event === "ike-down", m2);
    await this.charon.waitSas((s) => s.length === 0, "no SAs after the Delete");
    const ours = (await this.engine.list()).filter((sa) => sa.state === "established");
    if (ours.length !== 0) throw new Error(`engine still has SAs: ${JSON.stringify(ours)}`);
    const removed = this.engine.since(m2).filter((o) => o.type === "remove").map((o) => o.spi);
    const kept = spis.filter((spi) => !removed.includes(spi));
    if (kept.length > 0) throw new Error(`engine did not remove SAs ${kept.join(", ")}`);
  }

  async #checkAgreement(
    c: InteropCase,
    sas: SwanIkeSa[],
    initiator: "engine" | "charon",
  ): Promise<Agreement> {
    // A half-open SA from a retransmitted IKE_SA_INIT charon gave up on may linger (it
    // times out); only established SAs count.
    const ours = (await this.engine.list()).filter((sa) => sa.state === "established");
    const fail = (what: string) => {
      throw new Error(
        `${what}\nengine: ${JSON.stringify(ours)}\ncharon: ${JSON.stringify(sas)}`,
      );
    };
    if (ours.length !== 1 || sas.length !== 1) fail("expected exactly one IKE SA on each side");
    const [o, s] = [ours[0], sas[0]];
    if (s.name !== c.name) fail(`charon used connection ${s.name}`);
    if (o.spiI !== s.spiI || o.spiR !== s.spiR) fail("IKE SPIs differ");
    if (o.initiator !== (initiator === "engine") || s.initiator !== (initiator === "charon")) {
      fail("wrong initiator role");
    }
    // RFC 4739: charon lists the identity of a client's last authentication round.
    const round2 = c.engine?.eap?.round2?.id ?? c.charon?.eap?.round2?.id;
    const localOk = s.localId === CHARON_ID || (c.initiator === "charon" && s.localId === round2);
    const remoteOk = s.remoteId === ENGINE_ID ||
      (c.initiator === "engine" && s.remoteId === round2);
    if (!localOk || !remoteOk) fail("identities differ");
    // charon appends "/PPK" when a post-quantum preshared key (RFC 8784) was mixed in.
    if (s.algorithms.replace(/\/PPK$/, "") !== swanIkeAlgorithms(o)) fail("IKE algorithms differ");
    if (c.expectIke && s.algorithms !== c.expectIke) fail(`expected IKE ${c.expectIke}`);
    if (o.children.length !== 1 || s.children.length !== 1) fail("expected one child SA each");
    const [oc, sc] = [o.children[0], s.children[0]];
    if (sc.state !== "INSTALLED") fail("charon's child is not INSTALLED");
    if (oc.spiIn !== sc.spiOut || oc.spiOut !== sc.spiIn) fail("ESP SPIs differ");
    // charon appends the PFS group of the last CREATE_CHILD_SA; the SA itself has no KE.
    const espAlgs = sc.algorithms.replace(/\/(MODP|ECP|CURVE)_\d+$/, "");
    if (espAlgs !== swanEspAlgorithms(oc)) fail("ESP algorithms differ");
    if (c.expectEsp && espAlgs !== c.expectEsp) fail(`expected ESP ${c.expectEsp}`);
    // kernel-libipsec forces UDP encapsulation; we must have detected the (faked) NAT too.
    if (sc.mode !== "TUNNEL-in-UDP" || !oc.encap) fail("ESP is not UDP-encapsulated on both sides");
    if (s.localPort !== 4500 || s.remotePort !== 4500) fail("IKE did not move to port 4500");
    // With virtual IPs ("dynamic") the test checks the narrowed selectors itself.
    const fixedTs = !c.charon?.localTs && !c.charon?.remoteTs;
    if (fixedTs && (sc.localTs.join() !== CHARON_TS || sc.remoteTs.join() !== ENGINE_TS)) {
      fail("traffic selectors differ");
    }
    return { ours: o, theirs: s };
  }
}
