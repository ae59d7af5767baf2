/**
 * Config -> SPD and PAD (RFC 4301 section 4.4).
 *
 * SPD order: the explicit `policies:` first (the admin's RFC 4301 view wins),
 * then one BYPASS entry for IKE (UDP 500/4500 on our addresses, as in the
 * seeds' gateway table), then a BYPASS or DISCARD entry per `pass`/`drop`
 * child (swanctl's shunt policies), then one PROTECT entry per child in file
 * order; nothing else matches, so the default is DISCARD.
 *
 * A child's selectors are `local_ts` x `remote_ts`. `dynamic` is our IKE
 * address (local) or the peer's (remote) when those are single fixed
 * addresses. When the peer is anywhere (`remote_addrs` empty, road warrior
 * responder) a dynamic or pool-assigned remote side makes the entry a named
 * entry (Name = the remote id pattern) with the remote address populated
 * from the packet (PFP), as in the seeds' "Name: company.com" entry; its PAD
 * entry then uses named SPD lookups and limits the peer to its pool. When we
 * request a virtual IP (`vips`), a dynamic local side is ANY with PFP: the
 * address the gateway assigns.
 *
 * @module
 */

import { selectorToTs, type TrafficSelector } from "../db/narrow.ts";
import { Pad, type PadAuth, type PadEntry } from "../db/pad.ts";
import {
  type AddressSelector,
  ANY_PORT,
  IpProto,
  parseAddressSelector,
  portRange,
  type Selector,
} from "../db/selector.ts";
import { type ProcessingInfo, Spd, type SpdEntry, type SpdOptions } from "../db/spd.ts";
import {
  type ChildSection,
  type Config,
  type ConnectionSection,
  ipsecChildren,
  type IpsecChildSection,
  type RemoteAuth,
  type TsSpec,
} from "./config.ts";
import { findSecret } from "./parse.ts";
import { formatIdentityPattern } from "../db/identity.ts";

function fixedAddress(addrs: readonly string[]): string | undefined {
  if (addrs.length !== 1) return undefined;
  try {
    const a = parseAddressSelector(addrs[0]);
    return a.kind === "range" && a.start === a.end ? addrs[0] : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a child of this connection becomes a named SPD entry. */
export function childIsNamed(c: ConnectionSection, ch: ChildSection): boolean {
  return fixedAddress(c.remoteAddrs) === undefined && ch.remoteTs.some((t) => t.dynamic);
}

interface Side {
  readonly address: AddressSelector;
  readonly pfp: boolean;
}

function resolveSide(t: TsSpec, ikeAddrs: readonly string[], virtual: boolean): Side {
  if (!t.dynamic) return { address: t.address, pfp: false };
  const fixed = fixedAddress(ikeAddrs);
  if (fixed && !virtual) return { address: parseAddressSelector(fixed), pfp: false };
  return { address: { kind: "any" }, pfp: true };
}

/** The selectors of a child: `local_ts` x `remote_ts` with `dynamic` resolved. */
export function childSelectors(c: ConnectionSection, ch: ChildSection): Selector[] {
  const out: Selector[] = [];
  const vip = c.vips.length > 0;
  const rw = fixedAddress(c.remoteAddrs) === undefined;
  for (const l of ch.localTs) {
    for (const r of ch.remoteTs) {
      if (l.protocol !== "any" && r.protocol !== "any" && l.protocol !== r.protocol) continue;
      const ls = resolveSide(l, c.localAddrs, vip);
      const rs = resolveSide(r, c.remoteAddrs, rw || c.pools.length > 0);
      const pfp = {
        ...(ls.pfp ? { localAddress: true } : {}),
        ...(rs.pfp ? { remoteAddress: true } : {}),
      };
      out.push({
        localAddress: ls.address,
        remoteAddress: rs.address,
        protocol: l.protocol !== "any" ? l.protocol : r.protocol,
        localPort: l.port,
        remotePort: r.port,
        ...(ls.pfp || rs.pfp ? { pfp } : {}),
      });
    }
  }
  return out;
}

function processing(c: ConnectionSection, ch: IpsecChildSection): ProcessingInfo {
  return {
    protocol: ch.protocol,
    mode: ch.mode,
    ...(ch.mode === "tunnel"
      ? {
        tunnel: {
          local: fixedAddress(c.localAddrs) ?? "dynamic",
          remote: fixedAddress(c.remoteAddrs) ?? "dynamic",
        },
      }
      : {}),
    proposals: ch.proposals,
    esn: ch.proposals.some((p) => p.esn.some((e) => e.id === 1)),
    replayWindow: ch.replayWindow,
    lifetimes: {
      ...(ch.rekeyTimeSeconds ? { softSeconds: ch.rekeyTimeSeconds } : {}),
      ...(ch.lifeTimeSeconds ? { hardSeconds: ch.lifeTimeSeconds } : {}),
      ...(ch.rekeyBytes ? { softBytes: ch.rekeyBytes } : {}),
      ...(ch.lifeBytes ? { hardBytes: ch.lifeBytes } : {}),
      ...(ch.rekeyPackets ? { softPackets: ch.rekeyPackets } : {}),
      ...(ch.lifePackets ? { hardPackets: ch.lifePackets } : {}),
    },
    df: ch.copyDf ? "copy" : "clear",
    dscp: ch.copyDscp ? "copy" : "clear",
    connection: c.name,
    child: ch.name,
  };
}

function ikeBypass(config: Config): SpdEntry | null {
  if (config.connections.length === 0) return null;
  const locals = new Set<string>();
  let anyLocal = false;
  for (const c of config.connections) {
    if (c.localAddrs.length === 0) anyLocal = true;
    for (const a of c.localAddrs) locals.add(a);
  }
  const addrs: AddressSelector[] = anyLocal
    ? [{ kind: "any" }]
    : [...locals].map((a) => parseAddressSelector(a));
  const ports = new Set<number>([500, 4500]);
  for (const c of config.connections) ports.add(c.localPort);
  const selectors: Selector[] = [];
  for (const a of addrs) {
    for (const p of [...ports].sort((x, y) => x - y)) {
      selectors.push({
        localAddress: a,
        remoteAddress: { kind: "any" },
        protocol: IpProto.UDP,
        localPort: portRange(p, p),
        remotePort: ANY_PORT,
      });
    }
  }
  return { label: "ike", selectors, action: "bypass" };
}

/**
 * The ordered SPD entries of a configuration (see the module doc for the
 * order and for how `dynamic` is resolved).
 *
 * @example
 * ```ts
 * const spd = new Spd(buildSpdEntries(parseConfig(text)));
 * ```
 */
export function buildSpdEntries(config: Config): SpdEntry[] {
  const out: SpdEntry[] = [];
  for (const p of config.policies) {
    const selector: Selector = {
      localAddress: p.local,
      remoteAddress: p.remote,
      protocol: p.protocol,
      localPort: p.localPort,
      remotePort: p.remotePort,
      ...(Object.keys(p.pfp).length ? { pfp: p.pfp } : {}),
    };
    out.push({
      label: p.label,
      selectors: [selector],
      ...(p.name ? { name: p.name } : {}),
      action: p.action,
      direction: p.direction,
      ...(p.action === "protect"
        ? {
          processing: {
            protocol: p.protocolIpsec ?? "esp",
            mode: p.mode ?? "transport",
            ...(p.tunnel ? { tunnel: p.tunnel } : {}),
            proposals: p.proposals ?? [],
            esn: (p.proposals ?? []).some((x) => x.esn.some((e) => e.id === 1)),
            replayWindow: p.replayWindow ?? 1024,
            lifetimes: {
              ...(p.rekeyTimeSeconds ? { softSeconds: p.rekeyTimeSeconds } : {}),
              ...(p.lifeTimeSeconds ? { hardSeconds: p.lifeTimeSeconds } : {}),
            },
          },
        }
        : {}),
    });
  }
  const ike = ikeBypass(config);
  if (ike) out.push(ike);
  // Shunt children (`mode: pass|drop`) come before every PROTECT entry, as
  // charon installs them with a higher priority than IPsec policies.
  for (const c of config.connections) {
    for (const ch of c.children) {
      if (ch.mode !== "pass" && ch.mode !== "drop") continue;
      const selectors = childSelectors(c, ch);
      if (selectors.length === 0) continue;
      out.push({
        label: `${c.name}/${ch.name}`,
        selectors,
        action: ch.mode === "pass" ? "bypass" : "discard",
      });
    }
  }
  for (const c of config.connections) {
    for (const ch of ipsecChildren(c)) {
      const selectors = childSelectors(c, ch);
      if (selectors.length === 0) continue;
      out.push({
        label: `${c.name}/${ch.name}`,
        selectors,
        ...(childIsNamed(c, ch) ? { name: c.remote.idPattern } : {}),
        action: "protect",
        processing: processing(c, ch),
      });
    }
  }
  return out;
}

/** The TS a peer of this connection may claim for its side (PAD child SA constraints). */
export function peerConstraints(config: Config, c: ConnectionSection): TrafficSelector[] {
  const out: TrafficSelector[] = [];
  const pools = config.pools.filter((p) => c.pools.includes(p.name));
  for (const ch of ipsecChildren(c)) {
    for (const r of ch.remoteTs) {
      let addrs: AddressSelector[];
      if (!r.dynamic) addrs = [r.address];
      // The RADIUS server assigns addresses (pool "radius"): any it says.
      else if (c.pools.includes("radius") && !pools.some((p) => p.name === "radius")) {
        addrs = [{ kind: "any" }];
      } else if (pools.length > 0) addrs = pools.map((p) => p.addrs);
      else if (c.remoteAddrs.length > 0) addrs = c.remoteAddrs.map((a) => parseAddressSelector(a));
      else addrs = [{ kind: "any" }];
      for (const a of addrs) {
        out.push(...selectorToTs({
          localAddress: a,
          remoteAddress: a,
          protocol: r.protocol,
          localPort: r.port,
          remotePort: r.port,
        }, "remote"));
      }
    }
  }
  return out;
}

/** The ordered PAD entries of a configuration: one per connection. */
export function buildPadEntries(config: Config): PadEntry[] {
  return config.connections.map((c) => {
    let auth: PadAuth;
    if (c.remote.auth === "psk") {
      const secret = findSecret(config, c);
      if (!secret) {
        throw new Error(`connection ${c.name}: no pre-shared key (parseConfig checks this)`);
      }
      auth = { method: "psk", secret };
    } else if (c.remote.auth === "eap") {
      auth = {
        method: "eap",
        eap: c.remote.eapMethod ?? "mschapv2",
        ...(c.remote.eapId ? { eapId: c.remote.eapId } : {}),
      };
    } else {
      auth = {
        method: "pubkey",
        trustAnchors: c.remote.cacerts,
        pinned: c.remote.certs,
        ...(c.remote.pubkeys?.length ? { pinnedKeys: c.remote.pubkeys } : {}),
        crls: c.remote.crls,
        revocation: c.remote.revocation,
      };
    }
    return {
      label: c.name,
      // swanctl's default remote id is %any: without `remote.id`, any
      // identity that proves the connection's key or certificate may connect.
      id: c.remote.idPattern,
      auth,
      allowedTs: peerConstraints(config, c),
      spdLookup: ipsecChildren(c).some((ch) => childIsNamed(c, ch)) ? "name" : "ts",
      remoteAddrs: c.remoteAddrs,
      connection: c.name,
      ...(c.remoteRounds.length ? { laterRounds: c.remoteRounds.map(roundText) } : {}),
    };
  });
}

/** A later authentication round (RFC 4739) as `ipsec pad` shows it, e.g. "eap-md5 as %any". */
function roundText(r: RemoteAuth): string {
  const how = r.auth === "eap" ? `eap-${r.eapMethod ?? "mschapv2"}` : r.auth;
  const eapId = r.auth === "eap" && r.eapId ? ` (eap_id ${r.eapId})` : "";
  return `${how}${eapId} as ${formatIdentityPattern(r.idPattern)}`;
}

/** Compiled SPD and PAD of a configuration. */
export function buildDatabases(
  config: Config,
  spdOptions: SpdOptions = {},
): { spd: Spd; pad: Pad } {
  return {
    spd: new Spd(buildSpdEntries(config), spdOptions),
    pad: new Pad(buildPadEntries(config)),
  };
}
