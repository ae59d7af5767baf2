/**
 * Human-readable renderings of the daemon's JSON answers: aligned tables
 * (`spd`, `sad`, `pad`) and swanctl-like trees (`status`, `list-sas`,
 * `list-conns`). Pure functions from data to text.
 *
 * @module
 */
import type { Json } from "../../lib/daemon/control_protocol.ts";

type Obj = { [k: string]: Json };

function obj(x: Json | undefined): Obj {
  return typeof x === "object" && x !== null && !Array.isArray(x) ? x : {};
}

function arr(x: Json | undefined): Json[] {
  return Array.isArray(x) ? x : [];
}

function str(x: Json | undefined): string {
  if (x === null || x === undefined) return "";
  if (Array.isArray(x)) return x.map(str).join(",");
  if (typeof x === "object") return JSON.stringify(x);
  return String(x);
}

/**
 * Aligns rows under headers, two spaces between columns.
 *
 * @example
 * ```ts
 * formatTable(["A", "B"], [["1", "22"]]); // "A  B\n1  22"
 * ```
 */
export function formatTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => i === cells.length - 1 ? c : c.padEnd(widths[i])).join("  ").trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

/** A table of arbitrary rows (`spd`, `pad`): columns in order of first appearance. */
export function renderRows(data: Json, empty: string): string {
  const rows = arr(data).map(obj);
  if (rows.length === 0) return empty;
  const cols: string[] = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!cols.includes(k)) cols.push(k);
  return formatTable(cols.map((c) => c.toUpperCase()), rows.map((r) => cols.map((c) => str(r[c]))));
}

/** `ipsec sad`: one line per installed SA direction. */
export function renderSad(data: Json): string {
  const rows = arr(data).map(obj);
  if (rows.length === 0) return "no SAs installed";
  return formatTable(
    ["SPI", "DIR", "PROTO", "MODE", "SRC", "DST", "ENCR", "INTEG", "CHILD", "BYTES", "PACKETS"],
    rows.map((r) => [
      str(r.spi),
      str(r.direction),
      str(r.protocol).toUpperCase() + (r.ipcomp ? "+IPCOMP" : ""),
      str(r.mode),
      str(r.src),
      str(r.dst),
      str(r.encr) || "-",
      str(r.integ) || "-",
      `${str(r.connection)}/${str(r.child)}`,
      r.bytes === null ? "-" : str(r.bytes),
      r.packets === null ? "-" : str(r.packets),
    ]),
  );
}

function seconds(untilMs: number, now: number): string {
  return `${Math.max(0, Math.round((untilMs - now) / 1000))}s`;
}

function saLine(label: string, sa: Obj, now: number): string {
  const parts = [`${label} ${str(sa.spi)}` + (sa.ipcomp ? ` (IPComp CPI ${str(sa.ipcomp)})` : "")];
  if (sa.bytes !== null && sa.bytes !== undefined) {
    parts.push(`${str(sa.bytes)} bytes, ${str(sa.packets)} packets`);
  }
  if (typeof sa.rekeyAt === "number" && sa.rekeyAt > 0) {
    parts.push(`rekey in ${seconds(sa.rekeyAt, now)}`);
  }
  if (typeof sa.expiresAt === "number" && sa.expiresAt > 0) {
    parts.push(`expires in ${seconds(sa.expiresAt, now)}`);
  }
  return parts.join(", ");
}

/** `ipsec list-sas`: IKE SAs with their children, like `swanctl --list-sas`. */
export function renderIkeSas(data: Json, now = Date.now()): string {
  const sas = arr(data).map(obj);
  if (sas.length === 0) return "no IKE SAs";
  const out: string[] = [];
  for (const ike of sas) {
    out.push(
      `${str(ike.connection)}[${str(ike.ikeSaId)}]: ${str(ike.state).toUpperCase()}` +
        (typeof ike.since === "number" ? `, ${seconds(now, ike.since)} ago` : ""),
    );
    if (ike.ike) {
      const d = obj(ike.ike);
      const initiator = d.initiator === true;
      out.push(
        `  IKEv2 SPIs ${str(d.spiI)}_i${initiator ? "*" : ""} ${str(d.spiR)}_r${
          initiator ? "" : "*"
        }` + (d.nat ? `, NAT ${str(d.nat)}` : ""),
      );
      out.push(`  local  '${str(d.localId)}' @ ${str(d.local)}`);
      out.push(
        `  remote '${str(d.remoteId)}' @ ${str(d.remote)}` +
          (d.remoteEapId !== undefined ? ` EAP: '${str(d.remoteEapId)}'` : ""),
      );
      if (d.algorithms) out.push(`  ${str(d.algorithms)}`);
      // As charon's list-sas: "rekeying in 14340s, reauth in …, expires in …".
      const times = [["rekeying", d.rekeyAt], ["reauth", d.reauthAt], ["expires", d.expiresAt]]
        .flatMap(([what, at]) => typeof at === "number" ? [`${what} in ${seconds(at, now)}`] : []);
      if (times.length) out.push(`  ${times.join(", ")}`);
    }
    for (const c of arr(ike.children).map(obj)) {
      const sa = obj(c.outbound ?? c.inbound);
      const algs = [str(sa.encr), str(sa.integ)].filter((s) => s !== "").join("/");
      out.push(
        `  ${str(c.name)}{${str(c.childSaId)}}: ${str(c.state).toUpperCase()}, ` +
          `${str(sa.mode).toUpperCase()}, ${str(sa.protocol).toUpperCase()}` +
          (algs ? ` ${algs}` : "") + (sa.esn === true ? " ESN" : "") +
          (sa.encap ? `, ${str(sa.encap)}` : "") + (sa.ipcomp ? ", IPCOMP" : ""),
      );
      if (sa.src !== undefined) out.push(`    ${str(sa.src)} === ${str(sa.dst)}`);
      if (c.inbound) out.push(`    ${saLine("in ", obj(c.inbound), now)}`);
      if (c.outbound) out.push(`    ${saLine("out", obj(c.outbound), now)}`);
      out.push(`    local  ${arr(sa.localTs).map(str).join(" ")}`);
      out.push(`    remote ${arr(sa.remoteTs).map(str).join(" ")}`);
    }
  }
  return out.join("\n");
}

/** `ipsec status`: the daemon line, then the IKE SAs. */
export function renderStatus(data: Json, now = Date.now()): string {
  const s = obj(data);
  const d = obj(s.daemon);
  const version = d.version === undefined ? "" : ` (deno-ipsec ${str(d.version)})`;
  const head = `ipsec daemon${version} pid ${str(d.pid)}, up ${str(d.uptimeSeconds)}s, ` +
    `config ${str(d.config)}, ${str(d.connections)} connection(s)`;
  return `${head}\n${renderIkeSas(s.ikeSas ?? [], now)}`;
}

/** `ipsec list-conns`: configured connections and children. */
export function renderConnections(data: Json): string {
  const conns = arr(data).map(obj);
  if (conns.length === 0) return "no connections configured";
  const out: string[] = [];
  for (const c of conns) {
    const local = arr(c.localAddrs).map(str).join(",") || "%any";
    const remote = arr(c.remoteAddrs).map(str).join(",") || "%any";
    out.push(`${str(c.name)}: ${local}...${remote} IKEv2`);
    if (arr(c.proposals).length > 0) {
      out.push(`  proposals: ${arr(c.proposals).map(str).join(", ")}`);
    }
    out.push(`  local:  ${str(c.localAuth)} ${str(c.localId)}`);
    arr(c.localRounds).map(obj).forEach((r, i) =>
      out.push(`  local-${i + 2}: ${str(r.auth)} ${str(r.id)}`)
    );
    out.push(`  remote: ${str(c.remoteAuth)} ${str(c.remoteId)}`);
    arr(c.remoteRounds).map(obj).forEach((r, i) =>
      out.push(`  remote-${i + 2}: ${str(r.auth)} ${str(r.id)}`)
    );
    for (const ch of arr(c.children).map(obj)) {
      out.push(
        `  ${str(ch.name)}: ${str(ch.mode).toUpperCase()}, ${str(ch.protocol).toUpperCase()}` +
          (ch.ipcomp === true ? "+IPCOMP" : "") + `, start_action=${str(ch.startAction)}`,
      );
      if (arr(ch.proposals).length > 0) {
        out.push(`    proposals: ${arr(ch.proposals).map(str).join(", ")}`);
      }
      out.push(`    local:  ${arr(ch.localTs).map(str).join(" ")}`);
      out.push(`    remote: ${arr(ch.remoteTs).map(str).join(" ")}`);
    }
  }
  return out.join("\n");
}
