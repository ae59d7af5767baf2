import assert from "node:assert/strict";
import {
  challengeHash,
  challengeResponse,
  checkAuthenticatorResponse,
  generateAuthenticatorResponse,
  generateNtResponse,
  getAsymmetricStartKey,
  getMasterKey,
  hashNtPasswordHash,
  mschapUserName,
  mschapv2Msk,
  ntPasswordHash,
} from "../../lib/eap/mschapv2_crypto.ts";
import { fromHex, toHex } from "../../lib/wire/bytes.ts";
import { runPythonJson } from "../crypto/_python.ts";
import { PYTHON_MSCHAPV2 } from "./_oracle.ts";

// Source: RFC 2759 section 9.2 (sample MS-CHAPv2 values).
const AC = fromHex("5B5D7C7D7B3F2F3E3C2C602132262628");
const PC = fromHex("21402324255E262A28295F2B3A337C7E");
const NT = "82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF";

Deno.test("MS-CHAPv2 matches RFC 2759 section 9.2", () => {
  const pwh = ntPasswordHash("clientPass");
  assert.equal(toHex(pwh), "44ebba8d5312b8d611474411f56989ae");
  assert.equal(toHex(hashNtPasswordHash(pwh)), "41c00c584bd2d91c4017a2a12fa59f3f");
  assert.equal(toHex(challengeHash(PC, AC, "User")), "d02e4386bce91226");
  assert.equal(toHex(challengeResponse(fromHex("D02E4386BCE91226"), pwh)), NT.toLowerCase());
  const nt = generateNtResponse(AC, PC, "User", "clientPass");
  assert.equal(toHex(nt), NT.toLowerCase());
  const s = generateAuthenticatorResponse("clientPass", nt, PC, AC, "User");
  assert.equal(s, "S=407A5589115FD0D6209F510FE9C04566932CDA56");
});

Deno.test("checkAuthenticatorResponse() accepts the RFC value and rejects others", () => {
  const nt = fromHex(NT);
  const good = "S=407A5589115FD0D6209F510FE9C04566932CDA56";
  assert.ok(checkAuthenticatorResponse("clientPass", nt, PC, AC, "User", good));
  assert.ok(
    checkAuthenticatorResponse(
      "clientPass",
      nt,
      PC,
      AC,
      "User",
      good.toLowerCase().replace("s=", "S="),
    ),
  );
  assert.ok(!checkAuthenticatorResponse("clientPass", nt, PC, AC, "User", good.slice(0, -1) + "7"));
  assert.ok(!checkAuthenticatorResponse("clientPasS", nt, PC, AC, "User", good));
  assert.ok(!checkAuthenticatorResponse("clientPass", nt, PC, AC, "User", good.slice(0, -2)));
  assert.ok(!checkAuthenticatorResponse("clientPass", nt, PC, AC, "User", good + "00"));
  assert.ok(!checkAuthenticatorResponse("clientPass", nt, PC, AC, "User", ""));
});

// Source: RFC 3079 section 3.5.3 (sample 128-bit keys; same password and
// NT-Response as RFC 2759 9.2).
Deno.test("MPPE keys match RFC 3079 section 3.5.3", () => {
  const pwhh = hashNtPasswordHash(ntPasswordHash("clientPass"));
  const mk = getMasterKey(pwhh, fromHex(NT));
  assert.equal(toHex(mk), "fdece3717a8c838cb388e527ae3cdd31");
  // SendStartKey128 is the server's send key (IsSend, IsServer), the client's receive key.
  assert.equal(
    toHex(getAsymmetricStartKey(mk, 16, true, true)),
    "8b7cdc149b993a1ba118cb153f56dccb",
  );
  assert.equal(
    toHex(getAsymmetricStartKey(mk, 16, false, false)),
    "8b7cdc149b993a1ba118cb153f56dccb",
  );
  // ReceiveStartKey128: the server's receive key = the client's send key.
  assert.equal(
    toHex(getAsymmetricStartKey(mk, 16, false, true)),
    "d5f0e9521e3ea9589645e86051c82226",
  );
  assert.equal(
    toHex(getAsymmetricStartKey(mk, 16, true, false)),
    "d5f0e9521e3ea9589645e86051c82226",
  );
  assert.equal(toHex(getAsymmetricStartKey(mk, 8, true, true)), "8b7cdc149b993a1b");
  assert.throws(() => getAsymmetricStartKey(mk, 17, true, true), RangeError);
});

Deno.test("mschapv2Msk() is server Recv-Key || Send-Key || 32 zero bytes (strongSwan layout)", () => {
  const msk = mschapv2Msk(ntPasswordHash("clientPass"), fromHex(NT));
  assert.equal(msk.length, 64);
  assert.equal(
    toHex(msk),
    "d5f0e9521e3ea9589645e86051c82226" + "8b7cdc149b993a1ba118cb153f56dccb" + "00".repeat(32),
  );
});

Deno.test("mschapUserName() strips a Windows domain prefix at the first backslash", () => {
  assert.equal(mschapUserName("User"), "User");
  assert.equal(mschapUserName("CORP\\alice"), "alice");
  assert.equal(mschapUserName("A\\B\\c"), "B\\c");
  assert.equal(mschapUserName("carol@strongswan.org"), "carol@strongswan.org");
});

Deno.test("MS-CHAPv2 matches an independent python implementation on random inputs", async () => {
  const cases = [];
  for (let i = 0; i < 12; i++) {
    const r = crypto.getRandomValues(new Uint8Array(48));
    cases.push({
      ac: toHex(r.subarray(0, 16)),
      pc: toHex(r.subarray(16, 32)),
      user: ["User", "carol@strongswan.org", "x", "a-much-longer-user-name-" + i][i % 4],
      password:
        ["clientPass", "", "p\u00e4ssw\u00f6rd", toHex(r.subarray(32)), "\u{1f510}key"][i % 5],
    });
  }
  cases.push({ ac: toHex(AC), pc: toHex(PC), user: "User", password: "clientPass" });
  const want = await runPythonJson(PYTHON_MSCHAPV2, cases) as {
    nt: string;
    auth: string;
    msk: string;
  }[];
  cases.forEach((c, i) => {
    const ac = fromHex(c.ac), pc = fromHex(c.pc);
    const nt = generateNtResponse(ac, pc, c.user, c.password);
    assert.equal(toHex(nt), want[i].nt, `case ${i}`);
    assert.equal(generateAuthenticatorResponse(c.password, nt, pc, ac, c.user), want[i].auth);
    assert.equal(toHex(mschapv2Msk(ntPasswordHash(c.password), nt)), want[i].msk);
  });
});
