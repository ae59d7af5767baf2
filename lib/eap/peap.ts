/**
 * PEAPv0's EAP-TLV Result (draft-josefsson-pppext-eap-tls-eap, MS-PEAP
 * section 2.2.8.1): the server's tunneled Extensions Request saying whether
 * the tunneled authentication succeeded, and the client's confirmation.
 *
 * ```
 *  0                   1                   2                   3
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |M|R|  TLV Type (3 = Result)    |            Length (2)         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |    Status (1 success, 2 failure)
 * ```
 *
 * @module
 */

/** Result TLV type (with the mandatory bit). */
const RESULT_TLV = 0x8003;
/** Result status: success. */
export const PEAP_RESULT_SUCCESS = 1;
/** Result status: failure. */
export const PEAP_RESULT_FAILURE = 2;

/**
 * The status of the Result TLV among the TLVs of an Extensions message, or
 * undefined without one.
 *
 * @example
 * ```ts
 * peapResult(Uint8Array.of(0x80, 0x03, 0, 2, 0, 1)); // 1 (success)
 * ```
 */
export function peapResult(tlvs: Uint8Array): number | undefined {
  let off = 0;
  while (off + 4 <= tlvs.length) {
    const type = ((tlvs[off] << 8) | tlvs[off + 1]) & 0x3fff;
    const len = (tlvs[off + 2] << 8) | tlvs[off + 3];
    if (off + 4 + len > tlvs.length) return undefined;
    if (type === (RESULT_TLV & 0x3fff) && len === 2) return (tlvs[off + 4] << 8) | tlvs[off + 5];
    off += 4 + len;
  }
  return undefined;
}

/** A Result TLV with `status`. */
export function peapResultTlv(status: number): Uint8Array {
  return Uint8Array.of(RESULT_TLV >> 8, RESULT_TLV & 0xff, 0, 2, status >> 8, status & 0xff);
}
