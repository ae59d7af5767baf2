/**
 * UDP to RADIUS servers for EAP pass-through (the engine's `sendRadius`
 * effect): one socket per address family, opened on first use on an
 * ephemeral port; every datagram that comes back goes to `onAnswer` (the
 * engine matches and verifies it).
 *
 * @module
 */
import dgram from "node:dgram";
import type { Endpoint } from "../ikev2/effects.ts";

/** RADIUS client sockets. */
export class RadiusTransport {
  #sockets = new Map<4 | 6, dgram.Socket>();
  #onAnswer: (bytes: Uint8Array, from: Endpoint) => void;
  #onError: (message: string) => void;

  constructor(
    onAnswer: (bytes: Uint8Array, from: Endpoint) => void,
    onError: (message: string) => void,
  ) {
    this.#onAnswer = onAnswer;
    this.#onError = onError;
  }

  /** Sends `bytes` to the server at `to`. */
  send(to: { address: string; port: number }, bytes: Uint8Array): void {
    const family = to.address.includes(":") ? 6 : 4;
    let s = this.#sockets.get(family);
    if (!s) {
      s = dgram.createSocket(family === 6 ? "udp6" : "udp4");
      s.on(
        "message",
        (msg, rinfo) =>
          this.#onAnswer(new Uint8Array(msg), { address: rinfo.address, port: rinfo.port }),
      );
      s.on("error", (e) => this.#onError(`RADIUS socket: ${e.message}`));
      s.bind(0);
      this.#sockets.set(family, s);
    }
    s.send(bytes, to.port, to.address, (e) => {
      if (e) this.#onError(`cannot send to RADIUS server ${to.address}:${to.port}: ${e.message}`);
    });
  }

  close(): void {
    for (const s of this.#sockets.values()) s.close();
    this.#sockets.clear();
  }
}
