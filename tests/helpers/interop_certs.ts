/**
 * Certificates for the strongSwan interop tests, issued either by our
 * `ipsec pki` (cli/commands/pki.ts, called in-process with the same argument
 * vector as the command line) or by strongSwan's own `pki` tool. Each set is a
 * CA plus one end-entity certificate per side, all with the same key type, the
 * identities of tests/helpers/interop_lab.ts as DNS subjectAltNames.
 *
 * @example
 * ```ts
 * const files = await issueCerts(dir, "strongswan", "ed25519");
 * ```
 *
 * @module
 */
import { run as ipsecPki } from "../../cli/commands/pki.ts";
import type { CertFiles } from "./interop_lab.ts";
import { CHARON_ID, ENGINE_ID } from "./interop_lab.ts";

/** Who issues the certificates. */
export type Issuer = "ipsec" | "strongswan";
/** Key type of every key in a set (RSA is 2048 bits, ECDSA P-256). */
export type CertKeyType = "ecdsa" | "rsa" | "ed25519";

async function ours(args: string[]): Promise<void> {
  const code = await ipsecPki(args);
  if (code !== 0) throw new Error(`ipsec pki ${args.join(" ")} exited ${code}`);
}

async function swan(args: string[], out: string): Promise<void> {
  const o = await new Deno.Command("pki", { args, stdout: "piped", stderr: "piped" }).output();
  if (o.code !== 0) {
    throw new Error(
      `pki ${args.join(" ")} exited ${o.code}: ${new TextDecoder().decode(o.stderr)}`,
    );
  }
  await Deno.writeFile(out, o.stdout);
}

/** strongSwan's pki: the self-signed CA certificate `ca.pem` of `ca.key` in `dir`. */
function swanCa(dir: string, dn: string): Promise<void> {
  const f = (n: string) => `${dir}/${n}`;
  return swan(
    ["--self", "--ca", "--in", f("ca.key"), "--type", "priv", "--dn", dn, "--outform", "pem"],
    f("ca.pem"),
  );
}

/** strongSwan's pki: `<k>.pem` for `<k>.key` in `dir`, issued by `<issuer>.pem`/`.key`. */
function swanIssue(
  dir: string,
  issuer: string,
  k: string,
  dn: string,
  extra: string[],
): Promise<void> {
  const f = (n: string) => `${dir}/${n}`;
  return swan([
    "--issue",
    "--cacert",
    f(`${issuer}.pem`),
    "--cakey",
    f(`${issuer}.key`),
    "--in",
    f(`${k}.key`),
    "--type",
    "priv",
    "--dn",
    dn,
    ...extra,
    "--outform",
    "pem",
  ], f(`${k}.pem`));
}

/** One end-entity certificate of {@link issueSwanSet}: files `<name>.key` and `<name>.pem`. */
export interface SwanEndEntity {
  name: string;
  /** Subject DN. */
  dn: string;
  /** subjectAltName, if any. */
  san?: string;
  /** More `pki --issue` options (e.g. `--crl URI`). */
  extra?: string[];
}

/**
 * strongSwan's `pki` writes a self-signed CA (`ca.key`, `ca.pem`, subject
 * `caDn`) and one certificate per end entity, issued by that CA, into `dir`.
 *
 * @example
 * ```ts
 * await issueSwanSet(dir, "ecdsa", "CN=CA", [{ name: "moon", dn: "CN=moon", san: "moon" }]);
 * ```
 */
export async function issueSwanSet(
  dir: string,
  type: CertKeyType,
  caDn: string,
  ees: readonly SwanEndEntity[],
): Promise<void> {
  const f = (n: string) => `${dir}/${n}`;
  // strongSwan's pki defaults to ECDSA P-384 and RSA-3072; the tests want P-256 and RSA-2048.
  const size = type === "rsa" ? ["--size", "2048"] : type === "ecdsa" ? ["--size", "256"] : [];
  for (const k of ["ca", ...ees.map((e) => e.name)]) {
    await swan(["--gen", "--type", type, ...size, "--outform", "pem"], f(`${k}.key`));
  }
  await swanCa(dir, caDn);
  for (const e of ees) {
    await swanIssue(dir, "ca", e.name, e.dn, [
      ...(e.san ? ["--san", e.san] : []),
      ...(e.extra ?? []),
    ]);
  }
}

/** Issues a CA and both end-entity certificates into `dir` (PEM files). */
export async function issueCerts(
  dir: string,
  issuer: Issuer,
  type: CertKeyType,
): Promise<CertFiles> {
  await Deno.mkdir(dir, { recursive: true });
  const f = (n: string) => `${dir}/${n}`;
  // strongSwan's pki defaults to ECDSA P-384 and RSA-3072; the matrix wants P-256 and RSA-2048.
  const size = type === "rsa" ? ["--size", "2048"] : type === "ecdsa" ? ["--size", "256"] : [];
  const ees = [["moon", CHARON_ID], ["sun", ENGINE_ID]] as const;
  if (issuer === "ipsec") {
    for (const k of ["ca", "moon", "sun"]) {
      await ours(["gen", "--type", type, ...size, "--out", f(`${k}.key`)]);
    }
    await ours([
      "self",
      "--ca",
      "--in",
      f("ca.key"),
      "--dn",
      "C=CH, O=deno-ipsec interop, CN=Interop CA",
      "--out",
      f("ca.pem"),
    ]);
    for (const [k, id] of ees) {
      await ours([
        "issue",
        "--cacert",
        f("ca.pem"),
        "--cakey",
        f("ca.key"),
        "--in",
        f(`${k}.key`),
        "--dn",
        `C=CH, O=deno-ipsec interop, CN=${id}`,
        "--san",
        id,
        // Only to keep `ipsec pki issue` from warning about Windows/macOS clients.
        "--flag",
        "serverAuth",
        "--flag",
        "ikeIntermediate",
        "--out",
        f(`${k}.pem`),
      ]);
    }
  } else {
    await issueSwanSet(
      dir,
      type,
      "C=CH, O=strongSwan interop, CN=Interop CA",
      ees.map(([name, id]) => ({ name, dn: `C=CH, O=strongSwan interop, CN=${id}`, san: id })),
    );
  }
  return {
    ca: f("ca.pem"),
    charonCert: f("moon.pem"),
    charonKey: f("moon.key"),
    engineCert: f("sun.pem"),
    engineKey: f("sun.key"),
  };
}

/**
 * A long chain from strongSwan's `pki`: root CA, `depth` intermediate CAs,
 * then both end-entity certificates, all RSA of `bits` bits. `engineCert` and
 * `charonCert` hold the end-entity certificate followed by the intermediates
 * (what each side sends); `intermediates` lists the intermediate files alone.
 */
export async function issueChain(
  dir: string,
  depth: number,
  bits = 3072,
): Promise<CertFiles & { intermediates: string[] }> {
  await Deno.mkdir(dir, { recursive: true });
  const f = (n: string) => `${dir}/${n}`;
  const gen = (k: string) =>
    swan(["--gen", "--type", "rsa", "--size", String(bits), "--outform", "pem"], f(`${k}.key`));
  const names = ["ca", ...Array.from({ length: depth }, (_, i) => `im${i + 1}`), "moon", "sun"];
  await Promise.all(names.map(gen));
  const dn = (cn: string) => `C=CH, O=strongSwan interop chain, CN=${cn}`;
  await swanCa(dir, dn("Root CA"));
  let issuer = "ca";
  const intermediates: string[] = [];
  const issue = (k: string, subject: string, extra: string[]) =>
    swanIssue(dir, issuer, k, dn(subject), extra);
  for (let i = 1; i <= depth; i++) {
    await issue(`im${i}`, `Intermediate CA ${i}`, ["--ca"]);
    intermediates.unshift(f(`im${i}.pem`));
    issuer = `im${i}`;
  }
  for (const [k, id] of [["moon", CHARON_ID], ["sun", ENGINE_ID]] as const) {
    await issue(k, id, ["--san", id]);
    const chain = [f(`${k}.pem`), ...intermediates].map((p) => Deno.readTextFileSync(p));
    await Deno.writeTextFile(f(`${k}-chain.pem`), chain.join(""));
  }
  return {
    ca: f("ca.pem"),
    charonCert: f("moon.pem"),
    charonKey: f("moon.key"),
    engineCert: f("sun-chain.pem"),
    engineKey: f("sun.key"),
    intermediates,
  };
}
