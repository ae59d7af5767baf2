/**
 * EAP-TTLS (RFC 5281): the Diameter-style AVPs carried as TLS application
 * data once the tunnel is up, of which EAP-TTLS here uses EAP-Message (79):
 * the inner EAP method (EAP-MSCHAPv2 or EAP-MD5) runs through it. The
 * outer framing (flags, fragments, acknowledgements) is EAP-TLS's
 * (lib/eap/eap_tls.ts), with version 0 in the low flag bits.
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                           AVP Code                            |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |V M r r r r r r|                  AVP Length                   |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                        Vendor-ID (if V)                       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |    Data ... (padded with zeros to a multiple of 4 octets)
 * ```
 *
 * @module
 */
import { EapError } from "./eap_message.ts";
import { concat } from "../wire/bytes.ts";

/** The EAP-Message AVP (RADIUS attribute 79). */
export const AVP_EAP_MESSAGE = 79;
/** AVP flags. */
export const AvpFlag = { Vendor: 0x80, Mandatory: 0x40 } as const;
/** EAP-TTLS's MSK derivation label (RFC 5281 section 8). */
export const TTLS_KEY_LABEL = "ttls keying material";

/** One AVP. */
export interface Avp {
  readonly code: number;
  readonly flags: number;
  readonly vendorId?: number;
  readonly data: Uint8Array;
}

/**
 * Encodes AVPs, each padded to a multiple of 4 bytes (the padding is not
 * part of its length).
 *
 * @example
 * ```ts
 * encodeAvps([{ code: 79, flags: AvpFlag.Mandatory, data: eap }]);
 * ```
 */
export function encodeAvps(avps: readonly Avp[]): Uint8Array {
  const sizes = avps.map((a) => 8 + (a.flags & AvpFlag.Vendor ? 4 : 0) + a.data.length);
  const out = new Uint8Array(sizes.reduce((n, s) => n + ((s + 3) & ~3), 0));
  const v = new DataView(out.buffer);
  let off = 0;
  avps.forEach((a, i) => {
    v.setUint32(off, a.code);
    v.setUint32(off + 4, sizes[i]);
    out[off + 4] = a.flags;
    let p = off + 8;
    if (a.flags & AvpFlag.Vendor) {
      v.setUint32(p, a.vendorId ?? 0);
      p += 4;
    }
    out.set(a.data, p);
    off += (sizes[i] + 3) & ~3;
  });
  return out;
}

/**
 * Decodes the AVPs of one TLS application data message.
 *
 * @throws {EapError} when an AVP's length runs past the data or is too
 * short for its header.
 */
export function decodeAvps(bytes: Uint8Array): Avp[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const out: Avp[] = [];
  let off = 0;
  while (off < bytes.length) {
    if (bytes.length - off < 8) throw new EapError("EAP-TTLS AVP", off, "truncated header");
    const code = v.getUint32(off);
    const flags = bytes[off + 4];
    const len = v.getUint32(off + 4) & 0xffffff;
    const head = flags & AvpFlag.Vendor ? 12 : 8;
    if (len < head || off + len > bytes.length) {
      throw new EapError("EAP-TTLS AVP", off + 5, `AVP length ${len} does not fit`);
    }
    out.push({
      code,
      flags,
      ...(flags & AvpFlag.Vendor ? { vendorId: v.getUint32(off + 8) } : {}),
      data: bytes.slice(off + head, off + len),
    });
    off += (len + 3) & ~3;
  }
  return out;
}

/** The AVP data carrying one EAP message. */
export function eapMessageAvps(eap: Uint8Array): Uint8Array {
  return encodeAvps([{ code: AVP_EAP_MESSAGE, flags: AvpFlag.Mandatory, data: eap }]);
}

/**
 * The EAP message in tunneled AVPs (EAP-Message AVPs concatenated), or
 * undefined without one.
 *
 * @throws {EapError} on a mandatory AVP we do not know (RFC 5281 section
 * 10.1: the conversation then fails).
 */
export function eapMessageOf(avps: readonly Avp[]): Uint8Array | undefined {
  const parts: Uint8Array[] = [];
  for (const a of avps) {
    if (a.code === AVP_EAP_MESSAGE && !(a.flags & AvpFlag.Vendor)) parts.push(a.data);
    else if (a.flags & AvpFlag.Mandatory) {
      throw new EapError("EAP-TTLS AVP", 0, `unsupported mandatory AVP ${a.code}`);
    }
  }
  return parts.length === 0 ? undefined : concat(...parts);
}
