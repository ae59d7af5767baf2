/**
 * pcap files for tshark in tests: raw IP frames (LINKTYPE_RAW, 101) in the
 * classic libpcap format, and IPv4/UDP datagrams built around payloads.
 *
 * @module
 */

/** One frame: the IP packet and, optionally, its capture time in ms. */
export interface PcapFrame {
  readonly packet: Uint8Array;
  readonly atMs?: number;
}

/** A classic pcap (microsecond timestamps, snaplen 65535, LINKTYPE_RAW) of `frames`. */
export function rawIpPcap(frames: readonly PcapFrame[]): Uint8Array {
  const size = 24 + frames.reduce((n, f) => n + 16 + f.packet.length, 0);
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  v.setUint32(0, 0xa1b2c3d4, true);
  v.setUint16(4, 2, true);
  v.setUint16(6, 4, true);
  v.setUint32(16, 65535, true);
  v.setUint32(20, 101, true);
  let o = 24;
  for (const f of frames) {
    const at = f.atMs ?? 0;
    v.setUint32(o, Math.floor(at / 1000), true);
    v.setUint32(o + 4, Math.floor((at % 1000) * 1000), true);
    v.setUint32(o + 8, f.packet.length, true);
    v.setUint32(o + 12, f.packet.length, true);
    out.set(f.packet, o + 16);
    o += 16 + f.packet.length;
  }
  return out;
}

/**
 * An IPv4/UDP datagram (header checksum set, UDP checksum 0) carrying
 * `payload` from `src:srcPort` to `dst:dstPort`; `id` is the IPv4 ID.
 */
export function udp4Datagram(
  src: string,
  srcPort: number,
  dst: string,
  dstPort: number,
  payload: Uint8Array,
  id = 0,
): Uint8Array {
  const len = 28 + payload.length;
  const p = new Uint8Array(len);
  const v = new DataView(p.buffer);
  p[0] = 0x45;
  v.setUint16(2, len);
  v.setUint16(4, id);
  p[8] = 64;
  p[9] = 17;
  p.set(src.split(".").map(Number), 12);
  p.set(dst.split(".").map(Number), 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += v.getUint16(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  v.setUint16(10, ~sum & 0xffff);
  v.setUint16(20, srcPort);
  v.setUint16(22, dstPort);
  v.setUint16(24, 8 + payload.length);
  p.set(payload, 28);
  return p;
}
