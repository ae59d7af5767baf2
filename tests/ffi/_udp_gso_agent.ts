/**
 * The two ends of tests/ffi/udp_gso_test.ts, run inside network namespaces
 * with only `--allow-ffi`. Prints "ready" when set up, then JSON lines.
 *
 * - `send 4|6 SRC DST PORT`: queues whole IP+UDP packets (from SRC:PORT to
 *   DST:PORT) in an MmsgBatch, as the data plane builds them, and flushes it
 *   through {@linkcode UdpGsoSender} with a UDP socket bound to PORT and an
 *   IPPROTO_RAW socket. The packets, in order: 5 x 1000-byte payloads with
 *   DF (one run that, sent whole, is over the 1500-byte MTU), 1 x 120 bytes
 *   (ends that run), 1 x 300 without DF (IPv4: raw socket), 3 x 200 with
 *   TOS/traffic class 0x20 (a second run). Payload byte k of packet i is
 *   (i * 7 + k) & 0xff. Prints { sent, stats }.
 * - `recv 4|6 PORT COUNT GRO(0|1)`: a UDP socket on PORT (UDP_GRO on if
 *   GRO=1) and, for IPv4, a raw UDP socket that sees each IPv4 header as the
 *   kernel delivered it (before any segmentation at the socket). Prints
 *   { datagrams: [{ len, ok, port, from }], groSizes, headers: [{ len, df, tos }] }
 *   once COUNT datagrams arrived; `ok` says the payload is the pattern above.
 *
 * @module
 */

import { PollSet } from "../../ffi/poll.ts";
import { MmsgBatch, openRawSocket, openUdpSocket, SOL_UDP, UDP_GRO } from "../../ffi/socket.ts";
import { UdpGsoSender } from "../../ffi/udp_gso.ts";
import { ipToBytes, parseIp } from "../../lib/db/address.ts";
import { fixTransportChecksum } from "../../lib/ip/checksum.ts";
import { writeIpv4Header } from "../../lib/ip/ipv4.ts";
import { writeIpv6Header } from "../../lib/ip/ipv6.ts";

function ip(s: string): Uint8Array {
  const a = parseIp(s);
  if (!a) throw new Error(`bad address ${s}`);
  return ipToBytes(a);
}

/** The packets `send` queues: payload length, DF (IPv4), TOS / traffic class. */
export const PLAN: readonly { len: number; df: boolean; tos: number }[] = [
  ...Array.from({ length: 5 }, () => ({ len: 1000, df: true, tos: 0 })),
  { len: 120, df: true, tos: 0 },
  { len: 300, df: false, tos: 0 },
  ...Array.from({ length: 3 }, () => ({ len: 200, df: true, tos: 0x20 })),
];

const [action, famText, ...rest] = Deno.args;
const fam = famText === "6" ? 6 : 4;

if (action === "send") {
  const [srcText, dstText, portText] = rest;
  const src = ip(srcText), dst = ip(dstText), port = Number(portText);
  const udp = openUdpSocket({ family: fam, port });
  const raw = openRawSocket({ family: fam, protocol: 255 });
  const batch = new MmsgBatch(16, 2048);
  const gso = new UdpGsoSender(udp.fd, fam, udp.port, batch.count);
  PLAN.forEach((p, i) => {
    const slot = batch.reserve()!;
    const hl = fam === 4 ? 20 : 40;
    if (fam === 4) {
      writeIpv4Header(slot, 0, {
        tos: p.tos,
        totalLength: hl + 8 + p.len,
        id: 0,
        df: p.df,
        ttl: 64,
        protocol: 17,
        src,
        dst,
      });
    } else {
      writeIpv6Header(slot, 0, {
        trafficClass: p.tos,
        flowLabel: 0,
        payloadLength: 8 + p.len,
        nextHeader: 17,
        hopLimit: 64,
        src,
        dst,
      });
    }
    slot[hl] = port >> 8;
    slot[hl + 1] = port & 0xff;
    slot[hl + 2] = port >> 8;
    slot[hl + 3] = port & 0xff;
    slot[hl + 4] = (8 + p.len) >> 8;
    slot[hl + 5] = (8 + p.len) & 0xff;
    slot[hl + 6] = 0; // IPv4: no checksum (RFC 768); IPv6: computed below
    slot[hl + 7] = 0;
    for (let k = 0; k < p.len; k++) slot[hl + 8 + k] = (i * 7 + k) & 0xff;
    if (fam === 6) fixTransportChecksum(slot.subarray(hl, hl + 8 + p.len), 17, src, dst);
    batch.commitToIpDestination(hl + 8 + p.len);
  });
  console.log("ready");
  const sent = gso.flush(batch, raw.fd);
  console.log(JSON.stringify({ sent, stats: gso.stats, pending: batch.pending }));
} else if (action === "recv") {
  const [portText, countText, groText] = rest;
  const count = Number(countText);
  const udp = openUdpSocket({ family: fam, port: Number(portText) });
  if (groText === "1") udp.setIntOption(SOL_UDP, UDP_GRO, 1, "UDP_GRO");
  const raw = fam === 4 ? openRawSocket({ family: 4, protocol: 17 }) : null;
  const batch = new MmsgBatch(8, 65536, 0, { control: 32 });
  const rawBuf = new Uint8Array(65536);
  const datagrams: { len: number; ok: boolean; port: number; from: number[] }[] = [];
  const groSizes: number[] = [];
  const headers: { len: number; df: boolean; tos: number }[] = [];
  const ps = new PollSet(raw ? [udp.fd, raw.fd] : [udp.fd]);
  console.log("ready");
  const deadline = Date.now() + 10_000;
  while (datagrams.length < count && Date.now() < deadline) {
    ps.wait(200);
    if (raw && ps.readable(1)) {
      for (let n = raw.recvFrom(rawBuf); n > 0; n = raw.recvFrom(rawBuf)) {
        const port = (rawBuf[22] << 8) | rawBuf[23];
        if (port !== udp.port) continue;
        headers.push({ len: n, df: (rawBuf[6] & 0x40) !== 0, tos: rawBuf[1] });
      }
    }
    if (!ps.readable(0)) continue;
    const n = batch.recv(udp.fd);
    for (let m = 0; m < n; m++) {
      const data = batch.data(m);
      const seg = batch.groSize(m);
      groSizes.push(seg);
      const step = seg > 0 ? seg : data.length;
      for (let off = 0; off < data.length; off += step) {
        const d = data.subarray(off, Math.min(data.length, off + step));
        const i = datagrams.length;
        const ok = d.length === PLAN[i]?.len && d.every((b, k) => b === ((i * 7 + k) & 0xff));
        datagrams.push({
          len: d.length,
          ok,
          port: batch.peerPort(m),
          from: [...batch.peerAddress(m)],
        });
      }
    }
  }
  // The raw socket may see the last headers after the UDP socket.
  if (raw) {
    ps.wait(100);
    for (let n = raw.recvFrom(rawBuf); n > 0; n = raw.recvFrom(rawBuf)) {
      const port = (rawBuf[22] << 8) | rawBuf[23];
      if (port === udp.port) headers.push({ len: n, df: (rawBuf[6] & 0x40) !== 0, tos: rawBuf[1] });
    }
  }
  console.log(JSON.stringify({ datagrams, groSizes, headers }));
} else {
  throw new Error(`unknown action ${action}`);
}
