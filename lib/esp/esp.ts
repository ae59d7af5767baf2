/**
 * ESP (RFC 4303) packet processing for one Security Association: tunnel and
 * transport mode over IPv4 and IPv6, optional UDP encapsulation (RFC 3948),
 * AEAD transforms (AES-GCM per RFC 4106, ChaCha20-Poly1305 per RFC 7634),
 * AES-CBC and AES-CTR with HMAC (RFC 3602, 3686, 2404, 4868), AES-GMAC
 * (RFC 4543: integrity only, the payload stays in the clear) and NULL
 * encryption with integrity (RFC 4303 section 3.2.1, only when explicitly
 * allowed).
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |               Security Parameters Index (SPI)                 |
 * |                      Sequence Number                          |
 * |          IV (8 for AEAD, GMAC and CTR, 16 for CBC)            |
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
 * ## Hot-path API (data plane, Workers, synchronous FFI)
 *
 * - `sa.encapsulateInto(packet, out, offset?) -> length | -code`: writes the
 *   finished outer packet into the caller's preallocated `out` (size it with
 *   `sa.requiredOutLength(packet.length)`). With the libcrypto backend
 *   only a few small typed-array views per packet, no copy, no promise. `sa.rekeyNeeded` tells when the soft sequence limit
 *   was passed. A negative result is `-(index in ESP_SEND_ERRORS + 1)`.
 * - `sa.decapsulateInPlace(buf, start?, end?) -> length | -code`: verifies,
 *   decrypts and rebuilds in `buf` itself; the result is
 *   `buf[sa.lastOffset .. sa.lastOffset + length)`. A negative result is
 *   `-(index in ESP_DROP_REASONS + 1)`, already counted in `sa.stats.drops`.
 *   Never throws.
 * - `sa.decapsulateEspInPlace(buf, start?, end?) -> length | -code`: the same
 *   for ESP bytes without an IP header (a UDP/4500 socket payload).
 *
 * `encapsulatePacket` / `decapsulatePacket` wrap these with result objects
 * for the control plane and tests.
 *
 * @example
 * ```ts
 * const out = new Uint8Array(tx.requiredOutLength(1500));
 * const n = tx.encapsulateInto(ipPacket, out);
 * if (n < 0) count(espSendError(n)); else socket.send(out.subarray(0, n));
 * if (tx.rekeyNeeded) engine.rekey(tx.spi);
 *
 * const m = rx.decapsulateInPlace(received);
 * if (m >= 0) tun.write(received.subarray(rx.lastOffset, rx.lastOffset + m));
 * ```
 *
 * Outbound flow ({@linkcode EspSa.encapsulateInto}):
 *  1. validate the IP packet; in transport mode find where ESP goes;
 *  2. take the next sequence number (soft limit -> `rekeyNeeded`, hard -> refuse);
 *  3. write outer IP (+UDP) header, ESP header, payload into `out`;
 *  4. add TFC padding, default padding, Pad Length, Next Header;
 *  5. encrypt and authenticate in place.
 *
 * Inbound flow ({@linkcode EspSa.decapsulateInPlace}): parse the outer
 * header, replay check, verify the ICV (in place), update the window,
 * decrypt, check padding, drop dummies (next header 59), rebuild. Nothing
 * is thrown: every failure is a counted {@linkcode EspDropReason}.
 *
 * Sequence numbers are exact 64-bit values (ESN) kept as uint32 halves:
 * the counter never wraps (hard limit 2^64-1 with ESN, 2^32-1 without).
 * Limits: transport mode takes whole datagrams only; TFC padding and dummy
 * packets are tunnel mode only.
 *
 * @module
 */

import type { Aead, BlockCipher, Gmac, Mac } from "../crypto/types.ts";
import { fixTransportChecksum, internetChecksum, pseudoHeaderSum } from "../ip/checksum.ts";
import {
  ipv4HeaderLength,
  ipv4IsFragment,
  ipv4SetChecksum,
  ipv4SetTotalLength,
} from "../ip/ipv4.ts";
import {
  IPPROTO_ESP,
  IPV6_HEADER,
  IPV6_NO_NEXT,
  ipv6InsertionPoint,
  ipv6PayloadLength,
  ipv6SetPayloadLength,
} from "../ip/ipv6.ts";
import {
  aeadOps,
  type CipherRangeOp,
  cipherRangeOps,
  type GmacRangeOp,
  gmacRangeOps,
  icvEqual,
  type MacRangeOp,
  macRangeOps,
  type OpenInPlace,
  readU32,
  type SealInPlace,
  writeU32,
} from "./_crypto_ops.ts";
import {
  type InnerInfo,
  innerInfoAt,
  type IpsecLocation,
  locateIpsec,
  locateIpsecInto,
  newIpsecLocation,
  outerDf,
  writeOuterHeader,
} from "./_outer.ts";
import {
  espDropCode,
  type EspDropReason,
  espDropReason,
  type EspOutboundResult,
  espSendCode,
  IpsecSa,
  type SaCommonConfig,
  type TunnelEndpoints,
  type UdpEncapPorts,
  validateTunnel,
} from "./_sa.ts";

/** IP protocol numbers used here. */
const IPPROTO_IPIP = 4;
const IPPROTO_IPV6 = 41;
const IPPROTO_UDP = 17;
const IPPROTO_TCP = 6;
const UDP_HEADER = 8;

export {
  ESP_DROP_REASONS,
  ESP_SEND_ERRORS,
  espDropCode,
  type EspDropReason,
  espDropReason,
  type EspInboundResult,
  type EspOutboundResult,
  espSendCode,
  type EspSendError,
  espSendError,
  type EspStats,
  newDropCounters,
  type TunnelEndpoints,
  type UdpEncapPorts,
  validateTunnel,
} from "./_sa.ts";

const dropCode = espDropCode;
const sendCode = espSendCode;

const D_TRUNCATED = dropCode("truncated");
const D_MALFORMED = dropCode("malformed");
const D_UNKNOWN_SPI = dropCode("unknown-spi");
const D_ICV = dropCode("icv-failed");
const D_PADDING = dropCode("bad-padding");
const D_NEXT_HEADER = dropCode("bad-next-header");
const D_DUMMY = dropCode("dummy");
const D_INTERNAL = dropCode("internal-error");
const S_MALFORMED = sendCode("malformed");
const S_FRAGMENT = sendCode("fragment");
const S_EXHAUSTED = sendCode("sequence-exhausted");
const S_TOO_BIG = sendCode("too-big");
const S_SMALL = sendCode("buffer-too-small");

/** Result of the header-less core ({@linkcode EspSa.decapsulateEsp}). */
export type EspCoreResult =
  | { ok: true; payload: Uint8Array; nextHeader: number; seq: number }
  | { ok: false; drop: EspDropReason };

/**
 * The keyed transform of an SA. For AEAD, `salt` is the salt from KEYMAT:
 * 4 bytes for AES-GCM and ChaCha20-Poly1305 (RFC 4106 section 8.1, RFC 7634
 * section 2), 3 bytes for AES-CCM (RFC 4309 section 7.1); the nonce is salt
 * || IV and the IV on the wire is the 64-bit sequence number, so it never
 * repeats under one key.
 * AES-CTR (RFC 3686) likewise: `cipher` is an "aes-ctr" {@link BlockCipher},
 * `nonce` the 4-byte nonce from the end of its KEYMAT (section 5.1), the
 * 8-byte IV the sequence number, and the counter block nonce || IV ||
 * 00000001 (section 4); integrity is a separate MAC over the encrypted packet.
 * AES-GMAC (RFC 4543, ENCR_NULL_AUTH_AES_GMAC): `gmac` keyed with the key,
 * `salt` the 4-byte salt after it in KEYMAT, the 8-byte IV the sequence
 * number, nonce salt || IV (section 3.1); nothing is encrypted and the
 * 16-byte ICV is the GMAC of SPI || Sequence Number (64 bits with ESN) || IV
 * || payload .. Next Header (section 3.3).
 */
export type EspTransform =
  | { kind: "aead"; aead: Aead; salt: Uint8Array }
  | { kind: "gmac"; gmac: Gmac; salt: Uint8Array }
  | { kind: "cbc"; cipher: BlockCipher; integ: Mac; icvLength: number }
  | { kind: "ctr"; cipher: BlockCipher; nonce: Uint8Array; integ: Mac; icvLength: number }
  | { kind: "null"; integ: Mac; icvLength: number };

/** What an {@linkcode EspSa} is configured with (plus the common SA settings). */
export interface EspSaConfig extends SaCommonConfig {
  transform: EspTransform;
  /** Must be true to use the NULL transform (RFC 4303 section 3.2.1 requires opt-in). */
  allowNullEncryption?: boolean;
  /** RFC 3948 UDP encapsulation ports (usually 4500/4500). */
  udpEncap?: UdpEncapPorts;
  /** Randomness for CBC IVs and dummy payloads (default `crypto.getRandomValues`). */
  rng?: (out: Uint8Array) => void;
  /** Tunnel mode: pad inner packets up to this many bytes (TFC, RFC 4303 section 2.7). */
  tfcPadTo?: number;
  /**
   * Outbound: grow the padding (RFC 4303 section 2.4 allows up to 255 bytes)
   * so the encrypted part (payload, padding, Pad Length, Next Header) is a
   * multiple of `to` bytes, whenever the IP packet that leaves stays within
   * `limit` bytes (the path MTU) and `to` is a multiple of the alignment the
   * transform needs anyway. For ciphers that work in blocks of keystream: OpenSSL's
   * ChaCha20-Poly1305 makes an extra keystream call for a partial 64-byte
   * block on both sides (~20% of a 1400-byte seal), AES-GCM a partial
   * 16-byte one. Without it (the default) padding is the minimum.
   */
  alignPadding?: { to: number; limit: number };
}

const RNG_POOL = 4096;
const NO_BYTES = new Uint8Array(0);

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
export class EspSa extends IpsecSa {
  readonly transform: EspTransform;
  #udpEncap?: UdpEncapPorts;
  readonly #ivLength: number;
  readonly #icvLength: number;
  readonly #align: number;
  /** Alignment padding ({@linkcode EspSaConfig.alignPadding}); 0 = off. */
  #alignTo = 0;
  #alignLimit = 0;
  readonly #tfcPadTo: number;
  readonly #rng: (out: Uint8Array) => void;
  // Preallocated scratch, all views of one buffer (one buffer each cost ~0.5 KB per SA).
  /** AEAD and GMAC nonce: salt || 8-byte IV (12 bytes, or 11 for AES-CCM). */
  readonly #nonce: Uint8Array;
  /** Where the IV starts in {@link #nonce} (the salt length). */
  readonly #ivAt: number;
  /** AES-CTR counter block: nonce(4) || IV(8) || 00000001 (RFC 3686 section 4). */
  readonly #counter: Uint8Array;
  readonly #aad: Uint8Array;
  readonly #seqHi: Uint8Array;
  readonly #mac: Uint8Array;
  /** Random bytes for IVs and dummy packets, allocated on first use (AEAD SAs never need it). */
  #pool: Uint8Array = NO_BYTES;
  #poolPos = RNG_POOL;
  readonly #seal?: SealInPlace;
  readonly #open?: OpenInPlace;
  readonly #enc?: CipherRangeOp;
  readonly #dec?: CipherRangeOp;
  readonly #macTo?: MacRangeOp;
  readonly #gmacTo?: GmacRangeOp;
  /** Per-packet scratch for the inner header and the received packet's layout. */
  readonly #info: InnerInfo = { length: 0, tos: 0, df: false, proto: 0 };
  readonly #loc: IpsecLocation = newIpsecLocation();

  constructor(cfg: EspSaConfig) {
    super(cfg, "ESP");
    this.transform = cfg.transform;
    this.#udpEncap = cfg.udpEncap;
    this.#tfcPadTo = cfg.tfcPadTo ?? 0;
    this.#rng = cfg.rng ?? ((b) => crypto.getRandomValues(b));
    const t = cfg.transform;
    // [counter 16 | seq high 4 | AAD | nonce (AEAD, GMAC) | MAC output (integrity, GMAC)]
    // AAD: SPI || [Seq high] || Seq low; GMAC adds the IV (RFC 4543 section 3.3).
    const aadLength = (this.esn ? 12 : 8) + (t.kind === "gmac" ? 8 : 0);
    const nonceLength = t.kind === "aead" ? t.aead.nonceLength : t.kind === "gmac" ? 12 : 0;
    const macLength = t.kind === "aead" ? 0 : t.kind === "gmac" ? 16 : t.integ.outputLength;
    const scratch = new Uint8Array(20 + aadLength + nonceLength + macLength);
    let at = 0;
    const take = (n: number) => scratch.subarray(at, at += n);
    this.#counter = take(16);
    this.#seqHi = take(4);
    this.#aad = take(aadLength);
    if (t.kind === "aead") {
      if (t.salt.length !== 4 && t.salt.length !== 3) {
        throw new RangeError("AEAD salt must be 4 bytes (3 for AES-CCM)");
      }
      if (t.aead.nonceLength !== t.salt.length + 8) {
        throw new RangeError(`ESP AEAD needs a ${t.salt.length + 8}-byte nonce (salt || IV)`);
      }
      this.#nonce = take(nonceLength);
      this.#ivAt = t.salt.length;
      this.#nonce.set(t.salt, 0);
      this.#ivLength = 8;
      this.#icvLength = t.aead.tagLength;
      this.#align = 4;
      const ops = aeadOps(t.aead);
      this.#seal = ops.seal;
      this.#open = ops.open;
      this.#mac = NO_BYTES;
    } else if (t.kind === "gmac") {
      if (t.salt.length !== 4) throw new RangeError("AES-GMAC salt must be 4 bytes");
      if (t.gmac.nonceLength !== 12 || t.gmac.tagLength !== 16) {
        throw new RangeError("ESP AES-GMAC needs a 12-byte nonce and a 16-byte tag");
      }
      this.#nonce = take(12);
      this.#ivAt = 4;
      this.#nonce.set(t.salt, 0);
      this.#ivLength = 8;
      this.#icvLength = 16;
      // Nothing is encrypted: only ESP's own 4-byte alignment (RFC 4303 section 2.4).
      this.#align = 4;
      this.#mac = take(16);
      this.#gmacTo = gmacRangeOps(t.gmac);
    } else {
      this.#nonce = NO_BYTES;
      this.#ivAt = 0;
      if (t.icvLength < 12 || t.icvLength > t.integ.outputLength) {
        throw new RangeError(`ICV length ${t.icvLength} invalid for this MAC`);
      }
      this.#icvLength = t.icvLength;
      this.#mac = take(macLength);
      this.#macTo = macRangeOps(t.integ);
      if (t.kind === "cbc") {
        this.#ivLength = t.cipher.ivLength;
        this.#align = Math.max(4, t.cipher.blockSize);
        const ops = cipherRangeOps(t.cipher);
        this.#enc = ops.encrypt;
        this.#dec = ops.decrypt;
      } else if (t.kind === "ctr") {
        if (t.nonce.length !== 4) throw new RangeError("AES-CTR nonce must be 4 bytes");
        if (t.cipher.blockSize !== 1 || t.cipher.ivLength !== 16) {
          throw new RangeError("ESP AES-CTR needs an aes-ctr cipher (16-byte counter block)");
        }
        this.#counter.set(t.nonce, 0);
        this.#counter[15] = 1;
        this.#ivLength = 8;
        this.#align = 4;
        const ops = cipherRangeOps(t.cipher);
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
    const ap = cfg.alignPadding;
    if (ap !== undefined) {
      if (!Number.isInteger(ap.to) || ap.to < this.#align || ap.to > 256 || ap.to % this.#align) {
        throw new RangeError(
          `alignment padding to ${ap.to} bytes: must be a multiple of ${this.#align} up to 256`,
        );
      }
      this.#alignTo = ap.to;
      this.#alignLimit = ap.limit;
    }
  }

  /** The current UDP encapsulation ports, if any. */
  get udpEncap(): UdpEncapPorts | undefined {
    return this.#udpEncap;
  }
  /**
   * Moves the SA to new outer addresses / NAT state in place (MOBIKE, RFC
   * 4555 section 3.5 UPDATE_SA_ADDRESSES): keys, counters and the replay
   * window stay. Transport mode takes the addresses from each packet, so
   * only `udpEncap` applies there.
   */
  updateEndpoints(tunnel: TunnelEndpoints | undefined, udpEncap: UdpEncapPorts | undefined): void {
    if (this.mode === "tunnel") this.endpoints = validateTunnel(tunnel);
    this.#udpEncap = udpEncap;
    // The path MTU that bounded the alignment padding was the old path's.
    this.#alignTo = 0;
  }
  /** Bytes of ESP overhead for `payloadLength` bytes of payload (no IP/UDP header). */
  overhead(payloadLength: number): number {
    return this.#espLength(payloadLength) - payloadLength;
  }
  /**
   * An upper bound of the output of {@linkcode encapsulateInto} for an IP
   * packet of `packetLength` bytes: size the preallocated buffer with it.
   */
  requiredOutLength(packetLength: number): number {
    const inner = Math.max(packetLength, this.#tfcPadTo);
    return IPV6_HEADER + UDP_HEADER + this.#espLength(inner) + this.#alignTo;
  }

  /** Minimal ESP length (SPI .. ICV) for `payloadLength` bytes of payload. */
  #espLength(payloadLength: number): number {
    const body = payloadLength + 2;
    const padded = Math.ceil(body / this.#align) * this.#align;
    return 8 + this.#ivLength + padded + this.#icvLength;
  }

  /**
   * ESP length for `payloadLength` bytes of payload in an IP packet with
   * `headers` bytes in front of ESP: aligned ({@linkcode EspSaConfig.alignPadding})
   * when the packet then stays within the limit, else minimal.
   */
  #espLengthIn(payloadLength: number, headers: number): number {
    const min = this.#espLength(payloadLength);
    const to = this.#alignTo;
    if (to === 0) return min;
    // `to` <= 256: at most 255 bytes of padding, as RFC 4303 section 2.4 allows.
    const padded = Math.ceil((payloadLength + 2) / to) * to;
    const len = 8 + this.#ivLength + padded + this.#icvLength;
    return headers + len <= this.#alignLimit ? len : min;
  }

  /** Writes `n` random bytes to `out[at..at+n)` from the pool (no view). */
  #randomInto(out: Uint8Array, at: number, n: number): void {
    if (this.#poolPos + n > RNG_POOL) {
      if (this.#pool.length === 0) this.#pool = new Uint8Array(RNG_POOL);
      this.#rng(this.#pool);
      this.#poolPos = 0;
    }
    const pool = this.#pool;
    const p = this.#poolPos;
    for (let i = 0; i < n; i++) out[at + i] = pool[p + i];
    this.#poolPos = p + n;
  }

  #random(n: number): Uint8Array {
    if (this.#poolPos + n > RNG_POOL) {
      if (this.#pool.length === 0) this.#pool = new Uint8Array(RNG_POOL);
      this.#rng(this.#pool);
      this.#poolPos = 0;
    }
    const v = this.#pool.subarray(this.#poolPos, this.#poolPos + n);
    this.#poolPos += n;
    return v;
  }

  // ------------------------------------------------------------------ outbound

  /**
   * Writes the ESP part (SPI .. ICV), `espLen` bytes, for `payload` +
   * `extra` zero bytes of TFC padding with `nextHeader` at `out[o..)` and
   * returns its end. `espLen` comes from {@linkcode #espLength} or
   * {@linkcode #espLengthIn} for the same payload; the caller has checked the
   * space and that the sequence space is not exhausted.
   */
  #build(
    payload: Uint8Array,
    nextHeader: number,
    out: Uint8Array,
    o: number,
    extra: number,
    espLen: number,
  ): number {
    this.nextSequence();
    const hi = this.seqHi;
    const lo = this.seqLo;
    const ivLen = this.#ivLength;
    const body = payload.length + extra + 2;
    const padLen = espLen - 8 - ivLen - this.#icvLength - body;
    writeU32(out, o, this.spi);
    writeU32(out, o + 4, lo);
    const ptStart = o + 8 + ivLen;
    out.set(payload, ptStart);
    let p = ptStart + payload.length;
    if (extra > 0) {
      out.fill(0, p, p + extra);
      p += extra;
    }
    for (let i = 1; i <= padLen; i++) out[p++] = i;
    out[p++] = padLen;
    out[p++] = nextHeader;
    const ptEnd = p;
    const t = this.transform;
    if (t.kind === "aead") {
      // RFC 4106 section 3.1 / RFC 4309 section 3.1 / RFC 7634 section 2:
      // IV = 64-bit counter (our sequence number).
      writeU32(out, o + 8, hi);
      writeU32(out, o + 12, lo);
      const nonce = this.#nonce;
      const at = this.#ivAt;
      writeU32(nonce, at, hi);
      writeU32(nonce, at + 4, lo);
      this.#fillAad(hi, lo);
      this.#seal!(nonce, this.#aad, out, ptStart, ptEnd);
    } else if (t.kind === "gmac") {
      // RFC 4543 section 3.1: IV = our 64-bit sequence number, nonce = salt || IV;
      // section 3.3: the ICV is the GMAC of SPI || Seq (|| ESN) || IV || payload .. Next Header.
      writeU32(out, o + 8, hi);
      writeU32(out, o + 12, lo);
      const nonce = this.#nonce;
      writeU32(nonce, 4, hi);
      writeU32(nonce, 8, lo);
      const aad = this.#aad;
      this.#fillAad(hi, lo);
      writeU32(aad, aad.length - 8, hi);
      writeU32(aad, aad.length - 4, lo);
      this.#gmacTo!(out, ptEnd, nonce, aad, out, ptStart, ptEnd);
    } else {
      if (t.kind === "cbc") {
        this.#randomInto(out, o + 8, ivLen);
        this.#enc!(out, o + 8, out, ptStart, ptEnd);
      } else if (t.kind === "ctr") {
        // RFC 3686 section 3.1: the IV must never repeat under a key: the 64-bit sequence number.
        writeU32(out, o + 8, hi);
        writeU32(out, o + 12, lo);
        const cb = this.#counter;
        writeU32(cb, 4, hi);
        writeU32(cb, 8, lo);
        this.#enc!(cb, 0, out, ptStart, ptEnd);
      }
      this.#computeIcv(out, o, ptEnd, hi);
      const mac = this.#mac;
      for (let i = 0; i < this.#icvLength; i++) out[ptEnd + i] = mac[i];
    }
    this.stats.outPackets++;
    this.stats.outBytes += payload.length;
    return ptEnd + this.#icvLength;
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
    if (this.esn) {
      // RFC 4303 section 2.2.1: the high half is appended after the payload for the ICV.
      writeU32(this.#seqHi, 0, hi);
      this.#macTo!(this.#mac, buf, start, end, this.#seqHi);
    } else {
      this.#macTo!(this.#mac, buf, start, end, NO_BYTES);
    }
  }

  /**
   * The header-less core: SPI .. ICV for `payload` with `nextHeader`.
   * Use {@linkcode encapsulatePacket} for whole IP packets.
   */
  encapsulateEsp(payload: Uint8Array, nextHeader: number): EspOutboundResult {
    if (this.sequenceExhausted) return { ok: false, error: "sequence-exhausted" };
    const out = new Uint8Array(this.#espLength(payload.length));
    return this.outboundResult(out, this.#build(payload, nextHeader, out, 0, 0, out.length));
  }

  /**
   * A dummy packet (Next Header 59, RFC 4303 section 2.6) carrying `length`
   * bytes (random up to 1024, then zeros), wrapped in the outer header.
   * Tunnel mode only (transport mode has no outer header of its own).
   */
  encapsulateDummy(length: number): EspOutboundResult {
    if (this.mode !== "tunnel") return { ok: false, error: "wrong-family" };
    const payload = this.#random(Math.min(Math.max(0, length), 1024)).slice();
    const pad = Math.max(0, length - payload.length);
    const out = new Uint8Array(this.requiredOutLength(length));
    return this.outboundResult(out, this.#tunnelOut(payload, IPV6_NO_NEXT, 0, pad, false, out, 0));
  }

  /**
   * Hot path: encapsulates the IP packet `packet` into `out[offset..)` and
   * returns the number of bytes written, or a negative code (see
   * {@linkcode espSendError}). `out` must not overlap `packet`. Size `out`
   * with {@linkcode requiredOutLength}.
   */
  encapsulateInto(packet: Uint8Array, out: Uint8Array, offset = 0): number {
    const v = packet.length > 0 ? packet[0] >> 4 : 0;
    if (this.mode === "tunnel") {
      const info = this.#info;
      if (!innerInfoAt(packet, 0, packet.length, info)) return S_MALFORMED;
      const extra = Math.max(0, this.#tfcPadTo - info.length);
      // A TUN read is exactly one packet: trim (a new view) only when it is not.
      const inner = info.length === packet.length ? packet : packet.subarray(0, info.length);
      return this.#tunnelOut(inner, info.proto, info.tos, extra, info.df, out, offset);
    }
    if (v === 4) return this.#transport4(packet, out, offset);
    if (v === 6) return this.#transport6(packet, out, offset);
    return S_MALFORMED;
  }

  /**
   * Tunnel mode: encapsulates `payload` with ESP Next Header `nextHeader`
   * (not an IP packet of its own, e.g. an IPComp datagram holding one) into
   * `out[offset..)`; `tos` and `df` are the inner packet's, for the outer
   * header. Returns the length or a negative code as
   * {@linkcode encapsulateInto}. No TFC padding.
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
    return this.#tunnelOut(payload, nextHeader, tos, 0, df, out, offset);
  }

  #tunnelOut(
    inner: Uint8Array,
    nh: number,
    innerTos: number,
    extra: number,
    innerDf: boolean,
    out: Uint8Array,
    o: number,
  ): number {
    const t = this.endpoints!;
    const v4 = t.src.length === 4;
    const ipLen = v4 ? 20 : IPV6_HEADER;
    const udp = this.#udpEncap ? UDP_HEADER : 0;
    const total = ipLen + udp + this.#espLengthIn(inner.length + extra, ipLen + udp);
    const df = outerDf(this.outer, innerDf);
    if (this.pathMtu > 0 && total > this.pathMtu && (df || !v4)) return S_TOO_BIG;
    if (out.length - o < total) return S_SMALL;
    if (this.sequenceExhausted) return S_EXHAUSTED;
    const proto = udp ? IPPROTO_UDP : IPPROTO_ESP;
    writeOuterHeader(out, o, t.src, t.dst, proto, total, innerTos, df, this.nextIpId(), this.outer);
    this.#build(inner, nh, out, o + ipLen + udp, extra, total - ipLen - udp);
    if (udp) this.#writeUdp(out, o + ipLen, o + total, t.src, t.dst);
    return total;
  }

  /** UDP header at `off` (RFC 3948 section 2.1): checksum 0 over IPv4, computed over IPv6. */
  #writeUdp(buf: Uint8Array, off: number, end: number, src: Uint8Array, dst: Uint8Array): void {
    const u = this.#udpEncap!;
    const len = end - off;
    buf[off] = u.srcPort >> 8;
    buf[off + 1] = u.srcPort & 0xff;
    buf[off + 2] = u.dstPort >> 8;
    buf[off + 3] = u.dstPort & 0xff;
    buf[off + 4] = len >> 8;
    buf[off + 5] = len & 0xff;
    buf[off + 6] = 0;
    buf[off + 7] = 0;
    if (src.length === 16) {
      let c = internetChecksum(buf.subarray(off, end), pseudoHeaderSum(src, dst, IPPROTO_UDP, len));
      if (c === 0) c = 0xffff;
      buf[off + 6] = c >> 8;
      buf[off + 7] = c & 0xff;
    }
  }

  #transport4(packet: Uint8Array, out: Uint8Array, o: number): number {
    const ihl = ipv4HeaderLength(packet);
    if (ihl < 0) return S_MALFORMED;
    // ESP transport mode applies to whole datagrams only (RFC 4303 section 3.3.4).
    if (ipv4IsFragment(packet)) return S_FRAGMENT;
    const end = (packet[2] << 8) | packet[3];
    const udp = this.#udpEncap ? UDP_HEADER : 0;
    const total = ihl + udp + this.#espLengthIn(end - ihl, ihl + udp);
    if (this.pathMtu > 0 && total > this.pathMtu && (packet[6] & 0x40) !== 0) return S_TOO_BIG;
    if (out.length - o < total) return S_SMALL;
    if (this.sequenceExhausted) return S_EXHAUSTED;
    this.#build(packet.subarray(ihl, end), packet[9], out, o + ihl + udp, 0, total - ihl - udp);
    const pkt = out.subarray(o, o + total);
    pkt.set(packet.subarray(0, ihl), 0);
    pkt[9] = udp ? IPPROTO_UDP : IPPROTO_ESP;
    ipv4SetTotalLength(pkt, total);
    ipv4SetChecksum(pkt, ihl);
    if (udp) this.#writeUdp(pkt, ihl, total, pkt.subarray(12, 16), pkt.subarray(16, 20));
    return total;
  }

  #transport6(packet: Uint8Array, out: Uint8Array, o: number): number {
    const ip = ipv6InsertionPoint(packet);
    if (ip === null) return S_MALFORMED;
    if (ip.fragment) return S_FRAGMENT; // whole datagrams only (RFC 4303 section 3.3.4)
    const end = IPV6_HEADER + ipv6PayloadLength(packet);
    const udp = this.#udpEncap ? UDP_HEADER : 0;
    const total = ip.offset + udp + this.#espLengthIn(end - ip.offset, ip.offset + udp);
    if (this.pathMtu > 0 && total > this.pathMtu) return S_TOO_BIG;
    if (out.length - o < total) return S_SMALL;
    if (this.sequenceExhausted) return S_EXHAUSTED;
    const espAt = o + ip.offset + udp;
    this.#build(packet.subarray(ip.offset, end), ip.nextHeader, out, espAt, 0, o + total - espAt);
    const pkt = out.subarray(o, o + total);
    pkt.set(packet.subarray(0, ip.offset), 0);
    pkt[ip.nextHeaderOffset] = udp ? IPPROTO_UDP : IPPROTO_ESP;
    ipv6SetPayloadLength(pkt, total - IPV6_HEADER);
    if (udp) this.#writeUdp(pkt, ip.offset, total, pkt.subarray(8, 24), pkt.subarray(24, 40));
    return total;
  }

  // ------------------------------------------------------------------- inbound

  #ptStart = 0;

  /**
   * Result-object form of {@linkcode decapsulateEspInPlace} (ESP bytes
   * without an IP header, SPI .. ICV in `buf[start..end)`). Never throws.
   */
  decapsulateEsp(buf: Uint8Array, start = 0, end: number = buf.length): EspCoreResult {
    const n = this.decapsulateEspInPlace(buf, start, end);
    if (n < 0) return { ok: false, drop: espDropReason(n) };
    return {
      ok: true,
      payload: buf.subarray(this.lastOffset, this.lastOffset + n),
      nextHeader: this.lastNextHeader,
      seq: this.lastSeq,
    };
  }

  /** Returns the payload end (>= 0) or a negative drop code (not yet counted). */
  #inbound(buf: Uint8Array, start: number, end: number): number {
    const ivLen = this.#ivLength;
    const icvLen = this.#icvLength;
    const ptStart = start + 8 + ivLen;
    const ctEnd = end - icvLen;
    const ctLen = ctEnd - ptStart;
    if (ctLen < 2) return D_TRUNCATED;
    if (ctLen % this.#align !== 0) return D_MALFORMED;
    if (readU32(buf, start) !== this.spi) return D_UNKNOWN_SPI;
    const seqLow = readU32(buf, start + 4);
    const hi = this.checkSequence(seqLow);
    if (hi < 0) return hi;
    const t = this.transform;
    if (t.kind === "aead") {
      const nonce = this.#nonce;
      const at = this.#ivAt;
      for (let i = 0; i < 8; i++) nonce[at + i] = buf[start + 8 + i];
      this.#fillAad(hi, seqLow);
      if (!this.#open!(nonce, this.#aad, buf, ptStart, end)) return D_ICV;
    } else if (t.kind === "gmac") {
      const nonce = this.#nonce;
      const aad = this.#aad;
      this.#fillAad(hi, seqLow);
      const ivAt = aad.length - 8;
      for (let i = 0; i < 8; i++) {
        const b = buf[start + 8 + i];
        nonce[4 + i] = b;
        aad[ivAt + i] = b;
      }
      this.#gmacTo!(this.#mac, 0, nonce, aad, buf, ptStart, ctEnd);
      if (!icvEqual(this.#mac, buf, ctEnd, icvLen)) return D_ICV;
    } else {
      this.#computeIcv(buf, start, ctEnd, hi);
      if (!icvEqual(this.#mac, buf, ctEnd, icvLen)) return D_ICV;
    }
    // Authenticated: only now may the window move (RFC 4303 section 3.4.3).
    if (!this.acceptSequence(hi, seqLow)) return dropCode("replay-duplicate");
    if (t.kind === "cbc") {
      this.#dec!(buf, start + 8, buf, ptStart, ctEnd);
    } else if (t.kind === "ctr") {
      const cb = this.#counter;
      for (let i = 0; i < 8; i++) cb[4 + i] = buf[start + 8 + i];
      this.#dec!(cb, 0, buf, ptStart, ctEnd);
    }
    const padLen = buf[ctEnd - 2];
    const nh = buf[ctEnd - 1];
    const payEnd = ctEnd - 2 - padLen;
    if (payEnd < ptStart) return D_PADDING;
    // Default padding is 1, 2, 3, ... (RFC 4303 section 2.4); the receiver checks it.
    for (let i = 0; i < padLen; i++) if (buf[payEnd + i] !== i + 1) return D_PADDING;
    this.stats.inPackets++;
    this.stats.inBytes += payEnd - ptStart;
    if (nh === IPV6_NO_NEXT) return D_DUMMY;
    this.#ptStart = ptStart;
    this.lastNextHeader = nh;
    return payEnd;
  }

  /** Tunnel mode: the inner packet at `p[ptStart..end)`, TFC padding trimmed by its own length. */
  #tunnelInner(p: Uint8Array, ptStart: number, end: number, nh: number): number {
    if (nh === this.passNextHeader) {
      this.lastOffset = ptStart;
      return end - ptStart;
    }
    if (nh !== IPPROTO_IPIP && nh !== IPPROTO_IPV6) return D_NEXT_HEADER;
    const info = this.#info;
    if (!innerInfoAt(p, ptStart, end, info) || info.proto !== nh) return D_MALFORMED;
    this.lastOffset = ptStart;
    return info.length;
  }

  /**
   * Hot path for ESP bytes without an IP header (SPI .. ICV in
   * `buf[start..end)`, e.g. the payload of a UDP/4500 socket read): verifies
   * and decrypts in place. Returns the length of the result at
   * {@linkcode lastOffset} (tunnel mode: the inner IP packet, TFC padding
   * trimmed; transport mode: the upper-layer payload, whose protocol is
   * {@linkcode lastNextHeader}) or a counted negative drop code. Never throws.
   */
  decapsulateEspInPlace(buf: Uint8Array, start = 0, end: number = buf.length): number {
    let r: number;
    try {
      r = this.#inbound(buf, start, end);
      if (r >= 0 && this.mode === "tunnel") {
        r = this.#tunnelInner(buf, this.#ptStart, r, this.lastNextHeader);
      } else if (r >= 0) {
        this.lastOffset = this.#ptStart;
        r -= this.#ptStart;
      }
    } catch {
      r = D_INTERNAL;
    }
    if (r < 0) this.stats.drops[espDropReason(r)]++;
    return r;
  }

  /**
   * Processes a whole received IP packet carrying ESP (directly or in UDP
   * per RFC 3948) in place: see {@linkcode decapsulateInPlace}.
   */
  protected decapsulate(p: Uint8Array, start: number, packetEnd: number): number {
    // 1. Locate ESP behind the outer header (and UDP header) in p[start..packetEnd).
    const loc = locateIpsecInto(p, IPPROTO_ESP, this.#loc, start, packetEnd);
    if (loc.error !== null) return dropCode(loc.error);
    // 2. Verify, update the window, decrypt.
    const r = this.#inbound(p, loc.espOffset, loc.end);
    if (r < 0) return r;
    const ptStart = this.#ptStart;
    const nh = this.lastNextHeader;
    if (this.mode === "tunnel") return this.#tunnelInner(p, ptStart, r, nh);
    // 3p. Transport: move the outer header next to the payload and fix it up.
    const hdrLen = loc.headerLength;
    const newStart = ptStart - hdrLen;
    p.copyWithin(newStart, start, start + hdrLen);
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
      if (!fixTransportChecksum(seg, nh, src, dst)) return D_MALFORMED;
    }
    this.lastOffset = newStart;
    return out.length;
  }
}

/** Where ESP starts inside a received IP packet. */
export type EspLocation = IpsecLocation;

/**
 * Finds the ESP header in an IPv4/IPv6 packet, directly (protocol 50) or
 * inside UDP with a non-zero first word (RFC 3948). Never throws; used by
 * the data plane to read the SPI before the SAD lookup.
 *
 * @example
 * ```ts
 * const loc = locateEsp(packet);
 * const entry = loc.error === null ? sad.lookupInbound(loc.spi, "esp") : undefined;
 * ```
 */
export function locateEsp(p: Uint8Array): EspLocation {
  return locateIpsec(p, IPPROTO_ESP);
}
