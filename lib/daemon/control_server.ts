import {
  CONTROL_PROTOCOL_VERSION,
  type ControlCommand,
  ControlError,
  type ControlRequest,
  type ControlResponse,
  type Json,
  parseControlRequest,
} from "./control_protocol.ts";

/** Answers one request; may throw {@link ControlError}. */
export type ControlHandler = (req: ControlRequest) => Json | Promise<Json>;

/** Streams events until `signal` aborts (the client went away). */
export type ControlStreamHandler = (
  req: ControlRequest,
  emit: (event: Json) => void,
  signal: AbortSignal,
) => Promise<void>;

export interface ControlHandlers {
  commands: Partial<Record<ControlCommand, ControlHandler>>;
  streams?: Partial<Record<ControlCommand, ControlStreamHandler>>;
}

const MAX_LINE = 1 << 20;

/**
 * The daemon's control server on a Unix socket created with mode 0600.
 * One JSON request per line; several requests per connection are allowed.
 */
export class ControlServer {
  readonly path: string;
  #listener: Deno.Listener<Deno.UnixConn> | null = null;
  #conns = new Set<Deno.UnixConn>();
  #handlers: ControlHandlers;
  #done: Promise<void> | null = null;

  constructor(path: string, handlers: ControlHandlers) {
    this.path = path;
    this.#handlers = handlers;
  }

  /** Creates the socket (replacing a stale one) and starts accepting. */
  async start(): Promise<void> {
    const dir = this.path.slice(0, this.path.lastIndexOf("/"));
    if (dir) await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    try {
      await Deno.remove(this.path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    this.#listener = Deno.listen({ transport: "unix", path: this.path });
    await Deno.chmod(this.path, 0o600);
    this.#done = this.#acceptLoop(this.#listener);
  }

  async #acceptLoop(l: Deno.Listener<Deno.UnixConn>): Promise<void> {
    const pending = new Set<Promise<void>>();
    try {
      for await (const conn of l) {
        this.#conns.add(conn);
        const p = this.#serve(conn).finally(() => {
          this.#conns.delete(conn);
          pending.delete(p);
        });
        pending.add(p);
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.BadResource)) throw e;
    }
    await Promise.allSettled([...pending]);
  }

  async #serve(conn: Deno.UnixConn): Promise<void> {
    const enc = new TextEncoder();
    const dec = new TextDecoder();
    const abort = new AbortController();
    const write = async (r: ControlResponse) => {
      await conn.write(enc.encode(JSON.stringify(r) + "\n"));
    };
    let buf = "";
    const chunk = new Uint8Array(65536);
    try {
      while (true) {
        const n = await conn.read(chunk);
        if (n === null) break;
        buf += dec.decode(chunk.subarray(0, n), { stream: true });
        if (buf.length > MAX_LINE) {
          await write({
            v: CONTROL_PROTOCOL_VERSION,
            id: 0,
            ok: false,
            error: { code: "BAD_REQUEST", message: "request line too long" },
          });
          break;
        }
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.trim() === "") continue;
          await this.#answer(line, write, abort.signal);
        }
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.BadResource || e instanceof Deno.errors.ConnectionReset)) {
        throw e;
      }
    } finally {
      abort.abort();
      try {
        conn.close();
      } catch { /* already closed */ }
    }
  }

  async #answer(
    line: string,
    write: (r: ControlResponse) => Promise<void>,
    signal: AbortSignal,
  ): Promise<void> {
    const v = CONTROL_PROTOCOL_VERSION;
    let id = 0;
    try {
      const req = parseControlRequest(line);
      id = req.id;
      const stream = this.#handlers.streams?.[req.cmd];
      if (stream) {
        await stream(req, (event) => void write({ v, id, event }).catch(() => {}), signal);
        return;
      }
      const h = this.#handlers.commands[req.cmd];
      if (!h) throw new ControlError("BAD_REQUEST", `command '${req.cmd}' is not available`);
      const data = await h(req);
      await write({ v, id, ok: true, data });
    } catch (e) {
      const err = e instanceof ControlError
        ? { code: e.code, message: e.message }
        : { code: "FAILED" as const, message: e instanceof Error ? e.message : String(e) };
      await write({ v, id, ok: false, error: err });
    }
  }

  /** Stops accepting, closes every connection and removes the socket file. */
  async close(): Promise<void> {
    this.#listener?.close();
    this.#listener = null;
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* already closed */ }
    }
    await this.#done;
    try {
      await Deno.remove(this.path);
    } catch { /* gone */ }
  }
}
