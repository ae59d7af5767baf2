/**
 * NAT detection (RFC 7296 section 2.23): each side sends
 * NAT_DETECTION_SOURCE_IP = SHA-1(SPIi | SPIr | source IP | source port) and
 * NAT_DETECTION_DESTINATION_IP = SHA-1(SPIi | SPIr | dest IP | dest port) in
 * IKE_SA_INIT. The receiver recomputes both from the addresses it sees:
 *
 * ```
 *   no NATD_S_IP matches hash(packet source)   ─► the peer is behind a NAT
 *   NATD_D_IP != hash(packet destination)      ─► we are behind a NAT
 * ```
 *
 * @example
 * ```ts
 * const out = buildNatd(spiI, 0n, local, remote); // [N(NATD_S_IP), N(NATD_D_IP)]
 * const r = checkNatd(response, spiI, spiR, local, remote); // { natLocal, natRemote }
 * ```
 *
 * @module
 */
import { sha1 } from "@noble/hashes/legacy.js";
import { ipToBytes, parseIp } from "../../db/address.ts";
import { constantTimeEqual } from "../../wire/bytes.ts";
import { NotifyType } from "../constants.ts";
import type { Endpoint } from "../effects.ts";
import {
  makeNotify,
  NAT_DETECTION_DATA_LENGTH,
  natDetectionInput,
  type NotifyPayload,
} from "../payloads/notify.ts";
import { all, type Payload } from "./_msg.ts";

/** The IKE port after a NAT is detected (RFC 7296 section 2.23, RFC 3948). */
export const NATT_PORT = 4500;

/** SHA-1(SPIi | SPIr | IP | port), the NAT_DETECTION_* data for one endpoint. */
export function natdHash(spiI: bigint, spiR: bigint, ep: Endpoint): Uint8Array {
  const a = parseIp(ep.address);
  if (!a) throw new RangeError(`not an IP address: '${ep.address}'`);
  return sha1(natDetectionInput(spiI, spiR, ipToBytes(a), ep.port));
}

/**
 * N(NAT_DETECTION_SOURCE_IP) for `local` and N(NAT_DETECTION_DESTINATION_IP)
 * for `remote`. With `fakeNat` (forced encapsulation) the source hash is
 * random, so the peer believes we are behind a NAT (as strongSwan does).
 */
export function buildNatd(
  spiI: bigint,
  spiR: bigint,
  local: Endpoint,
  remote: Endpoint,
  fakeNat?: (n: number) => Uint8Array,
): NotifyPayload[] {
  const src = fakeNat ? fakeNat(NAT_DETECTION_DATA_LENGTH) : natdHash(spiI, spiR, local);
  return [
    makeNotify(NotifyType.NAT_DETECTION_SOURCE_IP, src),
    makeNotify(NotifyType.NAT_DETECTION_DESTINATION_IP, natdHash(spiI, spiR, remote)),
  ];
}

/** Result of {@link checkNatd}. */
export interface NatdResult {
  /** We are behind a NAT (the peer saw another address/port for us). */
  readonly natLocal: boolean;
  /** The peer is behind a NAT. */
  readonly natRemote: boolean;
}

/**
 * Checks the NATD notifies of a received IKE_SA_INIT message against the
 * addresses it arrived with (`local` = where it arrived, `remote` = where it
 * came from). Undefined when the peer sent none (NAT-T not supported).
 */
export function checkNatd(
  payloads: readonly Payload[],
  spiI: bigint,
  spiR: bigint,
  local: Endpoint,
  remote: Endpoint,
): NatdResult | undefined {
  const notifies = all({ payloads }, 41);
  const src = notifies.filter((n) => n.notifyType === NotifyType.NAT_DETECTION_SOURCE_IP);
  const dst = notifies.filter((n) => n.notifyType === NotifyType.NAT_DETECTION_DESTINATION_IP);
  if (src.length === 0 || dst.length === 0) return undefined;
  const ok = (n: NotifyPayload, h: Uint8Array) =>
    n.data.length === NAT_DETECTION_DATA_LENGTH && constantTimeEqual(n.data, h);
  const remoteHash = natdHash(spiI, spiR, remote);
  const localHash = natdHash(spiI, spiR, local);
  return {
    natRemote: !src.some((n) => ok(n, remoteHash)),
    natLocal: !dst.some((n) => ok(n, localHash)),
  };
}
