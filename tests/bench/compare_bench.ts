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
 * AES-GCM-128, AES-GCM-256, ChaCha20-Poly1305, one after the other. Per
 * cipher both tunnels are up at once (two namespace pairs) and the runs
 * alternate: TCP run 1 strongSwan, TCP run 1 deno-ipsec, run 2 ..., then
 * each UDP rate for both; so the two figures of a ratio are taken seconds
 * apart. Ratios us/strongSwan close the table. Cases that cannot be measured print
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
): Promise<{ result: T; cpuA: number; cpuB: number; ms: number }> {
  const [a0, b0, t0] = [await cpuOf(p.pids.a), await cpuOf(p.pids.b), Date.now()];
  const result = await f();
  const ms = Date.now() - t0;
  return {
    result,
    cpuA: cpuPercent(a0, await cpuOf(p.pids.a), ms),
    cpuB: cpuPercent(b0, await cpuOf(p.pids.b), ms),
    ms,
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

/** A case being measured: its row name and path. */
interface Case {
  name: string;
  p: Path;
}

/** CPU ticks of both sides' daemons summed over a case's runs. */
interface CpuSum {
  a: number;
  b: number;
  ms: number;
}

/** One iperf3 run of `c` with its daemons' CPU added to `cpu`. */
async function timed<T>(c: Case, cpu: CpuSum, f: () => Promise<T>): Promise<T> {
  const u = await withCpu(c.p, f);
  cpu.a += u.cpuA * u.ms;
  cpu.b += u.cpuB * u.ms;
  cpu.ms += u.ms;
  return u.result;
}

/**
 * All iperf3 measurements of `cases`, interleaved: TCP run 1 of every case,
 * then run 2, ...; then each UDP rate for every case in turn. Figures that
 * are compared (strongSwan and us, one cipher) are thus taken seconds apart,
 * not a whole pass apart: this VM's speed drifts by tens of percent from
 * one minute to the next. Failures become `null` rows with the reason.
 */
async function measure(cases: readonly Case[]): Promise<void> {
  const daemons = (c: Case) => c.p.pids.a.length + c.p.pids.b.length > 0;
  const tcp = cases.map(() => ({ runs: [] as number[], error: "", cpu: { a: 0, b: 0, ms: 0 } }));
  for (let i = 0; i < TCP_RUNS; i++) {
    for (const [k, c] of cases.entries()) {
      if (tcp[k].error) continue;
      try {
        const j = await timed(c, tcp[k].cpu, () => iperf(c.p, [], SECONDS));
        tcp[k].runs.push((j.end.sum_received?.bits_per_second ?? 0) / 1e6);
      } catch (e) {
        tcp[k].error = (e as Error).message.slice(0, 120);
      }
    }
  }
  for (const [k, c] of cases.entries()) {
    const t = tcp[k];
    if (t.error) {
      add(c.name, "tcp", null, "Mbit/s", `failed: ${t.error}`);
      continue;
    }
    add(c.name, "tcp", median(t.runs), "Mbit/s", `median of ${TCP_RUNS} x ${SECONDS}s`);
    if (daemons(c)) {
      add(c.name, "cpu_a@tcp", t.cpu.a / t.cpu.ms, "%core", "initiator daemon, TCP sender side");
      add(c.name, "cpu_b@tcp", t.cpu.b / t.cpu.ms, "%core", "responder daemon");
    }
  }
  for (const rate of UDP_RATES) {
    const bits = rate === "max" ? "0" : String(rate * UDP_PAYLOAD * 8);
    for (const c of cases) {
      try {
        const cpu = { a: 0, b: 0, ms: 0 };
        const args = ["-u", "-l", String(UDP_PAYLOAD), "-b", bits, "-w", "4M"];
        const j = await timed(c, cpu, () => iperf(c.p, args, UDP_SECONDS));
        const s = j.end.sum;
        if (!s) throw new Error("iperf3 JSON without end.sum");
        const delivered = (s.packets - s.lost_packets) / s.seconds;
        add(
          c.name,
          `udp_pps@${rate}`,
          delivered,
          "pkt/s",
          `offered ${Math.round(s.packets / s.seconds)}`,
        );
        add(c.name, `loss@${rate}`, s.lost_percent, "%");
        if (daemons(c) && rate === "max") {
          add(c.name, "cpu_a@udpmax", cpu.a / cpu.ms, "%core");
          add(c.name, "cpu_b@udpmax", cpu.b / cpu.ms, "%core");
        }
      } catch (e) {
        const msg = (e as Error).message.slice(0, 120);
        add(c.name, `udp_pps@${rate}`, null, "pkt/s", `failed: ${msg}`);
      }
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
    await measure([{
      name: "veth (no IPsec)",
      p: { lab, a, b, src: A.outer, dst: B.outer, pids: { a: [], b: [] } },
    }]);
  } finally {
    await lab.cleanup();
  }
}

/** A tunnel set up and carrying a ping, until `close`. */
interface Running extends Case {
  close(): Promise<void>;
}

/** charon in both namespaces of a fresh pair, the tunnel up. Throws with the reason. */
async function startStrongswan(cipher: string): Promise<Running> {
  const { lab, a, b } = await twoNamespaces();
  const dir = await Deno.makeTempDir({ prefix: "tbc-swan-" });
  const charons: Charon[] = [];
  const close = async () => {
    for (const c of charons) await c.stop();
    await lab.cleanup();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
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
    const pids = { a: await daemonPids(a), b: await daemonPids(b) };
    return {
      name: `strongswan ${cipher}`,
      p: { lab, a, b, src: A.inner, dst: B.inner, pids },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/**
 * Our daemons in both namespaces of a fresh pair, the tunnel up. Throws with
 * the reason (and prints the daemons' logs when `lastTry`).
 */
async function startOurs(cipher: string, lastTry: boolean): Promise<Running> {
  const name = `deno-ipsec ${cipher}`;
  const { lab, a, b } = await twoNamespaces();
  const dir = await Deno.makeTempDir({ prefix: "tbc-us-" });
  const logs = new Map<string, string>();
  const ipsec = [Deno.execPath(), "run", "-A", `${ROOT}cli/main.ts`];
  const children: Deno.ChildProcess[] = [];
  const close = async () => {
    for (const c of children) {
      if (c.pid) await run(["kill", "-TERM", String(c.pid)]);
    }
    await lab.cleanup();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
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
    const pids = { a: await daemonPids(a), b: await daemonPids(b) };
    return { name, p: { lab, a, b, src: A.inner, dst: B.inner, pids }, close };
  } catch (e) {
    if (lastTry) {
      for (const [ns, log] of logs) {
        if (log.trim()) {
          console.error(
            `--- daemon log ${ns} (tail) ---\n${log.trim().split("\n").slice(-15).join("\n")}`,
          );
        }
      }
    }
    await close();
    throw e;
  }
}

/**
 * One cipher: strongSwan's tunnel and ours set up side by side (each in its
 * own pair of namespaces; the idle one costs next to nothing), then
 * measured interleaved ({@link measure}). A side that cannot be set up gets
 * a "not measured" row with the reason; ours is tried twice (busy machine).
 */
async function benchCipher(cipher: string, swan: boolean, us: boolean): Promise<void> {
  const running: Running[] = [];
  const first = (e: unknown) => (e as Error).message.split("\n")[0].slice(0, 160);
  try {
    if (swan) {
      try {
        running.push(await startStrongswan(cipher));
      } catch (e) {
        console.log(`strongswan ${cipher}: not measured (${first(e)})`);
        add(`strongswan ${cipher}`, "tcp", null, "Mbit/s", `not measured: ${first(e)}`);
      }
    }
    if (us) {
      try {
        running.push(
          await startOurs(cipher, false).catch((e) => {
            console.log(`deno-ipsec ${cipher}: setup failed (${first(e)}), trying once more`);
            return startOurs(cipher, true);
          }),
        );
      } catch (e) {
        console.log(`deno-ipsec: not measured (${cipher}: ${first(e)})`);
        add(`deno-ipsec ${cipher}`, "tcp", null, "Mbit/s", `not measured: ${first(e)}`);
      }
    }
    if (running.length > 0) await measure(running);
  } finally {
    for (const r of running) await r.close();
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
  for (const c of CIPHERS) {
    await benchCipher(c, only.includes("strongswan"), only.includes("deno-ipsec"));
  }
  ratios();
  console.log(formatTable(rows));
  console.log(`compare: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  await recordRows(rows);
}
