/**
 * EAP pass-through to a RADIUS server (RFC 3579), as charon's eap-radius
 * plugin does it for an IKEv2 gateway: we ask the client's identity
 * ourselves (EAP-Request/Identity), then relay every EAP-Response to the
 * RADIUS server in an Access-Request and its Access-Challenge back to the
 * client, until an Access-Accept (EAP-Success, MSK from the MS-MPPE keys)
 * or Access-Reject (EAP-Failure). Sans-I/O: it says what to send where;
 * the engine holds the client's IKE_AUTH request meanwhile, the daemon does
 * the UDP.
 *
 * Each Access-Request is retransmitted unchanged after {@link RADIUS_RETRY_MS}
 * up to {@link RADIUS_TRIES} times per server, then the next server is
 * tried; when none answers, authentication fails.
 *
 * @module
 */
import { decodeEap, decodeIdentity, EapCode, EapError, EapType, encodeEap } from "./eap_message.ts";
import {
  type AccessRequest,
  decodeAnswer,
  eapMessageAttributes,
  encodeAccessRequest,
  intAttribute,
  RadiusAttr,
  type RadiusAttribute,
  RadiusCode,
  RadiusError,
  textAttribute,
} from "./radius.ts";
import type { EapServerStep } from "./eap_server.ts";

/** Wait this long for an answer before sending the Access-Request again (ms). */
export const RADIUS_RETRY_MS = 2000;
/** Sends of one Access-Request to one server before the next server is tried. */
export const RADIUS_TRIES = 3;

/** A RADIUS server (strongSwan's eap-radius `servers` entry). */
export interface RadiusServer {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly secret: Uint8Array;
}

/** Options of a {@link RadiusEapProxy}. */
export interface RadiusProxyOptions {
  readonly servers: readonly RadiusServer[];
  /** NAS-Identifier (charon sends "strongSwan"). */
  readonly nasIdentifier: string;
  /** The EAP identity the client must answer with; undefined = any (`eap_id: %any`). */
  readonly identity?: string;
  /** Called-Station-Id / Calling-Station-Id: our and the client's address[port]. */
  readonly calledStation: string;
  readonly callingStation: string;
  /** NAS-Port: the IKE SA's number, as charon sends its unique id. */
  readonly nasPort: number;
  readonly random: (n: number) => Uint8Array;
  /** RADIUS Identifiers, shared by all proxies of an engine. */
  readonly nextIdentifier: () => number;
}

/** Send `bytes` to a RADIUS server. */
export interface RadiusSend {
  readonly kind: "send";
  readonly to: { readonly address: string; readonly port: number };
  readonly bytes: Uint8Array;
  /** The server's name, for logs. */
  readonly server: string;
}

/** One EAP authentication relayed to RADIUS. */
export class RadiusEapProxy {
  readonly #o: RadiusProxyOptions;
  #eapId: number;
  #identity: string | undefined;
  #state: Uint8Array | undefined;
  /** The Access-Request in flight: its bytes, server index, sends so far, and the EAP carried. */
  #pending: { request: Uint8Array; server: number; sends: number; eap: Uint8Array } | undefined;
  #done = false;
  /** The Identifier of the client's last EAP Response (Success/Failure answer it). */
  #responseId: number;

  constructor(o: RadiusProxyOptions) {
    if (o.servers.length === 0) throw new RangeError("no RADIUS server configured");
    this.#o = o;
    this.#eapId = o.random(1)[0] ?? 0;
    this.#responseId = this.#eapId;
  }

  /** The identity the client answered with (once it did). */
  get identity(): string | undefined {
    return this.#identity;
  }

  /** An Access-Request is out and unanswered. */
  get waiting(): boolean {
    return this.#pending !== undefined;
  }

  /** The first EAP Request: Identity. */
  start(): Uint8Array {
    return encodeEap({
      code: EapCode.Request,
      identifier: this.#eapId,
      type: EapType.Identity,
      data: new Uint8Array(),
    });
  }

  /** The client's EAP Response: what to send to RADIUS, or the failure to answer with. */
  receive(message: Uint8Array): RadiusSend | Extract<EapServerStep, { kind: "failure" }> {
    if (this.#done) return this.#fail("EAP conversation already finished");
    if (this.#pending) return this.#fail("an EAP Response while RADIUS has not answered");
    let p;
    try {
      p = decodeEap(message);
    } catch (e) {
      if (e instanceof EapError) return this.#fail(`malformed EAP message: ${e.message}`);
      throw e;
    }
    if (p.code !== EapCode.Response) return this.#fail(`EAP code ${p.code} from the client`);
    this.#responseId = p.identifier;
    if (this.#identity === undefined) {
      if (!("type" in p) || p.type !== EapType.Identity) {
        return this.#fail("the client did not answer EAP-Identity");
      }
      const id = decodeIdentity(p.data);
      if (id === "") return this.#fail("the client sent an empty EAP identity");
      if (this.#o.identity !== undefined && id !== this.#o.identity) {
        return this.#fail(`EAP identity '${id}' is not the configured '${this.#o.identity}'`);
      }
      this.#identity = id;
    }
    return this.#send(0, message);
  }

  #send(server: number, eap: Uint8Array): RadiusSend {
    const s = this.#o.servers[server];
    const attributes: RadiusAttribute[] = [
      textAttribute(RadiusAttr.UserName, this.#identity!),
      textAttribute(RadiusAttr.NasIdentifier, this.#o.nasIdentifier),
      intAttribute(RadiusAttr.ServiceType, 2), // Framed
      intAttribute(RadiusAttr.NasPortType, 5), // Virtual
      intAttribute(RadiusAttr.NasPort, this.#o.nasPort),
      textAttribute(RadiusAttr.CalledStationId, this.#o.calledStation),
      textAttribute(RadiusAttr.CallingStationId, this.#o.callingStation),
      ...eapMessageAttributes(eap),
      ...(this.#state ? [{ type: RadiusAttr.State, value: this.#state }] : []),
    ];
    const r: AccessRequest = {
      identifier: this.#o.nextIdentifier(),
      authenticator: this.#o.random(16).slice(),
      secret: s.secret,
      attributes,
    };
    const request = encodeAccessRequest(r);
    this.#pending = { request, server, sends: 1, eap };
    return {
      kind: "send",
      to: { address: s.address, port: s.port },
      bytes: request,
      server: s.name,
    };
  }

  /**
   * A datagram from a RADIUS server: the step for the client when it is the
   * verified answer to our request, else undefined (not ours; ignored).
   */
  answer(bytes: Uint8Array, from: { address: string; port: number }): EapServerStep | undefined | {
    kind: "ignored";
    reason: string;
  } {
    const p = this.#pending;
    if (!p) return undefined;
    const s = this.#o.servers[p.server];
    if (from.address !== s.address || from.port !== s.port) return undefined;
    if (bytes.length < 2 || bytes[1] !== p.request[1]) return undefined;
    let a;
    try {
      a = decodeAnswer(bytes, p.request, s.secret);
    } catch (e) {
      if (e instanceof RadiusError) return { kind: "ignored", reason: e.message };
      throw e;
    }
    this.#pending = undefined;
    this.#state = a.state;
    const reply = a.replyMessage ? ` (${a.replyMessage})` : "";
    if (a.code === RadiusCode.AccessChallenge) {
      if (!a.eap) return this.#fail(`RADIUS server ${s.name} challenged without an EAP-Message`);
      const eap = this.#forward(a.eap, EapCode.Request);
      return eap ?? this.#fail(`RADIUS server ${s.name} sent no EAP Request in its challenge`);
    }
    if (a.code === RadiusCode.AccessAccept) {
      this.#done = true;
      const message = (a.eap && this.#forward(a.eap, EapCode.Success)?.message) ??
        encodeEap({ code: EapCode.Success, identifier: this.#responseId });
      return {
        kind: "success",
        message,
        msk: a.msk,
        identity: this.#identity!,
        ...(a.framedAddresses ? { addresses: a.framedAddresses } : {}),
      };
    }
    return this.#fail(`RADIUS server ${s.name} rejected '${this.#identity}'${reply}`, a.eap);
  }

  /** The retransmission timer fired: send again, try the next server, or give up. */
  retry(): RadiusSend | Extract<EapServerStep, { kind: "failure" }> {
    const p = this.#pending;
    if (!p) return this.#fail("no RADIUS request in flight");
    if (p.sends < RADIUS_TRIES) {
      p.sends++;
      const s = this.#o.servers[p.server];
      return {
        kind: "send",
        to: { address: s.address, port: s.port },
        bytes: p.request,
        server: s.name,
      };
    }
    if (p.server + 1 < this.#o.servers.length) return this.#send(p.server + 1, p.eap);
    this.#pending = undefined;
    const names = this.#o.servers.map((s) => s.name).join(", ");
    return this.#fail(
      `no answer from RADIUS server${this.#o.servers.length > 1 ? "s" : ""} ${names}`,
    );
  }

  /** The EAP packet from RADIUS when it has code `code` (a Request, or Success), else undefined. */
  #forward(eap: Uint8Array, code: number): { kind: "request"; message: Uint8Array } | undefined {
    try {
      const p = decodeEap(eap);
      if (p.code !== code) return undefined;
    } catch {
      return undefined;
    }
    return { kind: "request", message: eap };
  }

  #fail(reason: string, eap?: Uint8Array): Extract<EapServerStep, { kind: "failure" }> {
    this.#done = true;
    let message: Uint8Array | undefined;
    if (eap) {
      try {
        if (decodeEap(eap).code === EapCode.Failure) message = eap;
      } catch { /* ours instead */ }
    }
    return {
      kind: "failure",
      message: message ??
        encodeEap({
          code: EapCode.Failure,
          identifier: this.#responseId,
        }),
      reason,
    };
  }
}
