/**
 * IKE identities as semantic values (type + printable value), parsed like
 * strongSwan's identification strings and converted to and from the IKEv2
 * Identification payload (ID type number + data, RFC 7296 section 3.5).
 *
 * strongSwan-compatible parsing of a string:
 * - explicit prefixes: `fqdn:`, `email:` / `rfc822:` / `userfqdn:`, `dn:` /
 *   `asn1dn:`, `keyid:` (hex), `ipv4:`, `ipv6:`
 * - `@#0a0b` is a KEY_ID in hex, `@@alice@example.com` an RFC 822 address,
 *   `@vpn.example.com` an FQDN (the `@` only forces the type)
 * - an IP address is ID_IPV4_ADDR / ID_IPV6_ADDR
 * - `C=CH, O=Example, CN=gw` (contains `=`) is a distinguished name
 * - anything with `@` is an RFC 822 address, the rest an FQDN
 * - `%any` (or `*`) is the wildcard identity
 *
 * @module
 */

import "reflect-metadata";
import { Name } from "@peculiar/x509";
import { equalBytes, fromHex, toHex } from "../wire/bytes.ts";
import { formatIp, ipFromBytes, ipToBytes, parseIpv4, parseIpv6 } from "./address.ts";

/** Identity types. `any` is the `%any` wildcard (never sent on the wire). */
export type IdentityType = "fqdn" | "rfc822" | "ipv4" | "ipv6" | "dn" | "keyid" | "any";

/**
 * A semantic identity. `value` is canonical: lower-case for fqdn/rfc822
 * (compared case-insensitively), the normalized DN string for dn, lower-case
 * hex for keyid, the canonical address text for ipv4/ipv6, "" for any.
 */
export interface Identity {
  readonly type: IdentityType;
  readonly value: string;
}

/** IKEv2 ID payload types (IANA), re-stated here so lib/db stays independent of lib/ikev2. */
export const ID_TYPE: Readonly<Record<Exclude<IdentityType, "any">, number>> = {
  ipv4: 1,
  fqdn: 2,
  rfc822: 3,
  ipv6: 5,
  dn: 9,
  keyid: 11,
};

/** Error from identity parsing. */
export class IdentityError extends Error {
  override readonly name = "IdentityError";
}

const DN_KEYS = new Set([
  "C",
  "ST",
  "L",
  "O",
  "OU",
  "CN",
  "SN",
  "SERIALNUMBER",
  "DC",
  "E",
  "EMAIL",
  "EMAILADDRESS",
  "T",
  "TITLE",
  "G",
  "GN",
  "I",
  "UID",
  "STREET",
  "POSTALCODE",
  "PSEUDONYM",
]);

const DN_ALIASES: Record<string, string> = {
  EMAIL: "E",
  EMAILADDRESS: "E",
  SERIALNUMBER: "serialNumber",
  TITLE: "T",
  GN: "G",
  STREET: "street",
  POSTALCODE: "postalCode",
};

function splitDn(text: string): [string, string][] {
  const out: [string, string][] = [];
  // RDNs separated by ',' or '/' (leading '/' allowed, as in OpenSSL's form).
  const t = text.trim().replace(/^\//, "");
  const sep = t.includes(",") ? /\s*,\s*/ : /\s*\/\s*/;
  for (const part of t.split(sep)) {
    const eq = part.indexOf("=");
    if (eq <= 0) throw new IdentityError(`expected KEY=value in distinguished name, got '${part}'`);
    const k = part.slice(0, eq).trim().toUpperCase();
    const v = part.slice(eq + 1).trim();
    if (!DN_KEYS.has(k)) {
      throw new IdentityError(
        `unknown distinguished name attribute '${part.slice(0, eq).trim()}': expected one of ${
          [...DN_KEYS].join(", ")
        }`,
      );
    }
    if (v === "") throw new IdentityError(`empty value for '${k}' in distinguished name`);
    out.push([DN_ALIASES[k] ?? k, v]);
  }
  return out;
}

function dnName(text: string): Name {
  const parts = splitDn(text);
  return new Name(parts.map(([k, v]) => `${k}=${v.replace(/([,+"\\<>;])/g, "\\$1")}`).join(", "));
}

/**
 * Parses an identity string like strongSwan does (see module docs).
 * Throws {@link IdentityError} with what was expected.
 *
 * @example
 * ```ts
 * parseIdentity("C=CH, O=Example, CN=gw"); // { type: "dn", value: "C=CH, O=Example, CN=gw" }
 * parseIdentity("@#0a0b"); // { type: "keyid", value: "0a0b" }
 * ```
 */
export function parseIdentity(text: string): Identity {
  const t = text.trim();
  if (t === "") throw new IdentityError("empty identity");
  if (t === "%any" || t === "*" || t === "%any6") return { type: "any", value: "" };
  const pre = /^([a-zA-Z0-9]+):(.*)$/s.exec(t);
  if (pre) {
    const kind = pre[1].toLowerCase();
    const rest = pre[2].trim();
    switch (kind) {
      case "fqdn":
        return fqdn(rest);
      case "email":
      case "rfc822":
      case "userfqdn":
        return { type: "rfc822", value: rest.toLowerCase() };
      case "dn":
      case "asn1dn":
        return dn(rest);
      case "keyid":
        return keyid(rest.replace(/^#/, ""));
      case "ipv4": {
        const v = parseIpv4(rest);
        if (v === undefined) throw new IdentityError(`expected an IPv4 address, got '${rest}'`);
        return { type: "ipv4", value: formatIp({ version: 4, value: v }) };
      }
      case "ipv6": {
        const v = parseIpv6(rest);
        if (v === undefined) throw new IdentityError(`expected an IPv6 address, got '${rest}'`);
        return { type: "ipv6", value: formatIp({ version: 6, value: v }) };
      }
      default:
        // Not a prefix (e.g. an IPv6 address "fe80::1" never matches ^[a-z0-9]+: with ::
        // handled below); fall through to the heuristics.
        break;
    }
  }
  if (t.startsWith("@#")) return keyid(t.slice(2));
  if (t.startsWith("@@")) return { type: "rfc822", value: t.slice(2).toLowerCase() };
  if (t.startsWith("@")) return fqdn(t.slice(1));
  const v4 = parseIpv4(t);
  if (v4 !== undefined) return { type: "ipv4", value: formatIp({ version: 4, value: v4 }) };
  const v6 = t.includes(":") ? parseIpv6(t) : undefined;
  if (v6 !== undefined) return { type: "ipv6", value: formatIp({ version: 6, value: v6 }) };
  if (t.includes("=")) return dn(t);
  if (t.includes("@")) return { type: "rfc822", value: t.toLowerCase() };
  return fqdn(t);
}

function fqdn(s: string): Identity {
  if (s === "" || /\s/.test(s)) throw new IdentityError(`expected a DNS name, got '${s}'`);
  return { type: "fqdn", value: s.toLowerCase().replace(/\.$/, "") };
}

function keyid(hex: string): Identity {
  try {
    return { type: "keyid", value: toHex(fromHex(hex.replace(/^0x/i, ""))) };
  } catch {
    throw new IdentityError(`expected a key id in hex (e.g. @#0a0b), got '${hex}'`);
  }
}

function dn(s: string): Identity {
  return { type: "dn", value: dnName(s).toString() };
}

/** Prints an identity the way {@link parseIdentity} reads it back. */
export function formatIdentity(id: Identity): string {
  switch (id.type) {
    case "any":
      return "%any";
    case "keyid":
      return `@#${id.value}`;
    case "fqdn":
      return id.value.includes("=") || /^[0-9.:]+$/.test(id.value) ? `fqdn:${id.value}` : id.value;
    case "rfc822":
      return id.value.includes("@") ? id.value : `email:${id.value}`;
    default:
      return id.value;
  }
}

/**
 * Encodes an identity as an IKEv2 ID payload body (type number + data).
 * DN is DER (via @peculiar/x509's Name). Throws for `any`.
 */
export function identityToPayload(id: Identity): { idType: number; data: Uint8Array } {
  switch (id.type) {
    case "any":
      throw new IdentityError("%any cannot be sent as an identity");
    case "ipv4":
    case "ipv6": {
      const v = id.type === "ipv4" ? parseIpv4(id.value) : parseIpv6(id.value);
      if (v === undefined) throw new IdentityError(`bad address identity '${id.value}'`);
      const data = id.type === "ipv4"
        ? ipToBytes({ version: 4, value: v as number })
        : ipToBytes({ version: 6, value: v as bigint });
      return { idType: ID_TYPE[id.type], data };
    }
    case "fqdn":
    case "rfc822":
      return { idType: ID_TYPE[id.type], data: new TextEncoder().encode(id.value) };
    case "dn":
      return { idType: ID_TYPE.dn, data: dnToDer(id.value) };
    case "keyid":
      return { idType: ID_TYPE.keyid, data: fromHex(id.value) };
  }
}

/**
 * Decodes an IKEv2 ID payload body. Unknown or malformed data throws
 * {@link IdentityError}.
 */
export function identityFromPayload(idType: number, data: Uint8Array): Identity {
  switch (idType) {
    case ID_TYPE.ipv4:
    case ID_TYPE.ipv6: {
      if (data.length !== (idType === ID_TYPE.ipv4 ? 4 : 16)) {
        throw new IdentityError(`ID type ${idType} needs ${idType === 1 ? 4 : 16} bytes`);
      }
      const a = ipFromBytes(data);
      return { type: a.version === 4 ? "ipv4" : "ipv6", value: formatIp(a) };
    }
    case ID_TYPE.fqdn:
    case ID_TYPE.rfc822: {
      let s: string;
      try {
        s = new TextDecoder("utf-8", { fatal: true }).decode(data);
      } catch {
        throw new IdentityError("identity is not valid UTF-8");
      }
      return { type: idType === ID_TYPE.fqdn ? "fqdn" : "rfc822", value: s.toLowerCase() };
    }
    case ID_TYPE.dn:
      return { type: "dn", value: dnFromDer(data) };
    case ID_TYPE.keyid:
      return { type: "keyid", value: toHex(data) };
    default:
      throw new IdentityError(`unsupported ID type ${idType}`);
  }
}

/** DER encoding of a DN string. */
export function dnToDer(text: string): Uint8Array {
  return new Uint8Array(dnName(text).toArrayBuffer());
}

/** DN string of a DER-encoded Name. */
export function dnFromDer(der: Uint8Array): string {
  try {
    return new Name(new Uint8Array(der)).toString();
  } catch (e) {
    throw new IdentityError(`malformed DER distinguished name: ${(e as Error).message}`);
  }
}

/** RDNs of a DN value as [attribute, value] pairs, in order. */
export function dnParts(value: string): [string, string][] {
  return splitDn(value).map(([k, v]) => [k.toUpperCase(), v]);
}

/** Exact identity equality (`any` equals only `any`). */
export function identityEquals(a: Identity, b: Identity): boolean {
  if (a.type !== b.type) return false;
  if (a.type === "dn") return equalBytes(dnToDer(a.value), dnToDer(b.value));
  return a.value === b.value;
}

// ---------------------------------------------------------------------------
// Patterns (PAD peer ID entries and SPD Name selectors)

/**
 * A pattern over identities, for PAD entries and named SPD entries
 * (RFC 4301 section 4.4.3.1): DNS name exact or subtree (`*.example.com`),
 * DN exact or subtree (`C=CH, O=Example, *`, or `*` as an RDN value),
 * RFC 822 full or by domain (`*@example.com`, `@example.com` after `email:`),
 * IPv4/IPv6 address range (prefix or `a-b`), KEY_ID exact, or `%any`.
 */
export type IdentityPattern =
  | { readonly type: "any" }
  | { readonly type: "fqdn"; readonly name: string; readonly subtree: boolean }
  | { readonly type: "rfc822"; readonly address: string }
  | { readonly type: "rfc822-domain"; readonly domain: string }
  | { readonly type: "dn"; readonly rdns: readonly [string, string][]; readonly subtree: boolean }
  | {
    readonly type: "address";
    readonly version: 4 | 6;
    readonly start: bigint;
    readonly end: bigint;
    /** Text as written, for printing. */
    readonly text: string;
  }
  | { readonly type: "keyid"; readonly hex: string };

/**
 * Parses an identity pattern (see {@link IdentityPattern}); a plain identity
 * is an exact pattern.
 *
 * @example
 * ```ts
 * parseIdentityPattern("*.example.com"); // { type: "fqdn", name: "example.com", subtree: true }
 * ```
 */
export function parseIdentityPattern(text: string): IdentityPattern {
  const t = text.trim();
  if (t === "%any" || t === "*" || t === "%any6") return { type: "any" };
  const fq = /^(?:fqdn:)?\*\.(.+)$/i.exec(t);
  if (fq) return { type: "fqdn", name: fqdn(fq[1]).value, subtree: true };
  const dom = /^(?:(?:email|rfc822|userfqdn):)?\*?@([^@]+)$/i.exec(t);
  if (dom && (t.includes("*@") || /^(email|rfc822|userfqdn):@/i.test(t))) {
    return { type: "rfc822-domain", domain: dom[1].toLowerCase() };
  }
  const addr = /^(?:(?:ipv4|ipv6|addr):)?([0-9a-fA-F.:]+)(?:\/([0-9]{1,3})|-([0-9a-fA-F.:]+))$/
    .exec(t);
  if (addr) {
    const a = parseAddr(addr[1]);
    if (a) {
      if (addr[2] !== undefined) {
        const bits = a.version === 4 ? 32 : 128;
        const len = Number(addr[2]);
        if (len > bits) throw new IdentityError(`prefix length ${len} too long in '${t}'`);
        const host = (1n << BigInt(bits - len)) - 1n;
        return {
          type: "address",
          version: a.version,
          start: a.v & ~host,
          end: a.v | host,
          text: t,
        };
      }
      const b = parseAddr(addr[3]!);
      if (!b || b.version !== a.version || b.v < a.v) {
        throw new IdentityError(`expected an address range like 10.0.0.1-10.0.0.9, got '${t}'`);
      }
      return { type: "address", version: a.version, start: a.v, end: b.v, text: t };
    }
  }
  // DN with wildcards: "C=CH, O=Example, *" (subtree) or "CN=*".
  const dnText = t.replace(/^(?:dn|asn1dn):/i, "");
  if (dnText.includes("=") && !/^(fqdn|email|rfc822|userfqdn|keyid):/i.test(t)) {
    let body = dnText.trim();
    let subtree = false;
    const m = /^(.*?)[,/]\s*\*$/.exec(body);
    if (m) {
      subtree = true;
      body = m[1];
    }
    const rdns = splitDn(body).map(([k, v]) => [k.toUpperCase(), v] as [string, string]);
    return { type: "dn", rdns, subtree };
  }
  const id = parseIdentity(t);
  switch (id.type) {
    case "any":
      return { type: "any" };
    case "fqdn":
      return { type: "fqdn", name: id.value, subtree: false };
    case "rfc822":
      return { type: "rfc822", address: id.value };
    case "dn":
      return { type: "dn", rdns: dnParts(id.value), subtree: false };
    case "keyid":
      return { type: "keyid", hex: id.value };
    case "ipv4":
    case "ipv6": {
      const a = parseAddr(id.value)!;
      return { type: "address", version: a.version, start: a.v, end: a.v, text: id.value };
    }
  }
}

function parseAddr(s: string): { version: 4 | 6; v: bigint } | undefined {
  const v4 = parseIpv4(s);
  if (v4 !== undefined) return { version: 4, v: BigInt(v4) };
  const v6 = parseIpv6(s);
  return v6 === undefined ? undefined : { version: 6, v: v6 };
}

/**
 * Whether an authenticated identity matches a pattern.
 *
 * @example
 * ```ts
 * identityMatches(parseIdentityPattern("*.example.com"), parseIdentity("vpn.example.com")); // true
 * ```
 */
export function identityMatches(p: IdentityPattern, id: Identity): boolean {
  switch (p.type) {
    case "any":
      return true;
    case "fqdn":
      if (id.type !== "fqdn") return false;
      return p.subtree ? id.value.endsWith(`.${p.name}`) : id.value === p.name;
    case "rfc822":
      return id.type === "rfc822" && id.value === p.address;
    case "rfc822-domain":
      return id.type === "rfc822" && id.value.endsWith(`@${p.domain}`);
    case "keyid":
      return id.type === "keyid" && id.value === p.hex;
    case "address": {
      if (id.type !== (p.version === 4 ? "ipv4" : "ipv6")) return false;
      const a = parseAddr(id.value);
      return a !== undefined && a.v >= p.start && a.v <= p.end;
    }
    case "dn": {
      if (id.type !== "dn") return false;
      const parts = dnParts(id.value);
      if (p.subtree ? parts.length < p.rdns.length : parts.length !== p.rdns.length) return false;
      return p.rdns.every(([k, v], i) =>
        parts[i][0] === k && (v === "*" || parts[i][1].toLowerCase() === v.toLowerCase())
      );
    }
  }
}

/** Prints a pattern the way {@link parseIdentityPattern} reads it. */
export function formatIdentityPattern(p: IdentityPattern): string {
  switch (p.type) {
    case "any":
      return "%any";
    case "fqdn":
      return p.subtree ? `*.${p.name}` : p.name;
    case "rfc822":
      return p.address;
    case "rfc822-domain":
      return `*@${p.domain}`;
    case "keyid":
      return `@#${p.hex}`;
    case "address":
      return p.text;
    case "dn":
      return p.rdns.map(([k, v]) => `${k}=${v}`).join(", ") + (p.subtree ? ", *" : "");
  }
}
