/**
 * `ipsec pki`: keys, CAs and certificates for IKEv2, with strongSwan `pki`
 * compatible subcommand aliases (`--gen`, `--self`, `--issue`, `--print`,
 * `--verify`, `--pub`, `--req`, `--signcrl`, `--pkcs12`) and option names (`--type`, `--size`, `--in`,
 * `--dn`, `--san`, `--flag`, `--lifetime`, `--cacert`, `--cakey`,
 * `--outform pem|der`).
 *
 * Exit codes: 0 success, 1 failure (bad input, verification failed), 2 usage.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import * as nodeCrypto from "node:crypto";
import { Buffer } from "node:buffer";
import { PkiError } from "../../lib/pki/pki_error.ts";
import { encodePem, readBlocks } from "../../lib/pki/pem.ts";
import {
  checkKeySize,
  describeKeyObject,
  exportPrivateKeyDer,
  generateKeyPair,
  importPrivateKey,
  KEY_SIZES,
  KEY_TYPES,
  type KeyType,
  parsePrivateKeyObject,
  publicKeyInfo,
} from "../../lib/pki/keys.ts";
import {
  type CertificateProfile,
  type CertificateRequest,
  createCertificateRequest,
  DEFAULT_LIFETIME_DAYS,
  isCaCertificate,
  issueCertificate,
  parseCertificate,
  parseCertificateRequest,
  parseCertificates,
  selfSignCertificate,
  type X509Certificate,
} from "../../lib/pki/certificate.ts";
import { CERT_FLAGS, type CertFlag, parseFlag } from "../../lib/pki/cert_flags.ts";
import {
  describeCertificate,
  describeRequest,
  formatCertificateInfo,
} from "../../lib/pki/describe.ts";
import { lintCertificate } from "../../lib/pki/lint.ts";
import { checkSelfSignature, validateChain } from "../../lib/pki/validate.ts";
import { quickstart } from "../../lib/pki/quickstart.ts";
import { createPkcs12, PKCS12_DEFAULT_ITERATIONS } from "../../lib/pki/pkcs12.ts";
import {
  createCrl,
  type Crl,
  CRL_REASONS,
  type CrlReasonName,
  formatCrl,
  normalizeSerial,
  parseCrls,
} from "../../lib/pki/crl.ts";

/** A command-line mistake: exit code 2. */
class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig["options"]>;
type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

interface Sub {
  summary: string;
  usage: string;
  options: Options;
  run(v: Values): Promise<number>;
}

const COMMON: Options = {
  help: { type: "boolean", short: "h" },
};
const OUT: Options = {
  out: { type: "string", short: "o" },
  outform: { type: "string", short: "f" },
};
const CERT_OPTS: Options = {
  dn: { type: "string", short: "d" },
  san: { type: "string", short: "a", multiple: true },
  lifetime: { type: "string", short: "l" },
  flag: { type: "string", short: "e", multiple: true },
  ca: { type: "boolean", short: "b" },
  pathlen: { type: "string", short: "p" },
  serial: { type: "string", short: "s" },
  crl: { type: "string", short: "u", multiple: true },
  ocsp: { type: "string", multiple: true },
};
const OUT_HELP = `  --out FILE          write to FILE instead of stdout
  --outform pem|der   output encoding (default pem)`;
const CERT_HELP = `  --dn DN             subject, e.g. "C=CH, O=Example, CN=vpn.example.com"
  --san NAME          subjectAltName (repeatable); DNS name, IP address or email,
                      detected automatically (force with dns:, ip:, email:)
  --lifetime DAYS     validity in days (default ${DEFAULT_LIFETIME_DAYS})
  --flag FLAG         ${CERT_FLAGS.join(", ")} (repeatable)
  --ca                issue a CA certificate (basicConstraints CA:TRUE)
  --pathlen N         CA path length constraint
  --serial HEX        serial number (default random)
  --crl URI           CRL distribution point to name (repeatable; for revocation: ifuri)
  --ocsp URI          OCSP responder to name in authorityInfoAccess (repeatable)`;
const TYPE_IN = ["priv", "pub", "x509", "pkcs10", "rsa", "ecdsa", "ed25519"];

function str(v: Values, k: string): string | undefined {
  const x = v[k];
  return typeof x === "string" ? x : undefined;
}

function strs(v: Values, k: string): string[] {
  const x = v[k];
  return Array.isArray(x) ? x.filter((s): s is string => typeof s === "string") : [];
}

function int(v: Values, k: string): number | undefined {
  const s = str(v, k);
  if (s === undefined) return undefined;
  if (!/^[0-9]+$/.test(s)) throw new UsageError(`--${k} needs a number, got '${s}'`);
  return Number(s);
}

function required(v: Values, k: string): string {
  const s = str(v, k);
  if (s === undefined || s === "") throw new UsageError(`--${k} is required`);
  return s;
}

function outform(v: Values): "pem" | "der" {
  const f = (str(v, "outform") ?? "pem").toLowerCase();
  if (f !== "pem" && f !== "der") throw new UsageError(`--outform must be pem or der, got '${f}'`);
  return f;
}

function checkInType(v: Values): void {
  const t = str(v, "type");
  if (t !== undefined && !TYPE_IN.includes(t)) {
    throw new UsageError(`unknown --type '${t}' (use one of: ${TYPE_IN.join(", ")})`);
  }
}

async function readInput(path: string | undefined, what = "--in"): Promise<[Uint8Array, string]> {
  if (path === undefined || path === "-") {
    if (Deno.stdin.isTerminal()) throw new UsageError(`${what} FILE is required`);
    return [new Uint8Array(await new Response(Deno.stdin.readable).arrayBuffer()), "stdin"];
  }
  try {
    return [await Deno.readFile(path), path];
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new PkiError(`${path}: no such file`);
    if (e instanceof Deno.errors.PermissionDenied) throw new PkiError(`${path}: permission denied`);
    if (e instanceof Deno.errors.IsADirectory) throw new PkiError(`${path}: is a directory`);
    throw new PkiError(`${path}: ${(e as Error).message}`);
  }
}

async function writeAll(data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await Deno.stdout.write(data.subarray(off));
}

async function output(v: Values, label: string, der: Uint8Array, secret = false): Promise<void> {
  const data = outform(v) === "pem" ? new TextEncoder().encode(encodePem(label, der)) : der;
  const out = str(v, "out");
  if (out === undefined || out === "-") return await writeAll(data);
  const mode = secret ? 0o600 : 0o644;
  try {
    // An existing file keeps its mode on write: restrict it before the key goes in.
    if (secret) await Deno.chmod(out, 0o600).catch(() => {});
    await Deno.writeFile(out, data, { mode });
    if (secret) await Deno.chmod(out, 0o600);
  } catch (e) {
    throw new PkiError(`${out}: cannot write (${(e as Error).message})`);
  }
}

/** What an input file holds, detected from its PEM label or DER structure. */
type Credential =
  | { kind: "cert"; cert: X509Certificate; all: X509Certificate[] }
  | { kind: "csr"; csr: CertificateRequest }
  | { kind: "priv"; key: nodeCrypto.KeyObject }
  | { kind: "pub"; spki: Uint8Array }
  | { kind: "crl"; crls: Crl[] };

function pkcs1PublicToSpki(der: Uint8Array): Uint8Array {
  const k = nodeCrypto.createPublicKey({ key: Buffer.from(der), format: "der", type: "pkcs1" });
  return new Uint8Array(k.export({ type: "spki", format: "der" }));
}

function detect(bytes: Uint8Array, what: string): Credential {
  const blocks = readBlocks(bytes, what);
  const first = blocks.find((b) => b.label !== "EC PARAMETERS") ?? blocks[0];
  switch (first.label) {
    case null:
      break;
    case "CERTIFICATE":
    case "X509 CERTIFICATE": {
      const all = parseCertificates(bytes, what);
      return { kind: "cert", cert: all[0], all };
    }
    case "CERTIFICATE REQUEST":
    case "NEW CERTIFICATE REQUEST":
      return { kind: "csr", csr: parseCertificateRequest(bytes, what) };
    case "X509 CRL":
      return { kind: "crl", crls: parseCrls(bytes, what) };
    case "PUBLIC KEY":
      return { kind: "pub", spki: publicKeyInfo(first.der, what).spki };
    case "RSA PUBLIC KEY":
      try {
        return { kind: "pub", spki: pkcs1PublicToSpki(first.der) };
      } catch {
        throw new PkiError(`${what}: corrupt RSA PUBLIC KEY`);
      }
    default: {
      const key = parsePrivateKeyObject(bytes, what);
      if (key) return { kind: "priv", key };
      throw new PkiError(`${what}: unsupported PEM type '${first.label}'`);
    }
  }
  // DER: try each structure in turn.
  try {
    const all = parseCertificates(bytes, what);
    return { kind: "cert", cert: all[0], all };
  } catch { /* not a certificate */ }
  try {
    return { kind: "csr", csr: parseCertificateRequest(bytes, what) };
  } catch { /* not a request */ }
  try {
    return { kind: "pub", spki: publicKeyInfo(bytes, what).spki };
  } catch { /* not a public key */ }
  try {
    return { kind: "crl", crls: parseCrls(bytes, what) };
  } catch { /* not a CRL */ }
  try {
    return { kind: "pub", spki: pkcs1PublicToSpki(bytes) };
  } catch { /* not a PKCS#1 public key */ }
  const key = parsePrivateKeyObject(bytes, what);
  if (key) return { kind: "priv", key };
  throw new PkiError(`${what}: not a certificate, request, key or CRL (unrecognised DER)`);
}

function spkiOf(c: Credential): Uint8Array {
  switch (c.kind) {
    case "cert":
      return new Uint8Array(c.cert.publicKey.rawData);
    case "csr":
      return new Uint8Array(c.csr.publicKey.rawData);
    case "pub":
      return c.spki;
    case "crl":
      throw new PkiError("a CRL has no public key");
    case "priv":
      return new Uint8Array(
        nodeCrypto.createPublicKey(c.key).export({ type: "spki", format: "der" }),
      );
  }
}

function flagsOf(v: Values): CertFlag[] {
  try {
    return strs(v, "flag").map(parseFlag);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function serialOf(v: Values): Uint8Array | undefined {
  const s = str(v, "serial");
  if (s === undefined) return undefined;
  const hex = s.replace(/:/g, "");
  if (!/^([0-9a-fA-F]{2})+$/.test(hex) || /^0*$/.test(hex)) {
    throw new UsageError(`--serial needs a non-zero hex number, got '${s}'`);
  }
  const b = new Uint8Array(hex.length / 2);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return b;
}

function lifetimeOf(v: Values): number | undefined {
  const d = int(v, "lifetime");
  if (d === 0) throw new UsageError("--lifetime must be at least 1 day");
  return d;
}

/** The certificate contents common to `self` and `issue`, validated before any file is read. */
function profileOf(v: Values): Omit<CertificateProfile, "subject"> {
  return {
    sans: strs(v, "san"),
    flags: flagsOf(v),
    ca: v.ca === true,
    pathLen: int(v, "pathlen"),
    lifetimeDays: lifetimeOf(v),
    serial: serialOf(v),
    crlUris: strs(v, "crl"),
    ocspUris: strs(v, "ocsp"),
    now: new Date(),
  };
}

function warn(lines: string[]): void {
  for (const w of lines) console.error(`warning: ${w}`);
}

function fingerprint(der: Uint8Array, alg: "sha1" | "sha256"): string {
  const h = nodeCrypto.createHash(alg).update(der).digest("hex");
  return (h.match(/../g) ?? []).join(":");
}

function describeKey(spki: Uint8Array, what: string): string {
  const k = publicKeyInfo(spki, what);
  return [
    `pubkey:    ${k.type.toUpperCase()} ${k.bits} bits`,
    `keyid:     ${fingerprint(spki, "sha1")}`,
    `SHA-256:   ${fingerprint(spki, "sha256")}`,
  ].join("\n");
}

/** The PKCS#12 password from --password or the first line of --password-file. */
async function passwordOf(v: Values): Promise<string> {
  const given = str(v, "password");
  const file = str(v, "password-file");
  if (given !== undefined && file !== undefined) {
    throw new UsageError("give either --password or --password-file, not both");
  }
  if (given === undefined && file === undefined) {
    throw new UsageError("--password or --password-file is required");
  }
  if (given !== undefined) {
    if (given === "") throw new UsageError("--password must not be empty");
    return given;
  }
  const [bytes] = await readInput(file, "--password-file");
  const line = new TextDecoder().decode(bytes).split(/\r?\n/)[0];
  if (line === "") throw new PkiError(`${file}: the password (its first line) is empty`);
  return line;
}

/** Writes a secret to a new file with mode 0600; an existing one only with `force`. */
async function writeSecret(path: string, data: Uint8Array, force: boolean): Promise<void> {
  try {
    if (force) await Deno.chmod(path, 0o600).catch(() => {});
    await Deno.writeFile(path, data, { mode: 0o600, createNew: !force });
    await Deno.chmod(path, 0o600);
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) {
      throw new PkiError(`${path} already exists (use --force to overwrite)`);
    }
    throw new PkiError(`${path}: cannot write (${(e as Error).message})`);
  }
}

const SUBS: Record<string, Sub> = {
  gen: {
    summary: "generate a new private key (PKCS#8)",
    usage:
      `usage: ipsec pki gen [--type ecdsa|rsa|ed25519] [--size BITS] [--out FILE] [--outform pem|der]

  --type TYPE         key type: ${KEY_TYPES.join(", ")} (default ecdsa)
  --size BITS         ecdsa: ${KEY_SIZES.ecdsa.join("|")} (default 256); rsa: ${
        KEY_SIZES.rsa.join("|")
      } (default 3072)
${OUT_HELP}
The key file is written with mode 0600.`,
    options: { ...OUT, type: { type: "string", short: "t" }, size: { type: "string", short: "s" } },
    async run(v) {
      const type = str(v, "type") ?? "ecdsa";
      if (!(KEY_TYPES as readonly string[]).includes(type)) {
        throw new UsageError(`unknown key type '${type}' (use one of: ${KEY_TYPES.join(", ")})`);
      }
      let size: number;
      try {
        size = checkKeySize(type, int(v, "size"));
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      const key = await generateKeyPair(type as KeyType, size);
      await output(v, "PRIVATE KEY", await exportPrivateKeyDer(key), true);
      return 0;
    },
  },
  pub: {
    summary: "extract the public key from a private key, certificate or request",
    usage: `usage: ipsec pki pub [--in FILE] [--out FILE] [--outform pem|der]

  --in FILE           private key, certificate or PKCS#10 request (default stdin)
  --type TYPE         accepted for strongSwan compatibility; the input type is detected
${OUT_HELP}`,
    options: { ...OUT, in: { type: "string", short: "i" }, type: { type: "string", short: "t" } },
    async run(v) {
      checkInType(v);
      const [bytes, what] = await readInput(str(v, "in"));
      await output(v, "PUBLIC KEY", spkiOf(detect(bytes, what)));
      return 0;
    },
  },
  self: {
    summary: "create a self-signed (CA) certificate",
    usage:
      `usage: ipsec pki self --in KEY --dn DN [--ca] [--lifetime DAYS] [--san NAME]... [--flag FLAG]...

  --in FILE           private key (PKCS#8, PKCS#1 or SEC1; PEM or DER; default stdin)
  --type TYPE         accepted for strongSwan compatibility; the key type is detected
${CERT_HELP}
${OUT_HELP}`,
    options: {
      ...OUT,
      ...CERT_OPTS,
      in: { type: "string", short: "i" },
      type: { type: "string", short: "t" },
    },
    async run(v) {
      checkInType(v);
      const subject = required(v, "dn");
      const profile = profileOf(v);
      const [bytes, what] = await readInput(str(v, "in"));
      const key = await importPrivateKey(bytes, what);
      const cert = await selfSignCertificate(key, { ...profile, subject });
      warn(lintCertificate(cert));
      await output(v, "CERTIFICATE", new Uint8Array(cert.rawData));
      return 0;
    },
  },
  req: {
    summary: "create a PKCS#10 certificate request",
    usage: `usage: ipsec pki req --in KEY --dn DN [--san NAME]... [--out FILE] [--outform pem|der]

  --in FILE           private key (default stdin)
  --type TYPE         accepted for strongSwan compatibility; the key type is detected
  --dn DN             subject distinguished name
  --san NAME          subjectAltName to request (repeatable)
${OUT_HELP}`,
    options: {
      ...OUT,
      in: { type: "string", short: "i" },
      type: { type: "string", short: "t" },
      dn: { type: "string", short: "d" },
      san: { type: "string", short: "a", multiple: true },
    },
    async run(v) {
      checkInType(v);
      const dn = required(v, "dn");
      const [bytes, what] = await readInput(str(v, "in"));
      const key = await importPrivateKey(bytes, what);
      const csr = await createCertificateRequest(key, { subject: dn, sans: strs(v, "san") });
      await output(v, "CERTIFICATE REQUEST", new Uint8Array(csr.rawData));
      return 0;
    },
  },
  issue: {
    summary: "issue a certificate signed by a CA",
    usage:
      `usage: ipsec pki issue --cacert CA.pem --cakey CA.key --in PUB|CSR --dn DN [--san NAME]... [--flag FLAG]...

  --in FILE           subject public key, PKCS#10 request or private key (default stdin)
  --type TYPE         accepted for strongSwan compatibility; the input type is detected
  --cacert FILE       issuing CA certificate
  --cakey FILE        issuing CA private key
  --id ID             the IKE identity the certificate is for (lint only; default its CN)
${CERT_HELP}
${OUT_HELP}
With a PKCS#10 request, --dn defaults to its subject and its SANs are included.
Warnings are printed for gateway certificates that IKEv2 clients would reject.`,
    options: {
      ...OUT,
      ...CERT_OPTS,
      in: { type: "string", short: "i" },
      type: { type: "string", short: "t" },
      cacert: { type: "string", short: "c" },
      cakey: { type: "string", short: "k" },
      id: { type: "string" },
    },
    async run(v) {
      checkInType(v);
      const caPath = required(v, "cacert");
      const caKeyPath = required(v, "cakey");
      const profile = profileOf(v);
      const [inBytes, what] = await readInput(str(v, "in"));
      const input = detect(inBytes, what);
      if (input.kind === "cert") {
        throw new PkiError(`${what}: is a certificate; give a public key or a certificate request`);
      }
      if (input.kind !== "csr" && !str(v, "dn")) throw new UsageError("--dn is required");
      const [caBytes] = await readInput(caPath, "--cacert");
      const issuerCert = parseCertificate(caBytes, caPath);
      const [keyBytes] = await readInput(caKeyPath, "--cakey");
      const issuerKey = await importPrivateKey(keyBytes, caKeyPath);
      const cert = await issueCertificate({
        issuerCert,
        issuerKey,
        subjectSpki: input.kind === "csr" ? undefined : spkiOf(input),
        request: input.kind === "csr" ? input.csr : undefined,
        ...profile,
        subject: str(v, "dn"),
      });
      warn(lintCertificate(cert, { issuer: issuerCert, intendedId: str(v, "id") }));
      await output(v, "CERTIFICATE", new Uint8Array(cert.rawData));
      return 0;
    },
  },
  print: {
    summary: "print a certificate, request, key or CRL in human readable form",
    usage: `usage: ipsec pki print [--in FILE]

  --in FILE           certificate (bundle), PKCS#10 request, public or private key,
                      or CRL (default stdin)
  --type TYPE         accepted for strongSwan compatibility; the input type is detected`,
    options: { in: { type: "string", short: "i" }, type: { type: "string", short: "t" } },
    async run(v) {
      checkInType(v);
      const [bytes, what] = await readInput(str(v, "in"));
      const c = detect(bytes, what);
      const now = new Date();
      switch (c.kind) {
        case "cert":
          console.log(
            c.all.map((x) => formatCertificateInfo(describeCertificate(x), now)).join("\n\n"),
          );
          break;
        case "csr": {
          const r = describeRequest(c.csr);
          console.log([
            `subject:   "${r.subject}"`,
            `altNames:  ${r.sans.length ? r.sans.join(", ") : "(none)"}`,
            describeKey(r.spki, what),
            `signature: ${(await c.csr.verify()) ? "ok" : "INVALID"}`,
          ].join("\n"));
          break;
        }
        case "pub":
          console.log(describeKey(c.spki, what));
          break;
        case "crl":
          console.log(c.crls.map((x) => formatCrl(x, now)).join("\n\n"));
          break;
        case "priv": {
          const k = describeKeyObject(c.key, what);
          console.log(
            `privkey:   ${k.type.toUpperCase()} ${k.bits} bits\n${describeKey(spkiOf(c), what)}`,
          );
          break;
        }
      }
      return 0;
    },
  },
  verify: {
    summary: "verify a certificate against CA certificates",
    usage: `usage: ipsec pki verify --in CERT [--cacert CA.pem]...

  --in FILE           certificate to verify; further certificates in the file are
                      used as intermediates (default stdin)
  --cacert FILE       trusted CA certificate(s) (repeatable; bundles allowed).
                      Without it, a self-signed --in is checked against itself.
  --crl FILE          CRL(s) to check the chain against (repeatable)
  --revocation MODE   relaxed (default: only a listed certificate fails), ifuri
                      (also one naming a CRL distribution point without a current
                      CRL) or strict (every certificate needs a current CRL)
Exits 0 when the certificate is trusted, 1 otherwise.`,
    options: {
      in: { type: "string", short: "i" },
      cacert: { type: "string", short: "c", multiple: true },
      crl: { type: "string", multiple: true },
      revocation: { type: "string" },
    },
    async run(v) {
      const [bytes, what] = await readInput(str(v, "in"));
      const [leaf, ...intermediates] = parseCertificates(bytes, what);
      const anchors: X509Certificate[] = [];
      for (const p of strs(v, "cacert")) {
        const [b] = await readInput(p, "--cacert");
        anchors.push(...parseCertificates(b, p));
      }
      if (anchors.length === 0) {
        if (!checkSelfSignature(leaf)) {
          console.error(
            `certificate not trusted: "${leaf.subject}" is not self-signed (or its ` +
              "self-signature does not verify); give the issuing CA with --cacert",
          );
          return 1;
        }
        anchors.push(leaf);
      }
      const crls: Crl[] = [];
      for (const p of strs(v, "crl")) {
        const [b] = await readInput(p, "--crl");
        crls.push(...parseCrls(b, p));
      }
      const revocation = str(v, "revocation") ?? "relaxed";
      if (revocation !== "relaxed" && revocation !== "ifuri" && revocation !== "strict") {
        throw new UsageError(`--revocation must be strict, ifuri or relaxed, got '${revocation}'`);
      }
      const r = validateChain(leaf, intermediates, anchors, new Date(), {
        purpose: isCaCertificate(leaf) ? "ca" : "peer",
        crls,
        revocation,
      });
      if (!r.ok) {
        console.error(`certificate not trusted: ${r.error.message}`);
        return 1;
      }
      for (const c of r.path.slice(1)) console.log(`  using trusted certificate "${c.subject}"`);
      console.log(
        `certificate trusted, lifetimes valid${
          crls.length > 0 ? ", not revoked by the CRLs given" : ""
        }`,
      );
      return 0;
    },
  },
  signcrl: {
    summary: "issue a certificate revocation list (CRL) signed by a CA",
    usage: `usage: ipsec pki signcrl --cacert CA.pem --cakey CA.key [--lastcrl OLD.crl]
                          [--cert REVOKED.pem]... [--serial HEX]... [--reason REASON]

  --cacert FILE       the CA certificate
  --cakey FILE        the CA's private key
  --lastcrl FILE      the CA's previous CRL: its entries are kept, its number + 1 used
  --cert FILE         a certificate to revoke (repeatable)
  --serial HEX        a serial number to revoke (repeatable)
  --reason REASON     reason for the certificates revoked now: ${
      Object.keys(CRL_REASONS).filter((r) => r !== "removeFromCRL").join(", ")
    }
  --lifetime DAYS     days until the next update (default 15)
${OUT_HELP}`,
    options: {
      cacert: { type: "string", short: "c" },
      cakey: { type: "string", short: "k" },
      lastcrl: { type: "string" },
      cert: { type: "string", short: "z", multiple: true },
      serial: { type: "string", short: "s", multiple: true },
      reason: { type: "string", short: "r" },
      lifetime: { type: "string", short: "l" },
      ...OUT,
    },
    async run(v) {
      const caPath = required(v, "cacert");
      const caKeyPath = required(v, "cakey");
      const reasonText = str(v, "reason");
      let reason: number | undefined;
      if (reasonText !== undefined) {
        if (!(reasonText in CRL_REASONS) || reasonText === "removeFromCRL") {
          throw new UsageError(
            `unknown --reason '${reasonText}' (one of ${
              Object.keys(CRL_REASONS).filter((r) => r !== "removeFromCRL").join(", ")
            })`,
          );
        }
        reason = CRL_REASONS[reasonText as CrlReasonName];
      }
      const [caBytes] = await readInput(caPath, "--cacert");
      const issuerCert = parseCertificate(caBytes, caPath);
      const [keyBytes] = await readInput(caKeyPath, "--cakey");
      const issuerKey = await importPrivateKey(keyBytes, caKeyPath);
      const now = new Date();
      const revoked = new Map<string, { serial: string; date: Date; reason?: number }>();
      let crlNumber = "1";
      const last = str(v, "lastcrl");
      if (last !== undefined) {
        const [b] = await readInput(last, "--lastcrl");
        const [old] = parseCrls(b, last);
        if (old.issuer !== issuerCert.subject) {
          throw new PkiError(`${last}: issued by "${old.issuer}", not by "${issuerCert.subject}"`);
        }
        for (const r of old.revoked.values()) revoked.set(r.serial, r);
        crlNumber = (BigInt(`0x${old.crlNumber ?? "0"}`) + 1n).toString(16);
      }
      const add = (serial: string) => {
        const s = normalizeSerial(serial);
        if (!revoked.has(s)) {
          revoked.set(s, { serial: s, date: now, ...(reason !== undefined ? { reason } : {}) });
        }
      };
      for (const p of strs(v, "cert")) {
        const [b] = await readInput(p, "--cert");
        for (const c of parseCertificates(b, p)) {
          if (c.issuer !== issuerCert.subject) {
            throw new PkiError(`${p}: "${c.subject}" was issued by "${c.issuer}", not by this CA`);
          }
          add(c.serialNumber);
        }
      }
      for (const s of strs(v, "serial")) {
        if (!/^[0-9a-fA-F:]+$/.test(s)) throw new UsageError(`--serial '${s}' is not hexadecimal`);
        add(s);
      }
      const lifetime = str(v, "lifetime");
      const der = await createCrl({
        issuerCert,
        issuerKey,
        revoked: [...revoked.values()],
        now,
        ...(lifetime !== undefined ? { lifetimeDays: Number(lifetime) } : {}),
        crlNumber,
      });
      await output(v, "X509 CRL", der);
      return 0;
    },
  },
  quickstart: {
    summary: "create a CA, gateway and client certificates plus example configs",
    usage: `usage: ipsec pki quickstart --gateway FQDN|IP [--gateway-address IP] --client ID
                             [--client ID]... --out DIR

  --gateway NAME      the gateway's DNS name or IP address (its IKE identity)
  --gateway-address IP  the address clients connect to (required when --gateway is a name)
  --client ID         a client identity, e.g. alice@example.com (repeatable)
  --out DIR           directory to write to (created if missing)
  --type TYPE         key type for all keys: ${KEY_TYPES.join(", ")} (default ecdsa)
  --size BITS         key size (default per type)
  --org NAME          organisation in the DNs (default deno-ipsec)
  --eap               clients log in with EAP-MSCHAPv2 (random passwords) instead of certificates
  --force             overwrite existing files
Writes ca.key/ca.pem, gateway.key/gateway.pem/gateway.yaml and for each client
<id>.key/<id>.pem/<id>.yaml (with --eap only <id>.yaml, holding its password).
Keys, and files holding passwords, are written with mode 0600.`,
    options: {
      gateway: { type: "string" },
      "gateway-address": { type: "string" },
      client: { type: "string", multiple: true },
      out: { type: "string", short: "o" },
      type: { type: "string", short: "t" },
      size: { type: "string", short: "s" },
      org: { type: "string" },
      eap: { type: "boolean" },
      force: { type: "boolean" },
    },
    async run(v) {
      const gateway = required(v, "gateway");
      const dir = required(v, "out");
      const type = str(v, "type") ?? "ecdsa";
      let size: number;
      try {
        size = checkKeySize(type, int(v, "size"));
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      const r = await quickstart({
        gateway,
        gatewayAddress: str(v, "gateway-address"),
        clients: strs(v, "client"),
        keyType: type as KeyType,
        keySize: size,
        organization: str(v, "org"),
        eap: v.eap === true,
        now: new Date(),
      });
      await Deno.mkdir(dir, { recursive: true });
      if (v.force !== true) {
        for (const f of r.files) {
          try {
            await Deno.lstat(`${dir}/${f.name}`);
            throw new PkiError(`${dir}/${f.name} already exists (use --force to overwrite)`);
          } catch (e) {
            if (!(e instanceof Deno.errors.NotFound)) throw e;
          }
        }
      }
      for (const f of r.files) {
        const path = `${dir}/${f.name}`;
        if (f.mode === 0o600) await Deno.chmod(path, 0o600).catch(() => {});
        await Deno.writeTextFile(path, f.contents, { mode: f.mode });
        await Deno.chmod(path, f.mode);
        console.log(`wrote ${path}`);
      }
      warn(r.warnings);
      return 0;
    },
  },
  pkcs12: {
    summary: "bundle a key, its certificate and CA certificates into a PKCS#12 file",
    usage:
      `usage: ipsec pki pkcs12 --in KEY --cert CERT [--cacert CA.pem]... --password PASS --out FILE.p12

  --in FILE           private key (PKCS#8, PKCS#1 or SEC1; PEM or DER)
  --cert FILE         its certificate; further certificates in the file are included
                      as CA certificates
  --cacert FILE       CA or intermediate certificate(s) to include (repeatable; bundles allowed)
  --password PASS     the import password (visible in the process list: prefer --password-file)
  --password-file F   read the password from the first line of file F
  --name NAME         friendlyName shown by importers (default the certificate's CN)
  --out FILE          the .p12 file to write (mode 0600)
  --force             overwrite an existing --out file
The file is what OpenSSL 3 writes by default: PBES2 (PBKDF2-HMAC-SHA-256, ${PKCS12_DEFAULT_ITERATIONS}
iterations, AES-256-CBC) for key and certificates, an HMAC-SHA-256 MAC. An empty
password is refused (importers disagree on what it means). The key must be the
certificate's.`,
    options: {
      in: { type: "string", short: "i" },
      cert: { type: "string", short: "c" },
      cacert: { type: "string", multiple: true },
      password: { type: "string" },
      "password-file": { type: "string" },
      name: { type: "string", short: "n" },
      out: { type: "string", short: "o" },
      force: { type: "boolean" },
    },
    async run(v) {
      const keyPath = required(v, "in");
      const certPath = required(v, "cert");
      const out = required(v, "out");
      const password = await passwordOf(v);
      const name = str(v, "name");
      if (name === "") throw new UsageError("--name must not be empty");
      const [keyBytes] = await readInput(keyPath);
      const key = await importPrivateKey(keyBytes, keyPath);
      const [certBytes] = await readInput(certPath, "--cert");
      const [certificate, ...chain] = parseCertificates(certBytes, certPath);
      const caCertificates = [...chain];
      for (const p of strs(v, "cacert")) {
        const [b] = await readInput(p, "--cacert");
        caCertificates.push(...parseCertificates(b, p));
      }
      const p12 = await createPkcs12({
        key,
        certificate,
        caCertificates,
        password,
        ...(name !== undefined ? { friendlyName: name } : {}),
      });
      await writeSecret(out, p12, v.force === true);
      console.log(
        `wrote ${out}: key and certificate "${certificate.subject}"` +
          (caCertificates.length ? ` with ${caCertificates.length} CA certificate(s)` : ""),
      );
      return 0;
    },
  },
};

/** strongSwan `pki` spellings of the subcommands. */
const ALIASES: Record<string, string> = {
  "--gen": "gen",
  "-g": "gen",
  "--pub": "pub",
  "-p": "pub",
  "--self": "self",
  "-s": "self",
  "--req": "req",
  "-r": "req",
  "--issue": "issue",
  "-i": "issue",
  "--print": "print",
  "-a": "print",
  "--verify": "verify",
  "-v": "verify",
  "--signcrl": "signcrl",
  "-c": "signcrl",
  "--quickstart": "quickstart",
  "--pkcs12": "pkcs12",
};

const USAGE = `usage: ipsec pki <subcommand> [options]

subcommands (strongSwan 'pki' spellings such as --gen, --self, --issue also work):
${Object.entries(SUBS).map(([n, s]) => `  ${n.padEnd(12)} ${s.summary}`).join("\n")}

Run 'ipsec pki <subcommand> --help' for its options.`;

/**
 * Runs `ipsec pki <subcommand> ...` and returns the exit code.
 *
 * @example
 * ```ts
 * await run(["gen", "--type", "ed25519", "--out", "key.pem"]); // 0
 * ```
 */
export async function run(args: string[]): Promise<number> {
  const [first, ...rest] = args;
  if (!first || first === "--help" || first === "-h" || first === "help") {
    console.log(USAGE);
    return first ? 0 : 2;
  }
  const name = ALIASES[first] ?? first;
  const sub = SUBS[name];
  if (!sub) {
    console.error(`ipsec pki: unknown subcommand '${first}'\n\n${USAGE}`);
    return 2;
  }
  try {
    const { values } = parseArgs({
      args: rest,
      options: { ...COMMON, ...sub.options },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      console.log(sub.usage);
      return 0;
    }
    return await sub.run(values as Values);
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      console.error(`ipsec pki ${name}: ${(e as Error).message}\n(see 'ipsec pki ${name} --help')`);
      return 2;
    }
    if (e instanceof PkiError) {
      console.error(`ipsec pki ${name}: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

/**
 * The `pki` entry of the command table (shaped like `Command` in ./mod.ts,
 * which is not imported so that `ipsec pki` type-checks on its own).
 */
export const pkiCommand: { summary: string; run(args: string[]): Promise<number> } = {
  summary:
    "keys, CAs, certificates and CRLs (gen, self, issue, print, verify, signcrl, pkcs12, quickstart)",
  run,
};
