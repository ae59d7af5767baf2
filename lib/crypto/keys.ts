/**
 * IKEv2 key derivation (RFC 7296 sections 2.13-2.18): SKEYSEED, the seven
 * SK_* keys, child SA KEYMAT with and without PFS, the IKE SA rekey
 * SKEYSEED, and the AUTH payload inputs (signed octets, MACedID, PSK AUTH).
 * All functions are pure.
 *
 * @module
 */
import { concat } from "../wire/bytes.ts";
import { CryptoError } from "./types.ts";
import { createPrf, type SoftwareBackend } from "./primitives.ts";
import { prfPlus } from "./prf_plus.ts";
import { encrInfo, encrKeymatLength, integInfo, PrfId, prfInfo } from "./transforms.ts";

/** The negotiated transforms that decide key lengths. */
export interface KeySuite {
  /** PRF transform id (Transform Type 2). Ignored for child SAs, which use the IKE SA's PRF. */
  readonly prfId: number;
  /** Encryption transform id (Transform Type 1). */
  readonly encrId: number;
  /** Key length in bits from the Key Length attribute (AES); omit for fixed-length ciphers. */
  readonly encrKeyBits?: number;
  /** Integrity transform id (Transform Type 3); omit or 0 for AEAD ciphers. */
  readonly integId?: number;
}

/** Lengths in bytes of the pieces keys are cut into. */
export interface KeyLengths {
  /** Encryption key incl. salt for GCM/ChaCha20-Poly1305/CTR. */
  readonly encr: number;
  /** Integrity key (0 for AEAD). */
  readonly integ: number;
  /** PRF key length: SK_d, SK_pi and SK_pr (IKE SA only). */
  readonly prf: number;
}

/** Key lengths for a suite (RFC 7296 section 2.14, RFC 4106 section 8.1, RFC 7634 section 2). */
export function keyLengths(suite: KeySuite): KeyLengths {
  const e = encrInfo(suite.encrId);
  if (!e) throw new CryptoError(`unsupported encryption transform ${suite.encrId}`);
  let encr: number;
  try {
    encr = encrKeymatLength(suite.encrId, suite.encrKeyBits);
  } catch (err) {
    throw new CryptoError((err as Error).message);
  }
  let integ = 0;
  if (suite.integId) {
    if (e.kind === "aead") {
      throw new CryptoError(`${e.name} is an AEAD and takes no integrity transform`);
    }
    const i = integInfo(suite.integId);
    if (!i) throw new CryptoError(`unsupported integrity transform ${suite.integId}`);
    integ = i.keyLength;
  } else if (e.kind !== "aead") {
    throw new CryptoError(`${e.name} needs an integrity transform`);
  }
  const p = prfInfo(suite.prfId);
  return { encr, integ, prf: p ? p.keyLength : 0 };
}

function prfOf(prfId: number, backend?: SoftwareBackend) {
  return createPrf(prfId, backend);
}

function spiBytes(spi: bigint | Uint8Array): Uint8Array {
  if (spi instanceof Uint8Array) {
    if (spi.length !== 8) throw new CryptoError(`IKE SPI must be 8 bytes, got ${spi.length}`);
    return spi;
  }
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, spi));
  return out;
}

/**
 * SKEYSEED = prf(Ni | Nr, g^ir) (RFC 7296 section 2.14). For the AES-XCBC
 * and AES-CMAC PRFs only the first 64 bits of Ni and of Nr form the key.
 *
 * @example
 * ```ts
 * const skeyseed = computeSkeyseed(PrfId.HMAC_SHA2_256, ni, nr, gir);
 * ```
 */
export function computeSkeyseed(
  prfId: number,
  ni: Uint8Array,
  nr: Uint8Array,
  sharedSecret: Uint8Array,
  backend?: SoftwareBackend,
): Uint8Array {
  const fixed = prfId === PrfId.AES128_XCBC || prfId === PrfId.AES128_CMAC;
  const key = fixed ? concat(ni.subarray(0, 8), nr.subarray(0, 8)) : concat(ni, nr);
  return prfOf(prfId, backend).compute(key, sharedSecret);
}

/**
 * SKEYSEED for a rekeyed IKE SA (RFC 7296 section 2.18):
 * prf(SK_d (old), g^ir (new) | Ni | Nr), computed with the OLD IKE SA's PRF.
 * Ni and Nr are the nonces of the CREATE_CHILD_SA exchange.
 */
export function computeRekeySkeyseed(
  oldPrfId: number,
  oldSkD: Uint8Array,
  sharedSecretNew: Uint8Array,
  ni: Uint8Array,
  nr: Uint8Array,
  backend?: SoftwareBackend,
): Uint8Array {
  return prfOf(oldPrfId, backend).compute(oldSkD, concat(sharedSecretNew, ni, nr));
}

/** The keys of an IKE SA (RFC 7296 section 2.14). */
export interface IkeSaKeys {
  /** SK_d: keys child SAs and IKE SA rekeys. */
  readonly skD: Uint8Array;
  /** Integrity key initiator->responder (empty for AEAD). */
  readonly skAi: Uint8Array;
  /** Integrity key responder->initiator (empty for AEAD). */
  readonly skAr: Uint8Array;
  /** Encryption key initiator->responder, incl. salt for AEAD. */
  readonly skEi: Uint8Array;
  /** Encryption key responder->initiator, incl. salt for AEAD. */
  readonly skEr: Uint8Array;
  /** Key for the initiator's MACedID in AUTH. */
  readonly skPi: Uint8Array;
  /** Key for the responder's MACedID in AUTH. */
  readonly skPr: Uint8Array;
}

/** Inputs of {@link deriveIkeSaKeys}. */
export interface IkeSaKeyInput {
  /** The negotiated transforms. */
  readonly suite: KeySuite;
  /** SKEYSEED from computeSkeyseed or computeRekeySkeyseed. */
  readonly skeyseed: Uint8Array;
  /** Initiator's nonce (Nonce payload data). */
  readonly ni: Uint8Array;
  /** Responder's nonce. */
  /** Responder's nonce. */
  readonly nr: Uint8Array;
  /** Initiator's IKE SPI (8 bytes or a bigint). */
  readonly spiI: bigint | Uint8Array;
  /** Responder's IKE SPI (8 bytes or a bigint). */
  readonly spiR: bigint | Uint8Array;
}

/**
 * {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} =
 * prf+ (SKEYSEED, Ni | Nr | SPIi | SPIr) (RFC 7296 section 2.14), cut by the
 * suite's key lengths (SK_a* empty for AEAD; SK_e* include the salt).
 *
 * @example
 * ```ts
 * const suite = { prfId: 5, encrId: 20, encrKeyBits: 256 };
 * const keys = deriveIkeSaKeys({ suite, skeyseed, ni, nr, spiI, spiR });
 * keys.skEi.length; // 36 (32-byte key + 4-byte salt)
 * ```
 */
export function deriveIkeSaKeys(input: IkeSaKeyInput, backend?: SoftwareBackend): IkeSaKeys {
  const len = keyLengths(input.suite);
  if (len.prf === 0) throw new CryptoError(`unsupported PRF transform ${input.suite.prfId}`);
  const seed = concat(input.ni, input.nr, spiBytes(input.spiI), spiBytes(input.spiR));
  const total = 3 * len.prf + 2 * len.integ + 2 * len.encr;
  const km = prfPlus(prfOf(input.suite.prfId, backend), input.skeyseed, seed, total);
  let o = 0;
  // Views of one buffer: every typed array with its own buffer costs ~0.5 KB
  // of memory, and an IKE SA keeps these for its lifetime.
  const take = (n: number) => km.subarray(o, o += n);
  return {
    skD: take(len.prf),
    skAi: take(len.integ),
    skAr: take(len.integ),
    skEi: take(len.encr),
    skEr: take(len.encr),
    skPi: take(len.prf),
    skPr: take(len.prf),
  };
}

/** Keys of one child SA pair (RFC 7296 section 2.17). */
export interface ChildSaKeys {
  /** Encryption key for initiator->responder traffic (incl. salt for AEAD). */
  readonly encrI: Uint8Array;
  /** Integrity key for initiator->responder traffic (empty for AEAD). */
  readonly integI: Uint8Array;
  /** Encryption key for responder->initiator traffic. */
  readonly encrR: Uint8Array;
  /** Integrity key for responder->initiator traffic. */
  readonly integR: Uint8Array;
}

/** Inputs of {@link deriveChildSaKeys}. */
export interface ChildSaKeyInput {
  /** The IKE SA's PRF transform id. */
  readonly prfId: number;
  /** SK_d of the IKE SA. */
  readonly skD: Uint8Array;
  /** ESP: the child SA's transforms (its prfId is ignored). Omit for AH. */
  readonly suite?: KeySuite;
  /** For AH: the integrity transform; no encryption keys are produced. */
  readonly ahIntegId?: number;
  /** Nonces of the exchange that created the child SA (IKE_AUTH: the IKE_SA_INIT ones). */
  readonly ni: Uint8Array;
  /** Responder's nonce of that exchange. */
  readonly nr: Uint8Array;
  /** g^ir (new) of the CREATE_CHILD_SA KE exchange when PFS is used. */
  readonly sharedSecret?: Uint8Array;
}

/**
 * KEYMAT = prf+(SK_d, Ni | Nr), or prf+(SK_d, g^ir (new) | Ni | Nr) with PFS
 * (RFC 7296 section 2.17). Taken in the order: encryption key I->R,
 * integrity key I->R, encryption key R->I, integrity key R->I.
 *
 * @example
 * ```ts
 * const k = deriveChildSaKeys({ prfId: 5, skD, suite: { prfId: 5, encrId: 20, encrKeyBits: 128 }, ni, nr });
 * k.encrI.length; // 20
 * ```
 */
export function deriveChildSaKeys(input: ChildSaKeyInput, backend?: SoftwareBackend): ChildSaKeys {
  let encr = 0;
  let integ = 0;
  if (input.suite) {
    const len = keyLengths(input.suite);
    encr = len.encr;
    integ = len.integ;
  } else if (input.ahIntegId !== undefined) {
    const i = integInfo(input.ahIntegId);
    if (!i) throw new CryptoError(`unsupported integrity transform ${input.ahIntegId}`);
    integ = i.keyLength;
  } else {
    throw new CryptoError("deriveChildSaKeys needs a suite (ESP) or ahIntegId (AH)");
  }
  const seed = input.sharedSecret
    ? concat(input.sharedSecret, input.ni, input.nr)
    : concat(input.ni, input.nr);
  const km = prfPlus(prfOf(input.prfId, backend), input.skD, seed, 2 * (encr + integ));
  let o = 0;
  const take = (n: number) => km.subarray(o, o += n); // one buffer, as for the IKE SA keys
  return { encrI: take(encr), integI: take(integ), encrR: take(encr), integR: take(integ) };
}

/**
 * MACedIDForI = prf(SK_pi, RestOfInitIDPayload) (and likewise for R with
 * SK_pr), where RestOfIDPayload is the ID payload body after the generic
 * payload header: ID Type (1 byte), 3 reserved bytes, identification data.
 */
export function macedId(
  prfId: number,
  skP: Uint8Array,
  restOfIdPayload: Uint8Array,
  backend?: SoftwareBackend,
): Uint8Array {
  return prfOf(prfId, backend).compute(skP, restOfIdPayload);
}

/**
 * The octets an AUTH payload covers (RFC 7296 section 2.15):
 * InitiatorSignedOctets = RealMessage1 | NonceRData | MACedIDForI, and
 * ResponderSignedOctets = RealMessage2 | NonceIData | MACedIDForR.
 * `ownMessage` is our whole IKE_SA_INIT message as sent (header included),
 * `peerNonce` the peer's Nonce payload data.
 */
export function authSignedOctets(
  ownMessage: Uint8Array,
  peerNonce: Uint8Array,
  ownMacedId: Uint8Array,
): Uint8Array {
  return concat(ownMessage, peerNonce, ownMacedId);
}

const KEY_PAD = new TextEncoder().encode("Key Pad for IKEv2");

/**
 * The shared-key AUTH value (RFC 7296 section 2.15):
 * AUTH = prf( prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>).
 * Compare received values with `constantTimeEqual` from lib/wire/bytes.ts.
 *
 * @example
 * ```ts
 * const octets = authSignedOctets(initMsg, nr, macedId(prfId, keys.skPi, idiBody));
 * const auth = pskAuth(prfId, psk, octets);
 * ```
 */
export function pskAuth(
  prfId: number,
  sharedSecret: Uint8Array,
  signedOctets: Uint8Array,
  backend?: SoftwareBackend,
): Uint8Array {
  const prf = prfOf(prfId, backend);
  return prf.compute(prf.compute(sharedSecret, KEY_PAD), signedOctets);
}

/** SK_d, SK_pi and SK_pr mixed with a post-quantum preshared key (RFC 8784 section 3). */
export interface PpkKeys {
  readonly skD: Uint8Array;
  readonly skPi: Uint8Array;
  readonly skPr: Uint8Array;
}

/**
 * RFC 8784 section 3: SK_d' = prf+(PPK, SK_d), SK_pi' = prf+(PPK, SK_pi),
 * SK_pr' = prf+(PPK, SK_pr), each as long as the key it replaces. SK_pi' and
 * SK_pr' key the MACedIDs of both AUTH payloads; SK_d' keys the child SAs
 * and IKE SA rekeys from then on.
 *
 * @example
 * ```ts
 * const p = derivePpkKeys(suite.prfId, ppk, keys);
 * macedId(suite.prfId, p.skPi, idiBody);
 * ```
 */
export function derivePpkKeys(
  prfId: number,
  ppk: Uint8Array,
  keys: Pick<IkeSaKeys, "skD" | "skPi" | "skPr">,
  backend?: SoftwareBackend,
): PpkKeys {
  const prf = prfOf(prfId, backend);
  const mix = (k: Uint8Array) => prfPlus(prf, ppk, k, k.length);
  return { skD: mix(keys.skD), skPi: mix(keys.skPi), skPr: mix(keys.skPr) };
}
