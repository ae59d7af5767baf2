/**
 * ESP encapsulate + decapsulate cost per packet (ns), per algorithm, packet
 * size and crypto backend, through the hot-path API (`encapsulateInto`,
 * `decapsulateInPlace`, preallocated buffers). Next to it, on this machine
 * and for the same cipher and size, two `openssl speed` figures for one
 * encryption (one direction):
 *
 * - `openssl speed -evp`: what OpenSSL 3.0 (Debian 3.0.19, counted with an
 *   LD_PRELOAD shim) does per op is one EncryptUpdate for ChaCha20-Poly1305
 *   and AES-CBC (no per-packet set-up at all), but for AES-GCM a full
 *   EVP_CipherInit_ex with key and IV (key schedule and GHASH key per op),
 *   EncryptUpdate, Final and a tag ctrl;
 * - `openssl speed -aead -evp`: the same plus 13 bytes of AAD per op for
 *   AES-GCM. OpenSSL 3.0's `speed` runs the plain loop for
 *   ChaCha20-Poly1305 there (no re-key, no nonce, no Final), so both of its
 *   columns are one Update; AES-CBC has no `-aead` figure.
 *
 * ESP with AES-CBC also computes an HMAC per packet, so its `-evp` column
 * is `openssl speed -evp aes-*-cbc` over ESP's ciphertext (packet, trailer,
 * padding) plus `openssl speed -hmac <hash>` over what ESP authenticates
 * (SPI, sequence number, IV, ciphertext).
 *
 * So the AES-GCM columns carry a re-key per packet that ESP does not pay,
 * and the ChaCha20-Poly1305 columns lack the per-packet nonce set-up and
 * Poly1305 key derivation that ESP must pay.
 *
 * A third reference is the seal ESP needs, written in C against the same
 * EVP API (tests/bench/evp_aead_seal.c: key set once, then per packet a
 * nonce, 8 bytes of AAD, Update, Final and the tag), built with gcc when
 * the OpenSSL headers are there ("C seal" column, AEADs only). It shows
 * what OpenSSL itself needs per packet, which for ChaCha20-Poly1305 at
 * 64 bytes is several times the `openssl speed` figure.
 *
 * The target is libcrypto within 2x of openssl per direction; the ratio
 * columns are (enc+dec)/2 over one openssl op, from CPU time (openssl speed
 * also divides by CPU time).
 *
 * Each case is measured BENCH_REPEAT times (default 3) for BENCH_MS (default
 * 300) ms and the best run is reported; the references too are the best of
 * REPEAT runs (this VM's speed swings by tens of percent from one second to
 * the next, and interference only ever makes a run slower). BENCH_BACKENDS (comma-separated, default
 * "libcrypto,node,noble") picks the backends.
 *
 * Run: `deno task bench esp` (or `deno run -A tests/bench/esp_bench.ts`).
 *
 * @module
 */
import process from "node:process";
import { type CryptoBackendPreference, selectCryptoBackend } from "../../ffi/crypto_backend.ts";
import { EspSa, type EspTransform } from "../../lib/esp/esp.ts";
import { writeIpv4Header } from "../../lib/ip/ipv4.ts";
import { type BenchRow, recordRows } from "./_results.ts";
import { evpAeadSealNs, opensslEvpNs, opensslHmacNs } from "./_timing.ts";

const BUDGET_MS = Number(Deno.env.get("BENCH_MS") ?? 300);
const REPEAT = Math.max(1, Number(Deno.env.get("BENCH_REPEAT") ?? 3));
const SIZES = [64, 1400];
const ALGS = [
  { name: "aes128gcm16", openssl: "aes-128-gcm", aead: true },
  { name: "aes256gcm16", openssl: "aes-256-gcm", aead: true },
  { name: "chacha20poly1305", openssl: "chacha20-poly1305", aead: true },
  { name: "aes128-sha256", openssl: "aes-128-cbc", aead: false, hmac: "sha256" },
  { name: "aes256-sha1", openssl: "aes-256-cbc", aead: false, hmac: "sha1" },
] as const;
type Alg = typeof ALGS[number]["name"];

function transform(alg: Alg, pref: CryptoBackendPreference): EspTransform {
  const be = selectCryptoBackend(pref);
  const key = (n: number) => new Uint8Array(n).fill(0x42);
  switch (alg) {
    case "aes128gcm16":
      return { kind: "aead", aead: be.createAead("aes-gcm", key(16), 16), salt: key(4) };
    case "aes256gcm16":
      return { kind: "aead", aead: be.createAead("aes-gcm", key(32), 16), salt: key(4) };
    case "chacha20poly1305":
      return { kind: "aead", aead: be.createAead("chacha20-poly1305", key(32), 16), salt: key(4) };
    case "aes128-sha256":
      return {
        kind: "cbc",
        cipher: be.createBlockCipher("aes-cbc", key(16)),
        integ: be.createMac("hmac-sha256", key(32)),
        icvLength: 16,
      };
    case "aes256-sha1":
      return {
        kind: "cbc",
        cipher: be.createBlockCipher("aes-cbc", key(32)),
        integ: be.createMac("hmac-sha1", key(20)),
        icvLength: 12,
      };
  }
}

function innerPacket(size: number): Uint8Array {
  const p = new Uint8Array(size);
  writeIpv4Header(p, 0, {
    tos: 0,
    totalLength: size,
    id: 1,
    df: true,
    ttl: 64,
    protocol: 17,
    src: Uint8Array.of(10, 0, 0, 1),
    dst: Uint8Array.of(10, 0, 0, 2),
  });
  return p;
}

/** Wall-clock and CPU ns per encapsulate+decapsulate: the best of REPEAT runs. */
function measure(
  alg: Alg,
  pref: CryptoBackendPreference,
  size: number,
): { wall: number; cpu: number } {
  const runs = Array.from({ length: REPEAT }, () => measureOnce(alg, pref, size));
  return { wall: Math.min(...runs.map((r) => r.wall)), cpu: Math.min(...runs.map((r) => r.cpu)) };
}

/** Wall-clock and CPU ns per encapsulate+decapsulate, one run. */
function measureOnce(
  alg: Alg,
  pref: CryptoBackendPreference,
  size: number,
): { wall: number; cpu: number } {
  const cfg = () => ({
    spi: 0x1000,
    mode: "tunnel" as const,
    transform: transform(alg, pref),
    tunnel: { src: Uint8Array.of(192, 0, 2, 1), dst: Uint8Array.of(192, 0, 2, 2) },
    replayWindowSize: 4096,
  });
  const tx = new EspSa(cfg());
  const rx = new EspSa(cfg());
  const inner = innerPacket(size);
  const out = new Uint8Array(tx.requiredOutLength(size));
  const rbuf = new Uint8Array(out.length);
  const once = () => {
    const n = tx.encapsulateInto(inner, out);
    rbuf.set(out.subarray(0, n));
    if (rx.decapsulateInPlace(rbuf, 0, n) < 0) throw new Error(`${alg}/${pref}: dropped`);
  };
  for (let i = 0; i < 2000; i++) once(); // let the JIT settle
  let iters = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < BUDGET_MS) {
    for (let i = 0; i < 100; i++) once();
    iters += 100;
    t = performance.now();
  }
  const c = process.cpuUsage(c0);
  return { wall: ((t - t0) * 1e6) / iters, cpu: ((c.user + c.system) * 1e3) / iters };
}

/** The lowest of REPEAT measurements, or null when one is not available. */
function best(f: () => number | null): number | null {
  let m = Infinity;
  for (let i = 0; i < REPEAT; i++) {
    const v = f();
    if (v === null) return null;
    m = Math.min(m, v);
  }
  return m;
}

/**
 * AES-CBC + HMAC per packet from two `openssl speed` figures: the cipher
 * over ESP's ciphertext (the packet, its 2-byte trailer and padding to 16
 * bytes) plus the HMAC over what ESP authenticates (SPI, sequence number,
 * IV and ciphertext).
 */
function cbcHmacNs(cipher: string, hash: string, size: number): number | null {
  const ct = Math.ceil((size + 2) / 16) * 16;
  const enc = best(() => opensslEvpNs(cipher, ct, false));
  const mac = best(() => opensslHmacNs(hash, 8 + 16 + ct));
  return enc === null || mac === null ? null : enc + mac;
}

const backends = (Deno.env.get("BENCH_BACKENDS") ?? "libcrypto,node,noble")
  .split(",").map((b) => b.trim()).filter((b) => b !== "") as CryptoBackendPreference[];
const records: BenchRow[] = [];
const rows: string[][] = [[
  "algorithm",
  "bytes",
  ...backends.map((b) => `${b} ns wall/cpu`),
  "openssl -evp ns",
  "-aead ns",
  "C seal ns",
  `${backends[0]}/-evp`,
  `${backends[0]}/-aead`,
  `${backends[0]}/C`,
]];
const ratio = (ns: number, ref: number | null) =>
  ref === null ? "n/a" : (ns / 2 / ref).toFixed(2) + "x";
for (const alg of ALGS) {
  const { name, openssl, aead } = alg;
  for (const size of SIZES) {
    const ns = backends.map((b) => measure(name, b, size));
    const ref = "hmac" in alg
      ? cbcHmacNs(openssl, alg.hmac, size)
      : best(() => opensslEvpNs(openssl, size, false));
    const refAead = aead ? best(() => opensslEvpNs(openssl, size, true)) : null;
    const refC = aead ? best(() => evpAeadSealNs(openssl, size, BUDGET_MS)) : null;
    backends.forEach((b, i) =>
      records.push({
        bench: "esp",
        case: `${name} ${size}B ${b}`,
        metric: "enc+dec",
        value: Math.round(ns[i].wall),
        unit: "ns/pkt",
        note: `cpu ${Math.round(ns[i].cpu)} ns/pkt, best of ${REPEAT}`,
      })
    );
    for (const [flag, v] of [["-evp", ref], ["-aead -evp", refAead]] as const) {
      if (flag !== "-evp" && !aead) continue;
      records.push({
        bench: "esp",
        case: `${name} ${size}B openssl speed ${flag} ${openssl}${
          "hmac" in alg ? ` + -hmac ${alg.hmac}` : ""
        }`,
        metric: "enc",
        value: v === null ? null : Math.round(v),
        unit: "ns/pkt",
        note: v === null ? "openssl not found or its output not understood" : undefined,
      });
    }
    if (aead) {
      records.push({
        bench: "esp",
        case: `${name} ${size}B C EVP seal (tests/bench/evp_aead_seal.c)`,
        metric: "enc",
        value: refC === null ? null : Math.round(refC),
        unit: "ns/pkt",
        note: refC === null ? "not built: needs gcc and libssl-dev" : undefined,
      });
    }
    rows.push([
      name,
      String(size),
      ...ns.map((v) => `${v.wall.toFixed(0)}/${v.cpu.toFixed(0)}`),
      ref === null ? "n/a" : ref.toFixed(0),
      refAead === null ? "n/a" : refAead.toFixed(0),
      refC === null ? "n/a" : refC.toFixed(0),
      ratio(ns[0].cpu, ref),
      ratio(ns[0].cpu, refAead),
      ratio(ns[0].cpu, refC),
    ]);
  }
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
for (const r of rows) console.log(r.map((c, i) => c.padStart(widths[i])).join("  "));
console.log(
  "\nns = one encapsulate + one decapsulate of a tunnel-mode IPv4 packet (one copy between),\n" +
    `wall clock / CPU time of this process, best of ${REPEAT} runs (references too);`,
);
console.log(
  "openssl = one `openssl speed -evp` / `openssl speed -aead -evp` encryption of the same size\n" +
    "(for CBC: -evp over ESP's ciphertext plus -hmac over SPI..ciphertext; AES-GCM there re-keys\n" +
    "per op, ChaCha20-Poly1305 does no per-op set-up at all: see the header of this file);\n" +
    "C seal = the per-packet AEAD seal ESP needs, in C through EVP (tests/bench/evp_aead_seal.c);\n" +
    "ratios = (enc+dec)/2 per direction over one reference op, CPU time on both sides.",
);
await recordRows(records);
