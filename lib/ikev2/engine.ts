/**
 * The sans-I/O IKEv2 engine: initiator and responder for IKE_SA_INIT,
 * IKE_AUTH (PSK, certificates, EAP) with the first child SA, and INFORMATIONAL
 * (Delete, liveness checks). It owns no socket, clock or SAD: every call
 * takes the current time and returns the {@link Effect}s the host applies in
 * order (send a datagram, install/remove a child SA direction, arm/cancel a
 * timer, log a line, report an event).
 *
 * ```
 *   host                         IkeEngine                       tasks/*
 *   initiate(name, now) ──────►  new IKE SA, queue ike_init,
 *                                ike_auth(child) ───────────────► build payloads
 *   handle(bytes, from, to, now) decode ─► SA by SPI ─► window (mid, dup, rtx)
 *                                ─► decrypt (bad ICV: drop, count) ─► process
 *   timer(id, now) ────────────► retransmit / give up, DPD, half-open expiry
 *   ◄──── Effect[]: send | installSa | removeSa | setTimer | cancelTimer | log | event
 * ```
 *
 * Timer ids are opaque strings (`ike/<id>/rtx`, `.../dpd`, `.../rekey`,
 * `.../child/<id>/rekey` ...); a `setTimer` with a known id replaces the
 * earlier deadline. Message ids, retransmission (RFC 7296 section 2.1
 * back-off) and the cached response for retransmitted requests live in
 * {@link ExchangeWindow}, one per IKE SA.
 *
 * What it does: IKE_SA_INIT (proposal choice, INVALID_KE_PAYLOAD retry,
 * COOKIE above `cookieThreshold` half-open SAs, NAT detection, fragmentation
 * and signature-hash notifies), IKE_AUTH (PSK, RFC 7427/4754/8420 signatures
 * with CERT/CERTREQ and chain validation, PAD; EAP-MSCHAPv2/MD5 for the
 * initiator, as EAP peer or server, see tasks/ike_auth_eap.ts), the first child SA with
 * narrowing and transport mode, further children, child rekeying
 * (make-before-break, PFS, collisions per RFC 7296 2.8.1), IKE SA rekeying,
 * Delete, liveness checks with dpd_action, NAT-T (port 4500, keepalives,
 * port floating with `updateSa`), IKE fragmentation (RFC 7383), key
 * export for Wireshark (`exportKeys`), MOBIKE (RFC 4555: UPDATE_SA_ADDRESSES
 * with NAT detection and COOKIE2, additional addresses, NO_NATS_ALLOWED,
 * path switching; see {@link IkeEngine.updateAddresses}), simultaneous IKE
 * SA rekeys resolved by nonces (RFC 7296 2.8.2) and INVALID_SYNTAX answers
 * to authentic but malformed requests.
 *
 * Host duties: datagrams on the NAT-T port (4500) carry the 4-byte non-ESP
 * marker: strip it before {@link IkeEngine.handle} and add it to `send`
 * effects from port 4500 unless `raw` (a keepalive). Report SAD soft/hard
 * byte and packet limits with {@link IkeEngine.childExpired} and ESP with
 * unknown SPIs with {@link IkeEngine.invalidSpi}. MOBIKE: call
 * {@link IkeEngine.updateAddresses} when our address changes and
 * {@link IkeEngine.setLocalAddresses} when the host's address list does.
 *
 * @example
 * ```ts
 * import { IkeEngine } from "./engine.ts";
 *
 * const engine = new IkeEngine({ connections: [conn], secrets: [psk] });
 * const apply = (effects: Effect[]) => {
 *   for (const e of effects) {
 *     switch (e.kind) {
 *       case "send": udp.send(e.bytes, e.to); break;
 *       case "installSa": sad.install(e.sa); break;
 *       case "removeSa": sad.remove(e.spi, e.dst, e.protocol); break;
 *       case "setTimer": timers.arm(e.id, e.at, () => apply(engine.timer(e.id, Date.now()))); break;
 *       case "cancelTimer": timers.cancel(e.id); break;
 *       case "log": console.log(e.line); break;
 *       case "event": control.publish(e.event); break;
 *       // Revocation (certificates naming CRLs / OCSP responders) and EAP-RADIUS:
 *       case "fetchCrl": http.get(e.uri).then((r) => apply(engine.crlFetched(e.uri, r, Date.now()))); break;
 *       case "fetchOcsp": http.post(e.uri, e.request).then((r) => apply(engine.ocspFetched(e.key, r, Date.now()))); break;
 *       case "sendRadius": radius.send(e.bytes, e.to); break; // answers: engine.radiusAnswer(bytes, from, now)
 *     }
 *   }
 * };
 * apply(engine.initiate("site", Date.now()));
 * udp.onMessage((bytes, from, to) => apply(engine.handle(bytes, from, to, Date.now())));
 * ```
 *
 * @module
 */
import { type ChildSa, childSaInstalls } from "./child_sa.ts";
import {
  AuthMethod,
  CertEncoding,
  ExchangeType,
  notifyName,
  NotifyType,
  PayloadType,
  ProtocolId,
} from "./constants.ts";
import { formatIdentity } from "../db/identity.ts";
import type { CrlFetchResult, Effect, Endpoint, EngineEvent, LogLevel } from "./effects.ts";
import { IkeSa, type SaTask } from "./ike_sa.ts";
import { fragmentMessage, FragmentReassembler } from "./fragment.ts";
import {
  decodeMessage,
  decryptMessage,
  encodeMessage,
  encryptMessage,
  ikeSaProtection,
  IntegrityError,
  openProtected,
} from "./message.ts";
import { makeNotify, makeUnsupportedCritical, type NotifyPayload } from "./payloads/notify.ts";
import { ParseError } from "../wire/parse_error.ts";
import type { EngineConfig, PeerConfig } from "./peer_config.ts";
import {
  describeMessage,
  errorNotify,
  first,
  type IkeMessage,
  notify,
  type Payload,
} from "./tasks/_msg.ts";
import {
  buildChildRequest,
  newChild,
  NONCE_BYTES,
  processChildResponse,
  respondChild,
} from "./tasks/child_create.ts";
import { CookieJar } from "./tasks/cookie.ts";
import {
  buildAuthRequest,
  buildRoundRequest,
  checkRounds,
  eapAuthData,
  eapMethodLabel,
  type EapStart,
  idOf,
  idPayload,
  localRound,
  remoteRound,
  respondAuth,
  respondRound,
  verifyEapAuth,
  verifyResponderAuth,
} from "./tasks/ike_auth.ts";
import type { IdPayload } from "./payloads/id.ts";
import { certNames, type EapServerState, findEapSecret } from "./tasks/ike_auth_eap.ts";
import { gatewayNotify, redirectTarget } from "./tasks/redirect.ts";
import { EapPeer } from "../eap/eap_peer.ts";
import { EapServer, type EapServerStep } from "../eap/eap_server.ts";
import { RADIUS_RETRY_MS, RadiusEapProxy, type RadiusSend } from "../eap/radius_proxy.ts";
import { buildInitRequest, processInitResponse, respondInit } from "./tasks/ike_init.ts";
import {
  buildIkeRekeyRequest,
  processIkeRekeyResponse,
  respondIkeRekey,
} from "./tasks/ike_rekey.ts";
import {
  buildDeleteChild,
  buildDeleteIke,
  nextDpdAt,
  processInformationalRequest,
} from "./tasks/informational.ts";
import type { TaskContext } from "./tasks/task_context.ts";
import { espSaLines, ikev2DecryptionLine } from "./tasks/key_export.ts";
import {
  AddressPools,
  buildCpReply,
  type PoolInfo,
  readCpReply,
  requestedVipAddress,
  requestedVipFamilies,
  subnetAttributes,
  wantsSubnets,
} from "./tasks/config_payload.ts";
import { keGroups } from "./tasks/proposal_select.ts";
import { CONFIGURED_GROUP, createKeyExchange } from "../crypto/key_exchange.ts";
import type { KePayload } from "./payloads/ke.ts";
import { compareBytes, constantTimeEqual, toHex } from "../wire/bytes.ts";
import { buildNatd, NATT_PORT } from "./tasks/natd.ts";
import { RevocationCache, type RevocationEntry } from "../pki/revocation_cache.ts";
import { type Crl, formatSerial, parseCrls } from "../pki/crl.ts";
import { chainRevocationSources } from "../pki/distribution_points.ts";
import {
  checkOcspResponse,
  describeOcspStatus,
  type OcspCertId,
  ocspCertId,
  ocspRequest,
  type OcspStatus,
} from "../pki/ocsp.ts";
import {
  addressNotifies,
  buildUpdateRequest,
  COOKIE2_BYTES,
  cookie2Echo,
  mobikeAuthNotifies,
  natdEcho,
  probesNatMapping,
  processUpdateResponse,
  readPeerAddresses,
  respondUpdate,
  seenMapping,
} from "./tasks/mobike.ts";

export type { Effect, Endpoint, EngineEvent } from "./effects.ts";

/** Options of {@link IkeEngine}. */
export interface EngineOptions {
  /** Random bytes for SPIs, nonces, KE keys, IVs and cookie secrets (tests inject a seeded one). */
  readonly random?: (n: number) => Uint8Array;
  /** Time at construction (ms), for the cookie secret's rotation. */
  readonly now?: number;
  /**
   * Our address toward a peer (the host's route source), for a connection
   * whose local address was derived that way (`anyLocal`) when a REDIRECT
   * sends it to another gateway. Without it the configured address stays.
   */
  readonly localFor?: (remote: string) => string | undefined;
  /**
   * The current address of a connection's `remoteName` (a DNS name the host
   * re-resolves, as charon resolves at each initiation), or undefined to keep
   * `remoteAddress`. Consulted whenever we initiate to the configured peer.
   */
  readonly remoteFor?: (cfg: PeerConfig) => string | undefined;
}

/** Engine-wide counters (drops by reason, for `ipsec status` and tests). */
export interface EngineCounters {
  /** Datagrams that did not parse. */
  parseErrors: number;
  /** Protected messages whose ICV did not verify (dropped silently). */
  integrityFailures: number;
  /** Messages for no known IKE SA. */
  unknownSpi: number;
  /** Responses that matched no outstanding request. */
  unexpectedResponses: number;
  /** Retransmitted requests answered from the cache. */
  retransmittedRequests: number;
  /** Requests with a message id outside the window. */
  invalidMessageIds: number;
  /** COOKIE challenges sent. */
  cookiesSent: number;
  /** IKE_SA_INIT requests answered with a REDIRECT (RFC 5685). */
  redirectsSent: number;
  /** Retransmissions of our requests. */
  retransmits: number;
  /** Messages reassembled from IKE fragments. */
  fragmentsReassembled: number;
  /** Fragments dropped (malformed, duplicate, over the limits). */
  fragmentDrops: number;
}

/** A summary of one IKE SA (for status output and tests). */
export interface IkeSaInfo {
  readonly id: number;
  readonly name: string;
  readonly state: string;
  readonly initiator: boolean;
  readonly spiI: bigint;
  readonly spiR: bigint;
  readonly local: Endpoint;
  readonly remote: Endpoint;
  readonly localId?: string;
  readonly remoteId?: string;
  /** The peer's EAP identity when we authenticated it by EAP. */
  readonly remoteEapId?: string;
  /** How the peer authenticated (its AUTH method, or "EAP-<method> 'identity'"). */
  readonly auth?: string;
  /** When (ms, the host's clock) the IKE SA rekeys, reauthenticates and expires, if it will. */
  readonly rekeyAt?: number;
  readonly reauthAt?: number;
  readonly expiresAt?: number;
  readonly natLocal: boolean;
  readonly natRemote: boolean;
  /** Our virtual IP (assigned by the peer). */
  readonly vip?: string;
  /** The virtual IP we leased to the peer. */
  readonly peerVip?: string;
  /** All our virtual IPs when there are several (one per family); `vip` is the first. */
  readonly vips?: readonly string[];
  /** All virtual IPs leased to the peer when there are several; `peerVip` is the first. */
  readonly peerVips?: readonly string[];
  readonly children: readonly {
    readonly id: number;
    readonly name: string;
    readonly state: string;
    readonly spiIn: number;
    readonly spiOut: number;
    readonly mode: "tunnel" | "transport";
  }[];
}

const DEFAULT_COOKIE_THRESHOLD = 1000;
const IKE_PORT = 500;
/** Default largest IP packet for IKE messages before fragmenting (RFC 7383; IPv6-safe). */
const DEFAULT_FRAGMENT_SIZE = 1280;
const DEFAULT_HALF_OPEN_SECONDS = 30;
/** How long the redundant SA of a simultaneous IKE rekey may wait for its Delete. */
const REDUNDANT_SA_TTL_MS = 60_000;

/** The pool name that stands for the RADIUS server's Framed-IP-Address (charon's `pools = radius`). */
export const RADIUS_POOL = "radius";
/** How long a peer's IKE_AUTH waits for the CRLs its certificates name (charon's fetch timeout). */
export const CRL_WAIT_MS = 10_000;

function defaultRandom(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

function u64(b: Uint8Array): bigint {
  return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0);
}

/** The codec's header fields of a task message. */
function wireHeader(m: IkeMessage) {
  return {
    spiI: m.spiI,
    spiR: m.spiR,
    exchangeType: m.exchange,
    initiator: m.initiator,
    response: m.response,
    messageId: m.mid,
  };
}

function addressMatches(pattern: string, address: string): boolean {
  return pattern === "%any" || pattern === "0.0.0.0" || pattern === "::" || pattern === address;
}

/** A redirect to a gateway named by DNS, waiting for the name's addresses. */
interface PendingRedirect {
  readonly config: PeerConfig;
  /** The redirected IKE SA's label and id (for logs and its `ike-failed` event). */
  readonly label: string;
  readonly ikeSaId: number;
  /** The gateway that redirected us. */
  readonly from: string;
  readonly history: number[];
  /** The IKE SA the new one replaces (a reauthentication, or the established one redirected). */
  readonly reauthOf?: number;
  readonly attempt: number;
  /** Redirected while established (RFC 5685 section 5): that SA stays if this fails. */
  readonly established: boolean;
}

/** The sans-I/O IKEv2 engine (see the module documentation). */
export class IkeEngine {
  #config: EngineConfig;
  readonly counters: EngineCounters = {
    parseErrors: 0,
    integrityFailures: 0,
    unknownSpi: 0,
    unexpectedResponses: 0,
    retransmittedRequests: 0,
    invalidMessageIds: 0,
    cookiesSent: 0,
    redirectsSent: 0,
    retransmits: 0,
    fragmentsReassembled: 0,
    fragmentDrops: 0,
  };
  #random: (n: number) => Uint8Array;
  #sas = new Map<number, IkeSa>();
  #bySpi = new Map<bigint, IkeSa>();
  /** Responder SAs by `SPIi|address|port` of their IKE_SA_INIT (retransmits). */
  #byInit = new Map<string, IkeSa>();
  /** Responder SAs that are not established yet. */
  #halfOpen = new Set<IkeSa>();
  readonly #localFor: ((remote: string) => string | undefined) | undefined;
  /** Redirects waiting for their gateway's DNS name to resolve (`resolveName`), by name. */
  readonly #pendingNames = new Map<string, PendingRedirect[]>();
  readonly #remoteFor: ((cfg: PeerConfig) => string | undefined) | undefined;
  /** Inbound SAs of rekeyed children awaiting removal after the grace period, by timer id. */
  #lingering = new Map<string, Effect>();
  /** Latest time seen by a public call (for work that needs "now" deep inside). */
  #now = 0;
  #cookies: CookieJar;
  #pools: AddressPools;
  #nextId = 1;
  /** This host's addresses for MOBIKE's ADDITIONAL_*_ADDRESS lists. */
  #localAddresses: readonly string[];
  #fx: Effect[] = [];
  #ctx: TaskContext;
  /** CRLs fetched from the distribution points of peer certificates. */
  #crls = new RevocationCache<Crl>();
  /** The last RADIUS Identifier used (EAP pass-through). */
  #radiusId = 0;
  /** Verified OCSP answers, by responder and certificate. */
  #ocsp = new RevocationCache<OcspStatus>();
  /** OCSP questions in flight, by key: what the answer must be about. */
  #ocspAsked = new Map<
    string,
    { uri: string; certId: OcspCertId; issuer: Uint8Array; nonce: Uint8Array }
  >();

  constructor(config: EngineConfig, opts: EngineOptions = {}) {
    this.#config = config;
    this.#random = opts.random ?? defaultRandom;
    this.#localFor = opts.localFor;
    this.#remoteFor = opts.remoteFor;
    this.#cookies = new CookieJar(
      this.#random,
      (config.cookieSecretLifetimeSeconds ?? 120) * 1000,
      opts.now ?? 0,
    );
    this.#pools = new AddressPools(config.pools ?? []);
    this.#localAddresses = config.localAddresses ?? [];
    const current = () => this.#config;
    this.#ctx = {
      random: (n) => this.#random(n),
      get config() {
        return current();
      },
      log: (level, line) => this.#log(level, line),
      fetchedCrls: () => this.#crls.items(),
      fetchedOcsp: () => this.#ocsp.items(),
    };
  }

  /** The configuration new IKE SAs are made from (see {@link IkeEngine.reconfigure}). */
  get config(): EngineConfig {
    return this.#config;
  }

  /**
   * Takes a new configuration (`ipsec reload`) without touching live SAs:
   * each IKE SA keeps the connection it was made from (its children, rekeys
   * and reauthentication follow it) until it is deleted; new SAs, `initiate`
   * and peers' new requests use `config`. Leases of address pools that still
   * exist are kept. To change what a live SA does, terminate it first (the
   * daemon does that for changed and removed connections).
   */
  reconfigure(config: EngineConfig): void {
    this.#config = config;
    this.#pools = this.#pools.reconfigure(config.pools ?? []);
    if (config.localAddresses) this.#localAddresses = config.localAddresses;
  }

  // ---------------------------------------------------------------------------
  // Public API

  /** Starts connection `name` as initiator: IKE_SA_INIT, then IKE_AUTH with its first child. */
  initiate(name: string, now: number): Effect[] {
    return this.#run(now, () => {
      const cfg = this.config.connections.find((c) => c.name === name);
      if (!cfg) throw new RangeError(`no connection named '${name}'`);
      this.#startInitiator(cfg, now);
    });
  }

  /**
   * Feeds one received datagram (`bytes` without the non-ESP marker),
   * `from` the peer's endpoint and `to` ours.
   */
  handle(bytes: Uint8Array, from: Endpoint, to: Endpoint, now: number): Effect[] {
    return this.#run(now, () => this.#handle(bytes, from, to, now));
  }

  /** A timer armed by a `setTimer` effect fired. Unknown or stale ids do nothing. */
  timer(id: string, now: number): Effect[] {
    return this.#run(now, () => this.#timer(id, now));
  }

  /**
   * Gateway: sends the client of established IKE SA `ikeSaId` to another
   * gateway (INFORMATIONAL with N(REDIRECT), RFC 5685 section 5, as
   * `swanctl --redirect`); the client brings up a new IKE SA there and
   * deletes this one. Throws a RangeError for an unknown SA, an SA we
   * initiated, or a gateway that is not an IP address.
   */
  redirect(ikeSaId: number, gateway: string, now: number): Effect[] {
    return this.#run(now, () => {
      const sa = this.#sas.get(ikeSaId);
      if (!sa || !sa.established) throw new RangeError(`no established IKE SA ${ikeSaId}`);
      if (sa.originalInitiator) {
        throw new RangeError(`IKE SA ${ikeSaId} is ours: only a gateway redirects its clients`);
      }
      const n = gatewayNotify(gateway, new Uint8Array(0));
      if (!n) throw new RangeError(`'${gateway}' is neither an IP address nor a DNS name`);
      this.#log("info", `${sa.label} redirecting peer to ${gateway}`);
      this.#queue(sa, { kind: "notify", payloads: [n] }, now);
    });
  }

  /**
   * The answer to a `resolveName` effect: the addresses of the gateway's
   * name a REDIRECT named (RFC 5685 section 8, FQDN), or why there are none.
   * Each redirect waiting for it goes on to an address of the family it was
   * redirected from (else the first); without one its connection fails
   * (an established IKE SA that was redirected stays as it is).
   */
  nameResolved(
    name: string,
    result: { readonly addresses: readonly string[] } | { readonly error: string },
    now: number,
  ): Effect[] {
    return this.#run(now, () => {
      const waiting = this.#pendingNames.get(name) ?? [];
      this.#pendingNames.delete(name);
      const all = "addresses" in result ? result.addresses : [];
      for (const p of waiting) {
        const v6 = p.from.includes(":");
        const to = all.find((a) => a.includes(":") === v6) ?? all[0];
        const why = to === undefined
          ? `cannot resolve ${name}: ${"error" in result ? result.error : "no address"}`
          : to === p.from
          ? `peer redirects us to itself (${name} is ${to})`
          : undefined;
        if (why !== undefined) {
          this.#log("warn", `${p.label} redirect by ${p.from} not followed: ${why}`);
          if (!p.established) {
            this.#event({
              type: "ike-failed",
              ikeSaId: p.ikeSaId,
              connectionName: p.config.name,
              reason: `redirected to ${name}, ${why}`,
            });
          }
          continue;
        }
        this.#log("info", `${p.label} ${name} is ${to}, following the redirect`);
        const replaced = p.reauthOf !== undefined ? this.#sas.get(p.reauthOf) : undefined;
        const next = this.#startInitiator(p.config, now, replaced, {
          to: to!,
          from: p.from,
          history: p.history,
        });
        next.attempt = p.attempt;
      }
    });
  }

  /** Asks the host to resolve a redirect's gateway name; `p` goes on in {@linkcode nameResolved}. */
  #resolveFor(name: string, p: PendingRedirect): void {
    const waiting = this.#pendingNames.get(name);
    if (waiting) {
      waiting.push(p);
      return;
    }
    this.#pendingNames.set(name, [p]);
    this.#fx.push({ kind: "resolveName", name });
  }

  /** Deletes IKE SA `ikeSaId` and its children (INFORMATIONAL with D(IKE)). */
  terminate(ikeSaId: number, now: number, reason = "terminated"): Effect[] {
    return this.#run(now, () => {
      const sa = this.#sas.get(ikeSaId);
      if (!sa) return;
      if (!sa.established) {
        this.#destroy(sa, reason, "ike-down");
        return;
      }
      this.#queue(sa, { kind: "delete_ike", reason }, now);
    });
  }

  /** Deletes child SA `childSaId` (INFORMATIONAL with D(ESP/AH)). */
  closeChild(childSaId: number, now: number): Effect[] {
    return this.#run(now, () => {
      for (const sa of this.#sas.values()) {
        const c = sa.children.get(childSaId);
        if (!c || c.state !== "installed") continue;
        c.transition("deleting");
        this.#queue(sa, { kind: "delete_child", childId: c.id, reason: "closed" }, now);
      }
    });
  }

  /**
   * The data plane received ESP/AH with an SPI it does not know from
   * `peerAddress`: tell that peer in an INFORMATIONAL N(INVALID_SPI) over an
   * established IKE SA with it, if there is one (RFC 7296 section 3.10.1).
   * At most one such notify is queued per IKE SA.
   */
  invalidSpi(peerAddress: string, protocol: "esp" | "ah", spi: number, now: number): Effect[] {
    return this.#run(now, () => {
      const sa = [...this.#sas.values()].find((s) =>
        s.established && s.remote.address === peerAddress
      );
      if (!sa || sa.pending.some((t) => t.kind === "notify")) return;
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, spi);
      const n = makeNotify(
        NotifyType.INVALID_SPI,
        b,
        protocol === "esp" ? ProtocolId.ESP : ProtocolId.AH,
      );
      this.#queue(sa, { kind: "notify", payloads: [n] }, now);
    });
  }

  /**
   * The answer to a `fetchCrl` effect: the bytes fetched from `uri` (DER or
   * PEM, one or more CRLs) or why there are none. Held IKE_AUTH messages
   * whose every CRL is in are handled now.
   */
  crlFetched(
    uri: string,
    result: CrlFetchResult,
    now: number,
  ): Effect[] {
    return this.#run(now, () => {
      if ("bytes" in result) {
        try {
          const crls = parseCrls(result.bytes, uri);
          if (crls.length === 0) throw new Error("no CRL in what the server sent");
          this.#crls.fetched(uri, crls, now);
          for (const c of crls) {
            this.#log(
              "info",
              `fetched the CRL of "${c.issuer}" from ${uri}: ${c.revoked.size} revoked${
                c.nextUpdate ? `, next update ${c.nextUpdate.toISOString()}` : ""
              }`,
            );
          }
        } catch (e) {
          this.#crls.failed(uri, (e as Error).message, now);
          this.#log("warn", `no CRL from ${uri}: ${(e as Error).message}`);
        }
      } else {
        this.#crls.failed(uri, result.error, now);
        this.#log("warn", `cannot fetch the CRL at ${uri}: ${result.error}`);
      }
      this.#answered(uri, now);
    });
  }

  /**
   * The answer to a `fetchOcsp` effect: the responder's bytes or why there
   * are none. Only a response that verifies (see lib/pki/ocsp.ts) counts.
   */
  ocspFetched(key: string, result: CrlFetchResult, now: number): Effect[] {
    return this.#run(now, () => {
      const q = this.#ocspAsked.get(key);
      if (!q) return;
      this.#ocspAsked.delete(key);
      const what = `OCSP responder ${q.uri} (serial ${formatSerial(q.certId.serial)})`;
      if ("bytes" in result) {
        try {
          const s = checkOcspResponse(result.bytes, {
            certId: q.certId,
            issuer: q.issuer,
            nonce: q.nonce,
            now,
          });
          this.#ocsp.fetched(key, [s], now);
          this.#log("info", `${what}: ${describeOcspStatus(s)} (${s.signer} signed)`);
        } catch (e) {
          this.#ocsp.failed(key, (e as Error).message, now);
          this.#log("warn", `${what}: ${(e as Error).message}`);
        }
      } else {
        this.#ocsp.failed(key, result.error, now);
        this.#log("warn", `${what}: cannot ask: ${result.error}`);
      }
      this.#answered(key, now);
    });
  }

  /** An answer about `key` is in: held IKE_AUTH messages with nothing else to wait for go on. */
  #answered(key: string, now: number): void {
    for (const sa of this.#sas.values()) {
      if (!sa.revocationWait?.uris.delete(key) || sa.revocationWait.uris.size > 0) continue;
      this.#releaseRevocationWait(sa, now);
    }
  }

  /** OCSP answers by responder and certificate (for status views). */
  fetchedOcsp(): [string, RevocationEntry<OcspStatus>][] {
    return this.#ocsp.entries();
  }

  /** The CRLs fetched from distribution points, by URI (for status views). */
  fetchedCrls(): [string, RevocationEntry<Crl>][] {
    return this.#crls.entries();
  }

  /**
   * Reauthenticates IKE SA `ikeSaId` make-before-break: a new IKE SA with
   * full IKE_AUTH (no INITIAL_CONTACT) and new child SAs comes up first,
   * then the old one is deleted.
   */
  reauthenticate(ikeSaId: number, now: number): Effect[] {
    return this.#run(now, () => {
      const sa = this.#sas.get(ikeSaId);
      if (!sa?.established || sa.rekeyedTo !== undefined) return;
      if (sa.config.remoteAddress === "%any") {
        this.#log("warn", `${sa.label} cannot reauthenticate: peer address unknown in config`);
        return;
      }
      this.#log("info", `${sa.label} reauthenticating IKE_SA`);
      // A redirected IKE SA reauthenticates with the gateway it was sent to.
      this.#startInitiator(
        sa.config,
        now,
        sa,
        sa.redirectedFrom !== undefined
          ? { to: sa.remote.address, from: sa.redirectedFrom, history: sa.redirects }
          : undefined,
      );
    });
  }

  /** Rekeys IKE SA `ikeSaId` now (new SPIs and keys; the child SAs move over). */
  rekeyIke(ikeSaId: number, now: number): Effect[] {
    return this.#run(now, () => {
      const sa = this.#sas.get(ikeSaId);
      if (sa?.established && sa.rekeyedTo === undefined) {
        this.#queue(sa, { kind: "rekey_ike" }, now);
      }
    });
  }

  /** Rekeys child SA `childSaId` now (CREATE_CHILD_SA with REKEY_SA, make-before-break). */
  rekeyChild(childSaId: number, now: number): Effect[] {
    return this.#run(
      now,
      () => this.#forChild(childSaId, (sa, c) => this.#childLifetime(sa, c, "soft", now)),
    );
  }

  /**
   * The SAD reports a child SA's soft (rekey) or hard (delete) byte/packet
   * lifetime, or its sequence numbers running out (soft).
   */
  childExpired(childSaId: number, kind: "soft" | "hard", now: number): Effect[] {
    return this.#run(
      now,
      () => this.#forChild(childSaId, (sa, c) => this.#childLifetime(sa, c, kind, now)),
    );
  }

  /**
   * Authenticated ESP of child SA `childSaId` came from `from`, not from the
   * IKE SA's peer endpoint: a NAT in front of the peer mapped it anew. When
   * the peer is behind a NAT and we are not, the IKE SA and its child SAs
   * follow (RFC 7296 section 2.23 SHOULD, and RFC 4555 section 3.8 MAY with
   * MOBIKE: a peer that checks no liveness would otherwise never be reached
   * again); otherwise nothing changes.
   */
  peerMapping(childSaId: number, from: Endpoint, now: number): Effect[] {
    return this.#run(now, () =>
      this.#forChild(childSaId, (sa) => {
        if (!sa.established || !sa.natRemote || sa.natLocalSeen) return;
        if (sa.remote.address === from.address && sa.remote.port === from.port) return;
        this.#log(
          "info",
          `${sa.label} ESP from ${from.address}[${from.port}]: the peer's NAT mapping changed, following it`,
        );
        sa.remote = { address: from.address, port: from.port };
        this.#updateChildEndpoints(sa);
      }));
  }

  /** Creates another child SA from connection config `childName` on IKE SA `ikeSaId`. */
  createChild(ikeSaId: number, childName: string, now: number): Effect[] {
    return this.#run(now, () => {
      const sa = this.#sas.get(ikeSaId);
      const config = sa?.config.children.find((c) => c.name === childName);
      if (!sa || !config) throw new RangeError(`no IKE SA ${ikeSaId} with child '${childName}'`);
      this.#queue(sa, { kind: "create_child", config }, now);
    });
  }

  /**
   * MOBIKE (RFC 4555 section 3.5), original initiator only: our address
   * changed, or the current path died. Moves IKE SA `ikeSaId` to `local`
   * (and the peer's `remote`, e.g. one of its additional addresses, default
   * unchanged) on port 4500 and sends INFORMATIONAL { N(UPDATE_SA_ADDRESSES),
   * N(NAT_DETECTION_*), N(COOKIE2) } from there; once the peer answers, the
   * child SAs follow in place (`updateSa` effects) and an `ike-updated` event
   * is reported. Without MOBIKE on the SA it only logs a warning.
   */
  updateAddresses(ikeSaId: number, local: string, now: number, remote?: string): Effect[] {
    return this.#run(now, () => {
      const sa = this.#sas.get(ikeSaId);
      if (!sa?.established || sa.rekeyedTo !== undefined) return;
      if (!sa.originalInitiator || !sa.mobike) {
        this.#log(
          "warn",
          `${sa.label} cannot move the IKE_SA to ${local}: ${
            sa.originalInitiator
              ? "the peer does not support MOBIKE"
              : "only the initiator may (MOBIKE)"
          }`,
        );
        return;
      }
      sa.local = { address: local, port: NATT_PORT };
      sa.remote = {
        address: remote ?? sa.remote.address,
        port: remote !== undefined || sa.remote.port === IKE_PORT ? NATT_PORT : sa.remote.port,
      };
      this.#log(
        "info",
        `${sa.label} moving IKE_SA to ${sa.local.address}[${sa.local.port}] - ${sa.remote.address}[${sa.remote.port}]`,
      );
      // A newer update supersedes one that was not sent yet.
      const keep = sa.pending.filter((t) => t.kind !== "mobike_update");
      sa.pending.splice(0, sa.pending.length, ...keep);
      this.#queue(sa, { kind: "mobike_update" }, now);
    });
  }

  /**
   * This host's addresses changed (MOBIKE): they are announced to every
   * MOBIKE peer in an INFORMATIONAL with ADDITIONAL_IP4/6_ADDRESS (or
   * NO_ADDITIONAL_ADDRESSES) and in later IKE_AUTH exchanges.
   */
  setLocalAddresses(addresses: readonly string[], now: number): Effect[] {
    return this.#run(now, () => {
      this.#localAddresses = [...addresses];
      for (const sa of this.#sas.values()) {
        if (!sa.established || !sa.mobike || sa.rekeyedTo !== undefined) continue;
        this.#queue(sa, {
          kind: "notify",
          payloads: addressNotifies(this.#localAddresses, sa.local.address),
        }, now);
      }
    });
  }

  /** Summaries of all IKE SAs. */
  list(): IkeSaInfo[] {
    return [...this.#sas.values()].map((sa) => ({
      id: sa.id,
      name: sa.config.name,
      state: sa.state,
      initiator: sa.initiator,
      spiI: sa.spiI,
      spiR: sa.spiR,
      local: sa.local,
      remote: sa.remote,
      ...(sa.localId ? { localId: sa.localId.value } : {}),
      ...(sa.remoteId ? { remoteId: sa.remoteId.value } : {}),
      ...(sa.eapIdentity !== undefined ? { remoteEapId: sa.eapIdentity } : {}),
      ...(sa.authInfo ? { auth: sa.authInfo } : {}),
      ...(sa.established && sa.rekeyAt ? { rekeyAt: sa.rekeyAt } : {}),
      ...(sa.established && sa.reauthAt ? { reauthAt: sa.reauthAt } : {}),
      ...(sa.established && sa.expireAt ? { expiresAt: sa.expireAt } : {}),
      natLocal: sa.natLocal,
      natRemote: sa.natRemote,
      ...(sa.vip ? { vip: sa.vip } : {}),
      ...(sa.peerVip ? { peerVip: sa.peerVip.address } : {}),
      ...(sa.vips.length > 1 ? { vips: [...sa.vips] } : {}),
      ...(sa.peerVips.length > 1 ? { peerVips: sa.peerVips.map((v) => v.address) } : {}),
      children: [...sa.children.values()].map((c) => ({
        id: c.id,
        name: c.config.name,
        state: c.state,
        spiIn: c.spiIn,
        spiOut: c.spiOut,
        mode: c.mode,
      })),
    }));
  }

  /** The live IKE SA object (tests and the daemon's status command; do not mutate). */
  ikeSa(id: number): IkeSa | undefined {
    return this.#sas.get(id);
  }

  /** Virtual IPs leased from pool `name` (status output and tests). */
  leases(name: string): string[] {
    return this.#pools.inUse(name);
  }

  /** The virtual IP pools with their leases (`ipsec list-pools`). */
  pools(): PoolInfo[] {
    return this.#pools.describe();
  }

  /** Number of responder IKE SAs still in IKE_SA_INIT/IKE_AUTH. */
  get halfOpenCount(): number {
    return this.#halfOpen.size;
  }

  // ---------------------------------------------------------------------------
  // Plumbing

  #run(now: number, f: () => void): Effect[] {
    const outer = this.#fx;
    this.#fx = [];
    this.#now = Math.max(this.#now, now);
    try {
      f();
      return this.#fx;
    } finally {
      this.#fx = outer;
    }
  }

  #log(level: LogLevel, line: string): void {
    this.#fx.push({ kind: "log", level, line });
  }

  #event(event: EngineEvent): void {
    this.#fx.push({ kind: "event", event });
  }

  #send(sa: IkeSa | undefined, from: Endpoint, to: Endpoint, packets: readonly Uint8Array[]) {
    for (const bytes of packets) this.#fx.push({ kind: "send", from, to, bytes });
    void sa;
  }

  #timerId(sa: IkeSa, what: string): string {
    return `ike/${sa.id}/${what}`;
  }

  #register(sa: IkeSa): void {
    this.#sas.set(sa.id, sa);
    this.#bySpi.set(sa.localSpi, sa);
  }

  #newSpi(): bigint {
    for (;;) {
      const v = u64(this.#random(8));
      if (v !== 0n && !this.#bySpi.has(v)) return v;
    }
  }

  /**
   * Encodes and protects a message; above the fragment size, when both ends
   * announced IKEV2_FRAGMENTATION_SUPPORTED, as SKF fragments (RFC 7383).
   */
  #encodeProtected(sa: IkeSa, m: IkeMessage): Uint8Array[] {
    const bytes = this.#encode(sa, m);
    if (
      m.exchange === ExchangeType.IKE_SA_INIT || !sa.peerFragmentation ||
      sa.config.fragmentation === false || sa.config.fragmentation === "accept"
    ) return [bytes];
    const v6 = sa.remote.address.includes(":");
    // IP packet size -> IKE message size: IP header, UDP header, non-ESP marker on 4500.
    const max = (sa.config.fragmentSize ?? DEFAULT_FRAGMENT_SIZE) - (v6 ? 40 : 20) - 8 -
      (sa.local.port === NATT_PORT ? 4 : 0);
    if (bytes.length <= max) return [bytes];
    const header = wireHeader(m);
    const frags = fragmentMessage(
      { header, payloads: [...m.payloads] },
      sa.protection!.outbound,
      max,
    );
    this.#log(
      "debug",
      `${sa.label} split ${bytes.length}-byte message into ${frags.length} fragments`,
    );
    return frags;
  }

  /** Encodes (and for all but IKE_SA_INIT encrypts) a message of `sa`. */
  #encode(sa: IkeSa, m: IkeMessage): Uint8Array {
    const header = wireHeader(m);
    this.#log("info", `${sa.label} generating ${describeMessage(m)}`);
    if (m.exchange === ExchangeType.IKE_SA_INIT) {
      return encodeMessage({ header, payloads: [...m.payloads] });
    }
    if (!sa.protection) throw new Error(`${sa.label}: no keys to protect ${describeMessage(m)}`);
    return encryptMessage({ header, payloads: [...m.payloads] }, sa.protection.outbound);
  }

  #message(sa: IkeSa, exchange: number, mid: number, response: boolean, payloads: Payload[]) {
    return {
      spiI: sa.spiI,
      spiR: sa.spiR,
      exchange,
      mid,
      response,
      initiator: sa.initiator,
      encrypted: exchange !== ExchangeType.IKE_SA_INIT,
      payloads,
    } satisfies IkeMessage;
  }

  // ---------------------------------------------------------------------------
  // Initiator start and the request queue

  #startInitiator(
    cfg: PeerConfig,
    now: number,
    reauthOf?: IkeSa,
    redirect?: { to: string; from: string; history: number[] },
  ): IkeSa {
    // A redirect's gateway, else the peer's name as the host resolves it now, else the config's.
    const to = redirect?.to ??
      (cfg.remoteName !== undefined ? this.#remoteFor?.(cfg) : undefined) ?? cfg.remoteAddress;
    const sa = new IkeSa({
      id: this.#nextId++,
      initiator: true,
      config: cfg,
      spiI: this.#newSpi(),
      spiR: 0n,
      local: {
        address: to !== cfg.remoteAddress && cfg.anyLocal
          ? this.#localFor?.(to) ?? cfg.localAddress
          : cfg.localAddress,
        port: cfg.localPort ?? 500,
      },
      remote: { address: to, port: cfg.remotePort ?? 500 },
      now,
      retransmit: cfg.retransmit ?? this.config.retransmit,
    });
    if (redirect) {
      sa.redirectedFrom = redirect.from;
      sa.redirects = redirect.history;
    }
    this.#register(sa);
    sa.transition("connecting");
    sa.reauthOf = reauthOf?.id;
    // Reauthenticating, ask for the virtual IPs the old SA holds (as charon does).
    if (reauthOf) sa.reauthVips = [...reauthOf.vips];
    sa.peerHasOtherSa = [...this.#sas.values()].some((o) =>
      o !== sa && o.state === "established" && o.remote.address === sa.remote.address
    );
    this.#log("info", `${sa.label} initiating IKE_SA to ${sa.remote.address}`);
    sa.pending.push({ kind: "ike_init" }, { kind: "ike_auth" });
    this.#pump(sa, now);
    return sa;
  }

  #queue(sa: IkeSa, task: SaTask, now: number): void {
    sa.pending.push(task);
    this.#pump(sa, now);
  }

  /** Sends the next queued request when the window is free. */
  #pump(sa: IkeSa, now: number): void {
    while (!sa.window.busy && sa.pending.length > 0 && sa.state !== "destroyed") {
      const task = sa.pending.shift()!;
      let payloads: Payload[];
      let exchange: number = ExchangeType.INFORMATIONAL;
      try {
        switch (task.kind) {
          case "ike_init":
            exchange = ExchangeType.IKE_SA_INIT;
            payloads = buildInitRequest(sa, this.#ctx);
            break;
          case "ike_auth": {
            exchange = ExchangeType.IKE_AUTH;
            if (task.followUp) {
              payloads = [...task.followUp];
              break;
            }
            const childCfg = childlessAuth(sa) ? undefined : sa.config.children[0];
            let childPayloads: Payload[] = [];
            if (childCfg) {
              const child = newChild(sa, childCfg, this.#ctx, this.#nextId++);
              task.child = child;
              childPayloads = buildChildRequest(sa, child);
            }
            payloads = buildAuthRequest(sa, this.#ctx, childPayloads);
            if (sa.config.mobike !== false) {
              payloads.push(...mobikeAuthNotifies(this.#localAddresses, sa.local.address));
            }
            break;
          }
          case "delete_ike":
            payloads = buildDeleteIke();
            sa.transition("deleting");
            break;
          case "delete_child": {
            const c = sa.children.get(task.childId);
            if (!c) continue;
            payloads = buildDeleteChild(c);
            break;
          }
          case "dpd":
            // RFC 4555 section 3.8: behind a NAT, a MOBIKE initiator's liveness
            // check asks the peer where it sees us (NAT detection both ways).
            payloads = probesNatMapping(sa) ? buildNatd(sa.spiI, sa.spiR, sa.local, sa.remote) : [];
            sa.dpdPending = true;
            break;
          case "create_child": {
            exchange = ExchangeType.CREATE_CHILD_SA;
            const old = task.rekeyOf !== undefined ? sa.children.get(task.rekeyOf) : undefined;
            if (task.rekeyOf !== undefined) {
              if (!old || (old.state !== "installed" && old.state !== "rekeying")) continue;
              old.transition("rekeying");
              task.oldChild = old;
            }
            const child = newChild(sa, task.config, this.#ctx, this.#nextId++);
            task.child = child;
            task.nonce = this.#random(NONCE_BYTES);
            const group = task.group ?? keGroups(task.config.proposals)[0];
            let ke: KePayload | undefined;
            if (group) {
              task.kex = createKeyExchange(group, this.#random, CONFIGURED_GROUP);
              ke = { type: PayloadType.KE, group, data: task.kex.publicKey };
            }
            payloads = buildChildRequest(sa, child, {
              nonce: task.nonce,
              ...(ke ? { ke } : {}),
              ...(old ? { rekeyOf: old } : {}),
            });
            break;
          }
          case "auth_failed":
            payloads = [makeNotify(NotifyType.AUTHENTICATION_FAILED)];
            break;
          case "mobike_update":
            if (!sa.established) continue;
            task.cookie2 = this.#random(COOKIE2_BYTES);
            payloads = buildUpdateRequest(sa, task.cookie2, sa.config.noNatsAllowed === true);
            break;
          case "notify":
            payloads = [...task.payloads];
            break;
          case "rekey_ike": {
            if (!sa.established || sa.rekeyedTo !== undefined) continue;
            if (this.#childWorkInProgress(sa)) {
              // Let child rekeys settle first; try again shortly.
              this.#armIkeRekey(sa, now, 5000);
              continue;
            }
            exchange = ExchangeType.CREATE_CHILD_SA;
            const fresh = this.#successor(sa, true, now);
            task.fresh = fresh;
            payloads = buildIkeRekeyRequest(sa, fresh, this.#ctx, task.group);
            break;
          }
        }
      } catch (e) {
        this.#log("error", `${sa.label} cannot build ${task.kind}: ${(e as Error).message}`);
        this.#fail(sa, `cannot build ${task.kind}: ${(e as Error).message}`);
        return;
      }
      const mid = sa.window.nextMid;
      const m = this.#message(sa, exchange, mid, false, payloads);
      let packets: Uint8Array[];
      try {
        packets = this.#encodeProtected(sa, m);
      } catch (e) {
        this.#fail(sa, `cannot encode ${task.kind}: ${(e as Error).message}`);
        return;
      }
      if (exchange === ExchangeType.IKE_SA_INIT) sa.initRequest = packets[0];
      if (task.kind === "auth_failed") {
        // Nothing to wait for: tell the peer and forget the SA (RFC 7296 2.21.2).
        this.#send(sa, sa.local, sa.remote, packets);
        this.#destroy(sa, task.reason, "ike-failed");
        return;
      }
      sa.active = task;
      const deadline = sa.window.startRequest(mid, exchange, packets, now);
      this.#send(sa, sa.local, sa.remote, packets);
      this.#fx.push({ kind: "setTimer", id: this.#timerId(sa, "rtx"), at: deadline });
    }
  }

  // ---------------------------------------------------------------------------
  // Receiving
  /** When a message of another IKE major version was last reported, by source address. */
  readonly #versionReported = new Map<string, number>();

  /**
   * A message of another major version than 2 (RFC 7296 section 2.5). IKEv1
   * is dropped with a log line saying so (once a minute per peer, as a
   * misconfigured peer retransmits); a request of a higher version gets an
   * unauthenticated N(INVALID_MAJOR_VERSION) in a version 2.0 header, as the
   * RFC says it SHOULD.
   */
  #otherVersion(bytes: Uint8Array, from: Endpoint, to: Endpoint, now: number): void {
    const major = bytes[17] >> 4;
    const last = this.#versionReported.get(from.address);
    if (last === undefined || now - last >= 60_000) {
      if (this.#versionReported.size >= 1024) this.#versionReported.clear();
      this.#versionReported.set(from.address, now);
      this.#log(
        "info",
        major === 1
          ? `IKEv1 message from ${from.address}[${from.port}] dropped: only IKEv2 is spoken here (the peer must use IKE version 2)`
          : `IKE version ${major} message from ${from.address}[${from.port}] dropped: only version 2 is spoken here`,
      );
    }
    const flags = bytes[19];
    if (major < 2 || (flags & 0x20) !== 0) return; // not for IKEv1, never to a response
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const out = encodeMessage({
      header: {
        spiI: view.getBigUint64(0),
        spiR: view.getBigUint64(8),
        exchangeType: bytes[18],
        initiator: (flags & 0x08) === 0,
        response: true,
        messageId: view.getUint32(20),
      },
      // The version we speak goes in this header (RFC 7296 section 3.10.1), the data is empty.
      payloads: [makeNotify(NotifyType.INVALID_MAJOR_VERSION)],
    });
    this.#fx.push({ kind: "send", from: to, to: from, bytes: out });
  }

  #handle(bytes: Uint8Array, from: Endpoint, to: Endpoint, now: number): void {
    if (bytes.length === 1 && bytes[0] === 0xff) return; // a peer's NAT-T keepalive
    let d;
    try {
      d = decodeMessage(bytes);
    } catch (e) {
      this.counters.parseErrors++;
      if (bytes.length >= 28 && bytes[17] >> 4 !== 2) {
        this.#otherVersion(bytes, from, to, now);
        return;
      }
      this.#log(
        "debug",
        `dropping unparsable message from ${from.address}: ${(e as Error).message}`,
      );
      return;
    }
    const h = d.header;
    if (h.exchangeType === ExchangeType.IKE_SA_INIT && !h.response) {
      if (h.spiR !== 0n || !h.initiator) {
        this.counters.parseErrors++;
        return;
      }
      this.#respondInit(d.payloads, h.spiI, bytes, from, to, h.messageId, now);
      return;
    }
    // Our SPI is SPIr when the original initiator sent it, else SPIi.
    const ours = h.initiator ? h.spiR : h.spiI;
    const sa = this.#bySpi.get(ours);
    if (!sa || sa.state === "destroyed" || sa.initiator === h.initiator) {
      this.counters.unknownSpi++;
      this.#log("debug", `dropping message for unknown IKE SA ${ours.toString(16)}`);
      return;
    }
    const peerSpi = h.initiator ? h.spiI : h.spiR;
    const isInitResponse = h.exchangeType === ExchangeType.IKE_SA_INIT && h.response;
    if (!isInitResponse && peerSpi !== sa.remoteSpi) {
      this.counters.unknownSpi++;
      return;
    }
    if (h.response) {
      if (!sa.window.matchResponse(h.messageId)) {
        this.counters.unexpectedResponses++;
        return;
      }
    } else {
      const cls = sa.window.classifyRequest(h.messageId);
      if (cls === "invalid") {
        this.counters.invalidMessageIds++;
        return;
      }
      if (cls === "retransmit") {
        // Authenticate before answering, so forged copies cannot make us send;
        // a fragmented request is answered on its first fragment (RFC 7383 2.6.1).
        if (d.encrypted?.type === PayloadType.SKF) {
          if (d.encrypted.fragmentNumber !== 1) return;
          try {
            openProtected(d, sa.protection!.inbound);
          } catch {
            this.counters.integrityFailures++;
            return;
          }
        } else if (!this.#open(sa, d, now)) return;
        this.counters.retransmittedRequests++;
        this.#log("debug", `${sa.label} received retransmit of request ${h.messageId}`);
        const back = replyPath(sa, from, to);
        this.#send(sa, back.to, back.from, sa.window.lastResponse!.packets);
        return;
      }
    }
    let payloads: readonly Payload[];
    if (isInitResponse) {
      payloads = d.payloads;
    } else {
      const malformed = (e: ParseError) => this.#rejectMalformed(sa, d.header, e, now);
      const opened = this.#open(sa, d, now, h.response ? undefined : malformed);
      if (!opened) return;
      payloads = opened;
    }
    const m: IkeMessage = {
      spiI: h.spiI,
      spiR: h.spiR,
      exchange: h.exchangeType,
      mid: h.messageId,
      response: h.response,
      initiator: h.initiator,
      encrypted: !isInitResponse,
      payloads,
    };
    this.#log("info", `${sa.label} parsed ${describeMessage(m)}`);
    if (!isInitResponse && this.#holdForRevocation(sa, m, bytes, from, to, now)) return;
    this.#dispatch(sa, m, bytes, from, to, now, isInitResponse);
  }

  /** Handles an authenticated (or IKE_SA_INIT response) message of the peer. */
  #dispatch(
    sa: IkeSa,
    m: IkeMessage,
    bytes: Uint8Array,
    from: Endpoint,
    to: Endpoint,
    now: number,
    isInitResponse: boolean,
  ): void {
    sa.lastInbound = now;
    if (!isInitResponse) this.#float(sa, from, to);
    if (m.response) this.#onResponse(sa, m, bytes, now);
    else {
      // Responses go back where the request came from (RFC 7296 section 2.11),
      // also when the SA does not follow the peer there (MOBIKE).
      this.#requestPath = replyPath(sa, from, to);
      try {
        this.#onRequest(sa, m, now, from, to);
      } finally {
        this.#requestPath = undefined;
      }
    }
  }

  /**
   * The peer's IKE_AUTH carries certificates that chain to a CA of ours and
   * name CRL distribution points or OCSP responders we have no current
   * answer from: holds the message, asks the host to fetch them (`fetchCrl`,
   * `fetchOcsp`) and handles it once every answer is in
   * ({@link IkeEngine.crlFetched}, {@link IkeEngine.ocspFetched}) or after
   * {@link CRL_WAIT_MS}. Retransmits that arrive meanwhile are dropped.
   */
  #holdForRevocation(
    sa: IkeSa,
    m: IkeMessage,
    raw: Uint8Array,
    from: Endpoint,
    to: Endpoint,
    now: number,
  ): boolean {
    if (m.exchange !== ExchangeType.IKE_AUTH) return false;
    if (sa.revocationWait) {
      this.#log("debug", `${sa.label} still checking revocation, dropping the peer's retransmit`);
      return true;
    }
    const certs = m.payloads.flatMap((p) =>
      p.type === PayloadType.CERT && p.encoding === CertEncoding.X509_CERT_SIGNATURE ? [p.data] : []
    );
    if (certs.length === 0) return false;
    const sources = chainRevocationSources(certs, this.#trustAnchors(), now);
    if (sources.crlUris.length === 0 && sources.ocsp.length === 0) return false;
    const crl = this.#crls.request(sources.crlUris, now);
    for (const uri of crl.start) this.#fx.push({ kind: "fetchCrl", uri });
    const pending = [...crl.pending];
    const asked: string[] = [];
    for (const o of sources.ocsp) {
      let certId;
      try {
        certId = ocspCertId(o.cert, o.issuer);
      } catch {
        continue;
      }
      const key = `${o.uri} ${toHex(certId.issuerKeyHash)}:${certId.serial}`;
      const r = this.#ocsp.request([key], now);
      if (r.pending.length === 0) continue;
      pending.push(key);
      if (r.start.length === 0) continue;
      const nonce = this.#random(16);
      this.#ocspAsked.set(key, { uri: o.uri, certId, issuer: o.issuer, nonce });
      this.#fx.push({ kind: "fetchOcsp", key, uri: o.uri, request: ocspRequest(certId, nonce) });
      asked.push(`${o.uri} (serial ${formatSerial(certId.serial)})`);
    }
    if (pending.length === 0) return false;
    sa.revocationWait = { uris: new Set(pending), message: m, raw, from, to };
    const crlWhat = crl.pending.length
      ? `the CRL${crl.pending.length > 1 ? "s" : ""} at ${crl.pending.join(", ")}`
      : "";
    const ocspWhat = asked.length ? `OCSP ${asked.join(", ")}` : "";
    this.#log(
      "info",
      `${sa.label} checking revocation before the peer's certificate: ${
        [crlWhat, ocspWhat].filter(Boolean).join("; ") || "answers already asked for"
      }`,
    );
    this.#fx.push({ kind: "setTimer", id: this.#timerId(sa, "crl"), at: now + CRL_WAIT_MS });
    return true;
  }

  /** Every CA certificate of the configuration and the PAD (what CRL fetching may follow). */
  #trustAnchors(): Uint8Array[] {
    const out = new Set<Uint8Array>();
    for (const c of this.#config.connections) {
      for (const r of [c.remote, ...(c.remoteRounds ?? [])]) {
        for (const a of r.cacerts ?? []) out.add(a);
      }
    }
    for (const e of this.#config.pad?.entries ?? []) {
      if (e.auth.method === "pubkey") { for (const a of e.auth.trustAnchors) out.add(a); }
    }
    return [...out];
  }

  /** Handles the IKE_AUTH message `sa` held for CRLs (all answers in, or waited long enough). */
  #releaseRevocationWait(sa: IkeSa, now: number): void {
    const w = sa.revocationWait;
    if (!w) return;
    sa.revocationWait = undefined;
    this.#fx.push({ kind: "cancelTimer", id: this.#timerId(sa, "crl") });
    if (sa.state === "destroyed") return;
    // Still what we wait for / have not answered? (Our own retransmits do not change it.)
    if (
      w.message.response ? !sa.window.matchResponse(w.message.mid) : (
        sa.window.classifyRequest(w.message.mid) !== "new"
      )
    ) return;
    this.#dispatch(sa, w.message, w.raw, w.from, w.to, now, false);
  }

  /**
   * An authenticated message came from/to other endpoints: behind a NAT, or
   * when the peer moved to port 4500, answer and send there from now on
   * (RFC 7296 section 2.23; MOBIKE, not this, handles other changes).
   */
  #float(sa: IkeSa, from: Endpoint, to: Endpoint): void {
    const same = (a: Endpoint, b: Endpoint) => a.address === b.address && a.port === b.port;
    // Only the peer's endpoint and our port float. Our address stays: a
    // transport on a wildcard socket may only guess which of our addresses a
    // packet was sent to (the current route source), and our address moves
    // by MOBIKE (updateAddresses), never by a guess.
    if (same(from, sa.remote) && to.port === sa.local.port) return;
    // MOBIKE: only UPDATE_SA_ADDRESSES moves the SA. The host not behind a NAT
    // MUST NOT follow IKE packets (RFC 4555 section 3.8): an initiator behind
    // one finds its new mapping by NAT detection in liveness checks and moves
    // the SA itself (#checkNatMapping).
    if (sa.mobike && !sa.natLocalSeen) return;
    if (!(sa.natLocal || sa.natRemote || from.port === NATT_PORT)) return;
    this.#log(
      "info",
      `${sa.label} peer floated to ${from.address}[${from.port}] (we are ${sa.local.address}[${to.port}])`,
    );
    sa.remote = { address: from.address, port: from.port };
    sa.local = { address: sa.local.address, port: to.port };
    this.#updateChildEndpoints(sa);
  }

  /** Installed child SAs follow the IKE SA's endpoints in place (`updateSa`). */
  #updateChildEndpoints(sa: IkeSa): void {
    for (const c of sa.children.values()) {
      if (c.state === "creating") continue;
      const entries = this.#saEntries(sa, c);
      for (const e of entries) {
        if (e.direction === "out" && !c.outboundInstalled) continue;
        this.#fx.push({
          kind: "updateSa",
          ikeSaId: sa.id,
          childSaId: c.id,
          protocol: e.protocol,
          direction: e.direction,
          spi: e.spi,
          src: e.src,
          dst: e.dst,
          ...(e.encap ? { encap: e.encap } : {}),
        });
      }
    }
  }

  /**
   * Decrypts a protected message; undefined (counted, dropped) on any
   * failure. An authentic but malformed message goes to `malformed`.
   */
  #open(
    sa: IkeSa,
    d: ReturnType<typeof decodeMessage>,
    now: number,
    malformed?: (e: ParseError) => void,
  ): readonly Payload[] | undefined {
    if (!sa.protection || !d.encrypted) {
      this.counters.parseErrors++;
      return undefined;
    }
    if (d.encrypted.type === PayloadType.SKF) {
      sa.reassembler ??= new FragmentReassembler();
      const r = sa.reassembler.add(d, sa.protection.inbound, now);
      switch (r.status) {
        case "incomplete":
          return undefined;
        case "complete":
          this.counters.fragmentsReassembled++;
          this.#log(
            "info",
            `${sa.label} received fragment #${d.encrypted.fragmentNumber} of ${d.encrypted.totalFragments}, reassembled`,
          );
          return r.message.payloads;
        case "dropped":
          if (r.reason === "integrity") {
            this.counters.integrityFailures++;
            sa.counters.integrityFailures++;
          } else this.counters.fragmentDrops++;
          this.#log("debug", `${sa.label} fragment dropped (${r.reason}): ${r.detail}`);
          return undefined;
        case "invalid":
          this.counters.parseErrors++;
          return undefined;
      }
    }
    try {
      return decryptMessage(d, sa.protection.inbound).payloads;
    } catch (e) {
      if (e instanceof IntegrityError) {
        this.counters.integrityFailures++;
        sa.counters.integrityFailures++;
        this.#log("debug", `${sa.label} integrity check failed, message dropped`);
      } else {
        this.counters.parseErrors++;
        sa.counters.parseErrors++;
        this.#log("debug", `${sa.label} malformed protected message: ${(e as Error).message}`);
        if (e instanceof ParseError) malformed?.(e);
      }
      return undefined;
    }
  }

  // ---------------------------------------------------------------------------
  // Responder: IKE_SA_INIT

  #respondInit(
    payloads: readonly Payload[],
    spiI: bigint,
    raw: Uint8Array,
    from: Endpoint,
    to: Endpoint,
    mid: number,
    now: number,
  ): void {
    const hoKey = `${spiI}|${from.address}|${from.port}`;
    const existing = this.#byInit.get(hoKey);
    const reqMsg: IkeMessage = {
      spiI,
      spiR: 0n,
      exchange: ExchangeType.IKE_SA_INIT,
      mid,
      response: false,
      initiator: true,
      encrypted: false,
      payloads,
    };
    if (existing) {
      // A retransmitted IKE_SA_INIT: answer from the cache.
      if (existing.window.lastResponse && existing.window.lastResponse.mid === mid) {
        this.counters.retransmittedRequests++;
        this.#send(existing, existing.local, existing.remote, existing.window.lastResponse.packets);
      }
      return;
    }
    if (mid !== 0) {
      this.counters.invalidMessageIds++;
      return;
    }
    const candidates = this.config.connections.filter((c) =>
      (c.anyLocal === true || addressMatches(c.localAddress, to.address)) &&
      addressMatches(c.remoteAddress, from.address)
    );
    const statelessReply = (p: Payload[], why: string) => {
      const m: IkeMessage = { ...reqMsg, response: true, initiator: false, payloads: p };
      this.#log("info", `responding statelessly to ${from.address}: ${why}`);
      this.#log("info", `generating ${describeMessage(m)}`);
      const bytes = encodeMessage({
        header: {
          spiI,
          spiR: 0n,
          exchangeType: ExchangeType.IKE_SA_INIT,
          initiator: false,
          response: true,
          messageId: 0,
        },
        payloads: p,
      });
      this.#fx.push({ kind: "send", from: to, to: from, bytes });
    };
    this.#log("info", `received ${describeMessage(reqMsg)} from ${from.address}[${from.port}]`);
    if (candidates.length === 0) {
      statelessReply([makeNotify(NotifyType.NO_PROPOSAL_CHOSEN)], "no connection matches");
      return;
    }
    // COOKIE (RFC 7296 section 2.6): above the threshold, demand proof of address.
    const threshold = this.config.cookieThreshold ?? DEFAULT_COOKIE_THRESHOLD;
    if (this.#halfOpen.size >= threshold) {
      const ni = first(reqMsg, PayloadType.NONCE)?.data ?? new Uint8Array(0);
      const c = notify(reqMsg, NotifyType.COOKIE);
      if (!c || !this.#cookies.verify(c.data, ni, from.address, spiI, now)) {
        this.counters.cookiesSent++;
        statelessReply(
          [makeNotify(NotifyType.COOKIE, this.#cookies.make(ni, from.address, spiI, now))],
          `${this.#halfOpen.size} half-open IKE SAs, requesting a COOKIE`,
        );
        return;
      }
    }
    // RFC 5685 section 4: send a client that supports it to another gateway, with its nonce.
    const redirectTo = candidates[0].redirectTo;
    if (
      redirectTo && notify(reqMsg, NotifyType.REDIRECT_SUPPORTED) &&
      !notify(reqMsg, NotifyType.REDIRECTED_FROM)
    ) {
      const ni = first(reqMsg, PayloadType.NONCE)?.data;
      const n = ni ? gatewayNotify(redirectTo, ni) : undefined;
      if (n) {
        this.counters.redirectsSent++;
        statelessReply([n], `redirecting to ${redirectTo} (connection ${candidates[0].name})`);
        return;
      }
    }
    let lastError: { payloads: Payload[]; reason: string } | undefined;
    for (const cfg of candidates) {
      const sa = new IkeSa({
        id: this.#nextId,
        initiator: false,
        config: cfg,
        spiI,
        spiR: this.#newSpi(),
        local: to,
        remote: from,
        now,
        retransmit: cfg.retransmit ?? this.config.retransmit,
      });
      const r = respondInit(sa, reqMsg, this.#ctx);
      if (!r.ok) {
        // INVALID_KE_PAYLOAD is final (the initiator retries); otherwise try the next config.
        lastError = r;
        if (notify({ payloads: r.payloads }, NotifyType.INVALID_KE_PAYLOAD)) break;
        continue;
      }
      this.#nextId++;
      sa.candidates = candidates;
      sa.transition("connecting");
      sa.initRequest = raw;
      sa.protection = ikeSaProtection(sa.suite!, sa.keys!, false, { randomBytes: this.#random });
      this.#exportIkeKeys(sa);
      const m = this.#message(sa, ExchangeType.IKE_SA_INIT, 0, true, r.payloads);
      const bytes = this.#encode(sa, m);
      sa.initResponse = bytes;
      sa.window.classifyRequest(0);
      sa.window.storeResponse(0, [bytes]);
      sa.halfOpenKey = hoKey;
      this.#byInit.set(hoKey, sa);
      this.#halfOpen.add(sa);
      this.#register(sa);
      this.#send(sa, sa.local, sa.remote, [bytes]);
      const ttl = (this.config.halfOpenTimeoutSeconds ?? DEFAULT_HALF_OPEN_SECONDS) * 1000;
      this.#fx.push({ kind: "setTimer", id: this.#timerId(sa, "halfopen"), at: now + ttl });
      return;
    }
    statelessReply(lastError!.payloads, lastError!.reason);
  }

  // ---------------------------------------------------------------------------
  // Requests from the peer (we answer)

  /** Where the request being handled came from, and our port it came to ({@link replyPath}). */
  #requestPath: { from: Endpoint; to: Endpoint } | undefined;

  /**
   * Answers `req`: along `path` when given, else back where the request being
   * handled came from, else to the SA's peer.
   */
  #respond(
    sa: IkeSa,
    req: IkeMessage,
    payloads: Payload[],
    path?: { from: Endpoint; to: Endpoint },
  ): void {
    const m = this.#message(sa, req.exchange, req.mid, true, payloads);
    const packets = this.#encodeProtected(sa, m);
    sa.window.storeResponse(req.mid, packets);
    const back = path ?? this.#requestPath;
    this.#send(sa, back?.to ?? sa.local, back?.from ?? sa.remote, packets);
  }

  #onRequest(sa: IkeSa, req: IkeMessage, now: number, from: Endpoint, to: Endpoint): void {
    switch (req.exchange) {
      case ExchangeType.IKE_AUTH:
        if (sa.initiator || sa.state !== "connecting") {
          this.#respond(sa, req, [makeNotify(NotifyType.INVALID_SYNTAX)]);
          return;
        }
        if (sa.eap) this.#respondEap(sa, req, now);
        else if (sa.authRound > 0) this.#respondRound(sa, req, now);
        else this.#respondAuth(sa, req, now);
        return;
      case ExchangeType.INFORMATIONAL: {
        const redirect = sa.established ? notify(req, NotifyType.REDIRECT) : undefined;
        if (redirect) {
          this.#redirectEstablished(sa, req, redirect, now);
          return;
        }
        for (const p of req.payloads) {
          if (p.type === PayloadType.NOTIFY && p.notifyType < 16384) {
            this.#log("warn", `${sa.label} peer reports ${notifyName(p.notifyType)}`);
          }
        }
        if (sa.mobike && !sa.originalInitiator && notify(req, NotifyType.UPDATE_SA_ADDRESSES)) {
          this.#respondUpdate(sa, req, from, to, now);
          return;
        }
        const peerAddresses = sa.mobike ? readPeerAddresses(req) : undefined;
        if (peerAddresses) {
          sa.peerAddresses = peerAddresses;
          this.#log(
            "info",
            `${sa.label} peer addresses: ${peerAddresses.join(", ") || "(no additional)"}`,
          );
          // The responder's address list comes from its address in use (RFC 4555
          // section 3.6): when that changed, the initiator's SAs follow (as charon's).
          if (
            sa.originalInitiator &&
            (from.address !== sa.remote.address || from.port !== sa.remote.port)
          ) {
            this.#log(
              "info",
              `${sa.label} remote address changed from ${sa.remote.address}[${sa.remote.port}] to ${from.address}[${from.port}]`,
            );
            sa.remote = { address: from.address, port: from.port };
            this.#moved(sa, now);
          }
        }
        // Child SAs may already have moved to the SA that replaced this one.
        const home = this.#home(sa);
        const r = processInformationalRequest(sa, req, home.children);
        this.#respond(sa, req, [
          ...r.payloads,
          ...(sa.mobike ? [...natdEcho(sa, req, from, to), ...cookie2Echo(req)] : []),
        ]);
        for (const spi of r.unknownSpis) {
          this.#log("debug", `${sa.label} peer deleted unknown SPI ${spi.toString(16)}`);
        }
        for (const c of r.children) {
          this.#removeChild(home, c, "deleted by peer", now, false, true);
        }
        if (r.deleteIke && sa.collidingRekey) {
          // The peer finished its rekey (ours got lost): its new SA takes over.
          const theirs = sa.collidingRekey;
          sa.collidingRekey = undefined;
          this.#adoptRekeyed(sa, theirs, now);
        }
        if (r.deleteIke) this.#destroy(sa, r.reason, "ike-down");
        else this.#armDpd(sa);
        return;
      }
      case ExchangeType.CREATE_CHILD_SA:
        this.#respondCreateChild(sa, req, now);
        return;
      default:
        this.#log("debug", `${sa.label} ignoring unsupported exchange ${req.exchange}`);
        // Unknown exchange types: the message id is consumed with an empty error answer.
        this.#respond(sa, req, [makeNotify(NotifyType.INVALID_SYNTAX)]);
    }
  }

  /**
   * An authentic request (ICV verified) did not parse or broke the exchange's
   * payload rules: answer INVALID_SYNTAX, or UNSUPPORTED_CRITICAL_PAYLOAD
   * naming the payload (RFC 7296 sections 2.21, 3.10.1). A malformed
   * IKE_AUTH request also ends the half-open IKE SA (section 2.21.2).
   */
  #rejectMalformed(
    sa: IkeSa,
    h: ReturnType<typeof decodeMessage>["header"],
    e: ParseError,
    now: number,
  ): void {
    const n = e.notify === "UNSUPPORTED_CRITICAL_PAYLOAD" && e.notifyData !== undefined
      ? makeUnsupportedCritical(e.notifyData)
      : makeNotify(NotifyType.INVALID_SYNTAX);
    this.#log("warn", `${sa.label} malformed request ${h.messageId}: ${e.message}`);
    sa.lastInbound = now;
    this.#respond(sa, this.#message(sa, h.exchangeType, h.messageId, false, []), [n]);
    if (h.exchangeType === ExchangeType.IKE_AUTH && !sa.established) {
      this.#destroy(sa, `malformed IKE_AUTH request: ${e.reason}`, "ike-failed");
    }
  }

  /**
   * MOBIKE responder: the initiator moved to `from` (RFC 4555 section 3.5).
   * Refused with UNEXPECTED_NAT_DETECTED (answered where it came from) when
   * NO_NATS_ALLOWED does not match; else the SA and its children move.
   */
  #respondUpdate(sa: IkeSa, req: IkeMessage, from: Endpoint, to: Endpoint, now: number): void {
    const r = respondUpdate(sa, req, from, to);
    if (!r.ok) {
      this.#log("warn", `${sa.label} address update refused: ${r.reason}`);
      this.#respond(sa, req, r.payloads, { from, to });
      return;
    }
    sa.remote = { address: from.address, port: from.port };
    sa.local = { address: to.address, port: to.port };
    sa.setNatLocal(r.natLocal);
    sa.natRemote = r.natRemote;
    this.#respond(sa, req, r.payloads);
    this.#moved(sa, now);
  }

  /** MOBIKE moved `sa`: children follow, NAT keepalives as needed, report it. */
  #moved(sa: IkeSa, now: number): void {
    sa.triedRemotes.clear();
    this.#log(
      "info",
      `${sa.label} IKE_SA moved to ${sa.local.address}[${sa.local.port}] - ${sa.remote.address}[${sa.remote.port}]${
        sa.natLocal || sa.natRemote ? " (NAT)" : ""
      }`,
    );
    this.#updateChildEndpoints(sa);
    this.#armKeepalive(sa, now);
    this.#event({
      type: "ike-updated",
      ikeSaId: sa.id,
      connectionName: sa.config.name,
      local: sa.local,
      remote: sa.remote,
    });
  }

  #respondAuth(sa: IkeSa, req: IkeMessage, now: number): void {
    const auth = respondAuth(sa, req, this.#ctx, sa.candidates, now);
    if (!auth.ok) {
      this.#log("warn", `${sa.label} ${auth.reason}`);
      this.#respond(sa, req, auth.payloads);
      this.#destroy(sa, "authentication failed", "ike-failed");
      return;
    }
    if (sa.config.childless === "never" && !first(req, PayloadType.SA)) {
      // We did not announce CHILDLESS_IKEV2_SUPPORTED: a missing SA is a syntax error (RFC 6023).
      this.#log("warn", `${sa.label} peer initiated an IKE_SA without a child (childless: never)`);
      this.#respond(sa, req, [makeNotify(NotifyType.INVALID_SYNTAX)]);
      this.#destroy(sa, "childless IKE_SA refused (childless: never)", "ike-failed");
      return;
    }
    if (auth.eap) {
      this.#startEapServer(sa, req, auth.eap, req, auth.idi, auth.idr, auth.payloads);
      return;
    }
    if (auth.another) {
      // RFC 4739: our AUTH now; the child SA of this request once the last round is done.
      sa.authFirst = req;
      sa.authIdr = auth.idr;
      sa.authRound = 1;
      this.#log(
        "info",
        `${sa.label} authentication round 1 of '${formatIdentity(sa.remoteId!)}' successful, ` +
          `round 2 follows (${sa.config.remoteRounds![0].auth})`,
      );
      this.#respond(sa, req, auth.payloads);
      return;
    }
    this.#completeAuth(sa, req, req, auth.payloads, now);
  }

  /**
   * Responder: starts the EAP method (or the relay to RADIUS) `start` asks
   * for and answers `req` with `lead` and the first EAP Request; `first` is
   * the IKE_AUTH request whose child SA is answered at the end, `idi`/`idr`
   * the ID payloads the AUTHs after EAP cover.
   */
  #startEapServer(
    sa: IkeSa,
    req: IkeMessage,
    start: EapStart,
    first: IkeMessage,
    idi: IdPayload,
    idr: IdPayload,
    lead: Payload[],
  ): void {
    const { method, identity } = start;
    const secrets = this.config.eapSecrets;
    const radius = this.config.radius;
    const unusable = method === "radius" && !radius?.servers.length
      ? "remote auth eap-radius, but no RADIUS server is configured"
      : method === "peap"
      ? "remote auth eap-peap: PEAP runs as client only (relay it with eap-radius)"
      : undefined;
    if (unusable) {
      this.#log("warn", `${sa.label} ${unusable}`);
      this.#respond(sa, req, [makeNotify(NotifyType.AUTHENTICATION_FAILED)]);
      this.#destroy(sa, "authentication failed", "ike-failed");
      return;
    }
    const server = method === "radius"
      ? new RadiusEapProxy({
        servers: radius!.servers,
        nasIdentifier: radius!.nasIdentifier,
        ...(identity !== undefined ? { identity } : {}),
        calledStation: `${sa.local.address}[${sa.local.port}]`,
        callingStation: `${sa.remote.address}[${sa.remote.port}]`,
        nasPort: sa.id,
        random: this.#random,
        nextIdentifier: () => (this.#radiusId = (this.#radiusId + 1) & 0xff),
      })
      : new EapServer({
        method,
        ...(identity !== undefined ? { identity } : {}),
        secretFor: (id) => findEapSecret(secrets, id),
        random: this.#random,
        ...(method === "tls" || method === "ttls"
          ? {
            // EAP-TLS/TTLS: our certificate; EAP-TLS: the client's must chain to the
            // round's CAs and name its EAP identity (as charon's eap-tls).
            tls: {
              certs: sa.config.local.certs ?? [],
              ...(sa.config.local.privateKey ? { key: sa.config.local.privateKey } : {}),
              trustAnchors: remoteRound(sa.config, sa.authRound)?.cacerts ?? [],
              check: (certs: Uint8Array[], id: string) => certNames(id)(certs),
            },
          }
          : {}),
      });
    sa.eap = {
      role: "server",
      server,
      method,
      held: undefined,
      stage: "eap",
      first,
      idi,
      idr,
      msk: undefined,
      identity: undefined,
    };
    const who = idOf(idi) ?? sa.remoteId!;
    this.#log(
      "info",
      `${sa.label} authenticating '${formatIdentity(who)}' by EAP-${eapMethodLabel(method)}${
        sa.authRound > 0 ? ` (round ${sa.authRound + 1})` : ""
      }${
        method === "radius"
          ? ` (asking its EAP identity, then relaying to ${radius!.servers[0].name})`
          : identity === undefined
          ? " (asking its EAP identity)"
          : ` as '${identity}'`
      }`,
    );
    this.#respond(sa, req, [...lead, { type: PayloadType.EAP, data: server.start() }]);
  }

  /**
   * Responder, RFC 4739: a request of the initiator's authentication round
   * 2 or later (see {@link respondRound}); the last round done, the first
   * request's child SA and configuration payloads are answered.
   */
  #respondRound(sa: IkeSa, req: IkeMessage, now: number): void {
    const r = respondRound(sa, req, this.#ctx, now);
    if (!r.ok) {
      this.#log("warn", `${sa.label} ${r.reason}`);
      this.#respond(sa, req, r.payloads);
      this.#destroy(sa, "authentication failed", "ike-failed");
      return;
    }
    if (r.eap) {
      this.#startEapServer(sa, req, r.eap, sa.authFirst!, r.idi, r.idr, []);
      return;
    }
    this.#log("info", `${sa.label} authentication round ${sa.authRound + 1} successful`);
    if (r.another) {
      sa.authRound++;
      this.#respond(sa, req, []);
      return;
    }
    this.#completeAuth(sa, req, sa.authFirst!, [], now);
  }

  /**
   * Responder, EAP running (RFC 7296 section 2.16): passes each EAP
   * Response to the method and answers with its next Request, Success or
   * Failure; after Success, checks the initiator's MSK-keyed AUTH and
   * answers the first request's child SA and configuration payloads.
   */
  #respondEap(sa: IkeSa, req: IkeMessage, now: number): void {
    const st = sa.eap!;
    const refuse = (reason: string, payloads: Payload[]) => {
      this.#log("warn", `${sa.label} ${reason}`);
      this.#respond(sa, req, payloads);
      this.#destroy(sa, "authentication failed", "ike-failed");
    };
    if (st.role !== "server") {
      this.#respond(sa, req, [makeNotify(NotifyType.INVALID_SYNTAX)]);
      return;
    }
    const peer = `'${formatIdentity(sa.remoteId!)}'`;
    if (st.stage === "eap") {
      const eap = first(req, PayloadType.EAP);
      if (!eap) {
        refuse(
          `EAP authentication of ${peer} failed: IKE_AUTH request without EAP payload`,
          [makeNotify(NotifyType.AUTHENTICATION_FAILED)],
        );
        return;
      }
      if (st.server instanceof RadiusEapProxy) {
        if (st.held) {
          this.#log("debug", `${sa.label} RADIUS has not answered yet, dropping the retransmit`);
          return;
        }
        const out = st.server.receive(eap.data);
        if (out.kind === "failure") {
          refuse(`EAP-RADIUS authentication of ${peer} failed: ${out.reason}`, [
            { type: PayloadType.EAP, data: out.message },
          ]);
          return;
        }
        st.held = req;
        this.#sendRadius(sa, out, now);
        return;
      }
      this.#eapServerStep(sa, req, st.server.receive(eap.data), now);
      return;
    }
    const why = verifyEapAuth(sa, req, "i", st.idi, st.msk);
    if (why) {
      refuse(`authentication of ${peer} failed: ${why}`, [
        makeNotify(NotifyType.AUTHENTICATION_FAILED),
      ]);
      return;
    }
    const another = notify(req, NotifyType.ANOTHER_AUTH_FOLLOWS) !== undefined;
    const rounds = checkRounds(sa.config, sa.authRound, another);
    if (rounds) {
      refuse(`authentication of ${peer} failed: ${rounds}`, [
        makeNotify(NotifyType.AUTHENTICATION_FAILED),
      ]);
      return;
    }
    sa.eapIdentity = st.identity;
    const info = `EAP-${eapMethodLabel(st.method)} '${st.identity}'`;
    sa.authInfo = sa.authRound > 0 ? `${sa.authInfo} + ${info}` : info;
    const own: Payload = {
      type: PayloadType.AUTH,
      method: AuthMethod.SHARED_KEY_MIC,
      data: eapAuthData(sa, "r", st.idr, st.msk),
    };
    if (another) {
      // RFC 4739: the next round starts with the initiator's next request.
      sa.authFirst = st.first;
      sa.authIdr = st.idr;
      sa.eap = undefined;
      sa.authRound++;
      this.#respond(sa, req, [own]);
      return;
    }
    this.#completeAuth(sa, req, st.first, [own], now);
  }

  /** Answers the client's EAP Response `req` with the EAP server's `step`. */
  #eapServerStep(sa: IkeSa, req: IkeMessage, step: EapServerStep, _now: number): void {
    const st = sa.eap as EapServerState;
    const peer = `'${formatIdentity(sa.remoteId!)}'`;
    if (step.kind === "request") {
      this.#respond(sa, req, [{ type: PayloadType.EAP, data: step.message }]);
    } else if (step.kind === "failure") {
      this.#log(
        "warn",
        `${sa.label} EAP-${
          eapMethodLabel(st.method)
        } authentication of ${peer} failed: ${step.reason}`,
      );
      this.#respond(sa, req, [{ type: PayloadType.EAP, data: step.message }]);
      this.#destroy(sa, "authentication failed", "ike-failed");
    } else {
      st.stage = "auth";
      st.msk = step.msk;
      st.identity = step.identity;
      if (step.addresses) st.addresses = step.addresses;
      this.#log(
        "info",
        `${sa.label} EAP-${
          eapMethodLabel(st.method)
        } authentication of '${step.identity}' successful${step.msk ? ", MSK established" : ""}`,
      );
      this.#respond(sa, req, [{ type: PayloadType.EAP, data: step.message }]);
    }
  }

  /** Sends an Access-Request (or its retransmission) and arms the retry timer. */
  #sendRadius(sa: IkeSa, out: RadiusSend, now: number): void {
    this.#log("debug", `${sa.label} sending RADIUS Access-Request to ${out.server}`);
    this.#fx.push({ kind: "sendRadius", to: out.to, bytes: out.bytes });
    this.#fx.push({ kind: "setTimer", id: this.#timerId(sa, "radius"), at: now + RADIUS_RETRY_MS });
  }

  /**
   * A datagram from a RADIUS server (the answer to a `sendRadius` effect):
   * the EAP authentication it belongs to goes on, the client's held
   * IKE_AUTH request is answered. Datagrams that answer nothing of ours, or
   * do not verify, are dropped.
   */
  radiusAnswer(bytes: Uint8Array, from: Endpoint, now: number): Effect[] {
    return this.#run(now, () => {
      for (const sa of this.#sas.values()) {
        const st = sa.eap;
        if (st?.role !== "server" || !(st.server instanceof RadiusEapProxy) || !st.held) continue;
        const step = st.server.answer(bytes, from);
        if (!step) continue;
        if (step.kind === "ignored") {
          this.#log(
            "warn",
            `${sa.label} dropping a RADIUS answer from ${from.address}: ${step.reason}`,
          );
          return;
        }
        this.#fx.push({ kind: "cancelTimer", id: this.#timerId(sa, "radius") });
        const req = st.held;
        st.held = undefined;
        this.#eapServerStep(sa, req, step, now);
        return;
      }
      this.#log("debug", `dropping a RADIUS datagram from ${from.address}: no request of ours`);
    });
  }

  /** The RADIUS retransmission timer of `sa` fired. */
  #radiusTimeout(sa: IkeSa, now: number): void {
    const st = sa.eap;
    if (st?.role !== "server" || !(st.server instanceof RadiusEapProxy) || !st.held) return;
    const out = st.server.retry();
    if (out.kind === "send") {
      this.#sendRadius(sa, out, now);
      return;
    }
    const req = st.held;
    st.held = undefined;
    this.#eapServerStep(sa, req, out, now);
  }

  /**
   * Responder, the initiator authenticated: uniqueness, virtual IPs, the
   * first child SA and MOBIKE, from `content` (the first IKE_AUTH request),
   * answered in the response to `req` (the same request, or the last one of
   * an EAP authentication) with `authPayloads` first.
   */
  #completeAuth(
    sa: IkeSa,
    req: IkeMessage,
    content: IkeMessage,
    authPayloads: Payload[],
    now: number,
  ): void {
    const initialContact = notify(content, NotifyType.INITIAL_CONTACT) !== undefined;
    if (this.#checkUniqueness(sa, initialContact, now)) {
      this.#log("info", `${sa.label} cancelling IKE_SA setup due to uniqueness policy (keep)`);
      this.#respond(sa, req, [makeNotify(NotifyType.AUTHENTICATION_FAILED)]);
      this.#destroy(sa, "refused by uniqueness policy (unique: keep)", "ike-failed");
      return;
    }
    let childPayloads: Payload[] = [];
    let child: ChildSa | undefined;
    let childError: { reason: string; notify: number } | undefined;
    const cp: Payload[] = [];
    const families = requestedVipFamilies(content.payloads);
    // INTERNAL_IP*_SUBNET asked for: the subnets our children protect (RFC 7296 3.15.2).
    const subnets = wantsSubnets(content.payloads)
      ? subnetAttributes([...new Set(sa.config.children.flatMap((c) => c.localTs))])
      : [];
    if (!(families.length && sa.config.pools?.length) && subnets.length) {
      cp.push(buildCpReply([], [], subnets));
    }
    if (families.length && sa.config.pools?.length) {
      // One address per requested family, from the first pool of that family with room.
      const owner = sa.eapIdentity ?? sa.remoteId?.value ?? sa.remote.address;
      for (const family of families) {
        // A client that reauthenticates asks for the address it holds (RFC 7296 3.15.1).
        const asked = requestedVipAddress(content.payloads, family);
        for (const pool of sa.config.pools) {
          if (pool === RADIUS_POOL) {
            // The address the RADIUS server assigned this user, as charon's `pools = radius`.
            const st = sa.eap?.role === "server" ? sa.eap : undefined;
            const address = st?.addresses?.find((a) => (a.includes(":") ? 6 : 4) === family);
            if (!address) continue;
            sa.peerVips.push({ pool, address });
            this.#log(
              "info",
              `${sa.label} assigning virtual IP ${address} from RADIUS to '${owner}'`,
            );
            break;
          }
          if (this.#pools.family(pool) !== family) continue;
          const address = this.#pools.lease(pool, owner, asked);
          if (!address) continue;
          sa.peerVips.push({ pool, address });
          this.#log("info", `${sa.label} assigning virtual IP ${address} to peer '${owner}'`);
          break;
        }
      }
      sa.peerVip = sa.peerVips[0];
      if (sa.peerVip) {
        const dns = [...new Set(sa.peerVips.flatMap((v) => this.#pools.dns(v.pool)))];
        cp.push(buildCpReply(sa.peerVips.map((v) => v.address), dns, subnets));
      } else {
        childError = {
          reason: "no virtual IP available",
          notify: NotifyType.INTERNAL_ADDRESS_FAILURE,
        };
        childPayloads = [makeNotify(NotifyType.INTERNAL_ADDRESS_FAILURE)];
      }
    }
    if (first(content, PayloadType.SA) && !childError) {
      const id = this.#nextId++;
      const r = respondChild(sa, content, this.#ctx, id);
      childPayloads = r.payloads;
      if (r.ok) child = r.child;
      else childError = r;
    }
    const mobike: Payload[] = [];
    if (sa.config.mobike !== false && notify(content, NotifyType.MOBIKE_SUPPORTED)) {
      sa.mobike = true;
      sa.peerAddresses = readPeerAddresses(content) ?? [];
      mobike.push(...mobikeAuthNotifies(this.#localAddresses, sa.local.address));
    }
    this.#respond(sa, req, [...authPayloads, ...cp, ...childPayloads, ...mobike]);
    this.#established(sa, now);
    if (child) this.#installChild(sa, child, now);
    else if (childError) {
      this.#log("warn", `${sa.label} child SA refused: ${childError.reason}`);
      this.#event({
        type: "child-failed",
        ikeSaId: sa.id,
        childName: sa.config.children[0]?.name ?? "",
        reason: childError.reason,
      });
    }
  }

  /** Other IKE SAs of `sa`'s connection with the same peer identity (not the one it reauthenticates). */
  #duplicates(sa: IkeSa): IkeSa[] {
    const id = sa.remoteId;
    if (!id) return [];
    return [...this.#sas.values()].filter((other) =>
      other !== sa && other.id !== sa.reauthOf && other.config.name === sa.config.name &&
      other.remoteId !== undefined && other.remoteId.type === id.type &&
      other.remoteId.value === id.value
    );
  }

  /**
   * strongSwan's uniqueness policy (`unique`) once `sa` is authenticated;
   * true when it cancels `sa`. INITIAL_CONTACT (RFC 7296 section 2.4) makes
   * any policy but "never" forget the older IKE SAs with the same peer
   * identity at once; otherwise "replace" deletes the established ones and
   * "keep" cancels `sa` while one is established.
   */
  #checkUniqueness(sa: IkeSa, initialContact: boolean, now: number): boolean {
    const policy = sa.config.unique ?? "no";
    if (policy === "never" || (policy === "no" && !initialContact)) return false;
    let cancel = false;
    for (const other of this.#duplicates(sa)) {
      if (initialContact) {
        this.#log("info", `${other.label} destroying duplicate IKE_SA, received INITIAL_CONTACT`);
        this.#destroy(other, "replaced (INITIAL_CONTACT)", "ike-down");
      } else if (!other.established) {
        continue;
      } else if (policy === "replace") {
        this.#log("info", `${other.label} deleting duplicate IKE_SA due to uniqueness policy`);
        this.#queue(other, { kind: "delete_ike", reason: "replaced (unique: replace)" }, now);
      } else if (policy === "keep") {
        cancel = true;
      }
    }
    return cancel;
  }

  // ---------------------------------------------------------------------------
  // Responses to our requests

  /**
   * Initiator, IKE_SA_INIT or IKE_AUTH answered with REDIRECT (RFC 5685):
   * this attempt ends quietly and a new one goes to the gateway named, with
   * REDIRECTED_FROM; a reauthentication stays one.
   */
  #redirected(sa: IkeSa, n: NotifyPayload, nonce: Uint8Array | undefined, now: number): void {
    const t = redirectTarget(sa, n, nonce, now);
    if (!t.ok) {
      this.#fail(sa, t.reason);
      return;
    }
    const from = sa.remote.address;
    const to = t.address ?? t.name;
    this.#log("info", `${sa.label} redirected by ${from} to ${to} (RFC 5685)`);
    sa.silent = true;
    this.#destroy(sa, `redirected to ${to}`, "ike-failed");
    const replaced = sa.reauthOf !== undefined ? this.#sas.get(sa.reauthOf) : undefined;
    this.#follow(sa, t, from, now, { replaced, established: false, attempt: sa.attempt });
  }

  /**
   * Goes to the gateway a REDIRECT of `sa`'s peer (`from`) named: at once
   * for an address, once `resolveName` answered for a DNS name. The new IKE
   * SA replaces `replaced` (a reauthentication, or the established SA).
   */
  #follow(
    sa: IkeSa,
    t: { readonly address?: string; readonly name?: string },
    from: string,
    now: number,
    o: { replaced: IkeSa | undefined; established: boolean; attempt: number },
  ): void {
    const history = [...sa.redirects, now];
    if (t.name !== undefined) {
      this.#resolveFor(t.name, {
        config: sa.config,
        label: sa.label,
        ikeSaId: sa.id,
        from,
        history,
        ...(o.replaced ? { reauthOf: o.replaced.id } : {}),
        attempt: o.attempt,
        established: o.established,
      });
      return;
    }
    const next = this.#startInitiator(sa.config, now, o.replaced, {
      to: t.address!,
      from,
      history,
    });
    next.attempt = o.attempt;
  }

  /**
   * Initiator, an established IKE SA's gateway sends us to another one in an
   * INFORMATIONAL request (RFC 5685 section 5): answered, then a new IKE SA
   * with the other gateway comes up before this one goes (as a
   * reauthentication does).
   */
  #redirectEstablished(sa: IkeSa, req: IkeMessage, n: NotifyPayload, now: number): void {
    this.#respond(sa, req, []);
    if (!sa.originalInitiator) {
      this.#log("warn", `${sa.label} ignoring REDIRECT: we did not start this IKE_SA`);
      return;
    }
    const t = redirectTarget(sa, n, undefined, now);
    if (!t.ok) {
      this.#log("warn", `${sa.label} ${t.reason}`);
      return;
    }
    this.#log(
      "info",
      `${sa.label} redirected by ${sa.remote.address} to ${
        t.address ?? t.name
      }, establishing a new IKE_SA`,
    );
    this.#follow(sa, t, sa.remote.address, now, { replaced: sa, established: true, attempt: 1 });
  }

  /** Initiator: the responder failed authentication: tell it (AUTHENTICATION_FAILED) and forget the SA. */
  #responderAuthFailed(sa: IkeSa, why: string, now: number): void {
    this.#log("warn", `${sa.label} authentication of the responder failed: ${why}`);
    sa.pending.length = 0;
    sa.pending.push({ kind: "auth_failed", reason: `responder authentication failed: ${why}` });
    this.#pump(sa, now);
  }

  /**
   * Initiator authenticating by EAP (RFC 7296 section 2.16), one IKE_AUTH
   * response: the first must carry the responder's IDr and AUTH (checked as
   * the connection's `remote` says, before anything of our password goes
   * out); EAP Requests are answered by the method, EAP-Success by our AUTH
   * keyed with the MSK, and the last response's AUTH is checked the same
   * way. True when that last AUTH verified (the caller sets the SA up).
   */
  #eapPeerStep(
    sa: IkeSa,
    task: Extract<SaTask, { kind: "ike_auth" }>,
    res: IkeMessage,
    now: number,
  ): boolean {
    const cfg = sa.config;
    const local = localRound(cfg, sa.authRound)!;
    let st = sa.eap;
    if (!st) {
      // In a later RFC 4739 round the responder authenticated in the first one.
      const why = sa.authRound > 0 ? undefined : verifyResponderAuth(sa, res, this.#ctx, now);
      if (why) {
        this.#responderAuthFailed(sa, why, now);
        return false;
      }
      const idr = sa.authRound > 0 ? sa.authIdr : first(res, PayloadType.IDr);
      if (!idr) {
        this.#fail(sa, "EAP round without the responder's IDr");
        return false;
      }
      const identity = local.eapId ?? formatIdentity(local.id);
      const methods = local.eapMethods ?? ["mschapv2", "md5"];
      const secret = findEapSecret(this.config.eapSecrets, identity);
      if (secret === undefined && methods.some((m) => m !== "tls")) {
        this.#fail(sa, `no EAP secret for EAP identity '${identity}'`);
        return false;
      }
      // EAP-TLS: our certificate; the server's must chain to the gateway's CAs and name
      // `aaa_id`, else the gateway's IKE identity (as charon's eap-tls).
      const tls = methods.some((m) => m === "tls" || m === "ttls" || m === "peap")
        ? {
          certs: local.certs ?? [],
          ...(local.privateKey ? { key: local.privateKey } : {}),
          trustAnchors: cfg.remote.cacerts ?? [],
          check: certNames(cfg.remote.aaaId ?? sa.remoteId),
        }
        : undefined;
      st = sa.eap = {
        role: "peer",
        peer: new EapPeer({
          identity,
          secret: secret ?? "",
          methods,
          random: this.#random,
          ...(tls ? { tls } : {}),
        }),
        stage: "eap",
        idi: idPayload(PayloadType.IDi, local.id),
        idr,
        msk: undefined,
        peerMobike: false,
      };
    }
    if (st.role !== "peer") {
      this.#fail(sa, "EAP state mix-up");
      return false;
    }
    if (notify(res, NotifyType.MOBIKE_SUPPORTED)) st.peerMobike = true;
    if (st.stage === "auth") {
      const why = verifyEapAuth(sa, res, "r", st.idr, st.msk);
      if (why) {
        this.#responderAuthFailed(sa, why, now);
        return false;
      }
      return true;
    }
    const eap = first(res, PayloadType.EAP);
    if (!eap) {
      this.#fail(sa, "IKE_AUTH response without EAP payload: the responder does not run EAP");
      return false;
    }
    const step = st.peer.receive(eap.data);
    let next: Payload[];
    if (step.kind === "failure") {
      this.#fail(sa, `EAP authentication failed: ${step.reason}`);
      return false;
    } else if (step.kind === "respond") {
      next = [{ type: PayloadType.EAP, data: step.message }];
    } else {
      st.stage = "auth";
      st.msk = step.msk;
      this.#log(
        "info",
        `${sa.label} EAP-${eapMethodLabel(step.method)} authentication successful${
          step.msk ? ", MSK established" : " (no MSK: AUTH keyed by SK_p)"
        }`,
      );
      if (sa.authRound === 0) sa.authInfo = `EAP-${eapMethodLabel(step.method)}`;
      next = [{
        type: PayloadType.AUTH,
        method: AuthMethod.SHARED_KEY_MIC,
        data: eapAuthData(sa, "i", st.idi, st.msk),
      }];
      // RFC 4739: the AUTH that ends EAP says whether another round follows.
      if (localRound(cfg, sa.authRound + 1)) {
        next.push(makeNotify(NotifyType.ANOTHER_AUTH_FOLLOWS));
      }
    }
    sa.pending.unshift({
      kind: "ike_auth",
      ...(task.child ? { child: task.child } : {}),
      followUp: next,
    });
    this.#pump(sa, now);
    return false;
  }

  /**
   * Initiator, RFC 4739: our authentication round `sa.authRound` is done
   * (the responder authenticated in the first); the next one starts with
   * its own IKE_AUTH request.
   */
  #nextAuthRound(
    sa: IkeSa,
    task: Extract<SaTask, { kind: "ike_auth" }>,
    res: IkeMessage,
    now: number,
  ): void {
    if (sa.eap?.role === "peer") {
      sa.authIdr ??= sa.eap.idr;
      sa.authPeerMobike ||= sa.eap.peerMobike;
    }
    sa.authIdr ??= first(res, PayloadType.IDr);
    sa.eap = undefined;
    sa.authRound++;
    const next = localRound(sa.config, sa.authRound)!;
    let payloads: Payload[];
    try {
      payloads = buildRoundRequest(sa, this.#ctx);
    } catch (e) {
      this.#fail(sa, (e as Error).message);
      return;
    }
    this.#log(
      "info",
      `${sa.label} authentication round ${sa.authRound} done, round ${sa.authRound + 1} as '${
        formatIdentity(next.id)
      }' (${next.auth})`,
    );
    sa.pending.unshift({
      kind: "ike_auth",
      ...(task.child ? { child: task.child } : {}),
      followUp: payloads,
    });
    this.#pump(sa, now);
  }

  #onResponse(sa: IkeSa, res: IkeMessage, raw: Uint8Array, now: number): void {
    if (sa.active?.kind === "ike_init") {
      // RFC 5685 section 4.2: an IKE_SA_INIT REDIRECT without our nonce is not an
      // answer to us (anyone can send one): ignore it and keep waiting.
      const r = notify(res, NotifyType.REDIRECT);
      const t = r ? redirectTarget(sa, r, sa.nonceI, now) : undefined;
      if (t && !t.ok && t.ignore) {
        this.#log("warn", `${sa.label} ${t.reason}`);
        return;
      }
    }
    const task = sa.active;
    sa.active = undefined;
    this.#fx.push({ kind: "cancelTimer", id: this.#timerId(sa, "rtx") });
    if (!task) {
      sa.window.completeRequest();
      return;
    }
    switch (task.kind) {
      case "ike_init": {
        const redirect = notify(res, NotifyType.REDIRECT);
        if (redirect) {
          sa.window.completeRequest();
          this.#redirected(sa, redirect, sa.nonceI, now);
          return;
        }
        sa.spiR = res.spiR;
        const o = processInitResponse(sa, res, this.#ctx);
        if (o.kind === "retry") {
          sa.spiR = 0n;
          this.#log("info", `${sa.label} ${o.reason}, retrying IKE_SA_INIT`);
          sa.window.abortRequest();
          sa.pending.unshift(task);
          this.#pump(sa, now);
          return;
        }
        if (o.kind === "failed") {
          sa.window.completeRequest();
          this.#fail(sa, o.reason);
          return;
        }
        sa.window.completeRequest();
        sa.initResponse = raw;
        this.#exportIkeKeys(sa);
        const nat = sa.natLocal || sa.natRemote;
        // With MOBIKE on our side and NAT traversal on the peer's, IKE_AUTH goes to
        // port 4500 even without a NAT (RFC 4555 section 3.1; a NAT may come later).
        const mobike = sa.config.mobike !== false && sa.peerNatT;
        if ((nat || mobike) && sa.remote.port === IKE_PORT) {
          // RFC 7296 section 2.23: continue on port 4500 once a NAT is detected.
          sa.local = { address: sa.local.address, port: NATT_PORT };
          sa.remote = { address: sa.remote.address, port: NATT_PORT };
          this.#log(
            "info",
            `${sa.label} ${nat ? "NAT detected" : "MOBIKE"}, switching to port ${NATT_PORT}`,
          );
        }
        sa.protection = ikeSaProtection(sa.suite!, sa.keys!, true, { randomBytes: this.#random });
        break;
      }
      case "ike_auth": {
        sa.window.completeRequest();
        if (notify(res, NotifyType.AUTHENTICATION_FAILED)) {
          this.#fail(sa, "peer refused our authentication (AUTHENTICATION_FAILED)");
          return;
        }
        // Any other error without IDr refuses the IKE SA itself (child errors come with IDr).
        const refusal = !first(res, PayloadType.IDr) ? errorNotify(res) : undefined;
        if (refusal && !sa.eap && sa.authRound === 0) {
          this.#fail(sa, `peer refused the IKE_SA: ${notifyName(refusal.notifyType)}`);
          return;
        }
        const redirect = notify(res, NotifyType.REDIRECT);
        if (redirect) {
          // RFC 5685 section 6: only an authenticated responder may send us elsewhere.
          const st = sa.eap?.role === "peer" ? sa.eap : undefined;
          const why = !st
            ? (sa.authRound > 0 ? undefined : verifyResponderAuth(sa, res, this.#ctx, now))
            : st.stage === "auth"
            ? verifyEapAuth(sa, res, "r", st.idr, st.msk)
            : undefined;
          if (why) this.#responderAuthFailed(sa, why, now);
          else this.#redirected(sa, redirect, undefined, now);
          return;
        }
        let peerMobike = notify(res, NotifyType.MOBIKE_SUPPORTED) !== undefined;
        sa.authPeerMobike ||= peerMobike;
        if (localRound(sa.config, sa.authRound)!.auth === "eap") {
          if (!this.#eapPeerStep(sa, task, res, now)) return;
          peerMobike ||= sa.eap?.role === "peer" && sa.eap.peerMobike;
        } else if (sa.authRound === 0) {
          const why = verifyResponderAuth(sa, res, this.#ctx, now);
          if (why) {
            this.#responderAuthFailed(sa, why, now);
            return;
          }
        }
        if (localRound(sa.config, sa.authRound + 1)) {
          this.#nextAuthRound(sa, task, res, now);
          return;
        }
        peerMobike ||= sa.authPeerMobike;
        sa.mobike = sa.config.mobike !== false && peerMobike;
        if (sa.mobike) sa.peerAddresses = readPeerAddresses(res) ?? [];
        this.#established(sa, now);
        if (this.#checkUniqueness(sa, false, now)) {
          // unique: keep on the initiator: the peer has the new SA up, so it is deleted.
          this.#log("info", `${sa.label} deleting IKE_SA due to uniqueness policy (keep)`);
          this.#queue(sa, { kind: "delete_ike", reason: "uniqueness policy (unique: keep)" }, now);
          return;
        }
        const replaced = sa.reauthOf !== undefined ? this.#sas.get(sa.reauthOf) : undefined;
        if (replaced?.established) {
          // Reauthentication, make-before-break: the old IKE SA and its children go
          // once packets already sent on them had time to arrive.
          const graceMs = (this.config.rekeyInboundGraceSeconds ?? 2) * 1000;
          this.#fx.push({
            kind: "setTimer",
            id: this.#timerId(replaced, "reauth-done"),
            at: now + graceMs,
          });
        }
        const vip = sa.config.vips?.length ? readCpReply(res.payloads) : undefined;
        if (vip) {
          sa.vip = vip.address;
          sa.vips = vip.addresses;
          this.#log("info", `${sa.label} installing virtual IP ${vip.addresses.join(" ")}`);
          this.#event({
            type: "virtual-ip",
            ikeSaId: sa.id,
            address: vip.address,
            addresses: vip.addresses,
            dns: vip.dns,
            ...(vip.subnets.length ? { subnets: vip.subnets } : {}),
          });
        } else if (sa.config.vips?.length) {
          this.#log("warn", `${sa.label} peer did not assign a virtual IP`);
        }
        // The children IKE_AUTH did not carry (all of them when it was childless, RFC 6023).
        for (const c of sa.config.children.slice(task.child ? 1 : 0)) {
          sa.pending.push({ kind: "create_child", config: c });
        }
        const child = task.child;
        if (child) {
          const co = processChildResponse(sa, child, res);
          if (co.ok) this.#installChild(sa, child, now);
          else {
            this.#log("warn", `${sa.label} child SA ${child.config.name} failed: ${co.reason}`);
            if (co.notify === undefined && first(res, PayloadType.SA)) {
              // The peer installed it: delete its half (RFC 7296 section 2.21.3).
              sa.children.set(child.id, child);
              sa.pending.push({ kind: "delete_child", childId: child.id, reason: co.reason });
            }
            this.#event({
              type: "child-failed",
              ikeSaId: sa.id,
              childName: child.config.name,
              reason: co.reason,
            });
          }
        }
        break;
      }
      case "delete_ike":
        sa.window.completeRequest();
        this.#destroy(sa, task.reason, "ike-down");
        return;
      case "delete_child": {
        sa.window.completeRequest();
        const home = this.#home(sa);
        const c = home.children.get(task.childId);
        if (c) this.#removeChild(home, c, task.reason, now);
        break;
      }
      case "dpd":
        sa.window.completeRequest();
        sa.dpdPending = false;
        if (probesNatMapping(sa)) this.#checkNatMapping(sa, res);
        break;
      case "create_child":
        sa.window.completeRequest();
        this.#childCreated(sa, task, res, now);
        break;
      case "auth_failed":
      case "notify":
        sa.window.completeRequest();
        break;
      case "mobike_update": {
        sa.window.completeRequest();
        const o = processUpdateResponse(sa, res, task.cookie2!);
        if (!o.ok) {
          this.#log("warn", `${sa.label} address update failed: ${o.reason}`);
          break;
        }
        sa.setNatLocal(o.natLocal);
        sa.natRemote = o.natRemote;
        const seen = seenMapping(sa, res);
        sa.natMapping = seen instanceof Uint8Array ? seen : undefined;
        this.#moved(sa, now);
        break;
      }
      case "rekey_ike": {
        sa.window.completeRequest();
        const fresh = task.fresh!;
        const o = processIkeRekeyResponse(sa, fresh, res);
        const theirs = sa.collidingRekey;
        sa.collidingRekey = undefined;
        if (!o.ok && theirs) {
          // Ours failed but the peer's rekey (which we answered) stands.
          this.#log("info", `${sa.label} IKE_SA rekey failed (${o.reason}), the peer's stands`);
          this.#adoptRekeyed(sa, theirs, now);
          break;
        }
        if (!o.ok) {
          const retries = task.retries ?? 0;
          if (
            o.retryGroup !== undefined && o.retryGroup !== fresh.keGroup && retries < 3 &&
            keGroups(sa.config.proposals).includes(o.retryGroup)
          ) {
            sa.pending.unshift({ kind: "rekey_ike", group: o.retryGroup, retries: retries + 1 });
          } else {
            this.#log("warn", `${sa.label} IKE_SA rekeying failed: ${o.reason}`);
            this.#armIkeRekey(sa, now, 5000 + this.#random(1)[0] * 20);
          }
          break;
        }
        if (theirs && this.#rekeyLost(fresh, theirs)) {
          // RFC 7296 2.8.2: the SA with the lowest nonce is redundant; its
          // initiator (we) deletes it, the winner deletes the old SA.
          this.#log("info", `${sa.label} IKE_SA rekey collision: ours is redundant`);
          this.#activate(fresh, now);
          fresh.silent = true;
          fresh.rekeyedTo = theirs.id;
          this.#adoptRekeyed(sa, theirs, now);
          this.#queue(fresh, { kind: "delete_ike", reason: "rekey collision lost" }, now);
          break;
        }
        if (theirs) {
          this.#log("info", `${sa.label} IKE_SA rekey collision: the peer's is redundant`);
          theirs.rekeyedTo = fresh.id;
          // Its initiator deletes it; if that never comes (the peer took another
          // path, e.g. our Delete of the old SA), forget it quietly later.
          this.#fx.push({
            kind: "setTimer",
            id: this.#timerId(theirs, "redundant"),
            at: now + REDUNDANT_SA_TTL_MS,
          });
        }
        this.#adoptRekeyed(sa, fresh, now);
        sa.pending.push({ kind: "delete_ike", reason: "rekeyed" });
        break;
      }
    }
    this.#armDpd(sa);
    this.#pump(sa, now);
  }

  // ---------------------------------------------------------------------------
  // SA lifecycle

  #established(sa: IkeSa, now: number): void {
    if (sa.established) return;
    sa.transition("established");
    sa.establishedAt = now;
    sa.forgetHandshake();
    if (this.#halfOpen.delete(sa)) {
      this.#fx.push({ kind: "cancelTimer", id: this.#timerId(sa, "halfopen") });
    }
    this.#log(
      "info",
      `${sa.label} IKE_SA established between ${sa.local.address}[${
        sa.localId?.value ?? ""
      }]...${sa.remote.address}[${sa.remoteId?.value ?? ""}]`,
    );
    this.#event({ type: "ike-up", ikeSaId: sa.id, connectionName: sa.config.name });
    this.#armDpd(sa);
    this.#armKeepalive(sa, now);
    this.#armIkeLifetimes(sa, now);
  }

  /**
   * The IKE SA's rekey and reauthentication timers, each up to `randSeconds`
   * early, and its hard lifetime `overSeconds` after the later of them
   * (charon's set_state(ESTABLISHED)). Either end reauthenticates, the
   * responder only when its connection names the peer's address (it becomes
   * the new SA's initiator). `reauthAt`: the reauthentication time of the SA
   * this one rekeyed, which it keeps (charon: "rescheduling reauthentication
   * ... after rekeying").
   */
  #armIkeLifetimes(sa: IkeSa, now: number, reauthAt = 0): void {
    const cfg = sa.config;
    const reauth = cfg.reauthSeconds ?? 0;
    const over = ikeOverSeconds(cfg);
    const rekeyAt = this.#armIkeRekey(sa, now);
    sa.reauthAt = 0;
    if (reauth > 0 && (sa.initiator || !addressMatches(cfg.remoteAddress, ""))) {
      sa.reauthAt = reauthAt > 0
        ? reauthAt
        : now + reauth * 1000 - this.#jitterMs(Math.min(ikeRandSeconds(cfg), reauth / 2));
      this.#fx.push({ kind: "setTimer", id: this.#timerId(sa, "reauth"), at: sa.reauthAt });
    }
    const due = Math.max(rekeyAt, sa.reauthAt);
    sa.expireAt = due > 0 && over > 0 ? due + over * 1000 : 0;
    if (sa.expireAt) {
      this.#fx.push({ kind: "setTimer", id: this.#timerId(sa, "expire"), at: sa.expireAt });
    }
  }

  /** A random delay in [0, `seconds`) in ms (rekey jitter, so both ends rarely rekey at once). */
  #jitterMs(seconds: number): number {
    if (seconds <= 0) return 0;
    const b = this.#random(2);
    return Math.floor(((b[0] << 8 | b[1]) / 65536) * seconds * 1000);
  }

  /**
   * Installs a child's SAD entries. A rekey responder installs only the
   * inbound SA at first and the outbound one when the old child goes (as
   * strongSwan does), so it never sends on an SA the initiator may not have
   * installed yet (its response could be lost).
   */
  #installChild(sa: IkeSa, c: ChildSa, now: number, outbound = true): void {
    if (this.config.exportKeys) {
      for (const line of espSaLines(sa, c)) {
        this.#fx.push({ kind: "exportKeys", table: "esp_sa", line });
      }
    }
    sa.children.set(c.id, c);
    c.transition("installed");
    c.installedAt = now;
    this.#armChildTimers(sa, c, now);
    const [inSa, outSa] = this.#saEntries(sa, c);
    this.#fx.push({ kind: "installSa", sa: inSa });
    if (outbound) {
      this.#fx.push({ kind: "installSa", sa: outSa });
      c.outboundInstalled = true;
    }
    this.#log(
      "info",
      `${sa.label} CHILD_SA ${c.label} established with SPIs ${
        c.spiIn.toString(16).padStart(8, "0")
      }_i ${c.spiOut.toString(16).padStart(8, "0")}_o`,
    );
    this.#event({
      type: "child-up",
      ikeSaId: sa.id,
      childSaId: c.id,
      childName: c.config.name,
      spiIn: c.spiIn,
      spiOut: c.spiOut,
      ...(c.rekeyOf !== undefined ? { rekeyOf: c.rekeyOf } : {}),
    });
  }

  #saEntries(sa: IkeSa, c: ChildSa) {
    const encap = sa.natLocal || sa.natRemote
      ? { localPort: sa.local.port, remotePort: sa.remote.port }
      : undefined;
    return childSaInstalls(c, sa.local.address, sa.remote.address, encap);
  }

  /**
   * Child exchanges in flight or unfinished (a rekey awaiting its Delete):
   * the IKE SA is not rekeyed meanwhile (RFC 7296 section 2.25, TEMPORARY_FAILURE).
   */
  #childWorkInProgress(sa: IkeSa): boolean {
    if (sa.active && sa.active.kind !== "dpd" && sa.active.kind !== "rekey_ike") return true;
    for (const c of sa.children.values()) {
      if (c.state !== "installed" || !c.outboundInstalled) return true;
    }
    return false;
  }

  #exportIkeKeys(sa: IkeSa): void {
    if (!this.config.exportKeys) return;
    const line = ikev2DecryptionLine(sa);
    if (line) this.#fx.push({ kind: "exportKeys", table: "ikev2_decryption_table", line });
  }

  /** The live IKE SA for `sa`: itself, or the SA that replaced it by a rekey. */
  #home(sa: IkeSa): IkeSa {
    let h = sa;
    for (let i = 0; i < 8 && h.rekeyedTo !== undefined; i++) {
      const next = this.#sas.get(h.rekeyedTo);
      if (!next) break;
      h = next;
    }
    return h;
  }

  /** The IKE SA that will replace `old` after a rekey (not registered yet). */
  #successor(old: IkeSa, initiator: boolean, now: number): IkeSa {
    const spi = this.#newSpi();
    const fresh = new IkeSa({
      id: this.#nextId++,
      initiator,
      config: old.config,
      spiI: initiator ? spi : 0n,
      spiR: initiator ? 0n : spi,
      local: old.local,
      remote: old.remote,
      now,
      retransmit: old.config.retransmit ?? this.config.retransmit,
    });
    fresh.originalInitiator = old.originalInitiator;
    fresh.natLocal = old.natLocal;
    fresh.natLocalSeen = old.natLocalSeen;
    fresh.natRemote = old.natRemote;
    fresh.peerFragmentation = old.peerFragmentation;
    fresh.peerNatT = old.peerNatT;
    fresh.peerSignatureHashes = old.peerSignatureHashes;
    fresh.mobike = old.mobike;
    fresh.peerAddresses = old.peerAddresses;
    fresh.localId = old.localId;
    fresh.remoteId = old.remoteId;
    fresh.authInfo = old.authInfo;
    fresh.eapIdentity = old.eapIdentity;
    fresh.padEntry = old.padEntry;
    fresh.candidates = old.candidates;
    fresh.vip = old.vip;
    fresh.peerVip = old.peerVip;
    fresh.vips = old.vips;
    fresh.peerVips = old.peerVips;
    return fresh;
  }

  /**
   * The rekeyed IKE SA takes over: keys, children (with their timers) and
   * queued child work move to it; the old SA only waits for its Delete.
   */
  #adoptRekeyed(old: IkeSa, fresh: IkeSa, now: number): void {
    this.#activate(fresh, now);
    fresh.silent = false;
    old.rekeyedTo = fresh.id;
    for (const c of [...old.children.values()]) {
      old.children.delete(c.id);
      c.ikeSaId = fresh.id;
      fresh.children.set(c.id, c);
      for (const [what, at] of [["rekey", c.rekeyAt], ["expire", c.expireAt]] as const) {
        if (!at) continue;
        this.#fx.push({ kind: "cancelTimer", id: this.#timerId(old, `child/${c.id}/${what}`) });
        this.#fx.push({
          kind: "setTimer",
          id: this.#timerId(fresh, `child/${c.id}/${what}`),
          at: Math.max(at, now),
        });
      }
    }
    // MOBIKE may have moved the old SA while the rekey was in flight.
    fresh.local = old.local;
    fresh.remote = old.remote;
    fresh.originalInitiator = old.originalInitiator;
    fresh.natLocal = old.natLocal;
    fresh.natLocalSeen = old.natLocalSeen;
    fresh.natRemote = old.natRemote;
    const keep: SaTask[] = old.pending.filter((t) =>
      t.kind === "create_child" || t.kind === "delete_child" || t.kind === "notify" ||
      t.kind === "mobike_update"
    );
    old.pending.splice(0, old.pending.length, ...old.pending.filter((t) => !keep.includes(t)));
    fresh.pending.push(...keep);
    this.#log(
      "info",
      `${old.label} IKE_SA rekeyed: ${fresh.label} with SPIs ${fresh.spiI.toString(16)}_i ${
        fresh.spiR.toString(16)
      }_r`,
    );
    this.#event({
      type: "ike-rekeyed",
      ikeSaId: fresh.id,
      oldIkeSaId: old.id,
      connectionName: fresh.config.name,
    });
    this.#armDpd(fresh);
    this.#armKeepalive(fresh, now);
    this.#fx.push({ kind: "cancelTimer", id: this.#timerId(old, "expire") });
    this.#armIkeLifetimes(fresh, now, old.reauthAt);
    this.#pump(fresh, now);
  }

  /** A rekeyed IKE SA gets its keys and can send and receive (no children, timers yet). */
  #activate(fresh: IkeSa, now: number): void {
    if (fresh.state !== "created") return;
    fresh.protection = ikeSaProtection(fresh.suite!, fresh.keys!, fresh.initiator, {
      randomBytes: this.#random,
    });
    this.#exportIkeKeys(fresh);
    fresh.transition("connecting");
    fresh.transition("established");
    fresh.establishedAt = now;
    fresh.lastInbound = now;
    fresh.forgetHandshake();
    this.#register(fresh);
  }

  /**
   * Simultaneous IKE SA rekey (RFC 7296 section 2.8.2): whether `ours` is
   * redundant, i.e. was created with the lowest of the four nonces.
   */
  #rekeyLost(ours: IkeSa, theirs: IkeSa): boolean {
    const min = (sa: IkeSa) => compareBytes(sa.nonceI!, sa.nonceR!) <= 0 ? sa.nonceI! : sa.nonceR!;
    return compareBytes(min(ours), min(theirs)) < 0;
  }

  /**
   * The IKE SA's rekey timer (rekeySeconds minus up to randSeconds), or
   * `inMs` from now; returns when it fires (0: no rekeying).
   */
  #armIkeRekey(sa: IkeSa, now: number, inMs?: number): number {
    const cfg = sa.config;
    const rekey = cfg.rekeySeconds ?? 0;
    if (rekey <= 0) return 0;
    const rand = Math.min(ikeRandSeconds(cfg), rekey / 2);
    const at = now + (inMs ?? rekey * 1000 - this.#jitterMs(rand));
    this.#fx.push({ kind: "setTimer", id: this.#timerId(sa, "rekey"), at });
    sa.rekeyAt = at;
    return at;
  }

  /** Soft (rekey) and hard (expire) lifetime timers of a child, with rekey jitter. */
  #armChildTimers(sa: IkeSa, c: ChildSa, now: number): void {
    const l = c.config.lifetimes ?? {};
    const rekey = l.rekeySeconds ?? 0;
    if (rekey > 0) {
      // Up to rand_time earlier (default 10%; the configuration passes swanctl's
      // life_time - rekey_time), so both ends rarely rekey at the same moment;
      // never more than half the rekey time, so a rekey cannot follow the last at once.
      const rand = Math.min(l.randSeconds ?? rekey / 10, rekey / 2);
      c.rekeyAt = now + rekey * 1000 - this.#jitterMs(rand);
      this.#fx.push({
        kind: "setTimer",
        id: this.#timerId(sa, `child/${c.id}/rekey`),
        at: c.rekeyAt,
      });
    }
    const life = l.lifeSeconds ?? 0;
    if (life > 0) {
      c.expireAt = now + life * 1000;
      this.#fx.push({
        kind: "setTimer",
        id: this.#timerId(sa, `child/${c.id}/expire`),
        at: c.expireAt,
      });
    }
  }

  /** Initiator side of CREATE_CHILD_SA finished (new child or rekey). */
  #childCreated(
    x: IkeSa,
    task: Extract<SaTask, { kind: "create_child" }>,
    res: IkeMessage,
    now: number,
  ): void {
    // The exchange ran on `x` (its SK_d keys the child); the children live on
    // `sa`, which is x's successor if x was rekeyed meanwhile.
    const sa = this.#home(x);
    const child = task.child!;
    child.ikeSaId = sa.id;
    const old = task.rekeyOf !== undefined ? sa.children.get(task.rekeyOf) : undefined;
    if (task.rekeyOf !== undefined && !old && task.oldChild?.peerRekey !== undefined) {
      // The peer won a rekey collision and deleted the old child meanwhile: it
      // created our replacement too, which nobody needs.
      if (first(res, PayloadType.SA)) {
        this.#log("info", `${sa.label} lost a rekey collision, deleting our replacement`);
        sa.children.set(child.id, child);
        sa.pending.push({ kind: "delete_child", childId: child.id, reason: "rekey obsolete" });
      }
      return;
    }
    // (If the old child expired meanwhile, the replacement simply becomes the child.)
    const co = processChildResponse(x, child, res, {
      nonce: task.nonce!,
      ...(task.kex ? { kex: task.kex } : {}),
      ...(old ? { rekeyOf: old } : {}),
    });
    if (!co.ok) {
      const retries = task.retries ?? 0;
      if (
        co.retryGroup !== undefined && co.retryGroup !== task.group && retries < 3 &&
        keGroups(task.config.proposals).includes(co.retryGroup)
      ) {
        this.#log("info", `${sa.label} peer wants PFS group ${co.retryGroup}, retrying`);
        sa.pending.unshift({
          kind: "create_child",
          config: task.config,
          ...(task.rekeyOf !== undefined ? { rekeyOf: task.rekeyOf } : {}),
          group: co.retryGroup,
          retries: retries + 1,
        });
        return;
      }
      this.#log("warn", `${sa.label} CREATE_CHILD_SA for ${task.config.name} failed: ${co.reason}`);
      if (co.notify === undefined && first(res, PayloadType.SA)) {
        // The peer installed what it answered (e.g. tunnel mode for our transport request,
        // RFC 7296 section 1.3.1): delete its half too (section 2.21.3).
        sa.children.set(child.id, child);
        sa.pending.push({ kind: "delete_child", childId: child.id, reason: co.reason });
      }
      if (old?.state === "rekeying" && co.notify === NotifyType.CHILD_SA_NOT_FOUND) {
        // The peer does not know the SA we tried to rekey: drop our half too.
        this.#removeChild(sa, old, "unknown to the peer", now);
      } else if (old?.state === "rekeying") {
        old.transition("installed");
        if (co.notify === NotifyType.TEMPORARY_FAILURE) {
          // The peer is busy (e.g. rekeying the IKE SA, RFC 7296 2.25): try again soon.
          const b = this.#random(1);
          old.rekeyAt = now + 5000 + b[0] * 40;
          this.#fx.push({
            kind: "setTimer",
            id: this.#timerId(sa, `child/${old.id}/rekey`),
            at: old.rekeyAt,
          });
        }
      }
      this.#event({
        type: "child-failed",
        ikeSaId: sa.id,
        childName: task.config.name,
        reason: co.reason,
      });
      return;
    }
    if (old && old.state === "rekeyed") {
      // The peer rekeyed the same child at the same time (RFC 7296 2.8.1).
      child.rekeyOf = old.id;
      this.#installChild(sa, child, now);
      this.#resolveRekeyCollision(sa, old);
      return;
    }
    child.rekeyOf = old?.id;
    this.#installChild(sa, child, now);
    if (old) {
      // Make-before-break: the new SA is installed (both directions) before the old goes.
      old.transition("rekeyed");
      sa.pending.push({ kind: "delete_child", childId: old.id, reason: "rekeyed" });
    }
  }

  /** Responder side of CREATE_CHILD_SA. */
  #respondCreateChild(sa: IkeSa, req: IkeMessage, now: number): void {
    const saP = first(req, PayloadType.SA);
    const ikeRekey = saP?.proposals.some((p) => p.protocolId === ProtocolId.IKE) ?? false;
    // Both ends rekey the IKE SA at once: answer, decide when ours ends (RFC 7296 2.8.2).
    const collision = ikeRekey && sa.active?.kind === "rekey_ike" && !sa.collidingRekey;
    if (
      !sa.established || sa.rekeyedTo !== undefined ||
      (sa.active?.kind === "rekey_ike" && !collision)
    ) {
      // Not while the IKE SA is being (or was) rekeyed (RFC 7296 section 2.25).
      this.#respond(sa, req, [makeNotify(NotifyType.TEMPORARY_FAILURE)]);
      return;
    }
    if (ikeRekey) {
      if (this.#childWorkInProgress(sa)) {
        this.#respond(sa, req, [makeNotify(NotifyType.TEMPORARY_FAILURE)]);
        return;
      }
      const fresh = this.#successor(sa, false, now);
      const r = respondIkeRekey(sa, fresh, req, this.#ctx);
      this.#respond(sa, req, r.payloads);
      if (!r.ok) {
        this.#log("warn", `${sa.label} IKE_SA rekey refused: ${r.reason}`);
        return;
      }
      if (collision) {
        this.#activate(fresh, now);
        fresh.silent = true;
        sa.collidingRekey = fresh;
        this.#log("info", `${sa.label} IKE_SA rekey collision: the peer rekeys too`);
        return;
      }
      this.#adoptRekeyed(sa, fresh, now);
      return;
    }
    const r = respondChild(sa, req, this.#ctx, this.#nextId++, true);
    this.#respond(sa, req, r.payloads);
    if (!r.ok) {
      this.#log("warn", `${sa.label} CREATE_CHILD_SA refused: ${r.reason}`);
      return;
    }
    r.child.rekeyOf = r.rekeyOf?.id;
    this.#installChild(sa, r.child, now, r.rekeyOf === undefined);
    if (r.rekeyOf) {
      const old = r.rekeyOf;
      if (old.state === "rekeying") {
        // Collision: we are rekeying it too; decided when our own exchange ends.
        old.transition("rekeyed");
        old.peerRekey = r.child.id;
      } else {
        old.transition("rekeyed");
      }
    }
  }

  /**
   * Both ends rekeyed the same child (RFC 7296 section 2.8.1): the new SA
   * created with the lowest of the four nonces is redundant and is deleted
   * by the end that initiated it; the winner deletes the old SA (so the loser
   * switches to the winner's SA only once the winner has it).
   */
  #resolveRekeyCollision(sa: IkeSa, old: ChildSa): void {
    const ours = [...sa.children.values()].find((c) =>
      c.rekeyOf === old.id && c.id !== old.peerRekey && c.state === "installed"
    );
    const theirs = old.peerRekey !== undefined ? sa.children.get(old.peerRekey) : undefined;
    if (!ours || !ours.nonces) return;
    const min = (n: { ni: Uint8Array; nr: Uint8Array }) =>
      compareBytes(n.ni, n.nr) <= 0 ? n.ni : n.nr;
    // The peer already deleted its replacement: it lost, we delete the old SA.
    const oursLoses = theirs?.nonces !== undefined &&
      compareBytes(min(ours.nonces), min(theirs.nonces)) < 0;
    this.#log(
      "info",
      `${sa.label} rekey collision on ${old.label}: ${
        oursLoses ? "ours" : "the peer's"
      } is redundant`,
    );
    if (!oursLoses) {
      // The peer's replacement is redundant: never send on it; the peer deletes it.
      if (theirs?.state === "installed") theirs.transition("rekeyed");
      sa.pending.push({ kind: "delete_child", childId: old.id, reason: "rekeyed" });
      return;
    }
    // Stop sending on our redundant SA at once; the old SA carries traffic until the
    // winner deletes it and we switch to the winner's SA.
    if (ours.outboundInstalled) {
      this.#fx.push({
        kind: "removeSa",
        ikeSaId: sa.id,
        childSaId: ours.id,
        protocol: ours.config.protocol,
        direction: "out",
        spi: ours.spiOut,
        dst: sa.remote.address,
      });
      ours.outboundInstalled = false;
    }
    ours.transition("rekeyed");
    sa.pending.push({ kind: "delete_child", childId: ours.id, reason: "rekey collision lost" });
  }

  #removeChild(
    sa: IkeSa,
    c: ChildSa,
    reason: string,
    now = 0,
    immediate = false,
    peerDeleted = false,
  ): void {
    if (c.state === "deleted") return;
    const protocol = c.config.protocol;
    // The peer's Delete of the old child proves it has our rekey response, so
    // a rekey responder now sends on the replacement; at the old child's hard
    // expiry it must anyway. (Other removals prove nothing: the response may
    // have been lost.) Installed before the old SA goes (make-before-break), so
    // the data plane never lacks an outbound SA and raises no acquire.
    for (const n of peerDeleted || reason === "expired" ? sa.children.values() : []) {
      if (n.rekeyOf === c.id && !n.outboundInstalled && n.state === "installed") {
        this.#fx.push({ kind: "installSa", sa: this.#saEntries(sa, n)[1] });
        n.outboundInstalled = true;
      }
    }
    if (c.state !== "creating") {
      const removeIn: Effect = {
        kind: "removeSa",
        ikeSaId: sa.id,
        childSaId: c.id,
        protocol,
        direction: "in",
        spi: c.spiIn,
        dst: sa.local.address,
      };
      const graceMs = (this.config.rekeyInboundGraceSeconds ?? 2) * 1000;
      if (!immediate && graceMs > 0) {
        // Keep accepting packets the peer sent just before the Delete (rekeys, collisions).
        const id = this.#timerId(sa, `linger/${c.id}`);
        this.#lingering.set(id, removeIn);
        this.#fx.push({ kind: "setTimer", id, at: now + graceMs });
      } else {
        this.#fx.push(removeIn);
      }
      if (c.outboundInstalled) {
        this.#fx.push({
          kind: "removeSa",
          ikeSaId: sa.id,
          childSaId: c.id,
          protocol,
          direction: "out",
          spi: c.spiOut,
          dst: sa.remote.address,
        });
      }
      this.#event({
        type: "child-down",
        ikeSaId: sa.id,
        childSaId: c.id,
        childName: c.config.name,
        reason,
      });
    }
    c.transition("deleted");
    sa.children.delete(c.id);
    for (const t of ["rekey", "expire"]) {
      this.#fx.push({ kind: "cancelTimer", id: this.#timerId(sa, `child/${c.id}/${t}`) });
    }
  }

  /**
   * Establishment failed: report and forget. `timedOut`: the peer never
   * answered; then, as swanctl's keyingtries (retransmission sequences; 0 =
   * until it answers), a fresh IKE SA tries again. A refusal (AUTH failure,
   * no proposal) is final.
   */
  #fail(sa: IkeSa, reason: string, timedOut = false): void {
    this.#log("warn", `${sa.label} ${reason}`);
    const tries = sa.config.keyingTries ?? 1;
    const retry = timedOut && sa.initiator && !sa.established && sa.reauthOf === undefined &&
      (tries === 0 || sa.attempt < tries);
    this.#destroy(sa, reason, sa.established ? "ike-down" : "ike-failed");
    if (retry) {
      // keyingtries: start over with a fresh IKE SA.
      this.#log("info", `${sa.label} establishing failed, attempt ${sa.attempt + 1}`);
      const next = this.#startInitiator(sa.config, this.#now);
      next.attempt = sa.attempt + 1;
    }
  }

  #destroy(sa: IkeSa, reason: string, event: "ike-down" | "ike-failed"): void {
    if (sa.state === "destroyed") return;
    if (sa.collidingRekey) {
      // A rekey collision that never got decided goes with the old SA.
      sa.collidingRekey.rekeyedTo = sa.id;
      this.#destroy(sa.collidingRekey, reason, event);
      sa.collidingRekey = undefined;
    }
    for (const c of [...sa.children.values()]) this.#removeChild(sa, c, reason, 0, true);
    for (const [id, e] of [...this.#lingering]) {
      if (id.startsWith(this.#timerId(sa, "linger/"))) {
        this.#lingering.delete(id);
        this.#fx.push(e, { kind: "cancelTimer", id });
      }
    }
    if (sa.rekeyedTo === undefined) {
      for (const v of sa.peerVips) {
        this.#pools.release(v.pool, v.address);
        this.#log("info", `${sa.label} released virtual IP ${v.address}`);
      }
    }
    sa.downReason = reason;
    sa.transition("destroyed");
    sa.pending.length = 0;
    sa.active = undefined;
    this.#sas.delete(sa.id);
    this.#bySpi.delete(sa.localSpi);
    if (sa.halfOpenKey) this.#byInit.delete(sa.halfOpenKey);
    this.#halfOpen.delete(sa);
    for (
      const t of [
        "rtx",
        "dpd",
        "halfopen",
        "keepalive",
        "rekey",
        "reauth",
        "reauth-done",
        "redundant",
        "expire",
      ]
    ) {
      this.#fx.push({ kind: "cancelTimer", id: this.#timerId(sa, t) });
    }
    this.#log("info", `${sa.label} IKE_SA deleted: ${reason}`);
    // Replaced ("ike-rekeyed" was reported) or never reported (a rekey collision's loser).
    if (sa.rekeyedTo !== undefined || sa.silent) return;
    this.#event(
      event === "ike-down"
        ? { type: "ike-down", ikeSaId: sa.id, connectionName: sa.config.name, reason }
        : { type: "ike-failed", ikeSaId: sa.id, connectionName: sa.config.name, reason },
    );
  }

  #forChild(id: number, f: (sa: IkeSa, c: ChildSa) => void): void {
    for (const sa of this.#sas.values()) {
      const c = sa.children.get(id);
      if (c) return f(sa, c);
    }
  }

  #childLifetime(sa: IkeSa, c: ChildSa, kind: "soft" | "hard", now: number): void {
    if (!sa.established) return;
    if (kind === "soft") {
      if (c.state !== "installed") return;
      if (!c.outboundInstalled) {
        // A rekey we answered is not confirmed yet (no Delete of the old SA): wait.
        c.rekeyAt = now + 10_000;
        this.#fx.push({
          kind: "setTimer",
          id: this.#timerId(sa, `child/${c.id}/rekey`),
          at: c.rekeyAt,
        });
        return;
      }
      const busy = sa.pending.some((t) => t.kind === "create_child" && t.rekeyOf === c.id);
      if (!busy) this.#queue(sa, { kind: "create_child", config: c.config, rekeyOf: c.id }, now);
      return;
    }
    if (c.state === "deleting" || c.state === "deleted") return;
    this.#log("info", `${sa.label} ${c.label} reached its hard lifetime`);
    c.transition("deleting");
    this.#queue(sa, { kind: "delete_child", childId: c.id, reason: "expired" }, now);
  }

  /** Behind a NAT, keep its mapping alive with 0xFF datagrams (RFC 3948 section 4). */
  #armKeepalive(sa: IkeSa, now: number): void {
    const every = (this.config.natKeepaliveSeconds ?? 20) * 1000;
    if (!sa.natLocal || every <= 0) return;
    this.#fx.push({ kind: "setTimer", id: this.#timerId(sa, "keepalive"), at: now + every });
  }

  #armDpd(sa: IkeSa): void {
    if (!sa.established) return;
    const at = nextDpdAt(sa);
    if (at !== undefined) this.#fx.push({ kind: "setTimer", id: this.#timerId(sa, "dpd"), at });
  }

  // ---------------------------------------------------------------------------
  // Timers

  #timer(id: string, now: number): void {
    const linger = this.#lingering.get(id);
    if (linger) {
      this.#lingering.delete(id);
      this.#fx.push(linger);
      return;
    }
    const cm = /^ike\/(\d+)\/child\/(\d+)\/(rekey|expire)$/.exec(id);
    if (cm) {
      const sa = this.#sas.get(Number(cm[1]));
      const c = sa?.children.get(Number(cm[2]));
      if (sa && c) this.#childLifetime(sa, c, cm[3] === "rekey" ? "soft" : "hard", now);
      return;
    }
    const m = /^ike\/(\d+)\/([\w-]+)$/.exec(id);
    if (!m) return;
    const sa = this.#sas.get(Number(m[1]));
    if (!sa) return;
    switch (m[2]) {
      case "rtx":
        return this.#retransmit(sa, now);
      case "radius":
        return this.#radiusTimeout(sa, now);
      case "crl":
        if (sa.revocationWait) {
          for (const key of sa.revocationWait.uris) {
            this.#log("warn", `${sa.label} no answer from ${key.split(" ")[0]} in time`);
            // Counted as failed, so later IKE_AUTHs wait again only after the retry time.
            const why = `no answer within ${CRL_WAIT_MS / 1000} s`;
            if (this.#ocspAsked.delete(key)) this.#ocsp.failed(key, why, now);
            else this.#crls.failed(key, why, now);
          }
          this.#releaseRevocationWait(sa, now);
        }
        return;
      case "dpd": {
        if (!sa.established) return;
        const at = nextDpdAt(sa);
        if (at === undefined) return;
        if (now < at) {
          this.#fx.push({ kind: "setTimer", id, at });
          return;
        }
        if (!sa.dpdPending && !sa.pending.some((t) => t.kind === "dpd") && !sa.window.busy) {
          this.#queue(sa, { kind: "dpd" }, now);
        }
        return;
      }
      case "rekey":
        if (sa.established && sa.rekeyedTo === undefined) {
          if (!sa.pending.some((t) => t.kind === "rekey_ike")) {
            this.#queue(sa, { kind: "rekey_ike" }, now);
          }
        }
        return;
      case "expire":
        // Neither rekeyed nor reauthenticated in time: charon's hard IKE lifetime.
        if (sa.established && sa.rekeyedTo === undefined) {
          this.#log("info", `${sa.label} IKE_SA lifetime expired, deleting it`);
          this.#queue(sa, { kind: "delete_ike", reason: "IKE_SA lifetime expired" }, now);
        }
        return;
      case "reauth-done":
        if (sa.established) this.#queue(sa, { kind: "delete_ike", reason: "reauthenticated" }, now);
        return;
      case "reauth":
        if (sa.established && sa.rekeyedTo === undefined) {
          this.#fx.push(...this.reauthenticate(sa.id, now));
        }
        return;
      case "keepalive":
        if (!sa.established || !sa.natLocal) return;
        this.#fx.push({
          kind: "send",
          from: sa.local,
          to: sa.remote,
          bytes: new Uint8Array([0xff]),
          raw: true,
        });
        this.#armKeepalive(sa, now);
        return;
      case "halfopen":
        if (sa.state === "connecting") this.#fail(sa, "half-open IKE_SA timed out");
        return;
      case "redundant":
        if (sa.rekeyedTo !== undefined && sa.children.size === 0) {
          this.#destroy(sa, "redundant after a rekey collision", "ike-down");
        }
        return;
    }
  }

  #retransmit(sa: IkeSa, now: number): void {
    const o = sa.window.outstanding;
    if (!o) return;
    if (now < o.deadline) {
      this.#fx.push({ kind: "setTimer", id: this.#timerId(sa, "rtx"), at: o.deadline });
      return;
    }
    const r = sa.window.onRetransmitTimer(now);
    if (r === undefined) return;
    if (r === "give-up") {
      const task = sa.active;
      this.#log("warn", `${sa.label} giving up after ${o.retransmits} retransmits`);
      if (task?.kind === "delete_ike") {
        this.#destroy(sa, task.reason, "ike-down");
      } else if (sa.established && this.#switchPath(sa, now)) {
        return;
      } else if (sa.established) {
        this.#dpdAction(sa, now);
      } else {
        this.#fail(sa, "peer not responding", true);
      }
      return;
    }
    this.counters.retransmits++;
    this.#log(
      "info",
      `${sa.label} retransmit ${o.retransmits} of request with message ID ${o.mid}`,
    );
    this.#send(sa, sa.local, sa.remote, r.packets);
    this.#fx.push({ kind: "setTimer", id: this.#timerId(sa, "rtx"), at: r.deadline });
  }

  /**
   * MOBIKE initiator behind a NAT, a liveness check answered (RFC 4555
   * section 3.8): when the peer saw us at another mapping than last time,
   * UPDATE_SA_ADDRESSES moves the SA and its child SAs to the endpoints the
   * peer sees now. The first answer only sets the mapping to compare with
   * (as charon does: an update with unchanged addresses makes a
   * kernel-libipsec charon rekey every child SA).
   */
  #checkNatMapping(sa: IkeSa, res: IkeMessage): void {
    const seen = seenMapping(sa, res);
    if (!(seen instanceof Uint8Array)) return;
    const known = sa.natMapping;
    sa.natMapping = seen;
    if (!known || constantTimeEqual(known, seen)) return;
    if (sa.pending.some((t) => t.kind === "mobike_update")) return;
    this.#log("info", `${sa.label} NAT mapping changed, updating SA addresses (MOBIKE)`);
    sa.pending.push({ kind: "mobike_update" });
  }

  /**
   * MOBIKE initiator, the current path died (a request went unanswered):
   * send it again to the peer's next address not tried yet, then move the
   * SA there with UPDATE_SA_ADDRESSES (RFC 4555 section 3.5). False when
   * there is no other address to try.
   */
  #switchPath(sa: IkeSa, now: number): boolean {
    if (!sa.mobike || !sa.originalInitiator) return false;
    sa.triedRemotes.add(sa.remote.address);
    const candidates = [sa.config.remoteAddress, ...sa.peerAddresses];
    const next = candidates.find((a) => a !== "%any" && !sa.triedRemotes.has(a));
    const o = sa.window.outstanding;
    if (next === undefined || !o) return false;
    this.#log("info", `${sa.label} no answer from ${sa.remote.address}, trying ${next}`);
    sa.local = { address: sa.local.address, port: NATT_PORT };
    sa.remote = { address: next, port: NATT_PORT };
    const deadline = sa.window.restartRetransmits(now)!;
    this.#send(sa, sa.local, sa.remote, o.packets);
    this.#fx.push({ kind: "setTimer", id: this.#timerId(sa, "rtx"), at: deadline });
    if (!sa.pending.some((t) => t.kind === "mobike_update")) {
      sa.pending.unshift({ kind: "mobike_update" });
    }
    return true;
  }

  /** The peer is dead: clear, restart or trap per `dpdAction` (default clear). */
  #dpdAction(sa: IkeSa, now: number): void {
    const action = sa.config.dpdAction ?? "clear";
    const cfg = sa.config;
    this.#destroy(sa, `peer dead (dpd_action ${action})`, "ike-down");
    if (action === "restart" && cfg.remoteAddress !== "%any") {
      this.#startInitiator(cfg, now);
    }
  }
}

/**
 * Whether our IKE_AUTH request goes without a child (RFC 6023, swanctl's
 * `childless`); throws when "force" meets a peer that did not announce support.
 */
function childlessAuth(sa: IkeSa): boolean {
  const mode = sa.config.childless ?? "allow";
  if (mode === "force" && !sa.peerChildless) {
    throw new Error("childless: force, but the peer does not support childless IKE SAs");
  }
  return mode === "force" || (mode === "prefer" && sa.peerChildless);
}

/** swanctl's over_time: configured, else 10% of the longer of rekey_time and reauth_time. */
function ikeOverSeconds(cfg: PeerConfig): number {
  return cfg.overSeconds ?? Math.max(cfg.rekeySeconds ?? 0, cfg.reauthSeconds ?? 0) / 10;
}

/**
 * swanctl's rand_time: configured, else over_time but no more than half of
 * the shorter of rekey_time and reauth_time (charon's vici default).
 */
function ikeRandSeconds(cfg: PeerConfig): number {
  if (cfg.randSeconds !== undefined) return cfg.randSeconds;
  const times = [cfg.rekeySeconds ?? 0, cfg.reauthSeconds ?? 0].filter((t) => t > 0);
  return times.length ? Math.min(ikeOverSeconds(cfg), Math.min(...times) / 2) : 0;
}

/**
 * The endpoints to answer a request that came `from` the peer `to` us: back
 * to its source, from the port it reached. Our address stays the SA's: on a
 * wildcard socket `to.address` may only be a guess (the route source).
 */
function replyPath(sa: IkeSa, from: Endpoint, to: Endpoint): { from: Endpoint; to: Endpoint } {
  return { from, to: { address: sa.local.address, port: to.port } };
}
