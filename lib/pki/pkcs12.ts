/**
 * PKCS#12 (RFC 7292) export: a private key, its certificate and optional CA
 * certificates in one password-protected `.p12` file, the form road-warrior
 * clients import (Windows, macOS/iOS, Android, NSS `pk12util`, OpenSSL).
 *
 * The layout is the one OpenSSL 3 writes by default:
 *
 * ```
 * PFX { version 3,
 *   authSafe: data -> AuthenticatedSafe [
 *     encryptedData (PBES2) -> SafeContents [ CertBag (end entity, friendlyName, localKeyId),
 *                                             CertBag (CA) ... ],
 *     data -> SafeContents [ pkcs8ShroudedKeyBag (PBES2, friendlyName, localKeyId) ] ],
 *   macData: HMAC-SHA-256, key from the PKCS#12 KDF (appendix B, ID=3) }
 * ```
 *
 * PBES2 is PBKDF2-HMAC-SHA-256 with a random 16-byte salt and AES-256-CBC
 * with a random IV, over the UTF-8 password bytes (RFC 8018; what OpenSSL 3
 * does). The MAC key is derived from the BMPString password with its
 * trailing zero pair (RFC 7292 appendix B.1), as every importer expects.
 *
 * @module
 */
import { cbc } from "@noble/ciphers/aes.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha1 } from "@noble/hashes/legacy.js";
import { pbkdf2 } from "@noble/hashes/pbkdf2.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { compareBytes, concat } from "../wire/bytes.ts";
import { PkiError } from "./pki_error.ts";
import { exportPrivateKeyDer, type KeyPair } from "./keys.ts";
import { issuerSpki, type X509Certificate } from "./certificate.ts";

/** Default PBKDF2 and MAC iteration count (OpenSSL 3's `PKCS12_DEFAULT_ITER`). */
export const PKCS12_DEFAULT_ITERATIONS = 2048;

/** Parameters for {@linkcode createPkcs12}. */
export interface Pkcs12Params {
  /** The private key; must be the one of `certificate`. */
  key: KeyPair;
  /** The end-entity certificate of `key`. */
  certificate: X509Certificate;
  /** CA and intermediate certificates to include (in this order). */
  caCertificates?: readonly X509Certificate[];
  /** The import password; must not be empty. */
  password: string;
  /** friendlyName of the key and certificate; default the certificate's CN (else its subject). */
  friendlyName?: string;
  /** PBKDF2 and MAC iteration count; at least 2048 (the default). */
  iterations?: number;
  /** Source of salts and IVs (injected by tests); default `crypto.getRandomValues`. */
  random?: (length: number) => Uint8Array;
}

// ---------------------------------------------------------------------------
// Minimal DER writer (lengths up to 2^32 - 1; the values here are small).

function tlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const v = concat(...parts);
  const n = v.length;
  let len: Uint8Array;
  if (n < 0x80) len = Uint8Array.of(n);
  else {
    const bytes: number[] = [];
    for (let x = n; x > 0; x = Math.floor(x / 256)) bytes.unshift(x & 0xff);
    len = Uint8Array.of(0x80 | bytes.length, ...bytes);
  }
  return concat(Uint8Array.of(tag), len, v);
}

const seq = (...parts: Uint8Array[]): Uint8Array => tlv(0x30, ...parts);
const octets = (b: Uint8Array): Uint8Array => tlv(0x04, b);
/** [0] EXPLICIT (constructed, context-specific 0). */
const explicit0 = (...parts: Uint8Array[]): Uint8Array => tlv(0xa0, ...parts);
const NULL = Uint8Array.of(0x05, 0x00);

/** SET OF, elements sorted by their encodings as DER requires. */
function setOf(elements: Uint8Array[]): Uint8Array {
  return tlv(0x31, ...[...elements].sort(compareBytes));
}

/** A non-negative INTEGER below 2^31. */
function int(n: number): Uint8Array {
  const bytes: number[] = [];
  for (let x = n; x > 0; x = Math.floor(x / 256)) bytes.unshift(x & 0xff);
  if (bytes.length === 0 || bytes[0] & 0x80) bytes.unshift(0);
  return tlv(0x02, Uint8Array.from(bytes));
}

/** An OBJECT IDENTIFIER from its dotted form. */
function oid(dotted: string): Uint8Array {
  const arcs = dotted.split(".").map(Number);
  const out = [arcs[0] * 40 + arcs[1]];
  for (const arc of arcs.slice(2)) {
    const b = [arc & 0x7f];
    for (let x = Math.floor(arc / 128); x > 0; x = Math.floor(x / 128)) b.unshift(0x80 | x & 0x7f);
    out.push(...b);
  }
  return tlv(0x06, Uint8Array.from(out));
}

/** BMPString bytes (UTF-16BE code units), as friendlyName and the MAC KDF use them. */
function bmp(s: string): Uint8Array {
  const out = new Uint8Array(s.length * 2);
  for (let i = 0; i < s.length; i++) {
    out[2 * i] = s.charCodeAt(i) >> 8;
    out[2 * i + 1] = s.charCodeAt(i) & 0xff;
  }
  return out;
}

const OID = {
  data: "1.2.840.113549.1.7.1",
  encryptedData: "1.2.840.113549.1.7.6",
  pbes2: "1.2.840.113549.1.5.13",
  pbkdf2: "1.2.840.113549.1.5.12",
  hmacWithSha256: "1.2.840.113549.2.9",
  aes256Cbc: "2.16.840.1.101.3.4.1.42",
  sha256: "2.16.840.1.101.3.4.2.1",
  pkcs8ShroudedKeyBag: "1.2.840.113549.1.12.10.1.2",
  certBag: "1.2.840.113549.1.12.10.1.3",
  x509Certificate: "1.2.840.113549.1.9.22.1",
  friendlyName: "1.2.840.113549.1.9.20",
  localKeyId: "1.2.840.113549.1.9.21",
} as const;

// ---------------------------------------------------------------------------
// Crypto: PBES2 (RFC 8018 section 6.2) and the PKCS#12 KDF (RFC 7292 appendix B.2).

/** PBES2 encryption; returns the AlgorithmIdentifier and the ciphertext. */
function pbes2Encrypt(
  plaintext: Uint8Array,
  password: Uint8Array,
  iterations: number,
  random: (n: number) => Uint8Array,
): { algorithm: Uint8Array; ciphertext: Uint8Array } {
  const salt = random(16);
  const iv = random(16);
  const key = pbkdf2(sha256, password, salt, { c: iterations, dkLen: 32 });
  const ciphertext = cbc(key, iv).encrypt(plaintext); // PKCS#7 padding
  const algorithm = seq(
    oid(OID.pbes2),
    seq(
      seq(oid(OID.pbkdf2), seq(octets(salt), int(iterations), seq(oid(OID.hmacWithSha256), NULL))),
      seq(oid(OID.aes256Cbc), octets(iv)),
    ),
  );
  return { algorithm, ciphertext };
}

/**
 * The PKCS#12 key derivation (RFC 7292 appendix B.2) with SHA-256
 * (u = 32, v = 64 bytes). `password` is the BMPString form with its
 * trailing zero pair; `id` is 1 (key), 2 (IV) or 3 (MAC key).
 *
 * @example
 * ```ts
 * const macKey = pkcs12Kdf(bmpPasswordWithZeroPair, macSalt, 3, 2048, 32);
 * ```
 */
export function pkcs12Kdf(
  password: Uint8Array,
  salt: Uint8Array,
  id: 1 | 2 | 3,
  iterations: number,
  length: number,
): Uint8Array {
  const u = 32;
  const v = 64;
  const fill = (x: Uint8Array): Uint8Array => {
    const out = new Uint8Array(v * Math.ceil(x.length / v));
    for (let i = 0; i < out.length; i++) out[i] = x[i % x.length];
    return out;
  };
  const d = new Uint8Array(v).fill(id);
  const i = concat(fill(salt), fill(password));
  const out = new Uint8Array(Math.ceil(length / u) * u);
  for (let block = 0; block * u < length; block++) {
    let a = sha256(concat(d, i));
    for (let r = 1; r < iterations; r++) a = sha256(a);
    out.set(a, block * u);
    const b = fill(a);
    // I_j = (I_j + B + 1) mod 2^(8v) for each v-byte block of I.
    for (let j = 0; j < i.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const s = i[j + k] + b[k] + carry;
        i[j + k] = s & 0xff;
        carry = s >> 8;
      }
    }
  }
  return out.slice(0, length);
}

// ---------------------------------------------------------------------------

function attributes(friendlyName: string, localKeyId: Uint8Array): Uint8Array {
  return setOf([
    seq(oid(OID.friendlyName), setOf([tlv(0x1e, bmp(friendlyName))])),
    seq(oid(OID.localKeyId), setOf([octets(localKeyId)])),
  ]);
}

function certBag(cert: Uint8Array, attrs?: Uint8Array): Uint8Array {
  const value = seq(oid(OID.x509Certificate), explicit0(octets(cert)));
  return seq(oid(OID.certBag), explicit0(value), ...(attrs ? [attrs] : []));
}

/** The certificate's first CN, else its whole subject DN. */
function defaultName(cert: X509Certificate): string {
  return cert.subjectName.getField("CN")[0] ?? cert.subject;
}

/**
 * Builds a DER PKCS#12 file holding `key`, `certificate` and the CA
 * certificates, protected by `password`. Throws {@linkcode PkiError} when the
 * key is not the certificate's or the password is empty.
 *
 * @example
 * ```ts
 * const p12 = await createPkcs12({ key, certificate: cert, caCertificates: [ca], password });
 * Deno.writeFileSync("alice.p12", p12, { mode: 0o600 });
 * ```
 */
export async function createPkcs12(p: Pkcs12Params): Promise<Uint8Array> {
  try {
    issuerSpki(p.certificate, p.key);
  } catch (e) {
    if (!(e instanceof PkiError)) throw e;
    throw new PkiError(
      `the private key does not belong to the certificate "${p.certificate.subject}" ` +
        "(their public keys differ)",
    );
  }
  if (p.password === "") {
    throw new PkiError("an empty PKCS#12 password is not supported (importers disagree on it)");
  }
  const iterations = p.iterations ?? PKCS12_DEFAULT_ITERATIONS;
  if (!Number.isInteger(iterations) || iterations < 2048 || iterations > 0x7fffffff) {
    throw new PkiError(`PKCS#12 iteration count must be at least 2048, got ${iterations}`);
  }
  const random = p.random ??
    ((n: number) => crypto.getRandomValues(new Uint8Array(n)));
  const utf8Password = new TextEncoder().encode(p.password);
  const bmpPassword = concat(bmp(p.password), Uint8Array.of(0, 0));
  const certDer = new Uint8Array(p.certificate.rawData);
  const localKeyId = sha1(certDer);
  const attrs = attributes(p.friendlyName ?? defaultName(p.certificate), localKeyId);

  // 1. The certificates, in an encryptedData ContentInfo.
  const certs = seq(
    certBag(certDer, attrs),
    ...(p.caCertificates ?? []).map((c) => certBag(new Uint8Array(c.rawData))),
  );
  const encCerts = pbes2Encrypt(certs, utf8Password, iterations, random);
  const certsInfo = seq(
    oid(OID.encryptedData),
    explicit0(seq(
      int(0),
      seq(oid(OID.data), encCerts.algorithm, tlv(0x80, encCerts.ciphertext)),
    )),
  );

  // 2. The key, as a pkcs8ShroudedKeyBag in a data ContentInfo.
  const pkcs8 = await exportPrivateKeyDer(p.key);
  const encKey = pbes2Encrypt(pkcs8, utf8Password, iterations, random);
  pkcs8.fill(0);
  const keyBag = seq(
    oid(OID.pkcs8ShroudedKeyBag),
    explicit0(seq(encKey.algorithm, octets(encKey.ciphertext))),
    attrs,
  );
  const keyInfo = seq(oid(OID.data), explicit0(octets(seq(keyBag))));

  // 3. The MAC over the AuthenticatedSafe, and the PFX.
  const authSafe = seq(certsInfo, keyInfo);
  const macSalt = random(16);
  const macKey = pkcs12Kdf(bmpPassword, macSalt, 3, iterations, 32);
  const mac = hmac(sha256, macKey, authSafe);
  return seq(
    int(3),
    seq(oid(OID.data), explicit0(octets(authSafe))),
    seq(seq(seq(oid(OID.sha256), NULL), octets(mac)), octets(macSalt), int(iterations)),
  );
}
