import assert from "node:assert/strict";
import {
  addressText,
  saSpecFromInstall,
  UnsupportedSaError,
} from "../../lib/daemon/install_spec.ts";
import type { SaInstall } from "../../lib/ikev2/effects.ts";
import { buildProcessor, SaSpecError, validateSaSpec } from "../../lib/dataplane/sa_spec.ts";
import { selectCryptoBackend } from "../../ffi/crypto_backend.ts";

const ts = (a: number[], b: number[]) => ({
  ipVersion: 4 as const,
  ipProtocol: 0,
  startPort: 0,
  endPort: 65535,
  startAddress: new Uint8Array(a),
  endAddress: new Uint8Array(b),
});

const base: SaInstall = {
  ikeSaId: 1,
  childSaId: 7,
  childName: "net",
  connectionName: "site",
  protocol: "esp",
  mode: "tunnel",
  direction: "out",
  spi: 0xc1c2c3c4,
  src: "192.0.2.1",
  dst: "192.0.2.2",
  esn: false,
  localTs: [ts([10, 1, 0, 0], [10, 1, 0, 255])],
  remoteTs: [ts([10, 2, 0, 0], [10, 2, 0, 255])],
  lifetimes: {
    softSeconds: 0,
    hardSeconds: 0,
    softBytes: 0n,
    hardBytes: 1000n,
    softPackets: 0n,
    hardPackets: 0n,
  },
  tfcPadding: false,
};

Deno.test("saSpecFromInstall(): AES-GCM KEYMAT is key then 4-byte salt (RFC 4106 section 8.1)", () => {
  const keymat = Uint8Array.from({ length: 36 }, (_, i) => i);
  const spec = saSpecFromInstall({ ...base, encr: { id: 20, keyLengthBits: 256, key: keymat } });
  validateSaSpec(spec);
  assert.equal(spec.encryption?.alg, "aes-gcm");
  assert.ok(spec.encryption?.alg === "aes-gcm");
  assert.deepEqual([...spec.encryption.key], [...keymat.subarray(0, 32)]);
  assert.deepEqual([...spec.encryption.salt], [32, 33, 34, 35]);
  assert.equal(spec.encryption.icvLength, 16);
  assert.equal(spec.integrity, undefined);
  assert.equal(addressText(spec.local), "192.0.2.1");
  assert.equal(addressText(spec.remote), "192.0.2.2");
  assert.equal(spec.reqid, 7);
  assert.equal(spec.label, "site/net");
  assert.equal(spec.limits?.hardBytes, 1000);
  assert.equal(spec.limits?.softBytes, undefined);
  assert.equal(spec.selectors?.length, 1);
});

Deno.test("saSpecFromInstall(): ChaCha20-Poly1305 salt (RFC 7634 section 2), CBC + HMAC ICV lengths", () => {
  const chacha = saSpecFromInstall({ ...base, encr: { id: 28, key: new Uint8Array(36).fill(1) } });
  assert.ok(chacha.encryption?.alg === "chacha20-poly1305");
  assert.equal(chacha.encryption.key.length, 32);
  assert.equal(chacha.encryption.salt.length, 4);
  // AUTH_HMAC_SHA2_256_128 truncates to 16 bytes (RFC 4868 section 2.3).
  const cbc = saSpecFromInstall({
    ...base,
    encr: { id: 12, keyLengthBits: 128, key: new Uint8Array(16) },
    integ: { id: 12, key: new Uint8Array(32) },
  });
  validateSaSpec(cbc);
  assert.equal(cbc.encryption?.alg, "aes-cbc");
  assert.deepEqual({ alg: cbc.integrity?.alg, icv: cbc.integrity?.icvLength }, {
    alg: "hmac-sha256",
    icv: 16,
  });
});

Deno.test("saSpecFromInstall(): inbound SAs swap outer addresses and NAT-T ports", () => {
  const spec = saSpecFromInstall({
    ...base,
    direction: "in",
    src: "192.0.2.2",
    dst: "192.0.2.1",
    encap: { srcPort: 4501, dstPort: 4500 },
    encr: { id: 20, keyLengthBits: 128, key: new Uint8Array(20) },
  });
  assert.equal(addressText(spec.local), "192.0.2.1");
  assert.equal(addressText(spec.remote), "192.0.2.2");
  assert.deepEqual(spec.encap, { localPort: 4500, remotePort: 4501 });
});

Deno.test("saSpecFromInstall(): ESP without encryption or an unknown cipher is refused", () => {
  assert.throws(() => saSpecFromInstall(base), UnsupportedSaError);
  assert.throws(
    () => saSpecFromInstall({ ...base, encr: { id: 250, key: new Uint8Array(16) } }),
    /unknown encryption transform 250/,
  );
});

Deno.test("saSpecFromInstall(): a child's replay_window, copy_df, copy_dscp, copy_ecn and tfc_padding reach the spec", () => {
  const gcm = { id: 20, keyLengthBits: 128, key: new Uint8Array(20) };
  const settings = {
    replayWindow: 0,
    copyDf: false,
    copyDscp: false,
    copyEcn: false,
    tfcPadTo: 1200,
  };
  // The peer accepts TFC padding: an outbound tunnel ESP SA pads to 1200 bytes.
  const out = saSpecFromInstall({ ...base, encr: gcm, tfcPadding: true }, settings);
  validateSaSpec(out);
  assert.deepEqual(
    [out.replayWindow, out.df, out.dscp, out.ecn, out.tfcPadTo],
    [0, "clear", 0, false, 1200],
  );
  // ESP_TFC_PADDING_NOT_SUPPORTED from the peer, an inbound SA, transport mode: no padding.
  assert.equal(saSpecFromInstall({ ...base, encr: gcm }, settings).tfcPadTo, undefined);
  assert.equal(
    saSpecFromInstall({ ...base, encr: gcm, tfcPadding: true, direction: "in" }, settings)
      .tfcPadTo,
    undefined,
  );
  const transport = saSpecFromInstall(
    { ...base, encr: gcm, tfcPadding: true, mode: "transport" },
    settings,
  );
  assert.deepEqual([transport.df, transport.dscp, transport.ecn, transport.tfcPadTo], [
    undefined,
    undefined,
    undefined,
    undefined,
  ]);
  // The defaults (copy_df, copy_dscp: yes; window 1024; no TFC).
  const d = saSpecFromInstall({ ...base, encr: gcm, tfcPadding: true }, {
    replayWindow: 1024,
    copyDf: true,
    copyDscp: true,
    copyEcn: true,
    tfcPadTo: 0,
  });
  assert.deepEqual([d.replayWindow, d.df, d.dscp, d.ecn, d.tfcPadTo], [
    1024,
    "copy",
    "copy",
    true,
    undefined,
  ]);
});

Deno.test("saSpecFromInstall(): AES-CTR KEYMAT is key then 4-byte nonce (RFC 3686 section 5.1)", () => {
  for (const bits of [128, 192, 256]) {
    const keymat = Uint8Array.from({ length: bits / 8 + 4 }, (_, i) => i + 1);
    const spec = saSpecFromInstall({
      ...base,
      encr: { id: 13, keyLengthBits: bits, key: keymat },
      integ: { id: 12, key: new Uint8Array(32) },
    });
    validateSaSpec(spec);
    assert.ok(spec.encryption?.alg === "aes-ctr");
    assert.deepEqual([...spec.encryption.key], [...keymat.subarray(0, bits / 8)]);
    assert.deepEqual([...spec.encryption.nonce], [...keymat.subarray(bits / 8)]);
    assert.equal(spec.integrity?.icvLength, 16);
  }
});

Deno.test("saSpecFromInstall(): AES-CCM KEYMAT is key then 3-byte salt (RFC 4309 section 7.1); both directions key one SA", () => {
  for (const [id, icv] of [[14, 8], [15, 12], [16, 16]]) {
    for (const bits of [128, 192, 256]) {
      const keymat = Uint8Array.from({ length: bits / 8 + 3 }, (_, i) => i + id);
      const out = saSpecFromInstall({ ...base, encr: { id, keyLengthBits: bits, key: keymat } });
      validateSaSpec(out);
      assert.ok(out.encryption?.alg === "aes-ccm");
      assert.deepEqual([...out.encryption.key], [...keymat.subarray(0, bits / 8)]);
      assert.deepEqual([...out.encryption.salt], [...keymat.subarray(bits / 8)]);
      assert.equal(out.encryption.icvLength, icv);
      const inb = saSpecFromInstall({
        ...base,
        direction: "in",
        encr: { id, keyLengthBits: bits, key: keymat },
      });
      // libcrypto seals, noble opens: an ESP packet of the SA round-trips.
      const tx = buildProcessor(out, selectCryptoBackend("libcrypto"));
      const rx = buildProcessor(inb, selectCryptoBackend("noble"));
      const inner = Uint8Array.of(
        0x45,
        0,
        0,
        24,
        0,
        0,
        0,
        0,
        64,
        17,
        0,
        0,
        10,
        1,
        0,
        1,
        10,
        2,
        0,
        1,
        1,
        2,
        3,
        4,
      );
      const buf = new Uint8Array(tx.requiredOutLength(inner.length));
      const n = tx.encapsulateInto(inner, buf);
      assert.ok(n > 0);
      const len = rx.decapsulateInPlace(buf, 0, n);
      assert.ok(len >= 0, `decapsulate ${id}/${bits}: ${len}`);
      assert.deepEqual([...buf.subarray(rx.lastOffset, rx.lastOffset + len)], [...inner]);
    }
  }
  // A 4-byte salt is wrong for CCM.
  const bad = saSpecFromInstall({
    ...base,
    encr: { id: 16, keyLengthBits: 128, key: new Uint8Array(19) },
  });
  assert.ok(bad.encryption?.alg === "aes-ccm");
  bad.encryption.salt = new Uint8Array(4);
  assert.throws(
    () => buildProcessor(bad, selectCryptoBackend("noble")),
    (e: unknown) => e instanceof SaSpecError && /aes-ccm salt must be 3 bytes/.test(e.message),
  );
});

Deno.test("saSpecFromInstall(): AES-GMAC KEYMAT is key then 4-byte salt (RFC 4543 section 5.1), no integrity; both directions key one SA", () => {
  const inner = new Uint8Array(24);
  inner.set([0x45, 0, 0, 24, 0, 0, 0, 0, 64, 17, 0, 0, 10, 1, 0, 1, 10, 2, 0, 1, 1, 2, 3, 4]);
  for (const bits of [128, 192, 256]) {
    const keymat = Uint8Array.from({ length: bits / 8 + 4 }, (_, i) => i + 21);
    const encr = { id: 21, keyLengthBits: bits, key: keymat };
    const out = saSpecFromInstall({ ...base, encr });
    validateSaSpec(out);
    assert.ok(out.encryption?.alg === "aes-gmac");
    assert.deepEqual([...out.encryption.key], [...keymat.subarray(0, bits / 8)]);
    assert.deepEqual([...out.encryption.salt], [...keymat.subarray(bits / 8)]);
    assert.equal(out.integrity, undefined);
    const inb = saSpecFromInstall({ ...base, direction: "in", encr });
    // libcrypto computes the ICV, noble checks it: an ESP packet of the SA round-trips.
    const tx = buildProcessor(out, selectCryptoBackend("libcrypto"));
    const rx = buildProcessor(inb, selectCryptoBackend("noble"));
    const buf = new Uint8Array(tx.requiredOutLength(inner.length));
    const n = tx.encapsulateInto(inner, buf);
    assert.ok(n > 0);
    // Integrity only: the inner packet is on the wire as it was (after SPI, sequence, IV).
    assert.deepEqual([...buf.subarray(n - 16 - 2 - 2 - 24, n - 16 - 4)], [...inner]);
    const len = rx.decapsulateInPlace(buf, 0, n);
    assert.ok(len >= 0, `decapsulate ${bits}: ${len}`);
    assert.deepEqual([...buf.subarray(rx.lastOffset, rx.lastOffset + len)], [...inner]);
  }
  // An integrity algorithm next to AES-GMAC, or a 3-byte salt, is refused.
  const spec = saSpecFromInstall({
    ...base,
    encr: { id: 21, keyLengthBits: 128, key: new Uint8Array(20) },
  });
  assert.throws(
    () =>
      validateSaSpec({
        ...spec,
        integrity: { alg: "hmac-sha256", key: new Uint8Array(32), icvLength: 16 },
      }),
    (e: unknown) => e instanceof SaSpecError && /aes-gmac is an AEAD/.test(e.message),
  );
  assert.ok(spec.encryption?.alg === "aes-gmac");
  spec.encryption.salt = new Uint8Array(3);
  assert.throws(
    () => buildProcessor(spec, selectCryptoBackend("noble")),
    (e: unknown) => e instanceof SaSpecError && /aes-gmac salt must be 4 bytes/.test(e.message),
  );
});

Deno.test("saSpecFromInstall(): a negotiated IPComp CPI reaches the spec, for ESP and AH", () => {
  const gcm = { id: 20, keyLengthBits: 128, key: new Uint8Array(20) };
  const spec = saSpecFromInstall({ ...base, encr: gcm, ipcompCpi: 0x4a1b });
  validateSaSpec(spec);
  assert.deepEqual(spec.ipcomp, { cpi: 0x4a1b });
  assert.equal(saSpecFromInstall({ ...base, encr: gcm }).ipcomp, undefined);
  const sha = { id: 12, key: new Uint8Array(32) };
  const ah = saSpecFromInstall({ ...base, protocol: "ah", integ: sha, ipcompCpi: 0x4a1c });
  validateSaSpec(ah);
  assert.deepEqual(ah.ipcomp, { cpi: 0x4a1c });
});
