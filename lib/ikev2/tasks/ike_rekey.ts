/**
 * Rekeying the IKE SA with CREATE_CHILD_SA (RFC 7296 sections 1.3.2, 2.18):
 * a new IKE SA with fresh SPIs, nonces and KE; its keys come from the old
 * SA's SK_d. The child SAs move to the new SA, then the old one is deleted.
 * Whoever initiates the rekey is the initiator of the new IKE SA.
 *
 * ```
 *   Initiator (old SA)                         Responder (old SA)
 *   HDR, SK { SA(SPIi'), Ni, KEi } -->
 *                             <--  HDR, SK { SA(SPIr'), Nr, KEr }
 *   SKEYSEED' = prf(SK_d(old), g^ir (new) | Ni | Nr)   (old SA's PRF)
 *   {SK_d' ...} = prf+(SKEYSEED', Ni | Nr | SPIi' | SPIr')   (new SA's PRF)
 *   HDR, SK { D(IKE) } -->        (old SA; the children now live on the new SA)
 *                             <--  HDR, SK { }
 * ```
 *
 * @example
 * ```ts
 * const payloads = buildIkeRekeyRequest(old, fresh, ctx); // fresh: new IkeSa, initiator
 * const r = respondIkeRekey(old, fresh, request, ctx);    // fresh: new IkeSa, responder
 * const o = processIkeRekeyResponse(old, fresh, response);
 * ```
 *
 * @module
 */
import { computeRekeySkeyseed, deriveIkeSaKeys } from "../../crypto/keys.ts";
import { CONFIGURED_GROUP, createKeyExchange } from "../../crypto/key_exchange.ts";
import { keInfo } from "../../crypto/transforms.ts";
import { NotifyType, PayloadType } from "../constants.ts";
import type { IkeSa } from "../ike_sa.ts";
import { MAX_NONCE_LENGTH, MIN_NONCE_LENGTH } from "../payloads/nonce.ts";
import { decodeInvalidKe, makeInvalidKe, makeNotify } from "../payloads/notify.ts";
import { spiFromBytes, spiToBytes } from "../payloads/sa.ts";
import { first, type IkeMessage, notify, type Payload } from "./_msg.ts";
import { NONCE_LENGTH } from "./ike_init.ts";
import {
  checkAnswer,
  ikeSuite,
  keGroups,
  selectProposal,
  suiteFromChoice,
  toWireProposals,
} from "./proposal_select.ts";
import type { TaskContext } from "./task_context.ts";

function validNonce(n: Uint8Array | undefined): n is Uint8Array {
  return n !== undefined && n.length >= MIN_NONCE_LENGTH && n.length <= MAX_NONCE_LENGTH;
}

/** New IKE SA keys from the old SA's SK_d (RFC 7296 section 2.18). */
function deriveRekeyed(old: IkeSa, fresh: IkeSa, peerKe: Uint8Array): void {
  if (!old.suite || !old.keys || !fresh.suite || !fresh.keyExchange) {
    throw new Error("IKE rekey state incomplete");
  }
  const gir = fresh.keyExchange.computeSharedSecret(peerKe);
  const skeyseed = computeRekeySkeyseed(
    old.suite.prfId,
    old.keys.skD,
    gir,
    fresh.nonceI!,
    fresh.nonceR!,
  );
  fresh.keys = deriveIkeSaKeys({
    suite: fresh.suite,
    skeyseed,
    ni: fresh.nonceI!,
    nr: fresh.nonceR!,
    spiI: fresh.spiI,
    spiR: fresh.spiR,
  });
}

/**
 * Initiator: SA (our IKE proposals carrying the new SPIi), Ni, KE. `fresh`
 * is the new SA (initiator, spiI set); `group` overrides the KE group after
 * INVALID_KE_PAYLOAD.
 */
export function buildIkeRekeyRequest(
  old: IkeSa,
  fresh: IkeSa,
  ctx: TaskContext,
  group?: number,
): Payload[] {
  const g = group ?? old.suite?.keId ?? keGroups(old.config.proposals)[0];
  fresh.keGroup = g;
  fresh.keyExchange = createKeyExchange(g, ctx.random, CONFIGURED_GROUP);
  fresh.nonceI = ctx.random(NONCE_LENGTH);
  fresh.initOffer = toWireProposals(old.config.proposals, {
    spi: spiToBytes(fresh.spiI, 8),
    preferKe: g,
  });
  return [
    { type: PayloadType.SA, proposals: fresh.initOffer },
    { type: PayloadType.NONCE, data: fresh.nonceI },
    { type: PayloadType.KE, group: g, data: fresh.keyExchange.publicKey },
  ];
}

/** Responder's answer to an IKE rekey request. */
export type IkeRekeyResponse =
  | { readonly ok: true; readonly payloads: Payload[] }
  | { readonly ok: false; readonly reason: string; readonly payloads: Payload[] };

/**
 * Responder: chooses a proposal, takes the new SPIi from it, checks the KE
 * group and derives the new SA's keys. `fresh` is the new SA (responder,
 * spiR set; its spiI is filled in here).
 */
export function respondIkeRekey(
  old: IkeSa,
  fresh: IkeSa,
  req: IkeMessage,
  ctx: TaskContext,
): IkeRekeyResponse {
  const fail = (type: number, reason: string, p?: Payload): IkeRekeyResponse => ({
    ok: false,
    reason,
    payloads: [p ?? makeNotify(type)],
  });
  const saP = first(req, PayloadType.SA);
  const ke = first(req, PayloadType.KE);
  const ni = first(req, PayloadType.NONCE)?.data;
  if (!saP || !ke || !validNonce(ni)) {
    return fail(NotifyType.INVALID_SYNTAX, "IKE rekey without SA, KE or a valid nonce");
  }
  const choice = selectProposal(saP.proposals, old.config.proposals, {
    preferOwn: old.config.preferOwnProposals,
  });
  if (!choice || choice.chosen.spi.length !== 8) {
    return fail(NotifyType.NO_PROPOSAL_CHOSEN, "no acceptable IKE rekey proposal");
  }
  const s = suiteFromChoice(choice.chosen);
  if (!s.encrId || !s.prfId || !s.keId) {
    return fail(NotifyType.NO_PROPOSAL_CHOSEN, "incomplete IKE rekey proposal");
  }
  let group = s.keId;
  if (ke.group !== group) {
    const offered = saP.proposals.find((p) => p.num === choice.chosen.num)?.transforms
      .some((t) => t.type === 4 && t.id === ke.group);
    if (!offered || !choice.ours.ke.some((k) => k.id === ke.group)) {
      return fail(NotifyType.INVALID_KE_PAYLOAD, `KE group ${ke.group}`, makeInvalidKe(group));
    }
    group = ke.group;
    const kt = choice.chosen.transforms.find((t) => t.type === 4);
    if (kt) kt.id = group;
  }
  if (ke.data.length !== keInfo(group)?.publicKeyLength) {
    return fail(NotifyType.INVALID_SYNTAX, "KE data of the wrong length");
  }
  fresh.spiI = spiFromBytes(choice.chosen.spi);
  fresh.suite = ikeSuite(s, group)!;
  fresh.keGroup = group;
  fresh.keyExchange = createKeyExchange(group, ctx.random, CONFIGURED_GROUP);
  fresh.nonceI = ni;
  fresh.nonceR = ctx.random(NONCE_LENGTH);
  try {
    deriveRekeyed(old, fresh, ke.data);
  } catch (e) {
    return fail(NotifyType.INVALID_SYNTAX, `key exchange failed: ${(e as Error).message}`);
  }
  return {
    ok: true,
    payloads: [
      { type: PayloadType.SA, proposals: [{ ...choice.chosen, spi: spiToBytes(fresh.spiR, 8) }] },
      { type: PayloadType.NONCE, data: fresh.nonceR },
      { type: PayloadType.KE, group, data: fresh.keyExchange.publicKey },
    ],
  };
}

/** Initiator's outcome of an IKE rekey. */
export type IkeRekeyOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: string; readonly retryGroup?: number };

/** Initiator: takes SPIr, suite, nonce and KE from the response and derives the keys. */
export function processIkeRekeyResponse(
  old: IkeSa,
  fresh: IkeSa,
  res: IkeMessage,
): IkeRekeyOutcome {
  const invalidKe = notify(res, NotifyType.INVALID_KE_PAYLOAD);
  if (invalidKe) {
    try {
      return {
        ok: false,
        reason: "peer wants another group",
        retryGroup: decodeInvalidKe(invalidKe),
      };
    } catch {
      return { ok: false, reason: "malformed INVALID_KE_PAYLOAD" };
    }
  }
  const err = res.payloads.find((p) => p.type === PayloadType.NOTIFY && p.notifyType < 16384);
  if (err && err.type === PayloadType.NOTIFY) {
    return { ok: false, reason: `peer refused the IKE rekey (${err.notifyType})` };
  }
  const saP = first(res, PayloadType.SA);
  const ke = first(res, PayloadType.KE);
  const nr = first(res, PayloadType.NONCE)?.data;
  if (!saP || !ke || !validNonce(nr) || !fresh.initOffer) {
    return { ok: false, reason: "IKE rekey response without SA, KE or nonce" };
  }
  const answer = checkAnswer(fresh.initOffer, saP.proposals);
  const s = answer ? suiteFromChoice(answer) : undefined;
  if (!answer || !s?.encrId || !s.prfId || s.keId !== ke.group || ke.group !== fresh.keGroup) {
    return { ok: false, reason: "peer chose an IKE proposal or group we did not offer" };
  }
  if (answer.spi.length !== 8) return { ok: false, reason: "IKE rekey answer without an SPI" };
  fresh.spiR = spiFromBytes(answer.spi);
  fresh.suite = ikeSuite(s, ke.group)!;
  fresh.nonceR = nr;
  try {
    deriveRekeyed(old, fresh, ke.data);
  } catch (e) {
    return { ok: false, reason: `key exchange failed: ${(e as Error).message}` };
  }
  return { ok: true };
}
