/**
 * Runs a real strongSwan charon (Debian's charon-systemd) inside a network
 * namespace with its own strongswan.conf, VICI socket and log file, using the
 * kernel-libipsec plugin for a userspace ESP data plane (our kernel has no
 * XFRM). For interop tests and benchmarks; always `stop()` it in `finally`.
 *
 * @module
 */

import { awaitExit } from "./netns.ts";

/** Plugins charon loads: crypto from openssl, userspace ESP from kernel-libipsec. */
// curl (libstrongswan-extra-plugins) lets the revocation plugin fetch CRLs and ask OCSP responders.
const PLUGINS =
  "random nonce openssl kdf pem pkcs1 pkcs8 x509 pubkey revocation constraints curl " +
  "kernel-libipsec kernel-netlink socket-default vici updown attr " +
  "eap-identity eap-md5 eap-mschapv2 eap-tls eap-ttls";

export interface CharonOptions {
  /** Network namespace to run in (must exist). */
  ns: string;
  /** Private working directory (config, socket, log). */
  dir: string;
  /** swanctl.conf contents (connections, secrets, pools). */
  swanctlConf: string;
  /** Extra lines inside the `charon-systemd { }` section. */
  extraCharonConf?: string;
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class Charon {
  readonly ns: string;
  readonly dir: string;
  #child: Deno.ChildProcess;

  private constructor(ns: string, dir: string, child: Deno.ChildProcess) {
    this.ns = ns;
    this.dir = dir;
    this.#child = child;
  }

  get vici(): string {
    return `unix://${this.dir}/charon.vici`;
  }

  /** Starts charon and loads `swanctlConf`; throws with charon's log on failure. */
  static async start(o: CharonOptions): Promise<Charon> {
    await Deno.mkdir(o.dir, { recursive: true });
    const conf = `charon-systemd {
  load = ${PLUGINS}
  install_routes = yes
  retransmit_tries = 3
  retransmit_timeout = 1.0
  plugins {
    vici { socket = unix://${o.dir}/charon.vici }
  }
  filelog {
    log {
      path = ${o.dir}/charon.log
      time_format = %H:%M:%S
      flush_line = yes
      default = 1
      ike = 2
      cfg = 2
      enc = 1
      chd = 2
    }
  }
  journal { default = -1 }
  ${o.extraCharonConf ?? ""}
}
`;
    await Deno.writeTextFile(`${o.dir}/strongswan.conf`, conf);
    await Deno.writeTextFile(`${o.dir}/swanctl.conf`, o.swanctlConf);
    const child = new Deno.Command("ip", {
      args: ["netns", "exec", o.ns, "/usr/sbin/charon-systemd"],
      env: { STRONGSWAN_CONF: `${o.dir}/strongswan.conf` },
      stdout: "null",
      stderr: "null",
    }).spawn();
    const c = new Charon(o.ns, o.dir, child);
    try {
      for (let i = 0; i < 100; i++) {
        try {
          await Deno.stat(`${o.dir}/charon.vici`);
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
        if (i === 99) throw new Error(`charon in ${o.ns} did not open its VICI socket`);
      }
      const r = await c.swanctl(["--load-all", "--file", `${o.dir}/swanctl.conf`]);
      if (r.code !== 0) throw new Error(`swanctl --load-all failed: ${r.stdout}${r.stderr}`);
    } catch (e) {
      const log = await c.log();
      await c.stop();
      throw new Error(`${(e as Error).message}\n--- charon log (${o.ns}) ---\n${log}`);
    }
    return c;
  }

  /** Runs swanctl against this charon inside its namespace. */
  async swanctl(args: string[]): Promise<CommandResult> {
    const out = await new Deno.Command("ip", {
      args: ["netns", "exec", this.ns, "swanctl", ...args, "--uri", this.vici],
      env: { STRONGSWAN_CONF: `${this.dir}/strongswan.conf` },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  }

  /** `swanctl --list-sas` output. */
  async listSas(): Promise<string> {
    return (await this.swanctl(["--list-sas"])).stdout;
  }

  /** `swanctl --list-sas`, parsed (see {@linkcode parseListSas}). */
  async sas(): Promise<SwanIkeSa[]> {
    return parseListSas(await this.listSas());
  }

  /**
   * Polls `swanctl --list-sas` until `pred` holds for the parsed SAs (every
   * 100 ms, up to `ms`); returns them, or throws with the last listing.
   */
  async waitSas(
    pred: (sas: SwanIkeSa[]) => boolean,
    what: string,
    ms = 10_000,
  ): Promise<SwanIkeSa[]> {
    const deadline = Date.now() + ms;
    let text = "";
    for (;;) {
      text = await this.listSas();
      const sas = parseListSas(text);
      if (pred(sas)) return sas;
      if (Date.now() > deadline) {
        throw new Error(`charon: timed out waiting for ${what}; swanctl --list-sas:\n${text}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * Replaces the loaded configuration and credentials with `conf` and the
   * private keys `keys` (copied into private/ next to swanctl.conf, where
   * `swanctl --file` looks for credentials), using `--load-all --clear`.
   */
  async reload(conf: string, keys: readonly string[] = []): Promise<void> {
    const priv = `${this.dir}/private`;
    await Deno.remove(priv, { recursive: true }).catch(() => {});
    await Deno.mkdir(priv, { recursive: true });
    for (const [i, k] of keys.entries()) await Deno.copyFile(k, `${priv}/key${i}.pem`);
    await Deno.writeTextFile(`${this.dir}/swanctl.conf`, conf);
    const r = await this.swanctl(["--load-all", "--clear", "--file", `${this.dir}/swanctl.conf`]);
    if (r.code !== 0) {
      throw new Error(`swanctl --load-all failed: ${r.stdout}${r.stderr}\n${await this.log()}`);
    }
  }

  /** `swanctl --initiate --ike IKE --child CHILD`; throws with charon's output on failure. */
  async initiate(ike: string, child: string, timeoutSeconds = 10): Promise<void> {
    const r = await this.swanctl([
      "--initiate",
      "--ike",
      ike,
      "--child",
      child,
      "--timeout",
      String(timeoutSeconds),
    ]);
    if (r.code !== 0) throw new Error(`swanctl --initiate failed:\n${r.stdout}${r.stderr}`);
  }

  /** `swanctl --terminate --ike IKE` (charon sends the Delete); `force` skips waiting for the peer. */
  async terminate(ike: string, force = false): Promise<CommandResult> {
    return await this.swanctl([
      "--terminate",
      "--ike",
      ike,
      "--timeout",
      "5",
      ...(force ? ["--force"] : []),
    ]);
  }

  /** `swanctl --rekey --ike NAME` or `--child NAME`: charon starts a rekey. */
  async rekey(kind: "ike" | "child", name: string): Promise<void> {
    const r = await this.swanctl(["--rekey", `--${kind}`, name]);
    if (r.code !== 0) {
      throw new Error(`swanctl --rekey --${kind} ${name} failed:\n${r.stdout}${r.stderr}`);
    }
  }

  /** Polls the log (from character `from`) until `re` matches; throws with the log otherwise. */
  async waitLog(re: RegExp, from = 0, ms = 10_000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const log = await this.log(from);
      const m = re.exec(log);
      if (m) return m[0];
      if (Date.now() > deadline) throw new Error(`charon never logged ${re}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Byte offset of the log's end, to pass to {@link log} and see only newer lines. */
  async logMark(): Promise<number> {
    return (await this.log()).length;
  }

  /** charon's log file so far (empty if none), from character `from` on. */
  async log(from = 0): Promise<string> {
    try {
      return (await Deno.readTextFile(`${this.dir}/charon.log`)).slice(from);
    } catch {
      return "";
    }
  }

  /** Stops charon (SIGTERM, then SIGKILL) and waits for it. */
  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch { /* already gone */ }
    await awaitExit(this.#child, 3000);
  }
}

/** One strongSwan connection, in the handful of knobs the interop matrix varies. */
export interface SwanConn {
  name: string;
  localAddr: string;
  remoteAddr: string;
  localId: string;
  remoteId: string;
  /** "psk" (then `psk` is required) or "pubkey" (then `cert`, `key` and `cacert` are). */
  auth: "psk" | "pubkey";
  psk?: string;
  /** Our certificate: absolute path of a PEM/DER file (or a file name in swanctl's x509/). */
  cert?: string;
  /**
   * Absolute path of our private key; not part of swanctl.conf: pass it to
   * {@linkcode Charon.reload} (swanctl loads keys from its private/ folder).
   */
  key?: string;
  /** Absolute path of the CA certificate the peer's certificate must chain to. */
  cacert?: string;
  /** Intermediate CA certificates (absolute paths) loaded as authorities, sent after `cert`. */
  intermediates?: string[];
  /** IKE proposal, e.g. "aes256gcm16-prfsha256-x25519". */
  ikeProposal: string;
  /** ESP proposal, e.g. "aes256gcm16". */
  espProposal: string;
  localTs: string;
  remoteTs: string;
  /** Child section name (default: the connection name). */
  childName?: string;
  /** Extra lines for the connection section (e.g. "rekey_time = 20s", "pools = rw"). */
  extra?: string[];
  /** Extra lines for the child section. */
  childExtra?: string[];
  /** Pools section body, if any. */
  pools?: string;
  /**
   * EAP on one side instead of `auth`: "local" (charon is the EAP client) or
   * "remote" (charon is the EAP server); `method` e.g. "eap-mschapv2";
   * `eapId` is the client's EAP identity, or "%any" on the server.
   */
  eap?: {
    side: "local" | "remote";
    method: string;
    eapId?: string;
    users: { id: string; secret: string }[];
    /**
     * EAP as a second authentication round (RFC 4739: `local-2`/`remote-2`)
     * after `auth`, with this IKE identity for the round (`id`; "%any" on
     * the server side).
     */
    round2?: { id: string };
  };
  /**
   * Raw public keys instead of certificates (`auth` "pubkey", `key` still
   * ours): `pubkeys` files (absolute PEM paths) for our side and the peer's.
   */
  rawKeys?: { local: string; remote: string };
  /** A post-quantum preshared key (RFC 8784): `ppk_id` (unless `secretOnly`) and its secret. */
  ppk?: { id: string; secretHex: string; required?: boolean; secretOnly?: boolean };
}

/**
 * swanctl.conf for one connection. kernel-libipsec only does tunnel mode with
 * UDP encapsulation, hence `encap = yes`.
 */
export function swanctlConf(c: SwanConn): string {
  const certs = c.cert ?? "";
  // Intermediates are loaded as authorities: charon then sends them after its own certificate.
  const authorities = (c.intermediates ?? []).map((p, i) => `  im${i} {\n    cacert = ${p}\n  }\n`)
    .join("");
  const auth = c.auth === "psk" ? { local: "auth = psk", remote: "auth = psk" } : {
    local: `auth = pubkey\n      certs = ${certs}`,
    remote: `auth = pubkey${c.cacert ? `\n      cacerts = ${c.cacert}` : ""}`,
  };
  if (c.rawKeys) {
    auth.local = `auth = pubkey\n      pubkeys = ${c.rawKeys.local}`;
    auth.remote = `auth = pubkey\n      pubkeys = ${c.rawKeys.remote}`;
  }
  // EAP-TLS keeps the round's certificate (local) or trust anchor (remote).
  const tlsLines = c.eap?.method !== "eap-tls"
    ? ""
    : c.eap.side === "local"
    ? `\n      certs = ${certs}`
    : c.cacert
    ? `\n      cacerts = ${c.cacert}`
    : "";
  const eapAuth = c.eap
    ? `auth = ${c.eap.method}${c.eap.eapId ? `\n      eap_id = ${c.eap.eapId}` : ""}${tlsLines}`
    : "";
  if (c.eap && !c.eap.round2) auth[c.eap.side] = eapAuth;
  // RFC 4739: rounds are sections local-1, local-2 (remote-1, remote-2) in this order.
  const round2 = c.eap?.round2
    ? `\n    ${c.eap.side}-2 {\n      ${eapAuth}\n      id = ${c.eap.round2.id}\n    }`
    : "";
  const first = (side: "local" | "remote") => c.eap?.round2 ? `${side}-1` : side;
  const ike = c.auth === "psk"
    ? `  ike-1 {\n    id-1 = ${c.localId}\n    id-2 = ${c.remoteId}\n    secret = "${c.psk}"\n  }\n`
    : "";
  const eap = (c.eap?.users ?? []).map((u, i) =>
    `  eap-${i} {\n    id = ${u.id}\n    secret = "${u.secret}"\n  }\n`
  ).join("");
  const ppk = c.ppk
    ? `  ppk-1 {\n    id = ${c.ppk.id}\n    secret = 0x${c.ppk.secretHex}\n  }\n`
    : "";
  const secrets = ike || eap || ppk ? `secrets {\n${ike}${eap}${ppk}}\n` : "";
  const ppkLines = c.ppk && !c.ppk.secretOnly
    ? [`ppk_id = ${c.ppk.id}`, `ppk_required = ${c.ppk.required ? "yes" : "no"}`]
    : [];
  return `connections {
  ${c.name} {
    version = 2
    local_addrs = ${c.localAddr}
    remote_addrs = ${c.remoteAddr}
    proposals = ${c.ikeProposal}
    encap = yes
    ${[...(c.extra ?? []), ...ppkLines].join("\n    ")}
    ${first("local")} {
      ${auth.local}
      id = ${c.localId}
    }
    ${first("remote")} {
      ${auth.remote}
      id = ${c.remoteId}
    }${round2}
    children {
      ${c.childName ?? c.name} {
        local_ts = ${c.localTs}
        remote_ts = ${c.remoteTs}
        esp_proposals = ${c.espProposal}
        ${(c.childExtra ?? []).join("\n        ")}
      }
    }
  }
}
${secrets}${c.pools ? `pools {\n${c.pools}\n}\n` : ""}${
    authorities ? `authorities {\n${authorities}}\n` : ""
  }`;
}

/** One ESTABLISHED IKE SA with an INSTALLED child SA (a `waitSas` predicate). */
export function oneInstalled(s: readonly SwanIkeSa[]): boolean {
  return s.length === 1 && s[0].state === "ESTABLISHED" &&
    s[0].children.some((c) => c.state === "INSTALLED");
}

/** A child SA from `swanctl --list-sas`. */
export interface SwanChildSa {
  name: string;
  uniqueId: number;
  /** INSTALLED, REKEYED, ... */
  state: string;
  /** "TUNNEL", "TUNNEL-in-UDP", "TRANSPORT", ... */
  mode: string;
  /** e.g. "ESP:AES_GCM_16-256" or "ESP:AES_CBC-256/HMAC_SHA2_256_128". */
  algorithms: string;
  /** Inbound/outbound SPIs as 8 hex digits. */
  spiIn: string;
  spiOut: string;
  bytesIn: number;
  bytesOut: number;
  localTs: string[];
  remoteTs: string[];
}

/** An IKE SA from `swanctl --list-sas`. */
export interface SwanIkeSa {
  name: string;
  uniqueId: number;
  /** ESTABLISHED, CONNECTING, DELETING, ... */
  state: string;
  /** Initiator and responder SPIs as 16 hex digits. */
  spiI: string;
  spiR: string;
  /** Whether charon is the initiator of this IKE SA. */
  initiator: boolean;
  localId: string;
  localAddr: string;
  localPort: number;
  remoteId: string;
  remoteAddr: string;
  remotePort: number;
  /** e.g. "AES_GCM_16-256/PRF_HMAC_SHA2_384/CURVE_25519". */
  algorithms: string;
  /** Virtual IPs assigned to charon ("local") or handed to the peer ("remote"). */
  localVips: string[];
  remoteVips: string[];
  children: SwanChildSa[];
}

/**
 * Parses the text of `swanctl --list-sas` (strongSwan 5.9's layout), e.g.
 *
 * ```
 * deno: #1, ESTABLISHED, IKEv2, 8d3a..._i 91b2...*_r
 *   local  'moon.example.org' @ 10.99.0.1[4500]
 *   remote 'sun.example.org' @ 10.99.0.2[4500]
 *   AES_GCM_16-256/PRF_HMAC_SHA2_384/CURVE_25519
 *   net: #1, reqid 1, INSTALLED, TUNNEL-in-UDP, ESP:AES_GCM_16-256
 *     in  c3a1b2d4,      0 bytes,     0 packets
 *     out 0f1e2d3c,      0 bytes,     0 packets
 *     local  10.1.0.0/16
 *     remote 10.2.0.0/16
 * ```
 */
export function parseListSas(text: string): SwanIkeSa[] {
  const sas: SwanIkeSa[] = [];
  let ike: SwanIkeSa | undefined;
  let child: SwanChildSa | undefined;
  for (const line of text.split("\n")) {
    let m;
    if ((m = /^(\S+): #(\d+), (\w+), IKEv\d, ([0-9a-f]{16})_i(\*?) ([0-9a-f]{16})_r/.exec(line))) {
      ike = {
        name: m[1],
        uniqueId: Number(m[2]),
        state: m[3],
        spiI: m[4],
        initiator: m[5] === "*",
        spiR: m[6],
        localId: "",
        localAddr: "",
        localPort: 0,
        remoteId: "",
        remoteAddr: "",
        remotePort: 0,
        algorithms: "",
        localVips: [],
        remoteVips: [],
        children: [],
      };
      child = undefined;
      sas.push(ike);
    } else if (!ike) {
      continue;
    } else if ((m = /^ {2}(local|remote) +'(.*)' @ (\S+)\[(\d+)\](?: \[(.*)\])?/.exec(line))) {
      const vips = m[5] ? m[5].split(/\s+/) : [];
      if (m[1] === "local") {
        [ike.localId, ike.localAddr, ike.localPort, ike.localVips] = [m[2], m[3], +m[4], vips];
      } else {
        [ike.remoteId, ike.remoteAddr, ike.remotePort, ike.remoteVips] = [m[2], m[3], +m[4], vips];
      }
    } else if ((m = /^ {2}([A-Z0-9_]+(?:-\d+)?(?:\/[A-Z0-9_-]+)+)$/.exec(line))) {
      ike.algorithms = m[1];
    } else if ((m = /^ {2}(\S+): #(\d+), reqid \d+, (\w+), ([\w-]+), (\S+)/.exec(line))) {
      child = {
        name: m[1],
        uniqueId: Number(m[2]),
        state: m[3],
        mode: m[4],
        algorithms: m[5],
        spiIn: "",
        spiOut: "",
        bytesIn: 0,
        bytesOut: 0,
        localTs: [],
        remoteTs: [],
      };
      ike.children.push(child);
    } else if (
      child &&
      (m = /^ {4}(in|out) +([0-9a-f]{8})(?:_i)?(?:\([0-9a-f]+\))?, +(\d+) bytes/.exec(line))
    ) {
      if (m[1] === "in") [child.spiIn, child.bytesIn] = [m[2], +m[3]];
      else [child.spiOut, child.bytesOut] = [m[2], +m[3]];
    } else if (child && (m = /^ {4}(local|remote) +(.+)$/.exec(line))) {
      (m[1] === "local" ? child.localTs : child.remoteTs).push(...m[2].trim().split(/\s+/));
    }
  }
  return sas;
}
