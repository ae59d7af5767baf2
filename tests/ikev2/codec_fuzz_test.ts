/**
 * Mutation fuzzing of the IKEv2 codec: valid messages (scapy-built ones,
 * real strongSwan captures, every payload of _cases.ts, SK-protected
 * messages and SKF fragments) are
 * bit-flipped, truncated, extended and given lying length fields. Whatever
 * comes out, decodeMessage() may only throw ParseError, decryptMessage()
 * only ParseError or IntegrityError, and FragmentReassembler.add() never
 * throws. A seeded PRNG keeps every run identical, so a failure names the
 * iteration that reproduces it.
 */
import assert from "node:assert/strict";
import { equalBytes, fromHex } from "../../lib/wire/bytes.ts";
import { ParseError } from "../../lib/wire/parse_error.ts";
import {
  createSkProtection,
  decodeMessage,
  decryptMessage,
  encodeInnerPayloads,
  encodeMessage,
  encryptMessage,
  IntegrityError,
  sealProtected,
} from "../../lib/ikev2/message.ts";
import { fragmentMessage, FragmentReassembler } from "../../lib/ikev2/fragment.ts";
import { ExchangeType, PayloadType } from "../../lib/ikev2/constants.ts";
import { CASES } from "./payloads/_cases.ts";

/** xorshift32: deterministic, fast. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/** Offsets of generic payload headers when the chain is walked naively (for length lies). */
function payloadHeaderOffsets(b: Uint8Array): number[] {
  const out: number[] = [];
  let o = 28;
  for (let i = 0; i < 64 && o + 4 <= b.length; i++) {
    out.push(o);
    const len = (b[o + 2] << 8) | b[o + 3];
    if (len < 4) break;
    o += len;
  }
  return out;
}

function mutate(seed: Uint8Array, next: () => number): Uint8Array {
  let b = seed.slice();
  const ops = 1 + (next() % 3);
  for (let k = 0; k < ops; k++) {
    const op = next() % 7;
    if (b.length === 0) b = new Uint8Array(1);
    const at = next() % b.length;
    switch (op) {
      case 0: // bit flip
        b[at] ^= 1 << (next() % 8);
        break;
      case 1: // random byte
        b[at] = next() & 0xff;
        break;
      case 2: // truncate
        b = b.slice(0, at);
        break;
      case 3: { // append garbage
        const extra = Uint8Array.from({ length: 1 + (next() % 16) }, () => next() & 0xff);
        b = Uint8Array.from([...b, ...extra]);
        break;
      }
      case 4: { // a payload length lies (keep the IKE Length consistent half the time)
        const hs = payloadHeaderOffsets(b);
        if (hs.length === 0) break;
        const o = hs[next() % hs.length];
        const lie = [0, 1, 3, 4, 5, 0xffff, next() & 0xffff][next() % 7];
        b[o + 2] = lie >> 8;
        b[o + 3] = lie & 0xff;
        break;
      }
      case 5: { // a Next Payload lies (unknown, critical or not, or SK/SKF)
        const hs = payloadHeaderOffsets(b);
        const o = hs.length > 0 ? hs[next() % hs.length] : 16;
        b[o] = [0, 33, 41, 46, 53, 99, 200, next() & 0xff][next() % 8];
        if (next() % 2 && o > 16) b[o + 1] ^= 0x80;
        break;
      }
      case 6: // fix the IKE Length to the new size so the body parsers get exercised
        break;
    }
    if (b.length >= 28 && (op === 6 || next() % 2 === 0)) {
      new DataView(b.buffer, b.byteOffset).setUint32(24, b.length);
    }
  }
  return b;
}

function onlyParseError(f: () => unknown, what: string): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof ParseError)) {
      throw new Error(`${what}: ${(e as Error)?.name}: ${(e as Error)?.message}`);
    }
  }
}

const HDR = {
  spiI: 0x0102030405060708n,
  spiR: 0x1112131415161718n,
  exchangeType: ExchangeType.IKE_AUTH,
  initiator: true,
  response: false,
  messageId: 1,
};

const scapy = JSON.parse(
  await Deno.readTextFile(new URL("../vectors/ikev2/scapy_vectors.json", import.meta.url)),
) as { vectors: { hex: string }[] };

const swan = JSON.parse(
  await Deno.readTextFile(new URL("../vectors/ikev2/strongswan_capture.json", import.meta.url)),
) as { runs: { messages: { hex: string }[] }[] };

const PLAIN_SEEDS: Uint8Array[] = [
  ...scapy.vectors.map((v) => fromHex(v.hex)),
  ...swan.runs.flatMap((r) => r.messages.map((m) => fromHex(m.hex))),
  encodeMessage({ header: HDR, payloads: CASES.map((c) => c[3]) }),
  ...CASES.map((c) => encodeMessage({ header: HDR, payloads: [c[3]] })),
];

Deno.test("fuzz: 100,000 mutated messages make decodeMessage() throw only ParseError", () => {
  const next = rng(0x1ce2);
  let parsed = 0;
  for (let i = 0; i < 100_000; i++) {
    const m = mutate(PLAIN_SEEDS[next() % PLAIN_SEEDS.length], next);
    onlyParseError(() => {
      decodeMessage(m);
      parsed++;
    }, `iteration ${i}`);
  }
  // The mutations must not all be rejected at the header: some still parse.
  assert.ok(parsed > 1000, `only ${parsed} mutated messages parsed`);
});

Deno.test("fuzz: mutated SK messages: only ParseError/IntegrityError; no forgery decrypts", () => {
  const next = rng(0x5eed);
  const suites = [
    createSkProtection({
      encrId: 12,
      encrKey: new Uint8Array(32),
      integId: 12,
      integKey: new Uint8Array(32),
    }),
    createSkProtection({ encrId: 20, encrKey: new Uint8Array(36) }),
  ];
  const payloads = CASES.filter((c) => [35, 39, 33, 44, 45, 41].includes(c[1]))
    .map((c) => c[3])
    .filter((p, i, a) => a.findIndex((q) => q.type === p.type) === i);
  const sealed = suites.map((s) => encryptMessage({ header: HDR, payloads }, s));
  let opened = 0;
  for (let i = 0; i < 20_000; i++) {
    const k = next() % suites.length;
    const m = mutate(sealed[k], next);
    try {
      const d = decodeMessage(m);
      if (d.encrypted?.type === PayloadType.SK) {
        decryptMessage(d, suites[k]);
        if (!equalBytes(m, sealed[k])) opened++;
      }
    } catch (e) {
      if (!(e instanceof ParseError || e instanceof IntegrityError)) {
        throw new Error(`iteration ${i}: ${(e as Error)?.name}: ${(e as Error)?.message}`);
      }
    }
  }
  // Only an unchanged message may decrypt: every real change is caught.
  assert.equal(opened, 0);
});

Deno.test("fuzz: mutated SKF fragments never make FragmentReassembler.add() throw", () => {
  const next = rng(0xf4a6);
  const prot = createSkProtection({ encrId: 20, encrKey: new Uint8Array(36) });
  const frags = fragmentMessage(
    { header: HDR, payloads: CASES.map((c) => c[3]).filter((p) => p.type !== PayloadType.NONCE) },
    prot,
    256,
  );
  const r = new FragmentReassembler();
  for (let i = 0; i < 20_000; i++) {
    const orig = frags[next() % frags.length];
    const m = mutate(orig, next);
    if (equalBytes(m, orig)) continue; // a no-op mutation is a genuine fragment
    let d;
    try {
      d = decodeMessage(m);
    } catch (e) {
      if (e instanceof ParseError) continue;
      throw e;
    }
    const res = r.add(d, prot, i);
    assert.notEqual(res.status, "complete", `iteration ${i}: a forged fragment completed`);
  }
});

Deno.test("fuzz: authentic but mutated inner payloads make decryptMessage() throw only ParseError", () => {
  // The peer holds the keys and seals garbage: integrity passes, the inner
  // chain decoder and the rule table must still fail cleanly.
  const next = rng(0x1a2b);
  const prot = createSkProtection({ encrId: 20, encrKey: new Uint8Array(36) });
  const inner = encodeInnerPayloads(CASES.map((c) => c[3]));
  const framed = new Uint8Array(28 + inner.length); // mutate() works on whole messages
  framed.set(inner, 28);
  let accepted = 0;
  for (let i = 0; i < 10_000; i++) {
    const m = mutate(framed, next).subarray(28);
    const first = [33, 35, 39, 41, 44, 99, 200, next() & 0xff][next() % 8];
    const exchangeType = [99, ExchangeType.INFORMATIONAL, ExchangeType.IKE_AUTH][i % 3];
    const sealed = sealProtected({ ...HDR, exchangeType }, prot, m, first);
    onlyParseError(() => {
      decryptMessage(decodeMessage(sealed), prot);
      accepted++;
    }, `iteration ${i}`);
  }
  assert.ok(accepted > 0, "some mutated inner chains should still parse");
});
