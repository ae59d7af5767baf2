/**
 * ESP- and IKE-relevant crypto primitives, ns per operation per backend
 * (libcrypto through FFI, node:crypto, noble), through the same keyed
 * objects the data plane uses (`Aead.seal/open`, `BlockCipher.encrypt`,
 * `Mac.compute`), next to `openssl speed -evp <cipher> -bytes <size>` on this
 * machine (no JS boundary) and, for the AEADs, `openssl speed -aead -evp`
 * (plus 13 bytes of AAD per op). OpenSSL 3.0's AES-GCM loops re-key per op
 * and its ChaCha20-Poly1305 loops do no per-op set-up: see esp_bench.ts. The
 * libcrypto in-place seal is shown for both per-packet call sequences of
 * ffi/libcrypto.ts ("params", the default, and "init"). Key exchange:
 * X25519 and ECP-256 shared secret vs `openssl speed ecdhx25519/ecdhp256`.
 *
 * Each case runs for BENCH_MS (default 300) ms after a warm-up, reporting
 * the fastest of 5 slices. Prints a table; asserts nothing. Run: `deno task bench crypto`.
 *
 * @module
 */
import { type CryptoBackend, selectCryptoBackend } from "../../ffi/crypto_backend.ts";
import { loadLibcrypto } from "../../ffi/libcrypto.ts";
import { createKeyExchange } from "../../lib/crypto/key_exchange.ts";
import { type BenchRow, formatTable, recordRows } from "./_results.ts";
import { nsPerOp, opensslEvpNs } from "./_timing.ts";

const BUDGET_MS = Number(Deno.env.get("BENCH_MS") ?? 300);
const SIZES = [64, 1400];
const BACKENDS = ["libcrypto", "node", "noble"] as const;

/** `openssl speed ecdhx25519|ecdhp256`: ns per shared-secret derivation. */
async function opensslEcdh(alg: string): Promise<number | null> {
  const r = await new Deno.Command("openssl", {
    args: ["speed", "-seconds", "1", "-mr", alg],
    stdout: "piped",
    stderr: "null",
  }).output().catch(() => null);
  if (!r?.success) return null;
  const m = /^\+F5:\d+:\d+:([\d.]+)/m.exec(new TextDecoder().decode(r.stdout));
  return m ? 1e9 / Number(m[1]) : null;
}

const rows: BenchRow[] = [];
const add = (c: string, metric: string, value: number | null, note?: string) =>
  rows.push({ bench: "crypto", case: c, metric, value, unit: "ns/op", ...(note ? { note } : {}) });

function backend(name: typeof BACKENDS[number]): CryptoBackend | null {
  const be = selectCryptoBackend(name);
  return be.name === name ? be : null; // libcrypto missing: it fell back
}

const key = (n: number) => new Uint8Array(n).fill(0x42);
const lc = loadLibcrypto();
const aad = new Uint8Array(8).fill(1);

function aeads(): void {
  const algs = [
    { name: "aes128gcm16", alg: "aes-gcm", keyLen: 16, openssl: "aes-128-gcm" },
    { name: "aes256gcm16", alg: "aes-gcm", keyLen: 32, openssl: "aes-256-gcm" },
    {
      name: "chacha20poly1305",
      alg: "chacha20-poly1305",
      keyLen: 32,
      openssl: "chacha20-poly1305",
    },
    { name: "aes128ccm16", alg: "aes-ccm", keyLen: 16, openssl: "aes-128-ccm" },
  ] as const;
  for (const a of algs) {
    for (const size of SIZES) {
      const c = `${a.name} ${size}B`;
      add(c, "openssl speed seal", opensslEvpNs(a.openssl, size, false), "openssl speed -evp");
      add(
        c,
        "openssl speed -aead seal",
        opensslEvpNs(a.openssl, size, true),
        "openssl speed -aead -evp",
      );
      for (const b of BACKENDS) {
        const be = backend(b);
        if (!be) {
          add(c, `${b} seal`, null, "backend not available");
          continue;
        }
        const aead = be.createAead(a.alg, key(a.keyLen), 16);
        // AES-CCM's IPsec nonce is 11 bytes (3-byte salt, RFC 4309), the others' 12.
        const nonce = new Uint8Array(aead.nonceLength).fill(7);
        const pt = new Uint8Array(size).fill(3);
        const sealed = aead.seal(nonce, pt, aad);
        add(c, `${b} seal`, nsPerOp(() => aead.seal(nonce, pt, aad), BUDGET_MS));
        add(c, `${b} open`, nsPerOp(() => aead.open(nonce, sealed, aad), BUDGET_MS));
        if (b === "libcrypto" && lc) {
          // What the ESP hot path calls (in place, no allocation), with both per-packet
          // call sequences ("params" is the default) and nonces counting up as ESP's do.
          // AES-CCM has only the "init" sequence.
          const sequences = a.alg === "aes-ccm" ? ["init"] as const : ["params", "init"] as const;
          for (const sequence of sequences) {
            const x = lc.createAead(a.alg, key(a.keyLen), 16, sequence);
            const buf = new Uint8Array(size + 64);
            const n = new Uint8Array(x.nonceLength).fill(7);
            const last = n.length - 1;
            let ctr = 0;
            add(
              c,
              `libcrypto seal in place (${sequence})`,
              nsPerOp(() => {
                ctr++;
                n[last - 3] = ctr >>> 24;
                n[last - 2] = (ctr >>> 16) & 0xff;
                n[last - 1] = (ctr >>> 8) & 0xff;
                n[last] = ctr & 0xff;
                x.sealInPlace(n, aad, buf, 32, 32 + size);
              }, BUDGET_MS),
              sequence === "params"
                ? "the ESP hot path (default sequence), counter nonce"
                : "init sequence, counter nonce",
            );
            x.sealInPlace(n, aad, buf, 32, 32 + size);
            const sealed = buf.slice();
            const work = new Uint8Array(buf.length);
            add(
              c,
              `libcrypto open in place (${sequence})`,
              nsPerOp(() => {
                work.set(sealed);
                if (!x.openInPlace(n, aad, work, 32, 32 + size + 16)) throw new Error("open");
              }, BUDGET_MS),
              `${sequence} sequence, includes one copy of the packet`,
            );
            x.free();
          }
        }
      }
    }
  }
}

function cbcHmac(): void {
  for (const size of SIZES) {
    const data = new Uint8Array(size).fill(3);
    const padded = new Uint8Array(Math.ceil(size / 16) * 16).fill(3); // ESP pads to the block
    const c = `aes256-cbc ${padded.length}B`;
    add(
      c,
      "openssl speed encrypt",
      opensslEvpNs("aes-256-cbc", padded.length, false),
      "openssl speed -evp",
    );
    for (const b of BACKENDS) {
      const be = backend(b);
      if (!be) continue;
      const cbc = be.createBlockCipher("aes-cbc", key(32));
      const iv = new Uint8Array(16);
      add(c, `${b} encrypt`, nsPerOp(() => cbc.encrypt(iv, padded), BUDGET_MS));
    }
    // AES-CTR (RFC 3686): no padding to the block; the "IV" is the counter block.
    const t = `aes128-ctr ${size}B`;
    add(t, "openssl speed encrypt", opensslEvpNs("aes-128-ctr", size, false), "openssl speed -evp");
    for (const b of BACKENDS) {
      const be = backend(b);
      if (!be) continue;
      const ctr = be.createBlockCipher("aes-ctr", key(16));
      const block = new Uint8Array(16);
      block[15] = 1;
      add(t, `${b} encrypt`, nsPerOp(() => ctr.encrypt(block, data), BUDGET_MS));
    }
    if (lc) {
      // What ESP calls: in place, the counter block at an offset, no allocation.
      const x = lc.createBlockCipher("aes-ctr", key(16));
      const block = new Uint8Array(16);
      block[15] = 1;
      const buf = data.slice();
      add(
        t,
        "libcrypto encrypt in place",
        nsPerOp(() => x.encryptRange(block, 0, buf, 0, size), BUDGET_MS),
        "the ESP hot path",
      );
      x.free();
    }
    for (const [mac, keyLen] of [["hmac-sha256", 32], ["hmac-sha1", 20]] as const) {
      const h = `${mac} ${size}B`;
      for (const b of BACKENDS) {
        const be = backend(b);
        if (!be) continue;
        const m = be.createMac(mac, key(keyLen));
        add(h, `${b} compute`, nsPerOp(() => m.compute(data), BUDGET_MS));
      }
    }
  }
}

async function keyExchange(): Promise<void> {
  for (
    const [group, name, openssl] of [[31, "x25519", "ecdhx25519"], [
      19,
      "ecp256",
      "ecdhp256",
    ]] as const
  ) {
    const c = `${name} shared secret`;
    add(c, "openssl speed", await opensslEcdh(openssl), `openssl speed ${openssl}`);
    const peer = createKeyExchange(group).publicKey;
    const ke = createKeyExchange(group);
    add(
      c,
      "deno-ipsec",
      nsPerOp(() => ke.computeSharedSecret(peer), BUDGET_MS),
      "lib/crypto/key_exchange.ts",
    );
    add(
      `${name} keygen+secret`,
      "deno-ipsec",
      nsPerOp(() => createKeyExchange(group).computeSharedSecret(peer), BUDGET_MS),
    );
  }
}

if (import.meta.main) {
  const t0 = Date.now();
  aeads();
  cbcHmac();
  await keyExchange();
  console.log(formatTable(rows));
  console.log(`crypto: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  await recordRows(rows);
}
