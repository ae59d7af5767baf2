/**
 * UDP encapsulation of ESP and IKE on port 4500 (RFC 3948, RFC 7296
 * section 2.23): telling IKE (non-ESP marker, four zero bytes), ESP (a
 * non-zero SPI) and NAT keepalives (a single 0xFF byte) apart on one socket.
 *
 * ```
 *  UDP payload on port 4500:
 *  +-------------------------------+
 *  | 0x00000000 | IKE message ...  |   IKE (non-ESP marker)
 *  | SPI (!= 0) | Seq | ...        |   ESP
 *  | 0xFF                          |   NAT-keepalive (RFC 3948 section 2.3)
 *  +-------------------------------+
 * ```
 *
 * AH cannot be UDP-encapsulated (RFC 3948 covers ESP only; NAT breaks AH's
 * ICV over the addresses): {@linkcode checkUdpEncapsulation} refuses it.
 *
 * @module
 */

/** The port for UDP-encapsulated ESP and IKE behind NAT. */
export const NAT_T_PORT = 4500;
/** The one-byte NAT-keepalive payload. */
export const NAT_KEEPALIVE: Uint8Array = Uint8Array.of(0xff);
/** Length of the non-ESP marker. */
export const NON_ESP_MARKER_LENGTH = 4;

/** What a UDP/4500 payload is. */
export type UdpEncapKind = "ike" | "esp" | "keepalive" | "invalid";

/**
 * Classifies a UDP payload received on port 4500 (RFC 3948 section 2.2):
 * a single 0xFF is a keepalive; four zero bytes start an IKE message; a
 * non-zero first word is an ESP SPI (needs at least SPI and sequence
 * number). Anything else (e.g. 1..7 bytes) is invalid and to be dropped.
 *
 * @example
 * ```ts
 * switch (classifyUdpEncap(payload)) {
 *   case "ike": ike.handle(stripNonEspMarker(payload)); break;
 *   case "esp": esp.decapsulateEsp(payload); break;
 * }
 * ```
 */
export function classifyUdpEncap(payload: Uint8Array): UdpEncapKind {
  const n = payload.length;
  if (n === 1) return payload[0] === 0xff ? "keepalive" : "invalid";
  if (n < 4) return "invalid";
  if ((payload[0] | payload[1] | payload[2] | payload[3]) === 0) return n > 4 ? "ike" : "invalid";
  return n >= 8 ? "esp" : "invalid";
}

/** The IKE message behind the non-ESP marker (a view, no copy). */
export function stripNonEspMarker(payload: Uint8Array): Uint8Array {
  return payload.subarray(NON_ESP_MARKER_LENGTH);
}

/** Prepends the non-ESP marker to an IKE message sent from/to port 4500. */
export function addNonEspMarker(ikeMessage: Uint8Array): Uint8Array {
  const out = new Uint8Array(NON_ESP_MARKER_LENGTH + ikeMessage.length);
  out.set(ikeMessage, NON_ESP_MARKER_LENGTH);
  return out;
}

/** Thrown when a protocol that cannot be UDP-encapsulated is asked to be. */
export class UdpEncapError extends Error {
  override readonly name = "UdpEncapError";
}

/**
 * Throws {@linkcode UdpEncapError} for AH: RFC 3948 defines UDP
 * encapsulation for ESP only, and AH's ICV covers the IP addresses a NAT
 * rewrites, so AH through NAT cannot work.
 */
export function checkUdpEncapsulation(protocol: "esp" | "ah"): void {
  if (protocol === "ah") {
    throw new UdpEncapError(
      "AH cannot be UDP-encapsulated (RFC 3948 covers ESP only; NAT breaks AH's ICV); " +
        "use ESP, or disable NAT traversal for this SA",
    );
  }
}
