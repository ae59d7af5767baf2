/**
 * The tasks' view of an IKE message (private to lib/ikev2/tasks and the
 * engine): header fields plus the payload list, where the payloads of an
 * SK payload are already decrypted and inlined. Small helpers pick payloads
 * out of it and print the one-line RFC notation strongSwan logs:
 * `IKE_AUTH request 1 [ IDi AUTH SA TSi TSr N(INIT_CONTACT) ]`.
 *
 * @module
 */
import { PayloadType } from "../constants.ts";
import type { AuthPayload } from "../payloads/auth.ts";
import type { CertPayload } from "../payloads/cert.ts";
import type { CertreqPayload } from "../payloads/certreq.ts";
import type { DeletePayload } from "../payloads/delete.ts";
import type { IdPayload } from "../payloads/id.ts";
import type { KePayload } from "../payloads/ke.ts";
import type { NoncePayload } from "../payloads/nonce.ts";
import type { NotifyPayload } from "../payloads/notify.ts";
import type { SaPayload } from "../payloads/sa.ts";
import type { TsPayload } from "../payloads/ts.ts";
import type { CpPayload } from "../payloads/cp.ts";
import type { VendorIdPayload } from "../payloads/vendor_id.ts";
import type { EapPayload } from "../payloads/eap.ts";
import { describeMessage as describeWire, type Payload } from "../message.ts";

/** Every payload a task may see or send (the codec's union). */
export type { Payload };

/** A message as the tasks see it. */
export interface IkeMessage {
  readonly spiI: bigint;
  readonly spiR: bigint;
  readonly exchange: number;
  readonly mid: number;
  readonly response: boolean;
  /** I flag (sent by the original initiator). */
  readonly initiator: boolean;
  /** Whether the payloads came inside SK (or SKF). */
  readonly encrypted: boolean;
  readonly payloads: readonly Payload[];
}

type ByType = {
  [PayloadType.SA]: SaPayload;
  [PayloadType.KE]: KePayload;
  [PayloadType.NONCE]: NoncePayload;
  [PayloadType.NOTIFY]: NotifyPayload;
  [PayloadType.IDi]: IdPayload;
  [PayloadType.IDr]: IdPayload;
  [PayloadType.AUTH]: AuthPayload;
  [PayloadType.CERT]: CertPayload;
  [PayloadType.CERTREQ]: CertreqPayload;
  [PayloadType.DELETE]: DeletePayload;
  [PayloadType.VENDOR_ID]: VendorIdPayload;
  [PayloadType.TSi]: TsPayload;
  [PayloadType.TSr]: TsPayload;
  [PayloadType.CP]: CpPayload;
  [PayloadType.EAP]: EapPayload;
};

/** The first payload of a type, or undefined. */
export function first<T extends keyof ByType>(
  m: { payloads: readonly Payload[] },
  type: T,
): ByType[T] | undefined {
  return m.payloads.find((p) => p.type === type) as ByType[T] | undefined;
}

/** All payloads of a type. */
export function all<T extends keyof ByType>(
  m: { payloads: readonly Payload[] },
  type: T,
): ByType[T][] {
  return m.payloads.filter((p) => p.type === type) as ByType[T][];
}

/** The first notify of a type, or undefined. */
export function notify(
  m: { payloads: readonly Payload[] },
  type: number,
): NotifyPayload | undefined {
  return all(m, PayloadType.NOTIFY).find((n) => n.notifyType === type);
}

/** The first error notify (type < 16384), or undefined. */
export function errorNotify(m: { payloads: readonly Payload[] }): NotifyPayload | undefined {
  return all(m, PayloadType.NOTIFY).find((n) => n.notifyType < 16384);
}

/** `IKE_AUTH request 1 [ IDi AUTH SA TSi TSr N(INIT_CONTACT) ]` (the codec's notation). */
export function describeMessage(m: IkeMessage): string {
  return describeWire(
    { exchangeType: m.exchange, response: m.response, messageId: m.mid },
    m.payloads,
  );
}
