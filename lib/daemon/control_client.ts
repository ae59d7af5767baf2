import {
  CONTROL_PROTOCOL_VERSION,
  type ControlCommand,
  ControlError,
  type ControlResponse,
  type Json,
} from "./control_protocol.ts";

/** The daemon is not running (no socket, or nobody listening on it). */
export class DaemonNotRunning extends Error {
  override readonly name = "DaemonNotRunning";
  constructor(path: string) {
    super(`no ipsec daemon is listening on ${path} (start one with 'ipsec start')`);
  }
}

/**
 * A connection to the daemon's control socket.
 *
 * @example
 * ```ts
 * const c = await ControlClient.connect("/run/ipsec/ipsec.sock");
 * const status = await c.call("status");
 * c.close();
 * ```
 */
export class ControlClient {
  #conn: Deno.UnixConn;
  #nextId = 1;
  #buf = "";
  #dec = new TextDecoder();
  #chunk = new Uint8Array(65536);

  private constructor(conn: Deno.UnixConn) {
    this.#conn = conn;
  }

  static async connect(path: string): Promise<ControlClient> {
    try {
      return new ControlClient(await Deno.connect({ transport: "unix", path }));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.ConnectionRefused) {
        throw new DaemonNotRunning(path);
      }
      throw e;
    }
  }

  async #send(cmd: ControlCommand, args: { [k: string]: Json }): Promise<number> {
    const id = this.#nextId++;
    const line = JSON.stringify({ v: CONTROL_PROTOCOL_VERSION, id, cmd, args }) + "\n";
    await this.#conn.write(new TextEncoder().encode(line));
    return id;
  }

  async #readLine(): Promise<ControlResponse | null> {
    while (true) {
      const nl = this.#buf.indexOf("\n");
      if (nl >= 0) {
        const line = this.#buf.slice(0, nl);
        this.#buf = this.#buf.slice(nl + 1);
        return JSON.parse(line) as ControlResponse;
      }
      const n = await this.#conn.read(this.#chunk);
      if (n === null) return null;
      this.#buf += this.#dec.decode(this.#chunk.subarray(0, n), { stream: true });
    }
  }

  /** Sends a command and returns its data; throws {@link ControlError} on failure. */
  async call(cmd: ControlCommand, args: { [k: string]: Json } = {}): Promise<Json> {
    const id = await this.#send(cmd, args);
    while (true) {
      const r = await this.#readLine();
      if (r === null) throw new ControlError("FAILED", "daemon closed the connection");
      if (r.id !== id || "event" in r) continue;
      if (r.ok) return r.data;
      throw new ControlError(r.error.code, r.error.message);
    }
  }

  /** Sends a streaming command and yields its events until the daemon ends it. */
  async *stream(cmd: ControlCommand, args: { [k: string]: Json } = {}): AsyncGenerator<Json> {
    const id = await this.#send(cmd, args);
    while (true) {
      const r = await this.#readLine();
      if (r === null) return;
      if (r.id !== id) continue;
      if ("event" in r) yield r.event;
      else if (!r.ok) throw new ControlError(r.error.code, r.error.message);
      else return;
    }
  }

  close(): void {
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }
}
