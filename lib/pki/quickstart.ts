/**
 * `ipsec pki quickstart`: a CA, a gateway certificate and client
 * certificates that work with IKEv2 clients out of the box, plus matching
 * configuration for both ends.
 *
 * The YAML follows swanctl.conf naming as lib/config reads it
 * (connections.<name>.local with auth, id, certs and key (our PKCS#8 key
 * file); remote with auth, id, cacerts; children.<name>.local_ts/remote_ts;
 * pools; vips). File names in it are relative to the YAML file's directory.
 *
 * @module
 */
import { exportPrivateKeyPem, generateKeyPair, type KeyPair, type KeyType } from "./keys.ts";
import { issueCertificate, selfSignCertificate } from "./certificate.ts";
import { lintCertificate } from "./lint.ts";
import { PkiError } from "./pki_error.ts";
import { parseIp } from "../db/address.ts";

/** Options for {@linkcode quickstart}. */
export interface QuickstartOptions {
  /** Gateway FQDN or IP address; its certificate gets this as CN and SAN. */
  gateway: string;
  /**
   * The gateway's IP address clients connect to (`remote_addrs`; the
   * configuration takes addresses, not DNS names). Default: `gateway` when
   * it is an IP address; required otherwise.
   */
  gatewayAddress?: string;
  /** Client identities (emails or FQDNs); one key and certificate each. */
  clients: readonly string[];
  /** Key type for all keys (default ecdsa). */
  keyType?: KeyType;
  /** Key size (default per type). */
  keySize?: number;
  /** Organisation for the DNs (default "deno-ipsec"). */
  organization?: string;
  /** Certificate lifetimes in days: CA (default 3650) and end entities (default 1095). */
  caLifetimeDays?: number;
  lifetimeDays?: number;
  /** Client address pool handed out by the gateway (default 10.10.10.0/24). */
  pool?: string;
  /**
   * Clients log in with EAP-MSCHAPv2 (a user name and a random password each,
   * in `secrets` of both files) instead of certificates of their own; the
   * gateway still proves itself with its certificate.
   */
  eap?: boolean;
  /** Random bytes for EAP passwords (injectable for tests). */
  random?: (n: number) => Uint8Array;
  now: Date;
  /** Key generator (injectable for tests). */
  generate?: (type: KeyType, size?: number) => Promise<KeyPair>;
}

/** One file to write: name relative to the output directory, contents, mode. */
export interface QuickstartFile {
  name: string;
  contents: string;
  /** 0o600 for private keys, 0o644 otherwise. */
  mode: number;
}

/** The generated files and any lint warnings (expected: none). */
export interface QuickstartResult {
  files: QuickstartFile[];
  warnings: string[];
}

function safeName(id: string): string {
  return id.replace(/[^A-Za-z0-9._@-]+/g, "_").replace(/^\.+/, "_");
}

function quoteYaml(s: string): string {
  return /^[A-Za-z0-9._@/-]+$/.test(s) && !/^[0-9.]+$/.test(s) ? s : JSON.stringify(s);
}

/** A `secrets` entry holding a client's EAP user name and password. */
function eapSecret(id: string, password: string): string {
  return `  eap-${safeName(id)}:\n    id: ${quoteYaml(id)}\n    secret: ${
    JSON.stringify(password)
  }\n`;
}

/** The gateway-side YAML; with passwords, its clients log in by EAP-MSCHAPv2. */
export function gatewayYaml(o: {
  gateway: string;
  clients: readonly { id: string; password?: string }[];
  pool: string;
}): string {
  const eap = o.clients.some((c) => c.password !== undefined);
  const remote = eap
    ? `      auth: eap-mschapv2
      eap_id: "%any"`
    : `      auth: pubkey
      cacerts: [ca.pem]`;
  const secrets = eap
    ? `secrets:\n${o.clients.map((c) => eapSecret(c.id, c.password ?? "")).join("")}`
    : "";
  return `# deno-ipsec gateway configuration for ${o.gateway} (written by 'ipsec pki quickstart').
# Keys follow swanctl.conf naming; file names are relative to this file.
connections:
  rw:
    version: 2
    pools: [rw_pool]
    local:
      auth: pubkey
      id: ${quoteYaml(o.gateway)}
      certs: [gateway.pem]
      key: gateway.key
    remote:
${remote}
    children:
      rw:
        local_ts: [0.0.0.0/0]
        remote_ts: [dynamic]
        mode: tunnel
pools:
  rw_pool:
    addrs: ${o.pool}
${secrets}# Clients: ${o.clients.map((c) => c.id).join(", ")}
`;
}

/** The client-side YAML for one client identity. */
export function clientYaml(
  o: {
    gateway: string;
    address: string;
    client: string;
    certFile?: string;
    keyFile?: string;
    /** EAP-MSCHAPv2 instead of a certificate of our own. */
    password?: string;
  },
): string {
  const local = o.password !== undefined
    ? `      auth: eap-mschapv2
      id: ${quoteYaml(o.client)}
      eap_id: ${quoteYaml(o.client)}`
    : `      auth: pubkey
      id: ${quoteYaml(o.client)}
      certs: [${quoteYaml(o.certFile ?? "")}]
      key: ${quoteYaml(o.keyFile ?? "")}`;
  const secrets = o.password !== undefined ? `secrets:\n${eapSecret(o.client, o.password)}` : "";
  return `# deno-ipsec client configuration for ${o.client} (written by 'ipsec pki quickstart').
# Keys follow swanctl.conf naming; file names are relative to this file.
connections:
  home:
    version: 2
    remote_addrs: [${quoteYaml(o.address)}]
    vips: [0.0.0.0]
    local:
${local}
    remote:
      auth: pubkey
      id: ${quoteYaml(o.gateway)}
      cacerts: [ca.pem]
    children:
      home:
        local_ts: [dynamic]
        remote_ts: [0.0.0.0/0]
        mode: tunnel
        start_action: start
${secrets}`;
}

/**
 * Generates the quickstart PKI and configuration. Files: `ca.key`, `ca.pem`,
 * `gateway.key`, `gateway.pem`, `gateway.yaml`, and per client
 * `<id>.key`, `<id>.pem`, `<id>.yaml` (id with unsafe characters replaced).
 *
 * @example
 * ```ts
 * const r = await quickstart({ gateway: "vpn.example.com", clients: ["alice@example.com"], now: new Date() });
 * for (const f of r.files) Deno.writeTextFileSync(`out/${f.name}`, f.contents, { mode: f.mode });
 * ```
 */
export async function quickstart(o: QuickstartOptions): Promise<QuickstartResult> {
  const address = o.gatewayAddress ?? (parseIp(o.gateway) ? o.gateway : undefined);
  if (address === undefined || !parseIp(address)) {
    throw new PkiError(
      address === undefined
        ? `the gateway '${o.gateway}' is a DNS name: give the IP address clients connect to ` +
          "(--gateway-address), since configurations take addresses, not names"
        : `--gateway-address '${address}' is not an IP address`,
    );
  }
  const type = o.keyType ?? "ecdsa";
  const gen = o.generate ?? generateKeyPair;
  const org = o.organization ?? "deno-ipsec";
  const esc = (s: string) => s.replace(/([,+"\\<>;=])/g, "\\$1");
  const files: QuickstartFile[] = [];
  const warnings: string[] = [];
  const key = async (name: string, k: KeyPair) =>
    files.push({ name, contents: await exportPrivateKeyPem(k), mode: 0o600 });

  const caKey = await gen(type, o.keySize);
  const ca = await selfSignCertificate(caKey, {
    subject: `O=${esc(org)}, CN=${esc(org)} Root CA`,
    ca: true,
    lifetimeDays: o.caLifetimeDays ?? 3650,
    now: o.now,
  });
  await key("ca.key", caKey);
  files.push({ name: "ca.pem", contents: ca.toString("pem") + "\n", mode: 0o644 });

  const gwKey = await gen(type, o.keySize);
  const gw = await issueCertificate({
    issuerCert: ca,
    issuerKey: caKey,
    subjectSpki: gwKey.spki,
    subject: `O=${esc(org)}, CN=${esc(o.gateway)}`,
    sans: [o.gateway],
    flags: ["serverAuth", "ikeIntermediate"],
    lifetimeDays: o.lifetimeDays,
    now: o.now,
  });
  warnings.push(...lintCertificate(gw, { issuer: ca }));
  await key("gateway.key", gwKey);
  files.push({ name: "gateway.pem", contents: gw.toString("pem") + "\n", mode: 0o644 });

  const clients: { id: string; password?: string }[] = [];
  const random = o.random ?? ((n: number) => crypto.getRandomValues(new Uint8Array(n)));
  for (const id of o.clients) {
    const base = safeName(id);
    if (o.eap) {
      // 18 random bytes, base64url: 24 characters an admin can paste.
      const password = btoa(String.fromCharCode(...random(18)))
        .replaceAll("+", "-").replaceAll("/", "_");
      files.push({
        name: `${base}.yaml`,
        contents: clientYaml({ gateway: o.gateway, address, client: id, password }),
        mode: 0o600, // holds the password
      });
      clients.push({ id, password });
      continue;
    }
    const k = await gen(type, o.keySize);
    const c = await issueCertificate({
      issuerCert: ca,
      issuerKey: caKey,
      subjectSpki: k.spki,
      subject: `O=${esc(org)}, CN=${esc(id)}`,
      sans: [id],
      flags: ["clientAuth"],
      lifetimeDays: o.lifetimeDays,
      now: o.now,
    });
    warnings.push(...lintCertificate(c, { issuer: ca }));
    await key(`${base}.key`, k);
    files.push({ name: `${base}.pem`, contents: c.toString("pem") + "\n", mode: 0o644 });
    files.push({
      name: `${base}.yaml`,
      contents: clientYaml({
        gateway: o.gateway,
        address,
        client: id,
        certFile: `${base}.pem`,
        keyFile: `${base}.key`,
      }),
      mode: 0o644,
    });
    clients.push({ id });
  }
  files.push({
    name: "gateway.yaml",
    contents: gatewayYaml({ gateway: o.gateway, clients, pool: o.pool ?? "10.10.10.0/24" }),
    mode: o.eap ? 0o600 : 0o644, // with EAP it holds every client's password
  });
  return { files, warnings };
}
