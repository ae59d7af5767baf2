/**
 * One tunnel end for tests/dataplane/*_test.ts and tests/bench/dataplane_bench.ts,
 * started inside a namespace: starts the Dataplane with statically keyed
 * SAs (no IKE), prints "ready", then answers commands on stdin, one per
 * line: "stats" prints the counters as JSON, "stop" stops and exits.
 *
 * Argument: a JSON {@linkcode PeerConfig}.
 *
 * @module
 */

import { ifNameToIndex } from "../../ffi/libc.ts";
import { ipToBytes, parseIp } from "../../lib/db/address.ts";
import { ANY_PORT, parseAddressSelector, type Selector } from "../../lib/db/selector.ts";
import type { SpdEntry } from "../../lib/db/spd.ts";
import { Dataplane, type EncryptionSpec, type SaSpec } from "../../lib/dataplane/dataplane.ts";

/** Static configuration of one end. */
export interface PeerConfig {
  tunName: string;
  /** TUN address, e.g. "10.1.0.1/32" (none in transport mode). */
  address?: string;
  /** Source address for traffic routed into the TUN. */
  routeSource: string;
  /** Our protected network, e.g. "10.1.0.0/24". */
  localNet: string;
  /** The peer's protected network (routed into the TUN). */
  remoteNet: string;
  /** Outer addresses. */
  local: string;
  remote: string;
  mode: "tunnel" | "transport";
  protocol: "esp" | "ah";
  spiOut: number;
  spiIn: number;
  /** Hex keys: for ESP AES-GCM-128 key+salt (20 bytes), for AH an HMAC-SHA256 key (32 bytes). */
  keyOut: string;
  keyIn: string;
  /** UDP encapsulation port (both sides) or 0. */
  encapPort: number;
  mark: number;
  table: number;
  crypto?: "auto" | "libcrypto" | "node" | "noble";
  /** Data-path Workers (default 2). */
  workers?: 1 | 2;
  /** False: plain TUN read/write instead of io_uring batches. */
  tunRing?: boolean;
  /** TUN offloads (TSO super-packets segmented by the data plane). */
  tunOffload?: boolean;
  /** UDP_SEGMENT/UDP_GRO for ESP in UDP (default: the data plane's default). */
  udpOffload?: boolean;
  /** IPComp CPIs (ESP): outbound the peer's, inbound ours. */
  cpiOut?: number;
  cpiIn?: number;
}

const cfg = JSON.parse(Deno.args[0]) as PeerConfig;
const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)));
const ip = (s: string) => ipToBytes(parseIp(s)!);

const sel: Selector = {
  localAddress: parseAddressSelector(cfg.localNet),
  remoteAddress: parseAddressSelector(cfg.remoteNet),
  protocol: "any",
  localPort: ANY_PORT,
  remotePort: ANY_PORT,
};
const entries: SpdEntry[] = [{
  label: "test",
  selectors: [sel],
  action: "protect",
  processing: { protocol: cfg.protocol, mode: cfg.mode, proposals: [] },
}];

function sa(direction: "in" | "out"): SaSpec {
  const key = hex(direction === "out" ? cfg.keyOut : cfg.keyIn);
  const encryption: EncryptionSpec | undefined = cfg.protocol === "esp"
    ? { alg: "aes-gcm", key: key.subarray(0, 16), salt: key.subarray(16, 20), icvLength: 16 }
    : undefined;
  return {
    direction,
    protocol: cfg.protocol,
    spi: direction === "out" ? cfg.spiOut : cfg.spiIn,
    mode: cfg.mode,
    local: ip(cfg.local),
    remote: ip(cfg.remote),
    encap: cfg.encapPort ? { localPort: cfg.encapPort, remotePort: cfg.encapPort } : undefined,
    encryption,
    integrity: cfg.protocol === "ah" ? { alg: "hmac-sha256", key, icvLength: 16 } : undefined,
    selectors: [sel],
    ...(cfg.cpiOut && cfg.cpiIn
      ? { ipcomp: { cpi: direction === "out" ? cfg.cpiOut : cfg.cpiIn } }
      : {}),
  };
}

const dp = await Dataplane.start({
  tunName: cfg.tunName,
  tunMtu: 1400,
  mark: cfg.mark,
  table: cfg.table,
  addresses: cfg.address ? [cfg.address] : [],
  routes: [cfg.remoteNet],
  routeSource: [cfg.routeSource],
  udpEncapPort: cfg.encapPort,
  crypto: cfg.crypto ?? "auto",
  workers: cfg.workers,
  ...(cfg.tunRing !== undefined ? { tunRing: cfg.tunRing } : {}),
  ...(cfg.tunOffload !== undefined ? { tunOffload: cfg.tunOffload } : {}),
  ...(cfg.udpOffload !== undefined ? { udpOffload: cfg.udpOffload } : {}),
});
const events: unknown[] = [];
dp.on((e) => events.push(e));
await dp.setPolicies(entries);
await dp.installSa(sa("in"));
await dp.installSa(sa("out"));
console.log(JSON.stringify({ ready: true, backend: dp.backend, tunOffload: dp.tunOffload }));

const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
let buf = "";
for await (const chunk of lines) {
  buf += chunk;
  let nl: number;
  while ((nl = buf.indexOf("\n")) >= 0) {
    const cmd = buf.slice(0, nl).trim();
    buf = buf.slice(nl + 1);
    if (cmd === "stats") {
      console.log(JSON.stringify({ stats: await dp.stats(), events }));
    } else if (cmd === "remove-out") {
      const removed = await dp.removeSa("out", cfg.protocol, cfg.spiOut);
      console.log(JSON.stringify({ removed }));
    } else if (cmd.startsWith("ike ")) {
      // "ike HEX": an IKE message to the peer's encapsulation port.
      const sent = await dp.sendIke(hex(cmd.slice(4)), ip(cfg.remote), cfg.encapPort);
      console.log(JSON.stringify({ sent }));
    } else if (cmd === "stop") {
      await dp.stop();
      let tunGone = false;
      try {
        ifNameToIndex(cfg.tunName);
      } catch {
        tunGone = true;
      }
      console.log(JSON.stringify({ stopped: true, tunGone }));
      Deno.exit(0);
    }
  }
}
await dp.stop();
