/**
 * The Peer Authorization Database (RFC 4301 section 4.4.3): the link between
 * IKE and the SPD. Ordered entries are matched by the peer's authenticated
 * IKE identity (first match wins). Each names how the peer authenticates
 * (a pre-shared key, or trust anchors for certificates), the child SA
 * constraints (which traffic selectors the peer may claim for its side,
 * TSi when it initiates) and how the SPD is searched for its child SAs: by
 * its identity (named SPD entries) or by its traffic selectors.
 *
 * @module
 */

import { constantTimeEqual } from "../wire/bytes.ts";
import { type Identity, identityMatches, type IdentityPattern } from "./identity.ts";
import { intersectTsLists, type TrafficSelector, tsContains } from "./narrow.ts";
import type { Crl } from "../pki/crl.ts";
import type { RevocationPolicy } from "../pki/validate.ts";
import type { EapMethodName } from "../eap/eap_message.ts";

/** How a peer proves its identity. */
export type PadAuth =
  | { readonly method: "psk"; readonly secret: Uint8Array }
  | {
    readonly method: "pubkey";
    /** Trust anchors (DER CA certificates). */
    readonly trustAnchors: readonly Uint8Array[];
    /** Pinned end-entity certificates (DER), accepted without a CA. */
    readonly pinned?: readonly Uint8Array[];
    /** The peer's raw public keys (SubjectPublicKeyInfo DER), accepted without a certificate. */
    readonly pinnedKeys?: readonly Uint8Array[];
    /** CRLs of the trust anchors and intermediates. */
    readonly crls?: readonly Crl[];
    /** How strictly revocation is checked (default relaxed). */
    readonly revocation?: RevocationPolicy;
  }
  | {
    /** EAP (RFC 7296 section 2.16) run by us as EAP server, then AUTH keyed by its MSK. */
    readonly method: "eap";
    readonly eap: EapMethodName | "radius";
    /** The peer's EAP identity: `%any` = ask by EAP-Identity; absent = its IKE identity. */
    readonly eapId?: string;
  };

/** One PAD entry. */
export interface PadEntry {
  /** Label for tables and logs (usually the connection name). */
  readonly label: string;
  /** Peer identities this entry applies to. */
  readonly id: IdentityPattern;
  readonly auth: PadAuth;
  /**
   * Traffic selectors the peer may claim for its own side (child SA
   * constraints). An empty list allows no child SA at all.
   */
  readonly allowedTs: readonly TrafficSelector[];
  /** SPD lookup for this peer's child SAs: its identity (named entries) or its TS. */
  readonly spdLookup: "name" | "ts";
  /** IKE addresses the peer may use (gateway addresses), empty = any. */
  readonly remoteAddrs?: readonly string[];
  /** The configuration connection this entry came from. */
  readonly connection?: string;
  /**
   * RFC 4739: how the peer must authenticate in its later rounds (after
   * `auth`), as written, e.g. "eap-mschapv2 (eap_id %any)"; the connection
   * checks them.
   */
  readonly laterRounds?: readonly string[];
}

/** A PAD problem with a configuration. */
export class PadError extends Error {
  override readonly name = "PadError";
}

/**
 * The ordered PAD.
 *
 * @example
 * ```ts
 * const pad = new Pad([{ label: "rw", id: parseIdentityPattern("*@example.com"),
 *   auth: { method: "psk", secret }, allowedTs: [], spdLookup: "name" }]);
 * pad.match(parseIdentity("alice@example.com"))?.label; // "rw"
 * ```
 */
export class Pad {
  readonly entries: readonly PadEntry[];

  constructor(entries: readonly PadEntry[]) {
    for (const e of entries) {
      if (e.auth.method === "psk" && e.auth.secret.length === 0) {
        throw new PadError(`PAD entry ${e.label}: empty pre-shared key`);
      }
    }
    this.entries = entries;
  }

  /**
   * The entry deciding a peer with identity `id`: when the peer authenticates
   * for configuration connection `connection` and that connection's own
   * entry matches, that entry (two connections may both accept any
   * identity, each with its own key); otherwise the first entry whose ID
   * pattern matches, or undefined.
   */
  match(id: Identity, connection?: string): PadEntry | undefined {
    if (connection !== undefined) {
      const own = this.entries.find((e) =>
        e.connection === connection && identityMatches(e.id, id)
      );
      if (own) return own;
    }
    return this.entries.find((e) => identityMatches(e.id, id));
  }

  /**
   * Verifies a peer's pre-shared key claim: true only when the first
   * matching entry uses PSK with exactly this secret (constant-time compare).
   */
  checkPsk(id: Identity, secret: Uint8Array): boolean {
    const e = this.match(id);
    return e !== undefined && e.auth.method === "psk" && constantTimeEqual(e.auth.secret, secret);
  }
}

/**
 * Applies an entry's child SA constraints to the peer's side of a proposal:
 * the parts of `peerTs` the peer may claim (possibly empty).
 */
export function constrainPeerTs(
  entry: PadEntry,
  peerTs: readonly TrafficSelector[],
): TrafficSelector[] {
  return intersectTsLists(peerTs, entry.allowedTs);
}

/** Whether every selector of `peerTs` lies inside the entry's constraints. */
export function peerTsAllowed(entry: PadEntry, peerTs: readonly TrafficSelector[]): boolean {
  return peerTs.every((t) => entry.allowedTs.some((a) => tsContains(a, t)));
}
