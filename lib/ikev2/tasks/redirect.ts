/**
 * IKEv2 redirect, client side (RFC 5685): a gateway may send its client to
 * another gateway in the IKE_SA_INIT response (then the REDIRECT carries
 * the client's nonce, the only proof it answers our request), in the
 * IKE_AUTH response (after its AUTH, which the client checks first), or in
 * an INFORMATIONAL request on an established IKE SA. The client announces
 * REDIRECT_SUPPORTED in IKE_SA_INIT, or REDIRECTED_FROM (the gateway that
 * sent it) when it was redirected.
 *
 * ```
 *   client                          gateway A                 gateway B
 *   IKE_SA_INIT [ ... N(REDIR_SUP) ]  -->
 *            <--  [ N(REDIRECT(B, Ni)) ]
 *   IKE_SA_INIT [ ... N(REDIRECTED_FROM(A)) ]  --------------------->
 * ```
 *
 * Gateways are named by IPv4 or IPv6 address or by a DNS name (gateway
 * identity type FQDN, section 8): the engine asks its host to resolve a name
 * (the `resolveName` effect) and goes on when the answer comes. More than
 * {@link MAX_REDIRECTS} redirects within {@link REDIRECT_WINDOW_MS} are a
 * loop (charon's limits).
 *
 * @module
 */
import { formatIp, ipFromBytes, ipToBytes, parseIp } from "../../db/address.ts";
import { constantTimeEqual } from "../../wire/bytes.ts";
import { NotifyType } from "../constants.ts";
import type { IkeSa } from "../ike_sa.ts";
import {
  decodeRedirectData,
  GatewayIdType,
  makeNotify,
  makeRedirect,
  type NotifyPayload,
} from "../payloads/notify.ts";

/** Redirects allowed within {@link REDIRECT_WINDOW_MS} before it counts as a loop. */
export const MAX_REDIRECTS = 5;
/** The window in which redirects are counted (5 minutes, as charon). */
export const REDIRECT_WINDOW_MS = 300_000;

/**
 * The notify our IKE_SA_INIT request carries: REDIRECTED_FROM naming the
 * gateway that sent us here, else REDIRECT_SUPPORTED (none when the
 * connection does not follow redirects).
 */
export function redirectNotify(sa: IkeSa): NotifyPayload | undefined {
  if (sa.config.followRedirects === false) return undefined;
  const from = sa.redirectedFrom !== undefined
    ? gatewayNotify(sa.redirectedFrom, new Uint8Array(0), NotifyType.REDIRECTED_FROM)
    : undefined;
  return from ?? makeNotify(NotifyType.REDIRECT_SUPPORTED);
}

/**
 * Whether `s` is a DNS host name (RFC 1123 labels of letters, digits and
 * hyphens, up to 253 characters), the form a gateway may be named in.
 */
export function isDnsName(s: string): boolean {
  return s.length <= 253 && !parseIp(s) &&
    /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i.test(s) &&
    !/^[0-9.]+$/.test(s);
}

/**
 * A REDIRECT (or REDIRECTED_FROM) notify naming the gateway `address` (RFC
 * 5685 section 8): an IP address, or a DNS name (type FQDN), with `nonce`
 * (the client's Ni in an IKE_SA_INIT response, else empty); undefined when
 * `address` is neither.
 */
export function gatewayNotify(
  address: string,
  nonce: Uint8Array,
  notifyType: number = NotifyType.REDIRECT,
): NotifyPayload | undefined {
  const gw = parseIp(address);
  if (!gw) {
    if (!isDnsName(address)) return undefined;
    return makeRedirect(
      { gwIdType: GatewayIdType.FQDN, gwId: new TextEncoder().encode(address), nonce },
      notifyType,
    );
  }
  return makeRedirect(
    {
      gwIdType: gw.version === 4 ? GatewayIdType.IPV4 : GatewayIdType.IPV6,
      gwId: ipToBytes(gw),
      nonce,
    },
    notifyType,
  );
}

/**
 * Where a REDIRECT sends us (an address, or a DNS name still to resolve), or
 * why we do not follow it.
 */
export type RedirectTarget =
  | { readonly ok: true; readonly address: string; readonly name?: undefined }
  | { readonly ok: true; readonly name: string; readonly address?: undefined }
  | { readonly ok: false; readonly reason: string; readonly ignore?: boolean };

/**
 * Reads a REDIRECT notify. `nonce`: in an IKE_SA_INIT response it must carry
 * our Ni (else it is not an answer to us: `ignore`); elsewhere it carries none.
 */
export function redirectTarget(
  sa: IkeSa,
  n: NotifyPayload,
  nonce: Uint8Array | undefined,
  now: number,
): RedirectTarget {
  if (sa.config.followRedirects === false) {
    return {
      ok: false,
      reason: "peer redirects us, but this connection does not follow redirects",
    };
  }
  let d;
  try {
    d = decodeRedirectData(n);
  } catch (e) {
    // In an (unauthenticated) IKE_SA_INIT response an unreadable REDIRECT proves nothing: ignore it.
    return {
      ok: false,
      reason: `malformed REDIRECT: ${(e as Error).message}`,
      ...(nonce !== undefined ? { ignore: true } : {}),
    };
  }
  if (nonce !== undefined && !constantTimeEqual(d.nonce, nonce)) {
    return { ok: false, reason: "REDIRECT without our nonce ignored", ignore: true };
  }
  let name: string | undefined;
  if (d.gwIdType === GatewayIdType.FQDN) {
    name = new TextDecoder("utf-8", { fatal: false }).decode(d.gwId);
    if (!isDnsName(name)) {
      return { ok: false, reason: `REDIRECT to '${name}', which is no DNS name` };
    }
  } else if (d.gwIdType !== GatewayIdType.IPV4 && d.gwIdType !== GatewayIdType.IPV6) {
    return { ok: false, reason: `REDIRECT with unknown gateway identity type ${d.gwIdType}` };
  }
  const recent = sa.redirects.filter((t) => now - t < REDIRECT_WINDOW_MS);
  if (recent.length >= MAX_REDIRECTS) {
    return {
      ok: false,
      reason: `redirect loop: ${recent.length} redirects within ${REDIRECT_WINDOW_MS / 1000}s`,
    };
  }
  if (name !== undefined) return { ok: true, name };
  const address = formatIp(ipFromBytes(d.gwId));
  if (address === sa.remote.address) {
    return { ok: false, reason: `peer redirects us to itself (${address})` };
  }
  return { ok: true, address };
}
