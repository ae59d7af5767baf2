/** `ipsec list-pools [--leases]`: virtual IP pools and their leases (swanctl --list-pools). */
import type { Json } from "../../lib/daemon/control_protocol.ts";
import { readCommand } from "./_read_command.ts";

interface PoolJson {
  name: string;
  base: string;
  size: number;
  online: number;
  offline: number;
  leases: { address: string; owner: string; online: boolean }[];
}

/** swanctl's layout: name, base, online / offline / size; with `leases`, a line per lease. */
export function renderPools(data: Json, leases: boolean): string {
  const pools = data as unknown as PoolJson[];
  if (pools.length === 0) return "no pools";
  const lines: string[] = [];
  for (const p of pools) {
    lines.push(
      `${p.name.padEnd(20)} ${p.base.padEnd(39)} ${p.online} / ${p.offline} / ${p.size}`,
    );
    if (!leases) continue;
    for (const l of p.leases) {
      lines.push(
        `  ${l.address.padEnd(39)} ${(l.online ? "online" : "offline").padEnd(8)} '${l.owner}'`,
      );
    }
  }
  return lines.join("\n");
}

/** The `list-pools` subcommand. */
export const command = readCommand({
  name: "list-pools",
  summary: "list virtual IP pools: online / offline / size (like swanctl --list-pools)",
  request: "list-pools",
  flags: [{ name: "leases", short: "l", help: "also list each lease and whom it is kept for" }],
  render: (d, flags) => renderPools(d, flags.has("leases")),
});
