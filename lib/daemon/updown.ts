/**
 * strongSwan's `updown` plugin for our daemon: a child's `updown` script runs
 * once per (local TS, remote TS) pair when a child SA comes up (after its
 * SAs are installed) and when it goes away (Delete, expiry, `ipsec down`,
 * daemon stop), with the PLUTO_* environment charon's updown_listener.c sets
 * (PLUTO_VERSION=1.1, PLUTO_VERB up-client / up-host / ...-v6, PLUTO_ME,
 * PLUTO_MY_CLIENT 10.1.0.0/16, ...). Like charon, a CREATE_CHILD_SA rekey
 * runs nothing: the replacement inherits the running "session" (and its
 * PLUTO_REQID, the id of the first child SA), and only the last child SA of
 * a session going away runs `down`.
 *
 * Three parts, side effects only in the last:
 * - {@link updownEnvironments}: pure, the environments of one event;
 * - {@link UpdownTracker}: pure state, which engine events start or end a
 *   session (rekeys and rekey collisions join and leave it silently);
 * - {@link UpdownRunner}: runs scripts with Deno.Command (no shell, no
 *   arguments, stdin null), output and failures into the log, one queue per
 *   session so a `down` never overtakes its `up`; never awaited by the
 *   engine or the data plane.
 *
 * @example
 * ```ts
 * const envs = updownEnvironments({ up: true, childName: "net", ... });
 * runner.enqueue(session.reqid, "/etc/ipsec/updown.sh", envs);
 * ```
 *
 * @module
 */
import type { Endpoint, EngineEvent, SaInstall } from "../ikev2/effects.ts";
import { formatIp, ipFromBytes, parseIp } from "../db/address.ts";
import type { TrafficSelector } from "../db/narrow.ts";
import type { LogLevel } from "../ikev2/effects.ts";

/** What one updown event describes (the IKE SA's view of one child SA). */
export interface UpdownSa {
  readonly up: boolean;
  /** The child's name (PLUTO_CONNECTION). */
  readonly childName: string;
  /** The interface of our outer address, else our TUN (PLUTO_INTERFACE). */
  readonly interfaceName: string;
  /** PLUTO_REQID: stays the same across rekeys. */
  readonly reqid: number;
  readonly protocol: "esp" | "ah";
  /** The IKE SA's id (PLUTO_UNIQUEID). */
  readonly uniqueId: number;
  /** Our and the peer's outer (IKE) addresses. */
  readonly me: string;
  readonly peer: string;
  readonly myId: string;
  readonly peerId: string;
  /** The peer's EAP identity when we authenticated it by EAP (PLUTO_XAUTH_ID, as charon). */
  readonly peerEapId?: string;
  readonly localTs: readonly TrafficSelector[];
  readonly remoteTs: readonly TrafficSelector[];
  /** Virtual IPs the peer assigned us (PLUTO_MY_SOURCEIP...). */
  readonly myVirtualIps: readonly string[];
  /** Virtual IPs we assigned the peer (PLUTO_PEER_SOURCEIP...). */
  readonly peerVirtualIps: readonly string[];
  /** The peer's UDP port when ESP is UDP-encapsulated (PLUTO_UDP_ENC). */
  readonly udpEncapPort?: number;
  /** DNS servers the peer assigned us (PLUTO_DNS4_n, PLUTO_DNS6_n). */
  readonly dns: readonly string[];
}

/** One script environment: PLUTO_* name to value. */
export type UpdownEnv = Readonly<Record<string, string>>;

const ICMP = 1;
const ICMPV6 = 58;

/** The smallest prefix holding a selector's range (`%+H/%u` of charon's to_subnet). */
export function tsSubnet(ts: TrafficSelector): string {
  const a = ts.startAddress;
  const b = ts.endAddress;
  let bits = 0;
  while (bits < a.length * 8) {
    const m = 0x80 >> (bits % 8);
    if ((a[bits >> 3] & m) !== (b[bits >> 3] & m)) break;
    bits++;
  }
  const net = a.slice();
  for (let i = bits; i < net.length * 8; i++) net[i >> 3] &= ~(0x80 >> (i % 8));
  return `${formatIp(ipFromBytes(net))}/${bits}`;
}

/** The selector is exactly the address `host` (charon's is_host). */
function isHost(ts: TrafficSelector, host: string): boolean {
  const ip = parseIp(host);
  if (!ip || ip.version !== ts.ipVersion) return false;
  const s = ipFromBytes(ts.startAddress);
  const e = ipFromBytes(ts.endAddress);
  return s.value === ip.value && e.value === ip.value;
}

/** PLUTO_MY_PORT / PLUTO_PEER_PORT: ICMP type/code, a port, `from:to`, 0 for any. */
function port(my: TrafficSelector, other: TrafficSelector, local: boolean): string {
  const proto = Math.max(my.ipProtocol, other.ipProtocol);
  if (proto === ICMP || proto === ICMPV6) {
    const p = Math.max(my.startPort, other.startPort);
    return String(local ? p >> 8 : p & 0xff);
  }
  const t = local ? my : other;
  if (t.startPort === t.endPort || (t.startPort === 0 && t.endPort === 65535)) {
    return String(t.startPort);
  }
  return `${t.startPort}:${t.endPort}`;
}

/** PLUTO_MY_SOURCEIP (first), PLUTO_MY_SOURCEIP4_n / 6_n (and PEER). */
function vipVars(out: Record<string, string>, side: "MY" | "PEER", vips: readonly string[]) {
  let v4 = 0;
  let v6 = 0;
  for (const [i, vip] of vips.entries()) {
    if (i === 0) out[`PLUTO_${side}_SOURCEIP`] = vip;
    if (vip.includes(":")) out[`PLUTO_${side}_SOURCEIP6_${++v6}`] = vip;
    else out[`PLUTO_${side}_SOURCEIP4_${++v4}`] = vip;
  }
}

/**
 * The environments of one updown event, one per (local TS, remote TS) pair
 * of the same family, in charon's order and with its names and formats.
 *
 * @example
 * ```ts
 * const [env] = updownEnvironments(sa);
 * env.PLUTO_VERB; // "up-client"
 * env.PLUTO_MY_CLIENT; // "10.1.0.0/16"
 * ```
 */
export function updownEnvironments(sa: UpdownSa): UpdownEnv[] {
  const out: UpdownEnv[] = [];
  for (const my of sa.localTs) {
    for (const other of sa.remoteTs) {
      if (my.ipVersion !== other.ipVersion) continue;
      const host = isHost(my, sa.me);
      const v6 = host ? sa.me.includes(":") : my.ipVersion === 6;
      const env: Record<string, string> = {
        PLUTO_VERSION: "1.1",
        PLUTO_VERB: `${sa.up ? "up" : "down"}${host ? "-host" : "-client"}${v6 ? "-v6" : ""}`,
        PLUTO_CONNECTION: sa.childName,
        PLUTO_INTERFACE: sa.interfaceName,
        PLUTO_REQID: String(sa.reqid),
        PLUTO_PROTO: sa.protocol,
        PLUTO_UNIQUEID: String(sa.uniqueId),
        PLUTO_ME: sa.me,
        PLUTO_MY_ID: sa.myId,
        PLUTO_MY_CLIENT: tsSubnet(my),
        PLUTO_MY_PORT: port(my, other, true),
        PLUTO_MY_PROTOCOL: String(my.ipProtocol),
        PLUTO_PEER: sa.peer,
        PLUTO_PEER_ID: sa.peerId,
        PLUTO_PEER_CLIENT: tsSubnet(other),
        PLUTO_PEER_PORT: port(my, other, false),
        PLUTO_PEER_PROTOCOL: String(other.ipProtocol),
      };
      vipVars(env, "MY", sa.myVirtualIps);
      vipVars(env, "PEER", sa.peerVirtualIps);
      if (sa.udpEncapPort !== undefined) env.PLUTO_UDP_ENC = String(sa.udpEncapPort);
      if (sa.peerEapId !== undefined && sa.peerEapId !== sa.peerId) {
        env.PLUTO_XAUTH_ID = sa.peerEapId;
      }
      let d4 = 0;
      let d6 = 0;
      for (const d of sa.dns) {
        if (d.includes(":")) env[`PLUTO_DNS6_${++d6}`] = d;
        else env[`PLUTO_DNS4_${++d4}`] = d;
      }
      out.push(env);
    }
  }
  return out;
}

/**
 * The name of the interface holding `address` in `interfaces` (as
 * `Deno.networkInterfaces()` lists them), or undefined.
 *
 * @example
 * ```ts
 * interfaceOfAddress("192.0.2.1", Deno.networkInterfaces()); // "eth0"
 * ```
 */
export function interfaceOfAddress(
  address: string,
  interfaces: readonly { name: string; address: string }[],
): string | undefined {
  const want = parseIp(address);
  if (!want) return undefined;
  const text = formatIp(want);
  for (const i of interfaces) {
    const a = parseIp(i.address.split("%")[0]);
    if (a && formatIp(a) === text) return i.name;
  }
  return undefined;
}

/** What the daemon knows about the IKE SA of a child SA when it comes up. */
export interface UpdownIkeInfo {
  /** PLUTO_INTERFACE when {@linkcode interfaceOf} finds none (our TUN). */
  readonly interfaceName: string;
  /** The interface of our outer address (charon's PLUTO_INTERFACE), if known. */
  readonly interfaceOf?: (address: string) => string | undefined;
  readonly myId: string;
  readonly peerId: string;
  readonly peerEapId?: string;
  readonly myVirtualIps: readonly string[];
  readonly peerVirtualIps: readonly string[];
  readonly dns: readonly string[];
}

/** A child SA that ran `up` and has not run `down` yet (rekeys keep it). */
export interface UpdownSession {
  /** `connection/child`. */
  readonly key: string;
  /** The child's `updown` script when it came up (its `down` runs the same). */
  readonly script: string;
  readonly reqid: number;
  /** The fields of its `up`; its `down` reuses them (IKE SA id and endpoints kept current). */
  sa: Omit<UpdownSa, "up">;
  /** Child SA ids currently in it (the first, then its rekeyed replacements). */
  readonly members: Set<number>;
}

/**
 * Which engine events run a script: `child-up` of a new child SA starts a
 * session (`up`); one of a rekey (`rekeyOf` in the session) joins it; a
 * `child-down` leaves it, and the last one out runs `down`. Pure: feed it
 * the installs and events in the order the daemon applies them.
 */
export class UpdownTracker {
  /** The inbound SaInstall of child SAs not yet up, by child SA id. */
  #installs = new Map<number, SaInstall>();
  #byChild = new Map<number, UpdownSession>();

  /** An `installSa` was applied (the inbound direction carries what `up` needs). */
  installed(sa: SaInstall): void {
    if (sa.direction === "in" || !this.#installs.has(sa.childSaId)) {
      this.#installs.set(sa.childSaId, sa);
    }
  }

  /**
   * A `child-up` event: the session it starts (run `up`), or null when it
   * joins one (a rekey), its child has no script or nothing is known about
   * it. `scriptFor` gives a child's `updown` script; `ike` the IKE SA's view.
   */
  up(
    ev: Extract<EngineEvent, { type: "child-up" }>,
    scriptFor: (connection: string, child: string) => string | undefined,
    ike: (ikeSaId: number) => UpdownIkeInfo,
  ): UpdownSession | null {
    const install = this.#installs.get(ev.childSaId);
    this.#installs.delete(ev.childSaId);
    const joined = ev.rekeyOf !== undefined ? this.#byChild.get(ev.rekeyOf) : undefined;
    if (joined) {
      joined.members.add(ev.childSaId);
      this.#byChild.set(ev.childSaId, joined);
      return null;
    }
    if (!install) return null;
    const script = scriptFor(install.connectionName, install.childName);
    if (script === undefined) return null;
    const info = ike(ev.ikeSaId);
    // The inbound SA runs peer -> us; UDP encapsulation names the peer's port as its source.
    const inbound = install.direction === "in";
    const me = inbound ? install.dst : install.src;
    const peer = inbound ? install.src : install.dst;
    const session: UpdownSession = {
      key: `${install.connectionName}/${install.childName}`,
      script,
      reqid: ev.childSaId,
      sa: {
        childName: install.childName,
        interfaceName: info.interfaceOf?.(me) ?? info.interfaceName,
        reqid: ev.childSaId,
        protocol: install.protocol,
        uniqueId: ev.ikeSaId,
        me,
        peer,
        myId: info.myId || me,
        peerId: info.peerId || peer,
        ...(info.peerEapId !== undefined ? { peerEapId: info.peerEapId } : {}),
        localTs: install.localTs,
        remoteTs: install.remoteTs,
        myVirtualIps: info.myVirtualIps,
        peerVirtualIps: info.peerVirtualIps,
        ...(install.encap
          ? { udpEncapPort: inbound ? install.encap.srcPort : install.encap.dstPort }
          : {}),
        dns: info.dns,
      },
      members: new Set([ev.childSaId]),
    };
    this.#byChild.set(ev.childSaId, session);
    return session;
  }

  /** A `child-down` event: the session that ends with it (run `down`), or null. */
  down(ev: Extract<EngineEvent, { type: "child-down" }>): UpdownSession | null {
    this.#installs.delete(ev.childSaId);
    const s = this.#byChild.get(ev.childSaId);
    if (!s) return null;
    this.#byChild.delete(ev.childSaId);
    s.members.delete(ev.childSaId);
    return s.members.size === 0 ? s : null;
  }

  /** IKE rekey: the children (and their sessions) now belong to `ikeSaId`. */
  ikeRekeyed(oldIkeSaId: number, ikeSaId: number): void {
    for (const s of new Set(this.#byChild.values())) {
      if (s.sa.uniqueId === oldIkeSaId) s.sa = { ...s.sa, uniqueId: ikeSaId };
    }
  }

  /** MOBIKE moved IKE SA `ikeSaId` (and its child SAs) to `me` and `peer`. */
  ikeUpdated(ikeSaId: number, me: string, peer: Endpoint): void {
    for (const s of new Set(this.#byChild.values())) {
      if (s.sa.uniqueId !== ikeSaId) continue;
      const udp = s.sa.udpEncapPort !== undefined ? { udpEncapPort: peer.port } : {};
      s.sa = { ...s.sa, me, peer: peer.address, ...udp };
    }
  }

  /** Live sessions. */
  sessions(): UpdownSession[] {
    return [...new Set(this.#byChild.values())];
  }

  /**
   * Ends every live session (daemon stop: the data plane goes with its SAs,
   * whose Deletes nobody answers any more); each needs its `down`.
   */
  drain(): UpdownSession[] {
    const all = this.sessions();
    this.#byChild.clear();
    this.#installs.clear();
    return all;
  }
}

/** How a script ended: its exit code and its stdout and stderr together. */
export interface ScriptResult {
  readonly code: number;
  readonly output: string;
}

/** Runs `path` with exactly `env` (no shell, no arguments, stdin null). */
export type ScriptExec = (path: string, env: UpdownEnv) => Promise<ScriptResult>;

/** The real {@link ScriptExec}: Deno.Command, environment cleared but for PATH (as charon). */
export const execScript: ScriptExec = async (path, env) => {
  const out = await new Deno.Command(path, {
    args: [],
    env: { PATH: Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin", ...env },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
};

/**
 * Why `path` cannot run as an updown script (missing, not a regular file, not
 * executable), or null when it can.
 */
export function scriptProblem(path: string): string | null {
  try {
    const st = Deno.statSync(path);
    if (!st.isFile) return `updown script '${path}' is not a file`;
    if (st.mode !== null && (st.mode & 0o111) === 0) {
      return `updown script '${path}' is not executable`;
    }
    return null;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return `updown script '${path}' does not exist`;
    return `updown script '${path}': ${e instanceof Error ? e.message : String(e)}`;
  }
}

/** Lines of script output logged per run, and characters per line. */
const MAX_LINES = 20;
const MAX_LINE_CHARS = 200;

/**
 * Runs updown scripts in the background: one queue per session (keyed by
 * reqid), so the `down` of a child SA waits for its `up`; different child
 * SAs run side by side. Output lines go to the log (`updown: ...`, like
 * charon), truncated; a non-zero exit is a warning; a script that cannot
 * start is an error. Nothing here throws or changes SA state.
 */
export class UpdownRunner {
  #queues = new Map<number, Promise<void>>();
  readonly #log: (level: LogLevel, message: string) => void;
  readonly #exec: ScriptExec;

  constructor(log: (level: LogLevel, message: string) => void, exec: ScriptExec = execScript) {
    this.#log = log;
    this.#exec = exec;
  }

  /** Queues the runs of one event (one per environment) behind the session's earlier ones. */
  enqueue(reqid: number, path: string, envs: readonly UpdownEnv[]): Promise<void> {
    const prev = this.#queues.get(reqid) ?? Promise.resolve();
    const next = prev.then(async () => {
      for (const env of envs) await this.#runOne(path, env);
    });
    this.#queues.set(reqid, next);
    void next.finally(() => {
      if (this.#queues.get(reqid) === next) this.#queues.delete(reqid);
    });
    return next;
  }

  /** Resolves once every queued script has ended. */
  async idle(): Promise<void> {
    while (this.#queues.size > 0) await Promise.all([...this.#queues.values()]);
  }

  async #runOne(path: string, env: UpdownEnv): Promise<void> {
    const what = `updown ${env.PLUTO_VERB} ${env.PLUTO_CONNECTION}{${env.PLUTO_REQID}}`;
    let r: ScriptResult;
    try {
      r = await this.#exec(path, env);
    } catch (e) {
      const problem = scriptProblem(path);
      this.#log(
        "error",
        `${what}: could not run '${path}': ${
          problem ?? (e instanceof Error ? e.message : String(e))
        }`,
      );
      return;
    }
    const lines = r.output.split("\n").map((l) => l.trimEnd()).filter((l) => l !== "");
    for (const l of lines.slice(0, MAX_LINES)) {
      this.#log(
        "info",
        `updown: ${l.length > MAX_LINE_CHARS ? `${l.slice(0, MAX_LINE_CHARS)}...` : l}`,
      );
    }
    if (lines.length > MAX_LINES) {
      this.#log("info", `updown: (${lines.length - MAX_LINES} more lines not logged)`);
    }
    if (r.code !== 0) this.#log("warn", `${what}: '${path}' exited with status ${r.code}`);
  }
}
