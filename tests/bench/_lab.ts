/**
 * The two-namespace setup shared by compare_bench.ts and ike_bench.ts:
 *
 * ```
 *   ns a: lo 10.1.0.1, va 192.0.2.1  <== veth ==>  ns b: vb 192.0.2.2, lo 10.2.0.1
 * ```
 *
 * The inner addresses on `lo` sit inside each side's traffic selector
 * (kernel-libipsec refuses to install a route without one).
 *
 * @module
 */
import { NetnsLab, run } from "../helpers/netns.ts";
import { parseProcStat, type ProcCpu } from "./_results.ts";

/** Addresses and identity of one side. */
export interface Side {
  outer: string;
  inner: string;
  net: string;
  id: string;
}

/** Side A (initiator). */
export const A: Side = {
  outer: "192.0.2.1",
  inner: "10.1.0.1",
  net: "10.1.0.0/24",
  id: "a.bench.example",
};
/** Side B (responder). */
export const B: Side = {
  outer: "192.0.2.2",
  inner: "10.2.0.1",
  net: "10.2.0.0/24",
  id: "b.bench.example",
};

/** Two namespaces with the veth and inner addresses; `lab.cleanup()` removes them. */
export async function twoNamespaces(): Promise<{ lab: NetnsLab; a: string; b: string }> {
  const lab = await NetnsLab.create("tbc-");
  try {
    const a = await lab.addNs("a");
    const b = await lab.addNs("b");
    await lab.veth(a, "va", `${A.outer}/24`, b, "vb", `${B.outer}/24`);
    await run(["ip", "-n", a, "addr", "add", `${A.inner}/32`, "dev", "lo"]);
    await run(["ip", "-n", b, "addr", "add", `${B.inner}/32`, "dev", "lo"]);
    return { lab, a, b };
  } catch (e) {
    await lab.cleanup();
    throw e;
  }
}

/** Polls `f` every 200 ms until it returns true; throws after `ms`. */
export async function waitFor(
  what: string,
  f: () => Promise<boolean>,
  ms = 15_000,
): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await f()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** PIDs of the daemon processes in `ns` (everything except iperf3, `ip` and deno load tools). */
export async function daemonPids(ns: string, exclude: readonly number[] = []): Promise<number[]> {
  const out = (await run(["ip", "netns", "pids", ns])).stdout.split(/\s+/).filter(Boolean);
  const pids: number[] = [];
  for (const p of out.map(Number)) {
    if (exclude.includes(p)) continue;
    const comm = (await Deno.readTextFile(`/proc/${p}/comm`).catch(() => "")).trim();
    if (comm && comm !== "iperf3" && comm !== "ip") pids.push(p);
  }
  return pids;
}

/** Summed CPU ticks of `pids` (processes that vanished count as 0). */
export async function cpuOf(pids: readonly number[]): Promise<ProcCpu> {
  let utime = 0, stime = 0;
  for (const p of pids) {
    const text = await Deno.readTextFile(`/proc/${p}/stat`).catch(() => "");
    if (!text) continue;
    const c = parseProcStat(text);
    utime += c.utime;
    stime += c.stime;
  }
  return { utime, stime };
}

/** Summed resident set size of `pids` in KiB (VmRSS of /proc/PID/status). */
export async function rssKib(pids: readonly number[]): Promise<number> {
  let sum = 0;
  for (const p of pids) {
    const text = await Deno.readTextFile(`/proc/${p}/status`).catch(() => "");
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(text);
    if (m) sum += Number(m[1]);
  }
  return sum;
}

/** Settings of {@link ourYaml}. */
export interface OurYamlOptions {
  me: Side;
  peer: Side;
  /** IKE proposal ("aes256gcm16-prfsha384-x25519"). */
  ike: string;
  /** ESP proposal ("aes256gcm16"). */
  esp: string;
  psk: string;
  /** Responder only: leave `remote_addrs` out (%any). */
  anyRemote?: boolean;
  /** Force ESP in UDP 4500 like strongSwan's kernel-libipsec. */
  encap?: boolean;
  /** Responder only: lease virtual IPs from this range (remote_ts dynamic). */
  pool?: string;
}

/** Our daemon's YAML (the format of examples/site_to_site.yaml) for one PSK side. */
export function ourYaml(o: OurYamlOptions): string {
  return `connections:
  bench:
    local_addrs: [${o.me.outer}]
${o.anyRemote ? "" : `    remote_addrs: [${o.peer.outer}]\n`}${
    o.pool ? "    pools: bench_pool\n" : ""
  }    proposals: [${o.ike}]
    encap: ${o.encap ? "yes" : "no"}
    dpd_delay: 0s
    local:
      auth: psk
      id: ${o.me.id}
    remote:
      auth: psk
      id: ${o.peer.id}
    children:
      bench:
        mode: tunnel
        local_ts: [${o.me.net}]
        remote_ts: [${o.pool ? "dynamic" : o.peer.net}]
        esp_proposals: [${o.esp}]
        start_action: none
${o.pool ? `pools:\n  bench_pool:\n    addrs: ${o.pool}\n` : ""}secrets:
  bench-psk:
    id: [${o.me.id}, ${o.peer.id}]
    secret: "${o.psk}"
`;
}
