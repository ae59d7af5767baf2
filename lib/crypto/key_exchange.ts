/**
 * Ephemeral key exchange for IKEv2 KE payloads:
 * - MODP 14/15/16/17/18 (RFC 3526), and 1/2/5 only with `allowWeak`, through
 *   node:crypto's DiffieHellman with our own private exponent; peer values
 *   are checked 1 < y < p-1 and g^ir is left-padded to the length of p
 *   (RFC 7296 section 2.14).
 * - ECP 256/384/521 (RFC 5903) and Brainpool 256/384/512 (RFC 6954, groups
 *   28-30; noble only): the KE data is x || y without the 0x04 prefix, g^ir
 *   is the x coordinate; peer points are validated here (on the curve, not
 *   infinity) before either backend sees them.
 * - Curve25519/Curve448 (RFC 8031, RFC 7748); an all-zero shared secret is
 *   rejected.
 *
 * The curves run on node:crypto (native) or @noble/curves (pure JS), chosen
 * per step for speed unless {@link KeyExchangeOptions.backend} pins one.
 *
 * Randomness is injected: `rng(n)` returns n random bytes (default
 * crypto.getRandomValues).
 *
 * @module
 */
import { createDiffieHellman, type DiffieHellman } from "node:crypto";
import { CryptoError, type KeyExchange, type Rng } from "./types.ts";
import type { SoftwareBackend } from "./primitives.ts";
import { ECDH_INFO, type EcdhGroup, type EcdhKey } from "./_provider.ts";
import { nodeEcdh } from "./_node.ts";
import { BRAINPOOL_CURVES, NIST_CURVES, nobleEcdh, nobleEcpKey } from "./_noble.ts";
import { KeId, keInfo, transformName } from "./transforms.ts";
import {
  MODP_EXPONENT_BYTES,
  MODP_GENERATOR,
  MODP_PRIMES,
  WEAK_MODP_PRIMES,
} from "./modp_groups.ts";

export type { KeyExchange, Rng } from "./types.ts";

/** The default RNG: the platform CSPRNG. */
export const defaultRng: Rng = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n));

function bytesToBigint(b: Uint8Array): bigint {
  let x = 0n;
  for (const v of b) x = (x << 8n) | BigInt(v);
  return x;
}

function bigintToBytes(x: bigint, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

function leftPad(b: Uint8Array, len: number): Uint8Array {
  if (b.length === len) return new Uint8Array(b);
  if (b.length > len) throw new CryptoError("shared secret longer than the group");
  const out = new Uint8Array(len);
  out.set(b, len - b.length);
  return out;
}

type ModpId = 1 | 2 | 5 | 14 | 15 | 16 | 17 | 18;

function modpPrime(group: ModpId): bigint {
  return group === 1 || group === 2 || group === 5 ? WEAK_MODP_PRIMES[group] : MODP_PRIMES[group];
}

function modpExchange(group: ModpId, priv: Uint8Array): KeyExchange {
  const p = modpPrime(group);
  const len = keInfo(group)!.publicKeyLength;
  const x = bytesToBigint(priv);
  if (x < 2n || x >= p - 1n) throw new CryptoError(`MODP_${len * 8}: invalid private exponent`);
  const dh: DiffieHellman = createDiffieHellman(
    bigintToBytes(p, len),
    new Uint8Array([Number(MODP_GENERATOR)]),
  );
  dh.setPrivateKey(priv);
  dh.generateKeys();
  const publicKey = leftPad(dh.getPublicKey(), len);
  return {
    group,
    publicKey,
    computeSharedSecret(peer) {
      if (peer.length !== len) {
        throw new CryptoError(
          `MODP_${len * 8}: public value must be ${len} bytes, got ${peer.length}`,
        );
      }
      const y = bytesToBigint(peer);
      if (y <= 1n || y >= p - 1n) {
        throw new CryptoError(`MODP_${len * 8}: invalid public value (must be 1 < y < p-1)`);
      }
      const s = dh.computeSecret(peer);
      return leftPad(new Uint8Array(s.buffer, s.byteOffset, s.byteLength), len);
    },
  };
}

/** Which backend computes a public value and which derives g^ir, per group. */
interface EcdhPlan {
  readonly publicKey: SoftwareBackend;
  readonly derive: SoftwareBackend;
}

/**
 * The fastest choice per step, measured with Deno 2.9 here (CPU per op):
 * node:crypto's diffieHellman beats noble 2-7x on every curve (X25519
 * ~60 us vs ~450 us, P-256 ~250 us vs ~1.2 ms), while noble's precomputed
 * base-point tables make ECP and X448 public values as fast or faster than
 * node:crypto's KeyObject export (P-256 ~245 us vs ~265 us, P-384 ~460 us
 * vs ~670 us). Both give identical bytes (tests/crypto/cross_backend_test.ts).
 */
const FASTEST: Readonly<Record<EcdhGroup, EcdhPlan>> = {
  19: { publicKey: "noble", derive: "node" },
  20: { publicKey: "noble", derive: "node" },
  21: { publicKey: "noble", derive: "node" },
  31: { publicKey: "node", derive: "node" },
  32: { publicKey: "noble", derive: "node" },
};

function ecdhPlan(group: EcdhGroup, backend: SoftwareBackend | undefined): EcdhPlan {
  return backend ? { publicKey: backend, derive: backend } : FASTEST[group];
}

const ECDH: Readonly<Record<SoftwareBackend, (g: EcdhGroup, priv: Uint8Array) => EcdhKey>> = {
  node: nodeEcdh,
  noble: nobleEcdh,
};

function bindEcdh(group: EcdhGroup, secret: Uint8Array, plan: EcdhPlan) {
  const deriver = ECDH[plan.derive](group, secret);
  const maker = plan.publicKey === plan.derive ? deriver : ECDH[plan.publicKey](group, secret);
  return {
    publicKey: maker.publicKey().slice(),
    derive: (peer: Uint8Array) => deriver.derive(peer),
  };
}

/** The ECP groups: NIST (RFC 5903) and Brainpool (RFC 6954). */
type EcpGroup = 19 | 20 | 21 | 28 | 29 | 30;

function ecpCurve(group: EcpGroup) {
  return group === 19 || group === 20 || group === 21
    ? NIST_CURVES[group]
    : BRAINPOOL_CURVES[group];
}

function ecpExchange(group: EcpGroup, priv: Uint8Array, backend?: SoftwareBackend): KeyExchange {
  const curve = ecpCurve(group);
  const fieldLen = keInfo(group)!.sharedSecretLength;
  const name = transformName(4, group);
  const d = bytesToBigint(priv);
  if (d < 1n || d >= curve.Point.Fn.ORDER) {
    throw new CryptoError(`${name}: private scalar out of range`);
  }
  const secret = bigintToBytes(d, curve.Point.Fn.BYTES);
  let publicKey: Uint8Array;
  let derive: (peer: Uint8Array) => Uint8Array;
  if (group === 19 || group === 20 || group === 21) {
    ({ publicKey, derive } = bindEcdh(group, secret, ecdhPlan(group, backend)));
  } else {
    // Brainpool: @noble/curves whatever the backend (node:crypto has no Brainpool curve).
    const key = nobleEcpKey(curve, secret, fieldLen);
    publicKey = key.publicKey().slice();
    derive = key.derive;
  }
  return {
    group,
    publicKey,
    computeSharedSecret(peer) {
      if (peer.length !== 2 * fieldLen) {
        throw new CryptoError(
          `${name}: public value must be ${2 * fieldLen} bytes (x || y), got ${peer.length}`,
        );
      }
      const sec1 = new Uint8Array(1 + peer.length);
      sec1[0] = 0x04;
      sec1.set(peer, 1);
      try {
        // Our own check, whatever the backend: coordinates below p, the
        // point on the curve and not infinity (SP 800-56A 5.6.2.3.4; the
        // NIST and Brainpool curves have cofactor 1, so that is full validation).
        curve.Point.fromBytes(sec1).assertValidity();
        return derive(peer).slice(); // x coordinate only (RFC 5903 section 7)
      } catch (e) {
        throw new CryptoError(`${name}: invalid peer public value (${(e as Error).message})`);
      }
    },
  };
}

function curveExchange(group: 31 | 32, priv: Uint8Array, plan: EcdhPlan): KeyExchange {
  const len = ECDH_INFO[group].privateLength;
  const name = transformName(4, group);
  if (priv.length !== len) throw new CryptoError(`${name}: private key must be ${len} bytes`);
  const secret = priv.slice();
  const { publicKey, derive } = bindEcdh(group, secret, plan);
  return {
    group,
    publicKey,
    computeSharedSecret(peer) {
      if (peer.length !== len) {
        throw new CryptoError(`${name}: public value must be ${len} bytes, got ${peer.length}`);
      }
      let s: Uint8Array;
      try {
        s = derive(peer);
      } catch (e) {
        // Both backends refuse small-order points (all-zero result) themselves.
        throw new CryptoError(
          `${name}: invalid peer public value, e.g. a small-order point (${(e as Error).message})`,
        );
      }
      let acc = 0;
      for (const b of s) acc |= b;
      if (acc === 0) throw new CryptoError(`${name}: all-zero shared secret (RFC 8031 2.3)`);
      return s.slice();
    },
  };
}

/**
 * Draws a fresh private key for `group` from `rng`: a full-length MODP
 * exponent (top bit set), an ECP scalar in [1, n-1] (FIPS 186-5 A.2.1: 64
 * extra bits reduced mod n-1, plus 1), or raw X25519/X448 bytes.
 */
export function generatePrivateKey(group: number, rng: Rng = defaultRng): Uint8Array {
  switch (group) {
    case KeId.MODP_768:
    case KeId.MODP_1024:
    case KeId.MODP_1536:
    case KeId.MODP_2048:
    case KeId.MODP_3072:
    case KeId.MODP_4096:
    case KeId.MODP_6144:
    case KeId.MODP_8192: {
      const x = rng(MODP_EXPONENT_BYTES[group]).slice();
      x[0] |= 0x80;
      return x;
    }
    case KeId.ECP_256:
    case KeId.ECP_384:
    case KeId.ECP_521:
    case KeId.ECP_256_BP:
    case KeId.ECP_384_BP:
    case KeId.ECP_512_BP: {
      const c = ecpCurve(group);
      const n = c.Point.Fn.ORDER;
      const d = bytesToBigint(rng(c.Point.Fn.BYTES + 8)) % (n - 1n) + 1n;
      return bigintToBytes(d, c.Point.Fn.BYTES);
    }
    case KeId.CURVE25519:
      return rng(32).slice();
    case KeId.CURVE448:
      return rng(56).slice();
  }
  throw new CryptoError(`key exchange method ${transformName(4, group)} is not implemented`);
}

/**
 * Starts one side of a key exchange for an IANA Transform Type 4 id
 * (14, 15, 16, 19, 20, 21, 28, 29, 30, 31, 32; 1, 2, 5 with `allowWeak`). Weak groups
 * without the opt-in and unknown groups throw {@link CryptoError}.
 *
 * @example
 * ```ts
 * const a = createKeyExchange(31), b = createKeyExchange(31);
 * const gir = a.computeSharedSecret(b.publicKey); // === b.computeSharedSecret(a.publicKey)
 * ```
 */
export function createKeyExchange(
  group: number,
  rng: Rng = defaultRng,
  opts: KeyExchangeOptions = {},
): KeyExchange {
  checkGroup(group, opts);
  return createKeyExchangeFromPrivate(group, generatePrivateKey(group, rng), opts);
}

/** Options of {@link createKeyExchange}. */
export interface KeyExchangeOptions {
  /**
   * Allow the weak MODP groups 1, 2 and 5 (768/1024/1536-bit; RFC 8247
   * section 2.4). Off by default; set it only from an explicit user opt-in.
   */
  readonly allowWeak?: boolean;
  /**
   * Implementation of the elliptic-curve groups (19/20/21/31/32): "node"
   * (node:crypto) or "noble" (@noble/curves, pure JavaScript, portable) for
   * every step; the Brainpool groups (28/29/30) always run on noble. Unset picks the fastest per step (node for g^ir, noble's
   * precomputed tables for most public values); the bytes are the same.
   * MODP always uses node:crypto.
   */
  readonly backend?: SoftwareBackend;
}

/**
 * The options for a group taken from a connection's configured proposals.
 * The configuration is the explicit opt-in for MODP 1024/1536 (lib/config
 * accepts them only where a proposal names them, and never MODP 768), and
 * the IKE engine only ever uses groups its configuration lists.
 */
export const CONFIGURED_GROUP: KeyExchangeOptions = { allowWeak: true };

function checkGroup(group: number, opts: KeyExchangeOptions): void {
  const info = keInfo(group);
  if (!info) throw new CryptoError(`unknown key exchange method ${group}`);
  if (info.weak && !opts.allowWeak) {
    throw new CryptoError(
      `${info.name} is too weak and refused (use 2048-bit MODP or better, or allow weak groups explicitly)`,
    );
  }
}

/**
 * A key exchange with a given private key (big-endian MODP exponent or ECP
 * scalar, raw X25519/X448 key), for known-answer tests and deterministic
 * runs. Prefer {@link createKeyExchange}.
 */
export function createKeyExchangeFromPrivate(
  group: number,
  privateKey: Uint8Array,
  opts: KeyExchangeOptions = {},
): KeyExchange {
  checkGroup(group, opts);
  switch (group) {
    case KeId.MODP_768:
    case KeId.MODP_1024:
    case KeId.MODP_1536:
    case KeId.MODP_2048:
    case KeId.MODP_3072:
    case KeId.MODP_4096:
    case KeId.MODP_6144:
    case KeId.MODP_8192:
      return modpExchange(group, privateKey);
    case KeId.ECP_256:
    case KeId.ECP_384:
    case KeId.ECP_521:
    case KeId.ECP_256_BP:
    case KeId.ECP_384_BP:
    case KeId.ECP_512_BP:
      return ecpExchange(group, privateKey, opts.backend);
    case KeId.CURVE25519:
    case KeId.CURVE448:
      return curveExchange(group, privateKey, ecdhPlan(group, opts.backend));
  }
  throw new CryptoError(`key exchange method ${transformName(4, group)} is not implemented`);
}
