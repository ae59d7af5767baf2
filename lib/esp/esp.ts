/**
 * ESP (RFC 4303) packet processing for one Security Association: tunnel and
 * transport mode over IPv4 and IPv6, optional UDP encapsulation (RFC 3948),
 * AEAD transforms (AES-GCM per RFC 4106, ChaCha20-Poly1305 per RFC 7634),
 * AES-CBC with HMAC (RFC 3602, 2404, 4868) and NULL encryption with
 * integrity (RFC 4303 section 3.2.1, only when explicitly allowed).
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |               Security Parameters Index (SPI)                 |
 * |                      Sequence Number                          |
 * |                    IV (8 for AEAD, 16 for CBC)                |
 * ~                    Payload Data (+ TFC padding)               ~
 * |               |     Padding (0-255 bytes)                     |
 * |                               |  Pad Length   | Next Header   |
 * |         Integrity Check Value-ICV   (variable)                |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * The SA receives already-keyed primitives (dependency injection), so it
 * does not care whether libcrypto, node:crypto or noble backs them.
 *
 * Outbound flow ({@linkcode EspSa.encapsulatePacket}):
 *  1. validate the IP packet; in transport mode find where ESP goes;
 *  2. take the next sequence number (soft limit -> `rekey`, hard -> refuse);
 *  3. allocate the one output buffer, copy headers and payload into place;
 *  4. add TFC padding, default padding, Pad Length, Next Header;
 *  5. encrypt and authenticate in place.
 *
 * Inbound flow ({@linkcode EspSa.decapsulatePacket}): parse the outer
 * header, replay check, verify the ICV (in place), update the window,
 * decrypt, check padding, drop dummies (next header 59), rebuild. It
 * decrypts in the caller's buffer and returns a view into it. Nothing is
 * thrown: every failure is a counted {@linkcode EspDropReason}.
 *
 * @module
 */

import type { Aead, BlockCipher, Mac } from "../crypto/types.ts";
import { fixTransportChecksum, internetChecksum, pseudoHeaderSum } from "../ip/checksum.ts";
import {
  ipv4HeaderLength,
  ipv4IsFragment,
  ipv4SetChecksum,
  ipv4SetTotalLength,
  writeIpv4Header,
} from "../ip/ipv4.ts";
import {
  IPPROTO_ESP,
  IPV6_HEADER,
  IPV6_NO_NEXT,
  ipv6ExtLength,
  ipv6InsertionPoint,
  ipv6PayloadLength,
  ipv6SetPayloadLength,
  ipv6TrafficClass,
  ipv6Valid,
  isIpv6ExtHeader,
  writeIpv6Header,
} from "../ip/ipv6.ts";
import {
  aeadOps,
  cipherOps,
  icvEqual,
  macOps,
  type OpenInPlace,
  type SealInPlace,
} from "./_crypto_ops.ts";
import { REPLAY_DUPLICATE, REPLAY_TOO_OLD, ReplayWindow } from "./replay_window.ts";

/** IP protocol numbers used here. */
const IPPROTO_IPIP = 4;
const IPPROTO_IPV6 = 41;
const IPPROTO_UDP = 17;
const IPPROTO_TCP = 6;
const UDP_HEADER = 8;
const TWO32 = 0x1_0000_0000;

/** Every reason an inbound packet is dropped (each has a counter). */
export const ESP_DROP_REASONS = [
  "truncated",
  "malformed",
  "unknown-spi",
  "replay-duplicate",
  "replay-too-old",
  "replay-zero",
  "icv-failed",
  "bad-padding",
  "bad-next-header",
  "dummy",
  "expired",
  "internal-error",
] as const;
/** Why an inbound packet was dropped. `dummy` is a TFC dummy packet (RFC 4303 2.6). */
export type EspDropReason = typeof ESP_DROP_REASONS[number];

/** Why an outbound packet could not be built. */
export type EspSendError =
  | "malformed"
  | "fragment"
  | "sequence-exhausted"
  | "too-big"
  | "wrong-family"
  | "expired";

/** Result of inbound processing: a packet or a counted drop. */
export type EspInboundResult =
  | {
    ok: true;
    /** Tunnel mode: the inner IP packet. Transport mode: the rebuilt IP packet. */
    packet: Uint8Array;
    /** Next Header from the ESP trailer (4, 41, 6, 17, ...). */
    nextHeader: number;
    /** Full (ESN-inferred) sequence number. */
    seq: number;
  }
  | { ok: false; drop: EspDropReason };

/** Result of outbound processing. */
export type EspOutboundResult =
  | {
    ok: true;
    packet: Uint8Array;
    /** Sequence number used. */
    seq: number;
    /** True once the soft sequence threshold is passed: rekey this SA. */
    rekey: boolean;
  }
  | { ok: false; error: EspSendError };

/** Result of the header-less core ({@linkcode EspSa.decapsulateEsp}). */
export type EspCoreResult =
  | { ok: true; payload: Uint8Array; nextHeader: number; seq: number }
  | { ok: false; drop: EspDropReason };

/**
 * The keyed transform of an SA. For AEAD, `salt` is the 4-byte salt from
 * KEYMAT (RFC 4106 section 8.1, RFC 7634 section 2); the IV on the wire is
 * the 64-bit sequence number, so it never repeats under one key.
 */
export type EspTransform =
  | { kind: "aead"; aead: Aead; salt: Uint8Array }
  | { kind: "cbc"; cipher: BlockCipher; integ: Mac; icvLength: number }
  | { kind: "null"; integ: Mac; icvLength: number };

/** What an {@linkcode EspSa} is configured with. */
export interface EspSaConfig {
  /** 32-bit SPI. */
  spi: number;
  mode: "tunnel" | "transport";
  transform: EspTransform;
  /** Must be true to use the NULL transform (RFC 4303 section 3.2.1 requires opt-in). */
  allowNullEncryption?: boolean;
  /** Extended Sequence Numbers (64-bit, high half never on the wire). */
  esn?: boolean;
  /** Inbound anti-replay window size (default 1024, 32..65536). */
  replayWindowSize?: number;
  /** Inbound anti-replay check (default true). With ESN the window still infers high bits. */
  antiReplay?: boolean;
  /** Tunnel mode: outer source and destination (both 4 or both 16 bytes). */
  tunnel?: { src: Uint8Array; dst: Uint8Array };
  /** RFC 3948 UDP encapsulation ports (usually 4500/4500). */
  udpEncap?: { srcPort: number; dstPort: number };
  /** Randomness for CBC IVs and dummy payloads (default `crypto.getRandomValues`). */
  rng?: (out: Uint8Array) => void;
  /** Outbound: signal rekey once this many packets were sent (default hard - 2^20). */
  seqSoftLimit?: number;
  /** Outbound: refuse to send beyond this sequence number (default 2^32-1, ESN 2^53-1). */
  seqHardLimit?: number;
  /** Tunnel outer DSCP: copy from inner (default) or a fixed 6-bit value. */
  dscp?: "copy" | number;
  /** Tunnel outer IPv4 DF bit: copy from inner IPv4 (default; set for inner IPv6), set, clear. */
  df?: "copy" | "set" | "clear";
  /** Outer TTL / hop limit (default 64). */
  ttl?: number;
  /** Tunnel mode: pad inner packets up to this many bytes (TFC, RFC 4303 section 2.7). */
  tfcPadTo?: number;
  /** Path MTU: packets bigger than this with DF set are refused with "too-big". */
  pathMtu?: number;
}

/** Packet and byte counters plus drops by reason. */
export interface EspStats {
  inPackets: number;
  inBytes: number;
  outPackets: number;
  outBytes: number;
  drops: Record<EspDropReason, number>;
}

/** A zeroed drop counter table. */
export function newDropCounters(): Record<EspDropReason, number> {
  const d = {} as Record<EspDropReason, number>;
  for (const r of ESP_DROP_REASONS) d[r] = 0;
  return d;
}

const RNG_POOL = 4096;

/**
 * One ESP Security Association (either direction). Holds the keyed
 * transform, the outbound sequence counter and the inbound replay window.
 *
 * @example
 * ```ts
 * const sa = new EspSa({
 *   spi: 0x1000, mode: "tunnel", esn: true,
 *   transform: { kind: "aead", aead: createAead("aes-gcm", key, 16), salt },
 *   tunnel: { src: ip4("192.0.2.1"), dst: ip4("192.0.2.2") },
 * });
 * const out = sa.encapsulatePacket(innerPacket);
 * const back = peerSa.decapsulatePacket(out.packet); // { ok, packet } or { ok: false, drop }
 * ```
 */
export class EspSa {
  readonly spi: number;
  readonly mode: "tunnel" | "transport";
  readonly esn: boolean;
  readonly transform: EspTransform;
  readonly tunnel?: { src: Uint8Array; dst: Uint8Array };
  readonly udpEncap?: { srcPort: number; dstPort: number };
  /** Inbound replay window. */
  readonly replay: ReplayWindow;
  readonly antiReplay: boolean;
  readonly stats: EspStats;
  readonly seqSoftLimit: number;
  readonly seqHardLimit: number;
  readonly #ivLength: number;
  readonly #icvLength: number;
  readonly #align: number;
  readonly #dscp: "copy" | number;
  readonly #df: "copy" | "set" | "clear";
  readonly #ttl: number;
  readonly #tfcPadTo: number;
  readonly #pathMtu: number;
  readonly #rng: (out: Uint8Array) => void;
  // Preallocated scratch.
  readonly #nonce = new Uint8Array(12);
  readonly #aad: Uint8Array;
  readonly #seqHi = new Uint8Array(4);
  readonly #mac: Uint8Array;
  readonly #macParts: Uint8Array[] = [];
  readonly #pool = new Uint8Array(RNG_POOL);
  #poolPos = RNG_POOL;
  readonly #seal?: SealInPlace;
  readonly #open?: OpenInPlace;
  readonly #enc?: (iv: Uint8Array, b: Uint8Array, s: number, e: number) => void;
  readonly #dec?: (iv: Uint8Array, b: Uint8Array, s: number, e: number) => void;
  readonly #macTo?: (out: Uint8Array, parts: readonly Uint8Array[]) => void;
  #seq = 0;
  #ipId = 0;

  constructor(cfg: EspSaConfig) {
    if (!Number.isInteger(cfg.spi) || cfg.spi < 256 || cfg.spi > 0xffffffff) {
      // SPIs 1..255 are reserved by IANA, 0 is never valid (RFC 4303 section 2.1).
      throw new RangeError(`ESP SPI must be 256..2^32-1, got ${cfg.spi}`);
    }
    this.spi = cfg.spi;
    this.mode = cfg.mode;
    this.esn = cfg.esn ?? false;
    this.transform = cfg.transform;
    this.tunnel = cfg.tunnel;
    this.udpEncap = cfg.udpEncap;
    if (cfg.mode === "tunnel") {
      const t = cfg.tunnel;
      if (!t || t.src.length !== t.dst.length || (t.src.length !== 4 && t.src.length !== 16)) {
        throw new RangeError("tunnel mode needs outer src/dst of the same family");
      }
    }
    this.replay = new ReplayWindow({ size: cfg.replayWindowSize, esn: this.esn });
    this.antiReplay = cfg.antiReplay ?? true;
    this.stats = { inPackets: 0, inBytes: 0, outPackets: 0, outBytes: 0, drops: newDropCounters() };
    this.seqHardLimit = cfg.seqHardLimit ??
      (this.esn ? Number.MAX_SAFE_INTEGER : 0xffffffff);
    if (!this.esn && this.seqHardLimit > 0xffffffff) {
      throw new RangeError("without ESN the sequence number cannot exceed 2^32-1");
    }
    this.seqSoftLimit = cfg.seqSoftLimit ?? Math.max(1, this.seqHardLimit - 0x100000);
    this.#dscp = cfg.dscp ?? "copy";
    this.#df = cfg.df ?? "copy";
    this.#ttl = cfg.ttl ?? 64;
    this.#tfcPadTo = cfg.tfcPadTo ?? 0;
    this.#pathMtu = cfg.pathMtu ?? 0;
    this.#rng = cfg.rng ?? ((b) => crypto.getRandomValues(b));
    this.#aad = new Uint8Array(this.esn ? 12 : 8);
    const t = cfg.transform;
    if (t.kind === "aead") {
      if (t.salt.length !== 4) throw new RangeError("AEAD salt must be 4 bytes");
      if (t.aead.nonceLength !== 12) throw new RangeError("ESP AEAD needs a 12-byte nonce");
      this.#nonce.set(t.salt, 0);
      this.#ivLength = 8;
      this.#icvLength = t.aead.tagLength;
      this.#align = 4;
      const ops = aeadOps(t.aead);
      this.#seal = ops.seal;
      this.#open = ops.open;
      this.#mac = new Uint8Array(0);
    } else {
      if (t.icvLength < 12 || t.icvLength > t.integ.outputLength) {
        throw new RangeError(`ICV length ${t.icvLength} invalid for this MAC`);
      }
      this.#icvLength = t.icvLength;
      this.#mac = new Uint8Array(t.integ.outputLength);
      this.#macTo = macOps(t.integ);
      if (t.kind === "cbc") {
        this.#ivLength = t.cipher.ivLength;
        this.#align = Math.max(4, t.cipher.blockSize);
        const ops = cipherOps(t.cipher);
        this.#enc = ops.encrypt;
        this.#dec = ops.decrypt;
      } else {
        if (!cfg.allowNullEncryption) {
          throw new RangeError("NULL encryption must be explicitly allowed (allowNullEncryption)");
        }
        this.#ivLength = 0;
        this.#align = 4;
      }
    }
  }

  /** Last sequence number sent (0 before the first packet). */
  get sequence(): number {
    return this.#seq;
  }
  /**
   * Restores the outbound counter (last sequence number sent), e.g. from
   * saved state or in tests. It can only move forward: an IV/sequence number
   * must never be reused under one key.
   */
  restoreSequence(lastSent: number): void {
    if (!Number.isInteger(lastSent) || lastSent < this.#seq || lastSent > this.seqHardLimit) {
      throw new RangeError(`cannot move the sequence counter from ${this.#seq} to ${lastSent}`);
    }
    this.#seq = lastSent;
  }
  /** True once the hard sequence limit is reached: the SA must not send again. */
  get sequenceExhausted(): boolean {
    return this.#seq >= this.seqHardLimit;
  }
  /** Bytes of ESP overhead for `payloadLength` bytes of payload (no IP/UDP header). */
  overhead(payloadLength: number): number {
    return this.#espLength(payloadLength) - payloadLength;
  }

  #espLength(payloadLength: number): number {
    const body = payloadLength + 2;
    const padded = Math.ceil(body / this.#align) * this.#align;
    return 8 + this.#ivLength + padded + this.#icvLength;
  }

  #random(n: number): Uint8Array {
    if (this.#poolPos + n > RNG_POOL) {
      this.#rng(this.#pool);
      this.#poolPos = 0;
    }
    const v = this.#pool.subarray(this.#poolPos, this.#poolPos + n);
    this.#poolPos += n;
    return v;
  }

  // ------------------------------------------------------------------ outbound

  /**
   * Builds an ESP packet body (SPI .. ICV) for `payload` with `nextHeader`
   * into a new buffer with `headroom` free bytes in front (for outer IP/UDP
   * headers) and returns `{buf, seq}`, or an error when the sequence space
   * is exhausted. `extra` zero bytes (TFC padding) follow the payload.
   */
  #build(
    payload: Uint8Array,
    nextHeader: number,
    headroom: number,
    extra: number,
  ): Uint8Array | null {
    if (this.#seq >= this.seqHardLimit) return null;
    const seq = ++this.#seq;
    const ivLen = this.#ivLength;
    const body = payload.length + extra + 2;
    const padded = Math.ceil(body / this.#align) * this.#align;
    const padLen = padded - body;
    const espLen = 8 + ivLen + padded + this.#icvLength;
    const out = new Uint8Array(headroom + espLen);
    const o = headroom;
    const spi = this.spi;
    out[o] = spi >>> 24;
    out[o + 1] = (spi >>> 16) & 0xff;
    out[o + 2] = (spi >>> 8) & 0xff;
    out[o + 3] = spi & 0xff;
    const hi = Math.floor(seq / TWO32);
    const lo = seq - hi * TWO32;
    writeU32(out, o + 4, lo);
    const ptStart = o + 8 + ivLen;
    out.set(payload, ptStart);
    let p = ptStart + payload.length + extra;
    for (let i = 1; i <= padLen; i++) out[p++] = i;
    out[p++] = padLen;
    out[p++] = nextHeader;
    const ptEnd = p;
    const t = this.transform;
    if (t.kind === "aead") {
      // RFC 4106 section 3.1 / RFC 7634 section 2: IV = 64-bit counter (our sequence number).
      writeU32(out, o + 8, hi);
      writeU32(out, o + 12, lo);
      const nonce = this.#nonce;
      nonce.set(out.subarray(o + 8, o + 16), 4);
      this.#fillAad(hi, lo);
      this.#seal!(nonce, this.#aad, out, ptStart, ptEnd);
    } else {
      if (t.kind === "cbc") {
        const iv = out.subarray(o + 8, o + 8 + ivLen);
        iv.set(this.#random(ivLen));
        this.#enc!(iv, out, ptStart, ptEnd);
      }
      this.#computeIcv(out, o, ptEnd, hi);
      out.set(this.#mac.subarray(0, this.#icvLength), ptEnd);
    }
    this.stats.outPackets++;
    this.stats.outBytes += payload.length;
    return out;
  }

  #fillAad(hi: number, lo: number): void {
    // RFC 4106 section 5: SPI || [Seq high] || Seq low.
    const aad = this.#aad;
    writeU32(aad, 0, this.spi);
    if (this.esn) {
      writeU32(aad, 4, hi);
      writeU32(aad, 8, lo);
    } else {
      writeU32(aad, 4, lo);
    }
  }

  /** MAC over buf[start..end) (|| seq high with ESN) into #mac. */
  #computeIcv(buf: Uint8Array, start: number, end: number, hi: number): void {
    const parts = this.#macParts;
    parts.length = 0;
    parts.push(buf.subarray(start, end));
    if (this.esn) {
      // RFC 4303 section 2.2.1: the high half is appended after the payload for the ICV.
      writeU32(this.#seqHi, 0, hi);
      parts.push(this.#seqHi);
    }
    this.#macTo!(this.#mac, parts);
  }

  /**
   * The header-less core: SPI .. ICV for `payload` with `nextHeader`.
   * Use {@linkcode encapsulatePacket} for whole IP packets.
   */
  encapsulateEsp(payload: Uint8Array, nextHeader: number): EspOutboundResult {
    const buf = this.#build(payload, nextHeader, 0, 0);
    if (buf === null) return { ok: false, error: "sequence-exhausted" };
    return { ok: true, packet: buf, seq: this.#seq, rekey: this.#seq >= this.seqSoftLimit };
  }

  /**
   * Tunnel mode: a dummy packet (Next Header 59, RFC 4303 section 2.6) with
   * `length` random payload bytes, wrapped in the outer header.
   */
  encapsulateDummy(length: number): EspOutboundResult {
    if (this.mode !== "tunnel") return { ok: false, error: "wrong-family" };
    const payload = this.#random(Math.min(length, 1024)).slice();
    const pad = Math.max(0, length - payload.length);
    return this.#tunnelOut(payload, IPV6_NO_NEXT, 0, pad, false);
  }

  /**
   * Encapsulates a whole IP packet: in tunnel mode it becomes the payload
   * of a new outer header; in transport mode ESP is inserted after the IPv4
   * header or the IPv6 per-hop extension headers.
   */
  encapsulatePacket(packet: Uint8Array): EspOutboundResult {
    const v = packet.length > 0 ? packet[0] >> 4 : 0;
    if (this.mode === "tunnel") {
      let len: number;
      let tos: number;
      let df: boolean;
      if (v === 4) {
        if (ipv4HeaderLength(packet) < 0) return { ok: false, error: "malformed" };
        len = (packet[2] << 8) | packet[3];
        tos = packet[1];
        df = (packet[6] & 0x40) !== 0;
      } else if (v === 6) {
        if (!ipv6Valid(packet)) return { ok: false, error: "malformed" };
        len = IPV6_HEADER + ipv6PayloadLength(packet);
        tos = ipv6TrafficClass(packet);
        df = true;
      } else {
        return { ok: false, error: "malformed" };
      }
      const inner = packet.subarray(0, len);
      const extra = Math.max(0, this.#tfcPadTo - len);
      return this.#tunnelOut(inner, v === 4 ? IPPROTO_IPIP : IPPROTO_IPV6, tos, extra, df);
    }
    return v === 4 ? this.#transport4(packet) : v === 6 ? this.#transport6(packet) : {
      ok: false,
      error: "malformed",
    };
  }

  #tunnelOut(
    inner: Uint8Array,
    nh: number,
    innerTos: number,
    extra: number,
    innerDf: boolean,
  ): EspOutboundResult {
    const t = this.tunnel!;
    const v4 = t.src.length === 4;
    const ipLen = v4 ? 20 : IPV6_HEADER;
    const udp = this.udpEncap ? UDP_HEADER : 0;
    const buf = this.#build(inner, nh, ipLen + udp, extra);
    if (buf === null) return { ok: false, error: "sequence-exhausted" };
    const dscp = this.#dscp;
    // RFC 4301 section 5.1.2.1 / RFC 6040: ECN copied, DSCP copied or mapped.
    const tos = dscp === "copy" ? innerTos : ((dscp & 0x3f) << 2) | (innerTos & 3);
    const df = this.#df === "copy" ? innerDf : this.#df === "set";
    const proto = udp ? IPPROTO_UDP : IPPROTO_ESP;
    if (v4) {
      this.#ipId = (this.#ipId + 1) & 0xffff;
      writeIpv4Header(buf, 0, {
        tos,
        totalLength: buf.length,
        id: this.#ipId,
        df,
        ttl: this.#ttl,
        protocol: proto,
        src: t.src,
        dst: t.dst,
      });
    } else {
      writeIpv6Header(buf, 0, {
        trafficClass: tos,
        flowLabel: 0,
        payloadLength: buf.length - IPV6_HEADER,
        nextHeader: proto,
        hopLimit: this.#ttl,
        src: t.src,
        dst: t.dst,
      });
    }
    if (udp) this.#writeUdp(buf, ipLen, t.src, t.dst);
    if (this.#pathMtu > 0 && buf.length > this.#pathMtu && (df || !v4)) {
      return { ok: false, error: "too-big" };
    }
    return { ok: true, packet: buf, seq: this.#seq, rekey: this.#seq >= this.seqSoftLimit };
  }

  /** UDP header at `off` (RFC 3948 section 2.1): checksum 0 over IPv4, computed over IPv6. */
  #writeUdp(buf: Uint8Array, off: number, src: Uint8Array, dst: Uint8Array): void {
    const u = this.udpEncap!;
    const len = buf.length - off;
    buf[off] = u.srcPort >> 8;
    buf[off + 1] = u.srcPort & 0xff;
    buf[off + 2] = u.dstPort >> 8;
    buf[off + 3] = u.dstPort & 0xff;
    buf[off + 4] = len >> 8;
    buf[off + 5] = len & 0xff;
    buf[off + 6] = 0;
    buf[off + 7] = 0;
    if (src.length === 16) {
      let c = internetChecksum(buf.subarray(off), pseudoHeaderSum(src, dst, IPPROTO_UDP, len));
      if (c === 0) c = 0xffff;
      buf[off + 6] = c >> 8;
      buf[off + 7] = c & 0xff;
    }
  }

  #transport4(packet: Uint8Array): EspOutboundResult {
    const ihl = ipv4HeaderLength(packet);
    if (ihl < 0) return { ok: false, error: "malformed" };
    // ESP transport mode applies to whole datagrams only (RFC 4303 section 3.3.4).
    if (ipv4IsFragment(packet)) return { ok: false, error: "fragment" };
    const total = (packet[2] << 8) | packet[3];
    const udp = this.udpEncap ? UDP_HEADER : 0;
    const buf = this.#build(packet.subarray(ihl, total), packet[9], ihl + udp, 0);
    if (buf === null) return { ok: false, error: "sequence-exhausted" };
    buf.set(packet.subarray(0, ihl), 0);
    buf[9] = udp ? IPPROTO_UDP : IPPROTO_ESP;
    ipv4SetTotalLength(buf, buf.length);
    ipv4SetChecksum(buf, ihl);
    if (udp) this.#writeUdp(buf, ihl, buf.subarray(12, 16), buf.subarray(16, 20));
    if (this.#pathMtu > 0 && buf.length > this.#pathMtu && (buf[6] & 0x40) !== 0) {
      return { ok: false, error: "too-big" };
    }
    return { ok: true, packet: buf, seq: this.#seq, rekey: this.#seq >= this.seqSoftLimit };
  }

  #transport6(packet: Uint8Array): EspOutboundResult {
    const ip = ipv6InsertionPoint(packet);
    if (ip === null) return { ok: false, error: "malformed" };
    const end = IPV6_HEADER + ipv6PayloadLength(packet);
    const udp = this.udpEncap ? UDP_HEADER : 0;
    const buf = this.#build(packet.subarray(ip.offset, end), ip.nextHeader, ip.offset + udp, 0);
    if (buf === null) return { ok: false, error: "sequence-exhausted" };
    buf.set(packet.subarray(0, ip.offset), 0);
    buf[ip.nextHeaderOffset] = udp ? IPPROTO_UDP : IPPROTO_ESP;
    ipv6SetPayloadLength(buf, buf.length - IPV6_HEADER);
    if (udp) this.#writeUdp(buf, ip.offset, buf.subarray(8, 24), buf.subarray(24, 40));
    if (this.#pathMtu > 0 && buf.length > this.#pathMtu) return { ok: false, error: "too-big" };
    return { ok: true, packet: buf, seq: this.#seq, rekey: this.#seq >= this.seqSoftLimit };
  }

  // ------------------------------------------------------------------- inbound

  /**
   * The header-less core: verifies and decrypts the ESP bytes
   * `buf[start..end)` (SPI .. ICV) in place. The SPI is assumed to have
   * selected this SA already. Never throws.
   */
  decapsulateEsp(buf: Uint8Array, start = 0, end = buf.length): EspCoreResult {
    try {
      const r = this.#inbound(buf, start, end);
      if (r < 0) return this.#drop(DROP_BY_CODE[-r - 1]);
      return {
        ok: true,
        payload: buf.subarray(this.#ptStart, r),
        nextHeader: this.#nh,
        seq: this.#inSeq,
      };
    } catch {
      return this.#drop("internal-error");
    }
  }

  #drop(reason: EspDropReason): { ok: false; drop: EspDropReason } {
    this.stats.drops[reason]++;
    return { ok: false, drop: reason };
  }

  // Outputs of #inbound (avoid an object per packet).
  #ptStart = 0;
  #nh = 0;
  #inSeq = 0;

  /** Returns the payload end (>= 0) or -(index into DROP_BY_CODE + 1). */
  #inbound(buf: Uint8Array, start: number, end: number): number {
    const ivLen = this.#ivLength;
    const icvLen = this.#icvLength;
    const ptStart = start + 8 + ivLen;
    const ctEnd = end - icvLen;
    const ctLen = ctEnd - ptStart;
    if (ctLen < 2) return CODE_TRUNCATED;
    if (ctLen % this.#align !== 0) return CODE_MALFORMED;
    const seqLow = readU32(buf, start + 4);
    const seq = this.antiReplay ? this.replay.check(seqLow) : this.#inferOnly(seqLow);
    if (seq < 0) {
      return seq === REPLAY_DUPLICATE
        ? CODE_DUPLICATE
        : seq === REPLAY_TOO_OLD
        ? CODE_TOO_OLD
        : CODE_ZERO;
    }
    const hi = Math.floor(seq / TWO32);
    const t = this.transform;
    if (t.kind === "aead") {
      const nonce = this.#nonce;
      nonce.set(buf.subarray(start + 8, start + 16), 4);
      this.#fillAad(hi, seqLow);
      if (!this.#open!(nonce, this.#aad, buf, ptStart, end)) return CODE_ICV;
    } else {
      this.#computeIcv(buf, start, ctEnd, hi);
      if (!icvEqual(this.#mac, buf, ctEnd, icvLen)) return CODE_ICV;
    }
    // Authenticated: only now may the window move (RFC 4303 section 3.4.3).
    if (this.antiReplay && !this.replay.update(seq)) return CODE_DUPLICATE;
    if (!this.antiReplay && seq > this.replay.top) this.replay.update(seq);
    if (t.kind === "cbc") {
      this.#dec!(buf.subarray(start + 8, ptStart), buf, ptStart, ctEnd);
    }
    const padLen = buf[ctEnd - 2];
    const nh = buf[ctEnd - 1];
    const payEnd = ctEnd - 2 - padLen;
    if (payEnd < ptStart) return CODE_PADDING;
    // Default padding is 1, 2, 3, ... (RFC 4303 section 2.4); the receiver checks it.
    for (let i = 0; i < padLen; i++) if (buf[payEnd + i] !== i + 1) return CODE_PADDING;
    this.stats.inPackets++;
    this.stats.inBytes += payEnd - ptStart;
    if (nh === IPV6_NO_NEXT) return CODE_DUMMY;
    this.#ptStart = ptStart;
    this.#nh = nh;
    this.#inSeq = seq;
    return payEnd;
  }

  #inferOnly(seqLow: number): number {
    if (!this.esn) return seqLow >>> 0 || 1;
    const s = this.replay.infer(seqLow);
    return s > 0 ? s : seqLow >>> 0;
  }

  /**
   * Processes a whole received IP packet carrying ESP (directly or in UDP
   * per RFC 3948). Decrypts in place in `packet` and returns a view into it:
   * the inner packet (tunnel) or the rebuilt packet (transport). Never throws.
   */
  decapsulatePacket(packet: Uint8Array): EspInboundResult {
    try {
      return this.#decapPacket(packet);
    } catch {
      return this.#drop("internal-error");
    }
  }

  #decapPacket(p: Uint8Array): EspInboundResult {
    // 1. Locate ESP behind the outer header (and UDP header).
    const loc = locateEsp(p);
    if (loc.error !== null) return this.#drop(loc.error);
    const espStart = loc.espOffset;
    const end = loc.end;
    // 2. Verify, update the window, decrypt.
    const r = this.#inbound(p, espStart, end);
    if (r < 0) return this.#drop(DROP_BY_CODE[-r - 1]);
    const ptStart = this.#ptStart;
    const nh = this.#nh;
    const seq = this.#inSeq;
    if (this.mode === "tunnel") {
      // 3t. The inner packet; trim TFC padding using its own length.
      const inner = p.subarray(ptStart, r);
      let len: number;
      if (nh === IPPROTO_IPIP && inner.length > 0 && inner[0] >> 4 === 4) {
        const ihl = ipv4HeaderLength(inner);
        if (ihl < 0) return this.#drop("malformed");
        len = (inner[2] << 8) | inner[3];
      } else if (nh === IPPROTO_IPV6 && ipv6Valid(inner)) {
        len = IPV6_HEADER + ipv6PayloadLength(inner);
      } else {
        return this.#drop("bad-next-header");
      }
      return { ok: true, packet: inner.subarray(0, len), nextHeader: nh, seq };
    }
    // 3p. Transport: move the outer header next to the payload and fix it up.
    const hdrLen = loc.headerLength;
    const newStart = ptStart - hdrLen;
    p.copyWithin(newStart, 0, hdrLen);
    const out = p.subarray(newStart, r);
    if (loc.v4) {
      out[9] = nh;
      ipv4SetTotalLength(out, out.length);
      ipv4SetChecksum(out, hdrLen);
    } else {
      out[loc.nextHeaderOffset] = nh;
      ipv6SetPayloadLength(out, out.length - IPV6_HEADER);
    }
    if (loc.udp && (nh === IPPROTO_TCP || nh === IPPROTO_UDP)) {
      // RFC 3948 section 3.1.2: NAT changed the addresses the inner checksum covers.
      // ESP integrity already protects the segment, so recompute it for the addresses seen.
      const seg = out.subarray(hdrLen);
      const src = loc.v4 ? out.subarray(12, 16) : out.subarray(8, 24);
      const dst = loc.v4 ? out.subarray(16, 20) : out.subarray(24, 40);
      if (!fixTransportChecksum(seg, nh, src, dst)) return this.#drop("malformed");
    }
    return { ok: true, packet: out, nextHeader: nh, seq };
  }
}

const CODE_TRUNCATED = -1;
const CODE_MALFORMED = -2;
const CODE_DUPLICATE = -3;
const CODE_TOO_OLD = -4;
const CODE_ZERO = -5;
const CODE_ICV = -6;
const CODE_PADDING = -7;
const CODE_DUMMY = -8;
const DROP_BY_CODE: readonly EspDropReason[] = [
  "truncated",
  "malformed",
  "replay-duplicate",
  "replay-too-old",
  "replay-zero",
  "icv-failed",
  "bad-padding",
  "dummy",
];

/** Where ESP starts inside a received IP packet. */
export interface EspLocation {
  /** Null when found; else why the packet is unusable. */
  error: EspDropReason | null;
  v4: boolean;
  /** True when ESP came inside UDP (RFC 3948). */
  udp: boolean;
  /** Offset of the SPI. */
  espOffset: number;
  /** End of the IP packet (total length). */
  end: number;
  /** Length of the IP header (+ extension headers before ESP/UDP). */
  headerLength: number;
  /** IPv6: offset of the next-header byte that pointed at ESP/UDP. */
  nextHeaderOffset: number;
  /** The SPI (0 when not found). */
  spi: number;
}

/**
 * Finds the ESP header in an IPv4/IPv6 packet, directly (protocol 50) or
 * inside UDP with a non-zero first word (RFC 3948). Never throws; used by
 * the data plane to read the SPI before the SAD lookup.
 */
export function locateEsp(p: Uint8Array): EspLocation {
  const r: EspLocation = {
    error: null,
    v4: true,
    udp: false,
    espOffset: 0,
    end: 0,
    headerLength: 0,
    nextHeaderOffset: 9,
    spi: 0,
  };
  let off: number;
  let proto: number;
  if (p.length > 0 && p[0] >> 4 === 4) {
    const ihl = ipv4HeaderLength(p);
    if (ihl < 0) return fail(r, "malformed");
    if (ipv4IsFragment(p)) return fail(r, "malformed");
    off = ihl;
    proto = p[9];
    r.end = (p[2] << 8) | p[3];
  } else if (p.length > 0 && p[0] >> 4 === 6 && ipv6Valid(p)) {
    r.v4 = false;
    r.end = IPV6_HEADER + ipv6PayloadLength(p);
    let nhOff = 6;
    proto = p[6];
    off = IPV6_HEADER;
    while (isIpv6ExtHeader(proto)) {
      const len = ipv6ExtLength(p.subarray(0, r.end), off, proto);
      if (len < 0) return fail(r, "truncated");
      nhOff = off;
      proto = p[off];
      off += len;
    }
    r.nextHeaderOffset = nhOff;
  } else {
    return fail(r, "malformed");
  }
  r.headerLength = off;
  if (proto === IPPROTO_UDP) {
    if (off + UDP_HEADER + 4 > r.end) return fail(r, "truncated");
    r.udp = true;
    off += UDP_HEADER;
    if (readU32(p, off) === 0) return fail(r, "malformed"); // non-ESP marker: IKE, not ESP
  } else if (proto !== IPPROTO_ESP) {
    return fail(r, "malformed");
  }
  if (off + 8 > r.end) return fail(r, "truncated");
  r.espOffset = off;
  r.spi = readU32(p, off);
  return r;
}

function fail(r: EspLocation, e: EspDropReason): EspLocation {
  r.error = e;
  return r;
}

function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

function readU32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}
