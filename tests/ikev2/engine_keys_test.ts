/**
 * Key export checked by an independent implementation: Wireshark's tshark
 * decrypts the IKE_AUTH exchange of two in-memory engines with the exported
 * `ikev2_decryption_table` line (strongSwan save-keys format), which also
 * proves our SK protection and SK_e/SK_a derivation agree with Wireshark's.
 *
 * @module
 */
import assert from "node:assert/strict";
import { pskConfigs, TwoPeers } from "../helpers/two_peers.ts";
import { rawIpPcap, udp4Datagram } from "../helpers/pcap.ts";

/** A pcap (LINKTYPE_RAW, IPv4) of the datagrams, UDP checksums 0. */
function pcap(
  datagrams: {
    from: { address: string; port: number };
    to: { address: string; port: number };
    bytes: Uint8Array;
    at: number;
  }[],
): Uint8Array {
  return rawIpPcap(datagrams.map((d) => {
    // On port 4500 IKE goes behind the non-ESP marker (RFC 3948), which the transport adds.
    const natt = d.from.port === 4500 || d.to.port === 4500;
    const bytes = natt ? new Uint8Array([0, 0, 0, 0, ...d.bytes]) : d.bytes;
    const packet = udp4Datagram(d.from.address, d.from.port, d.to.address, d.to.port, bytes);
    return { packet, atMs: d.at };
  }));
}

async function tshark(file: string, uat?: string): Promise<string> {
  const args = ["-r", file, "-V", "-o", "isakmp.udp.port:500"];
  if (uat) args.push("-o", `uat:ikev2_decryption_table:${uat}`);
  const out = await new Deno.Command("tshark", { args, stdout: "piped", stderr: "piped" }).output();
  return new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
}

const CASES = [
  ["aes256-sha256-modp2048", "aes128-sha256"],
  ["aes128gcm16-prfsha256-x25519", "aes256gcm16"],
  ["aes128ctr-sha256-x25519", "aes256ctr-sha256"],
  // Wireshark decrypts IKEv2 with AES-CCM (RFC 5282) but has no ESP AES-CCM.
  ["aes256ccm16-prfsha256-x25519", "aes128gcm16"],
  ["aes128ccm8-prfsha384-x25519", "aes256gcm16"],
  // RFC 2451 3DES (8-byte blocks and IVs, 24-byte SK_e) with MODP 1024, as old Windows clients.
  ["3des-sha1-modp1024", "3des-sha256"],
] as const;

for (const [ike, esp] of CASES) {
  /*
   *   alice (exportKeys)                        bob
   *   IKE_SA_INIT ... / IKE_AUTH [ IDi ... ] -->  (captured to a pcap)
   *   tshark + exported ikev2_decryption_table line must show IDi alice@example.org;
   *   without the line it must not.
   */
  Deno.test({
    name: `engine: exported IKE keys let tshark decrypt IKE_AUTH (${ike})`,
    fn: async () => {
      const cfg = pskConfigs({ ikeProposals: ike, espProposals: esp });
      cfg.alice = { ...cfg.alice, exportKeys: true };
      const t = new TwoPeers(cfg);
      t.initiate("alice", "site");
      t.run(5000);
      const keys = t.alice.effects.filter((e) => e.kind === "exportKeys");
      const ikeLines = keys.filter((e) => e.table === "ikev2_decryption_table").map((e) => e.line);
      const espLines = keys.filter((e) => e.table === "esp_sa").map((e) => e.line);
      assert.equal(ikeLines.length, 1);
      assert.equal(espLines.length, 2);
      assert.match(
        espLines[0],
        /^"IPv4","192\.0\.2\.1","192\.0\.2\.2","0x[0-9a-f]{8}","(AES-|TripleDES-)/,
      );
      if (ike.startsWith("3des")) {
        assert.match(ikeLines[0], /^[0-9a-f]{16},[0-9a-f]{16},[0-9a-f]{48},[0-9a-f]{48},"3DES/);
        assert.match(espLines[0], /,"TripleDES-CBC \[RFC2451\]","0x[0-9a-f]{48}","HMAC-SHA-256/);
      }
      if (ike.includes("ctr")) {
        // Wireshark's names (packet-isakmp.c, packet-ipsec.c); keys include the 4-byte nonce.
        assert.match(ikeLines[0], /,"AES-CTR-128 \[RFC5930\]",/);
        assert.match(ikeLines[0], /,"HMAC_SHA2_256_128 \[RFC4868\]"$/);
        assert.match(ikeLines[0], /^[0-9a-f]{16},[0-9a-f]{16},[0-9a-f]{40},[0-9a-f]{40},/);
        assert.match(espLines[0], /,"AES-CTR \[RFC3686\]","0x[0-9a-f]{72}","HMAC-SHA-256-128/);
      }
      assert.equal(
        t.bob.effects.filter((e) => e.kind === "exportKeys").length,
        0,
        "off by default",
      );
      const file = await Deno.makeTempFile({ suffix: ".pcap" });
      try {
        await Deno.writeFile(file, pcap(t.net.sent.filter((s) => s.bytes.length > 1)));
        const plain = await tshark(file);
        assert.match(plain, /IKE_AUTH/);
        assert.doesNotMatch(plain, /alice@example\.org/);
        const dec = await tshark(file, ikeLines[0]);
        assert.match(dec, /alice@example\.org/, dec.slice(0, 4000));
        assert.match(dec, /bob\.example\.org/);
      } finally {
        await Deno.remove(file);
      }
    },
  });
}

/*
 *   alice (exportKeys)                        bob
 *   IKE_SA_INIT + IKE_AUTH with IKE and ESP AES-CCM
 *   -> one ikev2_decryption_table line naming AES-CCM (as strongSwan's save-keys does),
 *      no esp_sa lines (Wireshark's ESP dissector has no AES-CCM).
 */
Deno.test("engine: AES-CCM key export: the IKE line names AES-CCM, ESP gets no line", () => {
  const cfg = pskConfigs({
    ikeProposals: "aes192ccm12-prfsha256-x25519",
    espProposals: "aes128ccm16",
  });
  cfg.alice = { ...cfg.alice, exportKeys: true };
  const t = new TwoPeers(cfg);
  t.initiate("alice", "site");
  t.run(5000);
  assert.equal(t.alice.eventsOf("ike-up").length, 1, t.alice.logs.join("\n"));
  const keys = t.alice.effects.filter((e) => e.kind === "exportKeys");
  const ike = keys.filter((e) => e.table === "ikev2_decryption_table").map((e) => e.line);
  assert.equal(ike.length, 1);
  assert.match(
    ike[0],
    /^[0-9a-f]{16},[0-9a-f]{16},[0-9a-f]{54},[0-9a-f]{54},"AES-CCM-192 with 12 octet ICV \[RFC5282\]",,,"NONE \[RFC4306\]"$/,
  );
  assert.equal(keys.filter((e) => e.table === "esp_sa").length, 0);
});

/*
 *   alice (exportKeys)                        bob
 *   IKE_SA_INIT + IKE_AUTH with IKE AES-GCM and ESP AES-GMAC (RFC 4543)
 *   -> the IKE line as usual, no esp_sa lines: Wireshark's ESP dissector
 *      (packet-ipsec.c) has no GMAC, and "NULL" would take the IV for payload.
 */
Deno.test("engine: AES-GMAC ESP key export gives no esp_sa line", () => {
  const cfg = pskConfigs({
    ikeProposals: "aes128gcm16-prfsha256-x25519",
    espProposals: "aes256gmac",
  });
  cfg.alice = { ...cfg.alice, exportKeys: true };
  const t = new TwoPeers(cfg);
  t.initiate("alice", "site");
  t.run(5000);
  assert.equal(t.alice.eventsOf("ike-up").length, 1, t.alice.logs.join("\n"));
  assert.equal(t.alice.outbound()[0].encr?.id, 21);
  const keys = t.alice.effects.filter((e) => e.kind === "exportKeys");
  assert.equal(keys.filter((e) => e.table === "ikev2_decryption_table").length, 1);
  assert.equal(keys.filter((e) => e.table === "esp_sa").length, 0);
});
