/**
 * RADIUS Dynamic Authorization (RFC 5176), as charon's eap-radius `dae`:
 * the RADIUS server (or an admin with `radclient ... disconnect`) sends a
 * Disconnect-Request naming a user (User-Name) or an accounting session
 * (Acct-Session-Id); we delete the matching IKE SAs and answer
 * Disconnect-ACK, or Disconnect-NAK with Error-Cause 503 (Session Context
 * Not Found). CoA-Requests are answered CoA-NAK 405 (Unsupported Service).
 * Requests whose authenticator does not verify with the secret are dropped
 * unanswered.
 *
 * @module
 */
import dgram from "node:dgram";
import {
  type DaeRequest,
  encodeDaeResponse,
  intAttribute,
  RadiusAttr,
  RadiusCode,
  RadiusError,
  verifyDaeRequest,
} from "../eap/radius.ts";

/** RFC 5176 Error-Cause values we send. */
export const ErrorCause = {
  UnsupportedService: 405,
  SessionContextNotFound: 503,
} as const;

/** `radius: dae:` settings. */
export interface DaeConfig {
  readonly listen: string;
  readonly port: number;
  readonly secret: Uint8Array;
}

/** What the daemon gives the listener. */
export interface DaeOptions extends DaeConfig {
  /** The IKE SAs of a user (EAP identity) or of an accounting session. */
  readonly find: (by: { user?: string; sessionId?: string }) => number[];
  /** Deletes IKE SA `ikeSaId` (INFORMATIONAL Delete to the client). */
  readonly terminate: (ikeSaId: number) => void;
  readonly log: (level: "info" | "warn", message: string) => void;
}

/** What to answer a verified request with, and the IKE SAs to delete. */
export function decideDae(
  req: DaeRequest,
  find: DaeOptions["find"],
): { code: number; errorCause?: number; ikeSaIds: number[]; who: string } {
  const text = (t: number) => {
    const a = req.attributes.find((x) => x.type === t);
    return a ? new TextDecoder().decode(a.value) : undefined;
  };
  const user = text(RadiusAttr.UserName);
  const sessionId = text(RadiusAttr.AcctSessionId);
  const who = [user && `user '${user}'`, sessionId && `session ${sessionId}`].filter(Boolean)
    .join(", ") || "nobody named";
  if (req.code === RadiusCode.CoaRequest) {
    return {
      code: RadiusCode.CoaNak,
      errorCause: ErrorCause.UnsupportedService,
      ikeSaIds: [],
      who,
    };
  }
  const ikeSaIds = user === undefined && sessionId === undefined ? [] : find({
    ...(user !== undefined ? { user } : {}),
    ...(sessionId !== undefined ? { sessionId } : {}),
  });
  if (ikeSaIds.length === 0) {
    return {
      code: RadiusCode.DisconnectNak,
      errorCause: ErrorCause.SessionContextNotFound,
      ikeSaIds,
      who,
    };
  }
  return { code: RadiusCode.DisconnectAck, ikeSaIds, who };
}

/** The Dynamic Authorization listener. */
export class RadiusDae {
  readonly #o: DaeOptions;
  #socket: dgram.Socket | undefined;

  constructor(o: DaeOptions) {
    this.#o = o;
  }

  /** Binds `listen`:`port`. */
  start(): Promise<void> {
    const s = dgram.createSocket(this.#o.listen.includes(":") ? "udp6" : "udp4");
    this.#socket = s;
    s.on("message", (msg, rinfo) => this.#message(new Uint8Array(msg), rinfo.address, rinfo.port));
    return new Promise((resolve, reject) => {
      s.once("error", reject);
      s.bind(this.#o.port, this.#o.listen, () => {
        s.off("error", reject);
        s.on("error", (e) => this.#o.log("warn", `RADIUS DAE socket: ${e.message}`));
        resolve();
      });
    });
  }

  #message(bytes: Uint8Array, address: string, port: number): void {
    let req: DaeRequest;
    try {
      req = verifyDaeRequest(bytes, this.#o.secret);
    } catch (e) {
      if (!(e instanceof RadiusError)) throw e;
      this.#o.log("warn", `dropping a RADIUS DAE request from ${address}: ${e.message}`);
      return;
    }
    const d = decideDae(req, this.#o.find);
    for (const id of d.ikeSaIds) this.#o.terminate(id);
    const what = req.code === RadiusCode.CoaRequest ? "CoA-Request" : "Disconnect-Request";
    this.#o.log(
      "info",
      `RADIUS ${what} from ${address} for ${d.who}: ${
        d.ikeSaIds.length ? `deleting IKE SA ${d.ikeSaIds.join(", ")}` : "no such session"
      }`,
    );
    const answer = encodeDaeResponse(
      d.code,
      req,
      d.errorCause ? [intAttribute(RadiusAttr.ErrorCause, d.errorCause)] : [],
      this.#o.secret,
    );
    this.#socket?.send(answer, port, address);
  }

  close(): void {
    this.#socket?.close();
    this.#socket = undefined;
  }
}
