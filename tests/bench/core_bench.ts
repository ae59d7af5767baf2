/**
 * The data plane's packet logic without I/O: ns per packet through
 * `DataplaneCore.outbound` (flow cache, SA, ESP-in-UDP AES-GCM-128 with
 * libcrypto, into a send slot) and outbound + inbound (decrypt, selector
 * check), at 64 and 1400 bytes; then ns per TCP segment of what a bulk TCP
 * transfer does with TUN offloads: a 64 KB super-packet read from the TUN
 * cut into 48 segments (checksums), each encrypted, then decrypted and
 * coalesced again for the TUN write (GRO, checksums verified). Next to it, what one system call costs on
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
import {
  GSO_TCPV4,
  TcpCoalescer,
  VNET_F_NEEDS_CSUM,
  VNET_HDR_LEN,
  writeVnetHeader,
} from "../../lib/dataplane/offload.ts";
import { reserveSimdMemory } from "../../lib/ip/sum16_simd.ts";
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
/** The TCP round trip: a 64 KB super-packet of SEGMENTS segments of MSS bytes. */
const SEGMENTS = 48;
const MSS = 1348;

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
rows.push({
  bench: "core",
  case: `TCP super-packet -> ESP -> GRO ${backend.name}`,
  metric: "time",
  value: Math.round(tcpRoundTrip()),
  unit: "ns/seg",
  note: `${SEGMENTS} x ${MSS} B per 64 KB frame, both sides`,
});
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

/**
 * ns per segment: a TUN offload frame (virtio_net_hdr + 64 KB TCP
 * super-packet) through `outboundFrame` into one send slot per segment,
 * each slot's ESP then through `inboundEspPayload` into a TcpCoalescer.
 */
function tcpRoundTrip(): number {
  const sendSlots = Array.from({ length: SEGMENTS }, () => new Uint8Array(2048));
  const lengths = new Int32Array(SEGMENTS);
  let k = 0;
  const tx = new DataplaneCore({
    reserveOut: () => sendSlots[k],
    commitOut: (_v4, n) => void (lengths[k++] = n),
    toTun: () => true,
    emit: () => {},
  }, { clampMssToMtu: 1400 });
  tx.setPolicies([policy(A_NET, B_NET)]);
  tx.installSa(spec("out"), buildProcessor(spec("out"), backend));
  // The Worker keeps TUN reads and the GRO arena in the SIMD checksum's memory: so here.
  const arenaAt = 70000;
  const mem = reserveSimdMemory(arenaAt + (1 << 19)) ?? new Uint8Array(arenaAt + (1 << 19));
  let written = 0;
  const gro = new TcpCoalescer(mem.subarray(arenaAt), () => void written++, () => {});
  const rx = new DataplaneCore({
    reserveOut: () => null,
    commitOut: () => {},
    toTun: (p) => (gro.push(p), true),
    emit: () => {},
  }, { clampMssToMtu: 1400 });
  rx.setPolicies([policy(B_NET, A_NET)]);
  rx.installSa(spec("in"), buildProcessor(spec("in"), backend));

  const total = 40 + SEGMENTS * MSS;
  const frame = mem.subarray(0, VNET_HDR_LEN + total);
  const pkt = frame.subarray(VNET_HDR_LEN);
  pkt.set([0x45, 0, total >> 8, total & 0xff, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0]);
  pkt.set([...ip("10.1.0.1"), ...ip("10.2.0.1")], 12);
  // Ports 40000 -> 5201, ACK, window 65535; the sequence number is set per frame.
  pkt.set([0x9c, 0x40, 0x14, 0x51, 0, 0, 0, 0, 0, 0, 0, 1, 0x50, 0x10, 0xff, 0xff], 20);
  for (let i = 40; i < pkt.length; i++) pkt[i] = i * 7;
  writeVnetHeader(frame, 0, {
    flags: VNET_F_NEEDS_CSUM,
    gsoType: GSO_TCPV4,
    hdrLen: 40,
    gsoSize: MSS,
    csumStart: 20,
    csumOffset: 16,
  });
  const pristine = frame.slice();
  let seq = 1;
  const once = () => {
    // Segmenting rewrites the frame in place (as a TUN read would deliver a fresh one).
    frame.set(pristine);
    pkt[24] = seq >>> 24;
    pkt[25] = (seq >>> 16) & 255;
    pkt[26] = (seq >>> 8) & 255;
    pkt[27] = seq & 255;
    seq = (seq + SEGMENTS * MSS) >>> 0;
    k = 0;
    tx.outboundFrame(frame);
    // ESP-in-UDP: the ESP starts after the outer IPv4 and UDP headers.
    for (let i = 0; i < k; i++) rx.inboundEspPayload(sendSlots[i], 28, lengths[i], 0x1001);
    gro.flush();
    gro.reset();
  };
  const ns = nsPerOp(once, BUDGET_MS, 500) / SEGMENTS;
  if (rx.packets.inbound !== tx.packets.outbound || written === 0) {
    throw new Error(`TCP round trip lost segments: ${JSON.stringify(rx.drops)}`);
  }
  if (gro.coalesced < rx.packets.inbound / 2) throw new Error("GRO did not coalesce the segments");
  return ns;
}
