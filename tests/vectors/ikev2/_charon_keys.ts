/**
 * Reads the key schedule a strongSwan charon logs with `ike = 4` (its `%B`
 * hex dumps), for tests that talk to a live charon and for
 * capture_strongswan.ts.
 *
 * @module
 */

/** One hex dump: "name => N bytes @ ..." followed by "  0: AB CD ..." lines. */
export interface CharonHexDump {
  name: string;
  hex: string;
}

/** charon's `%B` hex dumps in log order ("name => N bytes @ ..." then "  0: AB CD ..." lines). */
export function charonHexDumps(log: string): CharonHexDump[] {
  const out: CharonHexDump[] = [];
  let cur: CharonHexDump | undefined;
  for (const line of log.split("\n")) {
    const head = /\[IKE\] (.+?) => \d+ bytes @/.exec(line);
    if (head) {
      cur = { name: head[1], hex: "" };
      out.push(cur);
      continue;
    }
    const row = /\[IKE\]\s+\d+: ((?:[0-9A-F]{2} )+)/.exec(line);
    if (row && cur) cur.hex += row[1].replaceAll(" ", "").toLowerCase();
    else cur = undefined;
  }
  return out;
}

/** The SK_* keys of the last IKE SA in a charon `ike = 4` log, as hex. */
export function charonIkeKeys(log: string): Record<
  "skD" | "skAi" | "skAr" | "skEi" | "skEr" | "skPi" | "skPr",
  string
> {
  const dumps = charonHexDumps(log);
  const last = (n: string) => dumps.findLast((d) => d.name === n)?.hex ?? "";
  return {
    skD: last("Sk_d secret"),
    skAi: last("Sk_ai secret"),
    skAr: last("Sk_ar secret"),
    skEi: last("Sk_ei secret"),
    skEr: last("Sk_er secret"),
    skPi: last("Sk_pi secret"),
    skPr: last("Sk_pr secret"),
  };
}
