/**
 * RFC 5176 requests as decided by the DAE listener: Disconnect by user or
 * session, unknown sessions NAKed with 503, CoA refused with 405, and the
 * authenticators of RFC 5176 section 3.5 (computed here from the RFC).
 */
import assert from "node:assert/strict";
import * as nodeCrypto from "node:crypto";
import { decideDae, ErrorCause } from "../../lib/daemon/radius_dae.ts";
import {
  decodeAttributes,
  encodeDaeResponse,
  RadiusAttr,
  RadiusCode,
  verifyDaeRequest,
} from "../../lib/eap/radius.ts";

const SECRET = new TextEncoder().encode("dae secret");

function request(code: number, attrs: [number, string][]): Uint8Array {
  const body = attrs.map(([t, v]) => {
    const b = new TextEncoder().encode(v);
    return Uint8Array.of(t, b.length + 2, ...b);
  });
  const len = 20 + body.reduce((n, b) => n + b.length, 0);
  const p = new Uint8Array(len);
  p.set([code, 77, len >> 8, len & 0xff]);
  let o = 20;
  for (const b of body) {
    p.set(b, o);
    o += b.length;
  }
  p.set(nodeCrypto.createHash("md5").update(p).update(SECRET).digest(), 4);
  return p;
}

Deno.test("DAE: Disconnect-Request by user and by session; ACK, NAK 503; CoA NAK 405", () => {
  const find = ({ user, sessionId }: { user?: string; sessionId?: string }) =>
    user === "alice" ? [3, 4] : sessionId === "s-1" ? [9] : [];
  const byUser = verifyDaeRequest(request(40, [[RadiusAttr.UserName, "alice"]]), SECRET);
  assert.deepEqual(decideDae(byUser, find), {
    code: RadiusCode.DisconnectAck,
    ikeSaIds: [3, 4],
    who: "user 'alice'",
  });
  const bySession = verifyDaeRequest(request(40, [[RadiusAttr.AcctSessionId, "s-1"]]), SECRET);
  assert.deepEqual(decideDae(bySession, find).ikeSaIds, [9]);
  const nobody = decideDae(verifyDaeRequest(request(40, [[1, "mallory"]]), SECRET), find);
  assert.equal(nobody.code, RadiusCode.DisconnectNak);
  assert.equal(nobody.errorCause, ErrorCause.SessionContextNotFound);
  const coa = decideDae(verifyDaeRequest(request(43, [[1, "alice"]]), SECRET), find);
  assert.equal(coa.code, RadiusCode.CoaNak);
  assert.equal(coa.errorCause, ErrorCause.UnsupportedService);
  assert.deepEqual(coa.ikeSaIds, []);
  // Another secret, or an Access-Request: refused before anything is looked up.
  assert.throws(
    () => verifyDaeRequest(request(40, [[1, "alice"]]), new Uint8Array(3)),
    /Request Authenticator/,
  );
  assert.throws(
    () => verifyDaeRequest(request(1, [[1, "alice"]]), SECRET),
    /unexpected RADIUS code 1/,
  );
  // The answer: MD5(Code|ID|Length|Request Authenticator|Attributes|Secret).
  const ack = encodeDaeResponse(
    42,
    byUser,
    [{ type: 101, value: Uint8Array.of(0, 0, 1, 0xf7) }],
    SECRET,
  );
  const check = ack.slice();
  check.set(byUser.authenticator, 4);
  assert.deepEqual(
    ack.subarray(4, 20),
    new Uint8Array(nodeCrypto.createHash("md5").update(check).update(SECRET).digest()),
  );
  assert.equal(ack[1], 77);
  assert.deepEqual(decodeAttributes(ack.subarray(20))[0].value, Uint8Array.of(0, 0, 1, 0xf7));
});
