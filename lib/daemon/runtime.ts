/**
 * The production {@link DaemonRuntime}: the YAML config loader (lib/config),
 * the IKEv2 engine (lib/ikev2/engine.ts), the userspace data plane
 * (lib/dataplane) and UDP IKE sockets.
 *
 * Data plane routing derived from the config: every tunnel-mode child's
 * fixed `remote_ts` and every transport-mode child's peer address is routed
 * into the TUN (table 220; the data plane marks its own packets so they never
 * loop back).
 *
 * NAT-T: the data plane owns UDP 4500 (ESP-in-UDP must reach its Workers);
 * IKE on 4500 travels through it ({@link NattIkeTransport}), IKE on 500
 * through our own sockets. Our address toward a peer, when the config has
 * none or we listen on the wildcard, is the route source ({@link routeSource}).
 *
 * @module
 */
import { ConfigError } from "../config/config.ts";
import type { Config, ConnectionSection, LocalAuth, RemoteAuth } from "../config/config.ts";
import { buildPadEntries, buildSpdEntries } from "../config/build.ts";
import { loadConfig } from "../config/parse.ts";
import { PeerConfigError, toEngineConfig, tsSpecText } from "../config/to_peer_config.ts";
import { formatProposal } from "../crypto/proposal.ts";
import { formatIdentity, formatIdentityPattern } from "../db/identity.ts";
import { formatIpv4, formatIpv6 } from "../db/address.ts";
import { type AddressSelector, parseAddressSelector } from "../db/selector.ts";
import type { DataplaneOptions } from "../dataplane/dataplane.ts";
import {
  type AdapterLog,
  IkeEngineAdapter,
  type RuntimePayload,
  UserspaceDataplaneAdapter,
} from "./adapters.ts";
import {
  ConfigLoadError,
  type ConnectionInfo,
  type DaemonConfig,
  type DaemonRuntime,
} from "./ports.ts";
import { NATT_PORT, UdpIkeTransport } from "./udp_transport.ts";
import { NattIkeTransport } from "./natt_transport.ts";
import { routeSource } from "./route_source.ts";
import { ResolvConf } from "./resolv_conf.ts";
import type { ChildSaSettings } from "./install_spec.ts";
import { padRows, spdRows } from "../db/tables.ts";
import { AddressMonitor } from "./address_monitor.ts";
import { loadedCredentials } from "./credentials_view.ts";

/** fwmark of everything the data plane sends (its packets skip the TUN table). */
export const DATAPLANE_MARK = 0x5000;

/** How we authenticate in one round, as `ipsec list-conns` shows it: "eap-mschapv2 (alice)". */
function localAuthText(l: LocalAuth): string {
  return l.auth !== "eap"
    ? l.auth
    : l.eapMethods?.length === 1
    ? `eap-${l.eapMethods[0]}${l.eapId ? ` (${l.eapId})` : ""}`
    : `eap${l.eapId ? ` (${l.eapId})` : ""}`;
}

/** How the peer authenticates in one round: "pubkey", "eap-radius". */
function remoteAuthText(r: RemoteAuth): string {
  return r.auth === "eap" ? `eap-${r.eapMethod}` : r.auth;
}

function connectionInfo(c: ConnectionSection): ConnectionInfo {
  return {
    name: c.name,
    localAddrs: c.localAddrs,
    remoteAddrs: c.remoteAddrs,
    ...(c.remoteNames.length ? { remoteNames: c.remoteNames } : {}),
    localAuth: localAuthText(c.local),
    remoteAuth: remoteAuthText(c.remote),
    localId: c.local.id ? formatIdentity(c.local.id) : (c.localAddrs[0] ?? "%any"),
    remoteId: formatIdentityPattern(c.remote.idPattern),
    ...(c.localRounds.length
      ? {
        localRounds: c.localRounds.map((r) => ({
          auth: localAuthText(r),
          id: r.id
            ? formatIdentity(r.id)
            : c.local.id
            ? formatIdentity(c.local.id)
            : (c.localAddrs[0] ?? "%any"),
        })),
      }
      : {}),
    ...(c.remoteRounds.length
      ? {
        remoteRounds: c.remoteRounds.map((r) => ({
          auth: remoteAuthText(r),
          id: formatIdentityPattern(r.idPattern),
        })),
      }
      : {}),
    proposals: c.proposals.map(formatProposal),
    children: c.children.map((ch) => ({
      name: ch.name,
      mode: ch.mode,
      protocol: ch.protocol,
      localTs: ch.localTs.map(tsSpecText),
      remoteTs: ch.remoteTs.map(tsSpecText),
      proposals: ch.proposals.map(formatProposal),
      startAction: ch.startAction,
      ...(ch.updown !== undefined ? { updown: ch.updown } : {}),
      ...(ch.inactivitySeconds > 0 ? { inactivitySeconds: ch.inactivitySeconds } : {}),
      ...(ch.ipcomp ? { ipcomp: true } : {}),
    })),
  };
}

/**
 * The fewest CIDR blocks covering an address range exactly ("10.0.0.1-10.0.0.6"
 * -> 10.0.0.1/32 10.0.0.2/31 10.0.0.4/31 10.0.0.6/32); none for ANY/OPAQUE.
 */
export function rangeCidrs(a: AddressSelector): string[] {
  if (a.kind !== "range") return [];
  const bits = a.version === 4 ? 32 : 128;
  const text = (v: bigint) => a.version === 4 ? formatIpv4(Number(v)) : formatIpv6(v);
  const out: string[] = [];
  let start = BigInt(a.start);
  const end = BigInt(a.end);
  while (start <= end) {
    let len = bits;
    // Grow the block while it stays aligned and inside the range.
    while (len > 0) {
      const size = 1n << BigInt(bits - len + 1);
      if (start % size !== 0n || start + size - 1n > end) break;
      len--;
    }
    out.push(`${text(start)}/${len}`);
    start += 1n << BigInt(bits - len);
  }
  return out;
}

/**
 * Networks to route into the TUN for a config (see the module doc): fixed
 * tunnel `remote_ts`, transport-mode peers, a road-warrior gateway's pools
 * (its clients' virtual IPs sit behind the tunnel), and `drop` children's
 * `remote_ts` (the SPD discards them there; `pass` children need no route:
 * what a tunnel route brings into the TUN the data plane sends on in clear).
 */
export function tunRoutes(config: Config): string[] {
  const routes = new Set<string>();
  const add = (a: AddressSelector) => rangeCidrs(a).forEach((r) => routes.add(r));
  for (const c of config.connections) {
    for (const ch of c.children) {
      if (ch.mode === "pass") continue;
      if (ch.mode === "transport") {
        for (const a of c.remoteAddrs) {
          if (!a.includes("/") && !a.includes("-")) add(parseAddressSelector(a));
        }
        continue;
      }
      for (const t of ch.remoteTs) {
        if (!t.dynamic) add(t.address);
        else {
          for (const p of config.pools) if (c.pools.includes(p.name)) add(p.addrs);
        }
      }
    }
  }
  return [...routes];
}

/** Builds everything the daemon needs from a parsed config. */
export function daemonConfig(config: Config, path: string): DaemonConfig<RuntimePayload> {
  let engine;
  let pad;
  try {
    engine = toEngineConfig(config);
    pad = buildPadEntries(config);
  } catch (e) {
    if (e instanceof PeerConfigError) throw new ConfigLoadError(`${path}: ${e.message}`);
    throw e;
  }
  const spd = buildSpdEntries(config);
  const anyLocal = config.connections.some((c) => c.localAddrs.length === 0);
  const listenAddrs = anyLocal ? [] : [...new Set(config.connections.flatMap((c) => c.localAddrs))];
  const dataplane: DataplaneOptions = {
    tunName: "ipsec0",
    mark: DATAPLANE_MARK,
    udpEncapPort: NATT_PORT,
    routes: tunRoutes(config),
    ipv6: config.connections.some((c) =>
      [...c.localAddrs, ...c.remoteAddrs].some((a) => a.includes(":"))
    ),
    inboundDefault: config.unmatchedInbound,
    udpOffload: config.udpOffload,
  };
  return {
    path,
    connections: config.connections.map(connectionInfo),
    spd: spdRows(spd),
    pad: padRows(pad),
    listenAddrs,
    payload: { engine, spd, dataplane, children: childSettings(config, dataplane.tunMtu ?? 1400) },
    resolvConf: config.resolvConf,
    interfaceName: dataplane.tunName ?? "ipsec0",
    credentials: loadedCredentials(config),
    ...(config.radius?.dae ? { radiusDae: config.radius.dae } : {}),
    ...(config.radius?.accounting
      ? {
        radiusAccounting: {
          servers: config.radius.servers.map((s) => ({
            name: s.name,
            address: s.address,
            port: s.acctPort,
            secret: s.secret,
          })),
          nasIdentifier: config.radius.nasIdentifier,
          interimSeconds: config.radius.interimSeconds,
        },
      }
      : {}),
  };
}

/**
 * Each child's `replay_window`, `copy_df`, `copy_dscp`, `copy_ecn`,
 * `tfc_padding` (`mtu` = the TUN MTU).
 */
export function childSettings(config: Config, tunMtu: number): Map<string, ChildSaSettings> {
  const out = new Map<string, ChildSaSettings>();
  for (const c of config.connections) {
    for (const ch of c.children) {
      out.set(`${c.name}/${ch.name}`, {
        replayWindow: ch.replayWindow,
        copyDf: ch.copyDf,
        copyDscp: ch.copyDscp,
        copyEcn: ch.copyEcn,
        tfcPadTo: ch.tfcPadding === "mtu" ? tunMtu : ch.tfcPadding,
      });
    }
  }
  return out;
}

/** Loads and validates a config file; every problem becomes a {@link ConfigLoadError}. */
export async function loadDaemonConfig(path: string): Promise<DaemonConfig<RuntimePayload>> {
  let config: Config;
  try {
    config = await loadConfig(path);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigLoadError(e.message);
    if (e instanceof Deno.errors.NotFound) {
      throw new ConfigLoadError(`${path}: no such file (pass --config FILE)`);
    }
    if (e instanceof Deno.errors.PermissionDenied) {
      throw new ConfigLoadError(`${path}: permission denied`);
    }
    throw e;
  }
  return daemonConfig(config, path);
}

/** Our address toward `remote` as the kernel routes our (marked) packets. */
function localFor(remote: string): string | undefined {
  return routeSource(remote, DATAPLANE_MARK);
}

/** The runtime `ipsec start` uses; adapter messages go to the daemon's log. */
export function createDefaultRuntime(): DaemonRuntime<RuntimePayload> {
  let knl: AdapterLog = () => {};
  let ike: AdapterLog = () => {};
  let dataplane: UserspaceDataplaneAdapter | null = null;
  return {
    attachLog(log) {
      knl = (level, message) => log(level, "knl", message);
      ike = (level, message) => log(level, "ike", message);
    },
    loadConfig: loadDaemonConfig,
    // Assigned DNS servers into resolv.conf, as strongSwan's resolve plugin (fixed at start).
    createDns: (config) => config.resolvConf ? new ResolvConf(config.resolvConf) : null,
    // MOBIKE: our addresses, without the TUN's; route lookups as our packets are routed.
    createAddressMonitor: (config) =>
      new AddressMonitor({
        excludeInterfaces: [config.payload.dataplane.tunName ?? "ipsec0"],
        mark: DATAPLANE_MARK,
      }),
    createEngine: (config) => new IkeEngineAdapter(config.payload, (l, m) => ike(l, m), localFor),
    createDataplane: (config) => {
      const port = config.payload.dataplane.udpEncapPort ?? 0;
      dataplane = new UserspaceDataplaneAdapter((l, m) => knl(l, m), undefined, port);
      return dataplane;
    },
    createTransport: (config) => {
      // The data plane (created first) owns the NAT-T port when it has one.
      const encap = dataplane && dataplane.port > 0 ? dataplane : undefined;
      return new NattIkeTransport({
        ike: new UdpIkeTransport({
          addresses: config.listenAddrs,
          bindNatt: !encap,
        }),
        ...(encap ? { encap } : {}),
        listenAddrs: config.listenAddrs,
        localFor,
      });
    },
  };
}
