/**
 * The typed configuration, as parsed from YAML by lib/config/parse.ts.
 * Names follow strongSwan's swanctl.conf (`connections`, `local_addrs`,
 * `children`, `local_ts`, `esp_proposals`, `start_action`, `secrets`,
 * `pools`, ...) in camelCase; durations are seconds, sizes bigint.
 *
 * Everything here is validated: identities are parsed, proposals are
 * parsed, traffic selectors are parsed. A Config is plain data and changes
 * nothing by existing.
 *
 * @module
 */

import type { Proposal } from "../crypto/proposal.ts";
import type { Identity, IdentityPattern } from "../db/identity.ts";
import type { AddressSelector, PfpFlags, PortSelector, ProtocolSelector } from "../db/selector.ts";
import type { SpdAction, SpdDirection } from "../db/spd.ts";
import type { Crl } from "../pki/crl.ts";
import type { RevocationPolicy } from "../pki/validate.ts";
import type { EapMethodName } from "../eap/eap_message.ts";

/** Where a value came from in a file (1-based line and column). */
export interface SourcePos {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/** One problem in a configuration file. */
export interface ConfigIssue extends SourcePos {
  /** Key path, like `connections.site-a.children.net.local_ts[0]`. */
  readonly path: string;
  /** What is wrong and what is expected. */
  readonly message: string;
}

/**
 * A configuration that cannot be used; nothing was loaded. `issues` lists
 * every problem found, each with file:line:col and key path.
 */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[]) {
    super(issues.map(formatIssue).join("\n"));
    this.issues = issues;
  }
}

/** `file:line:col: path: message` */
export function formatIssue(i: ConfigIssue): string {
  return `${i.file}:${i.line}:${i.col}: ${i.path ? `${i.path}: ` : ""}${i.message}`;
}

/**
 * One traffic selector as written in `local_ts`/`remote_ts`: an address,
 * prefix or range (or `dynamic`: the IKE address, or the virtual IP),
 * optionally restricted to `[proto/port]`.
 */
export interface TsSpec {
  /** The text as written. */
  readonly text: string;
  /** `dynamic` (resolved when the SA is negotiated). */
  readonly dynamic: boolean;
  /** The address part (ANY for dynamic). */
  readonly address: AddressSelector;
  readonly protocol: ProtocolSelector;
  readonly port: PortSelector;
}

/** Our side's authentication (`local` block). */
export interface LocalAuth {
  /** `eap`, `eap-mschapv2` and `eap-md5` are all "eap" here, with `eapMethods` set. */
  readonly auth: "psk" | "pubkey" | "eap";
  /** `eap_id`: the EAP identity we answer with (default: `id` as text). */
  readonly eapId?: string;
  /** The EAP methods `auth` allows (`eap`: all we have). */
  readonly eapMethods?: readonly EapMethodName[];
  /** The identity we claim; absent = our IKE address (swanctl default). */
  readonly id?: Identity;
  /** Our certificate chain, DER, end-entity first (`certs`). */
  readonly certs: readonly Uint8Array[];
  /** Our private key, PKCS#8 DER (`key`). */
  readonly key?: Uint8Array;
}

/** What we require from the peer (`remote` block). */
export interface RemoteAuth {
  /** `eap`/`eap-mschapv2`, `eap-md5` and `eap-radius` are "eap" here, with `eapMethod` set. */
  readonly auth: "psk" | "pubkey" | "eap";
  /** The EAP method we run as server (`eap` = EAP-MSCHAPv2), or "radius" (relayed). */
  readonly eapMethod?: EapMethodName | "radius";
  /** `eap_id`: `%any` asks the peer by EAP-Identity; absent = its IKE identity. */
  readonly eapId?: string;
  /** The identity pattern the peer must match (`id`; absent = %any). */
  readonly idPattern: IdentityPattern;
  /** The exact identity, when `id` names a single identity (sent as IDr). */
  readonly id?: Identity;
  /** Trust anchors (`cacerts`), DER. */
  readonly cacerts: readonly Uint8Array[];
  /** Pinned peer certificates (`certs`), DER. */
  readonly certs: readonly Uint8Array[];
  /** The peer's raw public keys (`pubkeys`), SubjectPublicKeyInfo DER. */
  readonly pubkeys?: readonly Uint8Array[];
  /** CRLs of the peer's CAs (`crls`). */
  readonly crls: readonly Crl[];
  /** `revocation`: strict, ifuri or relaxed (default). */
  readonly revocation: RevocationPolicy;
  /** `aaa_id` (EAP-TLS client): whom the TLS server's certificate must name (default: `id`). */
  readonly aaaId?: Identity;
}

/** When a child SA is established (`start_action`). */
export type StartAction = "none" | "trap" | "start";

/** What to do when the peer is dead or the child closes (`dpd_action`, `close_action`). */
export type PeerAction = "clear" | "trap" | "restart" | "none";

/** A child that is an IPsec SA template (not a `pass`/`drop` shunt). */
export type IpsecChildSection = ChildSection & { readonly mode: "tunnel" | "transport" };

/** Whether a child is a `pass`/`drop` shunt policy rather than an IPsec child SA. */
export function isShunt(ch: ChildSection): boolean {
  return ch.mode === "pass" || ch.mode === "drop";
}

/** The IPsec children of a connection (its `pass`/`drop` shunts left out). */
export function ipsecChildren(
  c: { readonly children: readonly ChildSection[] },
): IpsecChildSection[] {
  return c.children.filter((ch): ch is IpsecChildSection => !isShunt(ch));
}

/** One `children.<name>` section. */
export interface ChildSection {
  readonly name: string;
  readonly localTs: readonly TsSpec[];
  readonly remoteTs: readonly TsSpec[];
  /**
   * `tunnel`/`transport`: an IPsec child SA. `pass`/`drop` (swanctl's shunt
   * policies): its selectors become a BYPASS or DISCARD SPD entry ahead of
   * every PROTECT entry, and nothing is negotiated for it.
   */
  readonly mode: "tunnel" | "transport" | "pass" | "drop";
  readonly protocol: "esp" | "ah";
  readonly proposals: readonly Proposal[];
  readonly startAction: StartAction;
  readonly dpdAction: PeerAction;
  readonly closeAction: PeerAction;
  readonly rekeyTimeSeconds: number;
  readonly lifeTimeSeconds: number;
  /** `rand_time`: rekey up to this much early (absent: life_time - rekey_time). */
  readonly randTimeSeconds?: number;
  readonly rekeyBytes: bigint;
  readonly lifeBytes: bigint;
  readonly rekeyPackets: bigint;
  readonly lifePackets: bigint;
  readonly replayWindow: number;
  /** Tunnel mode DF bit handling (`copy_df`: true = copy, false = clear). */
  readonly copyDf: boolean;
  /** Tunnel mode DSCP handling (`copy_dscp`: "out"/"yes" = copy, "no" = clear). */
  readonly copyDscp: boolean;
  /** Tunnel mode ECN (`copy_ecn`, default yes): copied outward, CE marks inward (RFC 6040). */
  readonly copyEcn: boolean;
  /**
   * `tfc_padding` (RFC 4303 section 2.7, tunnel mode): pad inner packets to
   * this many bytes, or to the TUN MTU ("mtu"); 0 = off. Never used when the
   * peer sent ESP_TFC_PADDING_NOT_SUPPORTED.
   */
  readonly tfcPadding: number | "mtu";
  /**
   * `ipcomp` (default no): propose and accept IP Payload Compression with
   * DEFLATE (RFC 3173, IPCOMP_SUPPORTED in RFC 7296 section 2.22), under ESP or AH.
   * Packets that do not get smaller go uncompressed.
   */
  readonly ipcomp: boolean;
  /**
   * `sha256_96` (default no): HMAC-SHA2-256 SAs use a 96-bit ICV, the draft
   * before RFC 4868 that old peers (Linux before 2.6.33) implement. Both
   * sides must agree; nothing in IKE says so.
   */
  readonly sha256Icv96: boolean;
  /**
   * `updown`: a script run (no shell, no arguments; PLUTO_* environment as
   * strongSwan's updown plugin sets it) when a child SA of this child comes
   * up or goes away (lib/daemon/updown.ts). Relative paths are resolved like
   * the other file options (from the config file's directory).
   */
  /**
   * `inactivity`: close a child SA of this child when no packet went either
   * way for this long (the IKE SA too when it was its last child); 0 = never.
   */
  readonly inactivitySeconds: number;
  readonly updown?: string;
}

/** One `connections.<name>` section. */
export interface ConnectionSection {
  readonly name: string;
  readonly version: 2;
  /** Our addresses; empty = any. */
  readonly localAddrs: readonly string[];
  /** Peer addresses; empty = any (a responder for road warriors). */
  readonly remoteAddrs: readonly string[];
  /**
   * The DNS names written in `remote_addrs` (their addresses are in
   * `remoteAddrs`): resolved again at each initiation, as charon does.
   */
  readonly remoteNames: readonly string[];
  readonly localPort: number;
  readonly remotePort: number;
  readonly proposals: readonly Proposal[];
  readonly local: LocalAuth;
  readonly remote: RemoteAuth;
  /**
   * `local-2`, `local-3`: our further authentication rounds (RFC 4739
   * multiple authentication, as swanctl's `local-<suffix>` sections); their
   * `id` defaults to the first round's.
   */
  readonly localRounds: readonly LocalAuth[];
  /** `remote-2`, `remote-3`: the rounds the initiator must add after `remote`. */
  readonly remoteRounds: readonly RemoteAuth[];
  readonly dpdDelaySeconds: number;
  readonly dpdAction: PeerAction;
  readonly rekeyTimeSeconds: number;
  readonly reauthTimeSeconds: number;
  /** `over_time`: hard lifetime past rekey/reauth (absent: 10% of the longer). */
  readonly overTimeSeconds?: number;
  /** `rand_time`: rekey/reauth up to this much early (absent: over_time). */
  readonly randTimeSeconds?: number;
  /** Force UDP encapsulation of ESP (`encap`). */
  readonly encap: boolean;
  readonly mobike: boolean;
  /** RFC 7383 fragmentation: on, off, or "accept" (announced and received, never sent). */
  readonly fragmentation: boolean | "accept";
  /**
   * Largest IP packet for IKE messages before RFC 7383 fragmenting
   * (`fragment_size`, bytes 576..65535); unset = the engine default (1280).
   */
  readonly fragmentSize?: number;
  readonly sendCert: "always" | "ifasked" | "never";
  /** `send_certreq`: send CERTREQ payloads for our trust anchors (pubkey; default yes). */
  readonly sendCertreq: boolean;
  /** `ppk_id`: the post-quantum preshared key (RFC 8784) to mix in when the peer can. */
  readonly ppkId?: string;
  /** `ppk_required`: refuse the IKE SA unless that PPK is used. */
  readonly ppkRequired: boolean;
  /** `childless`: IKE SAs without a child in IKE_AUTH (RFC 6023; allow, prefer, force, never). */
  readonly childless: "allow" | "prefer" | "force" | "never";
  /** `follow_redirects`: follow a gateway's REDIRECT (RFC 5685; default yes, as charon). */
  readonly followRedirects: boolean;
  /** `redirect_to`: as gateway, send clients that support it to this address (RFC 5685). */
  readonly redirectTo?: string;
  /** `unique`: the IKE SA uniqueness policy (no, never, keep, replace; default no). */
  readonly unique: "no" | "never" | "keep" | "replace";
  readonly keyingTries: number;
  /**
   * IKE retransmissions (`retransmit_timeout`, `retransmit_tries`), only
   * when either key is written; the engine default (4 s, 5 tries) otherwise.
   */
  readonly retransmit?: { readonly timeoutSeconds: number; readonly tries: number };
  /** Pools we hand out virtual IPs from (names of `pools`). */
  readonly pools: readonly string[];
  /** Virtual IPs we request (`0.0.0.0` / `::` = any). */
  readonly vips: readonly string[];
  readonly children: readonly ChildSection[];
}

/** One `secrets.<name>` section (a pre-shared key). */
export interface SecretSection {
  readonly name: string;
  /** Identities it belongs to (empty = any). */
  readonly ids: readonly Identity[];
  readonly secret: Uint8Array;
}

/**
 * One EAP password (`secrets.<name>` with `type: eap`, or a name starting
 * with `eap-` as in swanctl.conf).
 */
export interface EapSecretSection {
  readonly name: string;
  /** EAP identities (user names) it belongs to, as written (empty = any). */
  readonly ids: readonly string[];
  readonly secret: string;
}

/**
 * One post-quantum preshared key (`secrets.<name>` with `type: ppk`, or a
 * name starting with `ppk`, as in swanctl.conf): its PPK ids as written.
 */
export interface PpkSecretSection {
  readonly name: string;
  readonly ids: readonly string[];
  readonly secret: Uint8Array;
}

/** One `pools.<name>` section. */
export interface PoolSection {
  readonly name: string;
  /** The address range handed out. */
  readonly addrs: AddressSelector;
  readonly dns: readonly string[];
}

/** One entry of the explicit `policies:` list (RFC 4301 view). */
export interface PolicySection {
  readonly label: string;
  readonly local: AddressSelector;
  readonly remote: AddressSelector;
  readonly protocol: ProtocolSelector;
  readonly localPort: PortSelector;
  readonly remotePort: PortSelector;
  readonly pfp: PfpFlags;
  readonly name?: IdentityPattern;
  readonly direction: SpdDirection;
  readonly action: SpdAction;
  /** PROTECT only. */
  readonly mode?: "tunnel" | "transport";
  readonly protocolIpsec?: "esp" | "ah";
  readonly proposals?: readonly Proposal[];
  readonly tunnel?: { readonly local: string; readonly remote: string };
  readonly replayWindow?: number;
  readonly lifeTimeSeconds?: number;
  readonly rekeyTimeSeconds?: number;
}

/** A whole configuration file. */
export interface Config {
  readonly file: string;
  readonly connections: readonly ConnectionSection[];
  readonly secrets: readonly SecretSection[];
  /** EAP passwords (user names and passwords). */
  readonly eapSecrets: readonly EapSecretSection[];
  /** Post-quantum preshared keys (RFC 8784) by PPK id. */
  readonly ppks: readonly PpkSecretSection[];
  readonly pools: readonly PoolSection[];
  readonly policies: readonly PolicySection[];
  /**
   * `unmatched_inbound`: what happens to a clear inbound packet no SPD entry
   * matches. "bypass" (default, like strongSwan: connections protect only
   * what they name) or "discard" (RFC 4301's default; then end `policies:`
   * with BYPASS entries for what may pass, as in the seeds' host SPD).
   */
  readonly unmatchedInbound: "bypass" | "discard";
  /**
   * `resolv_conf`: the file DNS servers a gateway assigns are written to
   * while the IKE SA lasts (default /etc/resolv.conf, like strongSwan's
   * resolve plugin); null (`resolv_conf: no`) leaves the resolver alone.
   */
  readonly resolvConf: string | null;
  /**
   * `udp_offload` (default no): ESP-in-UDP datagrams of one flow leave in
   * segmented sends (UDP_SEGMENT) and arrive coalesced (UDP_GRO), which
   * raised TCP throughput by a third to two thirds in our measurements.
   * The wire carries the same datagrams, but a capture on this host
   * (tcpdump on the sending interface, on a veth, or on a receiving NIC
   * that does GRO) shows the unsegmented buffers.
   */
  readonly udpOffload: boolean;
  /** `radius`: RADIUS servers for `remote.auth: eap-radius` (EAP pass-through). */
  readonly radius?: RadiusSection;
}

/** `radius:` (strongSwan's eap-radius plugin settings). */
export interface RadiusSection {
  /** `servers`, tried in the order written. */
  readonly servers: readonly {
    readonly name: string;
    readonly address: string;
    readonly port: number;
    /** `acct_port` (default 1813). */
    readonly acctPort: number;
    readonly secret: Uint8Array;
  }[];
  /** `nas_identifier` (default deno-ipsec). */
  readonly nasIdentifier: string;
  /** `accounting` (default no): RADIUS accounting Start/Stop for EAP-RADIUS sessions. */
  readonly accounting: boolean;
  /** `interim_interval` (default 0 = none): seconds between accounting Interim-Updates. */
  readonly interimSeconds: number;
  /** `dae`: listen for Disconnect-Requests (RFC 5176) on this address and port. */
  readonly dae?: { readonly listen: string; readonly port: number; readonly secret: Uint8Array };
}
