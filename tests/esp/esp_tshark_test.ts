/**
 * ESP AES-CTR (RFC 3686) checked by Wireshark's ESP dissector (tshark), an
 * implementation independent of ours and of scapy: packets our EspSa builds
 * are decrypted with the key and nonce in the `esp_sa` format our key export
 * writes ("AES-CTR [RFC3686]", key || 4-byte nonce), their ICV is reported
 * correct, and the inner UDP payload comes out.
 *
 * @module
 */
import assert from "node:assert/strict";
import { EspSa } from "../../lib/esp/esp.ts";
import { toHex } from "../../lib/wire/bytes.ts";
import { ALG_SPECS, makeTransform, testKeys, udp4 } from "./_packets.ts";
import { ip4 } from "./_packets.ts";
import { rawIpPcap } from "../helpers/pcap.ts";

/** A pcap (LINKTYPE_RAW) of IP packets. */
function pcap(packets: Uint8Array[]): Uint8Array {
  return rawIpPcap(packets.map((packet, i) => ({ packet, atMs: i * 1000 })));
}

const WIRESHARK_INTEG = {
  sha1: "HMAC-SHA-1-96 [RFC2404]",
  sha256: "HMAC-SHA-256-128 [RFC4868]",
  sha512: "HMAC-SHA-512-256 [RFC4868]",
} as const;

Deno.test("tshark decrypts our AES-CTR ESP packets and finds their ICVs correct", async () => {
  const algs = ["aes128ctr-sha256", "aes192ctr-sha1", "aes256ctr-sha512"] as const;
  const packets: Uint8Array[] = [];
  const uat: string[] = [];
  algs.forEach((alg, i) => {
    const spi = 0x5000 + i;
    const sa = new EspSa({
      spi,
      mode: "tunnel",
      transform: makeTransform(alg, "libcrypto"),
      tunnel: { src: ip4("192.0.2.1"), dst: ip4("192.0.2.2") },
    });
    for (let n = 0; n < 3; n++) {
      const data = new TextEncoder().encode(`ctr-marker-${alg}-${n}`.repeat(1 + n));
      const o = sa.encapsulatePacket(udp4("10.1.0.1", "10.2.0.1", data));
      assert.ok(o.ok);
      packets.push(o.packet.slice());
    }
    const k = testKeys(alg);
    const integ = WIRESHARK_INTEG[ALG_SPECS[alg].hmac as keyof typeof WIRESHARK_INTEG];
    uat.push(
      "-o",
      `uat:esp_sa:"IPv4","192.0.2.1","192.0.2.2","0x${spi.toString(16).padStart(8, "0")}",` +
        `"AES-CTR [RFC3686]","0x${toHex(k.key)}${toHex(k.salt)}","${integ}","0x${
          toHex(k.integKey)
        }"`,
    );
  });
  const file = await Deno.makeTempFile({ suffix: ".pcap" });
  try {
    await Deno.writeFile(file, pcap(packets));
    const args = [
      "-r",
      file,
      "-V",
      "-o",
      "esp.enable_encryption_decode:TRUE",
      "-o",
      "esp.enable_authentication_check:TRUE",
      ...uat,
    ];
    const r = await new Deno.Command("tshark", { args, stdout: "piped", stderr: "piped" })
      .output();
    const text = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
    const frames = text.split(/^Frame \d+:/m).slice(1);
    assert.equal(frames.length, 9, text.slice(0, 3000));
    frames.forEach((f, i) => {
      const alg = algs[Math.floor(i / 3)];
      assert.match(f, /User Datagram Protocol, Src Port: 1234, Dst Port: 5678/, `${alg}\n${f}`);
      // tshark prints the UDP payload as "Data: <hex, cut after 36 bytes>".
      const marker = toHex(new TextEncoder().encode(`ctr-marker-${alg}-${i % 3}`));
      assert.match(f, new RegExp(`\n +Data: ${marker}`), `${alg}: payload not decrypted\n${f}`);
      assert.match(f, /ESP Encrypted Data: .* <AES-CTR \[RFC3686\]>/, alg);
      assert.match(f, /ESP ICV: [0-9a-f]+ \(\d+ bytes\) <[^>]+> \[correct\]/, `${alg}: ICV\n${f}`);
      assert.doesNotMatch(f, /\[incorrect|Malformed/i, alg);
    });
  } finally {
    await Deno.remove(file);
  }
});
