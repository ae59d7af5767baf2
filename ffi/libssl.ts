/**
 * TLS 1.2 handshakes through the system OpenSSL 3 `libssl.so.3`
 * (`Deno.dlopen`), over memory BIOs: EAP-TLS (RFC 5216) carries the TLS
 * records in EAP messages, so the session never touches a socket. Bytes
 * from the peer go in with {@link TlsSession.feed}, {@link TlsSession.step}
 * advances the handshake, and what it wrote comes out of
 * {@link TlsSession.output}. Once done, the keying material is exported
 * (RFC 5705; RFC 5216's MSK is its first 64 bytes with the label
 * "client EAP encryption").
 *
 * The peer's certificate is verified by OpenSSL against the trust anchors
 * given (chain, signatures, validity period; no extendedKeyUsage is demanded,
 * as in strongSwan, so IKE certificates serve EAP-TLS too); which identity it
 * names is for the caller to check ({@link TlsSession.peerCertificates}).
 *
 * @example
 * ```ts
 * const ssl = loadLibssl();
 * if (ssl) {
 *   const client = ssl.session({ role: "client", trustAnchors: [caDer] });
 *   client.step();               // ClientHello into client.output()
 * }
 * ```
 *
 * @module
 */

import { libc } from "./libc.ts";
import { concat } from "../lib/wire/bytes.ts";

const SYMBOLS = {
  OpenSSL_version_num: { parameters: [], result: "u64" },
  TLS_method: { parameters: [], result: "pointer" },
  SSL_CTX_new: { parameters: ["pointer"], result: "pointer" },
  SSL_CTX_free: { parameters: ["pointer"], result: "void" },
  SSL_CTX_ctrl: { parameters: ["pointer", "i32", "i64", "pointer"], result: "i64" },
  SSL_CTX_use_certificate: { parameters: ["pointer", "pointer"], result: "i32" },
  SSL_CTX_use_PrivateKey: { parameters: ["pointer", "pointer"], result: "i32" },
  SSL_CTX_check_private_key: { parameters: ["pointer"], result: "i32" },
  SSL_CTX_get_cert_store: { parameters: ["pointer"], result: "pointer" },
  SSL_CTX_set_verify: { parameters: ["pointer", "i32", "pointer"], result: "void" },
  SSL_CTX_set_purpose: { parameters: ["pointer", "i32"], result: "i32" },
  SSL_CTX_set_options: { parameters: ["pointer", "u64"], result: "u64" },
  SSL_new: { parameters: ["pointer"], result: "pointer" },
  SSL_free: { parameters: ["pointer"], result: "void" },
  SSL_set_connect_state: { parameters: ["pointer"], result: "void" },
  SSL_set_accept_state: { parameters: ["pointer"], result: "void" },
  SSL_set_bio: { parameters: ["pointer", "pointer", "pointer"], result: "void" },
  SSL_do_handshake: { parameters: ["pointer"], result: "i32" },
  SSL_get_error: { parameters: ["pointer", "i32"], result: "i32" },
  SSL_is_init_finished: { parameters: ["pointer"], result: "i32" },
  SSL_get_verify_result: { parameters: ["pointer"], result: "i64" },
  SSL_get1_peer_certificate: { parameters: ["pointer"], result: "pointer" },
  SSL_get_peer_cert_chain: { parameters: ["pointer"], result: "pointer" },
  SSL_get_version: { parameters: ["pointer"], result: "pointer" },
  SSL_get_current_cipher: { parameters: ["pointer"], result: "pointer" },
  SSL_CIPHER_get_name: { parameters: ["pointer"], result: "pointer" },
  SSL_write: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  SSL_read: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  SSL_export_keying_material: {
    parameters: ["pointer", "buffer", "usize", "buffer", "usize", "pointer", "usize", "i32"],
    result: "i32",
  },
  BIO_s_mem: { parameters: [], result: "pointer" },
  BIO_new: { parameters: ["pointer"], result: "pointer" },
  BIO_write: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  BIO_read: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  BIO_ctrl_pending: { parameters: ["pointer"], result: "usize" },
  d2i_X509: { parameters: ["pointer", "buffer", "i64"], result: "pointer" },
  i2d_X509: { parameters: ["pointer", "buffer"], result: "i32" },
  X509_free: { parameters: ["pointer"], result: "void" },
  X509_STORE_add_cert: { parameters: ["pointer", "pointer"], result: "i32" },
  X509_verify_cert_error_string: { parameters: ["i64"], result: "pointer" },
  d2i_AutoPrivateKey: { parameters: ["pointer", "buffer", "i64"], result: "pointer" },
  EVP_PKEY_free: { parameters: ["pointer"], result: "void" },
  OPENSSL_sk_num: { parameters: ["pointer"], result: "i32" },
  OPENSSL_sk_value: { parameters: ["pointer", "i32"], result: "pointer" },
  ERR_get_error: { parameters: [], result: "u64" },
  ERR_peek_error: { parameters: [], result: "u64" },
  ERR_error_string_n: { parameters: ["u64", "buffer", "usize"], result: "void" },
  ERR_clear_error: { parameters: [], result: "void" },
} as const;

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

const SSL_CTRL_CHAIN_CERT = 89;
const SSL_CTRL_SET_MIN_PROTO_VERSION = 123;
const SSL_CTRL_SET_MAX_PROTO_VERSION = 124;
const TLS1_2_VERSION = 0x0303;
const SSL_VERIFY_PEER = 1;
const SSL_VERIFY_FAIL_IF_NO_PEER_CERT = 2;
const SSL_ERROR_WANT_READ = 2;
const SSL_ERROR_WANT_WRITE = 3;
const SSL_ERROR_ZERO_RETURN = 6;
/** Alert reasons are this plus the alert number (close_notify is 0). */
const SSL_AD_REASON_OFFSET = 1000;
/** X509_PURPOSE_ANY: no extendedKeyUsage demanded (strongSwan's EAP-TLS demands none either). */
const X509_PURPOSE_ANY = 7;
/** SSL_OP_NO_TICKET: no session tickets (EAP-TLS never resumes with them here). */
const SSL_OP_NO_TICKET = 1n << 14n;
/**
 * SSL_OP_LEGACY_SERVER_CONNECT | SSL_OP_NO_RENEGOTIATION: strongSwan's TLS
 * server sends no renegotiation_info (RFC 5746), which OpenSSL 3 clients
 * refuse by default; renegotiation is what that extension protects, and
 * these sessions never renegotiate.
 */
const SSL_OP_LEGACY_NO_RENEGOTIATION = (1n << 2n) | (1n << 30n);

/** A TLS problem: the handshake failed, or a certificate or key was refused. */
export class TlsError extends Error {
  override readonly name = "TlsError";
}

/** Options of one TLS session. */
export interface TlsSessionOptions {
  readonly role: "client" | "server";
  /** Our certificate chain (DER, end-entity first); a server needs one, a client may. */
  readonly certs?: readonly Uint8Array[];
  /** Our private key (PKCS#8 DER) for `certs[0]`. */
  readonly key?: Uint8Array;
  /** Trust anchors (DER) the peer's certificate must chain to. */
  readonly trustAnchors: readonly Uint8Array[];
  /** A server asks for (and requires) the client's certificate (default true; EAP-TTLS: false). */
  readonly requireClientCert?: boolean;
}

/** What a handshake step came to. */
export type TlsStep =
  | { readonly kind: "continue" }
  | { readonly kind: "done" }
  | { readonly kind: "failed"; readonly reason: string };

/** One TLS session over memory buffers. */
export interface TlsSession {
  /** Bytes from the peer (TLS records). */
  feed(bytes: Uint8Array): void;
  /** Advances the handshake as far as the bytes fed allow. */
  step(): TlsStep;
  /** What the session wrote since the last call (TLS records for the peer). */
  output(): Uint8Array;
  /** The peer's certificate chain as it sent it (DER, end-entity first); [] before it did. */
  peerCertificates(): Uint8Array[];
  /** RFC 5705 keying material without context, after the handshake. */
  exportKeyingMaterial(label: string, length: number): Uint8Array;
  /**
   * After the handshake: encrypts application data (records then wait in
   * {@link TlsSession.output}); EAP-TTLS carries its AVPs this way.
   */
  write(data: Uint8Array): void;
  /** After the handshake: the application data in the records fed so far. */
  read(): Uint8Array;
  /** The peer closed the session (close_notify) in what was read. */
  readonly closed: boolean;
  /** "TLSv1.2 ECDHE-ECDSA-AES256-GCM-SHA384", after the handshake. */
  describe(): string;
  /** Frees the OpenSSL objects (also done when the session is garbage collected). */
  free(): void;
}

/** TLS through libssl. */
export interface Libssl {
  /** A new session; throws {@link TlsError} when a certificate or key is refused. */
  session(o: TlsSessionOptions): TlsSession;
}

let cached: Libssl | null | undefined;

/**
 * Opens `libssl.so.3` once; null when it is missing, older than 3.0 or FFI
 * is not permitted (EAP-TLS is then unavailable, with a reason in the log).
 */
export function loadLibssl(): Libssl | null {
  if (cached !== undefined) return cached;
  try {
    pinLibrary("libssl.so.3");
    const lib = Deno.dlopen("libssl.so.3", SYMBOLS).symbols;
    cached = lib.OpenSSL_version_num() >= 0x30000000n ? make(lib) : null;
  } catch {
    cached = null;
  }
  return cached;
}

const handles = new FinalizationRegistry<() => void>((free) => free());

/** RTLD_NOW | RTLD_NODELETE. */
const PIN_FLAGS = 0x2 | 0x1000;

/**
 * Keeps `name` loaded for the life of the process: each isolate (Worker,
 * test module) that ends closes its `Deno.dlopen` handles, and OpenSSL's
 * libssl must not be unloaded and loaded again under a libcrypto that
 * stays (its exit handlers would point into the unloaded copy).
 */
function pinLibrary(name: string): void {
  try {
    libc().dlopen(new TextEncoder().encode(name + "\0"), PIN_FLAGS);
  } catch {
    // No libc dlopen (not glibc 2.34+): unpinned, as before.
  }
}

function make(lib: Lib): Libssl {
  const pp = new BigUint64Array(1);
  const ppBytes = new Uint8Array(pp.buffer);
  const cString = (p: Deno.PointerValue) =>
    p === null ? "" : new Deno.UnsafePointerView(p).getCString();
  const lastError = (): string => {
    const parts: string[] = [];
    for (let e = lib.ERR_get_error(); e !== 0n; e = lib.ERR_get_error()) {
      const buf = new Uint8Array(256);
      lib.ERR_error_string_n(e, buf, BigInt(buf.length));
      parts.push(new TextDecoder().decode(buf.subarray(0, buf.indexOf(0))));
    }
    return parts.join("; ") || "unknown error";
  };
  /** Parses DER through a pointer to an off-heap copy (d2i advances it). */
  const d2i = (
    der: Uint8Array,
    f: (pp: Uint8Array, len: bigint) => Deno.PointerValue,
  ): Deno.PointerObject | null => {
    const copy = new Uint8Array(Math.max(128, der.length));
    copy.set(der);
    pp[0] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(copy)));
    const p = f(ppBytes, BigInt(der.length));
    if (p === null) lib.ERR_clear_error();
    return p;
  };
  const x509 = (der: Uint8Array) => d2i(der, (p, n) => lib.d2i_X509(null, p, n));
  const derOf = (x: Deno.PointerObject): Uint8Array => {
    // The length first (a NULL out pointer); then into our buffer (i2d advances *pp).
    const n = lib.i2d_X509(x, null);
    if (n <= 0) return new Uint8Array(0);
    const out = new Uint8Array(Math.max(128, n));
    pp[0] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(out)));
    lib.i2d_X509(x, ppBytes);
    return out.slice(0, n);
  };

  return {
    session(o) {
      lib.ERR_clear_error();
      const ctx = lib.SSL_CTX_new(lib.TLS_method());
      if (ctx === null) throw new TlsError(`SSL_CTX_new failed: ${lastError()}`);
      const owned: (() => void)[] = [() => lib.SSL_CTX_free(ctx)];
      const release = () => {
        for (const f of owned.splice(0).reverse()) f();
      };
      try {
        // EAP-TLS as strongSwan 5.9 and most RADIUS servers do it: TLS 1.2 (RFC 5216).
        lib.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, BigInt(TLS1_2_VERSION), null);
        lib.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MAX_PROTO_VERSION, BigInt(TLS1_2_VERSION), null);
        const store = lib.SSL_CTX_get_cert_store(ctx);
        for (const der of o.trustAnchors) {
          const x = x509(der);
          if (!x) throw new TlsError("a trust anchor is not a DER certificate");
          lib.X509_STORE_add_cert(store, x);
          lib.X509_free(x);
        }
        if (o.certs?.length) {
          const leaf = x509(o.certs[0]);
          if (!leaf) throw new TlsError("our certificate is not DER");
          const ok = lib.SSL_CTX_use_certificate(ctx, leaf);
          lib.X509_free(leaf);
          if (ok !== 1) throw new TlsError(`our certificate was refused: ${lastError()}`);
          for (const der of o.certs.slice(1)) {
            const x = x509(der);
            if (!x) throw new TlsError("a certificate of our chain is not DER");
            // add0: the context owns it from here.
            if (lib.SSL_CTX_ctrl(ctx, SSL_CTRL_CHAIN_CERT, 0n, x) !== 1n) {
              lib.X509_free(x);
              throw new TlsError(`our chain certificate was refused: ${lastError()}`);
            }
          }
          if (!o.key) throw new TlsError("our certificate has no private key");
          const pkey = d2i(o.key, (p, n) => lib.d2i_AutoPrivateKey(null, p, n));
          if (!pkey) throw new TlsError("our private key is not PKCS#8 DER");
          const used = lib.SSL_CTX_use_PrivateKey(ctx, pkey);
          lib.EVP_PKEY_free(pkey);
          if (used !== 1 || lib.SSL_CTX_check_private_key(ctx) !== 1) {
            throw new TlsError(`our private key does not fit our certificate: ${lastError()}`);
          }
        } else if (o.role === "server") {
          throw new TlsError("a TLS server needs a certificate and key");
        }
        const mode = o.role === "client"
          ? SSL_VERIFY_PEER
          : o.requireClientCert === false
          ? 0
          : SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        lib.SSL_CTX_set_verify(ctx, mode, null);
        lib.SSL_CTX_set_purpose(ctx, X509_PURPOSE_ANY);
        lib.SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_LEGACY_NO_RENEGOTIATION);
        const ssl = lib.SSL_new(ctx);
        if (ssl === null) throw new TlsError(`SSL_new failed: ${lastError()}`);
        owned.push(() => lib.SSL_free(ssl));
        const rbio = lib.BIO_new(lib.BIO_s_mem());
        const wbio = lib.BIO_new(lib.BIO_s_mem());
        if (rbio === null || wbio === null) throw new TlsError("BIO_new failed");
        lib.SSL_set_bio(ssl, rbio, wbio); // the SSL owns both BIOs from here
        if (o.role === "client") lib.SSL_set_connect_state(ssl);
        else lib.SSL_set_accept_state(ssl);
        let freed = false;
        let closed = false;
        const session: TlsSession = {
          get closed() {
            return closed;
          },
          feed(bytes) {
            if (freed) throw new TlsError("TLS session already freed");
            let off = 0;
            while (off < bytes.length) {
              const n = lib.BIO_write(rbio, bytes.subarray(off), bytes.length - off);
              if (n <= 0) throw new TlsError("BIO_write failed");
              off += n;
            }
          },
          step() {
            if (freed) return { kind: "failed", reason: "TLS session already freed" };
            lib.ERR_clear_error();
            const r = lib.SSL_do_handshake(ssl);
            if (r === 1) return { kind: "done" };
            const e = lib.SSL_get_error(ssl, r);
            if (e === SSL_ERROR_WANT_READ || e === SSL_ERROR_WANT_WRITE) {
              return { kind: "continue" };
            }
            const v = lib.SSL_get_verify_result(ssl);
            const why = v !== 0n
              ? `certificate verification failed: ${cString(lib.X509_verify_cert_error_string(v))}`
              : lastError();
            return { kind: "failed", reason: why };
          },
          output() {
            const n = Number(lib.BIO_ctrl_pending(wbio));
            if (n === 0) return new Uint8Array(0);
            const out = new Uint8Array(n);
            const got = lib.BIO_read(wbio, out, n);
            return out.subarray(0, Math.max(0, got));
          },
          peerCertificates() {
            if (freed) return [];
            const chain = lib.SSL_get_peer_cert_chain(ssl);
            const out: Uint8Array[] = [];
            if (o.role === "server") {
              // A server's chain from OpenSSL leaves out the client's own certificate.
              const leaf = lib.SSL_get1_peer_certificate(ssl);
              if (leaf) {
                out.push(derOf(leaf));
                lib.X509_free(leaf);
              }
            }
            if (chain !== null) {
              const n = lib.OPENSSL_sk_num(chain);
              for (let i = 0; i < n; i++) {
                const x = lib.OPENSSL_sk_value(chain, i);
                if (x !== null) out.push(derOf(x));
              }
            }
            return out;
          },
          exportKeyingMaterial(label, length) {
            const out = new Uint8Array(length);
            const l = new TextEncoder().encode(label);
            const ok = lib.SSL_export_keying_material(
              ssl,
              out,
              BigInt(length),
              l,
              BigInt(l.length),
              null,
              0n,
              0,
            );
            if (ok !== 1) throw new TlsError(`keying material export failed: ${lastError()}`);
            return out;
          },
          write(data) {
            if (freed) throw new TlsError("TLS session already freed");
            lib.ERR_clear_error();
            let off = 0;
            while (off < data.length) {
              const n = lib.SSL_write(ssl, data.subarray(off), data.length - off);
              if (n <= 0) throw new TlsError(`SSL_write failed: ${lastError()}`);
              off += n;
            }
          },
          read() {
            if (freed) throw new TlsError("TLS session already freed");
            lib.ERR_clear_error();
            const parts: Uint8Array[] = [];
            for (;;) {
              const buf = new Uint8Array(16384);
              const n = lib.SSL_read(ssl, buf, buf.length);
              if (n > 0) {
                parts.push(buf.subarray(0, n));
                continue;
              }
              const e = lib.SSL_get_error(ssl, n);
              if (e === SSL_ERROR_WANT_READ || e === SSL_ERROR_WANT_WRITE) break;
              // close_notify: a clean end, or the alert as an error (reason 1000 +
              // close_notify) when it comes where OpenSSL did not expect it.
              if (
                e === SSL_ERROR_ZERO_RETURN ||
                (lib.ERR_peek_error() & 0x7fffffn) === BigInt(SSL_AD_REASON_OFFSET)
              ) {
                lib.ERR_clear_error();
                closed = true;
                break;
              }
              throw new TlsError(`SSL_read failed: ${lastError()}`);
            }
            return concat(...parts);
          },
          describe() {
            return `${cString(lib.SSL_get_version(ssl))} ${
              cString(lib.SSL_CIPHER_get_name(lib.SSL_get_current_cipher(ssl)))
            }`;
          },
          free() {
            if (freed) return;
            freed = true;
            handles.unregister(session);
            release();
          },
        };
        handles.register(session, release, session);
        return session;
      } catch (e) {
        release();
        throw e;
      }
    },
  };
}
