/**
 * Runs tshark (Wireshark's dissector, an independent IKEv2 implementation)
 * over IKE messages we encoded. Writes a classic pcap with IPv4/UDP 500
 * framing into a temp dir and returns `tshark -V -O isakmp` text per frame.
 * Optional IKE SA keys go into the ikev2_decryption_table UAT (format as
 * strongSwan's save-keys plugin writes it), so tshark decrypts SK payloads
 * and checks their ICV.
 */
import { rawIpPcap, udp4Datagram } from "../../helpers/pcap.ts";

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

/** A pcap (linktype 101, raw IP) with each message in IPv4/UDP 500->500. */
export function pcapOf(messages: Uint8Array[]): Uint8Array {
  return rawIpPcap(messages.map((m, i) => ({
    packet: udp4Datagram("192.0.2.1", 500, "192.0.2.2", 500, m, i),
    atMs: (i + 1) * 1000,
  })));
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
