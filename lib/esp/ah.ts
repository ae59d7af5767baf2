/**
 * AH (RFC 4302) packet processing for one Security Association: tunnel and
 * transport mode over IPv4 and IPv6, HMAC-SHA1-96, HMAC-SHA2 (RFC 4868),
 * AES-XCBC-MAC-96 (RFC 3566) and AES-CMAC-96 (RFC 4494), ESN and
 * anti-replay. AH cannot be UDP-encapsulated (RFC 3948 is ESP only): the
 * constructor refuses that with a {@linkcode UdpEncapError}.
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Next Header   |  Payload Len  |          RESERVED             |
 * |                 Security Parameters Index (SPI)               |
 * |                    Sequence Number Field                      |
 * +                Integrity Check Value-ICV (variable)           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * The ICV covers the IP header with its mutable fields zeroed (RFC 4302
 * section 3.3.3.1: IPv4 TOS, flags, fragment offset, TTL, checksum and the
 * mutable options; IPv6 traffic class, flow label, hop limit, options with
 * the "may change en route" bit, and routing headers as they will look at
 * the destination), the AH header with a zero ICV, the payload and, with
 * ESN, the high 32 bits of the sequence number appended at the end.
 * The header is copied into a scratch buffer for that, so the packet is
 * never modified before it verifies.
 *
 * Hot path: {@linkcode AhSa.encapsulateInto} and
 * {@linkcode AhSa.decapsulateInPlace} work like their ESP counterparts
 * (negative results index `ESP_SEND_ERRORS` / `ESP_DROP_REASONS`).
 *
 * @example
 * ```ts
 * const sa = new AhSa({ spi: 0x2000, mode: "transport", integ: hmacSha256, icvLength: 16 });
 * const out = sa.encapsulatePacket(ipPacket);
 * const back = peer.decapsulatePacket(out.packet);
 * ```
 *
 * @module
 */

import type { Mac } from "../crypto/types.ts";
import {
  ipv4HeaderLength,
  ipv4IsFragment,
  ipv4SetChecksum,
  ipv4SetTotalLength,
} from "../ip/ipv4.ts";
import {
  IPPROTO_AH,
  IPV6_DEST_OPTS,
  IPV6_HEADER,
  IPV6_HOP_BY_HOP,
  IPV6_ROUTING,
  ipv6ExtLength,
  ipv6InsertionPoint,
  ipv6PayloadLength,
  ipv6SetPayloadLength,
} from "../ip/ipv6.ts";
import { icvEqual, macOps, readU32, writeU32 } from "./_crypto_ops.ts";
import { innerInfo, locateIpsec, outerDf, writeOuterHeader } from "./_outer.ts";
import {
  espDropCode,
  espSendCode,
  IpsecSa,
  type SaCommonConfig,
  type TunnelEndpoints,
  type UdpEncapPorts,
  validateTunnel,
} from "./_sa.ts";
import { checkUdpEncapsulation } from "./udp_encap.ts";

const AH_FIXED = 12;

const D_TRUNCATED = espDropCode("truncated");
const D_MALFORMED = espDropCode("malformed");
const D_UNKNOWN_SPI = espDropCode("unknown-spi");
const D_DUPLICATE = espDropCode("replay-duplicate");
const D_ICV = espDropCode("icv-failed");
const D_NEXT_HEADER = espDropCode("bad-next-header");
const S_MALFORMED = espSendCode("malformed");
const S_FRAGMENT = espSendCode("fragment");
const S_EXHAUSTED = espSendCode("sequence-exhausted");
const S_TOO_BIG = espSendCode("too-big");
const S_SMALL = espSendCode("buffer-too-small");

/** What an {@linkcode AhSa} is configured with. */
export interface AhSaConfig extends SaCommonConfig {
  /** The keyed MAC (HMAC-SHA1/SHA2, AES-XCBC, AES-CMAC), untruncated. */
  integ: Mac;
  /** ICV bytes on the wire: 12 for *-96, 16/24/32 for HMAC-SHA2-256/384/512. */
  icvLength: number;
  /** Always refused: AH cannot be UDP-encapsulated. */
  udpEncap?: UdpEncapPorts;
}

/** IPv4 option numbers (low 5 bits of the type) AH treats as immutable (RFC 4302 Appendix A.1). */
const IMMUTABLE_IPV4_OPTIONS = new Set([0, 1, 2, 5, 6, 20, 21]);

/**
 * Zeroes, in the IP header copy `h[0..len)` (everything before AH), the
 * fields AH leaves out of the ICV (RFC 4302 section 3.3.3.1, Appendix A).
 * With `sending`, IPv6 type 0/2 routing headers are rewritten to how the
 * destination will see them. Returns false for a malformed header or a
 * routing header type whose final form cannot be predicted.
 *
 * @example
 * ```ts
 * const copy = packet.slice(0, ahOffset);
 * if (zeroMutableFields(copy, copy.length, true)) mac.compute(copy, ahAndPayload);
 * ```
 */
export function zeroMutableFields(h: Uint8Array, len: number, sending: boolean): boolean {
  if (h[0] >> 4 === 4) {
    h[1] = 0; // TOS (DSCP + ECN)
    h[6] = 0; // flags + fragment offset
    h[7] = 0;
    h[8] = 0; // TTL
    h[10] = 0; // header checksum
    h[11] = 0;
    const ihl = (h[0] & 0x0f) * 4;
    let i = 20;
    while (i < ihl) {
      const t = h[i];
      if (t === 0) break; // End of Option List: the rest is padding
      if (t === 1) {
        i++;
        continue;
      }
      const l = i + 1 < ihl ? h[i + 1] : 0;
      if (l < 2 || i + l > ihl) return false;
      if (!IMMUTABLE_IPV4_OPTIONS.has(t & 0x1f)) h.fill(0, i, i + l);
      i += l;
    }
    return true;
  }
  h[0] &= 0xf0; // traffic class
  h[1] = 0; // traffic class + flow label
  h[2] = 0;
  h[3] = 0;
  h[7] = 0; // hop limit
  let nh = h[6];
  let off = IPV6_HEADER;
  const view = h.subarray(0, len);
  while (off < len) {
    const l = ipv6ExtLength(view, off, nh);
    if (l < 0) return false;
    if (nh === IPV6_HOP_BY_HOP || nh === IPV6_DEST_OPTS) {
      if (!zeroMutableOptions(h, off + 2, off + l)) return false;
    } else if (nh === IPV6_ROUTING && sending && h[off + 3] > 0) {
      if (!finalRouting(h, off, l)) return false;
    }
    nh = h[off];
    off += l;
  }
  return true;
}

/** Zeroes the data of TLV options with the "may change en route" bit (RFC 8200 section 4.2). */
function zeroMutableOptions(h: Uint8Array, i: number, end: number): boolean {
  while (i < end) {
    const t = h[i];
    if (t === 0) {
      i++; // Pad1
      continue;
    }
    if (i + 2 > end) return false;
    const l = h[i + 1];
    if (i + 2 + l > end) return false;
    if (t & 0x20) h.fill(0, i + 2, i + 2 + l);
    i += 2 + l;
  }
  return true;
}

/**
 * Rewrites a type 0/2 routing header and the destination address to their
 * state at the final destination: each remaining hop swaps the destination
 * with the next address (RFC 8200 section 4.4, RFC 4302 section 3.3.3.1.2).
 */
function finalRouting(h: Uint8Array, off: number, len: number): boolean {
  const type = h[off + 2];
  if (type !== 0 && type !== 2) return false;
  const n = (len - 8) / 16;
  let left = h[off + 3];
  if (left > n) return false;
  const tmp = new Uint8Array(16);
  while (left > 0) {
    const a = off + 8 + (n - left) * 16;
    tmp.set(h.subarray(24, 40));
    h.copyWithin(24, a, a + 16);
    h.set(tmp, a);
    left--;
  }
  h[off + 3] = 0;
  return true;
}

/**
 * One AH Security Association (either direction).
 *
 * @example
 * ```ts
 * const sa = new AhSa({
 *   spi: 0x3000, mode: "tunnel", integ: createMac("hmac-sha256", key), icvLength: 16,
 *   tunnel: { src: ip4("192.0.2.1"), dst: ip4("192.0.2.2") },
 * });
 * const r = sa.encapsulatePacket(inner); // { ok, packet, seq, rekey }
 * ```
 */
export class AhSa extends IpsecSa {
  readonly icvLength: number;
  readonly #macTo: (out: Uint8Array, parts: readonly Uint8Array[]) => void;
  readonly #mac: Uint8Array;
  readonly #zeros = new Uint8Array(64);
  readonly #seqHi = new Uint8Array(4);
  readonly #parts: Uint8Array[] = [];
  #hdr = new Uint8Array(128);

  constructor(cfg: AhSaConfig) {
    if (cfg.udpEncap) checkUdpEncapsulation("ah");
    super(cfg, "AH");
    if (cfg.icvLength < 12 || cfg.icvLength > cfg.integ.outputLength || cfg.icvLength % 4) {
      throw new RangeError(`AH ICV length ${cfg.icvLength} invalid for this MAC`);
    }
    this.icvLength = cfg.icvLength;
    this.#macTo = macOps(cfg.integ);
    this.#mac = new Uint8Array(cfg.integ.outputLength);
  }

  /** AH is never UDP-encapsulated. */
  get udpEncap(): undefined {
    return undefined;
  }
  /** Moves a tunnel-mode SA to new outer addresses (MOBIKE); refuses UDP encapsulation. */
  updateEndpoints(tunnel: TunnelEndpoints | undefined, udpEncap?: UdpEncapPorts): void {
    if (udpEncap) checkUdpEncapsulation("ah");
    if (this.mode === "tunnel") this.endpoints = validateTunnel(tunnel);
  }

  /** AH header length incl. ICV padding: 32-bit aligned for IPv4, 64-bit for IPv6. */
  #ahLength(v4: boolean): number {
    const a = v4 ? 4 : 8;
    return Math.ceil((AH_FIXED + this.icvLength) / a) * a;
  }

  /** Upper bound of the {@linkcode encapsulateInto} output for a packet of `packetLength`. */
  requiredOutLength(packetLength: number): number {
    return IPV6_HEADER + this.#ahLength(false) + packetLength;
  }

  /**
   * Computes the ICV of `p[0..end)` whose AH header is at `ahOff` (length
   * `ahLen`) into #mac. Returns false when the header cannot be normalised.
   */
  #computeIcv(
    p: Uint8Array,
    ahOff: number,
    ahLen: number,
    end: number,
    hi: number,
    sending: boolean,
  ): boolean {
    if (this.#hdr.length < ahOff) this.#hdr = new Uint8Array(ahOff);
    const hdr = this.#hdr.subarray(0, ahOff);
    hdr.set(p.subarray(0, ahOff));
    if (!zeroMutableFields(hdr, ahOff, sending)) return false;
    const parts = this.#parts;
    parts.length = 0;
    parts.push(hdr, p.subarray(ahOff, ahOff + AH_FIXED));
    parts.push(this.#zeros.subarray(0, ahLen - AH_FIXED), p.subarray(ahOff + ahLen, end));
    if (this.esn) {
      writeU32(this.#seqHi, 0, hi);
      parts.push(this.#seqHi);
    }
    this.#macTo(this.#mac, parts);
    return true;
  }

  // ------------------------------------------------------------------ outbound

  /**
   * Hot path: writes the AH-protected packet into `out[offset..)` and returns
   * its length or a negative code (see `espSendError`). `out` must not
   * overlap `packet`.
   */
  encapsulateInto(packet: Uint8Array, out: Uint8Array, offset = 0): number {
    if (this.mode === "tunnel") {
      const info = innerInfo(packet);
      if (info === null) return S_MALFORMED;
      return this.#tunnelOut(
        packet.subarray(0, info.length),
        info.proto,
        info.tos,
        info.df,
        out,
        offset,
      );
    }
    const o = offset;
    let hdrLen: number; // bytes before AH
    let nhOff: number; // byte that must say 51
    let nextHeader: number; // what AH's Next Header says
    let body: Uint8Array; // what follows AH
    let v4: boolean;
    const ver = packet.length > 0 ? packet[0] >> 4 : 0;
    if (ver === 4) {
      v4 = true;
      hdrLen = ipv4HeaderLength(packet);
      if (hdrLen < 0) return S_MALFORMED;
      if (ipv4IsFragment(packet)) return S_FRAGMENT;
      nhOff = 9;
      nextHeader = packet[9];
      body = packet.subarray(hdrLen, (packet[2] << 8) | packet[3]);
    } else if (ver === 6) {
      v4 = false;
      const ip = ipv6InsertionPoint(packet);
      if (ip === null) return S_MALFORMED;
      if (ip.fragment) return S_FRAGMENT; // whole datagrams only (RFC 4302 section 3.3.4)
      hdrLen = ip.offset;
      nhOff = ip.nextHeaderOffset;
      nextHeader = ip.nextHeader;
      body = packet.subarray(hdrLen, IPV6_HEADER + ipv6PayloadLength(packet));
    } else {
      return S_MALFORMED;
    }
    const total = hdrLen + this.#ahLength(v4) + body.length;
    if (this.pathMtu > 0 && total > this.pathMtu && (!v4 || (packet[6] & 0x40) !== 0)) {
      return S_TOO_BIG;
    }
    if (out.length - o < total) return S_SMALL;
    if (this.sequenceExhausted) return S_EXHAUSTED;
    out.set(packet.subarray(0, hdrLen), o);
    return this.#finish(out, o, hdrLen, nhOff, nextHeader, body, v4);
  }

  /**
   * Tunnel mode: protects `payload` with AH Next Header `nextHeader` behind
   * a new outer header (`tos` and `df` the inner packet's): an inner IP
   * packet, or what holds one, such as an IPComp datagram (see
   * {@linkcode encapsulateTunnelPayload}).
   */
  #tunnelOut(
    body: Uint8Array,
    nextHeader: number,
    tos: number,
    innerDf: boolean,
    out: Uint8Array,
    o: number,
  ): number {
    const t = this.endpoints!;
    const v4 = t.src.length === 4;
    const hdrLen = v4 ? 20 : IPV6_HEADER;
    const total = hdrLen + this.#ahLength(v4) + body.length;
    const df = outerDf(this.outer, innerDf);
    if (this.pathMtu > 0 && total > this.pathMtu && (df || !v4)) return S_TOO_BIG;
    if (out.length - o < total) return S_SMALL;
    if (this.sequenceExhausted) return S_EXHAUSTED;
    writeOuterHeader(out, o, t.src, t.dst, IPPROTO_AH, total, tos, df, this.nextIpId(), this.outer);
    return this.#finish(out, o, hdrLen, v4 ? 9 : 6, nextHeader, body, v4);
  }

  /**
   * Tunnel mode: protects `payload` with AH Next Header `nextHeader` (not an
   * IP packet of its own, e.g. an IPComp datagram holding one); `tos` and
   * `df` are the inner packet's. Returns the length or a negative code as
   * {@linkcode encapsulateInto}.
   */
  encapsulateTunnelPayload(
    payload: Uint8Array,
    nextHeader: number,
    tos: number,
    df: boolean,
    out: Uint8Array,
    offset = 0,
  ): number {
    if (this.mode !== "tunnel") return S_MALFORMED;
    return this.#tunnelOut(payload, nextHeader, tos, df, out, offset);
  }

  /** The AH header, ICV and body behind the IP header(s) at `out[o..o+hdrLen)`. */
  #finish(
    out: Uint8Array,
    o: number,
    hdrLen: number,
    nhOff: number,
    nextHeader: number,
    body: Uint8Array,
    v4: boolean,
  ): number {
    const ahLen = this.#ahLength(v4);
    const total = hdrLen + ahLen + body.length;
    const pkt = out.subarray(o, o + total);
    pkt[nhOff] = IPPROTO_AH;
    if (v4) ipv4SetTotalLength(pkt, total);
    else ipv6SetPayloadLength(pkt, total - IPV6_HEADER);
    this.nextSequence();
    const hi = this.seqHi;
    pkt[hdrLen] = nextHeader;
    pkt[hdrLen + 1] = ahLen / 4 - 2; // RFC 4302 section 2.2: 32-bit words minus 2
    pkt[hdrLen + 2] = 0;
    pkt[hdrLen + 3] = 0;
    writeU32(pkt, hdrLen + 4, this.spi);
    writeU32(pkt, hdrLen + 8, this.seqLo);
    pkt.fill(0, hdrLen + AH_FIXED, hdrLen + ahLen);
    pkt.set(body, hdrLen + ahLen);
    // A header we cannot normalise burns this sequence number; gaps are harmless.
    if (!this.#computeIcv(pkt, hdrLen, ahLen, total, hi, true)) return S_MALFORMED;
    pkt.set(this.#mac.subarray(0, this.icvLength), hdrLen + AH_FIXED);
    if (v4) ipv4SetChecksum(pkt, hdrLen);
    this.stats.outPackets++;
    this.stats.outBytes += body.length;
    return total;
  }

  // ------------------------------------------------------------------- inbound

  /**
   * Verifies a received AH packet and strips AH in place (tunnel: the inner
   * packet; transport: the packet without AH): see {@linkcode decapsulateInPlace}.
   */
  protected decapsulate(buf: Uint8Array, start: number, end: number): number {
    const p = start === 0 && end === buf.length ? buf : buf.subarray(start, end);
    const r = this.#decapsulate(p);
    if (r >= 0) this.lastOffset += start;
    return r;
  }

  #decapsulate(p: Uint8Array): number {
    const loc = locateIpsec(p, IPPROTO_AH);
    if (loc.error === "truncated") return D_TRUNCATED;
    if (loc.error !== null) return D_MALFORMED;
    const ahOff = loc.espOffset;
    const end = loc.end;
    const ahLen = (p[ahOff + 1] + 2) * 4;
    if (ahOff + ahLen > end) return D_TRUNCATED;
    if (ahLen !== this.#ahLength(loc.v4)) return D_MALFORMED;
    if (loc.spi !== this.spi) return D_UNKNOWN_SPI;
    const seqLow = readU32(p, ahOff + 8);
    const hi = this.checkSequence(seqLow);
    if (hi < 0) return hi;
    if (!this.#computeIcv(p, ahOff, ahLen, end, hi, false)) return D_MALFORMED;
    if (!icvEqual(this.#mac, p, ahOff + AH_FIXED, this.icvLength)) return D_ICV;
    if (!this.acceptSequence(hi, seqLow)) return D_DUPLICATE;
    const nh = p[ahOff];
    const bodyStart = ahOff + ahLen;
    this.stats.inPackets++;
    this.stats.inBytes += end - bodyStart;
    this.lastNextHeader = nh;
    if (this.mode === "tunnel") {
      if (nh === this.passNextHeader) {
        this.lastOffset = bodyStart;
        return end - bodyStart;
      }
      const inner = p.subarray(bodyStart, end);
      const info = innerInfo(inner);
      if (info === null || info.proto !== nh) return D_NEXT_HEADER;
      this.lastOffset = bodyStart;
      return info.length;
    }
    // Transport: slide the IP header (and extension headers) over AH.
    p.copyWithin(ahLen, 0, ahOff);
    const out = p.subarray(ahLen, end);
    out[loc.nextHeaderOffset] = nh;
    if (loc.v4) {
      ipv4SetTotalLength(out, out.length);
      ipv4SetChecksum(out, ahOff);
    } else {
      ipv6SetPayloadLength(out, out.length - IPV6_HEADER);
    }
    this.lastOffset = ahLen;
    return out.length;
  }
}
