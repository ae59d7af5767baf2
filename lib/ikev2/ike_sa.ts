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
import type { IkeSaKeys, KeySuite } from "../crypto/keys.ts";
import type { KeyExchange } from "../crypto/types.ts";
import type { Identity } from "../db/identity.ts";
import type { ChildSa } from "./child_sa.ts";
import type { Endpoint } from "./effects.ts";
import { ExchangeWindow, type RetransmitPolicy } from "./exchange.ts";
import type { PeerConfig } from "./peer_config.ts";

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

/** Counters of one IKE SA. */
export interface IkeSaCounters {
  integrityFailures: number;
  parseErrors: number;
  droppedMessages: number;
}

/** An IKE SA and the data its tasks share. */
export class IkeSa {
  /** Engine-unique id (used in timer ids and effects). */
  readonly id: number;
  /** We are the original initiator. */
  readonly initiator: boolean;
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
  /** Cookie to echo in the retried IKE_SA_INIT (initiator). */
  cookie: Uint8Array | undefined;
  keys: IkeSaKeys | undefined;
  /** We are behind a NAT (our address/port differs from what the peer sees). */
  natLocal = false;
  /** The peer is behind a NAT. */
  natRemote = false;
  /** Peer sent IKEV2_FRAGMENTATION_SUPPORTED. */
  peerFragmentation = false;
  /** Hash algorithms from the peer's SIGNATURE_HASH_ALGORITHMS. */
  peerSignatureHashes: number[] = [];
  /** IKE_SA_INIT retries done (COOKIE, INVALID_KE). */
  initRetries = 0;

  // ---- IKE_AUTH ----
  localId: Identity | undefined;
  remoteId: Identity | undefined;
  /** Authentication method names for `ipsec status`-like output. */
  authInfo = "";

  /** Child SAs by engine-unique id. */
  readonly children = new Map<number, ChildSa>();
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
