import assert from "node:assert/strict";
import { selectCryptoBackend } from "../../ffi/crypto_backend.ts";
import { ipToBytes, parseIp } from "../../lib/db/address.ts";
import { ANY_PORT, parseAddressSelector, type Selector } from "../../lib/db/selector.ts";
import type { SpdEntry } from "../../lib/db/spd.ts";
import { parseIdentityPattern } from "../../lib/db/identity.ts";
import { ipv4ChecksumOk, ipv4SetChecksum, writeIpv4Header } from "../../lib/ip/ipv4.ts";
import { type CoreIo, DataplaneCore, type DataplaneEvent } from "../../lib/dataplane/core.ts";
import { buildProcessor, type SaSpec, SaSpecError } from "../../lib/dataplane/sa_spec.ts";
import { tunMtuFor } from "../../lib/dataplane/dataplane.ts";

const backend = selectCryptoBackend("noble");
const ip = (s: string) => ipToBytes(parseIp(s)!);

/** An IPv4 UDP packet src:1000 -> dst:2000 with `n` payload bytes (value = index). */
function udpPacket(src: string, dst: string, n = 32): Uint8Array {
  const p = new Uint8Array(28 + n);
  writeIpv4Header(p, 0, {
    tos: 0,
    totalLength: p.length,
    id: 7,
    df: true,
    ttl: 64,
    protocol: 17,
    src: ip(src),
    dst: ip(dst),
  });
  p.set([0x03, 0xe8, 0x07, 0xd0, 0, 8 + n, 0, 0], 20);
  for (let i = 0; i < n; i++) p[28 + i] = i;
  return p;
}

const sel = (local: string, remote: string): Selector => ({
  localAddress: parseAddressSelector(local),
  remoteAddress: parseAddressSelector(remote),
  protocol: "any",
  localPort: ANY_PORT,
  remotePort: ANY_PORT,
});

const protectAtoB: SpdEntry = {
  label: "a-b",
  selectors: [sel("10.1.0.0/24", "10.2.0.0/24")],
  action: "protect",
  processing: { protocol: "esp", mode: "tunnel", proposals: [] },
};

const KEY = Uint8Array.from({ length: 16 }, (_, i) => i);
const SALT = Uint8Array.of(1, 2, 3, 4);

function spec(direction: "in" | "out", over: Partial<SaSpec> = {}): SaSpec {
  const out = direction === "out";
  return {
    direction,
    protocol: "esp",
    spi: 0x1001,
    mode: "tunnel",
    local: ip(out ? "192.0.2.1" : "192.0.2.2"),
    remote: ip(out ? "192.0.2.2" : "192.0.2.1"),
    encryption: { alg: "aes-gcm", key: KEY, salt: SALT, icvLength: 16 },
    selectors: [out ? sel("10.1.0.0/24", "10.2.0.0/24") : sel("10.2.0.0/24", "10.1.0.0/24")],
    ...over,
  };
}

/** A fake I/O edge recording what the core sends, writes to the TUN and reports. */
class FakeIo implements CoreIo {
  sent: { packet: Uint8Array; dst: Uint8Array }[] = [];
  tun: Uint8Array[] = [];
  events: DataplaneEvent[] = [];
  #buf = new Uint8Array(4096);
  reserveOut(): Uint8Array {
    return this.#buf;
  }
  commitOut(v4: boolean, length: number): void {
    // The destination of the IP header the core built at the start of the slot.
    const dst = v4 ? this.#buf.slice(16, 20) : this.#buf.slice(24, 40);
    this.sent.push({ packet: this.#buf.slice(0, length), dst });
  }
  toTun(p: Uint8Array): boolean {
    this.tun.push(p.slice());
    return true;
  }
  emit(e: DataplaneEvent): void {
    this.events.push(e);
  }
}

function pair(opts: { now?: () => number; acquireQueue?: number } = {}) {
  const ioA = new FakeIo();
  const ioB = new FakeIo();
  const a = new DataplaneCore(ioA, { ...opts, acquireTimeoutMs: 1000 });
  const b = new DataplaneCore(ioB, opts);
  return { a, b, ioA, ioB };
}

const spiOf = (p: Uint8Array) => ((p[20] << 24) | (p[21] << 16) | (p[22] << 8) | p[23]) >>> 0;

Deno.test("DataplaneCore: with no SPD everything from the TUN is dropped (fail closed)", () => {
  const { a, ioA } = pair();
  a.outbound(udpPacket("10.1.0.5", "10.2.0.7"));
  assert.equal(ioA.sent.length, 0);
  assert.equal(a.drops["no-policy"], 1);
});

Deno.test("DataplaneCore: PROTECT without SA queues, emits one acquire, sends after installSa", () => {
  const { a, b, ioA, ioB } = pair();
  a.setPolicies([protectAtoB]);
  const pkts = [1, 2, 3].map((n) => udpPacket("10.1.0.5", "10.2.0.7", 16 + n));
  for (const p of pkts) a.outbound(p);
  assert.equal(ioA.sent.length, 0, "nothing may leave in clear or otherwise before the SA");
  assert.equal(a.queued, 3);
  assert.deepEqual(ioA.events, [{
    type: "acquire",
    policyIndex: 0,
    label: "a-b",
    src: "10.1.0.5",
    dst: "10.2.0.7",
    protocol: 17,
    srcPort: 1000,
    dstPort: 2000,
  }]);
  a.installSa(spec("out"), buildProcessor(spec("out"), backend));
  assert.equal(a.queued, 0);
  assert.equal(ioA.sent.length, 3);
  for (const s of ioA.sent) {
    assert.equal(s.packet[9], 50, "outer protocol is ESP");
    assert.equal(spiOf(s.packet), 0x1001);
    assert.deepEqual(s.dst, ip("192.0.2.2"));
  }
  // The peer decrypts them back to the original packets.
  b.installSa(spec("in"), buildProcessor(spec("in"), backend));
  for (const s of ioA.sent) b.inbound(s.packet, 0, s.packet.length, "esp", spiOf(s.packet));
  assert.deepEqual(ioB.tun, pkts);
  const st = b.stats().sas[0];
  assert.equal(st.packets, 3);
  assert.equal(st.sequence, 3);
});

Deno.test("DataplaneCore: the acquire queue is bounded and times out", () => {
  let now = 0;
  const { a } = pair({ now: () => now, acquireQueue: 2 });
  a.setPolicies([protectAtoB]);
  for (let i = 0; i < 3; i++) a.outbound(udpPacket("10.1.0.5", "10.2.0.7"));
  assert.equal(a.queued, 2);
  assert.equal(a.drops["acquire-queue-full"], 1);
  now = 999;
  a.tick();
  assert.equal(a.queued, 2);
  now = 1000;
  a.tick();
  assert.equal(a.queued, 0);
  assert.equal(a.drops["acquire-timeout"], 2);
});

Deno.test("DataplaneCore: BYPASS sends the packet unchanged, DISCARD drops it", () => {
  const { a, ioA } = pair();
  a.setPolicies([
    { selectors: [sel("10.1.0.0/24", "10.9.0.0/24")], action: "bypass" },
    { selectors: [sel("10.1.0.0/24", "10.8.0.0/24")], action: "discard" },
  ]);
  const p = udpPacket("10.1.0.5", "10.9.0.1");
  a.outbound(p);
  a.outbound(udpPacket("10.1.0.5", "10.8.0.1"));
  a.outbound(udpPacket("10.1.0.5", "10.7.0.1"));
  assert.deepEqual(ioA.sent.map((s) => s.packet), [p]);
  assert.equal(a.drops["policy-discard"], 1);
  assert.equal(a.drops["no-policy"], 1);
  assert.equal(a.stats().packets.bypass, 1);
});

// RFC 4301 audit: every discard is counted, and the first one per reason and
// second is reported with the packet's addresses (the daemon logs it).
Deno.test("DataplaneCore: discards are counted and reported once per reason and second", () => {
  let now = 10_000;
  const { a, ioA } = pair({ now: () => now });
  a.setPolicies([{ selectors: [sel("10.1.0.0/24", "10.8.0.0/24")], action: "discard" }]);
  for (let i = 0; i < 5; i++) a.outbound(udpPacket("10.1.0.5", "10.8.0.1"));
  a.outbound(udpPacket("10.1.0.5", "10.7.0.1"));
  const discards = () => ioA.events.filter((e) => e.type === "discard");
  assert.deepEqual(discards(), [
    {
      type: "discard",
      direction: "outbound",
      reason: "policy-discard",
      src: "10.1.0.5",
      dst: "10.8.0.1",
      protocol: 17,
      srcPort: 1000,
      dstPort: 2000,
      suppressed: 0,
    },
    {
      type: "discard",
      direction: "outbound",
      reason: "no-policy",
      src: "10.1.0.5",
      dst: "10.7.0.1",
      protocol: 17,
      srcPort: 1000,
      dstPort: 2000,
      suppressed: 0,
    },
  ]);
  assert.equal(a.drops["policy-discard"], 5);
  // A second later the next one is reported with the four not shown.
  now += 1000;
  a.outbound(udpPacket("10.1.0.5", "10.8.0.2"));
  const last = discards().at(-1)!;
  assert.equal(last.type === "discard" && last.suppressed, 4);
  assert.equal(last.type === "discard" && last.dst, "10.8.0.2");
});

Deno.test("DataplaneCore: inbound drops unknown SPI, replays and selector mismatches", () => {
  const { a, b, ioA, ioB } = pair();
  a.setPolicies([{
    ...protectAtoB,
    selectors: [sel("10.1.0.0/24", "10.0.0.0/8")],
  }]);
  // The outbound SA is wider than what the inbound SA at b accepts (10.2.0.0/24).
  const wide = spec("out", { selectors: [sel("10.1.0.0/24", "10.0.0.0/8")] });
  a.installSa(wide, buildProcessor(wide, backend));
  b.installSa(spec("in"), buildProcessor(spec("in"), backend));
  a.outbound(udpPacket("10.1.0.5", "10.2.0.7"));
  a.outbound(udpPacket("10.1.0.5", "10.3.0.7"));
  const [ok, outside] = ioA.sent.map((s) => s.packet);
  const replay = ok.slice();
  b.inbound(ok, 0, ok.length, "esp", 0x1001);
  b.inbound(replay, 0, replay.length, "esp", 0x1001);
  b.inbound(outside, 0, outside.length, "esp", 0x1001);
  b.inbound(ok, 0, ok.length, "esp", 0x9999);
  assert.equal(ioB.tun.length, 1);
  assert.equal(b.drops["unknown-spi"], 1);
  assert.equal(b.drops["decapsulation-failed"], 1);
  assert.equal(b.drops["sa-selector-mismatch"], 1);
  const sa = b.stats().sas[0];
  assert.deepEqual(sa.drops, { "replay-duplicate": 1, "sa-selector-mismatch": 1 });
});

Deno.test("DataplaneCore: an inbound SA removed or replaced under the same SPI is not used any more", () => {
  const { a, b, ioA, ioB } = pair();
  a.setPolicies([protectAtoB]);
  a.installSa(spec("out"), buildProcessor(spec("out"), backend));
  b.installSa(spec("in"), buildProcessor(spec("in"), backend));
  for (let i = 0; i < 3; i++) a.outbound(udpPacket("10.1.0.5", "10.2.0.7"));
  const [p1, p2, p3] = ioA.sent.map((s) => s.packet);
  b.inbound(p1, 0, p1.length, "esp", 0x1001);
  assert.equal(ioB.tun.length, 1);
  // Removed: the SPI is unknown at once, although it was the one found last.
  assert.equal(b.removeSa("in", "esp", 0x1001), true);
  b.inbound(p2, 0, p2.length, "esp", 0x1001);
  assert.equal(b.drops["unknown-spi"], 1);
  // Installed again with another key under the same SPI: the new SA decides (its tag fails).
  const other = spec("in", {
    encryption: { alg: "aes-gcm", key: KEY.map((x) => x ^ 0xff), salt: SALT, icvLength: 16 },
  });
  b.installSa(other, buildProcessor(other, backend));
  b.inbound(p3, 0, p3.length, "esp", 0x1001);
  assert.equal(b.drops["decapsulation-failed"], 1);
  assert.equal(ioB.tun.length, 1);
  // The payload path (ESP in UDP, no headers) takes the same SA.
  b.installSa(spec("in"), buildProcessor(spec("in"), backend));
  const esp = p3.subarray(20);
  assert.equal(b.inboundEspPayload(esp, 0, esp.length, 0x1001), true);
  assert.equal(ioB.tun.length, 2);
});

Deno.test("DataplaneCore: a hard packet limit removes the SA; later traffic waits for a new one", () => {
  const { a, ioA } = pair();
  a.setPolicies([protectAtoB]);
  const s = spec("out", { limits: { softPackets: 1, hardPackets: 2 }, reqid: 7 });
  a.installSa(s, buildProcessor(s, backend));
  for (let i = 0; i < 3; i++) a.outbound(udpPacket("10.1.0.5", "10.2.0.7"));
  assert.equal(ioA.sent.length, 2);
  assert.deepEqual(
    ioA.events.map((e) => e.type === "expire" ? [e.hard, e.reason, e.reqid] : e.type),
    [
      [false, "packets", 7],
      [true, "packets", 7],
      "acquire",
    ],
  );
  assert.equal(a.queued, 1);
  assert.equal(a.stats().sas.length, 0);
});

Deno.test("buildProcessor() names the field to fix", () => {
  assert.throws(
    () => buildProcessor(spec("out", { protocol: "ah", encryption: undefined }), backend),
    (e: Error) => e instanceof SaSpecError && /AH needs an integrity algorithm/.test(e.message),
  );
  assert.throws(
    () => buildProcessor(spec("out", { remote: new Uint8Array(16) }), backend),
    /must both be IPv4 or both IPv6/,
  );
  assert.throws(() => buildProcessor(spec("out", { pathMtu: 40 }), backend), /path MTU must be/);
});

Deno.test("buildProcessor(): outbound AEAD SAs pad to whole keystream blocks within pathMtu", () => {
  const chacha = {
    alg: "chacha20-poly1305" as const,
    key: new Uint8Array(32).fill(9),
    salt: SALT,
    icvLength: 16,
  };
  const inner = udpPacket("10.1.0.5", "10.2.0.7", 1372); // 1400 bytes
  const sizes: number[] = [];
  for (
    const s of [
      spec("out", { encryption: chacha, pathMtu: 1500 }),
      spec("out", { pathMtu: 1500 }), // AES-GCM: 16-byte blocks
      spec("out", { encryption: chacha }), // no path MTU: minimal
      spec("out", { encryption: chacha, pathMtu: 1459 }), // aligned (1460) would not fit
    ]
  ) {
    const p = buildProcessor(s, backend);
    const out = new Uint8Array(2048);
    sizes.push(p.encapsulateInto(inner, out, 0));
  }
  // 20 IPv4 + 8 ESP + 8 IV + encrypted part + 16 ICV; 1400 + 2 -> 1408 or 1404.
  assert.deepEqual(sizes, [1460, 1460, 1456, 1456]);
});

Deno.test("DataplaneCore: TCP SYNs through an SA get the MSS clamped to the TUN MTU", () => {
  const ioA = new FakeIo();
  const ioB = new FakeIo();
  const a = new DataplaneCore(ioA, { clampMssToMtu: 1400 });
  const b = new DataplaneCore(ioB, { clampMssToMtu: 1300 });
  a.setPolicies([protectAtoB]);
  a.installSa(spec("out"), buildProcessor(spec("out"), backend));
  b.installSa(spec("in"), buildProcessor(spec("in"), backend));
  // A SYN with MSS 1460 (options: MSS only), checksum left as is: only the MSS matters here.
  const syn = new Uint8Array(44);
  writeIpv4Header(syn, 0, {
    tos: 0,
    totalLength: 44,
    id: 1,
    df: true,
    ttl: 64,
    protocol: 6,
    src: ip("10.1.0.5"),
    dst: ip("10.2.0.7"),
  });
  syn.set([0x9c, 0x40, 0x01, 0xbb, 0, 0, 0, 1, 0, 0, 0, 0, 0x60, 0x02, 0xff, 0xff], 20);
  syn.set([2, 4, 0x05, 0xb4], 40);
  a.outbound(syn);
  const esp = ioA.sent[0].packet;
  b.inbound(esp, 0, esp.length, "esp", 0x1001);
  const got = ioB.tun[0];
  assert.equal((got[42] << 8) | got[43], 1300 - 40, "clamped on the way out (1360) and in (1260)");
});

Deno.test("tunMtuFor() leaves room for the worst-case ESP overhead", () => {
  assert.equal(tunMtuFor(1500, { outerIpv6: false, udpEncap: false, aead: true }), 1443);
  assert.equal(tunMtuFor(1500, { outerIpv6: true, udpEncap: true, aead: false }), 1379);
  // Check against the real overhead of an AES-GCM SA for a full-size inner packet.
  const sa = buildProcessor(spec("out"), backend);
  const inner = udpPacket("10.1.0.5", "10.2.0.7", 1443 - 28);
  const out = new Uint8Array(2048);
  assert.ok(sa.encapsulateInto(inner, out, 0) <= 1500);
});

Deno.test("DataplaneCore: updateSa moves an SA to a new peer address and to UDP 4500 (MOBIKE)", () => {
  const { a, ioA } = pair();
  a.setPolicies([protectAtoB]);
  a.installSa(spec("out"), buildProcessor(spec("out"), backend));
  a.outbound(udpPacket("10.1.0.5", "10.2.0.7"));
  assert.ok(
    a.updateSa("out", "esp", 0x1001, ip("192.0.2.1"), ip("192.0.2.9"), {
      localPort: 4500,
      remotePort: 4501,
    }),
  );
  assert.equal(
    a.updateSa("out", "esp", 0x7777, ip("192.0.2.1"), ip("192.0.2.9"), undefined),
    false,
  );
  a.outbound(udpPacket("10.1.0.5", "10.2.0.7"));
  const [before, after] = ioA.sent;
  assert.deepEqual(before.dst, ip("192.0.2.2"));
  assert.equal(before.packet[9], 50);
  assert.deepEqual(after.dst, ip("192.0.2.9"));
  assert.equal(after.packet[9], 17, "ESP in UDP");
  assert.equal((after.packet[20] << 8) | after.packet[21], 4500);
  assert.equal((after.packet[22] << 8) | after.packet[23], 4501);
  assert.equal(
    ((after.packet[28] << 24) | (after.packet[29] << 16) | (after.packet[30] << 8) |
      after.packet[31]) >>> 0,
    0x1001,
  );
  // The sequence number continues: the SA moved, it was not replaced.
  assert.equal(a.stats().sas[0].sequence, 2);
});

// TUN offloads: a TCP super-packet read from the TUN (virtio_net_hdr + 5000
// bytes, gso_size 1348) is cut into 4 segments, each encrypted on its own;
// the peer decrypts exactly the segments scapy builds for it
// (tests/vectors/dataplane/gso.py). Segments that wait for an SA are copies:
// cutting reuses the frame's bytes in place.
Deno.test("DataplaneCore: outboundFrame() cuts a TUN super-packet into ESP packets of scapy's segments", async () => {
  const v = (JSON.parse(
    await Deno.readTextFile(new URL("../vectors/dataplane/gso.json", import.meta.url)),
  ) as { cases: { name: string; frame: string; segments: string[] }[] }).cases[0];
  const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)));
  const ioA = new FakeIo();
  const ioB = new FakeIo();
  const a = new DataplaneCore(ioA, { clampMssToMtu: 1400 });
  const b = new DataplaneCore(ioB, { clampMssToMtu: 1400 });
  a.setPolicies([protectAtoB]);
  a.outboundFrame(hex(v.frame)); // before the SA: queued (copies)
  assert.equal(a.queued, 4);
  a.installSa(spec("out"), buildProcessor(spec("out"), backend));
  a.outboundFrame(hex(v.frame)); // with the SA: straight out
  assert.equal(ioA.sent.length, 8);
  assert.equal(a.packets.superPackets, 2);
  b.installSa(spec("in"), buildProcessor(spec("in"), backend));
  for (const s of ioA.sent) {
    assert.ok(s.packet.length <= 1400 + 20 + 8 + 8 + 2 + 3 + 16, `${s.packet.length} bytes`);
    b.inbound(s.packet, 0, s.packet.length, "esp", spiOf(s.packet));
  }
  assert.deepEqual(ioB.tun, [...v.segments, ...v.segments].map(hex));
  // A frame the segmenter cannot handle is counted, never sent.
  const bad = hex(v.frame);
  bad[1] = 3; // GSO_UDP (UFO), never enabled
  a.outboundFrame(bad);
  assert.equal(a.drops["offload-malformed"], 1);
  assert.equal(ioA.sent.length, 8);
});

/*
 * A gateway's named entry matches no packet itself; an SA's instance makes
 * it match that SA's selectors (one change per SA, no SPD rebuild).
 */
Deno.test("DataplaneCore: SPD instances of a named entry come and go one at a time", () => {
  const { a, ioA } = pair();
  const named: SpdEntry = {
    label: "rw",
    name: parseIdentityPattern("*@example.com"),
    selectors: [sel("10.1.0.0/24", "10.2.0.0/16")],
    action: "protect",
    processing: { protocol: "esp", mode: "tunnel", proposals: [] },
  };
  a.setPolicies([named]);
  a.outbound(udpPacket("10.1.0.5", "10.2.0.7"));
  assert.equal(a.drops["no-policy"], 1, "the named entry alone matches nothing");

  const out = spec("out", { selectors: [sel("10.1.0.0/24", "10.2.0.7")] });
  a.installSa(out, buildProcessor(out, backend));
  a.addPolicyInstance({ key: "esp:1001", index: 0, selectors: out.selectors! });
  a.outbound(udpPacket("10.1.0.5", "10.2.0.7"));
  assert.equal(ioA.sent.length, 1);
  assert.equal(spiOf(ioA.sent[0].packet), 0x1001);
  a.outbound(udpPacket("10.1.0.5", "10.2.0.8"));
  assert.equal(a.drops["no-policy"], 2, "another client's address has no instance");

  // Its SA gone first: the instance still matches, the packet waits and the
  // acquire says it is an instance's (the daemon lets the peer bring it back).
  a.removeSa("out", "esp", 0x1001);
  a.outbound(udpPacket("10.1.0.5", "10.2.0.7"));
  assert.equal(ioA.sent.length, 1);
  const acq = ioA.events.find((e) => e.type === "acquire");
  assert.ok(acq && acq.type === "acquire" && acq.instance === true && acq.policyIndex === 0);
  assert.equal(a.queued, 1);

  // The instance goes: its queued packet with it, new ones find no policy.
  assert.equal(a.removePolicyInstance("esp:1001"), true);
  assert.equal(a.removePolicyInstance("esp:1001"), false);
  assert.equal(a.queued, 0);
  a.outbound(udpPacket("10.1.0.5", "10.2.0.7"));
  assert.equal(a.drops["no-policy"], 3);

  // A new SPD comes with the instances it keeps.
  a.installSa(out, buildProcessor(out, backend));
  a.setPolicies([named], [{ key: "esp:1001", index: 0, selectors: out.selectors! }]);
  a.outbound(udpPacket("10.1.0.5", "10.2.0.7"));
  assert.equal(ioA.sent.length, 2);
  // An instance of an entry that is not PROTECT is refused; nothing changes.
  a.setPolicies([{ ...named, action: "discard", processing: undefined }]);
  assert.throws(() => a.addPolicyInstance({ key: "k", index: 0, selectors: out.selectors! }));
  assert.throws(() => a.addPolicyInstance({ key: "k", index: 5, selectors: out.selectors! }));
});

/*
 * A gateway with many clients: a flow's SA is the newest one whose selectors
 * match (as a scan of every SA would find), looked up by the client's
 * address; SAs that come and go re-decide only the flows they could carry.
 */
Deno.test("DataplaneCore: outbound SAs by client address keep the newest-match rule through installs and removals", () => {
  const { a, ioA } = pair();
  a.setPolicies([{
    label: "gw",
    selectors: [sel("10.1.0.0/24", "10.3.0.0/16")],
    action: "protect",
    processing: { protocol: "esp", mode: "tunnel", proposals: [] },
  }]);
  const install = (spi: number, remote: string) => {
    const s = spec("out", { spi, selectors: [sel("10.1.0.0/24", remote)] });
    a.installSa(s, buildProcessor(s, backend));
  };
  const spiTo = (dst: string) => {
    const before = ioA.sent.length;
    a.outbound(udpPacket("10.1.0.5", dst));
    assert.equal(ioA.sent.length, before + 1, `a packet to ${dst} left`);
    return spiOf(ioA.sent.at(-1)!.packet);
  };
  install(0x1fff, "10.3.0.0/16"); // a loose SA, older than the clients'
  for (let n = 1; n <= 50; n++) install(0x2000 + n, `10.3.0.${n}`);
  for (let n = 1; n <= 50; n++) assert.equal(spiTo(`10.3.0.${n}`), 0x2000 + n);
  assert.equal(spiTo("10.3.1.7"), 0x1fff);
  // Cached flows of other clients are not disturbed by one more client.
  install(0x2033, "10.3.0.51");
  assert.equal(spiTo("10.3.0.6"), 0x2006);
  assert.equal(spiTo("10.3.0.51"), 0x2033);
  // A newer loose SA is the newest match for everyone it covers, cached or not.
  install(0x1ffe, "10.3.0.0/16");
  assert.equal(spiTo("10.3.0.5"), 0x1ffe);
  assert.equal(spiTo("10.3.1.7"), 0x1ffe);
  a.removeSa("out", "esp", 0x1ffe);
  assert.equal(spiTo("10.3.0.5"), 0x2005);
  assert.equal(spiTo("10.3.1.7"), 0x1fff);
  // A client's SA goes: its flows fall back to the loose SA; a rekey replaces in place.
  a.removeSa("out", "esp", 0x2005);
  assert.equal(spiTo("10.3.0.5"), 0x1fff);
  install(0x2006, "10.3.0.6"); // the same SPI again: replaced, still carried
  assert.equal(spiTo("10.3.0.6"), 0x2006);
  install(0x3006, "10.3.0.6"); // a rekey: the new SA before the old one goes
  assert.equal(spiTo("10.3.0.6"), 0x3006);
  a.removeSa("out", "esp", 0x2006);
  assert.equal(spiTo("10.3.0.6"), 0x3006);
});

Deno.test("DataplaneCore: authenticated ESP-in-UDP from another NAT mapping of the peer is reported", () => {
  let t = 1000;
  const { a, b, ioA, ioB } = pair({ now: () => t });
  a.setPolicies([protectAtoB]);
  const enc = { encap: { localPort: 4500, remotePort: 4500 }, reqid: 9 };
  a.installSa(spec("out", enc), buildProcessor(spec("out", enc), backend));
  b.installSa(spec("in", enc), buildProcessor(spec("in", enc), backend));
  for (let i = 0; i < 5; i++) a.outbound(udpPacket("10.1.0.5", "10.2.0.7"));
  // IPv4 (20) + UDP (8) + ESP: the ESP bytes as a UDP socket hands them over.
  const esp = (k: number) => ioA.sent[k].packet.slice(28);
  const mappings = () => ioB.events.filter((e) => e.type === "mapping");
  const deliver = (p: Uint8Array) => b.inboundEspPayload(p, 0, p.length, 0x1001);
  // From the SA's peer endpoint: nothing to report.
  b.udpSource(ip("192.0.2.1"), 4, 4500);
  deliver(esp(0));
  assert.equal(ioB.tun.length, 1);
  assert.deepEqual(mappings(), []);
  // From another port: reported once, however many packets come (one per second at most).
  b.udpSource(ip("192.0.2.1"), 4, 31000);
  deliver(esp(1));
  deliver(esp(2));
  assert.equal(ioB.tun.length, 3);
  assert.deepEqual(mappings(), [{
    type: "mapping",
    spi: 0x1001,
    reqid: 9,
    remote: ip("192.0.2.1"),
    remotePort: 31000,
  }]);
  // A packet that does not authenticate reports nothing, wherever it comes from.
  t += 2000;
  const forged = esp(3);
  forged[forged.length - 1] ^= 1;
  b.udpSource(ip("198.51.100.9"), 4, 5555);
  deliver(forged);
  assert.equal(b.drops["decapsulation-failed"], 1);
  assert.equal(mappings().length, 1);
  // Not from a UDP socket: no source to compare.
  b.udpSource(ip("0.0.0.0"), 0, -1);
  deliver(esp(4));
  assert.equal(ioB.tun.length, 4);
  assert.equal(mappings().length, 1);
});

Deno.test("buildProcessor(): AES-CTR + HMAC SAs carry traffic core to core on every backend", () => {
  const ctr = { alg: "aes-ctr" as const, key: KEY, nonce: SALT };
  const integrity = { alg: "hmac-sha256" as const, key: new Uint8Array(32).fill(5), icvLength: 16 };
  for (const pref of ["libcrypto", "node", "noble"] as const) {
    const be = selectCryptoBackend(pref);
    const tx = buildProcessor(spec("out", { encryption: ctr, integrity }), be);
    const rx = buildProcessor(spec("in", { encryption: ctr, integrity }), be);
    const inner = udpPacket("10.1.0.5", "10.2.0.7", 33);
    const out = new Uint8Array(2048);
    const n = tx.encapsulateInto(inner, out, 0);
    // 20 IPv4 + 8 ESP + 8 IV + (61 + 2 -> 64, 4-byte alignment only) + 16 ICV.
    assert.equal(n, 20 + 8 + 8 + 64 + 16, pref);
    const m = rx.decapsulateInPlace(out, 0, n);
    assert.equal(m, inner.length, pref);
    assert.deepEqual(out.subarray(rx.lastOffset, rx.lastOffset + m), inner);
  }
  assert.throws(
    () => buildProcessor(spec("out", { encryption: ctr }), backend),
    /aes-ctr needs an integrity algorithm/,
  );
  assert.throws(
    () =>
      buildProcessor(
        spec("out", { encryption: { ...ctr, nonce: new Uint8Array(3) }, integrity }),
        backend,
      ),
    /AES-CTR nonce must be 4 bytes/,
  );
});

Deno.test("buildProcessor(): AES-GMAC SAs carry traffic core to core on every backend, in the clear", () => {
  const gmac = { alg: "aes-gmac" as const, key: KEY, salt: SALT };
  for (const pref of ["libcrypto", "node", "noble"] as const) {
    const be = selectCryptoBackend(pref);
    const tx = buildProcessor(spec("out", { encryption: gmac }), be);
    const rx = buildProcessor(spec("in", { encryption: gmac }), be);
    const inner = udpPacket("10.1.0.5", "10.2.0.7", 33);
    const out = new Uint8Array(2048);
    const n = tx.encapsulateInto(inner, out, 0);
    // 20 IPv4 + 8 ESP + 8 IV + (61 + 2 -> 64, 4-byte alignment) + 16 ICV; the inner packet as is.
    assert.equal(n, 20 + 8 + 8 + 64 + 16, pref);
    assert.deepEqual(out.subarray(36, 36 + inner.length), inner);
    const bad = out.slice(0, n);
    bad[40] ^= 1;
    assert.equal(rx.decapsulateInPlace(bad, 0, n) < 0, true, `${pref}: a changed byte passed`);
    const m = rx.decapsulateInPlace(out, 0, n);
    assert.equal(m, inner.length, pref);
    assert.deepEqual(out.subarray(rx.lastOffset, rx.lastOffset + m), inner);
  }
  const integrity = { alg: "hmac-sha256" as const, key: new Uint8Array(32).fill(5), icvLength: 16 };
  assert.throws(
    () => buildProcessor(spec("out", { encryption: gmac, integrity }), backend),
    /aes-gmac is an AEAD; drop the integrity algorithm/,
  );
});

Deno.test("DataplaneCore: tunnel mode carries the outer ECN mark inward (RFC 6040), transport does not need to", () => {
  const { a, b, ioA, ioB } = pair();
  a.setPolicies([protectAtoB]);
  a.installSa(spec("out"), buildProcessor(spec("out"), backend));
  b.installSa(spec("in"), buildProcessor(spec("in"), backend));
  const withTos = (tos: number) => {
    const p = udpPacket("10.1.0.5", "10.2.0.7");
    writeIpv4Header(p, 0, {
      tos,
      totalLength: p.length,
      id: 7,
      df: true,
      ttl: 64,
      protocol: 17,
      src: ip("10.1.0.5"),
      dst: ip("10.2.0.7"),
    });
    return p;
  };
  // Inner ECT(0) (AF11 DSCP): the outer header copies it (RFC 6040 normal mode).
  a.outbound(withTos((10 << 2) | 2));
  a.outbound(withTos(2));
  a.outbound(withTos(0)); // Not-ECT
  a.outbound(withTos(2));
  const [p0, p1, p2, p3] = ioA.sent.map((s) => s.packet);
  assert.equal(p0[1], (10 << 2) | 2, "outer TOS copied from the inner packet");
  // A router on the path marks congestion on the outer header (checksum left to the receiver).
  const markCe = (p: Uint8Array) => {
    p[1] |= 3;
    ipv4SetChecksum(p);
  };
  markCe(p0);
  b.inbound(p0, 0, p0.length, "esp", 0x1001);
  assert.equal(ioB.tun.length, 1);
  assert.equal(ioB.tun[0][1], (10 << 2) | 3, "inner CE, DSCP kept");
  // Unmarked: delivered as sent.
  b.inbound(p1, 0, p1.length, "esp", 0x1001);
  assert.equal(ioB.tun[1][1], 2);
  // CE outside, Not-ECT inside: dropped (the sender could not react to a mark).
  markCe(p2);
  b.inbound(p2, 0, p2.length, "esp", 0x1001);
  assert.equal(ioB.tun.length, 2);
  assert.equal(b.drops["ecn-ce-not-ect"], 1);
  // ESP in UDP without outer headers: the receiver passes the outer ECN along.
  b.outerEcn(3);
  b.inboundEspPayload(p3, 20, p3.length, 0x1001);
  b.outerEcn(0);
  assert.equal(ioB.tun.length, 3);
  assert.equal(ioB.tun[2][1], 3);
  // Every delivered IPv4 header still checks out.
  for (const t of ioB.tun) assert.ok(ipv4ChecksumOk(t.subarray(0, 20), 20));
});

Deno.test("DataplaneCore: copy_ecn off (SaSpec ecn: false) sends Not-ECT and carries no mark inward", () => {
  const { a, b, ioA, ioB } = pair();
  a.setPolicies([protectAtoB]);
  const off = { ecn: false };
  a.installSa(spec("out", off), buildProcessor(spec("out", off), backend));
  b.installSa(spec("in", off), buildProcessor(spec("in", off), backend));
  const p = udpPacket("10.1.0.5", "10.2.0.7");
  writeIpv4Header(p, 0, {
    tos: (10 << 2) | 2,
    totalLength: p.length,
    id: 7,
    df: true,
    ttl: 64,
    protocol: 17,
    src: ip("10.1.0.5"),
    dst: ip("10.2.0.7"),
  });
  a.outbound(p);
  a.outbound(p);
  const [o0, o1] = ioA.sent.map((s) => s.packet);
  assert.equal(o0[1], 10 << 2, "DSCP copied, ECN Not-ECT");
  // The receiving side carries nothing inward: no CE, and no drop either.
  b.outerEcn(3);
  b.inboundEspPayload(o0, 20, o0.length, 0x1001);
  b.inboundEspPayload(o1, 20, o1.length, 0x1001);
  b.outerEcn(0);
  assert.equal(ioB.tun.length, 2);
  assert.equal(ioB.tun[0][1], (10 << 2) | 2);
});
