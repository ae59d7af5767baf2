/**
 * Security Association payload (RFC 7296 section 3.3).
 *
 * ```
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Next Payload  |C|  RESERVED   |         Payload Length        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                          <Proposals>                          ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Proposal substructure (section 3.3.1):
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Last Substruc |   RESERVED    |         Proposal Length       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Proposal Num  |  Protocol ID  |    SPI Size   |Num  Transforms|
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                        SPI (variable)                         ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                        <Transforms>                           ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Transform substructure (section 3.3.2):
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Last Substruc |   RESERVED    |        Transform Length       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |Transform Type |   RESERVED    |          Transform ID         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                      Transform Attributes                     ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Transform attribute (section 3.3.5), AF=1 is TV, AF=0 is TLV:
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |A|       Attribute Type        |    AF=0  Attribute Length     |
 * |F|                             |    AF=1  Attribute Value      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                   AF=0  Attribute Value                       |
 * |                   AF=1  Not Transmitted                       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * @module
 */
import type { Reader } from "../../wire/reader.ts";
import type { Writer } from "../../wire/writer.ts";
import { PayloadType, ProtocolId, TransformAttributeType } from "../constants.ts";
import type { PayloadBase } from "./_base.ts";

/** Last Substruc value for "more proposals follow". */
const MORE_PROPOSALS = 2;
/** Last Substruc value for "more transforms follow". */
const MORE_TRANSFORMS = 3;

/**
 * One transform attribute. A numeric `value` is sent in TV format (AF=1,
 * 16-bit value, e.g. Key Length); a byte `value` in TLV format (AF=0).
 */
export interface TransformAttribute {
  /** Attribute type without the AF bit (15 bits), e.g. 14 = Key Length. */
  type: number;
  /** TV value (0..65535) or TLV value bytes. */
  value: number | Uint8Array;
}

/** One transform substructure. */
export interface Transform {
  /** Transform type 1..5 (see {@linkcode TransformType}). */
  type: number;
  /** Transform ID (IANA, registry in lib/crypto). */
  id: number;
  /** Attributes in wire order (usually empty or one Key Length). */
  attributes: TransformAttribute[];
}

/** One proposal substructure. */
export interface Proposal {
  /** Proposal Num (1-based). */
  num: number;
  /** Protocol ID: 1 IKE, 2 AH, 3 ESP. */
  protocolId: number;
  /** SPI: 0 bytes (IKE_SA_INIT), 4 bytes (AH/ESP) or 8 bytes (IKE SA rekey). */
  spi: Uint8Array;
  /** Transforms in wire order. */
  transforms: Transform[];
}

/** A decoded SA payload. */
export interface SaPayload extends PayloadBase {
  /** Payload type (the union discriminant). */
  type: typeof PayloadType.SA;
  /** Proposals in wire order. */
  proposals: Proposal[];
}

/**
 * Decodes the SA payload body (everything after the generic header).
 * Checks Last Substruc values, lengths, Num Transforms and SPI size (IKE 0
 * or 8, AH/ESP 4, others 0/4/8).
 */
export function decodeSa(r: Reader): SaPayload {
  const proposals: Proposal[] = [];
  let last = false;
  while (!last) {
    if (r.remaining === 0) {
      r.fail(proposals.length === 0 ? "SA payload has no proposals" : "missing last proposal");
    }
    const lastSub = r.u8();
    if (lastSub !== 0 && lastSub !== MORE_PROPOSALS) {
      r.fail(`proposal Last Substruc must be 0 or 2, got ${lastSub}`);
    }
    last = lastSub === 0;
    r.skip(1); // RESERVED
    const len = r.u16();
    if (len < 8) r.fail(`proposal length ${len} < 8`);
    const p = r.sub(len - 4, "SA/Proposal");
    const num = p.u8();
    const protocolId = p.u8();
    const spiSize = p.u8();
    const numTransforms = p.u8();
    if (spiSize !== 0 && spiSize !== 4 && spiSize !== 8) {
      p.fail(`proposal SPI size must be 0, 4 or 8, got ${spiSize}`);
    }
    // RFC 7296 section 3.3.1: IKE SPIs are 0 (IKE_SA_INIT) or 8 (rekey), AH/ESP SPIs 4.
    if (protocolId === ProtocolId.IKE && spiSize === 4) {
      p.fail("IKE proposal with a 4-byte SPI (must be 0 or 8)");
    }
    if ((protocolId === ProtocolId.AH || protocolId === ProtocolId.ESP) && spiSize !== 4) {
      p.fail(`AH/ESP proposal needs a 4-byte SPI, got ${spiSize}`);
    }
    const spi = p.bytes(spiSize).slice();
    const transforms: Transform[] = [];
    if (numTransforms === 0) p.fail("proposal has no transforms");
    let lastT = false;
    while (!lastT) {
      const tLast = p.u8();
      if (tLast !== 0 && tLast !== MORE_TRANSFORMS) {
        p.fail(`transform Last Substruc must be 0 or 3, got ${tLast}`);
      }
      lastT = tLast === 0;
      p.skip(1);
      const tLen = p.u16();
      if (tLen < 8) p.fail(`transform length ${tLen} < 8`);
      const t = p.sub(tLen - 4, "SA/Proposal/Transform");
      const type = t.u8();
      t.skip(1);
      const id = t.u16();
      const attributes: TransformAttribute[] = [];
      while (t.remaining > 0) {
        const a = t.u16();
        const aType = a & 0x7fff;
        if (a & 0x8000) {
          attributes.push({ type: aType, value: t.u16() });
        } else {
          const aLen = t.u16();
          attributes.push({ type: aType, value: t.bytes(aLen).slice() });
        }
      }
      transforms.push({ type, id, attributes });
      if (!lastT && p.remaining === 0) p.fail("transform Last Substruc says more, none follow");
    }
    if (transforms.length !== numTransforms) {
      p.fail(`Num Transforms is ${numTransforms}, found ${transforms.length}`);
    }
    p.end();
    proposals.push({ num, protocolId, spi, transforms });
  }
  r.end();
  return { type: PayloadType.SA, proposals };
}

/** Encodes the SA payload body. Throws RangeError on values that do not fit. */
export function encodeSa(w: Writer, p: SaPayload): void {
  if (p.proposals.length === 0) throw new RangeError("SA payload needs at least one proposal");
  p.proposals.forEach((prop, i) => {
    const start = w.length;
    w.u8(i === p.proposals.length - 1 ? 0 : MORE_PROPOSALS).u8(0);
    const lenPos = w.reserve16();
    if (prop.transforms.length > 255) throw new RangeError("too many transforms");
    w.u8(prop.num).u8(prop.protocolId).u8(prop.spi.length).u8(prop.transforms.length);
    w.bytes(prop.spi);
    prop.transforms.forEach((t, j) => {
      const tStart = w.length;
      w.u8(j === prop.transforms.length - 1 ? 0 : MORE_TRANSFORMS).u8(0);
      const tLenPos = w.reserve16();
      w.u8(t.type).u8(0).u16(t.id);
      for (const a of t.attributes) {
        if (typeof a.value === "number") {
          w.u16(0x8000 | a.type).u16(a.value);
        } else {
          w.u16(a.type & 0x7fff).u16(a.value.length).bytes(a.value);
        }
      }
      w.patch16(tLenPos, w.length - tStart);
    });
    w.patch16(lenPos, w.length - start);
  });
}

/** Builds a transform, with a Key Length attribute (bits) when given. */
export function makeTransform(type: number, id: number, keyLengthBits?: number): Transform {
  return {
    type,
    id,
    attributes: keyLengthBits === undefined
      ? []
      : [{ type: TransformAttributeType.KEY_LENGTH, value: keyLengthBits }],
  };
}

/** The Key Length attribute of a transform in bits, or undefined when absent. */
export function transformKeyLength(t: Transform): number | undefined {
  for (const a of t.attributes) {
    if (a.type === TransformAttributeType.KEY_LENGTH && typeof a.value === "number") {
      return a.value;
    }
  }
  return undefined;
}

/** SPI bytes (any length up to 8) as a bigint; empty -> 0n. */
export function spiFromBytes(b: Uint8Array): bigint {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}

/** A bigint SPI as `size` big-endian bytes. Throws RangeError if it does not fit. */
export function spiToBytes(spi: bigint, size: number): Uint8Array {
  if (spi < 0n || spi >> BigInt(8 * size) !== 0n) {
    throw new RangeError(`SPI ${spi} does not fit in ${size} byte(s)`);
  }
  const out = new Uint8Array(size);
  let v = spi;
  for (let i = size - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}
