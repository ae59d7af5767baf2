/**
 * MS-CHAPv2 computations (RFC 2759 section 8), the MPPE key derivation of
 * RFC 3079 section 3, and the EAP-MSCHAPv2 MSK. Pure functions, no I/O.
 *
 * ## MSK layout (64 bytes)
 *
 * ```
 * MSK = GetAsymmetricStartKey(MasterKey, 16, IsSend=FALSE, IsServer=TRUE)   16 bytes (Magic2)
 *    || GetAsymmetricStartKey(MasterKey, 16, IsSend=TRUE,  IsServer=TRUE)   16 bytes (Magic3)
 *    || 32 zero bytes
 * ```
 *
 * i.e. the server's MS-MPPE-Recv-Key || the server's MS-MPPE-Send-Key, which is
 * the same as the peer's Send-Key || the peer's Recv-Key: both ends compute the
 * same bytes. The first half is derived with Magic2 ("On the client side, this
 * is the send key; on the server side, it is the receive key."), the second with
 * Magic3.
 *
 * Checked against:
 * - strongSwan `src/libcharon/plugins/eap_mschapv2/eap_mschapv2.c`, GenerateMSK:
 *   `msk = master_receive_key(Magic2) || master_send_key(Magic3) || keypad(16 zero)
 *   || keypad(16 zero)`, 64 bytes, returned unchanged by get_msk. This is the
 *   layout IKEv2 AUTH with charon needs (RFC 7296 2.16: the MSK is the AUTH key),
 *   so we keep all 64 bytes including the zero padding (it matters for PRFs
 *   that do not zero-pad keys, e.g. AES-XCBC-PRF).
 * - hostapd `src/eap_peer/eap_mschapv2.c` getKey ("MSK = server MS-MPPE-Recv-Key |
 *   MS-MPPE-Send-Key, i.e., peer MS-MPPE-Send-Key | MS-MPPE-Recv-Key": start keys
 *   (IsSend=1, IsServer=0) then (0, 0)) and `src/eap_server/eap_server_mschapv2.c`
 *   getKey ((0, 1) then (1, 1)): the same 32 bytes, without the 32-byte padding.
 *
 * ## User name
 * ChallengeHash uses the user name without a Windows domain prefix: everything
 * after the first backslash (`DOMAIN\user` -> `user`), as strongSwan's
 * extract_username and hostapd's mschapv2_remove_domain do. The Name field on
 * the wire carries the whole identity.
 *
 * ## Password encoding
 * NtPasswordHash is MD4 of the password in UTF-16LE (RFC 2759 8.3). strongSwan
 * widens each byte of the configured secret (`ascii_to_unicode`), so for
 * non-ASCII passwords charon and Windows disagree; we follow the RFC (Windows).
 *
 * @module
 */
import { sha1 } from "@noble/hashes/legacy.js";
import { md4 } from "../crypto/md4.ts";
import { desEncrypt56 } from "../crypto/des.ts";
import { concat, constantTimeEqual, fromHex, toHex } from "../wire/bytes.ts";

const utf8 = new TextEncoder();

/** RFC 2759 8.7 Magic1: "Magic server to client signing constant". */
const AUTH_MAGIC1 = utf8.encode("Magic server to client signing constant");
/** RFC 2759 8.7 Magic2: "Pad to make it do more than one iteration". */
const AUTH_MAGIC2 = utf8.encode("Pad to make it do more than one iteration");
/** RFC 3079 3.4 Magic1. */
const MPPE_MAGIC1 = utf8.encode("This is the MPPE Master Key");
/** RFC 3079 3.4 Magic2. */
const MPPE_MAGIC2 = utf8.encode(
  "On the client side, this is the send key; on the server side, it is the receive key.",
);
/** RFC 3079 3.4 Magic3. */
const MPPE_MAGIC3 = utf8.encode(
  "On the client side, this is the receive key; on the server side, it is the send key.",
);
const SHS_PAD1 = new Uint8Array(40);
const SHS_PAD2 = new Uint8Array(40).fill(0xf2);

/** Length of the EAP-MSCHAPv2 MSK as strongSwan exports it. */
export const MSCHAPV2_MSK_LENGTH = 64;

function requireLength(what: string, b: Uint8Array, n: number): void {
  if (b.length !== n) throw new RangeError(`${what} must be ${n} bytes, got ${b.length}`);
}

/**
 * The user name that enters ChallengeHash: the part after the first backslash
 * (`DOMAIN\user` -> `user`), else the whole identity.
 *
 * @example
 * ```ts
 * import { mschapUserName } from "./mschapv2_crypto.ts";
 * mschapUserName("CORP\\alice"); // "alice"
 * ```
 */
export function mschapUserName(identity: string): string {
  const i = identity.indexOf("\\");
  return i < 0 ? identity : identity.slice(i + 1);
}

/**
 * RFC 2759 8.3 NtPasswordHash: MD4 of the UTF-16LE password (16 bytes).
 *
 * @example
 * ```ts
 * import { ntPasswordHash } from "./mschapv2_crypto.ts";
 * ntPasswordHash("clientPass"); // 44ebba8d5312b8d611474411f56989ae
 * ```
 */
export function ntPasswordHash(password: string): Uint8Array {
  const u = new Uint8Array(password.length * 2);
  for (let i = 0; i < password.length; i++) {
    const c = password.charCodeAt(i); // UTF-16 code units, surrogates included
    u[2 * i] = c & 0xff;
    u[2 * i + 1] = c >>> 8;
  }
  return md4(u);
}

/**
 * RFC 2759 8.4 HashNtPasswordHash: MD4 of the NT password hash.
 *
 * @example
 * ```ts
 * import { hashNtPasswordHash, ntPasswordHash } from "./mschapv2_crypto.ts";
 * hashNtPasswordHash(ntPasswordHash("clientPass")); // 41c00c584bd2d91c4017a2a12fa59f3f
 * ```
 */
export function hashNtPasswordHash(passwordHash: Uint8Array): Uint8Array {
  requireLength("PasswordHash", passwordHash, 16);
  return md4(passwordHash);
}

/**
 * RFC 2759 8.2 ChallengeHash: first 8 bytes of
 * SHA-1(PeerChallenge || AuthenticatorChallenge || UserName). `userName` is
 * used as given (UTF-8); strip a domain with {@link mschapUserName} first.
 *
 * @example
 * ```ts
 * import { challengeHash } from "./mschapv2_crypto.ts";
 * challengeHash(new Uint8Array(16), new Uint8Array(16), "User").length; // 8
 * ```
 */
export function challengeHash(
  peerChallenge: Uint8Array,
  authenticatorChallenge: Uint8Array,
  userName: string,
): Uint8Array {
  requireLength("PeerChallenge", peerChallenge, 16);
  requireLength("AuthenticatorChallenge", authenticatorChallenge, 16);
  return sha1(concat(peerChallenge, authenticatorChallenge, utf8.encode(userName))).slice(0, 8);
}

/**
 * RFC 2759 8.5 ChallengeResponse: the NT password hash zero-padded to 21 bytes,
 * split in three 7-byte DES keys, each encrypting the 8-byte challenge (24 bytes).
 *
 * @example
 * ```ts
 * import { challengeResponse } from "./mschapv2_crypto.ts";
 * challengeResponse(new Uint8Array(8), new Uint8Array(16)).length; // 24
 * ```
 */
export function challengeResponse(challenge: Uint8Array, passwordHash: Uint8Array): Uint8Array {
  requireLength("Challenge", challenge, 8);
  requireLength("PasswordHash", passwordHash, 16);
  const z = new Uint8Array(21);
  z.set(passwordHash);
  return concat(
    desEncrypt56(z.subarray(0, 7), challenge),
    desEncrypt56(z.subarray(7, 14), challenge),
    desEncrypt56(z.subarray(14, 21), challenge),
  );
}

/**
 * RFC 2759 8.1 GenerateNTResponse from an NT password hash (24 bytes).
 *
 * @example
 * ```ts
 * import { generateNtResponseFromHash, ntPasswordHash } from "./mschapv2_crypto.ts";
 * generateNtResponseFromHash(new Uint8Array(16), new Uint8Array(16), "User", ntPasswordHash("x"));
 * ```
 */
export function generateNtResponseFromHash(
  authenticatorChallenge: Uint8Array,
  peerChallenge: Uint8Array,
  userName: string,
  passwordHash: Uint8Array,
): Uint8Array {
  return challengeResponse(
    challengeHash(peerChallenge, authenticatorChallenge, userName),
    passwordHash,
  );
}

/**
 * RFC 2759 8.1 GenerateNTResponse (24 bytes).
 *
 * @example
 * ```ts
 * import { generateNtResponse } from "./mschapv2_crypto.ts";
 * import { fromHex } from "../wire/bytes.ts";
 * generateNtResponse(
 *   fromHex("5B5D7C7D7B3F2F3E3C2C602132262628"),
 *   fromHex("21402324255E262A28295F2B3A337C7E"),
 *   "User",
 *   "clientPass",
 * ); // 82309ecd8d708b5ea08faa3981cd83544233114a3d85d6df
 * ```
 */
export function generateNtResponse(
  authenticatorChallenge: Uint8Array,
  peerChallenge: Uint8Array,
  userName: string,
  password: string,
): Uint8Array {
  return generateNtResponseFromHash(
    authenticatorChallenge,
    peerChallenge,
    userName,
    ntPasswordHash(password),
  );
}

/**
 * RFC 2759 8.7 GenerateAuthenticatorResponse from an NT password hash: the 20
 * raw bytes (the wire form is {@link formatAuthenticatorResponse}).
 *
 * @example
 * ```ts
 * import { authenticatorResponseFromHash } from "./mschapv2_crypto.ts";
 * const b = authenticatorResponseFromHash(
 *   new Uint8Array(16), new Uint8Array(24), new Uint8Array(16), new Uint8Array(16), "u");
 * b.length; // 20
 * ```
 */
export function authenticatorResponseFromHash(
  passwordHash: Uint8Array,
  ntResponse: Uint8Array,
  peerChallenge: Uint8Array,
  authenticatorChallenge: Uint8Array,
  userName: string,
): Uint8Array {
  requireLength("NT-Response", ntResponse, 24);
  const digest = sha1(concat(hashNtPasswordHash(passwordHash), ntResponse, AUTH_MAGIC1));
  const ch = challengeHash(peerChallenge, authenticatorChallenge, userName);
  return sha1(concat(digest, ch, AUTH_MAGIC2));
}

/**
 * The 42-character wire form of an authenticator response: "S=" and 40
 * upper-case hex digits (RFC 2759 8.7).
 *
 * @example
 * ```ts
 * import { formatAuthenticatorResponse } from "./mschapv2_crypto.ts";
 * formatAuthenticatorResponse(new Uint8Array(20)); // "S=0000...0000"
 * ```
 */
export function formatAuthenticatorResponse(raw: Uint8Array): string {
  requireLength("AuthenticatorResponse", raw, 20);
  return "S=" + toHex(raw).toUpperCase();
}

/**
 * RFC 2759 8.7 GenerateAuthenticatorResponse: "S=" and 40 upper-case hex digits.
 *
 * @example
 * ```ts
 * import { generateAuthenticatorResponse } from "./mschapv2_crypto.ts";
 * // RFC 2759 9.2: "S=407A5589115FD0D6209F510FE9C04566932CDA56"
 * ```
 */
export function generateAuthenticatorResponse(
  password: string,
  ntResponse: Uint8Array,
  peerChallenge: Uint8Array,
  authenticatorChallenge: Uint8Array,
  userName: string,
): string {
  return formatAuthenticatorResponse(
    authenticatorResponseFromHash(
      ntPasswordHash(password),
      ntResponse,
      peerChallenge,
      authenticatorChallenge,
      userName,
    ),
  );
}

/**
 * RFC 2759 8.8 CheckAuthenticatorResponse: whether `received` ("S=" + 40 hex
 * digits, either case) is the expected authenticator response. Compares in
 * constant time; malformed input is simply `false`.
 *
 * @example
 * ```ts
 * import { checkAuthenticatorResponse } from "./mschapv2_crypto.ts";
 * checkAuthenticatorResponse("pw", new Uint8Array(24), new Uint8Array(16),
 *   new Uint8Array(16), "u", "S=00"); // false
 * ```
 */
export function checkAuthenticatorResponse(
  password: string,
  ntResponse: Uint8Array,
  peerChallenge: Uint8Array,
  authenticatorChallenge: Uint8Array,
  userName: string,
  received: string,
): boolean {
  const expected = authenticatorResponseFromHash(
    ntPasswordHash(password),
    ntResponse,
    peerChallenge,
    authenticatorChallenge,
    userName,
  );
  return checkAuthenticatorResponseRaw(expected, received);
}

/**
 * Compares a received "S=<40 hex>" string against the expected 20 raw bytes in
 * constant time (length and format checks are not secret).
 *
 * @example
 * ```ts
 * import { checkAuthenticatorResponseRaw } from "./mschapv2_crypto.ts";
 * checkAuthenticatorResponseRaw(new Uint8Array(20), "S=" + "0".repeat(40)); // true
 * ```
 */
export function checkAuthenticatorResponseRaw(expected: Uint8Array, received: string): boolean {
  if (!/^S=[0-9A-Fa-f]{40}$/.test(received)) return false;
  return constantTimeEqual(expected, fromHex(received.slice(2)));
}

/**
 * RFC 3079 3.4 GetMasterKey: first 16 bytes of
 * SHA-1(PasswordHashHash || NT-Response || Magic1).
 *
 * @example
 * ```ts
 * import { getMasterKey } from "./mschapv2_crypto.ts";
 * getMasterKey(new Uint8Array(16), new Uint8Array(24)).length; // 16
 * ```
 */
export function getMasterKey(passwordHashHash: Uint8Array, ntResponse: Uint8Array): Uint8Array {
  requireLength("PasswordHashHash", passwordHashHash, 16);
  requireLength("NT-Response", ntResponse, 24);
  return sha1(concat(passwordHashHash, ntResponse, MPPE_MAGIC1)).slice(0, 16);
}

/**
 * RFC 3079 3.4 GetAsymmetricStartKey: first `keyLength` (8..16) bytes of
 * SHA-1(MasterKey || SHSpad1 || Magic || SHSpad2), Magic2 for the client's send
 * key = the server's receive key, Magic3 for the other direction.
 *
 * @example
 * ```ts
 * import { getAsymmetricStartKey } from "./mschapv2_crypto.ts";
 * getAsymmetricStartKey(new Uint8Array(16), 16, true, true).length; // 16
 * ```
 */
export function getAsymmetricStartKey(
  masterKey: Uint8Array,
  keyLength: number,
  isSend: boolean,
  isServer: boolean,
): Uint8Array {
  requireLength("MasterKey", masterKey, 16);
  if (!Number.isInteger(keyLength) || keyLength < 8 || keyLength > 16) {
    throw new RangeError(`session key length must be 8..16, got ${keyLength}`);
  }
  const magic = isSend === isServer ? MPPE_MAGIC3 : MPPE_MAGIC2;
  return sha1(concat(masterKey, SHS_PAD1, magic, SHS_PAD2)).slice(0, keyLength);
}

/**
 * The EAP-MSCHAPv2 MSK (64 bytes) from the NT password hash and the
 * NT-Response, laid out exactly as strongSwan's eap-mschapv2 plugin exports it:
 * server Recv-Key (Magic2) || server Send-Key (Magic3) || 32 zero bytes. See the
 * module documentation for the evidence.
 *
 * @example
 * ```ts
 * import { mschapv2Msk, ntPasswordHash } from "./mschapv2_crypto.ts";
 * mschapv2Msk(ntPasswordHash("pw"), new Uint8Array(24)).length; // 64
 * ```
 */
export function mschapv2Msk(passwordHash: Uint8Array, ntResponse: Uint8Array): Uint8Array {
  const master = getMasterKey(hashNtPasswordHash(passwordHash), ntResponse);
  const msk = new Uint8Array(MSCHAPV2_MSK_LENGTH);
  msk.set(getAsymmetricStartKey(master, 16, false, true), 0);
  msk.set(getAsymmetricStartKey(master, 16, true, true), 16);
  return msk;
}
