/**
 * Fields shared by every decoded payload (private to this folder).
 *
 * @module
 */

/** What every payload carries from its generic payload header. */
export interface PayloadBase {
  /**
   * The C(ritical) bit of the generic payload header (RFC 7296 section 3.2).
   * Decoders set it from the wire; encoders write it when true.
   */
  critical?: boolean;
}
