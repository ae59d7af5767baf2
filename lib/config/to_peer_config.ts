/**
 * Config connection -> the engine's {@link PeerConfig} (lib/ikev2/peer_config.ts),
 * and the whole Config -> {@link EngineConfig}.
 *
 * Traffic selectors are handed over as canonical swanctl-style strings
 * (`10.1.0.0/16[tcp/80]`, `dynamic`); ICMP/MH message types are written as
 * the raw 16-bit port range they occupy on the wire (type in the high byte),
 * so any port parser reads them right.
 *
 * @module
 */

import {
  formatAddressSelector,
  isTypeProtocol,
  type PortSelector,
  protocolName,
} from "../db/selector.ts";
import type {
  ChildConfig,
  DpdAction,
  EngineConfig,
  LocalAuthConfig,
  PeerConfig,
  RemoteAuthConfig,
} from "../ikev2/peer_config.ts";
import {
  type Config,
  type ConnectionSection,
  ipsecChildren,
  type IpsecChildSection,
  type LocalAuth,
  type PeerAction,
  type RemoteAuth,
  type TsSpec,
} from "./config.ts";
import { type Identity, parseIdentity } from "../db/identity.ts";
import { Pad } from "../db/pad.ts";
import { buildPadEntries } from "./build.ts";

/** A connection that cannot run in the engine as configured. */
export class PeerConfigError extends Error {
  override readonly name = "PeerConfigError";
}

function portText(p: PortSelector, typed: boolean): string {
  if (p.kind === "any") return "";
  if (p.kind === "opaque") return "opaque";
  // ICMP/MH type selectors as a raw range: a lone number below 256 would read as a type.
  return p.start === p.end && !typed ? String(p.start) : `${p.start}-${p.end}`;
}

/** Canonical text of a traffic selector spec. */
export function tsSpecText(t: TsSpec): string {
  const addr = t.dynamic ? "dynamic" : formatAddressSelector(t.address).replace(/^ANY$/, "%any");
  if (t.protocol === "any") return addr;
  const port = portText(t.port, typeof t.protocol === "number" && isTypeProtocol(t.protocol));
  return `${addr}[${protocolName(t.protocol).toLowerCase()}${port ? `/${port}` : ""}]`;
}

function action(a: PeerAction): DpdAction {
  return a === "none" ? "clear" : a;
}

function child(ch: IpsecChildSection): ChildConfig {
  return {
    name: ch.name,
    mode: ch.mode,
    protocol: ch.protocol,
    proposals: ch.proposals,
    localTs: ch.localTs.map(tsSpecText),
    remoteTs: ch.remoteTs.map(tsSpecText),
    lifetimes: {
      rekeySeconds: ch.rekeyTimeSeconds,
      lifeSeconds: ch.lifeTimeSeconds,
      // swanctl's default rand_time: life_time - rekey_time.
      ...(ch.randTimeSeconds !== undefined
        ? { randSeconds: ch.randTimeSeconds }
        : ch.rekeyTimeSeconds > 0 && ch.lifeTimeSeconds > ch.rekeyTimeSeconds
        ? { randSeconds: ch.lifeTimeSeconds - ch.rekeyTimeSeconds }
        : {}),
      rekeyBytes: ch.rekeyBytes,
      lifeBytes: ch.lifeBytes,
      rekeyPackets: ch.rekeyPackets,
      lifePackets: ch.lifePackets,
    },
    closeAction: action(ch.closeAction),
    ...(ch.ipcomp ? { ipcomp: true } : {}),
    ...(ch.sha256Icv96 ? { sha256Icv96: true } : {}),
  };
}

/** One of our authentication rounds as the engine takes it. */
function localAuth(l: LocalAuth, id: Identity): LocalAuthConfig {
  return {
    auth: l.auth,
    id,
    ...(l.certs.length ? { certs: l.certs } : {}),
    ...(l.key ? { privateKey: l.key } : {}),
    ...(l.eapId ? { eapId: l.eapId } : {}),
    ...(l.eapMethods ? { eapMethods: l.eapMethods } : {}),
  };
}

/** One authentication round of the peer as the engine takes it. */
function remoteAuth(r: RemoteAuth): RemoteAuthConfig {
  return {
    auth: r.auth,
    ...(r.id ? { id: r.id } : {}),
    ...(r.cacerts.length ? { cacerts: r.cacerts } : {}),
    ...(r.certs.length ? { certs: r.certs } : {}),
    ...(r.pubkeys?.length ? { pubkeys: r.pubkeys } : {}),
    ...(r.crls.length ? { crls: r.crls } : {}),
    ...(r.revocation !== "relaxed" ? { revocation: r.revocation } : {}),
    ...(r.eapMethod ? { eapMethod: r.eapMethod } : {}),
    ...(r.eapId ? { eapId: r.eapId } : {}),
    ...(r.aaaId ? { aaaId: r.aaaId } : {}),
  };
}

/**
 * The engine settings of one connection. Throws {@link PeerConfigError}
 * when our identity cannot be determined (no `local.id` and no single
 * local address).
 *
 * @example
 * ```ts
 * const peer = toPeerConfig(config.connections[0]);
 * ```
 */
export function toPeerConfig(c: ConnectionSection): PeerConfig {
  const localAddress = c.localAddrs[0] ?? "%any";
  let id = c.local.id;
  if (!id) {
    if (c.localAddrs.length !== 1) {
      throw new PeerConfigError(
        `connection ${c.name}: set local.id (there is no single local address to use as identity)`,
      );
    }
    id = parseIdentity(localAddress);
  }
  return {
    name: c.name,
    localAddress,
    remoteAddress: c.remoteAddrs[0] ?? "%any",
    ...(c.remoteNames.length ? { remoteName: c.remoteNames[0] } : {}),
    localPort: c.localPort,
    remotePort: c.remotePort,
    proposals: c.proposals,
    local: localAuth(c.local, id),
    remote: remoteAuth(c.remote),
    ...(c.localRounds.length
      ? { localRounds: c.localRounds.map((r) => localAuth(r, r.id ?? id)) }
      : {}),
    ...(c.remoteRounds.length ? { remoteRounds: c.remoteRounds.map(remoteAuth) } : {}),
    // `pass`/`drop` children are SPD entries only (lib/config/build.ts), never negotiated.
    children: ipsecChildren(c).map(child),
    sendIdr: c.remote.id !== undefined,
    sendCert: c.sendCert,
    ...(c.sendCertreq ? {} : { sendCertreq: false }),
    ...(c.unique !== "no" ? { unique: c.unique } : {}),
    ...(c.followRedirects ? {} : { followRedirects: false }),
    ...(c.childless !== "allow" ? { childless: c.childless } : {}),
    ...(c.ppkId !== undefined ? { ppkId: c.ppkId } : {}),
    ...(c.ppkRequired ? { ppkRequired: true } : {}),
    ...(c.redirectTo !== undefined ? { redirectTo: c.redirectTo } : {}),
    dpdDelaySeconds: c.dpdDelaySeconds,
    // swanctl writes dpd_action per child: the connection's when set, else a child's.
    dpdAction: action(
      c.dpdAction !== "clear"
        ? c.dpdAction
        : c.children.find((ch) => ch.dpdAction !== "clear")?.dpdAction ?? "clear",
    ),
    keyingTries: c.keyingTries,
    ...(c.retransmit
      ? {
        retransmit: {
          timeoutMs: c.retransmit.timeoutSeconds * 1000,
          base: 1.8,
          tries: c.retransmit.tries,
        },
      }
      : {}),
    fragmentation: c.fragmentation,
    ...(c.fragmentSize !== undefined ? { fragmentSize: c.fragmentSize } : {}),
    ...(c.rekeyTimeSeconds > 0 ? { rekeySeconds: c.rekeyTimeSeconds } : {}),
    ...(c.reauthTimeSeconds > 0 ? { reauthSeconds: c.reauthTimeSeconds } : {}),
    ...(c.overTimeSeconds !== undefined ? { overSeconds: c.overTimeSeconds } : {}),
    ...(c.randTimeSeconds !== undefined ? { randSeconds: c.randTimeSeconds } : {}),
    ...(c.encap ? { encap: true } : {}),
    mobike: c.mobike,
    ...(c.vips.length ? { vips: c.vips } : {}),
    ...(c.pools.length ? { pools: c.pools } : {}),
  };
}

/**
 * The engine settings of a whole configuration: connections, PSKs, pools,
 * and the PAD (lib/config/build.ts {@link buildPadEntries}), so a peer is
 * accepted only with the identity and credentials of a PAD entry and can
 * only claim traffic selectors inside that entry's child SA constraints
 * (e.g. a road warrior only its pool address).
 */
export function toEngineConfig(config: Config): EngineConfig {
  return {
    connections: config.connections.map(toPeerConfig),
    secrets: config.secrets.map((s) => ({ ids: s.ids, secret: s.secret })),
    ...(config.eapSecrets.length
      ? { eapSecrets: config.eapSecrets.map((s) => ({ ids: s.ids, secret: s.secret })) }
      : {}),
    ...(config.ppks.length
      ? { ppks: config.ppks.map((s) => ({ ids: s.ids, secret: s.secret })) }
      : {}),
    pad: new Pad(buildPadEntries(config)),
    ...(config.radius
      ? {
        radius: {
          servers: config.radius.servers.map(({ name, address, port, secret }) => ({
            name,
            address,
            port,
            secret,
          })),
          nasIdentifier: config.radius.nasIdentifier,
        },
      }
      : {}),
    ...(config.pools.length
      ? {
        pools: config.pools.map((p) => ({
          name: p.name,
          range: formatAddressSelector(p.addrs),
          dns: p.dns,
        })),
      }
      : {}),
  };
}
