/**
 * One IKE SA: its state machine (with the allowed transitions as a table),
 * SPIs, endpoints, negotiated transforms, keys and the per-SA data the tasks
 * share (nonces, the IKE_SA_INIT messages for AUTH, NAT detection results,
 * peer capabilities). The exchange window (message ids, retransmits) lives in
 * {@link ExchangeWindow}; the tasks that run on the SA are in ./tasks.
 *
 * ```
 *   created ──► connecting ──► established ──► deleting ──► destroyed
 *      │            │               │                          ▲
 *      └────────────┴───────────────┴──────────────────────────┘
 * ```
 *
 * @module
 */
import type { IkeSaKeys, KeySuite, PpkKeys } from "../crypto/keys.ts";
import type { KeyExchange } from "../crypto/types.ts";
import type { Identity } from "../db/identity.ts";
import type { NotifyPayload } from "./payloads/notify.ts";
import type { PadEntry } from "../db/pad.ts";
import type { ChildSa } from "./child_sa.ts";
import type { Endpoint } from "./effects.ts";
import { ExchangeWindow, type RetransmitPolicy } from "./exchange.ts";
import type { ChildConfig, PeerConfig } from "./peer_config.ts";
import type { IkeSaProtection } from "./message.ts";
import type { FragmentReassembler } from "./fragment.ts";
import type { Proposal as WireProposal } from "./payloads/sa.ts";
import type { EapState } from "./tasks/ike_auth_eap.ts";
import type { IdPayload } from "./payloads/id.ts";
import type { Payload } from "./message.ts";
import type { IkeMessage } from "./tasks/_msg.ts";

/** IKE SA states. */
export type IkeSaState = "created" | "connecting" | "established" | "deleting" | "destroyed";

/** Allowed state transitions (anything else is a bug and throws). */
export const IKE_SA_TRANSITIONS: Readonly<Record<IkeSaState, readonly IkeSaState[]>> = {
  created: ["connecting", "deleting", "destroyed"],
  connecting: ["established", "deleting", "destroyed"],
  established: ["deleting", "destroyed"],
  deleting: ["destroyed"],
  destroyed: [],
};

/** Thrown on a transition {@link IKE_SA_TRANSITIONS} does not allow. */
export class IkeSaStateError extends Error {
  override readonly name = "IkeSaStateError";
}

/** The negotiated IKE SA transforms. */
export interface IkeSuite extends KeySuite {
  /** Key exchange method (Transform Type 4). */
  readonly keId: number;
}

/**
 * A request this SA wants to send (strongSwan's queued tasks). The exchange
 * window sends one at a time; `active` is the one awaiting its response.
 */
export type SaTask =
  | { readonly kind: "ike_init" }
  /**
   * IKE_AUTH; `followUp` set: a later IKE_AUTH request of an EAP
   * authentication carrying exactly these payloads (EAP, then AUTH).
   */
  | { readonly kind: "ike_auth"; child?: ChildSa; followUp?: readonly Payload[] }
  | { readonly kind: "delete_ike"; readonly reason: string }
  | { readonly kind: "delete_child"; readonly childId: number; readonly reason: string }
  | { readonly kind: "dpd" }
  /**
   * CREATE_CHILD_SA for a new child, or for a rekey when `rekeyOf` is set;
   * the rest is filled in when the request is built.
   */
  | {
    readonly kind: "create_child";
    readonly config: ChildConfig;
    readonly rekeyOf?: number;
    /** PFS group to use (after INVALID_KE_PAYLOAD). */
    group?: number;
    child?: ChildSa;
    /** The child being rekeyed, as it was when the request was built. */
    oldChild?: ChildSa;
    nonce?: Uint8Array;
    kex?: KeyExchange;
    retries?: number;
  }
  /** CREATE_CHILD_SA rekeying this IKE SA; `fresh` is the new SA being negotiated. */
  | { readonly kind: "rekey_ike"; fresh?: IkeSa; group?: number; retries?: number }
  /** INFORMATIONAL carrying notifies (e.g. INVALID_SPI). */
  | { readonly kind: "notify"; readonly payloads: readonly NotifyPayload[] }
  /**
   * MOBIKE UPDATE_SA_ADDRESSES from the SA's current endpoints (RFC 4555
   * section 3.5); `cookie2` is set when the request is built.
   */
  | { readonly kind: "mobike_update"; cookie2?: Uint8Array }
  /** INFORMATIONAL with N(AUTHENTICATION_FAILED): we could not verify the responder. */
  | { readonly kind: "auth_failed"; readonly reason: string };

/** Counters of one IKE SA. */
export interface IkeSaCounters {
  integrityFailures: number;
  parseErrors: number;
  droppedMessages: number;
}

/** An IKE SA and the data its tasks share. */
/** A peer's IKE_AUTH held until revocation answers arrive (see {@link IkeSa.revocationWait}). */
export interface RevocationWait {
  readonly uris: Set<string>;
  readonly message: IkeMessage;
  readonly raw: Uint8Array;
  readonly from: Endpoint;
  readonly to: Endpoint;
}

export class IkeSa {
  /** Engine-unique id (used in timer ids and effects). */
  readonly id: number;
  /**
   * We initiated this IKE SA (IKE_SA_INIT, or the CREATE_CHILD_SA that
   * rekeyed it): the I flag of its messages and its SPI roles.
   */
  readonly initiator: boolean;
  /**
   * We started the IKE SA this one descends from by IKE_SA_INIT, whoever
   * rekeyed it since: the MOBIKE initiator (RFC 4555), who moves it to new
   * addresses and watches its NAT mapping.
   */
  originalInitiator: boolean;
  /** The connection config; responders pick it after IKE_SA_INIT or on IDr. */
  config: PeerConfig;
  spiI: bigint;
  spiR: bigint;
  local: Endpoint;
  remote: Endpoint;
  #state: IkeSaState = "created";
  readonly window: ExchangeWindow;
  readonly createdAt: number;
  establishedAt = 0;
  /** When the reauthentication timer fires (0 = none); survives an IKE SA rekey, as in charon. */
  reauthAt = 0;
  /** When the IKE SA rekeys (0 = never) and when it expires unless rekeyed (0 = never). */
  rekeyAt = 0;
  expireAt = 0;
  /** Last time an authenticated message arrived from the peer (ms). */
  lastInbound: number;

  // ---- IKE_SA_INIT ----
  suite: IkeSuite | undefined;
  keyExchange: KeyExchange | undefined;
  /** Group the initiator uses in its KE (may change after INVALID_KE_PAYLOAD). */
  keGroup = 0;
  nonceI: Uint8Array | undefined;
  nonceR: Uint8Array | undefined;
  /** IKE_SA_INIT request as sent/received (AUTH octets). */
  initRequest: Uint8Array | undefined;
  /** IKE_SA_INIT response as sent/received (AUTH octets). */
  initResponse: Uint8Array | undefined;
  /** The SA proposals we offered in IKE_SA_INIT (initiator, to check the answer). */
  initOffer: WireProposal[] | undefined;
  /** Cookie to echo in the retried IKE_SA_INIT (initiator). */
  cookie: Uint8Array | undefined;
  keys: IkeSaKeys | undefined;
  /**
   * We count as behind a NAT (our address/port differs from what the peer
   * sees, or `encap: yes` forces UDP encapsulation): ESP goes in UDP and NAT
   * keepalives leave.
   */
  natLocal = false;
  /**
   * NAT detection found us behind a NAT: `natLocal` without `encap: yes`
   * (which only pretends, as charon's fake NAT does).
   */
  natLocalSeen = false;
  /** The peer is behind a NAT. */
  natRemote = false;
  /** The peer sent NAT detection in IKE_SA_INIT (it supports NAT traversal, RFC 7296 2.23). */
  peerNatT = false;
  /** Peer sent IKEV2_FRAGMENTATION_SUPPORTED. */
  peerFragmentation = false;
  /** Hash algorithms from the peer's SIGNATURE_HASH_ALGORITHMS. */
  peerSignatureHashes: number[] = [];
  /** The peer sent CERTREQ (we then send our certificates with sendCert "ifasked"). */
  peerCertreq = false;
  /** Both ends announced MOBIKE_SUPPORTED (RFC 4555). */
  mobike = false;
  /** The peer's other addresses (ADDITIONAL_IP4/6_ADDRESS), MOBIKE. */
  peerAddresses: string[] = [];
  /**
   * MOBIKE initiator behind a NAT: the NAT_DETECTION_DESTINATION_IP the peer
   * last answered with (where it sees us); another one means the NAT mapped
   * us anew (RFC 4555 section 3.8).
   */
  natMapping: Uint8Array | undefined = undefined;
  /** Peer addresses that did not answer since the last successful move (MOBIKE initiator). */
  readonly triedRemotes: Set<string> = new Set();
  /** IKE_SA_INIT retries done (COOKIE, INVALID_KE). */
  initRetries = 0;

  // ---- IKE_AUTH ----
  localId: Identity | undefined;
  remoteId: Identity | undefined;
  /** Our virtual IP, assigned by the peer in CFG_REPLY. */
  vip: string | undefined;
  /** The virtual IP we leased to the peer, and from which pool. */
  peerVip: { readonly pool: string; readonly address: string } | undefined;
  /** All our virtual IPs (one per family, IPv4 first); `vip` is the first. */
  vips: string[] = [];
  /** Initiator reauthenticating: the virtual IPs the replaced SA holds, to ask for again. */
  reauthVips: string[] = [];
  /** All virtual IPs leased to the peer (one per family); `peerVip` is the first. */
  peerVips: { readonly pool: string; readonly address: string }[] = [];
  /** The PAD entry that authorized the peer (when the engine has a PAD). */
  padEntry: PadEntry | undefined;
  /** The responder announced CHILDLESS_IKEV2_SUPPORTED (RFC 6023). */
  peerChildless = false;
  /** Both sides announced USE_PPK in IKE_SA_INIT (RFC 8784). */
  usePpk = false;
  /** The PPK-mixed SK_d/SK_pi/SK_pr while IKE_AUTH uses a PPK (RFC 8784). */
  ppk: PpkKeys | undefined;
  /** The gateway that redirected us here (RFC 5685): sent as REDIRECTED_FROM. */
  redirectedFrom: string | undefined;
  /** When this connection attempt was redirected so far (loop detection). */
  redirects: number[] = [];
  /** EAP in progress during IKE_AUTH (RFC 7296 section 2.16). */
  eap: EapState | undefined;
  /** The peer's EAP identity once EAP authenticated it (we were the EAP server). */
  eapIdentity: string | undefined;
  /** The peer's AUTH method name once verified (e.g. "SHARED_KEY_MIC"), for status output. */
  authInfo = "";
  /** The peer announced MULTIPLE_AUTH_SUPPORTED (RFC 4739). */
  peerMultipleAuth = false;
  /**
   * RFC 4739: the authentication round under way (0 = `local`/`remote`):
   * ours as initiator, the initiator's as responder.
   */
  authRound = 0;
  /**
   * RFC 4739, during IKE_AUTH: the first IKE_AUTH request (responder: its
   * child SA and configuration payloads are answered last) and the IDr
   * payload of the exchange (the AUTHs after EAP in later rounds cover it).
   */
  authFirst: IkeMessage | undefined;
  authIdr: IdPayload | undefined;
  /** Initiator: the responder announced MOBIKE in one of its IKE_AUTH answers. */
  authPeerMobike = false;
  /**
   * The peer's IKE_AUTH message, held while the CRLs and OCSP answers its
   * certificates call for are fetched (`uris`: their keys still to come);
   * handled as it arrived once they are.
   */
  revocationWait: RevocationWait | undefined;

  /** SK protection of both directions, once IKE_SA_INIT is done. */
  protection: IkeSaProtection | undefined;
  /** Which try of `keyingTries` this initiator SA is (1-based). */
  attempt = 1;
  /** This SA reauthenticates (replaces) that IKE SA (no INITIAL_CONTACT). */
  reauthOf: number | undefined;
  /**
   * Another live IKE SA with the same peer existed when this initiator SA
   * started: no INITIAL_CONTACT, which would make the peer delete that one
   * (RFC 7296 section 2.4).
   */
  peerHasOtherSa = false;
  /**
   * Simultaneous IKE SA rekey: the new SA the peer's rekey created while
   * ours was in flight (RFC 7296 section 2.8.2); decided when ours ends.
   */
  collidingRekey: IkeSa | undefined;
  /** Created by a rekey collision and not adopted (yet): its removal is not reported. */
  silent = false;
  /** Set once this SA was replaced by a rekey: the new SA's id. */
  rekeyedTo: number | undefined;
  /** Reassembly of incoming IKE fragments (created on the first SKF). */
  reassembler: FragmentReassembler | undefined;
  /** Requests waiting for the window. */
  readonly pending: SaTask[] = [];
  /** The request in flight. */
  active: SaTask | undefined;
  /** Responder: connections that matched the IKE_SA_INIT addresses (IKE_AUTH picks one). */
  candidates: readonly PeerConfig[] = [];
  /** Responder: key of the half-open table (SPIi and initiator address). */
  halfOpenKey = "";

  /** Child SAs by engine-unique id. */
  readonly children: Map<number, ChildSa> = new Map();
  readonly counters: IkeSaCounters = { integrityFailures: 0, parseErrors: 0, droppedMessages: 0 };
  /** DPD: when we last sent a liveness check (0 = none outstanding). */
  dpdPending = false;
  /** Why the SA is going down (for the ike-down event). */
  downReason = "";

  constructor(opts: {
    id: number;
    initiator: boolean;
    config: PeerConfig;
    spiI: bigint;
    spiR: bigint;
    local: Endpoint;
    remote: Endpoint;
    now: number;
    retransmit?: RetransmitPolicy;
  }) {
    this.id = opts.id;
    this.initiator = opts.initiator;
    this.originalInitiator = opts.initiator;
    this.config = opts.config;
    this.spiI = opts.spiI;
    this.spiR = opts.spiR;
    this.local = opts.local;
    this.remote = opts.remote;
    this.createdAt = opts.now;
    this.lastInbound = opts.now;
    this.window = new ExchangeWindow(opts.retransmit);
  }

  /** Current state. */
  get state(): IkeSaState {
    return this.#state;
  }

  /** Moves to `next`; throws {@link IkeSaStateError} if not allowed. */
  /**
   * Drops what only IKE_SA_INIT and IKE_AUTH needed (the key exchange, both
   * IKE_SA_INIT messages, our offer, the cookie) once the SA is up: about a
   * kilobyte per SA on a gateway. The nonces stay (rekey collisions compare them).
   */
  forgetHandshake(): void {
    this.eap = undefined;
    this.authFirst = undefined;
    this.authIdr = undefined;
    this.keyExchange = undefined;
    this.initRequest = undefined;
    this.initResponse = undefined;
    this.initOffer = undefined;
    this.cookie = undefined;
  }

  /** What NAT detection found of our side: `natLocal` also counts forced encapsulation. */
  setNatLocal(seen: boolean): void {
    this.natLocalSeen = seen;
    this.natLocal = seen || this.config.encap === true;
  }

  transition(next: IkeSaState): void {
    if (next === this.#state) return;
    if (!IKE_SA_TRANSITIONS[this.#state].includes(next)) {
      throw new IkeSaStateError(`IKE SA ${this.id}: ${this.#state} -> ${next} not allowed`);
    }
    this.#state = next;
  }

  /** Our SPI (the one the peer puts in our half of the header). */
  get localSpi(): bigint {
    return this.initiator ? this.spiI : this.spiR;
  }

  /** The peer's SPI. */
  get remoteSpi(): bigint {
    return this.initiator ? this.spiR : this.spiI;
  }

  /** Whether this SA has finished IKE_AUTH. */
  get established(): boolean {
    return this.#state === "established";
  }

  /** "name[id]" with SPIs as strongSwan prints it, for log lines. */
  get label(): string {
    return `${this.config.name}[${this.id}]`;
  }
}
