/**
 * The IKE_AUTH exchange (RFC 7296 sections 1.2, 2.15, 2.21.2): identities,
 * AUTH by pre-shared key or signature, CERT/CERTREQ, and the responder's
 * choice of connection by the identities it sees. Authentication failures
 * carry no detail on the wire: only N(AUTHENTICATION_FAILED); the reason
 * goes to the log.
 *
 * ```
 *   Initiator                               Responder
 *   HDR, SK { IDi, [CERT+], [CERTREQ], [IDr], AUTH, [N(INIT_CONTACT)],
 *             SAi2, TSi, TSr }  -->
 *                               <--  HDR, SK { IDr, [CERT+], AUTH, SAr2, TSi, TSr }
 *                               <--  HDR, SK { N(AUTH_FAILED) }   (no SA kept)
 *   (initiator fails to verify the responder:)
 *   HDR, SK { N(AUTH_FAILED) }  -->  (INFORMATIONAL, then both forget the SA)
 * ```
 *
 * @example
 * ```ts
 * const p = buildAuthRequest(sa, ctx, childPayloads);  // initiator
 * const r = respondAuth(sa, request, ctx);             // responder: verify, pick config
 * const ok = verifyResponderAuth(sa, response, ctx);   // initiator
 * ```
 *
 * @module
 */
import {
  authSignedOctets,
  derivePpkKeys,
  macedId,
  type PpkKeys,
  pskAuth,
} from "../../crypto/keys.ts";
import {
  formatIdentity,
  type Identity,
  identityEquals,
  identityFromPayload,
  identityToPayload,
} from "../../db/identity.ts";
import { concat, constantTimeEqual } from "../../wire/bytes.ts";
import { AuthMethod, authMethodName, CertEncoding, NotifyType, PayloadType } from "../constants.ts";
import type { IkeSa } from "../ike_sa.ts";
import type { IdPayload } from "../payloads/id.ts";
import { makeNotify } from "../payloads/notify.ts";
import { makeCertreq } from "../payloads/certreq.ts";
import { sha1 } from "@noble/hashes/legacy.js";
import { X509Certificate } from "@peculiar/x509";
import type {
  EapServerMethod,
  LocalAuthConfig,
  PeerConfig,
  PpkSecret,
  RemoteAuthConfig,
  SharedSecret,
} from "../peer_config.ts";
import { all, first, type IkeMessage, notify, type Payload } from "./_msg.ts";
import { signAuth, verifySignatureAuth } from "./auth_pubkey.ts";
import { buildCpRequest, vipFamily } from "./config_payload.ts";
import { type TaskContext, TaskError } from "./task_context.ts";

/** The ID payload for an identity. */
export function idPayload(
  type: typeof PayloadType.IDi | typeof PayloadType.IDr,
  id: Identity,
): IdPayload {
  const { idType, data } = identityToPayload(id);
  return { type, idType, data };
}

/** RestOfIDPayload: ID Type, 3 reserved bytes, identification data. */
function idBody(p: IdPayload): Uint8Array {
  return concat(new Uint8Array([p.idType, 0, 0, 0]), p.data);
}

/**
 * The octets AUTH covers for `who` (RFC 7296 section 2.15): that side's
 * IKE_SA_INIT message, the other side's nonce, prf(SK_p, RestOfIDPayload).
 */
export function authOctets(
  sa: IkeSa,
  who: "i" | "r",
  id: IdPayload,
  ppk?: PpkKeys,
): Uint8Array {
  const k = sa.keys;
  if (!k || !sa.suite || !sa.initRequest || !sa.initResponse || !sa.nonceI || !sa.nonceR) {
    throw new TaskError("IKE_SA_INIT state incomplete");
  }
  const msg = who === "i" ? sa.initRequest : sa.initResponse;
  const nonce = who === "i" ? sa.nonceR : sa.nonceI;
  // RFC 8784: with a PPK, SK_pi'/SK_pr' key the MACedIDs.
  const keys = ppk ?? k;
  const skP = who === "i" ? keys.skPi : keys.skPr;
  return authSignedOctets(msg, nonce, macedId(sa.suite.prfId, skP, idBody(id)));
}

/**
 * The pre-shared key for a pair of identities: a secret naming both wins
 * over one naming either, which wins over one naming none.
 */
export function findSharedSecret(
  secrets: readonly SharedSecret[],
  local: Identity,
  remote: Identity | undefined,
): Uint8Array | undefined {
  let best: { score: number; secret: Uint8Array } | undefined;
  for (const s of secrets) {
    const l = s.ids.some((i) => identityEquals(i, local));
    const r = remote !== undefined && s.ids.some((i) => identityEquals(i, remote));
    const score = s.ids.length === 0 ? 1 : (l ? 2 : 0) + (r ? 2 : 0);
    if (score === 0) continue;
    if (!best || score > best.score) best = { score, secret: s.secret };
  }
  return best?.secret;
}

/** Our authentication round `i` (0: `local`; then RFC 4739's `local-2`...), if configured. */
export function localRound(cfg: PeerConfig, i: number): LocalAuthConfig | undefined {
  return i === 0 ? cfg.local : cfg.localRounds?.[i - 1];
}

/** The peer's authentication round `i` we require (0: `remote`; then `remote-2`...). */
export function remoteRound(cfg: PeerConfig, i: number): RemoteAuthConfig | undefined {
  return i === 0 ? cfg.remote : cfg.remoteRounds?.[i - 1];
}

/**
 * Responder, RFC 4739: whether the initiator's round `round` (0-based)
 * ending with (`another`) or without ANOTHER_AUTH_FOLLOWS fits the rounds
 * the connection requires; a log reason when not.
 */
export function checkRounds(cfg: PeerConfig, round: number, another: boolean): string | undefined {
  const total = 1 + (cfg.remoteRounds?.length ?? 0);
  if (another && round + 1 >= total) {
    return `the peer announces authentication round ${round + 2} (ANOTHER_AUTH_FOLLOWS, ` +
      `RFC 4739), but connection '${cfg.name}' has ${total === 1 ? "one" : total}`;
  }
  if (!another && round + 1 < total) {
    return `connection '${cfg.name}' requires ${total} authentication rounds (remote-${
      round + 2
    }: ${remoteRound(cfg, round + 1)!.auth}), the peer ended after ${round + 1}`;
  }
  return undefined;
}

function buildOwnAuth(
  sa: IkeSa,
  ctx: TaskContext,
  who: "i" | "r",
  id: IdPayload,
  peerId: Identity | undefined,
  ppk?: PpkKeys,
  local?: LocalAuthConfig,
): Payload[] {
  const cfg = local ?? sa.config.local;
  if (cfg.auth === "eap") {
    throw new TaskError(
      `connection ${sa.config.name} has local auth eap: EAP authenticates initiators only`,
    );
  }
  const octets = authOctets(sa, who, id, ppk);
  if (cfg.auth === "psk") {
    const secret = findSharedSecret(ctx.config.secrets ?? [], cfg.id, peerId);
    if (!secret) throw new TaskError(`no shared secret for ${cfg.id.value}`);
    return [{
      type: PayloadType.AUTH,
      method: AuthMethod.SHARED_KEY_MIC,
      data: pskAuth(sa.suite!.prfId, secret, octets),
    }];
  }
  if (!cfg.privateKey) throw new TaskError(`connection ${sa.config.name} has no private key`);
  const out: Payload[] = [];
  const send = sa.config.sendCert ?? "ifasked";
  if (cfg.certs && (send === "always" || (send === "ifasked" && sa.peerCertreq))) {
    for (const c of cfg.certs) {
      out.push({ type: PayloadType.CERT, encoding: CertEncoding.X509_CERT_SIGNATURE, data: c });
    }
  }
  const a = signAuth(cfg.privateKey, octets, sa.peerSignatureHashes);
  out.push({ type: PayloadType.AUTH, method: a.method, data: a.data });
  return out;
}

/**
 * CERTREQ naming our trust anchors by the SHA-1 hash of their public key
 * (RFC 7296 section 3.7); none when we do not authenticate the peer by
 * certificate or have no CA configured.
 */
export function certreqPayloads(cfg: PeerConfig): Payload[] {
  if (cfg.remote.auth !== "pubkey" || cfg.sendCertreq === false) return [];
  const hashes: Uint8Array[] = [];
  for (const der of cfg.remote.cacerts ?? []) {
    let h = caKeyHashes.get(der);
    if (h === undefined) {
      try {
        h = sha1(new Uint8Array(new X509Certificate(new Uint8Array(der)).publicKey.rawData));
      } catch {
        // An unparsable CA certificate is reported by config validation, not here.
        h = null;
      }
      caKeyHashes.set(der, h);
    }
    if (h !== null) hashes.push(h);
  }
  return hashes.length ? [makeCertreq(hashes)] : [];
}

/** SHA-1 of each configured CA's public key (null: unparsable), per certificate bytes object. */
const caKeyHashes = new WeakMap<Uint8Array, Uint8Array | null>();

/** The PPK_IDENTITY data of a PPK id: PPK_ID_FIXED (2) and the id's bytes (RFC 8784 section 3). */
function ppkIdentityData(id: string): Uint8Array {
  return concat(Uint8Array.of(PPK_ID_FIXED), new TextEncoder().encode(id));
}

/** PPK_ID_FIXED: the PPK_IDENTITY type naming a PPK by a fixed id (RFC 8784 section 3). */
const PPK_ID_FIXED = 2;

/** The PPK with id `id` among `ppks`, or undefined. */
export function findPpk(
  ppks: readonly PpkSecret[] | undefined,
  id: string,
): Uint8Array | undefined {
  return ppks?.find((p) => p.ids.includes(id))?.secret;
}

/**
 * Initiator, RFC 8784: when both sides announced USE_PPK and we have the
 * connection's PPK, mixes it into the keys (`sa.ppk`) and returns the
 * PPK_IDENTITY notify; throws when `ppk_required` cannot be met.
 */
function initiatorPpk(sa: IkeSa, ctx: TaskContext): Payload[] {
  const cfg = sa.config;
  sa.ppk = undefined;
  if (cfg.ppkId === undefined) return [];
  if (!sa.usePpk) {
    if (cfg.ppkRequired) {
      throw new TaskError("the peer does not support PPKs (no USE_PPK), but ppk_required is set");
    }
    return [];
  }
  const secret = findPpk(ctx.config.ppks, cfg.ppkId);
  if (!secret) throw new TaskError(`no PPK with id '${cfg.ppkId}'`);
  sa.ppk = derivePpkKeys(sa.suite!.prfId, secret, sa.keys!);
  return [makeNotify(NotifyType.PPK_IDENTITY, ppkIdentityData(cfg.ppkId))];
}

/** Initiator: IDi [CERT+] [CERTREQ] [IDr] AUTH [N(INITIAL_CONTACT)] plus `child`. */
export function buildAuthRequest(sa: IkeSa, ctx: TaskContext, child: Payload[]): Payload[] {
  const cfg = sa.config;
  const rounds = cfg.localRounds?.length ?? 0;
  if (rounds > 0 && !sa.peerMultipleAuth) {
    throw new TaskError(
      `connection ${cfg.name} authenticates in ${rounds + 1} rounds, but the peer does not ` +
        "support multiple authentication (no MULTIPLE_AUTH_SUPPORTED, RFC 4739)",
    );
  }
  const idi = idPayload(PayloadType.IDi, cfg.local.id);
  const out: Payload[] = [idi];
  const remoteId = cfg.remote.id && cfg.remote.id.type !== "any" ? cfg.remote.id : undefined;
  // EAP (RFC 7296 section 2.16): no AUTH in the first request; it follows the EAP method.
  const ppk = cfg.local.auth === "eap" ? [] : initiatorPpk(sa, ctx);
  const auth = cfg.local.auth === "eap" ? [] : buildOwnAuth(sa, ctx, "i", idi, remoteId, sa.ppk);
  out.push(...auth.filter((p) => p.type === PayloadType.CERT));
  out.push(...certreqPayloads(cfg));
  if (remoteId && cfg.sendIdr !== false) out.push(idPayload(PayloadType.IDr, remoteId));
  out.push(...auth.filter((p) => p.type === PayloadType.AUTH));
  if (ppk.length > 0) {
    out.push(ppk[0]);
    if (!cfg.ppkRequired) {
      // RFC 8784: the AUTH data without the PPK, for a responder that has none.
      const plain = buildOwnAuth(sa, ctx, "i", idi, remoteId).find((p) =>
        p.type === PayloadType.AUTH
      );
      if (plain?.type === PayloadType.AUTH) {
        out.push(makeNotify(NotifyType.NO_PPK_AUTH, plain.data));
      }
    }
  }
  if (cfg.initialContact !== false && sa.reauthOf === undefined && !sa.peerHasOtherSa) {
    out.push(makeNotify(NotifyType.INITIAL_CONTACT));
  }
  // RFC 4739: we can do more rounds when the responder announced it can; after EAP
  // the ANOTHER_AUTH_FOLLOWS goes with the AUTH that ends the method.
  if (sa.peerMultipleAuth) out.push(makeNotify(NotifyType.MULTIPLE_AUTH_SUPPORTED));
  if (rounds > 0 && cfg.local.auth !== "eap") out.push(makeNotify(NotifyType.ANOTHER_AUTH_FOLLOWS));
  if (cfg.vips?.length) {
    // Reauthenticating, each "any address" entry asks for the address we hold in its family.
    const held = (w: string) =>
      sa.reauthVips.find((v) => vipFamily(v) === vipFamily(w) && isAny(w)) ?? w;
    out.push(buildCpRequest(cfg.vips.map(held)));
  }
  out.push(...child);
  sa.localId = cfg.local.id;
  return out;
}

/**
 * Initiator, RFC 4739: the first request of our authentication round
 * `sa.authRound` (1 or more): IDi [CERT+] AUTH [N(ANOTHER_AUTH_FOLLOWS)], or
 * only IDi when the round is EAP (the responder then starts the method).
 * Child SA and configuration payloads went with the first round.
 */
export function buildRoundRequest(sa: IkeSa, ctx: TaskContext): Payload[] {
  const round = localRound(sa.config, sa.authRound);
  if (!round) throw new TaskError(`no authentication round ${sa.authRound + 1} configured`);
  const idi = idPayload(PayloadType.IDi, round.id);
  const out: Payload[] = [idi];
  if (round.auth !== "eap") {
    const auth = buildOwnAuth(sa, ctx, "i", idi, sa.remoteId, undefined, round);
    out.push(...auth);
    if (localRound(sa.config, sa.authRound + 1)) {
      out.push(makeNotify(NotifyType.ANOTHER_AUTH_FOLLOWS));
    }
  }
  return out;
}

/** The identity an ID payload names, or undefined when it does not parse. */
export function idOf(p: IdPayload): Identity | undefined {
  try {
    return identityFromPayload(p.idType, p.data);
  } catch {
    return undefined;
  }
}

function remoteIdAccepts(cfg: PeerConfig, id: Identity): boolean {
  const want = cfg.remote.id;
  return !want || want.type === "any" || identityEquals(want, id);
}

/** An identity for a log line: `'moon@example.org' (rfc822)`. */
function describeId(id: Identity): string {
  return `'${formatIdentity(id)}' (${id.type})`;
}

/**
 * Why no candidate connection takes the peer: its identity (and the one of
 * ours it asked for in IDr) against what each connection expects, e.g.
 * `no connection for peer 'moon@example.org' (rfc822): expected 'mallory@example.org' (rfc822)`.
 */
export function noConnection(
  candidates: readonly PeerConfig[],
  peer: Identity,
  wantedLocal?: Identity,
): string {
  const expected = candidates.map((c) => {
    const remote = c.remote.id && c.remote.id.type !== "any" ? describeId(c.remote.id) : "any";
    const idr = wantedLocal && !identityEquals(c.local.id, wantedLocal)
      ? ` and IDr ${describeId(c.local.id)}`
      : "";
    return `${remote}${idr} in '${c.name}'`;
  });
  const asked = wantedLocal ? ` asking for our ${describeId(wantedLocal)}` : "";
  return `no connection for peer ${describeId(peer)}${asked}: expected ${
    expected.length ? expected.join(", ") : "no connection for these addresses"
  }`;
}

/** An EAP exchange the responder starts (the peer sent no AUTH and must use EAP). */
export interface EapStart {
  readonly method: EapServerMethod;
  /** The peer's EAP identity when known; undefined = ask by EAP-Identity. */
  readonly identity: string | undefined;
}

/**
 * Verifies the peer's AUTH payload against `cfg.remote`; returns a log
 * reason, undefined, or (responder, peer required to use EAP and sending no
 * AUTH) the EAP exchange to run.
 */
function verifyPeerAuth(
  sa: IkeSa,
  ctx: TaskContext,
  msg: IkeMessage,
  who: "i" | "r",
  id: IdPayload,
  peer: Identity,
  now: number,
  ppk?: PpkKeys,
  noPpkAuth?: Uint8Array,
  round = 0,
): string | EapStart | undefined {
  const sent = first(msg, PayloadType.AUTH);
  // RFC 8784: a responder without the PPK checks NO_PPK_AUTH in place of AUTH's data.
  const auth = sent && noPpkAuth ? { ...sent, data: noPpkAuth } : sent;
  const cfg = sa.config;
  const remote = remoteRound(cfg, round)!;
  // The PAD, when configured, decides who the peer may be and how it must
  // prove it (RFC 4301 section 4.4.3); otherwise the connection does. Later
  // RFC 4739 rounds follow the connection's `remote-N`.
  const pad = round === 0 ? ctx.config.pad : undefined;
  let method: "psk" | "pubkey" | "eap" = remote.auth;
  let eap: EapStart | undefined = remote.auth === "eap"
    ? eapStartFor(remote.eapMethod, remote.eapId, peer)
    : undefined;
  let secret: Uint8Array | undefined;
  let trustAnchors = remote.cacerts ?? [];
  let pinned = remote.certs ?? [];
  let pinnedKeys = remote.pubkeys ?? [];
  let crls = remote.crls;
  let revocation = remote.revocation;
  if (pad) {
    const entry = pad.match(peer, cfg.name);
    if (!entry) return `no PAD entry for ${peer.value}`;
    sa.padEntry = entry;
    method = entry.auth.method;
    eap = undefined;
    if (entry.auth.method === "psk") secret = entry.auth.secret;
    else if (entry.auth.method === "eap") {
      eap = eapStartFor(entry.auth.eap, entry.auth.eapId, peer);
    } else {
      trustAnchors = entry.auth.trustAnchors;
      pinned = entry.auth.pinned ?? [];
      pinnedKeys = entry.auth.pinnedKeys ?? [];
      crls = entry.auth.crls;
      revocation = entry.auth.revocation;
    }
  }
  if (method === "eap") {
    if (who === "r") return "we cannot be the EAP server of a responder (remote auth eap)";
    if (auth) return "peer sent AUTH, we require EAP (remote auth eap)";
    return eap;
  }
  if (!auth) {
    return who === "i" && remote.auth !== "eap"
      ? `no AUTH payload (the peer wants EAP? we require ${method})`
      : "no AUTH payload";
  }
  const octets = authOctets(sa, who, id, ppk);
  if (method === "psk") {
    if (auth.method !== AuthMethod.SHARED_KEY_MIC) {
      return `peer used auth method ${auth.method}, we require a pre-shared key`;
    }
    secret ??= findSharedSecret(ctx.config.secrets ?? [], cfg.local.id, peer);
    if (!secret) return `no shared secret for ${peer.value}`;
    const want = pskAuth(sa.suite!.prfId, secret, octets);
    return constantTimeEqual(want, auth.data) ? undefined : "pre-shared key AUTH mismatch";
  }
  if (auth.method === AuthMethod.SHARED_KEY_MIC) {
    return "peer used a pre-shared key, we require a signature";
  }
  const certs = all(msg, PayloadType.CERT)
    .filter((c) => c.encoding === CertEncoding.X509_CERT_SIGNATURE)
    .map((c) => c.data);
  const fetched = ctx.fetchedCrls();
  return verifySignatureAuth({
    method: auth.method,
    data: auth.data,
    octets,
    certs,
    trustAnchors,
    pinned,
    ...(pinnedKeys.length ? { pinnedKeys } : {}),
    ...(crls || fetched.length ? { crls: [...(crls ?? []), ...fetched] } : {}),
    ocsp: ctx.fetchedOcsp(),
    ...(revocation ? { revocation } : {}),
    idType: id.idType,
    idData: id.data,
    now,
  });
}

/** The EAP exchange of a method and configured `eap_id` for a peer with IKE identity `peer`. */
function eapStartFor(
  method: EapServerMethod | undefined,
  eapId: string | undefined,
  peer: Identity,
): EapStart {
  const identity = eapId === "%any" ? undefined : eapId ?? formatIdentity(peer);
  return { method: method ?? "mschapv2", identity };
}

/**
 * The AUTH data of an EAP-authenticated IKE SA (RFC 7296 section 2.16):
 * prf(prf(MSK, "Key Pad for IKEv2"), <signed octets of `who`>), with SK_pi
 * (initiator) or SK_pr (responder) in place of the MSK when the EAP method
 * made none (EAP-MD5), as strongSwan does.
 */
export function eapAuthData(
  sa: IkeSa,
  who: "i" | "r",
  id: IdPayload,
  msk: Uint8Array | undefined,
): Uint8Array {
  const k = sa.keys;
  if (!k || !sa.suite) throw new TaskError("IKE_SA_INIT state incomplete");
  const key = msk ?? (who === "i" ? k.skPi : k.skPr);
  return pskAuth(sa.suite.prfId, key, authOctets(sa, who, id));
}

/**
 * Checks an AUTH payload after EAP against {@link eapAuthData}; returns a
 * log reason or undefined.
 */
export function verifyEapAuth(
  sa: IkeSa,
  msg: IkeMessage,
  who: "i" | "r",
  id: IdPayload,
  msk: Uint8Array | undefined,
): string | undefined {
  const auth = first(msg, PayloadType.AUTH);
  if (!auth) return "no AUTH payload after EAP";
  if (auth.method !== AuthMethod.SHARED_KEY_MIC) {
    return `AUTH after EAP uses method ${auth.method}, expected shared key MIC (2)`;
  }
  const want = eapAuthData(sa, who, id, msk);
  return constantTimeEqual(want, auth.data)
    ? undefined
    : `AUTH after EAP mismatch (${msk ? "MSK" : "no MSK: SK_p"} key)`;
}

/** Responder's verdict on an IKE_AUTH request. */
export type AuthResponse =
  | {
    readonly ok: true;
    readonly payloads: Payload[];
    /** Set when the peer must now authenticate by EAP (its request had no AUTH). */
    readonly eap?: EapStart;
    /** The IDi and IDr payloads of this exchange (EAP: AUTH after EAP covers them). */
    readonly idi: IdPayload;
    readonly idr: IdPayload;
    /** The initiator announced another authentication round (RFC 4739 ANOTHER_AUTH_FOLLOWS). */
    readonly another: boolean;
  }
  | { readonly ok: false; readonly reason: string; readonly payloads: Payload[] };

/**
 * Responder: checks IDi/IDr, switches to the connection that matches them
 * (among `candidates`, which all matched the IKE_SA_INIT addresses), verifies
 * AUTH and builds IDr [CERT+] AUTH. On failure the payloads are only
 * N(AUTHENTICATION_FAILED).
 */
export function respondAuth(
  sa: IkeSa,
  req: IkeMessage,
  ctx: TaskContext,
  candidates: readonly PeerConfig[],
  now: number,
): AuthResponse {
  const failed = (reason: string): AuthResponse => ({
    ok: false,
    reason,
    payloads: [makeNotify(NotifyType.AUTHENTICATION_FAILED)],
  });
  const idi = first(req, PayloadType.IDi);
  if (!idi) return failed("IKE_AUTH request without IDi");
  const peer = idOf(idi);
  if (!peer) return failed("unparsable IDi");
  const idrP = first(req, PayloadType.IDr);
  const wantedLocal = idrP ? idOf(idrP) : undefined;
  const cfg = candidates.find((c) =>
    remoteIdAccepts(c, peer) && (!wantedLocal || identityEquals(c.local.id, wantedLocal))
  );
  if (!cfg) return failed(noConnection(candidates, peer, wantedLocal));
  sa.config = cfg;
  sa.peerCertreq = all(req, PayloadType.CERTREQ).length > 0;
  const ppk = responderPpk(sa, ctx, req);
  if (typeof ppk === "string") return failed(`authentication of ${peer.value} failed: ${ppk}`);
  const why = verifyPeerAuth(sa, ctx, req, "i", idi, peer, now, sa.ppk, ppk.noPpkAuth);
  if (typeof why === "string") return failed(`authentication of ${peer.value} failed: ${why}`);
  // RFC 4739: after EAP, ANOTHER_AUTH_FOLLOWS comes with the AUTH that ends it.
  const another = notify(req, NotifyType.ANOTHER_AUTH_FOLLOWS) !== undefined;
  const rounds = why ? undefined : checkRounds(cfg, 0, another);
  if (rounds) return failed(`authentication of ${peer.value} failed: ${rounds}`);
  sa.authInfo = why ? `EAP-${eapMethodLabel(why.method)}` : authMethodName(
    first(req, PayloadType.AUTH)!.method,
  );
  sa.remoteId = peer;
  sa.localId = cfg.local.id;
  const idr = idPayload(PayloadType.IDr, cfg.local.id);
  let own: Payload[];
  try {
    own = buildOwnAuth(sa, ctx, "r", idr, peer, sa.ppk);
  } catch (e) {
    return failed(`cannot authenticate ourselves: ${(e as Error).message}`);
  }
  if (sa.ppk) {
    // RFC 8784: tell the initiator the PPK was used; SK_d' keys everything from here.
    own.push(makeNotify(NotifyType.PPK_IDENTITY));
    usePpkSkD(sa);
  }
  return { ok: true, payloads: [idr, ...own], ...(why ? { eap: why } : {}), idi, idr, another };
}

/**
 * Responder, RFC 4739: the first request of the initiator's round
 * `sa.authRound` (1 or more), checked against the connection's `remote-N`:
 * its IDi, then its AUTH, or the EAP exchange to run when the round is EAP.
 * The answer carries no IDr or AUTH of ours (we authenticated in round 1);
 * the child SA of the first request is answered once the last round is done.
 */
export function respondRound(
  sa: IkeSa,
  req: IkeMessage,
  ctx: TaskContext,
  now: number,
): AuthResponse {
  const n = sa.authRound + 1;
  const failed = (reason: string): AuthResponse => ({
    ok: false,
    reason: `authentication round ${n} failed: ${reason}`,
    payloads: [makeNotify(NotifyType.AUTHENTICATION_FAILED)],
  });
  const remote = remoteRound(sa.config, sa.authRound);
  if (!remote || !sa.authIdr) return failed("no such round configured");
  const idi = first(req, PayloadType.IDi);
  if (!idi) return failed("IKE_AUTH request without IDi");
  const peer = idOf(idi);
  if (!peer) return failed("unparsable IDi");
  if (remote.id && remote.id.type !== "any" && !identityEquals(remote.id, peer)) {
    return failed(`identity ${describeId(peer)} not accepted (expected ${describeId(remote.id)})`);
  }
  const why = verifyPeerAuth(sa, ctx, req, "i", idi, peer, now, undefined, undefined, sa.authRound);
  if (typeof why === "string") return failed(`${peer.value}: ${why}`);
  const another = notify(req, NotifyType.ANOTHER_AUTH_FOLLOWS) !== undefined;
  if (!why) {
    const rounds = checkRounds(sa.config, sa.authRound, another);
    if (rounds) return failed(rounds);
    sa.authInfo += ` + ${authMethodName(first(req, PayloadType.AUTH)!.method)} ${describeId(peer)}`;
  }
  return { ok: true, payloads: [], ...(why ? { eap: why } : {}), idi, idr: sa.authIdr, another };
}

/** SK_d' replaces SK_d once both AUTHs used the PPK (RFC 8784 section 3). */
function usePpkSkD(sa: IkeSa): void {
  sa.keys = { ...sa.keys!, skD: sa.ppk!.skD };
  sa.authInfo += " + PPK";
}

/**
 * Responder, RFC 8784: the PPK the initiator names in PPK_IDENTITY, when we
 * hold it (`sa.ppk` set), else the NO_PPK_AUTH data to check instead of
 * AUTH's; a log reason when the connection's `ppk_required` is not met or
 * the initiator left no way to authenticate without the PPK.
 */
function responderPpk(
  sa: IkeSa,
  ctx: TaskContext,
  req: IkeMessage,
): string | { noPpkAuth?: Uint8Array } {
  sa.ppk = undefined;
  const required = sa.config.ppkRequired === true;
  // PPKs go with PSK and certificate authentication, not EAP.
  const named = sa.usePpk && sa.config.remote.auth !== "eap"
    ? notify(req, NotifyType.PPK_IDENTITY)
    : undefined;
  if (!named) return required ? "no PPK used, but ppk_required is set" : {};
  const d = named.data;
  const id = d.length > 1 && d[0] === PPK_ID_FIXED
    ? new TextDecoder().decode(d.subarray(1))
    : undefined;
  const secret = id === undefined ? undefined : findPpk(ctx.config.ppks, id);
  if (secret) {
    sa.ppk = derivePpkKeys(sa.suite!.prfId, secret, sa.keys!);
    return {};
  }
  const what = id === undefined ? `a PPK_IDENTITY of type ${d[0]}` : `PPK '${id}'`;
  if (required) return `no ${what} here, but ppk_required is set`;
  const fallback = notify(req, NotifyType.NO_PPK_AUTH);
  if (!fallback) return `no ${what} here and no NO_PPK_AUTH to fall back to`;
  return { noPpkAuth: fallback.data };
}

/** An EAP method as people write it: "MSCHAPv2", "MD5". */
export function eapMethodLabel(m: EapServerMethod): string {
  return m === "mschapv2"
    ? "MSCHAPv2"
    : m === "md5"
    ? "MD5"
    : m === "tls"
    ? "TLS"
    : m === "ttls"
    ? "TTLS"
    : m === "peap"
    ? "PEAP"
    : "RADIUS";
}

/**
 * Initiator: checks the responder's IDr and AUTH. Returns undefined when
 * authenticated, else the (log-only) reason.
 */
export function verifyResponderAuth(
  sa: IkeSa,
  res: IkeMessage,
  ctx: TaskContext,
  now: number,
): string | undefined {
  const idr = first(res, PayloadType.IDr);
  if (!idr) return "IKE_AUTH response without IDr";
  const peer = idOf(idr);
  if (!peer) return "unparsable IDr";
  if (!remoteIdAccepts(sa.config, peer)) {
    return `responder identity ${describeId(peer)} not accepted (expected ${
      describeId(sa.config.remote.id!)
    })`;
  }
  // RFC 8784: the responder used our PPK only if its answer says so.
  const ppkUsed = notify(res, NotifyType.PPK_IDENTITY) !== undefined;
  if (ppkUsed && !sa.ppk) return "responder claims a PPK we did not offer";
  if (!ppkUsed && sa.config.ppkRequired) {
    return "responder did not use the PPK, but ppk_required is set";
  }
  const why = verifyPeerAuth(sa, ctx, res, "r", idr, peer, now, ppkUsed ? sa.ppk : undefined);
  if (typeof why === "string") return why;
  if (why) return "remote auth eap: EAP authenticates initiators only";
  sa.authInfo = authMethodName(first(res, PayloadType.AUTH)!.method);
  if (ppkUsed) usePpkSkD(sa);
  else sa.ppk = undefined;
  sa.remoteId = peer;
  return undefined;
}

/** A `vips` entry that asks for any address of its family ("0.0.0.0", "::", "%any", "%any6"). */
function isAny(want: string): boolean {
  return want === "%any" || want === "%any6" || want === "0.0.0.0" || want === "::";
}
