/**
 * IP Payload Compression (IPComp, RFC 3173) with DEFLATE (RFC 2394): the
 * 4-byte IPComp header and the stateless per-datagram compression around it.
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Next Header  |     Flags     | Compression Parameter Index   |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |        DEFLATE stream (raw, no zlib header), one per datagram  |
 * ```
 *
 * Each datagram is compressed on its own (RFC 3173 section 2.2: no history
 * across datagrams). A payload below {@linkcode IPCOMP_THRESHOLD} bytes, or
 * one that DEFLATE does not make smaller together with the header, is sent
 * as it is, without an IPComp header (section 2.2); a receiver takes both.
 * DEFLATE uses a 2 KB window (windowBits 11) as Linux's IPComp does: Linux
 * inflates with that window, so a wider one would not decompress there.
 * Inflating accepts any window and never yields more than 65,535 bytes.
 *
 * Pure functions over byte arrays; DEFLATE is node:zlib's (zlib).
 *
 * @module
 */
import { deflateRawSync, inflateRawSync } from "node:zlib";

/** IP protocol number of IPComp (IANA). */
export const IPPROTO_IPCOMP = 108;
/** IKEv2 IPComp transform id of DEFLATE (RFC 7296 section 3.10.1, IANA). */
export const IPCOMP_DEFLATE = 2;
/** IPComp header length. */
export const IPCOMP_HEADER = 4;
/**
 * Payloads shorter than this go uncompressed (Linux's DEFLATE threshold: a
 * shorter one rarely gets smaller).
 */
export const IPCOMP_THRESHOLD = 90;
/** The window of our DEFLATE streams (2^11 bytes, Linux's). */
const WINDOW_BITS = 11;
/** No IP datagram decompresses to more than this. */
const MAX_DECOMPRESSED = 65535;

/** The first CPI an IKE negotiation may pick (RFC 3173 section 3.3; 0-255 are fixed). */
export const CPI_MIN = 256;
/** The last negotiated CPI (61440-65535 are for private use). */
export const CPI_MAX = 61439;

/** Why an IPComp datagram could not be decompressed. */
export type IpcompError = "truncated" | "wrong-cpi" | "bad-next-header" | "corrupt";

/** A decompressed IPComp datagram. */
export type IpcompDecoded =
  | { ok: true; nextHeader: number; cpi: number; payload: Uint8Array }
  | { ok: false; error: IpcompError; detail: string };

/**
 * `payload` (what follows the IP header, or the whole inner packet in tunnel
 * mode) compressed behind an IPComp header with `nextHeader` and `cpi`, or
 * null when it is to be sent uncompressed: shorter than the threshold, or
 * not made smaller.
 *
 * @example
 * ```ts
 * const c = ipcompCompress(innerPacket, 4, 0x1234); // null: send innerPacket as it is
 * ```
 */
export function ipcompCompress(
  payload: Uint8Array,
  nextHeader: number,
  cpi: number,
): Uint8Array | null {
  if (payload.length < IPCOMP_THRESHOLD) return null;
  const z = deflateRawSync(payload, { windowBits: WINDOW_BITS, memLevel: 8, level: 6 });
  if (z.length + IPCOMP_HEADER >= payload.length) return null;
  const out = new Uint8Array(IPCOMP_HEADER + z.length);
  out[0] = nextHeader;
  out[1] = 0; // flags: reserved, zero (RFC 3173 section 2.2)
  out[2] = cpi >> 8;
  out[3] = cpi & 0xff;
  out.set(z, IPCOMP_HEADER);
  return out;
}

/**
 * Decompresses the IPComp datagram `data` (header and DEFLATE stream).
 * With `cpi` given the header must carry it. Trailing bytes after the end
 * of the DEFLATE stream are ignored. Never throws.
 *
 * @example
 * ```ts
 * const r = ipcompDecompress(espPayload, 0x1234);
 * if (r.ok) deliver(r.payload, r.nextHeader);
 * ```
 */
export function ipcompDecompress(data: Uint8Array, cpi?: number): IpcompDecoded {
  if (data.length <= IPCOMP_HEADER) {
    return { ok: false, error: "truncated", detail: `${data.length} bytes` };
  }
  const nextHeader = data[0];
  const got = (data[2] << 8) | data[3];
  if (cpi !== undefined && got !== cpi) {
    return {
      ok: false,
      error: "wrong-cpi",
      detail: `CPI ${got.toString(16)}, expected ${cpi.toString(16)}`,
    };
  }
  if (nextHeader === IPPROTO_IPCOMP) {
    return { ok: false, error: "bad-next-header", detail: "IPComp inside IPComp" };
  }
  try {
    const out = inflateRawSync(data.subarray(IPCOMP_HEADER), {
      maxOutputLength: MAX_DECOMPRESSED,
    });
    const payload = new Uint8Array(out.buffer, out.byteOffset, out.length);
    return { ok: true, nextHeader, cpi: got, payload };
  } catch (e) {
    return { ok: false, error: "corrupt", detail: (e as Error).message };
  }
}

/** A random negotiable CPI (256..61439) from `random` bytes. */
export function randomCpi(random: (n: number) => Uint8Array): number {
  const b = random(2);
  return CPI_MIN + (((b[0] << 8) | b[1]) % (CPI_MAX - CPI_MIN + 1));
}
