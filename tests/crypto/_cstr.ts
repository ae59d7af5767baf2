/**
 * Test helper: turns a C string literal body as printed in strongSwan's
 * test_vectors/*.c ("\x0b\x0b..." with plain ASCII in between) into bytes, so
 * vectors can be pasted verbatim with their source. Use with String.raw.
 *
 * @module
 */
export function cstr(s: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "\\" && s[i + 1] === "x") {
      out.push(parseInt(s.slice(i + 2, i + 4), 16));
      i += 3;
    } else {
      out.push(s.charCodeAt(i));
    }
  }
  return new Uint8Array(out);
}

/** ASCII bytes of `s`. */
export function ascii(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}
