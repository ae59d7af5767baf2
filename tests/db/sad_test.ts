import assert from "node:assert/strict";
import { Sad, SadError, type SaProcessor } from "../../lib/db/sad.ts";
import { AhSa } from "../../lib/esp/ah.ts";
import { EspSa } from "../../lib/esp/esp.ts";
import { ip4, ip6, makeAhInteg, makeTransform, udp4 } from "../esp/_packets.ts";

const ME = ip4("192.0.2.1");
const PEER = ip4("192.0.2.2");

function fakeProc(spi: number): SaProcessor & { exhausted: boolean } {
  return {
    spi,
    sequence: 0,
    exhausted: false,
    get sequenceExhausted() {
      return this.exhausted;
    },
    replay: { size: 1024, top: 0 },
  };
}

Deno.test("Sad looks up inbound SAs by SPI and protocol, outbound by destination too", () => {
  const sad = new Sad();
  const a = sad.add({
    spi: 0x1000,
    protocol: "esp",
    direction: "in",
    mode: "tunnel",
    src: PEER,
    dst: ME,
    processor: fakeProc(0x1000),
    now: 0,
  });
  const b = sad.add({
    spi: 0x1000,
    protocol: "ah",
    direction: "in",
    mode: "transport",
    src: PEER,
    dst: ME,
    processor: fakeProc(0x1000),
    now: 0,
  });
  const c = sad.add({
    spi: 0x1000,
    protocol: "esp",
    direction: "out",
    mode: "tunnel",
    src: ME,
    dst: PEER,
    processor: fakeProc(0x1000),
    now: 0,
  });
  assert.equal(sad.lookupInbound(0x1000), a);
  assert.equal(sad.lookupInbound(0x1000, "ah"), b);
  assert.equal(sad.lookupOutbound(PEER, "esp", 0x1000), c);
  assert.equal(sad.lookupOutbound(ME, "esp", 0x1000), undefined);
  assert.equal(sad.lookupInbound(0x1001), undefined);
  assert.equal(sad.size, 3);
  assert.throws(
    () =>
      sad.add({
        spi: 0x1000,
        protocol: "esp",
        direction: "in",
        mode: "tunnel",
        src: PEER,
        dst: ME,
        processor: fakeProc(0x1000),
        now: 0,
      }),
    SadError,
  );
  assert.throws(
    () =>
      sad.add({
        spi: 5,
        protocol: "esp",
        direction: "in",
        mode: "tunnel",
        src: PEER,
        dst: ME,
        processor: fakeProc(5),
        now: 0,
      }),
    SadError,
  );
  assert.ok(sad.remove(a));
  assert.equal(sad.lookupInbound(0x1000), undefined);
  assert.equal(sad.remove(a), false);
});

Deno.test("SadEntry lifetimes: soft once, hard once, by seconds, bytes and packets", () => {
  const sad = new Sad();
  const mk = (spi: number, soft: object, hard: object) =>
    sad.add({
      spi,
      protocol: "esp",
      direction: "in",
      mode: "tunnel",
      src: PEER,
      dst: ME,
      processor: fakeProc(spi),
      soft,
      hard,
      now: 1000,
    });
  const byTime = mk(0x2000, { seconds: 10 }, { seconds: 20 });
  const byBytes = mk(0x2001, { bytes: 1000 }, { bytes: 2000 });
  const byPackets = mk(0x2002, { packets: 3 }, { packets: 5 });
  // packets
  assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => byPackets.charge(1, 1000)), [
    "none",
    "none",
    "soft",
    "none",
    "hard",
    "none",
  ]);
  assert.ok(byPackets.hardExpired);
  // bytes
  assert.equal(byBytes.charge(999, 1000), "none");
  assert.equal(byBytes.charge(1, 1000), "soft");
  assert.equal(byBytes.charge(500, 1000), "none");
  assert.equal(byBytes.charge(500, 1000), "hard");
  // time via the SAD tick
  assert.equal(byTime.nextDeadline(), 11000);
  assert.deepEqual(sad.expire(10999).map((e) => e.event), []);
  const ev = sad.expire(11000);
  assert.deepEqual(ev.map((e) => [e.event, e.entry.spi]), [["soft", 0x2000]]);
  assert.equal(byTime.nextDeadline(), 21000);
  // hard-expired entries (bytes, packets) are removed at the next tick, time one at 21 s
  assert.equal(sad.lookupInbound(0x2001), undefined);
  assert.equal(sad.lookupInbound(0x2002), undefined);
  const ev2 = sad.expire(21000);
  assert.deepEqual(ev2.map((e) => [e.event, e.entry.spi]), [["hard", 0x2000]]);
  assert.equal(sad.size, 0);
});

Deno.test("SadEntry: sequence overflow is a hard expiry and exposes the ESP state", () => {
  const sad = new Sad<EspSa>();
  const sa = new EspSa({
    spi: 0x3000,
    mode: "tunnel",
    transform: makeTransform("aes128gcm16"),
    tunnel: { src: ME, dst: PEER },
    seqHardLimit: 2,
    seqSoftLimit: 1,
  });
  const e = sad.add({
    spi: 0x3000,
    protocol: "esp",
    direction: "out",
    mode: "tunnel",
    src: ME,
    dst: PEER,
    processor: sa,
    encryption: "aes128gcm16",
    now: 0,
  });
  const pkt = new Uint8Array(20);
  pkt[0] = 0x45;
  pkt[3] = 20;
  assert.ok(sa.encapsulatePacket(pkt).ok);
  assert.equal(e.charge(20, 1), "soft"); // the soft sequence threshold asks for a rekey
  assert.equal(e.charge(0, 1), "none");
  assert.ok(sa.encapsulatePacket(pkt).ok);
  assert.equal(e.sequence, 2);
  assert.ok(e.sequenceOverflow);
  assert.equal(e.charge(20, 2), "hard");
  assert.equal(e.processor.replay.size, 1024);
});

// The 1,000,000-entry size and lookup time are measured in tests/bench/sad_bench.ts.
Deno.test("Sad holds 200,000 inbound entries and finds each by SPI", () => {
  const sad = new Sad();
  const proc = fakeProc(0x1000);
  const N = 200_000;
  for (let i = 0; i < N; i++) {
    sad.add({
      spi: 0x10000 + i,
      protocol: "esp",
      direction: "in",
      mode: "tunnel",
      src: PEER,
      dst: ME,
      processor: proc,
      now: 0,
    });
  }
  assert.equal(sad.size, N);
  for (let i = 0; i < N; i += 997) assert.equal(sad.lookupInbound(0x10000 + i)?.spi, 0x10000 + i);
  assert.equal(sad.lookupInbound(0x10000 + N), undefined);
});

Deno.test("Sad.updateEndpoints moves an SA in place (MOBIKE): index, processor and counters follow", () => {
  const sad = new Sad<EspSa | AhSa>();
  const sa = new EspSa({
    spi: 0x4000,
    mode: "tunnel",
    transform: makeTransform("aes128gcm16"),
    tunnel: { src: ME, dst: PEER },
  });
  const e = sad.add({
    spi: 0x4000,
    protocol: "esp",
    direction: "out",
    mode: "tunnel",
    src: ME,
    dst: PEER,
    processor: sa,
    now: 0,
  });
  assert.ok(sa.encapsulatePacket(udp4("10.0.0.1", "10.0.0.2", new Uint8Array(10))).ok);
  e.charge(38, 0);
  const NEW_ME = ip6("2001:db8::1");
  const NEW_PEER = ip6("2001:db8::2");
  assert.ok(sad.updateEndpoints(e, NEW_ME, NEW_PEER, { srcPort: 4500, dstPort: 4500 }));
  assert.equal(sad.lookupOutbound(PEER, "esp", 0x4000), undefined);
  assert.equal(sad.lookupOutbound(NEW_PEER, "esp", 0x4000), e);
  assert.deepEqual(sa.tunnel, { src: NEW_ME, dst: NEW_PEER });
  assert.deepEqual(sa.udpEncap, { srcPort: 4500, dstPort: 4500 });
  assert.equal(e.packets, 1);
  const out = sa.encapsulatePacket(udp4("10.0.0.1", "10.0.0.2", new Uint8Array(10)));
  assert.ok(out.ok && out.seq === 2 && out.packet[0] >> 4 === 6);
  assert.throws(() => sad.updateEndpoints(e, ME, NEW_PEER), SadError);
  // AH through NAT is refused before anything changes.
  const ah = new AhSa({ spi: 0x4001, mode: "transport", ...makeAhInteg("hmac-sha1-96") });
  const ea = sad.add({
    spi: 0x4001,
    protocol: "ah",
    direction: "in",
    mode: "transport",
    src: PEER,
    dst: ME,
    processor: ah,
    now: 0,
  });
  assert.throws(
    () => sad.updateEndpoints(ea, PEER, ME, { srcPort: 4500, dstPort: 4500 }),
    /AH cannot be UDP-encapsulated/,
  );
  assert.equal(sad.lookupInbound(0x4001, "ah"), ea);
});

Deno.test("Sad.rows() gives the CLI a printable view with counters, lifetimes and state", () => {
  const sad = new Sad();
  const e = sad.add({
    spi: 0xc0ffee,
    protocol: "esp",
    direction: "in",
    mode: "tunnel",
    src: PEER,
    dst: ip4("192.0.2.1"),
    processor: fakeProc(0xc0ffee),
    encryption: "aes256gcm16",
    esn: true,
    udpEncap: { srcPort: 4500, dstPort: 4500 },
    soft: { seconds: 100 },
    hard: { seconds: 120 },
    reqid: 7,
    now: 5000,
  });
  e.charge(1400, 6000);
  e.charge(600, 7000);
  assert.deepEqual(sad.rows(35_000), [{
    spi: "00c0ffee",
    direction: "in",
    protocol: "esp",
    mode: "tunnel",
    src: "192.0.2.2",
    dst: "192.0.2.1",
    encap: "udp 4500->4500",
    encryption: "aes256gcm16",
    integrity: "",
    esn: true,
    sequence: 0,
    replayWindow: 1024,
    bytes: 2000,
    packets: 2,
    ageSeconds: 30,
    softInSeconds: 70,
    hardInSeconds: 90,
    state: "active",
    reqid: 7,
  }]);
  sad.expire(105_000);
  assert.equal(sad.rows(105_000)[0].state, "rekeying");
  assert.equal(sad.rows(105_000)[0].softInSeconds, null);
});
