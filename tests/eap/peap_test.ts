/**
 * PEAPv0's Result TLV (MS-PEAP 2.2.8.1): the status among other TLVs, the
 * mandatory bit ignored for the type, truncated TLVs; and PEAP as a client
 * only (a gateway relays it to RADIUS: FreeRADIUS runs the server side in
 * tests/netns/e2e_eap_radius_test.ts).
 */
import assert from "node:assert/strict";
import {
  PEAP_RESULT_FAILURE,
  PEAP_RESULT_SUCCESS,
  peapResult,
  peapResultTlv,
} from "../../lib/eap/peap.ts";
import { EapServer } from "../../lib/eap/eap_server.ts";

Deno.test("PEAP Result TLV: encoded with the mandatory bit, found among other TLVs", () => {
  assert.deepEqual(peapResultTlv(PEAP_RESULT_SUCCESS), Uint8Array.of(0x80, 0x03, 0, 2, 0, 1));
  assert.equal(peapResult(peapResultTlv(PEAP_RESULT_FAILURE)), PEAP_RESULT_FAILURE);
  // Without the M bit, after another TLV (type 7, 3 bytes of value).
  assert.equal(peapResult(Uint8Array.of(0, 7, 0, 3, 1, 2, 3, 0, 3, 0, 2, 0, 1)), 1);
  assert.equal(peapResult(Uint8Array.of(0x80, 0x03, 0, 9, 0, 1)), undefined);
  assert.equal(peapResult(Uint8Array.of(0, 7, 0, 0)), undefined);
});

Deno.test("PEAP: the EAP server refuses to run it (client only)", () => {
  assert.throws(
    () =>
      new EapServer({
        method: "peap",
        secretFor: () => undefined,
        random: (n) => new Uint8Array(n),
      }),
    /client only/,
  );
});
