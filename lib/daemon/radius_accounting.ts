/**
 * RADIUS accounting (RFC 2866) for road warriors authenticated by
 * EAP-RADIUS, as charon's eap-radius plugin with `accounting = yes`: an
 * Accounting-Request Start when the IKE SA is up (user, virtual IPs,
 * stations), a Stop when it goes, with the bytes and packets its child SAs
 * carried (Gigawords above 4 GiB), the session time and a terminate cause.
 * A rekeyed IKE SA keeps its session. Each request is sent again after
 * {@linkcode ACCT_RETRY_MS} until answered, {@linkcode ACCT_TRIES} times per
 * server, then the next server is tried.
 *
 * @module
 */
import {
  encodeAccountingRequest,
  intAttribute,
  RadiusAttr,
  type RadiusAttribute,
  RadiusError,
  textAttribute,
  verifyAccountingResponse,
} from "../eap/radius.ts";
import type { RadiusServer } from "../eap/radius_proxy.ts";
import type { Endpoint } from "../ikev2/effects.ts";
import { parseIp } from "../db/address.ts";

/** Wait this long for an Accounting-Response before sending again (ms). */
export const ACCT_RETRY_MS = 3000;
/** Sends of one Accounting-Request to one server before the next one is tried. */
export const ACCT_TRIES = 3;

/** A RADIUS server's accounting side: its address, accounting port and secret. */
export type AccountingServer = RadiusServer;

/** What a session starts with. */
export interface AccountingSession {
  /** The EAP identity (User-Name). */
  readonly user: string;
  /** The client's virtual IPs (Framed-IP-Address / Framed-IPv6-Address). */
  readonly addresses: readonly string[];
  /** Our and the client's address[port]. */
  readonly calledStation: string;
  readonly callingStation: string;
  readonly nasPort: number;
}

/** Why a session ended (RFC 2866 section 5.10). */
export const TerminateCause = {
  UserRequest: 1,
  LostCarrier: 2,
  IdleTimeout: 4,
  SessionTimeout: 5,
  AdminReset: 6,
  NasError: 9,
  NasRequest: 10,
} as const;

/**
 * The Acct-Terminate-Cause for an IKE SA's end, from the engine's reason
 * (e.g. "deleted by peer", "closed after 30s of inactivity").
 *
 * @example
 * ```ts
 * terminateCause("deleted by peer"); // TerminateCause.UserRequest
 * ```
 */
export function terminateCause(reason: string): number {
  if (/by peer|peer deleted|received delete/i.test(reason)) return TerminateCause.UserRequest;
  if (/dead|dpd|no answer|timed? ?out|retransmit/i.test(reason)) return TerminateCause.LostCarrier;
  if (/inactiv|idle/i.test(reason)) return TerminateCause.IdleTimeout;
  if (/lifetime|expired/i.test(reason)) return TerminateCause.SessionTimeout;
  if (/down|terminat|stop|shutdown|reload|redirect/i.test(reason)) return TerminateCause.AdminReset;
  return TerminateCause.NasRequest;
}

/** Octets and packets in each direction. */
export interface Traffic {
  inOctets: bigint;
  outOctets: bigint;
  inPackets: bigint;
  outPackets: bigint;
}

interface Live extends AccountingSession, Traffic {
  readonly sessionId: string;
  readonly started: number;
  /** The Interim-Update timer. */
  interim?: ReturnType<typeof setInterval>;
}

interface Pending {
  request: Uint8Array;
  attributes: RadiusAttribute[];
  server: number;
  sends: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  what: string;
}

/** Options of {@link RadiusAccounting}. */
export interface AccountingOptions {
  /**
   * The servers (at their accounting ports), NAS-Identifier and Interim-Update
   * interval (seconds, 0 = none) now; undefined = accounting off.
   */
  readonly config: () =>
    | {
      readonly servers: readonly AccountingServer[];
      readonly nasIdentifier: string;
      readonly interimSeconds?: number;
    }
    | undefined;
  /**
   * What the live child SAs of IKE SA `ikeSaId` carried so far (for
   * Interim-Updates; removed child SAs are already in the session).
   */
  readonly live?: (ikeSaId: number) => Promise<Traffic>;
  readonly send: (to: { address: string; port: number }, bytes: Uint8Array) => void;
  readonly log: (level: "info" | "warn", message: string) => void;
  readonly now?: () => number;
  /** Retransmission interval (default {@linkcode ACCT_RETRY_MS}; tests shorten it). */
  readonly retryMs?: number;
}

/** Accounting sessions by IKE SA. */
export class RadiusAccounting {
  readonly #o: AccountingOptions;
  #sessions = new Map<number, Live>();
  #pending = new Set<Pending>();
  #id = 0;
  #seq = 0;

  constructor(o: AccountingOptions) {
    this.#o = o;
  }

  #servers(): readonly AccountingServer[] {
    return this.#o.config()?.servers ?? [];
  }

  #now(): number {
    return (this.#o.now ?? Date.now)();
  }

  /** The IKE SA of accounting session `sessionId` (Acct-Session-Id), if live. */
  findSession(sessionId: string): number | undefined {
    for (const [id, s] of this.#sessions) if (s.sessionId === sessionId) return id;
    return undefined;
  }

  /** IKE SA `ikeSaId` has a session. */
  has(ikeSaId: number): boolean {
    return this.#sessions.has(ikeSaId);
  }

  /** IKE SA `ikeSaId` is up: Accounting-Request Start. */
  start(ikeSaId: number, s: AccountingSession): void {
    if (this.#servers().length === 0) return;
    const now = this.#now();
    const sessionId = `${Math.floor(now / 1000).toString(16).padStart(8, "0")}-${
      (++this.#seq).toString(16).padStart(8, "0")
    }`;
    const live: Live = {
      ...s,
      sessionId,
      started: now,
      inOctets: 0n,
      outOctets: 0n,
      inPackets: 0n,
      outPackets: 0n,
    };
    this.#sessions.set(ikeSaId, live);
    this.#send(
      [intAttribute(RadiusAttr.AcctStatusType, 1), ...this.#common(live)],
      `Start of ${sessionId} for '${s.user}'`,
    );
    const every = this.#o.config()?.interimSeconds ?? 0;
    if (every > 0) live.interim = setInterval(() => void this.#interim(live), every * 1000);
  }

  /** IKE SA `oldId` was rekeyed into `newId`: the session goes on. */
  rekeyed(oldId: number, newId: number): void {
    const s = this.#sessions.get(oldId);
    if (!s) return;
    this.#sessions.delete(oldId);
    this.#sessions.set(newId, s);
  }

  /** A child SA of `ikeSaId` is removed: its counters go into the session. */
  add(ikeSaId: number, direction: "in" | "out", bytes: bigint, packets: bigint): void {
    const s = this.#sessions.get(ikeSaId);
    if (!s) return;
    if (direction === "in") {
      s.inOctets += bytes;
      s.inPackets += packets;
    } else {
      s.outOctets += bytes;
      s.outPackets += packets;
    }
  }

  /** IKE SA `ikeSaId` is gone: Accounting-Request Stop with what it carried. */
  stop(ikeSaId: number, cause: number): void {
    const s = this.#sessions.get(ikeSaId);
    if (!s) return;
    this.#sessions.delete(ikeSaId);
    clearInterval(s.interim);
    this.#send([
      intAttribute(RadiusAttr.AcctStatusType, 2),
      ...this.#common(s),
      ...this.#usage(s, s),
      intAttribute(RadiusAttr.AcctTerminateCause, cause),
    ], `Stop of ${s.sessionId} for '${s.user}'`);
  }

  /** Interim-Update: the session's traffic so far, live child SAs included. */
  async #interim(s: Live): Promise<void> {
    const id = [...this.#sessions].find(([, x]) => x === s)?.[0];
    if (id === undefined) return;
    let live: Traffic = { inOctets: 0n, outOctets: 0n, inPackets: 0n, outPackets: 0n };
    try {
      if (this.#o.live) live = await this.#o.live(id);
    } catch {
      // Counters unreadable: what the removed child SAs carried is still right.
    }
    if (![...this.#sessions.values()].includes(s)) return; // stopped meanwhile
    const sum: Traffic = {
      inOctets: s.inOctets + live.inOctets,
      outOctets: s.outOctets + live.outOctets,
      inPackets: s.inPackets + live.inPackets,
      outPackets: s.outPackets + live.outPackets,
    };
    this.#send(
      [intAttribute(RadiusAttr.AcctStatusType, 3), ...this.#common(s), ...this.#usage(s, sum)],
      `Interim-Update of ${s.sessionId} for '${s.user}'`,
    );
  }

  /** Session time and traffic attributes (RFC 2866 5.3-5.8, RFC 2869 5.1-5.2). */
  #usage(s: Live, t: Traffic): RadiusAttribute[] {
    const u32 = (v: bigint) => Number(v & 0xffffffffn);
    const giga = (v: bigint) => Number(v >> 32n);
    return [
      intAttribute(RadiusAttr.AcctSessionTime, Math.floor((this.#now() - s.started) / 1000)),
      // RFC 2866: Input is what came from the client (our inbound SAs), Output what went to it.
      intAttribute(RadiusAttr.AcctInputOctets, u32(t.inOctets)),
      intAttribute(RadiusAttr.AcctInputGigawords, giga(t.inOctets)),
      intAttribute(RadiusAttr.AcctOutputOctets, u32(t.outOctets)),
      intAttribute(RadiusAttr.AcctOutputGigawords, giga(t.outOctets)),
      intAttribute(RadiusAttr.AcctInputPackets, u32(t.inPackets)),
      intAttribute(RadiusAttr.AcctOutputPackets, u32(t.outPackets)),
    ];
  }

  #common(s: Live): RadiusAttribute[] {
    const out: RadiusAttribute[] = [
      textAttribute(RadiusAttr.AcctSessionId, s.sessionId),
      textAttribute(RadiusAttr.UserName, s.user),
      textAttribute(RadiusAttr.NasIdentifier, this.#o.config()?.nasIdentifier ?? "deno-ipsec"),
      intAttribute(RadiusAttr.ServiceType, 2),
      intAttribute(RadiusAttr.NasPortType, 5),
      intAttribute(RadiusAttr.NasPort, s.nasPort),
      textAttribute(RadiusAttr.CalledStationId, s.calledStation),
      textAttribute(RadiusAttr.CallingStationId, s.callingStation),
    ];
    for (const a of s.addresses) {
      const ip = parseIp(a);
      if (ip?.version === 4) {
        const v = new Uint8Array(4);
        new DataView(v.buffer).setUint32(0, Number(ip.value));
        out.push({ type: RadiusAttr.FramedIpAddress, value: v });
      } else if (ip?.version === 6) {
        const v = new Uint8Array(16);
        let x = BigInt(ip.value);
        for (let i = 15; i >= 0; i--, x >>= 8n) v[i] = Number(x & 0xffn);
        out.push({ type: RadiusAttr.FramedIpv6Address, value: v });
      }
    }
    return out;
  }

  #send(attributes: RadiusAttribute[], what: string): void {
    this.#transmit(
      { request: new Uint8Array(), attributes, server: 0, sends: 0, timer: undefined, what },
      0,
    );
  }

  #transmit(p: Pending, server: number): void {
    const s = this.#servers()[server];
    if (!s) {
      this.#pending.delete(p);
      this.#o.log("warn", `RADIUS accounting ${p.what}: no accounting server configured`);
      return;
    }
    if (p.server !== server || p.sends === 0) {
      p.request = encodeAccountingRequest({
        identifier: this.#id = (this.#id + 1) & 0xff,
        secret: s.secret,
        attributes: p.attributes,
      });
      p.server = server;
      p.sends = 0;
    }
    p.sends++;
    this.#pending.add(p);
    this.#o.send({ address: s.address, port: s.port }, p.request);
    clearTimeout(p.timer);
    p.timer = setTimeout(() => {
      if (p.sends < ACCT_TRIES) this.#transmit(p, p.server);
      else if (p.server + 1 < this.#servers().length) this.#transmit(p, p.server + 1);
      else {
        this.#pending.delete(p);
        this.#o.log("warn", `RADIUS accounting ${p.what}: no server answered`);
      }
    }, this.#o.retryMs ?? ACCT_RETRY_MS);
  }

  /** A datagram from a RADIUS server: true when it answered one of our requests. */
  answer(bytes: Uint8Array, from: Endpoint): boolean {
    for (const p of this.#pending) {
      const s = this.#servers()[p.server];
      if (!s || from.address !== s.address || from.port !== s.port || bytes[1] !== p.request[1]) {
        continue;
      }
      try {
        verifyAccountingResponse(bytes, p.request, s.secret);
      } catch (e) {
        if (!(e instanceof RadiusError)) throw e;
        this.#o.log("warn", `dropping an Accounting-Response from ${from.address}: ${e.message}`);
        return true;
      }
      clearTimeout(p.timer);
      this.#pending.delete(p);
      this.#o.log("info", `RADIUS accounting ${p.what} acknowledged by ${s.name}`);
      return true;
    }
    return false;
  }

  /** Stops retransmitting (daemon stop). */
  close(): void {
    for (const p of this.#pending) clearTimeout(p.timer);
    this.#pending.clear();
    for (const s of this.#sessions.values()) clearInterval(s.interim);
  }
}
