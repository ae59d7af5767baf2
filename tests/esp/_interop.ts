/**
 * Runs ESP/AH cases both ways against scapy (tests/helpers/scapy_ipsec.py)
 * in one python process: packets we build are verified and decrypted by
 * scapy, and packets scapy builds are accepted by us.
 */
import assert from "node:assert/strict";
import type { EspInboundResult, EspOutboundResult } from "../../lib/esp/esp.ts";
import { fromHex, toHex } from "../../lib/wire/bytes.ts";
import { runScapy, type ScapyCase } from "../helpers/scapy.ts";

/** What ESP and AH SAs share for these tests. */
export interface TestSa {
  encapsulatePacket(packet: Uint8Array): EspOutboundResult;
  decapsulatePacket(packet: Uint8Array): EspInboundResult;
  restoreSequence(lastSent: number | bigint): void;
  readonly sequenceBig: bigint;
  readonly lastSeqHi: number;
  readonly lastSeqLo: number;
  readonly replay: { accept(hi: number, lo: number): boolean };
}

/** One interop case. */
export interface InteropCase {
  what: string;
  mode: "tunnel" | "transport";
  /** The IP packet handed to both encrypters. */
  inner: Uint8Array;
  /** Builds a fresh SA (sender or receiver). */
  sa: () => TestSa;
  /** scapy SecurityAssociation parameters (without op/packet/seq). */
  scapy: Omit<ScapyCase, "op" | "packet" | "seq">;
  /** ESN: the high half both sides start in. */
  esnHigh?: number;
  /** What routers do to the packet in flight (AH must survive it). */
  onWire?: (p: Uint8Array) => Uint8Array;
  /** scapy keeps TFC padding after the inner packet: compare only this prefix. */
  comparePrefix?: boolean;
}

const SEQ = 7;

/** Runs every case both ways and asserts the results; returns the number of checks. */
export async function runInterop(list: InteropCase[]): Promise<number> {
  const cases: ScapyCase[] = [];
  for (const c of list) {
    const tx = c.sa();
    const hi = c.esnHigh ?? 0;
    // Exact 64-bit (a bigint: hi * 2^32 + 6 is not a safe number from 2^53 on).
    tx.restoreSequence((BigInt(hi) << 32n) + BigInt(SEQ - 1));
    assert.equal(tx.sequenceBig, (BigInt(hi) << 32n) + BigInt(SEQ - 1));
    const out = tx.encapsulatePacket(c.inner);
    assert.ok(out.ok, `${c.what}: we failed to encapsulate: ${!out.ok && out.error}`);
    const wire = c.onWire ? c.onWire(out.packet.slice()) : out.packet;
    cases.push({ ...c.scapy, op: "decrypt", packet: toHex(wire) });
    cases.push({ ...c.scapy, op: "encrypt", seq: SEQ, packet: toHex(c.inner) });
  }
  const results = await runScapy(cases);
  assert.equal(results.length, cases.length);
  let checked = 0;
  list.forEach((c, i) => {
    // In transport mode the routers' changes stay in the delivered header.
    const expected = c.mode === "transport" && c.onWire ? c.onWire(c.inner.slice()) : c.inner;
    const ours = results[2 * i];
    assert.ok(ours.ok, `${c.what}: scapy rejected our packet: ${!ours.ok && ours.error}`);
    if (ours.ok) {
      const got = c.comparePrefix ? ours.packet.slice(0, expected.length * 2) : ours.packet;
      assert.equal(got, toHex(expected), `${c.what}: scapy decrypted something else`);
      if (c.comparePrefix) assert.match(ours.packet.slice(expected.length * 2), /^(00)*$/);
    }
    const theirs = results[2 * i + 1];
    assert.ok(theirs.ok, `${c.what}: scapy failed to encrypt: ${!theirs.ok && theirs.error}`);
    if (theirs.ok) {
      const rx = c.sa();
      // The receiver already is in the ESN subspace of the sender.
      if (c.esnHigh) assert.ok(rx.replay.accept(c.esnHigh, 1));
      let wire = fromHex(theirs.packet);
      if (c.onWire) wire = c.onWire(wire);
      const got = rx.decapsulatePacket(wire);
      assert.ok(got.ok, `${c.what}: we dropped scapy's packet: ${!got.ok && got.drop}`);
      if (got.ok) assert.equal(toHex(got.packet), toHex(expected), `${c.what}: wrong result`);
      if (got.ok) {
        assert.equal(rx.lastSeqHi, c.esnHigh ?? 0, c.what);
        assert.equal(rx.lastSeqLo, SEQ, c.what);
      }
    }
    checked++;
  });
  return checked;
}
