/**
 * The one error a codec may throw. Decoders validate every length against the
 * buffer before reading and report what they were decoding, where, and why.
 *
 * @example
 * ```ts
 * throw new ParseError("Nonce", 28, "nonce must be 16..256 bytes, got 8");
 * ```
 */
export class ParseError extends Error {
  override readonly name = "ParseError";
  /** What was being decoded, e.g. "IKE header", "SA/Proposal/Transform". */
  readonly what: string;
  /** Byte offset in the outermost buffer where the problem was found. */
  readonly offset: number;
  /** Human-readable reason. */
  readonly reason: string;
  /**
   * The IKEv2 notify this error maps to when it happens in a request
   * (e.g. "INVALID_SYNTAX", "UNSUPPORTED_CRITICAL_PAYLOAD"), if any.
   */
  readonly notify?: string;
  /** Extra data for the notify (e.g. the unsupported payload type). */
  readonly notifyData?: number;

  constructor(
    what: string,
    offset: number,
    reason: string,
    opts: { notify?: string; notifyData?: number } = {},
  ) {
    super(`${what} at offset ${offset}: ${reason}`);
    this.what = what;
    this.offset = offset;
    this.reason = reason;
    this.notify = opts.notify ?? "INVALID_SYNTAX";
    this.notifyData = opts.notifyData;
  }
}
