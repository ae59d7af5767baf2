/**
 * Run inside a fresh network namespace by tun_ring_test.ts: opens a TUN,
 * sends UDP datagrams through it, reads them back with TunRing.readBatch
 * (checking order), then writes replies with TunRing.queueWrite/flushWrites
 * (from views into shared buffers and from buffers of their own) and
 * receives them on a socket. Prints one JSON line with what it saw.
 *
 * @module
 */
import { openUdpSocket } from "../../ffi/socket.ts";
import { openTun, TunRing } from "../../ffi/tun.ts";
import { writeIpv4Header } from "../../lib/ip/ipv4.ts";

const COUNT = Number(Deno.args[0] ?? 200);
const tun = openTun({ name: "tring0", mtu: 1400, up: true });
const run = async (args: string[]) => {
  const r = await new Deno.Command("ip", { args }).output();
  if (!r.success) throw new Error(`ip ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
};
await run(["addr", "add", "10.77.0.1/24", "dev", "tring0"]);
await run(["link", "set", "lo", "up"]);
const ring = TunRing.open(tun.fd, 64, 2048);
if (ring === null) {
  console.log(JSON.stringify({ uring: false }));
  Deno.exit(0);
}
// Room for every reply at once (they arrive in bursts of 50).
const sock = openUdpSocket({
  family: 4,
  port: 7000,
  address: Uint8Array.of(10, 77, 0, 1),
  receiveBufferBytes: 4 << 20,
});
const peer = Uint8Array.of(10, 77, 0, 2);
// 1. Datagrams to 10.77.0.2 leave through the TUN: read them in batches.
for (let i = 0; i < COUNT; i++) {
  sock.sendTo(Uint8Array.of(i >> 8, i & 0xff), peer, 7001);
}
const seen: number[] = [];
let emptyBatches = 0;
for (let tries = 0; tries < 1000 && seen.length < COUNT; tries++) {
  const n = ring.readBatch(64);
  if (n === 0) {
    emptyBatches++;
    await new Promise((r) => setTimeout(r, 1));
  }
  for (let k = 0; k < n; k++) {
    const p = ring.packet(k);
    if (p[0] >> 4 === 4 && p[9] === 17 && p.length === 30) seen.push((p[28] << 8) | p[29]);
  }
}
// 2. Replies 10.77.0.2:7001 -> 10.77.0.1:7000 written through the ring, one flush per 50.
// Views into two shared buffers, alternating, and every seventh a buffer of
// its own: the ring caches the addresses of the buffers it writes from.
const shared = [new Uint8Array(32 * COUNT), new Uint8Array(32 * COUNT)];
const bufs: Uint8Array[] = [];
for (let i = 0; i < COUNT; i++) {
  const p = i % 7 === 6 ? new Uint8Array(30) : shared[i % 2].subarray(32 * i + 2, 32 * i + 32);
  writeIpv4Header(p, 0, {
    tos: 0,
    totalLength: 30,
    id: i + 1,
    df: true,
    ttl: 64,
    protocol: 17,
    src: Uint8Array.of(10, 77, 0, 2),
    dst: Uint8Array.of(10, 77, 0, 1),
  });
  p.set([0x1b, 0x59, 0x1b, 0x58, 0, 10, 0, 0, i >> 8, i & 0xff], 20);
  bufs.push(p);
}
let refused = 0;
for (let i = 0; i < COUNT; i++) {
  ring.queueWrite(bufs[i]);
  if (i % 50 === 49) refused += ring.flushWrites();
}
refused += ring.flushWrites();
const got: number[] = [];
const rbuf = new Uint8Array(64);
const deadline = Date.now() + 3000;
while (got.length < COUNT && Date.now() < deadline) {
  const n = sock.recvFrom(rbuf);
  if (n === 2) got.push((rbuf[0] << 8) | rbuf[1]);
  else if (n < 0) await new Promise((r) => setTimeout(r, 1));
}
ring.close();
tun.close();
sock.close();
console.log(JSON.stringify({ uring: true, seen, emptyBatches, refused, got }));
Deno.exit(0);
