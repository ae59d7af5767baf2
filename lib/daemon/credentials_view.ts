/**
 * The certificates and CRLs a configuration loaded, and the CRLs fetched
 * since, as `ipsec list-certs` shows them (swanctl --list-certs): each once,
 * with the connections that use it. DER travels base64 in the JSON answer;
 * the CLI describes it.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type { Config } from "../config/config.ts";
import type { RevocationEntry } from "../pki/revocation_cache.ts";
import { type Crl, formatSerial } from "../pki/crl.ts";
import { describeOcspStatus, type OcspStatus } from "../pki/ocsp.ts";
import type { Json } from "./control_protocol.ts";

/** What a loaded certificate is for. */
export type CredentialRole = "end-entity" | "ca";

/** One certificate or CRL of the configuration. */
export interface LoadedCredential {
  readonly kind: "certificate" | "crl";
  readonly role?: CredentialRole;
  readonly der: Uint8Array;
  /** Our own certificate, with its private key loaded. */
  readonly hasKey: boolean;
  /** Connections using it, in configuration order. */
  readonly connections: string[];
}

/**
 * Every certificate (ours, with the intermediates sent with it; trust
 * anchors; pinned peer certificates) and CRL of `config`, each once.
 */
export function loadedCredentials(config: Config): LoadedCredential[] {
  const out = new Map<string, LoadedCredential>();
  const add = (
    kind: LoadedCredential["kind"],
    role: CredentialRole | undefined,
    der: Uint8Array,
    conn: string,
    hasKey = false,
  ) => {
    const key = Buffer.from(der).toString("base64");
    const had = out.get(key);
    if (had) {
      if (!had.connections.includes(conn)) had.connections.push(conn);
      if (hasKey && !had.hasKey) out.set(key, { ...had, hasKey });
      return;
    }
    out.set(key, { kind, ...(role ? { role } : {}), der, hasKey, connections: [conn] });
  };
  for (const c of config.connections) {
    c.local.certs.forEach((der, i) =>
      add("certificate", i === 0 ? "end-entity" : "ca", der, c.name, i === 0 && !!c.local.key)
    );
    for (const der of c.remote.cacerts) add("certificate", "ca", der, c.name);
    for (const der of c.remote.certs) add("certificate", "end-entity", der, c.name);
    for (const crl of c.remote.crls) add("crl", undefined, crl.der, c.name);
  }
  return [...out.values()];
}

/** The `list-certs` answer: loaded credentials, fetched CRLs by URI, OCSP answers. */
export function credentialsJson(
  loaded: readonly LoadedCredential[],
  fetched: readonly (readonly [string, RevocationEntry<Crl>])[],
  ocsp: readonly (readonly [string, RevocationEntry<OcspStatus>])[] = [],
): Json {
  const b64 = (d: Uint8Array) => Buffer.from(d).toString("base64");
  return {
    certificates: loaded.filter((c) => c.kind === "certificate").map((c) => ({
      role: c.role ?? "end-entity",
      hasKey: c.hasKey,
      connections: c.connections,
      der: b64(c.der),
    })),
    crls: loaded.filter((c) => c.kind === "crl").map((c) => ({
      connections: c.connections,
      der: b64(c.der),
    })),
    fetched: fetched.map(([uri, e]) => {
      const crls = e.state === "ok" ? e.items : e.previous ?? [];
      return {
        uri,
        state: e.state,
        at: new Date(e.state === "fetching" ? e.since : e.at).toISOString(),
        ...(e.state === "failed" ? { reason: e.reason } : {}),
        crls: crls.map((c) => b64(c.der)),
      };
    }),
    ocsp: ocsp.map(([key, e]) => {
      const [uri] = key.split(" ");
      const answer = e.state === "ok" ? e.items[0] : e.previous?.[0];
      return {
        uri,
        state: e.state,
        at: new Date(e.state === "fetching" ? e.since : e.at).toISOString(),
        ...(e.state === "failed" ? { reason: e.reason } : {}),
        ...(answer
          ? {
            serial: formatSerial(answer.certId.serial),
            status: describeOcspStatus(answer),
            signer: answer.signer,
            thisUpdate: answer.thisUpdate.toISOString(),
            ...(answer.nextUpdate ? { nextUpdate: answer.nextUpdate.toISOString() } : {}),
          }
          : { serial: formatSerial(key.split(":").at(-1) ?? "") }),
      };
    }),
  };
}
