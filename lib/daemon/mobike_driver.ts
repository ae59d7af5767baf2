/**
 * The MOBIKE driver (RFC 4555): a pure decision from this host's usable
 * addresses and the engine's IKE SAs to the engine calls the daemon makes.
 *
 * ```
 *  address list changed ───────────────────────► announce   (engine.setLocalAddresses)
 *  SA we initiated with MOBIKE, and
 *    its local address is gone, or
 *    the route to its peer changed source ────► move       (engine.updateAddresses)
 *  SA without MOBIKE lost its address, or
 *    its new address is not in local_addrs ───► stranded   (a warning, once)
 * ```
 *
 * Only the original initiator may move an IKE SA (RFC 4555 section 3.5);
 * as responder we follow the peer's UPDATE_SA_ADDRESSES inside the engine.
 * An SA is moved only to the route source toward its peer, and only when
 * that source is one of our usable addresses: an SA whose address is still
 * there stays where it is until the route to its peer changes (a configured
 * `local_addrs` that is not the route source is not "fixed" on every poll).
 * Like strongSwan, an SA whose connection lists `local_addrs` only ever
 * moves to one of those.
 *
 * @module
 */
import { formatIp, parseIp } from "../db/address.ts";
import type { IkeSaAddresses } from "./ports.ts";

/** An IKE SA as the driver sees it: the engine's view plus its connection's `local_addrs`. */
export interface MobikeSa extends IkeSaAddresses {
  /** The only addresses the SA may use (the connection's `local_addrs`); empty/absent = any. */
  readonly localAddrs?: readonly string[];
}

/** What the driver remembers between two polls. */
export interface MobikeState {
  /** The address list last announced (undefined: never). */
  readonly addresses?: readonly string[];
  /** Route source toward each SA's peer at the last poll, by IKE SA id. */
  readonly sources: ReadonlyMap<number, string>;
  /** IKE SAs already reported as stranded (no MOBIKE), by id. */
  readonly stranded: ReadonlySet<number>;
}

/** The state before the first poll. */
export const INITIAL_MOBIKE_STATE: MobikeState = { sources: new Map(), stranded: new Set() };

/** One engine call (or warning) the daemon should make. */
export type MobikeAction =
  | { readonly kind: "announce"; readonly addresses: readonly string[] }
  | {
    readonly kind: "move";
    readonly ikeSaId: number;
    readonly from: string;
    readonly local: string;
    readonly reason: string;
  }
  | {
    readonly kind: "stranded";
    readonly ikeSaId: number;
    readonly local: string;
    /** Why it cannot move. */
    readonly reason: string;
  };

/** Input of one poll. */
export interface MobikeInput {
  /** This host's usable addresses now (no loopback, link-local, TUN or virtual IPs). */
  readonly addresses: readonly string[];
  /** The engine's IKE SAs. */
  readonly sas: readonly MobikeSa[];
  /** Our route source toward a peer address (undefined: no route). */
  readonly routeSource: (remote: string) => string | undefined;
}

function canonical(address: string): string {
  const ip = parseIp(address);
  return ip ? formatIp(ip) : address;
}

/** Whether `sa` may use `address` (its connection's `local_addrs`, if any). */
function allowed(sa: MobikeSa, address: string): boolean {
  return !sa.localAddrs?.length || sa.localAddrs.some((a) => canonical(a) === address);
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((x) => s.has(x));
}

/**
 * Decides what to do after one poll; returns the actions in order (moves
 * first, so the announcement goes out on the new path) and the state for
 * the next poll.
 *
 * @example
 * ```ts
 * const { actions } = planMobike(INITIAL_MOBIKE_STATE, {
 *   addresses: ["192.0.2.12"],
 *   sas: [{ ikeSaId: 1, local: "192.0.2.2", remote: "198.51.100.1", initiator: true,
 *     mobike: true, established: true }],
 *   routeSource: () => "192.0.2.12",
 * });
 * // [{ kind: "move", ikeSaId: 1, from: "192.0.2.2", local: "192.0.2.12", reason: "..." },
 * //  { kind: "announce", addresses: ["192.0.2.12"] }]
 * ```
 */
export function planMobike(
  state: MobikeState,
  input: MobikeInput,
): { actions: MobikeAction[]; state: MobikeState } {
  const actions: MobikeAction[] = [];
  const addresses = [...new Set(input.addresses.map(canonical))].sort();
  const changed = state.addresses === undefined || !sameSet(state.addresses, addresses);
  const usable = new Set(addresses);
  const sources = new Map<number, string>();
  const stranded = new Set<number>();
  for (const sa of input.sas) {
    if (!sa.established) continue;
    const gone = !usable.has(canonical(sa.local));
    const strand = (reason: string) => {
      if (!state.stranded.has(sa.ikeSaId)) {
        actions.push({ kind: "stranded", ikeSaId: sa.ikeSaId, local: sa.local, reason });
      }
      stranded.add(sa.ikeSaId);
    };
    if (!sa.mobike) {
      if (gone) strand("no MOBIKE");
      continue;
    }
    // As MOBIKE responder the peer moves the SA, to an address we announce.
    if (!sa.initiator) continue;
    const prev = state.sources.get(sa.ikeSaId);
    const found = input.routeSource(sa.remote);
    const src = found === undefined ? undefined : canonical(found);
    if (src === undefined) {
      // No route to the peer at all: nothing to move to; keep what we knew.
      if (prev !== undefined) sources.set(sa.ikeSaId, prev);
      continue;
    }
    sources.set(sa.ikeSaId, src);
    if (!usable.has(src)) continue;
    // A changed route source moves the SA even when its local address already
    // equals it: the engine may have followed our new source on a received
    // packet (NAT-T floating) without the peer hearing UPDATE_SA_ADDRESSES.
    const rerouted = prev !== undefined && prev !== src;
    // The route prefers another of our addresses (also when this is the first
    // look at a new SA: the route may have changed while it was set up).
    const elsewhere = src !== canonical(sa.local);
    if (!elsewhere && !rerouted) continue;
    if (!allowed(sa, src)) {
      if (gone) strand(`${src} is not in its local_addrs`);
      continue;
    }
    {
      actions.push({
        kind: "move",
        ikeSaId: sa.ikeSaId,
        from: sa.local,
        local: src,
        reason: gone ? `${sa.local} is gone` : `the route to ${sa.remote} now uses ${src}`,
      });
    }
  }
  // Moves first: the announcement then goes out on the new path.
  if (changed) actions.push({ kind: "announce", addresses });
  return {
    actions,
    state: { addresses: changed ? addresses : state.addresses, sources, stranded },
  };
}
