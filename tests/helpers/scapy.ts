/**
 * Runs tests/helpers/scapy_ipsec.py (Debian's /usr/bin/python3 with scapy) on
 * a batch of ESP/AH cases in one process. Without python3-scapy the tests
 * fail with a message saying how to install it (never skip silently).
 *
 * @module
 */

/** One case for the python oracle (see the docstring of scapy_ipsec.py). */
export interface ScapyCase {
  op: "decrypt" | "encrypt" | "checksums";
  proto?: "ESP" | "AH";
  spi?: number;
  seq?: number;
  crypt_algo?: string;
  crypt_key?: string;
  crypt_icv_size?: number;
  auth_algo?: string;
  auth_key?: string;
  tunnel?: { src: string; dst: string } | null;
  nat_t?: { sport: number; dport: number } | null;
  esn_en?: boolean;
  esn?: number;
  packet: string;
}

/** The oracle's answer for one case. */
export type ScapyResult = { ok: true; packet: string } | { ok: false; error: string };

const PYTHON = "/usr/bin/python3";
const SCRIPT = new URL("./scapy_ipsec.py", import.meta.url).pathname;

/** Runs all `cases` in one python process. */
export async function runScapy(cases: ScapyCase[]): Promise<ScapyResult[]> {
  const child = new Deno.Command(PYTHON, {
    args: [SCRIPT],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(JSON.stringify({ cases })));
  await w.close();
  const out = await child.output();
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr);
    const hint = err.includes("No module named")
      ? " (install python3-scapy: bash .ci/install_deps.sh)"
      : "";
    throw new Error(`scapy helper failed${hint}: ${err}`);
  }
  const res = JSON.parse(new TextDecoder().decode(out.stdout)) as { results: ScapyResult[] };
  return res.results;
}
