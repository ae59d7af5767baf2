import {
  CONTROL_PROTOCOL_VERSION,
  type ControlCommand,
  ControlError,
  type ControlErrorCode,
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

function errorBody(e: unknown): { code: ControlErrorCode; message: string } {
  return e instanceof ControlError
    ? { code: e.code, message: e.message }
    : { code: "FAILED", message: e instanceof Error ? e.message : String(e) };
}

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
    // Writes are chained so streamed events and the final answer never interleave.
    let tail: Promise<void> = Promise.resolve();
    const write = (r: ControlResponse): Promise<void> => {
      const bytes = enc.encode(JSON.stringify(r) + "\n");
      tail = tail.catch(() => {}).then(async () => {
        for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
      });
      return tail;
    };
    let buf = "";
    const chunk = new Uint8Array(65536);
    // Streams run beside the read loop so a client that hangs up ends them (abort).
    const streams = new Set<Promise<void>>();
    const background = (p: Promise<void>) => {
      streams.add(p);
      void p.finally(() => streams.delete(p));
    };
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
          await this.#answer(line, write, abort.signal, background);
        }
      }
    } catch (e) {
      // The peer went away, or close() shut the connection under a pending read.
      if (
        !(e instanceof Deno.errors.BadResource || e instanceof Deno.errors.ConnectionReset ||
          e instanceof Deno.errors.Interrupted || e instanceof Deno.errors.BrokenPipe)
      ) {
        throw e;
      }
    } finally {
      abort.abort();
      await Promise.allSettled([...streams]);
      try {
        conn.close();
      } catch { /* already closed */ }
    }
  }

  async #answer(
    line: string,
    write: (r: ControlResponse) => Promise<void>,
    signal: AbortSignal,
    background: (p: Promise<void>) => void,
  ): Promise<void> {
    const v = CONTROL_PROTOCOL_VERSION;
    let id = 0;
    try {
      const req = parseControlRequest(line);
      id = req.id;
      const stream = this.#handlers.streams?.[req.cmd];
      if (stream) {
        background(
          (async () => {
            try {
              await stream(req, (event) => void write({ v, id, event }).catch(() => {}), signal);
              // The stream ended on the daemon's side: tell the client so it stops reading.
              if (!signal.aborted) await write({ v, id, ok: true, data: null });
            } catch (e) {
              if (!signal.aborted) await write({ v, id, ok: false, error: errorBody(e) });
            }
          })().catch(() => {}),
        );
        return;
      }
      const h = this.#handlers.commands[req.cmd];
      if (!h) throw new ControlError("BAD_REQUEST", `command '${req.cmd}' is not available`);
      const data = await h(req);
      await write({ v, id, ok: true, data });
    } catch (e) {
      await write({ v, id, ok: false, error: errorBody(e) });
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
