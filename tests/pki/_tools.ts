/**
 * Test helpers for the PKI suite: run openssl and strongSwan's `pki` (the
 * independent implementations our certificates are checked against) and
 * manage a temporary directory.
 *
 * strongSwan's `pki` comes from Debian's strongswan-pki (installed by
 * `.ci/install_deps.sh`); its plugin-loading chatter on stderr is dropped.
 *
 * @module
 */

/** Output of a finished tool. */
export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout as bytes (for DER output). */
  bytes: Uint8Array;
}

/** Runs `cmd args...` with optional stdin; never throws for a non-zero exit. */
export async function tool(
  cmd: string,
  args: string[],
  opts: { stdin?: Uint8Array | string; cwd?: string } = {},
): Promise<ToolResult> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(cmd, {
      args,
      cwd: opts.cwd,
      stdin: opts.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(`'${cmd}' is not installed: run 'bash .ci/install_deps.sh --with-interop'`);
    }
    throw e;
  }
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(
      typeof opts.stdin === "string" ? new TextEncoder().encode(opts.stdin) : opts.stdin,
    );
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
    bytes: out.stdout,
  };
}

/** Runs a tool and throws with its stderr when it fails. */
export async function must(
  cmd: string,
  args: string[],
  opts: { stdin?: Uint8Array | string; cwd?: string } = {},
): Promise<ToolResult> {
  const r = await tool(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} failed (${r.code}): ${r.stderr}${r.stdout}`);
  }
  return r;
}

/** strongSwan's `pki`, with its plugin-loading noise removed from stderr. */
export async function swPki(
  args: string[],
  opts: { stdin?: Uint8Array | string; cwd?: string } = {},
): Promise<ToolResult> {
  const r = await tool("pki", args, opts);
  r.stderr = r.stderr.split("\n").filter((l) => !/^plugin '.*': failed to load/.test(l)).join(
    "\n",
  );
  return r;
}

/** strongSwan's `pki`, throwing on failure. */
export async function swPkiMust(
  args: string[],
  opts: { stdin?: Uint8Array | string; cwd?: string } = {},
): Promise<ToolResult> {
  const r = await swPki(args, opts);
  if (r.code !== 0) throw new Error(`pki ${args.join(" ")} failed (${r.code}): ${r.stderr}`);
  return r;
}

/** Runs `fn` with a fresh temporary directory that is removed afterwards, pass or fail. */
export async function withTempDir(fn: (t: { dir: string }) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pki_test_" });
  try {
    await fn({ dir });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Reads a file's bytes. */
export function read(path: string): Uint8Array {
  return Deno.readFileSync(path);
}

/**
 * openssl: a new Ed25519 key `<base>.key` and a request `<base>.csr` for
 * subject `subj` (slash form, e.g. "/CN=x").
 */
export async function opensslCsr(base: string, subj: string, config: string): Promise<string> {
  await must("openssl", [
    "req",
    "-new",
    "-newkey",
    "ed25519",
    "-nodes",
    "-keyout",
    `${base}.key`,
    "-subj",
    subj,
    "-config",
    config,
    "-out",
    `${base}.csr`,
  ]);
  return `${base}.csr`;
}

/**
 * openssl `x509 -req`: signs `csr` with the CA certificate (PEM) and key into
 * `out`; `extra` adds options (`-sha256`, `-extfile`, `-outform DER`, ...).
 * openssl does not check that the issuer is a CA, which tests rely on.
 */
export async function opensslSign(
  o: { csr: string; caCert: string; caKey: string; out: string; extra?: string[] },
): Promise<string> {
  await must("openssl", [
    "x509",
    "-req",
    "-in",
    o.csr,
    "-CA",
    o.caCert,
    "-CAkey",
    o.caKey,
    "-days",
    "5",
    "-out",
    o.out,
    ...(o.extra ?? []),
  ]);
  return o.out;
}

/**
 * A line of OpenSSL's CA database (index.txt) for `openssl ocsp -index`:
 * valid, or revoked with `revoked` ("YYMMDDHHMMSSZ[,reason]").
 */
export function ocspIndexLine(serialHex: string, cn: string, revoked?: string): string {
  const n = serialHex.replace(/^0+/, "").toUpperCase() || "0";
  const serial = n.length % 2 ? `0${n}` : n;
  return [revoked ? "R" : "V", "351231235959Z", revoked ?? "", serial, "unknown", `/CN=${cn}`]
    .join("\t");
}

/**
 * OpenSSL's OCSP responder, offline and synchronous: its answer to the DER
 * `request` from the CA database lines `index`, for CA `caPem`, signed with
 * `signerPem`/`signerKey` (PEM files), valid for a day. Files go to `dir`.
 */
export function opensslOcspRespond(
  dir: string,
  o: { request: Uint8Array; index: string[]; caPem: string; signerPem: string; signerKey: string },
): Uint8Array {
  Deno.writeTextFileSync(`${dir}/index.txt`, o.index.join("\n") + "\n");
  Deno.writeFileSync(`${dir}/req.der`, o.request);
  const out = new Deno.Command("openssl", {
    args: [
      "ocsp",
      "-index",
      `${dir}/index.txt`,
      "-CA",
      o.caPem,
      "-rsigner",
      o.signerPem,
      "-rkey",
      o.signerKey,
      "-reqin",
      `${dir}/req.der`,
      "-respout",
      `${dir}/resp.der`,
      "-ndays",
      "1",
    ],
    stdout: "null",
    stderr: "piped",
  }).outputSync();
  if (out.code !== 0) {
    throw new Error(`openssl ocsp failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return Deno.readFileSync(`${dir}/resp.der`);
}
