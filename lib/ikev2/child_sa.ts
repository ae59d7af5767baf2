/**
 * One child SA pair (ESP or AH) negotiated on an IKE SA: the SPIs of both
 * directions, the chosen transforms, keys, narrowed traffic selectors and its
 * state. Turning it into SAD install effects is {@link childSaInstalls}.
 *
 * ```
 *   creating ──► installed ──► rekeying ──► rekeyed ──► deleting ──► deleted
 *       │            │  ▲──────────┘ (failed)              ▲
 *       └────────────┴─────────────────────────────────────┘
 * ```
 *
 * @module
 */
import type { TrafficSelector } from "../db/narrow.ts";
import { IntegId } from "../crypto/transforms.ts";
import type { KeyedTransform, SaInstall, SaLifetimes } from "./effects.ts";
import type { ChildConfig } from "./peer_config.ts";
import type { Proposal as WireProposal } from "./payloads/sa.ts";

/** Child SA states. */
export type ChildSaState =
  | "creating"
  | "installed"
  | "rekeying"
  | "rekeyed"
  | "deleting"
  | "deleted";

/** Allowed transitions of {@link ChildSaState}. */
export const CHILD_SA_TRANSITIONS: Readonly<Record<ChildSaState, readonly ChildSaState[]>> = {
  creating: ["installed", "deleted"],
  installed: ["rekeying", "rekeyed", "deleting", "deleted"],
  /** We started a rekey; back to installed if it fails. */
  rekeying: ["installed", "rekeyed", "deleting", "deleted"],
  /** Replaced by a new child; deleted once the peer or we send the Delete. */
  rekeyed: ["deleting", "deleted"],
  deleting: ["deleted"],
  deleted: [],
};

/** The negotiated child SA transforms. */
export interface ChildSuite {
  readonly protocol: "esp" | "ah";
  /** ENCR id (ESP only). */
  readonly encrId?: number;
  readonly encrKeyBits?: number;
  /** INTEG id (absent/0 for AEAD). */
  readonly integId?: number;
  readonly esn: boolean;
}

/** A child SA pair. */
export class ChildSa {
  readonly id: number;
  /** The IKE SA it belongs to (changes when that IKE SA is rekeyed). */
  ikeSaId: number;
  readonly config: ChildConfig;
  readonly connectionName: string;
  /** Inbound SPI (we chose it). */
  readonly spiIn: number;
  /** Outbound SPI (the peer chose it); 0 until known. */
  spiOut = 0;
  mode: "tunnel" | "transport";
  suite: ChildSuite | undefined;
  /** Keys of our outbound direction. */
  encrOut: Uint8Array | undefined;
  integOut: Uint8Array | undefined;
  /** Keys of our inbound direction. */
  encrIn: Uint8Array | undefined;
  integIn: Uint8Array | undefined;
  localTs: TrafficSelector[] = [];
  remoteTs: TrafficSelector[] = [];
  /** The proposals we offered (initiator of the creating exchange). */
  offer: WireProposal[] | undefined;
  /** Nonces of the exchange that created it (for rekey collision resolution). */
  nonces: { ni: Uint8Array; nr: Uint8Array } | undefined;
  /** The child this one replaced (rekey), if any. */
  rekeyOf: number | undefined;
  /** Deadlines of its rekey and hard-expiry timers (ms, 0 = none), to re-arm after an IKE rekey. */
  rekeyAt = 0;
  expireAt = 0;
  /** Its outbound SAD entry is installed (delayed for a rekey responder). */
  outboundInstalled = false;
  /** Collision: the id of the child the peer created when it rekeyed this one. */
  peerRekey: number | undefined;
  /** Peer sent ESP_TFC_PADDING_NOT_SUPPORTED. */
  peerNoTfc = false;
  /**
   * IPComp (RFC 7296 section 2.22): the CPI we chose for inbound and the one
   * the peer chose for our outbound; both 0 when the child does not compress.
   */
  cpiIn = 0;
  cpiOut = 0;
  #state: ChildSaState = "creating";
  installedAt = 0;

  constructor(opts: {
    id: number;
    ikeSaId: number;
    config: ChildConfig;
    connectionName: string;
    spiIn: number;
  }) {
    this.id = opts.id;
    this.ikeSaId = opts.ikeSaId;
    this.config = opts.config;
    this.connectionName = opts.connectionName;
    this.spiIn = opts.spiIn;
    this.mode = opts.config.mode;
  }

  /** Current state. */
  get state(): ChildSaState {
    return this.#state;
  }

  /** Moves to `next`; throws on a transition not in {@link CHILD_SA_TRANSITIONS}. */
  transition(next: ChildSaState): void {
    if (next === this.#state) return;
    if (!CHILD_SA_TRANSITIONS[this.#state].includes(next)) {
      throw new Error(`child SA ${this.id}: ${this.#state} -> ${next} not allowed`);
    }
    this.#state = next;
  }

  /** "name{id}" as strongSwan prints child SAs. */
  get label(): string {
    return `${this.config.name}{${this.id}}`;
  }
}

/** Converts configured lifetimes to SAD lifetimes. */
export function childLifetimes(c: ChildConfig): SaLifetimes {
  const l = c.lifetimes ?? {};
  return {
    softSeconds: l.rekeySeconds ?? 0,
    hardSeconds: l.lifeSeconds ?? 0,
    softBytes: l.rekeyBytes ?? 0n,
    hardBytes: l.lifeBytes ?? 0n,
    softPackets: l.rekeyPackets ?? 0n,
    hardPackets: l.lifePackets ?? 0n,
  };
}

/**
 * The two SAD entries (inbound first, then outbound) of an installed child
 * SA. `local`/`remote` are the outer (IKE) addresses.
 */
export function childSaInstalls(
  c: ChildSa,
  local: string,
  remote: string,
  encap?: { localPort: number; remotePort: number },
): [SaInstall, SaInstall] {
  const s = c.suite;
  if (!s) throw new Error(`child SA ${c.id} has no negotiated suite`);
  const keyed = (id: number | undefined, key: Uint8Array | undefined, bits?: number) =>
    id && key !== undefined
      ? ({ id, key, ...(bits ? { keyLengthBits: bits } : {}) } as KeyedTransform)
      : undefined;
  const base = {
    ikeSaId: c.ikeSaId,
    childSaId: c.id,
    childName: c.config.name,
    connectionName: c.connectionName,
    protocol: s.protocol,
    mode: c.mode,
    esn: s.esn,
    localTs: c.localTs,
    remoteTs: c.remoteTs,
    lifetimes: childLifetimes(c.config),
    tfcPadding: !c.peerNoTfc,
  } as const;
  const ipcomp = c.cpiIn !== 0 && c.cpiOut !== 0;
  const icv96 = c.config.sha256Icv96 === true && s.integId === IntegId.HMAC_SHA2_256_128;
  const sha = icv96 ? { sha256Icv96: true } : {};
  const inbound: SaInstall = {
    ...base,
    direction: "in",
    spi: c.spiIn,
    src: remote,
    dst: local,
    encr: s.protocol === "esp" ? keyed(s.encrId, c.encrIn, s.encrKeyBits) : undefined,
    integ: keyed(s.integId, c.integIn),
    ...(encap ? { encap: { srcPort: encap.remotePort, dstPort: encap.localPort } } : {}),
    ...(ipcomp ? { ipcompCpi: c.cpiIn } : {}),
    ...sha,
  };
  const outbound: SaInstall = {
    ...base,
    direction: "out",
    spi: c.spiOut,
    src: local,
    dst: remote,
    encr: s.protocol === "esp" ? keyed(s.encrId, c.encrOut, s.encrKeyBits) : undefined,
    integ: keyed(s.integId, c.integOut),
    ...(encap ? { encap: { srcPort: encap.localPort, dstPort: encap.remotePort } } : {}),
    ...(ipcomp ? { ipcompCpi: c.cpiOut } : {}),
    ...sha,
  };
  return [inbound, outbound];
}
