/**
 * Creating a child SA (RFC 7296 sections 1.3, 2.9, 2.17), here the first one
 * that rides in IKE_AUTH: SA proposals with our inbound SPI, TSi/TSr with
 * narrowing on the responder, USE_TRANSPORT_MODE,
 * ESP_TFC_PADDING_NOT_SUPPORTED and IPCOMP_SUPPORTED (section 2.22: each side
 * names the CPI it receives on, DEFLATE only), and KEYMAT for both
 * directions.
 *
 * ```
 *   Initiator                               Responder
 *   ... SAi2, TSi, TSr, [N(USE_TRANSP)]  -->  select proposal, narrow TS
 *                                       <--  ... SAr2, TSi', TSr', [N(USE_TRANSP)]
 *                                       <--  ... N(NO_PROP) | N(TS_UNACCEPT)
 *                                            (the IKE SA still comes up)
 * ```
 *
 * @example
 * ```ts
 * const child = newChild(sa, sa.config.children[0], ctx, nextId);
 * const payloads = buildChildRequest(sa, child);            // initiator
 * const r = respondChild(sa, request, ctx, nextId);         // responder
 * processChildResponse(sa, child, response);                // initiator
 * ```
 *
 * @module
 */
import { deriveChildSaKeys } from "../../crypto/keys.ts";
import {
  intersectTs,
  narrowTrafficSelectors,
  type TrafficSelector,
  tsContains,
  tsEquals,
} from "../../db/narrow.ts";
import { ChildSa } from "../child_sa.ts";
import { constrainPeerTs, peerTsAllowed } from "../../db/pad.ts";
import { notifyName, NotifyType, PayloadType, ProtocolId } from "../constants.ts";
import type { IkeSa } from "../ike_sa.ts";
import { decodeInvalidKe, makeInvalidKe, makeNotify } from "../payloads/notify.ts";
import type { KePayload } from "../payloads/ke.ts";
import { formatTs } from "../../db/narrow.ts";
import { MAX_NONCE_LENGTH, MIN_NONCE_LENGTH } from "../payloads/nonce.ts";
import { CONFIGURED_GROUP, createKeyExchange } from "../../crypto/key_exchange.ts";
import type { KeyExchange } from "../../crypto/types.ts";
import type { Proposal as WireProposal } from "../payloads/sa.ts";
import type { ChildConfig } from "../peer_config.ts";
import { all, first, type IkeMessage, notify, type Payload } from "./_msg.ts";
import { IPCOMP_DEFLATE, randomCpi } from "../../ip/ipcomp.ts";
import { parseTsSpecsDynamic } from "./_ts.ts";
import { vipFamily } from "./config_payload.ts";
import {
  checkAnswer,
  describeOffer,
  selectProposal,
  suiteFromChoice,
  toWireProposals,
} from "./proposal_select.ts";
import type { TaskContext } from "./task_context.ts";

/** Nonce length for CREATE_CHILD_SA (as in IKE_SA_INIT). */
export const NONCE_BYTES = 32;

/** A fresh random inbound SPI (never below 256, which RFC 4303 reserves). */
export function randomSpi(random: (n: number) => Uint8Array): number {
  for (;;) {
    const b = random(4);
    const v = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
    if (v >= 256) return v;
  }
}

function spiBytes(spi: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, spi);
  return b;
}

/** Our configured selectors, "dynamic" resolved to the IKE addresses. */
export function configuredTs(
  sa: IkeSa,
  c: ChildConfig,
): { local: TrafficSelector[]; remote: TrafficSelector[] } {
  return {
    // With virtual IPs, "dynamic" is each assigned address (or any of each
    // requested family until we have them).
    local: parseTsSpecsDynamic(
      c.localTs,
      sa.vips.length
        ? sa.vips
        : sa.vip
        ? [sa.vip]
        : sa.config.vips?.length
        ? [...new Set(sa.config.vips.map((v) => vipFamily(v) === 6 ? "::/0" : "0.0.0.0/0"))]
        : [sa.local.address],
    ),
    remote: parseTsSpecsDynamic(
      c.remoteTs,
      sa.peerVips.length
        ? sa.peerVips.map((v) => v.address)
        : [sa.peerVip?.address ?? sa.remote.address],
    ),
  };
}

/**
 * A new child SA in state "creating" with a random inbound SPI, and a random
 * inbound CPI when its config wants IPComp (kept only if negotiated).
 */
export function newChild(sa: IkeSa, c: ChildConfig, ctx: TaskContext, id: number): ChildSa {
  const child = new ChildSa({
    id,
    ikeSaId: sa.id,
    config: c,
    connectionName: sa.config.name,
    spiIn: randomSpi(ctx.random),
  });
  if (c.ipcomp) child.cpiIn = randomCpi(ctx.random);
  return child;
}

/** N(IPCOMP_SUPPORTED) naming `cpi` and DEFLATE (RFC 7296 section 3.10.1). */
function ipcompNotify(cpi: number): Payload {
  return makeNotify(
    NotifyType.IPCOMP_SUPPORTED,
    Uint8Array.of(cpi >> 8, cpi & 0xff, IPCOMP_DEFLATE),
  );
}

/**
 * The CPI of the first IPCOMP_SUPPORTED notify of `m` that names DEFLATE, or
 * 0 (none, or only transforms we lack: LZS, LZJH, OUI).
 */
function deflateCpi(m: IkeMessage): number {
  for (const n of all(m, PayloadType.NOTIFY)) {
    if (n.notifyType !== NotifyType.IPCOMP_SUPPORTED || n.data.length < 3) continue;
    const cpi = (n.data[0] << 8) | n.data[1];
    if (n.data[2] === IPCOMP_DEFLATE && cpi !== 0) return cpi;
  }
  return 0;
}

/**
 * Initiator: SA, TSi, TSr and the mode/TFC notifies for `child`. For
 * CREATE_CHILD_SA pass `create`: the nonce (and the KE for PFS) go after SA,
 * and a rekey adds N(REKEY_SA) naming the old SA's inbound SPI. A rekey
 * reuses the old child's narrowed selectors.
 */
export function buildChildRequest(
  sa: IkeSa,
  child: ChildSa,
  create?: { nonce: Uint8Array; ke?: KePayload; rekeyOf?: ChildSa },
): Payload[] {
  const c = child.config;
  const old = create?.rekeyOf;
  const ts = old ? { local: old.localTs, remote: old.remoteTs } : configuredTs(sa, c);
  child.offer = toWireProposals(c.proposals, {
    spi: spiBytes(child.spiIn),
    withoutKe: !create?.ke,
    ...(create?.ke ? { preferKe: create.ke.group } : {}),
  });
  const out: Payload[] = [];
  if (old) {
    const p = old.config.protocol === "ah" ? ProtocolId.AH : ProtocolId.ESP;
    out.push(makeNotify(NotifyType.REKEY_SA, new Uint8Array(0), p, spiBytes(old.spiIn)));
  }
  if (c.mode === "transport") out.push(makeNotify(NotifyType.USE_TRANSPORT_MODE));
  if (c.noTfcPadding) out.push(makeNotify(NotifyType.ESP_TFC_PADDING_NOT_SUPPORTED));
  if (child.cpiIn !== 0) out.push(ipcompNotify(child.cpiIn));
  out.push({ type: PayloadType.SA, proposals: child.offer });
  if (create) {
    out.push({ type: PayloadType.NONCE, data: create.nonce });
    if (create.ke) out.push(create.ke);
  }
  out.push(
    { type: PayloadType.TSi, selectors: ts.local },
    { type: PayloadType.TSr, selectors: ts.remote },
  );
  return out;
}

function protocolOf(p: WireProposal): "esp" | "ah" | undefined {
  return p.protocolId === ProtocolId.ESP
    ? "esp"
    : p.protocolId === ProtocolId.AH
    ? "ah"
    : undefined;
}

/**
 * The keying context of the exchange that creates a child: its nonces,
 * whether we initiated it, and g^ir of a PFS key exchange. IKE_AUTH uses the
 * IKE_SA_INIT nonces (RFC 7296 section 2.17).
 */
export interface ChildExchange {
  readonly ni: Uint8Array;
  readonly nr: Uint8Array;
  readonly weInitiated: boolean;
  readonly sharedSecret?: Uint8Array;
}

function ikeAuthExchange(sa: IkeSa): ChildExchange {
  if (!sa.nonceI || !sa.nonceR) throw new Error("cannot key child SA: IKE SA state incomplete");
  return { ni: sa.nonceI, nr: sa.nonceR, weInitiated: sa.initiator };
}

/** Sets suite and keys of a child from the chosen proposal (RFC 7296 section 2.17). */
export function keyChild(
  sa: IkeSa,
  child: ChildSa,
  chosen: WireProposal,
  x: ChildExchange = ikeAuthExchange(sa),
): void {
  const s = suiteFromChoice(chosen);
  const protocol = protocolOf(chosen);
  if (!protocol || !sa.keys || !sa.suite) {
    throw new Error("cannot key child SA: IKE SA state incomplete");
  }
  child.suite = {
    protocol,
    esn: s.esn,
    ...(s.encrId !== undefined ? { encrId: s.encrId } : {}),
    ...(s.encrKeyBits ? { encrKeyBits: s.encrKeyBits } : {}),
    ...(s.integId ? { integId: s.integId } : {}),
  };
  const k = deriveChildSaKeys({
    prfId: sa.suite.prfId,
    skD: sa.keys.skD,
    ...(protocol === "esp"
      ? {
        suite: {
          prfId: sa.suite.prfId,
          encrId: s.encrId ?? 0,
          ...(s.encrKeyBits ? { encrKeyBits: s.encrKeyBits } : {}),
          ...(s.integId ? { integId: s.integId } : {}),
        },
      }
      : { ahIntegId: s.integId ?? 0 }),
    ni: x.ni,
    nr: x.nr,
    ...(x.sharedSecret ? { sharedSecret: x.sharedSecret } : {}),
  });
  // Our outbound direction is initiator->responder when we initiated the
  // exchange that created the child.
  const w = x.weInitiated;
  child.encrOut = w ? k.encrI : k.encrR;
  child.integOut = w ? k.integI : k.integR;
  child.encrIn = w ? k.encrR : k.encrI;
  child.integIn = w ? k.integR : k.integI;
  child.nonces = { ni: x.ni, nr: x.nr };
}

/** Responder's decision on a child SA request. */
export type ChildResponse =
  | {
    readonly ok: true;
    readonly child: ChildSa;
    readonly payloads: Payload[];
    /** The child this one replaces (CREATE_CHILD_SA with REKEY_SA). */
    readonly rekeyOf?: ChildSa;
  }
  | {
    readonly ok: false;
    readonly notify: number;
    readonly reason: string;
    readonly payloads: Payload[];
  };

function u32(b: Uint8Array): number {
  return new DataView(b.buffer, b.byteOffset, 4).getUint32(0);
}

/**
 * How well proposed selectors fit configured ones (per side, the best pair):
 * 3 equal, 2 the proposal lies within the config, 1 they overlap, 0 disjoint.
 */
function tsFit(
  proposed: readonly TrafficSelector[],
  configured: readonly TrafficSelector[],
): number {
  let best = 0;
  for (const p of proposed) {
    for (const c of configured) {
      const fit = tsEquals(p, c) ? 3 : tsContains(c, p) ? 2 : intersectTs(p, c) ? 1 : 0;
      best = Math.max(best, fit);
    }
  }
  return best;
}

/**
 * The responder's child configs, best selector match first (stable: the
 * configured order breaks ties), as strongSwan's `select_child_cfg` does: a
 * request that is exactly one child's selectors must get that child even if
 * an earlier, wider child would also take it.
 */
export function rankByTsMatch(
  sa: IkeSa,
  configs: readonly ChildConfig[],
  tsi: readonly TrafficSelector[],
  tsr: readonly TrafficSelector[],
): ChildConfig[] {
  if (configs.length < 2) return [...configs];
  const scored = configs.map((c, i) => {
    const ts = configuredTs(sa, c);
    return { c, i, score: tsFit(tsi, ts.remote) + tsFit(tsr, ts.local) };
  });
  scored.sort((a, b) => b.score - a.score || a.i - b.i);
  return scored.map((x) => x.c);
}

/**
 * Why the peer's SPI cannot key an outbound SA of ours, if it cannot: 0 and
 * 1-255 are reserved (RFC 4303 section 2.1), and an SPI another child SA of
 * this IKE SA already sends with would make two outbound SAs one (the SAD
 * finds them by SPI: deleting either would take the other's away).
 */
function peerSpiProblem(sa: IkeSa, spi: number, self?: ChildSa): string | undefined {
  const hex = spi.toString(16).padStart(8, "0");
  if (spi < 256) return `the peer's SPI ${hex} is reserved (RFC 4303 section 2.1)`;
  for (const c of sa.children.values()) {
    if (c !== self && c.spiOut === spi) {
      return `the peer's SPI ${hex} is already that of child SA ${c.config.name}[${c.id}]`;
    }
  }
  return undefined;
}

/**
 * Responder: picks a child config whose selectors narrow the request and
 * whose proposals match, keys the child and answers. Failures answer with
 * TS_UNACCEPTABLE, NO_PROPOSAL_CHOSEN, INVALID_KE_PAYLOAD or
 * CHILD_SA_NOT_FOUND and leave the IKE SA alone. `create` is set for
 * CREATE_CHILD_SA (nonces, optional PFS KE, REKEY_SA); without it the
 * child rides in IKE_AUTH.
 */
export function respondChild(
  sa: IkeSa,
  req: IkeMessage,
  ctx: TaskContext,
  id: number,
  create = false,
): ChildResponse {
  const saP = first(req, PayloadType.SA);
  const tsi = first(req, PayloadType.TSi);
  const tsr = first(req, PayloadType.TSr);
  const failWith = (type: number, reason: string, p?: Payload): ChildResponse => ({
    ok: false,
    notify: type,
    reason,
    payloads: [p ?? makeNotify(type)],
  });
  if (!saP || !tsi || !tsr) {
    return failWith(NotifyType.INVALID_SYNTAX, "child SA request without SA, TSi or TSr");
  }
  let configs = sa.config.children;
  let rekeyOf: ChildSa | undefined;
  let ni: Uint8Array | undefined;
  if (create) {
    ni = first(req, PayloadType.NONCE)?.data;
    if (!ni || ni.length < MIN_NONCE_LENGTH || ni.length > MAX_NONCE_LENGTH) {
      return failWith(NotifyType.INVALID_SYNTAX, "CREATE_CHILD_SA without a valid nonce");
    }
    const rk = notify(req, NotifyType.REKEY_SA);
    if (rk) {
      const spi = rk.spi.length === 4 ? u32(rk.spi) : -1;
      rekeyOf = [...sa.children.values()].find((c) =>
        c.spiOut === spi && (c.state === "installed" || c.state === "rekeying") &&
        (c.config.protocol === "ah" ? ProtocolId.AH : ProtocolId.ESP) === rk.protocolId
      );
      if (!rekeyOf) {
        const n = makeNotify(
          NotifyType.CHILD_SA_NOT_FOUND,
          new Uint8Array(0),
          rk.protocolId,
          rk.spi,
        );
        return failWith(NotifyType.CHILD_SA_NOT_FOUND, `rekey of unknown SPI ${spi}`, n);
      }
      configs = [rekeyOf.config];
    }
  }
  const wantTransport = notify(req, NotifyType.USE_TRANSPORT_MODE) !== undefined;
  let tsProblem = false;
  let tsOk = false;
  // PAD child SA constraints: the peer may only claim its allowed selectors (its side = TSi).
  const peerTs = sa.padEntry ? constrainPeerTs(sa.padEntry, tsi.selectors) : tsi.selectors;
  for (const c of rankByTsMatch(sa, configs, peerTs, tsr.selectors)) {
    const ts = configuredTs(sa, c);
    const n = narrowTrafficSelectors(peerTs, tsr.selectors, {
      tsi: ts.remote,
      tsr: ts.local,
    });
    if (n === "TS_UNACCEPTABLE") {
      tsProblem = true;
      continue;
    }
    tsOk = true;
    const choice = selectProposal(saP.proposals, c.proposals, { ignoreKe: !create });
    if (!choice || choice.chosen.spi.length !== 4) continue;
    const spiProblem = peerSpiProblem(sa, u32(choice.chosen.spi));
    if (spiProblem) return failWith(NotifyType.NO_PROPOSAL_CHOSEN, spiProblem);
    const group = choice.chosen.transforms.find((t) => t.type === 4)?.id;
    let sharedSecret: Uint8Array | undefined;
    let keOut: KePayload | undefined;
    if (create && group !== undefined && group !== 0) {
      const ke = first(req, PayloadType.KE);
      if (!ke || ke.group !== group) {
        return failWith(
          NotifyType.INVALID_KE_PAYLOAD,
          `child KE group ${ke?.group ?? "none"}, requesting ${group}`,
          makeInvalidKe(group),
        );
      }
      try {
        const kex = createKeyExchange(group, ctx.random, CONFIGURED_GROUP);
        sharedSecret = kex.computeSharedSecret(ke.data);
        keOut = { type: PayloadType.KE, group, data: kex.publicKey };
      } catch (e) {
        return failWith(NotifyType.INVALID_SYNTAX, `child key exchange: ${(e as Error).message}`);
      }
    }
    const child = newChild(sa, c, ctx, id);
    child.spiOut = u32(choice.chosen.spi);
    child.mode = wantTransport && c.mode === "transport" ? "transport" : "tunnel";
    child.localTs = n.tsr;
    child.remoteTs = n.tsi;
    child.peerNoTfc = notify(req, NotifyType.ESP_TFC_PADDING_NOT_SUPPORTED) !== undefined;
    // IPComp when both want it; a peer's offer we do not take is ignored (section 2.22).
    child.cpiOut = child.cpiIn !== 0 ? deflateCpi(req) : 0;
    if (child.cpiOut === 0) child.cpiIn = 0;
    const nr = create ? ctx.random(NONCE_BYTES) : undefined;
    keyChild(
      sa,
      child,
      choice.chosen,
      create ? { ni: ni!, nr: nr!, weInitiated: false, sharedSecret } : undefined,
    );
    const answer: WireProposal = { ...choice.chosen, spi: spiBytes(child.spiIn) };
    const out: Payload[] = [];
    if (child.mode === "transport") out.push(makeNotify(NotifyType.USE_TRANSPORT_MODE));
    if (c.noTfcPadding) out.push(makeNotify(NotifyType.ESP_TFC_PADDING_NOT_SUPPORTED));
    if (child.cpiIn !== 0) out.push(ipcompNotify(child.cpiIn));
    if (n.additionalTsPossible) out.push(makeNotify(NotifyType.ADDITIONAL_TS_POSSIBLE));
    out.push({ type: PayloadType.SA, proposals: [answer] });
    if (nr) out.push({ type: PayloadType.NONCE, data: nr });
    if (keOut) out.push(keOut);
    out.push(
      { type: PayloadType.TSi, selectors: n.tsi },
      { type: PayloadType.TSr, selectors: n.tsr },
    );
    ctx.log("debug", `${sa.label}: child ${c.name} accepted`);
    return rekeyOf
      ? { ok: true, child, payloads: out, rekeyOf }
      : { ok: true, child, payloads: out };
  }
  return tsProblem && !tsOk
    ? failWith(
      NotifyType.TS_UNACCEPTABLE,
      `traffic selectors ${peerTs.map(formatTs).join(" ")} === ${
        tsr.selectors.map(formatTs).join(" ")
      } unacceptable; configured ${
        configs.map((c) => `${c.remoteTs.join(" ")} === ${c.localTs.join(" ")}`).join(", ")
      }`,
    )
    : failWith(
      NotifyType.NO_PROPOSAL_CHOSEN,
      `no acceptable child SA proposal: received ${describeOffer(saP.proposals)}; configured ${
        describeOffer(configs.flatMap((c) => c.proposals))
      }`,
    );
}

/** Initiator: result of the child part of a response. */
export type ChildOutcome =
  | { readonly ok: true }
  | {
    readonly ok: false;
    readonly reason: string;
    readonly notify?: number;
    /** INVALID_KE_PAYLOAD: the group the peer wants for PFS. */
    readonly retryGroup?: number;
  };

const CHILD_ERRORS = [
  NotifyType.NO_PROPOSAL_CHOSEN,
  NotifyType.TS_UNACCEPTABLE,
  NotifyType.SINGLE_PAIR_REQUIRED,
  NotifyType.INTERNAL_ADDRESS_FAILURE,
  NotifyType.FAILED_CP_REQUIRED,
  NotifyType.INVALID_SELECTORS,
  NotifyType.NO_ADDITIONAL_SAS,
  NotifyType.TEMPORARY_FAILURE,
  NotifyType.CHILD_SA_NOT_FOUND,
  NotifyType.INVALID_SYNTAX,
];

/**
 * Initiator: processes the child part of the response: an error notify
 * fails the child only; otherwise the answer must be one of our proposals
 * and the selectors a subset of what we asked for. For CREATE_CHILD_SA pass
 * `create` with our nonce and PFS key exchange.
 */
export function processChildResponse(
  sa: IkeSa,
  child: ChildSa,
  res: IkeMessage,
  create?: { nonce: Uint8Array; kex?: KeyExchange; rekeyOf?: ChildSa },
): ChildOutcome {
  const invalidKe = notify(res, NotifyType.INVALID_KE_PAYLOAD);
  if (invalidKe) {
    try {
      return {
        ok: false,
        reason: "peer wants another PFS group",
        notify: NotifyType.INVALID_KE_PAYLOAD,
        retryGroup: decodeInvalidKe(invalidKe),
      };
    } catch {
      return { ok: false, reason: "malformed INVALID_KE_PAYLOAD" };
    }
  }
  for (const t of CHILD_ERRORS) {
    if (notify(res, t)) {
      return { ok: false, reason: `peer refused the child SA: ${notifyName(t)}`, notify: t };
    }
  }
  const saP = first(res, PayloadType.SA);
  const tsi = first(res, PayloadType.TSi);
  const tsr = first(res, PayloadType.TSr);
  if (!saP || !tsi || !tsr || !child.offer) {
    return { ok: false, reason: "response without SA, TSi or TSr" };
  }
  const answer = checkAnswer(child.offer, saP.proposals);
  if (!answer || answer.spi.length !== 4) {
    return { ok: false, reason: "peer chose a child proposal we did not offer" };
  }
  const spiProblem = peerSpiProblem(sa, u32(answer.spi), child);
  if (spiProblem) return { ok: false, reason: spiProblem };
  const old = create?.rekeyOf;
  const ts = old ? { local: old.localTs, remote: old.remoteTs } : configuredTs(sa, child.config);
  const within = (got: readonly TrafficSelector[], asked: readonly TrafficSelector[]) =>
    got.length > 0 && got.every((g) => asked.some((a) => tsContains(a, g)));
  if (!within(tsi.selectors, ts.local) || !within(tsr.selectors, ts.remote)) {
    return { ok: false, reason: "peer's traffic selectors are not a subset of ours" };
  }
  if (sa.padEntry && !peerTsAllowed(sa.padEntry, tsr.selectors)) {
    return { ok: false, reason: "peer's traffic selectors exceed its PAD entry" };
  }
  const transport = notify(res, NotifyType.USE_TRANSPORT_MODE) !== undefined;
  if (child.config.mode === "transport" && !transport) {
    return { ok: false, reason: "peer refused transport mode" };
  }
  let x: ChildExchange | undefined;
  if (create) {
    const nr = first(res, PayloadType.NONCE)?.data;
    if (!nr || nr.length < MIN_NONCE_LENGTH || nr.length > MAX_NONCE_LENGTH) {
      return { ok: false, reason: "CREATE_CHILD_SA response without a valid nonce" };
    }
    let sharedSecret: Uint8Array | undefined;
    const group = answer.transforms.find((t) => t.type === 4)?.id;
    if (create.kex && group) {
      const ke = first(res, PayloadType.KE);
      if (!ke || ke.group !== create.kex.group || group !== create.kex.group) {
        return { ok: false, reason: "PFS key exchange missing or of another group" };
      }
      try {
        sharedSecret = create.kex.computeSharedSecret(ke.data);
      } catch (e) {
        return { ok: false, reason: `PFS key exchange failed: ${(e as Error).message}` };
      }
    }
    x = { ni: create.nonce, nr, weInitiated: true, sharedSecret };
  }
  child.mode = transport ? "transport" : "tunnel";
  child.spiOut = u32(answer.spi);
  child.localTs = tsi.selectors;
  child.remoteTs = tsr.selectors;
  child.peerNoTfc = notify(res, NotifyType.ESP_TFC_PADDING_NOT_SUPPORTED) !== undefined;
  // IPComp only if we offered it and the peer answered with DEFLATE and its CPI.
  child.cpiOut = child.cpiIn !== 0 ? deflateCpi(res) : 0;
  if (child.cpiOut === 0) child.cpiIn = 0;
  keyChild(sa, child, answer, x);
  return { ok: true };
}
