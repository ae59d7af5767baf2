/**
 * Runs tshark (Wireshark's dissector, an independent IKEv2 implementation)
 * over IKE messages we encoded. Writes a classic pcap with IPv4/UDP 500
 * framing into a temp dir and returns `tshark -V -O isakmp` text per frame.
 * Optional IKE SA keys go into the ikev2_decryption_table UAT (format as
 * strongSwan's save-keys plugin writes it), so tshark decrypts SK payloads
 * and checks their ICV.
 */

/** One row of Wireshark's ikev2_decryption_table. */
export interface TsharkIkeKeys {
  spiI: string;
  spiR: string;
  skEi: string;
  skEr: string;
  /** Wireshark's name, e.g. "AES-CBC-256 [RFC3602]". */
  encr: string;
  skAi: string;
  skAr: string;
  /** Wireshark's name, e.g. "HMAC_SHA2_256_128 [RFC4868]" or "NONE [RFC4306]". */
  integ: string;
}

function u16(n: number): number[] {
  return [n >> 8, n & 0xff];
}
function u32le(n: number): number[] {
  return [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24];
}

function ipv4Checksum(h: number[]): number {
  let s = 0;
  for (let i = 0; i < h.length; i += 2) s += (h[i] << 8) | h[i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >> 16);
  return ~s & 0xffff;
}

/** A pcap (linktype 101, raw IP) with each message in IPv4/UDP 500->500. */
export function pcapOf(messages: Uint8Array[]): Uint8Array {
  const out: number[] = [
    ...u32le(0xa1b2c3d4),
    ...[2, 0, 4, 0],
    ...u32le(0),
    ...u32le(0),
    ...u32le(65535),
    ...u32le(101),
  ];
  messages.forEach((m, i) => {
    const udpLen = 8 + m.length;
    const ip = [0x45, 0, ...u16(20 + udpLen), 0, i, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2];
    const c = ipv4Checksum(ip);
    ip[10] = c >> 8;
    ip[11] = c & 0xff;
    const pkt = [...ip, ...u16(500), ...u16(500), ...u16(udpLen), 0, 0, ...m];
    out.push(...u32le(i + 1), ...u32le(0), ...u32le(pkt.length), ...u32le(pkt.length), ...pkt);
  });
  return Uint8Array.from(out);
}

/** Dissects `messages` with tshark; returns the verbose text of each frame. */
export async function tsharkDissect(
  messages: Uint8Array[],
  keys: TsharkIkeKeys[] = [],
): Promise<string[]> {
  const dir = await Deno.makeTempDir({ prefix: "ikev2-tshark-" });
  try {
    const file = `${dir}/m.pcap`;
    await Deno.writeFile(file, pcapOf(messages));
    const args = ["-n", "-r", file, "-V", "-O", "isakmp"];
    for (const k of keys) {
      args.push(
        "-o",
        `uat:ikev2_decryption_table:${k.spiI},${k.spiR},${k.skEi},${k.skEr},"${k.encr}",` +
          `${k.skAi},${k.skAr},"${k.integ}"`,
      );
    }
    const r = await new Deno.Command("tshark", {
      args,
      stdout: "piped",
      stderr: "piped",
      env: { HOME: dir },
    }).output();
    const text = new TextDecoder().decode(r.stdout);
    if (!r.success) throw new Error(`tshark failed: ${new TextDecoder().decode(r.stderr)}`);
    return text.split(/^Frame \d+:/m).slice(1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
