/**
 * DNS servers a gateway assigned (INTERNAL_IP4_DNS / INTERNAL_IP6_DNS in its
 * CFG_REPLY, RFC 7296 section 3.15.1) written into resolv.conf, the way
 * strongSwan's resolve plugin does without resolvconf: one tagged line per
 * server at the top of the file, so the system resolver asks the tunnel's
 * servers first, and exactly those lines removed again when the last IKE SA
 * that brought a server goes away. Lines someone else wrote are never
 * touched; lines with our tag left by a daemon that died are removed when
 * the next one starts.
 *
 * The file is rewritten in place (not replaced by a rename): under
 * `ip netns exec` /etc/resolv.conf may be a bind mount of
 * /etc/netns/NAME/resolv.conf, and a symlink (systemd-resolved) is followed.
 *
 * @module
 */

/** The comment that marks our lines, as strongSwan's `# by strongSwan`. */
export const RESOLV_TAG = "# by deno-ipsec";

/** The line for one server. */
export function nameserverLine(server: string): string {
  return `nameserver ${server} ${RESOLV_TAG}`;
}

function isOurLine(line: string): boolean {
  return /^nameserver\s+\S+\s+# by deno-ipsec\s*$/.test(line);
}

function splitLines(text: string): string[] {
  if (text === "") return [];
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines;
}

function joinLines(lines: readonly string[]): string {
  return lines.length === 0 ? "" : lines.join("\n") + "\n";
}

/**
 * `text` with a tagged `nameserver` line for each of `servers` that has none
 * yet, inserted in order before everything else.
 *
 * @example
 * ```ts
 * withNameservers("nameserver 192.0.2.53\n", ["10.1.0.53"]);
 * // "nameserver 10.1.0.53 # by deno-ipsec\nnameserver 192.0.2.53\n"
 * ```
 */
export function withNameservers(text: string, servers: readonly string[]): string {
  const lines = splitLines(text);
  const fresh = [...new Set(servers)].map(nameserverLine).filter((l) => !lines.includes(l));
  return joinLines([...fresh, ...lines]);
}

/** `text` without our tagged lines for `servers` (all our lines when `servers` is undefined). */
export function withoutNameservers(text: string, servers?: readonly string[]): string {
  const drop = servers ? new Set(servers.map(nameserverLine)) : null;
  return joinLines(
    splitLines(text).filter((l) => drop ? !drop.has(l.trimEnd()) : !isOurLine(l)),
  );
}

/** How {@link ResolvConf} reads and writes the file (tests pass an in-memory one). */
export interface TextFileIo {
  /** The file's text; "" when it does not exist. */
  read(path: string): Promise<string>;
  write(path: string, text: string): Promise<void>;
}

/** The real file system; a missing file reads as empty and is created on write. */
export const DENO_FILE_IO: TextFileIo = {
  async read(path) {
    try {
      return await Deno.readTextFile(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return "";
      throw e;
    }
  },
  write: (path, text) => Deno.writeTextFile(path, text),
};

/**
 * Reference-counted DNS servers in one resolv.conf: {@link add} for every
 * IKE SA that assigned servers, {@link remove} with the same list when it
 * goes; a server's line stays while any SA still holds it.
 *
 * @example
 * ```ts
 * const r = new ResolvConf("/etc/resolv.conf");
 * await r.add(["10.1.0.53"]);   // line written
 * await r.remove(["10.1.0.53"]); // line removed
 * ```
 */
export class ResolvConf {
  readonly path: string;
  #io: TextFileIo;
  #holders = new Map<string, number>();
  /** Serialises read-modify-write cycles. */
  #queue: Promise<void> = Promise.resolve();

  constructor(path: string, io: TextFileIo = DENO_FILE_IO) {
    this.path = path;
    this.#io = io;
  }

  /** Servers whose line is in the file now, in the order they were added. */
  get servers(): string[] {
    return [...this.#holders.keys()];
  }

  /** Removes tagged lines a previous daemon left behind (it died before removing them). */
  cleanStale(): Promise<void> {
    return this.#edit((text) => withoutNameservers(text));
  }

  /** One more holder of each server; writes the lines of servers that had none. */
  add(servers: readonly string[]): Promise<string[]> {
    const fresh: string[] = [];
    for (const s of new Set(servers)) {
      const n = this.#holders.get(s) ?? 0;
      this.#holders.set(s, n + 1);
      if (n === 0) fresh.push(s);
    }
    return this.#edit((text) => withNameservers(text, fresh)).then(() => fresh, (e) => {
      // Not written: the counts go back to what the file holds.
      for (const s of new Set(servers)) {
        const n = this.#holders.get(s) ?? 0;
        if (n <= 1) this.#holders.delete(s);
        else this.#holders.set(s, n - 1);
      }
      throw e;
    });
  }

  /** One holder fewer of each server; removes the lines of servers nobody holds. */
  remove(servers: readonly string[]): Promise<string[]> {
    const gone: string[] = [];
    for (const s of new Set(servers)) {
      const n = this.#holders.get(s) ?? 0;
      if (n <= 1) {
        if (n === 1) gone.push(s);
        this.#holders.delete(s);
      } else this.#holders.set(s, n - 1);
    }
    return this.#edit((text) => withoutNameservers(text, gone)).then(() => gone);
  }

  /** Removes every line this instance wrote (daemon stop). */
  removeAll(): Promise<string[]> {
    const gone = [...this.#holders.keys()];
    this.#holders.clear();
    return this.#edit((text) => withoutNameservers(text, gone)).then(() => gone);
  }

  #edit(change: (text: string) => string): Promise<void> {
    const step = this.#queue.then(async () => {
      const before = await this.#io.read(this.path);
      const after = change(before);
      if (after !== before) await this.#io.write(this.path, after);
    });
    this.#queue = step.catch(() => {});
    return step;
  }
}
