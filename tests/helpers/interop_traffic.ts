/**
 * Traffic through a tunnel between two namespaces, for the full-system
 * interop tests: pings in both directions, and a TCP transfer of random bytes
 * whose SHA-256 the receiver computes independently (python3's hashlib).
 *
 * @example
 * ```ts
 * await pingBothWays(lab, { ns: d, ip: "10.2.0.1" }, { ns: c, ip: "10.1.0.1" });
 * await tcpTransfer(lab, { ns: d, ip: "10.2.0.1" }, { ns: c, ip: "10.1.0.1" }, 1 << 20);
 * ```
 *
 * @module
 */
import { toHex } from "../../lib/wire/bytes.ts";
import type { NetnsLab, RunResult } from "./netns.ts";

/** An inner (protected) address and the namespace that owns it. */
export interface Host {
  ns: string;
  ip: string;
}

/**
 * Pings from `from` to `to` every `interval` seconds, sourced from the inner
 * address, until `count` replies came back (or 10 s passed: then it fails).
 * With `exact`, exactly `count` requests are sent instead and any loss fails.
 */
export function ping(
  lab: NetnsLab,
  from: Host,
  to: Host,
  count = 3,
  interval = 0.2,
  exact = false,
): Promise<RunResult> {
  return lab.runIn(from.ns, [
    "ping",
    "-c",
    String(count),
    "-i",
    String(interval),
    ...(exact ? ["-W", "2"] : ["-w", "10"]),
    "-I",
    from.ip,
    to.ip,
  ]);
}

/** Pings `b` from `a` and `a` from `b` (3 each, sourced from the inner addresses). */
export async function pingBothWays(lab: NetnsLab, a: Host, b: Host): Promise<void> {
  for (const [from, to] of [[a, b], [b, a]]) {
    const r = await ping(lab, from, to);
    if (r.code !== 0) {
      throw new Error(`ping ${from.ip} -> ${to.ip} through the tunnel failed:\n${r.stdout}`);
    }
  }
}

// The receiver picks the address family from its address (IPv4 or IPv6).
const SERVER = `
import hashlib, socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
print("listening", flush=True)
c, _ = s.accept()
h, n = hashlib.sha256(), 0
while True:
    b = c.recv(65536)
    if not b:
        break
    h.update(b)
    n += len(b)
print(n, h.hexdigest(), flush=True)
`;

const CLIENT = `
import socket, sys
data = open(sys.argv[4], "rb").read()
c = socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=20, source_address=(sys.argv[1], 0))
c.sendall(data)
c.shutdown(socket.SHUT_WR)
c.close()
`;

/**
 * Sends `bytes` random bytes over TCP from `client` to `server` and checks
 * the receiver got exactly them (length and SHA-256). `compressible`: lines
 * of text with a random number each instead (what IPComp shrinks).
 */
export async function tcpTransfer(
  lab: NetnsLab,
  client: Host,
  server: Host,
  bytes: number,
  port = 5001,
  compressible = false,
): Promise<void> {
  const data = new Uint8Array(bytes);
  if (compressible) {
    const enc = new TextEncoder();
    for (let i = 0; i < bytes;) {
      const line = enc.encode(`line ${i} of a compressible stream: ${Math.random()}\n`);
      data.set(line.subarray(0, bytes - i), i);
      i += line.length;
    }
  } else {
    for (let i = 0; i < bytes; i += 65536) {
      crypto.getRandomValues(data.subarray(i, Math.min(bytes, i + 65536)));
    }
  }
  const file = await lab.tempFile(".bin");
  await Deno.writeFile(file, data);
  const want = toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", data)));
  const srv = lab.spawnIn(server.ns, ["python3", "-c", SERVER, server.ip, String(port)]);
  const lines = srv.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  const readLine = async (): Promise<string> => {
    while (!out.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) throw new Error(`TCP server ended early: ${out}`);
      out += value;
    }
    const i = out.indexOf("\n");
    const line = out.slice(0, i);
    out = out.slice(i + 1);
    return line;
  };
  await readLine();
  const c = await lab.runIn(client.ns, [
    "python3",
    "-c",
    CLIENT,
    client.ip,
    server.ip,
    String(port),
    file,
  ]);
  if (c.code !== 0) throw new Error(`TCP client failed: ${c.stderr}`);
  const [n, got] = (await readLine()).split(" ");
  lines.releaseLock();
  if (Number(n) !== bytes || got !== want) {
    throw new Error(`TCP transfer corrupted: got ${n} bytes ${got}, sent ${bytes} bytes ${want}`);
  }
}

/** Both ways through a tunnel: pings each way, then `bytes` over TCP each way checked by SHA-256. */
export async function trafficBothWays(
  lab: NetnsLab,
  a: Host,
  b: Host,
  bytes = 1 << 20,
): Promise<void> {
  await pingBothWays(lab, a, b);
  await tcpTransfer(lab, a, b, bytes);
  await tcpTransfer(lab, b, a, bytes, 5002);
}
