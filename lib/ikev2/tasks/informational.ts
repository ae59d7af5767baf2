/**
 * INFORMATIONAL exchanges (RFC 7296 sections 1.4, 2.4): Delete of the IKE SA
 * or of child SAs, and liveness checks (DPD: an empty request the peer must
 * answer).
 *
 * ```
 *   Delete IKE SA:   HDR, SK { D(IKE) }          -->
 *                                                <--  HDR, SK { }
 *   Delete child:    HDR, SK { D(ESP, spi_in) }  -->
 *                                                <--  HDR, SK { D(ESP, peer's spi_in) }
 *   Liveness:        HDR, SK { }                 -->
 *                                                <--  HDR, SK { }
 * ```
 *
 * @example
 * ```ts
 * const req = buildDeleteChild(child);       // [D(ESP, child.spiIn)]
 * const r = processInformationalRequest(sa, msg);
 * if (r.deleteIke) destroy(sa);
 * for (const c of r.children) remove(c);
 * ```
 *
 * @module
 */
import type { ChildSa } from "../child_sa.ts";
import { NotifyType, PayloadType, ProtocolId } from "../constants.ts";
import type { IkeSa } from "../ike_sa.ts";
import type { DeletePayload } from "../payloads/delete.ts";
import { all, type IkeMessage, notify, type Payload } from "./_msg.ts";

function u32(spi: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, spi);
  return b;
}

function protocolId(c: ChildSa): number {
  return c.config.protocol === "ah" ? ProtocolId.AH : ProtocolId.ESP;
}

/** D(IKE). */
export function buildDeleteIke(): Payload[] {
  return [{ type: PayloadType.DELETE, protocolId: ProtocolId.IKE, spiSize: 0, spis: [] }];
}

/** D(ESP or AH, our inbound SPI) for a child SA. */
export function buildDeleteChild(c: ChildSa): Payload[] {
  return [{
    type: PayloadType.DELETE,
    protocolId: protocolId(c),
    spiSize: 4,
    spis: [u32(c.spiIn)],
  }];
}

/** What an INFORMATIONAL request asks of us. */
export interface InformationalResult {
  /** The peer deletes the IKE SA (or told us AUTHENTICATION_FAILED). */
  readonly deleteIke: boolean;
  /** Child SAs the peer deleted (matched by their outbound SPI, i.e. the peer's inbound). */
  readonly children: ChildSa[];
  /** SPIs named in Delete payloads that we do not know (ignored, RFC 7296 3.11). */
  readonly unknownSpis: number[];
  /** Our response payloads. */
  readonly payloads: Payload[];
  /** Why the IKE SA goes down, when it does. */
  readonly reason: string;
}

/**
 * Processes an INFORMATIONAL request. The response deletes our half of
 * every child the peer deleted (RFC 7296 section 1.4.1); a D(IKE) gets an
 * empty response. `lookup` holds the children the SPIs are looked up in (after an IKE
 * rekey, the children of the SA that replaced `sa`).
 */
export function processInformationalRequest(
  sa: IkeSa,
  req: IkeMessage,
  lookup: ReadonlyMap<number, ChildSa> = sa.children,
): InformationalResult {
  const dels = all(req, PayloadType.DELETE);
  if (dels.some((d) => d.protocolId === ProtocolId.IKE)) {
    return {
      deleteIke: true,
      children: [],
      unknownSpis: [],
      payloads: [],
      reason: "deleted by peer",
    };
  }
  if (notify(req, NotifyType.AUTHENTICATION_FAILED)) {
    return {
      deleteIke: true,
      children: [],
      unknownSpis: [],
      payloads: [],
      reason: "peer failed to authenticate us",
    };
  }
  const children: ChildSa[] = [];
  const unknownSpis: number[] = [];
  const out: DeletePayload[] = [];
  for (const d of dels) {
    if (d.protocolId !== ProtocolId.ESP && d.protocolId !== ProtocolId.AH) continue;
    const ours: Uint8Array[] = [];
    for (const s of d.spis) {
      const spi = new DataView(s.buffer, s.byteOffset, 4).getUint32(0);
      const c = [...lookup.values()].find((x) =>
        x.spiOut === spi && protocolId(x) === d.protocolId
      );
      if (!c) {
        unknownSpis.push(spi);
        continue;
      }
      children.push(c);
      ours.push(u32(c.spiIn));
    }
    if (ours.length) {
      out.push({ type: PayloadType.DELETE, protocolId: d.protocolId, spiSize: 4, spis: ours });
    }
  }
  return { deleteIke: false, children, unknownSpis, payloads: out, reason: "" };
}

/**
 * When the next liveness check is due: `dpdDelaySeconds` after the last
 * message from the peer; undefined when DPD is off.
 */
export function nextDpdAt(sa: IkeSa): number | undefined {
  const delay = sa.config.dpdDelaySeconds ?? 30;
  if (delay <= 0) return undefined;
  return sa.lastInbound + delay * 1000;
}
