/**
 * SA payload proposals <-> configured {@link Proposal}s, and the responder's
 * choice (RFC 7296 sections 2.7 and 3.3.6): the responder walks the
 * initiator's proposals in the order offered (or its own order when it
 * prefers its own) and answers with exactly one transform of each type.
 *
 * ```
 *   offered (initiator order) x ours (config order)
 *     for each pair with the same protocol: for each transform type,
 *     take the first offered transform we also accept  ─► one chosen proposal
 *   none fits ─► NO_PROPOSAL_CHOSEN
 * ```
 *
 * @example
 * ```ts
 * const sa = toWireProposals(parseProposals("aes256gcm16-prfsha384-x25519", "ike"), 1);
 * const r = selectProposal(sa, ours, { preferOwn: false });
 * if (r) suiteFromChoice(r.chosen); // { encrId: 20, encrKeyBits: 256, prfId: 7, keId: 31 }
 * ```
 *
 * @module
 */
import { describeProposal, type Proposal, type TransformSpec } from "../../crypto/proposal.ts";
import { EsnId, transformName, TransformType } from "../../crypto/transforms.ts";
import { ProtocolId } from "../constants.ts";
import {
  makeTransform,
  type Proposal as WireProposal,
  type Transform,
  transformKeyLength,
} from "../payloads/sa.ts";

const PROTOCOL_IDS = { ike: ProtocolId.IKE, esp: ProtocolId.ESP, ah: ProtocolId.AH } as const;

/**
 * Proposals as strongSwan logs them ("IKE:AES_GCM_16_256/PRF_HMAC_SHA2_384/ECP_256,
 * ..."), for the log line of a NO_PROPOSAL_CHOSEN: what the peer offered
 * against what we have configured.
 */
export function describeOffer(proposals: readonly (WireProposal | Proposal)[]): string {
  const names = proposals.map((p) => {
    if ("transforms" in p) {
      const proto = p.protocolId === ProtocolId.IKE
        ? "IKE"
        : p.protocolId === ProtocolId.AH
        ? "AH"
        : "ESP";
      // In strongSwan's order: encryption, integrity, PRF, key exchange, ESN.
      const rank = [0, 0, 2, 1, 3, 4];
      const ts = [...p.transforms].sort((a, b) => (rank[a.type] ?? 9) - (rank[b.type] ?? 9)).map(
        (t) => {
          const n = transformName(t.type, t.id).replace(/^(ENCR|AUTH)_/, "");
          const len = transformKeyLength(t);
          return len ? `${n}_${len}` : n;
        },
      );
      return `${proto}:${ts.join("/")}`;
    }
    return describeProposal(p);
  });
  return names.join(", ") || "none";
}
const TYPES = [
  TransformType.ENCR,
  TransformType.PRF,
  TransformType.INTEG,
  TransformType.KE,
  TransformType.ESN,
] as const;

function listOf(p: Proposal, type: number): readonly TransformSpec[] {
  switch (type) {
    case TransformType.ENCR:
      return p.encr;
    case TransformType.PRF:
      return p.prf;
    case TransformType.INTEG:
      return p.integ;
    case TransformType.KE:
      return p.ke;
    case TransformType.ESN:
      return p.protocol === "ike" ? [] : p.esn.length ? p.esn : [{ id: EsnId.NO_ESN }];
  }
  return [];
}

/** Options of {@link toWireProposals}. */
export interface ToWireOptions {
  /** SPI of every proposal (empty for IKE_SA_INIT, 4 bytes for ESP/AH). */
  readonly spi?: Uint8Array;
  /** Leave out KE transforms (child SAs created inside IKE_AUTH). */
  readonly withoutKe?: boolean;
  /** Put this KE group first in each proposal's KE list (the KE payload's group). */
  readonly preferKe?: number;
}

/** Our configured proposals as SA payload proposals, numbered from 1. */
export function toWireProposals(
  proposals: readonly Proposal[],
  opts: ToWireOptions = {},
): WireProposal[] {
  return proposals.map((p, i) => {
    const transforms: Transform[] = [];
    for (const type of TYPES) {
      if (type === TransformType.KE && opts.withoutKe) continue;
      let list = listOf(p, type);
      if (type === TransformType.KE && opts.preferKe !== undefined) {
        const k = list.find((t) => t.id === opts.preferKe);
        if (k) list = [k, ...list.filter((t) => t !== k)];
      }
      for (const t of list) transforms.push(makeTransform(type, t.id, t.keyLength));
    }
    return {
      num: i + 1,
      protocolId: PROTOCOL_IDS[p.protocol],
      spi: opts.spi ?? new Uint8Array(0),
      transforms,
    };
  });
}

/** The responder's choice: the one proposal to send back, with its number and SPI. */
export interface ProposalChoice {
  /** One transform per type, numbered like the offered proposal, SPI of the offer. */
  readonly chosen: WireProposal;
  /** Our configured proposal it matched. */
  readonly ours: Proposal;
}

function same(t: Transform, s: TransformSpec): boolean {
  return t.id === s.id && (transformKeyLength(t) ?? 0) === (s.keyLength ?? 0);
}

function matchOne(
  offer: WireProposal,
  ours: Proposal,
  opts: { preferOwn: boolean; ignoreKe: boolean },
): WireProposal | undefined {
  if (offer.protocolId !== PROTOCOL_IDS[ours.protocol]) return undefined;
  // Unknown transform types in the offer make the proposal unacceptable (RFC 7296 3.3.6).
  if (offer.transforms.some((t) => !(TYPES as readonly number[]).includes(t.type))) {
    return undefined;
  }
  const chosen: Transform[] = [];
  for (const type of TYPES) {
    const offered = offer.transforms.filter((t) => t.type === type);
    let mine = listOf(ours, type);
    if (type === TransformType.KE && opts.ignoreKe) {
      continue;
    }
    if (type === TransformType.ESN && offered.length === 0 && ours.protocol !== "ike") {
      // An offer without ESN transforms means "no ESN" to many peers.
      if (mine.some((s) => s.id === EsnId.NO_ESN)) continue;
      return undefined;
    }
    if (offered.length === 0 && mine.length === 0) continue;
    if (type === TransformType.KE && offered.length === 0) {
      // Child SA offered without PFS but we want PFS: no match.
      return undefined;
    }
    if (offered.length === 0 || mine.length === 0) {
      // INTEG absent on both sides for AEAD is handled above; any other
      // missing type is a mismatch.
      return undefined;
    }
    let pick: Transform | undefined;
    if (opts.preferOwn) {
      for (const s of mine) {
        pick = offered.find((t) => same(t, s));
        if (pick) break;
      }
    } else {
      pick = offered.find((t) => mine.some((s) => same(t, s)));
    }
    if (!pick) return undefined;
    mine = [];
    chosen.push({ type: pick.type, id: pick.id, attributes: pick.attributes.slice() });
  }
  return { num: offer.num, protocolId: offer.protocolId, spi: offer.spi, transforms: chosen };
}

/**
 * Picks one proposal from `offered` that one of `ours` accepts, or
 * undefined (→ NO_PROPOSAL_CHOSEN). `ignoreKe` drops KE transforms (child SA
 * inside IKE_AUTH, where RFC 7296 section 1.2 says no KE happens).
 */
export function selectProposal(
  offered: readonly WireProposal[],
  ours: readonly Proposal[],
  opts: { preferOwn?: boolean; ignoreKe?: boolean } = {},
): ProposalChoice | undefined {
  const o = { preferOwn: opts.preferOwn ?? false, ignoreKe: opts.ignoreKe ?? false };
  if (o.preferOwn) {
    for (const mine of ours) {
      for (const offer of offered) {
        const c = matchOne(offer, mine, o);
        if (c) return { chosen: c, ours: mine };
      }
    }
    return undefined;
  }
  for (const offer of offered) {
    for (const mine of ours) {
      const c = matchOne(offer, mine, o);
      if (c) return { chosen: c, ours: mine };
    }
  }
  return undefined;
}

/** The transforms of a chosen (single-transform-per-type) proposal. */
export interface ChosenSuite {
  readonly encrId?: number;
  readonly encrKeyBits?: number;
  readonly prfId?: number;
  readonly integId?: number;
  readonly keId?: number;
  readonly esn: boolean;
}

/** Reads the chosen transforms out of a one-per-type proposal. */
export function suiteFromChoice(p: WireProposal): ChosenSuite {
  const get = (type: number) => p.transforms.find((t) => t.type === type);
  const encr = get(TransformType.ENCR);
  const integ = get(TransformType.INTEG);
  const out: {
    encrId?: number;
    encrKeyBits?: number;
    prfId?: number;
    integId?: number;
    keId?: number;
    esn: boolean;
  } = { esn: get(TransformType.ESN)?.id === EsnId.ESN };
  if (encr) {
    out.encrId = encr.id;
    const kl = transformKeyLength(encr);
    if (kl !== undefined) out.encrKeyBits = kl;
  }
  const prf = get(TransformType.PRF);
  if (prf) out.prfId = prf.id;
  if (integ && integ.id !== 0) out.integId = integ.id;
  const ke = get(TransformType.KE);
  if (ke) out.keId = ke.id;
  return out;
}

/**
 * Checks a responder's answer against what we offered (initiator side):
 * exactly one proposal, every transform one we offered in the proposal with
 * that number. Returns undefined when the answer is not acceptable.
 */
export function checkAnswer(
  offered: readonly WireProposal[],
  answer: readonly WireProposal[],
): WireProposal | undefined {
  if (answer.length !== 1) return undefined;
  const a = answer[0];
  const o = offered.find((p) => p.num === a.num && p.protocolId === a.protocolId);
  if (!o) return undefined;
  const types = new Set<number>();
  for (const t of a.transforms) {
    if (types.has(t.type)) return undefined;
    types.add(t.type);
    const ok = o.transforms.some((x) =>
      x.type === t.type && x.id === t.id && transformKeyLength(x) === transformKeyLength(t)
    );
    if (!ok) return undefined;
  }
  for (const t of o.transforms) {
    if (!types.has(t.type) && t.type !== TransformType.INTEG) return undefined;
  }
  return a;
}

/** The KE groups a configured proposal list accepts, in order, without duplicates. */
export function keGroups(proposals: readonly Proposal[]): number[] {
  const out: number[] = [];
  for (const p of proposals) for (const k of p.ke) if (!out.includes(k.id)) out.push(k.id);
  return out;
}

/**
 * The IKE SA suite of a chosen proposal with the KE group actually used;
 * undefined when encryption or PRF is missing.
 */
export function ikeSuite(
  s: ChosenSuite,
  keId: number,
):
  | {
    encrId: number;
    prfId: number;
    keId: number;
    encrKeyBits?: number;
    integId?: number;
  }
  | undefined {
  if (!s.encrId || !s.prfId) return undefined;
  return {
    encrId: s.encrId,
    prfId: s.prfId,
    keId,
    ...(s.encrKeyBits ? { encrKeyBits: s.encrKeyBits } : {}),
    ...(s.integId ? { integId: s.integId } : {}),
  };
}
