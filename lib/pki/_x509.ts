/**
 * The one place that loads `@peculiar/x509`: it needs `reflect-metadata`
 * imported first and a WebCrypto provider registered. Everything in
 * `lib/pki/` imports the library through this file.
 *
 * @module
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(globalThis.crypto);

export { x509 };
