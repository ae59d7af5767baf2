/**
 * IP address text helpers for ID, TS and Notify payloads (private to this folder).
 *
 * @module
 */

/** Formats 4 or 16 address bytes as dotted quad / RFC 5952 text; other lengths as hex. */
export function formatIp(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16) return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((b[i] << 8) | b[i + 1]);
  // longest run of >= 2 zero words (first one wins on ties), RFC 5952 section 4.2
  let bestStart = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(":");
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLen))}`;
}

/** Parses IPv4 or IPv6 text into 4 or 16 bytes; throws RangeError on bad input. */
export function parseIp(s: string): Uint8Array {
  if (s.includes(":")) return parseIp6(s);
  const parts = s.split(".");
  if (parts.length !== 4) throw new RangeError(`bad IPv4 address: ${s}`);
  const out = new Uint8Array(4);
  parts.forEach((p, i) => {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) throw new RangeError(`bad IPv4 address: ${s}`);
    out[i] = Number(p);
  });
  return out;
}

function parseIp6(s: string): Uint8Array {
  const bad = () => new RangeError(`bad IPv6 address: ${s}`);
  let tail4: Uint8Array | undefined;
  let text = s;
  const lastColon = s.lastIndexOf(":");
  if (s.slice(lastColon + 1).includes(".")) {
    tail4 = parseIp(s.slice(lastColon + 1));
    text = s.slice(0, lastColon + 1) + "0:0";
  }
  const halves = text.split("::");
  if (halves.length > 2) throw bad();
  const groups = (h: string) => (h === "" ? [] : h.split(":"));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  const fill = 8 - head.length - tail.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) throw bad();
  const all = [...head, ...Array<string>(halves.length === 2 ? fill : 0).fill("0"), ...tail];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw bad();
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  if (tail4) out.set(tail4, 12);
  return out;
}
