/**
 * EAP in IKE_AUTH (RFC 7296 section 2.16): the state either side keeps
 * between the IKE_AUTH exchanges of an EAP authentication, and the EAP
 * passwords. The EAP methods themselves are in lib/eap/.
 *
 * ```
 *   Initiator (EAP peer)                     Responder (EAP server)
 *   HDR, SK { IDi, [CERTREQ], [IDr], SAi2, TSi, TSr, [CP] }  -->
 *                         <--  HDR, SK { IDr, [CERT], AUTH, EAP(Request) }
 *   HDR, SK { EAP(Response) }  -->
 *                         <--  HDR, SK { EAP(Request) }       (as the method needs)
 *   HDR, SK { EAP(Response) }  -->
 *                         <--  HDR, SK { EAP(Success) }
 *   HDR, SK { AUTH(MSK) }  -->
 *                         <--  HDR, SK { AUTH(MSK), SAr2, TSi, TSr, [CP] }
 * ```
 *
 * The initiator checks the responder's certificate or PSK AUTH in the first
 * answer, before it sends anything derived from its password. Child SA
 * and configuration payloads of the first request are answered in the last
 * response.
 *
 * @module
 */
import type { RadiusEapProxy } from "../../eap/radius_proxy.ts";
import type { EapPeer } from "../../eap/eap_peer.ts";
import type { EapServer } from "../../eap/eap_server.ts";
import type { EapSecret, EapServerMethod } from "../peer_config.ts";
import type { IdPayload } from "../payloads/id.ts";
import type { IkeMessage } from "./_msg.ts";
import {
  formatIdentity,
  type Identity,
  identityToPayload,
  parseIdentity,
} from "../../db/identity.ts";
import { certMatchesId } from "../../pki/validate.ts";
import { X509Certificate } from "@peculiar/x509";

/** What the initiator (EAP peer) keeps during EAP. */
export interface EapPeerState {
  readonly role: "peer";
  readonly peer: EapPeer;
  /** "eap" while the method runs; "auth" once EAP-Success came and our AUTH went out. */
  stage: "eap" | "auth";
  /** Our IDi and the responder's IDr payloads: the final AUTHs cover them. */
  readonly idi: IdPayload;
  readonly idr: IdPayload;
  /** The method's MSK (undefined: none, e.g. EAP-MD5; then SK_pi/SK_pr key the AUTHs). */
  msk: Uint8Array | undefined;
  /** The responder announced MOBIKE in one of its IKE_AUTH answers. */
  peerMobike: boolean;
}

/** What the responder (EAP server) keeps during EAP. */
export interface EapServerState {
  readonly role: "server";
  /** Our own EAP method, or the relay to RADIUS (`eap-radius`). */
  readonly server: EapServer | RadiusEapProxy;
  readonly method: EapServerMethod;
  /** The client's IKE_AUTH request held while RADIUS answers (EAP pass-through). */
  held: IkeMessage | undefined;
  /** "eap" while the method runs; "auth" once EAP-Success went out. */
  stage: "eap" | "auth";
  /** The first IKE_AUTH request: its SA, TS, CP and notifies are answered last. */
  readonly first: IkeMessage;
  readonly idi: IdPayload;
  readonly idr: IdPayload;
  msk: Uint8Array | undefined;
  /** The peer's EAP identity, once the method succeeded. */
  identity: string | undefined;
  /** Virtual IPs the RADIUS server assigned (Framed-IP-Address), for pool "radius". */
  addresses?: readonly string[];
}

/** EAP state of an IKE SA in IKE_AUTH. */
export type EapState = EapPeerState | EapServerState;

/**
 * An EAP-TLS certificate check: the other side's end-entity certificate
 * must name `who` (an identity, or an EAP identity as text, parsed as
 * swanctl does: an email address, FQDN, IP address or DN); `%any` or
 * undefined accepts any certificate TLS verified.
 *
 * @example
 * ```ts
 * certNames("carol@example.org")([carolCertDer]); // undefined: it does
 * ```
 */
export function certNames(
  who: Identity | string | undefined,
): (certs: Uint8Array[]) => string | undefined {
  return (certs) => {
    let id: Identity;
    try {
      id = typeof who === "string" ? parseIdentity(who) : who ?? { type: "any", value: "" };
    } catch {
      return `'${who}' is not an identity a certificate can name`;
    }
    if (id.type === "any") return undefined;
    const leaf = certs[0];
    if (!leaf) return "no certificate";
    const { idType, data } = identityToPayload(id);
    try {
      return certMatchesId(leaf, idType, data)
        ? undefined
        : `it does not name '${formatIdentity(id)}' (subject ${describeSubject(leaf)})`;
    } catch (e) {
      return `unparsable certificate: ${(e as Error).message}`;
    }
  };
}

function describeSubject(der: Uint8Array): string {
  try {
    return `'${new X509Certificate(new Uint8Array(der)).subject}'`;
  } catch {
    return "unreadable";
  }
}

/**
 * The EAP password for `identity`: a secret naming it wins over one naming
 * no identity; undefined when none.
 *
 * @example
 * ```ts
 * findEapSecret([{ ids: ["alice"], secret: "pw" }], "alice"); // "pw"
 * ```
 */
export function findEapSecret(
  secrets: readonly EapSecret[] | undefined,
  identity: string,
): string | undefined {
  let fallback: string | undefined;
  for (const s of secrets ?? []) {
    if (s.ids.includes(identity)) return s.secret;
    if (s.ids.length === 0) fallback ??= s.secret;
  }
  return fallback;
}
