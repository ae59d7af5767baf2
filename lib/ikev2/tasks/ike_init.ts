/**
 * The IKE_SA_INIT exchange (RFC 7296 sections 1.2, 2.6, 2.7, 2.23):
 * proposal, key exchange, nonces, NAT detection and capability notifies.
 *
 * ```
 *   Initiator                               Responder
 *   HDR, [N(COOKIE)], SAi1, KEi, Ni,
 *        N(NATD_S_IP), N(NATD_D_IP),
 *        N(FRAG_SUP), N(HASH_ALG)   -->
 *                                   <--  HDR, SAr1, KEr, Nr, N(NATD_S_IP),
 *                                        N(NATD_D_IP), N(FRAG_SUP), N(HASH_ALG), [CERTREQ]
 *   errors (responder keeps no state):
 *                                   <--  HDR, N(COOKIE)            retry with it
 *                                   <--  HDR, N(INVALID_KE_PAYLOAD) retry with that group
 *                                   <--  HDR, N(NO_PROPOSAL_CHOSEN) fail
 * ```
 *
 * @example
 * ```ts
 * const payloads = buildInitRequest(sa, ctx);      // initiator
 * const r = respondInit(sa, request, ctx);          // responder
 * const o = processInitResponse(sa, response, ctx); // initiator: "ok" | retry | failure
 * ```
 *
 * @module
 */
import { computeSkeyseed, deriveIkeSaKeys } from "../../crypto/keys.ts";
import { CONFIGURED_GROUP, createKeyExchange } from "../../crypto/key_exchange.ts";
import { keInfo } from "../../crypto/transforms.ts";
import { HashAlgorithm, notifyName, NotifyType, PayloadType } from "../constants.ts";
import type { IkeSa } from "../ike_sa.ts";
import { MAX_NONCE_LENGTH, MIN_NONCE_LENGTH } from "../payloads/nonce.ts";
import {
  decodeInvalidKe,
  decodeSignatureHashAlgorithms,
  makeInvalidKe,
  makeNotify,
  makeSignatureHashAlgorithms,
} from "../payloads/notify.ts";
import { errorNotify, first, type IkeMessage, notify, type Payload } from "./_msg.ts";
import { buildNatd, checkNatd } from "./natd.ts";
import { certreqPayloads } from "./ike_auth.ts";
import {
  checkAnswer,
  describeOffer,
  ikeSuite,
  keGroups,
  selectProposal,
  suiteFromChoice,
  toWireProposals,
} from "./proposal_select.ts";
import { type TaskContext, TaskError } from "./task_context.ts";
import { redirectNotify } from "./redirect.ts";

/** Nonce length we send (RFC 7296 section 2.10: at least half the PRF key size, >= 16). */
export const NONCE_LENGTH = 32;

/** Hash algorithms we can verify RFC 7427 signatures with. */
export const SUPPORTED_SIGNATURE_HASHES: readonly number[] = [
  HashAlgorithm.SHA2_256,
  HashAlgorithm.SHA2_384,
  HashAlgorithm.SHA2_512,
  HashAlgorithm.IDENTITY,
];

function capabilityNotifies(sa: IkeSa): Payload[] {
  const out: Payload[] = [];
  if (sa.config.fragmentation !== false) {
    out.push(makeNotify(NotifyType.IKEV2_FRAGMENTATION_SUPPORTED));
  }
  if (sa.config.signatureHashes !== false) {
    out.push(makeSignatureHashAlgorithms([...SUPPORTED_SIGNATURE_HASHES]));
  }
  return out;
}

function readCapabilities(sa: IkeSa, m: { payloads: readonly Payload[] }): void {
  sa.peerFragmentation = notify(m, NotifyType.IKEV2_FRAGMENTATION_SUPPORTED) !== undefined;
  const h = notify(m, NotifyType.SIGNATURE_HASH_ALGORITHMS);
  if (h) {
    try {
      sa.peerSignatureHashes = decodeSignatureHashAlgorithms(h);
    } catch {
      sa.peerSignatureHashes = [];
    }
  }
}

function checkNonce(n: Uint8Array | undefined, who: string): Uint8Array {
  if (!n) throw new TaskError(`${who} sent no nonce`, NotifyType.INVALID_SYNTAX);
  if (n.length < MIN_NONCE_LENGTH || n.length > MAX_NONCE_LENGTH) {
    throw new TaskError(`${who} nonce of ${n.length} bytes`, NotifyType.INVALID_SYNTAX);
  }
  return n;
}

/**
 * Initiator: the IKE_SA_INIT request payloads. Creates the nonce and key
 * exchange on first use and keeps them across COOKIE retries; an
 * INVALID_KE_PAYLOAD retry sets `sa.keGroup` first so a new KE is made.
 */
export function buildInitRequest(sa: IkeSa, ctx: TaskContext): Payload[] {
  if (sa.keGroup === 0) sa.keGroup = keGroups(sa.config.proposals)[0] ?? 0;
  if (!sa.keyExchange || sa.keyExchange.group !== sa.keGroup) {
    sa.keyExchange = createKeyExchange(sa.keGroup, ctx.random, CONFIGURED_GROUP);
  }
  sa.nonceI ??= ctx.random(NONCE_LENGTH);
  sa.initOffer = toWireProposals(sa.config.proposals, { preferKe: sa.keGroup });
  const out: Payload[] = [];
  if (sa.cookie) out.push(makeNotify(NotifyType.COOKIE, sa.cookie));
  out.push(
    { type: PayloadType.SA, proposals: sa.initOffer },
    { type: PayloadType.KE, group: sa.keGroup, data: sa.keyExchange.publicKey },
    { type: PayloadType.NONCE, data: sa.nonceI },
    ...buildNatd(sa.spiI, 0n, sa.local, sa.remote, sa.config.encap ? ctx.random : undefined),
    ...capabilityNotifies(sa),
  );
  const redirect = redirectNotify(sa);
  if (redirect) out.push(redirect);
  // RFC 8784: offer a post-quantum preshared key.
  if (sa.config.ppkId !== undefined) out.push(makeNotify(NotifyType.USE_PPK));
  return out;
}

/** Responder's answer to an IKE_SA_INIT request. */
export type InitResponse =
  /** Keep the SA, send these payloads. */
  | { readonly ok: true; readonly payloads: Payload[] }
  /** Send this error without keeping state. */
  | { readonly ok: false; readonly payloads: Payload[]; readonly reason: string };

/**
 * Responder: processes the IKE_SA_INIT request on a fresh SA (SPIs and
 * endpoints set) and derives the keys. Errors come back as stateless replies.
 */
export function respondInit(sa: IkeSa, req: IkeMessage, ctx: TaskContext): InitResponse {
  const saP = first(req, PayloadType.SA);
  const ke = first(req, PayloadType.KE);
  const fail = (type: number, reason: string, data?: Payload): InitResponse => ({
    ok: false,
    payloads: [data ?? makeNotify(type)],
    reason,
  });
  if (!saP || !ke) return fail(NotifyType.INVALID_SYNTAX, "IKE_SA_INIT without SA or KE");
  let ni: Uint8Array;
  try {
    ni = checkNonce(first(req, PayloadType.NONCE)?.data, "initiator");
  } catch (e) {
    return fail(NotifyType.INVALID_SYNTAX, (e as Error).message);
  }
  const choice = selectProposal(saP.proposals, sa.config.proposals, {
    preferOwn: sa.config.preferOwnProposals,
  });
  if (!choice) {
    return fail(
      NotifyType.NO_PROPOSAL_CHOSEN,
      `no acceptable IKE proposal: received ${describeOffer(saP.proposals)}; configured ${
        describeOffer(sa.config.proposals)
      }`,
    );
  }
  const suite = suiteFromChoice(choice.chosen);
  if (!suite.encrId || !suite.prfId || !suite.keId) {
    return fail(NotifyType.NO_PROPOSAL_CHOSEN, "chosen IKE proposal is incomplete");
  }
  if (ke.group !== suite.keId) {
    // Does the offered proposal also allow the KE group the initiator used?
    const alt = saP.proposals.find((p) => p.num === choice.chosen.num)?.transforms
      .some((t) => t.type === 4 && t.id === ke.group) &&
      choice.ours.ke.some((k) => k.id === ke.group);
    if (!alt) {
      return fail(
        NotifyType.INVALID_KE_PAYLOAD,
        `KE group ${ke.group} not acceptable, requesting ${suite.keId}`,
        makeInvalidKe(suite.keId),
      );
    }
    const kt = choice.chosen.transforms.find((t) => t.type === 4);
    if (kt) kt.id = ke.group;
  }
  const group = ke.group;
  const info = keInfo(group);
  if (!info || ke.data.length !== info.publicKeyLength) {
    return fail(NotifyType.INVALID_SYNTAX, `KE data of ${ke.data.length} bytes for group ${group}`);
  }
  sa.suite = ikeSuite(suite, group)!;
  sa.keGroup = group;
  sa.keyExchange = createKeyExchange(group, ctx.random, CONFIGURED_GROUP);
  sa.nonceI = ni;
  sa.nonceR = ctx.random(NONCE_LENGTH);
  const nat = checkNatd(req.payloads, sa.spiI, 0n, sa.local, sa.remote);
  sa.peerNatT = nat !== undefined;
  if (nat) {
    sa.setNatLocal(nat.natLocal);
    sa.natRemote = nat.natRemote;
  }
  readCapabilities(sa, req);
  // RFC 8784: echo USE_PPK when we hold any PPK (the PPK_IDENTITY in IKE_AUTH picks one).
  sa.usePpk = notify(req, NotifyType.USE_PPK) !== undefined && (ctx.config.ppks?.length ?? 0) > 0;
  try {
    deriveKeys(sa, ke.data);
  } catch (e) {
    return fail(NotifyType.INVALID_SYNTAX, `key exchange failed: ${(e as Error).message}`);
  }
  return {
    ok: true,
    payloads: [
      { type: PayloadType.SA, proposals: [choice.chosen] },
      { type: PayloadType.KE, group, data: sa.keyExchange.publicKey },
      { type: PayloadType.NONCE, data: sa.nonceR },
      ...buildNatd(
        sa.spiI,
        sa.spiR,
        sa.local,
        sa.remote,
        sa.config.encap ? ctx.random : undefined,
      ),
      ...capabilityNotifies(sa),
      // RFC 6023: we accept an IKE_AUTH without SA/TSi/TSr (an IKE SA
      // without a child; children follow with CREATE_CHILD_SA). As
      // initiator we always ask for the first child, so only the response
      // says it (as strongSwan does with its default `childless = allow`).
      ...(sa.config.childless === "never"
        ? []
        : [makeNotify(NotifyType.CHILDLESS_IKEV2_SUPPORTED)]),
      ...(sa.usePpk ? [makeNotify(NotifyType.USE_PPK)] : []),
      // RFC 4739: the initiator may authenticate in several rounds (as charon, always).
      makeNotify(NotifyType.MULTIPLE_AUTH_SUPPORTED),
      ...certreqPayloads(sa.config),
    ],
  };
}

/** What the initiator does after an IKE_SA_INIT response. */
export type InitOutcome =
  | { readonly kind: "ok" }
  | { readonly kind: "retry"; readonly reason: string }
  | { readonly kind: "failed"; readonly reason: string; readonly notify?: number };

/** Most IKE_SA_INIT retries (COOKIE, INVALID_KE) before giving up. */
export const MAX_INIT_RETRIES = 5;

/**
 * Initiator: processes the IKE_SA_INIT response. COOKIE and
 * INVALID_KE_PAYLOAD make it update `sa` and ask for a retry (same SPIi and
 * nonce, message id 0); other errors fail; success derives the keys.
 */
export function processInitResponse(sa: IkeSa, res: IkeMessage, _ctx: TaskContext): InitOutcome {
  const cookie = notify(res, NotifyType.COOKIE);
  if (cookie) {
    if (cookie.data.length < 1 || cookie.data.length > 64 || sa.initRetries >= MAX_INIT_RETRIES) {
      return { kind: "failed", reason: "unusable COOKIE from responder" };
    }
    sa.cookie = cookie.data;
    sa.initRetries++;
    return { kind: "retry", reason: "responder requested a COOKIE" };
  }
  const invalidKe = notify(res, NotifyType.INVALID_KE_PAYLOAD);
  if (invalidKe) {
    let group: number;
    try {
      group = decodeInvalidKe(invalidKe);
    } catch {
      return { kind: "failed", reason: "malformed INVALID_KE_PAYLOAD" };
    }
    if (
      group === sa.keGroup || !keGroups(sa.config.proposals).includes(group) ||
      sa.initRetries >= MAX_INIT_RETRIES
    ) {
      return {
        kind: "failed",
        reason: `responder wants KE group ${group}, which we do not offer`,
        notify: NotifyType.INVALID_KE_PAYLOAD,
      };
    }
    sa.keGroup = group;
    sa.initRetries++;
    return { kind: "retry", reason: `responder requested KE group ${group}` };
  }
  const err = errorNotify(res);
  if (err) {
    const offered = err.notifyType === NotifyType.NO_PROPOSAL_CHOSEN
      ? `: it accepts none of ${describeOffer(sa.config.proposals)}`
      : "";
    return {
      kind: "failed",
      reason: `peer answered ${notifyName(err.notifyType)}${offered}`,
      notify: err.notifyType,
    };
  }
  const saP = first(res, PayloadType.SA);
  const ke = first(res, PayloadType.KE);
  if (!saP || !ke || !sa.initOffer || !sa.keyExchange) {
    return { kind: "failed", reason: "IKE_SA_INIT response without SA or KE" };
  }
  const answer = checkAnswer(sa.initOffer, saP.proposals);
  const suite = answer ? suiteFromChoice(answer) : undefined;
  if (!suite || !suite.encrId || !suite.prfId || suite.keId !== ke.group) {
    return { kind: "failed", reason: "responder chose a proposal we did not offer" };
  }
  if (ke.group !== sa.keGroup) {
    return { kind: "failed", reason: `responder's KE group ${ke.group} != ours ${sa.keGroup}` };
  }
  try {
    sa.nonceR = checkNonce(first(res, PayloadType.NONCE)?.data, "responder");
  } catch (e) {
    return { kind: "failed", reason: (e as Error).message };
  }
  sa.suite = ikeSuite(suite, ke.group)!;
  const nat = checkNatd(res.payloads, sa.spiI, sa.spiR, sa.local, sa.remote);
  sa.peerNatT = nat !== undefined;
  if (nat) {
    sa.setNatLocal(nat.natLocal);
    sa.natRemote = nat.natRemote;
  }
  readCapabilities(sa, res);
  sa.usePpk = sa.config.ppkId !== undefined && notify(res, NotifyType.USE_PPK) !== undefined;
  sa.peerChildless = notify(res, NotifyType.CHILDLESS_IKEV2_SUPPORTED) !== undefined;
  sa.peerMultipleAuth = notify(res, NotifyType.MULTIPLE_AUTH_SUPPORTED) !== undefined;
  sa.peerCertreq = first(res, PayloadType.CERTREQ) !== undefined;
  try {
    deriveKeys(sa, ke.data);
  } catch (e) {
    return { kind: "failed", reason: `key exchange failed: ${(e as Error).message}` };
  }
  return { kind: "ok" };
}

/** SKEYSEED and SK_* from the KE result (RFC 7296 section 2.14). */
export function deriveKeys(sa: IkeSa, peerPublic: Uint8Array): void {
  if (!sa.suite || !sa.keyExchange || !sa.nonceI || !sa.nonceR) {
    throw new TaskError("IKE_SA_INIT state incomplete");
  }
  const gir = sa.keyExchange.computeSharedSecret(peerPublic);
  const skeyseed = computeSkeyseed(sa.suite.prfId, sa.nonceI, sa.nonceR, gir);
  sa.keys = deriveIkeSaKeys({
    suite: sa.suite,
    skeyseed,
    ni: sa.nonceI,
    nr: sa.nonceR,
    spiI: sa.spiI,
    spiR: sa.spiR,
  });
}
