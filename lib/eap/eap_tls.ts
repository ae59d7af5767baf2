/**
 * EAP-TLS (RFC 5216): the type data of EAP-TLS messages, and the
 * fragmentation that carries TLS handshake messages, which can be larger
 * than one EAP message, across several EAP round trips.
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     Flags     |      TLS Message Length (4 bytes, if L)
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                     TLS Data...
 * Flags: L (0x80) length included, M (0x40) more fragments, S (0x20) start
 * ```
 *
 * A fragment with M set is answered by an empty EAP-TLS message (no flags,
 * no data) before the next one comes (RFC 5216 section 2.1.5). The first
 * fragment of a message carries L and the whole message's length, as
 * strongSwan and FreeRADIUS send it.
 *
 * @module
 */
import { EapError } from "./eap_message.ts";
import { loadLibssl, type TlsSession, type TlsSessionOptions } from "../../ffi/libssl.ts";

/** The certificates one side of EAP-TLS uses. */
export interface EapTlsOptions {
  /** Our certificate chain (DER, end-entity first): the server's, or the client's. */
  readonly certs?: readonly Uint8Array[];
  /** Our private key (PKCS#8 DER). */
  readonly key?: Uint8Array;
  /** Trust anchors the other side's certificate must chain to. */
  readonly trustAnchors: readonly Uint8Array[];
  /**
   * Checks the other side's certificate chain once TLS verified it (DER,
   * end-entity first) against whom it must be (`identity`: the peer's EAP
   * identity on a server); returns why not, or undefined.
   */
  readonly check?: (certs: Uint8Array[], identity: string) => string | undefined;
  /** TLS data per EAP message (default {@link EAP_TLS_FRAGMENT_SIZE}). */
  readonly fragmentSize?: number;
  /** A server asks for the client's certificate (default true; EAP-TTLS: false). */
  readonly requireClientCert?: boolean;
}

/**
 * A TLS session for one side of EAP-TLS; a string says why there is none
 * (no libssl, or a certificate or key it refused).
 */
export function openTlsSession(
  role: TlsSessionOptions["role"],
  o: EapTlsOptions,
): TlsSession | string {
  const ssl = loadLibssl();
  if (!ssl) return "EAP-TLS needs the system OpenSSL 3 (libssl.so.3), which could not be loaded";
  try {
    return ssl.session({
      role,
      ...(o.certs?.length ? { certs: o.certs } : {}),
      ...(o.key ? { key: o.key } : {}),
      trustAnchors: o.trustAnchors,
      ...(o.requireClientCert === false ? { requireClientCert: false } : {}),
    });
  } catch (e) {
    return `EAP-TLS: ${(e as Error).message}`;
  }
}

/** EAP-TLS flag bits. */
export const EapTlsFlag = { Length: 0x80, More: 0x40, Start: 0x20 } as const;

/** EAP-TLS's own MSK derivation label (RFC 5216 section 2.3). */
export const EAP_TLS_KEY_LABEL = "client EAP encryption";

/** Fragments carry at most this many bytes of TLS data (strongSwan's default). */
export const EAP_TLS_FRAGMENT_SIZE = 1024;

/** The longest TLS message reassembled (a certificate chain fits many times over). */
export const EAP_TLS_MAX_MESSAGE = 65536;

/** The type data of one EAP-TLS message. */
export interface EapTlsData {
  readonly flags: number;
  /** The TLS Message Length field, when L is set. */
  readonly totalLength?: number;
  readonly data: Uint8Array;
}

/**
 * Decodes EAP-TLS type data.
 *
 * @throws {EapError} when it is empty or L is set without 4 length bytes.
 * @example
 * ```ts
 * decodeEapTls(new Uint8Array([0x20])); // { flags: 0x20, data: <empty> }
 * ```
 */
export function decodeEapTls(typeData: Uint8Array): EapTlsData {
  if (typeData.length < 1) throw new EapError("EAP-TLS", 5, "no Flags byte");
  const flags = typeData[0];
  if (flags & EapTlsFlag.Length) {
    if (typeData.length < 5) throw new EapError("EAP-TLS", 6, "L flag without a length");
    const totalLength = new DataView(typeData.buffer, typeData.byteOffset + 1, 4).getUint32(0);
    return { flags, totalLength, data: typeData.subarray(5) };
  }
  return { flags, data: typeData.subarray(1) };
}

/**
 * Encodes EAP-TLS type data (Flags, the length when L is set, the data).
 *
 * @example
 * ```ts
 * encodeEapTls({ flags: 0, data: new Uint8Array() }); // [0x00]: an acknowledgement
 * ```
 */
export function encodeEapTls(d: EapTlsData): Uint8Array {
  const withLength = (d.flags & EapTlsFlag.Length) !== 0;
  const out = new Uint8Array(1 + (withLength ? 4 : 0) + d.data.length);
  out[0] = d.flags;
  if (withLength) new DataView(out.buffer).setUint32(1, d.totalLength ?? d.data.length);
  out.set(d.data, withLength ? 5 : 1);
  return out;
}

/** What an incoming EAP-TLS message means for the conversation. */
export type EapTlsReceived =
  /** A fragment with more to come: answer with {@link ACK}. */
  | { readonly kind: "ack" }
  /** The other side acknowledged our fragment: send {@link EapTlsChannel.next}. */
  | { readonly kind: "next" }
  /** An empty message while we have nothing pending (an acknowledgement of our last message). */
  | { readonly kind: "empty" }
  /** A whole TLS message (all its fragments). */
  | { readonly kind: "message"; readonly bytes: Uint8Array };

/** An empty EAP-TLS message: acknowledges a fragment, or the last TLS message. */
export const ACK: Uint8Array = Uint8Array.of(0);

/**
 * Reassembly of incoming and fragmentation of outgoing TLS messages for one
 * EAP-TLS conversation (either side).
 *
 * @example
 * ```ts
 * const ch = new EapTlsChannel(1024);
 * const first = ch.send(clientHello); // type data of the first fragment
 * ```
 */
export class EapTlsChannel {
  readonly #fragmentSize: number;
  #pending: Uint8Array | undefined;
  #pendingOffset = 0;
  #parts: Uint8Array[] = [];
  #received = 0;
  #expected: number | undefined;

  constructor(fragmentSize = EAP_TLS_FRAGMENT_SIZE) {
    this.#fragmentSize = fragmentSize;
  }

  /** True while fragments of our last message wait to be sent. */
  get sending(): boolean {
    return this.#pending !== undefined;
  }

  /**
   * Takes the type data of the other side's message.
   *
   * @throws {EapError} on a malformed message, a fragment while ours are
   * unacknowledged, or a message longer than announced or than
   * {@link EAP_TLS_MAX_MESSAGE}.
   */
  receive(typeData: Uint8Array): EapTlsReceived {
    const d = decodeEapTls(typeData);
    const more = (d.flags & EapTlsFlag.More) !== 0;
    if (this.#pending) {
      if (d.data.length > 0 || more) {
        throw new EapError("EAP-TLS", 5, "data while our fragments wait to be acknowledged");
      }
      return { kind: "next" };
    }
    if (d.data.length === 0 && !more && this.#parts.length === 0) return { kind: "empty" };
    if (this.#parts.length === 0 && d.totalLength !== undefined) {
      if (d.totalLength > EAP_TLS_MAX_MESSAGE) {
        throw new EapError("EAP-TLS", 6, `TLS message of ${d.totalLength} bytes is too long`);
      }
      this.#expected = d.totalLength;
    }
    this.#parts.push(d.data.slice());
    this.#received += d.data.length;
    const limit = this.#expected ?? EAP_TLS_MAX_MESSAGE;
    if (this.#received > limit) {
      throw new EapError(
        "EAP-TLS",
        5,
        `more TLS data (${this.#received}) than announced (${limit})`,
      );
    }
    if (more) return { kind: "ack" };
    const bytes = new Uint8Array(this.#received);
    let off = 0;
    for (const p of this.#parts) {
      bytes.set(p, off);
      off += p.length;
    }
    this.#parts = [];
    this.#received = 0;
    this.#expected = undefined;
    return { kind: "message", bytes };
  }

  /** Starts sending a TLS message; returns the type data of its first fragment. */
  send(bytes: Uint8Array): Uint8Array {
    this.#pending = bytes;
    this.#pendingOffset = 0;
    return this.next()!;
  }

  /** The type data of the next fragment of the message being sent, if any. */
  next(): Uint8Array | undefined {
    const msg = this.#pending;
    if (!msg) return undefined;
    const first = this.#pendingOffset === 0;
    const end = Math.min(msg.length, this.#pendingOffset + this.#fragmentSize);
    const data = msg.subarray(this.#pendingOffset, end);
    this.#pendingOffset = end;
    const more = end < msg.length;
    if (!more) this.#pending = undefined;
    const flags = (first ? EapTlsFlag.Length : 0) | (more ? EapTlsFlag.More : 0);
    return encodeEapTls({ flags, totalLength: msg.length, data });
  }
}
