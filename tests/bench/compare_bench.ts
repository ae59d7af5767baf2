/**
 * Data plane side by side (issue 10): two network namespaces joined by a
 * veth, measured three ways in the same run on the same machine:
 *
 * ```
 *   ns a: lo 10.1.0.1, va 192.0.2.1  <== veth ==>  ns b: vb 192.0.2.2, lo 10.2.0.1
 *   bare veth:   iperf3 192.0.2.1 -> 192.0.2.2 (no IPsec)
 *   strongSwan:  charon (kernel-libipsec, ESP in UDP 4500) in a and b, 10.1.0.1 -> 10.2.0.1
 *   deno-ipsec:  `ipsec start --foreground` (encap: yes) in a and b, 10.1.0.1 -> 10.2.0.1
 * ```
 *
 * Per case: iperf3 TCP, 3 runs x BENCH_SECONDS (default 10) s, median;
 * iperf3 UDP with 64-byte payloads offered at 20k, 40k pkt/s and unlimited
 * ("max"), delivered pkt/s and loss; CPU of each daemon (from
 * /proc/PID/stat) during the TCP runs and the max-rate UDP run. Ciphers:
 * AES-GCM-128, AES-GCM-256, ChaCha20-Poly1305. Ratios us/strongSwan close
 * the table. Cases that cannot be measured print
 * "deno-ipsec: not measured (reason)" and record `null`, never a number.
 *
 * Run: `deno task bench compare` (root, iperf3, strongswan); env
 * `BENCH_COMPARE=veth,strongswan,deno-ipsec` picks the cases and
 * `BENCH_CIPHERS=aes128gcm16,aes256gcm16,chacha20poly1305` the ciphers. Cleans up
 * namespaces and processes in `finally`.
 *
 * @module
 */
import { type NetnsLab, run } from "../helpers/netns.ts";
import { Charon, swanctlConf } from "../helpers/strongswan.ts";
import { A, B, cpuOf, daemonPids, ourYaml, twoNamespaces, waitFor } from "./_lab.ts";
import { type BenchRow, cpuPercent, formatTable, median, recordRows } from "./_results.ts";

const SECONDS = Math.max(1, Number(Deno.env.get("BENCH_SECONDS") ?? 10));
const UDP_SECONDS = Math.max(2, Math.ceil(SECONDS / 2));
const TCP_RUNS = 3;
const UDP_RATES: readonly (number | "max")[] = [20_000, 40_000, "max"];
const UDP_PAYLOAD = 64;
const ALL_CIPHERS = ["aes128gcm16", "aes256gcm16", "chacha20poly1305"] as const;
const CIPHERS = ALL_CIPHERS.filter((c) =>
  (Deno.env.get("BENCH_CIPHERS") ?? ALL_CIPHERS.join(",")).split(",").includes(c)
);
const IKE_PROPOSAL = "aes256gcm16-prfsha384-x25519";
const PSK = "bench-psk-0123456789abcdef";
const ROOT = new URL("../../", import.meta.url).pathname;

const rows: BenchRow[] = [];
/** Per-case remark appended to every row's note (e.g. how ESP travelled). */
const caseNotes = new Map<string, string>();
const add = (c: string, metric: string, value: number | null, unit: string, note?: string) => {
  const full = [note, caseNotes.get(c)].filter(Boolean).join("; ");
  rows.push({ bench: "compare", case: c, metric, value, unit, ...(full ? { note: full } : {}) });
};

interface Path {
  lab: NetnsLab;
  a: string;
  b: string;
  src: string;
  dst: string;
  /** Daemon PIDs per side (empty for the bare veth). */
  pids: { a: number[]; b: number[] };
}

/** Runs `f` and returns its result with the CPU % of both sides' daemons meanwhile. */
async function withCpu<T>(
  p: Path,
  f: () => Promise<T>,
): Promise<{ result: T; cpuA: number; cpuB: number }> {
  const [a0, b0, t0] = [await cpuOf(p.pids.a), await cpuOf(p.pids.b), Date.now()];
  const result = await f();
  const ms = Date.now() - t0;
  return {
    result,
    cpuA: cpuPercent(a0, await cpuOf(p.pids.a), ms),
    cpuB: cpuPercent(b0, await cpuOf(p.pids.b), ms),
  };
}

interface IperfJson {
  end: {
    sum_received?: { bits_per_second: number; bytes: number; seconds: number };
    sum?: { packets: number; lost_packets: number; seconds: number; lost_percent: number };
  };
  error?: string;
}

async function iperf(p: Path, extra: string[], seconds: number): Promise<IperfJson> {
  const server = p.lab.spawnIn(p.b, ["iperf3", "-s", "-1", "-B", p.dst]);
  try {
    await new Promise((r) => setTimeout(r, 300));
    const r = await p.lab.runIn(p.a, [
      "iperf3",
      "-c",
      p.dst,
      "-B",
      p.src,
      "-t",
      String(seconds),
      "-J",
      "--connect-timeout",
      "3000",
      ...extra,
    ]);
    let j: IperfJson;
    try {
      j = JSON.parse(r.stdout) as IperfJson;
    } catch {
      throw new Error(`iperf3 gave no JSON (exit ${r.code}): ${r.stderr.slice(0, 300)}`);
    }
    if (j.error) throw new Error(`iperf3: ${j.error}`);
    return j;
  } finally {
    await Promise.race([server.status, new Promise((r) => setTimeout(r, 2000))]);
    try {
      server.kill("SIGKILL");
    } catch { /* already exited */ }
    await server.status;
    await server.stdout.cancel().catch(() => {});
    await server.stderr.cancel().catch(() => {});
    await server.stdin.close().catch(() => {});
  }
}

/** All iperf3 measurements of one case; failures become `null` rows with the reason. */
async function measure(name: string, p: Path): Promise<void> {
  const daemons = p.pids.a.length + p.pids.b.length > 0;
  try {
    const tcp = await withCpu(p, async () => {
      const runs: number[] = [];
      for (let i = 0; i < TCP_RUNS; i++) {
        const j = await iperf(p, [], SECONDS);
        runs.push((j.end.sum_received?.bits_per_second ?? 0) / 1e6);
      }
      return runs;
    });
    add(name, "tcp", median(tcp.result), "Mbit/s", `median of ${TCP_RUNS} x ${SECONDS}s`);
    if (daemons) {
      add(name, "cpu_a@tcp", tcp.cpuA, "%core", "initiator daemon, TCP sender side");
      add(name, "cpu_b@tcp", tcp.cpuB, "%core", "responder daemon");
    }
  } catch (e) {
    add(name, "tcp", null, "Mbit/s", `failed: ${(e as Error).message.slice(0, 120)}`);
  }
  for (const rate of UDP_RATES) {
    const bits = rate === "max" ? "0" : String(rate * UDP_PAYLOAD * 8);
    try {
      const u = await withCpu(
        p,
        () => iperf(p, ["-u", "-l", String(UDP_PAYLOAD), "-b", bits, "-w", "4M"], UDP_SECONDS),
      );
      const s = u.result.end.sum;
      if (!s) throw new Error("iperf3 JSON without end.sum");
      const delivered = (s.packets - s.lost_packets) / s.seconds;
      add(
        name,
        `udp_pps@${rate}`,
        delivered,
        "pkt/s",
        `offered ${Math.round(s.packets / s.seconds)}`,
      );
      add(name, `loss@${rate}`, s.lost_percent, "%");
      if (daemons && rate === "max") {
        add(name, "cpu_a@udpmax", u.cpuA, "%core");
        add(name, "cpu_b@udpmax", u.cpuB, "%core");
      }
    } catch (e) {
      add(name, `udp_pps@${rate}`, null, "pkt/s", `failed: ${(e as Error).message.slice(0, 120)}`);
    }
  }
}

/** Inner path answers a ping (the tunnel carries traffic). */
function tunnelUp(lab: NetnsLab, a: string): Promise<boolean> {
  return lab.runIn(a, ["ping", "-c", "1", "-W", "1", "-I", A.inner, B.inner])
    .then((r) => r.code === 0);
}

async function benchVeth(): Promise<void> {
  const { lab, a, b } = await twoNamespaces();
  try {
    await measure("veth (no IPsec)", {
      lab,
      a,
      b,
      src: A.outer,
      dst: B.outer,
      pids: { a: [], b: [] },
    });
  } finally {
    await lab.cleanup();
  }
}

async function benchStrongswan(cipher: string): Promise<void> {
  const name = `strongswan ${cipher}`;
  const { lab, a, b } = await twoNamespaces();
  const dir = await Deno.makeTempDir({ prefix: "tbc-swan-" });
  const charons: Charon[] = [];
  try {
    for (const [ns, me, peer] of [[a, A, B], [b, B, A]] as const) {
      charons.push(
        await Charon.start({
          ns,
          dir: `${dir}/${ns}`,
          swanctlConf: swanctlConf({
            name: "bench",
            localAddr: me.outer,
            remoteAddr: peer.outer,
            localId: me.id,
            remoteId: peer.id,
            auth: "psk",
            psk: PSK,
            ikeProposal: IKE_PROPOSAL,
            espProposal: cipher,
            localTs: me.net,
            remoteTs: peer.net,
            extra: ["dpd_delay = 0"],
          }),
        }),
      );
    }
    const up = await charons[0].swanctl(["--initiate", "--child", "bench", "--timeout", "15"]);
    if (up.code !== 0) throw new Error(`swanctl --initiate failed: ${up.stdout}${up.stderr}`);
    await waitFor("the strongSwan tunnel to carry a ping", () => tunnelUp(lab, a));
    await measure(name, {
      lab,
      a,
      b,
      src: A.inner,
      dst: B.inner,
      pids: { a: await daemonPids(a), b: await daemonPids(b) },
    });
  } catch (e) {
    const msg = (e as Error).message.split("\n")[0].slice(0, 160);
    console.log(`${name}: not measured (${msg})`);
    add(name, "tcp", null, "Mbit/s", `not measured: ${msg}`);
  } finally {
    for (const c of charons) await c.stop();
    await lab.cleanup();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Our daemons in both namespaces, then {@link measure}. Setup failures
 * (daemon start, `ipsec up`, first ping) return false without a row unless
 * `lastTry`, so the caller can try once more on a busy machine.
 */
async function benchOurs(cipher: string, lastTry: boolean): Promise<boolean> {
  const name = `deno-ipsec ${cipher}`;
  const { lab, a, b } = await twoNamespaces();
  const dir = await Deno.makeTempDir({ prefix: "tbc-us-" });
  const logs = new Map<string, string>();
  const ipsec = [Deno.execPath(), "run", "-A", `${ROOT}cli/main.ts`];
  try {
    const children: Deno.ChildProcess[] = [];
    for (const [ns, me, peer] of [[a, A, B], [b, B, A]] as const) {
      await Deno.writeTextFile(
        `${dir}/${ns}.yaml`,
        // udp_offload is off by default (captures would show unsegmented buffers).
        ourYaml({ me, peer, ike: IKE_PROPOSAL, esp: cipher, psk: PSK, encap: true }) +
          "udp_offload: yes\n",
      );
      const child = lab.spawnIn(ns, [
        ...ipsec,
        "start",
        "--foreground",
        "--config",
        `${dir}/${ns}.yaml`,
        "--socket",
        `${dir}/${ns}.sock`,
      ]);
      logs.set(ns, "");
      for (const s of [child.stdout, child.stderr]) {
        void s.pipeThrough(new TextDecoderStream()).pipeTo(
          new WritableStream({ write: (c) => void logs.set(ns, (logs.get(ns) ?? "") + c) }),
        ).catch(() => {});
      }
      children.push(child);
    }
    const cli = (ns: string, args: string[]) =>
      run([...ipsec, ...args, "--socket", `${dir}/${ns}.sock`]);
    for (const ns of [a, b]) {
      await waitFor(
        `our daemon in ${ns} to answer`,
        async () => (await cli(ns, ["status"])).code === 0,
        40_000,
      );
    }
    const up = await cli(a, ["up", "bench", "--timeout", "15"]);
    if (up.code !== 0) throw new Error(`ipsec up failed: ${(up.stdout + up.stderr).trim()}`);
    await waitFor("our tunnel to carry a ping", () => tunnelUp(lab, a), 20_000);
    // strongSwan's kernel-libipsec always sends ESP in UDP 4500; say whether we did too.
    const sad = JSON.parse((await cli(a, ["sad", "--json"])).stdout || "[]") as {
      encap?: string;
    }[];
    if (!sad.some((r) => r.encap)) caseNotes.set(name, "raw ESP: encap: yes not applied");
    await measure(name, {
      lab,
      a,
      b,
      src: A.inner,
      dst: B.inner,
      pids: { a: await daemonPids(a), b: await daemonPids(b) },
    });
    for (const c of children) {
      if (c.pid) await run(["kill", "-TERM", String(c.pid)]);
    }
    return true;
  } catch (e) {
    const msg = (e as Error).message.split("\n")[0].slice(0, 160);
    if (!lastTry) {
      console.log(`deno-ipsec ${cipher}: setup failed (${msg}), trying once more`);
      return false;
    }
    console.log(`deno-ipsec: not measured (${cipher}: ${msg})`);
    for (const [ns, log] of logs) {
      if (log.trim()) {
        console.error(
          `--- daemon log ${ns} (tail) ---\n${log.trim().split("\n").slice(-15).join("\n")}`,
        );
      }
    }
    add(name, "tcp", null, "Mbit/s", `not measured: ${msg}`);
    return false;
  } finally {
    await lab.cleanup();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** us/strongSwan ratios of the figures both sides have. */
function ratios(): void {
  for (const cipher of CIPHERS) {
    for (const metric of ["tcp", "udp_pps@max", "udp_pps@40000"]) {
      const get = (who: string) =>
        rows.find((r) => r.case === `${who} ${cipher}` && r.metric === metric)?.value ?? null;
      const us = get("deno-ipsec"), them = get("strongswan");
      add(
        `deno-ipsec/strongswan ${cipher}`,
        `ratio ${metric}`,
        us !== null && them ? us / them : null,
        "x",
        us === null
          ? "deno-ipsec not measured"
          : them
          ? caseNotes.get(`deno-ipsec ${cipher}`)
          : "strongSwan not measured",
      );
    }
  }
}

if (import.meta.main) {
  const t0 = Date.now();
  console.log(
    `compare: TCP ${TCP_RUNS} x ${SECONDS}s, UDP ${UDP_PAYLOAD}-byte payload ${UDP_SECONDS}s at ${
      UDP_RATES.join("/")
    } pkt/s; ${navigator.hardwareConcurrency} CPUs`,
  );
  const only = (Deno.env.get("BENCH_COMPARE") ?? "veth,strongswan,deno-ipsec").split(",");
  if (only.includes("veth")) await benchVeth();
  if (only.includes("strongswan")) { for (const c of CIPHERS) await benchStrongswan(c); }
  if (only.includes("deno-ipsec")) {
    for (const c of CIPHERS) {
      if (!(await benchOurs(c, false))) await benchOurs(c, true);
    }
  }
  ratios();
  console.log(formatTable(rows));
  console.log(`compare: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  await recordRows(rows);
}
