/**
 * The IANA "IKEv2 Parameters" transform registry for what deno-ipsec
 * implements, with per-transform metadata (key, ICV, block, IV, salt and PRF
 * output lengths) and printable names.
 *
 * Sources: IANA ikev2-parameters (Transform Type Values, Transform Type 1-5),
 * RFC 7296 section 3.3.2, RFC 4106/5282 (GCM), RFC 4309/5282 (CCM), RFC 4543 (GMAC),
 * RFC 7634 (ChaCha20-Poly1305),
 * RFC 3686/5930 (CTR), RFC 4868 (HMAC-SHA2), RFC 3566/4434 (XCBC),
 * RFC 4494/4615 (CMAC), RFC 3526/5903/6954/8031 (groups), RFC 2451 (3DES),
 * RFC 4312/5529 (Camellia). HMAC-MD5 and DES are left out: RFC 8221 and
 * RFC 8247 say MUST NOT.
 *
 * @module
 */

/** IANA Transform Type values (RFC 7296 section 3.3.2). */
export const TransformType = {
  ENCR: 1,
  PRF: 2,
  INTEG: 3,
  KE: 4,
  ESN: 5,
} as const;
/** One of the {@link TransformType} values. */
export type TransformType = typeof TransformType[keyof typeof TransformType];

/** Transform Type 1 (encryption algorithm) ids. */
export const EncrId = {
  DES3: 3,
  NULL: 11,
  AES_CBC: 12,
  AES_CTR: 13,
  AES_CCM_8: 14,
  AES_CCM_12: 15,
  AES_CCM_16: 16,
  AES_GCM_8: 18,
  AES_GCM_12: 19,
  AES_GCM_16: 20,
  NULL_AUTH_AES_GMAC: 21,
  CAMELLIA_CBC: 23,
  CAMELLIA_CTR: 24,
  CHACHA20_POLY1305: 28,
} as const;
/** Transform Type 2 (pseudo-random function) ids. */
export const PrfId = {
  HMAC_SHA1: 2,
  AES128_XCBC: 4,
  HMAC_SHA2_256: 5,
  HMAC_SHA2_384: 6,
  HMAC_SHA2_512: 7,
  AES128_CMAC: 8,
} as const;
/** Transform Type 3 (integrity algorithm) ids. */
export const IntegId = {
  NONE: 0,
  HMAC_SHA1_96: 2,
  AES_XCBC_96: 5,
  AES_CMAC_96: 8,
  HMAC_SHA2_256_128: 12,
  HMAC_SHA2_384_192: 13,
  HMAC_SHA2_512_256: 14,
} as const;
/** Transform Type 4 (key exchange method, formerly D-H group) ids. */
export const KeId = {
  NONE: 0,
  MODP_768: 1,
  MODP_1024: 2,
  MODP_1536: 5,
  MODP_2048: 14,
  MODP_3072: 15,
  MODP_4096: 16,
  MODP_6144: 17,
  MODP_8192: 18,
  ECP_256: 19,
  ECP_384: 20,
  ECP_521: 21,
  ECP_256_BP: 28,
  ECP_384_BP: 29,
  ECP_512_BP: 30,
  CURVE25519: 31,
  CURVE448: 32,
} as const;
/** Transform Type 5 (extended sequence numbers) ids. */
export const EsnId = {
  NO_ESN: 0,
  ESN: 1,
} as const;

/**
 * How an encryption transform works. ENCR_NULL_AUTH_AES_GMAC (RFC 4543) is
 * an "aead": like the AEADs it is a combined mode that takes no integrity
 * transform, though it encrypts nothing (integrity only).
 */
export type EncrKind = "cbc" | "ctr" | "aead" | "null";

/** Metadata of one encryption transform. */
export interface EncrInfo {
  /** IANA transform id. */
  readonly id: number;
  /** IANA name, e.g. "ENCR_AES_GCM_16". */
  /** IANA name. */
  readonly name: string;
  /** CBC, CTR, AEAD or NULL. */
  readonly kind: EncrKind;
  /** Allowed key lengths in bits (without salt). */
  readonly keyLengthsBits: readonly number[];
  /** Whether the Key Length transform attribute is sent (AES: yes, ChaCha/NULL: no). */
  readonly keyLengthAttribute: boolean;
  /** Cipher block size in bytes (1 for stream/AEAD-CTR modes). */
  readonly blockSize: number;
  /** Explicit IV length carried in each packet, in bytes. */
  readonly ivLength: number;
  /** Salt/nonce bytes taken from keying material after the key (RFC 4106, 4309, 7634, 3686). */
  readonly saltLength: number;
  /** ICV (tag) length in bytes for AEADs, 0 otherwise. */
  readonly icvLength: number;
  /** May be used for IKE SAs (NULL and AES-GMAC are ESP only). */
  readonly ike: boolean;
}

/** Metadata of one PRF transform. */
export interface PrfInfo {
  /** IANA transform id. */
  readonly id: number;
  /** IANA name. */
  readonly name: string;
  /** Output length in bytes. */
  readonly outputLength: number;
  /** Preferred key length in bytes (RFC 7296 section 2.13). */
  readonly keyLength: number;
  /** The underlying MAC. */
  readonly mac: MacAlgorithm;
}

/** A MAC algorithm name as used by the primitive factories. */
export type MacAlgorithm =
  | "hmac-sha1"
  | "hmac-sha256"
  | "hmac-sha384"
  | "hmac-sha512"
  | "aes-xcbc"
  | "aes-cmac";

/** Metadata of one integrity transform. */
export interface IntegInfo {
  /** IANA transform id. */
  readonly id: number;
  /** IANA name. */
  readonly name: string;
  /** The underlying (untruncated) MAC. */
  readonly mac: MacAlgorithm;
  /** Key length in bytes. */
  readonly keyLength: number;
  /** Truncated ICV length in bytes sent on the wire. */
  readonly icvLength: number;
}

/** The family of a key exchange method. */
export type KeKind = "modp" | "ecp" | "curve";

/** Metadata of one key exchange method. */
export interface KeInfo {
  /** IANA transform id. */
  readonly id: number;
  /** IANA name. */
  readonly name: string;
  /** MODP, ECP or Montgomery curve. */
  readonly kind: KeKind;
  /** Length of the KE payload data (public value) in bytes. */
  readonly publicKeyLength: number;
  /** Length of the shared secret g^ir in bytes. */
  readonly sharedSecretLength: number;
  /** Too weak for use; rejected unless explicitly allowed. */
  readonly weak: boolean;
  /** Implemented by `createKeyExchange` in key_exchange.ts (weak ones only when allowed). */
  readonly implemented: boolean;
}

/** Metadata of one ESN transform. */
export interface EsnInfo {
  /** IANA transform id. */
  readonly id: number;
  /** IANA name. */
  readonly name: string;
}

const AES_BITS = [128, 192, 256] as const;

/** Encryption transforms by IANA id. */
export const ENCR_TRANSFORMS: Readonly<Record<number, EncrInfo>> = {
  // RFC 2451: a 192-bit key (K1 || K2 || K3, parity bits included), 8-byte blocks and IVs.
  3: {
    id: 3,
    name: "ENCR_3DES",
    kind: "cbc",
    keyLengthsBits: [192],
    keyLengthAttribute: false,
    blockSize: 8,
    ivLength: 8,
    saltLength: 0,
    icvLength: 0,
    ike: true,
  },
  11: {
    id: 11,
    name: "ENCR_NULL",
    kind: "null",
    keyLengthsBits: [0],
    keyLengthAttribute: false,
    blockSize: 1,
    ivLength: 0,
    saltLength: 0,
    icvLength: 0,
    ike: false,
  },
  12: {
    id: 12,
    name: "ENCR_AES_CBC",
    kind: "cbc",
    keyLengthsBits: AES_BITS,
    keyLengthAttribute: true,
    blockSize: 16,
    ivLength: 16,
    saltLength: 0,
    icvLength: 0,
    ike: true,
  },
  13: {
    id: 13,
    name: "ENCR_AES_CTR",
    kind: "ctr",
    keyLengthsBits: AES_BITS,
    keyLengthAttribute: true,
    blockSize: 1,
    ivLength: 8,
    saltLength: 4,
    icvLength: 0,
    ike: true,
  },
  14: {
    id: 14,
    name: "ENCR_AES_CCM_8",
    kind: "aead",
    keyLengthsBits: AES_BITS,
    keyLengthAttribute: true,
    blockSize: 1,
    ivLength: 8,
    saltLength: 3,
    icvLength: 8,
    ike: true,
  },
  15: {
    id: 15,
    name: "ENCR_AES_CCM_12",
    kind: "aead",
    keyLengthsBits: AES_BITS,
    keyLengthAttribute: true,
    blockSize: 1,
    ivLength: 8,
    saltLength: 3,
    icvLength: 12,
    ike: true,
  },
  16: {
    id: 16,
    name: "ENCR_AES_CCM_16",
    kind: "aead",
    keyLengthsBits: AES_BITS,
    keyLengthAttribute: true,
    blockSize: 1,
    ivLength: 8,
    saltLength: 3,
    icvLength: 16,
    ike: true,
  },
  18: {
    id: 18,
    name: "ENCR_AES_GCM_8",
    kind: "aead",
    keyLengthsBits: AES_BITS,
    keyLengthAttribute: true,
    blockSize: 1,
    ivLength: 8,
    saltLength: 4,
    icvLength: 8,
    ike: true,
  },
  19: {
    id: 19,
    name: "ENCR_AES_GCM_12",
    kind: "aead",
    keyLengthsBits: AES_BITS,
    keyLengthAttribute: true,
    blockSize: 1,
    ivLength: 8,
    saltLength: 4,
    icvLength: 12,
    ike: true,
  },
  20: {
    id: 20,
    name: "ENCR_AES_GCM_16",
    kind: "aead",
    keyLengthsBits: AES_BITS,
    keyLengthAttribute: true,
    blockSize: 1,
    ivLength: 8,
    saltLength: 4,
    icvLength: 16,
    ike: true,
  },
  // RFC 4543: 8-byte IV (section 3.1), 16-byte ICV (3.4), KEYMAT key || 4-byte salt (5.1);
  // ESP only (an IKE SA needs confidentiality; RFC 8221 lists it for ESP).
  21: {
    id: 21,
    name: "ENCR_NULL_AUTH_AES_GMAC",
    kind: "aead",
    keyLengthsBits: AES_BITS,
    keyLengthAttribute: true,
    blockSize: 1,
    ivLength: 8,
    saltLength: 4,
    icvLength: 16,
    ike: false,
  },
  // RFC 5529 (ESP) and RFC 4312 as used by IKEv2: laid out as AES-CBC and AES-CTR.
  23: {
    id: 23,
    name: "ENCR_CAMELLIA_CBC",
    kind: "cbc",
    keyLengthsBits: AES_BITS,
    keyLengthAttribute: true,
    blockSize: 16,
    ivLength: 16,
    saltLength: 0,
    icvLength: 0,
    ike: true,
  },
  24: {
    id: 24,
    name: "ENCR_CAMELLIA_CTR",
    kind: "ctr",
    keyLengthsBits: AES_BITS,
    keyLengthAttribute: true,
    blockSize: 1,
    ivLength: 8,
    saltLength: 4,
    icvLength: 0,
    ike: true,
  },
  28: {
    id: 28,
    name: "ENCR_CHACHA20_POLY1305",
    kind: "aead",
    keyLengthsBits: [256],
    keyLengthAttribute: false,
    blockSize: 1,
    ivLength: 8,
    saltLength: 4,
    icvLength: 16,
    ike: true,
  },
};

/** PRF transforms by IANA id. */
export const PRF_TRANSFORMS: Readonly<Record<number, PrfInfo>> = {
  2: { id: 2, name: "PRF_HMAC_SHA1", outputLength: 20, keyLength: 20, mac: "hmac-sha1" },
  4: { id: 4, name: "PRF_AES128_XCBC", outputLength: 16, keyLength: 16, mac: "aes-xcbc" },
  5: { id: 5, name: "PRF_HMAC_SHA2_256", outputLength: 32, keyLength: 32, mac: "hmac-sha256" },
  6: { id: 6, name: "PRF_HMAC_SHA2_384", outputLength: 48, keyLength: 48, mac: "hmac-sha384" },
  7: { id: 7, name: "PRF_HMAC_SHA2_512", outputLength: 64, keyLength: 64, mac: "hmac-sha512" },
  8: { id: 8, name: "PRF_AES128_CMAC", outputLength: 16, keyLength: 16, mac: "aes-cmac" },
};

/** Integrity transforms by IANA id (RFC 2404, 3566, 4494, 4868). */
export const INTEG_TRANSFORMS: Readonly<Record<number, IntegInfo>> = {
  2: { id: 2, name: "AUTH_HMAC_SHA1_96", mac: "hmac-sha1", keyLength: 20, icvLength: 12 },
  5: { id: 5, name: "AUTH_AES_XCBC_96", mac: "aes-xcbc", keyLength: 16, icvLength: 12 },
  8: { id: 8, name: "AUTH_AES_CMAC_96", mac: "aes-cmac", keyLength: 16, icvLength: 12 },
  12: {
    id: 12,
    name: "AUTH_HMAC_SHA2_256_128",
    mac: "hmac-sha256",
    keyLength: 32,
    icvLength: 16,
  },
  13: {
    id: 13,
    name: "AUTH_HMAC_SHA2_384_192",
    mac: "hmac-sha384",
    keyLength: 48,
    icvLength: 24,
  },
  14: {
    id: 14,
    name: "AUTH_HMAC_SHA2_512_256",
    mac: "hmac-sha512",
    keyLength: 64,
    icvLength: 32,
  },
};

function modp(id: number, bits: number, weak: boolean): KeInfo {
  return {
    id,
    name: `MODP_${bits}`,
    kind: "modp",
    publicKeyLength: bits / 8,
    sharedSecretLength: bits / 8,
    weak,
    implemented: true,
  };
}

/** Key exchange methods by IANA id. Weak groups work only with an explicit `allowWeak`. */
export const KE_TRANSFORMS: Readonly<Record<number, KeInfo>> = {
  1: modp(1, 768, true),
  2: modp(2, 1024, true),
  5: modp(5, 1536, true),
  14: modp(14, 2048, false),
  15: modp(15, 3072, false),
  16: modp(16, 4096, false),
  17: modp(17, 6144, false),
  18: modp(18, 8192, false),
  19: {
    id: 19,
    name: "ECP_256",
    kind: "ecp",
    publicKeyLength: 64,
    sharedSecretLength: 32,
    weak: false,
    implemented: true,
  },
  20: {
    id: 20,
    name: "ECP_384",
    kind: "ecp",
    publicKeyLength: 96,
    sharedSecretLength: 48,
    weak: false,
    implemented: true,
  },
  21: {
    id: 21,
    name: "ECP_521",
    kind: "ecp",
    publicKeyLength: 132,
    sharedSecretLength: 66,
    weak: false,
    implemented: true,
  },
  28: {
    id: 28,
    name: "ECP_256_BP",
    kind: "ecp",
    publicKeyLength: 64,
    sharedSecretLength: 32,
    weak: false,
    implemented: true,
  },
  29: {
    id: 29,
    name: "ECP_384_BP",
    kind: "ecp",
    publicKeyLength: 96,
    sharedSecretLength: 48,
    weak: false,
    implemented: true,
  },
  30: {
    id: 30,
    name: "ECP_512_BP",
    kind: "ecp",
    publicKeyLength: 128,
    sharedSecretLength: 64,
    weak: false,
    implemented: true,
  },
  31: {
    id: 31,
    name: "CURVE25519",
    kind: "curve",
    publicKeyLength: 32,
    sharedSecretLength: 32,
    weak: false,
    implemented: true,
  },
  32: {
    id: 32,
    name: "CURVE448",
    kind: "curve",
    publicKeyLength: 56,
    sharedSecretLength: 56,
    weak: false,
    implemented: true,
  },
};

/** ESN transforms by IANA id. */
export const ESN_TRANSFORMS: Readonly<Record<number, EsnInfo>> = {
  0: { id: 0, name: "NO_EXT_SEQ" },
  1: { id: 1, name: "EXT_SEQ" },
};

/** Looks up an encryption transform; `undefined` when unknown. */
export function encrInfo(id: number): EncrInfo | undefined {
  return Object.hasOwn(ENCR_TRANSFORMS, id) ? ENCR_TRANSFORMS[id] : undefined;
}
/** Looks up a PRF transform; `undefined` when unknown. */
export function prfInfo(id: number): PrfInfo | undefined {
  return Object.hasOwn(PRF_TRANSFORMS, id) ? PRF_TRANSFORMS[id] : undefined;
}
/** Looks up an integrity transform; `undefined` when unknown. */
export function integInfo(id: number): IntegInfo | undefined {
  return Object.hasOwn(INTEG_TRANSFORMS, id) ? INTEG_TRANSFORMS[id] : undefined;
}
/** Looks up a key exchange method; `undefined` when unknown. */
export function keInfo(id: number): KeInfo | undefined {
  return Object.hasOwn(KE_TRANSFORMS, id) ? KE_TRANSFORMS[id] : undefined;
}

/**
 * Printable name of a transform, e.g. `transformName(1, 20)` is
 * "ENCR_AES_GCM_16"; unknown ids print as "ENCR_UNKNOWN_99".
 *
 * @example
 * ```ts
 * transformName(TransformType.KE, 31); // "CURVE25519"
 * ```
 */
export function transformName(type: number, id: number): string {
  const table: Readonly<Record<number, { name: string }>> | undefined = type === 1
    ? ENCR_TRANSFORMS
    : type === 2
    ? PRF_TRANSFORMS
    : type === 3
    ? INTEG_TRANSFORMS
    : type === 4
    ? KE_TRANSFORMS
    : type === 5
    ? ESN_TRANSFORMS
    : undefined;
  if (type === 3 && id === 0) return "AUTH_NONE";
  if (type === 4 && id === 0) return "NONE";
  if (table && Object.hasOwn(table, id)) return table[id].name;
  const prefix = ["TRANSFORM", "ENCR", "PRF", "AUTH", "KE", "ESN"][type] ?? "TRANSFORM";
  return `${prefix}_UNKNOWN_${id}`;
}

/**
 * Total keying material an encryption transform takes from prf+ in bytes:
 * key plus salt (RFC 4106 section 8.1, RFC 4309 section 7.1, RFC 7634 section 2,
 * RFC 3686 section 5.1).
 */
export function encrKeymatLength(id: number, keyLengthBits?: number): number {
  const e = encrInfo(id);
  if (!e) throw new RangeError(`unknown encryption transform ${id}`);
  const bits = keyLengthBits ?? (e.keyLengthAttribute ? undefined : e.keyLengthsBits[0]);
  if (bits === undefined || !e.keyLengthsBits.includes(bits)) {
    throw new RangeError(`${e.name}: invalid key length ${keyLengthBits ?? "(none)"}`);
  }
  return bits / 8 + e.saltLength;
}
