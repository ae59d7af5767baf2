/**
 * Two namespaces joined by a veth, each running tests/dataplane/_peer.ts
 * (our data plane with static SAs): the fixture for the tunnel tests and
 * the throughput benchmark. Always `close()` in `finally`.
 *
 * ```
 *  ns "a"                                   ns "b"
 *  tun 10.1.0.1 -- dp -- veth 192.0.2.1 ==== 192.0.2.2 veth -- dp -- tun 10.2.0.1
 * ```
 *
 * @module
 */

import { NetnsLab, waitForLine } from "../helpers/netns.ts";
import type { PeerConfig } from "./_peer.ts";

const PEER = new URL("./_peer.ts", import.meta.url).pathname;

/** Which tunnel to build. */
export interface TunnelOptions {
  mode?: "tunnel" | "transport";
  protocol?: "esp" | "ah";
  /** ESP in UDP on this port (0 = raw ESP). */
  encapPort?: number;
  crypto?: PeerConfig["crypto"];
  workers?: 1 | 2;
  /** False: the TUN fallback without io_uring (default: io_uring when available). */
  tunRing?: boolean;
  /** TUN offloads on both ends (default: the data plane's default). */
  tunOffload?: boolean;
  /** UDP_SEGMENT/UDP_GRO for ESP in UDP on both ends (default: the data plane's default). */
  udpOffload?: boolean;
  /** Runs after the namespaces exist and before either end starts (e.g. to leave stale routes). */
  beforeStart?: (lab: NetnsLab, a: string, b: string) => Promise<void>;
  /** Outer (veth) address family (default 4). */
  outer?: 4 | 6;
  /** Inner (TUN) address family in tunnel mode (default 4). */
  inner?: 4 | 6;
  /** IPComp on the ESP SAs: a->b uses CPI 0x0b0b (b's), b->a 0x0a0a (a's). */
  ipcomp?: boolean;
}

/** A running pair. */
export interface Tunnel {
  lab: NetnsLab;
  a: string;
  b: string;
  /** Veth names in a and b. */
  vethA: string;
  vethB: string;
  /** Outer addresses of a and b. */
  outerA: string;
  outerB: string;
  /** Inner addresses: ping `innerB` from `a`. */
  innerA: string;
  innerB: string;
  /** Counters and events of one end. */
  stats(end: "a" | "b"): Promise<{ stats: Record<string, unknown>; events: unknown[] }>;
  /** Sends a command line to one end's _peer.ts and returns its JSON answer. */
  command(end: "a" | "b", line: string): Promise<Record<string, unknown>>;
  /** Kills one end's process with SIGKILL (a crash: no clean-up of its own). */
  kill(end: "a" | "b"): Promise<void>;
  close(): Promise<void>;
}

interface PeerProc {
  child: Deno.ChildProcess;
  write(line: string): Promise<void>;
  next(): Promise<string>;
}

async function startPeer(lab: NetnsLab, ns: string, cfg: PeerConfig): Promise<PeerProc> {
  const child = lab.spawnDenoIn(ns, PEER, [JSON.stringify(cfg)], [
    // The least the data plane needs: FFI, and reading its Worker module.
    "--allow-ffi",
    "--allow-read",
    "--no-prompt",
    // Profiling hook for tests/bench (e.g. DP_PEER_V8_FLAGS=--perf-basic-prof for `perf`).
    ...(Deno.env.get("DP_PEER_V8_FLAGS") ? [`--v8-flags=${Deno.env.get("DP_PEER_V8_FLAGS")}`] : []),
  ]);
  let stderr = "";
  child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (c) => void (stderr += c) }),
  ).catch(() => {});
  const { rest } = await waitForLine(child.stdout, (l) => l.includes('"ready"')).catch((e) => {
    throw new Error(`${(e as Error).message}\nstderr:\n${stderr}`);
  });
  const reader = rest.getReader();
  const writer = child.stdin.getWriter();
  return {
    child,
    write: (line) => writer.write(new TextEncoder().encode(line + "\n")),
    async next() {
      const { value, done } = await reader.read();
      if (done) throw new Error(`peer ended; stderr:\n${stderr}`);
      return value;
    },
  };
}

/** Static key material a->b (ESP: AES-GCM-128 key + 4-byte salt = first 40 hex digits). */
export const KEY_AB = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
/** Static key material b->a. */
export const KEY_BA = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf";

/** Builds the two namespaces and starts both ends. */
export async function startTunnel(o: TunnelOptions = {}): Promise<Tunnel> {
  const lab = await NetnsLab.create("tdp-");
  try {
    const a = await lab.addNs("a");
    const b = await lab.addNs("b");
    const tag = lab.prefix.slice(4, 8);
    const vethA = `vda${tag}`;
    const vethB = `vdb${tag}`;
    const v6 = o.outer === 6;
    const outerA = v6 ? "2001:db8::1" : "192.0.2.1";
    const outerB = v6 ? "2001:db8::2" : "192.0.2.2";
    const plen = v6 ? 64 : 24;
    await lab.veth(a, vethA, `${outerA}/${plen}`, b, vethB, `${outerB}/${plen}`);
    const mode = o.mode ?? "tunnel";
    const protocol = o.protocol ?? "esp";
    const keyLen = protocol === "esp" ? 40 : 64;
    const transport = mode === "transport";
    // Transport mode protects traffic between the hosts' own addresses; the
    // TUN carries a /32 route to the peer in the dedicated table.
    const in6 = o.inner === 6;
    const innerA = transport ? outerA : in6 ? "fd00:1::1" : "10.1.0.1";
    const innerB = transport ? outerB : in6 ? "fd00:2::1" : "10.2.0.1";
    const host = in6 ? 128 : 32;
    const netA = transport ? `${outerA}/${v6 ? 128 : 32}` : in6 ? "fd00:1::/64" : "10.1.0.0/24";
    const netB = transport ? `${outerB}/${v6 ? 128 : 32}` : in6 ? "fd00:2::/64" : "10.2.0.0/24";
    const base = {
      mode,
      protocol,
      encapPort: o.encapPort ?? 0,
      mark: 0x5000,
      table: 220,
      crypto: o.crypto,
      workers: o.workers,
      ...(o.tunRing !== undefined ? { tunRing: o.tunRing } : {}),
      ...(o.tunOffload !== undefined ? { tunOffload: o.tunOffload } : {}),
      ...(o.udpOffload !== undefined ? { udpOffload: o.udpOffload } : {}),
    };
    const cfgA: PeerConfig = {
      ...base,
      tunName: "tdpa0",
      address: transport ? undefined : `${innerA}/${host}`,
      routeSource: innerA,
      localNet: netA,
      remoteNet: netB,
      local: outerA,
      remote: outerB,
      spiOut: 0x1001,
      spiIn: 0x2001,
      keyOut: KEY_AB.slice(0, keyLen),
      keyIn: KEY_BA.slice(0, keyLen),
      ...(o.ipcomp ? { cpiOut: 0x0b0b, cpiIn: 0x0a0a } : {}),
    };
    const cfgB: PeerConfig = {
      ...base,
      tunName: "tdpb0",
      address: transport ? undefined : `${innerB}/${host}`,
      routeSource: innerB,
      localNet: cfgA.remoteNet,
      remoteNet: cfgA.localNet,
      local: outerB,
      remote: outerA,
      spiOut: 0x2001,
      spiIn: 0x1001,
      keyOut: cfgA.keyIn,
      keyIn: cfgA.keyOut,
      ...(o.ipcomp ? { cpiOut: 0x0a0a, cpiIn: 0x0b0b } : {}),
    };
    await o.beforeStart?.(lab, a, b);
    const pa = await startPeer(lab, a, cfgA);
    const pb = await startPeer(lab, b, cfgB);
    const peers = { a: pa, b: pb };
    return {
      lab,
      a,
      b,
      vethA,
      vethB,
      outerA,
      outerB,
      innerA,
      innerB,
      async stats(end) {
        await peers[end].write("stats");
        return JSON.parse(await peers[end].next());
      },
      async command(end, line) {
        await peers[end].write(line);
        return JSON.parse(await peers[end].next());
      },
      async kill(end) {
        peers[end].child.kill("SIGKILL");
        await peers[end].child.status;
      },
      async close() {
        for (const p of [pa, pb]) {
          try {
            await p.write("stop");
            await p.next();
          } catch { /* killed below */ }
        }
        await lab.cleanup();
      },
    };
  } catch (e) {
    await lab.cleanup();
    throw e;
  }
}
