import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { fromHex, toHex } from "../../../lib/wire/bytes.ts";
import { ParseError } from "../../../lib/wire/parse_error.ts";
import { decodeMessage } from "../../../lib/ikev2/message.ts";
import {
  decodeAdditionalAddress,
  decodeCookie2Data,
  decodeCookieData,
  decodeInvalidKe,
  decodeNatDetectionData,
  decodeNoNatsAllowed,
  decodeRedirectData,
  decodeRekeySa,
  decodeSignatureHashAlgorithms,
  decodeU32Data,
  findNotify,
  GatewayIdType,
  makeAdditionalAddress,
  makeInvalidKe,
  makeNoNatsAllowed,
  makeNotify,
  makeRedirect,
  makeRekeySa,
  makeSignatureHashAlgorithms,
  makeU32Notify,
  makeUnsupportedCritical,
  natDetectionInput,
} from "../../../lib/ikev2/payloads/notify.ts";
import { NotifyType, PayloadType } from "../../../lib/ikev2/constants.ts";

const sha1 = (b: Uint8Array) => toHex(createHash("sha1").update(b).digest());

Deno.test("NAT detection input matches strongSwan's NATD_D_IP hashes in a real capture", async () => {
  // strongswan_capture.json: initiator 10.77.0.1:500 -> responder 10.77.0.2:500. NATD_S_IP is
  // faked by charon (encap = yes), NATD_D_IP is the real SHA-1 of SPIi | SPIr | IP | port.
  const cap = JSON.parse(
    await Deno.readTextFile(
      new URL("../../vectors/ikev2/strongswan_capture.json", import.meta.url),
    ),
  ) as { runs: { messages: { hex: string }[] }[] };
  const req = decodeMessage(fromHex(cap.runs[0].messages[0].hex));
  const resp = decodeMessage(fromHex(cap.runs[0].messages[1].hex));
  const dReq = findNotify(req.payloads, NotifyType.NAT_DETECTION_DESTINATION_IP)!;
  const dResp = findNotify(resp.payloads, NotifyType.NAT_DETECTION_DESTINATION_IP)!;
  const spiI = req.header.spiI, spiR = resp.header.spiR;
  assert.equal(
    toHex(decodeNatDetectionData(dReq)),
    sha1(natDetectionInput(spiI, 0n, Uint8Array.of(10, 77, 0, 2), 500)),
  );
  assert.equal(
    toHex(decodeNatDetectionData(dResp)),
    sha1(natDetectionInput(spiI, spiR, Uint8Array.of(10, 77, 0, 1), 500)),
  );
});

Deno.test("notify data helpers: build, parse, and reject bad lengths", () => {
  const bad = (f: () => unknown) => assert.throws(f, ParseError);
  bad(() =>
    decodeNatDetectionData(makeNotify(NotifyType.NAT_DETECTION_SOURCE_IP, new Uint8Array(19)))
  );
  assert.equal(decodeCookieData(makeNotify(NotifyType.COOKIE, new Uint8Array(64))).length, 64);
  bad(() => decodeCookieData(makeNotify(NotifyType.COOKIE, new Uint8Array(65))));
  bad(() => decodeCookieData(makeNotify(NotifyType.COOKIE)));
  bad(() => decodeCookie2Data(makeNotify(NotifyType.COOKIE2, new Uint8Array(7))));
  assert.equal(decodeCookie2Data(makeNotify(NotifyType.COOKIE2, new Uint8Array(8))).length, 8);

  const sha = makeSignatureHashAlgorithms([2, 3, 4, 5]);
  assert.equal(toHex(sha.data), "0002000300040005"); // RFC 7427 section 4: 16-bit ids
  bad(() => decodeSignatureHashAlgorithms(makeNotify(16431, Uint8Array.of(0, 2, 0))));

  const a4 = makeAdditionalAddress(Uint8Array.of(192, 0, 2, 9));
  assert.equal(a4.notifyType, NotifyType.ADDITIONAL_IP4_ADDRESS);
  assert.deepEqual([...decodeAdditionalAddress(a4)], [192, 0, 2, 9]);
  const a6 = makeAdditionalAddress(new Uint8Array(16).fill(1));
  assert.equal(a6.notifyType, NotifyType.ADDITIONAL_IP6_ADDRESS);
  bad(() =>
    decodeAdditionalAddress(makeNotify(NotifyType.ADDITIONAL_IP6_ADDRESS, new Uint8Array(4)))
  );
  bad(() => decodeAdditionalAddress(makeNotify(NotifyType.COOKIE, new Uint8Array(4))));
  assert.throws(() => makeAdditionalAddress(new Uint8Array(5)), RangeError);

  const rk = makeRekeySa(3, fromHex("01020304"));
  assert.deepEqual(decodeRekeySa(rk), { protocolId: 3, spi: fromHex("01020304") });
  bad(() =>
    decodeRekeySa(makeNotify(NotifyType.REKEY_SA, new Uint8Array(0), 1, new Uint8Array(8)))
  );

  assert.equal(decodeInvalidKe(makeInvalidKe(31)), 31);
  assert.equal(toHex(makeInvalidKe(31).data), "001f");
  bad(() => decodeInvalidKe(makeNotify(17, Uint8Array.of(1))));

  assert.equal(toHex(makeUnsupportedCritical(200).data), "c8");
  assert.equal(decodeU32Data(makeU32Notify(NotifyType.SET_WINDOW_SIZE, 0x01020304)), 0x01020304);
  bad(() => decodeU32Data(makeNotify(NotifyType.AUTH_LIFETIME, new Uint8Array(3))));
});

Deno.test("REDIRECT data (RFC 5685 section 8): GW identity type/length/value + nonce", () => {
  const n = makeRedirect({
    gwIdType: GatewayIdType.IPV4,
    gwId: Uint8Array.of(192, 0, 2, 1),
    nonce: fromHex("aabb"),
  });
  // GW Ident Type 1, GW Ident Len 4, 192.0.2.1, then the nonce
  assert.equal(toHex(n.data), "0104c0000201aabb");
  assert.deepEqual(decodeRedirectData(n), {
    gwIdType: 1,
    gwId: Uint8Array.of(192, 0, 2, 1),
    nonce: fromHex("aabb"),
  });
  assert.throws(
    () => decodeRedirectData(makeNotify(NotifyType.REDIRECT, fromHex("0105c0000201"))),
    ParseError,
  );
  assert.throws(
    () => decodeRedirectData(makeNotify(NotifyType.REDIRECT, fromHex("0203c00002"))),
    ParseError,
  );
  assert.equal(findNotify([makeNotify(1), n], NotifyType.REDIRECT), n);
  assert.equal(findNotify([{ type: PayloadType.NONCE }], NotifyType.REDIRECT), undefined);
});

Deno.test("NO_NATS_ALLOWED (RFC 4555 section 3.9): addresses then ports", () => {
  const n = makeNoNatsAllowed({
    source: Uint8Array.of(192, 0, 2, 1),
    destination: Uint8Array.of(198, 51, 100, 7),
    sourcePort: 4500,
    destinationPort: 500,
  });
  assert.equal(toHex(n.data), "c0000201" + "c6336407" + "1194" + "01f4");
  assert.deepEqual(decodeNoNatsAllowed(n).sourcePort, 4500);
  assert.equal(decodeNoNatsAllowed(makeNotify(16402, new Uint8Array(36))).source.length, 16);
  assert.throws(() => decodeNoNatsAllowed(makeNotify(16402, new Uint8Array(13))), ParseError);
  assert.throws(
    () =>
      makeNoNatsAllowed({
        source: new Uint8Array(4),
        destination: new Uint8Array(16),
        sourcePort: 0,
        destinationPort: 0,
      }),
    RangeError,
  );
});
