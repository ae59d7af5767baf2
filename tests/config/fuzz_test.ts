/**
 * Broken configuration files get a clear, typed error: the shipped examples
 * with lines dropped, repeated or edited (YAML punctuation, out-of-range
 * numbers, bad prefixes and ranges, keywords in the wrong place) either load
 * and convert to an engine configuration, or fail with a ConfigError that
 * names the file, line and column, or a PeerConfigError — never another
 * exception.
 */
import assert from "node:assert/strict";
import { ConfigError } from "../../lib/config/config.ts";
import { parseConfig } from "../../lib/config/parse.ts";
import { PeerConfigError, toEngineConfig } from "../../lib/config/to_peer_config.ts";

const EXAMPLES = new URL("../../examples/", import.meta.url);
const TOKENS = [
  "",
  " ",
  "-",
  ":",
  "[",
  "]",
  "{",
  "}",
  "'",
  '"',
  "#",
  "0",
  "-1",
  "65536",
  "999999999999",
  "1e400",
  "null",
  "~",
  "yes",
  ".inf",
  "::",
  "0.0.0.0/0",
  "10.0.0.0/33",
  "::/129",
  "300.1.1.1",
  "1.2.3.4-1.2.3.1",
  "%any",
  "*",
  "\t",
  "&a",
  "*a",
  "!!binary",
  "<<",
  "aes256gcm16",
  "psk",
  "pubkey",
  "dynamic",
];

Deno.test("config fuzz: mutated examples load, or fail with a typed error naming file:line:col", () => {
  const texts = [...Deno.readDirSync(EXAMPLES)]
    .filter((e) => e.name.endsWith(".yaml"))
    .map((e) => Deno.readTextFileSync(new URL(e.name, EXAMPLES)));
  assert.ok(texts.length >= 4);
  let seed = 2026;
  const rnd = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  let loaded = 0;
  let refused = 0;
  for (let i = 0; i < 3000; i++) {
    const lines = texts[rnd(texts.length)].split("\n");
    for (let k = 1 + rnd(3); k > 0; k--) {
      const l = rnd(lines.length);
      const line = lines[l];
      switch (rnd(4)) {
        case 0:
          lines.splice(l, 1);
          break;
        case 1:
          lines.splice(l, 0, lines[rnd(lines.length)]);
          break;
        case 2: {
          const at = rnd(line.length + 1);
          lines[l] = line.slice(0, at) + TOKENS[rnd(TOKENS.length)] + line.slice(at + rnd(6));
          break;
        }
        default: {
          const m = line.match(/^(\s*[-\w]+:\s*)(.*)$/);
          if (m) lines[l] = m[1] + TOKENS[rnd(TOKENS.length)];
        }
      }
    }
    const text = lines.join("\n");
    try {
      toEngineConfig(parseConfig(text, { readFile: () => new Uint8Array(0) }));
      loaded++;
    } catch (e) {
      if (e instanceof ConfigError) {
        assert.match(e.message, /^config\.yaml:\d+:\d+: \S/, `mutation ${i}`);
      } else if (!(e instanceof PeerConfigError)) {
        throw new Error(`mutation ${i}: ${(e as Error).stack}\n--- config ---\n${text}`);
      }
      refused++;
    }
  }
  assert.ok(loaded > 100 && refused > 1000, `${loaded} loaded, ${refused} refused`);
});
