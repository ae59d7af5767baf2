import assert from "node:assert/strict";
import {
  defaultProposals,
  describeProposal,
  formatProposal,
  parseProposal,
  parseProposals,
  ProposalError,
  proposalTransforms,
} from "../../lib/crypto/proposal.ts";

// Expected ids come from the IANA IKEv2 registry (Transform Types 1-5).

Deno.test("parseProposal() IKE AEAD with PRF and x25519", () => {
  const p = parseProposal("aes256gcm16-prfsha384-x25519", "ike");
  assert.deepEqual(p, {
    protocol: "ike",
    encr: [{ id: 20, keyLength: 256 }],
    prf: [{ id: 6 }],
    integ: [],
    ke: [{ id: 31 }],
    esn: [],
  });
  assert.equal(formatProposal(p), "aes256gcm16-prfsha384-x25519");
  assert.equal(describeProposal(p), "IKE:AES_GCM_16_256/PRF_HMAC_SHA2_384/CURVE25519");
});

Deno.test("parseProposal() IKE CBC derives the PRF from integrity like strongSwan", () => {
  const p = parseProposal("aes128-sha256-modp2048", "ike");
  assert.deepEqual(p.encr, [{ id: 12, keyLength: 128 }]);
  assert.deepEqual(p.integ, [{ id: 12 }]);
  assert.deepEqual(p.prf, [{ id: 5 }]);
  assert.deepEqual(p.ke, [{ id: 14 }]);
  assert.equal(formatProposal(p), "aes128-sha256-modp2048");
  assert.deepEqual(proposalTransforms(p), [
    { type: 1, id: 12, keyLength: 128 },
    { type: 2, id: 5 },
    { type: 3, id: 12 },
    { type: 4, id: 14 },
  ]);
  // an explicit different PRF is kept and printed
  const q = parseProposal("aes128-sha256-prfsha512-modp2048", "ike");
  assert.deepEqual(q.prf, [{ id: 7 }]);
  assert.equal(formatProposal(q), "aes128-sha256-prfsha512-modp2048");
});

Deno.test("parseProposal() round-trips the documented examples", () => {
  const cases: [string, "ike" | "esp" | "ah", string][] = [
    ["chacha20poly1305-prfsha256-ecp256", "ike", "chacha20poly1305-prfsha256-ecp256"],
    ["aes128gcm16-prfsha256-ecp256-modp2048", "ike", "aes128gcm16-prfsha256-ecp256-modp2048"],
    ["aes256gcm16", "esp", "aes256gcm16"],
    ["aes128-sha256-esn", "esp", "aes128-sha256-esn"],
    ["aes256gcm16-x25519", "esp", "aes256gcm16-x25519"],
    ["sha256", "ah", "sha256"],
    ["aesxcbc", "ah", "aesxcbc"],
    ["aes128gcm128-prfsha256-curve25519", "ike", "aes128gcm16-prfsha256-x25519"],
    [
      "aes192gcm64-aes256gcm96-prfaescmac-curve448",
      "ike",
      "aes192gcm8-aes256gcm12-prfaescmac-x448",
    ],
    ["aes256-aescmac-prfaesxcbc-ecp521", "ike", "aes256-aescmac-prfaesxcbc-ecp521"],
    ["aes256-sha384-ecp256bp-ecp384bp-ecp512bp", "ike", "aes256-sha384-ecp256bp-ecp384bp-ecp512bp"],
    ["aes256gcm16-ecp256bp", "esp", "aes256gcm16-ecp256bp"],
    ["aes256ccm16-prfsha256-x25519", "ike", "aes256ccm16-prfsha256-x25519"],
    ["aes128ccm16", "esp", "aes128ccm16"],
    ["aes128ccm128-aes192ccm-aes256ccm", "esp", "aes128ccm16-aes192ccm16-aes256ccm16"],
    ["aes128ccm64-aes192ccm96-prfsha384-ecp256", "ike", "aes128ccm8-aes192ccm12-prfsha384-ecp256"],
    ["aes256ccm8-aes256ccm12-esn", "esp", "aes256ccm8-aes256ccm12-esn"],
    ["aes128gmac-aes192gmac-aes256gmac-esn", "esp", "aes128gmac-aes192gmac-aes256gmac-esn"],
    ["aes256gmac-x25519", "esp", "aes256gmac-x25519"],
    ["aes-sha1-modp4096", "ike", "aes128-sha1-modp4096"],
    ["aes128-sha256-esn-noesn", "esp", "aes128-sha256-esn-noesn"],
    ["AES128-SHA512-noesn", "esp", "aes128-sha512"],
  ];
  for (const [s, proto, want] of cases) {
    const p = parseProposal(s, proto);
    assert.equal(formatProposal(p), want, s);
    assert.deepEqual(parseProposal(formatProposal(p), proto), p, s);
  }
  const esp = parseProposal("aes256gcm16-x25519", "esp");
  assert.deepEqual(esp.ke, [{ id: 31 }]);
  assert.deepEqual(esp.esn, [{ id: 0 }]);
  assert.deepEqual(parseProposal("aes128-sha256-esn", "esp").esn, [{ id: 1 }]);
  assert.deepEqual(parseProposal("aes128gcm16-prfsha256-ecp256-modp2048", "ike").ke, [
    { id: 19 },
    { id: 14 },
  ]);
  assert.deepEqual(parseProposal("aesxcbc", "ah").integ, [{ id: 5 }]);
  assert.deepEqual(parseProposal("chacha20poly1305-prfsha256-ecp256", "ike").encr, [{ id: 28 }]);
  // AES-GMAC: ENCR_NULL_AUTH_AES_GMAC is transform 21 with a Key Length attribute, no integrity.
  const gmac = parseProposal("aes128gmac-aes192gmac-aes256gmac", "esp");
  assert.deepEqual(gmac.encr, [
    { id: 21, keyLength: 128 },
    { id: 21, keyLength: 192 },
    { id: 21, keyLength: 256 },
  ]);
  assert.deepEqual(gmac.integ, []);
  // Offered for ESP, never listed as a choice for IKE.
  const expected = (text: string, protocol: "ike" | "esp") => {
    try {
      parseProposal(text, protocol);
    } catch (e) {
      assert.ok(e instanceof ProposalError);
      return e.message;
    }
    throw new Error("no error");
  };
  assert.match(expected("bogus", "esp"), /aes128gmac, .*aes192gmac, .*aes256gmac/);
  assert.doesNotMatch(expected("bogus-prfsha256-x25519", "ike"), /gmac/);
  // AES-CCM: ENCR_AES_CCM_8/12/16 are transforms 14/15/16 with a Key Length attribute.
  assert.deepEqual(parseProposal("aes128ccm8-aes192ccm12-aes256ccm16", "esp").encr, [
    { id: 14, keyLength: 128 },
    { id: 15, keyLength: 192 },
    { id: 16, keyLength: 256 },
  ]);
  assert.equal(
    describeProposal(parseProposal("aes256ccm16-prfsha256-x25519", "ike")),
    "IKE:AES_CCM_16_256/PRF_HMAC_SHA2_256/CURVE25519",
  );
});

function throwsProposal(f: () => unknown, re: RegExp): void {
  assert.throws(f, (e: unknown) => e instanceof ProposalError && re.test(e.message));
}

Deno.test("parseProposal() rejects bad proposals with typed errors", () => {
  throwsProposal(
    () => parseProposal("aes257-sha256-modp2048", "ike"),
    /^unknown algorithm 'aes257' in proposal 'aes257-sha256-modp2048': expected one of aes128, /,
  );
  try {
    parseProposal("aes257-sha256-modp2048", "ike");
  } catch (e) {
    assert.ok(e instanceof ProposalError);
    assert.equal(e.keyword, "aes257");
    assert.equal(e.proposal, "aes257-sha256-modp2048");
  }
  throwsProposal(() => parseProposal("aes128gcm16-sha256-prfsha256-x25519", "ike"), /AEAD/);
  // strongSwan has no key-length-less "aesctr" keyword, so neither do we.
  throwsProposal(() => parseProposal("aesctr-sha256", "esp"), /unknown algorithm 'aesctr'/);
  throwsProposal(() => parseProposal("aes128gcm16-sha256", "esp"), /AEAD/);
  throwsProposal(() => parseProposal("aes128ccm16-sha256", "esp"), /AEAD/);
  throwsProposal(() => parseProposal("aes128ccm16-prfsha256", "ike"), /key exchange|KE|group/i);
  throwsProposal(() => parseProposal("aes128ccm4", "esp"), /unknown algorithm 'aes128ccm4'/);
  // AES-GMAC (RFC 4543): a combined mode like the AEADs, and ESP only.
  throwsProposal(() => parseProposal("aes128gmac-sha256", "esp"), /AEAD/);
  for (const w of ["aes128gmac", "aes192gmac", "aes256gmac"]) {
    throwsProposal(
      () => parseProposal(`${w}-prfsha256-x25519`, "ike"),
      new RegExp(`'${w}' \\(ENCR_NULL_AUTH_AES_GMAC\\) is ESP only`),
    );
  }
  throwsProposal(() => parseProposal("aes128gmac", "ah"), /not allowed for AH/);
  throwsProposal(() => parseProposal("aes128-sha256", "ike"), /missing key exchange/);
  throwsProposal(() => parseProposal("aes128gcm16-x25519", "ike"), /explicit PRF/);
  throwsProposal(() => parseProposal("aes128-modp2048", "ike"), /needs an integrity/);
  throwsProposal(() => parseProposal("aes128-sha256-modp1024", "ike"), /weak/);
  throwsProposal(() => parseProposal("aes128-sha256-modp1536", "esp"), /weak/);
  throwsProposal(() => parseProposal("null-sha256", "esp"), /allowNull/);
  throwsProposal(() => parseProposal("null-sha256-x25519", "ike", { allowNull: true }), /IKE/);
  throwsProposal(() => parseProposal("aes128-sha256-prfsha256", "esp"), /not allowed for ESP/);
  throwsProposal(() => parseProposal("aes128-sha256", "ah"), /not allowed for AH/);
  throwsProposal(() => parseProposal("aes128-sha256-esn-x25519", "ike"), /not allowed for IKE/);
  throwsProposal(() => parseProposal("aes128gcm16-aes128-sha256", "esp"), /mixed/);
  throwsProposal(() => parseProposal("aes128--sha256", "esp"), /empty/);
  throwsProposal(() => parseProposal("", "esp"), /empty/);
});

Deno.test("parseProposal() opt-ins: allowWeak and allowNull", () => {
  assert.deepEqual(
    parseProposal("aes128-sha1-modp1024", "ike", { allowWeak: true }).ke,
    [{ id: 2 }],
  );
  const p = parseProposal("null-sha256", "esp", { allowNull: true });
  assert.deepEqual(p.encr, [{ id: 11 }]);
  assert.equal(formatProposal(p), "null-sha256");
});

Deno.test("parseProposals() expands default", () => {
  const list = parseProposals("aes256gcm16-prfsha384-x25519, default", "ike");
  assert.equal(list.length, 1 + defaultProposals("ike").length);
  for (const p of defaultProposals("ike")) assert.ok(p.ke.length > 0 && p.prf.length > 0);
  for (const proto of ["esp", "ah"] as const) {
    for (const p of defaultProposals(proto)) {
      assert.equal(p.protocol, proto);
      assert.deepEqual(p.esn, [{ id: 0 }]);
    }
  }
});

// strongSwan's keywords aes128ctr/aes192ctr/aes256ctr (proposal_keywords_static.txt) are
// ENCR_AES_CTR (IANA Transform Type 1 id 13, RFC 5930) with the Key Length attribute.
Deno.test("parseProposal() AES-CTR keywords for IKE and ESP, with integrity like AES-CBC", () => {
  const ike = parseProposal("aes128ctr-sha256-x25519", "ike");
  assert.deepEqual(ike.encr, [{ id: 13, keyLength: 128 }]);
  assert.deepEqual(ike.integ, [{ id: 12 }]);
  assert.deepEqual(ike.prf, [{ id: 5 }]);
  assert.deepEqual(ike.ke, [{ id: 31 }]);
  assert.equal(formatProposal(ike), "aes128ctr-sha256-x25519");
  assert.equal(
    describeProposal(ike),
    "IKE:AES_CTR_128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/CURVE25519",
  );
  const esp = parseProposal("aes192ctr-aes256ctr-sha384-esn", "esp");
  assert.deepEqual(esp.encr, [{ id: 13, keyLength: 192 }, { id: 13, keyLength: 256 }]);
  assert.deepEqual(esp.integ, [{ id: 13 }]);
  assert.deepEqual(esp.esn, [{ id: 1 }]);
  assert.equal(formatProposal(esp), "aes192ctr-aes256ctr-sha384-esn");
  assert.deepEqual(proposalTransforms(parseProposal("aes256ctr-sha256", "esp")), [
    { type: 1, id: 13, keyLength: 256 },
    { type: 3, id: 12 },
    { type: 5, id: 0 },
  ]);
  // CTR is not an AEAD: it needs an integrity algorithm and mixes with CBC, not with GCM.
  assert.throws(() => parseProposal("aes128ctr-x25519", "ike"), ProposalError);
  assert.throws(() => parseProposal("aes128ctr", "esp"), ProposalError);
  assert.throws(() => parseProposal("aes128ctr-aes128gcm16-sha256", "esp"), ProposalError);
  assert.deepEqual(parseProposal("aes128ctr-aes128-sha256", "esp").encr, [
    { id: 13, keyLength: 128 },
    { id: 12, keyLength: 128 },
  ]);
  // Listed among the expected keywords of an error message.
  assert.throws(() => parseProposal("aes128cbc-sha256", "esp"), /aes128ctr/);
  assert.throws(() => parseProposal("aesctr-sha256", "esp"), ProposalError);
});

Deno.test("parseProposal() 3DES and Camellia keywords (strongSwan's names, IANA ids 3, 23, 24)", () => {
  const ike = parseProposal("3des-sha1-modp1024", "ike", { allowWeak: true });
  // RFC 2451: a fixed 192-bit key, so no Key Length attribute.
  assert.deepEqual(ike.encr, [{ id: 3 }]);
  assert.deepEqual(ike.integ, [{ id: 2 }]);
  assert.deepEqual(ike.prf, [{ id: 2 }]);
  assert.deepEqual(ike.ke, [{ id: 2 }]);
  assert.equal(formatProposal(ike), "3des-sha1-modp1024");
  assert.deepEqual(proposalTransforms(parseProposal("3des-sha256", "esp")), [
    { type: 1, id: 3 },
    { type: 3, id: 12 },
    { type: 5, id: 0 },
  ]);
  const cam = parseProposal("camellia-camellia192-camellia256ctr-sha256-x25519", "ike");
  assert.deepEqual(cam.encr, [
    { id: 23, keyLength: 128 },
    { id: 23, keyLength: 192 },
    { id: 24, keyLength: 256 },
  ]);
  assert.equal(formatProposal(cam), "camellia128-camellia192-camellia256ctr-sha256-x25519");
  // Not AEADs: they need an integrity algorithm.
  assert.throws(() => parseProposal("3des-x25519", "ike"), /integrity/);
  assert.throws(() => parseProposal("camellia128", "esp"), /integrity/);
  // Still no DES, MD5 or Blowfish (RFC 8221 / 8247: MUST NOT, or not kept).
  for (const w of ["des", "md5", "prfmd5", "blowfish128"]) {
    assert.throws(() => parseProposal(`aes128-sha256-${w}-x25519`, "ike"), /unknown algorithm/);
  }
});
