/**
 * What the sans-I/O IKEv2 engine asks its host (the daemon, or a test) to do.
 * The engine never touches sockets, clocks or the SAD: every call returns a
 * list of {@link Effect}s, applied in order.
 *
 * @example
 * ```ts
 * for (const e of engine.initiate("site", Date.now())) {
 *   if (e.kind === "send") socket.send(e.bytes, e.to);
 * }
 * ```
 *
 * @module
 */

/** A UDP endpoint: textual IP address (IPv4 dotted quad or IPv6) and port. */
export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

/**
 * A negotiated traffic selector (the IKEv2 TS substructure, see
 * lib/db/narrow.ts); `tsListsToSelectors()` there turns local/remote lists
 * into SPD selectors.
 */
export type { TrafficSelector } from "../db/narrow.ts";
import type { TrafficSelector } from "../db/narrow.ts";

/** An algorithm and its key as the SAD needs it. */
export interface KeyedTransform {
  /** IANA transform id (ENCR_* or AUTH_*). */
  readonly id: number;
  /** Key length in bits (Key Length attribute), when the transform has one. */
  readonly keyLengthBits?: number;
  /** Key bytes; for AEAD/CTR ciphers this includes the trailing salt. */
  readonly key: Uint8Array;
}

/** Lifetimes of a child SA (0 = unlimited). */
export interface SaLifetimes {
  readonly softSeconds: number;
  readonly hardSeconds: number;
  readonly softBytes: bigint;
  readonly hardBytes: bigint;
  readonly softPackets: bigint;
  readonly hardPackets: bigint;
}

/**
 * One direction of a child SA to install in the SAD. Our outbound SA uses the
 * SPI the peer chose; our inbound SA uses the SPI we chose.
 */
export interface SaInstall {
  /** Engine-unique id of the IKE SA that negotiated it. */
  readonly ikeSaId: number;
  /** Engine-unique id of the child SA (both directions share it). */
  readonly childSaId: number;
  /** Name of the child config this SA belongs to. */
  readonly childName: string;
  /** Name of the connection (IKE config). */
  readonly connectionName: string;
  readonly protocol: "esp" | "ah";
  readonly mode: "tunnel" | "transport";
  readonly direction: "in" | "out";
  /** 32-bit SPI (as chosen by the receiver of this direction). */
  readonly spi: number;
  /** Outer source address of packets on this SA. */
  readonly src: string;
  /** Outer destination address of packets on this SA. */
  readonly dst: string;
  /** Encryption transform (ESP only; undefined for AH). */
  readonly encr?: KeyedTransform;
  /** Integrity transform (undefined for AEAD ciphers). */
  readonly integ?: KeyedTransform;
  /** Extended sequence numbers negotiated. */
  readonly esn: boolean;
  /** Local-side selectors (source for "out", destination for "in"). */
  readonly localTs: readonly TrafficSelector[];
  /** Remote-side selectors. */
  readonly remoteTs: readonly TrafficSelector[];
  readonly lifetimes: SaLifetimes;
  /** UDP encapsulation ports when NAT-T is in use (RFC 3948). */
  readonly encap?: { readonly srcPort: number; readonly dstPort: number };
  /** Whether the peer accepts TFC padding (no ESP_TFC_PADDING_NOT_SUPPORTED seen). */
  readonly tfcPadding: boolean;
  /**
   * IPComp with DEFLATE was negotiated (RFC 7296 section 2.22): the CPI of
   * this direction (inbound ours, outbound the peer's). Absent: none.
   */
  readonly ipcompCpi?: number;
  /** HMAC-SHA2-256 with its ICV truncated to 96 bits (the child's `sha256_96`). */
  readonly sha256Icv96?: boolean;
}

/** Events for the CLI, logs and tests. */
export type EngineEvent =
  | { readonly type: "ike-up"; readonly ikeSaId: number; readonly connectionName: string }
  | {
    readonly type: "ike-down";
    readonly ikeSaId: number;
    readonly connectionName: string;
    readonly reason: string;
  }
  | {
    readonly type: "child-up";
    readonly ikeSaId: number;
    readonly childSaId: number;
    readonly childName: string;
    readonly spiIn: number;
    readonly spiOut: number;
    /**
     * CREATE_CHILD_SA rekey: the child SA this one replaces (it goes down with
     * reason "rekeyed" once this one is in). Absent for a new child SA.
     */
    readonly rekeyOf?: number;
  }
  | {
    readonly type: "child-down";
    readonly ikeSaId: number;
    readonly childSaId: number;
    readonly childName: string;
    readonly reason: string;
  }
  | {
    readonly type: "child-failed";
    readonly ikeSaId: number;
    readonly childName: string;
    readonly reason: string;
  }
  | {
    /** IKE SA `oldIkeSaId` was rekeyed: it and its child SAs are now `ikeSaId`. */
    readonly type: "ike-rekeyed";
    readonly ikeSaId: number;
    readonly oldIkeSaId: number;
    readonly connectionName: string;
  }
  | {
    /** The peer assigned us a virtual IP (use it as the inner source address). */
    readonly type: "virtual-ip";
    readonly ikeSaId: number;
    /** The first assigned address (IPv4 if the peer gave one). */
    readonly address: string;
    /** Every assigned address, one per family (IPv4 first); absent means just `address`. */
    readonly addresses?: readonly string[];
    readonly dns: readonly string[];
    /** Subnets the peer says it protects (INTERNAL_IP4/6_SUBNET), when it sent any. */
    readonly subnets?: readonly string[];
  }
  | {
    readonly type: "ike-failed";
    readonly ikeSaId: number;
    readonly connectionName: string;
    readonly reason: string;
  }
  /** MOBIKE moved the IKE SA (and its child SAs, see `updateSa`) to new endpoints. */
  | {
    readonly type: "ike-updated";
    readonly ikeSaId: number;
    readonly connectionName: string;
    readonly local: Endpoint;
    readonly remote: Endpoint;
  };

/** Log severity. */
export type LogLevel = "error" | "warn" | "info" | "debug";

/** One thing the host must do. */
export type Effect =
  /**
   * Send a UDP datagram. `bytes` is the IKE message without the non-ESP
   * marker: on the NAT-T port (4500) the host prepends the 4 zero bytes
   * (RFC 3948), unless `raw` is set (a NAT-T keepalive: one 0xFF byte,
   * sent as it is).
   */
  | {
    readonly kind: "send";
    readonly from: Endpoint;
    readonly to: Endpoint;
    readonly bytes: Uint8Array;
    readonly raw?: boolean;
  }
  /** Install one direction of a child SA. */
  | { readonly kind: "installSa"; readonly sa: SaInstall }
  /**
   * Change the outer addresses/UDP encapsulation of an installed SA in place
   * (NAT port floating, MOBIKE); keys, SPI and sequence numbers stay.
   */
  | {
    readonly kind: "updateSa";
    readonly ikeSaId: number;
    readonly childSaId: number;
    readonly protocol: "esp" | "ah";
    readonly direction: "in" | "out";
    readonly spi: number;
    readonly src: string;
    readonly dst: string;
    readonly encap?: { readonly srcPort: number; readonly dstPort: number };
  }
  /** Remove one direction of a child SA. */
  | {
    readonly kind: "removeSa";
    readonly ikeSaId: number;
    readonly childSaId: number;
    readonly protocol: "esp" | "ah";
    readonly direction: "in" | "out";
    readonly spi: number;
    readonly dst: string;
  }
  /** (Re)arm a one-shot timer; call `engine.timer(id, now)` at `at` (ms). */
  | { readonly kind: "setTimer"; readonly id: string; readonly at: number }
  /** Disarm a timer (unknown ids are ignored). */
  | { readonly kind: "cancelTimer"; readonly id: string }
  /**
   * Key export (EngineConfig.exportKeys): append `line` to the Wireshark UAT
   * file `table` (strongSwan save-keys format; create it with mode 0600).
   */
  | {
    readonly kind: "exportKeys";
    readonly table: "ikev2_decryption_table" | "esp_sa";
    readonly line: string;
  }
  /**
   * Resolve the DNS name of a gateway a REDIRECT named (RFC 5685, FQDN) and
   * report its addresses with `engine.nameResolved(name, result, now)`,
   * also when it fails.
   */
  | { readonly kind: "resolveName"; readonly name: string }
  /**
   * Fetch the CRL at `uri` (a peer certificate's distribution point) and
   * report it with `engine.crlFetched(uri, result, now)`, also when it fails.
   */
  | { readonly kind: "fetchCrl"; readonly uri: string }
  /**
   * POST the DER OCSP `request` to the responder at `uri` (RFC 6960
   * appendix A, `application/ocsp-request`) and report the answer with
   * `engine.ocspFetched(key, result, now)`, also when it fails.
   */
  | {
    readonly kind: "fetchOcsp";
    readonly key: string;
    readonly uri: string;
    readonly request: Uint8Array;
  }
  /**
   * Send the RADIUS Access-Request `bytes` to a RADIUS server over UDP;
   * datagrams coming back go to `engine.radiusAnswer(bytes, from, now)`.
   */
  | {
    readonly kind: "sendRadius";
    readonly to: { readonly address: string; readonly port: number };
    readonly bytes: Uint8Array;
  }
  /** A log line. */
  | { readonly kind: "log"; readonly level: LogLevel; readonly line: string }
  /** An event for the CLI. */
  | { readonly kind: "event"; readonly event: EngineEvent };

/** The answer to a `fetchCrl` effect: what the distribution point sent, or why nothing. */
export type CrlFetchResult = { readonly bytes: Uint8Array } | { readonly error: string };

/** The `kind` strings of {@link Effect}. */
export type EffectKind = Effect["kind"];
