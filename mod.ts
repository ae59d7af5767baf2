/**
 * deno-ipsec: a userspace IPsec (IKEv2, ESP, AH) implementation for Deno.
 * This module re-exports the public library API only.
 *
 * @module
 */
export { ParseError } from "./lib/wire/parse_error.ts";
export { Reader } from "./lib/wire/reader.ts";
export { Writer } from "./lib/wire/writer.ts";
