/**
 * Table views of the SPD and PAD for `ipsec spd` and `ipsec pad` (and their
 * `--json` form): pure functions from entries to rows of strings, laid out
 * like the seeds' tables (selectors, PFP flags, action and processing).
 * One row per selector set; the entry's action is on its first row.
 *
 * @module
 */

import { formatProposal } from "../crypto/proposal.ts";
import { formatIdentityPattern } from "./identity.ts";
import { formatTs } from "./narrow.ts";
import type { PadEntry } from "./pad.ts";
import {
  formatAddressSelector,
  formatPortSelector,
  protocolName,
  type Selector,
} from "./selector.ts";
import type { ProcessingInfo, SpdEntry } from "./spd.ts";

/** One printable row: column name to cell. */
export type TableRow = { readonly [column: string]: string | number };

function pfpText(s: Selector): string {
  const f = s.pfp;
  if (!f) return "";
  const names: [keyof typeof f, string][] = [
    ["localAddress", "laddr"],
    ["remoteAddress", "raddr"],
    ["protocol", "proto"],
    ["localPort", "lport"],
    ["remotePort", "rport"],
  ];
  return names.filter(([k]) => f[k]).map(([, n]) => n).join(",");
}

/** One-line description of PROTECT processing info. */
export function processingText(p: ProcessingInfo): string {
  const parts = [p.protocol.toUpperCase(), p.mode];
  if (p.mode === "tunnel") {
    parts.push(`${p.tunnel?.local ?? "dynamic"}->${p.tunnel?.remote ?? "dynamic"}`);
  }
  parts.push(p.proposals.map(formatProposal).join(","));
  if (p.esn) parts.push("esn");
  if (p.replayWindow !== undefined) parts.push(`replay ${p.replayWindow}`);
  return parts.join(" ");
}

/**
 * Rows for `ipsec spd`.
 *
 * @example
 * ```ts
 * spdRows(spd.entries)[0].action; // "BYPASS"
 * ```
 */
export function spdRows(entries: readonly SpdEntry[]): TableRow[] {
  const rows: TableRow[] = [];
  entries.forEach((e, i) => {
    e.selectors.forEach((s, k) => {
      rows.push({
        "#": i + 1,
        label: k === 0 ? e.label ?? "" : "",
        name: k === 0 && e.name ? formatIdentityPattern(e.name) : "",
        local: formatAddressSelector(s.localAddress),
        remote: formatAddressSelector(s.remoteAddress),
        proto: protocolName(s.protocol),
        lport: formatPortSelector(s.localPort, s.protocol),
        rport: formatPortSelector(s.remotePort, s.protocol),
        pfp: pfpText(s),
        dir: k === 0 ? e.direction ?? "both" : "",
        action: k === 0 ? e.action.toUpperCase() : "",
        processing: k === 0 && e.processing ? processingText(e.processing) : "",
      });
    });
  });
  return rows;
}

/** Rows for `ipsec pad`. */
export function padRows(entries: readonly PadEntry[]): TableRow[] {
  return entries.map((e, i) => ({
    "#": i + 1,
    id: formatIdentityPattern(e.id),
    auth: padAuthText(e) + (e.laterRounds ?? []).map((r) => `, then ${r}`).join(""),
    "may claim": e.allowedTs.length === 0 ? "nothing" : e.allowedTs.map(formatTs).join(" "),
    "spd lookup": e.spdLookup === "name" ? "by ID (named)" : "by TS",
    "remote addrs": (e.remoteAddrs ?? []).join(",") || "%any",
    connection: e.connection ?? e.label,
  }));
}

/** How a PAD entry's peer authenticates (first round), as `ipsec pad` shows it. */
function padAuthText(e: PadEntry): string {
  return e.auth.method === "psk"
    ? "psk"
    : e.auth.method === "eap"
    ? `eap-${e.auth.eap}${e.auth.eapId ? ` (eap_id ${e.auth.eapId})` : ""}`
    : `pubkey (${e.auth.trustAnchors.length} CA${e.auth.trustAnchors.length === 1 ? "" : "s"}${
      e.auth.pinned?.length ? `, ${e.auth.pinned.length} pinned` : ""
    }${
      e.auth.pinnedKeys?.length
        ? `, ${e.auth.pinnedKeys.length} raw key${e.auth.pinnedKeys.length === 1 ? "" : "s"}`
        : ""
    }${
      e.auth.crls?.length ? `, ${e.auth.crls.length} CRL${e.auth.crls.length === 1 ? "" : "s"}` : ""
    }${
      e.auth.revocation && e.auth.revocation !== "relaxed"
        ? `, revocation ${e.auth.revocation}`
        : ""
    })`;
}
