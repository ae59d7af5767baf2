/**
 * `sha256_96`: HMAC-SHA2-256 ESP with the ICV truncated to 96 bits (the
 * draft before RFC 4868, as old Linux kernels send it), from the engine's
 * install to the wire. Python's hmac module (independent of us) checks the
 * 12-byte ICV of what we send and signs a packet we must accept; the engine
 * marks only HMAC-SHA2-256 SAs of such children, and the Wireshark key line
 * names the 96-bit variant.
 */
import assert from "node:assert/strict";
import { selectCryptoBackend } from "../../ffi/crypto_backend.ts";
import { saSpecFromInstall } from "../../lib/daemon/install_spec.ts";
import { buildProcessor } from "../../lib/dataplane/sa_spec.ts";
import { toHex } from "../../lib/wire/bytes.ts";
import { runPythonJson } from "../crypto/_python.ts";
import { pskConfigs, TwoPeers } from "../helpers/two_peers.ts";
import { udp4 } from "./_packets.ts";

const hex = (h: string) => Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16));

const PY = `
import hashlib, hmac, json, sys
req = json.load(sys.stdin)
key = bytes.fromhex(req["key"])
esp = bytes.fromhex(req["esp"])
ok = hmac.compare_digest(esp[-12:], hmac.new(key, esp[:-12], hashlib.sha256).digest()[:12])
# The same packet with sequence number 7, signed here.
again = bytearray(esp[:-12])
again[4:8] = (7).to_bytes(4, "big")
again += hmac.new(key, bytes(again), hashlib.sha256).digest()[:12]
print(json.dumps({"ok": ok, "resigned": bytes(again).hex()}))
`;

function engineUp(sha256Icv96: boolean, esp: string) {
  const cfg = pskConfigs({
    espProposals: esp,
    aliceChild: { sha256Icv96 },
    bobChild: { sha256Icv96 },
  });
  const t = new TwoPeers({ ...cfg, alice: { ...cfg.alice, exportKeys: true } });
  t.initiate("alice", "site");
  t.run(5000);
  return t;
}

Deno.test("sha256_96: the engine marks HMAC-SHA2-256 SAs only, the spec gets a 12-byte ICV", () => {
  const t = engineUp(true, "aes256-sha256");
  const sas = [...t.alice.sad.values()];
  assert.equal(sas.length, 2);
  for (const s of sas) {
    assert.equal(s.sha256Icv96, true);
    assert.equal(saSpecFromInstall(s).integrity?.icvLength, 12);
  }
  const lines = t.alice.effects.flatMap((e) =>
    e.kind === "exportKeys" && e.table === "esp_sa" ? [e.line] : []
  );
  assert.equal(lines.length, 2);
  for (const l of lines) assert.match(l, /"HMAC-SHA-256-96 \[draft-ietf-ipsec-ciph-sha-256-00\]"/);
  // Other integrity algorithms are not touched; without the option SHA-256 keeps 16 bytes.
  for (const s of engineUp(true, "aes256-sha384").alice.sad.values()) {
    assert.equal(s.sha256Icv96, undefined);
    assert.equal(saSpecFromInstall(s).integrity?.icvLength, 24);
  }
  for (const s of engineUp(false, "aes256-sha256").alice.sad.values()) {
    assert.equal(saSpecFromInstall(s).integrity?.icvLength, 16);
  }
});

Deno.test("sha256_96: Python's hmac verifies our 96-bit ICV and signs one we accept", async () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const spec = (direction: "in" | "out") => ({
    direction,
    protocol: "esp" as const,
    spi: 0x5151,
    mode: "tunnel" as const,
    local: Uint8Array.of(192, 0, 2, 1),
    remote: Uint8Array.of(192, 0, 2, 2),
    encryption: { alg: "aes-cbc" as const, key: new Uint8Array(16).fill(3) },
    integrity: { alg: "hmac-sha256" as const, key, icvLength: 12 },
  });
  const backend = selectCryptoBackend("auto");
  const tx = buildProcessor(spec("out"), backend);
  const rx = buildProcessor(spec("in"), backend);
  const inner = udp4("10.1.0.1", "10.2.0.1", new TextEncoder().encode("ninety-six bits"));
  const out = new Uint8Array(tx.requiredOutLength(inner.length));
  const n = tx.encapsulateInto(inner, out);
  assert.ok(n > 0);
  const esp = out.subarray(20, n); // behind the outer IPv4 header
  const r = await runPythonJson(PY, { key: toHex(key), esp: toHex(esp) }) as {
    ok: boolean;
    resigned: string;
  };
  assert.equal(r.ok, true, "the ICV is HMAC-SHA256 truncated to 12 bytes");
  const back = new Uint8Array(20 + r.resigned.length / 2);
  back.set(out.subarray(0, 20));
  back.set(hex(r.resigned), 20);
  // The outer header is the receiver's view: swap nothing, the SA takes ESP after it.
  const m = rx.decapsulateInPlace(back);
  assert.ok(m >= 0, `decapsulate: ${m}`);
  assert.deepEqual(back.subarray(rx.lastOffset, rx.lastOffset + m), inner);
});
