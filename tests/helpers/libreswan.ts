/**
 * Runs Libreswan's pluto (Debian's libreswan 4.10, unpacked by
 * `.ci/install_deps.sh --with-interop` into /opt/libreswan because the
 * package conflicts with strongSwan's) in a network namespace, with its own
 * ipsec.conf, secrets, NSS database and control socket. Our kernel has no
 * ESP for XFRM, so pluto negotiates IKE_SA_INIT and IKE_AUTH (and the child
 * SA's algorithms) to the end but then fails to install the child SA: it is
 * an oracle for IKE, not for ESP. Always `stop()` it in `finally`.
 *
 * @module
 */
import { awaitExit, type NetnsLab, run, type RunResult } from "./netns.ts";

/** Where the install script unpacks the libreswan package. */
export const LIBRESWAN_ROOT = Deno.env.get("LIBRESWAN_ROOT") ?? "/opt/libreswan";
const PLUTO = `${LIBRESWAN_ROOT}/usr/libexec/ipsec/pluto`;
const WHACK = `${LIBRESWAN_ROOT}/usr/libexec/ipsec/whack`;

/** Whether pluto is installed. */
export function haveLibreswan(): boolean {
  try {
    return Deno.statSync(PLUTO).isFile;
  } catch {
    return false;
  }
}

/** Certificate material for pluto's NSS database. */
export interface PlutoCerts {
  /** PEM CA certificate, trusted for peers. */
  ca: string;
  /** PEM end-entity certificate and PKCS#8 key, imported as nickname `nick`. */
  cert: string;
  key: string;
  nick: string;
}

/** A running pluto. */
export class Pluto {
  readonly dir: string;
  readonly ns: string;
  readonly #lab: NetnsLab;
  readonly #child: Deno.ChildProcess;
  /** What pluto wrote (it logs to stderr). */
  #text = "";

  private constructor(lab: NetnsLab, ns: string, dir: string, child: Deno.ChildProcess) {
    this.#lab = lab;
    this.ns = ns;
    this.dir = dir;
    this.#child = child;
  }

  /** Starts pluto in `ns` with `conf` (ipsec.conf) and `secrets`; waits for its control socket. */
  static async start(
    lab: NetnsLab,
    ns: string,
    dir: string,
    conf: string,
    secrets: string,
    certs?: PlutoCerts,
  ): Promise<Pluto> {
    await Deno.mkdir(`${dir}/run`, { recursive: true });
    await Deno.mkdir(`${dir}/nss`, { recursive: true });
    const ok = async (argv: string[], what: string) => {
      const r = await run(argv);
      if (r.code !== 0) throw new Error(`${what} failed: ${r.stdout}${r.stderr}`);
    };
    await ok(["certutil", "-N", "-d", `sql:${dir}/nss`, "--empty-password"], "certutil -N");
    if (certs) {
      const p12 = `${dir}/${certs.nick}.p12`;
      await ok([
        "openssl",
        "pkcs12",
        "-export",
        "-in",
        certs.cert,
        "-inkey",
        certs.key,
        "-name",
        certs.nick,
        "-out",
        p12,
        "-passout",
        "pass:interop",
      ], "openssl pkcs12");
      await ok(["pk12util", "-i", p12, "-d", `sql:${dir}/nss`, "-W", "interop"], "pk12util");
      await ok(
        [
          "certutil",
          "-A",
          "-d",
          `sql:${dir}/nss`,
          "-n",
          "interop-ca",
          "-t",
          "CT,,",
          "-i",
          certs.ca,
        ],
        "certutil -A",
      );
    }
    await Deno.writeTextFile(`${dir}/ipsec.conf`, conf);
    await Deno.writeTextFile(`${dir}/ipsec.secrets`, secrets);
    const child = lab.spawnIn(ns, [
      PLUTO,
      "--config",
      `${dir}/ipsec.conf`,
      "--nofork",
      "--stderrlog",
      "--rundir",
      `${dir}/run`,
      "--nssdir",
      `${dir}/nss`,
      "--secretsfile",
      `${dir}/ipsec.secrets`,
      "--ipsecdir",
      dir,
    ]);
    const p = new Pluto(lab, ns, dir, child);
    const sink = (st: ReadableStream<Uint8Array>) =>
      st.pipeThrough(new TextDecoderStream()).pipeTo(
        new WritableStream({ write: (chunk) => void (p.#text += chunk) }),
      ).catch(() => {});
    void sink(child.stdout);
    void sink(child.stderr);
    for (let i = 0; i < 100; i++) {
      if (/listening for IKE messages/.test(await p.log())) return p;
      await new Promise((r) => setTimeout(r, 50));
    }
    await p.stop();
    throw new Error(`pluto did not start:\n${await p.log()}`);
  }

  /** `whack --ctlsocket ... ARGS` inside the namespace. */
  whack(args: readonly string[]): Promise<RunResult> {
    return this.#lab.runIn(this.ns, [WHACK, "--ctlsocket", `${this.dir}/run/pluto.ctl`, ...args]);
  }

  /** pluto's log so far, from character `from`. */
  log(from = 0): Promise<string> {
    return Promise.resolve(this.#text.slice(from));
  }

  /** Polls the log from `from` until `re` matches (up to `ms`); throws with the log otherwise. */
  async waitLog(re: RegExp, from = 0, ms = 10_000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = re.exec(await this.log(from));
      if (m) return m[0];
      if (Date.now() > deadline) {
        throw new Error(`pluto never logged ${re}:\n${await this.log(from)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Stops pluto (SIGTERM, then SIGKILL) and waits for it. */
  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch { /* gone */ }
    await awaitExit(this.#child, 3000);
  }
}
