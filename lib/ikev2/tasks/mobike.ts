/**
 * MOBIKE (RFC 4555): both ends announce N(MOBIKE_SUPPORTED) in IKE_AUTH
 * with their other addresses (ADDITIONAL_IP4/6_ADDRESS, or
 * NO_ADDITIONAL_ADDRESSES). Later the original initiator moves the IKE SA
 * and all its child SAs to a new address pair without renegotiating:
 *
 * ```
 *   Initiator (new address IP_I2)              Responder
 *   (IP_I2:4500 -> IP_R1:4500)
 *   HDR, SK { N(UPDATE_SA_ADDRESSES),
 *             N(NAT_DETECTION_SOURCE_IP),
 *             N(NAT_DETECTION_DESTINATION_IP),
 *             N(COOKIE2), [N(NO_NATS_ALLOWED)] }  -->
 *                                          checks NO_NATS_ALLOWED, NAT detection,
 *                                          moves the IKE SA and its SAs to IP_I2
 *                                     <--  (IP_R1:4500 -> IP_I2:4500)
 *                                          HDR, SK { N(NAT_DETECTION_SOURCE_IP),
 *                                                    N(NAT_DETECTION_DESTINATION_IP),
 *                                                    N(COOKIE2) }
 *   checks COOKIE2 (return routability), NAT detection, moves its SAs
 * ```
 *
 * With NO_NATS_ALLOWED (section 3.9) the request carries the addresses and
 * ports it was sent with; if they differ from what the responder sees, it
 * answers N(UNEXPECTED_NAT_DETECTED) and keeps the old addresses.
 *
 * @example
 * ```ts
 * const notifies = mobikeAuthNotifies(["192.0.2.1", "198.51.100.9"], "192.0.2.1");
 * const req = buildUpdateRequest(sa, cookie2, false); // after sa.local changed
 * const r = respondUpdate(sa, msg, from, to);        // responder
 * const o = processUpdateResponse(sa, res, cookie2); // initiator
 * ```
 *
 * @module
 */
import { formatIp, ipFromBytes, ipToBytes, parseIp } from "../../db/address.ts";
import { constantTimeEqual } from "../../wire/bytes.ts";
import { NotifyType, PayloadType } from "../constants.ts";
import type { Endpoint } from "../effects.ts";
import type { IkeSa } from "../ike_sa.ts";
import {
  decodeAdditionalAddress,
  decodeNoNatsAllowed,
  makeAdditionalAddress,
  makeNoNatsAllowed,
  makeNotify,
  NAT_DETECTION_DATA_LENGTH,
  type NotifyPayload,
} from "../payloads/notify.ts";
import { all, type IkeMessage, notify, type Payload } from "./_msg.ts";
import { buildNatd, checkNatd, natdHash } from "./natd.ts";

/** Bytes of the COOKIE2 we send (8..64 allowed, RFC 4555 section 3.8). */
export const COOKIE2_BYTES = 16;

function addressBytes(address: string): Uint8Array | undefined {
  const a = parseIp(address);
  return a ? ipToBytes(a) : undefined;
}

/**
 * N(MOBIKE_SUPPORTED) plus our other addresses for IKE_AUTH (RFC 4555
 * sections 3.3, 3.4): ADDITIONAL_IP4/6_ADDRESS for each of `addresses` but
 * `inUse`, or NO_ADDITIONAL_ADDRESSES when there is none.
 */
export function mobikeAuthNotifies(
  addresses: readonly string[],
  inUse: string,
): NotifyPayload[] {
  return [makeNotify(NotifyType.MOBIKE_SUPPORTED), ...addressNotifies(addresses, inUse)];
}

/** ADDITIONAL_IP4/6_ADDRESS for each of `addresses` but `inUse`, or NO_ADDITIONAL_ADDRESSES. */
export function addressNotifies(addresses: readonly string[], inUse: string): NotifyPayload[] {
  const out: NotifyPayload[] = [];
  const seen = new Set<string>([inUse]);
  for (const address of addresses) {
    if (seen.has(address)) continue;
    seen.add(address);
    const b = addressBytes(address);
    if (b) out.push(makeAdditionalAddress(b));
  }
  return out.length ? out : [makeNotify(NotifyType.NO_ADDITIONAL_ADDRESSES)];
}

/**
 * The peer's additional addresses from ADDITIONAL_IP4/6_ADDRESS notifies
 * ([] for NO_ADDITIONAL_ADDRESSES); undefined when the message has neither
 * (the list is unchanged). Malformed entries are skipped.
 */
export function readPeerAddresses(m: { payloads: readonly Payload[] }): string[] | undefined {
  const notifies = all(m, PayloadType.NOTIFY);
  const adds = notifies.filter((n) =>
    n.notifyType === NotifyType.ADDITIONAL_IP4_ADDRESS ||
    n.notifyType === NotifyType.ADDITIONAL_IP6_ADDRESS
  );
  const none = notifies.some((n) => n.notifyType === NotifyType.NO_ADDITIONAL_ADDRESSES);
  if (adds.length === 0 && !none) return undefined;
  const out: string[] = [];
  for (const n of adds) {
    try {
      out.push(formatIp(ipFromBytes(decodeAdditionalAddress(n))));
    } catch {
      // a malformed address is ignored, the others still count
    }
  }
  return out;
}

/**
 * The UPDATE_SA_ADDRESSES request for the SA's current (new) endpoints:
 * NAT detection hashes of them, COOKIE2 and, with `noNats`, NO_NATS_ALLOWED.
 */
export function buildUpdateRequest(sa: IkeSa, cookie2: Uint8Array, noNats: boolean): Payload[] {
  const out: Payload[] = [
    makeNotify(NotifyType.UPDATE_SA_ADDRESSES),
    ...buildNatd(sa.spiI, sa.spiR, sa.local, sa.remote),
    makeNotify(NotifyType.COOKIE2, cookie2),
  ];
  const src = addressBytes(sa.local.address);
  const dst = addressBytes(sa.remote.address);
  if (noNats && src && dst && src.length === dst.length) {
    out.push(makeNoNatsAllowed({
      source: src,
      destination: dst,
      sourcePort: sa.local.port,
      destinationPort: sa.remote.port,
    }));
  }
  return out;
}

/** What the responder does with an UPDATE_SA_ADDRESSES request ({@link respondUpdate}). */
export type UpdateResult =
  | {
    readonly ok: true;
    readonly natLocal: boolean;
    readonly natRemote: boolean;
    readonly payloads: Payload[];
  }
  | { readonly ok: false; readonly reason: string; readonly payloads: Payload[] };

/**
 * Responder side of UPDATE_SA_ADDRESSES that arrived `from` the peer `to`
 * us: NO_NATS_ALLOWED check, NAT detection for the new pair, the response
 * (NAT detection for the new pair and the echoed COOKIE2).
 */
export function respondUpdate(
  sa: IkeSa,
  req: IkeMessage,
  from: Endpoint,
  to: Endpoint,
): UpdateResult {
  const echo = cookie2Echo(req);
  const noNats = notify(req, NotifyType.NO_NATS_ALLOWED);
  if (noNats) {
    let sent;
    try {
      sent = decodeNoNatsAllowed(noNats);
    } catch (e) {
      return {
        ok: false,
        reason: `malformed NO_NATS_ALLOWED: ${(e as Error).message}`,
        payloads: [makeNotify(NotifyType.INVALID_SYNTAX)],
      };
    }
    const src = addressBytes(from.address);
    const dst = addressBytes(to.address);
    const same = src !== undefined && dst !== undefined &&
      src.length === sent.source.length && dst.length === sent.destination.length &&
      constantTimeEqual(src, sent.source) && constantTimeEqual(dst, sent.destination) &&
      sent.sourcePort === from.port && sent.destinationPort === to.port;
    if (!same) {
      return {
        ok: false,
        reason: "NO_NATS_ALLOWED but the addresses were translated",
        payloads: [makeNotify(NotifyType.UNEXPECTED_NAT_DETECTED), ...echo],
      };
    }
  }
  const nat = checkNatd(req.payloads, sa.spiI, sa.spiR, to, from);
  return {
    ok: true,
    natLocal: nat?.natLocal ?? false,
    natRemote: nat?.natRemote ?? false,
    payloads: [...buildNatd(sa.spiI, sa.spiR, to, from), ...echo],
  };
}

/**
 * Whether our liveness checks on `sa` carry NAT detection (RFC 4555 section
 * 3.8): MOBIKE, we are the original initiator (only it moves the SA) and
 * behind a NAT, whose mapping of us may change.
 */
export function probesNatMapping(sa: IkeSa): boolean {
  return sa.mobike && sa.originalInitiator && sa.natLocal;
}

/**
 * RFC 4555 section 3.8: an INFORMATIONAL request that carries
 * NAT_DETECTION_*_IP (a liveness check from an initiator behind a NAT) gets
 * NAT detection for the endpoints it arrived with (`from` the peer, `to`
 * us) in its response; a request without them gets none.
 */
export function natdEcho(
  sa: IkeSa,
  req: { payloads: readonly Payload[] },
  from: Endpoint,
  to: Endpoint,
): NotifyPayload[] {
  const asked = all(req, PayloadType.NOTIFY).some((n) =>
    n.notifyType === NotifyType.NAT_DETECTION_SOURCE_IP ||
    n.notifyType === NotifyType.NAT_DETECTION_DESTINATION_IP
  );
  return asked ? buildNatd(sa.spiI, sa.spiR, to, from) : [];
}

/**
 * What the peer saw as our endpoint, from its response's
 * NAT_DETECTION_DESTINATION_IP (the hash of the address and port it sent
 * to): "direct" when that is our own endpoint (no NAT in front of us),
 * else the hash itself, which changes when the NAT maps us anew
 * (RFC 4555 section 3.8); undefined when the response has none.
 */
export function seenMapping(sa: IkeSa, res: { payloads: readonly Payload[] }):
  | "direct"
  | Uint8Array
  | undefined {
  const dst = all(res, PayloadType.NOTIFY).filter((n) =>
    n.notifyType === NotifyType.NAT_DETECTION_DESTINATION_IP &&
    n.data.length === NAT_DETECTION_DATA_LENGTH
  );
  if (dst.length === 0) return undefined;
  const own = natdHash(sa.spiI, sa.spiR, sa.local);
  if (dst.some((n) => constantTimeEqual(n.data, own))) return "direct";
  return dst[0].data.slice();
}

/** N(COOKIE2) copied from a request, to put in its response (RFC 4555 section 3.8). */
export function cookie2Echo(req: { payloads: readonly Payload[] }): NotifyPayload[] {
  const c = notify(req, NotifyType.COOKIE2);
  return c ? [makeNotify(NotifyType.COOKIE2, c.data)] : [];
}

/** Outcome of {@link processUpdateResponse}. */
export type UpdateOutcome =
  | { readonly ok: true; readonly natLocal: boolean; readonly natRemote: boolean }
  | { readonly ok: false; readonly reason: string };

/**
 * Initiator side: the response must echo our COOKIE2 (return routability)
 * and carries the responder's NAT detection for the new pair.
 */
export function processUpdateResponse(
  sa: IkeSa,
  res: IkeMessage,
  cookie2: Uint8Array,
): UpdateOutcome {
  if (notify(res, NotifyType.UNEXPECTED_NAT_DETECTED)) {
    return { ok: false, reason: "peer reports UNEXPECTED_NAT_DETECTED (NO_NATS_ALLOWED)" };
  }
  const err = all(res, PayloadType.NOTIFY).find((n) => n.notifyType < 16384);
  if (err) return { ok: false, reason: `peer refused the address update (${err.notifyType})` };
  const c = notify(res, NotifyType.COOKIE2);
  if (!c || c.data.length !== cookie2.length || !constantTimeEqual(c.data, cookie2)) {
    return { ok: false, reason: "COOKIE2 missing or wrong in the response" };
  }
  const nat = checkNatd(res.payloads, sa.spiI, sa.spiR, sa.local, sa.remote);
  return { ok: true, natLocal: nat?.natLocal ?? false, natRemote: nat?.natRemote ?? false };
}
