/**
 * The EAP peer (RFC 3748) for IKEv2 EAP authentication (RFC 7296 section
 * 2.16): a road-warrior client answering a gateway's EAP Requests with
 * EAP-Identity, EAP-MD5 or EAP-MSCHAPv2, EAP-TLS (lib/eap/eap_tls.ts), and
 * EAP-TTLS (lib/eap/eap_ttls.ts) or PEAPv0 (lib/eap/peap.ts) tunneling one of
 * the first two; TLS runs in the system libssl. Sans-I/O: `receive()` takes the whole
 * EAP message from the IKE_AUTH response's EAP payload and says what to put in
 * the next IKE_AUTH request.
 *
 * ```
 * peer                                       server
 *   <-- Request/Identity ----------------------       (optional)
 *   --- Response/Identity(identity) ---------->
 *   <-- Request/MD5(challenge) ----------------   or Request/<other>:
 *   --- Response/MD5(MD5(id||secret||chal)) -->      --- Response/Nak(our types) -->
 *   <-- Success -------------------------------   => { kind: "success", msk: undefined }
 *
 *   <-- Request/MSCHAPv2 Challenge ------------
 *   --- Response/MSCHAPv2 Response ----------->
 *   <-- Request/MSCHAPv2 Success "S=... M=..." -   S= checked: mismatch => failure
 *   --- Response/MSCHAPv2 Success ------------>
 *   <-- Success -------------------------------   => { kind: "success", msk }
 *
 *   <-- Request/MSCHAPv2 Failure "E=691 ..." --   (wrong password)
 *   --- Response/MSCHAPv2 Failure ------------>
 *   <-- Failure -------------------------------   => { kind: "failure", reason }
 * ```
 *
 * The peer accepts EAP-Success only after the method finished on its side (for
 * MSCHAPv2: after it verified the server's authenticator response), so a
 * server cannot skip authenticating itself. A retransmitted Request (same bytes
 * as the last one) gets the same Response again. Notification Requests are
 * acknowledged (RFC 3748 5.2). Any malformed or unexpected message ends the
 * conversation with a failure; `receive()` never throws.
 *
 * @module
 */
import { md5 } from "@noble/hashes/legacy.js";
import { concat, equalBytes } from "../wire/bytes.ts";
import {
  decodeEap,
  decodeMd5,
  decodeMsChapV2,
  EAP_METHOD_TYPES,
  EapCode,
  EapError,
  type EapMethodName,
  eapMethodName,
  EapType,
  eapTypeName,
  encodeEap,
  encodeMd5,
  encodeMsChapV2,
  encodeNak,
  parseMsChapV2Failure,
  parseMsChapV2Success,
} from "./eap_message.ts";
import {
  ACK,
  decodeEapTls,
  EAP_TLS_KEY_LABEL,
  EapTlsChannel,
  EapTlsFlag,
  type EapTlsOptions,
  openTlsSession,
} from "./eap_tls.ts";
import { TlsError, type TlsSession } from "../../ffi/libssl.ts";
import { decodeAvps, eapMessageAvps, eapMessageOf, TTLS_KEY_LABEL } from "./eap_ttls.ts";
import { PEAP_RESULT_FAILURE, PEAP_RESULT_SUCCESS, peapResult, peapResultTlv } from "./peap.ts";
import {
  authenticatorResponseFromHash,
  checkAuthenticatorResponseRaw,
  generateNtResponseFromHash,
  mschapUserName,
  mschapv2Msk,
  ntPasswordHash,
} from "./mschapv2_crypto.ts";

export type { EapMethodName } from "./eap_message.ts";

/** Options of an {@link EapPeer}. */
export interface EapPeerOptions {
  /** EAP identity we answer EAP-Identity with (and the MSCHAPv2 user name). */
  identity: string;
  /** The password (UTF-8). */
  secret: string;
  /** Methods we accept; a request for another method gets a Nak listing these (RFC 3748 5.3.1). Order = preference. */
  methods: readonly EapMethodName[];
  /** Random bytes (MSCHAPv2 peer challenge). */
  random: (n: number) => Uint8Array;
  /**
   * EAP-TLS: our certificate and key, and the trust anchors for the
   * server's; EAP-TTLS and PEAP: the trust anchors (and the server's check).
   */
  tls?: EapTlsOptions;
  /** EAP-TTLS and PEAP: the tunneled methods we accept (default EAP-MSCHAPv2, EAP-MD5). */
  innerMethods?: readonly EapMethodName[];
}

/** What the peer does after a server message. */
export type EapPeerStep =
  /** Send this EAP Response. */
  | { kind: "respond"; message: Uint8Array }
  /** EAP-Success received; the MSK (undefined for MD5). */
  | { kind: "success"; msk: Uint8Array | undefined; method: EapMethodName }
  /** EAP-Failure, or the server failed authentication, or a protocol error. */
  | { kind: "failure"; reason: string };

type PeerState =
  | { s: "idle" }
  | { s: "md5-answered" }
  | {
    s: "mschapv2-answered";
    expectedAuth: Uint8Array;
    msk: Uint8Array;
  }
  | { s: "mschapv2-verified"; msk: Uint8Array }
  | { s: "mschapv2-rejected"; reason: string }
  | {
    s: "tls";
    /** EAP-TLS, or EAP-TTLS/PEAP (then `inner` runs the tunneled method once the tunnel is up). */
    method: "tls" | "ttls" | "peap";
    session: TlsSession;
    channel: EapTlsChannel;
    /** Set once the handshake completed and the server's certificate passed. */
    msk?: Uint8Array;
    inner?: EapPeer;
    innerIdentifier?: number;
    /** The server tunneled the inner EAP-Success (and the inner peer accepted it). */
    innerDone?: boolean;
    /** PEAP: the server's Result TLV said success and we confirmed it. */
    peapResult?: boolean;
    /** PEAP: the server's Result TLV said failure (confirmed; its EAP-Failure follows). */
    peapFailed?: string;
  }
  | { s: "done" };

const utf8 = new TextEncoder();

/**
 * EAP peer state machine. One instance per IKE_AUTH exchange sequence.
 *
 * @example
 * ```ts
 * import { EapPeer } from "./eap_peer.ts";
 * const peer = new EapPeer({
 *   identity: "carol", secret: "s3cret", methods: ["mschapv2"],
 *   random: (n) => crypto.getRandomValues(new Uint8Array(n)),
 * });
 * const step = peer.receive(new Uint8Array([1, 1, 0, 5, 1])); // Request/Identity
 * step.kind; // "respond"
 * ```
 */
export class EapPeer {
  readonly #opts: EapPeerOptions;
  #state: PeerState = { s: "idle" };
  #method: EapMethodName | undefined;
  #lastRequest: Uint8Array | undefined;
  #lastResponse: Uint8Array | undefined;

  /** Creates a peer; nothing is sent until the server's first Request arrives. */
  constructor(opts: EapPeerOptions) {
    this.#opts = { ...opts, methods: [...opts.methods] };
  }

  /** Takes the whole EAP message the server sent. Never throws for bad input: returns failure with a reason. */
  receive(message: Uint8Array): EapPeerStep {
    if (this.#state.s === "done") return this.#fail("EAP conversation already finished");
    if (this.#lastRequest && this.#lastResponse && equalBytes(message, this.#lastRequest)) {
      return { kind: "respond", message: this.#lastResponse };
    }
    try {
      const step = this.#handle(message);
      if (step.kind === "respond") {
        this.#lastRequest = message.slice();
        this.#lastResponse = step.message;
      }
      return step;
    } catch (e) {
      if (e instanceof EapError) return this.#fail(`malformed EAP message: ${e.message}`);
      if (e instanceof RangeError) return this.#fail(`bad EAP message: ${e.message}`);
      if (e instanceof TlsError) {
        return this.#fail(`EAP-${(this.#method ?? "tls").toUpperCase()}: ${e.message}`);
      }
      throw e; // a bug, not bad input
    }
  }

  #fail(reason: string): EapPeerStep {
    if (this.#state.s === "tls") this.#state.session.free();
    this.#state = { s: "done" };
    return { kind: "failure", reason };
  }

  #respond(identifier: number, type: number, data: Uint8Array): EapPeerStep {
    return {
      kind: "respond",
      message: encodeEap({ code: EapCode.Response, identifier, type, data }),
    };
  }

  #handle(message: Uint8Array): EapPeerStep {
    const p = decodeEap(message);
    const st = this.#state;
    switch (p.code) {
      case EapCode.Success:
        if (st.s === "md5-answered") {
          this.#state = { s: "done" };
          return { kind: "success", msk: undefined, method: "md5" };
        }
        if (st.s === "mschapv2-verified") {
          this.#state = { s: "done" };
          return { kind: "success", msk: st.msk, method: "mschapv2" };
        }
        if (st.s === "mschapv2-rejected") {
          return this.#fail(`EAP-Success after the server rejected us: ${st.reason}`);
        }
        if (st.s === "tls" && st.msk && st.method === "peap") {
          if (st.peapFailed) return this.#fail(st.peapFailed);
          if (!st.peapResult) {
            return this.#fail(
              "EAP-Success before the PEAP tunnel reported the inner method's result",
            );
          }
          st.session.free();
          this.#state = { s: "done" };
          return { kind: "success", msk: st.msk, method: "peap" };
        }
        if (st.s === "tls" && st.msk && st.method === "ttls") {
          // The tunneled method must have finished on our side (MSCHAPv2: the server's
          // authenticator response checked); servers do not tunnel the inner EAP-Success.
          const why = this.#innerIncomplete(st);
          if (why !== undefined) {
            return this.#fail(`EAP-Success before the tunneled method completed: ${why}`);
          }
          st.session.free();
          this.#state = { s: "done" };
          return { kind: "success", msk: st.msk, method: "ttls" };
        }
        if (st.s === "tls" && st.msk) {
          st.session.free();
          this.#state = { s: "done" };
          return { kind: "success", msk: st.msk, method: "tls" };
        }
        if (st.s === "tls") {
          return this.#fail("EAP-Success before the TLS handshake with the server completed");
        }
        return this.#fail(
          st.s === "mschapv2-answered"
            ? "EAP-Success before the server proved knowledge of the password (no MSCHAPv2 Success Request)"
            : "EAP-Success before any authentication method completed",
        );
      case EapCode.Failure:
        if (st.s === "mschapv2-rejected") return this.#fail(st.reason);
        if (st.s === "tls" && st.peapFailed) return this.#fail(st.peapFailed);
        if (st.s === "md5-answered") {
          return this.#fail(
            "EAP-Failure: the server rejected our EAP-MD5 response (wrong password?)",
          );
        }
        return this.#fail(
          this.#method ? `EAP-Failure during EAP-${this.#method.toUpperCase()}` : "EAP-Failure",
        );
      case EapCode.Response:
        return this.#fail("received an EAP Response; the server sends Requests");
    }
    // A Request.
    const { identifier, type, data } = p;
    if (type === EapType.Identity) {
      if (this.#method) return this.#fail("EAP-Identity Request after the method started");
      return this.#respond(identifier, EapType.Identity, utf8.encode(this.#opts.identity));
    }
    if (type === EapType.Notification) {
      return this.#respond(identifier, EapType.Notification, new Uint8Array());
    }
    if (type === EapType.Nak) return this.#fail("received a Nak in a Request");
    const method = eapMethodName(type);
    if (this.#method) {
      if (method !== this.#method) {
        return this.#fail(
          `server switched from EAP-${this.#method.toUpperCase()} to ${eapTypeName(type)}`,
        );
      }
    } else if (method === undefined || !this.#opts.methods.includes(method)) {
      // RFC 3748 5.3.1: Nak with the types we accept (0 = none).
      const types = this.#opts.methods.map((m) => EAP_METHOD_TYPES[m]);
      return this.#respond(identifier, EapType.Nak, encodeNak(types));
    }
    this.#method = method;
    if (method === "tls" || method === "ttls" || method === "peap") {
      return this.#tls(method, identifier, data);
    }
    return method === "md5" ? this.#md5(identifier, data) : this.#mschapv2(identifier, data);
  }

  /**
   * EAP-TLS (RFC 5216) and EAP-TTLS (RFC 5281): Start opens the TLS session
   * (ClientHello); each whole TLS message from the server goes through it,
   * our answer goes out in fragments. Once the handshake completed and the
   * server's certificate passed the check, EAP-TLS acknowledges the server's
   * Finished with an empty Response; EAP-TTLS sends its EAP-Response/Identity
   * through the tunnel and answers each tunneled Request with the inner
   * method (EAP-MSCHAPv2 or EAP-MD5, our password).
   */
  #tls(method: "tls" | "ttls" | "peap", identifier: number, data: Uint8Array): EapPeerStep {
    const st = this.#state;
    const name = `EAP-${method.toUpperCase()}`;
    const type = EAP_METHOD_TYPES[method];
    const respond = (typeData: Uint8Array) => this.#respond(identifier, type, typeData);
    const d = decodeEapTls(data);
    if (d.flags & EapTlsFlag.Start) {
      if (st.s !== "idle") return this.#fail(`a second ${name} Start`);
      const o = this.#opts.tls;
      if (!o) {
        return this.#fail(
          method === "tls"
            ? "EAP-TLS needs our certificate and key (local auth eap-tls)"
            : `${name} needs the CA of the server's certificate (remote cacerts)`,
        );
      }
      const session = openTlsSession("client", o);
      if (typeof session === "string") return this.#fail(session);
      const channel = new EapTlsChannel(o.fragmentSize);
      this.#state = { s: "tls", method, session, channel };
      const r = session.step();
      if (r.kind === "failed") return this.#fail(`${name}: ${r.reason}`);
      return respond(channel.send(session.output()));
    }
    if (st.s !== "tls") return this.#fail(`${name} data before Start`);
    const got = st.channel.receive(data);
    if (got.kind === "ack") return respond(ACK);
    if (got.kind === "next") return respond(st.channel.next()!);
    if (got.kind === "empty") return this.#fail(`${name}: an empty Request with nothing to send`);
    st.session.feed(got.bytes);
    if (st.msk) {
      if (method === "tls") {
        return this.#fail("EAP-TLS: more TLS data after the handshake completed");
      }
      return this.#tunneled(st, identifier, respond);
    }
    const r = st.session.step();
    if (r.kind === "failed") return this.#fail(`${name} handshake failed: ${r.reason}`);
    if (r.kind === "done") {
      const why = this.#opts.tls?.check?.(st.session.peerCertificates(), "");
      if (why) return this.#fail(`${name}: the server's certificate: ${why}`);
      // PEAPv0 keys like EAP-TLS (no cryptobinding).
      const label = method === "ttls" ? TTLS_KEY_LABEL : EAP_TLS_KEY_LABEL;
      st.msk = st.session.exportKeyingMaterial(label, 128).slice(0, 64);
      if (method === "peap") {
        st.inner = new EapPeer({
          ...this.#opts,
          methods: this.#opts.innerMethods ?? ["mschapv2", "md5"],
        });
        // The server may send the tunneled Identity Request with its Finished.
        const pending = st.session.output();
        if (pending.length === 0) return this.#tunneled(st, identifier, respond);
        return respond(st.channel.send(pending));
      }
      if (method === "ttls") {
        // RFC 5281 section 11.2.1: the client starts the tunneled EAP with its identity.
        st.inner = new EapPeer({
          ...this.#opts,
          methods: this.#opts.innerMethods ?? ["mschapv2", "md5"],
        });
        st.innerIdentifier = 0;
        st.session.write(
          eapMessageAvps(encodeEap({
            code: EapCode.Response,
            identifier: 0,
            type: EapType.Identity,
            data: utf8.encode(this.#opts.identity),
          })),
        );
      }
    }
    const out = st.session.output();
    return respond(out.length ? st.channel.send(out) : ACK);
  }

  /**
   * EAP-TTLS or PEAP, tunnel up: the server's tunneled data goes to the inner
   * method, its answer back through the tunnel; nothing tunneled is
   * acknowledged.
   */
  #tunneled(
    st: Extract<PeerState, { s: "tls" }>,
    identifier: number,
    respond: (typeData: Uint8Array) => EapPeerStep,
  ): EapPeerStep {
    const plain = st.session.read();
    if (plain.length === 0) {
      const out = st.session.output();
      return respond(out.length ? st.channel.send(out) : ACK);
    }
    return st.method === "peap"
      ? this.#peapMessage(st, identifier, plain, respond)
      : this.#ttlsMessage(st, plain, respond);
  }

  /** EAP-TTLS: the EAP-Message AVPs to the inner method, its answer back. */
  #ttlsMessage(
    st: Extract<PeerState, { s: "tls" }>,
    plain: Uint8Array,
    respond: (typeData: Uint8Array) => EapPeerStep,
  ): EapPeerStep {
    const eap = eapMessageOf(decodeAvps(plain));
    if (!eap) return this.#fail("EAP-TTLS: tunneled data without an EAP-Message");
    st.innerIdentifier = eap.length > 1 ? eap[1] : 0;
    const step = st.inner!.receive(eap);
    if (step.kind === "failure") return this.#fail(`EAP-TTLS tunneled method: ${step.reason}`);
    if (step.kind === "success") {
      // A server that tunnels the inner EAP-Success: acknowledge; the outer one follows.
      st.innerDone = true;
      return respond(ACK);
    }
    st.session.write(eapMessageAvps(step.message));
    return respond(st.channel.send(st.session.output()));
  }

  /**
   * Why the tunneled method has not finished on our side (MSCHAPv2: the
   * server's authenticator response not checked), asked by offering the inner
   * peer the EAP-Success servers do not tunnel; undefined when it has.
   */
  #innerIncomplete(st: Extract<PeerState, { s: "tls" }>): string | undefined {
    if (st.innerDone) return undefined;
    const r = st.inner?.receive(
      encodeEap({ code: EapCode.Success, identifier: st.innerIdentifier ?? 0 }),
    );
    if (r?.kind === "success") {
      st.innerDone = true;
      return undefined;
    }
    return r?.kind === "failure" ? r.reason : "no tunneled method ran";
  }

  /**
   * PEAPv0 (draft-kamath-pppext-peapv0, as FreeRADIUS and Windows run it):
   * tunneled EAP Requests come without their 4-byte header (Type and data;
   * the outer Identifier stands for theirs) and go to the inner method, our
   * answers go back the same way; the server ends with an EAP-TLV Result
   * (Extensions, type 33, with its header), which we confirm; then the
   * outer EAP-Success. A Crypto-Binding TLV is not supported.
   */
  #peapMessage(
    st: Extract<PeerState, { s: "tls" }>,
    identifier: number,
    plain: Uint8Array,
    respond: (typeData: Uint8Array) => EapPeerStep,
  ): EapPeerStep {
    const send = (inner: Uint8Array) => {
      st.session.write(inner);
      return respond(st.channel.send(st.session.output()));
    };
    const fullTlv = plain.length >= 5 && plain[0] === EapCode.Request &&
      ((plain[2] << 8) | plain[3]) === plain.length && plain[4] === EapType.Extensions;
    if (fullTlv) {
      const p = decodeEap(plain);
      if (p.code !== EapCode.Request) return this.#fail("PEAP: a malformed Result TLV");
      const result = peapResult(p.data);
      if (result === undefined) {
        return this.#fail("PEAP: an Extensions request without a Result TLV");
      }
      if (result !== PEAP_RESULT_SUCCESS) {
        // Confirm the failure (the server then sends EAP-Failure), keeping the inner reason.
        const inner = st.inner?.receive(
          encodeEap({ code: EapCode.Failure, identifier: st.innerIdentifier ?? 0 }),
        );
        st.peapFailed = `PEAP: the server reported the tunneled authentication as failed${
          inner?.kind === "failure" ? ` (${inner.reason})` : ""
        }`;
        return send(encodeEap({
          code: EapCode.Response,
          identifier: p.identifier,
          type: EapType.Extensions,
          data: peapResultTlv(PEAP_RESULT_FAILURE),
        }));
      }
      // Success counts only when the inner method finished on our side.
      const why = this.#innerIncomplete(st);
      if (why !== undefined) {
        return this.#fail(`PEAP: Result success before the tunneled method completed: ${why}`);
      }
      st.peapResult = true;
      return send(encodeEap({
        code: EapCode.Response,
        identifier: p.identifier,
        type: EapType.Extensions,
        data: peapResultTlv(PEAP_RESULT_SUCCESS),
      }));
    }
    // A header-less tunneled Request: rebuild its header with the outer Identifier.
    st.innerIdentifier = identifier;
    const step = st.inner!.receive(encodeEap({
      code: EapCode.Request,
      identifier,
      type: plain[0],
      data: plain.subarray(1),
    }));
    if (step.kind === "failure") return this.#fail(`PEAP tunneled method: ${step.reason}`);
    if (step.kind === "success") {
      st.innerDone = true;
      return respond(ACK);
    }
    return send(step.message.subarray(4));
  }

  /** RFC 1994 CHAP: MD5(Identifier || secret || challenge). */
  #md5(identifier: number, data: Uint8Array): EapPeerStep {
    const { value } = decodeMd5(data);
    const response = md5(
      concat(new Uint8Array([identifier]), utf8.encode(this.#opts.secret), value),
    );
    this.#state = { s: "md5-answered" };
    return this.#respond(
      identifier,
      EapType.Md5Challenge,
      encodeMd5({ value: response, name: new Uint8Array() }),
    );
  }

  #mschapv2(identifier: number, data: Uint8Array): EapPeerStep {
    const m = decodeMsChapV2(EapCode.Request, data);
    const st = this.#state;
    switch (m.kind) {
      case "challenge": {
        if (st.s !== "idle") return this.#fail("unexpected second MSCHAPv2 Challenge");
        const peerChallenge = this.#opts.random(16);
        if (peerChallenge.length !== 16) {
          return this.#fail("random() returned the wrong number of bytes");
        }
        const user = mschapUserName(this.#opts.identity);
        const pwHash = ntPasswordHash(this.#opts.secret);
        const ntResponse = generateNtResponseFromHash(m.challenge, peerChallenge, user, pwHash);
        this.#state = {
          s: "mschapv2-answered",
          expectedAuth: authenticatorResponseFromHash(
            pwHash,
            ntResponse,
            peerChallenge,
            m.challenge,
            user,
          ),
          msk: mschapv2Msk(pwHash, ntResponse),
        };
        return this.#respond(
          identifier,
          EapType.MsChapV2,
          encodeMsChapV2({
            kind: "response",
            msChapV2Id: m.msChapV2Id,
            peerChallenge,
            ntResponse,
            flags: 0,
            name: this.#opts.identity,
          }),
        );
      }
      case "success-request": {
        if (st.s !== "mschapv2-answered") return this.#fail("unexpected MSCHAPv2 Success Request");
        const { authenticatorResponse } = parseMsChapV2Success(m.message);
        if (!checkAuthenticatorResponseRaw(st.expectedAuth, authenticatorResponse)) {
          return this.#fail(
            "MSCHAPv2: the server's authenticator response (S=) is wrong: it does not know our password",
          );
        }
        this.#state = { s: "mschapv2-verified", msk: st.msk };
        return this.#respond(
          identifier,
          EapType.MsChapV2,
          encodeMsChapV2({ kind: "success-response" }),
        );
      }
      case "failure-request": {
        if (st.s !== "mschapv2-answered") return this.#fail("unexpected MSCHAPv2 Failure Request");
        let reason: string;
        try {
          const f = parseMsChapV2Failure(m.message);
          const what = f.error === 691
            ? " (authentication failure: wrong user name or password)"
            : "";
          reason = `MSCHAPv2: the server rejected us with E=${f.error}${what}` +
            (f.message ? `: ${f.message}` : "");
        } catch (e) {
          if (!(e instanceof EapError)) throw e;
          reason = `MSCHAPv2: the server rejected us (${e.reason})`;
        }
        // We do not retry (no R=1 handling): answer with a Failure Response
        // and wait for the EAP-Failure.
        this.#state = { s: "mschapv2-rejected", reason };
        return this.#respond(
          identifier,
          EapType.MsChapV2,
          encodeMsChapV2({ kind: "failure-response" }),
        );
      }
      default:
        return this.#fail(`unexpected EAP-MSCHAPv2 ${m.kind}`);
    }
  }
}
