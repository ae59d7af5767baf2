/**
 * DNS names in `remote_addrs` (a road warrior's `remote_addrs:
 * vpn.example.com`), resolved when a file is loaded (`ipsec start`,
 * `ipsec reload`, `ipsec up --config`) with the system resolver
 * (getaddrinfo: /etc/hosts, then DNS), as strongSwan resolves them. The
 * parser itself stays synchronous and pure: it gets the answers as a map
 * ({@link ParseConfigOptions.hosts}).
 *
 * @module
 */
import { lookup } from "node:dns/promises";
import { parse } from "yaml";
import { parseIp } from "../db/address.ts";

/** A DNS name as RFC 1123 section 2.1 allows it (letters, digits, hyphens; dots between labels). */
export function isHostName(s: string): boolean {
  if (s.length > 253 || parseIp(s)) return false;
  const labels = s.replace(/\.$/, "").split(".");
  return labels.every((l) => /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(l)) &&
    !/^[0-9]+$/.test(labels.at(-1)!);
}

/** The DNS names written in `connections.*.remote_addrs` (best effort: broken YAML gives none). */
export function hostNamesIn(text: string): string[] {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch {
    return []; // the parser reports the YAML error
  }
  const names = new Set<string>();
  const conns = (doc as { connections?: unknown } | null)?.connections;
  if (conns && typeof conns === "object") {
    for (const c of Object.values(conns as Record<string, unknown>)) {
      const v = (c as { remote_addrs?: unknown } | null)?.remote_addrs;
      const items = Array.isArray(v) ? v : typeof v === "string" ? v.split(",") : [];
      for (const item of items) {
        const s = String(item).trim();
        if (isHostName(s)) names.add(s);
      }
    }
  }
  return [...names];
}

/** Resolves one name to its addresses. */
export type HostLookup = (name: string) => Promise<string[]>;

/** The system resolver (getaddrinfo), IPv4 addresses first. */
export const systemLookup: HostLookup = async (name) => {
  const all = await lookup(name, { all: true });
  const v4 = all.filter((a) => a.family === 4).map((a) => a.address);
  const v6 = all.filter((a) => a.family === 6).map((a) => a.address);
  return [...new Set([...v4, ...v6])];
};

/**
 * Each name's addresses, or the Error that says why it has none (the parser
 * reports it at the name's line). Lookups run in parallel, each bounded by
 * `timeoutMs`.
 */
export async function resolveHosts(
  names: readonly string[],
  resolve: HostLookup = systemLookup,
  timeoutMs = 10_000,
): Promise<Map<string, string[] | Error>> {
  const out = new Map<string, string[] | Error>();
  await Promise.all(names.map(async (name) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs / 1000} s`)), timeoutMs);
    });
    try {
      const addrs = await Promise.race([resolve(name), timeout]);
      out.set(name, addrs.length ? addrs : new Error("no addresses"));
    } catch (e) {
      const code = (e as { code?: string }).code;
      out.set(
        name,
        new Error(code === "ENOTFOUND" ? "no such host" : (e as Error).message ?? String(e)),
      );
    } finally {
      clearTimeout(timer);
    }
  }));
  return out;
}
