/**
 * SPD lookup speed with 100,000 entries (issue 4: "a lookup is at most a few
 * microseconds"). Run with `deno task bench spd` or
 * `deno run -A tests/bench/spd_bench.ts`. Prints a table; asserts nothing.
 *
 * Policy shape: per-site gateway policies (local /24 to remote /24, some
 * restricted to a protocol and port range), a few thousand host entries,
 * IKE/ICMP bypasses first and a final catch-all, as a large VPN concentrator
 * would have.
 *
 * @module
 */

import { parseProposals } from "../../lib/crypto/proposal.ts";
import type { PacketTuple, PortSelector, Selector } from "../../lib/db/selector.ts";
import { firstMatch, Spd, type SpdEntry } from "../../lib/db/spd.ts";

let seed = 12345;
function rnd(n: number): number {
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed % n;
}

const esp = {
  protocol: "esp" as const,
  mode: "tunnel" as const,
  proposals: parseProposals("aes256gcm16", "esp"),
};
const ANY_P: PortSelector = { kind: "any" };
const prefix = (base: number, len: number) => {
  const size = 2 ** (32 - len);
  const start = Math.floor(base / size) * size;
  return { kind: "range" as const, version: 4 as const, start, end: start + size - 1 };
};

function entries(n: number): SpdEntry[] {
  const out: SpdEntry[] = [];
  const sel = (s: Partial<Selector>): Selector => ({
    localAddress: { kind: "any" },
    remoteAddress: { kind: "any" },
    protocol: "any",
    localPort: ANY_P,
    remotePort: ANY_P,
    ...s,
  });
  out.push({
    selectors: [
      sel({ protocol: 17, localPort: { kind: "range", start: 500, end: 500 }, remotePort: ANY_P }),
    ],
    action: "bypass",
  });
  out.push({ selectors: [sel({ protocol: 1 })], action: "bypass" });
  const local = 0x0a000000; // 10.0.0.0/8 is ours
  while (out.length < n - 1) {
    const site = rnd(1 << 16);
    const remoteBase = (0xac100000 + site * 256) >>> 0; // 172.16.0.0/12 + /24 per site
    const localNet = prefix(local + rnd(1 << 16) * 256, 24);
    const k = rnd(10);
    const s = k < 6
      ? sel({ localAddress: localNet, remoteAddress: prefix(remoteBase, 24) })
      : k < 9
      ? sel({
        localAddress: localNet,
        remoteAddress: prefix(remoteBase, 24 + rnd(9)),
        protocol: 6,
        remotePort: { kind: "range", start: 1 + rnd(1000), end: 1000 + rnd(30000) },
      })
      : sel({
        localAddress: prefix(local + rnd(1 << 24), 32),
        remoteAddress: prefix(remoteBase, 28),
      });
    const action = rnd(20) === 0 ? "discard" : "protect";
    out.push(
      action === "protect" ? { selectors: [s], action, processing: esp } : {
        selectors: [s],
        action,
      },
    );
  }
  out.push({ selectors: [sel({})], action: "discard" });
  return out;
}

function packets(n: number): PacketTuple[] {
  const out: PacketTuple[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      version: 4,
      localAddress: (0x0a000000 + rnd(1 << 24)) >>> 0,
      remoteAddress: (0xac100000 + rnd(1 << 24)) >>> 0,
      protocol: rnd(4) === 0 ? 17 : 6,
      localPort: 1024 + rnd(60000),
      remotePort: rnd(3) === 0 ? 443 : rnd(65536),
    });
  }
  return out;
}

const N = Number(Deno.args[0] ?? 100_000);
const list = entries(N);
let t0 = performance.now();
const spd = new Spd(list, { cacheSize: 0 });
const compileMs = performance.now() - t0;
const cached = new Spd(list, { cacheSize: 65536 });
const pkts = packets(200_000);

// Sanity (not timed): the compiled answer equals the linear scan on a sample.
for (let i = 0; i < 200; i++) {
  const want = firstMatch(list, pkts[i], "outbound");
  const got = spd.lookupOutbound(pkts[i]).index;
  if (got !== want) throw new Error(`mismatch on packet ${i}: ${got} != ${want}`);
}

t0 = performance.now();
let sum = 0;
for (const p of pkts) sum += spd.lookupOutbound(p).index;
const lookupUs = ((performance.now() - t0) * 1000) / pkts.length;

const flows = pkts.slice(0, 5000);
for (const p of flows) cached.lookupOutbound(p);
t0 = performance.now();
for (let r = 0; r < 40; r++) for (const p of flows) sum += cached.lookupOutbound(p).index;
const cachedUs = ((performance.now() - t0) * 1000) / (flows.length * 40);

t0 = performance.now();
const linearN = 100;
for (let i = 0; i < linearN; i++) sum += firstMatch(list, pkts[i], "outbound");
const linearUs = ((performance.now() - t0) * 1000) / linearN;

console.table({
  entries: { value: N },
  "compile (ms)": { value: Math.round(compileMs) },
  "lookup, classifier (µs)": { value: +lookupUs.toFixed(3) },
  "lookup, flow cache hit (µs)": { value: +cachedUs.toFixed(3) },
  "lookup, linear scan (µs)": { value: +linearUs.toFixed(1) },
});
if (sum === 42) console.log(""); // keep the loops observable
