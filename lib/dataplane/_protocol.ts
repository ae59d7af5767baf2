/**
 * Messages between the main thread ({@link ../dataplane.ts}) and the
 * data-path Worker (`_worker.ts`). Private to lib/dataplane.
 *
 * Every control message carries an `id` and gets one `reply`. Before
 * posting, the main thread increments `posted` in the shared control block
 * and then writes the Worker's eventfd, so a Worker blocked in `poll()`
 * wakes, yields to its event loop until it has received that many
 * messages, and handles them between packet batches.
 *
 * @module
 */

import type { CryptoBackendPreference } from "../../ffi/crypto_backend.ts";
import type { SpdEntry } from "../db/spd.ts";
import type { DataplaneEvent, DataplaneStats, PolicyInstance } from "./core.ts";
import type { SaSpec } from "./sa_spec.ts";

/** Worker start-up parameters (from Dataplane.start options). */
export interface WorkerInit {
  type: "init";
  /**
   * What this Worker does: "both" directions, or only "out" (TUN ->
   * encrypt -> send; owns the TUN) or "in" (receive -> decrypt -> TUN;
   * owns the receiving sockets and writes to the TUN fd it is given).
   */
  role: "both" | "out" | "in";
  /** Role "in": the TUN fd opened by the "out" Worker (fds are process-wide). */
  tunFd?: number;
  /** Role "in": the UDP encapsulation sockets the "out" Worker opened (UDP_GRO on or not). */
  udpFds?: { fd: number; family: 4 | 6; gro: boolean }[];
  /**
   * True: UDP segmentation offload (UDP_SEGMENT) for ESP in UDP and
   * UDP_GRO on the encapsulation socket.
   */
  udpOffload?: boolean;
  /** Int32Array over a SharedArrayBuffer: [0] = control messages posted. */
  control: SharedArrayBuffer;
  tunName: string;
  tunMtu: number;
  /** fwmark for every packet we send (policy routing skips the TUN table). */
  mark: number;
  /** Bind UDP on this port (v4 and v6) for ESP-in-UDP and IKE (4500); 0 = none. */
  udpEncapPort: number;
  /** Open raw AH sockets too. */
  ah: boolean;
  /** Open IPv6 sockets too. */
  ipv6: boolean;
  crypto: CryptoBackendPreference;
  batch: number;
  acquireQueue: number;
  acquireTimeoutMs: number;
  /** Poll timeout = housekeeping period (ms). */
  tickMs: number;
  /** False: plain read/write on the TUN even where io_uring would batch them. */
  tunRing?: boolean;
  /**
   * "out"/"both": try TUN offloads (virtio_net_hdr, TSO, checksum; see
   * offload.ts). "in": the TUN fd has them on (as the "out" Worker reported).
   */
  tunOffload?: boolean;
}

/** A control request from the main thread. */
export type ControlRequest =
  | { type: "installSa"; spec: SaSpec }
  | { type: "removeSa"; direction: "in" | "out"; protocol: "esp" | "ah"; spi: number }
  | {
    type: "updateSa";
    direction: "in" | "out";
    protocol: "esp" | "ah";
    spi: number;
    local: Uint8Array;
    remote: Uint8Array;
    encap?: { localPort: number; remotePort: number };
  }
  | { type: "setPolicies"; entries: SpdEntry[] | null; instances?: PolicyInstance[] }
  | { type: "addPolicyInstance"; instance: PolicyInstance }
  | { type: "removePolicyInstance"; key: string }
  | {
    type: "sendIke";
    data: Uint8Array;
    remote: Uint8Array;
    remotePort: number;
    /** Send `data` as it is (a NAT-T keepalive), without the non-ESP marker. */
    raw?: boolean;
    /** Our address to send from (the socket is bound to the wildcard); absent = the route's. */
    local?: Uint8Array;
  }
  | { type: "stats" }
  | { type: "stop" };

/** A request as posted: with its id. */
export type ControlMessage = ControlRequest & { id: number };

/** The answer to one control message. */
export type WorkerReply =
  | { type: "reply"; id: number; ok: true; value?: boolean | DataplaneStats }
  | { type: "reply"; id: number; ok: false; error: string };

/** What the Worker posts back. */
export type WorkerMessage =
  | {
    type: "ready";
    wakeFd: number;
    tunName: string;
    tunFd: number;
    backend: string;
    /** The TUN carries virtio_net_hdr frames (offloads accepted). */
    tunOffload: boolean;
    /** The UDP encapsulation sockets opened (role "out"/"both"). */
    udpFds: { fd: number; family: 4 | 6; gro: boolean }[];
  }
  | WorkerReply
  /** The replies to every control message handled in one wake-up, in order. */
  | { type: "replies"; replies: WorkerReply[] }
  | { type: "event"; event: DataplaneEvent }
  | { type: "fatal"; message: string };
