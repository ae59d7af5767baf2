/**
 * Full-system interop (tests/helpers/interop_system.ts) over a proposal
 * matrix: our daemon against strongSwan's charon (kernel-libipsec, userspace
 * ESP in UDP) with PSK, one bench per proposal. Each case runs in both
 * directions (`ipsec up` and `swanctl --initiate`), and each direction checks
 *
 * - that both sides negotiated exactly the algorithms asked for: charon's
 *   `swanctl --list-sas` (checkAgreement, with the case's names) and our
 *   `ipsec list-sas --json` (the CLI, below);
 * - that charon decrypted exactly our three pings, then pings and 64 KiB TCP
 *   transfers (SHA-256 checked by the receiver) both ways through the tunnel.
 *
 * The four key exchange methods each appear at least once: modp2048, ecp256,
 * ecp384 and x25519. All ESP algorithms (AES-GCM, ChaCha20-Poly1305, AES-CBC
 * and AES-CTR with HMAC, AES-CCM) run in charon's userspace libipsec
 * (kernel-libipsec), with the ciphers of its openssl plugin: for
 * chacha20poly1305 its log says "using CHACHA20_POLY1305 for encryption", and
 * the traffic checks below go through that ESP SA both ways.
 *
 * Expected names: charon's are strongSwan's printing of the IANA transforms
 * (`swanctl --list-sas`); ours are the IANA "IKEv2 Transform Type" names for
 * encryption, PRF and integrity (RFC 7296 section 3.3.2; RFC 4106 AES-GCM,
 * RFC 7634 ChaCha20-Poly1305, RFC 3686/5930 AES-CTR, RFC 4309/5282 AES-CCM, RFC 4868
 * HMAC-SHA2-256-128) and short names for
 * the key exchange groups (MODP_2048 = 14, ECP_256 = 19, ECP_384 = 20,
 * CURVE25519 = 31 per RFC 3526, RFC 5903, RFC 8031).
 *
 * @module
 */
import {
  type Bench,
  charonInitiates,
  must,
  type Proposals,
  weInitiate,
  withBench,
} from "../helpers/interop_system.ts";

/** One case: the proposals on both sides and what our `ipsec list-sas --json` must show. */
interface Case {
  proposals: Proposals;
  /** Our IKE SA's `ike.algorithms`. */
  ourIke: string;
  /** Our child SA's `encr` and `integ` (inbound and outbound alike). */
  ourEncr: string;
  ourInteg: string;
}

const CASES: Case[] = [
  {
    proposals: {
      ike: "aes128gcm16-prfsha256-modp2048",
      esp: "aes128gcm16",
      charonIke: "AES_GCM_16-128/PRF_HMAC_SHA2_256/MODP_2048",
      charonEsp: "ESP:AES_GCM_16-128",
    },
    ourIke: "ENCR_AES_GCM_16/128/PRF_HMAC_SHA2_256/MODP_2048",
    ourEncr: "ENCR_AES_GCM_16/128",
    ourInteg: "",
  },
  {
    proposals: {
      ike: "aes256gcm16-prfsha384-ecp384",
      esp: "aes256gcm16",
      charonIke: "AES_GCM_16-256/PRF_HMAC_SHA2_384/ECP_384",
      charonEsp: "ESP:AES_GCM_16-256",
    },
    ourIke: "ENCR_AES_GCM_16/256/PRF_HMAC_SHA2_384/ECP_384",
    ourEncr: "ENCR_AES_GCM_16/256",
    ourInteg: "",
  },
  {
    proposals: {
      ike: "chacha20poly1305-prfsha256-x25519",
      esp: "chacha20poly1305",
      charonIke: "CHACHA20_POLY1305/PRF_HMAC_SHA2_256/CURVE_25519",
      charonEsp: "ESP:CHACHA20_POLY1305",
    },
    ourIke: "ENCR_CHACHA20_POLY1305/PRF_HMAC_SHA2_256/CURVE25519",
    ourEncr: "ENCR_CHACHA20_POLY1305",
    ourInteg: "",
  },
  {
    proposals: {
      ike: "aes256-sha256-ecp256",
      esp: "aes256-sha256",
      charonIke: "AES_CBC-256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/ECP_256",
      charonEsp: "ESP:AES_CBC-256/HMAC_SHA2_256_128",
    },
    ourIke: "ENCR_AES_CBC/256/AUTH_HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/ECP_256",
    ourEncr: "ENCR_AES_CBC/256",
    ourInteg: "AUTH_HMAC_SHA2_256_128",
  },
  {
    // AES-CTR (RFC 5930 for IKE, RFC 3686 for ESP): the pings and TCP transfers
    // go through charon's libipsec AES-CTR ESP SA and ours (libcrypto FFI) both ways.
    proposals: {
      ike: "aes128ctr-sha256-x25519",
      esp: "aes128ctr-sha256",
      charonIke: "AES_CTR-128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/CURVE_25519",
      charonEsp: "ESP:AES_CTR-128/HMAC_SHA2_256_128",
    },
    ourIke: "ENCR_AES_CTR/128/AUTH_HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/CURVE25519",
    ourEncr: "ENCR_AES_CTR/128",
    ourInteg: "AUTH_HMAC_SHA2_256_128",
  },
  {
    // AES-CCM (RFC 5282 for IKE, RFC 4309 for ESP: 3-byte salt, 11-byte nonce).
    proposals: {
      ike: "aes256ccm16-prfsha256-x25519",
      esp: "aes128ccm16",
      charonIke: "AES_CCM_16-256/PRF_HMAC_SHA2_256/CURVE_25519",
      charonEsp: "ESP:AES_CCM_16-128",
    },
    ourIke: "ENCR_AES_CCM_16/256/PRF_HMAC_SHA2_256/CURVE25519",
    ourEncr: "ENCR_AES_CCM_16/128",
    ourInteg: "",
  },
  {
    // What old Windows clients offer: 3DES (RFC 2451, 8-byte blocks) and MODP 1024,
    // named in the proposals; charon's libipsec 3DES ESP SA carries the traffic.
    proposals: {
      ike: "3des-sha1-modp1024",
      esp: "3des-sha1",
      charonIke: "3DES_CBC/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1024",
      charonEsp: "ESP:3DES_CBC/HMAC_SHA1_96",
    },
    ourIke: "ENCR_3DES/AUTH_HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1024",
    ourEncr: "ENCR_3DES",
    ourInteg: "AUTH_HMAC_SHA1_96",
  },
  {
    // Camellia (RFC 5529): CTR for IKE, CBC for ESP.
    proposals: {
      ike: "camellia128ctr-sha256-x25519",
      esp: "camellia256-sha256",
      charonIke: "CAMELLIA_CTR-128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/CURVE_25519",
      charonEsp: "ESP:CAMELLIA_CBC-256/HMAC_SHA2_256_128",
    },
    ourIke: "ENCR_CAMELLIA_CTR/128/AUTH_HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/CURVE25519",
    ourEncr: "ENCR_CAMELLIA_CBC/256",
    ourInteg: "AUTH_HMAC_SHA2_256_128",
  },
];

/** The parts of `ipsec list-sas --json` this test reads. */
interface ListedSa {
  ike?: { algorithms?: string };
  children?: { inbound?: ListedEsp | null; outbound?: ListedEsp | null }[];
}

interface ListedEsp {
  encr?: string;
  integ?: string;
}

/** Our `ipsec list-sas --json` (the CLI) shows exactly the case's algorithms. */
function ourAlgorithms(c: Case): (b: Bench) => Promise<void> {
  return async (b) => {
    const r = await b.daemon.cli(["list-sas", "--json"]);
    must(r, "ipsec list-sas --json");
    const sas = JSON.parse(r.stdout) as ListedSa[];
    const dump = `ipsec list-sas --json:\n${r.stdout}`;
    if (sas.length !== 1 || sas[0].children?.length !== 1) {
      throw new Error(`expected one IKE SA with one child SA\n${dump}`);
    }
    if (sas[0].ike?.algorithms !== c.ourIke) {
      throw new Error(`our IKE SA negotiated something else than ${c.ourIke}\n${dump}`);
    }
    const child = sas[0].children[0];
    for (const sa of [child.inbound, child.outbound]) {
      if (sa?.encr !== c.ourEncr || sa?.integ !== c.ourInteg) {
        throw new Error(`our child SA is not ${c.ourEncr} + "${c.ourInteg}"\n${dump}`);
      }
    }
  };
}

for (const c of CASES) {
  Deno.test({
    name: `strongSwan interop, our daemon: PSK, IKE ${c.proposals.ike}, ESP ${c.proposals.esp}, ` +
      "both directions",
    sanitizeResources: false,
    sanitizeOps: false,
    fn: () =>
      withBench(
        undefined,
        async (b) => {
          await weInitiate(b, ourAlgorithms(c));
          await charonInitiates(b, true, ourAlgorithms(c));
        },
        {},
        { proposals: c.proposals },
      ),
  });
}
