/**
 * strongSwan-style proposal strings (`aes256gcm16-prfsha384-x25519`,
 * `aes128-sha256-modp2048`, `aes256gcm16-x25519` for ESP with PFS) parsed into
 * a structured {@link Proposal} that maps 1:1 onto an SA payload proposal, and
 * printed back in canonical form.
 *
 * The keyword table follows strongSwan's `proposal_keywords_static.txt`
 * (restricted to the transforms deno-ipsec implements, plus the weak MODP
 * groups so they can be rejected with a clear message).
 *
 * @module
 */

import {
  EncrId,
  encrInfo,
  EsnId,
  IntegId,
  KeId,
  keInfo,
  PrfId,
  transformName,
  TransformType,
} from "./transforms.ts";

/** The IPsec protocol a proposal is for. */
export type ProposalProtocol = "ike" | "esp" | "ah";

/** One transform in a proposal: its IANA id and, for AES, the key length in bits. */
export interface TransformSpec {
  /** IANA transform id. */
  readonly id: number;
  /** Key length in bits (Key Length attribute), only for transforms that carry it. */
  /** Key length in bits for AES keywords. */
  readonly keyLength?: number;
}

/**
 * A parsed proposal: per transform type, the acceptable alternatives in
 * preference order. Types that a protocol does not use are empty.
 */
export interface Proposal {
  /** IKE, ESP or AH. */
  readonly protocol: ProposalProtocol;
  /** Encryption algorithms (empty for AH). */
  readonly encr: readonly TransformSpec[];
  /** PRFs (IKE only). */
  readonly prf: readonly TransformSpec[];
  /** Integrity algorithms (empty with AEAD). */
  readonly integ: readonly TransformSpec[];
  /** Key exchange methods; for ESP/AH these are the PFS groups (empty = no PFS). */
  readonly ke: readonly TransformSpec[];
  /** ESN choices (ESP/AH only; defaults to NO_ESN). */
  readonly esn: readonly TransformSpec[];
}

/** Options for {@link parseProposal}. */
export interface ParseProposalOptions {
  /** Accept MODP 768/1024/1536 (rejected by default). */
  readonly allowWeak?: boolean;
  /** Accept ENCR_NULL for ESP (rejected by default). */
  readonly allowNull?: boolean;
}

/** A proposal string that cannot be used, with what was wrong. */
export class ProposalError extends Error {
  /** Always "ProposalError". */
  override readonly name = "ProposalError";
  /** The whole proposal string. */
  readonly proposal: string;
  /** The offending keyword, if a single one is to blame. */
  readonly keyword?: string;
  /** Builds the error; `message` already names the proposal. */
  constructor(proposal: string, message: string, keyword?: string) {
    super(message);
    this.proposal = proposal;
    this.keyword = keyword;
  }
}

/** What a proposal keyword stands for. */
export interface ProposalKeyword {
  /** Transform type (ENCR, PRF, INTEG, KE, ESN). */
  readonly type: TransformType;
  /** IANA transform id. */
  readonly id: number;
  /** Key length in bits for AES keywords. */
  readonly keyLength?: number;
}

const T = TransformType;

function buildKeywords(): Map<string, ProposalKeyword> {
  const m = new Map<string, ProposalKeyword>();
  const add = (names: string[], k: ProposalKeyword) => {
    for (const n of names) m.set(n, k);
  };
  add(["null"], { type: T.ENCR, id: EncrId.NULL });
  add(["aes"], { type: T.ENCR, id: EncrId.AES_CBC, keyLength: 128 });
  for (const bits of [128, 192, 256]) {
    add([`aes${bits}`], { type: T.ENCR, id: EncrId.AES_CBC, keyLength: bits });
    add([`aes${bits}ctr`], { type: T.ENCR, id: EncrId.AES_CTR, keyLength: bits });
    add([`aes${bits}ccm8`, `aes${bits}ccm64`], {
      type: T.ENCR,
      id: EncrId.AES_CCM_8,
      keyLength: bits,
    });
    add([`aes${bits}ccm12`, `aes${bits}ccm96`], {
      type: T.ENCR,
      id: EncrId.AES_CCM_12,
      keyLength: bits,
    });
    add([`aes${bits}ccm16`, `aes${bits}ccm128`, `aes${bits}ccm`], {
      type: T.ENCR,
      id: EncrId.AES_CCM_16,
      keyLength: bits,
    });
    add([`aes${bits}gcm8`, `aes${bits}gcm64`], {
      type: T.ENCR,
      id: EncrId.AES_GCM_8,
      keyLength: bits,
    });
    add([`aes${bits}gcm12`, `aes${bits}gcm96`], {
      type: T.ENCR,
      id: EncrId.AES_GCM_12,
      keyLength: bits,
    });
    add([`aes${bits}gcm16`, `aes${bits}gcm128`, `aes${bits}gcm`], {
      type: T.ENCR,
      id: EncrId.AES_GCM_16,
      keyLength: bits,
    });
    // RFC 4543 (integrity only, ESP only): strongSwan's aes128gmac .. aes256gmac.
    add([`aes${bits}gmac`], { type: T.ENCR, id: EncrId.NULL_AUTH_AES_GMAC, keyLength: bits });
  }
  add(["camellia"], { type: T.ENCR, id: EncrId.CAMELLIA_CBC, keyLength: 128 });
  for (const bits of [128, 192, 256]) {
    add([`camellia${bits}`], { type: T.ENCR, id: EncrId.CAMELLIA_CBC, keyLength: bits });
    add([`camellia${bits}ctr`], { type: T.ENCR, id: EncrId.CAMELLIA_CTR, keyLength: bits });
  }
  // Legacy (RFC 8221: SHOULD NOT for ESP), for peers that offer nothing better.
  add(["3des"], { type: T.ENCR, id: EncrId.DES3 });
  add(["chacha20poly1305"], { type: T.ENCR, id: EncrId.CHACHA20_POLY1305 });

  add(["sha1", "sha"], { type: T.INTEG, id: IntegId.HMAC_SHA1_96 });
  add(["sha256", "sha2_256"], { type: T.INTEG, id: IntegId.HMAC_SHA2_256_128 });
  add(["sha384", "sha2_384"], { type: T.INTEG, id: IntegId.HMAC_SHA2_384_192 });
  add(["sha512", "sha2_512"], { type: T.INTEG, id: IntegId.HMAC_SHA2_512_256 });
  add(["aesxcbc"], { type: T.INTEG, id: IntegId.AES_XCBC_96 });
  add(["aescmac"], { type: T.INTEG, id: IntegId.AES_CMAC_96 });

  add(["prfsha1"], { type: T.PRF, id: PrfId.HMAC_SHA1 });
  add(["prfsha256", "prfsha2_256"], { type: T.PRF, id: PrfId.HMAC_SHA2_256 });
  add(["prfsha384", "prfsha2_384"], { type: T.PRF, id: PrfId.HMAC_SHA2_384 });
  add(["prfsha512", "prfsha2_512"], { type: T.PRF, id: PrfId.HMAC_SHA2_512 });
  add(["prfaesxcbc"], { type: T.PRF, id: PrfId.AES128_XCBC });
  add(["prfaescmac"], { type: T.PRF, id: PrfId.AES128_CMAC });

  add(["modp768"], { type: T.KE, id: KeId.MODP_768 });
  add(["modp1024"], { type: T.KE, id: KeId.MODP_1024 });
  add(["modp1536"], { type: T.KE, id: KeId.MODP_1536 });
  add(["modp2048"], { type: T.KE, id: KeId.MODP_2048 });
  add(["modp3072"], { type: T.KE, id: KeId.MODP_3072 });
  add(["modp4096"], { type: T.KE, id: KeId.MODP_4096 });
  add(["modp6144"], { type: T.KE, id: KeId.MODP_6144 });
  add(["modp8192"], { type: T.KE, id: KeId.MODP_8192 });
  add(["ecp256"], { type: T.KE, id: KeId.ECP_256 });
  add(["ecp384"], { type: T.KE, id: KeId.ECP_384 });
  add(["ecp521"], { type: T.KE, id: KeId.ECP_521 });
  add(["ecp256bp"], { type: T.KE, id: KeId.ECP_256_BP });
  add(["ecp384bp"], { type: T.KE, id: KeId.ECP_384_BP });
  add(["ecp512bp"], { type: T.KE, id: KeId.ECP_512_BP });
  add(["x25519", "curve25519"], { type: T.KE, id: KeId.CURVE25519 });
  add(["x448", "curve448"], { type: T.KE, id: KeId.CURVE448 });

  add(["esn"], { type: T.ESN, id: EsnId.ESN });
  add(["noesn"], { type: T.ESN, id: EsnId.NO_ESN });
  return m;
}

/** Every keyword {@link parseProposal} knows, mapped to its transform. */
export const PROPOSAL_KEYWORDS: ReadonlyMap<string, ProposalKeyword> = buildKeywords();

/** Canonical keyword per (type, id, keyLength): the first one registered. */
const CANONICAL = new Map<string, string>();
for (const [name, k] of PROPOSAL_KEYWORDS) {
  const key = `${k.type}/${k.id}/${k.keyLength ?? ""}`;
  if (!CANONICAL.has(key) && name !== "aes" && name !== "camellia") CANONICAL.set(key, name);
}

/** The PRF strongSwan derives from an integrity algorithm when none is given. */
const PRF_FOR_INTEG: Readonly<Record<number, number>> = {
  [IntegId.HMAC_SHA1_96]: PrfId.HMAC_SHA1,
  [IntegId.HMAC_SHA2_256_128]: PrfId.HMAC_SHA2_256,
  [IntegId.HMAC_SHA2_384_192]: PrfId.HMAC_SHA2_384,
  [IntegId.HMAC_SHA2_512_256]: PrfId.HMAC_SHA2_512,
  [IntegId.AES_XCBC_96]: PrfId.AES128_XCBC,
  [IntegId.AES_CMAC_96]: PrfId.AES128_CMAC,
};

function keywordsFor(protocol: ProposalProtocol, opts: ParseProposalOptions): string[] {
  const out: string[] = [];
  for (const [name, k] of PROPOSAL_KEYWORDS) {
    if (CANONICAL.get(`${k.type}/${k.id}/${k.keyLength ?? ""}`) !== name) continue;
    if (!typeAllowed(protocol, k.type)) continue;
    if (k.type === T.KE && keInfo(k.id)?.weak && !opts.allowWeak) continue;
    if (k.type === T.ENCR && k.id === EncrId.NULL && (protocol === "ike" || !opts.allowNull)) {
      continue;
    }
    if (k.type === T.ENCR && protocol === "ike" && encrInfo(k.id)?.ike === false) continue;
    out.push(name);
  }
  return out;
}

function typeAllowed(protocol: ProposalProtocol, type: TransformType): boolean {
  switch (protocol) {
    case "ike":
      return type !== T.ESN;
    case "esp":
      return type !== T.PRF;
    case "ah":
      return type === T.INTEG || type === T.KE || type === T.ESN;
  }
}

const TYPE_WORD: Readonly<Record<number, string>> = {
  1: "encryption algorithm",
  2: "PRF",
  3: "integrity algorithm",
  4: "key exchange method",
  5: "ESN setting",
};

function pushUnique(list: TransformSpec[], t: TransformSpec): void {
  if (!list.some((x) => x.id === t.id && x.keyLength === t.keyLength)) list.push(t);
}

/**
 * Parses one strongSwan-style proposal such as `aes256gcm16-prfsha384-x25519`
 * (IKE), `aes128-sha256-esn` (ESP) or `sha256` (AH). Several algorithms of one
 * type are alternatives. For IKE without an explicit PRF, the PRFs matching the
 * integrity algorithms are added, as strongSwan does.
 *
 * Throws {@link ProposalError} for unknown keywords, AEAD combined with an
 * integrity algorithm, a missing integrity algorithm or KE method, weak groups
 * (unless `allowWeak`), ENCR_NULL (unless `allowNull`, ESP only) and
 * AES-GMAC (`aes128gmac`..`aes256gmac`, RFC 4543: ESP only) in IKE proposals.
 *
 * @example
 * ```ts
 * const p = parseProposal("aes256gcm16-prfsha384-x25519", "ike");
 * // p.encr = [{ id: 20, keyLength: 256 }], p.prf = [{ id: 6 }], p.ke = [{ id: 31 }]
 * ```
 */
export function parseProposal(
  text: string,
  protocol: ProposalProtocol,
  opts: ParseProposalOptions = {},
): Proposal {
  const fail = (msg: string, kw?: string): never => {
    throw new ProposalError(text, `${msg} in proposal '${text}'`, kw);
  };
  const encr: TransformSpec[] = [];
  const prf: TransformSpec[] = [];
  const integ: TransformSpec[] = [];
  const ke: TransformSpec[] = [];
  const esn: TransformSpec[] = [];
  const words = text.trim().toLowerCase().split("-");
  if (text.trim() === "") fail("empty proposal");
  for (const w of words) {
    if (w === "") fail("empty algorithm name");
    const k = PROPOSAL_KEYWORDS.get(w);
    if (!k || !typeAllowed(protocol, k.type)) {
      const why = k
        ? `${TYPE_WORD[k.type]} '${w}' not allowed for ${protocol.toUpperCase()}`
        : `unknown algorithm '${w}'`;
      throw new ProposalError(
        text,
        `${why} in proposal '${text}': expected one of ${keywordsFor(protocol, opts).join(", ")}`,
        w,
      );
    }
    const spec: TransformSpec = k.keyLength === undefined
      ? { id: k.id }
      : { id: k.id, keyLength: k.keyLength };
    switch (k.type) {
      case T.ENCR:
        if (k.id === EncrId.NULL) {
          if (protocol === "ike") fail("'null' encryption is not allowed for IKE", w);
          if (!opts.allowNull) {
            fail("'null' encryption needs to be allowed explicitly (allowNull)", w);
          }
        } else if (protocol === "ike" && encrInfo(k.id)?.ike === false) {
          fail(
            `'${w}' (${transformName(T.ENCR, k.id)}) is ESP only: it authenticates without ` +
              "encrypting, and IKE SAs need encryption",
            w,
          );
        }
        pushUnique(encr, spec);
        break;
      case T.PRF:
        pushUnique(prf, spec);
        break;
      case T.INTEG:
        pushUnique(integ, spec);
        break;
      case T.KE:
        if (keInfo(k.id)?.weak && !opts.allowWeak) {
          fail(
            `weak key exchange method '${w}' (${transformName(T.KE, k.id)}) rejected; ` +
              "use modp2048 or stronger, ecp256+, x25519 or x448 (or allowWeak)",
            w,
          );
        }
        pushUnique(ke, spec);
        break;
      case T.ESN:
        pushUnique(esn, spec);
        break;
    }
  }
  const aead = encr.filter((e) => encrInfo(e.id)?.kind === "aead");
  if (aead.length > 0 && aead.length !== encr.length) {
    fail("AEAD and non-AEAD encryption algorithms cannot be mixed");
  }
  const isAead = aead.length > 0;
  if (protocol === "ah") {
    if (integ.length === 0) fail("AH needs an integrity algorithm");
  } else {
    if (encr.length === 0) fail("missing encryption algorithm");
    if (isAead && integ.length > 0) {
      fail("an AEAD algorithm cannot be combined with an integrity algorithm");
    }
    if (!isAead && integ.length === 0) {
      fail("a non-AEAD encryption algorithm needs an integrity algorithm");
    }
  }
  if (protocol === "ike") {
    if (prf.length === 0) {
      if (isAead) fail("an AEAD IKE proposal needs an explicit PRF (e.g. prfsha256)");
      for (const i of integ) pushUnique(prf, { id: PRF_FOR_INTEG[i.id] });
    }
    if (ke.length === 0) fail("missing key exchange method (e.g. x25519, ecp256, modp2048)");
  } else if (esn.length === 0) {
    esn.push({ id: EsnId.NO_ESN });
  }
  return { protocol, encr, prf, integ, ke, esn };
}

/**
 * strongSwan-like default proposals (restricted to what deno-ipsec
 * implements): an AEAD proposal first, then a CBC+HMAC one.
 */
export function defaultProposals(protocol: ProposalProtocol): Proposal[] {
  const groups = "x25519-ecp256-ecp384-ecp521-x448-modp3072-modp4096-modp2048";
  switch (protocol) {
    case "ike":
      return [
        parseProposal(
          `aes128gcm16-aes192gcm16-aes256gcm16-chacha20poly1305-prfsha256-prfsha384-prfsha512-${groups}`,
          "ike",
        ),
        parseProposal(`aes128-aes192-aes256-sha256-sha384-sha512-${groups}`, "ike"),
      ];
    case "esp":
      return [
        parseProposal("aes128gcm16-aes192gcm16-aes256gcm16-chacha20poly1305", "esp"),
        parseProposal("aes128-aes192-aes256-sha256-sha384-sha512", "esp"),
      ];
    case "ah":
      return [parseProposal("sha256-sha384-sha512", "ah")];
  }
}

/**
 * Parses a comma-separated list of proposals; the item `default` expands to
 * {@link defaultProposals}.
 *
 * @example
 * ```ts
 * parseProposals("aes256gcm16-prfsha384-x25519,default", "ike").length; // 3
 * ```
 */
export function parseProposals(
  text: string,
  protocol: ProposalProtocol,
  opts: ParseProposalOptions = {},
): Proposal[] {
  const out: Proposal[] = [];
  for (const item of text.split(",")) {
    const t = item.trim();
    if (t.toLowerCase() === "default") out.push(...defaultProposals(protocol));
    else out.push(parseProposal(t, protocol, opts));
  }
  return out;
}

function keyword(type: TransformType, t: TransformSpec): string {
  return CANONICAL.get(`${type}/${t.id}/${t.keyLength ?? ""}`) ??
    `${transformName(type, t.id).toLowerCase()}${t.keyLength ? `_${t.keyLength}` : ""}`;
}

/**
 * Prints a proposal back in strongSwan syntax, canonical keywords, in the
 * order encryption, integrity, PRF, KE, ESN. The PRF list is omitted when it
 * is exactly the one implied by the integrity algorithms, and ESN when it is
 * the default NO_ESN, so `formatProposal(parseProposal(s))` is stable.
 *
 * @example
 * ```ts
 * formatProposal(parseProposal("aes128-sha256-prfsha256-modp2048", "ike"));
 * // "aes128-sha256-modp2048"
 * ```
 */
export function formatProposal(p: Proposal): string {
  const parts: string[] = [];
  for (const e of p.encr) parts.push(keyword(T.ENCR, e));
  for (const i of p.integ) parts.push(keyword(T.INTEG, i));
  const implied = p.integ.map((i) => PRF_FOR_INTEG[i.id]).filter((x, n, a) => a.indexOf(x) === n);
  const prfIsImplied = p.integ.length > 0 && implied.length === p.prf.length &&
    implied.every((id, n) => p.prf[n].id === id);
  if (!prfIsImplied) { for (const f of p.prf) parts.push(keyword(T.PRF, f)); }
  for (const k of p.ke) parts.push(keyword(T.KE, k));
  if (!(p.esn.length === 1 && p.esn[0].id === EsnId.NO_ESN)) {
    for (const s of p.esn) parts.push(keyword(T.ESN, s));
  }
  return parts.join("-");
}

/**
 * Prints a proposal with IANA names the way strongSwan logs it, e.g.
 * "IKE:AES_GCM_16_256/PRF_HMAC_SHA2_384/CURVE25519".
 */
export function describeProposal(p: Proposal): string {
  const names: string[] = [];
  const add = (type: TransformType, list: readonly TransformSpec[]) => {
    for (const t of list) {
      const n = transformName(type, t.id).replace(/^(ENCR|AUTH)_/, "");
      names.push(t.keyLength ? `${n}_${t.keyLength}` : n);
    }
  };
  add(T.ENCR, p.encr);
  add(T.INTEG, p.integ);
  add(T.PRF, p.prf);
  add(T.KE, p.ke);
  add(T.ESN, p.esn);
  return `${p.protocol.toUpperCase()}:${names.join("/")}`;
}

/** One transform of a proposal in SA payload order, with its type. */
export interface ProposalTransform extends TransformSpec {
  /** Transform type (ENCR, PRF, INTEG, KE, ESN). */
  readonly type: TransformType;
}

/**
 * The transforms of a proposal flattened in SA payload order (ENCR, PRF,
 * INTEG, KE, ESN), ready to encode as Transform substructures.
 */
export function proposalTransforms(p: Proposal): ProposalTransform[] {
  const out: ProposalTransform[] = [];
  const add = (type: TransformType, list: readonly TransformSpec[]) => {
    for (const t of list) out.push({ type, ...t });
  };
  add(T.ENCR, p.encr);
  add(T.PRF, p.prf);
  add(T.INTEG, p.integ);
  add(T.KE, p.ke);
  add(T.ESN, p.esn);
  return out;
}
