/**
 * A small bench for the interop gap tests (tests/interop/*_gap_test.ts and
 * friends): like tests/helpers/interop_lab.ts, charon in one namespace and
 * our engine driver in the other, but with IPv4 and IPv6 outer addresses and
 * a swanctl.conf written by the test (any identities, several children,
 * transport mode), so each test states exactly what charon is told.
 *
 * ```
 *  ns "c": charon 10.98.0.1 / fd98::1  <== veth ==>  ns "e": engine 10.98.0.2 / fd98::2
 *          (+10.1.0.1, fd01::1 on lo)
 * ```
 *
 * @module
 */
import type { EngineDriver, EngineSpec } from "../helpers/interop_engine.ts";
import { engineUp, startBench, stopBench } from "../helpers/interop_lab.ts";
import type { NetnsLab } from "../helpers/netns.ts";
import type { Charon, SwanIkeSa } from "../helpers/strongswan.ts";

export const C4 = "10.98.0.1";
export const E4 = "10.98.0.2";
export const C6 = "fd98::1";
export const E6 = "fd98::2";
export const PSK = "gap-psk-0123456789abcdef";

/** One side of a swanctl connection. */
export interface SwanSide {
  auth?: "psk" | "pubkey";
  id: string;
  /** pubkey: certificate file (local) or CA file (remote). */
  certs?: string;
  cacerts?: string;
}

/** One swanctl child section. */
export interface SwanChild {
  name: string;
  localTs: string;
  remoteTs: string;
  esp?: string;
  extra?: string[];
}

/** One swanctl connection section. */
export interface GapConn {
  name: string;
  localAddrs: string;
  remoteAddrs: string;
  ike?: string;
  local: SwanSide;
  remote: SwanSide;
  children: SwanChild[];
  extra?: string[];
}

/** swanctl.conf text for `conns` plus a PSK for every pair of ids in `pskIds`. */
export function gapConf(conns: GapConn[], pskIds: string[][] = []): string {
  const side = (s: SwanSide, local: boolean) =>
    [
      `auth = ${s.auth ?? "psk"}`,
      `id = ${s.id}`,
      ...(local && s.certs ? [`certs = ${s.certs}`] : []),
      ...(!local && s.cacerts ? [`cacerts = ${s.cacerts}`] : []),
    ].join("\n      ");
  const body = conns.map((c) =>
    `  ${c.name} {
    version = 2
    local_addrs = ${c.localAddrs}
    remote_addrs = ${c.remoteAddrs}
    proposals = ${c.ike ?? "aes256gcm16-prfsha256-x25519"}
    encap = yes
    dpd_delay = 0
    ${(c.extra ?? []).join("\n    ")}
    local {
      ${side(c.local, true)}
    }
    remote {
      ${side(c.remote, false)}
    }
    children {
${
      c.children.map((ch) =>
        `      ${ch.name} {
        local_ts = ${ch.localTs}
        remote_ts = ${ch.remoteTs}
        esp_proposals = ${ch.esp ?? "aes256gcm16"}
        ${(ch.extra ?? []).join("\n        ")}
      }`
      ).join("\n")
    }
    }
  }`
  ).join("\n");
  const secrets = pskIds.map((ids, i) =>
    `  ike-${i} {\n${
      ids.map((id, j) => `    id-${j} = ${id}`).join("\n")
    }\n    secret = "${PSK}"\n  }`
  ).join("\n");
  return `connections {\n${body}\n}\nsecrets {\n${secrets}\n}\n`;
}

/** The engine spec defaults of the gap bench (PSK, IPv4, one tunnel child). */
export function gapSpec(o: Partial<EngineSpec> & { name: string }): EngineSpec {
  return {
    localAddr: E4,
    remoteAddr: C4,
    localId: "sun.example.org",
    remoteId: "moon.example.org",
    ike: "aes256gcm16-prfsha256-x25519",
    esp: "aes256gcm16",
    localTs: ["10.2.0.0/16"],
    remoteTs: ["10.1.0.0/16"],
    auth: "psk",
    psk: PSK,
    ...o,
  };
}

/** The bench; `close()` it in `finally`. */
export class GapLab {
  readonly lab: NetnsLab;
  readonly charon: Charon;
  readonly engine: EngineDriver;
  readonly dir: string;

  private constructor(lab: NetnsLab, charon: Charon, engine: EngineDriver, dir: string) {
    this.lab = lab;
    this.charon = charon;
    this.engine = engine;
    this.dir = dir;
  }

  /** Namespaces `tc<tag>-XXXX-c/e`; `extraCharonConf` goes into charon's section. */
  static async create(tag: string, extraCharonConf = ""): Promise<GapLab> {
    const b = await startBench(`tc${tag}-`, C4, E4, extraCharonConf, async (lab, c, e) => {
      await lab.runIn(c, ["ip", "addr", "add", `${C6}/64`, "dev", "vc", "nodad"]);
      await lab.runIn(e, ["ip", "addr", "add", `${E6}/64`, "dev", "ve", "nodad"]);
      // kernel-libipsec routes each remote TS with a source address inside the local TS.
      for (const a of ["10.1.0.1/32", "10.1.0.10/32", "10.1.2.1/32"]) {
        await lab.runIn(c, ["ip", "addr", "add", a, "dev", "lo"]);
      }
      await lab.runIn(c, ["ip", "addr", "add", "fd01::1/128", "dev", "lo"]);
    });
    try {
      // The driver binds the IPv6 address too (its `move` op binds more addresses).
      await b.engine.move(E6);
    } catch (err) {
      await stopBench(b);
      throw err;
    }
    return new GapLab(b.lab, b.charon, b.engine, b.dir);
  }

  close(): Promise<void> {
    return stopBench(this);
  }

  /** Loads `conf` into charon (keys copied to its private/) and `spec` into the engine. */
  async load(conf: string, spec: EngineSpec, keys: string[] = []): Promise<void> {
    await this.charon.reload(conf, keys);
    await this.engine.configure(spec);
  }

  /**
   * Runs `f`; on failure force-terminates everything on charon and rethrows
   * with both sides' logs since the start.
   */
  async withLogs(f: () => Promise<void>): Promise<void> {
    const mark = this.engine.mark();
    const logMark = await this.charon.logMark();
    try {
      await f();
    } catch (e) {
      for (const sa of await this.charon.sas().catch(() => [])) {
        await this.charon.terminate(sa.name, true).catch(() => {});
      }
      const log = (await this.charon.log(logMark)).split("\n")
        .filter((l) => !l.includes("[CFG]")).join("\n");
      throw new Error(
        `${(e as Error).message}\n--- charon log ---\n${log}\n--- engine log ---\n${
          this.engine.log(mark)
        }`,
      );
    }
  }

  /** Waits for our next child-up (throws on a failure event first); returns the event. */
  engineUp(mark: number): Promise<Record<string, unknown>> {
    return engineUp(this.engine, mark);
  }

  /** Waits for one ESTABLISHED IKE SA on charon with `n` INSTALLED children. */
  async charonUp(n = 1): Promise<SwanIkeSa> {
    const sas = await this.charon.waitSas(
      (s) =>
        s.length === 1 && s[0].state === "ESTABLISHED" &&
        s[0].children.filter((c) => c.state === "INSTALLED").length === n,
      `one ESTABLISHED IKE SA with ${n} INSTALLED children`,
    );
    return { ...sas[0], children: sas[0].children.filter((c) => c.state === "INSTALLED") };
  }

  /**
   * Ends a case: we delete our IKE SAs (charon answers), then anything left
   * on charon is force-terminated; the next {@link load} starts a fresh engine.
   */
  async reset(): Promise<void> {
    const m = this.engine.mark();
    if ((await this.engine.list()).some((s) => s.state === "established")) {
      await this.engine.terminate();
      await this.engine.waitFor((o) => o.type === "event" && o.event === "ike-down", m)
        .catch(() => {});
    }
    for (const sa of await this.charon.sas()) await this.charon.terminate(sa.name, true);
    await this.charon.waitSas((s) => s.length === 0, "no SAs");
  }
}

/** Throws `what` with both views when `cond` is false. */
export function check(cond: boolean, what: string, ...views: unknown[]): void {
  if (!cond) throw new Error(`${what}\n${views.map((v) => JSON.stringify(v)).join("\n")}`);
}
