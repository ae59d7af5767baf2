/**
 * YAML configuration -> typed {@link Config}, modeled on strongSwan's
 * swanctl.conf so its users feel at home:
 *
 * ```yaml
 * connections:
 *   site-a:
 *     local_addrs: 192.0.2.1
 *     remote_addrs: 198.51.100.1
 *     proposals: aes256gcm16-prfsha384-x25519
 *     local: { auth: psk, id: gw-a.example.com }
 *     remote: { auth: psk, id: gw-b.example.com }
 *     children:
 *       net:
 *         local_ts: 10.1.0.0/16
 *         remote_ts: 10.2.0.0/16
 *         esp_proposals: aes256gcm16
 *         start_action: trap
 * secrets:
 *   ike-site:
 *     id: [gw-a.example.com, gw-b.example.com]
 *     secret: 0sc2VjcmV0IHNoYXJlZCBrZXk=
 * ```
 *
 * plus an explicit `policies:` list (ordered SPD entries as in RFC 4301).
 * Parsing is pure: `parseConfig` reads referenced files only through the
 * `readFile` callback it is given, collects every problem (file:line:col,
 * key path, message) and throws one {@link ConfigError}, or returns a
 * complete Config. A bad file never half-loads.
 *
 * @module
 */

import { isDnsName } from "../ikev2/tasks/redirect.ts";
import {
  defaultProposals,
  parseProposals,
  type Proposal,
  ProposalError,
} from "../crypto/proposal.ts";
import { KeId } from "../crypto/transforms.ts";
import { parseIp } from "../db/address.ts";
import {
  formatIdentity,
  ID_TYPE,
  type Identity,
  identityEquals,
  identityFromPayload,
  identityMatches,
  type IdentityPattern,
  parseIdentity,
  parseIdentityPattern,
} from "../db/identity.ts";
import { parseCertificate } from "../pki/certificate.ts";
import {
  type AddressSelector,
  ANY_PORT,
  icmpSelector,
  IpProto,
  mhSelector,
  parseAddressSelector,
  parsePortSelector,
  parseProtocol,
  type PfpFlags,
  type PortSelector,
  type ProtocolSelector,
  SelectorError,
} from "../db/selector.ts";
import {
  type ChildSection,
  type Config,
  ConfigError,
  type ConnectionSection,
  type EapSecretSection,
  ipsecChildren,
  type LocalAuth,
  type PolicySection,
  type PoolSection,
  type PpkSecretSection,
  type RadiusSection,
  type RemoteAuth,
  type SecretSection,
  type TsSpec,
} from "./config.ts";
import { readBlocks } from "../pki/pem.ts";
import type { EapMethodName } from "../eap/eap_message.ts";
import { type Crl, parseCrls } from "../pki/crl.ts";
import { isEncryptedPrivateKey, parsePrivateKeyObject } from "../pki/keys.ts";
import { splitCertificate, subjectPublicKeyBits } from "../pki/_der.ts";
import { Buffer } from "node:buffer";
import { createPrivateKey, createPublicKey } from "node:crypto";
import { YamlSource, type YamlValue } from "./_yaml.ts";
import {
  type HostLookup,
  hostNamesIn,
  isHostName,
  resolveHosts,
  systemLookup,
} from "./resolve_hosts.ts";

/** Options for {@link parseConfig}. */
export interface ParseConfigOptions {
  /** File name used in error messages (default "config.yaml"). */
  readonly file?: string;
  /**
   * Reads a file the configuration references (certificates, keys,
   * secrets). Paths are passed as written. Without it, referencing a file is
   * an error.
   */
  readonly readFile?: (path: string) => Uint8Array;
  /**
   * Addresses of the DNS names in `remote_addrs`, or why there are none
   * (lib/config/resolve_hosts.ts; {@link loadConfig} fills it). A name not
   * in the map is an error.
   */
  readonly hosts?: ReadonlyMap<string, readonly string[] | Error>;
  /**
   * Turns a path the configuration names but does not read (a child's
   * `updown` script) into the one to use; {@link loadConfig} resolves it
   * from the file's directory, as `readFile` does. Default: as written.
   */
  readonly resolvePath?: (path: string) => string;
}

const PEER_ACTIONS = ["clear", "trap", "restart", "none"] as const;

function msg(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Decodes a swanctl secret: `0x` hex, `0s` base64, else the UTF-8 text. */
export function decodeSecret(s: string): Uint8Array {
  if (/^0x/i.test(s)) {
    const hex = s.slice(2);
    if (!/^([0-9a-fA-F]{2})+$/.test(hex)) throw new Error("0x secret is not valid hex");
    return Uint8Array.from(hex.match(/../g)!, (h) => parseInt(h, 16));
  }
  if (/^0s/i.test(s)) {
    try {
      return Uint8Array.from(atob(s.slice(2)), (c) => c.charCodeAt(0));
    } catch {
      throw new Error("0s secret is not valid base64");
    }
  }
  return new TextEncoder().encode(s);
}

/** A `private-NAME` secret: a private key file and, if it is encrypted, its passphrase. */
interface PrivateKeyEntry {
  /** The file as resolved (the same resolution `local.key` gets). */
  readonly path: string;
  /** The key as PKCS#8 DER, decrypted. */
  readonly pkcs8: Uint8Array;
}

class Parser {
  readonly #src: YamlSource;
  readonly #readFile?: (path: string) => Uint8Array;
  /** `private-*` / `rsa-*` / `ecdsa-*` / `pkcs8-*` secrets, read before the connections. */
  readonly #privateKeys: PrivateKeyEntry[] = [];
  readonly #hosts?: ReadonlyMap<string, readonly string[] | Error>;
  readonly #resolvePath: (path: string) => string;

  constructor(
    src: YamlSource,
    readFile?: (path: string) => Uint8Array,
    hosts?: ReadonlyMap<string, readonly string[] | Error>,
    resolvePath?: (path: string) => string,
  ) {
    this.#src = src;
    this.#readFile = readFile;
    this.#hosts = hosts;
    this.#resolvePath = resolvePath ?? ((p) => p);
  }

  /** A child's `updown` script: a non-empty string, resolved like the other file options. */
  updown(v: YamlValue): string | undefined {
    const s = v.text();
    if (s === undefined) return undefined;
    if (s.trim() === "") {
      v.error("expected the path of a script");
      return undefined;
    }
    return this.#resolvePath(s);
  }

  /** The DER blocks of every file listed (PEM or DER; certificates). */
  files(v: YamlValue): Uint8Array[] {
    return this.#eachFile(v, (bytes, what) => readBlocks(bytes, what).map((b) => b.der));
  }

  /**
   * Raw public key files (`pubkeys`: PEM `PUBLIC KEY` or `RSA PUBLIC KEY`, or
   * DER SubjectPublicKeyInfo, as `ipsec pki pub` and strongSwan's `pki --pub`
   * write them), as SubjectPublicKeyInfo DER.
   */
  pubkeyFiles(v: YamlValue): Uint8Array[] {
    return this.#eachFile(v, (bytes, what) =>
      readBlocks(bytes, what).map((b) => {
        if (b.label !== null && b.label !== "PUBLIC KEY" && b.label !== "RSA PUBLIC KEY") {
          throw new Error(`a ${b.label} block, expected PUBLIC KEY (ipsec pki pub writes one)`);
        }
        const key = createPublicKey({
          key: Buffer.from(b.der),
          format: "der",
          type: b.label === "RSA PUBLIC KEY" ? "pkcs1" : "spki",
        });
        return new Uint8Array(key.export({ type: "spki", format: "der" }));
      }));
  }

  /** CRL files (PEM `X509 CRL` blocks or DER), parsed. */
  crlFiles(v: YamlValue): Crl[] {
    return this.#eachFile(v, parseCrls);
  }

  /** `read(bytes, what)` of each file listed; a file that cannot be read or decoded is an error there. */
  #eachFile<T>(v: YamlValue, read: (bytes: Uint8Array, what: string) => T[]): T[] {
    const out: T[] = [];
    for (const item of v.list()) {
      const path = item.string();
      if (path === undefined) continue;
      if (!this.#readFile) {
        item.error(`cannot read '${path}': files are not available here`);
        continue;
      }
      try {
        out.push(...read(this.#readFile(path), `'${path}'`));
      } catch (e) {
        item.error(`cannot read '${path}': ${msg(e)}`);
      }
    }
    return out;
  }

  /**
   * A private key file: PKCS#8, PKCS#1 (`RSA PRIVATE KEY`, as strongSwan's
   * `pki --gen` writes RSA keys) or SEC1 (`EC PRIVATE KEY`), PEM or DER;
   * returned as PKCS#8 DER, what the signer takes.
   */
  keyFile(key: YamlValue): Uint8Array | undefined {
    const items = key.list();
    if (items.length > 1) key.error("expected one private key file");
    const v = items[0];
    const path = v?.string();
    if (v === undefined || path === undefined) return undefined;
    if (!this.#readFile) {
      v.error(`cannot read '${path}': files are not available here`);
      return undefined;
    }
    // An encrypted key's passphrase comes from a private-NAME secret naming the same file.
    const known = this.#privateKeys.find((k) => k.path === this.#resolvePath(path));
    if (known) return known.pkcs8;
    try {
      const bytes = this.#readFile(path);
      if (isEncryptedPrivateKey(bytes)) {
        v.error(
          `'${path}': the private key is encrypted: give its passphrase in a secrets entry ` +
            `(private-NAME: { file: ${path}, secret: <passphrase> })`,
        );
        return undefined;
      }
      const k = parsePrivateKeyObject(bytes, `'${path}'`);
      if (k) return new Uint8Array(k.export({ type: "pkcs8", format: "der" }));
      v.error(`'${path}' is not a private key (expected PKCS#8, RSA or EC PRIVATE KEY)`);
    } catch (e) {
      v.error(`cannot read '${path}': ${msg(e)}`);
    }
    return undefined;
  }

  /** The PKCS#8 key among the private-NAME secrets that `cert` (DER) was issued for. */
  #keyForCertificate(cert: Uint8Array): Uint8Array | undefined {
    let want: Uint8Array;
    try {
      want = subjectPublicKeyBits(splitCertificate(cert).spki);
    } catch {
      return undefined;
    }
    for (const k of this.#privateKeys) {
      try {
        const priv = createPrivateKey({ key: Buffer.from(k.pkcs8), format: "der", type: "pkcs8" });
        const spki = createPublicKey(priv).export({ type: "spki", format: "der" });
        const got = subjectPublicKeyBits(new Uint8Array(spki));
        if (got.length === want.length && got.every((b, i) => b === want[i])) return k.pkcs8;
      } catch {
        // not comparable: try the next one
      }
    }
    return undefined;
  }

  /**
   * A `private-NAME` secret (also `rsa-`, `ecdsa-`, `pkcs8-`, as in
   * swanctl.conf, or `type: private`): `file` a private key, `secret` its
   * passphrase when it is encrypted. `local.key` naming the same file gets the
   * key decrypted; a `local` with certificates and no `key` gets the one its
   * first certificate is for.
   */
  privateKey(v: YamlValue, f: { file: YamlValue; secret: YamlValue; id: YamlValue }): void {
    if (!f.id.missing) f.id.error("a private key has no 'id': its certificate says whose it is");
    const items = f.file.list();
    const item = items[0];
    const path = item?.string();
    if (items.length !== 1 || item === undefined || path === undefined) {
      v.error("a private key secret needs 'file' (one private key file)");
      return;
    }
    let passphrase: string | undefined;
    const text = f.secret.raw();
    if (text !== undefined) {
      try {
        passphrase = new TextDecoder("utf-8", { fatal: true }).decode(decodeSecret(text));
      } catch (e) {
        f.secret.error(`the passphrase: ${msg(e)}`);
        return;
      }
    }
    if (!this.#readFile) {
      item.error(`cannot read '${path}': files are not available here`);
      return;
    }
    try {
      const k = parsePrivateKeyObject(this.#readFile(path), `'${path}'`, passphrase);
      if (!k) {
        item.error(`'${path}' is not a private key (expected PKCS#8, RSA or EC PRIVATE KEY)`);
        return;
      }
      this.#privateKeys.push({
        path: this.#resolvePath(path),
        pkcs8: new Uint8Array(k.export({ type: "pkcs8", format: "der" })),
      });
    } catch (e) {
      (f.secret.missing ? item : f.secret).error(`cannot read '${path}': ${msg(e)}`);
    }
  }

  proposals(v: YamlValue, kind: "ike" | "esp" | "ah"): Proposal[] {
    const out: Proposal[] = [];
    for (const item of v.list()) {
      const s = item.string();
      if (s === undefined) continue;
      try {
        // MODP 1024/1536 (RFC 8247: SHOULD NOT) only where a proposal names them, as in
        // strongSwan (older Windows clients offer nothing else); MODP 768 (MUST NOT) never.
        const parsed = parseProposals(s, kind, { allowWeak: true });
        if (parsed.some((p) => p.ke.some((k) => k.id === KeId.MODP_768))) {
          item.error(
            `'${s}': modp768 is too weak to use (RFC 8247: MUST NOT); use modp2048 or better`,
          );
          continue;
        }
        out.push(...parsed);
      } catch (e) {
        item.error(
          e instanceof ProposalError ? `'${s}': ${e.message}` : `'${s}' is not a proposal`,
        );
      }
    }
    return out;
  }

  addrs(v: YamlValue, allowRanges: boolean): string[] {
    const out: string[] = [];
    for (const item of v.list()) {
      const s = item.string();
      if (s === undefined) continue;
      if (s === "%any" || s === "%any6") continue;
      if (parseIp(s)) {
        out.push(s);
        continue;
      }
      if (allowRanges) {
        try {
          parseAddressSelector(s);
          out.push(s);
          continue;
        } catch { /* reported below */ }
        if (isHostName(s)) {
          // remote_addrs: a DNS name, resolved when the file was loaded.
          const r = this.#hosts?.get(s);
          if (Array.isArray(r)) out.push(...r);
          else {
            item.error(
              r instanceof Error
                ? `cannot resolve '${s}': ${r.message} (write an address, or fix the name)`
                : `'${s}' is a DNS name: load the file with loadConfig() to resolve it`,
            );
          }
          continue;
        }
      }
      item.error(
        `'${s}' is not an IP address${allowRanges ? ", prefix or range" : ""} (DNS names ` +
          `are not resolved: write an address, or %any)`,
      );
    }
    return out;
  }

  ts(v: YamlValue): TsSpec[] {
    const items = v.missing ? [] : v.list();
    if (items.length === 0) {
      return [{
        text: "dynamic",
        dynamic: true,
        address: { kind: "any" },
        protocol: "any",
        port: ANY_PORT,
      }];
    }
    const out: TsSpec[] = [];
    for (const item of items) {
      const text = item.string();
      if (text === undefined) continue;
      try {
        out.push(parseTsSpec(text));
      } catch (e) {
        item.error(`'${text}' ${msg(e)}`);
      }
    }
    return out;
  }

  local(v: YamlValue): LocalAuth {
    const f = v.fields(["auth", "id", "certs", "key", "eap_id"] as const);
    const { method, auth, eapId } = authMethod(f.auth, f.eap_id);
    if (eapId === "" || eapId === "%any") {
      f.eap_id.error("our EAP identity cannot be empty or %any");
    }
    let id: Identity | undefined;
    const idText = f.id.string();
    if (idText !== undefined) {
      try {
        id = parseIdentity(idText);
        if (id.type === "any") {
          f.id.error("our own identity cannot be %any: write an FQDN, email, DN or address");
        }
      } catch (e) {
        f.id.error(`'${idText}' is not an identity: ${msg(e)}`);
      }
    }
    const certs = this.files(f.certs);
    // No `key`: the private-NAME secret whose key the certificate is for (as swanctl finds it).
    const key = f.key.missing && certs.length > 0
      ? this.#keyForCertificate(certs[0])
      : this.keyFile(f.key);
    if (certs.length > 0 && key) keyMatchesCertificate(key, certs[0], f.key, f.certs);
    if (method === "eap-radius") {
      f.auth.error(
        "eap-radius is for gateways (remote auth): a client answers with eap-mschapv2 or eap-md5",
      );
    }
    if (method === "eap-tls" && (certs.length === 0 || !key)) {
      v.error("auth: eap-tls needs 'certs' and 'key' (the client certificate we log in with)");
    }
    if (auth === "pubkey") {
      // Without certs we sign with the bare key (the peer has our public key: its `pubkeys`).
      if (f.key.missing && !key) {
        v.error(
          certs.length > 0
            ? "auth: pubkey needs 'key' (our private key file), or a secrets entry " +
              "private-NAME: { file: ... } holding the key of the first certificate"
            : "auth: pubkey needs 'key' (our private key file)",
        );
      }
    }
    return {
      auth,
      ...(id ? { id } : {}),
      certs,
      ...(key ? { key } : {}),
      ...(auth === "eap" ? { eapMethods: eapMethodsOf(method) } : {}),
      ...(auth === "eap" && eapId ? { eapId } : {}),
    };
  }

  remote(v: YamlValue): RemoteAuth {
    const f = v.fields(
      [
        "auth",
        "id",
        "cacerts",
        "certs",
        "pubkeys",
        "crls",
        "revocation",
        "eap_id",
        "aaa_id",
      ] as const,
    );
    const { method, auth, eapId } = authMethod(f.auth, f.eap_id);
    if (eapId === "") f.eap_id.error("write %any to ask the peer for its EAP identity");
    let idPattern: IdentityPattern = { type: "any" };
    let id: Identity | undefined;
    const idText = f.id.string();
    if (idText !== undefined) {
      try {
        idPattern = parseIdentityPattern(idText);
        if (isExact(idPattern)) id = parseIdentity(idText);
      } catch (e) {
        f.id.error(`'${idText}' is not an identity or pattern: ${msg(e)}`);
      }
    }
    const cacerts = this.files(f.cacerts);
    const certs = this.files(f.certs);
    const pubkeys = this.pubkeyFiles(f.pubkeys);
    if (
      auth === "pubkey" && cacerts.length === 0 && certs.length === 0 && pubkeys.length === 0 &&
      f.cacerts.missing && f.pubkeys.missing
    ) {
      v.error(
        "auth: pubkey needs 'cacerts' (trust anchors), 'certs' (pinned peer certificates) or " +
          "'pubkeys' (the peer's raw public keys)",
      );
    }
    if (auth !== "pubkey" && !f.pubkeys.missing) v.error("'pubkeys' applies to auth: pubkey only");
    if (method === "eap-peap") {
      f.auth.error(
        "eap-peap runs as client only: a gateway relays PEAP to a RADIUS server (auth: eap-radius)",
      );
    }
    if (method === "eap-tls" && cacerts.length === 0 && f.cacerts.missing) {
      v.error("auth: eap-tls needs 'cacerts' (the CAs that issue client certificates)");
    }
    let aaaId: Identity | undefined;
    const aaaText = f.aaa_id.string();
    if (aaaText !== undefined) {
      try {
        aaaId = parseIdentity(aaaText);
      } catch (e) {
        f.aaa_id.error(`'${aaaText}' is not an identity: ${msg(e)}`);
      }
    }
    const crls = this.crlFiles(f.crls);
    const revocation = f.revocation.oneOf(["strict", "ifuri", "relaxed"] as const, "relaxed");
    if (auth !== "pubkey" && (crls.length > 0 || !f.revocation.missing)) {
      v.error("'crls' and 'revocation' apply to auth: pubkey only");
    }
    return {
      auth,
      idPattern,
      ...(id ? { id } : {}),
      cacerts,
      certs,
      ...(pubkeys.length ? { pubkeys } : {}),
      crls,
      revocation,
      ...(auth === "eap"
        ? { eapMethod: method === "eap-radius" ? "radius" as const : eapMethodsOf(method)[0] }
        : {}),
      ...(auth === "eap" && eapId ? { eapId } : {}),
      ...(aaaId ? { aaaId } : {}),
    };
  }

  child(name: string, v: YamlValue): ChildSection {
    const f = v.fields(
      [
        "local_ts",
        "remote_ts",
        "mode",
        "esp_proposals",
        "ah_proposals",
        "start_action",
        "dpd_action",
        "close_action",
        "rekey_time",
        "life_time",
        "rand_time",
        "rekey_bytes",
        "life_bytes",
        "rekey_packets",
        "life_packets",
        "replay_window",
        "copy_df",
        "copy_dscp",
        "copy_ecn",
        "tfc_padding",
        "updown",
        "inactivity",
        "ipcomp",
        "sha256_96",
      ] as const,
    );
    if (!f.esp_proposals.missing && !f.ah_proposals.missing) {
      f.ah_proposals.error("use either esp_proposals or ah_proposals, not both");
    }
    const protocol = f.ah_proposals.missing ? "esp" : "ah";
    const written = protocol === "esp"
      ? this.proposals(f.esp_proposals, "esp")
      : this.proposals(f.ah_proposals, "ah");
    const proposals = written.length > 0 ? written : defaultProposals(protocol);
    const rekeyTimeSeconds = f.rekey_time.seconds(3600);
    const lifeTimeSeconds = f.life_time.seconds(Math.round(rekeyTimeSeconds * 1.1));
    if (rekeyTimeSeconds > 0 && lifeTimeSeconds > 0 && lifeTimeSeconds <= rekeyTimeSeconds) {
      f.life_time.error(
        `life_time (${lifeTimeSeconds}s) must be longer than rekey_time (${rekeyTimeSeconds}s)`,
      );
    }
    const randTimeSeconds = f.rand_time.missing ? undefined : f.rand_time.seconds(0);
    if (
      randTimeSeconds !== undefined && rekeyTimeSeconds > 0 && randTimeSeconds >= rekeyTimeSeconds
    ) {
      f.rand_time.error(
        `rand_time (${randTimeSeconds}s) must be shorter than rekey_time (${rekeyTimeSeconds}s)`,
      );
    }
    const rekeyBytes = f.rekey_bytes.count(0n);
    const lifeBytes = f.life_bytes.count(rekeyBytes === 0n ? 0n : (rekeyBytes * 11n) / 10n);
    const rekeyPackets = f.rekey_packets.count(0n);
    const lifePackets = f.life_packets.count(
      rekeyPackets === 0n ? 0n : (rekeyPackets * 11n) / 10n,
    );
    const copyDscp = f.copy_dscp.oneOf(["out", "in", "yes", "no"] as const, "out");
    const updown = this.updown(f.updown);
    const ipcomp = f.ipcomp.bool(false);
    return {
      name,
      localTs: this.ts(f.local_ts),
      remoteTs: this.ts(f.remote_ts),
      mode: f.mode.oneOf(["tunnel", "transport", "pass", "drop"] as const, "tunnel"),
      protocol,
      proposals,
      startAction: f.start_action.oneOf(["none", "trap", "start"] as const, "none"),
      dpdAction: f.dpd_action.oneOf(PEER_ACTIONS, "clear"),
      closeAction: f.close_action.oneOf(PEER_ACTIONS, "none"),
      rekeyTimeSeconds,
      lifeTimeSeconds,
      ...(randTimeSeconds !== undefined ? { randTimeSeconds } : {}),
      rekeyBytes,
      lifeBytes,
      rekeyPackets,
      lifePackets,
      replayWindow: f.replay_window.int(1024, 0, 65536),
      copyDf: f.copy_df.bool(true),
      copyDscp: copyDscp !== "no",
      copyEcn: f.copy_ecn.bool(true),
      tfcPadding: tfcPadding(f.tfc_padding),
      ipcomp,
      sha256Icv96: f.sha256_96.bool(false),
      inactivitySeconds: f.inactivity.seconds(0),
      ...(updown !== undefined ? { updown } : {}),
    };
  }

  connection(name: string, v: YamlValue): ConnectionSection {
    const f = v.fields(
      [
        "version",
        "local_addrs",
        "remote_addrs",
        "local_port",
        "remote_port",
        "proposals",
        "local",
        "remote",
        "local-1",
        "remote-1",
        "local-2",
        "remote-2",
        "local-3",
        "remote-3",
        "dpd_delay",
        "dpd_action",
        "rekey_time",
        "reauth_time",
        "over_time",
        "rand_time",
        "encap",
        "mobike",
        "fragmentation",
        "fragment_size",
        "send_cert",
        "send_certreq",
        "unique",
        "follow_redirects",
        "redirect_to",
        "childless",
        "ppk_id",
        "ppk_required",
        "keyingtries",
        "retransmit_timeout",
        "retransmit_tries",
        "pools",
        "vips",
        "children",
      ] as const,
    );
    const version = f.version.int(2, 0, 2);
    if (version === 1) f.version.error("IKEv1 is not supported: use version 2 (or 0 for any)");
    // swanctl names the first round `local` or `local-1` (RFC 4739 rounds: local-2, local-3).
    for (const [a, b] of [[f.local, f["local-1"]], [f.remote, f["remote-1"]]] as const) {
      if (!a.missing && !b.missing) {
        b.error("write the first round as either 'local'/'remote' or '-1'");
      }
    }
    const localAt = f.local.missing ? f["local-1"] : f.local;
    const remoteAt = f.remote.missing ? f["remote-1"] : f.remote;
    if (localAt.missing) v.error("missing 'local' block (auth and id of this host)");
    if (remoteAt.missing) v.error("missing 'remote' block (how the peer authenticates)");
    if (!f["local-3"].missing && f["local-2"].missing) {
      f["local-3"].error("'local-3' without 'local-2'");
    }
    if (!f["remote-3"].missing && f["remote-2"].missing) {
      f["remote-3"].error("'remote-3' without 'remote-2'");
    }
    const written = this.proposals(f.proposals, "ike");
    const children = f.children.entries().map(([n, c]) => this.child(n, c));
    const localAddrs = this.addrs(f.local_addrs, false);
    const local = this.local(localAt);
    const localRounds = [f["local-2"], f["local-3"]].filter((r) => !r.missing).map((r) =>
      this.local(r)
    );
    const remoteRounds = [f["remote-2"], f["remote-3"]].filter((r) => !r.missing).map((r) =>
      this.remote(r)
    );
    if (children.length === 0 && !f.children.missing) {
      f.children.error("expected at least one child");
    }
    const redirectTo = f.redirect_to.string();
    if (redirectTo !== undefined && !parseIp(redirectTo) && !isDnsName(redirectTo)) {
      f.redirect_to.error(
        `'${redirectTo}' is neither an IP address nor a DNS name (the gateway clients are sent to)`,
      );
    }
    const ikeRekey = f.rekey_time.seconds(4 * 3600);
    const ikeReauth = f.reauth_time.seconds(0);
    const ikeRand = f.rand_time.missing ? undefined : f.rand_time.seconds(0);
    const shortest = Math.min(...[ikeRekey, ikeReauth].filter((t) => t > 0));
    if (ikeRand !== undefined && ikeRand > 0 && ikeRand >= shortest) {
      f.rand_time.error(
        `rand_time (${ikeRand}s) must be shorter than rekey_time/reauth_time (${shortest}s)`,
      );
    }
    const certId = !local.id && local.auth === "pubkey" && local.certs.length > 0
      ? certSubjectId(local.certs[0])
      : undefined;
    return {
      name,
      version: 2,
      localAddrs,
      remoteAddrs: this.addrs(f.remote_addrs, true),
      remoteNames: f.remote_addrs.list().map((i) => i.string() ?? "").filter((s) => isHostName(s)),
      localPort: f.local_port.int(500, 1, 65535),
      remotePort: f.remote_port.int(500, 1, 65535),
      proposals: written.length > 0 ? written : defaultProposals("ike"),
      // swanctl: without an id we are identified by our certificate's subject DN
      // (pubkey), else by our (single) address.
      local: local.id
        ? local
        : certId
        ? { ...local, id: certId }
        : localAddrs.length !== 1
        ? local
        : { ...local, id: parseIdentity(localAddrs[0]) },
      remote: this.remote(remoteAt),
      localRounds,
      remoteRounds,
      dpdDelaySeconds: f.dpd_delay.seconds(0),
      dpdAction: f.dpd_action.oneOf(PEER_ACTIONS, "clear"),
      rekeyTimeSeconds: ikeRekey,
      reauthTimeSeconds: ikeReauth,
      ...(f.over_time.missing ? {} : { overTimeSeconds: f.over_time.seconds(0) }),
      ...(ikeRand !== undefined ? { randTimeSeconds: ikeRand } : {}),
      encap: f.encap.bool(false),
      mobike: f.mobike.bool(true),
      fragmentation: fragmentation(
        f.fragmentation.oneOf(["yes", "no", "accept", "force", "true", "false"] as const, "yes"),
      ),
      ...(f.fragment_size.missing ? {} : { fragmentSize: f.fragment_size.int(1280, 576, 65535) }),
      sendCert: f.send_cert.oneOf(["always", "ifasked", "never"] as const, "ifasked"),
      unique: f.unique.oneOf(["no", "never", "keep", "replace"] as const, "no"),
      followRedirects: f.follow_redirects.bool(true),
      childless: f.childless.oneOf(["allow", "prefer", "force", "never"] as const, "allow"),
      ...(f.ppk_id.string() !== undefined ? { ppkId: f.ppk_id.string()! } : {}),
      ppkRequired: f.ppk_required.bool(false),
      ...(redirectTo !== undefined ? { redirectTo } : {}),
      sendCertreq: f.send_certreq.bool(true),
      keyingTries: f.keyingtries.int(1, 0, 1000),
      ...(f.retransmit_timeout.missing && f.retransmit_tries.missing ? {} : {
        retransmit: {
          timeoutSeconds: Math.max(1, f.retransmit_timeout.seconds(4)),
          tries: f.retransmit_tries.int(5, 0, 100),
        },
      }),
      pools: f.pools.strings(),
      vips: this.addrs(f.vips, false).concat(
        f.vips.strings().filter((s) => s === "%any" || s === "%any6").map((s) =>
          s === "%any" ? "0.0.0.0" : "::"
        ),
      ),
      children,
    };
  }

  /**
   * One `secrets` entry: a pre-shared key; with `type: eap` (the default
   * for names starting with `eap-`, as in swanctl.conf) an EAP password whose
   * `id`s are EAP identities (user names) taken as written; with `type: ppk`
   * (names starting with `ppk`) a post-quantum preshared key (RFC 8784)
   * whose `id`s are PPK ids; with `type: private` (names starting with
   * `private`, `rsa`, `ecdsa` or `pkcs8`) a private key file and its
   * passphrase ({@linkcode privateKey}; kept by the parser, returns null).
   */
  secret(
    name: string,
    v: YamlValue,
  ):
    | { kind: "ike"; s: SecretSection }
    | { kind: "eap"; s: EapSecretSection }
    | { kind: "ppk"; s: PpkSecretSection }
    | null {
    const f = v.fields(["id", "secret", "file", "type"] as const);
    const kind = f.type.oneOf(
      ["ike", "eap", "ppk", "private"] as const,
      name.startsWith("eap-")
        ? "eap"
        : name.startsWith("ppk")
        ? "ppk"
        : /^(private|rsa|ecdsa|pkcs8)/.test(name)
        ? "private"
        : "ike",
    );
    if (kind === "private") {
      this.privateKey(v, f);
      return null;
    }
    const ids: Identity[] = [];
    const eapIds: string[] = [];
    for (const item of f.id.list()) {
      const s = item.string();
      if (s === undefined) continue;
      if (kind !== "ike") {
        const what = kind === "eap" ? "an EAP identity" : "a PPK id";
        if (s === "" || s === "%any") item.error(`${what} cannot be empty or %any`);
        else eapIds.push(s);
        continue;
      }
      try {
        const id = parseIdentity(s);
        if (id.type !== "any") ids.push(id);
      } catch (e) {
        item.error(`'${s}' is not an identity: ${msg(e)}`);
      }
    }
    if (f.secret.missing === f.file.missing) {
      v.error("give exactly one of 'secret' (the key) or 'file' (a file holding it)");
      return null;
    }
    let secret: Uint8Array | undefined;
    const text = f.secret.raw();
    if (text !== undefined) {
      try {
        secret = decodeSecret(text);
      } catch (e) {
        f.secret.error(msg(e));
      }
    } else {
      const [bytes] = this.files(f.file);
      if (bytes) {
        secret = decodeSecret(new TextDecoder().decode(bytes).trim());
      }
    }
    if (!secret) return null;
    const where = f.secret.missing ? f.file : f.secret;
    if (secret.length === 0) {
      where.error(kind === "eap" ? "the EAP password is empty" : "the pre-shared key is empty");
      return null;
    }
    if (kind === "ike") return { kind, s: { name, ids, secret } };
    if (kind === "ppk") {
      if (eapIds.length === 0) v.error("a PPK needs an 'id' (the ppk_id connections name it by)");
      return { kind, s: { name, ids: eapIds, secret } };
    }
    let password: string;
    try {
      password = new TextDecoder("utf-8", { fatal: true }).decode(secret);
    } catch {
      where.error("an EAP password must be UTF-8 text");
      return null;
    }
    return { kind, s: { name, ids: eapIds, secret: password } };
  }

  /** `radius: { servers: { NAME: { address, secret, port } }, nas_identifier }`. */
  radius(v: YamlValue): RadiusSection {
    const f = v.fields(
      ["servers", "nas_identifier", "accounting", "interim_interval", "dae"] as const,
    );
    const servers: RadiusSection["servers"][number][] = [];
    for (const [name, s] of f.servers.entries()) {
      const g = s.fields(["address", "secret", "port", "acct_port"] as const);
      const address = g.address.string();
      const secret = g.secret.string();
      const port = g.port.int(1812, 1, 65535);
      if (address === undefined || !parseIp(address)) {
        (address === undefined ? s : g.address).error(
          `RADIUS server '${name}' needs 'address', an IP address`,
        );
        continue;
      }
      if (!secret) {
        s.error(`RADIUS server '${name}' needs 'secret', the shared secret`);
        continue;
      }
      const acctPort = g.acct_port.int(1813, 1, 65535);
      servers.push({ name, address, port, acctPort, secret: new TextEncoder().encode(secret) });
    }
    if (servers.length === 0 && !f.servers.missing && f.servers.entries().length === 0) {
      f.servers.error("no RADIUS server");
    }
    return {
      servers,
      nasIdentifier: f.nas_identifier.string() ?? "deno-ipsec",
      accounting: f.accounting.bool(false),
      interimSeconds: f.interim_interval.seconds(0),
      ...(f.dae.missing ? {} : this.dae(f.dae)),
    };
  }

  /** `dae: { listen, port, secret }` (RFC 5176 Disconnect-Requests). */
  dae(v: YamlValue): { dae?: RadiusSection["dae"] } {
    const f = v.fields(["listen", "port", "secret"] as const);
    const listen = f.listen.string() ?? "0.0.0.0";
    const port = f.port.int(3799, 1, 65535);
    const secret = f.secret.string();
    if (!parseIp(listen)) f.listen.error(`'${listen}' is not an IP address`);
    if (!secret) {
      v.error("dae needs 'secret', the shared secret of the RADIUS server that disconnects users");
      return {};
    }
    return { dae: { listen, port, secret: new TextEncoder().encode(secret) } };
  }

  pool(name: string, v: YamlValue): PoolSection | null {
    const f = v.fields(["addrs", "dns"] as const);
    const a = f.addrs.string();
    if (a === undefined) {
      v.error("a pool needs 'addrs' (a prefix like 10.3.0.0/24 or a range)");
      return null;
    }
    let addrs: AddressSelector;
    try {
      addrs = parseAddressSelector(a);
      if (addrs.kind !== "range") throw new SelectorError("expected a prefix or range");
    } catch (e) {
      f.addrs.error(`'${a}' is not a valid pool: ${msg(e)}`);
      return null;
    }
    const dns: string[] = [];
    for (const item of f.dns.list()) {
      const s = item.string();
      if (s === undefined) continue;
      if (parseIp(s)) dns.push(s);
      else item.error(`'${s}' is not an IP address`);
    }
    return { name, addrs, dns };
  }

  policy(index: number, v: YamlValue): PolicySection | null {
    const f = v.fields(
      [
        "label",
        "local",
        "remote",
        "protocol",
        "local_port",
        "remote_port",
        "local_type",
        "remote_type",
        "pfp",
        "name",
        "direction",
        "action",
        "mode",
        "esp_proposals",
        "ah_proposals",
        "tunnel_local",
        "tunnel_remote",
        "replay_window",
        "rekey_time",
        "life_time",
      ] as const,
    );
    const sel = <T>(x: YamlValue, parse: (s: string) => T, dflt: T): T => {
      const s = x.string();
      if (s === undefined) return dflt;
      try {
        return parse(s);
      } catch (e) {
        x.error(`'${s}' ${msg(e).replace(/^expected/, "is not valid: expected")}`);
        return dflt;
      }
    };
    const protocol: ProtocolSelector = sel(f.protocol, parseProtocol, "any");
    const typed = protocol === IpProto.ICMP || protocol === IpProto.ICMPV6 ||
      protocol === IpProto.MH;
    const typeSel = (x: YamlValue, portKey: YamlValue): PortSelector | undefined => {
      if (x.missing) return undefined;
      if (!typed) {
        x.error("message types need protocol icmp, ipv6-icmp or mh");
        return undefined;
      }
      if (!portKey.missing) x.error("give either a port or a message type for this side");
      return sel(x, (s) => parseTypeSelector(s, protocol as number), undefined);
    };
    let localPort = sel(f.local_port, parsePortSelector, ANY_PORT);
    let remotePort = sel(f.remote_port, parsePortSelector, ANY_PORT);
    if (protocol === "any" && (localPort.kind !== "any" || remotePort.kind !== "any")) {
      (localPort.kind !== "any" ? f.local_port : f.remote_port).error(
        "ports need a protocol (add protocol: tcp, udp, ...)",
      );
    }
    localPort = typeSel(f.local_type, f.local_port) ?? localPort;
    remotePort = typeSel(f.remote_type, f.remote_port) ?? remotePort;
    const pfp: { -readonly [K in keyof PfpFlags]: boolean } = {};
    const PFP_KEYS: Record<string, keyof PfpFlags> = {
      laddr: "localAddress",
      local_addr: "localAddress",
      local: "localAddress",
      raddr: "remoteAddress",
      remote_addr: "remoteAddress",
      remote: "remoteAddress",
      proto: "protocol",
      protocol: "protocol",
      lport: "localPort",
      local_port: "localPort",
      rport: "remotePort",
      remote_port: "remotePort",
    };
    for (const item of f.pfp.list()) {
      const s = item.string()?.toLowerCase();
      if (s === undefined) continue;
      const k = PFP_KEYS[s];
      if (k) pfp[k] = true;
      else item.error(`'${s}' is not a selector: expected laddr, raddr, proto, lport or rport`);
    }
    let name: IdentityPattern | undefined;
    const nameText = f.name.string();
    if (nameText !== undefined) {
      try {
        name = parseIdentityPattern(nameText);
      } catch (e) {
        f.name.error(`'${nameText}' is not an identity pattern: ${msg(e)}`);
      }
    }
    const action = f.action.oneOf(["bypass", "discard", "protect"] as const, "discard");
    if (f.action.missing) v.error("missing 'action' (bypass, discard or protect)");
    const protectOnly = [
      f.mode,
      f.esp_proposals,
      f.ah_proposals,
      f.tunnel_local,
      f.tunnel_remote,
      f.replay_window,
      f.rekey_time,
      f.life_time,
    ];
    const base: PolicySection = {
      label: f.label.string() ?? `policy-${index + 1}`,
      local: sel(f.local, parseAddressSelector, { kind: "any" } as AddressSelector),
      remote: sel(f.remote, parseAddressSelector, { kind: "any" } as AddressSelector),
      protocol,
      localPort,
      remotePort,
      pfp,
      ...(name ? { name } : {}),
      direction: f.direction.oneOf(["both", "outbound", "inbound"] as const, "both"),
      action,
    };
    if (action !== "protect") {
      for (const x of protectOnly) {
        if (!x.missing) x.error(`only PROTECT entries take '${x.path.split(".").pop()}'`);
      }
      if (name) f.name.error("a Name selector only makes sense on a PROTECT entry");
      return base;
    }
    if (!f.esp_proposals.missing && !f.ah_proposals.missing) {
      f.ah_proposals.error("use either esp_proposals or ah_proposals, not both");
    }
    const ipsec = f.ah_proposals.missing ? "esp" : "ah";
    const written = ipsec === "esp"
      ? this.proposals(f.esp_proposals, "esp")
      : this.proposals(f.ah_proposals, "ah");
    const mode = f.mode.oneOf(["tunnel", "transport"] as const, "transport");
    const tl = f.tunnel_local.string();
    const tr = f.tunnel_remote.string();
    if (mode === "transport" && (tl !== undefined || tr !== undefined)) {
      (tl !== undefined ? f.tunnel_local : f.tunnel_remote).error(
        "tunnel endpoints need mode: tunnel",
      );
    }
    for (const [x, s] of [[f.tunnel_local, tl], [f.tunnel_remote, tr]] as const) {
      if (s !== undefined && s !== "dynamic" && !parseIp(s)) {
        x.error(`'${s}' is not an IP address (or 'dynamic')`);
      }
    }
    return {
      ...base,
      mode,
      protocolIpsec: ipsec,
      proposals: written.length > 0 ? written : defaultProposals(ipsec),
      ...(mode === "tunnel" ? { tunnel: { local: tl ?? "dynamic", remote: tr ?? "dynamic" } } : {}),
      replayWindow: f.replay_window.int(1024, 0, 65536),
      rekeyTimeSeconds: f.rekey_time.seconds(3600),
      lifeTimeSeconds: f.life_time.seconds(3960),
    };
  }
}

function isExact(p: IdentityPattern): boolean {
  switch (p.type) {
    case "any":
    case "rfc822-domain":
      return false;
    case "fqdn":
    case "dn":
      return !p.subtree && (p.type !== "dn" || p.rdns.every(([, v]) => v !== "*"));
    case "address":
      return p.start === p.end;
    default:
      return true;
  }
}

/** ICMP `type` or `type/code`, or an MH type (name or number), as a port selector. */
function parseTypeSelector(s: string, protocol: number): PortSelector {
  if (protocol === IpProto.MH) return mhSelector(s);
  const m = /^([0-9]{1,3})(?:\/([0-9]{1,3}))?$/.exec(s.trim());
  if (!m) throw new SelectorError("expected an ICMP type like 8 or type/code like 3/4");
  const code = m[2] === undefined ? undefined : Number(m[2]);
  return icmpSelector(Number(m[1]), code ?? 0, code ?? 255);
}

/**
 * Parses one `local_ts`/`remote_ts` item: `dynamic`, an address, prefix or
 * range, `%any`, each optionally followed by `[proto/port]` (swanctl
 * syntax, e.g. `10.1.0.0/16[tcp/80]`, `dynamic[udp/1701]`, `[icmp/8]`).
 * Throws SelectorError with what was expected.
 */
export function parseTsSpec(text: string): TsSpec {
  let addr = text.trim();
  let protocol: ProtocolSelector = "any";
  let port: PortSelector = ANY_PORT;
  const m = /^(.*)\[([^\]]*)\]$/.exec(addr);
  if (m) {
    addr = m[1].trim();
    // Only the first "/" separates protocol and port: ICMP takes "type/code" ("[icmp/3/4]").
    const slash = m[2].indexOf("/");
    const p = slash < 0 ? m[2] : m[2].slice(0, slash);
    const po = slash < 0 ? undefined : m[2].slice(slash + 1);
    if (p.trim() !== "" && p.trim() !== "%any") protocol = parseProtocol(p);
    if (po !== undefined && po.trim() !== "" && po.trim() !== "%any") {
      if (protocol === "any") throw new SelectorError("is not valid: a port needs a protocol");
      port = protocol === IpProto.ICMP || protocol === IpProto.ICMPV6 || protocol === IpProto.MH
        ? parseTypeSelector(po, protocol)
        : parsePortSelector(po);
    }
  }
  const dynamic = addr === "dynamic" || addr === "%dynamic";
  let address: AddressSelector = { kind: "any" };
  if (!dynamic && addr !== "" && addr !== "%any") {
    try {
      address = parseAddressSelector(addr);
    } catch (e) {
      const reason = msg(e);
      throw new SelectorError(
        /prefix length/.test(reason)
          ? `is not a valid prefix: ${reason}`
          : `is not a valid traffic selector: ${reason}`,
      );
    }
    if (address.kind !== "range") {
      throw new SelectorError("is not valid: expected an address, prefix, range or dynamic");
    }
  }
  return { text, dynamic, address, protocol, port };
}

function crossCheck(config: Config, root: YamlValue): void {
  const conns = root.get("connections");
  for (const c of config.connections) {
    const at = conns.get(c.name);
    const f = {
      pools: at.get("pools"),
      local: at.get("local"),
      remote: at.get("remote"),
      children: at.get("children"),
    };
    for (const p of c.pools) {
      if (p === "radius" && !config.pools.some((x) => x.name === p)) {
        // charon's `pools = radius`: the RADIUS server's Framed-IP-Address.
        const radius = [c.remote, ...c.remoteRounds].some((r) =>
          r.auth === "eap" && r.eapMethod === "radius"
        );
        if (!radius) {
          f.pools.error(
            "pool 'radius' (the RADIUS server's Framed-IP-Address) needs remote auth: eap-radius",
          );
        }
        continue;
      }
      if (!config.pools.some((x) => x.name === p)) {
        f.pools.error(
          `pool '${p}' is not defined in 'pools'${
            config.pools.length ? ` (defined: ${config.pools.map((x) => x.name).join(", ")})` : ""
          }`,
        );
      }
    }
    if (!c.local.id && c.localAddrs.length !== 1) {
      f.local.error(
        "set 'id': without it our identity is our address, but local_addrs is not one address",
      );
    }
    // Round 1 is `local`/`remote` (or `local-1`/`remote-1`), then RFC 4739's local-2, remote-2...
    const localAt = (i: number) =>
      i > 0 ? at.get(`local-${i + 1}`) : at.get("local").missing ? at.get("local-1") : f.local;
    const remoteAt = (i: number) =>
      i > 0 ? at.get(`remote-${i + 1}`) : at.get("remote").missing ? at.get("remote-1") : f.remote;
    const locals = [c.local, ...c.localRounds];
    const remotes = [c.remote, ...c.remoteRounds];
    for (let i = 0; i < Math.max(locals.length, remotes.length); i++) {
      const l = locals[i];
      const r = remotes[i];
      if (l?.auth !== "psk" && r?.auth !== "psk") continue;
      const round = {
        ...c,
        local: { ...(l ?? c.local), id: l?.id ?? c.local.id },
        remote: r ?? c.remote,
      };
      if (!findSecret(config, round)) {
        (l?.auth === "psk" ? localAt(i) : remoteAt(i)).error(
          "auth: psk but no entry in 'secrets' has an id matching this connection's local or " +
            "remote id (or no id at all)",
        );
      }
    }
    locals.forEach((l, i) => {
      const tunnel = l.eapMethods?.find((m) => m === "tls" || m === "ttls" || m === "peap");
      if (tunnel && c.remote.cacerts.length === 0) {
        localAt(i).error(
          `auth: eap-${tunnel} checks the gateway's TLS certificate: 'remote' needs 'cacerts'`,
        );
      }
      if (l.auth !== "eap" || l.eapMethods?.every((m) => m === "tls")) return;
      const id = l.id ?? c.local.id;
      const eapId = l.eapId ?? (id ? formatIdentity(id) : undefined);
      const known = config.eapSecrets.some((s) =>
        s.ids.length === 0 || (eapId !== undefined && s.ids.includes(eapId))
      );
      if (!known) {
        localAt(i).error(
          `auth: eap but no EAP secret ('secrets' entry named eap-… or with type: eap) has id ` +
            `'${eapId ?? "(our address)"}' (set eap_id to the user name the gateway knows)`,
        );
      }
    });
    if (c.ppkId !== undefined && !config.ppks.some((p) => p.ids.includes(c.ppkId!))) {
      f.local.error(
        `ppk_id '${c.ppkId}' names no PPK ('secrets' entry named ppk… or with type: ppk)`,
      );
    }
    if (c.ppkRequired && c.ppkId === undefined && config.ppks.length === 0) {
      f.local.error("ppk_required: yes needs a PPK ('secrets' entry named ppk… or with type: ppk)");
    }
    remotes.forEach((r, i) => {
      if (r.auth === "eap" && r.eapMethod === "radius") {
        if (!config.radius?.servers.length) {
          remoteAt(i).error("auth: eap-radius needs a RADIUS server in 'radius: servers'");
        }
      } else if (r.auth === "eap" && r.eapMethod === "tls") {
        if (c.local.certs.length === 0 || !c.local.key) {
          remoteAt(i).error(
            "auth: eap-tls makes us the TLS server: 'local' needs our 'certs' and 'key'",
          );
        }
      } else if (
        r.auth === "eap" && r.eapMethod === "ttls" && (c.local.certs.length === 0 || !c.local.key)
      ) {
        remoteAt(i).error(
          "auth: eap-ttls makes us the TLS server: 'local' needs our 'certs' and 'key'",
        );
      } else if (r.auth === "eap" && config.eapSecrets.length === 0) {
        remoteAt(i).error(
          "auth: eap but no EAP secrets ('secrets' entries named eap-… or with type: eap) " +
            "hold user names and passwords",
        );
      }
    });
    const started = ipsecChildren(c).find((ch) => ch.startAction !== "none");
    if (c.remoteAddrs.length === 0 && started) {
      const child = started;
      f.children.error(
        `child '${child.name}': start_action ${child.startAction} needs remote_addrs ` +
          "(we cannot initiate to %any)",
      );
    }
  }
}

/**
 * A `local`/`remote` block's `auth` (psk, pubkey or an EAP method, which is
 * "eap" with its method kept in `method`) and `eap_id`, which only EAP takes.
 */
function authMethod(authField: YamlValue, eapIdField: YamlValue) {
  const method = authField.oneOf(
    [
      "psk",
      "pubkey",
      "eap",
      "eap-mschapv2",
      "eap-md5",
      "eap-tls",
      "eap-ttls",
      "eap-peap",
      "eap-radius",
    ] as const,
    "pubkey",
  );
  const auth = method.startsWith("eap") ? "eap" as const : method as "psk" | "pubkey";
  const eapId = eapIdField.string();
  if (eapId !== undefined && auth !== "eap") eapIdField.error("'eap_id' applies to auth: eap only");
  return { method, auth, eapId };
}

/**
 * The EAP methods an `auth` value names: `eap-mschapv2`, `eap-md5`, or
 * `eap` = any we have (EAP-MSCHAPv2 first; as server, EAP-MSCHAPv2).
 */
function eapMethodsOf(auth: string): EapMethodName[] {
  if (auth === "eap-md5") return ["md5"];
  if (auth === "eap-mschapv2") return ["mschapv2"];
  if (auth === "eap-tls") return ["tls"];
  if (auth === "eap-ttls") return ["ttls"];
  if (auth === "eap-peap") return ["peap"];
  return ["mschapv2", "md5"];
}

/**
 * The identities a connection's peer may have: `remote.id`, else (as
 * swanctl) its address when `remote_addrs` is a single address, else any.
 */
export function peerIdPattern(c: ConnectionSection): IdentityPattern {
  if (c.remote.idPattern.type !== "any") return c.remote.idPattern;
  if (c.remoteAddrs.length === 1 && parseIp(c.remoteAddrs[0])) {
    return parseIdentityPattern(c.remoteAddrs[0]);
  }
  return { type: "any" };
}

/**
 * The pre-shared key for a connection, swanctl-style: the secret whose ids
 * match the most of (local id, remote id); a secret without ids matches
 * anything, with the lowest score.
 */
export function findSecret(config: Config, c: ConnectionSection): Uint8Array | undefined {
  let best: SecretSection | undefined;
  let bestScore = 0;
  for (const s of config.secrets) {
    let score = s.ids.length === 0 ? 1 : 0;
    const remote = peerIdPattern(c);
    for (const id of s.ids) {
      if (c.local.id && identityEquals(c.local.id, id)) score += 2;
      if (remote.type !== "any" && identityMatches(remote, id)) score += 2;
    }
    if (score > bestScore) {
      best = s;
      bestScore = score;
    }
  }
  return best?.secret;
}

/**
 * The subject DN of a DER certificate as an identity (strongSwan's default
 * local id with certificates); undefined if it does not parse (the
 * certificate's own checks report that).
 */
function certSubjectId(der: Uint8Array): Identity | undefined {
  try {
    const subject = parseCertificate(der, "certs[0]").subjectName.toArrayBuffer();
    return identityFromPayload(ID_TYPE.dn, new Uint8Array(subject));
  } catch {
    return undefined;
  }
}

/**
 * Parses a configuration. Throws {@link ConfigError} listing every problem
 * (file:line:col, key path, message); otherwise returns a complete Config.
 *
 * @example
 * ```ts
 * const config = parseConfig(await Deno.readTextFile("ipsec.yaml"), { file: "ipsec.yaml" });
 * ```
 */
export function parseConfig(text: string, opts: ParseConfigOptions = {}): Config {
  const file = opts.file ?? "config.yaml";
  const src = new YamlSource(text, file);
  if (src.issues.length > 0) throw new ConfigError(src.issues);
  const root = src.root();
  const p = new Parser(src, opts.readFile, opts.hosts, opts.resolvePath);
  const f = root.fields(
    [
      "connections",
      "secrets",
      "pools",
      "policies",
      "unmatched_inbound",
      "resolv_conf",
      "udp_offload",
      "radius",
    ] as const,
  );
  if (root.missing) root.error("the file is empty: expected 'connections' and/or 'policies'");
  // Secrets first: connections' keys may need a private-NAME secret's passphrase.
  const secrets = f.secrets.entries().map(([n, v]) => p.secret(n, v));
  const connections = f.connections.entries().map(([n, v]) => p.connection(n, v));
  const config: Config = {
    file,
    connections,
    secrets: secrets.flatMap((x) => x?.kind === "ike" ? [x.s] : []),
    eapSecrets: secrets.flatMap((x) => x?.kind === "eap" ? [x.s] : []),
    ppks: secrets.flatMap((x) => x?.kind === "ppk" ? [x.s] : []),
    pools: f.pools.entries().map(([n, v]) => p.pool(n, v)).filter((x): x is PoolSection =>
      x !== null
    ),
    policies: f.policies.list().map((v, i) => p.policy(i, v)).filter((x): x is PolicySection =>
      x !== null
    ),
    unmatchedInbound: f.unmatched_inbound.oneOf(["bypass", "discard"] as const, "bypass"),
    resolvConf: resolvConfPath(f.resolv_conf),
    udpOffload: f.udp_offload.bool(false),
    ...(f.radius.missing ? {} : { radius: p.radius(f.radius) }),
  };
  if (src.issues.length === 0) crossCheck(config, root);
  if (src.issues.length > 0) {
    const sorted = [...src.issues].sort((a, b) => a.line - b.line || a.col - b.col);
    throw new ConfigError(sorted);
  }
  return config;
}

/**
 * swanctl's `fragmentation`: yes (default; force, which strongSwan applies
 * to IKEv1 only, is the same for IKEv2), no, or accept (announce RFC 7383
 * support and take fragments, but send none).
 */
function fragmentation(
  v: "yes" | "no" | "accept" | "force" | "true" | "false",
): boolean | "accept" {
  return v === "accept" ? "accept" : v !== "no" && v !== "false";
}

/** `tfc_padding`: 0 (off, default), a size in bytes (up to 65535), or `mtu`. */
function tfcPadding(v: YamlValue): number | "mtu" {
  const s = v.string();
  if (s === undefined) return 0;
  if (s.toLowerCase() === "mtu") return "mtu";
  return v.int(0, 0, 65535);
}

/**
 * Our private key must be the one of our (end-entity, first) certificate:
 * otherwise every AUTH we sign fails at the peer, so say so at load time.
 */
function keyMatchesCertificate(
  pkcs8: Uint8Array,
  cert: Uint8Array,
  keyValue: YamlValue,
  certsValue: YamlValue,
): void {
  let fromKey: Uint8Array;
  let fromCert: Uint8Array;
  try {
    const priv = createPrivateKey({ key: Buffer.from(pkcs8), format: "der", type: "pkcs8" });
    const spki = createPublicKey(priv).export({ type: "spki", format: "der" });
    fromKey = subjectPublicKeyBits(new Uint8Array(spki));
    fromCert = subjectPublicKeyBits(splitCertificate(cert).spki);
  } catch (e) {
    certsValue.error(`cannot compare our key with the first certificate: ${msg(e)}`);
    return;
  }
  const same = fromKey.length === fromCert.length && fromKey.every((b, i) => b === fromCert[i]);
  if (!same) {
    const certFile = certsValue.list()[0]?.string() ?? "certs[0]";
    keyValue.error(
      `this private key does not belong to the certificate '${certFile}' (their public keys ` +
        "differ): use the key the certificate was issued for, or list that key's certificate first",
    );
  }
}

/** `resolv_conf`: an absolute path, or no/none/false for none; default /etc/resolv.conf. */
function resolvConfPath(v: YamlValue): string | null {
  if (v.missing) return DEFAULT_RESOLV_CONF;
  const s = v.string();
  if (s === undefined) return DEFAULT_RESOLV_CONF;
  if (["no", "none", "false"].includes(s.toLowerCase())) return null;
  if (!s.startsWith("/")) {
    v.error(`'${s}' is not valid: expected an absolute path (e.g. /etc/resolv.conf) or no`);
    return DEFAULT_RESOLV_CONF;
  }
  return s;
}

/** Where assigned DNS servers go unless `resolv_conf` says otherwise (as strongSwan's resolve plugin). */
export const DEFAULT_RESOLV_CONF = "/etc/resolv.conf";

/**
 * Reads and parses a configuration file; files it references (certs, keys,
 * secret files) are read relative to its directory, and DNS names in
 * `remote_addrs` are resolved with `resolve` (the system resolver).
 */
export async function loadConfig(
  path: string,
  resolve: HostLookup = systemLookup,
): Promise<Config> {
  const text = await Deno.readTextFile(path);
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/") + 1) : "";
  const resolvePath = (p: string) => p.startsWith("/") ? p : dir + p;
  return parseConfig(text, {
    file: path,
    readFile: (p) => Deno.readFileSync(resolvePath(p)),
    resolvePath,
    hosts: await resolveHosts(hostNamesIn(text), resolve),
  });
}
