/**
 * The data plane's packet logic without I/O: ns per packet through
 * `DataplaneCore.outbound` (flow cache, SA, ESP-in-UDP AES-GCM-128 with
 * libcrypto, into a send slot) and outbound + inbound (decrypt, selector
 * check), at 64 and 1400 bytes. Next to it, what one system call costs on
 * this machine (`getpid` through FFI): on a virtual machine it is often
 * more than the whole ESP work, which is why the Workers batch TUN reads
 * and writes (io_uring) and socket I/O (recvmmsg/sendmmsg).
 *
 * Run: `deno task bench core` (or `deno run -A tests/bench/core_bench.ts`).
 * Prints a table; asserts nothing.
 *
 * @module
 */
import { selectCryptoBackend } from "../../ffi/crypto_backend.ts";
import { libc } from "../../ffi/libc.ts";
import { ipToBytes, parseIp } from "../../lib/db/address.ts";
import { ANY_PORT, parseAddressSelector, type Selector } from "../../lib/db/selector.ts";
import type { SpdEntry } from "../../lib/db/spd.ts";
import { type CoreIo, DataplaneCore } from "../../lib/dataplane/core.ts";
import { buildProcessor, type SaSpec } from "../../lib/dataplane/sa_spec.ts";
import { type BenchRow, formatTable, recordRows } from "./_results.ts";
import { nsPerOp } from "./_timing.ts";
import { udp4 } from "../esp/_packets.ts";

const BUDGET_MS = Number(Deno.env.get("BENCH_MS") ?? 300);
/** Enough calls for the JIT to optimise the whole path. */
const WARMUP = 20000;
const backend = selectCryptoBackend("libcrypto");
const ip = (s: string) => ipToBytes(parseIp(s)!);

const sel = (l: string, r: string): Selector => ({
  localAddress: parseAddressSelector(l),
  remoteAddress: parseAddressSelector(r),
  protocol: "any",
  localPort: ANY_PORT,
  remotePort: ANY_PORT,
});
const A_NET = "10.1.0.0/24";
const B_NET = "10.2.0.0/24";

function spec(direction: "in" | "out"): SaSpec {
  const out = direction === "out";
  return {
    direction,
    protocol: "esp",
    spi: 0x1001,
    mode: "tunnel",
    local: ip(out ? "192.0.2.1" : "192.0.2.2"),
    remote: ip(out ? "192.0.2.2" : "192.0.2.1"),
    encryption: {
      alg: "aes-gcm",
      key: Uint8Array.from({ length: 16 }, (_, i) => i),
      salt: Uint8Array.of(1, 2, 3, 4),
      icvLength: 16,
    },
    selectors: [out ? sel(A_NET, B_NET) : sel(B_NET, A_NET)],
    encap: { localPort: 4500, remotePort: 4500 },
  };
}

const slot = new Uint8Array(4096);
let sentLength = 0;
const io: CoreIo = {
  reserveOut: () => slot,
  commitOut: (_v4, n) => void (sentLength = n),
  toTun: () => true,
  emit: () => {},
};
const policy = (local: string, remote: string): SpdEntry => ({
  label: "bench",
  selectors: [sel(local, remote)],
  action: "protect",
  processing: { protocol: "esp", mode: "tunnel", proposals: [] },
});
const a = new DataplaneCore(io, { clampMssToMtu: 1400 });
a.setPolicies([policy(A_NET, B_NET)]);
a.installSa(spec("out"), buildProcessor(spec("out"), backend));
const b = new DataplaneCore(io, { clampMssToMtu: 1400 });
b.setPolicies([policy(B_NET, A_NET)]);
b.installSa(spec("in"), buildProcessor(spec("in"), backend));
const received = new Uint8Array(4096);

const rows: BenchRow[] = [];
for (const size of [64, 1400]) {
  const p = udp4("10.1.0.1", "10.2.0.1", new Uint8Array(size - 28));
  const out = nsPerOp(() => a.outbound(p), BUDGET_MS, WARMUP);
  const both = nsPerOp(
    () => {
      a.outbound(p);
      received.set(slot.subarray(0, sentLength));
      b.inbound(received, 0, sentLength, "esp", 0x1001);
    },
    BUDGET_MS,
    WARMUP,
  );
  if (b.packets.inbound === 0) throw new Error("inbound dropped every packet");
  rows.push(
    {
      bench: "core",
      case: `outbound ${size}B ${backend.name}`,
      metric: "time",
      value: Math.round(out),
      unit: "ns/pkt",
    },
    {
      bench: "core",
      case: `outbound+inbound ${size}B ${backend.name}`,
      metric: "time",
      value: Math.round(both),
      unit: "ns/pkt",
    },
  );
}
const L = libc();
rows.push({
  bench: "core",
  case: "one system call (getpid via FFI)",
  metric: "time",
  value: Math.round(nsPerOp(() => L.getpid(), BUDGET_MS)),
  unit: "ns/op",
});
console.log(formatTable(rows));
await recordRows(rows);
