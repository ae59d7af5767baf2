/**
 * Signature schemes for IKEv2 AUTH (RFC 7296 section 3.8, RFC 4754, RFC 7427,
 * RFC 8420): their X.509 AlgorithmIdentifiers as carried in the RFC 7427
 * "Digital Signature" AUTH method, the IKEv2 hash algorithm ids of the
 * SIGNATURE_HASH_ALGORITHMS notify, and the negotiation helpers.
 *
 * AlgorithmIdentifier encodings follow RFC 7427 appendix A: RSA PKCS#1 v1.5
 * with a NULL parameter (RFC 3279/4055), ECDSA without parameters
 * (RFC 5758), RSASSA-PSS with explicit RSASSA-PSS-params (RFC 4055: hash,
 * MGF1 with the same hash, salt length = hash length; the trailer field 1 is
 * the DEFAULT and so, in DER, left out), and
 * Ed25519/Ed448 without parameters (RFC 8410, RFC 8420).
 *
 * @module
 */
import { concat, toHex } from "../wire/bytes.ts";
import { CryptoError } from "./types.ts";
import {
  type Der,
  derOid,
  derSmallInt,
  derTlv,
  oidHex,
  readDer,
  readDerSequence,
  readSmallInt,
  Tag,
} from "./_asn1.ts";

/** IANA "IKEv2 Hash Algorithms" (RFC 7427 section 7, RFC 8420 section 2). */
export const SignatureHash = {
  SHA1: 1,
  SHA2_256: 2,
  SHA2_384: 3,
  SHA2_512: 4,
  IDENTITY: 5,
} as const;
/** One of the {@link SignatureHash} ids. */
export type SignatureHashId = typeof SignatureHash[keyof typeof SignatureHash];

/**
 * The IKEv2 AUTH methods that carry signatures (IANA "IKEv2 Authentication
 * Method"; the full table lives in lib/ikev2/constants.ts, which lib/crypto
 * may not import).
 */
export const SignatureAuthMethod = {
  /** RSA PKCS#1 v1.5 with SHA-1 (RFC 7296 section 3.8). */
  RSA_SIG: 1,
  /** ECDSA P-256 with SHA-256, raw r || s (RFC 4754). */
  ECDSA_SHA256_P256: 9,
  /** ECDSA P-384 with SHA-384, raw r || s (RFC 4754). */
  ECDSA_SHA384_P384: 10,
  /** ECDSA P-521 with SHA-512, raw r || s (RFC 4754). */
  ECDSA_SHA512_P521: 11,
  /** Digital Signature with an AlgorithmIdentifier (RFC 7427). */
  DIGITAL_SIGNATURE: 14,
} as const;
/** One of the {@link SignatureAuthMethod} values. */
export type SignatureAuthMethodId = typeof SignatureAuthMethod[keyof typeof SignatureAuthMethod];

/** The signature schemes deno-ipsec signs and verifies. */
export type SignatureScheme =
  | "rsa-pkcs1-sha1"
  | "rsa-pkcs1-sha256"
  | "rsa-pkcs1-sha384"
  | "rsa-pkcs1-sha512"
  | "rsa-pss-sha256"
  | "rsa-pss-sha384"
  | "rsa-pss-sha512"
  | "ecdsa-sha256"
  | "ecdsa-sha384"
  | "ecdsa-sha512"
  | "ed25519"
  | "ed448";

/** Key algorithms a scheme needs. */
export type SignatureKeyType = "rsa" | "ec" | "ed25519" | "ed448";

/** A message digest used by a signature scheme. */
export type SignatureDigest = "sha1" | "sha256" | "sha384" | "sha512";

/** What a scheme is made of. */
export interface SignatureSchemeInfo {
  /** The scheme's name. */
  readonly scheme: SignatureScheme;
  /** Key algorithm it needs. */
  readonly keyType: SignatureKeyType;
  /** Digest applied to the signed octets; `undefined` for EdDSA (pure). */
  readonly digest?: SignatureDigest;
  /** The RFC 7427 hash id this scheme uses (5 = Identity for EdDSA). */
  readonly hashId: SignatureHashId;
  /** RSASSA-PSS padding (salt length = digest length, MGF1 with the same digest). */
  readonly pss: boolean;
}

const DIGEST_LENGTH: Readonly<Record<SignatureDigest, number>> = {
  sha1: 20,
  sha256: 32,
  sha384: 48,
  sha512: 64,
};

const DIGEST_HASH_ID: Readonly<Record<SignatureDigest, SignatureHashId>> = {
  sha1: SignatureHash.SHA1,
  sha256: SignatureHash.SHA2_256,
  sha384: SignatureHash.SHA2_384,
  sha512: SignatureHash.SHA2_512,
};

function info(
  scheme: SignatureScheme,
  keyType: SignatureKeyType,
  digest: SignatureDigest | undefined,
  pss = false,
): SignatureSchemeInfo {
  return {
    scheme,
    keyType,
    digest,
    hashId: digest ? DIGEST_HASH_ID[digest] : SignatureHash.IDENTITY,
    pss,
  };
}

/** Every scheme with its parts. */
export const SIGNATURE_SCHEMES: Readonly<Record<SignatureScheme, SignatureSchemeInfo>> = {
  "rsa-pkcs1-sha1": info("rsa-pkcs1-sha1", "rsa", "sha1"),
  "rsa-pkcs1-sha256": info("rsa-pkcs1-sha256", "rsa", "sha256"),
  "rsa-pkcs1-sha384": info("rsa-pkcs1-sha384", "rsa", "sha384"),
  "rsa-pkcs1-sha512": info("rsa-pkcs1-sha512", "rsa", "sha512"),
  "rsa-pss-sha256": info("rsa-pss-sha256", "rsa", "sha256", true),
  "rsa-pss-sha384": info("rsa-pss-sha384", "rsa", "sha384", true),
  "rsa-pss-sha512": info("rsa-pss-sha512", "rsa", "sha512", true),
  "ecdsa-sha256": info("ecdsa-sha256", "ec", "sha256"),
  "ecdsa-sha384": info("ecdsa-sha384", "ec", "sha384"),
  "ecdsa-sha512": info("ecdsa-sha512", "ec", "sha512"),
  "ed25519": info("ed25519", "ed25519", undefined),
  "ed448": info("ed448", "ed448", undefined),
};

/** OID content octets (hex). Sources: RFC 3279, 4055, 5758, 8410. */
const OID = {
  sha1WithRSAEncryption: "2a864886f70d010105",
  sha256WithRSAEncryption: "2a864886f70d01010b",
  sha384WithRSAEncryption: "2a864886f70d01010c",
  sha512WithRSAEncryption: "2a864886f70d01010d",
  rsassaPss: "2a864886f70d01010a",
  mgf1: "2a864886f70d010108",
  sha1: "2b0e03021a",
  sha256: "608648016503040201",
  sha384: "608648016503040202",
  sha512: "608648016503040203",
  ecdsaWithSha256: "2a8648ce3d040302",
  ecdsaWithSha384: "2a8648ce3d040303",
  ecdsaWithSha512: "2a8648ce3d040304",
  ed25519: "2b6570",
  ed448: "2b6571",
} as const;

const DIGEST_OID: Readonly<Record<SignatureDigest, string>> = {
  sha1: OID.sha1,
  sha256: OID.sha256,
  sha384: OID.sha384,
  sha512: OID.sha512,
};

/** Schemes whose AlgorithmIdentifier is just an OID (plus NULL for RSA). */
const SIMPLE_OIDS: ReadonlyArray<[string, SignatureScheme, boolean]> = [
  [OID.sha1WithRSAEncryption, "rsa-pkcs1-sha1", true],
  [OID.sha256WithRSAEncryption, "rsa-pkcs1-sha256", true],
  [OID.sha384WithRSAEncryption, "rsa-pkcs1-sha384", true],
  [OID.sha512WithRSAEncryption, "rsa-pkcs1-sha512", true],
  [OID.ecdsaWithSha256, "ecdsa-sha256", false],
  [OID.ecdsaWithSha384, "ecdsa-sha384", false],
  [OID.ecdsaWithSha512, "ecdsa-sha512", false],
  [OID.ed25519, "ed25519", false],
  [OID.ed448, "ed448", false],
];

const DER_NULL = Uint8Array.of(Tag.NULL, 0);

/** AlgorithmIdentifier of a digest with an explicit NULL parameter, as OpenSSL writes it. */
function digestAlgId(d: SignatureDigest): Uint8Array {
  return derTlv(Tag.SEQUENCE, derOid(DIGEST_OID[d]), DER_NULL);
}

/**
 * The DER AlgorithmIdentifier of `scheme` as sent in an RFC 7427 AUTH
 * payload. For RSASSA-PSS the parameters name the digest, MGF1 with the same
 * digest and a salt as long as the digest; the trailer field keeps its
 * DEFAULT (1) and so is absent in DER. RFC 7427 appendix A.4.3 prints it
 * explicitly (72 bytes), but Libreswan compares these blobs byte for byte
 * with the 67-byte DER form and refuses the other; strongSwan takes both.
 *
 * @example
 * ```ts
 * toHex(encodeSignatureAlgorithmId("ecdsa-sha256")); // "300a06082a8648ce3d040302"
 * ```
 */
export function encodeSignatureAlgorithmId(scheme: SignatureScheme): Uint8Array {
  const s = SIGNATURE_SCHEMES[scheme];
  if (!s) throw new CryptoError(`unknown signature scheme '${scheme as string}'`);
  if (s.pss && s.digest) {
    const params = derTlv(
      Tag.SEQUENCE,
      derTlv(Tag.context(0), digestAlgId(s.digest)),
      derTlv(Tag.context(1), derTlv(Tag.SEQUENCE, derOid(OID.mgf1), digestAlgId(s.digest))),
      derTlv(Tag.context(2), derSmallInt(DIGEST_LENGTH[s.digest])),
    );
    return derTlv(Tag.SEQUENCE, derOid(OID.rsassaPss), params);
  }
  for (const [oid, sch, withNull] of SIMPLE_OIDS) {
    if (sch === scheme) {
      return withNull
        ? derTlv(Tag.SEQUENCE, derOid(oid), DER_NULL)
        : derTlv(Tag.SEQUENCE, derOid(oid));
    }
  }
  throw new CryptoError(`no AlgorithmIdentifier for '${scheme}'`);
}

/** A decoded AlgorithmIdentifier: the scheme and, for RSASSA-PSS, its salt length. */
export interface SignatureAlgorithmId {
  /** The scheme the AlgorithmIdentifier names. */
  readonly scheme: SignatureScheme;
  /** RSASSA-PSS salt length in bytes from the parameters (absent for other schemes). */
  readonly saltLength?: number;
}

function digestFromAlgId(d: Der, what: string): SignatureDigest {
  if (d.tag !== Tag.SEQUENCE) throw new CryptoError(`malformed ${what}: expected a SEQUENCE`);
  const parts = readDerSequence(d.value, what);
  if (parts.length < 1 || parts.length > 2) throw new CryptoError(`malformed ${what}`);
  if (parts.length === 2 && (parts[1].tag !== Tag.NULL || parts[1].value.length !== 0)) {
    throw new CryptoError(`malformed ${what}: digest parameters must be NULL or absent`);
  }
  const oid = oidHex(parts[0], what);
  for (const [name, o] of Object.entries(DIGEST_OID)) {
    if (o === oid) return name as SignatureDigest;
  }
  throw new CryptoError(`unsupported digest OID ${oid} in ${what}`);
}

function decodePssParams(params: Der | undefined): SignatureAlgorithmId {
  const what = "RSASSA-PSS parameters";
  // RFC 4055 defaults: SHA-1, MGF1 with SHA-1, salt 20, trailer 1.
  let digest: SignatureDigest = "sha1";
  let mgfDigest: SignatureDigest = "sha1";
  let saltLength = 20;
  if (params) {
    if (params.tag !== Tag.SEQUENCE) throw new CryptoError(`malformed ${what}`);
    let last = -1;
    for (const f of readDerSequence(params.value, what)) {
      const n = f.tag ^ 0xa0;
      if (n < 0 || n > 3 || n <= last) throw new CryptoError(`malformed ${what}: bad field order`);
      last = n;
      const inner = readDer(f.value, 0, what);
      if (inner.end !== f.value.length) throw new CryptoError(`malformed ${what}: trailing bytes`);
      if (n === 0) digest = digestFromAlgId(inner, what);
      else if (n === 1) {
        if (inner.tag !== Tag.SEQUENCE) throw new CryptoError(`malformed ${what}: MGF`);
        const mgf = readDerSequence(inner.value, what);
        if (mgf.length !== 2 || oidHex(mgf[0], what) !== OID.mgf1) {
          throw new CryptoError(`unsupported mask generation function in ${what} (only MGF1)`);
        }
        mgfDigest = digestFromAlgId(mgf[1], what);
      } else if (n === 2) saltLength = readSmallInt(inner, what);
      else if (readSmallInt(inner, what) !== 1) {
        throw new CryptoError(`unsupported trailer field in ${what} (only 1)`);
      }
    }
  }
  if (mgfDigest !== digest) {
    throw new CryptoError(
      `unsupported ${what}: MGF1 digest ${mgfDigest} differs from message digest ${digest}`,
    );
  }
  if (digest === "sha1") {
    throw new CryptoError(`unsupported ${what}: RSASSA-PSS with SHA-1 (use SHA-256 or better)`);
  }
  return { scheme: `rsa-pss-${digest}` as SignatureScheme, saltLength };
}

/**
 * Decodes a DER AlgorithmIdentifier from an RFC 7427 AUTH payload. RSA
 * PKCS#1 v1.5 accepts a NULL or absent parameter; ECDSA and EdDSA must have
 * none; RSASSA-PSS parameters are parsed (SHA-2 digests, MGF1 with the same
 * digest). Throws {@link CryptoError} naming what is unsupported.
 *
 * @example
 * ```ts
 * decodeSignatureAlgorithmId(fromHex("300a06082a8648ce3d040302")).scheme; // "ecdsa-sha256"
 * ```
 */
export function decodeSignatureAlgorithmId(der: Uint8Array): SignatureAlgorithmId {
  const what = "signature AlgorithmIdentifier";
  const top = readDer(der, 0, what);
  if (top.tag !== Tag.SEQUENCE || top.end !== der.length) {
    throw new CryptoError(`malformed ${what}: expected one SEQUENCE`);
  }
  const parts = readDerSequence(top.value, what);
  if (parts.length < 1 || parts.length > 2) throw new CryptoError(`malformed ${what}`);
  const oid = oidHex(parts[0], what);
  const param = parts[1];
  if (oid === OID.rsassaPss) return decodePssParams(param);
  for (const [o, scheme, withNull] of SIMPLE_OIDS) {
    if (o !== oid) continue;
    if (param && !(withNull && param.tag === Tag.NULL && param.value.length === 0)) {
      throw new CryptoError(`malformed ${what}: unexpected parameters for ${scheme}`);
    }
    return { scheme };
  }
  throw new CryptoError(`unsupported signature algorithm OID ${oid} (${toHex(der)})`);
}

/**
 * The AUTH data of the Digital Signature method (RFC 7427 section 3):
 * ASN.1 length (1 octet) | AlgorithmIdentifier | signature value.
 */
export function encodeDigitalSignatureAuth(
  algorithmId: Uint8Array,
  signature: Uint8Array,
): Uint8Array {
  if (algorithmId.length > 255) throw new CryptoError("AlgorithmIdentifier longer than 255 bytes");
  return concat(Uint8Array.of(algorithmId.length), algorithmId, signature);
}

/** Splits RFC 7427 AUTH data into its AlgorithmIdentifier and signature value. */
export function decodeDigitalSignatureAuth(
  data: Uint8Array,
): { algorithmId: Uint8Array; signature: Uint8Array } {
  if (data.length < 1 || data[0] === 0 || 1 + data[0] > data.length) {
    throw new CryptoError(
      `malformed Digital Signature AUTH data: ASN.1 length ${data[0] ?? "(none)"} ` +
        `does not fit in ${data.length} bytes`,
    );
  }
  return { algorithmId: data.subarray(1, 1 + data[0]), signature: data.subarray(1 + data[0]) };
}

/** Printable name of an IKEv2 hash algorithm id. */
export function signatureHashName(id: number): string {
  for (const [name, v] of Object.entries(SignatureHash)) if (v === id) return name;
  return `HASH_UNKNOWN_${id}`;
}

/**
 * The hash ids deno-ipsec announces in SIGNATURE_HASH_ALGORITHMS by default:
 * SHA2-256/384/512 and Identity (for EdDSA). SHA-1 is not announced
 * (RFC 8247 section 3.3: MUST NOT).
 */
export const DEFAULT_SIGNATURE_HASHES: readonly SignatureHashId[] = [
  SignatureHash.SHA2_256,
  SignatureHash.SHA2_384,
  SignatureHash.SHA2_512,
  SignatureHash.IDENTITY,
];

/** Notify data of SIGNATURE_HASH_ALGORITHMS: a list of 2-octet hash ids (RFC 7427 section 4). */
export function encodeSignatureHashAlgorithms(ids: readonly number[]): Uint8Array {
  const out = new Uint8Array(2 * ids.length);
  ids.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id > 0xffff) {
      throw new CryptoError(`bad hash algorithm id ${id}`);
    }
    out[2 * i] = id >> 8;
    out[2 * i + 1] = id & 0xff;
  });
  return out;
}

/**
 * Parses SIGNATURE_HASH_ALGORITHMS notify data into the announced ids in
 * order (unknown ids kept, duplicates dropped). An odd length throws
 * {@link CryptoError}.
 */
export function decodeSignatureHashAlgorithms(data: Uint8Array): number[] {
  if (data.length % 2 !== 0) {
    throw new CryptoError(
      `SIGNATURE_HASH_ALGORITHMS data must be a multiple of 2 bytes, got ${data.length}`,
    );
  }
  const out: number[] = [];
  for (let i = 0; i < data.length; i += 2) {
    const id = (data[i] << 8) | data[i + 1];
    if (!out.includes(id)) out.push(id);
  }
  return out;
}

/**
 * The hash ids both sides support, in our preference order (`ours` first).
 *
 * @example
 * ```ts
 * negotiateSignatureHashes([2, 3, 4, 5], [1, 2, 5]); // [2, 5]
 * ```
 */
export function negotiateSignatureHashes(
  ours: readonly number[],
  peers: readonly number[],
): number[] {
  return ours.filter((id) => peers.includes(id));
}
