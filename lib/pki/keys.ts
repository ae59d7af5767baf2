/**
 * Key pairs for IKEv2 authentication: RSA, ECDSA (P-256/384/521) and Ed25519,
 * generated with WebCrypto and read from PKCS#8, PKCS#1 (`RSA PRIVATE KEY`)
 * or SEC1 (`EC PRIVATE KEY`) in PEM or DER (what openssl and strongSwan's
 * `pki --gen` write). Keys are always written as PKCS#8.
 *
 * @module
 */
import * as nodeCrypto from "node:crypto";
import { Buffer } from "node:buffer";
import { PkiError } from "./pki_error.ts";
import { encodePem, readBlocks } from "./pem.ts";

/** Key algorithms `ipsec pki` supports. */
export type KeyType = "rsa" | "ecdsa" | "ed25519";

/** The key types, for argument validation and help texts. */
export const KEY_TYPES: readonly KeyType[] = ["rsa", "ecdsa", "ed25519"];

/** Allowed sizes per type (bits; ECDSA sizes name the curve). */
export const KEY_SIZES: Readonly<Record<KeyType, readonly number[]>> = {
  rsa: [2048, 3072, 4096],
  ecdsa: [256, 384, 521],
  ed25519: [256],
};

/** Default sizes: RSA 3072 and ECDSA P-256 (both about 128-bit security). */
export const DEFAULT_KEY_SIZE: Readonly<Record<KeyType, number>> = {
  rsa: 3072,
  ecdsa: 256,
  ed25519: 256,
};

/** A private key with its public half, usable for signing with WebCrypto. */
export interface KeyPair {
  readonly type: KeyType;
  /** Modulus size for RSA, curve size for ECDSA, 256 for Ed25519. */
  readonly bits: number;
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  /** DER SubjectPublicKeyInfo of the public key. */
  readonly spki: Uint8Array;
}

const CURVES: Record<number, string> = { 256: "P-256", 384: "P-384", 521: "P-521" };
const NODE_CURVES: Record<string, number> = { prime256v1: 256, secp384r1: 384, secp521r1: 521 };

/**
 * The WebCrypto import/generate algorithm for a key. RSA keys are bound to
 * RSASSA-PKCS1-v1_5 with SHA-256 (what strongSwan and Windows use by default).
 */
export function keyAlgorithm(
  type: KeyType,
  bits: number,
): RsaHashedImportParams | EcKeyImportParams | Algorithm {
  switch (type) {
    case "rsa":
      return { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
    case "ecdsa":
      return { name: "ECDSA", namedCurve: CURVES[bits] };
    case "ed25519":
      return { name: "Ed25519" };
  }
}

/**
 * The signature algorithm used when this key signs a certificate or CSR:
 * SHA-256 for RSA and P-256, SHA-384 for P-384, SHA-512 for P-521, pure
 * Ed25519 (the same choices strongSwan makes).
 */
export function signingAlgorithm(type: KeyType, bits: number): Algorithm | EcdsaParams {
  switch (type) {
    case "rsa":
      return { name: "RSASSA-PKCS1-v1_5" };
    case "ecdsa":
      return {
        name: "ECDSA",
        hash: bits === 521 ? "SHA-512" : bits === 384 ? "SHA-384" : "SHA-256",
      };
    case "ed25519":
      return { name: "Ed25519" };
  }
}

/** Checks `type`/`size` and returns the size to use; throws {@linkcode PkiError}. */
export function checkKeySize(type: string, size?: number): number {
  if (!(KEY_TYPES as readonly string[]).includes(type)) {
    throw new PkiError(`unknown key type '${type}' (use one of: ${KEY_TYPES.join(", ")})`);
  }
  const t = type as KeyType;
  const bits = size ?? DEFAULT_KEY_SIZE[t];
  if (!KEY_SIZES[t].includes(bits)) {
    throw new PkiError(
      `invalid size ${bits} for ${t} keys (use one of: ${KEY_SIZES[t].join(", ")})`,
    );
  }
  return bits;
}

/**
 * Generates a new key pair.
 *
 * @example
 * ```ts
 * const key = await generateKeyPair("ecdsa", 384);
 * Deno.writeTextFileSync("key.pem", await exportPrivateKeyPem(key));
 * ```
 */
export async function generateKeyPair(type: KeyType, size?: number): Promise<KeyPair> {
  const bits = checkKeySize(type, size);
  const alg = type === "rsa"
    ? {
      name: "RSASSA-PKCS1-v1_5",
      hash: "SHA-256",
      modulusLength: bits,
      publicExponent: new Uint8Array([1, 0, 1]),
    }
    : keyAlgorithm(type, bits);
  const kp = await crypto.subtle.generateKey(alg, true, ["sign", "verify"]) as CryptoKeyPair;
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", kp.publicKey));
  return { type, bits, privateKey: kp.privateKey, publicKey: kp.publicKey, spki };
}

/** The private key as DER PKCS#8. */
export async function exportPrivateKeyDer(key: KeyPair): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.exportKey("pkcs8", key.privateKey));
}

/** The private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`). */
export async function exportPrivateKeyPem(key: KeyPair): Promise<string> {
  return encodePem("PRIVATE KEY", await exportPrivateKeyDer(key));
}

/** Type and size of a node:crypto key object; throws for unsupported keys. */
export function describeKeyObject(
  k: nodeCrypto.KeyObject,
  what = "key",
): { type: KeyType; bits: number } {
  switch (k.asymmetricKeyType) {
    case "rsa":
      return { type: "rsa", bits: k.asymmetricKeyDetails?.modulusLength ?? 0 };
    case "ec": {
      const curve = k.asymmetricKeyDetails?.namedCurve ?? "";
      const bits = NODE_CURVES[curve];
      if (!bits) throw new PkiError(`${what}: unsupported elliptic curve '${curve}'`);
      return { type: "ecdsa", bits };
    }
    case "ed25519":
      return { type: "ed25519", bits: 256 };
    default:
      throw new PkiError(`${what}: unsupported key algorithm '${k.asymmetricKeyType}'`);
  }
}

const PRIVATE_LABELS: Record<string, "pkcs8" | "pkcs1" | "sec1"> = {
  "PRIVATE KEY": "pkcs8",
  "RSA PRIVATE KEY": "pkcs1",
  "EC PRIVATE KEY": "sec1",
};

/**
 * Whether `bytes` hold a passphrase-protected private key: a PEM `ENCRYPTED
 * PRIVATE KEY` (PKCS#8, PBES2) or a traditional PEM block with
 * `Proc-Type: 4,ENCRYPTED` (as `openssl genrsa -aes256` writes).
 */
export function isEncryptedPrivateKey(bytes: Uint8Array): boolean {
  const text = new TextDecoder().decode(bytes.subarray(0, 4096));
  return /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,\s*ENCRYPTED/.test(text);
}

/**
 * Parses a private key into a node:crypto KeyObject, or returns null if it
 * is not one. An encrypted key (PEM `ENCRYPTED PRIVATE KEY`, a traditional
 * `Proc-Type: 4,ENCRYPTED` PEM block, or DER PKCS#8 EncryptedPrivateKeyInfo)
 * needs its `passphrase`; without it, or with a wrong one, a
 * {@linkcode PkiError} says so.
 */
export function parsePrivateKeyObject(
  bytes: Uint8Array,
  what = "input",
  passphrase?: string,
): nodeCrypto.KeyObject | null {
  if (isEncryptedPrivateKey(bytes)) {
    if (passphrase === undefined) {
      throw new PkiError(`${what}: the private key is encrypted and no passphrase was given`);
    }
    try {
      return nodeCrypto.createPrivateKey({
        key: new TextDecoder().decode(bytes),
        format: "pem",
        passphrase,
      });
    } catch {
      throw new PkiError(
        `${what}: cannot decrypt the private key: wrong passphrase, or an encryption this ` +
          "OpenSSL lacks",
      );
    }
  }
  for (const b of readBlocks(bytes, what)) {
    const types = b.label === null
      ? ["pkcs8", "pkcs1", "sec1"] as const
      : b.label in PRIVATE_LABELS
      ? [PRIVATE_LABELS[b.label]]
      : [];
    for (const type of types) {
      try {
        return nodeCrypto.createPrivateKey({ key: Buffer.from(b.der), format: "der", type });
      } catch {
        // try the next encoding
      }
    }
    if (b.label !== null && b.label in PRIVATE_LABELS) {
      throw new PkiError(`${what}: corrupt ${b.label}`);
    }
    if (b.label === null && passphrase !== undefined) {
      // DER EncryptedPrivateKeyInfo (PKCS#8) has no PEM label to tell it by.
      try {
        return nodeCrypto.createPrivateKey({
          key: Buffer.from(b.der),
          format: "der",
          type: "pkcs8",
          passphrase,
        });
      } catch {
        // not one, or the wrong passphrase: not a key we can read
      }
    }
  }
  return null;
}

/**
 * Reads a private key (PKCS#8, PKCS#1 RSA or SEC1 EC; PEM or DER) and imports
 * it into WebCrypto for signing. Throws {@linkcode PkiError} with a clear reason.
 *
 * @example
 * ```ts
 * const ca = await importPrivateKey(Deno.readFileSync("ca.key"), "ca.key");
 * ```
 */
export async function importPrivateKey(bytes: Uint8Array, what = "input"): Promise<KeyPair> {
  const k = parsePrivateKeyObject(bytes, what);
  if (!k) {
    const label = readBlocks(bytes, what)[0].label;
    throw new PkiError(`${what}: not a private key${label ? ` (found ${label})` : ""}`);
  }
  const { type, bits } = describeKeyObject(k, what);
  const pkcs8 = new Uint8Array(k.export({ type: "pkcs8", format: "der" }));
  const spki = new Uint8Array(
    nodeCrypto.createPublicKey(k).export({ type: "spki", format: "der" }),
  );
  const alg = keyAlgorithm(type, bits);
  const privateKey = await crypto.subtle.importKey("pkcs8", pkcs8, alg, true, ["sign"]);
  const publicKey = await crypto.subtle.importKey("spki", spki, alg, true, ["verify"]);
  return { type, bits, privateKey, publicKey, spki };
}

/** Public key info: type, size and DER SubjectPublicKeyInfo. */
export interface PublicKeyInfo {
  readonly type: KeyType;
  readonly bits: number;
  readonly spki: Uint8Array;
}

/** Describes a DER SubjectPublicKeyInfo; throws {@linkcode PkiError} if unsupported. */
export function publicKeyInfo(spki: Uint8Array, what = "public key"): PublicKeyInfo {
  let k: nodeCrypto.KeyObject;
  try {
    k = nodeCrypto.createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
  } catch {
    throw new PkiError(`${what}: not a valid SubjectPublicKeyInfo`);
  }
  return { ...describeKeyObject(k, what), spki };
}

/** Encodes a DER SubjectPublicKeyInfo as PEM (`-----BEGIN PUBLIC KEY-----`). */
export function publicKeyPem(spki: Uint8Array): string {
  return encodePem("PUBLIC KEY", spki);
}
