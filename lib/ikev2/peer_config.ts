/**
 * The narrow per-connection settings the IKEv2 engine needs, independent of
 * how they were written (swanctl-like YAML in lib/config, or built by hand in
 * a test). The daemon maps its Config onto {@link EngineConfig}.
 *
 * @example
 * ```ts
 * const conn: PeerConfig = {
 *   name: "site",
 *   localAddress: "192.0.2.1",
 *   remoteAddress: "192.0.2.2",
 *   proposals: parseProposals("aes256gcm16-prfsha384-x25519", "ike"),
 *   local: { auth: "psk", id: parseIdentity("alice@example.org") },
 *   remote: { auth: "psk", id: parseIdentity("bob@example.org") },
 *   children: [{ name: "net", mode: "tunnel", protocol: "esp",
 *     proposals: parseProposals("aes256gcm16", "esp"),
 *     localTs: ["10.1.0.0/16"], remoteTs: ["10.2.0.0/16"] }],
 * };
 * ```
 *
 * @module
 */
import type { Proposal } from "../crypto/proposal.ts";
import type { Identity } from "../db/identity.ts";
import type { RetransmitPolicy } from "./exchange.ts";
import type { Pad } from "../db/pad.ts";
import type { PoolConfig } from "./tasks/config_payload.ts";
import type { Crl } from "../pki/crl.ts";
import type { RevocationPolicy } from "../pki/validate.ts";
import type { EapMethodName } from "../eap/eap_message.ts";
import type { RadiusServer } from "../eap/radius_proxy.ts";

/**
 * How one side authenticates: a pre-shared key or a signature in AUTH, or
 * EAP (RFC 7296 section 2.16; the initiator only) and then an AUTH keyed
 * with the EAP method's MSK.
 */
export type AuthKind = "psk" | "pubkey" | "eap";

/** Our own authentication settings. */
export interface LocalAuthConfig {
  readonly auth: AuthKind;
  /** The identity we send in IDi/IDr. */
  readonly id: Identity;
  /**
   * Our certificate chain (DER, end-entity first) for "pubkey"; sent in CERT
   * payloads according to {@link PeerConfig.sendCert}.
   */
  readonly certs?: readonly Uint8Array[];
  /** Our private key (PKCS#8 DER) for "pubkey". */
  readonly privateKey?: Uint8Array;
  /** "eap": the EAP identity we answer with (default: `id` as text, as charon). */
  readonly eapId?: string;
  /** "eap": the EAP methods we accept, in preference order (default: all we have). */
  readonly eapMethods?: readonly EapMethodName[];
}

/** How a gateway runs EAP: a method itself, or relayed to RADIUS. */
export type EapServerMethod = EapMethodName | "radius";

/** RADIUS servers for EAP pass-through (strongSwan's eap-radius plugin settings). */
export interface RadiusConfig {
  readonly servers: readonly RadiusServer[];
  /** NAS-Identifier sent in every Access-Request. */
  readonly nasIdentifier: string;
}

/** What we require from the peer. */
export interface RemoteAuthConfig {
  readonly auth: AuthKind;
  /**
   * The identity the peer must prove; `{ type: "any", value: "" }` (or
   * undefined) accepts any identity the credentials bind (PAD decides).
   */
  readonly id?: Identity;
  /** Trust anchors for "pubkey" (DER certificates). */
  readonly cacerts?: readonly Uint8Array[];
  /** Pinned peer certificates (DER) accepted without a CA. */
  readonly certs?: readonly Uint8Array[];
  /** The peer's raw public keys (SubjectPublicKeyInfo DER; swanctl's `pubkeys`). */
  readonly pubkeys?: readonly Uint8Array[];
  /** CRLs of the peer's CAs. */
  readonly crls?: readonly Crl[];
  /** How strictly revocation is checked (default relaxed). */
  readonly revocation?: RevocationPolicy;
  /**
   * "eap": the EAP method we run as EAP server (default EAP-MSCHAPv2), or
   * "radius": relay EAP to the RADIUS servers of {@link EngineConfig.radius}.
   */
  readonly eapMethod?: EapServerMethod;
  /**
   * "eap": the peer's EAP identity. `%any` asks for it with EAP-Identity;
   * absent, the peer's IKE identity (IDi) is its EAP identity (charon's rule).
   */
  readonly eapId?: string;
  /**
   * EAP-TLS client: whom the TLS server's certificate must name (swanctl's
   * `aaa_id`; default: the responder's IKE identity, IDr).
   */
  readonly aaaId?: Identity;
}

/** Action when DPD finds the peer dead or a child is closed by the peer. */
export type DpdAction = "clear" | "restart" | "trap";

/** Lifetimes of child SAs in seconds/bytes/packets (0 = unlimited). */
export interface ChildLifetimes {
  readonly rekeySeconds?: number;
  readonly lifeSeconds?: number;
  /**
   * Rekey up to this many seconds before `rekeySeconds`, at random (swanctl's
   * `rand_time`, whose default life_time - rekey_time the configuration
   * fills in; default here 10% of the rekey time).
   */
  readonly randSeconds?: number;
  readonly rekeyBytes?: bigint;
  readonly lifeBytes?: bigint;
  readonly rekeyPackets?: bigint;
  readonly lifePackets?: bigint;
}

/** One child SA template (a swanctl `children.<name>` section). */
export interface ChildConfig {
  readonly name: string;
  readonly mode: "tunnel" | "transport";
  readonly protocol: "esp" | "ah";
  /** ESP/AH proposals in our preference order (KE entries = PFS groups, unused in IKE_AUTH). */
  readonly proposals: readonly Proposal[];
  /**
   * Local traffic selectors: CIDR ("10.1.0.0/16"), a single address, a range
   * ("10.0.0.1-10.0.0.9"), each optionally followed by "[proto/port]" such as
   * "10.1.0.0/16[tcp/80]"; "dynamic" is our IKE address.
   */
  readonly localTs: readonly string[];
  /** Remote traffic selectors; "dynamic" is the peer's IKE address. */
  readonly remoteTs: readonly string[];
  readonly lifetimes?: ChildLifetimes;
  /** We cannot use ESP TFC padding (send ESP_TFC_PADDING_NOT_SUPPORTED). */
  readonly noTfcPadding?: boolean;
  /**
   * Propose and accept IP Payload Compression (IPCOMP_SUPPORTED with
   * DEFLATE, RFC 7296 section 2.22; ESP or AH), strongSwan's `ipcomp`.
   */
  readonly ipcomp?: boolean;
  /**
   * strongSwan's `sha256_96`: HMAC-SHA2-256 ESP/AH SAs truncate the ICV to 96
   * bits (the pre-RFC 4868 draft some old peers still use) instead of 128.
   * Not negotiated: both sides must agree.
   */
  readonly sha256Icv96?: boolean;
  /** Action when the peer closes this child or it dies (default "clear"). */
  readonly closeAction?: DpdAction;
}

/** strongSwan's `unique` values (see {@linkcode PeerConfig.unique}). */
export type UniquePolicy = "no" | "never" | "keep" | "replace";

/** One IKE connection (a swanctl `connections.<name>` section). */
export interface PeerConfig {
  readonly name: string;
  /** Our IKE address (used as source and for "dynamic" TS). */
  readonly localAddress: string;
  /**
   * `localAddress` is only where we initiate from (the route's source, the
   * configuration named none): as responder, requests to any of our
   * addresses match, and the SA takes the address the request was sent to.
   */
  readonly anyLocal?: boolean;
  /** The peer's address ("%any" on a responder-only connection). */
  readonly remoteAddress: string;
  /** Our IKE port (default 500). */
  readonly localPort?: number;
  /** The peer's IKE port (default 500). */
  readonly remotePort?: number;
  /** IKE proposals in our preference order. */
  readonly proposals: readonly Proposal[];
  /** As responder, choose by our preference order instead of the initiator's. */
  readonly preferOwnProposals?: boolean;
  readonly local: LocalAuthConfig;
  readonly remote: RemoteAuthConfig;
  /**
   * Our authentication rounds after `local` (RFC 4739 multiple
   * authentication, swanctl's `local-2`...): e.g. a certificate in `local`,
   * then EAP as a user. Only as initiator, and only with a responder that
   * announces MULTIPLE_AUTH_SUPPORTED.
   */
  readonly localRounds?: readonly LocalAuthConfig[];
  /**
   * The rounds the initiator must complete after `remote` (swanctl's
   * `remote-2`...), in order; a peer that does fewer or more is refused.
   */
  readonly remoteRounds?: readonly RemoteAuthConfig[];
  readonly children: readonly ChildConfig[];
  /**
   * Initiator: virtual IPv4 addresses to request with a configuration
   * payload ("0.0.0.0" = any); "dynamic" local selectors then mean the
   * assigned address.
   */
  readonly vips?: readonly string[];
  /** Responder: address pools (EngineConfig.pools names) to lease virtual IPs from. */
  readonly pools?: readonly string[];
  /** Send IDr in IKE_AUTH requests (default true when remote.id is not %any). */
  readonly sendIdr?: boolean;
  /** When to send our certificate chain (default "ifasked"). */
  readonly sendCert?: "always" | "ifasked" | "never";
  /**
   * strongSwan's uniqueness policy for IKE SAs with the same peer identity
   * (default "no"): "no" replaces them only when the new one carries
   * INITIAL_CONTACT, "never" not even then, "replace" deletes established
   * ones of this connection, "keep" refuses the new one while one is up.
   */
  readonly unique?: UniquePolicy;
  /**
   * IKE SAs without a child in IKE_AUTH (RFC 6023; swanctl's `childless`):
   * "allow" (default) accepts them and initiates with the first child,
   * "prefer" initiates childless when the peer announced support, "force"
   * always does (and fails without that support), "never" neither announces
   * nor accepts them. Children of a childless IKE SA follow by CREATE_CHILD_SA.
   */
  readonly childless?: "allow" | "prefer" | "force" | "never";
  /**
   * The DNS name `remoteAddress` was resolved from (`remote_addrs:
   * vpn.example.com`); the host may resolve it again before each
   * initiation ({@link EngineOptions.remoteFor} in lib/ikev2/engine.ts).
   */
  readonly remoteName?: string;
  /**
   * Post-quantum preshared key (RFC 8784): the id of the PPK (in
   * `EngineConfig.ppks`) mixed into SK_d and the AUTH keys when the peer
   * supports it (swanctl's `ppk_id`). PSK and certificate authentication only.
   */
  readonly ppkId?: string;
  /** Refuse the IKE SA unless the PPK is used (swanctl's `ppk_required`). */
  readonly ppkRequired?: boolean;
  /**
   * Announce REDIRECT_SUPPORTED and follow a gateway's REDIRECT to another
   * gateway (RFC 5685; default true, as charon's follow_redirects).
   */
  readonly followRedirects?: boolean;
  /**
   * Gateway: answer the IKE_SA_INIT of every client that supports redirects
   * (and was not redirected here) with a REDIRECT to this address (RFC 5685
   * section 4, as Libreswan's redirect-to).
   */
  readonly redirectTo?: string;
  /** Send CERTREQ for our trust anchors (default true for pubkey). */
  readonly sendCertreq?: boolean;
  /** Rekey the IKE SA after this many seconds (minus up to `randSeconds`; 0/absent = never). */
  readonly rekeySeconds?: number;
  /**
   * Reauthenticate (make-before-break) after this many seconds (0/absent =
   * never); a responder does it too when `remoteAddress` names the peer.
   */
  readonly reauthSeconds?: number;
  /**
   * The IKE SA is deleted this long after its rekey or reauthentication was
   * due (whichever is later) if neither happened (swanctl's `over_time`;
   * default 10% of the longer of the two; 0 = never).
   */
  readonly overSeconds?: number;
  /**
   * Rekey and reauthenticate up to this many seconds early, at random
   * (swanctl's `rand_time`; default `overSeconds`, but as charon no more than
   * half the shorter of the two; never more than half of either).
   */
  readonly randSeconds?: number;
  /** Seconds of inbound silence before a DPD check (0 = off; default 30). */
  readonly dpdDelaySeconds?: number;
  readonly dpdAction?: DpdAction;
  /** Retransmission policy for requests on this connection. */
  readonly retransmit?: RetransmitPolicy;
  /** Attempts to establish before giving up (initiator; default 1). */
  readonly keyingTries?: number;
  /**
   * Largest IP packet for IKE messages (bytes, default 1280): longer
   * protected messages are sent as RFC 7383 fragments if the peer supports it.
   */
  readonly fragmentSize?: number;
  /**
   * Advertise IKEV2_FRAGMENTATION_SUPPORTED and fragment (default true);
   * "accept": advertise and reassemble, but never send fragments.
   */
  readonly fragmentation?: boolean | "accept";
  /**
   * Announce SIGNATURE_HASH_ALGORITHMS (RFC 7427) in IKE_SA_INIT (default
   * true). Without it a peer signs with the RFC 4754 ECDSA methods.
   */
  readonly signatureHashes?: boolean;
  /**
   * Force UDP encapsulation of ESP (swanctl `encap = yes`): we fake a NAT in
   * our NAT_DETECTION_SOURCE_IP so both sides move to port 4500.
   */
  readonly encap?: boolean;
  /** Send INITIAL_CONTACT in the first IKE_AUTH (default true). */
  readonly initialContact?: boolean;
  /**
   * MOBIKE (RFC 4555, default true): announce MOBIKE_SUPPORTED in IKE_AUTH;
   * when both ends do, the initiator can move the SAs to new addresses with
   * `IkeEngine.updateAddresses` and NAT-T's automatic floating is off
   * unless the peer is behind a NAT.
   */
  readonly mobike?: boolean;
  /**
   * MOBIKE NAT prohibition (RFC 4555 section 3.9): our UPDATE_SA_ADDRESSES
   * carry NO_NATS_ALLOWED, and the peer refuses the update
   * (UNEXPECTED_NAT_DETECTED) when a NAT rewrote the addresses.
   */
  readonly noNatsAllowed?: boolean;
}

/** A pre-shared key and the identities it belongs to. */
export interface SharedSecret {
  /** Identities that may use it (either side); empty = any. */
  readonly ids: readonly Identity[];
  readonly secret: Uint8Array;
}

/** A post-quantum preshared key and its PPK ids (swanctl's `ppk` secrets). */
export interface PpkSecret {
  readonly ids: readonly string[];
  readonly secret: Uint8Array;
}

/** An EAP password and the EAP identities it belongs to (swanctl's `eap-` secrets). */
export interface EapSecret {
  /** EAP identities (user names) that may use it; empty = any. */
  readonly ids: readonly string[];
  /** The password. */
  readonly secret: string;
}

/** Engine-wide settings. */
export interface EngineConfig {
  readonly connections: readonly PeerConfig[];
  readonly secrets?: readonly SharedSecret[];
  /** EAP passwords: ours as EAP peer, our users' as EAP server. */
  readonly eapSecrets?: readonly EapSecret[];
  /** RADIUS servers for `eap-radius` (EAP pass-through, RFC 3579), tried in order. */
  readonly radius?: RadiusConfig;
  /** Post-quantum preshared keys (RFC 8784) by PPK id (swanctl's `ppk` secrets). */
  readonly ppks?: readonly PpkSecret[];
  /**
   * The Peer Authorization Database (RFC 4301 section 4.4.3). When set, a
   * peer is accepted only if an entry matches its authenticated identity;
   * that entry's credentials are checked (instead of `secrets` and the
   * connection's CAs) and its `allowedTs` bounds what the peer may claim
   * for its side of a child SA.
   */
  readonly pad?: Pad;
  /** Virtual IP pools for `PeerConfig.pools`. */
  readonly pools?: readonly PoolConfig[];
  /** Half-open IKE SAs above which the responder demands COOKIEs (default 1000; 0 = always). */
  readonly cookieThreshold?: number;
  /** Half-open SAs are dropped after this many seconds (default 30). */
  readonly halfOpenTimeoutSeconds?: number;
  /**
   * Export IKE and ESP keys for Wireshark as `exportKeys` effects (default
   * off: anyone with these lines can decrypt the traffic).
   */
  readonly exportKeys?: boolean;
  /** NAT-T keepalive interval when we are behind a NAT (seconds, default 20; 0 = off). */
  readonly natKeepaliveSeconds?: number;
  /** Rotate the cookie secret this often (seconds, default 120). */
  readonly cookieSecretLifetimeSeconds?: number;
  /**
   * After a rekey, the old child's inbound SA stays installed this long
   * (seconds, default 2) so packets the peer sent on it just before the
   * Delete are still accepted (make-before-break).
   */
  readonly rekeyInboundGraceSeconds?: number;
  /** Default retransmission policy (per-connection settings override it). */
  readonly retransmit?: RetransmitPolicy;
  /**
   * All addresses of this host usable for IKE (MOBIKE): the ones not in use
   * by an IKE SA are announced as ADDITIONAL_IP4/6_ADDRESS (none:
   * NO_ADDITIONAL_ADDRESSES). Changed at run time by
   * `IkeEngine.setLocalAddresses`.
   */
  readonly localAddresses?: readonly string[];
}
