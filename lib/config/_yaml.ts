/**
 * A YAML reader that remembers where every value came from: each value is
 * wrapped with its key path and source position, and every problem becomes
 * a {@link ConfigIssue} (file:line:col, key path, message) collected in one
 * list, so a user sees all mistakes at once.
 *
 * @module
 */

import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type Range } from "yaml";
import type { ConfigIssue } from "./config.ts";

/** Collects issues for one file. */
export class YamlSource {
  readonly file: string;
  readonly issues: ConfigIssue[] = [];
  readonly #lines = new LineCounter();
  readonly #root: Node | null;

  constructor(text: string, file: string) {
    this.file = file;
    const doc = parseDocument(text, {
      lineCounter: this.#lines,
      prettyErrors: false,
      uniqueKeys: true,
    });
    for (const e of doc.errors) {
      const { line, col } = this.#lines.linePos(e.pos[0]);
      this.issues.push({ file, line, col, path: "", message: yamlMessage(e.message) });
    }
    this.#root = this.issues.length > 0 ? null : (doc.contents as Node | null);
  }

  /** The document's top-level value. */
  root(): YamlValue {
    return new YamlValue(this, this.#root, "", [0, 0, 0]);
  }

  /** Records an issue at a source offset. */
  report(offset: number, path: string, message: string): void {
    const { line, col } = this.#lines.linePos(offset);
    this.issues.push({ file: this.file, line, col, path, message });
  }
}

function yamlMessage(m: string): string {
  // The library's messages start with an upper-case code-like sentence; keep them, one line.
  return `YAML syntax: ${m.split("\n")[0]}`;
}

function quote(s: string): string {
  return `'${s}'`;
}

/** Closest allowed key by edit distance, for "did you mean" hints. */
function suggest(key: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const a of allowed) {
    const d = editDistance(key, a);
    if (d < bestD) {
      bestD = d;
      best = a;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0];
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j];
      dp[j] = Math.min(dp[j] + 1, dp[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length];
}

/** One value of the document, with its path and position. */
export class YamlValue {
  readonly #src: YamlSource;
  readonly node: Node | null;
  readonly path: string;
  readonly #range: Range;
  /** Set for an item split out of a comma-separated scalar. */
  readonly #text?: string;

  constructor(src: YamlSource, node: Node | null, path: string, range: Range, text?: string) {
    this.#src = src;
    this.node = node;
    this.path = path;
    this.#range = node?.range ?? range;
    this.#text = text;
  }

  /** True when the key is absent or its value is empty/null. */
  get missing(): boolean {
    if (this.#text !== undefined) return false;
    return this.node === null || (isScalar(this.node) && this.node.value === null);
  }

  /** Records an issue at this value. */
  error(message: string): void {
    this.#src.report(this.#range[0], this.path, message);
  }

  #child(node: Node | null, key: string, at: Range, index?: number): YamlValue {
    const path = index !== undefined
      ? `${this.path}[${index}]`
      : this.path === ""
      ? key
      : `${this.path}.${key}`;
    return new YamlValue(this.#src, node, path, at);
  }

  /**
   * The entries of a mapping whose keys the user names (connection names,
   * children names). Reports non-mappings and non-string keys.
   */
  entries(): [string, YamlValue][] {
    if (this.missing) return [];
    if (!isMap(this.node)) {
      this.error("expected a mapping of names to sections");
      return [];
    }
    const out: [string, YamlValue][] = [];
    for (const pair of this.node.items) {
      const k = pair.key as Node | null;
      if (!isScalar(k) || typeof k.value !== "string" && typeof k.value !== "number") {
        this.error("expected a name as key");
        continue;
      }
      const name = String(k.value);
      out.push([name, this.#child(pair.value as Node | null, name, k.range ?? this.#range)]);
    }
    return out;
  }

  /**
   * The keys of a fixed-schema mapping. Unknown keys are reported with a
   * "did you mean" hint; the result maps every allowed key (missing ones
   * wrap null).
   */
  fields<K extends string>(allowed: readonly K[]): Record<K, YamlValue> {
    const out = {} as Record<K, YamlValue>;
    for (const k of allowed) out[k] = this.#child(null, k, this.#range);
    if (this.missing) return out;
    if (!isMap(this.node)) {
      this.error(`expected a mapping with keys ${allowed.join(", ")}`);
      return out;
    }
    for (const pair of this.node.items) {
      const k = pair.key as Node | null;
      const name = isScalar(k) ? String(k.value) : "";
      const at = k?.range ?? this.#range;
      if (!(allowed as readonly string[]).includes(name)) {
        const hint = suggest(name, allowed);
        this.#src.report(
          at[0],
          this.path === "" ? name : `${this.path}.${name}`,
          `unknown key ${quote(name)}${hint ? ` (did you mean ${quote(hint)}?)` : ""}`,
        );
        continue;
      }
      out[name as K] = this.#child(pair.value as Node | null, name, at);
    }
    return out;
  }

  /** The value under `key` of a mapping, without validating other keys. */
  get(key: string): YamlValue {
    if (isMap(this.node)) {
      for (const pair of this.node.items) {
        const k = pair.key as Node | null;
        if (isScalar(k) && String(k.value) === key) {
          return this.#child(pair.value as Node | null, key, k.range ?? this.#range);
        }
      }
    }
    return this.#child(null, key, this.#range);
  }

  /** A scalar as text (numbers and booleans too), or undefined when missing or not a scalar. */
  string(): string | undefined {
    if (this.#text !== undefined) return this.#text;
    if (this.missing) return undefined;
    if (!isScalar(this.node)) {
      this.error("expected a single value, not a list or mapping");
      return undefined;
    }
    return String(this.node.value);
  }

  /**
   * A YAML string (not a number, boolean or null: `updown: 42` is an error),
   * or undefined when missing or not a string.
   */
  text(): string | undefined {
    if (this.#text !== undefined) return this.#text;
    if (this.missing) return undefined;
    if (!isScalar(this.node) || typeof this.node.value !== "string") {
      this.error("expected a string");
      return undefined;
    }
    return this.node.value;
  }

  /**
   * A scalar exactly as written (so `0x0011` stays text, not a number), or
   * undefined when missing or not a scalar.
   */
  raw(): string | undefined {
    if (this.#text !== undefined || !isScalar(this.node)) return this.string();
    const src = (this.node as { source?: unknown }).source;
    return typeof src === "string" ? src : this.string();
  }

  /**
   * A list: a YAML sequence, or a scalar with comma-separated items (as
   * swanctl writes them). Items keep their own path `[i]`.
   */
  list(): YamlValue[] {
    if (this.#text !== undefined) return [this];
    if (this.missing) return [];
    if (isSeq(this.node)) {
      return this.node.items.map((n, i) =>
        this.#child(n as Node | null, "", (n as Node | null)?.range ?? this.#range, i)
      );
    }
    if (isScalar(this.node)) {
      const parts = String(this.node.value).split(",").map((s) => s.trim()).filter((s) => s !== "");
      if (parts.length === 1) return [this];
      return parts.map((p, i) =>
        new YamlValue(this.#src, null, `${this.path}[${i}]`, this.#range, p)
      );
    }
    this.error("expected a list");
    return [];
  }

  /** A list of strings. */
  strings(): string[] {
    return this.list().map((v) => v.string()).filter((s): s is string => s !== undefined);
  }

  /** One of a fixed set of words (case-insensitive), or `dflt` when missing. */
  oneOf<T extends string>(words: readonly T[], dflt: T): T {
    const s = this.string();
    if (s === undefined) return dflt;
    const w = words.find((x) => x === s.toLowerCase());
    if (w === undefined) {
      this.error(`${quote(s)} is not valid: expected one of ${words.join(", ")}`);
      return dflt;
    }
    return w;
  }

  /** yes/no/true/false, or `dflt`. */
  bool(dflt: boolean): boolean {
    if (this.missing) return dflt;
    if (isScalar(this.node) && typeof this.node.value === "boolean") return this.node.value;
    const s = this.string()?.toLowerCase();
    if (s === "yes" || s === "true") return true;
    if (s === "no" || s === "false") return false;
    this.error(`expected yes or no, got ${quote(String(s))}`);
    return dflt;
  }

  /** An integer in [min, max], or `dflt`. */
  int(dflt: number, min: number, max: number): number {
    const s = this.string();
    if (s === undefined) return dflt;
    if (!/^[0-9]+$/.test(s) || Number(s) < min || Number(s) > max) {
      this.error(`${quote(s)} is not valid: expected an integer ${min}..${max}`);
      return dflt;
    }
    return Number(s);
  }

  /** A duration in seconds: `90`, `30s`, `5m`, `4h`, `1d`; or `dflt`. */
  seconds(dflt: number): number {
    const s = this.string();
    if (s === undefined) return dflt;
    const m = /^([0-9]+)\s*([smhd]?)$/.exec(s.trim());
    if (!m) {
      this.error(`${quote(s)} is not a duration: expected seconds or a number with s, m, h or d`);
      return dflt;
    }
    const mult = { "": 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as "" | "s" | "m" | "h" | "d"];
    return Number(m[1]) * mult;
  }

  /** A byte or packet count: `1000`, `500k`, `10M`, `2G`; or `dflt`. */
  count(dflt: bigint): bigint {
    const s = this.string();
    if (s === undefined) return dflt;
    const m = /^([0-9]+)\s*([kKmMgG]?)$/.exec(s.trim());
    if (!m) {
      this.error(`${quote(s)} is not a count: expected a number with optional k, M or G`);
      return dflt;
    }
    const mult = { "": 1n, k: 1024n, m: 1024n ** 2n, g: 1024n ** 3n }[
      m[2].toLowerCase() as "" | "k" | "m" | "g"
    ];
    return BigInt(m[1]) * mult;
  }
}
