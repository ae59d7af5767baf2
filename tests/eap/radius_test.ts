/**
 * The RADIUS client codec against FreeRADIUS (tests/helpers/freeradius.ts)
 * on loopback: our EAP peer logs in through Access-Request/-Challenge; the
 * Access-Accept verifies (Response Authenticator, Message-Authenticator)
 * and the MSK decrypted from its MS-MPPE keys is the one our peer derived
 * on its side; a wrong secret and a wrong password are told apart.
 */
import assert from "node:assert/strict";
import dgram from "node:dgram";
import {
  decodeAnswer,
  decryptMppeKey,
  eapMessageAttributes,
  encodeAccessRequest,
  encryptMppeKey,
  RadiusAttr,
  RadiusCode,
  RadiusError,
  textAttribute,
} from "../../lib/eap/radius.ts";
import { EapPeer } from "../../lib/eap/eap_peer.ts";
import { startFreeRadius } from "../helpers/freeradius.ts";

const SECRET = "radius test secret";
const enc = new TextEncoder();

/** One UDP request/answer over node:dgram (as the daemon speaks it). */
function udpAsk(sock: dgram.Socket, port: number, bytes: Uint8Array): Promise<Uint8Array> {
  return new Promise((resolve) => {
    sock.once("message", (msg) => resolve(new Uint8Array(msg)));
    sock.send(bytes, port, "127.0.0.1");
  });
}

async function exchange(
  sock: dgram.Socket,
  port: number,
  secret: string,
  id: number,
  eap: Uint8Array,
  user: string,
  state?: Uint8Array,
) {
  const request = encodeAccessRequest({
    identifier: id,
    authenticator: crypto.getRandomValues(new Uint8Array(16)),
    secret: enc.encode(secret),
    attributes: [
      textAttribute(RadiusAttr.UserName, user),
      textAttribute(RadiusAttr.NasIdentifier, "deno-ipsec test"),
      ...eapMessageAttributes(eap),
      ...(state ? [{ type: RadiusAttr.State, value: state }] : []),
    ],
  });
  const bytes = await udpAsk(sock, port, request);
  return decodeAnswer(bytes, request, enc.encode(SECRET));
}

async function login(port: number, user: string, password: string, secret = SECRET) {
  const sock = dgram.createSocket("udp4");
  await new Promise<void>((r) => sock.bind(0, "127.0.0.1", r));
  try {
    const peer = new EapPeer({
      identity: user,
      secret: password,
      methods: ["mschapv2", "md5"],
      random: (n) => crypto.getRandomValues(new Uint8Array(n)),
    });
    // Our own EAP-Request/Identity, as the gateway sends it, answered by the peer.
    let step = peer.receive(Uint8Array.of(1, 7, 0, 5, 1));
    let state: Uint8Array | undefined;
    for (let id = 1; id < 10; id++) {
      assert.equal(step.kind, "respond");
      if (step.kind !== "respond") break;
      const answer = await exchange(sock, port, secret, id, step.message, user, state);
      state = answer.state;
      if (!answer.eap) {
        throw new Error(`answer ${answer.code} without EAP-Message: ${answer.replyMessage}`);
      }
      const next = peer.receive(answer.eap);
      if (answer.code !== RadiusCode.AccessChallenge) return { answer, peer: next };
      step = next;
    }
    throw new Error("no end");
  } finally {
    sock.close();
  }
}

Deno.test({
  name: "RADIUS: EAP-MSCHAPv2 through FreeRADIUS; the MS-MPPE keys make our peer's MSK",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const port = 21812;
    const fr = await startFreeRadius({
      address: "127.0.0.1",
      port,
      secret: SECRET,
      clients: "127.0.0.1/32",
      users: { alice: "alice's password" },
    });
    try {
      const ok = await login(port, "alice", "alice's password").catch((e) => {
        throw new Error(`${e.message}\n${fr.log()}`);
      });
      assert.equal(ok.answer.code, RadiusCode.AccessAccept, fr.log());
      assert.equal(ok.peer.kind, "success");
      if (ok.peer.kind !== "success") return;
      assert.ok(ok.answer.msk, "MS-MPPE keys in the Access-Accept");
      assert.equal(ok.answer.msk.length, 64);
      assert.deepEqual(ok.answer.msk, ok.peer.msk);

      const bad = await login(port, "alice", "not alice's password");
      assert.equal(bad.answer.code, RadiusCode.AccessReject);
      assert.equal(bad.peer.kind, "failure");

      // Another secret: FreeRADIUS drops it silently or its answer does not verify for us.
      await assert.rejects(
        Promise.race([
          login(port, "alice", "alice's password", "wrong secret"),
          new Promise((_, rej) => setTimeout(() => rej(new RadiusError("no answer")), 3000)),
        ]),
        RadiusError,
      );
    } finally {
      await fr.stop();
    }
  },
});

Deno.test({
  name: "RADIUS: EAP-MD5 through FreeRADIUS (no MSK)",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const port = 21813;
    const fr = await startFreeRadius({
      address: "127.0.0.1",
      port,
      secret: SECRET,
      clients: "127.0.0.1/32",
      users: { bob: "bob's password" },
      defaultEapType: "md5",
    });
    try {
      const r = await login(port, "bob", "bob's password");
      assert.equal(r.answer.code, RadiusCode.AccessAccept, fr.log());
      assert.equal(r.peer.kind, "success");
      assert.equal(r.answer.msk, undefined);
    } finally {
      await fr.stop();
    }
  },
});

Deno.test("RADIUS: a tampered answer and malformed MS-MPPE keys are refused", () => {
  const secret = enc.encode("s3cret");
  const request = encodeAccessRequest({
    identifier: 9,
    authenticator: new Uint8Array(16).fill(7),
    secret,
    attributes: [textAttribute(RadiusAttr.UserName, "alice")],
  });
  // FreeRADIUS-like salt semantics: round trip, then bit flips fail the length check or differ.
  const key = Uint8Array.from({ length: 32 }, (_, i) => i);
  const wire = encryptMppeKey(key, request.subarray(4, 20), secret, Uint8Array.of(0x12, 0x34));
  assert.deepEqual(decryptMppeKey(wire, request.subarray(4, 20), secret), key);
  assert.throws(() => decryptMppeKey(wire.subarray(0, 10), request.subarray(4, 20), secret));
  assert.throws(() => decodeAnswer(new Uint8Array(10), request, secret), /no RADIUS packet/);
  const fake = new Uint8Array(20);
  fake[0] = RadiusCode.AccessAccept;
  fake[1] = 9;
  fake[3] = 20;
  assert.throws(() => decodeAnswer(fake, request, secret), /Response Authenticator/);
});
