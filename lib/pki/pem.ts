/**
 * PEM armour (RFC 7468): decode any number of `-----BEGIN X-----` blocks, or
 * encode DER as one block. Input that is not PEM is treated as DER.
 *
 * @module
 */
import { PkiError } from "./pki_error.ts";

/** One decoded object: its PEM label (`null` for DER input) and its DER bytes. */
export interface PemBlock {
  label: string | null;
  der: Uint8Array;
}

const BEGIN = /-----BEGIN ([A-Z0-9 ]+)-----/g;

/** True when `bytes` look like PEM text (a BEGIN line, possibly after text). */
export function isPem(bytes: Uint8Array): boolean {
  const head = new TextDecoder("latin1").decode(bytes.subarray(0, 64 * 1024));
  return head.includes("-----BEGIN ");
}

/**
 * Decodes every PEM block in `text`, in order. Throws {@linkcode PkiError}
 * when a block is unterminated or its base64 is corrupt.
 *
 * @example
 * ```ts
 * const [{ label, der }] = decodePem(Deno.readTextFileSync("ca.pem"));
 * ```
 */
export function decodePem(text: string, what = "input"): PemBlock[] {
  const out: PemBlock[] = [];
  for (const m of text.matchAll(BEGIN)) {
    const label = m[1];
    const start = m.index! + m[0].length;
    const endMarker = `-----END ${label}-----`;
    const end = text.indexOf(endMarker, start);
    if (end < 0) throw new PkiError(`${what}: PEM block '${label}' has no END line`);
    const body = text.slice(start, end).split(/\r?\n/).filter((l) => !l.includes(":")).join("")
      .replace(/\s+/g, "");
    let bin: string;
    try {
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw new Error("bad alphabet");
      bin = atob(body);
    } catch {
      throw new PkiError(`${what}: PEM block '${label}' has corrupt base64`);
    }
    if (bin.length === 0) throw new PkiError(`${what}: PEM block '${label}' is empty`);
    const der = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) der[i] = bin.charCodeAt(i);
    out.push({ label, der });
  }
  return out;
}

/**
 * Reads a file's bytes as PEM blocks, or as one DER object when it is not PEM.
 * Throws {@linkcode PkiError} for empty input or PEM text without blocks.
 */
export function readBlocks(bytes: Uint8Array, what = "input"): PemBlock[] {
  if (bytes.length === 0) throw new PkiError(`${what}: empty input`);
  if (isPem(bytes)) {
    const blocks = decodePem(new TextDecoder().decode(bytes), what);
    if (blocks.length === 0) throw new PkiError(`${what}: no PEM block found`);
    return blocks;
  }
  if (bytes[0] !== 0x30) {
    throw new PkiError(`${what}: neither PEM nor DER (does not start with an ASN.1 SEQUENCE)`);
  }
  return [{ label: null, der: bytes }];
}

/**
 * Encodes `der` as a PEM block with 64-character lines.
 *
 * @example
 * ```ts
 * encodePem("CERTIFICATE", der); // "-----BEGIN CERTIFICATE-----\n..."
 * ```
 */
export function encodePem(label: string, der: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < der.length; i++) bin += String.fromCharCode(der[i]);
  const b64 = btoa(bin);
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}
