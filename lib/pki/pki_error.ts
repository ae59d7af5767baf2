/**
 * A PKI failure a user can act on: unreadable input, wrong key type, a key
 * that does not match a certificate. The message is a one-line sentence meant
 * to be printed as is.
 *
 * @example
 * ```ts
 * throw new PkiError("ca.key: not a private key (found a CERTIFICATE)");
 * ```
 */
export class PkiError extends Error {
  override readonly name = "PkiError";
}
