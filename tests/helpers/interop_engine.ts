/**
 * Our IKEv2 engine on real UDP sockets inside a network namespace, for
 * interop tests against strongSwan. This file is both:
 *
 * - the driver script (`deno run -A --unstable-net interop_engine.ts driver IP`),
 *   run inside the namespace: it binds IP:500 and IP:4500, reads JSON commands
 *   on stdin (`config`, `initiate`, `terminate`, `list`, `rekeyIke`,
 *   `rekeyChild`, `move`, `quit`) and writes JSON lines on stdout (`ready`, `configured`, `install`, `remove`,
 *   `event`, `log`, `list`, `error`);
 * - {@linkcode EngineDriver}, the test-side handle that starts the driver once
 *   per test file and reconfigures it for each matrix case (a fresh engine per
 *   `configure()`), so cases cost no process start.
 *
 * @example
 * ```ts
 * const eng = await EngineDriver.start(lab, ns, "10.99.0.2");
 * await eng.configure(spec);
 * const mark = eng.mark();
 * eng.initiate();
 * await eng.waitFor((o) => o.type === "event" && o.event === "child-up", mark);
 * ```
 *
 * @module
 */
import * as nodeCrypto from "node:crypto";
import { parseProposals } from "../../lib/crypto/proposal.ts";
import { parseIdentity } from "../../lib/db/identity.ts";
import { formatTs } from "../../lib/db/narrow.ts";
import { type Effect, IkeEngine } from "../../lib/ikev2/engine.ts";
import type { EngineConfig, PeerConfig } from "../../lib/ikev2/peer_config.ts";
import { readBlocks } from "../../lib/pki/pem.ts";
import { fromHex } from "../../lib/wire/bytes.ts";
import { awaitExit, type NetnsLab } from "./netns.ts";

/** One connection for the engine, in JSON-friendly form (the test matrix varies these). */
export interface EngineSpec {
  /** Connection name (also the child name with suffix "-net"). */
  name: string;
  localAddr: string;
  remoteAddr: string;
  localId: string;
  remoteId: string;
  /** IKE proposal, strongSwan syntax ("aes256gcm16-prfsha384-x25519"). */
  ike: string;
  /** ESP proposal ("aes256gcm16"). */
  esp: string;
  localTs: string[];
  remoteTs: string[];
  auth: "psk" | "pubkey";
  psk?: string;
  /** PEM file with our certificate (end entity first, then intermediates). */
  certFile?: string;
  /** PEM private key (PKCS#8, PKCS#1 or SEC1). */
  keyFile?: string;
  /** PEM file with the trust anchor(s) for the peer's certificate. */
  caFile?: string;
  /** When to send our certificate (default "always"). */
  sendCert?: "always" | "ifasked" | "never";
  /** Seconds of silence before we send a liveness check (default 0 = off). */
  dpdDelaySeconds?: number;
  /** Initiator: virtual IPs to request ("0.0.0.0" = any); "dynamic" local TS then means it. */
  vips?: string[];
  /** Responder: address pools to lease virtual IPs from (defined in `poolConfigs`). */
  pools?: { name: string; range: string; dns?: string[] }[];
  /** Largest IP packet for IKE messages before we fragment (RFC 7383; default 1280). */
  fragmentSize?: number;
  /** Retransmission policy (default the engine's: 4 s, base 1.8, 5 tries). */
  retransmit?: { timeoutMs: number; base: number; tries: number };
  /** Mode of the first child (default "tunnel"). */
  mode?: "tunnel" | "transport";
  /** More child templates (created with {@linkcode EngineDriver.createChild} or by the peer). */
  moreChildren?: {
    name: string;
    localTs: string[];
    remoteTs: string[];
    esp?: string;
    mode?: "tunnel" | "transport";
  }[];
  /** Half-open SAs above which we demand cookies (0 = always). */
  cookieThreshold?: number;
  /** Reauthenticate (make-before-break) after this many seconds. */
  reauthSeconds?: number;
  /** Send IDr in IKE_AUTH requests (default: the engine's, true unless %any). */
  sendIdr?: boolean;
  /** swanctl's `childless` (RFC 6023). */
  childless?: "allow" | "prefer" | "force" | "never";
  /**
   * EAP (RFC 7296 section 2.16): as "peer" we authenticate by EAP (`auth`
   * then only says how the responder proves itself); as "server" we ask the
   * initiator to (`auth` says how we prove ourselves).
   */
  /**
   * Raw public keys instead of certificates (`auth` "pubkey"): we sign with
   * `keyFile` and send no CERT; the peer's PEM public key is `peerPubkeyFile`.
   */
  peerPubkeyFile?: string;
  /** A post-quantum preshared key (RFC 8784): ours to offer (unless `secretOnly`) and hold. */
  ppk?: { id: string; secretHex: string; required?: boolean; secretOnly?: boolean };
  eap?: {
    role: "peer" | "server";
    /**
     * Peer: the methods we accept (default MSCHAPv2 and MD5); server: the one
     * we run (default MSCHAPv2). "tls" uses the case's certificate and key
     * (and its CA for the other side's).
     */
    methods?: ("mschapv2" | "md5" | "tls" | "ttls")[];
    /** Peer: our EAP identity; server: "%any" to ask by EAP-Identity (default: IDi). */
    eapId?: string;
    /** User names and passwords. */
    users: { id: string; secret: string }[];
    /** Server: relay EAP to this RADIUS server instead (remote auth eap-radius). */
    radius?: { address: string; port: number; secret: string };
    /**
     * EAP as a second authentication round (RFC 4739) after `auth`: the
     * peer's IKE identity for the round ("%any" on the server side).
     */
    round2?: { id: string };
  };
}

/** A JSON line from the driver. */
export type DriverLine = Record<string, unknown> & { type: string };

/** A child SA as the driver reports it in a `list` line. */
export interface DriverChild {
  name: string;
  state: string;
  /** SPIs as 8 hex digits. */
  spiIn: string;
  spiOut: string;
  /** Negotiated ESP transforms (IANA ids) from the installed SA. */
  encrId?: number;
  encrKeyBits?: number;
  integId?: number;
  encap: boolean;
  /** "tunnel" or "transport". */
  mode?: string;
  /** Extended sequence numbers negotiated. */
  esn?: boolean;
  /** Negotiated traffic selectors ("10.1.0.0/16"). */
  localTs?: string[];
  remoteTs?: string[];
}

/** An IKE SA as the driver reports it in a `list` line. */
export interface DriverIkeSa {
  id: number;
  name: string;
  state: string;
  initiator: boolean;
  /** IKE SPIs as 16 hex digits. */
  spiI: string;
  spiR: string;
  /** Negotiated IKE transforms (IANA ids). */
  encrId?: number;
  encrKeyBits?: number;
  integId?: number;
  prfId?: number;
  keId?: number;
  children: DriverChild[];
}

function hex(n: number | bigint, digits: number): string {
  return n.toString(16).padStart(digits, "0");
}

function readCertsDer(file: string): Uint8Array[] {
  return readBlocks(Deno.readFileSync(file), file).filter((b) => b.label === "CERTIFICATE")
    .map((b) => b.der);
}

/** A PEM public key file as SubjectPublicKeyInfo DER. */
function readSpki(path: string): Uint8Array {
  const key = nodeCrypto.createPublicKey({ key: Deno.readTextFileSync(path), format: "pem" });
  return new Uint8Array(key.export({ type: "spki", format: "der" }));
}

function readKeyPkcs8(file: string): Uint8Array {
  const key = nodeCrypto.createPrivateKey(Deno.readTextFileSync(file));
  return new Uint8Array(key.export({ format: "der", type: "pkcs8" }));
}

/** Builds the engine configuration for one {@link EngineSpec} (runs in the driver). */
export function engineConfig(s: EngineSpec): EngineConfig {
  const localId = parseIdentity(s.localId);
  const remoteId = parseIdentity(s.remoteId);
  const own: PeerConfig["local"] = s.auth === "psk" ? { auth: "psk", id: localId } : {
    auth: "pubkey",
    id: localId,
    ...(s.peerPubkeyFile ? {} : { certs: readCertsDer(s.certFile!) }),
    privateKey: readKeyPkcs8(s.keyFile!),
  };
  const theirs: PeerConfig["remote"] = s.auth === "psk"
    ? { auth: "psk", id: remoteId }
    : s.peerPubkeyFile
    ? { auth: "pubkey", id: remoteId, pubkeys: [readSpki(s.peerPubkeyFile)] }
    : { auth: "pubkey", id: remoteId, cacerts: readCertsDer(s.caFile!) };
  const eap = s.eap;
  const eapLocal = eap?.role === "peer"
    ? {
      auth: "eap" as const,
      id: eap.round2 ? parseIdentity(eap.round2.id) : localId,
      ...(eap.eapId ? { eapId: eap.eapId } : {}),
      ...(eap.methods ? { eapMethods: eap.methods } : {}),
      ...(eap.methods?.includes("tls") && own.auth === "pubkey"
        ? { certs: own.certs, privateKey: own.privateKey }
        : {}),
    }
    : undefined;
  const round2Id = eap?.round2 ? parseIdentity(eap.round2.id) : undefined;
  const eapRemote = eap?.role === "server"
    ? {
      auth: "eap" as const,
      ...(eap.round2 ? (round2Id!.type === "any" ? {} : { id: round2Id }) : { id: remoteId }),
      eapMethod: eap.radius ? "radius" as const : eap.methods?.[0] ?? "mschapv2",
      ...(eap.eapId ? { eapId: eap.eapId } : {}),
      ...(eap.methods?.includes("tls") && s.caFile ? { cacerts: readCertsDer(s.caFile) } : {}),
    }
    : undefined;
  const conn: PeerConfig = {
    name: s.name,
    localAddress: s.localAddr,
    remoteAddress: s.remoteAddr,
    proposals: parseProposals(s.ike, "ike", { allowWeak: true }),
    local: eapLocal && !eap?.round2 ? eapLocal : own,
    remote: eapRemote && !eap?.round2 ? eapRemote : theirs,
    ...(eapLocal && eap?.round2 ? { localRounds: [eapLocal] } : {}),
    ...(eapRemote && eap?.round2 ? { remoteRounds: [eapRemote] } : {}),
    sendCert: s.sendCert ?? "always",
    dpdDelaySeconds: s.dpdDelaySeconds ?? 0,
    ...(s.retransmit ? { retransmit: s.retransmit } : {}),
    ...(s.fragmentSize ? { fragmentSize: s.fragmentSize } : {}),
    ...(s.vips ? { vips: s.vips } : {}),
    ...(s.pools ? { pools: s.pools.map((p) => p.name) } : {}),
    ...(s.reauthSeconds ? { reauthSeconds: s.reauthSeconds } : {}),
    ...(s.sendIdr !== undefined ? { sendIdr: s.sendIdr } : {}),
    ...(s.childless ? { childless: s.childless } : {}),
    ...(s.ppk && !s.ppk.secretOnly ? { ppkId: s.ppk.id } : {}),
    ...(s.ppk?.required ? { ppkRequired: true } : {}),
    children: [
      {
        name: `${s.name}-net`,
        mode: s.mode ?? "tunnel",
        protocol: "esp",
        proposals: parseProposals(s.esp, "esp", { allowWeak: true }),
        localTs: s.localTs,
        remoteTs: s.remoteTs,
      },
      ...(s.moreChildren ?? []).map((c) => ({
        name: c.name,
        mode: c.mode ?? "tunnel",
        protocol: "esp" as const,
        proposals: parseProposals(c.esp ?? s.esp, "esp", { allowWeak: true }),
        localTs: c.localTs,
        remoteTs: c.remoteTs,
      })),
    ],
  };
  return {
    connections: [conn],
    ...(s.cookieThreshold !== undefined ? { cookieThreshold: s.cookieThreshold } : {}),
    ...(s.pools ? { pools: s.pools } : {}),
    secrets: s.auth === "psk"
      ? [{ ids: [localId, remoteId], secret: new TextEncoder().encode(s.psk!) }]
      : [],
    ...(eap ? { eapSecrets: eap.users.map((u) => ({ ids: [u.id], secret: u.secret })) } : {}),
    ...(eap?.radius
      ? {
        radius: {
          servers: [{
            name: "radius",
            address: eap.radius.address,
            port: eap.radius.port,
            secret: new TextEncoder().encode(eap.radius.secret),
          }],
          nasIdentifier: "interop-engine",
        },
      }
      : {}),
    ...(s.ppk ? { ppks: [{ ids: [s.ppk.id], secret: fromHex(s.ppk.secretHex) }] } : {}),
  };
}

/** The driver main loop (inside the namespace). */
async function driver(ip: string): Promise<void> {
  let engine: IkeEngine | undefined;
  let spec: EngineSpec | undefined;
  // Sockets by "address port"; `move` (MOBIKE) binds another address.
  const socks = new Map<string, Deno.DatagramConn>();
  const bind = (address: string) => {
    for (const port of [500, 4500]) {
      socks.set(
        `${address} ${port}`,
        Deno.listenDatagram({ transport: "udp", hostname: address, port }),
      );
    }
  };
  bind(ip);
  const timers = new Map<string, number>();
  const installs = new Map<number, Omit<DriverChild, "name" | "state" | "spiIn" | "spiOut">>();
  const out = (o: DriverLine) => console.log(JSON.stringify(o));
  const apply = (fx: Effect[]) => {
    for (const e of fx) {
      switch (e.kind) {
        case "send": {
          // Port 4500 carries IKE behind the 4-byte non-ESP marker (RFC 3948 section 2.2).
          const natt = e.from.port === 4500;
          const bytes = natt ? new Uint8Array([0, 0, 0, 0, ...e.bytes]) : e.bytes;
          const sock = socks.get(`${e.from.address} ${e.from.port}`);
          if (!sock) {
            out({ type: "error", message: `no socket for ${e.from.address}[${e.from.port}]` });
            break;
          }
          sock.send(bytes, {
            transport: "udp",
            hostname: e.to.address,
            port: e.to.port,
          }).catch((err) => out({ type: "error", message: String(err) }));
          break;
        }
        case "sendRadius": {
          // One socket for RADIUS; the main loop hands its datagrams to radiusAnswer.
          let sock = socks.get("radius");
          if (!sock) {
            sock = Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: 0 });
            socks.set("radius", sock);
          }
          sock.send(e.bytes, { transport: "udp", hostname: e.to.address, port: e.to.port })
            .catch((err) => out({ type: "error", message: String(err) }));
          break;
        }
        case "setTimer":
          timers.set(e.id, e.at);
          break;
        case "cancelTimer":
          timers.delete(e.id);
          break;
        case "installSa":
          installs.set(e.sa.childSaId, {
            encrId: e.sa.encr?.id,
            encrKeyBits: e.sa.encr?.keyLengthBits,
            integId: e.sa.integ?.id,
            encap: !!e.sa.encap,
            esn: e.sa.esn,
          });
          out({
            type: "install",
            direction: e.sa.direction,
            spi: hex(e.sa.spi, 8),
            encap: !!e.sa.encap,
            mode: e.sa.mode,
            esn: e.sa.esn,
          });
          break;
        case "removeSa":
          out({ type: "remove", direction: e.direction, spi: hex(e.spi, 8) });
          break;
        case "event":
          out({ ...e.event, type: "event", event: e.event.type });
          break;
        case "log":
          out({ type: "log", level: e.level, line: e.line });
          break;
      }
    }
  };
  const list = (): DriverIkeSa[] =>
    (engine?.list() ?? []).map((sa) => {
      const suite = engine!.ikeSa(sa.id)?.suite;
      return {
        id: sa.id,
        name: sa.name,
        state: sa.state,
        initiator: sa.initiator,
        spiI: hex(sa.spiI, 16),
        spiR: hex(sa.spiR, 16),
        encrId: suite?.encrId,
        encrKeyBits: suite?.encrKeyBits,
        integId: suite?.integId,
        prfId: suite?.prfId,
        keId: suite?.keId,
        children: sa.children.map((c) => ({
          name: c.name,
          state: c.state,
          spiIn: hex(c.spiIn, 8),
          spiOut: hex(c.spiOut, 8),
          encap: false,
          mode: c.mode,
          localTs: engine!.ikeSa(sa.id)?.children.get(c.id)?.localTs.map(formatTs),
          remoteTs: engine!.ikeSa(sa.id)?.children.get(c.id)?.remoteTs.map(formatTs),
          ...installs.get(c.id),
        })),
      };
    });
  let stop = false;
  const command = (line: string) => {
    const cmd = JSON.parse(line) as {
      op: string;
      spec?: EngineSpec;
      address?: string;
      child?: string;
    };
    try {
      switch (cmd.op) {
        case "config":
          spec = cmd.spec!;
          engine = new IkeEngine(engineConfig(spec), { now: Date.now() });
          timers.clear();
          installs.clear();
          out({ type: "configured", name: spec.name });
          break;
        case "initiate":
          apply(engine!.initiate(spec!.name, Date.now()));
          break;
        case "terminate":
          for (const sa of engine!.list()) apply(engine!.terminate(sa.id, Date.now()));
          break;
        case "rekeyIke":
          for (const sa of engine!.list()) apply(engine!.rekeyIke(sa.id, Date.now()));
          break;
        case "rekeyChild":
          for (const sa of engine!.list()) {
            for (const c of sa.children) apply(engine!.rekeyChild(c.id, Date.now()));
          }
          break;
        case "createChild":
          for (const sa of engine!.list().filter((s) => s.state === "established")) {
            apply(engine!.createChild(sa.id, cmd.child!, Date.now()));
          }
          break;
        case "closeChild":
          for (const sa of engine!.list()) {
            for (const c of sa.children.filter((c) => c.name === cmd.child)) {
              apply(engine!.closeChild(c.id, Date.now()));
            }
          }
          break;
        case "list":
          out({ type: "list", sas: list() });
          break;
        case "move":
          bind(cmd.address!);
          for (const sa of engine?.list() ?? []) {
            apply(engine!.updateAddresses(sa.id, cmd.address!, Date.now()));
          }
          break;
        case "quit":
          stop = true;
          break;
      }
    } catch (e) {
      out({ type: "error", op: cmd.op, message: (e as Error).stack ?? String(e) });
    }
  };
  (async () => {
    let buf = "";
    for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      const parts = buf.split("\n");
      buf = parts.pop() ?? "";
      for (const p of parts.filter(Boolean)) command(p);
    }
    stop = true;
  })();
  out({ type: "ready" });
  const pending = new Map<string, Promise<[string, Uint8Array, Deno.Addr]>>();
  while (!stop) {
    for (const [key, sock] of socks) {
      if (!pending.has(key)) pending.set(key, sock.receive().then(([b, a]) => [key, b, a]));
    }
    const next = Math.min(...timers.values(), Date.now() + 50);
    let tid: ReturnType<typeof setTimeout> | undefined;
    const r = await Promise.race([
      ...pending.values(),
      new Promise<undefined>((res) =>
        tid = setTimeout(() => res(undefined), Math.max(0, next - Date.now()))
      ),
    ]);
    clearTimeout(tid);
    if (r) {
      const [key, raw, addr] = r;
      pending.delete(key);
      if (key === "radius") {
        const a = addr as Deno.NetAddr;
        if (engine) {
          apply(engine.radiusAnswer(raw, { address: a.hostname, port: a.port }, Date.now()));
        }
        continue;
      }
      const [local, portText] = key.split(" ");
      const port = Number(portText);
      const a = addr as Deno.NetAddr;
      // On 4500, IKE starts with the non-ESP marker; anything else is ESP (not ours to handle).
      const isIke = port === 500 ||
        (raw.length >= 4 && raw[0] === 0 && raw[1] === 0 && raw[2] === 0 && raw[3] === 0);
      if (isIke && engine) {
        try {
          apply(engine.handle(
            port === 4500 ? raw.subarray(4) : raw,
            {
              address: a.hostname,
              port: a.port,
            },
            { address: local, port },
            Date.now(),
          ));
        } catch (e) {
          out({ type: "error", op: "handle", message: (e as Error).stack ?? String(e) });
        }
      }
    }
    for (const [id, at] of [...timers]) {
      if (at <= Date.now() && engine) {
        timers.delete(id);
        apply(engine.timer(id, Date.now()));
      }
    }
  }
  for (const sock of socks.values()) sock.close();
  Deno.exit(0);
}

if (import.meta.main && Deno.args[0] === "driver") {
  await driver(Deno.args[1]);
}

/** Test-side handle on a driver process running in a namespace. */
export class EngineDriver {
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: DriverLine[] = [];
  readonly #raw: string[] = [];
  #waiters: (() => void)[] = [];
  #closed = false;

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#stdin = child.stdin.getWriter();
    this.#pump(child.stdout, true);
    this.#pump(child.stderr, false);
  }

  async #pump(stream: ReadableStream<Uint8Array>, json: boolean): Promise<void> {
    let buf = "";
    try {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        buf += chunk;
        const parts = buf.split("\n");
        buf = parts.pop() ?? "";
        for (const p of parts) {
          this.#raw.push(p);
          if (json && p.startsWith("{")) this.#lines.push(JSON.parse(p) as DriverLine);
        }
        for (const w of this.#waiters.splice(0)) w();
      }
    } catch { /* stream cancelled */ }
    if (json) this.#closed = true;
    for (const w of this.#waiters.splice(0)) w();
  }

  /** Starts the driver in `ns` bound to `ip` (killed by `lab.cleanup()` at the latest). */
  static async start(lab: NetnsLab, ns: string, ip: string): Promise<EngineDriver> {
    const script = new URL(import.meta.url).pathname;
    const d = new EngineDriver(
      lab.spawnDenoIn(ns, script, ["driver", ip], ["-A", "--unstable-net"]),
    );
    await d.waitFor((o) => o.type === "ready", 0, 30_000);
    return d;
  }

  /** Index of the next line; pass it to {@link waitFor} to only see what comes after. */
  mark(): number {
    return this.#lines.length;
  }

  /** Lines received since `from`. */
  since(from: number): DriverLine[] {
    return this.#lines.slice(from);
  }

  /** Waits for a line at or after index `from` matching `pred`; throws with the output on timeout. */
  async waitFor(
    pred: (o: DriverLine) => boolean,
    from: number,
    ms = 15_000,
  ): Promise<DriverLine> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.#lines.slice(from).find(pred);
      if (hit) return hit;
      const err = this.#lines.slice(from).find((o) => o.type === "error");
      if (err) throw new Error(`engine driver error: ${err.message}\n${this.log(from)}`);
      if (this.#closed) throw new Error(`engine driver exited:\n${this.log(from)}`);
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`timed out waiting for the engine driver; it said:\n${this.log(from)}`);
      }
      let tid: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((res) => {
        this.#waiters.push(res);
        tid = setTimeout(res, left);
      });
      clearTimeout(tid);
    }
  }

  async #send(o: Record<string, unknown>): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode(JSON.stringify(o) + "\n"));
  }

  /** Replaces the engine with a fresh one for `spec`. */
  async configure(spec: EngineSpec): Promise<void> {
    const m = this.mark();
    await this.#send({ op: "config", spec });
    await this.waitFor((o) => o.type === "configured" || o.type === "error", m);
    const err = this.since(m).find((o) => o.type === "error");
    if (err) throw new Error(`engine rejected the configuration: ${err.message}`);
  }

  /** Starts the configured connection (we are the initiator). */
  initiate(): Promise<void> {
    return this.#send({ op: "initiate" });
  }

  /** Deletes every IKE SA (we send the Delete). */
  terminate(): Promise<void> {
    return this.#send({ op: "terminate" });
  }

  /** We rekey every IKE SA (CREATE_CHILD_SA with a new SA and KE). */
  rekeyIke(): Promise<void> {
    return this.#send({ op: "rekeyIke" });
  }

  /** We rekey every child SA (CREATE_CHILD_SA with N(REKEY_SA)). */
  rekeyChild(): Promise<void> {
    return this.#send({ op: "rekeyChild" });
  }

  /** Creates child `child` (a `moreChildren` name) on every established IKE SA. */
  createChild(child: string): Promise<void> {
    return this.#send({ op: "createChild", child });
  }

  /** Deletes every installed child SA named `child` (we send the Delete). */
  closeChild(child: string): Promise<void> {
    return this.#send({ op: "closeChild", child });
  }

  /** MOBIKE: binds `address` too and moves every IKE SA there (we must be the initiator). */
  move(address: string): Promise<void> {
    return this.#send({ op: "move", address });
  }

  /** Kills the driver at once (no Delete is sent: the peer must find out by itself). */
  async kill(): Promise<void> {
    try {
      this.#child.kill("SIGKILL");
    } catch { /* gone */ }
    await this.#child.status;
  }

  /** The engine's IKE SAs with negotiated algorithms and SPIs. */
  async list(): Promise<DriverIkeSa[]> {
    const m = this.mark();
    await this.#send({ op: "list" });
    const o = await this.waitFor((o) => o.type === "list", m);
    return o.sas as DriverIkeSa[];
  }

  /** Everything the driver printed (for failure reports), `log` lines as plain text. */
  log(from = 0): string {
    return this.#lines.slice(from).map((o) =>
      o.type === "log" ? `[${o.level}] ${o.line}` : JSON.stringify(o)
    ).join("\n") + "\n" + this.#raw.filter((l) => !l.startsWith("{")).join("\n");
  }

  /** Asks the driver to exit and waits (then SIGKILL). */
  async stop(): Promise<void> {
    await this.#send({ op: "quit" }).catch(() => {});
    await this.#stdin.close().catch(() => {});
    await awaitExit(this.#child, 3000);
  }
}
