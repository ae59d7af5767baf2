/**
 * The EAP server (authenticator, RFC 3748) for IKEv2 EAP authentication (RFC
 * 7296 section 2.16): a gateway authenticating road warriors with EAP-MD5,
 * EAP-MSCHAPv2, EAP-TLS or EAP-TTLS (tunneling one of the first two; TLS in
 * the system libssl), optionally after EAP-Identity. Sans-I/O: `start()` gives the
 * first Request for the first IKE_AUTH response; `receive()` takes each EAP
 * Response and says what to send back.
 *
 * ```
 * server                                             peer
 *   --- Request/Identity (only when no identity) --->
 *   <-- Response/Identity ---------------------------
 *   --- Request/MD5(16 random bytes, no Name) ------>
 *   <-- Response/MD5 --------------------------------
 *   --- Success / Failure -------------------------->   msk: undefined
 *
 *   --- Request/MSCHAPv2 Challenge(16, serverName) ->
 *   <-- Response/MSCHAPv2 Response ------------------
 *   --- Request/MSCHAPv2 Success "S=<hex> M=..." --->   NT-Response right
 *   <-- Response/MSCHAPv2 Success -------------------
 *   --- Success ------------------------------------>   msk (64 bytes)
 *
 *   --- Request/MSCHAPv2 Failure "E=691 R=0 C=.. V=3 M=.." ->   NT-Response wrong
 *   <-- Response/MSCHAPv2 Failure -------------------
 *   --- Failure ------------------------------------>
 * ```
 *
 * Decisions:
 * - The Identifier starts at `random(1)` and increases by one per Request; a
 *   Response with any other Identifier ends the conversation with a failure.
 *   Success/Failure carry the Identifier of the Response they answer.
 * - Unknown identity: indistinguishable on the wire from a wrong password, so
 *   user names cannot be enumerated. MD5 answers the Response with
 *   EAP-Failure either way; MSCHAPv2 sends its Challenge, then the E=691
 *   Failure Request. `reason` tells the log which it was.
 * - MSCHAPv2 looks the secret up by the EAP identity (EAP-Identity, or
 *   `identity` from the options) and reports that identity on success. The
 *   Response's Name only feeds ChallengeHash (without a `DOMAIN\` prefix), as
 *   the peer computed it. (charon instead looks the secret up by the Name and
 *   reports the Name as the EAP identity.)
 * - No MSCHAPv2 retries (R=0): one wrong password ends the conversation.
 * - A Nak ends the conversation: this server runs one method.
 * - Secrets are compared in constant time.
 *
 * @module
 */
import { md5 } from "@noble/hashes/legacy.js";
import { concat, constantTimeEqual } from "../wire/bytes.ts";
import {
  decodeEap,
  decodeIdentity,
  decodeMd5,
  decodeMsChapV2,
  decodeNak,
  EAP_METHOD_TYPES,
  EapCode,
  EapError,
  type EapMethodName,
  EapType,
  eapTypeName,
  encodeEap,
  encodeMd5,
  encodeMsChapV2,
  formatMsChapV2Failure,
  formatMsChapV2Success,
} from "./eap_message.ts";
import {
  ACK,
  EAP_TLS_KEY_LABEL,
  EapTlsChannel,
  EapTlsFlag,
  type EapTlsOptions,
  encodeEapTls,
  openTlsSession,
} from "./eap_tls.ts";
import { TlsError, type TlsSession } from "../../ffi/libssl.ts";
import { decodeAvps, eapMessageAvps, eapMessageOf, TTLS_KEY_LABEL } from "./eap_ttls.ts";
import {
  authenticatorResponseFromHash,
  formatAuthenticatorResponse,
  generateNtResponseFromHash,
  mschapUserName,
  mschapv2Msk,
  ntPasswordHash,
} from "./mschapv2_crypto.ts";

export type { EapMethodName } from "./eap_message.ts";

/** Options of an {@link EapServer}. */
export interface EapServerOptions {
  /** The method to run. */
  method: EapMethodName;
  /** The peer's EAP identity when already known (charon uses IDi unless eap_id = %any); undefined = start with EAP-Identity. */
  identity?: string;
  /** The password for an EAP identity, or undefined if unknown. */
  secretFor: (identity: string) => string | undefined;
  /** Random bytes (Identifier, challenges). */
  random: (n: number) => Uint8Array;
  /** Name in the MSCHAPv2 challenge (charon sends "strongSwan"); default "deno-ipsec". */
  serverName?: string;
  /**
   * EAP-TLS: our (the server's) certificate and key, the trust anchors for
   * the client's, and the check that it names the EAP identity.
   */
  tls?: EapTlsOptions;
  /** EAP-TTLS: the tunneled method (default EAP-MSCHAPv2). */
  innerMethod?: "mschapv2" | "md5";
}

/** What the server does after a peer message. */
export type EapServerStep =
  /** Send this EAP Request. */
  | { kind: "request"; message: Uint8Array }
  /**
   * Send EAP-Success (4 bytes); the MSK (undefined for MD5), the
   * authenticated EAP identity, and virtual IPs an authentication server
   * assigned (RADIUS Framed-IP-Address).
   */
  | {
    kind: "success";
    message: Uint8Array;
    msk: Uint8Array | undefined;
    identity: string;
    addresses?: readonly string[];
  }
  /** Send EAP-Failure; reason for the log. */
  | { kind: "failure"; message: Uint8Array; reason: string };

type ServerState =
  | { s: "new" }
  | { s: "identity" }
  | { s: "md5"; challenge: Uint8Array }
  | { s: "mschapv2-response"; challenge: Uint8Array; msChapV2Id: number }
  | { s: "mschapv2-success-ack"; msk: Uint8Array }
  | { s: "mschapv2-failure-ack"; reason: string }
  | {
    s: "tls";
    /** EAP-TLS, or EAP-TTLS (then `inner` runs the tunneled method once the tunnel is up). */
    method: "tls" | "ttls";
    session: TlsSession | string;
    channel: EapTlsChannel;
    /** Set once the handshake completed (and, EAP-TLS, the client's certificate passed). */
    msk?: Uint8Array;
    inner?: EapServer;
  }
  | { s: "done" };

const utf8 = new TextEncoder();
const DEFAULT_SERVER_NAME = "deno-ipsec";
const SUCCESS_TEXT = "Authentication succeeded";
const FAILURE_TEXT = "Authentication failed";

/**
 * EAP server state machine. One instance per peer authentication.
 *
 * @example
 * ```ts
 * import { EapServer } from "./eap_server.ts";
 * const server = new EapServer({
 *   method: "mschapv2",
 *   secretFor: (id) => (id === "carol" ? "s3cret" : undefined),
 *   random: (n) => crypto.getRandomValues(new Uint8Array(n)),
 * });
 * const first = server.start(); // Request/Identity
 * ```
 */
export class EapServer {
  readonly #opts: EapServerOptions;
  #state: ServerState = { s: "new" };
  #identifier: number;
  #identity: string | undefined;
  #first: Uint8Array | undefined;

  /** Creates a server; call {@link EapServer.start} for the first Request. */
  constructor(opts: EapServerOptions) {
    if (opts.method === "peap") {
      throw new TypeError("EAP-PEAP runs as client only (gateways relay it to RADIUS)");
    }
    this.#opts = opts;
    this.#identity = opts.identity;
    this.#identifier = opts.random(1)[0] ?? 0;
  }

  /** Why the method failed, when it is only waiting for the peer's acknowledgement. */
  get pendingFailure(): string | undefined {
    return this.#state.s === "mschapv2-failure-ack" ? this.#state.reason : undefined;
  }

  /** The first EAP Request (Identity, or the method's first request). */
  start(): Uint8Array {
    if (this.#first) return this.#first;
    if (this.#identity === undefined) {
      this.#state = { s: "identity" };
      this.#first = this.#request(EapType.Identity, new Uint8Array());
    } else {
      this.#first = this.#methodStart();
    }
    return this.#first;
  }

  /** Takes the peer's EAP Response. Never throws for bad input; wrong Identifier -> failure. */
  receive(message: Uint8Array): EapServerStep {
    if (this.#state.s === "new") return this.#fail("EAP Response before start()");
    if (this.#state.s === "done") return this.#fail("EAP conversation already finished");
    try {
      return this.#handle(message);
    } catch (e) {
      if (e instanceof EapError) return this.#fail(`malformed EAP message: ${e.message}`);
      if (e instanceof RangeError) return this.#fail(`bad EAP message: ${e.message}`);
      if (e instanceof TlsError) {
        return this.#fail(`EAP-${this.#opts.method.toUpperCase()}: ${e.message}`);
      }
      throw e; // a bug, not bad input
    }
  }

  #request(type: number, data: Uint8Array): Uint8Array {
    return encodeEap({ code: EapCode.Request, identifier: this.#identifier, type, data });
  }

  #nextRequest(type: number, data: Uint8Array): EapServerStep {
    this.#identifier = (this.#identifier + 1) & 0xff;
    return { kind: "request", message: this.#request(type, data) };
  }

  #fail(reason: string): EapServerStep {
    const st = this.#state;
    if (st.s === "tls" && typeof st.session !== "string") st.session.free();
    this.#state = { s: "done" };
    return {
      kind: "failure",
      message: encodeEap({ code: EapCode.Failure, identifier: this.#identifier }),
      reason,
    };
  }

  #succeed(msk: Uint8Array | undefined): EapServerStep {
    const st = this.#state;
    if (st.s === "tls" && typeof st.session !== "string") st.session.free();
    this.#state = { s: "done" };
    return {
      kind: "success",
      message: encodeEap({ code: EapCode.Success, identifier: this.#identifier }),
      msk,
      identity: this.#identity ?? "",
    };
  }

  #random16(): Uint8Array {
    const r = this.#opts.random(16);
    if (r.length !== 16) throw new Error("EapServer: random(16) returned the wrong length");
    return r.slice();
  }

  /** The method's first Request with the current Identifier; sets the state. */
  #methodStart(): Uint8Array {
    const method = this.#opts.method;
    if (method === "tls" || method === "ttls") {
      // The session opens now; if it cannot, the first Response is answered with the reason.
      const o = this.#opts.tls;
      const session = o
        ? openTlsSession("server", method === "ttls" ? { ...o, requireClientCert: false } : o)
        : `EAP-${method.toUpperCase()} needs our certificate and key`;
      this.#state = { s: "tls", method, session, channel: new EapTlsChannel(o?.fragmentSize) };
      return this.#request(
        method === "tls" ? EapType.Tls : EapType.Ttls,
        encodeEapTls({ flags: EapTlsFlag.Start, data: new Uint8Array(0) }),
      );
    }
    const challenge = this.#random16();
    if (this.#opts.method === "md5") {
      this.#state = { s: "md5", challenge };
      // No Name: charon's MD5 peer would hash it as part of the challenge.
      return this.#request(
        EapType.Md5Challenge,
        encodeMd5({ value: challenge, name: new Uint8Array() }),
      );
    }
    const msChapV2Id = this.#identifier;
    this.#state = { s: "mschapv2-response", challenge, msChapV2Id };
    return this.#request(
      EapType.MsChapV2,
      encodeMsChapV2({
        kind: "challenge",
        msChapV2Id,
        challenge,
        name: this.#opts.serverName || DEFAULT_SERVER_NAME,
      }),
    );
  }

  #handle(message: Uint8Array): EapServerStep {
    const p = decodeEap(message);
    if (p.code !== EapCode.Response) {
      return this.#fail(`expected an EAP Response, got Code ${p.code}`);
    }
    if (p.identifier !== this.#identifier) {
      return this.#fail(
        `EAP Response Identifier ${p.identifier} does not match the Request's ${this.#identifier}`,
      );
    }
    const st = this.#state;
    const method = this.#opts.method;
    if (st.s === "identity") {
      if (p.type !== EapType.Identity) {
        return this.#fail(`expected an EAP-Identity Response, got ${eapTypeName(p.type)}`);
      }
      this.#identity = decodeIdentity(p.data);
      this.#identifier = (this.#identifier + 1) & 0xff;
      return { kind: "request", message: this.#methodStart() };
    }
    if (p.type === EapType.Nak) {
      const offered = decodeNak(p.data).filter((t) => t !== 0).map(eapTypeName);
      return this.#fail(
        `peer refused EAP-${method.toUpperCase()} (Nak; it offers ${
          offered.join(", ") || "nothing"
        })`,
      );
    }
    if (p.type !== EAP_METHOD_TYPES[method]) {
      return this.#fail(
        `expected an EAP-${method.toUpperCase()} Response, got ${eapTypeName(p.type)}`,
      );
    }
    switch (st.s) {
      case "md5":
        return this.#md5(p.identifier, st.challenge, p.data);
      case "mschapv2-response":
        return this.#mschapv2Response(st.challenge, st.msChapV2Id, p.data);
      case "mschapv2-success-ack": {
        const m = decodeMsChapV2(EapCode.Response, p.data);
        if (m.kind === "success-response") return this.#succeed(st.msk);
        if (m.kind === "failure-response") {
          return this.#fail("MSCHAPv2: the peer rejected our authenticator response");
        }
        return this.#fail(`MSCHAPv2: expected a Success Response, got ${m.kind}`);
      }
      case "mschapv2-failure-ack": {
        const m = decodeMsChapV2(EapCode.Response, p.data);
        if (m.kind === "failure-response") return this.#fail(st.reason);
        return this.#fail(`${st.reason}; then expected a Failure Response, got ${m.kind}`);
      }
      case "tls":
        return this.#tls(st, p.data);
    }
    return this.#fail(`internal: unexpected state ${st.s}`);
  }

  /**
   * EAP-TLS (RFC 5216) and EAP-TTLS (RFC 5281): each whole TLS message of
   * the client goes through the session and our answer goes out in
   * fragments. EAP-TLS: the client's certificate must pass the check against
   * its EAP identity; its empty Response to our Finished is answered with
   * EAP-Success. EAP-TTLS: the client's tunneled EAP-Response/Identity starts
   * the inner method (our EAP-MSCHAPv2 or EAP-MD5 server, by the inner
   * identity), whose success is answered with EAP-Success.
   */
  #tls(st: Extract<ServerState, { s: "tls" }>, data: Uint8Array): EapServerStep {
    const name = st.method === "tls" ? "EAP-TLS" : "EAP-TTLS";
    const type = st.method === "tls" ? EapType.Tls : EapType.Ttls;
    const session = st.session;
    if (typeof session === "string") return this.#fail(session);
    const got = st.channel.receive(data);
    if (got.kind === "ack") return this.#nextRequest(type, ACK);
    if (got.kind === "next") return this.#nextRequest(type, st.channel.next()!);
    if (got.kind === "empty") {
      return st.msk && st.method === "tls" ? this.#succeed(st.msk) : this.#fail(
        `${name}: an empty Response before the ${
          st.msk ? "tunneled method" : "TLS handshake"
        } completed`,
      );
    }
    session.feed(got.bytes);
    if (st.msk) {
      if (st.method === "tls") {
        return this.#fail("EAP-TLS: more TLS data after the handshake completed");
      }
      return this.#tunneled(st, session);
    }
    const r = session.step();
    if (r.kind === "failed") return this.#fail(`${name} handshake failed: ${r.reason}`);
    if (r.kind === "done") {
      if (st.method === "tls") {
        const identity = this.#identity ?? "";
        const why = this.#opts.tls?.check?.(session.peerCertificates(), identity);
        if (why) return this.#fail(`EAP-TLS: the client's certificate: ${why}`);
      }
      const label = st.method === "tls" ? EAP_TLS_KEY_LABEL : TTLS_KEY_LABEL;
      st.msk = session.exportKeyingMaterial(label, 128).slice(0, 64);
    }
    const out = session.output();
    if (out.length) return this.#nextRequest(type, st.channel.send(out));
    return st.msk && st.method === "tls"
      ? this.#succeed(st.msk)
      : this.#fail(`${name}: the handshake stalled`);
  }

  /** EAP-TTLS, tunnel up: the client's tunneled Response to the inner method, its answer back. */
  #tunneled(st: Extract<ServerState, { s: "tls" }>, session: TlsSession): EapServerStep {
    const plain = session.read();
    if (plain.length === 0) {
      // A client whose inner method failed closes the tunnel (charon does).
      const inner = st.inner?.pendingFailure;
      return this.#fail(
        inner
          ? `EAP-TTLS tunneled method: ${inner} (the client closed the tunnel)`
          : session.closed
          ? "EAP-TTLS: the client closed the TLS tunnel"
          : "EAP-TTLS: no tunneled data from the client",
      );
    }
    const eap = eapMessageOf(decodeAvps(plain));
    if (!eap) return this.#fail("EAP-TTLS: tunneled data without an EAP-Message");
    let step: EapServerStep;
    if (!st.inner) {
      const p = decodeEap(eap);
      if (p.code !== EapCode.Response || p.type !== EapType.Identity) {
        return this.#fail("EAP-TTLS: the tunneled EAP must start with the client's identity");
      }
      const identity = decodeIdentity(p.data);
      this.#identity = identity;
      st.inner = new EapServer({
        ...this.#opts,
        method: this.#opts.innerMethod ?? "mschapv2",
        identity,
      });
      step = { kind: "request", message: st.inner.start() };
    } else {
      step = st.inner.receive(eap);
    }
    if (step.kind === "failure") return this.#fail(`EAP-TTLS tunneled method: ${step.reason}`);
    if (step.kind === "success") return this.#succeed(st.msk);
    session.write(eapMessageAvps(step.message));
    return this.#nextRequest(EapType.Ttls, st.channel.send(session.output()));
  }

  #md5(identifier: number, challenge: Uint8Array, data: Uint8Array): EapServerStep {
    const { value } = decodeMd5(data);
    const identity = this.#identity ?? "";
    const secret = this.#opts.secretFor(identity);
    if (secret === undefined) return this.#fail(`EAP-MD5: unknown identity "${identity}"`);
    const expected = md5(concat(new Uint8Array([identifier]), utf8.encode(secret), challenge));
    if (!constantTimeEqual(value, expected)) {
      return this.#fail(`EAP-MD5: wrong response for "${identity}" (wrong password?)`);
    }
    return this.#succeed(undefined);
  }

  #mschapv2Response(challenge: Uint8Array, msChapV2Id: number, data: Uint8Array): EapServerStep {
    const m = decodeMsChapV2(EapCode.Response, data);
    if (m.kind === "failure-response") return this.#fail("MSCHAPv2: the peer aborted");
    if (m.kind !== "response") return this.#fail(`MSCHAPv2: expected a Response, got ${m.kind}`);
    if (m.msChapV2Id !== msChapV2Id) {
      return this.#fail(
        `MSCHAPv2: MS-CHAPv2-ID ${m.msChapV2Id} does not match the Challenge's ${msChapV2Id}`,
      );
    }
    const identity = this.#identity ?? "";
    const secret = this.#opts.secretFor(identity);
    const user = mschapUserName(m.name);
    // Unknown identity: compute against a random hash so the flow (and the
    // work done) is that of a wrong password.
    const pwHash = secret === undefined ? this.#random16() : ntPasswordHash(secret);
    const expected = generateNtResponseFromHash(challenge, m.peerChallenge, user, pwHash);
    const ok = constantTimeEqual(m.ntResponse, expected) && secret !== undefined;
    if (!ok) {
      const reason = secret === undefined
        ? `MSCHAPv2: unknown identity "${identity}"`
        : `MSCHAPv2: wrong NT-Response for "${identity}" (wrong password?)`;
      this.#state = { s: "mschapv2-failure-ack", reason };
      const text = formatMsChapV2Failure({
        error: 691,
        retriable: false,
        challenge: this.#random16(),
        version: 3,
        message: FAILURE_TEXT,
      });
      return this.#nextRequest(
        EapType.MsChapV2,
        encodeMsChapV2({ kind: "failure-request", msChapV2Id, message: text }),
      );
    }
    const auth = authenticatorResponseFromHash(
      pwHash,
      m.ntResponse,
      m.peerChallenge,
      challenge,
      user,
    );
    this.#state = { s: "mschapv2-success-ack", msk: mschapv2Msk(pwHash, m.ntResponse) };
    const text = formatMsChapV2Success(formatAuthenticatorResponse(auth), SUCCESS_TEXT);
    return this.#nextRequest(
      EapType.MsChapV2,
      encodeMsChapV2({ kind: "success-request", msChapV2Id, message: text }),
    );
  }
}
