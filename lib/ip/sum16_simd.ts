/**
 * The one's-complement sum (RFC 1071) of a byte range with WebAssembly
 * SIMD: about three times faster than the scalar JavaScript loop on a
 * 1400-byte segment (copy included), which matters where the data plane
 * completes or checks a TCP checksum per segment (lib/dataplane/offload.ts).
 *
 * The module (lib/ip/sum16_simd.wat, 283 bytes, embedded in
 * lib/ip/_sum16_wasm.ts) works on its own memory, so a range elsewhere is
 * copied into it first. A buffer the data plane sums often (the TUN read
 * slots, the GRO arena) can live in that memory instead
 * ({@linkcode reserveSimdMemory}): ranges of it are summed where they are,
 * which halves the cost on a 1400-byte segment. Where WebAssembly or its
 * SIMD extension is missing, the functions here say so
 * (`simdSum16Available()` is false) and callers keep their scalar loop.
 *
 * @module
 */
import { SUM16_WASM_BASE64 } from "./_sum16_wasm.ts";

/** The largest range one call sums (an IP packet). */
export const SIMD_SUM16_MAX = 65535;

interface Sum16Module {
  sum: (ptr: number, len: number) => number;
  memory: WebAssembly.Memory;
  mem: Uint8Array;
  /**
   * `memory.buffer`, kept: that getter is a call into the runtime, too dear
   * once per segment (the memory only changes in reserveSimdMemory).
   */
  buffer: ArrayBufferLike;
}

/** Bytes at the start of the module's memory where ranges from elsewhere are copied. */
const COPY_AREA = SIMD_SUM16_MAX + 1 + 16;
/** Whether {@linkcode reserveSimdMemory} has run (it may run once: growing detaches views). */
let reserved = false;

function instantiate(): Sum16Module | null {
  try {
    const bytes = Uint8Array.from(atob(SUM16_WASM_BASE64), (c) => c.charCodeAt(0));
    const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
    const memory = inst.exports.memory as WebAssembly.Memory;
    return {
      sum: inst.exports.sum as (ptr: number, len: number) => number,
      memory,
      mem: new Uint8Array(memory.buffer),
      buffer: memory.buffer,
    };
  } catch {
    // No WebAssembly, or no SIMD (the module does not validate).
    return null;
  }
}

const mod = instantiate();

/** Whether {@linkcode simdSum16} can run here. */
export function simdSum16Available(): boolean {
  return mod !== null;
}

/**
 * One's-complement sum of `b[start..end)` as big-endian 16-bit words from
 * `start` (an odd last byte padded with zero), folded to 16 bits; 0 and
 * 0xFFFF are the same value and either may come back for a range whose sum
 * is zero. Not complemented. Throws when SIMD is unavailable
 * ({@linkcode simdSum16Available}) or the range is longer than
 * {@linkcode SIMD_SUM16_MAX}.
 *
 * @example
 * ```ts
 * const ok = simdSum16(segment, 0, segment.length) === 0xffff; // with the pseudo header added
 * ```
 */
export function simdSum16(b: Uint8Array, start: number, end: number): number {
  if (mod === null) throw new Error("WebAssembly SIMD is not available in this runtime");
  const len = end - start;
  if (len > SIMD_SUM16_MAX || len < 0) {
    throw new RangeError(`simdSum16: range of ${len} bytes (at most ${SIMD_SUM16_MAX})`);
  }
  let s: number;
  if (b.buffer === mod.buffer) {
    // In the module's memory already (reserveSimdMemory): no copy.
    s = mod.sum(b.byteOffset + start, len);
  } else {
    mod.mem.set(b.subarray(start, end), 0);
    s = mod.sum(0, len);
  }
  return ((s & 0xff) << 8) | (s >> 8);
}

/**
 * `bytes` of zeroed memory that {@linkcode simdSum16} reads in place, or
 * null where WebAssembly SIMD is missing (allocate an ordinary buffer
 * then). Once per thread: the module's memory grows to hold it, and growing
 * again would detach the views already handed out, so a second call throws.
 * Take one region and cut it up. The memory stays put (never grown again),
 * so its address may be given to the kernel (io_uring reads).
 *
 * @example
 * ```ts
 * const mem = reserveSimdMemory(64 * 65552 + (1 << 19)) ?? new Uint8Array(64 * 65552 + (1 << 19));
 * const tunSlots = mem.subarray(0, 64 * 65552);
 * ```
 */
export function reserveSimdMemory(bytes: number): Uint8Array | null {
  if (!Number.isInteger(bytes) || bytes <= 0 || bytes > 1 << 30) {
    throw new RangeError(`reserveSimdMemory: ${bytes} bytes (1 byte to 1 GB)`);
  }
  if (mod === null) return null;
  if (reserved) throw new Error("reserveSimdMemory() runs once per thread");
  reserved = true;
  // The copy area, the region, then 16 bytes the last 16-byte load may read past a range.
  const start = COPY_AREA + ((64 - COPY_AREA % 64) % 64);
  const need = start + bytes + 16;
  const have = mod.memory.buffer.byteLength;
  if (need > have) mod.memory.grow(Math.ceil((need - have) / 65536));
  mod.buffer = mod.memory.buffer;
  mod.mem = new Uint8Array(mod.buffer);
  return new Uint8Array(mod.buffer, start, bytes);
}
