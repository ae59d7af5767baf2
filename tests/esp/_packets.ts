/** Test packet builders (IPv4/IPv6 + UDP) and SA factories shared by the ESP/AH tests. */

import { selectCryptoBackend } from "../../ffi/crypto_backend.ts";
import type { CryptoBackendPreference } from "../../ffi/crypto_backend.ts";
import { internetChecksum, pseudoHeaderSum } from "../../lib/ip/checksum.ts";
import { ipv4SetChecksum, writeIpv4Header } from "../../lib/ip/ipv4.ts";
import type { Mac } from "../../lib/crypto/types.ts";
import { writeIpv6Header } from "../../lib/ip/ipv6.ts";
import type { EspTransform } from "../../lib/esp/esp.ts";

export function ip4(s: string): Uint8Array {
  return new Uint8Array(s.split(".").map(Number));
}

export function ip6(s: string): Uint8Array {
  const [head, tail] = s.split("::");
  const h = head ? head.split(":") : [];
  const t = tail !== undefined && tail !== "" ? tail.split(":") : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}

/** An IPv4/UDP packet with a correct UDP checksum. */
export function udp4(src: string, dst: string, payload: Uint8Array, tos = 0): Uint8Array {
  const s = ip4(src);
  const d = ip4(dst);
  const p = new Uint8Array(28 + payload.length);
  writeIpv4Header(p, 0, {
    tos,
    totalLength: p.length,
    id: 0x1234,
    df: true,
    ttl: 64,
    protocol: 17,
    src: s,
    dst: d,
  });
  writeUdp(p.subarray(20), 1234, 5678, payload, s, d);
  return p;
}

/** An IPv6/UDP packet, optionally with extension headers (raw bytes, chained by `exts`). */
export function udp6(
  src: string,
  dst: string,
  payload: Uint8Array,
  exts: { type: number; body: Uint8Array }[] = [],
): Uint8Array {
  const s = ip6(src);
  const d = ip6(dst);
  let extLen = 0;
  for (const e of exts) extLen += e.body.length;
  const p = new Uint8Array(40 + extLen + 8 + payload.length);
  writeIpv6Header(p, 0, {
    trafficClass: 0,
    flowLabel: 0,
    payloadLength: p.length - 40,
    nextHeader: exts.length ? exts[0].type : 17,
    hopLimit: 64,
    src: s,
    dst: d,
  });
  let off = 40;
  exts.forEach((e, i) => {
    p.set(e.body, off);
    p[off] = i + 1 < exts.length ? exts[i + 1].type : 17;
    off += e.body.length;
  });
  writeUdp(p.subarray(off), 1234, 5678, payload, s, d);
  return p;
}

function writeUdp(
  u: Uint8Array,
  sp: number,
  dp: number,
  payload: Uint8Array,
  s: Uint8Array,
  d: Uint8Array,
): void {
  const len = 8 + payload.length;
  u[0] = sp >> 8;
  u[1] = sp & 0xff;
  u[2] = dp >> 8;
  u[3] = dp & 0xff;
  u[4] = len >> 8;
  u[5] = len & 0xff;
  u.set(payload, 8);
  let c = internetChecksum(u.subarray(0, len), pseudoHeaderSum(s, d, 17, len));
  if (c === 0) c = 0xffff;
  u[6] = c >> 8;
  u[7] = c & 0xff;
}

/** Deterministic bytes for keys. */
export function seqBytes(n: number, start = 1): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (start + i * 7) & 0xff;
  return b;
}

/** Algorithms the ESP tests iterate over. */
export const ESP_ALGS = [
  "aes128gcm16",
  "aes256gcm16",
  "aes128gcm8",
  "aes128gcm12",
  "aes128ccm16",
  "aes256ccm8",
  "aes192ccm12",
  "chacha20poly1305",
  "aes128-sha1",
  "aes256-sha256",
  "aes192-sha384",
  "aes128-sha512",
  "aes128ctr-sha256",
  "aes192ctr-sha1",
  "aes256ctr-sha512",
  "null-sha256",
  "3des-sha1",
  "3des-sha256",
  "camellia128-sha256",
  "camellia256-sha1",
  "camellia192ctr-sha256",
  "aes128gmac",
  "aes192gmac",
  "aes256gmac",
] as const;
export type EspAlg = typeof ESP_ALGS[number];

interface AlgSpec {
  kind: "aead" | "cbc" | "ctr" | "null" | "gmac";
  /** The block cipher of "cbc" and "ctr" (default AES). */
  cipher?: "3des-cbc" | "camellia-cbc" | "camellia-ctr";
  aead?: "aes-gcm" | "aes-ccm" | "chacha20-poly1305";
  keyLength: number;
  tagLength?: number;
  hmac?: "sha1" | "sha256" | "sha384" | "sha512";
  icvLength?: number;
  scapyCrypt: string;
  scapyAuth?: string;
}

/** The algorithms with their scapy names (scapy.layers.ipsec CRYPT_ALGOS/AUTH_ALGOS). */
export const ALG_SPECS: Record<EspAlg, AlgSpec> = {
  aes128gcm16: {
    kind: "aead",
    aead: "aes-gcm",
    keyLength: 16,
    tagLength: 16,
    scapyCrypt: "AES-GCM",
  },
  aes256gcm16: {
    kind: "aead",
    aead: "aes-gcm",
    keyLength: 32,
    tagLength: 16,
    scapyCrypt: "AES-GCM",
  },
  aes128gcm8: { kind: "aead", aead: "aes-gcm", keyLength: 16, tagLength: 8, scapyCrypt: "AES-GCM" },
  aes128gcm12: {
    kind: "aead",
    aead: "aes-gcm",
    keyLength: 16,
    tagLength: 12,
    scapyCrypt: "AES-GCM",
  },
  aes128ccm16: {
    kind: "aead",
    aead: "aes-ccm",
    keyLength: 16,
    tagLength: 16,
    scapyCrypt: "AES-CCM",
  },
  aes256ccm8: { kind: "aead", aead: "aes-ccm", keyLength: 32, tagLength: 8, scapyCrypt: "AES-CCM" },
  aes192ccm12: {
    kind: "aead",
    aead: "aes-ccm",
    keyLength: 24,
    tagLength: 12,
    scapyCrypt: "AES-CCM",
  },
  chacha20poly1305: {
    kind: "aead",
    aead: "chacha20-poly1305",
    keyLength: 32,
    tagLength: 16,
    scapyCrypt: "CHACHA20-POLY1305",
  },
  "aes128-sha1": {
    kind: "cbc",
    keyLength: 16,
    hmac: "sha1",
    icvLength: 12,
    scapyCrypt: "AES-CBC",
    scapyAuth: "HMAC-SHA1-96",
  },
  "aes256-sha256": {
    kind: "cbc",
    keyLength: 32,
    hmac: "sha256",
    icvLength: 16,
    scapyCrypt: "AES-CBC",
    scapyAuth: "SHA2-256-128",
  },
  "aes192-sha384": {
    kind: "cbc",
    keyLength: 24,
    hmac: "sha384",
    icvLength: 24,
    scapyCrypt: "AES-CBC",
    scapyAuth: "SHA2-384-192",
  },
  "aes128-sha512": {
    kind: "cbc",
    keyLength: 16,
    hmac: "sha512",
    icvLength: 32,
    scapyCrypt: "AES-CBC",
    scapyAuth: "SHA2-512-256",
  },
  "aes128ctr-sha256": {
    kind: "ctr",
    keyLength: 16,
    hmac: "sha256",
    icvLength: 16,
    scapyCrypt: "AES-CTR",
    scapyAuth: "SHA2-256-128",
  },
  "aes192ctr-sha1": {
    kind: "ctr",
    keyLength: 24,
    hmac: "sha1",
    icvLength: 12,
    scapyCrypt: "AES-CTR",
    scapyAuth: "HMAC-SHA1-96",
  },
  "aes256ctr-sha512": {
    kind: "ctr",
    keyLength: 32,
    hmac: "sha512",
    icvLength: 32,
    scapyCrypt: "AES-CTR",
    scapyAuth: "SHA2-512-256",
  },
  "null-sha256": {
    kind: "null",
    keyLength: 0,
    hmac: "sha256",
    icvLength: 16,
    scapyCrypt: "NULL",
    scapyAuth: "SHA2-256-128",
  },
  // RFC 2451 (3DES: 8-byte blocks and IV); scapy's own 3DES.
  "3des-sha1": {
    kind: "cbc",
    cipher: "3des-cbc",
    keyLength: 24,
    hmac: "sha1",
    icvLength: 12,
    scapyCrypt: "3DES",
    scapyAuth: "HMAC-SHA1-96",
  },
  "3des-sha256": {
    kind: "cbc",
    cipher: "3des-cbc",
    keyLength: 24,
    hmac: "sha256",
    icvLength: 16,
    scapyCrypt: "3DES",
    scapyAuth: "SHA2-256-128",
  },
  // RFC 5529; scapy lacks Camellia, tests/helpers/scapy_ipsec.py registers it.
  "camellia128-sha256": {
    kind: "cbc",
    cipher: "camellia-cbc",
    keyLength: 16,
    hmac: "sha256",
    icvLength: 16,
    scapyCrypt: "CAMELLIA-CBC",
    scapyAuth: "SHA2-256-128",
  },
  "camellia256-sha1": {
    kind: "cbc",
    cipher: "camellia-cbc",
    keyLength: 32,
    hmac: "sha1",
    icvLength: 12,
    scapyCrypt: "CAMELLIA-CBC",
    scapyAuth: "HMAC-SHA1-96",
  },
  "camellia192ctr-sha256": {
    kind: "ctr",
    cipher: "camellia-ctr",
    keyLength: 24,
    hmac: "sha256",
    icvLength: 16,
    scapyCrypt: "CAMELLIA-CTR",
    scapyAuth: "SHA2-256-128",
  },
  // RFC 4543; scapy 2.5 lacks it, tests/helpers/scapy_ipsec.py registers it.
  aes128gmac: { kind: "gmac", keyLength: 16, tagLength: 16, scapyCrypt: "AES-NULL-GMAC" },
  aes192gmac: { kind: "gmac", keyLength: 24, tagLength: 16, scapyCrypt: "AES-NULL-GMAC" },
  aes256gmac: { kind: "gmac", keyLength: 32, tagLength: 16, scapyCrypt: "AES-NULL-GMAC" },
};

const HMAC_KEY = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 } as const;

/** The raw test keys of `alg` (cipher key, salt of 4 bytes or 3 for AES-CCM or AES-CTR nonce, integrity key). */
export function testKeys(alg: EspAlg, seed = 1): {
  key: Uint8Array;
  salt: Uint8Array;
  integKey: Uint8Array;
} {
  const s = ALG_SPECS[alg];
  return {
    key: seqBytes(s.keyLength, seed),
    salt: seqBytes(s.aead === "aes-ccm" ? 3 : 4, seed + 100),
    integKey: s.hmac ? seqBytes(HMAC_KEY[s.hmac], seed + 50) : new Uint8Array(0),
  };
}

/** scapy SecurityAssociation parameters matching {@linkcode makeTransform}. */
export function scapyParams(alg: EspAlg, seed = 1): {
  crypt_algo: string;
  crypt_key: string;
  crypt_icv_size?: number;
  auth_algo: string;
  auth_key: string;
} {
  const s = ALG_SPECS[alg];
  const k = testKeys(alg, seed);
  const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return {
    crypt_algo: s.scapyCrypt,
    // scapy takes AEAD, GMAC and AES-CTR keys as KEYMAT: key || salt/nonce (RFC 4106, 4543, 3686).
    crypt_key: s.kind === "aead" || s.kind === "ctr" || s.kind === "gmac"
      ? hex(k.key) + hex(k.salt)
      : hex(k.key),
    crypt_icv_size: s.kind === "aead" || s.kind === "gmac" ? s.tagLength : undefined,
    auth_algo: s.scapyAuth ?? "NULL",
    auth_key: hex(k.integKey),
  };
}

/** Keys an ESP transform from fixed test keys. */
export function makeTransform(
  alg: EspAlg,
  pref: CryptoBackendPreference = "auto",
  seed = 1,
): EspTransform {
  const be = selectCryptoBackend(pref);
  const s = ALG_SPECS[alg];
  const k = testKeys(alg, seed);
  if (s.kind === "aead") {
    // Deno's node:crypto has no AES-192 (CCM there is built on aes-*-cbc): use noble there.
    const abe = s.keyLength === 24 && pref === "node" ? selectCryptoBackend("noble") : be;
    return { kind: "aead", aead: abe.createAead(s.aead!, k.key, s.tagLength!), salt: k.salt };
  }
  if (s.kind === "gmac") {
    // GMAC is built on AES-GCM: Deno's node:crypto has no AES-192 there either.
    const gbe = s.keyLength === 24 && pref === "node" ? selectCryptoBackend("noble") : be;
    return { kind: "gmac", gmac: gbe.createGmac(k.key), salt: k.salt };
  }
  const integ = be.createMac(`hmac-${s.hmac!}`, k.integKey);
  if (s.kind === "null") return { kind: "null", integ, icvLength: s.icvLength! };
  if (s.kind === "ctr") {
    return {
      kind: "ctr",
      cipher: be.createBlockCipher(s.cipher === "camellia-ctr" ? "camellia-ctr" : "aes-ctr", k.key),
      nonce: k.salt,
      integ,
      icvLength: s.icvLength!,
    };
  }
  // Deno's node:crypto has no AES-192: use noble there.
  const cbe = s.keyLength === 24 && pref === "node" && !s.cipher
    ? selectCryptoBackend("noble")
    : be;
  return {
    kind: "cbc",
    cipher: cbe.createBlockCipher(s.cipher ?? "aes-cbc", k.key),
    integ,
    icvLength: s.icvLength!,
  };
}

/** AH integrity algorithms the tests iterate over, with their scapy names. */
export const AH_ALGS = {
  "hmac-sha1-96": { mac: "hmac-sha1", keyLength: 20, icvLength: 12, scapy: "HMAC-SHA1-96" },
  "hmac-sha256-128": { mac: "hmac-sha256", keyLength: 32, icvLength: 16, scapy: "SHA2-256-128" },
  "hmac-sha384-192": { mac: "hmac-sha384", keyLength: 48, icvLength: 24, scapy: "SHA2-384-192" },
  "hmac-sha512-256": { mac: "hmac-sha512", keyLength: 64, icvLength: 32, scapy: "SHA2-512-256" },
  "aes-xcbc-96": { mac: "aes-xcbc", keyLength: 16, icvLength: 12, scapy: "AES-XCBC-96" },
  "aes-cmac-96": { mac: "aes-cmac", keyLength: 16, icvLength: 12, scapy: "AES-CMAC-96" },
} as const;
export type AhAlg = keyof typeof AH_ALGS;

/** Keyed MAC + ICV length for an AH test SA. */
export function makeAhInteg(
  alg: AhAlg,
  pref: CryptoBackendPreference = "auto",
  seed = 3,
): { integ: Mac; icvLength: number; keyHex: string } {
  const a = AH_ALGS[alg];
  const key = seqBytes(a.keyLength, seed);
  return {
    integ: selectCryptoBackend(pref).createMac(a.mac, key),
    icvLength: a.icvLength,
    keyHex: Array.from(key, (x) => x.toString(16).padStart(2, "0")).join(""),
  };
}

/**
 * Inserts IPv4 options (raw bytes, a multiple of 4 long) after the fixed
 * header of `pkt` and fixes IHL, total length and checksum.
 */
export function withIpv4Options(pkt: Uint8Array, options: Uint8Array): Uint8Array {
  const out = new Uint8Array(pkt.length + options.length);
  out.set(pkt.subarray(0, 20));
  out.set(options, 20);
  out.set(pkt.subarray(20), 20 + options.length);
  out[0] = 0x40 | ((20 + options.length) / 4);
  out[2] = out.length >> 8;
  out[3] = out.length & 0xff;
  ipv4SetChecksum(out, 20 + options.length);
  return out;
}

/** Tunnel endpoints from text addresses (IPv6 when `v6`). */
export function endpoints(t: { src: string; dst: string }, v6: boolean): {
  src: Uint8Array;
  dst: Uint8Array;
} {
  return v6 ? { src: ip6(t.src), dst: ip6(t.dst) } : { src: ip4(t.src), dst: ip4(t.dst) };
}
