/**
 * Private to lib/crypto: the few DER pieces signature.ts needs to build and
 * read X.509 AlgorithmIdentifiers (RFC 5280 section 4.1.1.2, RFC 4055 for
 * RSASSA-PSS parameters). Definite lengths only; every read is bounds-checked
 * and fails with {@link CryptoError}.
 *
 * @module
 */
import { concat, fromHex, toHex } from "../wire/bytes.ts";
import { CryptoError } from "./types.ts";

/** DER tags used here. */
export const Tag = {
  INTEGER: 0x02,
  NULL: 0x05,
  OID: 0x06,
  SEQUENCE: 0x30,
  /** [n] EXPLICIT, constructed. */
  context: (n: number): number => 0xa0 | n,
} as const;

/** One decoded TLV. */
export interface Der {
  /** The single-byte tag. */
  readonly tag: number;
  /** The value bytes (a view into the input). */
  readonly value: Uint8Array;
  /** Offset just past this TLV in the input. */
  readonly end: number;
}

/** Encodes one TLV with a DER (minimal) length. */
export function derTlv(tag: number, ...content: Uint8Array[]): Uint8Array {
  const v = concat(...content);
  const n = v.length;
  let len: Uint8Array;
  if (n < 0x80) len = Uint8Array.of(n);
  else if (n < 0x100) len = Uint8Array.of(0x81, n);
  else if (n < 0x10000) len = Uint8Array.of(0x82, n >> 8, n & 0xff);
  else throw new CryptoError(`DER value too long (${n} bytes)`);
  return concat(Uint8Array.of(tag), len, v);
}

/** Encodes an OBJECT IDENTIFIER from the hex of its content octets. */
export function derOid(contentHex: string): Uint8Array {
  return derTlv(Tag.OID, fromHex(contentHex));
}

/** Encodes a small non-negative INTEGER. */
export function derSmallInt(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0x7fff) throw new CryptoError(`bad DER integer ${n}`);
  return derTlv(Tag.INTEGER, n < 0x80 ? Uint8Array.of(n) : Uint8Array.of(n >> 8, n & 0xff));
}

/**
 * Reads one TLV at `offset` of `buf` (single-byte tags, definite lengths of
 * at most 2 length bytes, minimal encoding). `what` names the structure for
 * error messages.
 */
export function readDer(buf: Uint8Array, offset: number, what: string): Der {
  const fail = (why: string): never => {
    throw new CryptoError(`malformed ${what}: ${why} at offset ${offset}`);
  };
  if (offset + 2 > buf.length) fail("truncated header");
  const tag = buf[offset];
  if ((tag & 0x1f) === 0x1f) fail("multi-byte tag");
  let len = buf[offset + 1];
  let p = offset + 2;
  if (len & 0x80) {
    const nb = len & 0x7f;
    if (nb === 0 || nb > 2) fail("unsupported length form");
    if (p + nb > buf.length) fail("truncated length");
    len = 0;
    for (let i = 0; i < nb; i++) len = (len << 8) | buf[p + i];
    if (len < 0x80 || (nb === 2 && len < 0x100)) fail("non-minimal length");
    p += nb;
  }
  if (p + len > buf.length) fail(`length ${len} exceeds the ${buf.length - p} bytes left`);
  return { tag, value: buf.subarray(p, p + len), end: p + len };
}

/** Reads all TLVs that make up `value` (the content of a SEQUENCE). */
export function readDerSequence(value: Uint8Array, what: string): Der[] {
  const out: Der[] = [];
  for (let o = 0; o < value.length;) {
    const d = readDer(value, o, what);
    out.push(d);
    o = d.end;
  }
  return out;
}

/** Hex of an OID's content octets (for table lookups). */
export function oidHex(d: Der, what: string): string {
  if (d.tag !== Tag.OID || d.value.length === 0) {
    throw new CryptoError(`malformed ${what}: expected an OBJECT IDENTIFIER`);
  }
  return toHex(d.value);
}

/** Value of a small non-negative INTEGER. */
export function readSmallInt(d: Der, what: string): number {
  if (d.tag !== Tag.INTEGER || d.value.length === 0 || d.value.length > 2 || d.value[0] & 0x80) {
    throw new CryptoError(`malformed ${what}: expected a small INTEGER`);
  }
  let n = 0;
  for (const b of d.value) n = (n << 8) | b;
  return n;
}
